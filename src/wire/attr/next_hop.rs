//! NEXT_HOP (type 3, well-known, mandatory with IPv4 NLRI in the classic field, RFC 4271 §5.1.3).
//! Length other than 4: treat-as-withdraw (RFC 7606 §7.3). A next hop that is not a unicast
//! host address (0.0.0.0, class D/E, broadcast) is semantically wrong: the routes are ignored
//! (RFC 4271 §6.3), i.e. treat-as-withdraw.

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    let b = v
        .first_chunk::<4>()
        .filter(|_| v.len() == 4)
        .ok_or(Fault::Length)?;
    if usable(Ipv4Addr::from(*b)) {
        Ok(())
    } else {
        Err(Fault::NextHop)
    }
}

/// True for an address that can be a next hop.
pub(crate) fn usable(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.octets()[0] >= 240)
}

pub(crate) fn read(v: &[u8]) -> Option<Ipv4Addr> {
    super::read_u32(v).map(Ipv4Addr::from)
}

pub(crate) fn emit(out: &mut BytesMut, nh: Ipv4Addr) {
    super::put_header(out, Class::WellKnown.flags(), code::NEXT_HOP, 4);
    out.put_slice(&nh.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_reads_emits() {
        assert_eq!(check(&[192, 0, 2, 1]), Ok(()));
        assert_eq!(check(&[127, 0, 0, 2]), Ok(()));
        assert_eq!(check(&[192, 0, 2]), Err(Fault::Length));
        assert_eq!(check(&[0, 0, 0, 0]), Err(Fault::NextHop));
        assert_eq!(check(&[224, 0, 0, 5]), Err(Fault::NextHop));
        assert_eq!(check(&[255, 255, 255, 255]), Err(Fault::NextHop));
        assert_eq!(check(&[240, 0, 0, 1]), Err(Fault::NextHop));
        assert_eq!(read(&[10, 0, 0, 1]), Some(Ipv4Addr::new(10, 0, 0, 1)));
        let mut out = BytesMut::new();
        emit(&mut out, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(&out[..], &[0x40, 3, 4, 10, 0, 0, 1]);
    }
}
