//! ASPA-based AS_PATH verification (draft-ietf-sidrops-aspa-verification): the immutable set
//! of validated ASPA payloads (customer AS → its provider ASes), the hop check, and both
//! verification procedures — upstream (routes from customers, lateral peers, and at a route
//! server routes from its RS-clients) and downstream (routes from providers). Pure data.
//!
//! A route server is transparent: it does not add its AS to the path, so the path it
//! receives from an RS-client begins with that client's AS, and the RS-client is a lateral
//! peer of the route server. peerex therefore applies the upstream procedure with the
//! client's AS as the neighbor AS.

use std::fmt;

use crate::wire::{AsPath, Asn, SegmentType};

/// The outcome of ASPA verification of a path.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum AspaState {
    /// Every hop is attested and none contradicts the procedure.
    Valid,
    /// No hop contradicts an ASPA, but some hop is not attested (an AS has no ASPA).
    Unknown,
    /// Not verified: ASPA is off for the peer, or no RPKI data has been loaded yet.
    #[default]
    NotChecked,
    /// An attested hop contradicts the procedure (a leak or a forged path), or the path is
    /// empty, has an AS_SET, or does not begin with the neighbor AS.
    Invalid,
}

impl AspaState {
    /// The informational large community value `RS:1001:N` (the same numbering as the RPKI
    /// tag `RS:1000:N`, with "unknown" in the place of "not found"; 3 is reserved: a path
    /// ASPA did not check is not tagged).
    pub const fn community_value(self) -> u32 {
        match self {
            AspaState::Valid => 1,
            AspaState::Unknown => 2,
            AspaState::NotChecked => 3,
            AspaState::Invalid => 4,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            AspaState::Valid => "valid",
            AspaState::Unknown => "unknown",
            AspaState::NotChecked => "not checked",
            AspaState::Invalid => "invalid",
        }
    }
}

impl fmt::Display for AspaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One validated ASPA payload: `customer` attests that `providers` are its providers (a set
/// holding only AS 0 says it has none).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aspa {
    pub customer: Asn,
    pub providers: Vec<Asn>,
}

/// What the hop from one AS to the next says (draft §5, `hop(AS(i), AS(j))`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hop {
    /// The first AS has no ASPA.
    NoAttestation,
    /// The second AS is in the first's provider set.
    ProviderPlus,
    /// The first AS has an ASPA and the second is not in it.
    NotProviderPlus,
}

/// The ASPA set: provider sets by customer AS, sorted; customers with several ASPAs (from
/// several sources) get the union of their provider sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AspaSet {
    /// (customer, providers sorted and deduplicated), sorted by customer.
    entries: Vec<(u32, Box<[u32]>)>,
}

/// Which way a route travelled towards us.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From a customer, a lateral peer or (at a route server) an RS-client.
    Upstream,
    /// From a provider.
    Downstream,
}

impl AspaSet {
    pub fn new(aspas: impl IntoIterator<Item = Aspa>) -> AspaSet {
        let mut all: Vec<(u32, Vec<u32>)> = aspas
            .into_iter()
            .map(|a| (a.customer.0, a.providers.iter().map(|p| p.0).collect()))
            .collect();
        all.sort_unstable_by_key(|e| e.0);
        let mut entries: Vec<(u32, Vec<u32>)> = Vec::with_capacity(all.len());
        for (c, p) in all {
            match entries.last_mut() {
                Some(last) if last.0 == c => last.1.extend(p),
                _ => entries.push((c, p)),
            }
        }
        AspaSet {
            entries: entries
                .into_iter()
                .map(|(c, mut p)| {
                    p.sort_unstable();
                    p.dedup();
                    (c, p.into_boxed_slice())
                })
                .collect(),
        }
    }

    /// Number of customer ASes with an ASPA.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn heap_size(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(u32, Box<[u32]>)>()
            + self.entries.iter().map(|e| e.1.len() * 4).sum::<usize>()
    }

    fn providers(&self, customer: u32) -> Option<&[u32]> {
        self.entries
            .binary_search_by_key(&customer, |e| e.0)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|e| &*e.1)
    }

    /// Every ASPA, by customer.
    pub fn iter(&self) -> impl Iterator<Item = Aspa> + '_ {
        self.entries.iter().map(|(c, p)| Aspa {
            customer: Asn(*c),
            providers: p.iter().map(|a| Asn(*a)).collect(),
        })
    }

    /// The hop check: is `provider` attested as a provider of `customer`?
    pub fn hop(&self, customer: u32, provider: u32) -> Hop {
        match self.providers(customer) {
            None => Hop::NoAttestation,
            Some(p) if p.binary_search(&provider).is_ok() => Hop::ProviderPlus,
            Some(_) => Hop::NotProviderPlus,
        }
    }

    /// The customers whose provider sets differ between `old` and `self`, sorted.
    pub fn changed_customers(&self, old: &AspaSet) -> Vec<u32> {
        let mut out = Vec::new();
        let (mut a, mut b) = (
            old.entries.iter().peekable(),
            self.entries.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), None) => {
                    out.push(x.0);
                    a.next();
                }
                (None, Some(y)) => {
                    out.push(y.0);
                    b.next();
                }
                (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                    std::cmp::Ordering::Less => {
                        out.push(x.0);
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        out.push(y.0);
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if x.1 != y.1 {
                            out.push(x.0);
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
        out
    }

    /// Verifies `path`, received from `neighbor`, with the procedure for `direction`
    /// (draft §6). Prepends count once; AS_CONFED_SEQUENCE segments are not part of the
    /// inter-AS path and are skipped; an AS_SET or AS_CONFED_SET makes the path invalid.
    pub fn verify(&self, path: Option<&AsPath>, neighbor: Asn, direction: Direction) -> AspaState {
        // The path with prepends collapsed, most recent AS first, as received.
        let mut hops: smallvec::SmallVec<[u32; 16]> = smallvec::SmallVec::new();
        for seg in path.map(|p| p.segments.as_slice()).unwrap_or_default() {
            match seg.kind {
                SegmentType::Set | SegmentType::ConfedSet => return AspaState::Invalid,
                SegmentType::ConfedSequence => continue,
                SegmentType::Sequence => {
                    for a in &seg.asns {
                        if hops.last() != Some(&a.0) {
                            hops.push(a.0);
                        }
                    }
                }
            }
        }
        let Some(first) = hops.first() else {
            return AspaState::Invalid;
        };
        if *first != neighbor.0 {
            return AspaState::Invalid;
        }
        // AS(1) is the origin, AS(N) the neighbor.
        hops.reverse();
        let n = hops.len();
        let hop_at = |i: usize, j: usize| match (hops.get(i), hops.get(j)) {
            (Some(a), Some(b)) => self.hop(*a, *b),
            _ => Hop::NoAttestation,
        };
        // Up-ramp from the origin: hops (i, i+1), 0-based i in 0..n-1. The ramp lengths
        // count ASes: a ramp of length k covers AS(1)..AS(k).
        let ramp = |check: &dyn Fn(usize) -> Hop, stop: &dyn Fn(Hop) -> bool| {
            (0..n.saturating_sub(1))
                .find(|&i| stop(check(i)))
                .map_or(n, |i| i + 1)
        };
        let not_prov = |h: Hop| h == Hop::NotProviderPlus;
        let not_prov_or_none = |h: Hop| h != Hop::ProviderPlus;
        let up = |i: usize| hop_at(i, i + 1);
        let max_up = ramp(&up, &not_prov);
        let min_up = ramp(&up, &not_prov_or_none);
        match direction {
            Direction::Upstream => {
                if max_up < n {
                    AspaState::Invalid
                } else if min_up < n {
                    AspaState::Unknown
                } else {
                    AspaState::Valid
                }
            }
            Direction::Downstream => {
                // Down-ramp from the neighbor: hop(AS(N-j+1), AS(N-j)) for j = 1.., i.e.
                // 0-based (n-1-i, n-2-i).
                let down = |i: usize| hop_at(n - 1 - i, n.wrapping_sub(2 + i));
                let max_down = ramp(&down, &not_prov);
                let min_down = ramp(&down, &not_prov_or_none);
                if max_up + max_down < n {
                    AspaState::Invalid
                } else if min_up + min_down < n {
                    AspaState::Unknown
                } else {
                    AspaState::Valid
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PathSegment;
    use AspaState::*;
    use Direction::*;

    fn aspa(c: u32, p: &[u32]) -> Aspa {
        Aspa {
            customer: Asn(c),
            providers: p.iter().map(|a| Asn(*a)).collect(),
        }
    }

    /// A path as written, most recent AS first.
    fn seq(asns: &[u32]) -> AsPath {
        AsPath::sequence(asns.iter().map(|a| Asn(*a)))
    }

    fn v(t: &AspaSet, path: &[u32], d: Direction) -> AspaState {
        t.verify(Some(&seq(path)), Asn(path.first().copied().unwrap_or(0)), d)
    }

    /// The example topology: 10 (no providers) is a provider of 20 and 30; 20 and 30 are
    /// providers of 40; 40 is the provider of 50; 60 has no ASPA and is a provider of 20
    /// too; 70 has no providers (AS 0).
    fn topo() -> AspaSet {
        AspaSet::new([
            aspa(20, &[10, 60]),
            aspa(30, &[10]),
            aspa(40, &[20, 30]),
            aspa(50, &[40]),
            aspa(70, &[0]),
            aspa(10, &[0]),
        ])
    }

    #[test]
    fn hop_check() {
        let t = topo();
        assert_eq!(t.hop(40, 20), Hop::ProviderPlus);
        assert_eq!(t.hop(40, 10), Hop::NotProviderPlus);
        assert_eq!(t.hop(60, 20), Hop::NoAttestation);
        assert_eq!(t.hop(70, 1), Hop::NotProviderPlus, "AS 0: no providers");
        // Several ASPAs of one customer are merged.
        let m = AspaSet::new([aspa(1, &[3, 2]), aspa(1, &[4, 2])]);
        assert_eq!(m.len(), 1);
        assert_eq!(m.iter().next().unwrap().providers, [Asn(2), Asn(3), Asn(4)]);
    }

    #[test]
    fn upstream_outcomes() {
        let t = topo();
        // Straight up the customer chain: 50 → 40 → 20 → 10.
        assert_eq!(v(&t, &[10, 20, 40, 50], Upstream), Valid);
        // A single AS: nothing to contradict.
        assert_eq!(v(&t, &[50], Upstream), Valid);
        assert_eq!(v(&t, &[60], Upstream), Valid, "even without an ASPA");
        // A valley: 40 learned from provider 20 and sent it up to provider 30.
        assert_eq!(v(&t, &[30, 40, 20, 10], Upstream), Invalid);
        // The origin attests no providers at all, yet the path climbs.
        assert_eq!(v(&t, &[20, 70], Upstream), Invalid);
        // 60 has no ASPA: its hop is not attested.
        assert_eq!(v(&t, &[20, 60], Upstream), Unknown);
        // Unknown below, Invalid above: Invalid wins.
        assert_eq!(v(&t, &[30, 40, 20, 60], Upstream), Invalid);
        // A path longer than the set knows: attested at the bottom, unknown above.
        assert_eq!(v(&t, &[500, 60, 20, 40, 50], Upstream), Unknown);
        assert_eq!(v(&t, &[900, 800, 60], Upstream), Unknown, "no ASPA at all");
        // ... and a contradiction anywhere in it still invalidates it: 10 has no providers.
        assert_eq!(v(&t, &[900, 10, 20, 40, 50], Upstream), Invalid);
        assert_eq!(v(&t, &[900, 40, 10, 20, 40, 50], Upstream), Invalid);
    }

    #[test]
    fn downstream_outcomes() {
        let t = topo();
        // A mountain: up from 40 through 20 to 10, down to 30, received from provider 30.
        assert_eq!(v(&t, &[30, 10, 20, 40], Downstream), Valid);
        // Up from 40 through 30 to 10, down through 20 to 40 again: still one peak.
        assert_eq!(v(&t, &[40, 20, 10, 30, 40], Downstream), Valid);
        // 50 names 40 as its provider, not 20: the up-ramp breaks at once, and the
        // down-ramp from 40 stops at 10 → 20: the ramps do not meet.
        assert_eq!(v(&t, &[40, 30, 10, 20, 50], Downstream), Invalid);
        // Short paths never contradict one up- and one down-ramp.
        assert_eq!(v(&t, &[20, 40], Downstream), Valid);
        assert_eq!(v(&t, &[20], Downstream), Valid);
        assert_eq!(v(&t, &[10, 70], Downstream), Valid);
        // A valley: 10 down to 20 down to 40, then up from 40 to 30.
        assert_eq!(v(&t, &[30, 40, 20, 10], Downstream), Invalid);
        // Hops without attestation between the ramps: unknown, not invalid.
        assert_eq!(v(&t, &[30, 10, 600, 500], Downstream), Unknown);
        // Longer than the set knows at both ends.
        assert_eq!(v(&t, &[700, 600, 20, 40, 500], Downstream), Unknown);
    }

    #[test]
    fn malformed_paths() {
        let t = topo();
        // Prepends count once.
        assert_eq!(v(&t, &[10, 10, 20, 20, 20, 40, 50, 50], Upstream), Valid);
        assert_eq!(v(&t, &[30, 30, 40, 20, 20, 10], Upstream), Invalid);
        // An AS_SET anywhere: invalid, in both procedures.
        let mut p = seq(&[10, 20]);
        p.segments.push(PathSegment {
            kind: SegmentType::Set,
            asns: vec![Asn(40), Asn(30)],
        });
        assert_eq!(t.verify(Some(&p), Asn(10), Upstream), Invalid);
        assert_eq!(t.verify(Some(&p), Asn(10), Downstream), Invalid);
        // AS_CONFED_SEQUENCE is skipped; AS_CONFED_SET is a set.
        let mut c = seq(&[20, 40]);
        c.segments.insert(
            0,
            PathSegment {
                kind: SegmentType::ConfedSequence,
                asns: vec![Asn(65001)],
            },
        );
        assert_eq!(t.verify(Some(&c), Asn(20), Upstream), Valid);
        c.segments.first_mut().unwrap().kind = SegmentType::ConfedSet;
        assert_eq!(t.verify(Some(&c), Asn(20), Upstream), Invalid);
        // Empty or missing path.
        assert_eq!(t.verify(None, Asn(10), Upstream), Invalid);
        assert_eq!(
            t.verify(Some(&AsPath::default()), Asn(10), Downstream),
            Invalid
        );
        // The most recent AS must be the neighbor's (at a route server: the RS-client's).
        assert_eq!(t.verify(Some(&seq(&[20, 40])), Asn(30), Upstream), Invalid);
        assert_eq!(
            t.verify(Some(&seq(&[20, 40])), Asn(30), Downstream),
            Invalid
        );
    }

    #[test]
    fn changes_name_customers() {
        let a = topo();
        let b = AspaSet::new([
            aspa(20, &[10]),
            aspa(30, &[10, 11]),
            aspa(40, &[20, 30]),
            aspa(80, &[10]),
        ]);
        assert_eq!(b.changed_customers(&a), vec![10, 20, 30, 50, 70, 80]);
        assert!(a.changed_customers(&a).is_empty());
        assert_eq!(AspaSet::new(a.iter()), a);
    }

    proptest::proptest! {
        /// Over small random ASPA sets and paths: the downstream procedure is never stricter
        /// than the upstream one (a valid upstream path is valid downstream, an invalid
        /// downstream path is invalid upstream), and prepending never changes an outcome.
        #[test]
        fn downstream_is_never_stricter_and_prepends_do_not_count(
            set in proptest::collection::vec(
                (1u32..8, proptest::collection::vec(0u32..8, 1..4)),
                0..8,
            ),
            path in proptest::collection::vec(1u32..8, 1..7),
            dup in 0usize..7,
        ) {
            let t = AspaSet::new(set.iter().map(|(c, p)| aspa(*c, p)));
            let up = v(&t, &path, Upstream);
            let down = v(&t, &path, Downstream);
            if up == Valid {
                proptest::prop_assert_eq!(down, Valid);
            }
            if down == Invalid {
                proptest::prop_assert_eq!(up, Invalid);
            }
            let mut prepended = path.clone();
            let at = dup % prepended.len();
            let x = prepended[at];
            prepended.insert(at, x);
            proptest::prop_assert_eq!(v(&t, &prepended, Upstream), up);
            proptest::prop_assert_eq!(v(&t, &prepended, Downstream), down);
        }
    }
}
