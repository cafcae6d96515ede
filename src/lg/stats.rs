//! Figures that need one pass over a RIB snapshot: prefixes per family, and per peer the
//! paths it has ranked first and the prefixes it is sent. Used by /metrics and the
//! birdwatcher protocol list, and paths by ASPA outcome. O(prefixes + paths), plus a path scan per prefix for each
//! client whose export rules restrict its sources.

use crate::policy::MAX_PEERS;
use crate::rib::RibSnapshot;
use crate::session::State;
use crate::wire::Family;

use crate::directory::PeerDirectory;

#[derive(Debug, Default, Clone)]
pub struct TableStats {
    /// Prefixes by family (index: `Family::ALL` order).
    pub prefixes: [u64; 2],
    /// Paths by family, accepted and filtered.
    pub paths: [u64; 2],
    /// By peer index: accepted paths ranked first for their prefix.
    pub preferred: Vec<u64>,
    /// By peer index: prefixes the peer is sent (0 while its session is not established).
    pub exported: Vec<u64>,
    /// Paths by ASPA outcome, indexed by `AspaState::community_value() - 1` (valid,
    /// unknown, not checked, invalid).
    pub aspa: [u64; 4],
}

fn family_index(f: Family) -> usize {
    Family::ALL.iter().position(|x| *x == f).unwrap_or(0)
}

impl TableStats {
    pub fn compute(snap: &RibSnapshot, dir: &PeerDirectory) -> TableStats {
        let n = dir.peers.len().min(MAX_PEERS);
        let mut st = TableStats {
            preferred: vec![0; n],
            exported: vec![0; n],
            ..Default::default()
        };
        let up: Vec<_> = dir
            .iter()
            .filter(|p| p.status.state() == State::Established)
            .collect();
        // Prefixes with an accepted path, and those whose accepted paths all come from one
        // peer (which that peer is not sent), by peer.
        let mut with_accepted = 0u64;
        let mut only_from = vec![0u64; n];
        for shard in &snap.shards {
            let every: Vec<_> = up.iter().map(|p| (p.id, shard.rules(p.id))).collect();
            let restricted: Vec<_> = every
                .iter()
                .filter(|(_, r)| r.accepts_from.is_some())
                .collect();
            for (prefix, entry) in shard.table.iter() {
                let fi = family_index(prefix.family());
                if let Some(x) = st.prefixes.get_mut(fi) {
                    *x += 1;
                }
                if let Some(x) = st.paths.get_mut(fi) {
                    *x += entry.paths.len() as u64;
                }
                for p in &entry.paths {
                    let i = p.aspa.community_value() as usize - 1;
                    if let Some(x) = st.aspa.get_mut(i) {
                        *x += 1;
                    }
                }
                let Some(first) = entry.paths.first().filter(|p| p.accepted()) else {
                    continue;
                };
                if let Some(x) = st.preferred.get_mut(first.peer.index()) {
                    *x += 1;
                }
                // Control communities, a blackhole or a long-lived stale path: who gets it
                // depends on more than the source, so every client is counted one by one.
                let plain = entry
                    .paths
                    .iter()
                    .take_while(|p| p.accepted())
                    .all(|p| p.actions.is_default() && !p.blackhole && !p.llgr_stale);
                if !plain {
                    for (c, rules) in &every {
                        let gets = entry
                            .paths
                            .iter()
                            .take_while(|p| p.accepted())
                            .any(|p| p.allowed_for(*c, rules));
                        if gets {
                            if let Some(x) = st.exported.get_mut(c.index()) {
                                *x += 1;
                            }
                        }
                    }
                    continue;
                }
                with_accepted += 1;
                let single = entry
                    .paths
                    .iter()
                    .take_while(|p| p.accepted())
                    .all(|p| p.peer == first.peer);
                if single {
                    if let Some(x) = only_from.get_mut(first.peer.index()) {
                        *x += 1;
                    }
                }
                for (c, rules) in &restricted {
                    let gets = entry
                        .paths
                        .iter()
                        .take_while(|p| p.accepted())
                        .any(|p| p.peer != *c && rules.accepts(p.peer));
                    if gets {
                        if let Some(x) = st.exported.get_mut(c.index()) {
                            *x += 1;
                        }
                    }
                }
            }
        }
        // Clients taking every source: everything with an accepted path but what only they
        // announced. (Restricted clients were counted above; the policy is the same in every
        // shard, so a client is restricted everywhere or nowhere.)
        let any_restricted: Vec<bool> = (0..n)
            .map(|i| {
                snap.shards.iter().any(|s| {
                    s.policy
                        .rules(crate::policy::PeerId(i as u32))
                        .accepts_from
                        .is_some()
                })
            })
            .collect();
        for p in &up {
            let i = p.id.index();
            if any_restricted.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Some(x) = st.exported.get_mut(i) {
                *x = with_accepted - only_from.get(i).copied().unwrap_or(0);
            }
        }
        st
    }

    pub fn preferred_of(&self, i: usize) -> u64 {
        self.preferred.get(i).copied().unwrap_or(0)
    }

    pub fn exported_of(&self, i: usize) -> u64 {
        self.exported.get(i).copied().unwrap_or(0)
    }
}
