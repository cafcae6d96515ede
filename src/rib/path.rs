//! Paths and best-path selection in the route-server context (RFC 4271 §9.1.2.2, RFC 7947).
//!
//! Paths of a prefix are kept sorted by a total preorder — accepted first, then LOCAL_PREF
//! (set by policy), AS path length, ORIGIN, [MED when always compared], and the tie-breaks
//! (peer BGP identifier, peer address, path id). With MEDs compared only between paths from
//! the same neighbouring AS (the default) that comparison is not transitive, so no single
//! order gives every subset's best path; `choose` therefore selects among the *allowed*
//! paths of the first tier (equal LOCAL_PREF, length and ORIGIN) with the RFC's elimination.
//! This is what makes "the best path the client may receive" exact, not "the best path,
//! filtered afterwards".

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use super::attrs::RouteAttrs;
pub use crate::policy::PeerId;
use crate::policy::{AspaState, PathActions, RpkiState, Verdict};

/// One path of one prefix: what a peer announced, and what import policy made of it.
#[derive(Clone, Debug)]
pub struct Path {
    pub attrs: Arc<RouteAttrs>,
    pub peer: PeerId,
    /// The ADD-PATH identifier the peer used (0 without ADD-PATH).
    pub rx_id: u32,
    /// The source peer's BGP identifier (tie-break).
    pub router_id: u32,
    pub verdict: Verdict,
    /// RPKI origin validation state (shown, and tagged on export when configured).
    pub rpki: RpkiState,
    /// ASPA verification outcome (shown, and tagged on export like `rpki`). One byte that
    /// sits in the struct's padding: a path is no larger for it (`memory::tests`).
    pub aspa: AspaState,
    /// An accepted RFC 7999 blackhole: only clients that take blackholes get it.
    pub blackhole: bool,
    /// The route server's control communities the path carries (who gets it, prepends).
    pub actions: PathActions,
    /// The identifier this path carries towards ADD-PATH clients; unique within the prefix.
    pub tx_id: u16,
    /// Kept through the peer's graceful restart (RFC 4724), waiting to be refreshed.
    pub stale: bool,
    /// Long-lived stale (RFC 9494): kept past its peer's restart time, or received with
    /// LLGR_STALE. Least preferred, and only for clients that negotiated LLGR.
    pub llgr_stale: bool,
    /// When the path was received (seconds since the Unix epoch).
    pub since: u32,
}

impl Path {
    pub fn accepted(&self) -> bool {
        self.verdict.accepted()
    }

    /// Same source and same content: exporting one instead of the other changes nothing.
    pub fn same_as(&self, other: &Path) -> bool {
        self.peer == other.peer
            && self.rx_id == other.rx_id
            && Arc::ptr_eq(&self.attrs, &other.attrs)
            && self.verdict == other.verdict
            && self.rpki == other.rpki
            && self.aspa == other.aspa
            && self.blackhole == other.blackhole
            && self.actions == other.actions
    }

    /// Does `client` (not the source) take this path under `rules`? The class-wide form,
    /// for clients no control community names, is [`Path::allowed_for_class`].
    #[inline]
    pub fn allowed_for(&self, client: PeerId, rules: &crate::policy::ExportRules) -> bool {
        self.peer != client
            && rules.accepts_path(self.peer, self.blackhole)
            && (!self.llgr_stale || rules.takes_llgr_stale)
            && self.actions.allows(client)
    }

    /// Does a client with `rules` that the path's control communities do not name, and that
    /// is not the path's source, take it?
    #[inline]
    pub fn allowed_for_class(&self, rules: &crate::policy::ExportRules) -> bool {
        rules.accepts_path(self.peer, self.blackhole)
            && (!self.llgr_stale || rules.takes_llgr_stale)
            && self.actions.default_allows()
    }
}

/// What selection needs to know beyond the paths.
#[derive(Clone, Copy)]
pub struct SelectCtx<'a> {
    /// Compare MED between paths from different neighbouring ASes too.
    pub always_compare_med: bool,
    /// Peer addresses by peer index, for the last tie-break.
    pub peer_addrs: &'a [IpAddr],
}

impl SelectCtx<'_> {
    fn addr(&self, p: PeerId) -> Option<IpAddr> {
        self.peer_addrs.get(p.index()).copied()
    }
}

/// The first tier of selection: LOCAL_PREF, AS path length, ORIGIN (and MED when always
/// compared). `Less` is better.
fn tier(a: &Path, b: &Path, ctx: &SelectCtx<'_>) -> Ordering {
    b.accepted()
        .cmp(&a.accepted())
        // RFC 9494 §4.3: a long-lived stale path loses to every other.
        .then(a.llgr_stale.cmp(&b.llgr_stale))
        .then(b.verdict.local_pref.cmp(&a.verdict.local_pref))
        .then(a.attrs.hops.cmp(&b.attrs.hops))
        .then(a.attrs.origin.cmp(&b.attrs.origin))
        .then(if ctx.always_compare_med {
            a.attrs.med.cmp(&b.attrs.med)
        } else {
            Ordering::Equal
        })
}

/// The tie-breaks after MED (RFC 4271 §9.1.2.2 d–g for external routes): lowest BGP
/// identifier, lowest peer address; then the path id for determinism.
fn tie_break(a: &Path, b: &Path, ctx: &SelectCtx<'_>) -> Ordering {
    a.router_id
        .cmp(&b.router_id)
        .then_with(|| ctx.addr(a.peer).cmp(&ctx.addr(b.peer)))
        .then(a.peer.cmp(&b.peer))
        .then(a.rx_id.cmp(&b.rx_id))
}

/// The total preorder paths are kept in.
pub fn order(a: &Path, b: &Path, ctx: &SelectCtx<'_>) -> Ordering {
    tier(a, b, ctx).then_with(|| tie_break(a, b, ctx))
}

/// The first tier (equal LOCAL_PREF, AS path length, ORIGIN, and MED when always compared)
/// of the accepted `allowed` paths, in order: the only paths selection compares.
fn first_tier<'p>(
    paths: &'p [Path],
    ctx: &SelectCtx<'_>,
    mut allowed: impl FnMut(&Path) -> bool,
) -> smallvec::SmallVec<[&'p Path; 8]> {
    let mut out: smallvec::SmallVec<[&Path; 8]> = smallvec::SmallVec::new();
    let mut it = paths
        .iter()
        .take_while(|p| p.accepted())
        .filter(|p| allowed(p));
    let Some(first) = it.next() else {
        return out;
    };
    out.push(first);
    for p in it {
        if tier(first, p, ctx) != Ordering::Equal {
            break;
        }
        out.push(p);
    }
    out
}

/// The best path of a first tier.
fn pick<'p>(tier: &[&'p Path], ctx: &SelectCtx<'_>) -> Option<&'p Path> {
    let first = *tier.first()?;
    if ctx.always_compare_med || tier.len() == 1 {
        return Some(first);
    }
    // RFC 4271 §9.1.2.2 c: drop every path with a higher MED than another path from the same
    // neighbouring AS; the survivors are compared by the tie-breaks (already their order).
    tier.iter()
        .find(|p| {
            !tier
                .iter()
                .any(|q| q.attrs.neighbor_as == p.attrs.neighbor_as && q.attrs.med < p.attrs.med)
        })
        .copied()
}

/// The best of the accepted `paths` (sorted by [`order`]) for which `allowed` holds.
pub fn choose<'p>(
    paths: &'p [Path],
    ctx: &SelectCtx<'_>,
    mut allowed: impl FnMut(&Path) -> bool,
) -> Option<&'p Path> {
    if ctx.always_compare_med {
        // Every comparison is transitive: the first allowed path is the best.
        return paths
            .iter()
            .take_while(|p| p.accepted())
            .find(|p| allowed(p));
    }
    pick(&first_tier(paths, ctx, allowed), ctx)
}

/// [`choose`], and the sources of the paths it compared (the first tier). Leaving out the
/// paths of a peer that is not among them cannot change the choice.
pub fn choose_with_sources<'p>(
    paths: &'p [Path],
    ctx: &SelectCtx<'_>,
    allowed: impl FnMut(&Path) -> bool,
) -> (Option<&'p Path>, smallvec::SmallVec<[PeerId; 4]>) {
    let tier = first_tier(paths, ctx, allowed);
    let mut sources: smallvec::SmallVec<[PeerId; 4]> = smallvec::SmallVec::new();
    for p in &tier {
        if !sources.contains(&p.peer) {
            sources.push(p.peer);
        }
    }
    (pick(&tier, ctx), sources)
}

/// Whether at least two peers other than `x` have accepted `allowed` paths strictly ahead of
/// `c` in the first tier's terms (LOCAL_PREF, AS path length, ORIGIN): then `c` is compared by
/// no client's [`choose`] (a client leaves out only its own paths, so one of the two is
/// always left ahead of `c`), unless control communities single clients out.
pub fn behind_two_others(
    paths: &[Path],
    ctx: &SelectCtx<'_>,
    x: PeerId,
    c: &Path,
    mut allowed: impl FnMut(&Path) -> bool,
) -> bool {
    let mut first: Option<PeerId> = None;
    for p in paths.iter().take_while(|p| p.accepted()) {
        if tier(p, c, ctx) != Ordering::Less {
            return false;
        }
        if p.peer == x || !allowed(p) {
            continue;
        }
        match first {
            None => first = Some(p.peer),
            Some(f) if f != p.peer => return true,
            Some(_) => {}
        }
    }
    false
}

/// Up to `n` (0 = all) of the accepted allowed paths for an ADD-PATH client: the best first,
/// then the others in order.
pub fn choose_many<'p>(
    paths: &'p [Path],
    ctx: &SelectCtx<'_>,
    n: usize,
    mut allowed: impl FnMut(&Path) -> bool,
) -> smallvec::SmallVec<[&'p Path; 4]> {
    let mut out = smallvec::SmallVec::new();
    let Some(best) = choose(paths, ctx, &mut allowed) else {
        return out;
    };
    out.push(best);
    let limit = if n == 0 { usize::MAX } else { n };
    for p in paths.iter().take_while(|p| p.accepted()) {
        if out.len() >= limit {
            break;
        }
        if !std::ptr::eq(p, best) && allowed(p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::policy::{RejectReason, RejectSet};
    use crate::wire::{AsPath, Asn, Origin, PathAttributes};

    pub(crate) fn path(peer: u32, router_id: u32, as_path: &[u32], med: Option<u32>) -> Path {
        Path {
            attrs: Arc::new(RouteAttrs::new(
                PathAttributes {
                    origin: Some(Origin::Igp),
                    as_path: Some(AsPath::sequence(as_path.iter().map(|&a| Asn(a)))),
                    med,
                    ..PathAttributes::default()
                },
                crate::wire::MpNextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, peer as u8)),
            )),
            peer: PeerId(peer),
            rx_id: 0,
            router_id,
            verdict: Verdict::ACCEPT,
            rpki: RpkiState::NotChecked,
            aspa: AspaState::NotChecked,
            blackhole: false,
            actions: PathActions::default(),
            tx_id: peer as u16,
            stale: false,
            llgr_stale: false,
            since: 0,
        }
    }

    /// The ASPA outcome lives in padding: a path stays 48 bytes (the RIB is memory-tight).
    #[test]
    fn aspa_state_costs_no_bytes() {
        assert!(
            std::mem::size_of::<Path>() <= 48,
            "{}",
            std::mem::size_of::<Path>()
        );
    }

    fn sorted(mut v: Vec<Path>, ctx: &SelectCtx<'_>) -> Vec<Path> {
        v.sort_by(|a, b| order(a, b, ctx));
        v
    }

    const CTX: SelectCtx<'static> = SelectCtx {
        always_compare_med: false,
        peer_addrs: &[],
    };

    /// Leaving out the paths of a peer that is not a source of the first tier never changes
    /// the choice; leaving out one that is may.
    #[test]
    fn the_sources_choose_reports_are_the_paths_it_compares() {
        // Peers 1 and 2 from neighbour AS 10 (MEDs 5 and 1), peer 3 from AS 30: all length
        // 2. Peer 4 and 5 are longer.
        let v = sorted(
            vec![
                path(1, 1, &[10, 7], Some(5)),
                path(2, 9, &[10, 8], Some(1)),
                path(3, 5, &[30, 7], None),
                path(4, 2, &[40, 7, 7], None),
                path(5, 3, &[50, 7, 7, 7], None),
            ],
            &CTX,
        );
        let (best, tier) = choose_with_sources(&v, &CTX, |_| true);
        assert_eq!(tier.as_slice(), &[PeerId(1), PeerId(3), PeerId(2)]);
        let all = choose(&v, &CTX, |_| true).map(|p| p.peer);
        assert_eq!(best.map(|p| p.peer), all);
        // Peer 1 (lowest router id) loses to peer 2 on MED; peer 3 wins the tie-break.
        assert_eq!(all, Some(PeerId(3)));
        for out in [4, 5] {
            assert_eq!(choose(&v, &CTX, |p| p.peer.0 != out).map(|p| p.peer), all);
        }
        // Without peer 2's MED 1, peer 1 (router id 1) survives and wins.
        assert_eq!(
            choose(&v, &CTX, |p| p.peer.0 != 2).map(|p| p.peer),
            Some(PeerId(1))
        );
        assert!(choose_with_sources(&v, &CTX, |p| p.peer.0 > 3).1.as_slice() == [PeerId(4)]);
        assert!(choose_with_sources(&v, &CTX, |_| false).1.is_empty());
    }

    #[test]
    fn shorter_path_wins_then_router_id() {
        let v = sorted(
            vec![
                path(1, 5, &[1, 2, 3], None),
                path(2, 9, &[2, 3], None),
                path(3, 4, &[3, 4], None),
            ],
            &CTX,
        );
        assert_eq!(choose(&v, &CTX, |_| true).unwrap().peer, PeerId(3));
        assert_eq!(
            choose(&v, &CTX, |p| p.peer != PeerId(3)).unwrap().peer,
            PeerId(2)
        );
        assert_eq!(
            choose(&v, &CTX, |p| p.peer == PeerId(1)).unwrap().peer,
            PeerId(1)
        );
        assert!(choose(&v, &CTX, |_| false).is_none());
    }

    #[test]
    fn rejected_paths_are_never_chosen() {
        let mut bad = path(1, 1, &[1], None);
        bad.verdict = Verdict::reject(
            [RejectReason::BogonPrefix]
                .into_iter()
                .collect::<RejectSet>(),
        );
        let v = sorted(vec![bad, path(2, 2, &[2, 3, 4], None)], &CTX);
        assert_eq!(choose(&v, &CTX, |_| true).unwrap().peer, PeerId(2));
        assert_eq!(v.last().unwrap().peer, PeerId(1));
    }

    #[test]
    fn local_pref_beats_length() {
        let mut p = path(1, 9, &[1, 2, 3, 4], None);
        p.verdict.local_pref = 200;
        let v = sorted(vec![path(2, 1, &[2], None), p], &CTX);
        assert_eq!(choose(&v, &CTX, |_| true).unwrap().peer, PeerId(1));
    }

    /// MED only between paths from the same neighbouring AS; the subset's best is exact.
    #[test]
    fn med_within_neighbor_as_is_exact_per_subset() {
        // P1: AS 100, MED 20, id 1. P2: AS 100, MED 10, id 3. P3: AS 200, MED 0, id 2.
        let v = sorted(
            vec![
                path(1, 1, &[100, 9], Some(20)),
                path(2, 3, &[100, 9], Some(10)),
                path(3, 2, &[200, 9], Some(0)),
            ],
            &CTX,
        );
        // All: P1 is beaten by P2 on MED; P3 (id 2) beats P2 (id 3).
        assert_eq!(choose(&v, &CTX, |_| true).unwrap().peer, PeerId(3));
        // Without P2, P1 survives and wins on router id — not "P3, the next in order".
        assert_eq!(
            choose(&v, &CTX, |p| p.peer != PeerId(2)).unwrap().peer,
            PeerId(1)
        );
        // Without P3: P2 by MED.
        assert_eq!(
            choose(&v, &CTX, |p| p.peer != PeerId(3)).unwrap().peer,
            PeerId(2)
        );
        let always = SelectCtx {
            always_compare_med: true,
            ..CTX
        };
        let v = sorted(v, &always);
        assert_eq!(choose(&v, &always, |_| true).unwrap().peer, PeerId(3));
        assert_eq!(
            choose(&v, &always, |p| p.peer != PeerId(3)).unwrap().peer,
            PeerId(2)
        );
    }

    #[test]
    fn many_lists_best_first() {
        let v = sorted(
            vec![
                path(1, 1, &[1, 2], None),
                path(2, 2, &[2], None),
                path(3, 3, &[3, 4, 5], None),
            ],
            &CTX,
        );
        let all: Vec<_> = choose_many(&v, &CTX, 0, |_| true)
            .iter()
            .map(|p| p.peer.0)
            .collect();
        assert_eq!(all, vec![2, 1, 3]);
        let two: Vec<_> = choose_many(&v, &CTX, 2, |p| p.peer.0 != 2)
            .iter()
            .map(|p| p.peer.0)
            .collect();
        assert_eq!(two, vec![1, 3]);
    }
}
