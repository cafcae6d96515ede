//! Route attributes as the RIB keeps them: the received path attributes, owned and shared
//! (`Arc`), with the few values best-path selection reads cached beside them, and a per-shard
//! interner so that paths with equal attributes share one allocation.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use crate::wire::{Asn, MpNextHop, Origin, PathAttributes};

/// Received path attributes plus cached selection inputs. Immutable once built.
#[derive(Debug)]
pub struct RouteAttrs {
    /// Everything but the next hop (`attrs.next_hop` is always `None` here).
    pub attrs: PathAttributes,
    /// The next hop, from NEXT_HOP or MP_REACH_NLRI.
    pub next_hop: MpNextHop,
    /// AS path length for selection (RFC 4271 §9.1.2.2 a).
    pub hops: u16,
    pub origin: Origin,
    /// First AS of the path: the neighbouring AS whose MEDs are comparable.
    pub neighbor_as: Option<Asn>,
    /// Origin AS (RFC 6811), if the path ends in an AS_SEQUENCE.
    pub origin_as: Option<Asn>,
    /// MULTI_EXIT_DISC, a missing one counting as 0 (RFC 4271 §9.1.2.2 c).
    pub med: u32,
    hash: u64,
}

impl RouteAttrs {
    /// `attrs.next_hop` is moved into `next_hop` when `next_hop` is `Raw` and empty.
    pub fn new(mut attrs: PathAttributes, next_hop: MpNextHop) -> Self {
        let next_hop = match (next_hop, attrs.next_hop.take()) {
            (MpNextHop::Raw(b), Some(v4)) if b.is_empty() => MpNextHop::V4(v4),
            (nh, _) => nh,
        };
        let (hops, neighbor_as, origin_as) = match &attrs.as_path {
            Some(p) => {
                let first = p.segments.first().and_then(|s| {
                    (s.kind == crate::wire::SegmentType::Sequence)
                        .then(|| s.asns.first().copied())
                        .flatten()
                });
                let last = p.segments.last().and_then(|s| {
                    (s.kind == crate::wire::SegmentType::Sequence)
                        .then(|| s.asns.last().copied())
                        .flatten()
                });
                (p.hop_count().min(usize::from(u16::MAX)) as u16, first, last)
            }
            None => (0, None, None),
        };
        let mut h = super::fxhash::FxHasher::default();
        attrs.hash(&mut h);
        next_hop.hash(&mut h);
        RouteAttrs {
            next_hop,
            hops,
            origin: attrs.origin.unwrap_or(Origin::Incomplete),
            neighbor_as,
            origin_as,
            med: attrs.med.unwrap_or(0),
            hash: h.finish(),
            attrs,
        }
    }
}

impl PartialEq for RouteAttrs {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.next_hop == other.next_hop && self.attrs == other.attrs
    }
}

impl Eq for RouteAttrs {}

impl Hash for RouteAttrs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes the precomputed hash through.
#[derive(Default, Clone, Copy)]
pub struct PassThrough;

#[derive(Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher::default()
    }
}

/// Wrapper so the set can be searched by `RouteAttrs` content while holding `Arc`s.
#[derive(Debug, Clone)]
struct Interned(Arc<RouteAttrs>);

impl PartialEq for Interned {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}
impl Eq for Interned {}
impl Hash for Interned {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}
impl std::borrow::Borrow<RouteAttrs> for Interned {
    fn borrow(&self) -> &RouteAttrs {
        &self.0
    }
}

/// Hash-consing of attribute sets within one shard. Entries nothing else holds any more are
/// dropped by `release` when it can tell at once, and otherwise by `sweep`, which runs when
/// enough releases were deferred.
///
/// Keeps a running total of the bytes its sets hold (`memory::attrs_bytes` of each, added
/// when a set is inserted and taken off when it leaves the set), so the figure costs O(1)
/// to read. A set released by the interner but still held by a reader's snapshot is no
/// longer counted here.
#[derive(Default)]
pub struct Interner {
    set: HashSet<Interned, PassThrough>,
    deferred: usize,
    bytes: usize,
}

impl Interner {
    /// The shared copy of `a` (inserting it when new).
    pub fn intern(&mut self, a: Arc<RouteAttrs>) -> Arc<RouteAttrs> {
        if let Some(found) = self.set.get(&*a) {
            return found.0.clone();
        }
        self.bytes += super::memory::attrs_bytes(&a);
        self.set.insert(Interned(a.clone()));
        a
    }

    /// Drops the interner's reference when nothing else holds `a` any more. Call after a
    /// path holding `a` was removed (with `a` the last other reference).
    pub fn release(&mut self, a: Arc<RouteAttrs>) {
        // The interner's own reference plus `a`.
        if Arc::strong_count(&a) <= 2 {
            if self.set.remove(&*a) {
                self.bytes = self.bytes.saturating_sub(super::memory::attrs_bytes(&a));
            }
        } else {
            self.deferred += 1;
            if self.deferred > 4096 && self.deferred > self.set.len() / 4 {
                drop(a);
                self.sweep();
            }
        }
    }

    /// Drops every entry only the interner holds.
    pub fn sweep(&mut self) {
        let mut freed = 0;
        self.set.retain(|i| {
            let keep = Arc::strong_count(&i.0) > 1;
            if !keep {
                freed += super::memory::attrs_bytes(&i.0);
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.deferred = 0;
    }

    /// Bytes the interned sets hold (their allocations and what they own) plus the hash
    /// table itself. O(1).
    pub fn bytes(&self) -> usize {
        // hashbrown: one pointer and one control byte per bucket, buckets = capacity × 8/7.
        let table = (self.set.capacity() * 8 / 7) * (std::mem::size_of::<Interned>() + 1);
        self.bytes + table
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AsPath;

    fn attrs(path: &[u32]) -> Arc<RouteAttrs> {
        Arc::new(RouteAttrs::new(
            PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(path.iter().map(|&a| Asn(a)))),
                ..PathAttributes::default()
            },
            MpNextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
        ))
    }

    #[test]
    fn caches_selection_inputs() {
        let a = attrs(&[65001, 65002, 65003]);
        assert_eq!(a.hops, 3);
        assert_eq!(a.neighbor_as, Some(Asn(65001)));
        assert_eq!(a.origin_as, Some(Asn(65003)));
        assert_eq!(a.med, 0);
    }

    #[test]
    fn interner_shares_and_releases() {
        let mut i = Interner::default();
        let a = i.intern(attrs(&[1, 2]));
        let b = i.intern(attrs(&[1, 2]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(attrs(&[1, 3]));
        assert_eq!(i.len(), 2);
        drop(b);
        i.release(a);
        assert_eq!(i.len(), 1);
        i.release(c);
        assert!(i.is_empty());
    }

    #[test]
    fn interner_bytes_follow_its_sets() {
        let mut i = Interner::default();
        let table = |i: &Interner| i.bytes() - i.bytes;
        let a = i.intern(attrs(&[1, 2]));
        let one = super::super::memory::attrs_bytes(&a);
        assert_eq!(i.bytes() - table(&i), one);
        let b = i.intern(attrs(&[1, 2, 3, 4]));
        let two = one + super::super::memory::attrs_bytes(&b);
        assert_eq!(i.bytes() - table(&i), two);
        i.release(a);
        assert_eq!(i.bytes() - table(&i), two - one);
        // Deferred: still referenced elsewhere, then swept.
        let keep = b.clone();
        i.release(b);
        assert_eq!(i.bytes() - table(&i), two - one);
        drop(keep);
        i.sweep();
        assert_eq!(i.bytes() - table(&i), 0);
    }
}
