//! What a new policy would do to the routes held now, computed on a snapshot (for
//! `peerex ctl reload --dry-run`): per peer, how many of its paths would newly be accepted
//! or rejected, and how many prefixes it would newly receive or lose as a client. Reads the
//! snapshot only; changes nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::api::ExportPolicy;
use super::entry::PrefixEntry;
use super::export::client_choice;
use super::path::{order, PeerId, SelectCtx};
use super::reeval::evaluate_path;
use super::snapshot::RibSnapshot;
use crate::policy::VrpTable;

/// The impact on one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// Its paths that are rejected now and would be accepted.
    pub newly_accepted: u64,
    /// Its paths that are accepted now and would be rejected.
    pub newly_rejected: u64,
    /// Prefixes it receives nothing for now and would receive a path for.
    pub newly_received: u64,
    /// Prefixes it receives a path for now and would receive nothing for.
    pub lost: u64,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        *self == Impact::default()
    }
}

/// The impact of replacing the snapshot's policy with `new` (which must carry compiled
/// `policies`), with `vrps`. Paths of peers for which `gone` holds disappear; `clients` are
/// the peers that would be clients afterwards, and those for which `is_new` holds are not
/// clients now (what they would receive counts as newly received).
pub fn impact(
    snap: &RibSnapshot,
    new: &ExportPolicy,
    vrps: &VrpTable,
    gone: &dyn Fn(PeerId) -> bool,
    clients: &[PeerId],
    is_new: &dyn Fn(PeerId) -> bool,
) -> BTreeMap<PeerId, Impact> {
    let mut out: BTreeMap<PeerId, Impact> = BTreeMap::new();
    let Some(policies) = new.policies.as_deref() else {
        return out;
    };
    for shard in &snap.shards {
        let old_ctx = SelectCtx {
            always_compare_med: shard.policy.always_compare_med,
            peer_addrs: &shard.peer_addrs,
        };
        let new_ctx = SelectCtx {
            always_compare_med: new.always_compare_med,
            peer_addrs: &shard.peer_addrs,
        };
        for (prefix, entry) in shard.table.iter() {
            let mut next = PrefixEntry {
                paths: Vec::with_capacity(entry.paths.len()),
                ..PrefixEntry::default()
            };
            for p in &entry.paths {
                if gone(p.peer) {
                    continue;
                }
                let n = evaluate_path(policies, vrps, p, prefix, true);
                match (p.accepted(), n.accepted()) {
                    (false, true) => out.entry(p.peer).or_default().newly_accepted += 1,
                    (true, false) => out.entry(p.peer).or_default().newly_rejected += 1,
                    _ => {}
                }
                next.paths.push(n);
            }
            next.paths.sort_by(|a, b| order(a, b, &new_ctx));
            for c in clients {
                let before =
                    !is_new(*c) && client_choice(entry, *c, &shard.rules(*c), &old_ctx).is_some();
                let mut rules = new.rules(*c);
                rules.takes_llgr_stale = shard.llgr_clients.contains(*c);
                let after = client_choice(&next, *c, &rules, &new_ctx).is_some();
                match (before, after) {
                    (false, true) => out.entry(*c).or_default().newly_received += 1,
                    (true, false) => out.entry(*c).or_default().lost += 1,
                    _ => {}
                }
            }
        }
    }
    out.retain(|_, i| !i.is_empty());
    out
}
