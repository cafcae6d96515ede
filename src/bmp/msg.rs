//! BMP messages (RFC 7854, with the Loc-RIB peer type of RFC 9069 and the Adj-RIB-Out flag of
//! RFC 8671) as typed values, their encoder, and a checked decoder.
//!
//! Owns only the byte layout: the common header, the per-peer header and the body of each
//! message type. It never decides what to send or when (that is the exporter's job), holds no
//! state and touches no socket. The BGP messages a BMP message carries (an UPDATE in Route
//! Monitoring, the two OPENs of Peer Up, the NOTIFICATION of Peer Down) are kept as the bytes
//! of a whole BGP message, header included, exactly as they travel; the decoder checks their
//! framing (marker, length, type), not their contents, which is `wire`'s business.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

/// The BMP version this module speaks.
pub const VERSION: u8 = 3;
/// Common header: version, length, type.
pub const COMMON_HEADER_LEN: usize = 6;
/// Per-peer header: type, flags, distinguisher, address, AS, BGP ID, timestamp.
pub const PEER_HEADER_LEN: usize = 42;
/// The longest message the decoder accepts: two extended (65,535-byte) OPENs in a Peer Up
/// with room for its headers and information TLVs. Anything longer is a framing error.
pub const MAX_MESSAGE_LEN: usize = 192 * 1024;
/// A BGP message header: 16-byte marker, length, type.
const BGP_HEADER_LEN: usize = 19;

/// Per-peer header flags (RFC 7854 §4.2, RFC 8671 §4).
pub mod flags {
    /// The peer address is IPv6.
    pub const IPV6: u8 = 0x80;
    /// The routes are post-policy (Adj-RIB-In post-policy, or Adj-RIB-Out post-policy).
    pub const POST_POLICY: u8 = 0x40;
    /// The UPDATEs use 2-byte AS numbers (the session did not negotiate 4-byte ASNs).
    pub const LEGACY_AS_PATH: u8 = 0x20;
    /// The routes are the Adj-RIB-Out: what was (or would be) sent to the peer.
    pub const ADJ_RIB_OUT: u8 = 0x10;
    /// Loc-RIB peer type only (RFC 9069 §4.2): the Loc-RIB is filtered.
    pub const LOC_RIB_FILTERED: u8 = 0x80;
}

/// The kind of peer a per-peer header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerType {
    /// A peer of the global routing instance (RFC 7854).
    Global,
    /// A peer of an RD instance (RFC 7854).
    RdInstance,
    /// A peer of a local instance (RFC 7854).
    LocalInstance,
    /// The router's own Loc-RIB (RFC 9069).
    LocRib,
    /// A type this module does not know, kept so the decoder can pass it through.
    Other(u8),
}

impl PeerType {
    fn code(self) -> u8 {
        match self {
            PeerType::Global => 0,
            PeerType::RdInstance => 1,
            PeerType::LocalInstance => 2,
            PeerType::LocRib => 3,
            PeerType::Other(c) => c,
        }
    }

    fn from_code(c: u8) -> Self {
        match c {
            0 => PeerType::Global,
            1 => PeerType::RdInstance,
            2 => PeerType::LocalInstance,
            3 => PeerType::LocRib,
            c => PeerType::Other(c),
        }
    }
}

/// The per-peer header (RFC 7854 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHeader {
    pub peer_type: PeerType,
    /// [`flags`]; [`flags::IPV6`] is set by the encoder from `address`, whatever is here.
    pub flags: u8,
    pub distinguisher: u64,
    /// Unspecified (`0.0.0.0`) for the Loc-RIB.
    pub address: IpAddr,
    pub asn: u32,
    pub bgp_id: Ipv4Addr,
    /// Seconds and microseconds since the Unix epoch; zero when not known.
    pub timestamp_secs: u32,
    pub timestamp_micros: u32,
}

/// An information TLV (RFC 7854 §4.4), used by Initiation, Peer Up and (RFC 9069) Peer Down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoTlv {
    pub kind: u16,
    pub value: Bytes,
}

/// Information TLV types.
pub mod info {
    /// Free-form UTF-8 text.
    pub const STRING: u16 = 0;
    /// sysDescr (Initiation only).
    pub const SYS_DESCR: u16 = 1;
    /// sysName (Initiation only).
    pub const SYS_NAME: u16 = 2;
    /// VRF/Table name (RFC 9069 §5.1, Peer Up of a Loc-RIB).
    pub const VRF_TABLE_NAME: u16 = 3;
}

impl InfoTlv {
    pub fn text(kind: u16, s: &str) -> Self {
        InfoTlv {
            kind,
            value: Bytes::copy_from_slice(s.as_bytes()),
        }
    }
}

/// Termination TLV types (RFC 7854 §4.5).
pub mod term {
    pub const STRING: u16 = 0;
    /// A two-byte reason follows.
    pub const REASON: u16 = 1;
    /// Reason: session administratively closed.
    pub const REASON_ADMIN_CLOSE: u16 = 0;
    /// Reason: out of resources (a collector that fell too far behind).
    pub const REASON_OUT_OF_RESOURCES: u16 = 2;
}

/// Statistics types this project reports (the IANA BMP Statistics Types registry).
pub mod stat {
    /// Prefixes rejected by inbound policy (counter).
    pub const REJECTED_BY_POLICY: u16 = 0;
    /// Known duplicate prefix advertisements (counter).
    pub const DUPLICATE_PREFIX: u16 = 1;
    /// Known duplicate withdraws (counter).
    pub const DUPLICATE_WITHDRAW: u16 = 2;
    /// Routes in the Adj-RIB-In (gauge).
    pub const ADJ_RIB_IN: u16 = 7;
    /// Routes in the Loc-RIB (gauge).
    pub const LOC_RIB: u16 = 8;
    /// Routes in the Adj-RIB-In per AFI/SAFI (gauge).
    pub const ADJ_RIB_IN_PER_FAMILY: u16 = 9;
    /// Routes in the Loc-RIB per AFI/SAFI (gauge).
    pub const LOC_RIB_PER_FAMILY: u16 = 10;
    /// UPDATEs treated as withdraw (counter).
    pub const UPDATES_TREATED_AS_WITHDRAW: u16 = 11;
    /// Prefixes treated as withdraw (counter).
    pub const PREFIXES_TREATED_AS_WITHDRAW: u16 = 12;
    /// Routes in the post-policy Adj-RIB-Out (gauge, RFC 8671).
    pub const ADJ_RIB_OUT_POST: u16 = 15;
    /// Routes in the post-policy Adj-RIB-Out per AFI/SAFI (gauge, RFC 8671).
    pub const ADJ_RIB_OUT_POST_PER_FAMILY: u16 = 17;
    /// Routes in the pre-policy Adj-RIB-In (gauge).
    pub const ADJ_RIB_IN_PRE: u16 = 18;
    /// Routes in the pre-policy Adj-RIB-In per AFI/SAFI (gauge).
    pub const ADJ_RIB_IN_PRE_PER_FAMILY: u16 = 19;
    /// Routes in the post-policy Adj-RIB-In (gauge).
    pub const ADJ_RIB_IN_POST: u16 = 20;
    /// Routes in the post-policy Adj-RIB-In per AFI/SAFI (gauge).
    pub const ADJ_RIB_IN_POST_PER_FAMILY: u16 = 21;
}

/// The value of one statistic; its shape is told by its length on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatValue {
    /// A 32-bit counter.
    Counter(u32),
    /// A 64-bit gauge.
    Gauge(u64),
    /// A 64-bit gauge for one address family.
    FamilyGauge { afi: u16, safi: u8, value: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: u16,
    pub value: StatValue,
}

/// Why a peer went down (RFC 7854 §4.9, RFC 9069 §5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerDownReason {
    /// 1: this router closed the session with the NOTIFICATION (a whole BGP message) here.
    LocalNotification(Bytes),
    /// 2: this router closed the session without a NOTIFICATION; the FSM event code.
    LocalNoNotification(u16),
    /// 3: the peer closed the session with this NOTIFICATION.
    RemoteNotification(Bytes),
    /// 4: the peer closed the session without a NOTIFICATION (the transport went away).
    RemoteNoData,
    /// 5: the peer was removed from the configuration (or is no longer monitored).
    Deconfigured,
    /// 6: a Loc-RIB instance went down, with information TLVs (RFC 9069).
    LocalTlv(Vec<InfoTlv>),
    /// A reason this module does not know, with its data.
    Other(u8, Bytes),
}

/// The Peer Up body (RFC 7854 §4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUp {
    pub local_address: IpAddr,
    pub local_port: u16,
    pub remote_port: u16,
    /// The OPEN this router sent, a whole BGP message.
    pub sent_open: Bytes,
    /// The OPEN the peer sent, a whole BGP message.
    pub received_open: Bytes,
    pub information: Vec<InfoTlv>,
}

/// One BMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 0: an UPDATE (a whole BGP message) seen on the peer's view.
    RouteMonitoring { peer: PeerHeader, update: Bytes },
    /// 1: statistics of a peer.
    StatisticsReport { peer: PeerHeader, stats: Vec<Stat> },
    /// 2
    PeerDown {
        peer: PeerHeader,
        reason: PeerDownReason,
    },
    /// 3
    PeerUp { peer: PeerHeader, body: PeerUp },
    /// 4: the first message of a BMP session.
    Initiation(Vec<InfoTlv>),
    /// 5: the last message of a BMP session.
    Termination(Vec<InfoTlv>),
}

/// Why bytes are not a BMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The version is not 3.
    Version(u8),
    /// The length field is below the common header or above [`MAX_MESSAGE_LEN`].
    Length(u32),
    /// The message type is not one of 0–5 (route mirroring, 6, is not spoken here).
    Type(u8),
    /// The body ends before a field it announces.
    Truncated(&'static str),
    /// Bytes are left over after the body's last field.
    Trailing(&'static str),
    /// An embedded BGP message has a bad marker, length or type.
    BgpFraming(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Version(v) => write!(f, "BMP version {v}, expected {VERSION}"),
            DecodeError::Length(l) => write!(f, "BMP message length {l} out of range"),
            DecodeError::Type(t) => write!(f, "unknown BMP message type {t}"),
            DecodeError::Truncated(w) => write!(f, "BMP message ends inside {w}"),
            DecodeError::Trailing(w) => write!(f, "bytes left over after {w}"),
            DecodeError::BgpFraming(w) => write!(f, "embedded BGP message: {w}"),
        }
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------------------------
// Encoding

impl Message {
    /// Appends the message, common header included, to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u8(VERSION);
        out.put_u32(0); // length, patched below
        out.put_u8(self.type_code());
        match self {
            Message::RouteMonitoring { peer, update } => {
                put_peer(out, peer);
                out.put_slice(update);
            }
            Message::StatisticsReport { peer, stats } => {
                put_peer(out, peer);
                out.put_u32(u32::try_from(stats.len()).unwrap_or(u32::MAX));
                for s in stats {
                    out.put_u16(s.kind);
                    match s.value {
                        StatValue::Counter(v) => {
                            out.put_u16(4);
                            out.put_u32(v);
                        }
                        StatValue::Gauge(v) => {
                            out.put_u16(8);
                            out.put_u64(v);
                        }
                        StatValue::FamilyGauge { afi, safi, value } => {
                            out.put_u16(11);
                            out.put_u16(afi);
                            out.put_u8(safi);
                            out.put_u64(value);
                        }
                    }
                }
            }
            Message::PeerDown { peer, reason } => {
                put_peer(out, peer);
                match reason {
                    PeerDownReason::LocalNotification(n) => {
                        out.put_u8(1);
                        out.put_slice(n);
                    }
                    PeerDownReason::LocalNoNotification(event) => {
                        out.put_u8(2);
                        out.put_u16(*event);
                    }
                    PeerDownReason::RemoteNotification(n) => {
                        out.put_u8(3);
                        out.put_slice(n);
                    }
                    PeerDownReason::RemoteNoData => out.put_u8(4),
                    PeerDownReason::Deconfigured => out.put_u8(5),
                    PeerDownReason::LocalTlv(tlvs) => {
                        out.put_u8(6);
                        put_tlvs(out, tlvs);
                    }
                    PeerDownReason::Other(code, data) => {
                        out.put_u8(*code);
                        out.put_slice(data);
                    }
                }
            }
            Message::PeerUp { peer, body } => {
                put_peer(out, peer);
                put_addr16(out, body.local_address);
                out.put_u16(body.local_port);
                out.put_u16(body.remote_port);
                out.put_slice(&body.sent_open);
                out.put_slice(&body.received_open);
                put_tlvs(out, &body.information);
            }
            Message::Initiation(tlvs) | Message::Termination(tlvs) => put_tlvs(out, tlvs),
        }
        let len = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
        if let Some(field) = out.get_mut(start + 1..start + 5) {
            field.copy_from_slice(&len.to_be_bytes());
        }
    }

    /// The message as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }

    fn type_code(&self) -> u8 {
        match self {
            Message::RouteMonitoring { .. } => 0,
            Message::StatisticsReport { .. } => 1,
            Message::PeerDown { .. } => 2,
            Message::PeerUp { .. } => 3,
            Message::Initiation(_) => 4,
            Message::Termination(_) => 5,
        }
    }
}

fn put_addr16(out: &mut BytesMut, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => {
            out.put_bytes(0, 12);
            out.put_slice(&v4.octets());
        }
        IpAddr::V6(v6) => out.put_slice(&v6.octets()),
    }
}

fn put_peer(out: &mut BytesMut, p: &PeerHeader) {
    out.put_u8(p.peer_type.code());
    let mut f = p.flags;
    // The V flag means "the address is IPv6" for every peer type but the Loc-RIB, where the
    // same bit is the F (filtered) flag and the address is all zeros.
    if p.peer_type != PeerType::LocRib {
        f &= !flags::IPV6;
        if p.address.is_ipv6() {
            f |= flags::IPV6;
        }
    }
    out.put_u8(f);
    out.put_u64(p.distinguisher);
    put_addr16(out, p.address);
    out.put_u32(p.asn);
    out.put_slice(&p.bgp_id.octets());
    out.put_u32(p.timestamp_secs);
    out.put_u32(p.timestamp_micros);
}

fn put_tlvs(out: &mut BytesMut, tlvs: &[InfoTlv]) {
    for t in tlvs {
        out.put_u16(t.kind);
        let v = t.value.get(..usize::from(u16::MAX)).unwrap_or(&t.value);
        out.put_u16(u16::try_from(v.len()).unwrap_or(u16::MAX));
        out.put_slice(v);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// How many bytes the message at the start of `buf` takes, once its common header is there:
/// `Ok(None)` while fewer than 6 bytes are buffered. Lets a reader frame a stream.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let Some(h) = buf.get(..COMMON_HEADER_LEN) else {
        return Ok(None);
    };
    let mut c = Cur(h);
    let version = c.u8("common header")?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let len = c.u32("common header")?;
    let ok = (COMMON_HEADER_LEN as u64..=MAX_MESSAGE_LEN as u64).contains(&u64::from(len));
    if !ok {
        return Err(DecodeError::Length(len));
    }
    Ok(Some(len as usize))
}

impl Message {
    /// Decodes the message at the start of `buf`; `Ok(None)` when `buf` does not hold all of
    /// it yet, else the message and how many bytes it took.
    pub fn decode(buf: &Bytes) -> Result<Option<(Message, usize)>, DecodeError> {
        let Some(len) = frame_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < len {
            return Ok(None);
        }
        let kind = buf.get(5).copied().unwrap_or(0xff);
        let body = buf.slice(COMMON_HEADER_LEN..len);
        let msg = match kind {
            0 => {
                let (peer, rest) = peer_header(&body)?;
                let (update, rest) = bgp_message(&rest, 2, "route monitoring UPDATE")?;
                no_trailing(&rest, "route monitoring")?;
                Message::RouteMonitoring { peer, update }
            }
            1 => {
                let (peer, rest) = peer_header(&body)?;
                Message::StatisticsReport {
                    peer,
                    stats: stats(&rest)?,
                }
            }
            2 => {
                let (peer, rest) = peer_header(&body)?;
                Message::PeerDown {
                    peer,
                    reason: down_reason(&rest)?,
                }
            }
            3 => {
                let (peer, rest) = peer_header(&body)?;
                let v6 = peer.address.is_ipv6();
                Message::PeerUp {
                    peer,
                    body: peer_up(&rest, v6)?,
                }
            }
            4 => Message::Initiation(tlvs(&body, "initiation TLV")?),
            5 => Message::Termination(tlvs(&body, "termination TLV")?),
            t => return Err(DecodeError::Type(t)),
        };
        Ok(Some((msg, len)))
    }
}

struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn addr16(&mut self, v6: bool, what: &'static str) -> Result<IpAddr, DecodeError> {
        let a: [u8; 16] = self.array(what)?;
        Ok(if v6 {
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            let [.., w, x, y, z] = a;
            IpAddr::V4(Ipv4Addr::new(w, x, y, z))
        })
    }
    /// How far into `whole` this cursor is.
    fn offset(&self, whole: &[u8]) -> usize {
        whole.len() - self.0.len()
    }
}

fn peer_header(body: &Bytes) -> Result<(PeerHeader, Bytes), DecodeError> {
    const W: &str = "per-peer header";
    let mut c = Cur(body);
    let peer_type = PeerType::from_code(c.u8(W)?);
    let flags = c.u8(W)?;
    let distinguisher = c.u64(W)?;
    let v6 = peer_type != PeerType::LocRib && flags & flags::IPV6 != 0;
    let address = c.addr16(v6, W)?;
    let asn = c.u32(W)?;
    let bgp_id = Ipv4Addr::from(c.array::<4>(W)?);
    let timestamp_secs = c.u32(W)?;
    let timestamp_micros = c.u32(W)?;
    let at = c.offset(body);
    Ok((
        PeerHeader {
            peer_type,
            flags,
            distinguisher,
            address,
            asn,
            bgp_id,
            timestamp_secs,
            timestamp_micros,
        },
        body.slice(at..),
    ))
}

/// The whole BGP message at the start of `b` (of BGP type `kind`), and what follows it.
fn bgp_message(b: &Bytes, kind: u8, what: &'static str) -> Result<(Bytes, Bytes), DecodeError> {
    let mut c = Cur(b);
    let marker = c.take(16, what)?;
    if marker.iter().any(|&x| x != 0xff) {
        return Err(DecodeError::BgpFraming("marker is not all ones"));
    }
    let len = usize::from(c.u16(what)?);
    let t = c.u8(what)?;
    if t != kind {
        return Err(DecodeError::BgpFraming("unexpected message type"));
    }
    if len < BGP_HEADER_LEN {
        return Err(DecodeError::BgpFraming("length below the header"));
    }
    if b.len() < len {
        return Err(DecodeError::Truncated(what));
    }
    Ok((b.slice(..len), b.slice(len..)))
}

fn no_trailing(rest: &[u8], what: &'static str) -> Result<(), DecodeError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::Trailing(what))
    }
}

fn stats(b: &Bytes) -> Result<Vec<Stat>, DecodeError> {
    const W: &str = "statistics";
    let mut c = Cur(b);
    let count = c.u32(W)?;
    // Each statistic takes at least 4 bytes: a count beyond what is there is a lie, and
    // must not size an allocation.
    let mut out = Vec::with_capacity((count as usize).min(b.len() / 4));
    for _ in 0..count {
        let kind = c.u16(W)?;
        let len = c.u16(W)?;
        let mut v = Cur(c.take(usize::from(len), W)?);
        let value = match len {
            4 => StatValue::Counter(v.u32(W)?),
            8 => StatValue::Gauge(v.u64(W)?),
            11 => StatValue::FamilyGauge {
                afi: v.u16(W)?,
                safi: v.u8(W)?,
                value: v.u64(W)?,
            },
            _ => return Err(DecodeError::Truncated("a statistic of unknown length")),
        };
        out.push(Stat { kind, value });
    }
    no_trailing(c.0, W)?;
    Ok(out)
}

fn down_reason(b: &Bytes) -> Result<PeerDownReason, DecodeError> {
    const W: &str = "peer down reason";
    let mut c = Cur(b);
    let code = c.u8(W)?;
    let rest = b.slice(1..);
    Ok(match code {
        1 | 3 => {
            let (n, tail) = bgp_message(&rest, 3, "peer down NOTIFICATION")?;
            no_trailing(&tail, W)?;
            if code == 1 {
                PeerDownReason::LocalNotification(n)
            } else {
                PeerDownReason::RemoteNotification(n)
            }
        }
        2 => {
            let event = c.u16(W)?;
            no_trailing(c.0, W)?;
            PeerDownReason::LocalNoNotification(event)
        }
        4 => {
            no_trailing(&rest, W)?;
            PeerDownReason::RemoteNoData
        }
        5 => {
            no_trailing(&rest, W)?;
            PeerDownReason::Deconfigured
        }
        6 => PeerDownReason::LocalTlv(tlvs(&rest, "peer down TLV")?),
        other => PeerDownReason::Other(other, rest),
    })
}

/// `v6`: the session's family, told by the peer address (the local address has no flag).
fn peer_up(b: &Bytes, v6: bool) -> Result<PeerUp, DecodeError> {
    const W: &str = "peer up";
    let mut c = Cur(b);
    let local_address = c.addr16(v6, W)?;
    let local_port = c.u16(W)?;
    let remote_port = c.u16(W)?;
    let at = c.offset(b);
    let (sent_open, rest) = bgp_message(&b.slice(at..), 1, "peer up sent OPEN")?;
    let (received_open, rest) = bgp_message(&rest, 1, "peer up received OPEN")?;
    Ok(PeerUp {
        local_address,
        local_port,
        remote_port,
        sent_open,
        received_open,
        information: tlvs(&rest, "peer up TLV")?,
    })
}

fn tlvs(b: &Bytes, what: &'static str) -> Result<Vec<InfoTlv>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let mut c = Cur(b.get(at..).unwrap_or_default());
        let kind = c.u16(what)?;
        let len = usize::from(c.u16(what)?);
        c.take(len, what)?;
        out.push(InfoTlv {
            kind,
            value: b.slice(at + 4..at + 4 + len),
        });
        at += 4 + len;
    }
    Ok(out)
}
