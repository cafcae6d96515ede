//! ORIGINATOR_ID (type 9, optional non-transitive, internal peers only, RFC 4456).
//! From an external peer: attribute discard; from an internal one, length other than 4:
//! treat-as-withdraw (RFC 7606 §7.9).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};

pub(crate) use super::check_u32 as check;

pub(crate) fn read(v: &[u8]) -> Option<Ipv4Addr> {
    super::read_u32(v).map(Ipv4Addr::from)
}

pub(crate) fn emit(out: &mut BytesMut, id: Ipv4Addr) {
    super::put_header(
        out,
        Class::OptionalNonTransitive.flags(),
        code::ORIGINATOR_ID,
        4,
    );
    out.put_slice(&id.octets());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::Fault;

    #[test]
    fn checks_reads_emits() {
        assert_eq!(check(&[192, 0, 2, 1]), Ok(()));
        assert_eq!(check(&[]), Err(Fault::Length));
        assert_eq!(read(&[192, 0, 2, 1]), Some(Ipv4Addr::new(192, 0, 2, 1)));
        let mut out = BytesMut::new();
        emit(&mut out, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(&out[..], &[0x80, 9, 4, 10, 0, 0, 1]);
    }
}
