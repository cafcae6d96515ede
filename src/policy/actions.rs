//! Export actions a route carries as the route server's control communities, and the
//! attribute rewriting done before export.
//!
//! RS is the server's ASN, X a peer's ASN (every peer with that ASN):
//!
//! | action | standard | large (RFC 8092) |
//! | --- | --- | --- |
//! | do not announce to X | `0:X` | `RS:0:X` |
//! | announce to nobody | `0:RS` | `RS:0:0` |
//! | announce to X (overrides "nobody") | `RS:X` | `RS:1:X` |
//! | prepend 1, 2, 3 times to X | `65511:X`, `65512:X`, `65513:X` | `RS:101:X`, `RS:102:X`, `RS:103:X` |
//! | prepend 1, 2, 3 times to everyone | `65501:RS`, `65502:RS`, `65503:RS` | `RS:101:0`, `RS:102:0`, `RS:103:0` |
//!
//! A peer ASN above 65535 is reachable only through the large forms, and so is everything when
//! RS is above 65535 (except `0:X` and `6551n:X`, which do not name RS). "Do not announce to X"
//! wins over "announce to X"; a prepend aimed at X wins over a prepend to everyone; of several
//! prepends for the same target the largest counts.

use smallvec::SmallVec;

use super::clientset::PeerId;
use super::rpki::{AspaState, RpkiState};
use super::verdict::RejectSet;
use crate::wire::{Asn, Community, LargeCommunity, PathAttributes, PathSegment, SegmentType};

/// The large community function of the informational RPKI tag (`RS:1000:N`).
pub const INFO_RPKI: u32 = 1000;
/// The informational ASPA tag `RS:1001:N` (N as for `RS:1000:N`: 1 valid, 2 unknown, 3 not
/// checked, 4 invalid).
pub const INFO_ASPA: u32 = 1001;
/// The large community function of reject reasons (`RS:1101:N`, Euro-IX).
pub const INFO_REJECT: u32 = 1101;

/// What the actions need to know: the server's ASN and which peers have which ASN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionCtx {
    rs_asn: Asn,
    /// (ASN, peer), sorted.
    by_asn: Box<[(u32, PeerId)]>,
}

impl ActionCtx {
    pub fn new(rs_asn: Asn, peers: impl IntoIterator<Item = (PeerId, Asn)>) -> ActionCtx {
        let mut v: Vec<(u32, PeerId)> = peers.into_iter().map(|(p, a)| (a.0, p)).collect();
        v.sort_unstable();
        ActionCtx {
            rs_asn,
            by_asn: v.into(),
        }
    }

    pub fn rs_asn(&self) -> Asn {
        self.rs_asn
    }

    /// The peers with ASN `asn`.
    pub fn peers_of(&self, asn: u32) -> impl Iterator<Item = PeerId> + '_ {
        let start = self.by_asn.partition_point(|(a, _)| *a < asn);
        self.by_asn
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(move |(a, _)| *a == asn)
            .map(|(_, p)| *p)
    }

    fn rs16(&self) -> Option<u16> {
        u16::try_from(self.rs_asn.0).ok()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Actions {
    nobody: bool,
    prepend_all: u8,
    excluded: SmallVec<[PeerId; 4]>,
    included: SmallVec<[PeerId; 4]>,
    /// (peer, times), one entry per peer.
    prepend: SmallVec<[(PeerId, u8); 4]>,
}

/// The export actions of one path. Without control communities (the common case) it is one
/// null pointer and [`is_default`](Self::is_default) is true.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PathActions(Option<Box<Actions>>);

fn push_unique(v: &mut SmallVec<[PeerId; 4]>, p: PeerId) {
    if !v.contains(&p) {
        v.push(p);
    }
}

impl Actions {
    fn prepend_to(&mut self, ctx: &ActionCtx, asn: u32, n: u8) {
        for p in ctx.peers_of(asn) {
            match self.prepend.iter_mut().find(|(q, _)| *q == p) {
                Some((_, m)) => *m = (*m).max(n),
                None => self.prepend.push((p, n)),
            }
        }
    }
}

impl PathActions {
    /// No control community: every client gets the path as it is.
    #[inline]
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// Reads the control communities of `attrs`.
    pub fn new(attrs: &PathAttributes, ctx: &ActionCtx) -> PathActions {
        let rs = ctx.rs_asn.0;
        let rs16 = ctx.rs16();
        let mut a: Option<Box<Actions>> = None;
        for c in &attrs.communities {
            let (hi, lo) = (c.high(), c.low());
            match hi {
                0 if Some(lo) == rs16 => a.get_or_insert_default().nobody = true,
                0 => {
                    let x = a.get_or_insert_default();
                    for p in ctx.peers_of(u32::from(lo)) {
                        push_unique(&mut x.excluded, p);
                    }
                }
                65501..=65503 if Some(lo) == rs16 => {
                    let x = a.get_or_insert_default();
                    x.prepend_all = x.prepend_all.max((hi - 65500) as u8);
                }
                65511..=65513 => {
                    a.get_or_insert_default()
                        .prepend_to(ctx, u32::from(lo), (hi - 65510) as u8);
                }
                _ if Some(hi) == rs16 => {
                    let x = a.get_or_insert_default();
                    for p in ctx.peers_of(u32::from(lo)) {
                        push_unique(&mut x.included, p);
                    }
                }
                _ => {}
            }
        }
        for c in &attrs.large_communities {
            if c.global != rs {
                continue;
            }
            let x = c.local2;
            match c.local1 {
                0 if x == 0 => a.get_or_insert_default().nobody = true,
                0 => {
                    let y = a.get_or_insert_default();
                    for p in ctx.peers_of(x) {
                        push_unique(&mut y.excluded, p);
                    }
                }
                1 => {
                    let y = a.get_or_insert_default();
                    for p in ctx.peers_of(x) {
                        push_unique(&mut y.included, p);
                    }
                }
                101..=103 => {
                    let n = (c.local1 - 100) as u8;
                    let y = a.get_or_insert_default();
                    if x == 0 {
                        y.prepend_all = y.prepend_all.max(n);
                    } else {
                        y.prepend_to(ctx, x, n);
                    }
                }
                _ => {}
            }
        }
        // Communities that change nothing (unknown peers, "announce to X" alone) leave the
        // default.
        let a = a.filter(|x| {
            x.nobody || x.prepend_all > 0 || !x.excluded.is_empty() || !x.prepend.is_empty()
        });
        PathActions(a)
    }

    /// True when the path carries no action: every client gets it, unprepended.
    #[inline]
    pub fn is_default(&self) -> bool {
        self.0.is_none()
    }

    /// May the path be exported to `client`?
    #[inline]
    pub fn allows(&self, client: PeerId) -> bool {
        match &self.0 {
            None => true,
            Some(a) => !a.excluded.contains(&client) && (!a.nobody || a.included.contains(&client)),
        }
    }

    /// How many times to prepend the path's first AS when exporting to `client`.
    #[inline]
    pub fn prepends(&self, client: PeerId) -> u8 {
        match &self.0 {
            None => 0,
            Some(a) => a
                .prepend
                .iter()
                .find(|(p, _)| *p == client)
                .map_or(a.prepend_all, |(_, n)| *n),
        }
    }

    /// Every peer named by an include, exclude or per-peer prepend action: the clients whose
    /// treatment may differ from [`default_allows`](Self::default_allows) /
    /// [`default_prepends`](Self::default_prepends). May repeat a peer.
    pub fn mentioned(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.0.iter().flat_map(|a| {
            a.excluded
                .iter()
                .chain(a.included.iter())
                .copied()
                .chain(a.prepend.iter().map(|(p, _)| *p))
        })
    }

    /// Whether clients not [`mentioned`](Self::mentioned) get the path (false after "announce
    /// to nobody").
    #[inline]
    pub fn default_allows(&self) -> bool {
        self.0.as_ref().is_none_or(|a| !a.nobody)
    }

    /// Prepends for clients not [`mentioned`](Self::mentioned).
    #[inline]
    pub fn default_prepends(&self) -> u8 {
        self.0.as_ref().map_or(0, |a| a.prepend_all)
    }
}

/// True for the route server's own control and informational communities.
fn is_control(c: Community, rs16: Option<u16>) -> bool {
    let (hi, lo) = (c.high(), c.low());
    match hi {
        0 | 65511..=65513 => true,
        65501..=65503 => Some(lo) == rs16,
        _ => Some(hi) == rs16,
    }
}

/// Does `attrs` carry anything [`strip_control_communities`] would remove?
pub fn has_control_communities(attrs: &PathAttributes, rs_asn: Asn) -> bool {
    let rs16 = u16::try_from(rs_asn.0).ok();
    attrs.communities.iter().any(|c| is_control(*c, rs16))
        || attrs.large_communities.iter().any(|c| c.global == rs_asn.0)
}

/// Removes the server's control communities before export: every form in the module table,
/// any standard community `RS:*` and any large community `RS:*:*` (so the informational tags
/// of another route server hop are not confused with ours either).
pub fn strip_control_communities(attrs: &mut PathAttributes, rs_asn: Asn) {
    let rs16 = u16::try_from(rs_asn.0).ok();
    attrs.communities.retain(|c| !is_control(*c, rs16));
    attrs.large_communities.retain(|c| c.global != rs_asn.0);
}

/// The informational RPKI tag `RS:1000:N`.
pub fn rpki_community(rs_asn: Asn, state: RpkiState) -> LargeCommunity {
    LargeCommunity::new(rs_asn.0, INFO_RPKI, state.community_value())
}

/// The informational ASPA tag `RS:1001:N`.
pub fn aspa_community(rs_asn: Asn, state: AspaState) -> LargeCommunity {
    LargeCommunity::new(rs_asn.0, INFO_ASPA, state.community_value())
}

/// The Euro-IX reject reason tags `RS:1101:N` of a rejected route (what the looking glass
/// shows); reasons without a Euro-IX code are left out.
pub fn reject_communities(rs_asn: Asn, rejects: RejectSet) -> impl Iterator<Item = LargeCommunity> {
    rejects
        .iter()
        .filter_map(move |r| r.euro_ix_code())
        .map(move |n| LargeCommunity::new(rs_asn.0, INFO_REJECT, n))
}

/// The attributes to export for a path received with `attrs`: control communities removed,
/// the RPKI tag and the ASPA tag (of a checked path) added when given, and NO_EXPORT added to
/// a blackhole (RFC 7999 §3.2) unless it already carries NO_EXPORT or NO_ADVERTISE. Computed once per path, not per
/// client; prepends are per client ([`prepend_first_as`]).
pub fn export_attributes(
    attrs: &PathAttributes,
    rs_asn: Asn,
    rpki: Option<RpkiState>,
    aspa: Option<AspaState>,
    blackhole: bool,
) -> PathAttributes {
    let mut out = attrs.clone();
    strip_control_communities(&mut out, rs_asn);
    // A path ASPA did not check carries no ASPA tag: peers that do not use ASPA export
    // exactly what they did before it existed.
    let tags = rpki.map(|s| rpki_community(rs_asn, s)).into_iter().chain(
        aspa.filter(|s| *s != AspaState::NotChecked)
            .map(|s| aspa_community(rs_asn, s)),
    );
    for tag in tags {
        let at = out.large_communities.partition_point(|c| *c < tag);
        out.large_communities.insert(at, tag);
    }
    if blackhole
        && !out
            .communities
            .iter()
            .any(|c| *c == Community::NO_EXPORT || *c == Community::NO_ADVERTISE)
    {
        out.communities.push(Community::NO_EXPORT);
    }
    out
}

/// Prepends the path's first AS (the announcing client's) `times` more times.
pub fn prepend_first_as(attrs: &mut PathAttributes, times: u8) {
    if times == 0 {
        return;
    }
    let Some(path) = attrs.as_path.as_mut() else {
        return;
    };
    let Some(first) = path.segments.first_mut() else {
        return;
    };
    if first.kind != SegmentType::Sequence {
        return;
    }
    let Some(asn) = first.asns.first().copied() else {
        return;
    };
    let n = usize::from(times);
    if first.asns.len() + n <= 255 {
        first.asns.splice(0..0, std::iter::repeat_n(asn, n));
    } else {
        path.segments.insert(
            0,
            PathSegment {
                kind: SegmentType::Sequence,
                asns: vec![asn; n],
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AsPath;

    /// RS 64500; peers 0 and 1 share AS 100, peer 2 is AS 200, peer 3 is AS 4200000001.
    fn ctx() -> ActionCtx {
        ActionCtx::new(
            Asn(64500),
            [(0, 100), (1, 100), (2, 200), (3, 4_200_000_001)]
                .into_iter()
                .map(|(p, a)| (PeerId(p), Asn(a))),
        )
    }

    fn attrs(std: &[&str], large: &[&str]) -> PathAttributes {
        PathAttributes {
            as_path: Some(AsPath::sequence([Asn(300), Asn(400)])),
            communities: std.iter().map(|c| c.parse().unwrap()).collect(),
            large_communities: large.iter().map(|c| c.parse().unwrap()).collect(),
            ..PathAttributes::default()
        }
    }

    fn allowed(a: &PathActions) -> Vec<u32> {
        (0..4).filter(|p| a.allows(PeerId(*p))).collect()
    }

    fn prepends(a: &PathActions) -> Vec<u8> {
        (0..4).map(|p| a.prepends(PeerId(p))).collect()
    }

    fn mentioned(a: &PathActions) -> Vec<u32> {
        let mut v: Vec<u32> = a.mentioned().map(|p| p.0).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn no_control_community_is_the_tiny_default() {
        assert_eq!(
            std::mem::size_of::<PathActions>(),
            std::mem::size_of::<usize>()
        );
        let a = PathActions::new(&attrs(&["300:5", "65535:666"], &["300:1:2"]), &ctx());
        assert!(a.is_default());
        assert_eq!(allowed(&a), vec![0, 1, 2, 3]);
        assert_eq!(prepends(&a), vec![0, 0, 0, 0]);
        assert!(a.default_allows());
        assert_eq!(mentioned(&a), Vec::<u32>::new());
        // Naming an ASN no peer has changes nothing either.
        assert!(PathActions::new(&attrs(&["0:999", "64500:100"], &[]), &ctx()).is_default());
    }

    #[test]
    fn do_not_announce_to_x_covers_every_peer_of_x() {
        for a in [
            PathActions::new(&attrs(&["0:100"], &[]), &ctx()),
            PathActions::new(&attrs(&[], &["64500:0:100"]), &ctx()),
        ] {
            assert!(!a.is_default());
            assert_eq!(allowed(&a), vec![2, 3]);
            assert_eq!(mentioned(&a), vec![0, 1]);
            assert!(a.default_allows());
        }
    }

    #[test]
    fn nobody_then_only_x() {
        for a in [
            PathActions::new(&attrs(&["0:64500", "64500:200"], &[]), &ctx()),
            PathActions::new(&attrs(&[], &["64500:0:0", "64500:1:200"]), &ctx()),
        ] {
            assert_eq!(allowed(&a), vec![2]);
            assert!(!a.default_allows());
            assert_eq!(mentioned(&a), vec![2]);
        }
        let a = PathActions::new(&attrs(&["0:64500"], &[]), &ctx());
        assert_eq!(allowed(&a), Vec::<u32>::new());
        // "Do not announce to X" wins over "announce to X".
        let a = PathActions::new(&attrs(&["0:64500", "64500:200", "0:200"], &[]), &ctx());
        assert_eq!(allowed(&a), Vec::<u32>::new());
    }

    #[test]
    fn four_octet_peers_only_through_large_communities() {
        let a = PathActions::new(&attrs(&[], &["64500:0:4200000001"]), &ctx());
        assert_eq!(allowed(&a), vec![0, 1, 2]);
        let a = PathActions::new(&attrs(&["0:64500"], &["64500:1:4200000001"]), &ctx());
        assert_eq!(allowed(&a), vec![3]);
        let a = PathActions::new(&attrs(&[], &["64500:103:4200000001"]), &ctx());
        assert_eq!(prepends(&a), vec![0, 0, 0, 3]);
        // Another server's large communities are not ours.
        assert!(PathActions::new(&attrs(&[], &["64501:0:0"]), &ctx()).is_default());
    }

    #[test]
    fn prepends_to_x_and_to_everyone() {
        let a = PathActions::new(&attrs(&["65512:100"], &[]), &ctx());
        assert_eq!(prepends(&a), vec![2, 2, 0, 0]);
        assert_eq!(mentioned(&a), vec![0, 1]);
        let a = PathActions::new(&attrs(&["65501:64500", "65513:200"], &[]), &ctx());
        assert_eq!(prepends(&a), vec![1, 1, 3, 1]);
        assert_eq!(a.default_prepends(), 1);
        let a = PathActions::new(&attrs(&[], &["64500:102:0", "64500:101:200"]), &ctx());
        assert_eq!(prepends(&a), vec![2, 2, 1, 2], "the per-peer prepend wins");
        let a = PathActions::new(
            &attrs(&["65511:200", "65513:200"], &["64500:102:200"]),
            &ctx(),
        );
        assert_eq!(prepends(&a), vec![0, 0, 3, 0], "the largest per target");
        // 65501:X for another X is not ours.
        assert!(PathActions::new(&attrs(&["65502:1"], &[]), &ctx()).is_default());
    }

    #[test]
    fn a_four_octet_server_uses_only_large_forms_for_itself() {
        let big = ActionCtx::new(
            Asn(4_200_000_000),
            [(PeerId(0), Asn(100)), (PeerId(1), Asn(200))],
        );
        // 0:X and 6551n:X do not name the server, so they still work.
        let a = PathActions::new(&attrs(&["0:100", "65511:200"], &[]), &big);
        assert_eq!((a.allows(PeerId(0)), a.allows(PeerId(1))), (false, true));
        assert_eq!(a.prepends(PeerId(1)), 1);
        let a = PathActions::new(&attrs(&[], &["4200000000:0:0", "4200000000:1:100"]), &big);
        assert_eq!((a.allows(PeerId(0)), a.allows(PeerId(1))), (true, false));
    }

    #[test]
    fn stripping_and_export_attributes() {
        let mut a = attrs(
            &[
                "0:100",
                "0:64500",
                "64500:200",
                "65511:1",
                "65502:64500",
                "65502:7",
                "300:1",
                "65535:666",
            ],
            &["64500:1000:1", "64500:0:0", "300:1:1"],
        );
        strip_control_communities(&mut a, Asn(64500));
        let std: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
        assert_eq!(std, ["65502:7", "300:1", "65535:666"]);
        let large: Vec<String> = a.large_communities.iter().map(|c| c.to_string()).collect();
        assert_eq!(large, ["300:1:1"]);

        let received = attrs(
            &["0:100", "65535:666"],
            &["64500:101:0", "300:1:1", "64501:5:5"],
        );
        let out = export_attributes(
            &received,
            Asn(64500),
            Some(RpkiState::Valid),
            Some(AspaState::Invalid),
            true,
        );
        let std: Vec<String> = out.communities.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            std,
            ["65535:666", "65535:65281"],
            "NO_EXPORT added to a blackhole"
        );
        let large: Vec<String> = out
            .large_communities
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            large,
            ["300:1:1", "64500:1000:1", "64500:1001:4", "64501:5:5"]
        );
        let out = export_attributes(&received, Asn(64500), None, None, false);
        assert_eq!(out.communities.len(), 1);
        assert_eq!(out.large_communities.len(), 2);
        let out = export_attributes(
            &received,
            Asn(64500),
            None,
            Some(AspaState::NotChecked),
            false,
        );
        assert_eq!(out.communities.len(), 1);
        assert_eq!(out.large_communities.len(), 2);
        for (s, n) in [
            (RpkiState::Valid, 1),
            (RpkiState::NotFound, 2),
            (RpkiState::NotChecked, 3),
            (RpkiState::Invalid, 4),
        ] {
            assert_eq!(
                rpki_community(Asn(64500), s),
                LargeCommunity::new(64500, 1000, n)
            );
        }
        for (s, n) in [
            (AspaState::Valid, 1),
            (AspaState::Unknown, 2),
            (AspaState::NotChecked, 3),
            (AspaState::Invalid, 4),
        ] {
            assert_eq!(
                aspa_community(Asn(64500), s),
                LargeCommunity::new(64500, 1001, n)
            );
        }
    }

    #[test]
    fn prepending_the_first_as() {
        let mut a = attrs(&[], &[]);
        prepend_first_as(&mut a, 2);
        assert_eq!(a.as_path.as_ref().unwrap().to_string(), "300 300 300 400");
        prepend_first_as(&mut a, 0);
        assert_eq!(a.as_path.as_ref().unwrap().hop_count(), 4);
        let mut long = PathAttributes {
            as_path: Some(AsPath::sequence(std::iter::repeat_n(Asn(300), 254))),
            ..PathAttributes::default()
        };
        prepend_first_as(&mut long, 3);
        let p = long.as_path.unwrap();
        assert_eq!((p.segments.len(), p.hop_count()), (2, 257));
    }
}
