//! One BGP message of any type: framing check, then the type's own decoder.

use bytes::{Bytes, BytesMut};

use super::ctx::ParseCtx;
use super::error::{DecodeError, Fault};
use super::header::{self, MsgType};
use super::notification::{HeaderSubcode, NotifCode, Notification};
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::update::Update;

/// A decoded message.
#[derive(Clone, Debug)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// Decodes one whole message (exactly one frame, header included). The size limit is the
    /// context's: 4,096, or 65,535 with extended messages.
    pub fn decode(frame: Bytes, ctx: &ParseCtx) -> Result<Message, DecodeError> {
        let hdr = header::check(&frame, ctx.max_len())
            .map_err(|n| DecodeError::reset(Fault::Truncated, None, n))?;
        let Some(hdr) = hdr.filter(|h| h.len == frame.len()) else {
            let field = frame.get(16..18).unwrap_or(&[0, 0]).to_vec();
            return Err(DecodeError::reset(
                Fault::Truncated,
                None,
                Notification::new(
                    NotifCode::MessageHeader(HeaderSubcode::BadMessageLength),
                    field,
                ),
            ));
        };
        Ok(match hdr.kind {
            MsgType::Open => Message::Open(Open::decode(&frame)?),
            MsgType::Update => Message::Update(Update::parse(frame, ctx)?),
            MsgType::Notification => {
                let body = frame.slice(header::HEADER_LEN..);
                Message::Notification(Notification::decode_body(&body).ok_or_else(|| {
                    DecodeError::reset(
                        Fault::Truncated,
                        None,
                        Notification::new(
                            NotifCode::MessageHeader(HeaderSubcode::BadMessageLength),
                            (frame.len() as u16).to_be_bytes().to_vec(),
                        ),
                    )
                })?)
            }
            MsgType::Keepalive => Message::Keepalive,
            MsgType::RouteRefresh => Message::RouteRefresh(RouteRefresh::decode(&frame)?),
        })
    }

    pub fn kind(&self) -> MsgType {
        match self {
            Message::Open(_) => MsgType::Open,
            Message::Update(_) => MsgType::Update,
            Message::Notification(_) => MsgType::Notification,
            Message::Keepalive => MsgType::Keepalive,
            Message::RouteRefresh(_) => MsgType::RouteRefresh,
        }
    }

    /// Appends the message; an UPDATE is written as received.
    pub fn encode(&self, ctx: &ParseCtx, out: &mut BytesMut) {
        match self {
            Message::Open(o) => o.encode(out),
            Message::Update(u) => out.extend_from_slice(u.as_bytes()),
            Message::Notification(n) => n.encode(ctx.max_len(), out),
            Message::Keepalive => header::encode_keepalive(out),
            Message::RouteRefresh(r) => r.encode(out),
        }
    }
}
