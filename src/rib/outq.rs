//! A peer's outbound queue: what its session task sends, in order.
//!
//! Live export does not pass through it: each RIB shard keeps what it encodes once in its
//! feed (`feed.rs`), shared by every live client, and the session takes slices of it when
//! its socket can take more (`pop_all` with a budget, `READ_BUDGET`). The queue itself holds
//! what is this peer's alone: catch-up from a shard's change journal (table dumps, route
//! refresh, and a client the feed let go), markers (End-of-RIB per shard, and `Attach`, after
//! which the session reads that shard's feed), and nothing else.
//!
//! Bounded by bytes: a refill step encodes the current state of up to 512 prefixes changed
//! after the client's journal cursor and queues its whole output (`push_forced`), so it
//! always makes progress; at the high mark the shard stops, and when the session has drained
//! the queue below the low mark it asks the shards to refill it. So a peer costs at most
//! `high` bytes of its own encoded UPDATEs plus one refill step per shard, `READ_BUDGET`
//! bytes of shared slices in its session, and a position per shard; nothing it costs grows
//! with the table, and a slow peer never makes a shard wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

use super::feed::Feed;
use super::path::PeerId;
use std::sync::Arc;

/// Something for the session to send or act on, in order.
#[derive(Debug, Clone)]
pub enum OutItem {
    /// Encoded UPDATE messages, back to back.
    Updates(Bytes),
    /// Encoded UPDATEs shared with other clients (a slice of a shard's feed): not counted in
    /// the queue's bytes.
    Shared(Bytes),
    /// Shard `shard` has queued its whole table of `families` for this peer (initial dump
    /// or refresh).
    DumpDone {
        shard: usize,
        families: crate::wire::FamilySet,
    },
    /// From here on, read shard `shard`'s feed (registration `epoch`); handled by the queue
    /// itself, never returned.
    Attach { shard: usize, epoch: u64 },
}

/// The peer a queue belongs to (once a shard has said) and the shards' feeds it reads.
type Feeds = (Option<PeerId>, Vec<Option<Arc<Feed>>>);

/// Default high mark of a peer's own queue (catch-up from the journal, table dumps): 64 KiB
/// of encoded UPDATEs. Live export does not go through it (see `feed.rs`).
pub const DEFAULT_HIGH: usize = 64 << 10;
/// What a session takes from the feeds at a time: its own buffering of shared UPDATEs.
pub const READ_BUDGET: usize = 64 << 10;

pub struct OutQueue {
    items: Mutex<VecDeque<OutItem>>,
    bytes: AtomicUsize,
    behind: AtomicBool,
    closed: AtomicBool,
    high: usize,
    low: usize,
    notify: Notify,
    /// Called (by the consumer) when the queue drained after producers were refused.
    on_refill: Box<dyn Fn() + Send + Sync>,
    /// The shards' feeds this peer reads (by shard index), and the peer.
    feeds: Mutex<Feeds>,
}

impl std::fmt::Debug for OutQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutQueue")
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .field("behind", &self.behind.load(Ordering::Relaxed))
            .finish()
    }
}

impl OutQueue {
    pub fn new(high: usize, on_refill: Box<dyn Fn() + Send + Sync>) -> Self {
        OutQueue {
            items: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            behind: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            high,
            low: high / 4,
            notify: Notify::new(),
            on_refill,
            feeds: Mutex::new((None, Vec::new())),
        }
    }

    /// Shard `shard`'s feed, which `peer` reads when the shard attaches it.
    pub(crate) fn set_feed(&self, shard: usize, peer: PeerId, feed: Arc<Feed>) {
        let mut f = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        f.0 = Some(peer);
        if f.1.len() <= shard {
            f.1.resize(shard + 1, None);
        }
        if let Some(slot) = f.1.get_mut(shard) {
            *slot = Some(feed);
        }
    }

    /// Something new in a feed this peer reads.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<OutItem>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues encoded UPDATEs whatever the mark (a refill step's output, bounded by the step's
    /// size); above the high mark later `try_push`es are refused until the next refill.
    pub fn push_forced(&self, b: Bytes) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let now = self.bytes.fetch_add(b.len(), Ordering::AcqRel) + b.len();
        if now >= self.high {
            self.behind.store(true, Ordering::Release);
        }
        self.lock().push_back(OutItem::Updates(b));
        self.notify.notify_one();
    }

    /// Queues a marker; markers are never refused.
    pub fn push_marker(&self, item: OutItem) {
        self.lock().push_back(item);
        self.notify.notify_one();
    }

    /// True when producers were refused and have not been asked to refill yet.
    pub fn is_behind(&self) -> bool {
        self.behind.load(Ordering::Acquire)
    }

    pub fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Takes everything queued, then up to `budget` bytes from the feeds it reads (waiting
    /// until there is something).
    pub async fn pop_all(&self, out: &mut Vec<OutItem>, budget: usize) {
        loop {
            let before = out.len();
            self.take(out, budget);
            if out.len() > before {
                return;
            }
            self.notify.notified().await;
        }
    }

    /// Takes everything queued and everything in the feeds, without waiting.
    pub fn try_pop_all(&self, out: &mut Vec<OutItem>) {
        self.take(out, usize::MAX);
    }

    /// Own items first (in order; an `Attach` among them starts reading that feed), then the
    /// feeds: whatever a shard queued before attaching goes out before its feed's UPDATEs.
    fn take(&self, out: &mut Vec<OutItem>, budget: usize) {
        let feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        let (peer, feeds) = (&feeds.0, &feeds.1);
        let start = out.len();
        out.extend(self.lock().drain(..));
        // Attach markers are ours: start reading, and keep the rest in order.
        let mut i = start;
        while let Some(item) = out.get(i) {
            if let OutItem::Attach { shard, epoch } = *item {
                if let (Some(p), Some(Some(f))) = (peer, feeds.get(shard)) {
                    f.activate(*p, epoch);
                }
                out.remove(i);
            } else {
                i += 1;
            }
        }
        let Some(peer) = *peer else { return };
        if self.is_closed() {
            return;
        }
        let mut left = budget;
        for f in feeds.iter().flatten() {
            if left == 0 {
                break;
            }
            left = left.saturating_sub(f.read(peer, left, out));
        }
    }

    /// The consumer reports `n` bytes written to the socket. Below the low mark, producers
    /// that were refused are asked to refill.
    pub fn written(&self, n: usize) {
        let before = self.bytes.fetch_sub(n, Ordering::AcqRel);
        let left = before.saturating_sub(n);
        if left <= self.low && self.behind.swap(false, Ordering::AcqRel) {
            (self.on_refill)();
        }
    }

    /// The session ended: producers stop queueing; what was queued is dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
        self.bytes.store(0, Ordering::Release);
        self.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn marks_behind_at_the_high_mark_and_asks_for_refill_below_the_low_one() {
        let refills = Arc::new(AtomicUsize::new(0));
        let r = refills.clone();
        let q = OutQueue::new(
            100,
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        );
        q.push_forced(Bytes::from(vec![0u8; 60]));
        assert!(!q.is_behind());
        q.push_forced(Bytes::from(vec![0u8; 60]));
        assert!(q.is_behind());
        q.push_marker(OutItem::DumpDone {
            shard: 0,
            families: crate::wire::FamilySet::ALL,
        });
        let mut out = Vec::new();
        q.pop_all(&mut out, READ_BUDGET).await;
        assert_eq!(out.len(), 3);
        q.written(60);
        assert_eq!(refills.load(Ordering::SeqCst), 0);
        assert!(q.is_behind());
        q.written(60);
        assert_eq!(refills.load(Ordering::SeqCst), 1);
        assert!(!q.is_behind());
        q.close();
        assert!(q.is_closed());
        q.push_forced(Bytes::from(vec![0u8; 1]));
        assert_eq!(q.queued_bytes(), 0, "a closed queue takes nothing");
    }
}
