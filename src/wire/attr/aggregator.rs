//! AGGREGATOR (type 7, optional transitive, RFC 4271 §5.1.7) and AS4_AGGREGATOR (type 18,
//! RFC 6793 §3).
//! AGGREGATOR malformed (length not 6 on 2-octet sessions or 8 on 4-octet ones, or AS 0 per
//! RFC 7607): attribute discard (RFC 7606 §7.7). AS4_AGGREGATOR malformed (length not 8, AS 0)
//! or received on a 4-octet session: attribute discard (RFC 6793 §6).

use std::fmt;
use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;
use crate::wire::reader::Reader;
use crate::wire::types::Asn;

/// The AS and router that formed an aggregate.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: Asn,
    pub addr: Ipv4Addr,
}

impl fmt::Display for Aggregator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.asn, self.addr)
    }
}

/// Checks an AGGREGATOR value whose AS is `width` octets (2 or 4).
pub(crate) fn check(v: &[u8], width: usize) -> Result<(), Fault> {
    if v.len() != width + 4 {
        return Err(Fault::Length);
    }
    match read(v, width) {
        Some(a) if a.asn.0 != 0 => Ok(()),
        Some(_) => Err(Fault::AsZero),
        None => Err(Fault::Length),
    }
}

/// Checks an AS4_AGGREGATOR value.
pub(crate) fn check_as4(v: &[u8]) -> Result<(), Fault> {
    check(v, 4)
}

pub(crate) fn read(v: &[u8], width: usize) -> Option<Aggregator> {
    let mut r = Reader::new(v);
    let asn = if width == 4 {
        r.u32()?
    } else {
        u32::from(r.u16()?)
    };
    let addr = Ipv4Addr::from(r.array::<4>()?);
    Some(Aggregator {
        asn: Asn(asn),
        addr,
    })
}

/// Writes AGGREGATOR, and AS4_AGGREGATOR when a 4-octet AS must travel over a 2-octet session.
pub(crate) fn emit(out: &mut BytesMut, agg: Aggregator, four_octet_as: bool) {
    let flags = Class::OptionalTransitive.flags();
    if four_octet_as {
        super::put_header(out, flags, code::AGGREGATOR, 8);
        out.put_u32(agg.asn.0);
    } else {
        super::put_header(out, flags, code::AGGREGATOR, 6);
        out.put_u16(agg.asn.to_16bit());
    }
    out.put_slice(&agg.addr.octets());
    if !four_octet_as && !agg.asn.is_16bit() {
        emit_as4(out, agg);
    }
}

fn emit_as4(out: &mut BytesMut, agg: Aggregator) {
    super::put_header(
        out,
        Class::OptionalTransitive.flags(),
        code::AS4_AGGREGATOR,
        8,
    );
    out.put_u32(agg.asn.0);
    out.put_slice(&agg.addr.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_by_width() {
        assert_eq!(check(&[0xfd, 0xe8, 10, 0, 0, 1], 2), Ok(()));
        assert_eq!(check(&[0xfd, 0xe8, 10, 0, 0, 1], 4), Err(Fault::Length));
        assert_eq!(check(&[0, 0, 0xfd, 0xe8, 10, 0, 0, 1], 4), Ok(()));
        assert_eq!(check(&[0, 0, 10, 0, 0, 1], 2), Err(Fault::AsZero));
        assert_eq!(check_as4(&[0, 0, 0, 0, 10, 0, 0, 1]), Err(Fault::AsZero));
        assert_eq!(
            read(&[0, 0, 0xfd, 0xe8, 10, 0, 0, 1], 4),
            Some(Aggregator {
                asn: Asn(65000),
                addr: Ipv4Addr::new(10, 0, 0, 1)
            })
        );
    }

    #[test]
    fn emits_as4_aggregator_only_when_needed() {
        let big = Aggregator {
            asn: Asn(4_200_000_001),
            addr: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut out = BytesMut::new();
        emit(&mut out, big, false);
        assert_eq!(
            &out[..],
            &[0xc0, 7, 6, 0x5b, 0xa0, 10, 0, 0, 1, 0xc0, 18, 8, 0xfa, 0x56, 0xea, 1, 10, 0, 0, 1]
        );
        let mut out = BytesMut::new();
        emit(&mut out, big, true);
        assert_eq!(&out[..], &[0xc0, 7, 8, 0xfa, 0x56, 0xea, 1, 10, 0, 0, 1]);
        let small = Aggregator {
            asn: Asn(65000),
            addr: Ipv4Addr::new(10, 0, 0, 1),
        };
        let mut out = BytesMut::new();
        emit(&mut out, small, false);
        assert_eq!(out.len(), 9);
    }
}
