//! Prefix lists as they appear in the NLRI and Withdrawn Routes fields and in MP_(UN)REACH_NLRI
//! (RFC 4271 §4.3, RFC 4760, RFC 7911 path identifiers).
//!
//! Owns: validation of a prefix list (once), the allocation-free iterator over a validated list,
//! and prefix encoding. Never: deciding what a bad list means for the session.

use bytes::{BufMut, BytesMut};

use super::error::Fault;
use super::reader::Reader;
use super::types::{Family, Nlri, PathId, Prefix, Prefix4, Prefix6};

/// Checks that `buf` is a well-formed list of `family` prefixes and returns how many it holds.
pub(crate) fn validate(buf: &[u8], family: Family, add_path: bool) -> Result<usize, Fault> {
    let max = family.max_len();
    let id_len = if add_path { 4 } else { 0 };
    let mut rest = buf;
    let mut count = 0;
    while !rest.is_empty() {
        let after_id = rest.get(id_len..).ok_or(Fault::NlriOverrun)?;
        let (&len, bits) = after_id.split_first().ok_or(Fault::NlriOverrun)?;
        if len > max {
            return Err(Fault::PrefixLength);
        }
        let n = usize::from(len).div_ceil(8);
        rest = bits.get(n..).ok_or(Fault::NlriOverrun)?;
        count += 1;
    }
    Ok(count)
}

/// Iterates a prefix list that [`validate`] accepted. Allocates nothing; on bytes that were
/// not validated it stops early instead of panicking.
#[derive(Clone, Debug)]
pub struct NlriIter<'a> {
    rest: &'a [u8],
    family: Family,
    add_path: bool,
}

impl<'a> NlriIter<'a> {
    pub(crate) const fn new(buf: &'a [u8], family: Family, add_path: bool) -> Self {
        NlriIter {
            rest: buf,
            family,
            add_path,
        }
    }

    pub(crate) const fn empty(family: Family) -> Self {
        NlriIter::new(&[], family, false)
    }

    /// The family of the prefixes.
    pub fn family(&self) -> Family {
        self.family
    }

    /// True when no prefix remains.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        let mut r = Reader::new(self.rest);
        let path_id = if self.add_path {
            Some(PathId(r.u32()?))
        } else {
            None
        };
        let len = r.u8()?;
        let n = usize::from(len).div_ceil(8);
        let tail = r.rest();
        // Read a whole address where the buffer allows it: the octets past the prefix belong
        // to what follows, and the constructors clear them with the host bits. Only the last
        // prefixes of a field take the octet-by-octet path. Either way no `memcpy` call.
        let prefix = match self.family {
            Family::Ipv4Unicast => {
                let a = match tail.first_chunk::<4>() {
                    Some(b) => u32::from_be_bytes(*b),
                    None => left_aligned(tail.get(..n)?, 32)? as u32,
                };
                Prefix::V4(Prefix4::new(a, len)?)
            }
            Family::Ipv6Unicast => {
                let a = match tail.first_chunk::<16>() {
                    Some(b) => u128::from_be_bytes(*b),
                    None => left_aligned(tail.get(..n)?, 128)?,
                };
                Prefix::V6(Prefix6::new(a, len)?)
            }
        };
        self.rest = tail.get(n..)?;
        Some(Nlri { path_id, prefix })
    }
}

/// `v`, the leading octets of an address, left-aligned in an address of `bits` bits (32 or
/// 128); `None` if it holds more octets than the address.
#[inline]
fn left_aligned(v: &[u8], bits: u32) -> Option<u128> {
    let shift = bits.checked_sub(8 * u32::try_from(v.len()).ok()?)?;
    let acc = v.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
    Some(acc.checked_shl(shift).unwrap_or(0))
}

/// Octets `nlri` takes when encoded.
pub fn encoded_len(nlri: &Nlri, add_path: bool) -> usize {
    let id = if add_path { 4 } else { 0 };
    id + 1 + usize::from(nlri.prefix.length()).div_ceil(8)
}

/// Appends one prefix. With `add_path` the path identifier (0 when the entry has none) comes
/// first; without it any identifier is left out.
pub fn put(out: &mut BytesMut, nlri: &Nlri, add_path: bool) {
    if add_path {
        out.put_u32(nlri.path_id.unwrap_or_default().0);
    }
    let len = nlri.prefix.length();
    let n = usize::from(len).div_ceil(8);
    out.put_u8(len);
    match nlri.prefix {
        Prefix::V4(p) => out.put_slice(p.addr_bits().to_be_bytes().get(..n).unwrap_or_default()),
        Prefix::V6(p) => out.put_slice(p.addr_bits().to_be_bytes().get(..n).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_list_validates_and_iterates() {
        let buf = [24, 10, 1, 2, 0, 8, 10, 32, 192, 0, 2, 1];
        assert_eq!(validate(&buf, Family::Ipv4Unicast, false), Ok(4));
        let got: Vec<Prefix> = NlriIter::new(&buf, Family::Ipv4Unicast, false)
            .map(|n| n.prefix)
            .collect();
        assert_eq!(
            got,
            vec![
                p("10.1.2.0/24"),
                p("0.0.0.0/0"),
                p("10.0.0.0/8"),
                p("192.0.2.1/32")
            ]
        );
    }

    #[test]
    fn host_bits_are_masked() {
        let buf = [23, 10, 1, 3];
        let n = NlriIter::new(&buf, Family::Ipv4Unicast, false)
            .next()
            .unwrap();
        assert_eq!(n.prefix, p("10.1.2.0/23"));
    }

    #[test]
    fn faults() {
        assert_eq!(
            validate(&[33, 1, 2, 3, 4, 5], Family::Ipv4Unicast, false),
            Err(Fault::PrefixLength)
        );
        assert_eq!(
            validate(&[24, 10, 1], Family::Ipv4Unicast, false),
            Err(Fault::NlriOverrun)
        );
        assert_eq!(
            validate(&[129], Family::Ipv6Unicast, false),
            Err(Fault::PrefixLength)
        );
        assert_eq!(
            validate(&[0, 0, 0], Family::Ipv4Unicast, true),
            Err(Fault::NlriOverrun)
        );
        // 128 is fine for IPv6, and needs all 16 octets.
        let mut v6 = vec![128];
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(validate(&v6, Family::Ipv6Unicast, false), Ok(1));
        assert_eq!(
            validate(v6.get(..16).unwrap(), Family::Ipv6Unicast, false),
            Err(Fault::NlriOverrun)
        );
    }

    #[test]
    fn add_path_ids_and_encoding_round_trip() {
        let list = [
            Nlri::with_path_id(p("10.0.0.0/8"), 1),
            Nlri::with_path_id(p("2001:db8::/33"), 7),
        ];
        for add_path in [false, true] {
            for n in list {
                let mut out = BytesMut::new();
                put(&mut out, &n, add_path);
                assert_eq!(out.len(), encoded_len(&n, add_path));
                let fam = n.prefix.family();
                assert_eq!(validate(&out, fam, add_path), Ok(1));
                let back = NlriIter::new(&out, fam, add_path).next().unwrap();
                let want = if add_path { n } else { Nlri::new(n.prefix) };
                assert_eq!(back, want);
            }
        }
    }

    #[test]
    fn iterator_never_panics_on_unvalidated_bytes() {
        for buf in [&[200u8][..], &[32, 1], &[0xff, 0xff, 0xff]] {
            let _ = NlriIter::new(buf, Family::Ipv4Unicast, false).count();
            let _ = NlriIter::new(buf, Family::Ipv6Unicast, true).count();
        }
    }
}
