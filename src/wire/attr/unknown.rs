//! Attributes peerex does not know (RFC 4271 §5, §9).
//!
//! Optional transitive ones are kept and passed on with the Partial bit set; optional
//! non-transitive ones are dropped quietly; a well-known one peerex does not recognize resets
//! the session with UPDATE Message Error / Unrecognized Well-known Attribute. Registered codes
//! that are checked first or never passed on are sorted out before, in `registered.rs`.

use bytes::{BufMut, Bytes, BytesMut};

use super::flag;

/// An attribute kept as received: flags (Partial set, Extended Length cleared), type, value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RawAttr {
    pub flags: u8,
    pub type_code: u8,
    pub value: Bytes,
}

impl RawAttr {
    /// An unknown optional transitive attribute as peerex passes it on.
    pub fn passthrough(type_code: u8, value: Bytes) -> Self {
        RawAttr {
            flags: flag::OPTIONAL | flag::TRANSITIVE | flag::PARTIAL,
            type_code,
            value,
        }
    }
}

pub(crate) fn emit(out: &mut BytesMut, a: &RawAttr) {
    super::put_header(out, a.flags, a.type_code, a.value.len());
    out.put_slice(&a.value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_sets_partial() {
        let a = RawAttr::passthrough(99, Bytes::from_static(&[1, 2, 3]));
        let mut out = BytesMut::new();
        emit(&mut out, &a);
        assert_eq!(&out[..], &[0xe0, 99, 3, 1, 2, 3]);
    }
}
