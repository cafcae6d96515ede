//! MP_REACH_NLRI (type 14, optional non-transitive, RFC 4760 §3) with RFC 2545 IPv6 next hops
//! (global, optionally followed by link-local) and RFC 7911 path identifiers.
//!
//! Too short to hold AFI/SAFI: session reset. A next-hop length that does not fit the family,
//! or NLRI that do not parse: AFI/SAFI disable (RFC 7606 §7.11, §5.3). A next hop that is not
//! a usable unicast address: treat-as-withdraw. Families peerex does not route are kept raw.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

use super::{code, MpInfo};
use crate::wire::ctx::ParseCtx;
use crate::wire::error::{Action, Fault};
use crate::wire::nlri;
use crate::wire::reader::Reader;
use crate::wire::types::{Afi, AfiSafi, Family, Nlri, Safi};
use crate::wire::Span;

/// The next hop carried in MP_REACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MpNextHop {
    V4(Ipv4Addr),
    /// RFC 2545: a global address, and a link-local one when the sender shares the link.
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// The next hop of a family peerex does not route, as received.
    Raw(Bytes),
}

impl MpNextHop {
    pub(crate) fn encoded_len(&self) -> usize {
        match self {
            MpNextHop::V4(_) => 4,
            MpNextHop::V6 { link_local, .. } => {
                if link_local.is_some() {
                    32
                } else {
                    16
                }
            }
            MpNextHop::Raw(b) => b.len(),
        }
    }

    fn put(&self, out: &mut BytesMut) {
        match self {
            MpNextHop::V4(a) => out.put_slice(&a.octets()),
            MpNextHop::V6 { global, link_local } => {
                out.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.put_slice(&ll.octets());
                }
            }
            MpNextHop::Raw(b) => out.put_slice(b),
        }
    }

    /// Reads a next hop of a routed family; `None` if the length does not fit it.
    pub(crate) fn read(
        family: Option<Family>,
        v: &[u8],
        whole: &Bytes,
        span: Span,
    ) -> Option<Self> {
        match (family, v.len()) {
            (Some(Family::Ipv4Unicast), 4) => {
                Some(MpNextHop::V4(Ipv4Addr::from(*v.first_chunk::<4>()?)))
            }
            (Some(Family::Ipv6Unicast), 16 | 32) => {
                let mut r = Reader::new(v);
                let global = Ipv6Addr::from(r.array::<16>()?);
                let link_local = r.array::<16>().map(Ipv6Addr::from);
                Some(MpNextHop::V6 { global, link_local })
            }
            (None, _) => Some(MpNextHop::Raw(span.bytes(whole))),
            _ => None,
        }
    }
}

impl fmt::Display for MpNextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MpNextHop::V4(a) => a.fmt(f),
            MpNextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
            MpNextHop::V6 { global, .. } => global.fmt(f),
            MpNextHop::Raw(b) => write!(f, "{} octets", b.len()),
        }
    }
}

fn nh_len_fits(family: Family, len: usize) -> bool {
    match family {
        Family::Ipv4Unicast => len == 4,
        Family::Ipv6Unicast => len == 16 || len == 32,
    }
}

fn nh_usable(family: Family, nh: &[u8]) -> bool {
    match family {
        Family::Ipv4Unicast => nh
            .first_chunk::<4>()
            .is_some_and(|b| super::next_hop::usable(Ipv4Addr::from(*b))),
        Family::Ipv6Unicast => nh.first_chunk::<16>().is_some_and(|b| {
            let g = Ipv6Addr::from(*b);
            !(g.is_multicast() || g.is_unspecified() && nh.len() == 16)
        }),
    }
}

/// What a parse of MP_REACH_NLRI found: the index entry, and a non-fatal next-hop fault.
pub(crate) type Parsed = (MpInfo, Option<Fault>);

/// Parses the value at `v`, which starts at offset `base` of the message.
pub(crate) fn parse(
    v: &[u8],
    base: usize,
    ctx: &ParseCtx,
) -> Result<Parsed, (Fault, Action, Option<AfiSafi>)> {
    let mut r = Reader::new(v);
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err((Fault::Truncated, Action::SessionReset, None));
    };
    let afi_safi = AfiSafi::new(Afi(afi), Safi(safi));
    let disable = |f| Err((f, Action::AfiSafiDisable, Some(afi_safi)));
    let Some(nh_len) = r.u8() else {
        return disable(Fault::Truncated);
    };
    let nh_at = base + 4;
    let Some(nh) = r.take(usize::from(nh_len)) else {
        return disable(Fault::Truncated);
    };
    // One reserved octet (formerly the SNPA count); its value is ignored.
    if r.u8().is_none() {
        return disable(Fault::Truncated);
    }
    let nlri_at = base + v.len() - r.remaining();
    let nlri_bytes = r.rest();
    let mut fault = None;
    if let Some(fam) = afi_safi.family() {
        if !nh_len_fits(fam, nh.len()) {
            return disable(Fault::NextHopLength);
        }
        if let Err(f) = nlri::validate(nlri_bytes, fam, ctx.add_path_for(fam)) {
            return disable(f);
        }
        if !nh_usable(fam, nh) {
            fault = Some(Fault::NextHop);
        }
    }
    Ok((
        MpInfo {
            afi_safi,
            next_hop: Span::new(nh_at, nh.len()),
            nlri: Span::new(nlri_at, nlri_bytes.len()),
        },
        fault,
    ))
}

/// An owned MP_REACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi_safi: AfiSafi,
    pub next_hop: MpNextHop,
    /// The announced prefixes (routed families).
    pub nlri: Vec<Nlri>,
    /// The NLRI octets of a family peerex does not route, as received.
    pub other: Bytes,
}

impl MpReach {
    pub fn new(family: Family, next_hop: MpNextHop, nlri: Vec<Nlri>) -> Self {
        MpReach {
            afi_safi: family.afi_safi(),
            next_hop,
            nlri,
            other: Bytes::new(),
        }
    }
}

/// Writes the attribute header and the fixed part (AFI, SAFI, next hop, reserved) of an
/// MP_REACH_NLRI whose prefixes the caller appends; finish with `attr::end_extended`.
pub(crate) fn begin(out: &mut BytesMut, afi_safi: AfiSafi, nh: &MpNextHop) -> usize {
    let at = super::begin_extended(out, code::MP_REACH_NLRI);
    put_fixed(out, afi_safi, nh);
    at
}

fn put_fixed(out: &mut BytesMut, afi_safi: AfiSafi, nh: &MpNextHop) {
    out.put_u16(afi_safi.afi.0);
    out.put_u8(afi_safi.safi.0);
    out.put_u8(nh.encoded_len().min(255) as u8);
    nh.put(out);
    out.put_u8(0);
}

pub(crate) fn emit(out: &mut BytesMut, mp: &MpReach, ctx: &ParseCtx) {
    let add_path = mp.afi_safi.family().is_some_and(|f| ctx.add_path_for(f));
    let len = 5
        + mp.next_hop.encoded_len()
        + mp.nlri
            .iter()
            .map(|n| nlri::encoded_len(n, add_path))
            .sum::<usize>()
        + mp.other.len();
    super::put_header(
        out,
        super::Class::OptionalNonTransitive.flags(),
        code::MP_REACH_NLRI,
        len,
    );
    put_fixed(out, mp.afi_safi, &mp.next_hop);
    for n in &mp.nlri {
        nlri::put(out, n, add_path);
    }
    out.put_slice(&mp.other);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_reach(nh_len: u8) -> Vec<u8> {
        let mut v = vec![0, 2, 1, nh_len];
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        if nh_len == 32 {
            v.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        }
        v.push(0);
        v.extend_from_slice(&[32, 0x20, 0x01, 0x0d, 0xb8]);
        v
    }

    #[test]
    fn parses_ipv6_with_and_without_link_local() {
        let ctx = ParseCtx::new();
        for nh_len in [16u8, 32] {
            let v = v6_reach(nh_len);
            let (info, fault) = parse(&v, 100, &ctx).unwrap();
            assert_eq!(fault, None);
            assert_eq!(info.afi_safi, AfiSafi::IPV6_UNICAST);
            assert_eq!(info.next_hop, Span::new(104, usize::from(nh_len)));
            assert_eq!(info.nlri.len(), 5);
            let whole = Bytes::from(v.clone());
            let nh_bytes = &v[4..4 + usize::from(nh_len)];
            let nh = MpNextHop::read(
                Some(Family::Ipv6Unicast),
                nh_bytes,
                &whole,
                Span::new(4, nh_bytes.len()),
            )
            .unwrap();
            let MpNextHop::V6 { link_local, .. } = nh else {
                panic!()
            };
            assert_eq!(link_local.is_some(), nh_len == 32);
        }
    }

    #[test]
    fn faults_and_actions() {
        let ctx = ParseCtx::new();
        assert_eq!(parse(&[0, 2], 0, &ctx).unwrap_err().1, Action::SessionReset);
        let mut bad_nh = v6_reach(16);
        bad_nh[3] = 12;
        let e = parse(&bad_nh, 0, &ctx).unwrap_err();
        assert_eq!((e.0, e.1), (Fault::NextHopLength, Action::AfiSafiDisable));
        assert_eq!(e.2, Some(AfiSafi::IPV6_UNICAST));
        let mut bad_prefix = v6_reach(16);
        let n = bad_prefix.len();
        bad_prefix[n - 5] = 129;
        assert_eq!(
            parse(&bad_prefix, 0, &ctx).unwrap_err().0,
            Fault::PrefixLength
        );
        // A multicast next hop is a treat-as-withdraw fault, not a parse failure.
        let mut mc = v6_reach(16);
        mc[4] = 0xff;
        assert_eq!(parse(&mc, 0, &ctx).unwrap().1, Some(Fault::NextHop));
        // Unknown families are not looked into.
        let other = [0, 1, 128, 3, 1, 2, 3, 0, 9, 9, 9];
        assert!(parse(&other, 0, &ctx).is_ok());
    }

    #[test]
    fn emit_and_begin_agree() {
        let ctx = ParseCtx::new();
        let mp = MpReach::new(
            Family::Ipv6Unicast,
            MpNextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            vec![Nlri::new("2001:db8::/32".parse().unwrap())],
        );
        let mut a = BytesMut::new();
        emit(&mut a, &mp, &ctx);
        assert_eq!(&a[..3], &[0x80, 14, 26]);
        assert_eq!(&a[3..], &v6_reach(16)[..]);
        let mut b = BytesMut::new();
        let at = begin(&mut b, mp.afi_safi, &mp.next_hop);
        nlri::put(&mut b, &mp.nlri[0], false);
        super::super::end_extended(&mut b, at);
        assert_eq!(&b[..4], &[0x90, 14, 0, 26]);
        assert_eq!(&b[4..], &a[3..]);
    }
}
