//! Prefix sets: a peer's allow-list (prefixes with length ranges) and the bogon list,
//! compiled into a [`CoverIndex`] per family.

use super::cover::CoverIndex;
use crate::config::PrefixRange;
use crate::wire::Prefix;

/// An immutable set of prefix ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixSet {
    v4: CoverIndex<u32, (u8, u8)>,
    v6: CoverIndex<u128, (u8, u8)>,
}

impl PrefixSet {
    pub fn new(entries: &[PrefixRange]) -> PrefixSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for e in entries {
            match e.prefix {
                Prefix::V4(p) => v4.push((p.addr_bits(), p.length(), (e.min, e.max))),
                Prefix::V6(p) => v6.push((p.addr_bits(), p.length(), (e.min, e.max))),
            }
        }
        PrefixSet {
            v4: CoverIndex::build(v4),
            v6: CoverIndex::build(v6),
        }
    }

    /// True when an entry covers `p` and allows its length.
    #[inline]
    pub fn matches(&self, p: &Prefix) -> bool {
        match p {
            Prefix::V4(p) => {
                let len = p.length();
                self.v4
                    .covering(p.addr_bits(), len)
                    .any(|(_, r)| r.iter().any(|(lo, hi)| (*lo..=*hi).contains(&len)))
            }
            Prefix::V6(p) => {
                let len = p.length();
                self.v6
                    .covering(p.addr_bits(), len)
                    .any(|(_, r)| r.iter().any(|(lo, hi)| (*lo..=*hi).contains(&len)))
            }
        }
    }

    /// True when `p` lies inside an entry's prefix, whatever its length range.
    #[inline]
    pub fn covers(&self, p: &Prefix) -> bool {
        match p {
            Prefix::V4(p) => self.v4.is_covered(p.addr_bits(), p.length()),
            Prefix::V6(p) => self.v6.is_covered(p.addr_bits(), p.length()),
        }
    }

    /// Number of entries (distinct prefix and range pairs).
    pub fn len(&self) -> usize {
        self.v4.items_len() + self.v6.items_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the compiled set.
    pub fn heap_size(&self) -> usize {
        self.v4.heap_size() + self.v6.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &[&str]) -> PrefixSet {
        let v: Vec<PrefixRange> = list.iter().map(|s| s.parse().unwrap()).collect();
        PrefixSet::new(&v)
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_covering() {
        let s = set(&[
            "10.1.0.0/16{16,24}",
            "10.1.5.0/24{25,26}",
            "192.0.2.0/24",
            "2001:db8::/32 ge 40 le 48",
        ]);
        assert_eq!(s.len(), 4);
        assert!(s.matches(&p("10.1.0.0/16")));
        assert!(s.matches(&p("10.1.7.0/24")));
        assert!(!s.matches(&p("10.1.7.0/25")));
        assert!(s.matches(&p("10.1.5.128/25")), "inner range applies");
        assert!(s.matches(&p("10.1.5.0/24")), "outer range applies too");
        assert!(!s.matches(&p("10.1.5.0/27")));
        assert!(s.covers(&p("10.1.5.0/27")));
        assert!(!s.matches(&p("10.0.0.0/8")));
        assert!(!s.covers(&p("10.0.0.0/8")));
        assert!(s.matches(&p("192.0.2.0/24")));
        assert!(!s.matches(&p("192.0.2.0/25")));
        assert!(s.matches(&p("2001:db8:100::/40")));
        assert!(!s.matches(&p("2001:db8::/32")));
        assert!(s.covers(&p("2001:db8::1/128")));
        assert!(!s.matches(&p("2001:db9::/48")));
        assert!(!PrefixSet::default().matches(&p("10.0.0.0/8")));
    }

    #[test]
    fn large_sets_load_fast() {
        let entries: Vec<PrefixRange> = (0..50_000u32)
            .map(|i| PrefixRange {
                prefix: Prefix::V4(crate::wire::Prefix4::new((i << 12) | 0x1000_0000, 20).unwrap()),
                min: 20,
                max: 24,
            })
            .collect();
        let t = std::time::Instant::now();
        let s = PrefixSet::new(&entries);
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(s.len(), 50_000);
        assert!(s.matches(&p("16.0.16.0/22")));
    }
}
