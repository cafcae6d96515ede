//! ROUTE-REFRESH messages (RFC 2918) with the RFC 7313 subtypes (BoRR, EoRR).
//!
//! A ROUTE-REFRESH whose body is not 4 octets is answered with ROUTE-REFRESH Message Error /
//! Invalid Message Length carrying the whole message (RFC 7313 §5). An unknown subtype is not
//! an error; the session ignores it.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, Fault};
use super::header::{self, MsgType, HEADER_LEN};
use super::notification::{NotifCode, Notification, RouteRefreshSubcode};
use super::types::{Afi, AfiSafi, Safi};

/// The message subtype (RFC 7313 §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefreshKind {
    /// A plain refresh request.
    Request,
    /// Beginning of a route refresh.
    Begin,
    /// End of a route refresh.
    End,
    /// Reserved or unassigned; to be ignored.
    Other(u8),
}

impl From<u8> for RefreshKind {
    fn from(v: u8) -> Self {
        match v {
            0 => RefreshKind::Request,
            1 => RefreshKind::Begin,
            2 => RefreshKind::End,
            o => RefreshKind::Other(o),
        }
    }
}

impl From<RefreshKind> for u8 {
    fn from(k: RefreshKind) -> u8 {
        match k {
            RefreshKind::Request => 0,
            RefreshKind::Begin => 1,
            RefreshKind::End => 2,
            RefreshKind::Other(o) => o,
        }
    }
}

/// A ROUTE-REFRESH message.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub afi_safi: AfiSafi,
    pub kind: RefreshKind,
}

impl RouteRefresh {
    /// Decodes the whole message (header included).
    pub fn decode(whole: &Bytes) -> Result<RouteRefresh, DecodeError> {
        match whole.get(HEADER_LEN..) {
            Some(&[a, b, kind, safi]) => Ok(RouteRefresh {
                afi_safi: AfiSafi::new(Afi(u16::from_be_bytes([a, b])), Safi(safi)),
                kind: kind.into(),
            }),
            _ => Err(DecodeError::reset(
                Fault::RouteRefreshLength,
                None,
                Notification::new(
                    NotifCode::RouteRefresh(RouteRefreshSubcode::InvalidMessageLength),
                    whole.clone(),
                ),
            )),
        }
    }

    pub fn encode(&self, out: &mut BytesMut) {
        let start = header::begin(out, MsgType::RouteRefresh);
        out.put_u16(self.afi_safi.afi.0);
        out.put_u8(self.kind.into());
        out.put_u8(self.afi_safi.safi.0);
        header::finish(out, start);
    }
}

impl fmt::Display for RouteRefresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            RefreshKind::Request => "request",
            RefreshKind::Begin => "begin",
            RefreshKind::End => "end",
            RefreshKind::Other(_) => "unknown subtype",
        };
        write!(f, "route refresh {k} {}", self.afi_safi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length_error() {
        for kind in [
            RefreshKind::Request,
            RefreshKind::Begin,
            RefreshKind::End,
            RefreshKind::Other(9),
        ] {
            let rr = RouteRefresh {
                afi_safi: AfiSafi::IPV6_UNICAST,
                kind,
            };
            let mut out = BytesMut::new();
            rr.encode(&mut out);
            assert_eq!(out.len(), 23);
            assert_eq!(RouteRefresh::decode(&out.freeze()), Ok(rr));
        }
        let mut m = vec![0xffu8; 16];
        m.extend_from_slice(&[0, 24, 5, 0, 1, 1, 1, 0]);
        let whole = Bytes::from(m);
        let e = RouteRefresh::decode(&whole).unwrap_err();
        assert_eq!(
            e.notification.code,
            NotifCode::RouteRefresh(RouteRefreshSubcode::InvalidMessageLength)
        );
        assert_eq!(e.notification.data, whole);
    }
}
