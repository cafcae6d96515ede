//! OPEN messages (RFC 4271 §4.2) with capabilities in optional parameters (RFC 5492), in the
//! classic one-octet form or the RFC 9072 extended form.
//!
//! Owns: syntax (version 4, parameter framing, capability values). Never: negotiation or the
//! semantic checks that need configuration (peer AS, hold time, BGP identifier).

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use super::capability::Capability;
use super::error::{DecodeError, Fault};
use super::header::{self, MsgType, HEADER_LEN};
use super::notification::{NotifCode, Notification, OpenSubcode};
use super::reader::Reader;
use super::types::Asn;

/// Optional parameter type for capabilities (RFC 5492).
const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: a Non-Extended Optional Parameters Length / type of 255 announces the
/// extended form.
const EXTENDED_MARK: u8 = 255;

/// An OPEN message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    /// The My Autonomous System field (AS_TRANS when the real ASN needs 4 octets).
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Every capability, in the order received.
    pub capabilities: Vec<Capability>,
}

fn open_error(sub: OpenSubcode, fault: Fault, data: Vec<u8>) -> DecodeError {
    DecodeError::reset(fault, None, Notification::new(NotifCode::Open(sub), data))
}

impl Open {
    /// The speaker's ASN: from the 4-octet AS capability when present, else the header field.
    pub fn asn(&self) -> Asn {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(Asn(u32::from(self.my_as)))
    }

    /// An OPEN for `asn`, putting AS_TRANS in the 2-octet field when needed.
    pub fn new(asn: Asn, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        Open {
            my_as: asn.to_16bit(),
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// Decodes the whole message (header included; the header was checked by the caller).
    pub fn decode(whole: &Bytes) -> Result<Open, DecodeError> {
        let body = whole.slice(HEADER_LEN.min(whole.len())..);
        let mut r = Reader::new(&body);
        let unspecific = || open_error(OpenSubcode::Unspecific, Fault::Truncated, Vec::new());
        let version = r.u8().ok_or_else(unspecific)?;
        if version != 4 {
            return Err(open_error(
                OpenSubcode::UnsupportedVersion,
                Fault::Version,
                vec![0, 4],
            ));
        }
        let my_as = r.u16().ok_or_else(unspecific)?;
        let hold_time = r.u16().ok_or_else(unspecific)?;
        let bgp_id = Ipv4Addr::from(r.array::<4>().ok_or_else(unspecific)?);
        let short_len = r.u8().ok_or_else(unspecific)?;
        let extended = short_len == EXTENDED_MARK && r.rest().first() == Some(&EXTENDED_MARK);
        let params_len = if extended {
            r.u8();
            usize::from(r.u16().ok_or_else(unspecific)?)
        } else {
            usize::from(short_len)
        };
        if params_len != r.remaining() {
            return Err(unspecific());
        }
        let mut capabilities = Vec::new();
        while !r.is_empty() {
            let ptype = r.u8().ok_or_else(unspecific)?;
            let plen = if extended {
                usize::from(r.u16().ok_or_else(unspecific)?)
            } else {
                usize::from(r.u8().ok_or_else(unspecific)?)
            };
            let at = body.len() - r.remaining();
            r.take(plen).ok_or_else(unspecific)?;
            if ptype != PARAM_CAPABILITIES {
                return Err(open_error(
                    OpenSubcode::UnsupportedOptionalParameter,
                    Fault::OptionalParameter,
                    Vec::new(),
                ));
            }
            decode_caps(&body.slice(at..at + plen), &mut capabilities)?;
        }
        Ok(Open {
            my_as,
            hold_time,
            bgp_id,
            capabilities,
        })
    }

    /// Appends the whole message. Capabilities go in one parameter, in the RFC 9072 extended
    /// form only when they do not fit 255 octets.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = header::begin(out, MsgType::Open);
        out.put_u8(4);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        let caps_len: usize = self.capabilities.iter().map(|c| c.encoded_len()).sum();
        if self.capabilities.is_empty() {
            out.put_u8(0);
        } else if caps_len + 2 <= 255 {
            out.put_u8((caps_len + 2) as u8);
            out.put_u8(PARAM_CAPABILITIES);
            out.put_u8(caps_len as u8);
        } else {
            out.put_u8(EXTENDED_MARK);
            out.put_u8(EXTENDED_MARK);
            out.put_u16((caps_len + 3).min(usize::from(u16::MAX)) as u16);
            out.put_u8(PARAM_CAPABILITIES);
            out.put_u16(caps_len.min(usize::from(u16::MAX)) as u16);
        }
        for c in &self.capabilities {
            c.encode(out);
        }
        header::finish(out, start);
    }
}

fn decode_caps(param: &Bytes, caps: &mut Vec<Capability>) -> Result<(), DecodeError> {
    let mut r = Reader::new(param);
    let bad = || open_error(OpenSubcode::Unspecific, Fault::Capability, Vec::new());
    while !r.is_empty() {
        let code = r.u8().ok_or_else(bad)?;
        let len = usize::from(r.u8().ok_or_else(bad)?);
        let at = param.len() - r.remaining();
        r.take(len).ok_or_else(bad)?;
        let cap = Capability::decode(code, param.slice(at..at + len)).map_err(|_| bad())?;
        caps.push(cap);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::capability::{AddPathEntry, GracefulRestart};
    use crate::wire::types::AfiSafi;

    fn sample() -> Open {
        Open::new(
            Asn(4_200_000_001),
            90,
            Ipv4Addr::new(192, 0, 2, 1),
            vec![
                Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
                Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::FourOctetAs(Asn(4_200_000_001)),
                Capability::AddPath(vec![AddPathEntry {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    send_receive: 3,
                }]),
            ],
        )
    }

    #[test]
    fn round_trip_and_asn() {
        let o = sample();
        assert_eq!(o.my_as, 23456);
        assert_eq!(o.asn(), Asn(4_200_000_001));
        let mut out = BytesMut::new();
        o.encode(&mut out);
        let whole = out.freeze();
        assert_eq!(
            header::check(&whole, 4096).unwrap().unwrap().len,
            whole.len()
        );
        assert_eq!(Open::decode(&whole).unwrap(), o);
    }

    #[test]
    fn extended_parameters_rfc9072() {
        let mut o = sample();
        for i in 0..70 {
            o.capabilities
                .push(Capability::GracefulRestart(GracefulRestart {
                    flags: 0,
                    time: i,
                    families: vec![],
                }));
        }
        let mut out = BytesMut::new();
        o.encode(&mut out);
        assert_eq!(&out[28..30], &[255, 255]);
        assert_eq!(Open::decode(&out.freeze()).unwrap(), o);
    }

    #[test]
    fn several_capability_parameters_are_merged() {
        // version 4, AS 65001, hold 90, id 1.2.3.4, two params each with one capability.
        let mut m = vec![0xffu8; 16];
        m.extend_from_slice(&[0, 0, 1, 4, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 8]);
        m.extend_from_slice(&[2, 2, 2, 0, 2, 2, 70, 0]);
        let len = m.len() as u16;
        m[16..18].copy_from_slice(&len.to_be_bytes());
        let o = Open::decode(&Bytes::from(m)).unwrap();
        assert_eq!(
            o.capabilities,
            vec![Capability::RouteRefresh, Capability::EnhancedRouteRefresh]
        );
        assert_eq!(o.asn(), Asn(65001));
    }

    fn raw_open(tail: &[u8]) -> Bytes {
        let mut m = vec![0xffu8; 16];
        m.extend_from_slice(&[0, 0, 1]);
        m.extend_from_slice(tail);
        let len = m.len() as u16;
        m[16..18].copy_from_slice(&len.to_be_bytes());
        Bytes::from(m)
    }

    #[test]
    fn errors_carry_open_notifications() {
        let e = Open::decode(&raw_open(&[3, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 0])).unwrap_err();
        assert_eq!(
            e.notification.code,
            NotifCode::Open(OpenSubcode::UnsupportedVersion)
        );
        assert_eq!(&e.notification.data[..], &[0, 4]);
        let e = Open::decode(&raw_open(&[4, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 2, 1, 0])).unwrap_err();
        assert_eq!(
            e.notification.code,
            NotifCode::Open(OpenSubcode::UnsupportedOptionalParameter)
        );
        // Parameter length disagrees with the message.
        let e = Open::decode(&raw_open(&[4, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 5, 2, 0])).unwrap_err();
        assert_eq!(
            e.notification.code,
            NotifCode::Open(OpenSubcode::Unspecific)
        );
        // Capability overruns its parameter.
        let e = Open::decode(&raw_open(&[
            4, 0xfd, 0xe9, 0, 90, 1, 2, 3, 4, 4, 2, 2, 65, 4,
        ]))
        .unwrap_err();
        assert_eq!(e.fault, Fault::Capability);
        // Truncated fixed part.
        assert!(Open::decode(&raw_open(&[4, 0xfd])).is_err());
    }
}
