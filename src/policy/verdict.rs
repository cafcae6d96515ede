//! The result of import policy for one path: accepted (with the preference policy gave it)
//! or rejected with every reason that applied. Reasons carry the Euro-IX route-server
//! large-community code the looking glass shows (`RS:1101:N`) where one exists.

use std::fmt;

/// Why a path was not accepted.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RejectReason {
    PrefixTooLong = 0,
    PrefixTooShort = 1,
    BogonPrefix = 2,
    BogonAsn = 3,
    PathTooLong = 4,
    FirstAsNotPeer = 5,
    NextHopNotPeer = 6,
    PrefixNotAllowed = 7,
    OriginNotAllowed = 8,
    RpkiInvalid = 9,
    TransitFreeAsn = 10,
    /// An AS_SET in the path.
    AsSet = 11,
    /// RFC 9234 §5: a route carrying OTC from an RS-client is a leak.
    OtcLeak = 12,
    /// RFC 7999 blackhole from a peer not allowed to blackhole, or not a more specific.
    BlackholeNotAllowed = 13,
    /// ASPA verification (draft-ietf-sidrops-aspa-verification) found the path invalid.
    AspaInvalid = 14,
}

impl RejectReason {
    pub const ALL: [RejectReason; 15] = [
        RejectReason::PrefixTooLong,
        RejectReason::PrefixTooShort,
        RejectReason::BogonPrefix,
        RejectReason::BogonAsn,
        RejectReason::PathTooLong,
        RejectReason::FirstAsNotPeer,
        RejectReason::NextHopNotPeer,
        RejectReason::PrefixNotAllowed,
        RejectReason::OriginNotAllowed,
        RejectReason::RpkiInvalid,
        RejectReason::TransitFreeAsn,
        RejectReason::AsSet,
        RejectReason::OtcLeak,
        RejectReason::BlackholeNotAllowed,
        RejectReason::AspaInvalid,
    ];

    /// The Euro-IX `RS:1101:N` code, where the list names this reason.
    pub fn euro_ix_code(self) -> Option<u32> {
        Some(match self {
            RejectReason::PrefixTooLong => 1,
            RejectReason::PrefixTooShort => 2,
            RejectReason::BogonPrefix => 3,
            RejectReason::BogonAsn => 4,
            RejectReason::PathTooLong => 5,
            RejectReason::FirstAsNotPeer => 7,
            RejectReason::NextHopNotPeer => 8,
            RejectReason::PrefixNotAllowed => 9,
            RejectReason::OriginNotAllowed => 10,
            RejectReason::RpkiInvalid => 13,
            RejectReason::TransitFreeAsn => 14,
            RejectReason::AspaInvalid
            | RejectReason::AsSet
            | RejectReason::OtcLeak
            | RejectReason::BlackholeNotAllowed => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RejectReason::PrefixTooLong => "prefix too long",
            RejectReason::PrefixTooShort => "prefix too short",
            RejectReason::BogonPrefix => "bogon prefix",
            RejectReason::BogonAsn => "bogon ASN in path",
            RejectReason::PathTooLong => "AS path too long",
            RejectReason::FirstAsNotPeer => "first AS is not the peer's",
            RejectReason::NextHopNotPeer => "next hop is not the peer",
            RejectReason::PrefixNotAllowed => "prefix not allowed",
            RejectReason::OriginNotAllowed => "origin AS not allowed",
            RejectReason::RpkiInvalid => "RPKI invalid",
            RejectReason::TransitFreeAsn => "transit-free AS in path",
            RejectReason::AsSet => "AS_SET in path",
            RejectReason::OtcLeak => "route leak (OTC from an RS-client)",
            RejectReason::BlackholeNotAllowed => "blackhole not allowed",
            RejectReason::AspaInvalid => "ASPA invalid",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of reject reasons (empty = accepted).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RejectSet(u32);

impl RejectSet {
    pub const EMPTY: RejectSet = RejectSet(0);

    pub fn insert(&mut self, r: RejectReason) {
        self.0 |= 1 << (r as u32);
    }
    pub fn contains(self, r: RejectReason) -> bool {
        self.0 & (1 << (r as u32)) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: RejectSet) -> RejectSet {
        RejectSet(self.0 | other.0)
    }
    /// The reasons the session finds (not import policy): they survive re-evaluation.
    pub fn session_part(self) -> RejectSet {
        RejectSet(self.0 & (1 << (RejectReason::OtcLeak as u32)))
    }
    pub fn iter(self) -> impl Iterator<Item = RejectReason> {
        RejectReason::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
}

impl FromIterator<RejectReason> for RejectSet {
    fn from_iter<I: IntoIterator<Item = RejectReason>>(it: I) -> Self {
        let mut s = RejectSet::EMPTY;
        for r in it {
            s.insert(r);
        }
        s
    }
}

/// The import verdict stored with every path.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// Preference for best-path selection (RFC 4271 LOCAL_PREF semantics; set by policy).
    pub local_pref: u32,
    pub rejects: RejectSet,
}

/// LOCAL_PREF given to accepted paths unless policy says otherwise.
pub const DEFAULT_LOCAL_PREF: u32 = 100;

impl Verdict {
    pub const ACCEPT: Verdict = Verdict {
        local_pref: DEFAULT_LOCAL_PREF,
        rejects: RejectSet::EMPTY,
    };

    pub fn accepted(self) -> bool {
        self.rejects.is_empty()
    }

    pub fn reject(reasons: RejectSet) -> Verdict {
        Verdict {
            local_pref: DEFAULT_LOCAL_PREF,
            rejects: reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_codes() {
        let s: RejectSet = [RejectReason::RpkiInvalid, RejectReason::FirstAsNotPeer]
            .into_iter()
            .collect();
        assert!(!s.is_empty());
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![RejectReason::FirstAsNotPeer, RejectReason::RpkiInvalid]
        );
        assert_eq!(RejectReason::RpkiInvalid.euro_ix_code(), Some(13));
        assert_eq!(RejectReason::AspaInvalid.euro_ix_code(), None);
        assert!(Verdict::ACCEPT.accepted());
        assert!(!Verdict::reject(s).accepted());
    }
}
