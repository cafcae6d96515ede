//! A shard's table: every path of every prefix the shard owns, in selection order, with
//! interned attributes, and the journal numbering the table's changes (`journal.rs`).
//!
//! It applies one path change at a time and tells the export engine about it before
//! changing anything (`Exporter::track_change`), so the next flush can compare the entry as
//! of the previous flush with the entry then. It decides nothing about clients, encodes
//! nothing and publishes nothing: the export engine reads it, the shard publishes it.

use std::collections::HashMap;
use std::sync::Arc;

use imbl::OrdMap;

use super::attrs::{Interner, RouteAttrs};
use super::counters::RibCounters;
use super::entry::PrefixEntry;
use super::export::Exporter;
use super::journal::{Journal, Tombstone};
use super::path::{Path, PeerId, SelectCtx};
use crate::wire::{Community, Family, FamilySet, Prefix};

/// Which path a change is about: `peer`'s path `rx_id` of `prefix`, received in `family`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathKey {
    pub family: Family,
    pub prefix: Prefix,
    pub peer: PeerId,
    pub rx_id: u32,
}

pub(crate) struct Table {
    index: usize,
    /// The prefixes and their paths (persistent: publishing it is O(1)).
    pub(crate) prefixes: OrdMap<Prefix, Arc<PrefixEntry>>,
    pub(crate) interner: Interner,
    /// Changes numbered, for clients that fall behind.
    pub(crate) journal: Journal,
    counters: Arc<RibCounters>,
    /// Whether the table changed since it was last published.
    pub(crate) changed: bool,
}

impl Table {
    pub(crate) fn new(index: usize, counters: Arc<RibCounters>) -> Self {
        Table {
            index,
            prefixes: OrdMap::new(),
            interner: Interner::default(),
            journal: Journal::new(),
            counters,
            changed: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.prefixes.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Puts `new` in the place of the path of `key` (creating the entry), or removes that
    /// path when `new` is `None`; the next flush of `export` exports the result.
    pub(crate) fn change(
        &mut self,
        export: &mut Exporter,
        ctx: &SelectCtx<'_>,
        key: PathKey,
        new: Option<Path>,
    ) {
        let PathKey {
            family,
            prefix,
            peer,
            rx_id,
        } = key;
        // One lookup for the prefix (the map copies the path to it out of a published
        // snapshot on the way).
        let mut found = self.prefixes.get_mut(&prefix);
        if found.is_none() && new.is_none() {
            return;
        }
        let track = export.track_change(&key, found.as_deref(), new.as_ref(), ctx);
        let mut slots_before = 0; // path slots the table held for the prefix (memory.rs)
        let slot = match found.take() {
            Some(e) => {
                slots_before = e.paths.capacity();
                e
            }
            None => {
                let fresh = PrefixEntry {
                    tx_hwm: self.journal.raise(&prefix).map_or(0, |t| t.tx_hwm),
                    ..PrefixEntry::default()
                };
                self.prefixes.insert(prefix, Arc::new(fresh));
                match self.prefixes.get_mut(&prefix) {
                    Some(e) => e,
                    None => return,
                }
            }
        };
        let entry = Arc::make_mut(slot);
        let old = match new {
            Some(p) => entry.upsert(p, ctx),
            None => entry.remove(peer, rx_id),
        };
        let found_now = entry.find(peer, rx_id);
        if let (Some(o), Some(n)) = (&old, found_now) {
            // (A refresh of a path kept through a restart is not a duplicate.)
            if o.same_as(n) && !o.stale && !o.llgr_stale {
                self.counters.add_duplicate(peer);
            }
        }
        let now = found_now.map(|p| p.accepted());
        let empty_now = entry.is_empty();
        let seq = self.journal.record(prefix);
        entry.changed = seq;
        let tx_hwm = entry.tx_hwm;
        let slots_now = if empty_now { 0 } else { entry.paths.capacity() };
        if let Some(t) = track {
            // The entry as the flush will compare it (kept so that the flush need not look
            // it up again).
            t.now = (!empty_now).then(|| slot.clone());
        }
        self.counters
            .adjust(peer, family, old.as_ref().map(|o| o.accepted()), now);
        if empty_now {
            self.prefixes.remove(&prefix);
            self.journal.bury(prefix, Tombstone { seq, tx_hwm });
        }
        if let Some(o) = old {
            self.interner.release(o.attrs);
        }
        self.changed = true;
        let mem = &self.counters.memory;
        mem.entry_changed(self.index, slots_before, slots_now);
    }

    /// Removes the paths of `peer` in `families` for which `which` holds.
    pub(crate) fn remove_paths(
        &mut self,
        export: &mut Exporter,
        ctx: &SelectCtx<'_>,
        peer: PeerId,
        families: FamilySet,
        which: impl Fn(&Path) -> bool,
    ) {
        let victims: Vec<(Prefix, u32)> = self
            .prefixes
            .iter()
            .filter(|(k, _)| families.contains(k.family()))
            .flat_map(|(k, e)| {
                e.paths
                    .iter()
                    .filter(|p| p.peer == peer && which(p))
                    .map(move |p| (*k, p.rx_id))
            })
            .collect();
        for (prefix, rx_id) in victims {
            let key = PathKey {
                family: prefix.family(),
                prefix,
                peer,
                rx_id,
            };
            self.change(export, ctx, key, None);
        }
    }

    /// Marks the paths of `peer` in `families` stale (graceful restart). Not a change
    /// export sees: pending changes must be flushed first.
    pub(crate) fn mark_stale(&mut self, peer: PeerId, families: FamilySet) {
        let keys: Vec<Prefix> = self
            .prefixes
            .iter()
            .filter(|(k, e)| {
                families.contains(k.family()) && e.paths.iter().any(|p| p.peer == peer)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(e) = self.prefixes.get_mut(&k) {
                for p in Arc::make_mut(e).paths.iter_mut().filter(|p| p.peer == peer) {
                    p.stale = true;
                }
            }
        }
        self.changed = true;
    }

    /// RFC 9494 §4.2: the stale paths of `peer` in `families` become long-lived stale. Those
    /// with NO_LLGR go; the others get LLGR_STALE (attributes interned again, so clients that
    /// take them are sent the community) and lose to every other path. Each is a change the
    /// next flush of `export` exports.
    pub(crate) fn enter_llgr(
        &mut self,
        export: &mut Exporter,
        ctx: &SelectCtx<'_>,
        peer: PeerId,
        families: FamilySet,
    ) {
        let victims: Vec<(Prefix, Path)> = self
            .prefixes
            .iter()
            .filter(|(k, _)| families.contains(k.family()))
            .flat_map(|(k, e)| {
                e.paths
                    .iter()
                    .filter(|p| p.peer == peer && p.stale)
                    .map(move |p| (*k, p.clone()))
            })
            .collect();
        // Paths sharing attributes share their long-lived form.
        let mut marked: HashMap<usize, Arc<RouteAttrs>> = HashMap::new();
        for (prefix, mut p) in victims {
            let key = PathKey {
                family: prefix.family(),
                prefix,
                peer,
                rx_id: p.rx_id,
            };
            if p.attrs.attrs.communities.contains(&Community::NO_LLGR) {
                // The copy's reference would keep the attributes interned.
                drop(p);
                self.change(export, ctx, key, None);
                continue;
            }
            if p.llgr_stale {
                continue;
            }
            let old = Arc::as_ptr(&p.attrs) as usize;
            let attrs = match marked.get(&old) {
                Some(a) => a.clone(),
                None => {
                    let mut a = p.attrs.attrs.clone();
                    if !a.communities.contains(&Community::LLGR_STALE) {
                        a.communities.push(Community::LLGR_STALE);
                    }
                    let fresh = RouteAttrs::new(a, p.attrs.next_hop.clone());
                    let a = self.interner.intern(Arc::new(fresh));
                    marked.insert(old, a.clone());
                    a
                }
            };
            p.attrs = attrs;
            p.llgr_stale = true;
            self.change(export, ctx, key, Some(p));
        }
    }

    /// Replaces paths of `prefix` (by position) with re-evaluated ones; the next flush of
    /// `export` exports the result.
    pub(crate) fn replace_paths(
        &mut self,
        export: &mut Exporter,
        ctx: &SelectCtx<'_>,
        prefix: Prefix,
        fresh: smallvec::SmallVec<[(usize, Path); 4]>,
    ) {
        let family = prefix.family();
        let found = self.prefixes.get_mut(&prefix);
        let track = export.track(prefix, found.as_deref());
        let Some(slot) = found else {
            return;
        };
        let entry = Arc::make_mut(slot);
        for (i, n) in fresh {
            if let Some(slot) = entry.paths.get_mut(i) {
                let counters = &self.counters;
                counters.adjust(n.peer, family, Some(slot.accepted()), Some(n.accepted()));
                *slot = n;
            }
        }
        entry.resort(ctx);
        entry.changed = self.journal.record(prefix);
        track.now = Some(slot.clone());
        self.changed = true;
    }

    /// Numbers a change of what export makes of `prefix` (its paths unchanged): a client
    /// refused in the flush, or one that falls off the journal and walks the table, is sent
    /// the prefix in its current state.
    pub(crate) fn restamp(&mut self, prefix: Prefix) {
        let seq = self.journal.record(prefix);
        if let Some(e) = self.prefixes.get_mut(&prefix) {
            Arc::make_mut(e).changed = seq;
        }
    }
}
