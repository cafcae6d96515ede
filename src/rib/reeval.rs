//! Import policy applied to one path: the verdict the session found merged with import
//! policy's outcome, and a held path evaluated again under a new policy or new VRPs. Shared
//! by the shards and by the what-if of `reload --dry-run`.

use super::path::Path;
use crate::policy::{
    AspaState, ImportOutcome, PathActions, Policies, RpkiState, Verdict, VrpTable,
};
use crate::wire::Prefix;

/// A path's verdict from the session (`session`) and import policy's outcome together:
/// (verdict, RPKI state, blackhole, ASPA state).
pub(crate) fn merge(session: Verdict, o: ImportOutcome) -> (Verdict, RpkiState, bool, AspaState) {
    let verdict = Verdict {
        local_pref: o.verdict.local_pref,
        rejects: o.verdict.rejects.union(session.rejects),
    };
    (verdict, o.rpki, o.blackhole && verdict.accepted(), o.aspa)
}

/// `p` evaluated again under `policies` and `vrps` (its control communities read again
/// when `actions`). Reasons the session found stay.
pub(crate) fn evaluate_path(
    policies: &Policies,
    vrps: &VrpTable,
    p: &Path,
    prefix: &Prefix,
    actions: bool,
) -> Path {
    let mut n = p.clone();
    let session = Verdict::reject(p.verdict.rejects.session_part());
    let (verdict, rpki, blackhole, aspa) = match policies.import(p.peer) {
        Some(ip) => merge(
            session,
            ip.evaluate(prefix, &p.attrs.attrs, &p.attrs.next_hop, vrps),
        ),
        None => (session, RpkiState::NotChecked, false, AspaState::NotChecked),
    };
    n.verdict = verdict;
    n.rpki = rpki;
    n.aspa = aspa;
    n.blackhole = blackhole;
    if actions {
        n.actions = PathActions::new(&p.attrs.attrs, policies.action_ctx());
    }
    n
}
