//! MP_UNREACH_NLRI (type 15, optional non-transitive, RFC 4760 §4); also the End-of-RIB
//! marker of non-IPv4 families (RFC 4724 §2: an UPDATE holding only an empty MP_UNREACH_NLRI).
//!
//! Too short to hold AFI/SAFI: session reset. NLRI that do not parse: AFI/SAFI disable
//! (RFC 7606 §5.3).

use bytes::{BufMut, Bytes, BytesMut};

use super::{code, MpInfo};
use crate::wire::ctx::ParseCtx;
use crate::wire::error::{Action, Fault};
use crate::wire::nlri;
use crate::wire::reader::Reader;
use crate::wire::types::{Afi, AfiSafi, Family, Nlri, Safi};
use crate::wire::Span;

pub(crate) fn parse(
    v: &[u8],
    base: usize,
    ctx: &ParseCtx,
) -> Result<MpInfo, (Fault, Action, Option<AfiSafi>)> {
    let mut r = Reader::new(v);
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err((Fault::Truncated, Action::SessionReset, None));
    };
    let afi_safi = AfiSafi::new(Afi(afi), Safi(safi));
    let rest = r.rest();
    if let Some(fam) = afi_safi.family() {
        if let Err(f) = nlri::validate(rest, fam, ctx.add_path_for(fam)) {
            return Err((f, Action::AfiSafiDisable, Some(afi_safi)));
        }
    }
    Ok(MpInfo {
        afi_safi,
        next_hop: Span::new(base + 3, 0),
        nlri: Span::new(base + 3, rest.len()),
    })
}

/// An owned MP_UNREACH_NLRI.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi_safi: AfiSafi,
    /// The withdrawn prefixes (routed families).
    pub nlri: Vec<Nlri>,
    /// The NLRI octets of a family peerex does not route, as received.
    pub other: Bytes,
}

impl MpUnreach {
    pub fn new(family: Family, nlri: Vec<Nlri>) -> Self {
        MpUnreach {
            afi_safi: family.afi_safi(),
            nlri,
            other: Bytes::new(),
        }
    }
}

/// Writes the header and AFI/SAFI of an MP_UNREACH_NLRI whose prefixes the caller appends;
/// finish with `attr::end_extended`.
pub(crate) fn begin(out: &mut BytesMut, afi_safi: AfiSafi) -> usize {
    let at = super::begin_extended(out, code::MP_UNREACH_NLRI);
    out.put_u16(afi_safi.afi.0);
    out.put_u8(afi_safi.safi.0);
    at
}

pub(crate) fn emit(out: &mut BytesMut, mp: &MpUnreach, ctx: &ParseCtx) {
    let add_path = mp.afi_safi.family().is_some_and(|f| ctx.add_path_for(f));
    let len = 3
        + mp.nlri
            .iter()
            .map(|n| nlri::encoded_len(n, add_path))
            .sum::<usize>()
        + mp.other.len();
    super::put_header(
        out,
        super::Class::OptionalNonTransitive.flags(),
        code::MP_UNREACH_NLRI,
        len,
    );
    out.put_u16(mp.afi_safi.afi.0);
    out.put_u8(mp.afi_safi.safi.0);
    for n in &mp.nlri {
        nlri::put(out, n, add_path);
    }
    out.put_slice(&mp.other);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_emits() {
        let ctx = ParseCtx::new();
        let v = [0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8];
        let info = parse(&v, 10, &ctx).unwrap();
        assert_eq!(info.afi_safi, AfiSafi::IPV6_UNICAST);
        assert_eq!(info.nlri, Span::new(13, 5));
        assert_eq!(parse(&[0, 2], 0, &ctx).unwrap_err().1, Action::SessionReset);
        let e = parse(&[0, 2, 1, 200], 0, &ctx).unwrap_err();
        assert_eq!((e.0, e.1), (Fault::PrefixLength, Action::AfiSafiDisable));
        let mp = MpUnreach::new(
            Family::Ipv6Unicast,
            vec![Nlri::new("2001:db8::/32".parse().unwrap())],
        );
        let mut out = BytesMut::new();
        emit(&mut out, &mp, &ctx);
        assert_eq!(&out[..3], &[0x80, 15, 8]);
        assert_eq!(&out[3..], &v);
        // End-of-RIB body: AFI/SAFI only.
        let eor = MpUnreach::new(Family::Ipv6Unicast, vec![]);
        let mut out = BytesMut::new();
        emit(&mut out, &eor, &ctx);
        assert_eq!(&out[..], &[0x80, 15, 3, 0, 2, 1]);
    }
}
