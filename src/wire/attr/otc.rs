//! OTC, Only To Customer (type 35, optional transitive, RFC 9234 §5).
//! Malformed (length other than 4): treat-as-withdraw (RFC 9234 §5).

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::types::Asn;

pub(crate) use super::check_u32 as check;

pub(crate) fn read(v: &[u8]) -> Option<Asn> {
    super::read_u32(v).map(Asn)
}

pub(crate) fn emit(out: &mut BytesMut, asn: Asn) {
    super::put_header(out, Class::OptionalTransitive.flags(), code::OTC, 4);
    out.put_u32(asn.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::Fault;

    #[test]
    fn checks_reads_emits() {
        assert_eq!(check(&[0, 0, 0xfd, 0xe8]), Ok(()));
        assert_eq!(check(&[0, 0xfd, 0xe8]), Err(Fault::Length));
        assert_eq!(read(&[0, 0, 0xfd, 0xe8]), Some(Asn(65000)));
        let mut out = BytesMut::new();
        emit(&mut out, Asn(65000));
        assert_eq!(&out[..], &[0xc0, 35, 4, 0, 0, 0xfd, 0xe8]);
    }
}
