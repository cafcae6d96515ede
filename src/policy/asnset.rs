//! Sets of AS numbers as sorted, disjoint ranges: origin allow-lists, bogon and transit-free
//! ASNs.

use crate::config::lists::normalize_asns as normalize;
use crate::config::AsnRange;
use crate::wire::Asn;

/// An immutable set of ASNs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsnSet {
    /// First ASN of each range, sorted; `lasts[i]` ends range `i`.
    firsts: Box<[u32]>,
    lasts: Box<[u32]>,
    /// A 256-bit hash filter of every member, when the set is small enough to list: most
    /// lookups (an ASN not in the set) end on one bit test.
    filter: Option<[u64; 4]>,
}

/// Sets of at most this many ASNs get a hash filter.
const FILTER_MAX: u64 = 64;

#[inline]
fn bit(asn: u32) -> (usize, u64) {
    let h = asn.wrapping_mul(0x9e37_79b1) >> 24;
    ((h >> 6) as usize, 1u64 << (h & 63))
}

impl AsnSet {
    pub fn new(ranges: impl IntoIterator<Item = AsnRange>) -> AsnSet {
        let v = normalize(ranges.into_iter().collect());
        let members: u64 = v.iter().map(|r| u64::from(r.last - r.first) + 1).sum();
        let filter = (members <= FILTER_MAX).then(|| {
            let mut f = [0u64; 4];
            for a in v.iter().flat_map(|r| r.first..=r.last) {
                let (w, b) = bit(a);
                if let Some(x) = f.get_mut(w) {
                    *x |= b;
                }
            }
            f
        });
        AsnSet {
            firsts: v.iter().map(|r| r.first).collect(),
            lasts: v.iter().map(|r| r.last).collect(),
            filter,
        }
    }

    pub fn from_asns(asns: impl IntoIterator<Item = Asn>) -> AsnSet {
        AsnSet::new(asns.into_iter().map(|a| AsnRange::one(a.0)))
    }

    #[inline]
    pub fn contains(&self, asn: Asn) -> bool {
        let a = asn.0;
        if let Some(f) = &self.filter {
            let (w, b) = bit(a);
            if f.get(w).is_none_or(|x| x & b == 0) {
                return false;
            }
        }
        if self.firsts.len() <= 16 {
            // Sorted: stop at the first range starting above `a`.
            for (f, l) in self.firsts.iter().zip(self.lasts.iter()) {
                if *f > a {
                    return false;
                }
                if a <= *l {
                    return true;
                }
            }
            return false;
        }
        let i = self.firsts.partition_point(|f| *f <= a);
        i > 0 && self.lasts.get(i - 1).is_some_and(|l| a <= *l)
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.firsts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.firsts.is_empty()
    }

    pub fn ranges(&self) -> impl Iterator<Item = AsnRange> + '_ {
        self.firsts
            .iter()
            .zip(self.lasts.iter())
            .map(|(f, l)| AsnRange::new(*f, *l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let s = AsnSet::new([
            AsnRange::new(64512, 65534),
            AsnRange::one(0),
            AsnRange::one(23456),
            AsnRange::new(65000, 65535),
        ]);
        assert_eq!(
            s.len(),
            3,
            "overlapping ranges merge: {:?}",
            s.ranges().collect::<Vec<_>>()
        );
        for a in [0, 23456, 64512, 65000, 65535] {
            assert!(s.contains(Asn(a)), "{a}");
        }
        for a in [1, 23455, 23457, 64511, 65536, u32::MAX] {
            assert!(!s.contains(Asn(a)), "{a}");
        }
        assert!(!AsnSet::default().contains(Asn(0)));
        let big = AsnSet::new((0..1000u32).map(|i| AsnRange::one(i * 7)));
        assert!(big.filter.is_none());
        assert!(big.contains(Asn(693)) && !big.contains(Asn(694)));
        let small = AsnSet::from_asns((0..40u32).map(|i| Asn(1000 + i * 13)));
        assert!(small.filter.is_some());
        for a in 900..1600u32 {
            assert_eq!(
                small.contains(Asn(a)),
                a >= 1000 && (a - 1000) % 13 == 0 && a < 1520,
                "{a}"
            );
        }
        let t = AsnSet::from_asns([Asn(3), Asn(1), Asn(2)]);
        assert_eq!(t.ranges().collect::<Vec<_>>(), vec![AsnRange::new(1, 3)]);
    }
}
