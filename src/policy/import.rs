//! Import policy: one compiled, immutable [`ImportPolicy`] per peer, and its evaluation as a
//! pure function of (prefix, attributes, next hop, VRP table) → [`ImportOutcome`].
//!
//! Every check that applies is run (the verdict lists every reason, not the first), in two
//! halves: [`ImportPolicy::prepare`] does what depends only on the attributes (AS path,
//! communities, next hop: once per UPDATE), [`Prepared::evaluate`] what depends on the prefix
//! (lengths, bogons, allow-list, blackhole, RPKI). [`ImportPolicy::evaluate`] does both.
//! ASPA verification depends on the path and the ASPA set only; it runs in the second half
//! because the RPKI table travels there.

use std::net::IpAddr;
use std::sync::Arc;

use super::asnset::AsnSet;
use super::prefixset::PrefixSet;
use super::rpki::{AspaState, Direction, RpkiState, VrpTable};
use super::verdict::{RejectReason, RejectSet, Verdict};
use crate::config::{ImportChecks, LengthRange, RpkiAction};
use crate::wire::{AsPath, Asn, Community, MpNextHop, PathAttributes, Prefix, SegmentType};

/// What import policy decided for one route.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImportOutcome {
    /// Accepted or rejected (with every reason), and the LOCAL_PREF for selection.
    pub verdict: Verdict,
    /// The route's RPKI origin validation state (`NotChecked` when RPKI is off or no VRPs are
    /// loaded). Kept for accepted routes too: it is tagged on export and shown by the looking
    /// glass, and an `Invalid` route accepted under `rpki = "tag"` stays marked.
    pub rpki: RpkiState,
    /// The route is an accepted RFC 7999 blackhole: export it only to clients that accept
    /// blackholes, with NO_EXPORT added.
    pub blackhole: bool,
    /// The path's ASPA verification outcome (`NotChecked` when ASPA is off for the peer or
    /// no RPKI data is loaded); kept like `rpki`.
    pub aspa: AspaState,
}

/// A peer's compiled import policy.
#[derive(Clone, Debug)]
pub struct ImportPolicy {
    pub(super) peer_asn: Asn,
    pub(super) peer_addr: IpAddr,
    pub(super) next_hops: Box<[IpAddr]>,
    pub(super) checks: ImportChecks,
    pub(super) max_path_length: u16,
    pub(super) v4_lengths: LengthRange,
    pub(super) v6_lengths: LengthRange,
    /// The allow-list, when one is configured and checked.
    pub(super) prefixes: Option<Arc<PrefixSet>>,
    /// Allowed origins (the peer's ASN included), when a list is configured and checked.
    pub(super) origins: Option<Arc<AsnSet>>,
    pub(super) bogon_prefixes: Arc<PrefixSet>,
    pub(super) bogon_asns: Arc<AsnSet>,
    pub(super) transit_free: Arc<AsnSet>,
    pub(super) peer_is_transit_free: bool,
    pub(super) rpki: RpkiAction,
    pub(super) allow_blackhole: bool,
    pub(super) graceful_shutdown: bool,
    pub(super) local_pref: u32,
    pub(super) aspa: RpkiAction,
}

/// The attribute half of an evaluation, reusable for every prefix of one UPDATE.
#[derive(Copy, Clone, Debug)]
pub struct Prepared<'p> {
    policy: &'p ImportPolicy,
    rejects: RejectSet,
    origin: Option<Asn>,
    blackhole: bool,
    local_pref: u32,
    as_path: Option<&'p AsPath>,
}

impl ImportPolicy {
    /// The peer this policy is for.
    pub fn peer_asn(&self) -> Asn {
        self.peer_asn
    }

    /// RPKI setting (e.g. to skip revalidation of peers with RPKI off).
    pub fn rpki_action(&self) -> RpkiAction {
        self.rpki
    }

    /// ASPA setting.
    pub fn aspa_action(&self) -> RpkiAction {
        self.aspa
    }

    /// Evaluates one route.
    #[inline]
    pub fn evaluate(
        &self,
        prefix: &Prefix,
        attrs: &PathAttributes,
        next_hop: &MpNextHop,
        vrps: &VrpTable,
    ) -> ImportOutcome {
        self.prepare(attrs, next_hop).evaluate(prefix, vrps)
    }

    fn next_hop_allowed(&self, nh: &MpNextHop) -> bool {
        let ok = |a: IpAddr| a == self.peer_addr || self.next_hops.contains(&a);
        match nh {
            MpNextHop::V4(a) => ok(IpAddr::V4(*a)),
            MpNextHop::V6 { global, link_local } => {
                ok(IpAddr::V6(*global)) || link_local.is_some_and(|l| ok(IpAddr::V6(l)))
            }
            MpNextHop::Raw(_) => false,
        }
    }

    /// The checks that depend only on the attributes and next hop.
    pub fn prepare<'a>(&'a self, attrs: &'a PathAttributes, next_hop: &MpNextHop) -> Prepared<'a> {
        let c = &self.checks;
        let mut rejects = RejectSet::EMPTY;
        // Communities: blackhole and graceful shutdown.
        let mut blackhole = false;
        let mut gshut = false;
        for x in &attrs.communities {
            blackhole |= *x == Community::BLACKHOLE;
            gshut |= *x == Community::GRACEFUL_SHUTDOWN;
        }
        if blackhole && !self.allow_blackhole {
            rejects.insert(RejectReason::BlackholeNotAllowed);
        }
        // AS path, in one pass.
        let mut hops = 0usize;
        let mut first = None;
        let mut origin = None;
        let mut has_set = false;
        let mut bogon = false;
        let mut transit_free = false;
        if let Some(path) = &attrs.as_path {
            let n = path.segments.len();
            for (si, seg) in path.segments.iter().enumerate() {
                hops += seg.kind.hops(seg.asns.len());
                let is_seq = seg.kind == SegmentType::Sequence;
                has_set |= matches!(seg.kind, SegmentType::Set | SegmentType::ConfedSet);
                if si == 0 && is_seq {
                    first = seg.asns.first().copied();
                }
                if si + 1 == n {
                    origin = if is_seq {
                        seg.asns.last().copied()
                    } else {
                        None
                    };
                }
                for a in &seg.asns {
                    if c.bogon_asns {
                        bogon |= self.bogon_asns.contains(*a);
                    }
                    if c.transit_free {
                        // A transit-free network may be the peer itself (and prepend itself);
                        // anywhere else in the path it means a leak.
                        transit_free |= !(self.peer_is_transit_free && *a == self.peer_asn)
                            && self.transit_free.contains(*a);
                    }
                }
            }
        }
        if c.first_as && first != Some(self.peer_asn) {
            rejects.insert(RejectReason::FirstAsNotPeer);
        }
        if hops > usize::from(self.max_path_length) {
            rejects.insert(RejectReason::PathTooLong);
        }
        if c.as_set && has_set {
            rejects.insert(RejectReason::AsSet);
        }
        if bogon {
            rejects.insert(RejectReason::BogonAsn);
        }
        if transit_free {
            rejects.insert(RejectReason::TransitFreeAsn);
        }
        if let Some(allowed) = &self.origins {
            if !origin.is_some_and(|o| allowed.contains(o)) {
                rejects.insert(RejectReason::OriginNotAllowed);
            }
        }
        if c.next_hop && !self.next_hop_allowed(next_hop) {
            rejects.insert(RejectReason::NextHopNotPeer);
        }
        let local_pref = if gshut && self.graceful_shutdown {
            0
        } else {
            self.local_pref
        };
        Prepared {
            policy: self,
            rejects,
            origin,
            blackhole,
            local_pref,
            as_path: attrs.as_path.as_ref(),
        }
    }
}

impl Prepared<'_> {
    /// The reasons found from the attributes alone.
    pub fn attribute_rejects(&self) -> RejectSet {
        self.rejects
    }

    /// Completes the evaluation for one prefix.
    #[inline]
    pub fn evaluate(&self, prefix: &Prefix, vrps: &VrpTable) -> ImportOutcome {
        let p = self.policy;
        let mut rejects = self.rejects;
        let blackhole = self.blackhole && p.allow_blackhole;
        let len = prefix.length();
        let lengths = match prefix {
            Prefix::V4(_) => p.v4_lengths,
            Prefix::V6(_) => p.v6_lengths,
        };
        if len < lengths.min {
            rejects.insert(RejectReason::PrefixTooShort);
        }
        // RFC 7999 blackholes may be as long as the family allows.
        if len > lengths.max && !blackhole {
            rejects.insert(RejectReason::PrefixTooLong);
        }
        if p.checks.bogon_prefixes && p.bogon_prefixes.matches(prefix) {
            rejects.insert(RejectReason::BogonPrefix);
        }
        if let Some(allowed) = &p.prefixes {
            // A blackhole may be any more specific of an allowed prefix.
            let ok = if blackhole {
                allowed.covers(prefix)
            } else {
                allowed.matches(prefix)
            };
            if !ok {
                rejects.insert(RejectReason::PrefixNotAllowed);
            }
        }
        let rpki = match p.rpki {
            RpkiAction::Off => RpkiState::NotChecked,
            // A blackhole is longer than any ROA allows on purpose: only its origin counts.
            _ if blackhole => vrps.validate_origin_only(prefix, self.origin),
            _ => vrps.validate(prefix, self.origin),
        };
        if rpki == RpkiState::Invalid && p.rpki == RpkiAction::Reject {
            rejects.insert(RejectReason::RpkiInvalid);
        }
        // The route server is transparent and its RS-clients are lateral peers: the upstream
        // procedure, with the client's AS as the neighbor AS.
        let aspa = match p.aspa {
            RpkiAction::Off => AspaState::NotChecked,
            _ => vrps.verify_aspa(self.as_path, p.peer_asn, Direction::Upstream),
        };
        if aspa == AspaState::Invalid && p.aspa == RpkiAction::Reject {
            rejects.insert(RejectReason::AspaInvalid);
        }
        ImportOutcome {
            verdict: Verdict {
                local_pref: self.local_pref,
                rejects,
            },
            rpki,
            blackhole: blackhole && rejects.is_empty(),
            aspa,
        }
    }
}
