//! What a session has taken to send and not written yet: message-aligned chunks, written
//! with vectored writes straight from the (often shared) buffers they live in.
//!
//! Owns: the chunks in order, how far the first one is written, and which of them are
//! accounted in the peer's own out-queue (reported back as they complete, so the queue's
//! refill signal follows what really left). Must not: read the queue or the socket itself;
//! the session task feeds it and does the I/O.
//!
//! Nothing is copied to be written: a chunk is a slice of a shard's feed or of the peer's own
//! queue, and one `writev` takes up to `MAX_SLICES` of them (at most `MAX_WRITE` bytes), so a
//! session's own buffering is the chunks it took (one read budget) and no joined copy.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::rib::OutQueue;
use crate::wire::header::HEADER_LEN;

/// Chunks handed to one vectored write.
pub const MAX_SLICES: usize = 64;
/// Bytes handed to one vectored write (the rest waits for the next).
pub const MAX_WRITE: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct Outbox {
    /// (chunk, bytes of it the out-queue accounts for: its length or 0).
    chunks: VecDeque<(Bytes, usize)>,
    /// Bytes of the first chunk already written.
    off: usize,
}

impl Outbox {
    pub fn new() -> Self {
        Outbox::default()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes taken and not yet written.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|(b, _)| b.len()).sum::<usize>() - self.off
    }

    /// Nothing of the first chunk is written: a message may go in front of it.
    pub fn at_boundary(&self) -> bool {
        self.off == 0
    }

    /// Appends a chunk of whole messages; `queued`: the bytes the out-queue counts for it.
    pub fn push(&mut self, b: Bytes, queued: usize) {
        if !b.is_empty() {
            self.chunks.push_back((b, queued));
        }
    }

    /// Puts a message first (a keepalive); only at a message boundary.
    pub fn push_front(&mut self, b: Bytes) -> bool {
        if !self.at_boundary() {
            return false;
        }
        self.chunks.push_front((b, 0));
        true
    }

    /// What the next write should take.
    pub fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.chunks.len().min(MAX_SLICES));
        let mut total = 0;
        for (i, (b, _)) in self.chunks.iter().enumerate().take(MAX_SLICES) {
            let s = if i == 0 {
                b.get(self.off..).unwrap_or_default()
            } else {
                &b[..]
            };
            if i > 0 && total + s.len() > MAX_WRITE {
                break;
            }
            total += s.len();
            out.push(IoSlice::new(s));
        }
        out
    }

    /// `n` bytes were written: completed chunks go, and what the queue counted for them is
    /// reported to it.
    pub fn advance(&mut self, mut n: usize, queue: &OutQueue) {
        while n > 0 {
            let Some((b, q)) = self.chunks.front() else {
                break;
            };
            let left = b.len() - self.off;
            if n < left {
                self.off += n;
                return;
            }
            n -= left;
            if *q > 0 {
                queue.written(*q);
            }
            self.chunks.pop_front();
            self.off = 0;
        }
    }

    /// The unwritten rest of a message begun (to finish it before a NOTIFICATION).
    pub fn rest_of_front(&self) -> Option<Bytes> {
        if self.off == 0 {
            return None;
        }
        self.chunks.front().map(|(b, _)| b.slice(self.off..))
    }
}

/// Splits an out-queue item into message-aligned chunks of at most 64 KiB (so a keepalive
/// never waits behind more than that) and counts its messages and UPDATEs. Each chunk of an
/// item from the peer's own queue (`own`) accounts for its own length in the queue; shared
/// feed slices are not counted there.
pub fn split_messages(mut b: Bytes, own: bool, out: &mut Outbox) -> (u64, u64) {
    const CHUNK: usize = 64 * 1024;
    let (mut msgs, mut updates) = (0u64, 0u64);
    while !b.is_empty() {
        let mut end = 0;
        while end < b.len() {
            let len = b
                .get(end + 16..end + 18)
                .and_then(|l| l.first_chunk::<2>())
                .map_or(b.len() - end, |l| usize::from(u16::from_be_bytes(*l)));
            let len = len.max(HEADER_LEN).min(b.len() - end);
            if end > 0 && end + len > CHUNK {
                break;
            }
            msgs += 1;
            if b.get(end + 18) == Some(&2) {
                updates += 1;
            }
            end += len;
        }
        let chunk = b.split_to(end);
        let n = if own { chunk.len() } else { 0 };
        out.push(chunk, n);
    }
    (msgs, updates)
}

/// Send hold progress (RFC 9687) measured on what the peer acknowledged, not on what our
/// `write` calls took: a peer that stops reading lets the kernel fill its send buffer and
/// then takes nothing, and everything we had may fit in that buffer — every write succeeds
/// while the peer acknowledges nothing. Acknowledged bytes are the bytes written minus the
/// kernel's unacknowledged send queue (`SIOCOUTQ`).
#[derive(Debug)]
pub struct SendProgress {
    written: u64,
    acked: u64,
    since: Instant,
}

impl SendProgress {
    pub fn new(now: Instant) -> Self {
        SendProgress {
            written: 0,
            acked: 0,
            since: now,
        }
    }

    /// `n` more bytes were written to the socket.
    pub fn wrote(&mut self, n: usize) {
        self.written += n as u64;
    }

    /// How long the peer has made no progress while something waits for it: our own
    /// `pending` chunks or `unacked` bytes in the kernel (`None` where that cannot be read:
    /// then a successful write counts as progress, as before). Zero when nothing waits.
    pub fn stalled(&mut self, pending: bool, unacked: Option<u64>, now: Instant) -> Duration {
        let acked = match unacked {
            Some(u) => self.written.saturating_sub(u),
            None => self.written,
        };
        let waiting = pending || unacked.is_some_and(|u| u > 0);
        if acked > self.acked || !waiting {
            self.acked = self.acked.max(acked);
            self.since = now;
        }
        now.saturating_duration_since(self.since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_hold_progress_is_what_the_peer_acknowledged() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut p = SendProgress::new(t0);
        assert_eq!(p.stalled(false, Some(0), s(100)), Duration::ZERO, "idle");
        // Everything fitted in the kernel's buffer: our queue is empty, the peer acks nothing.
        p.wrote(10_000);
        // (The clock runs from the last moment nothing waited, here 100 s.)
        assert_eq!(
            p.stalled(false, Some(10_000), s(110)),
            Duration::from_secs(10)
        );
        assert_eq!(
            p.stalled(false, Some(10_000), s(400)),
            Duration::from_secs(300)
        );
        // The peer acknowledges part of it: progress.
        assert_eq!(p.stalled(true, Some(4_000), s(401)), Duration::ZERO);
        assert_eq!(
            p.stalled(true, Some(4_000), s(500)),
            Duration::from_secs(99)
        );
        // More writes without acknowledgement are no progress.
        p.wrote(1_000);
        assert_eq!(
            p.stalled(true, Some(5_000), s(600)),
            Duration::from_secs(199)
        );
        // All acknowledged and nothing pending: not stalled.
        assert_eq!(p.stalled(false, Some(0), s(700)), Duration::ZERO);
        // Without SIOCOUTQ, writes count.
        let mut p = SendProgress::new(t0);
        p.wrote(1);
        assert_eq!(p.stalled(true, None, s(5)), Duration::ZERO);
        assert_eq!(p.stalled(true, None, s(9)), Duration::from_secs(4));
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn advances_across_chunks_and_reports_queue_bytes() {
        let refills = Arc::new(AtomicUsize::new(0));
        let r = refills.clone();
        let q = OutQueue::new(
            10,
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
        );
        q.push_forced(Bytes::from_static(b"0123456789ab"));
        assert!(q.is_behind());
        let mut o = Outbox::new();
        o.push(Bytes::from_static(b"0123456789ab"), 12);
        o.push(Bytes::from_static(b"shared"), 0);
        assert_eq!(o.slices().len(), 2);
        o.advance(5, &q);
        assert!(!o.at_boundary());
        assert!(!o.push_front(Bytes::from_static(b"KA")));
        assert_eq!(o.rest_of_front().as_deref(), Some(&b"56789ab"[..]));
        assert_eq!(&*o.slices()[0], b"56789ab");
        o.advance(9, &q);
        // The queue's chunk completed: its bytes are reported, and it asks for a refill.
        assert_eq!(q.queued_bytes(), 0);
        assert_eq!(refills.load(Ordering::SeqCst), 1);
        assert_eq!(&*o.slices()[0], b"ared");
        o.advance(4, &q);
        assert!(o.is_empty());
        assert!(o.push_front(Bytes::from_static(b"KA")));
        assert_eq!(o.rest_of_front(), None);
    }

    #[test]
    fn one_write_takes_a_bounded_number_of_bytes() {
        let mut o = Outbox::new();
        for _ in 0..10 {
            o.push(Bytes::from(vec![0u8; 60 * 1024]), 0);
        }
        let total: usize = o.slices().iter().map(|s| s.len()).sum();
        assert!(
            (MAX_WRITE - 60 * 1024..=MAX_WRITE).contains(&total),
            "{total}"
        );
    }
}
