//! NOTIFICATION messages (RFC 4271 §4.5) and every error code and subcode peerex sends or shows.
//!
//! Owns: the named codes (RFC 4271, RFC 4486 Cease subcodes, RFC 6608 FSM subcodes, RFC 7313
//! ROUTE-REFRESH errors, RFC 8538 hard reset, RFC 9234 role mismatch, RFC 9687 send hold timer),
//! the RFC 8203/9003 shutdown communication, and the message's encode/decode.
//! Never: deciding when to send one (that is the session's job).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::types::AfiSafi;

/// Defines a subcode enum with named values, an `Other(u8)` catch-all, and conversions.
macro_rules! subcodes {
    ($(#[$m:meta])* $name:ident { $($var:ident = $val:literal => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($var,)*
            /// A value this version does not name.
            Other(u8),
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                match v {
                    $($val => $name::$var,)*
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $($name::$var => $val,)*
                    $name::Other(other) => other,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$var => f.write_str($text),)*
                    $name::Other(v) => write!(f, "subcode {}", v),
                }
            }
        }
    };
}

subcodes!(
    /// Message Header Error subcodes (code 1).
    HeaderSubcode {
        Unspecific = 0 => "unspecific",
        ConnectionNotSynchronized = 1 => "connection not synchronized",
        BadMessageLength = 2 => "bad message length",
        BadMessageType = 3 => "bad message type",
    }
);

subcodes!(
    /// OPEN Message Error subcodes (code 2).
    OpenSubcode {
        Unspecific = 0 => "unspecific",
        UnsupportedVersion = 1 => "unsupported version number",
        BadPeerAs = 2 => "bad peer AS",
        BadBgpIdentifier = 3 => "bad BGP identifier",
        UnsupportedOptionalParameter = 4 => "unsupported optional parameter",
        UnacceptableHoldTime = 6 => "unacceptable hold time",
        UnsupportedCapability = 7 => "unsupported capability",
        RoleMismatch = 11 => "role mismatch",
    }
);

subcodes!(
    /// UPDATE Message Error subcodes (code 3).
    UpdateSubcode {
        Unspecific = 0 => "unspecific",
        MalformedAttributeList = 1 => "malformed attribute list",
        UnrecognizedWellKnownAttribute = 2 => "unrecognized well-known attribute",
        MissingWellKnownAttribute = 3 => "missing well-known attribute",
        AttributeFlagsError = 4 => "attribute flags error",
        AttributeLengthError = 5 => "attribute length error",
        InvalidOrigin = 6 => "invalid ORIGIN attribute",
        InvalidNextHop = 8 => "invalid NEXT_HOP attribute",
        OptionalAttributeError = 9 => "optional attribute error",
        InvalidNetworkField = 10 => "invalid network field",
        MalformedAsPath = 11 => "malformed AS_PATH",
    }
);

subcodes!(
    /// Finite State Machine Error subcodes (code 5, RFC 6608).
    FsmSubcode {
        Unspecific = 0 => "unspecific",
        UnexpectedInOpenSent = 1 => "unexpected message in OpenSent",
        UnexpectedInOpenConfirm = 2 => "unexpected message in OpenConfirm",
        UnexpectedInEstablished = 3 => "unexpected message in Established",
    }
);

subcodes!(
    /// Cease subcodes (code 6, RFC 4486, RFC 8538, RFC 9384).
    CeaseSubcode {
        Unspecific = 0 => "unspecific",
        MaxPrefixes = 1 => "maximum number of prefixes reached",
        AdministrativeShutdown = 2 => "administrative shutdown",
        PeerDeconfigured = 3 => "peer de-configured",
        AdministrativeReset = 4 => "administrative reset",
        ConnectionRejected = 5 => "connection rejected",
        OtherConfigurationChange = 6 => "other configuration change",
        ConnectionCollision = 7 => "connection collision resolution",
        OutOfResources = 8 => "out of resources",
        HardReset = 9 => "hard reset",
        BfdDown = 10 => "BFD down",
    }
);

subcodes!(
    /// ROUTE-REFRESH Message Error subcodes (code 7, RFC 7313).
    RouteRefreshSubcode {
        Reserved = 0 => "reserved",
        InvalidMessageLength = 1 => "invalid message length",
    }
);

/// A NOTIFICATION error code with its subcode.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NotifCode {
    MessageHeader(HeaderSubcode),
    Open(OpenSubcode),
    Update(UpdateSubcode),
    HoldTimerExpired(u8),
    Fsm(FsmSubcode),
    Cease(CeaseSubcode),
    RouteRefresh(RouteRefreshSubcode),
    /// RFC 9687.
    SendHoldTimerExpired(u8),
    /// A code this version does not name: (code, subcode).
    Other(u8, u8),
}

impl NotifCode {
    /// The (code, subcode) octets.
    pub fn parts(self) -> (u8, u8) {
        match self {
            NotifCode::MessageHeader(s) => (1, s.into()),
            NotifCode::Open(s) => (2, s.into()),
            NotifCode::Update(s) => (3, s.into()),
            NotifCode::HoldTimerExpired(s) => (4, s),
            NotifCode::Fsm(s) => (5, s.into()),
            NotifCode::Cease(s) => (6, s.into()),
            NotifCode::RouteRefresh(s) => (7, s.into()),
            NotifCode::SendHoldTimerExpired(s) => (8, s),
            NotifCode::Other(c, s) => (c, s),
        }
    }

    /// Builds the typed code from its two octets.
    pub fn new(code: u8, sub: u8) -> NotifCode {
        match code {
            1 => NotifCode::MessageHeader(sub.into()),
            2 => NotifCode::Open(sub.into()),
            3 => NotifCode::Update(sub.into()),
            4 => NotifCode::HoldTimerExpired(sub),
            5 => NotifCode::Fsm(sub.into()),
            6 => NotifCode::Cease(sub.into()),
            7 => NotifCode::RouteRefresh(sub.into()),
            8 => NotifCode::SendHoldTimerExpired(sub),
            _ => NotifCode::Other(code, sub),
        }
    }
}

impl fmt::Display for NotifCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifCode::MessageHeader(s) => write!(f, "message header error / {s}"),
            NotifCode::Open(s) => write!(f, "OPEN message error / {s}"),
            NotifCode::Update(s) => write!(f, "UPDATE message error / {s}"),
            NotifCode::HoldTimerExpired(_) => f.write_str("hold timer expired"),
            NotifCode::Fsm(s) => write!(f, "finite state machine error / {s}"),
            NotifCode::Cease(s) => write!(f, "cease / {s}"),
            NotifCode::RouteRefresh(s) => write!(f, "ROUTE-REFRESH message error / {s}"),
            NotifCode::SendHoldTimerExpired(_) => f.write_str("send hold timer expired"),
            NotifCode::Other(c, s) => write!(f, "error code {c} / subcode {s}"),
        }
    }
}

/// Longest shutdown communication in octets (RFC 9003).
pub const MAX_SHUTDOWN_MESSAGE: usize = 255;

/// A NOTIFICATION message: code, subcode and data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: NotifCode,
    pub data: Bytes,
}

impl Notification {
    pub fn new(code: NotifCode, data: impl Into<Bytes>) -> Self {
        Notification {
            code,
            data: data.into(),
        }
    }

    /// A Cease with no data.
    pub fn cease(sub: CeaseSubcode) -> Self {
        Notification::new(NotifCode::Cease(sub), Bytes::new())
    }

    /// Cease / Administrative Shutdown carrying an RFC 9003 shutdown communication.
    pub fn admin_shutdown(message: &str) -> Self {
        Notification::new(
            NotifCode::Cease(CeaseSubcode::AdministrativeShutdown),
            shutdown_data(message),
        )
    }

    /// Cease / Administrative Reset carrying an RFC 9003 shutdown communication.
    pub fn admin_reset(message: &str) -> Self {
        Notification::new(
            NotifCode::Cease(CeaseSubcode::AdministrativeReset),
            shutdown_data(message),
        )
    }

    /// Cease / Maximum Number of Prefixes Reached with the RFC 4486 data (AFI, SAFI, limit).
    pub fn max_prefixes(family: AfiSafi, limit: u32) -> Self {
        let mut d = BytesMut::with_capacity(7);
        d.put_u16(family.afi.0);
        d.put_u8(family.safi.0);
        d.put_u32(limit);
        Notification::new(NotifCode::Cease(CeaseSubcode::MaxPrefixes), d.freeze())
    }

    /// The shutdown communication of an Administrative Shutdown/Reset, if it carries a valid
    /// one (RFC 9003: a length octet, then that many octets of UTF-8).
    pub fn shutdown_message(&self) -> Option<&str> {
        match self.code {
            NotifCode::Cease(CeaseSubcode::AdministrativeShutdown)
            | NotifCode::Cease(CeaseSubcode::AdministrativeReset) => {}
            _ => return None,
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok()
    }

    /// Decodes the body (after the 19-byte header) of a NOTIFICATION.
    pub(crate) fn decode_body(body: &Bytes) -> Option<Notification> {
        let code = *body.first()?;
        let sub = *body.get(1)?;
        Some(Notification {
            code: NotifCode::new(code, sub),
            data: body.slice(2..),
        })
    }

    /// Length of the encoded message including the header.
    pub fn encoded_len(&self) -> usize {
        super::header::HEADER_LEN + 2 + self.data.len()
    }

    /// Appends the whole message. The data is cut so the message fits `max_len`.
    pub fn encode(&self, max_len: usize, out: &mut BytesMut) {
        let room = max_len.saturating_sub(super::header::HEADER_LEN + 2);
        let data = self
            .data
            .get(..room.min(self.data.len()))
            .unwrap_or_default();
        let start = super::header::begin(out, super::header::MsgType::Notification);
        let (c, s) = self.code.parts();
        out.put_u8(c);
        out.put_u8(s);
        out.put_slice(data);
        super::header::finish(out, start);
    }
}

fn shutdown_data(message: &str) -> Bytes {
    let mut end = message.len().min(MAX_SHUTDOWN_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let text = message.get(..end).unwrap_or_default();
    let mut d = BytesMut::with_capacity(1 + text.len());
    d.put_u8(text.len() as u8);
    d.put_slice(text.as_bytes());
    d.freeze()
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.code.fmt(f)?;
        if let Some(msg) = self.shutdown_message() {
            write!(f, ": {msg:?}")?;
        } else if !self.data.is_empty() {
            f.write_str(" (data ")?;
            for b in self.data.iter().take(32) {
                write!(f, "{b:02x}")?;
            }
            if self.data.len() > 32 {
                f.write_str("…")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_octets() {
        for code in 0..=10u8 {
            for sub in 0..=12u8 {
                assert_eq!(NotifCode::new(code, sub).parts(), (code, sub));
            }
        }
        assert_eq!(
            NotifCode::new(6, 2),
            NotifCode::Cease(CeaseSubcode::AdministrativeShutdown)
        );
        assert_eq!(
            NotifCode::new(3, 11),
            NotifCode::Update(UpdateSubcode::MalformedAsPath)
        );
    }

    #[test]
    fn shutdown_message_encodes_and_decodes() {
        let n = Notification::admin_shutdown("maintenance until 14:00");
        assert_eq!(n.data[0], 23);
        assert_eq!(n.shutdown_message(), Some("maintenance until 14:00"));
        assert_eq!(
            n.to_string(),
            "cease / administrative shutdown: \"maintenance until 14:00\""
        );
        // Over-long messages are cut at a character boundary within 255 octets.
        let long = "é".repeat(200);
        let n = Notification::admin_reset(&long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_message().unwrap().chars().count(), 127);
        // Bad UTF-8 or a length past the end is no message.
        let bad = Notification::new(
            NotifCode::Cease(CeaseSubcode::AdministrativeShutdown),
            vec![3, 0xff, 0xfe, 0xfd],
        );
        assert_eq!(bad.shutdown_message(), None);
        let short = Notification::new(
            NotifCode::Cease(CeaseSubcode::AdministrativeShutdown),
            vec![9, b'a'],
        );
        assert_eq!(short.shutdown_message(), None);
    }

    #[test]
    fn max_prefix_data() {
        let n = Notification::max_prefixes(AfiSafi::IPV6_UNICAST, 1000);
        assert_eq!(&n.data[..], &[0, 2, 1, 0, 0, 0x03, 0xe8]);
    }

    #[test]
    fn encode_writes_header_and_body() {
        let n = Notification::cease(CeaseSubcode::PeerDeconfigured);
        let mut out = BytesMut::new();
        n.encode(4096, &mut out);
        assert_eq!(out.len(), 21);
        assert_eq!(&out[16..], &[0, 21, 3, 6, 3]);
        let mut out = BytesMut::new();
        Notification::new(NotifCode::Other(99, 1), vec![0u8; 5000]).encode(4096, &mut out);
        assert_eq!(out.len(), 4096);
    }
}
