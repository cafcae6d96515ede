//! Memory accounting: how many bytes each part of the route server holds, cheaply enough to
//! be always on. Nothing here walks the table: the figures are kept as running totals where
//! things are created and dropped (the interner's attribute sets), derived from counts that
//! are kept anyway (prefixes per shard, paths per peer), or reported by their owner (export
//! state, out-queues). A shard publishes its parts into its slot when it publishes its
//! snapshot (O(1)); readers (metrics, control) add the slots up at read time (O(shards +
//! peers)).
//!
//! The parts, and what each grows with:
//!
//! | part | what | grows with | how |
//! | --- | --- | --- | --- |
//! | `rib_paths` | prefix entries, their path vectors, the map nodes | prefixes, paths | `size_of`-based per prefix, plus path vector capacity kept as entries change |
//! | `attribute_sets` | interned `RouteAttrs` and what they own on the heap | distinct attribute sets | running total in the interner |
//! | `snapshots` | old versions a published snapshot keeps alive beside the live table | prefixes changed per publish interval | changes since the previous publish × bytes per changed prefix |
//! | `export_state` | the shards' change journals, per-client cursors, prefixes whose export waits for the next flush, pending update groups | changes not yet sent to every client (the log and the pending prefixes are bounded per shard), clients × a few words | reported by the export engine (`set_export_state`) |
//! | `out_queues` | encoded UPDATEs waiting: each shard's feed (shared by its live clients) and every peer's own queue (catch-up) | what the slowest live client has not read; queued bytes | the feeds' and queues' own byte counters |
//! | `allocator` | what the allocator has committed (mimalloc), or the process RSS | everything, plus fragmentation | the allocator's statistics (see [`set_allocator_probe`]) |
//!
//! The `size_of`-based figures leave out the occasional box of control-community actions,
//! and entries copied by policy re-evaluation or graceful restart (their room for one more
//! path) until they next change; the
//! test in `tests/memory_accounting.rs` holds `rib_paths + attribute_sets` to the bytes a
//! counting allocator measures.

use std::mem::size_of;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::attrs::RouteAttrs;
use super::entry::PrefixEntry;
use super::journal::Tombstone;
use super::outq::OutQueue;
use super::path::Path;
use crate::wire::{MpNextHop, Prefix};

/// Two counters and the value of an `Arc`'s allocation.
const ARC_HEADER: usize = 2 * size_of::<usize>();

/// Bytes of one prefix, without its paths: the `Arc<PrefixEntry>` allocation and its share
/// of the persistent map's nodes. Leaves hold 16 (key, value) pairs and are on average about
/// two thirds full; branches add about a sixteenth on top: 3/2 of a slot.
pub const PER_PREFIX: usize =
    ARC_HEADER + size_of::<PrefixEntry>() + size_of::<(Prefix, Arc<PrefixEntry>)>() * 3 / 2;
/// Bytes of one path in its entry's vector (its attributes are counted once per set).
pub const PER_PATH: usize = size_of::<Path>();
/// Bytes one change copies while a published snapshot shares the entry: the entry with its
/// paths (added per path below) and the map leaf holding it (16 slots plus its header).
pub const PER_CHANGE: usize =
    ARC_HEADER + size_of::<PrefixEntry>() + 16 * size_of::<(Prefix, Arc<PrefixEntry>)>() + 32;
/// One slot of a shard's change log (a ring of prefixes, counted by capacity).
pub const PER_LOG_SLOT: usize = size_of::<Prefix>();
/// One tombstone of an emptied prefix (a `BTreeMap` entry; nodes about two thirds full).
pub const PER_TOMBSTONE: usize = (size_of::<Prefix>() + size_of::<Tombstone>()) * 3 / 2;
/// One pending update group: its key, its prefix list's first allocation and map slot.
pub const PER_GROUP: usize = 256;
/// A reader slot of a shard's feed (position, encoding variant, epoch).
pub const PER_FEED_READER: usize = 64;

/// The label values of `peerex_memory_bytes`, in display order.
pub const PARTS: [&str; 6] = [
    "rib_paths",
    "attribute_sets",
    "snapshots",
    "export_state",
    "out_queues",
    "allocator",
];

/// Heap bytes of one interned attribute set: its `Arc` allocation and what it owns.
pub fn attrs_bytes(a: &RouteAttrs) -> usize {
    let p = &a.attrs;
    let path = p.as_path.as_ref().map_or(0, |ap| {
        ap.segments.capacity() * size_of::<crate::wire::PathSegment>()
            + ap.segments
                .iter()
                .map(|s| s.asns.capacity() * size_of::<crate::wire::Asn>())
                .sum::<usize>()
    });
    let lists = p.communities.capacity() * size_of::<crate::wire::Community>()
        + p.ext_communities.capacity() * size_of::<crate::wire::ExtCommunity>()
        + p.large_communities.capacity() * size_of::<crate::wire::LargeCommunity>()
        + p.cluster_list.capacity() * size_of::<std::net::Ipv4Addr>()
        + p.unknown.capacity() * size_of::<crate::wire::RawAttr>()
        + p.unknown.iter().map(|u| u.value.len()).sum::<usize>();
    let nh = match &a.next_hop {
        MpNextHop::Raw(b) => b.len(),
        _ => 0,
    };
    ARC_HEADER + size_of::<RouteAttrs>() + path + lists + nh
}

/// One shard's figures, written by the shard only (so no contention), padded to its own
/// cache line.
#[derive(Default)]
#[repr(align(64))]
struct Slot {
    prefixes: AtomicU64,
    /// Path slots (vector capacity) of the table's entries, kept as entries change.
    path_slots: AtomicI64,
    attr_bytes: AtomicU64,
    /// Entry changes since the last publish (counted as they happen).
    changes: AtomicU64,
    /// `changes` at the last publish: what the superseded snapshot held apart.
    changes_at_publish: AtomicU64,
    export_bytes: AtomicU64,
    /// Encoded UPDATEs the shard's feed holds for its live clients.
    feed_bytes: AtomicU64,
}

/// Where the allocator's total comes from: a probe the binary installs (it knows its global
/// allocator), returning bytes.
pub type AllocatorProbe = fn() -> Option<u64>;

static ALLOCATOR_PROBE: OnceLock<(AllocatorProbe, &'static str)> = OnceLock::new();

/// Installs the probe for the `allocator` part, with the name of what it reads (shown in
/// `ctl status --json` as `allocator_source`). First call wins.
pub fn set_allocator_probe(probe: AllocatorProbe, source: &'static str) {
    let _ = ALLOCATOR_PROBE.set((probe, source));
}

/// VmRSS of this process (the fallback when no allocator probe is installed).
fn process_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// The memory figures of a whole RIB: a slot per shard, and the out-queues sessions use.
pub struct MemoryCounters {
    slots: Box<[Slot]>,
    queues: Mutex<Vec<Weak<OutQueue>>>,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        MemoryCounters::new(1)
    }
}

impl MemoryCounters {
    pub fn new(shards: usize) -> Self {
        MemoryCounters {
            slots: (0..shards.max(1)).map(|_| Slot::default()).collect(),
            queues: Mutex::new(Vec::new()),
        }
    }

    fn slot(&self, shard: usize) -> Option<&Slot> {
        self.slots.get(shard)
    }

    /// A shard changed an entry (a copy when a published snapshot still shares it) whose
    /// path vector had room for `slots_before` paths in the table and now has `slots_now`
    /// (0: no entry). Only the shard writes its slot, so these stay uncontended.
    #[inline]
    pub fn entry_changed(&self, shard: usize, slots_before: usize, slots_now: usize) {
        if let Some(s) = self.slot(shard) {
            s.changes.fetch_add(1, Ordering::Relaxed);
            if slots_now != slots_before {
                s.path_slots
                    .fetch_add(slots_now as i64 - slots_before as i64, Ordering::Relaxed);
            }
        }
    }

    /// A shard published its table: `prefixes` held, `attr_bytes` in its interner.
    pub fn publish_table(&self, shard: usize, prefixes: usize, attr_bytes: usize) {
        if let Some(s) = self.slot(shard) {
            s.prefixes.store(prefixes as u64, Ordering::Relaxed);
            s.attr_bytes.store(attr_bytes as u64, Ordering::Relaxed);
            let changes = s.changes.swap(0, Ordering::Relaxed);
            s.changes_at_publish.store(changes, Ordering::Relaxed);
        }
    }

    /// The export engine's state of `shard`, in bytes (per-client catch-up state, pending
    /// groups, journals: whatever it keeps beside the table).
    pub fn set_export_state(&self, shard: usize, bytes: usize) {
        if let Some(s) = self.slot(shard) {
            s.export_bytes.store(bytes as u64, Ordering::Relaxed);
        }
    }

    /// What the shard's feed holds (encoded UPDATEs not read by every live client yet),
    /// counted under `out_queues`.
    pub fn set_feed_bytes(&self, shard: usize, bytes: usize) {
        if let Some(s) = self.slot(shard) {
            s.feed_bytes.store(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Counts `q`'s queued bytes under `out_queues` for as long as it lives.
    pub fn track_queue(&self, q: &Arc<OutQueue>) {
        let mut v = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|w| w.strong_count() > 0);
        v.push(Arc::downgrade(q));
    }

    /// The figures now; `paths` is the number of paths held (from the path counters).
    pub fn report(&self, paths: u64) -> MemoryReport {
        let (mut prefixes, mut attrs, mut changes, mut export) = (0u64, 0u64, 0u64, 0u64);
        let mut slots = 0u64;
        for s in self.slots.iter() {
            let p = s.prefixes.load(Ordering::Relaxed);
            prefixes += p;
            slots += s.path_slots.load(Ordering::Relaxed).max(0) as u64;
            attrs += s.attr_bytes.load(Ordering::Relaxed);
            changes += s.changes_at_publish.load(Ordering::Relaxed).min(p);
            export += s.export_bytes.load(Ordering::Relaxed);
        }
        // Path vectors by their capacity (spare room included) as the shards keep it; the
        // path count where a shard does not report slots (never less than the paths held).
        let rib_paths = prefixes * PER_PREFIX as u64 + slots.max(paths) * PER_PATH as u64;
        // A changed prefix is copied with its paths: the mean paths per prefix each.
        let per_change =
            PER_CHANGE as u64 + (paths * PER_PATH as u64).checked_div(prefixes).unwrap_or(0);
        let snapshots = (changes * per_change).min(rib_paths);
        let feeds: u64 = self
            .slots
            .iter()
            .map(|s| s.feed_bytes.load(Ordering::Relaxed))
            .sum();
        let out_queues = feeds
            + self
                .queues
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter_map(|w| w.upgrade())
                .map(|q| q.queued_bytes() as u64)
                .sum::<u64>();
        let (allocator, allocator_source) = match ALLOCATOR_PROBE.get() {
            Some((probe, source)) => match probe() {
                Some(b) => (b, *source),
                None => (process_rss().unwrap_or(0), "process_rss"),
            },
            None => (process_rss().unwrap_or(0), "process_rss"),
        };
        MemoryReport {
            prefixes,
            paths,
            rib_paths,
            attribute_sets: attrs,
            snapshots,
            export_state: export,
            out_queues,
            allocator,
            allocator_source,
        }
    }
}

/// Bytes per part at one moment (see the module comment for what each part is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryReport {
    pub prefixes: u64,
    pub paths: u64,
    pub rib_paths: u64,
    pub attribute_sets: u64,
    pub snapshots: u64,
    pub export_state: u64,
    pub out_queues: u64,
    pub allocator: u64,
    /// What `allocator` reads: the installed probe's name, or `process_rss`.
    pub allocator_source: &'static str,
}

impl MemoryReport {
    /// (part, bytes) in [`PARTS`] order.
    pub fn parts(&self) -> [(&'static str, u64); 6] {
        [
            ("rib_paths", self.rib_paths),
            ("attribute_sets", self.attribute_sets),
            ("snapshots", self.snapshots),
            ("export_state", self.export_state),
            ("out_queues", self.out_queues),
            ("allocator", self.allocator),
        ]
    }
}

/// The export engine's state of a shard: its change journal (log slots and tombstones),
/// one client record per slot (the sync cursor lives in it), the prefixes whose export
/// waits for the next flush (a map slot each, and the copy of the entry it keeps), and the
/// update groups not flushed yet. None of it grows with the table. O(1) in the table; called
/// when the shard publishes.
pub(crate) fn export_state_estimate(
    journal: &super::journal::Journal,
    export: &super::export::Exporter,
) -> usize {
    let (log_slots, tombs) = journal.sizes();
    let pending_slot = size_of::<(Prefix, super::export::Pending)>() + 1;
    log_slots * PER_LOG_SLOT
        + export.pending.capacity() * pending_slot
        + export.pending.len() * PER_CHANGE
        + tombs * PER_TOMBSTONE
        + export.clients.capacity() * size_of::<Option<super::export::Client>>()
        + export.groups.len() * PER_GROUP
        + export.feed.sizes().1 * PER_FEED_READER
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, Asn, Community, Origin, PathAttributes};

    #[test]
    fn attrs_bytes_counts_what_the_set_owns() {
        let bare = RouteAttrs::new(
            PathAttributes::default(),
            MpNextHop::V4(std::net::Ipv4Addr::LOCALHOST),
        );
        let base = attrs_bytes(&bare);
        assert_eq!(base, ARC_HEADER + size_of::<RouteAttrs>());
        let rich = RouteAttrs::new(
            PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence([Asn(1), Asn(2), Asn(3)])),
                communities: vec![Community::new(1, 2); 5],
                ..PathAttributes::default()
            },
            MpNextHop::V4(std::net::Ipv4Addr::LOCALHOST),
        );
        assert!(attrs_bytes(&rich) >= base + 3 * 4 + 5 * size_of::<Community>());
    }

    #[test]
    fn slots_add_up_and_snapshots_follow_changes() {
        let m = MemoryCounters::new(2);
        m.publish_table(0, 100, 1000);
        m.publish_table(1, 50, 500);
        m.set_export_state(1, 77);
        m.set_export_state(9, 1); // no such shard: ignored
        let r = m.report(300);
        assert_eq!(r.prefixes, 150);
        assert_eq!(r.attribute_sets, 1500);
        assert_eq!(r.export_state, 77);
        assert_eq!(r.rib_paths, 150 * PER_PREFIX as u64 + 300 * PER_PATH as u64);
        assert_eq!(r.snapshots, 0);
        for _ in 0..10 {
            m.entry_changed(0, 0, 0);
        }
        // Counted at the next publish, and only then.
        assert_eq!(m.report(300).snapshots, 0);
        m.publish_table(0, 100, 1000);
        let per = PER_CHANGE as u64 + 2 * PER_PATH as u64;
        assert_eq!(m.report(300).snapshots, 10 * per);
        m.publish_table(0, 100, 1000);
        assert_eq!(m.report(300).snapshots, 0);
        // Path slots beyond the paths (spare capacity) count once known.
        m.entry_changed(1, 0, 400);
        m.entry_changed(1, 1, 0);
        assert_eq!(
            m.report(300).rib_paths,
            150 * PER_PREFIX as u64 + 399 * PER_PATH as u64
        );
    }

    #[test]
    fn queues_are_counted_while_they_live() {
        let m = MemoryCounters::new(1);
        let q = Arc::new(OutQueue::new(1 << 20, Box::new(|| {})));
        m.track_queue(&q);
        q.push_forced(bytes::Bytes::from_static(&[0u8; 100]));
        assert_eq!(m.report(0).out_queues, 100);
        drop(q);
        assert_eq!(m.report(0).out_queues, 0);
    }
}
