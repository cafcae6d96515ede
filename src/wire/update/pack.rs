//! Packing: many prefixes that share one attribute set into as few UPDATEs as the size limit
//! allows, written back to back into one buffer (the export path's encoder).

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::wire::attr::{self, mp_reach, mp_reach::MpNextHop, mp_unreach};
use crate::wire::ctx::ParseCtx;
use crate::wire::header::{self, MsgType, HEADER_LEN};
use crate::wire::nlri;
use crate::wire::types::{Family, Nlri};

/// Why nothing could be packed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PackError {
    /// The attributes alone leave no room for a prefix.
    AttributesTooLong { len: usize },
    /// A prefix's family differs from the one being packed, or the next hop does not fit it.
    FamilyMismatch,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::AttributesTooLong { len } => {
                write!(f, "{len} octets of attributes leave no room for a prefix")
            }
            PackError::FamilyMismatch => f.write_str("prefix or next hop of another family"),
        }
    }
}

impl std::error::Error for PackError {}

/// Octets of an IPv4 prefix list entry at most (path id + length + 4).
const MAX_V4_ENTRY: usize = 9;
/// Octets of an IPv6 prefix list entry at most (path id + length + 16).
const MAX_V6_ENTRY: usize = 21;

fn max_entry(f: Family) -> usize {
    match f {
        Family::Ipv4Unicast => MAX_V4_ENTRY,
        Family::Ipv6Unicast => MAX_V6_ENTRY,
    }
}

/// Writes `nlri` from `*i` on while they fit in `room` octets; returns how many octets it used.
fn fill(out: &mut BytesMut, list: &[Nlri], i: &mut usize, room: usize, add_path: bool) -> usize {
    let mut used = 0;
    while let Some(n) = list.get(*i) {
        let len = nlri::encoded_len(n, add_path);
        if used + len > room {
            break;
        }
        nlri::put(out, n, add_path);
        used += len;
        *i += 1;
    }
    used
}

fn check_family(family: Family, list: &[Nlri]) -> Result<(), PackError> {
    if list.iter().all(|n| n.prefix.family() == family) {
        Ok(())
    } else {
        Err(PackError::FamilyMismatch)
    }
}

/// Appends UPDATEs announcing `list` (all of `family`) with the encoded attributes `attrs`.
/// For IPv4 `attrs` must hold NEXT_HOP and `next_hop` is ignored; for IPv6 the next hop goes
/// into MP_REACH_NLRI, which is written first. Returns how many messages were written.
pub fn pack_announce(
    ctx: &ParseCtx,
    family: Family,
    attrs: &[u8],
    next_hop: &MpNextHop,
    list: &[Nlri],
    out: &mut BytesMut,
) -> Result<usize, PackError> {
    check_family(family, list)?;
    let add_path = ctx.add_path_for(family);
    let fixed = HEADER_LEN + 4 + attrs.len();
    let mp_fixed = match family {
        Family::Ipv4Unicast => 0,
        Family::Ipv6Unicast => {
            if !matches!(next_hop, MpNextHop::V6 { .. }) {
                return Err(PackError::FamilyMismatch);
            }
            4 + 5 + next_hop.encoded_len()
        }
    };
    let room = ctx.max_len().saturating_sub(fixed + mp_fixed);
    if room < max_entry(family) {
        return Err(PackError::AttributesTooLong { len: attrs.len() });
    }
    let mut i = 0;
    let mut messages = 0;
    while i < list.len() {
        let start = header::begin(out, MsgType::Update);
        out.put_u16(0);
        let alen_at = out.len();
        out.put_u16(0);
        match family {
            Family::Ipv4Unicast => {
                out.put_slice(attrs);
                fill(out, list, &mut i, room, add_path);
            }
            Family::Ipv6Unicast => {
                let at = mp_reach::begin(out, family.afi_safi(), next_hop);
                fill(out, list, &mut i, room, add_path);
                attr::end_extended(out, at);
                out.put_slice(attrs);
            }
        }
        let alen = match family {
            Family::Ipv4Unicast => attrs.len(),
            Family::Ipv6Unicast => out.len() - alen_at - 2,
        };
        if let Some(f) = out.get_mut(alen_at..alen_at + 2) {
            f.copy_from_slice(&(alen as u16).to_be_bytes());
        }
        header::finish(out, start);
        messages += 1;
    }
    Ok(messages)
}

/// Appends UPDATEs withdrawing `list` (all of `family`). Returns how many were written.
pub fn pack_withdraw(
    ctx: &ParseCtx,
    family: Family,
    list: &[Nlri],
    out: &mut BytesMut,
) -> Result<usize, PackError> {
    check_family(family, list)?;
    let add_path = ctx.add_path_for(family);
    let mut i = 0;
    let mut messages = 0;
    while i < list.len() {
        let start = header::begin(out, MsgType::Update);
        match family {
            Family::Ipv4Unicast => {
                let room = ctx.max_len() - HEADER_LEN - 4;
                let at = out.len();
                out.put_u16(0);
                let used = fill(out, list, &mut i, room, add_path);
                if let Some(f) = out.get_mut(at..at + 2) {
                    f.copy_from_slice(&(used as u16).to_be_bytes());
                }
                out.put_u16(0);
            }
            Family::Ipv6Unicast => {
                let room = ctx.max_len() - HEADER_LEN - 4 - 4 - 3;
                out.put_u16(0);
                let alen_at = out.len();
                out.put_u16(0);
                let at = mp_unreach::begin(out, family.afi_safi());
                fill(out, list, &mut i, room, add_path);
                attr::end_extended(out, at);
                let alen = out.len() - alen_at - 2;
                if let Some(f) = out.get_mut(alen_at..alen_at + 2) {
                    f.copy_from_slice(&(alen as u16).to_be_bytes());
                }
            }
        }
        header::finish(out, start);
        messages += 1;
    }
    Ok(messages)
}

/// Appends the End-of-RIB marker of `family` (RFC 4724 §2).
pub fn encode_end_of_rib(family: Family, out: &mut BytesMut) {
    let start = header::begin(out, MsgType::Update);
    out.put_u16(0);
    match family {
        Family::Ipv4Unicast => out.put_u16(0),
        Family::Ipv6Unicast => {
            out.put_u16(6);
            out.put_slice(&[attr::flag::OPTIONAL, attr::code::MP_UNREACH_NLRI, 3]);
            out.put_u16(family.afi_safi().afi.0);
            out.put_u8(family.afi_safi().safi.0);
        }
    }
    header::finish(out, start);
}
