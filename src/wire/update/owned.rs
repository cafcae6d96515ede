//! The owned UPDATE and its encoder (used by tests, fuzz round trips and tools; the export
//! hot path uses the packer instead).

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::wire::attr::mp_reach::{self, MpReach};
use crate::wire::attr::mp_unreach::{self, MpUnreach};
use crate::wire::attr::PathAttributes;
use crate::wire::ctx::ParseCtx;
use crate::wire::header::{self, MsgType};
use crate::wire::nlri;
use crate::wire::types::{Family, Nlri, Prefix};

/// An UPDATE with everything owned. `withdrawn` and `nlri` are the classic IPv4 fields;
/// non-IPv4 entries there are not encoded.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UpdateMessage {
    pub withdrawn: Vec<Nlri>,
    pub attrs: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub nlri: Vec<Nlri>,
}

/// The message would not fit the negotiated size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooLong {
    pub len: usize,
    pub max: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPDATE of {} octets exceeds the limit of {}",
            self.len, self.max
        )
    }
}

impl std::error::Error for TooLong {}

fn put_v4_list(out: &mut BytesMut, list: &[Nlri], add_path: bool) {
    let at = out.len();
    out.put_u16(0);
    for n in list.iter().filter(|n| matches!(n.prefix, Prefix::V4(_))) {
        nlri::put(out, n, add_path);
    }
    let len = (out.len() - at - 2).min(usize::from(u16::MAX)) as u16;
    if let Some(f) = out.get_mut(at..at + 2) {
        f.copy_from_slice(&len.to_be_bytes());
    }
}

impl UpdateMessage {
    /// The End-of-RIB marker of a family (RFC 4724 §2).
    pub fn end_of_rib(family: Family) -> Self {
        match family {
            Family::Ipv4Unicast => UpdateMessage::default(),
            f => UpdateMessage {
                mp_unreach: Some(MpUnreach::new(f, Vec::new())),
                ..UpdateMessage::default()
            },
        }
    }

    /// Appends the whole message. On `Err`, `out` is left as it was.
    pub fn encode(&self, ctx: &ParseCtx, out: &mut BytesMut) -> Result<(), TooLong> {
        let start = header::begin(out, MsgType::Update);
        let v4_add_path = ctx.add_path_for(Family::Ipv4Unicast);
        put_v4_list(out, &self.withdrawn, v4_add_path);
        let at = out.len();
        out.put_u16(0);
        if let Some(mp) = &self.mp_reach {
            mp_reach::emit(out, mp, ctx);
        }
        if let Some(mp) = &self.mp_unreach {
            mp_unreach::emit(out, mp, ctx);
        }
        self.attrs.encode(ctx, out);
        let alen = out.len() - at - 2;
        if let Some(f) = out.get_mut(at..at + 2) {
            f.copy_from_slice(&(alen.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        }
        for n in self
            .nlri
            .iter()
            .filter(|n| matches!(n.prefix, Prefix::V4(_)))
        {
            nlri::put(out, n, v4_add_path);
        }
        let len = out.len() - start;
        if len > ctx.max_len() || alen > usize::from(u16::MAX) {
            out.truncate(start);
            return Err(TooLong {
                len,
                max: ctx.max_len(),
            });
        }
        header::finish(out, start);
        Ok(())
    }
}
