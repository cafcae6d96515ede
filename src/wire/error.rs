//! Typed decode errors and the RFC 7606 actions they call for.
//!
//! Owns: `Action` (what the session must do), `Fault` (what was wrong), `UpdateIssue` (a
//! non-fatal problem recorded on an UPDATE) and `DecodeError` (a fatal one, which always
//! carries the NOTIFICATION to send). Never: performing the action.

use std::fmt;

use super::notification::Notification;
use super::types::AfiSafi;

/// What a session must do with a malformed UPDATE (RFC 7606 §2), weakest first. When several
/// problems occur in one message the strongest wins (RFC 7606 §3 (i)).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Drop the attribute and process the rest of the UPDATE.
    AttributeDiscard,
    /// Treat every prefix the UPDATE announces as withdrawn.
    TreatAsWithdraw,
    /// Drop all routes of the AFI/SAFI and ignore it from now on (or reset the session).
    AfiSafiDisable,
    /// Send the NOTIFICATION and close the session.
    SessionReset,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::AttributeDiscard => "attribute discard",
            Action::TreatAsWithdraw => "treat-as-withdraw",
            Action::AfiSafiDisable => "AFI/SAFI disable",
            Action::SessionReset => "session reset",
        })
    }
}

/// What was wrong with the bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A fixed-size field runs past the end of its container.
    Truncated,
    /// The Withdrawn Routes Length runs past the message.
    WithdrawnLength,
    /// The Total Path Attribute Length is inconsistent with the message length.
    AttributesLength,
    /// Fewer octets remain than an attribute header needs (RFC 7606 §4).
    AttributeHeaderOverrun,
    /// An attribute's length runs past the path attribute section (RFC 7606 §4).
    AttributeOverrun,
    /// The Optional or Transitive flag conflicts with the attribute type.
    Flags,
    /// The attribute length is wrong for its type.
    Length,
    /// A value outside the defined range (e.g. ORIGIN 3).
    Value,
    /// The attribute appeared before in the same UPDATE.
    Duplicate,
    /// MP_REACH_NLRI or MP_UNREACH_NLRI appeared twice.
    DuplicateMp,
    /// A well-known mandatory attribute is missing.
    Missing,
    /// A well-known attribute peerex does not know.
    UnrecognizedWellKnown,
    /// An AS_PATH segment is malformed (bad type, zero length, overrun).
    Segment,
    /// AS number zero in a path or aggregator (RFC 7607).
    AsZero,
    /// Confederation segments from an external peer.
    ConfedFromEbgp,
    /// An attribute meant only for internal peers (LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST)
    /// arrived from an external peer.
    IbgpOnly,
    /// AS4_PATH / AS4_AGGREGATOR on a session that negotiated 4-octet AS numbers.
    UnexpectedAs4,
    /// The next hop is not a usable unicast address.
    NextHop,
    /// The MP_REACH_NLRI next-hop length does not fit the AFI/SAFI (RFC 7606 §7.11).
    NextHopLength,
    /// A prefix length beyond the family's maximum.
    PrefixLength,
    /// A prefix's octets run past the end of its field.
    NlriOverrun,
    /// OPEN: version other than 4.
    Version,
    /// OPEN: an optional parameter other than capabilities.
    OptionalParameter,
    /// OPEN: a capability whose value does not fit its code.
    Capability,
    /// ROUTE-REFRESH: a body other than 4 octets.
    RouteRefreshLength,
    /// The message does not fit the negotiated size when encoded.
    TooLong,
    /// A reserved attribute type code (0, or 255 kept for development; RFC 2042).
    Reserved,
    /// A deprecated attribute type code (RFC 6938, RFC 7447, RFC 8093).
    Deprecated,
    /// An attribute of a feature peerex never enables on a session (AIGP, BGPsec).
    NotEnabled,
    /// An attribute for routes peerex does not carry (the BGP Prefix-SID of labeled unicast).
    OutOfScope,
    /// The attribute's TLVs (or nested attributes) do not fill its value exactly.
    Tlv,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Truncated => "field runs past the end",
            Fault::WithdrawnLength => "withdrawn routes length runs past the message",
            Fault::AttributesLength => "total path attribute length inconsistent with message",
            Fault::AttributeHeaderOverrun => "attribute header runs past the attribute section",
            Fault::AttributeOverrun => "attribute length runs past the attribute section",
            Fault::Flags => "attribute flags conflict with the type",
            Fault::Length => "attribute length wrong for the type",
            Fault::Value => "value out of range",
            Fault::Duplicate => "attribute repeated",
            Fault::DuplicateMp => "MP_REACH_NLRI or MP_UNREACH_NLRI repeated",
            Fault::Missing => "well-known mandatory attribute missing",
            Fault::UnrecognizedWellKnown => "unrecognized well-known attribute",
            Fault::Segment => "malformed AS path segment",
            Fault::AsZero => "AS number 0",
            Fault::ConfedFromEbgp => "confederation segment from an external peer",
            Fault::IbgpOnly => "internal-only attribute from an external peer",
            Fault::UnexpectedAs4 => "AS4 attribute on a 4-octet AS session",
            Fault::NextHop => "next hop is not a unicast host address",
            Fault::NextHopLength => "next hop length does not fit the address family",
            Fault::PrefixLength => "prefix length beyond the family maximum",
            Fault::NlriOverrun => "prefix runs past the end of its field",
            Fault::Version => "unsupported BGP version",
            Fault::OptionalParameter => "unsupported optional parameter",
            Fault::Capability => "malformed capability",
            Fault::RouteRefreshLength => "ROUTE-REFRESH of the wrong length",
            Fault::TooLong => "message would exceed the negotiated size",
            Fault::Reserved => "reserved attribute type, not passed on",
            Fault::Deprecated => "deprecated attribute type, not passed on",
            Fault::NotEnabled => "attribute of a feature not enabled, not passed on",
            Fault::OutOfScope => "attribute for routes peerex does not carry, not passed on",
            Fault::Tlv => "attribute TLVs do not fill the value exactly",
        })
    }
}

/// A problem found in an UPDATE that did not stop its processing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpdateIssue {
    /// Attribute type code, if the problem is in an attribute.
    pub attr: Option<u8>,
    pub fault: Fault,
    pub action: Action,
}

impl fmt::Display for UpdateIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.attr {
            write!(f, "{}: ", super::attr::name(t))?;
        }
        write!(f, "{} ({})", self.fault, self.action)
    }
}

/// A message that cannot be processed: the session sends `notification` and resets, or, for
/// [`Action::AfiSafiDisable`], may instead stop using `family`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub fault: Fault,
    pub attr: Option<u8>,
    pub action: Action,
    pub family: Option<AfiSafi>,
    pub notification: Notification,
}

impl DecodeError {
    pub(crate) fn reset(fault: Fault, attr: Option<u8>, notification: Notification) -> Self {
        DecodeError {
            fault,
            attr,
            action: Action::SessionReset,
            family: None,
            notification,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.attr {
            write!(f, "{}: ", super::attr::name(t))?;
        }
        write!(f, "{} ({}", self.fault, self.action)?;
        if let Some(fam) = self.family {
            write!(f, " {fam}")?;
        }
        write!(f, "; NOTIFICATION {})", self.notification)
    }
}

impl std::error::Error for DecodeError {}

/// How many issues an UPDATE keeps in detail; the count and the strongest action are always
/// exact. A fixed array keeps decoding allocation-free.
pub const ISSUES_KEPT: usize = 4;

/// The non-fatal problems of one UPDATE.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct IssueLog {
    kept: [Option<UpdateIssue>; ISSUES_KEPT],
    count: u16,
    worst: Option<Action>,
}

impl IssueLog {
    pub(crate) fn push(&mut self, attr: Option<u8>, fault: Fault, action: Action) {
        let issue = UpdateIssue {
            attr,
            fault,
            action,
        };
        if let Some(slot) = self.kept.get_mut(usize::from(self.count)) {
            *slot = Some(issue);
        }
        self.count = self.count.saturating_add(1);
        self.worst = self.worst.max(Some(action));
    }

    /// The strongest action among the issues, if any.
    pub fn worst(&self) -> Option<Action> {
        self.worst
    }

    /// How many issues were found (may exceed what [`IssueLog::iter`] shows).
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first [`ISSUES_KEPT`] issues.
    pub fn iter(&self) -> impl Iterator<Item = &UpdateIssue> {
        self.kept.iter().flatten()
    }
}
