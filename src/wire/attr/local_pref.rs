//! LOCAL_PREF (type 5, well-known, internal peers only, RFC 4271 §5.1.5).
//! From an external peer: attribute discard; from an internal one, length other than 4:
//! treat-as-withdraw (RFC 7606 §7.5). A route server never sends it to external clients.

use bytes::{BufMut, BytesMut};

use super::{code, Class};

pub(crate) use super::check_u32 as check;
pub(crate) use super::read_u32 as read;

pub(crate) fn emit(out: &mut BytesMut, pref: u32) {
    super::put_header(out, Class::WellKnown.flags(), code::LOCAL_PREF, 4);
    out.put_u32(pref);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::Fault;

    #[test]
    fn checks_reads_emits() {
        assert_eq!(check(&[0, 0, 0, 100]), Ok(()));
        assert_eq!(check(&[0, 0, 0, 0, 100]), Err(Fault::Length));
        assert_eq!(read(&[0, 0, 0, 100]), Some(100));
        let mut out = BytesMut::new();
        emit(&mut out, 100);
        assert_eq!(&out[..], &[0x40, 5, 4, 0, 0, 0, 100]);
    }
}
