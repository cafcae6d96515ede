//! LARGE_COMMUNITIES (type 32, optional transitive, RFC 8092).
//! Malformed (length zero or not a multiple of 12): treat-as-withdraw (RFC 8092 §5).

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;

/// A large community `global:local1:local2`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl LargeCommunity {
    pub const fn new(global: u32, local1: u32, local2: u32) -> Self {
        LargeCommunity {
            global,
            local1,
            local2,
        }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut it = s.split(':').map(|p| p.trim().parse::<u32>());
        let (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(());
        };
        Ok(LargeCommunity::new(a, b, c))
    }
}

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    super::check_list(v, 12)
}

/// The large communities of a checked value, in wire order.
#[derive(Clone, Debug)]
pub struct LargeCommunities<'a>(std::slice::ChunksExact<'a, u8>);

impl<'a> LargeCommunities<'a> {
    pub(crate) fn new(v: &'a [u8]) -> Self {
        LargeCommunities(v.chunks_exact(12))
    }
}

impl Iterator for LargeCommunities<'_> {
    type Item = LargeCommunity;
    #[inline]
    fn next(&mut self) -> Option<LargeCommunity> {
        let c: &[u8; 12] = self.0.next()?.try_into().ok()?;
        let (a, rest) = c.split_first_chunk::<4>()?;
        let (b, c) = rest.split_first_chunk::<4>()?;
        let c: [u8; 4] = c.try_into().ok()?;
        Some(LargeCommunity::new(
            u32::from_be_bytes(*a),
            u32::from_be_bytes(*b),
            u32::from_be_bytes(c),
        ))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for LargeCommunities<'_> {}

pub(crate) fn emit(out: &mut BytesMut, list: &[LargeCommunity]) {
    super::put_header(
        out,
        Class::OptionalTransitive.flags(),
        code::LARGE_COMMUNITIES,
        list.len() * 12,
    );
    for c in list {
        out.put_u32(c.global);
        out.put_u32(c.local1);
        out.put_u32(c.local2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_iterates_emits() {
        let v = [0xfa, 0x56, 0xea, 0x01, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(check(&v), Ok(()));
        assert_eq!(check(&v[..11]), Err(Fault::Length));
        assert_eq!(check(&[]), Err(Fault::Length));
        let got: Vec<_> = LargeCommunities::new(&v).collect();
        assert_eq!(got, vec![LargeCommunity::new(4_200_000_001, 1, 2)]);
        assert_eq!(got[0].to_string(), "4200000001:1:2");
        assert_eq!("4200000001:1:2".parse(), Ok(got[0]));
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
        let mut out = BytesMut::new();
        emit(&mut out, &got);
        assert_eq!(&out[..3], &[0xc0, 32, 12]);
        assert_eq!(&out[3..], &v);
    }
}
