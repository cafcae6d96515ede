//! A peer's outbound queue: filled by the RIB shards, drained by the peer's session task.
//!
//! Bounded by bytes: above the high mark producers are refused (`try_push` returns false) and
//! the shard remembers only where the client stopped (a cursor into its change journal, see
//! `rib/journal.rs`). When the session has drained the queue below the low mark it asks the
//! shards to refill it; a refill step encodes the current state of what changed after the
//! cursor and queues its whole output (`push_forced`) so it always makes progress. So a slow
//! peer costs at most `high` bytes of encoded UPDATEs, plus one refill step per shard (512
//! prefixes with their paths) and one message per shard that crossed the mark; it never makes
//! a shard wait, and nothing it costs grows with the table.
//!
//! Half-way to the high mark a queue is *pressed*. When most of a shard's clients are pressed
//! at once, the clients as a whole are slower than the input: the shard holds its pending
//! exports back until a queue drains below the mark (the `drained` signal wakes it), and
//! keeps taking input meanwhile up to a bound of pending prefixes (`shard::PENDING_MAX`), so
//! a prefix that changes again goes out once, in its final state. At the bound it stops
//! taking input: the senders wait (TCP backpressure), and every client keeps sharing one
//! encoding per update group, instead of all of them falling back to per-client refills.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// Something for the session to send or act on, in order.
#[derive(Debug, Clone)]
pub enum OutItem {
    /// Encoded UPDATE messages, back to back.
    Updates(Bytes),
    /// Shard `shard` has queued its whole table of `families` for this peer (initial dump
    /// or refresh).
    DumpDone {
        shard: usize,
        families: crate::wire::FamilySet,
    },
}

/// Default high mark: 4 MiB of encoded UPDATEs per peer.
pub const DEFAULT_HIGH: usize = 4 << 20;

pub struct OutQueue {
    items: Mutex<VecDeque<OutItem>>,
    bytes: AtomicUsize,
    behind: AtomicBool,
    closed: AtomicBool,
    high: usize,
    low: usize,
    /// Half the high mark: at or above it the queue is pressed.
    soft: usize,
    notify: Notify,
    /// Woken (all waiters) when the queue drains below `soft`.
    drained: Option<std::sync::Arc<Notify>>,
    /// Called (by the consumer) when the queue drained after producers were refused.
    on_refill: Box<dyn Fn() + Send + Sync>,
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
            soft: high / 2,
            notify: Notify::new(),
            drained: None,
            on_refill,
        }
    }

    /// Signals `drained` (to every task waiting on it) whenever the queue drains below half
    /// its high mark.
    pub fn with_drain_signal(mut self, drained: std::sync::Arc<Notify>) -> Self {
        self.drained = Some(drained);
        self
    }

    /// At or above half the high mark: the client is not keeping up right now.
    pub fn is_pressed(&self) -> bool {
        self.bytes.load(Ordering::Acquire) >= self.soft
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<OutItem>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues encoded UPDATEs unless the queue is over its high mark or producers were
    /// already refused since the last refill; `false` means "remember it and wait for a
    /// refill".
    pub fn try_push(&self, b: Bytes) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return true; // the session is gone; nothing to remember
        }
        if self.behind.load(Ordering::Acquire) || self.bytes.load(Ordering::Acquire) >= self.high {
            self.behind.store(true, Ordering::Release);
            // The consumer may have drained everything between our check and the store; then
            // no later `written` call would ask for the refill, so ask now.
            if self.bytes.load(Ordering::Acquire) <= self.low
                && self.behind.swap(false, Ordering::AcqRel)
            {
                (self.on_refill)();
            }
            return false;
        }
        self.bytes.fetch_add(b.len(), Ordering::AcqRel);
        self.lock().push_back(OutItem::Updates(b));
        self.notify.notify_one();
        true
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

    /// Takes everything queued (waiting until something is).
    pub async fn pop_all(&self, out: &mut Vec<OutItem>) {
        loop {
            {
                let mut q = self.lock();
                if !q.is_empty() {
                    out.extend(q.drain(..));
                    return;
                }
            }
            self.notify.notified().await;
        }
    }

    /// Takes everything queued without waiting.
    pub fn try_pop_all(&self, out: &mut Vec<OutItem>) {
        out.extend(self.lock().drain(..));
    }

    /// The consumer reports `n` bytes written to the socket. Below the low mark, producers
    /// that were refused are asked to refill.
    pub fn written(&self, n: usize) {
        let before = self.bytes.fetch_sub(n, Ordering::AcqRel);
        let left = before.saturating_sub(n);
        if before >= self.soft && left < self.soft {
            if let Some(d) = &self.drained {
                d.notify_waiters();
            }
        }
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
        if let Some(d) = &self.drained {
            d.notify_waiters();
        }
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
    async fn refuses_above_high_mark_and_asks_for_refill() {
        let refills = Arc::new(AtomicUsize::new(0));
        let r = refills.clone();
        let q = OutQueue::new(
            100,
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        );
        assert!(q.try_push(Bytes::from(vec![0u8; 60])));
        assert!(q.try_push(Bytes::from(vec![0u8; 60])));
        assert!(!q.try_push(Bytes::from(vec![0u8; 1])));
        assert!(q.is_behind());
        let mut out = Vec::new();
        q.pop_all(&mut out).await;
        assert_eq!(out.len(), 2);
        q.written(60);
        assert_eq!(refills.load(Ordering::SeqCst), 0);
        // Still behind: refused until the refill.
        assert!(!q.try_push(Bytes::from(vec![0u8; 1])));
        q.written(60);
        assert_eq!(refills.load(Ordering::SeqCst), 1);
        assert!(!q.is_behind());
        assert!(q.try_push(Bytes::from(vec![0u8; 1])));
        q.push_marker(OutItem::DumpDone {
            shard: 0,
            families: crate::wire::FamilySet::ALL,
        });
        q.close();
        assert!(q.is_closed());
    }
}
