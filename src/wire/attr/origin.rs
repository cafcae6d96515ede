//! ORIGIN (type 1, well-known mandatory, RFC 4271 §5.1.1).
//! Malformed (length other than 1, value above 2): treat-as-withdraw (RFC 7606 §7.1).

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::code;
use crate::wire::error::Fault;

/// Where the route came from, in preference order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "IGP",
            Origin::Egp => "EGP",
            Origin::Incomplete => "incomplete",
        })
    }
}

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    match v {
        [0..=2] => Ok(()),
        [_] => Err(Fault::Value),
        _ => Err(Fault::Length),
    }
}

pub(crate) fn read(v: &[u8]) -> Option<Origin> {
    match v {
        [0] => Some(Origin::Igp),
        [1] => Some(Origin::Egp),
        [2] => Some(Origin::Incomplete),
        _ => None,
    }
}

pub(crate) fn emit(out: &mut BytesMut, o: Origin) {
    super::put_header(out, super::Class::WellKnown.flags(), code::ORIGIN, 1);
    out.put_u8(o as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_reads() {
        assert_eq!(check(&[0]), Ok(()));
        assert_eq!(check(&[2]), Ok(()));
        assert_eq!(check(&[3]), Err(Fault::Value));
        assert_eq!(check(&[]), Err(Fault::Length));
        assert_eq!(check(&[0, 0]), Err(Fault::Length));
        assert_eq!(read(&[1]), Some(Origin::Egp));
        let mut out = BytesMut::new();
        emit(&mut out, Origin::Incomplete);
        assert_eq!(&out[..], &[0x40, 1, 1, 2]);
    }
}
