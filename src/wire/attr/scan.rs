//! The one pass over an UPDATE's path attribute section: it frames every attribute, applies
//! the RFC 7606 rules (flags, lengths, duplicates, internal-only attributes, each attribute's
//! own checks) and records where each usable value lies. After it, every accessor of
//! [`super::Attrs`] reads checked bytes.

use super::{aggregator, atomic_aggregate, cluster_list, communities, ext_communities};
use super::{as_path, code, flag, spec, Slot, SLOTS};
use super::{large_communities, local_pref, med, mp_reach, mp_unreach, next_hop, origin};
use super::{originator_id, otc, registered};
use crate::wire::ctx::ParseCtx;
use crate::wire::error::{Action, DecodeError, Fault, IssueLog};
use crate::wire::notification::{NotifCode, Notification, UpdateSubcode};
use crate::wire::types::AfiSafi;
use crate::wire::Span;

/// Where an MP_REACH_NLRI / MP_UNREACH_NLRI keeps its parts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct MpInfo {
    pub afi_safi: AfiSafi,
    /// Empty for MP_UNREACH_NLRI.
    pub next_hop: Span,
    pub nlri: Span,
}

/// The index of one attribute section.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct AttrIndex {
    spans: [Span; SLOTS],
    /// Slots holding a checked, usable value.
    usable: u32,
    /// Known slots whose type appeared at all, usable or not.
    seen_slots: u32,
    /// Attributes framed in the section, duplicates and unknown ones included.
    framed: u16,
    /// An optional transitive attribute peerex does not decode is to be passed on.
    pub has_unknown: bool,
    /// The types of those attributes (their first occurrence).
    pub forward: Seen,
    pub mp_reach: Option<MpInfo>,
    pub mp_unreach: Option<MpInfo>,
}

impl AttrIndex {
    pub(crate) fn get(&self, slot: Slot) -> Option<Span> {
        if self.usable & (1 << slot as u32) != 0 {
            self.spans.get(slot as usize).copied()
        } else {
            None
        }
    }

    pub(crate) fn has(&self, slot: Slot) -> bool {
        self.usable & (1 << slot as u32) != 0
    }

    /// True when an attribute of the slot's type appeared, usable or not.
    pub(crate) fn seen(&self, slot: Slot) -> bool {
        self.seen_slots & (1 << slot as u32) != 0
    }

    /// True when the section holds exactly one attribute (an End-of-RIB's MP_UNREACH_NLRI).
    pub(crate) fn single_attribute(&self) -> bool {
        self.framed == 1
    }

    fn set(&mut self, slot: Slot, span: Span) {
        if let Some(s) = self.spans.get_mut(slot as usize) {
            *s = span;
            self.usable |= 1 << slot as u32;
        }
    }
}

/// Marks and tests the attribute types seen so far (a 256-bit set on the stack).
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Seen([u64; 4]);

impl Seen {
    /// Marks `ty`; returns false when it was already marked.
    pub(crate) fn first(&mut self, ty: u8) -> bool {
        let (word, bit) = (usize::from(ty >> 6), 1u64 << (ty & 63));
        match self.0.get_mut(word) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    /// True when `ty` is marked.
    pub(crate) fn contains(&self, ty: u8) -> bool {
        let (word, bit) = (usize::from(ty >> 6), 1u64 << (ty & 63));
        self.0.get(word).is_some_and(|w| w & bit != 0)
    }
}

/// One attribute as framed in the section.
pub(crate) struct Framed {
    pub flags: u8,
    pub ty: u8,
    /// The whole attribute, header included.
    pub whole: Span,
    pub value: Span,
}

/// Frames the next attribute at `pos` (before `end`) of `buf`. `Err` is an RFC 7606 §4 overrun.
pub(crate) fn frame(buf: &[u8], pos: usize, end: usize) -> Result<Framed, (Fault, Option<u8>)> {
    let avail = end.saturating_sub(pos);
    let head = buf.get(pos..end).unwrap_or_default();
    let (flags, ty) = match head {
        [f, t, ..] if avail >= 3 => (*f, *t),
        _ => return Err((Fault::AttributeHeaderOverrun, None)),
    };
    let ext = flags & flag::EXTENDED_LENGTH != 0;
    let (hlen, len) = match (ext, head) {
        (true, [_, _, a, b, ..]) => (4, usize::from(u16::from_be_bytes([*a, *b]))),
        (false, [_, _, a, ..]) => (3, usize::from(*a)),
        _ => return Err((Fault::AttributeHeaderOverrun, Some(ty))),
    };
    if hlen + len > avail {
        return Err((Fault::AttributeOverrun, Some(ty)));
    }
    Ok(Framed {
        flags,
        ty,
        whole: Span::new(pos, hlen + len),
        value: Span::new(pos + hlen, len),
    })
}

fn update_error(sub: UpdateSubcode, data: &[u8]) -> Notification {
    Notification::new(NotifCode::Update(sub), data.to_vec())
}

/// Scans the attribute section `attrs` of the message `buf`, recording non-fatal problems in
/// `issues`. `Err` means the session must act on the whole message.
pub(crate) fn scan(
    buf: &[u8],
    attrs: Span,
    ctx: &ParseCtx,
    issues: &mut IssueLog,
) -> Result<AttrIndex, DecodeError> {
    let mut index = AttrIndex::default();
    let mut seen = Seen::default();
    let mut pos = attrs.start();
    let end = attrs.end();
    while pos < end {
        let a = match frame(buf, pos, end) {
            Ok(a) => a,
            Err((fault, ty)) => {
                // RFC 7606 §4: the rest of the section cannot be framed; the NLRI field is
                // still located through the Total Path Attribute Length.
                issues.push(ty, fault, Action::TreatAsWithdraw);
                break;
            }
        };
        pos = a.whole.end();
        index.framed = index.framed.saturating_add(1);
        let ty = a.ty;
        if !seen.first(ty) {
            if ty == code::MP_REACH_NLRI || ty == code::MP_UNREACH_NLRI {
                return Err(DecodeError::reset(
                    Fault::DuplicateMp,
                    Some(ty),
                    update_error(UpdateSubcode::MalformedAttributeList, &[]),
                ));
            }
            issues.push(Some(ty), Fault::Duplicate, Action::AttributeDiscard);
            continue;
        }
        let value = a.value.get(buf);
        let Some(s) = spec(ty) else {
            // The rest of the registry: reserved, deprecated and checked types first.
            if let registered::Outcome::Drop { fault, action } =
                registered::apply(ty, a.flags, value, ctx.ebgp)
            {
                issues.push(Some(ty), fault, action);
                continue;
            }
            if a.flags & flag::OPTIONAL == 0 {
                return Err(DecodeError::reset(
                    Fault::UnrecognizedWellKnown,
                    Some(ty),
                    update_error(
                        UpdateSubcode::UnrecognizedWellKnownAttribute,
                        a.whole.get(buf),
                    ),
                ));
            }
            if a.flags & flag::TRANSITIVE != 0 {
                index.has_unknown = true;
                index.forward.first(ty);
            }
            continue;
        };
        index.seen_slots |= 1 << s.slot as u32;
        let flags_ok = s.class.matches(a.flags);
        if !flags_ok {
            issues.push(Some(ty), Fault::Flags, s.on_flags);
        }
        // MP attributes are parsed even with bad flags: treat-as-withdraw needs their NLRI.
        match s.slot {
            Slot::MpReach => {
                let (info, nh_fault) = mp_reach::parse(value, a.value.start(), ctx)
                    .map_err(|e| mp_error(e, ty, value))?;
                if let Some(f) = nh_fault {
                    issues.push(Some(ty), f, Action::TreatAsWithdraw);
                }
                index.mp_reach = Some(info);
                continue;
            }
            Slot::MpUnreach => {
                let info = mp_unreach::parse(value, a.value.start(), ctx)
                    .map_err(|e| mp_error(e, ty, value))?;
                index.mp_unreach = Some(info);
                continue;
            }
            _ => {}
        }
        if !flags_ok {
            continue;
        }
        if s.ibgp_only && ctx.ebgp {
            issues.push(Some(ty), Fault::IbgpOnly, Action::AttributeDiscard);
            continue;
        }
        if matches!(s.slot, Slot::As4Path | Slot::As4Aggregator) && ctx.four_octet_as {
            issues.push(Some(ty), Fault::UnexpectedAs4, Action::AttributeDiscard);
            continue;
        }
        match check_value(s.slot, value, ctx) {
            Ok(()) => index.set(s.slot, a.value),
            Err(fault) => issues.push(Some(ty), fault, s.on_malformed),
        }
    }
    Ok(index)
}

fn mp_error(e: (Fault, Action, Option<AfiSafi>), ty: u8, value: &[u8]) -> DecodeError {
    let (fault, action, family) = e;
    DecodeError {
        fault,
        attr: Some(ty),
        action,
        family,
        notification: update_error(UpdateSubcode::OptionalAttributeError, value),
    }
}

/// The per-attribute value checks of every slot except the MP ones.
fn check_value(slot: Slot, v: &[u8], ctx: &ParseCtx) -> Result<(), Fault> {
    let width = ctx.asn_width();
    match slot {
        Slot::Origin => origin::check(v),
        Slot::AsPath => as_path::check(v, width, ctx.ebgp),
        Slot::NextHop => next_hop::check(v),
        Slot::Med => med::check(v),
        Slot::LocalPref => local_pref::check(v),
        Slot::AtomicAggregate => atomic_aggregate::check(v),
        Slot::Aggregator => aggregator::check(v, width),
        Slot::Communities => communities::check(v),
        Slot::OriginatorId => originator_id::check(v),
        Slot::ClusterList => cluster_list::check(v),
        Slot::ExtCommunities => ext_communities::check(v),
        Slot::As4Path => as_path::check_as4(v),
        Slot::As4Aggregator => aggregator::check_as4(v),
        Slot::LargeCommunities => large_communities::check(v),
        Slot::Otc => otc::check(v),
        Slot::MpReach | Slot::MpUnreach => Ok(()),
    }
}
