//! The paths of one prefix, kept in selection order.

use super::path::{order, Path, PeerId, SelectCtx};

/// Every path held for a prefix — accepted ones first, in selection order, then rejected
/// ones (kept with their reasons for the looking glass and for re-evaluation).
#[derive(Debug, Default)]
pub struct PrefixEntry {
    pub paths: Vec<Path>,
    /// The shard's number for the last change of these paths (see `journal.rs`): a client
    /// behind since before it has to be sent this prefix.
    pub changed: u64,
    /// The highest ADD-PATH transmit id any of its paths had: what a client that is behind
    /// may hold, withdrawn where no longer used.
    pub tx_hwm: u16,
}

impl Clone for PrefixEntry {
    /// With room for one more path: an entry is copied (from under a published snapshot) to
    /// be changed, and a change often adds a path.
    fn clone(&self) -> Self {
        let mut paths = Vec::with_capacity(self.paths.len() + 1);
        paths.extend_from_slice(&self.paths);
        PrefixEntry {
            paths,
            changed: self.changed,
            tx_hwm: self.tx_hwm,
        }
    }
}

/// Equal when they hold the same paths in the same order, each with the same content and
/// marks (what `imbl`'s diff of two snapshots compares, after skipping shared subtrees).
impl PartialEq for PrefixEntry {
    fn eq(&self, other: &Self) -> bool {
        self.changed == other.changed
            && self.tx_hwm == other.tx_hwm
            && self.paths.len() == other.paths.len()
            && self.paths.iter().zip(&other.paths).all(|(a, b)| {
                a.same_as(b)
                    && a.tx_id == b.tx_id
                    && a.stale == b.stale
                    && a.llgr_stale == b.llgr_stale
                    && a.since == b.since
            })
    }
}

impl Eq for PrefixEntry {}

impl PrefixEntry {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn find(&self, peer: PeerId, rx_id: u32) -> Option<&Path> {
        self.paths
            .iter()
            .find(|p| p.peer == peer && p.rx_id == rx_id)
    }

    /// Adds or replaces the path of (`path.peer`, `path.rx_id`); returns the one replaced.
    /// A replacement keeps its ADD-PATH transmit id; a new path gets the smallest free one.
    pub fn upsert(&mut self, mut path: Path, ctx: &SelectCtx<'_>) -> Option<Path> {
        let old = self.remove(path.peer, path.rx_id);
        path.tx_id = match &old {
            Some(o) => o.tx_id,
            None => self.free_tx_id(),
        };
        self.tx_hwm = self.tx_hwm.max(path.tx_id);
        let at = self
            .paths
            .partition_point(|p| order(p, &path, ctx) != std::cmp::Ordering::Greater);
        // Exactly one more slot while the entry is small: most prefixes hold one or a few
        // paths for a long time, and a Vec's first allocation alone is four paths. Larger
        // entries grow by doubling, so adding paths one by one stays cheap.
        if self.paths.len() < 4 {
            self.paths.reserve_exact(1);
        } else {
            self.paths.reserve(1);
        }
        self.paths.insert(at, path);
        old
    }

    pub fn remove(&mut self, peer: PeerId, rx_id: u32) -> Option<Path> {
        let i = self
            .paths
            .iter()
            .position(|p| p.peer == peer && p.rx_id == rx_id)?;
        let old = self.paths.remove(i);
        if self.paths.capacity() > 2 * self.paths.len() + 1 {
            self.paths.shrink_to_fit();
        }
        Some(old)
    }

    /// Restores selection order after paths' verdicts changed (policy re-evaluation).
    pub fn resort(&mut self, ctx: &SelectCtx<'_>) {
        self.paths.sort_by(|a, b| order(a, b, ctx));
    }

    fn free_tx_id(&self) -> u16 {
        let mut id: u16 = 1;
        while self.paths.iter().any(|p| p.tx_id == id) {
            id = id.wrapping_add(1).max(1);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::super::path::tests::path;
    use super::*;

    const CTX: SelectCtx<'static> = SelectCtx {
        always_compare_med: false,
        peer_addrs: &[],
    };

    #[test]
    fn upsert_keeps_order_and_tx_ids() {
        let mut e = PrefixEntry::default();
        assert!(e.upsert(path(1, 1, &[1, 2, 3], None), &CTX).is_none());
        assert!(e.upsert(path(2, 2, &[2], None), &CTX).is_none());
        assert!(e.upsert(path(3, 3, &[3, 4], None), &CTX).is_none());
        let peers: Vec<u32> = e.paths.iter().map(|p| p.peer.0).collect();
        assert_eq!(peers, vec![2, 3, 1]);
        let ids: Vec<u16> = e.paths.iter().map(|p| p.tx_id).collect();
        assert_eq!(ids, vec![2, 3, 1]);
        // Peer 1 shortens its path: it moves up, keeping its transmit id.
        let old = e.upsert(path(1, 1, &[1], None), &CTX).unwrap();
        assert_eq!(old.attrs.hops, 3);
        assert_eq!(e.paths[0].peer, PeerId(1));
        assert_eq!(e.paths[0].tx_id, 1);
        assert!(e.remove(PeerId(2), 0).is_some());
        assert!(e.remove(PeerId(2), 0).is_none());
        e.upsert(path(4, 4, &[4, 4, 4, 4], None), &CTX);
        assert_eq!(e.find(PeerId(4), 0).unwrap().tx_id, 2);
    }
}
