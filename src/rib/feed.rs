//! A shard's export feed: what each flush encoded for its live clients, kept once and read
//! by every client's session at the pace of its socket.
//!
//! Owns: the flushes' encoded UPDATEs (one buffer per encoding variant per flush, cut into
//! parts, each with the set of clients it is for), every live client's read position, and
//! the rules for a reader that lags. It must not encode, choose paths or read the table: the
//! shard hands it finished entries and gets back the readers it let go.
//!
//! Memory: the feed holds what the slowest live reader has not read yet, shared by all of
//! them; a reader costs its position. A reader more than `lag_max` bytes further behind than
//! the median reader is let go (detached): the shard then catches it up from its change
//! journal (`journal.rs`), from the cursor the first entry it did not read was built on, so
//! it gets every prefix's latest state (what it had read of that entry again) and nothing is
//! lost. When most readers lag, the shard holds its exports back instead
//! (`pressed_majority`: the senders wait), and past `HARD_FACTOR × lag_max` held bytes every
//! reader more than `lag_max` behind is let go, so the feed stays bounded.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;
use tokio::sync::Notify;

use super::outq::OutItem;
use super::path::PeerId;
use crate::policy::ClientSet;
use crate::wire::ParseCtx;

/// Default lag at which a reader is let go (when most others keep up), per shard.
pub const LAG_MAX: usize = 512 << 10;
/// Held bytes, in multiples of `lag_max`, past which every lagging reader is let go.
const HARD_FACTOR: u64 = 16;

/// How one client needs its UPDATEs encoded.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Variant {
    pub tx: ParseCtx,
    pub add_otc: bool,
}

/// A run of encoded messages in one of an entry's buffers, for the clients of `mask`.
struct Part {
    buf: u8,
    range: Range<u32>,
    mask: ClientSet,
}

/// What one flush encoded.
pub(crate) struct Entry {
    /// The journal sequence every live client had reached before this flush.
    since: u64,
    /// Feed byte offset of the entry's start.
    start: u64,
    bufs: SmallVec<[(Variant, Bytes); 1]>,
    parts: Vec<Part>,
}

impl Entry {
    fn len(&self) -> u64 {
        self.bufs.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// Builds a flush's entry: encodings are appended straight into the variant's buffer.
pub(crate) struct EntryBuilder {
    since: u64,
    bufs: SmallVec<[(Variant, BytesMut); 1]>,
    parts: Vec<Part>,
}

impl EntryBuilder {
    pub fn new(since: u64) -> Self {
        EntryBuilder {
            since,
            bufs: SmallVec::new(),
            parts: Vec::new(),
        }
    }

    /// Appends what `encode` writes (for clients of variant `v` in `mask`) as one part;
    /// `encode` returns false when it wrote nothing usable (whatever it wrote is dropped).
    pub fn part(
        &mut self,
        v: Variant,
        mask: ClientSet,
        encode: impl FnOnce(&mut BytesMut) -> bool,
    ) {
        let i = match self.bufs.iter().position(|(k, _)| *k == v) {
            Some(i) => i,
            None => {
                self.bufs.push((v, BytesMut::new()));
                self.bufs.len() - 1
            }
        };
        let Some((_, buf)) = self.bufs.get_mut(i) else {
            return;
        };
        let at = buf.len();
        if !encode(buf) || buf.len() == at || buf.len() > u32::MAX as usize {
            buf.truncate(at);
            return;
        }
        self.parts.push(Part {
            buf: i as u8,
            range: at as u32..buf.len() as u32,
            mask,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn finish(self, start: u64) -> Entry {
        Entry {
            since: self.since,
            start,
            bufs: self
                .bufs
                .into_iter()
                .map(|(v, b)| (v, b.freeze()))
                .collect(),
            parts: self.parts,
        }
    }
}

/// A live client's place in the feed.
#[derive(Clone, Copy)]
struct Reader {
    /// The entry it reads next, and the part within it.
    entry: u64,
    part: u32,
    variant: Variant,
    /// Which registration this is; the session starts reading when it meets the matching
    /// `OutItem::Attach` in its own queue (after the catch-up queued before it).
    epoch: u64,
    active: bool,
}

#[derive(Default)]
struct Log {
    /// Number of `entries[0]`.
    base: u64,
    entries: VecDeque<Entry>,
    /// Byte offset of the feed's end.
    end: u64,
    readers: Vec<Option<Reader>>,
    epoch: u64,
}

impl Log {
    fn next(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    fn entry(&self, n: u64) -> Option<&Entry> {
        self.entries
            .get(usize::try_from(n.checked_sub(self.base)?).ok()?)
    }

    /// Bytes from the start of what `r` has not read to the end.
    fn lag(&self, r: &Reader) -> u64 {
        self.entry(r.entry).map_or(0, |e| self.end - e.start)
    }

    fn held(&self) -> u64 {
        self.entries.front().map_or(0, |e| self.end - e.start)
    }
}

pub struct Feed {
    log: Mutex<Log>,
    lag_max: u64,
    /// Rung (every waiter) when a pressed reader reads below half of `lag_max`: a shard that
    /// holds its exports back looks again.
    drained: Arc<Notify>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self.lock();
        f.debug_struct("Feed")
            .field("entries", &l.entries.len())
            .field("held", &l.held())
            .finish()
    }
}

impl Feed {
    pub(crate) fn new(lag_max: usize, drained: Arc<Notify>) -> Self {
        Feed {
            log: Mutex::new(Log::default()),
            lag_max: lag_max.max(1) as u64,
            drained,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `peer` reads from the next entry on, once its session meets `OutItem::Attach` with
    /// the returned epoch.
    pub(crate) fn register(&self, peer: PeerId, variant: Variant) -> u64 {
        let mut l = self.lock();
        l.epoch += 1;
        let r = Reader {
            entry: l.next(),
            part: 0,
            variant,
            epoch: l.epoch,
            active: false,
        };
        let i = peer.index();
        if l.readers.len() <= i {
            l.readers.resize(i + 1, None);
        }
        if let Some(slot) = l.readers.get_mut(i) {
            *slot = Some(r);
        }
        r.epoch
    }

    /// Stops `peer` reading. Returns the journal sequence its first unread entry was built
    /// on (`None`: it has read everything, or was not reading).
    pub(crate) fn detach(&self, peer: PeerId) -> Option<u64> {
        let mut l = self.lock();
        let r = l.readers.get_mut(peer.index())?.take()?;
        l.entry(r.entry).map(|e| e.since)
    }

    #[cfg(test)]
    pub(crate) fn is_registered(&self, peer: PeerId) -> bool {
        self.lock()
            .readers
            .get(peer.index())
            .is_some_and(|r| r.is_some())
    }

    /// The session met the marker of registration `epoch`: reading starts.
    pub(crate) fn activate(&self, peer: PeerId, epoch: u64) {
        let mut l = self.lock();
        if let Some(Some(r)) = l.readers.get_mut(peer.index()) {
            if r.epoch == epoch {
                r.active = true;
            }
        }
    }

    pub(crate) fn append(&self, b: EntryBuilder) {
        if b.is_empty() {
            return;
        }
        let mut l = self.lock();
        let e = b.finish(l.end);
        l.end += e.len();
        l.entries.push_back(e);
    }

    /// Takes what `peer` has to read, up to about `budget` bytes (whole parts), as shared
    /// slices. Returns the bytes taken.
    pub(crate) fn read(&self, peer: PeerId, budget: usize, out: &mut Vec<OutItem>) -> usize {
        let mut l = self.lock();
        let Some(Some(mut r)) = l.readers.get(peer.index()).copied() else {
            return 0;
        };
        if !r.active {
            return 0;
        }
        let lag_before = l.lag(&r);
        let mut taken = 0usize;
        while taken < budget {
            let Some(e) = l.entry(r.entry) else { break };
            let mine = e.bufs.iter().position(|(v, _)| *v == r.variant);
            let mut run: Option<(usize, Range<u32>)> = None;
            let mut i = r.part as usize;
            while let Some(p) = e.parts.get(i) {
                if taken >= budget {
                    break;
                }
                i += 1;
                if Some(usize::from(p.buf)) != mine || !p.mask.contains(peer) {
                    continue;
                }
                taken += (p.range.end - p.range.start) as usize;
                run = match run {
                    Some((b, r)) if b == usize::from(p.buf) && r.end == p.range.start => {
                        Some((b, r.start..p.range.end))
                    }
                    Some((b, r)) => {
                        push_slice(e, b, r, out);
                        Some((usize::from(p.buf), p.range.clone()))
                    }
                    None => Some((usize::from(p.buf), p.range.clone())),
                };
            }
            if let Some((b, rg)) = run {
                push_slice(e, b, rg, out);
            }
            if i >= e.parts.len() {
                r.entry += 1;
                r.part = 0;
            } else {
                r.part = i as u32;
                break;
            }
        }
        let lag_after = l.lag(&r);
        if let Some(slot) = l.readers.get_mut(peer.index()) {
            *slot = Some(r);
        }
        drop(l);
        let soft = self.lag_max / 2;
        if lag_before >= soft && lag_after < soft {
            self.drained.notify_waiters();
        }
        taken
    }

    /// Lets lagging readers go (see the module comment) and drops the entries every
    /// remaining reader has read. Returns the readers let go, each with the journal sequence
    /// to catch up from.
    pub(crate) fn settle(&self) -> Vec<(PeerId, u64)> {
        let mut l = self.lock();
        let mut gone = Vec::new();
        let lags: Vec<(usize, u64)> = l
            .readers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i, l.lag(r))))
            .collect();
        let mut sorted: Vec<u64> = lags.iter().map(|(_, lag)| *lag).collect();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        let hard = l.held() > HARD_FACTOR * self.lag_max;
        for (i, lag) in lags {
            // Slower than most by more than the mark (or the feed is at its bound).
            if lag <= self.lag_max || !(hard || lag > median + self.lag_max) {
                continue;
            }
            let Some(r) = l.readers.get_mut(i).and_then(|r| r.take()) else {
                continue;
            };
            if let Some(e) = l.entry(r.entry) {
                gone.push((PeerId(i as u32), e.since));
            }
        }
        let keep_from = l
            .readers
            .iter()
            .flatten()
            .map(|r| r.entry)
            .min()
            .unwrap_or_else(|| l.next());
        while l.base < keep_from && l.entries.pop_front().is_some() {
            l.base += 1;
        }
        if l.entries.is_empty() && l.entries.capacity() > 64 {
            l.entries.shrink_to(64);
        }
        gone
    }

    /// Most registered readers are at least half of `lag_max` behind: the clients as a whole
    /// are slower than the input.
    pub(crate) fn pressed_majority(&self) -> bool {
        let l = self.lock();
        let (mut n, mut pressed) = (0usize, 0usize);
        for r in l.readers.iter().flatten() {
            n += 1;
            if l.lag(r) >= self.lag_max / 2 {
                pressed += 1;
            }
        }
        pressed > 0 && pressed * 2 > n
    }

    /// The journal sequence the oldest held entry was built on: a reader let go may need
    /// the journal from there.
    pub(crate) fn floor(&self) -> Option<u64> {
        self.lock().entries.front().map(|e| e.since)
    }

    /// Bytes held (encoded UPDATEs) and reader slots, for memory accounting.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        let l = self.lock();
        let meta = l.entries.iter().map(|e| e.parts.len()).sum::<usize>()
            * std::mem::size_of::<Part>()
            + l.entries.len() * std::mem::size_of::<Entry>();
        (l.held() as usize + meta, l.readers.capacity())
    }
}

fn push_slice(e: &Entry, buf: usize, r: Range<u32>, out: &mut Vec<OutItem>) {
    if let Some((_, b)) = e.bufs.get(buf) {
        out.push(OutItem::Shared(b.slice(r.start as usize..r.end as usize)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Variant {
        Variant {
            tx: ParseCtx::new(),
            add_otc: false,
        }
    }

    fn entry(since: u64, parts: &[(&[u8], &[u32])]) -> EntryBuilder {
        let mut b = EntryBuilder::new(since);
        for (bytes, mask) in parts {
            let mask: ClientSet = mask.iter().map(|p| PeerId(*p)).collect();
            b.part(v(), mask, |out| {
                out.extend_from_slice(bytes);
                true
            });
        }
        b
    }

    fn read_all(f: &Feed, p: u32) -> Vec<u8> {
        let mut out = Vec::new();
        f.read(PeerId(p), usize::MAX, &mut out);
        out.into_iter()
            .flat_map(|i| match i {
                OutItem::Shared(b) => b.to_vec(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn readers_get_their_parts_joined_and_only_after_attaching() {
        let f = Feed::new(1000, Arc::new(Notify::new()));
        let e1 = f.register(PeerId(1), v());
        let e2 = f.register(PeerId(2), v());
        f.append(entry(
            0,
            &[(b"ab", &[1, 2]), (b"cd", &[2]), (b"ef", &[1, 2])],
        ));
        // Not active until the marker is met.
        assert!(read_all(&f, 1).is_empty());
        f.activate(PeerId(1), e1);
        f.activate(PeerId(2), e2);
        let mut out = Vec::new();
        f.read(PeerId(1), usize::MAX, &mut out);
        assert_eq!(out.len(), 2, "a skipped part splits the run");
        assert_eq!(read_all(&f, 2), b"abcdef");
        assert!(read_all(&f, 2).is_empty());
        // Everyone read it: it goes.
        assert!(f.settle().is_empty());
        assert_eq!(f.floor(), None);
        // A stale epoch does not activate a newer registration.
        f.detach(PeerId(1));
        let _e3 = f.register(PeerId(1), v());
        f.activate(PeerId(1), e1);
        f.append(entry(5, &[(b"gh", &[1])]));
        assert!(read_all(&f, 1).is_empty());
    }

    #[test]
    fn a_lagging_minority_is_let_go_from_its_first_unread_entry() {
        let f = Feed::new(4, Arc::new(Notify::new()));
        for p in 1..=3 {
            let e = f.register(PeerId(p), v());
            f.activate(PeerId(p), e);
        }
        f.append(entry(7, &[(b"abc", &[1, 2, 3])]));
        f.append(entry(9, &[(b"defgh", &[1, 2, 3])]));
        read_all(&f, 2);
        read_all(&f, 3);
        assert!(!f.pressed_majority());
        assert_eq!(f.settle(), vec![(PeerId(1), 7)]);
        assert!(!f.is_registered(PeerId(1)));
        assert_eq!(f.floor(), None, "what the others read is dropped");
    }

    #[test]
    fn a_lagging_majority_holds_until_the_hard_bound() {
        let f = Feed::new(4, Arc::new(Notify::new()));
        for p in 1..=3 {
            let e = f.register(PeerId(p), v());
            f.activate(PeerId(p), e);
        }
        f.append(entry(1, &[(b"abcdef", &[1, 2, 3])]));
        read_all(&f, 3);
        assert!(f.pressed_majority());
        assert!(f.settle().is_empty());
        assert_eq!(f.floor(), Some(1));
        f.append(entry(2, &[(&[0u8; 70], &[1, 2, 3])]));
        let gone = f.settle();
        assert_eq!(gone.len(), 3, "{gone:?}");
        assert_eq!(f.floor(), None);
    }

    #[test]
    fn budget_stops_at_a_part_and_resumes_there() {
        let f = Feed::new(1000, Arc::new(Notify::new()));
        let e = f.register(PeerId(0), v());
        f.activate(PeerId(0), e);
        f.append(entry(0, &[(b"aa", &[0]), (b"bb", &[0]), (b"cc", &[0])]));
        let mut out = Vec::new();
        assert_eq!(f.read(PeerId(0), 3, &mut out), 4);
        assert_eq!(read_all(&f, 0), b"cc");
    }
}
