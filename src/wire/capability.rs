//! BGP capabilities (RFC 5492) carried in OPEN: multiprotocol (RFC 4760), route refresh
//! (RFC 2918), enhanced route refresh (RFC 7313), 4-octet AS (RFC 6793), ADD-PATH (RFC 7911),
//! graceful restart (RFC 4724, RFC 8538 N bit), long-lived graceful restart (RFC 9494),
//! extended message (RFC 8654), BGP role (RFC 9234), FQDN (draft-walton-bgp-hostname) and any
//! other capability kept as raw octets.
//!
//! Never: negotiation (that is the session's job).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::error::Fault;
use super::reader::Reader;
use super::types::{Afi, AfiSafi, Asn, Safi};

/// Capability codes (IANA "Capability Codes").
pub mod code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const ROLE: u8 = 9;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    pub const LONG_LIVED_GR: u8 = 71;
    pub const FQDN: u8 = 73;
}

/// ADD-PATH direction bits (RFC 7911 §4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddPathEntry {
    pub afi_safi: AfiSafi,
    /// 1 receive, 2 send, 3 both.
    pub send_receive: u8,
}

impl AddPathEntry {
    pub const RECEIVE: u8 = 1;
    pub const SEND: u8 = 2;
    pub const BOTH: u8 = 3;

    pub fn receive(&self) -> bool {
        self.send_receive & Self::RECEIVE != 0
    }
    pub fn send(&self) -> bool {
        self.send_receive & Self::SEND != 0
    }
}

/// One family in the graceful restart capability.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrFamily {
    pub afi_safi: AfiSafi,
    /// Bit 0x80: forwarding state was preserved.
    pub flags: u8,
}

/// The graceful restart capability (RFC 4724 §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// The 4 flag bits: 0x8 restart state (R), 0x4 notification (N, RFC 8538).
    pub flags: u8,
    /// Restart time in seconds (12 bits).
    pub time: u16,
    pub families: Vec<GrFamily>,
}

impl GracefulRestart {
    pub const RESTART_STATE: u8 = 0x8;
    pub const NOTIFICATION: u8 = 0x4;
    pub const FORWARDING: u8 = 0x80;
}

/// One family in the long-lived graceful restart capability (RFC 9494).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LlgrFamily {
    pub afi_safi: AfiSafi,
    /// Bit 0x80: forwarding state was preserved.
    pub flags: u8,
    /// Long-lived stale time in seconds (24 bits).
    pub stale_time: u32,
}

/// BGP role (RFC 9234 §4.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Provider,
    RouteServer,
    RouteServerClient,
    Customer,
    Peer,
    Other(u8),
}

impl From<u8> for Role {
    fn from(v: u8) -> Self {
        match v {
            0 => Role::Provider,
            1 => Role::RouteServer,
            2 => Role::RouteServerClient,
            3 => Role::Customer,
            4 => Role::Peer,
            o => Role::Other(o),
        }
    }
}

impl From<Role> for u8 {
    fn from(r: Role) -> u8 {
        match r {
            Role::Provider => 0,
            Role::RouteServer => 1,
            Role::RouteServerClient => 2,
            Role::Customer => 3,
            Role::Peer => 4,
            Role::Other(o) => o,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Provider => f.write_str("provider"),
            Role::RouteServer => f.write_str("rs"),
            Role::RouteServerClient => f.write_str("rs-client"),
            Role::Customer => f.write_str("customer"),
            Role::Peer => f.write_str("peer"),
            Role::Other(v) => write!(f, "role {v}"),
        }
    }
}

/// One capability.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    Multiprotocol(AfiSafi),
    RouteRefresh,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAs(Asn),
    AddPath(Vec<AddPathEntry>),
    GracefulRestart(GracefulRestart),
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    Role(Role),
    /// Host and domain name, octets as sent (normally ASCII).
    Fqdn {
        hostname: Bytes,
        domain: Bytes,
    },
    Unknown {
        code: u8,
        value: Bytes,
    },
}

fn afi_safi(r: &mut Reader<'_>) -> Option<AfiSafi> {
    let afi = r.u16()?;
    let safi = r.u8()?;
    Some(AfiSafi::new(Afi(afi), Safi(safi)))
}

/// Reads `n`-octet entries until the value is used up; `None` if it does not divide evenly.
fn entries<T>(v: &[u8], mut one: impl FnMut(&mut Reader<'_>) -> Option<T>) -> Option<Vec<T>> {
    let mut r = Reader::new(v);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(one(&mut r)?);
    }
    Some(out)
}

impl Capability {
    /// Decodes one capability value. `value` shares the OPEN's buffer.
    pub(crate) fn decode(code: u8, value: Bytes) -> Result<Capability, Fault> {
        let v: &[u8] = &value;
        let bad = Fault::Capability;
        let exact = |n: usize| if v.len() == n { Ok(()) } else { Err(bad) };
        Ok(match code {
            code::MULTIPROTOCOL => {
                exact(4)?;
                let mut r = Reader::new(v);
                let afi = r.u16().ok_or(bad)?;
                let _reserved = r.u8();
                let safi = r.u8().ok_or(bad)?;
                Capability::Multiprotocol(AfiSafi::new(Afi(afi), Safi(safi)))
            }
            code::ROUTE_REFRESH => {
                exact(0)?;
                Capability::RouteRefresh
            }
            code::ENHANCED_ROUTE_REFRESH => {
                exact(0)?;
                Capability::EnhancedRouteRefresh
            }
            code::EXTENDED_MESSAGE => {
                exact(0)?;
                Capability::ExtendedMessage
            }
            code::FOUR_OCTET_AS => {
                exact(4)?;
                Capability::FourOctetAs(Asn(Reader::new(v).u32().ok_or(bad)?))
            }
            code::ADD_PATH => Capability::AddPath(
                entries(v, |r| {
                    Some(AddPathEntry {
                        afi_safi: afi_safi(r)?,
                        send_receive: r.u8()?,
                    })
                })
                .ok_or(bad)?,
            ),
            code::GRACEFUL_RESTART => {
                let mut r = Reader::new(v);
                let word = r.u16().ok_or(bad)?;
                let families = entries(r.rest(), |r| {
                    Some(GrFamily {
                        afi_safi: afi_safi(r)?,
                        flags: r.u8()?,
                    })
                })
                .ok_or(bad)?;
                Capability::GracefulRestart(GracefulRestart {
                    flags: (word >> 12) as u8,
                    time: word & 0x0fff,
                    families,
                })
            }
            code::LONG_LIVED_GR => Capability::LongLivedGracefulRestart(
                entries(v, |r| {
                    Some(LlgrFamily {
                        afi_safi: afi_safi(r)?,
                        flags: r.u8()?,
                        stale_time: r.u24()?,
                    })
                })
                .ok_or(bad)?,
            ),
            code::ROLE => {
                exact(1)?;
                Capability::Role(Role::from(v.first().copied().ok_or(bad)?))
            }
            code::FQDN => {
                let mut r = Reader::new(v);
                let hl = usize::from(r.u8().ok_or(bad)?);
                r.take(hl).ok_or(bad)?;
                let dl = usize::from(r.u8().ok_or(bad)?);
                r.take(dl).ok_or(bad)?;
                if !r.is_empty() {
                    return Err(bad);
                }
                Capability::Fqdn {
                    hostname: value.slice(1..1 + hl),
                    domain: value.slice(2 + hl..2 + hl + dl),
                }
            }
            _ => Capability::Unknown { code, value },
        })
    }

    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::LongLivedGracefulRestart(_) => code::LONG_LIVED_GR,
            Capability::Role(_) => code::ROLE,
            Capability::Fqdn { .. } => code::FQDN,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Appends code, length and value (values longer than 255 octets are cut).
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.code());
        let at = out.len();
        out.put_u8(0);
        match self {
            Capability::Multiprotocol(f) => {
                out.put_u16(f.afi.0);
                out.put_u8(0);
                out.put_u8(f.safi.0);
            }
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(a) => out.put_u32(a.0),
            Capability::AddPath(list) => {
                for e in list {
                    out.put_u16(e.afi_safi.afi.0);
                    out.put_u8(e.afi_safi.safi.0);
                    out.put_u8(e.send_receive);
                }
            }
            Capability::GracefulRestart(gr) => {
                out.put_u16((u16::from(gr.flags & 0xf) << 12) | (gr.time & 0x0fff));
                for f in &gr.families {
                    out.put_u16(f.afi_safi.afi.0);
                    out.put_u8(f.afi_safi.safi.0);
                    out.put_u8(f.flags);
                }
            }
            Capability::LongLivedGracefulRestart(list) => {
                for f in list {
                    out.put_u16(f.afi_safi.afi.0);
                    out.put_u8(f.afi_safi.safi.0);
                    out.put_u8(f.flags);
                    let t = f.stale_time.min(0x00ff_ffff).to_be_bytes();
                    out.put_slice(t.get(1..).unwrap_or_default());
                }
            }
            Capability::Role(r) => out.put_u8((*r).into()),
            Capability::Fqdn { hostname, domain } => {
                let h = hostname.get(..hostname.len().min(255)).unwrap_or_default();
                out.put_u8(h.len() as u8);
                out.put_slice(h);
                let d = domain.get(..domain.len().min(255)).unwrap_or_default();
                out.put_u8(d.len() as u8);
                out.put_slice(d);
            }
            Capability::Unknown { value, .. } => out.put_slice(value),
        }
        let len = out.len() - at - 1;
        if len > 255 {
            out.truncate(at + 1 + 255);
        }
        if let Some(b) = out.get_mut(at) {
            *b = len.min(255) as u8;
        }
    }

    /// Octets `encode` writes.
    pub(crate) fn encoded_len(&self) -> usize {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.len()
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Multiprotocol(fam) => write!(f, "multiprotocol {fam}"),
            Capability::RouteRefresh => f.write_str("route refresh"),
            Capability::EnhancedRouteRefresh => f.write_str("enhanced route refresh"),
            Capability::ExtendedMessage => f.write_str("extended message"),
            Capability::FourOctetAs(a) => write!(f, "4-octet AS {a}"),
            Capability::AddPath(list) => {
                f.write_str("ADD-PATH")?;
                for e in list {
                    let dir = match (e.receive(), e.send()) {
                        (true, true) => "send/receive",
                        (true, false) => "receive",
                        (false, true) => "send",
                        _ => "none",
                    };
                    write!(f, " {} {dir}", e.afi_safi)?;
                }
                Ok(())
            }
            Capability::GracefulRestart(gr) => {
                write!(f, "graceful restart {}s", gr.time)?;
                if gr.flags & GracefulRestart::RESTART_STATE != 0 {
                    f.write_str(" restarting")?;
                }
                for fam in &gr.families {
                    write!(f, " {}", fam.afi_safi)?;
                }
                Ok(())
            }
            Capability::LongLivedGracefulRestart(list) => {
                f.write_str("long-lived graceful restart")?;
                for fam in list {
                    write!(f, " {} {}s", fam.afi_safi, fam.stale_time)?;
                }
                Ok(())
            }
            Capability::Role(r) => write!(f, "role {r}"),
            Capability::Fqdn { hostname, domain } => write!(
                f,
                "hostname {}.{}",
                String::from_utf8_lossy(hostname),
                String::from_utf8_lossy(domain)
            ),
            Capability::Unknown { code, value } => {
                write!(f, "code {code} ({} octets)", value.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Capability) {
        let mut out = BytesMut::new();
        c.encode(&mut out);
        assert_eq!(out.len(), c.encoded_len());
        assert_eq!(usize::from(out[1]), out.len() - 2, "{c}");
        let value = Bytes::copy_from_slice(&out[2..]);
        assert_eq!(Capability::decode(out[0], value), Ok(c));
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Capability::Multiprotocol(AfiSafi::IPV6_UNICAST));
        round_trip(Capability::RouteRefresh);
        round_trip(Capability::EnhancedRouteRefresh);
        round_trip(Capability::ExtendedMessage);
        round_trip(Capability::FourOctetAs(Asn(4_200_000_001)));
        round_trip(Capability::AddPath(vec![
            AddPathEntry {
                afi_safi: AfiSafi::IPV4_UNICAST,
                send_receive: 3,
            },
            AddPathEntry {
                afi_safi: AfiSafi::IPV6_UNICAST,
                send_receive: 1,
            },
        ]));
        round_trip(Capability::GracefulRestart(GracefulRestart {
            flags: GracefulRestart::RESTART_STATE | GracefulRestart::NOTIFICATION,
            time: 120,
            families: vec![GrFamily {
                afi_safi: AfiSafi::IPV4_UNICAST,
                flags: 0x80,
            }],
        }));
        round_trip(Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            afi_safi: AfiSafi::IPV6_UNICAST,
            flags: 0,
            stale_time: 86400,
        }]));
        round_trip(Capability::Role(Role::RouteServer));
        round_trip(Capability::Fqdn {
            hostname: Bytes::from_static(b"rs1"),
            domain: Bytes::from_static(b"example.net"),
        });
        round_trip(Capability::Unknown {
            code: 128,
            value: Bytes::new(),
        });
    }

    #[test]
    fn malformed_values_are_errors() {
        let b = |v: &[u8]| Bytes::copy_from_slice(v);
        assert_eq!(Capability::decode(1, b(&[0, 1, 0])), Err(Fault::Capability));
        assert_eq!(Capability::decode(65, b(&[0, 1])), Err(Fault::Capability));
        assert_eq!(Capability::decode(2, b(&[1])), Err(Fault::Capability));
        assert_eq!(
            Capability::decode(69, b(&[0, 1, 1])),
            Err(Fault::Capability)
        );
        assert_eq!(Capability::decode(64, b(&[0])), Err(Fault::Capability));
        assert_eq!(
            Capability::decode(73, b(&[3, b'a'])),
            Err(Fault::Capability)
        );
        assert_eq!(Capability::decode(9, b(&[])), Err(Fault::Capability));
        assert_eq!(
            Capability::decode(73, b(&[1, b'a', 0, 9])),
            Err(Fault::Capability)
        );
    }

    #[test]
    fn graceful_restart_bits() {
        let c = Capability::decode(64, Bytes::from_static(&[0x80, 0x78])).unwrap();
        let Capability::GracefulRestart(gr) = c else {
            panic!()
        };
        assert_eq!(gr.flags, GracefulRestart::RESTART_STATE);
        assert_eq!(gr.time, 120);
        assert!(gr.families.is_empty());
    }
}
