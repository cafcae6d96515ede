//! MULTI_EXIT_DISC (type 4, optional non-transitive, RFC 4271 §5.1.4).
//! Malformed (length other than 4): treat-as-withdraw (RFC 7606 §7.4).

use bytes::{BufMut, BytesMut};

use super::{code, Class};

pub(crate) use super::check_u32 as check;
pub(crate) use super::read_u32 as read;

pub(crate) fn emit(out: &mut BytesMut, med: u32) {
    super::put_header(
        out,
        Class::OptionalNonTransitive.flags(),
        code::MULTI_EXIT_DISC,
        4,
    );
    out.put_u32(med);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::Fault;

    #[test]
    fn checks_reads_emits() {
        assert_eq!(check(&[0, 0, 0, 5]), Ok(()));
        assert_eq!(check(&[0, 0, 5]), Err(Fault::Length));
        assert_eq!(read(&[0, 0, 1, 0]), Some(256));
        let mut out = BytesMut::new();
        emit(&mut out, 7);
        assert_eq!(&out[..], &[0x80, 4, 4, 0, 0, 0, 7]);
    }
}
