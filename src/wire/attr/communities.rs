//! COMMUNITIES (type 8, optional transitive, RFC 1997).
//! Malformed (length zero or not a multiple of 4): treat-as-withdraw (RFC 7606 §7.8).

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;

/// A standard community, `ASN:value` in 16 + 16 bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    /// RFC 8326 graceful shutdown, 65535:0.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);
    /// RFC 7999 blackhole, 65535:666.
    pub const BLACKHOLE: Community = Community(0xffff_029a);
    /// RFC 9494 LLGR_STALE, 65535:6: a route kept past its peer's loss (long-lived stale).
    pub const LLGR_STALE: Community = Community(0xffff_0006);
    /// RFC 9494 NO_LLGR, 65535:7: do not keep this route as long-lived stale.
    pub const NO_LLGR: Community = Community(0xffff_0007);

    pub const fn new(high: u16, low: u16) -> Self {
        Community(((high as u32) << 16) | low as u32)
    }
    pub const fn high(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub const fn low(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.high(), self.low())
    }
}

impl FromStr for Community {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (a, b) = s.split_once(':').ok_or(())?;
        Ok(Community::new(
            a.trim().parse().map_err(|_| ())?,
            b.trim().parse().map_err(|_| ())?,
        ))
    }
}

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    super::check_list(v, 4)
}

/// The communities of a checked value, in wire order.
#[derive(Clone, Debug)]
pub struct Communities<'a>(std::slice::ChunksExact<'a, u8>);

impl<'a> Communities<'a> {
    pub(crate) fn new(v: &'a [u8]) -> Self {
        Communities(v.chunks_exact(4))
    }
}

impl Iterator for Communities<'_> {
    type Item = Community;
    #[inline]
    fn next(&mut self) -> Option<Community> {
        let c = self.0.next()?;
        Some(Community(u32::from_be_bytes(c.try_into().ok()?)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Communities<'_> {}

pub(crate) fn emit(out: &mut BytesMut, list: &[Community]) {
    super::put_header(
        out,
        Class::OptionalTransitive.flags(),
        code::COMMUNITIES,
        list.len() * 4,
    );
    for c in list {
        out.put_u32(c.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_iterates_emits() {
        assert_eq!(check(&[0, 1, 0, 2]), Ok(()));
        assert_eq!(check(&[]), Err(Fault::Length));
        assert_eq!(check(&[0, 1, 0]), Err(Fault::Length));
        let v = [0xfd, 0xe8, 0, 1, 0xff, 0xff, 0xff, 0x01];
        let got: Vec<_> = Communities::new(&v).collect();
        assert_eq!(got, vec![Community::new(65000, 1), Community::NO_EXPORT]);
        assert_eq!(got[0].to_string(), "65000:1");
        assert_eq!("65535:666".parse(), Ok(Community::BLACKHOLE));
        let mut out = BytesMut::new();
        emit(&mut out, &got);
        assert_eq!(&out[..3], &[0xc0, 8, 8]);
        assert_eq!(&out[3..], &v);
    }
}
