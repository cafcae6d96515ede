//! EXTENDED_COMMUNITIES (type 16, optional transitive, RFC 4360).
//! Malformed (length zero or not a multiple of 8): treat-as-withdraw (RFC 7606 §7.14).
//! Values are passed through as 8 opaque octets; the type octet is exposed for policy.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;

/// One extended community, eight octets in wire order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl ExtCommunity {
    /// The type octet (high) and sub-type octet.
    pub const fn kind(self) -> (u8, u8) {
        (self.0[0], self.0[1])
    }
    /// True when the IANA authority bit marks it non-transitive across ASes.
    pub const fn is_non_transitive(self) -> bool {
        self.0[0] & 0x40 != 0
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match (b[0] & 0x3f, b[1]) {
            // Two-octet AS specific route target / route origin.
            (0x00, sub @ (0x02 | 0x03)) => write!(
                f,
                "{}:{}:{}",
                if sub == 2 { "rt" } else { "ro" },
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]])
            ),
            _ => {
                f.write_str("0x")?;
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
        }
    }
}

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    super::check_list(v, 8)
}

/// The extended communities of a checked value, in wire order.
#[derive(Clone, Debug)]
pub struct ExtCommunities<'a>(std::slice::ChunksExact<'a, u8>);

impl<'a> ExtCommunities<'a> {
    pub(crate) fn new(v: &'a [u8]) -> Self {
        ExtCommunities(v.chunks_exact(8))
    }
}

impl Iterator for ExtCommunities<'_> {
    type Item = ExtCommunity;
    #[inline]
    fn next(&mut self) -> Option<ExtCommunity> {
        Some(ExtCommunity(self.0.next()?.try_into().ok()?))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for ExtCommunities<'_> {}

pub(crate) fn emit(out: &mut BytesMut, list: &[ExtCommunity]) {
    super::put_header(
        out,
        Class::OptionalTransitive.flags(),
        code::EXTENDED_COMMUNITIES,
        list.len() * 8,
    );
    for c in list {
        out.put_slice(&c.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_iterates_emits() {
        let v = [0, 2, 0xfd, 0xe8, 0, 0, 0, 1, 0x43, 3, 0, 0, 0, 0, 0, 9];
        assert_eq!(check(&v), Ok(()));
        assert_eq!(check(&v[..7]), Err(Fault::Length));
        assert_eq!(check(&[]), Err(Fault::Length));
        let got: Vec<_> = ExtCommunities::new(&v).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].to_string(), "rt:65000:1");
        assert!(got[1].is_non_transitive());
        assert_eq!(got[1].to_string(), "0x4303000000000009");
        let mut out = BytesMut::new();
        emit(&mut out, &got);
        assert_eq!(&out[..3], &[0xc0, 16, 16]);
        assert_eq!(&out[3..], &v);
    }
}
