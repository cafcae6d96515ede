//! MRT table dumps (RFC 6396 TABLE_DUMP_V2) of a RIB snapshot: a PEER_INDEX_TABLE, then one
//! RIB_IPV4_UNICAST / RIB_IPV6_UNICAST record per prefix holding every accepted path, with the
//! RFC 8050 ADD-PATH subtypes for prefixes that have path identifiers. Readable by `bgpdump`.
//!
//! Attributes are written as RFC 6396 §4.3.4 says: 4-octet AS numbers, and for IPv6 an
//! MP_REACH_NLRI holding only the next hop.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use bytes::{BufMut, BytesMut};

use super::entry::PrefixEntry;
use super::snapshot::RibSnapshot;
use crate::policy::PeerId;
use crate::wire::{Asn, MpNextHop, Overrides, ParseCtx, Prefix};

const TABLE_DUMP_V2: u16 = 13;
const PEER_INDEX_TABLE: u16 = 1;
const RIB_IPV4_UNICAST: u16 = 2;
const RIB_IPV6_UNICAST: u16 = 4;
const RIB_IPV4_UNICAST_ADDPATH: u16 = 8;
const RIB_IPV6_UNICAST_ADDPATH: u16 = 10;
const MP_REACH_NLRI: u8 = 14;

/// A peer as the dump names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrtPeer {
    pub bgp_id: Ipv4Addr,
    pub address: IpAddr,
    pub asn: Asn,
}

/// What a dump contained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpStats {
    pub prefixes: u64,
    pub paths: u64,
}

fn record(out: &mut impl Write, time: u32, subtype: u16, body: &[u8]) -> io::Result<()> {
    let mut h = BytesMut::with_capacity(12);
    h.put_u32(time);
    h.put_u16(TABLE_DUMP_V2);
    h.put_u16(subtype);
    h.put_u32(body.len() as u32);
    out.write_all(&h)?;
    out.write_all(body)
}

fn put_prefix(b: &mut BytesMut, p: &Prefix) {
    let len = p.length();
    let n = usize::from(len).div_ceil(8);
    b.put_u8(len);
    match p {
        Prefix::V4(x) => b.put_slice(x.addr_bits().to_be_bytes().get(..n).unwrap_or_default()),
        Prefix::V6(x) => b.put_slice(x.addr_bits().to_be_bytes().get(..n).unwrap_or_default()),
    }
}

/// The attributes of one RIB entry.
fn entry_attrs(path: &super::path::Path, prefix: &Prefix, out: &mut BytesMut) {
    let ctx = ParseCtx {
        ebgp: false,
        ..ParseCtx::new()
    };
    let ra = &path.attrs;
    let next_hop = match (prefix, &ra.next_hop) {
        (Prefix::V4(_), MpNextHop::V4(v4)) => Some(*v4),
        _ => None,
    };
    if let Prefix::V6(_) = prefix {
        // RFC 6396 §4.3.4: only the next hop length and address.
        let mut nh = BytesMut::new();
        if let MpNextHop::V6 { global, link_local } = &ra.next_hop {
            nh.put_slice(&global.octets());
            if let Some(ll) = link_local {
                nh.put_slice(&ll.octets());
            }
        }
        out.put_u8(0x80);
        out.put_u8(MP_REACH_NLRI);
        out.put_u8(nh.len() as u8 + 1);
        out.put_u8(nh.len() as u8);
        out.put_slice(&nh);
    }
    let o = Overrides {
        next_hop: Some(next_hop),
        strip_internal: false,
        otc_if_absent: None,
    };
    ra.attrs.encode_with(&ctx, &o, out);
    if path.verdict.local_pref != crate::policy::DEFAULT_LOCAL_PREF && ra.attrs.local_pref.is_none()
    {
        // The preference policy gave the path, so the dump shows what selection used.
        out.put_slice(&[0x40, 5, 4]);
        out.put_u32(path.verdict.local_pref);
    }
}

/// Writes the accepted paths of `snap` as a TABLE_DUMP_V2 file. `peers` is indexed by
/// `PeerId`; paths of peers missing from it are left out.
pub fn write_dump(
    snap: &RibSnapshot,
    peers: &[MrtPeer],
    collector: Ipv4Addr,
    view: &str,
    time: u32,
    out: &mut impl Write,
) -> io::Result<DumpStats> {
    // PEER_INDEX_TABLE: every known peer, in PeerId order (the index is the PeerId).
    let mut b = BytesMut::new();
    b.put_slice(&collector.octets());
    let view = view
        .as_bytes()
        .get(..view.len().min(255))
        .unwrap_or_default();
    b.put_u16(view.len() as u16);
    b.put_slice(view);
    b.put_u16(peers.len().min(usize::from(u16::MAX)) as u16);
    for p in peers.iter().take(usize::from(u16::MAX)) {
        let v6 = p.address.is_ipv6();
        b.put_u8(u8::from(v6) | 0x02);
        b.put_slice(&p.bgp_id.octets());
        match p.address {
            IpAddr::V4(a) => b.put_slice(&a.octets()),
            IpAddr::V6(a) => b.put_slice(&a.octets()),
        }
        b.put_u32(p.asn.0);
    }
    record(out, time, PEER_INDEX_TABLE, &b)?;
    let mut entries: Vec<(&Prefix, &PrefixEntry)> = snap.iter().map(|(p, e)| (p, &**e)).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut stats = DumpStats::default();
    let mut seq: u32 = 0;
    for (prefix, entry) in entries {
        let paths: Vec<_> = entry
            .paths
            .iter()
            .filter(|p| p.accepted() && p.peer.index() < peers.len())
            .collect();
        if paths.is_empty() {
            continue;
        }
        let add_path = paths.iter().any(|p| p.rx_id != 0);
        let subtype = match (prefix, add_path) {
            (Prefix::V4(_), false) => RIB_IPV4_UNICAST,
            (Prefix::V6(_), false) => RIB_IPV6_UNICAST,
            (Prefix::V4(_), true) => RIB_IPV4_UNICAST_ADDPATH,
            (Prefix::V6(_), true) => RIB_IPV6_UNICAST_ADDPATH,
        };
        let mut b = BytesMut::new();
        b.put_u32(seq);
        put_prefix(&mut b, prefix);
        b.put_u16(paths.len().min(usize::from(u16::MAX)) as u16);
        for p in paths.iter().take(usize::from(u16::MAX)) {
            b.put_u16(p.peer.0 as u16);
            b.put_u32(p.since);
            if add_path {
                b.put_u32(p.rx_id);
            }
            let mut a = BytesMut::new();
            entry_attrs(p, prefix, &mut a);
            b.put_u16(a.len().min(usize::from(u16::MAX)) as u16);
            b.put_slice(&a);
            stats.paths += 1;
        }
        record(out, time, subtype, &b)?;
        seq = seq.wrapping_add(1);
        stats.prefixes += 1;
    }
    Ok(stats)
}

/// A peer table for [`write_dump`] from per-peer facts, by `PeerId`.
pub fn peer_table(peers: impl IntoIterator<Item = (PeerId, MrtPeer)>) -> Vec<MrtPeer> {
    let mut v: Vec<(PeerId, MrtPeer)> = peers.into_iter().collect();
    v.sort_by_key(|(id, _)| *id);
    let mut out: Vec<MrtPeer> = Vec::new();
    for (id, p) in v {
        while out.len() < id.index() {
            out.push(MrtPeer {
                bgp_id: Ipv4Addr::UNSPECIFIED,
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                asn: Asn(0),
            });
        }
        out.push(p);
    }
    out
}
