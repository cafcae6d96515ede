//! Peers as policy and the RIB name them: `PeerId`, and a set of peers as a bitset (what
//! export rules, classes and groups are made of). The bitset holds words only up to its highest
//! member, inline up to peer 127: export builds, merges and hashes such sets for every changed
//! prefix, so a set of a few clients must cost a few words, not the whole peer table.

/// A peer's index in the server's peer table; stable across reloads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

impl PeerId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Peers a route server can hold at once.
pub const MAX_PEERS: usize = 4096;

/// Invariant: no trailing zero words, so equal sets have equal representations.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientSet(smallvec::SmallVec<[u64; 2]>);

impl std::fmt::Debug for ClientSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(|p| p.0)).finish()
    }
}

impl ClientSet {
    pub fn new() -> Self {
        ClientSet::default()
    }

    fn slot(p: PeerId) -> Option<(usize, u64)> {
        let i = p.index();
        (i < MAX_PEERS).then(|| (i / 64, 1u64 << (i % 64)))
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    pub fn insert(&mut self, p: PeerId) {
        if let Some((w, b)) = Self::slot(p) {
            if self.0.len() <= w {
                self.0.resize(w + 1, 0);
            }
            if let Some(word) = self.0.get_mut(w) {
                *word |= b;
            }
        }
    }

    pub fn remove(&mut self, p: PeerId) {
        if let Some((w, b)) = Self::slot(p) {
            if let Some(word) = self.0.get_mut(w) {
                *word &= !b;
            }
            self.trim();
        }
    }

    pub fn contains(&self, p: PeerId) -> bool {
        Self::slot(p).is_some_and(|(w, b)| self.0.get(w).is_some_and(|x| x & b != 0))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// `self` plus `other`.
    pub fn union(&self, other: &ClientSet) -> ClientSet {
        let (long, short) = if self.0.len() >= other.0.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = long.clone();
        for (a, b) in out.0.iter_mut().zip(short.0.iter()) {
            *a |= b;
        }
        out
    }

    /// `self` minus `other`.
    pub fn difference(&self, other: &ClientSet) -> ClientSet {
        let mut out = self.clone();
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a &= !b;
        }
        out.trim();
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                Some(PeerId((w * 64) as u32 + b))
            })
        })
    }
}

impl FromIterator<PeerId> for ClientSet {
    fn from_iter<I: IntoIterator<Item = PeerId>>(it: I) -> Self {
        let mut s = ClientSet::new();
        for p in it {
            s.insert(p);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let a: ClientSet = [1, 64, 65, 4095].into_iter().map(PeerId).collect();
        assert!(a.contains(PeerId(64)));
        assert!(!a.contains(PeerId(2)));
        assert!(!a.contains(PeerId(5000)));
        assert_eq!(a.len(), 4);
        let b: ClientSet = [64].into_iter().map(PeerId).collect();
        let d = a.difference(&b);
        assert_eq!(d.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 65, 4095]);
        let mut e = d.clone();
        e.remove(PeerId(1));
        e.remove(PeerId(65));
        e.remove(PeerId(4095));
        assert!(e.is_empty());
        assert_eq!(e, ClientSet::new());
        // Equal sets are equal whatever they went through (no trailing empty words).
        let mut f: ClientSet = [3, 4000].into_iter().map(PeerId).collect();
        f.remove(PeerId(4000));
        assert_eq!(f, [3].into_iter().map(PeerId).collect::<ClientSet>());
        assert_eq!(a.union(&b), a);
        assert_eq!(b.union(&a), a);
        assert_eq!(b.difference(&a), ClientSet::new());
    }
}
