//! RPKI route origin validation (RFC 6811): the immutable VRP table, what changed between two
//! tables, and the JSON VRP file format (parsing only). Pure data: reading files and talking
//! to RTR caches is the top-level `rpki` module's job, which builds these tables. The table
//! also carries the ASPA set of the same sources (`aspa.rs`: ASPA path verification), so
//! both travel, change and are re-evaluated together.

pub mod aspa;
mod json;

use std::fmt;

use super::cover::CoverIndex;
use crate::wire::{Asn, Prefix, Prefix4, Prefix6};

pub use aspa::{Aspa, AspaSet, AspaState, Direction};
pub use json::{parse_rpki_json, parse_vrp_json, RpkiFile, VrpFileError};

/// One validated ROA payload: `asn` may originate `prefix` and its more specifics up to
/// `max_len`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrp {
    pub prefix: Prefix,
    pub max_len: u8,
    pub asn: Asn,
}

impl fmt::Display for Vrp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} AS{}", self.prefix, self.max_len, self.asn)
    }
}

/// The RPKI origin validation state of a route.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum RpkiState {
    /// A VRP covers the prefix, matches its origin and allows its length.
    Valid,
    /// No VRP covers the prefix.
    NotFound,
    /// Not validated: RPKI is off for the peer, or no VRPs have been loaded yet.
    #[default]
    NotChecked,
    /// VRPs cover the prefix but none matches origin and length.
    Invalid,
}

impl RpkiState {
    /// The informational large community value `RS:1000:N`.
    pub const fn community_value(self) -> u32 {
        match self {
            RpkiState::Valid => 1,
            RpkiState::NotFound => 2,
            RpkiState::NotChecked => 3,
            RpkiState::Invalid => 4,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            RpkiState::Valid => "valid",
            RpkiState::NotFound => "not found",
            RpkiState::NotChecked => "not checked",
            RpkiState::Invalid => "invalid",
        }
    }
}

impl fmt::Display for RpkiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a VRP prefix carries: origin and maximum length.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct VrpItem {
    asn: u32,
    max_len: u8,
}

/// An immutable table of VRPs. Built once per change of the VRP sources and shared (`Arc`)
/// by every reader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrpTable {
    v4: CoverIndex<u32, VrpItem>,
    v6: CoverIndex<u128, VrpItem>,
    /// False until a source delivered data: every route is then "not checked".
    loaded: bool,
    /// The ASPA set of the same sources.
    aspas: AspaSet,
}

impl VrpTable {
    /// A table with no data: every validation answers `NotChecked`.
    pub fn empty() -> VrpTable {
        VrpTable::default()
    }

    /// A loaded table. VRPs whose max length is shorter than their prefix or longer than the
    /// family allows are dropped; duplicates are merged.
    pub fn new(vrps: impl IntoIterator<Item = Vrp>) -> VrpTable {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for v in vrps {
            if v.max_len < v.prefix.length() || v.max_len > v.prefix.family().max_len() {
                continue;
            }
            let item = VrpItem {
                asn: v.asn.0,
                max_len: v.max_len,
            };
            match v.prefix {
                Prefix::V4(p) => v4.push((p.addr_bits(), p.length(), item)),
                Prefix::V6(p) => v6.push((p.addr_bits(), p.length(), item)),
            }
        }
        VrpTable {
            v4: CoverIndex::build(v4),
            v6: CoverIndex::build(v6),
            loaded: true,
            aspas: AspaSet::default(),
        }
    }

    /// This table with `aspas` as its ASPA set.
    pub fn with_aspas(mut self, aspas: AspaSet) -> VrpTable {
        self.aspas = aspas;
        self
    }

    /// The ASPA set.
    pub fn aspas(&self) -> &AspaSet {
        &self.aspas
    }

    /// ASPA verification of `path` received from `neighbor` (`NotChecked` until data is
    /// loaded).
    #[inline]
    pub fn verify_aspa(
        &self,
        path: Option<&crate::wire::AsPath>,
        neighbor: Asn,
        direction: Direction,
    ) -> AspaState {
        if !self.loaded {
            return AspaState::NotChecked;
        }
        self.aspas.verify(path, neighbor, direction)
    }

    /// True once data has been loaded (possibly zero VRPs).
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Number of distinct VRPs.
    pub fn len(&self) -> usize {
        self.v4.items_len() + self.v6.items_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn heap_size(&self) -> usize {
        self.v4.heap_size() + self.v6.heap_size() + self.aspas.heap_size()
    }

    /// RFC 6811 §2: the validation state of `prefix` originated by `origin` (`None` when the
    /// path has no origin AS, e.g. it ends with an AS_SET: such a route is never valid).
    #[inline]
    pub fn validate(&self, prefix: &Prefix, origin: Option<Asn>) -> RpkiState {
        self.check(prefix, origin, false)
    }

    /// As [`validate`](Self::validate) but ignoring VRP maximum lengths: used for RFC 7999
    /// blackhole more-specifics, which are longer than any ROA allows on purpose.
    #[inline]
    pub fn validate_origin_only(&self, prefix: &Prefix, origin: Option<Asn>) -> RpkiState {
        self.check(prefix, origin, true)
    }

    #[inline]
    fn check(&self, prefix: &Prefix, origin: Option<Asn>, any_len: bool) -> RpkiState {
        if !self.loaded {
            return RpkiState::NotChecked;
        }
        let len = prefix.length();
        // AS 0 VRPs (RFC 6483 §4) cover but never match.
        let origin = origin.map_or(0, |a| a.0);
        let matches = |items: super::cover::Items<'_, VrpItem>| {
            items
                .iter()
                .any(|i| origin != 0 && i.asn == origin && (any_len || len <= i.max_len))
        };
        let mut found = false;
        let valid = match prefix {
            Prefix::V4(p) => self.v4.covering(p.addr_bits(), len).any(|(_, items)| {
                found = true;
                matches(items)
            }),
            Prefix::V6(p) => self.v6.covering(p.addr_bits(), len).any(|(_, items)| {
                found = true;
                matches(items)
            }),
        };
        if valid {
            RpkiState::Valid
        } else if found {
            RpkiState::Invalid
        } else {
            RpkiState::NotFound
        }
    }

    /// Every VRP, sorted.
    pub fn iter(&self) -> impl Iterator<Item = Vrp> + '_ {
        let v4 = self.v4.iter().flat_map(|(a, l, items)| {
            let p = Prefix4::new(a, l).map(Prefix::V4);
            items.iter().filter_map(move |i| {
                p.map(|prefix| Vrp {
                    prefix,
                    max_len: i.max_len,
                    asn: Asn(i.asn),
                })
            })
        });
        let v6 = self.v6.iter().flat_map(|(a, l, items)| {
            let p = Prefix6::new(a, l).map(Prefix::V6);
            items.iter().filter_map(move |i| {
                p.map(|prefix| Vrp {
                    prefix,
                    max_len: i.max_len,
                    asn: Asn(i.asn),
                })
            })
        });
        v4.chain(v6)
    }

    /// The VRP prefixes whose VRPs differ between `old` and `self`: the validity of a route
    /// can only have changed if one of them covers it. When one table is loaded and the other
    /// is not, every route may have changed.
    pub fn changes_since(&self, old: &VrpTable) -> VrpChanges {
        if self.loaded != old.loaded {
            return VrpChanges::everything();
        }
        let mut v4 = Vec::new();
        diff(&old.v4, &self.v4, &mut v4);
        let mut v6 = Vec::new();
        diff(&old.v6, &self.v6, &mut v6);
        let mut c = VrpChanges::new(
            v4.into_iter()
                .filter_map(|(a, l)| Prefix4::new(a, l).map(Prefix::V4))
                .chain(
                    v6.into_iter()
                        .filter_map(|(a, l)| Prefix6::new(a, l).map(Prefix::V6)),
                ),
        );
        c.aspa_customers = self.aspas.changed_customers(&old.aspas);
        c
    }
}

/// Prefixes present in only one of the indexes, or with different VRPs.
fn diff<A: super::cover::Addr>(
    old: &CoverIndex<A, VrpItem>,
    new: &CoverIndex<A, VrpItem>,
    out: &mut Vec<(A, u8)>,
) {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(x), None) => {
                out.push((x.0, x.1));
                a.next();
            }
            (None, Some(y)) => {
                out.push((y.0, y.1));
                b.next();
            }
            (Some(x), Some(y)) => match (x.0, x.1).cmp(&(y.0, y.1)) {
                std::cmp::Ordering::Less => {
                    out.push((x.0, x.1));
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    out.push((y.0, y.1));
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if x.2 != y.2 {
                        out.push((x.0, x.1));
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}

/// The VRP prefixes that changed between two tables: routes inside any of them must be
/// validated again; no other route's state can have changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrpChanges {
    prefixes: Vec<Prefix>,
    v4: CoverIndex<u32, ()>,
    v6: CoverIndex<u128, ()>,
    everything: bool,
    /// Customer ASes whose ASPA changed, sorted: paths through them must be verified again.
    aspa_customers: Vec<u32>,
}

impl VrpChanges {
    pub fn new(prefixes: impl IntoIterator<Item = Prefix>) -> VrpChanges {
        let mut list: Vec<Prefix> = prefixes.into_iter().collect();
        list.sort_unstable();
        list.dedup();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for p in &list {
            match p {
                Prefix::V4(p) => v4.push((p.addr_bits(), p.length(), ())),
                Prefix::V6(p) => v6.push((p.addr_bits(), p.length(), ())),
            }
        }
        VrpChanges {
            prefixes: list,
            v4: CoverIndex::build(v4),
            v6: CoverIndex::build(v6),
            everything: false,
            aspa_customers: Vec::new(),
        }
    }

    /// Every route may have changed (first load, or the last source went away).
    pub fn everything() -> VrpChanges {
        VrpChanges {
            everything: true,
            ..VrpChanges::default()
        }
    }

    /// True when every route must be revalidated.
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.prefixes.is_empty() && self.aspa_customers.is_empty()
    }

    /// The customer ASes whose ASPA changed, sorted.
    pub fn aspa_customers(&self) -> &[u32] {
        &self.aspa_customers
    }

    /// True when the ASPA verification of `path` may have changed: it goes through an AS
    /// whose ASPA changed (or everything changed).
    pub fn affects_path(&self, path: Option<&crate::wire::AsPath>) -> bool {
        if self.everything {
            return true;
        }
        if self.aspa_customers.is_empty() {
            return false;
        }
        path.is_some_and(|p| {
            p.segments.iter().any(|s| {
                s.asns
                    .iter()
                    .any(|a| self.aspa_customers.binary_search(&a.0).is_ok())
            })
        })
    }

    /// The changed VRP prefixes, sorted (empty when [`is_everything`](Self::is_everything)).
    pub fn prefixes(&self) -> &[Prefix] {
        &self.prefixes
    }

    /// True when a route for `route` may have changed state.
    #[inline]
    pub fn affects(&self, route: &Prefix) -> bool {
        self.everything
            || match route {
                Prefix::V4(p) => self.v4.is_covered(p.addr_bits(), p.length()),
                Prefix::V6(p) => self.v6.is_covered(p.addr_bits(), p.length()),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn vrp(p: &str, max_len: u8, asn: u32) -> Vrp {
        Vrp {
            prefix: p.parse().unwrap(),
            max_len,
            asn: Asn(asn),
        }
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn rfc6811_states() {
        let t = VrpTable::new([
            vrp("192.0.2.0/24", 24, 64496),
            vrp("10.0.0.0/8", 16, 64497),
            vrp("10.0.0.0/8", 24, 64498),
            vrp("198.51.100.0/24", 24, 0),
            vrp("2001:db8::/32", 48, 64499),
        ]);
        assert_eq!(t.len(), 5);
        let v = |s: &str, asn: Option<u32>| t.validate(&p(s), asn.map(Asn));
        assert_eq!(v("192.0.2.0/24", Some(64496)), RpkiState::Valid);
        assert_eq!(
            v("192.0.2.0/24", Some(64497)),
            RpkiState::Invalid,
            "wrong origin"
        );
        assert_eq!(
            v("192.0.2.0/25", Some(64496)),
            RpkiState::Invalid,
            "too long"
        );
        assert_eq!(
            v("192.0.2.0/24", None),
            RpkiState::Invalid,
            "no origin (AS_SET)"
        );
        assert_eq!(
            v("192.0.0.0/16", Some(64496)),
            RpkiState::NotFound,
            "less specific"
        );
        assert_eq!(v("203.0.113.0/24", Some(64496)), RpkiState::NotFound);
        assert_eq!(v("10.1.0.0/16", Some(64497)), RpkiState::Valid);
        assert_eq!(v("10.1.1.0/24", Some(64497)), RpkiState::Invalid);
        assert_eq!(
            v("10.1.1.0/24", Some(64498)),
            RpkiState::Valid,
            "second VRP"
        );
        assert_eq!(
            v("198.51.100.0/24", Some(0)),
            RpkiState::Invalid,
            "AS0 never matches"
        );
        assert_eq!(v("2001:db8:1::/48", Some(64499)), RpkiState::Valid);
        assert_eq!(v("2001:db8:1::/49", Some(64499)), RpkiState::Invalid);
        assert_eq!(
            t.validate_origin_only(&p("192.0.2.1/32"), Some(Asn(64496))),
            RpkiState::Valid
        );
        assert_eq!(
            t.validate_origin_only(&p("192.0.2.1/32"), Some(Asn(1))),
            RpkiState::Invalid
        );
        assert_eq!(
            VrpTable::empty().validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::NotChecked
        );
        assert_eq!(
            VrpTable::new([]).validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::NotFound
        );
        let all: Vec<Vrp> = t.iter().collect();
        assert_eq!(all.len(), 5);
        assert_eq!(VrpTable::new(all), t);
    }

    #[test]
    fn bad_vrps_are_dropped() {
        let t = VrpTable::new([vrp("192.0.2.0/24", 23, 1), vrp("192.0.2.0/24", 33, 1)]);
        assert!(t.is_empty());
        assert!(t.is_loaded());
    }

    #[test]
    fn changes_name_the_affected_prefixes() {
        let a = VrpTable::new([
            vrp("192.0.2.0/24", 24, 64496),
            vrp("10.0.0.0/8", 16, 64497),
            vrp("2001:db8::/32", 48, 64499),
        ]);
        let b = VrpTable::new([
            vrp("192.0.2.0/24", 24, 64496),
            vrp("10.0.0.0/8", 24, 64497),
            vrp("203.0.113.0/24", 24, 64500),
        ]);
        let c = b.changes_since(&a);
        assert_eq!(
            c.prefixes(),
            &[p("10.0.0.0/8"), p("203.0.113.0/24"), p("2001:db8::/32")]
        );
        assert!(c.affects(&p("10.1.0.0/16")));
        assert!(c.affects(&p("2001:db8:5::/48")));
        assert!(!c.affects(&p("192.0.2.0/24")));
        assert!(!c.affects(&p("11.0.0.0/8")));
        assert!(a.changes_since(&a).is_empty());
        let e = a.changes_since(&VrpTable::empty());
        assert!(e.is_everything() && e.affects(&p("1.0.0.0/8")));
    }

    #[test]
    fn aspa_changes_name_the_paths_through_changed_customers() {
        use crate::wire::AsPath;
        let aspa = |c: u32, p: &[u32]| Aspa {
            customer: Asn(c),
            providers: p.iter().map(|a| Asn(*a)).collect(),
        };
        let a = VrpTable::new([]).with_aspas(AspaSet::new([aspa(1, &[2]), aspa(3, &[4])]));
        let b = VrpTable::new([]).with_aspas(AspaSet::new([aspa(1, &[2]), aspa(3, &[5])]));
        let c = b.changes_since(&a);
        assert!(!c.is_empty() && !c.is_everything());
        assert!(c.prefixes().is_empty());
        assert_eq!(c.aspa_customers(), &[3]);
        let path = |v: &[u32]| AsPath::sequence(v.iter().map(|x| Asn(*x)));
        assert!(c.affects_path(Some(&path(&[9, 3]))));
        assert!(!c.affects_path(Some(&path(&[9, 1]))));
        assert!(!c.affects_path(None));
        assert!(a.changes_since(&a).is_empty());
    }
}
