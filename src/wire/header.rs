//! The 19-byte BGP message header (RFC 4271 §4.1) and message framing.
//!
//! Owns: marker/length/type checks, the 4,096-octet limit and the RFC 8654 extended limit,
//! per-type length bounds, and the helpers encoders use to write and patch a header.
//! Never: looking inside a message body.

use bytes::{BufMut, BytesMut};

use super::notification::{HeaderSubcode, NotifCode, Notification};

/// Header length: 16-octet marker, 2-octet length, 1-octet type.
pub const HEADER_LEN: usize = 19;
/// Largest message without the extended-message capability.
pub const MAX_LEN: usize = 4096;
/// Largest message when RFC 8654 extended messages are negotiated.
pub const MAX_EXTENDED_LEN: usize = 65535;

/// The message types peerex knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MsgType {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

impl MsgType {
    pub fn from_u8(v: u8) -> Option<MsgType> {
        Some(match v {
            1 => MsgType::Open,
            2 => MsgType::Update,
            3 => MsgType::Notification,
            4 => MsgType::Keepalive,
            5 => MsgType::RouteRefresh,
            _ => return None,
        })
    }

    /// Smallest legal total length for the type.
    const fn min_len(self) -> usize {
        match self {
            MsgType::Open => 29,
            MsgType::Update => 23,
            MsgType::Notification => 21,
            MsgType::Keepalive => 19,
            MsgType::RouteRefresh => 23,
        }
    }
}

/// A checked header: the message is `len` octets long (header included) and of type `kind`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub kind: MsgType,
}

fn bad_length(len: u16) -> Notification {
    Notification::new(
        NotifCode::MessageHeader(HeaderSubcode::BadMessageLength),
        len.to_be_bytes().to_vec(),
    )
}

/// Checks the header at the start of `buf`.
///
/// Returns `Ok(None)` when fewer than 19 octets are buffered, `Ok(Some(header))` when the header
/// is valid (the body may still be incomplete), or the NOTIFICATION to send. `max_len` is
/// [`MAX_LEN`] or, once extended messages are negotiated, [`MAX_EXTENDED_LEN`]. OPEN and
/// KEEPALIVE never exceed 4,096 octets (RFC 8654 §4).
pub fn check(buf: &[u8], max_len: usize) -> Result<Option<Header>, Notification> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    if head.iter().take(16).any(|&b| b != 0xff) {
        return Err(Notification::new(
            NotifCode::MessageHeader(HeaderSubcode::ConnectionNotSynchronized),
            bytes::Bytes::new(),
        ));
    }
    let raw_len = u16::from_be_bytes([head[16], head[17]]);
    let len = usize::from(raw_len);
    let kind_byte = head[18];
    if !(HEADER_LEN..=max_len).contains(&len) {
        return Err(bad_length(raw_len));
    }
    let Some(kind) = MsgType::from_u8(kind_byte) else {
        return Err(Notification::new(
            NotifCode::MessageHeader(HeaderSubcode::BadMessageType),
            vec![kind_byte],
        ));
    };
    let too_long = match kind {
        MsgType::Keepalive => len != HEADER_LEN,
        MsgType::Open => len > MAX_LEN,
        _ => false,
    };
    if len < kind.min_len() || too_long {
        return Err(bad_length(raw_len));
    }
    Ok(Some(Header { len, kind }))
}

/// Starts a message of `kind` in `out`; returns the offset to hand to [`finish`].
pub(crate) fn begin(out: &mut BytesMut, kind: MsgType) -> usize {
    let start = out.len();
    out.put_slice(&[0xff; 16]);
    out.put_u16(0);
    out.put_u8(kind as u8);
    start
}

/// Writes the length of the message begun at `start` (callers keep it within 65,535).
pub(crate) fn finish(out: &mut BytesMut, start: usize) {
    let len = (out.len() - start).min(usize::from(u16::MAX)) as u16;
    if let Some(field) = out.get_mut(start + 16..start + 18) {
        field.copy_from_slice(&len.to_be_bytes());
    }
}

/// Appends a KEEPALIVE.
pub fn encode_keepalive(out: &mut BytesMut) {
    let start = begin(out, MsgType::Keepalive);
    finish(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u16, kind: u8) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(kind);
        v
    }

    #[test]
    fn short_buffer_is_incomplete() {
        assert_eq!(check(&[0xff; 18], MAX_LEN), Ok(None));
    }

    #[test]
    fn keepalive_ok_and_encoded() {
        let h = check(&hdr(19, 4), MAX_LEN).unwrap().unwrap();
        assert_eq!(h.kind, MsgType::Keepalive);
        let mut out = BytesMut::new();
        encode_keepalive(&mut out);
        assert_eq!(&out[..], &hdr(19, 4)[..]);
    }

    #[test]
    fn bad_marker() {
        let mut v = hdr(19, 4);
        v[3] = 0;
        let n = check(&v, MAX_LEN).unwrap_err();
        assert_eq!(
            n.code,
            NotifCode::MessageHeader(HeaderSubcode::ConnectionNotSynchronized)
        );
    }

    #[test]
    fn bad_lengths_carry_the_length_field() {
        for (len, kind, max) in [
            (18u16, 4u8, MAX_LEN),
            (20, 4, MAX_LEN),
            (4097, 2, MAX_LEN),
            (22, 2, MAX_LEN),
            (28, 1, MAX_LEN),
            (5000, 1, MAX_EXTENDED_LEN),
            (20, 3, MAX_LEN),
            (22, 5, MAX_LEN),
        ] {
            let n = check(&hdr(len, kind), max).unwrap_err();
            assert_eq!(
                n.code,
                NotifCode::MessageHeader(HeaderSubcode::BadMessageLength)
            );
            assert_eq!(&n.data[..], &len.to_be_bytes());
        }
        // Extended messages allow a large UPDATE.
        assert!(check(&hdr(5000, 2), MAX_EXTENDED_LEN).unwrap().is_some());
    }

    #[test]
    fn bad_type() {
        let n = check(&hdr(19, 9), MAX_LEN).unwrap_err();
        assert_eq!(
            n.code,
            NotifCode::MessageHeader(HeaderSubcode::BadMessageType)
        );
        assert_eq!(&n.data[..], &[9]);
    }
}
