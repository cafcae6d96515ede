//! CLUSTER_LIST (type 10, optional non-transitive, internal peers only, RFC 4456).
//! From an external peer: attribute discard; from an internal one, length zero or not a
//! multiple of 4: treat-as-withdraw (RFC 7606 §7.10).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;

pub(crate) fn check(v: &[u8]) -> Result<(), Fault> {
    super::check_list(v, 4)
}

/// The cluster IDs of a checked value, in wire order.
#[derive(Clone, Debug)]
pub struct ClusterIds<'a>(std::slice::ChunksExact<'a, u8>);

impl<'a> ClusterIds<'a> {
    pub(crate) fn new(v: &'a [u8]) -> Self {
        ClusterIds(v.chunks_exact(4))
    }
}

impl Iterator for ClusterIds<'_> {
    type Item = Ipv4Addr;
    fn next(&mut self) -> Option<Ipv4Addr> {
        let c: [u8; 4] = self.0.next()?.try_into().ok()?;
        Some(Ipv4Addr::from(c))
    }
}

pub(crate) fn emit(out: &mut BytesMut, list: &[Ipv4Addr]) {
    super::put_header(
        out,
        Class::OptionalNonTransitive.flags(),
        code::CLUSTER_LIST,
        list.len() * 4,
    );
    for id in list {
        out.put_slice(&id.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_iterates_emits() {
        let v = [10, 0, 0, 1, 10, 0, 0, 2];
        assert_eq!(check(&v), Ok(()));
        assert_eq!(check(&v[..5]), Err(Fault::Length));
        assert_eq!(check(&[]), Err(Fault::Length));
        let got: Vec<_> = ClusterIds::new(&v).collect();
        assert_eq!(
            got,
            vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        let mut out = BytesMut::new();
        emit(&mut out, &got);
        assert_eq!(&out[..3], &[0x80, 10, 8]);
        assert_eq!(&out[3..], &v);
    }
}
