//! Path attributes: one file per attribute (its checks, its view, its encoder and its tests),
//! the table of what each attribute's flags must be and what RFC 7606 says to do when it is
//! malformed, the scanner that indexes an UPDATE's attribute section, and the owned
//! attribute set used for encoding. The coverage table is in `README.md` beside this file.
//!
//! Never: knowledge of sessions, policy or the RIB.

pub mod aggregator;
pub mod as_path;
pub mod atomic_aggregate;
pub mod cluster_list;
pub mod communities;
pub mod ext_communities;
pub mod large_communities;
pub mod local_pref;
pub mod med;
pub mod mp_reach;
pub mod mp_unreach;
pub mod next_hop;
pub mod origin;
pub mod originator_id;
pub mod otc;
pub mod registered;
mod scan;
mod set;
pub mod unknown;
mod view;

use bytes::{BufMut, BytesMut};

use super::error::{Action, Fault};

pub(crate) use scan::{frame, scan, AttrIndex, MpInfo};
pub use set::{Overrides, PathAttributes};
pub use view::Attrs;

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
    pub const OTC: u8 = 35;
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// The Optional/Transitive class an attribute type requires.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    WellKnown,
    OptionalNonTransitive,
    OptionalTransitive,
}

impl Class {
    /// The flag octet encoders write (extended length added when needed).
    pub(crate) const fn flags(self) -> u8 {
        match self {
            Class::WellKnown => flag::TRANSITIVE,
            Class::OptionalNonTransitive => flag::OPTIONAL,
            Class::OptionalTransitive => flag::OPTIONAL | flag::TRANSITIVE,
        }
    }

    /// True when `flags` has the Optional and Transitive bits this class requires.
    pub(crate) const fn matches(self, flags: u8) -> bool {
        flags & (flag::OPTIONAL | flag::TRANSITIVE) == self.flags()
    }
}

/// Where a known attribute's value is kept in an [`AttrIndex`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Origin,
    AsPath,
    NextHop,
    Med,
    LocalPref,
    AtomicAggregate,
    Aggregator,
    Communities,
    OriginatorId,
    ClusterList,
    MpReach,
    MpUnreach,
    ExtCommunities,
    As4Path,
    As4Aggregator,
    LargeCommunities,
    Otc,
}

pub(crate) const SLOTS: usize = 17;

/// What the RFCs require of one known attribute.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Spec {
    pub slot: Slot,
    pub class: Class,
    /// Action when the Optional/Transitive flags are wrong (RFC 7606 §3 (c)).
    pub on_flags: Action,
    /// Action when the value is malformed (RFC 7606 §7, RFC 6793 §6, RFC 8092, RFC 9234).
    pub on_malformed: Action,
    /// Only meaningful between internal peers; discarded when it comes from an external one.
    pub ibgp_only: bool,
}

const fn spec_of(slot: Slot, class: Class, on_malformed: Action, ibgp_only: bool) -> Spec {
    Spec {
        slot,
        class,
        on_flags: Action::TreatAsWithdraw,
        on_malformed,
        ibgp_only,
    }
}

/// The table of known attributes.
pub(crate) const fn spec(ty: u8) -> Option<Spec> {
    use Action::{AttributeDiscard as Discard, TreatAsWithdraw as Withdraw};
    use Class::*;
    Some(match ty {
        code::ORIGIN => spec_of(Slot::Origin, WellKnown, Withdraw, false),
        code::AS_PATH => spec_of(Slot::AsPath, WellKnown, Withdraw, false),
        code::NEXT_HOP => spec_of(Slot::NextHop, WellKnown, Withdraw, false),
        code::MULTI_EXIT_DISC => spec_of(Slot::Med, OptionalNonTransitive, Withdraw, false),
        code::LOCAL_PREF => spec_of(Slot::LocalPref, WellKnown, Withdraw, true),
        code::ATOMIC_AGGREGATE => spec_of(Slot::AtomicAggregate, WellKnown, Discard, false),
        code::AGGREGATOR => spec_of(Slot::Aggregator, OptionalTransitive, Discard, false),
        code::COMMUNITIES => spec_of(Slot::Communities, OptionalTransitive, Withdraw, false),
        code::ORIGINATOR_ID => spec_of(Slot::OriginatorId, OptionalNonTransitive, Withdraw, true),
        code::CLUSTER_LIST => spec_of(Slot::ClusterList, OptionalNonTransitive, Withdraw, true),
        // Malformed MP attributes are handled where they are parsed (AFI/SAFI disable or reset).
        code::MP_REACH_NLRI => spec_of(Slot::MpReach, OptionalNonTransitive, Withdraw, false),
        code::MP_UNREACH_NLRI => spec_of(Slot::MpUnreach, OptionalNonTransitive, Withdraw, false),
        code::EXTENDED_COMMUNITIES => {
            spec_of(Slot::ExtCommunities, OptionalTransitive, Withdraw, false)
        }
        // RFC 6793 §6: malformed AS4 attributes, flags included, are discarded.
        code::AS4_PATH => Spec {
            on_flags: Discard,
            ..spec_of(Slot::As4Path, OptionalTransitive, Discard, false)
        },
        code::AS4_AGGREGATOR => Spec {
            on_flags: Discard,
            ..spec_of(Slot::As4Aggregator, OptionalTransitive, Discard, false)
        },
        code::LARGE_COMMUNITIES => {
            spec_of(Slot::LargeCommunities, OptionalTransitive, Withdraw, false)
        }
        code::OTC => spec_of(Slot::Otc, OptionalTransitive, Withdraw, false),
        _ => return None,
    })
}

/// A readable name for an attribute type code.
pub fn name(ty: u8) -> &'static str {
    match ty {
        code::ORIGIN => "ORIGIN",
        code::AS_PATH => "AS_PATH",
        code::NEXT_HOP => "NEXT_HOP",
        code::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
        code::LOCAL_PREF => "LOCAL_PREF",
        code::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
        code::AGGREGATOR => "AGGREGATOR",
        code::COMMUNITIES => "COMMUNITIES",
        code::ORIGINATOR_ID => "ORIGINATOR_ID",
        code::CLUSTER_LIST => "CLUSTER_LIST",
        code::MP_REACH_NLRI => "MP_REACH_NLRI",
        code::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
        code::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
        code::AS4_PATH => "AS4_PATH",
        code::AS4_AGGREGATOR => "AS4_AGGREGATOR",
        code::LARGE_COMMUNITIES => "LARGE_COMMUNITIES",
        code::OTC => "OTC",
        _ => match registered::name(ty) {
            Some(n) => n,
            None => "unknown attribute",
        },
    }
}

/// Writes an attribute header for a value of `len` octets, choosing the extended-length form
/// only when the value needs it.
pub(crate) fn put_header(out: &mut BytesMut, flags: u8, ty: u8, len: usize) {
    if len > 255 {
        out.put_u8(flags | flag::EXTENDED_LENGTH);
        out.put_u8(ty);
        out.put_u16(len.min(usize::from(u16::MAX)) as u16);
    } else {
        out.put_u8(flags & !flag::EXTENDED_LENGTH);
        out.put_u8(ty);
        out.put_u8(len as u8);
    }
}

/// Starts an attribute of unknown final length with an extended-length header; returns the
/// position to hand to [`end_extended`].
pub(crate) fn begin_extended(out: &mut BytesMut, ty: u8) -> usize {
    let flags = spec(ty).map_or(flag::OPTIONAL | flag::TRANSITIVE, |s| s.class.flags());
    out.put_u8(flags | flag::EXTENDED_LENGTH);
    out.put_u8(ty);
    let at = out.len();
    out.put_u16(0);
    at
}

/// Patches the length of an attribute begun with [`begin_extended`].
pub(crate) fn end_extended(out: &mut BytesMut, at: usize) {
    let len = (out.len() - at - 2).min(usize::from(u16::MAX)) as u16;
    if let Some(field) = out.get_mut(at..at + 2) {
        field.copy_from_slice(&len.to_be_bytes());
    }
}

/// Checks a value that must be exactly one 32-bit number (MED, LOCAL_PREF, ORIGINATOR_ID, OTC).
pub(crate) fn check_u32(v: &[u8]) -> Result<(), Fault> {
    if v.len() == 4 {
        Ok(())
    } else {
        Err(Fault::Length)
    }
}

/// Reads a value checked by [`check_u32`].
pub(crate) fn read_u32(v: &[u8]) -> Option<u32> {
    v.first_chunk::<4>().map(|b| u32::from_be_bytes(*b))
}

/// Checks a value that must be a non-empty list of `unit`-octet items.
pub(crate) fn check_list(v: &[u8], unit: usize) -> Result<(), Fault> {
    if !v.is_empty() && v.len() % unit == 0 {
        Ok(())
    } else {
        Err(Fault::Length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_uses_extended_length_only_when_needed() {
        let mut out = BytesMut::new();
        put_header(&mut out, 0xc0, 8, 255);
        assert_eq!(&out[..], &[0xc0, 8, 255]);
        let mut out = BytesMut::new();
        put_header(&mut out, 0xd0, 8, 256);
        assert_eq!(&out[..], &[0xd0, 8, 1, 0]);
        let mut out = BytesMut::new();
        put_header(&mut out, 0xd0, 8, 4);
        assert_eq!(&out[..], &[0xc0, 8, 4]);
    }

    #[test]
    fn classes_match_flags() {
        assert!(Class::WellKnown.matches(0x40));
        assert!(Class::WellKnown.matches(0x50));
        assert!(!Class::WellKnown.matches(0xc0));
        assert!(Class::OptionalTransitive.matches(0xe0));
        assert!(!Class::OptionalNonTransitive.matches(0xc0));
    }

    #[test]
    fn every_slot_has_one_type() {
        let mut seen = Vec::new();
        for ty in 0..=255u8 {
            if let Some(s) = spec(ty) {
                assert!(!seen.contains(&(s.slot as usize)), "slot reused by {ty}");
                seen.push(s.slot as usize);
                assert_ne!(name(ty), "unknown attribute");
            }
        }
        assert_eq!(seen.len(), SLOTS);
    }
}
