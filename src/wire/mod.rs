//! `wire`: bytes ⇄ typed BGP messages. The floor of peerex: it knows nothing of sessions,
//! sockets, policy or the RIB.
//!
//! # The contract
//!
//! * **Check once, then read freely.** [`Update::parse`] validates a whole UPDATE (framing,
//!   both prefix fields, every attribute) and keeps only offsets into the message's
//!   [`bytes::Bytes`]. Afterwards every accessor and iterator reads checked bytes, allocates
//!   nothing, and cannot fail; prefixes and attribute values are never copied out unless asked
//!   for (`to_owned`).
//! * **Errors say what to do.** A fatal problem is a [`DecodeError`] carrying the
//!   [`Notification`] to send and its [`Action`] (session reset, or AFI/SAFI disable). A
//!   problem RFC 7606 lets the session survive is recorded on the UPDATE's [`IssueLog`]
//!   (attribute discard or treat-as-withdraw) and the prefixes to withdraw stay readable.
//! * **No panics, no out-of-bounds reads, no allocation beyond the message.** All reads go
//!   through bounds-checked helpers; the decoder allocates only owned results whose size is
//!   bounded by the input (OPEN capabilities, NOTIFICATION data are shared `Bytes`).
//! * **Parse and emit mirror each other.** Every decoder has an encoder; `decode(encode(x))`
//!   is `x` for every message type (property-tested), with 4-octet ASNs in the owned forms and
//!   AS4_PATH/AS4_AGGREGATOR written or merged as RFC 6793 requires on 2-octet sessions.

pub mod attr;
pub mod capability;
mod ctx;
mod display;
mod error;
pub mod header;
mod message;
pub mod nlri;
pub mod notification;
pub mod open;
mod reader;
pub mod route_refresh;
mod types;
pub mod update;

use bytes::Bytes;

pub use attr::aggregator::Aggregator;
pub use attr::as_path::{AsPath, AsPathView, PathSegment, SegmentType};
pub use attr::communities::Community;
pub use attr::ext_communities::ExtCommunity;
pub use attr::large_communities::LargeCommunity;
pub use attr::mp_reach::{MpNextHop, MpReach};
pub use attr::mp_unreach::MpUnreach;
pub use attr::origin::Origin;
pub use attr::unknown::RawAttr;
pub use attr::{Attrs, Overrides, PathAttributes};
pub use capability::Capability;
pub use ctx::ParseCtx;
pub use error::{Action, DecodeError, Fault, IssueLog, UpdateIssue};
pub use message::Message;
pub use nlri::NlriIter;
pub use notification::{NotifCode, Notification};
pub use open::Open;
pub use route_refresh::{RefreshKind, RouteRefresh};
pub use types::{
    Afi, AfiSafi, Asn, ByFamily, Family, FamilySet, Nlri, PathId, Prefix, Prefix4, Prefix6,
    PrefixParseError, Safi,
};
pub use update::{Update, UpdateMessage};

/// A range inside one message, as 16-bit offsets (a message is at most 65,535 octets).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u16,
    len: u16,
}

impl Span {
    pub(crate) fn new(start: usize, len: usize) -> Span {
        let start = start.min(usize::from(u16::MAX));
        let len = len.min(usize::from(u16::MAX) - start);
        Span {
            start: start as u16,
            len: len as u16,
        }
    }
    pub(crate) fn start(self) -> usize {
        usize::from(self.start)
    }
    pub(crate) fn len(self) -> usize {
        usize::from(self.len)
    }
    pub(crate) fn end(self) -> usize {
        self.start() + self.len()
    }
    pub(crate) fn is_empty(self) -> bool {
        self.len == 0
    }
    /// The bytes of the span; empty if it lies outside `buf`.
    pub(crate) fn get(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start()..self.end()).unwrap_or_default()
    }
    /// The span as a shared slice of `whole` (no copy).
    pub(crate) fn bytes(self, whole: &Bytes) -> Bytes {
        if self.end() <= whole.len() {
            whole.slice(self.start()..self.end())
        } else {
            Bytes::new()
        }
    }
}
