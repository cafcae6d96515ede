//! ATOMIC_AGGREGATE (type 6, well-known discretionary, RFC 4271 §5.1.6).
//! Malformed (length other than 0): attribute discard (RFC 7606 §7.6).

use bytes::BytesMut;

use super::{code, Class};
use crate::wire::error::Fault;

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    if v.is_empty() {
        Ok(())
    } else {
        Err(Fault::Length)
    }
}

pub(crate) fn emit(out: &mut BytesMut) {
    super::put_header(out, Class::WellKnown.flags(), code::ATOMIC_AGGREGATE, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_emits() {
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&[1]), Err(Fault::Length));
        let mut out = BytesMut::new();
        emit(&mut out);
        assert_eq!(&out[..], &[0x40, 6, 0]);
    }
}
