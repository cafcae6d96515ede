//! A shard's change journal: what a client that fell behind still has to be sent, derived
//! from shared state instead of a per-client set of prefixes.
//!
//! Every change of a prefix (its paths, or what export rules make of them) gets the next
//! sequence number and is appended to a bounded log. A prefix entry remembers the number of
//! its last change (`PrefixEntry::changed`); a prefix removed from the table leaves a
//! tombstone with the number of its removal for as long as a client behind it may need the
//! withdrawal. A client that could not take its updates keeps one number, its cursor: it is
//! sent, for every prefix logged after the cursor, the prefix's state *at the time it is
//! sent* — so a prefix that changed ten times while the client was behind goes to it once.
//! When a client's cursor has fallen off the front of the log it walks the table instead,
//! sending what changed after its cursor (`changed > since`) and the tombstones after it.
//!
//! So a slow or stuck client costs a cursor, whatever the table's size; the log costs at most
//! `LOG_MAX` prefixes per shard and exists only while a client is behind; tombstones cost
//! one per prefix withdrawn while a client was behind, at most the table's size.
//!
//! Owns no clients and sends nothing: the shard's table (`table.rs`) numbers its changes here
//! and the export engine (`export/`) reads it.

use std::collections::{BTreeMap, VecDeque};

use crate::wire::{FamilySet, Prefix};

/// Changes the log holds before it forgets the oldest (a client behind those walks the
/// table). 16 Ki prefixes of 18 bytes: under 300 KiB per shard, which only a client that is
/// behind keeps alive.
pub(crate) const LOG_MAX: usize = 16 * 1024;

/// What a removed prefix leaves for clients that are behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tombstone {
    /// The change that removed it.
    pub seq: u64,
    /// The highest ADD-PATH transmit id it ever used (withdrawn one by one).
    pub tx_hwm: u16,
}

/// How far one client is from the shard's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sync {
    /// Everything up to the last flush was queued for it; new changes reach it through the
    /// export groups.
    Live,
    /// Needs every prefix logged after `cursor`.
    Journal { cursor: u64 },
    /// Walking the table in prefix order after `after` (then the tombstones, `tombs`):
    /// sends every prefix changed after `since`, and every prefix of `full` (a dump: the
    /// initial table or a route refresh). `start` is the last change when the walk began:
    /// afterwards the client needs only what was logged after it.
    Walk {
        since: u64,
        full: FamilySet,
        after: Option<Prefix>,
        tombs: bool,
        start: u64,
    },
}

impl Sync {
    pub fn is_live(&self) -> bool {
        matches!(self, Sync::Live)
    }

    /// The oldest change this client may still have to read from the log.
    fn needs_log_after(&self) -> Option<u64> {
        match *self {
            Sync::Live => None,
            Sync::Journal { cursor } => Some(cursor),
            Sync::Walk { start, .. } => Some(start),
        }
    }

    /// The oldest removal this client may still have to be told of.
    fn needs_tombs_after(&self) -> Option<u64> {
        match *self {
            Sync::Live => None,
            Sync::Journal { cursor } => Some(cursor),
            Sync::Walk { since, .. } => Some(since),
        }
    }

    /// A dump of `families` on top of whatever this client still needs: a walk from the
    /// first prefix that sends every prefix of `families` and everything changed after what
    /// the client is known to hold.
    pub fn with_dump(self, families: FamilySet, head: u64) -> Sync {
        let (since, full) = match self {
            Sync::Live => (head, families),
            Sync::Journal { cursor } => (cursor, families),
            Sync::Walk { since, full, .. } => (since, full.union(families)),
        };
        Sync::Walk {
            since,
            full,
            after: None,
            tombs: false,
            start: head,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// The number of the first change in `log`: `log[i]` is change `base + i`.
    base: u64,
    log: VecDeque<Prefix>,
    /// `LOG_MAX`, or less in tests.
    log_max: usize,
    /// Removed prefixes some client behind may still have to withdraw.
    tombs: BTreeMap<Prefix, Tombstone>,
    /// The smallest tombstone number (0 when there are none): trimming below it is free.
    tombs_min: u64,
    /// The last change when export groups were last flushed: a client refused in the next
    /// flush needs everything after it.
    flushed: u64,
}

impl Journal {
    pub fn new() -> Self {
        Self::with_log_max(LOG_MAX)
    }

    /// A journal that forgets changes beyond the last `log_max` (at least one).
    pub fn with_log_max(log_max: usize) -> Self {
        Journal {
            base: 1,
            log_max: log_max.max(1),
            ..Journal::default()
        }
    }

    /// The number of the last change (0 before the first).
    pub fn head(&self) -> u64 {
        self.base + self.log.len() as u64 - 1
    }

    /// The first change the log still holds.
    #[cfg(test)]
    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn flushed(&self) -> u64 {
        self.flushed
    }

    /// Logs a change of `p` and returns its number.
    pub fn record(&mut self, p: Prefix) -> u64 {
        if self.log.len() >= self.log_max {
            self.log.pop_front();
            self.base += 1;
        }
        self.log.push_back(p);
        self.head()
    }

    /// Whether a client at `cursor` can continue from the log (nothing it needs was
    /// forgotten).
    pub fn covers(&self, cursor: u64) -> bool {
        cursor + 1 >= self.base
    }

    /// The change numbered `seq`, if the log still holds it.
    pub fn at(&self, seq: u64) -> Option<Prefix> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.log.get(i).copied()
    }

    /// `p` was removed from the table by change `seq`.
    pub fn bury(&mut self, p: Prefix, t: Tombstone) {
        if self.tombs.is_empty() {
            self.tombs_min = t.seq;
        }
        self.tombs_min = self.tombs_min.min(t.seq);
        self.tombs.insert(p, t);
    }

    /// `p` is in the table again: its tombstone (if any) is lifted, handing back the highest
    /// transmit id it used.
    pub fn raise(&mut self, p: &Prefix) -> Option<Tombstone> {
        if self.tombs.is_empty() {
            return None;
        }
        self.tombs.remove(p)
    }

    pub fn tomb(&self, p: &Prefix) -> Option<&Tombstone> {
        self.tombs.get(p)
    }

    /// Tombstones in prefix order after `after`.
    pub fn tombs_after(
        &self,
        after: Option<Prefix>,
    ) -> impl Iterator<Item = (&Prefix, &Tombstone)> + '_ {
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a),
            None => std::ops::Bound::Unbounded,
        };
        self.tombs.range((start, std::ops::Bound::Unbounded))
    }

    /// After a flush: remember where it ended, and forget what no client can need any more
    /// (`clients`: the sync state of every client; `floor`: the sequence the oldest entry
    /// still held in the shard's feed was built on, where a live client let go from the feed
    /// would resume).
    pub fn flushed_now<'a>(&mut self, clients: impl Iterator<Item = &'a Sync>, floor: Option<u64>) {
        let head = self.head();
        self.flushed = head;
        let start = floor.unwrap_or(head).min(head);
        let (mut log_after, mut tombs_after) = (start, start);
        for s in clients {
            if let Some(c) = s.needs_log_after() {
                log_after = log_after.min(c);
            }
            if let Some(c) = s.needs_tombs_after() {
                tombs_after = tombs_after.min(c);
            }
        }
        while self.base <= log_after && self.log.pop_front().is_some() {
            self.base += 1;
        }
        if !self.tombs.is_empty() && self.tombs_min <= tombs_after {
            self.tombs.retain(|_, t| t.seq > tombs_after);
            self.tombs_min = self.tombs.values().map(|t| t.seq).min().unwrap_or(0);
        }
        if self.log.is_empty() && self.log.capacity() > 1024 {
            self.log.shrink_to(1024);
        }
    }

    /// Slots of the log (its capacity) and tombstones kept, for memory accounting.
    pub fn sizes(&self) -> (usize, usize) {
        (self.log.capacity(), self.tombs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u8) -> Prefix {
        format!("10.{i}.0.0/16").parse().unwrap()
    }

    #[test]
    fn log_numbers_and_trims_to_the_slowest_client() {
        let mut j = Journal::new();
        assert_eq!(j.head(), 0);
        assert_eq!(j.record(p(1)), 1);
        assert_eq!(j.record(p(2)), 2);
        assert_eq!(j.at(1), Some(p(1)));
        let behind = Sync::Journal { cursor: 1 };
        j.flushed_now([Sync::Live, behind].iter(), None);
        assert_eq!(j.flushed(), 2);
        assert_eq!(j.at(1), None);
        assert_eq!(j.at(2), Some(p(2)));
        assert!(j.covers(1));
        j.flushed_now([Sync::Live].iter(), None);
        assert_eq!(j.at(2), None);
        assert_eq!(j.head(), 2);
        assert_eq!(j.record(p(3)), 3);
    }

    #[test]
    fn log_is_bounded_and_says_when_a_cursor_fell_off() {
        let mut j = Journal::new();
        for _ in 0..LOG_MAX + 10 {
            j.record(p(1));
        }
        assert_eq!(j.sizes().0, LOG_MAX);
        assert!(!j.covers(5));
        assert!(j.covers(j.base() - 1));
    }

    #[test]
    fn tombstones_stay_while_a_client_may_need_them() {
        let mut j = Journal::new();
        let s = j.record(p(1));
        j.bury(p(1), Tombstone { seq: s, tx_hwm: 3 });
        let walk = Sync::Walk {
            since: 0,
            full: FamilySet::EMPTY,
            after: None,
            tombs: false,
            start: s,
        };
        j.flushed_now([walk].iter(), None);
        assert!(j.tomb(&p(1)).is_some());
        assert_eq!(j.tombs_after(None).count(), 1);
        assert_eq!(j.tombs_after(Some(p(1))).count(), 0);
        j.flushed_now([Sync::Live].iter(), None);
        assert!(j.tomb(&p(1)).is_none());
        // A prefix that comes back lifts its tombstone and keeps its transmit ids.
        let s = j.record(p(2));
        j.bury(p(2), Tombstone { seq: s, tx_hwm: 2 });
        assert_eq!(j.raise(&p(2)).map(|t| t.tx_hwm), Some(2));
        assert!(j.raise(&p(2)).is_none());
    }

    #[test]
    fn a_dump_keeps_what_the_client_still_needs() {
        let d = Sync::Journal { cursor: 4 }.with_dump(FamilySet::ALL, 9);
        assert_eq!(
            d,
            Sync::Walk {
                since: 4,
                full: FamilySet::ALL,
                after: None,
                tombs: false,
                start: 9
            }
        );
        assert_eq!(
            Sync::Live.with_dump(FamilySet::EMPTY, 9),
            Sync::Walk {
                since: 9,
                full: FamilySet::EMPTY,
                after: None,
                tombs: false,
                start: 9
            }
        );
    }
}
