//! Path counts per peer and family, kept exact by the shards and read by anyone (sessions
//! for max-prefix, the looking glass, metrics), and the memory figures (`memory.rs`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::memory::{MemoryCounters, MemoryReport};
use super::path::PeerId;
use crate::policy::MAX_PEERS;
use crate::wire::{ByFamily, Family};

#[derive(Default)]
struct Count {
    accepted: AtomicI64,
    rejected: AtomicI64,
}

impl Count {
    fn of(&self, accepted: bool) -> &AtomicI64 {
        if accepted {
            &self.accepted
        } else {
            &self.rejected
        }
    }
}

pub struct RibCounters {
    paths: Vec<ByFamily<Count>>,
    /// Per client: routes withdrawn from it (or never sent) because their UPDATE did not
    /// fit its maximum message length (RFC 8654 §4).
    too_big: Vec<AtomicU64>,
    /// Per peer: announcements of a path it already had, unchanged (BMP statistic 1).
    duplicates: Vec<AtomicU64>,
    /// Bytes per part of the RIB and the queues (see `memory.rs`).
    pub memory: MemoryCounters,
}

impl Default for RibCounters {
    fn default() -> Self {
        RibCounters::new(1)
    }
}

impl std::fmt::Debug for RibCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RibCounters")
    }
}

impl RibCounters {
    /// Counters for a RIB of `shards` shards.
    pub fn new(shards: usize) -> Self {
        RibCounters {
            paths: (0..MAX_PEERS).map(|_| Default::default()).collect(),
            too_big: (0..MAX_PEERS).map(|_| AtomicU64::new(0)).collect(),
            duplicates: (0..MAX_PEERS).map(|_| AtomicU64::new(0)).collect(),
            memory: MemoryCounters::new(shards),
        }
    }

    /// Bytes per part now. O(shards + peers): the path total is summed from the per-peer
    /// counters.
    pub fn memory(&self) -> MemoryReport {
        let mut paths = 0u64;
        for slots in &self.paths {
            for f in Family::ALL {
                let c = slots.get(f);
                paths += c.accepted.load(Ordering::Relaxed).max(0) as u64
                    + c.rejected.load(Ordering::Relaxed).max(0) as u64;
            }
        }
        self.memory.report(paths)
    }

    /// A path of `peer` went from `was` to `now` (`Some(accepted?)`, `None` = absent).
    pub fn adjust(&self, peer: PeerId, family: Family, was: Option<bool>, now: Option<bool>) {
        let Some(slots) = self.paths.get(peer.index()) else {
            return;
        };
        let c = slots.get(family);
        if let Some(a) = was {
            c.of(a).fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(a) = now {
            c.of(a).fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Paths held from `peer` in `family`: (accepted, rejected).
    pub fn paths(&self, peer: PeerId, family: Family) -> (u64, u64) {
        let Some(slots) = self.paths.get(peer.index()) else {
            return (0, 0);
        };
        let c = slots.get(family);
        (
            c.accepted.load(Ordering::Relaxed).max(0) as u64,
            c.rejected.load(Ordering::Relaxed).max(0) as u64,
        )
    }

    /// `n` more routes did not fit `peer`'s maximum message length (RFC 8654 §4).
    pub fn add_too_big(&self, peer: PeerId, n: u64) {
        if let Some(c) = self.too_big.get(peer.index()) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// `peer` announced a path it already had, with the same attributes.
    pub fn add_duplicate(&self, peer: PeerId) {
        if let Some(c) = self.duplicates.get(peer.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Duplicate announcements from `peer` so far.
    pub fn duplicates(&self, peer: PeerId) -> u64 {
        self.duplicates
            .get(peer.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Routes that did not fit `peer`'s maximum message length so far.
    pub fn routes_too_big(&self, peer: PeerId) -> u64 {
        self.too_big
            .get(peer.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}
