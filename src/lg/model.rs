//! Read-only views of the route server for people and programs: peers with their session
//! state and counters, and routes with their import verdict, rank and reasons. Built from a
//! RIB snapshot and the peer directory only; serialisable to JSON for the control socket and
//! the looking glass.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::directory::{PeerDirectory, PeerEntry};
use crate::policy::PeerId;
use crate::rib::{Path, PrefixEntry, RibCounters, RibSnapshot};
use crate::wire::{Family, MpNextHop, Prefix};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PeerView {
    pub name: String,
    pub description: Option<String>,
    pub address: IpAddr,
    pub asn: u32,
    pub state: String,
    pub uptime_seconds: Option<u64>,
    pub established_since: Option<u64>,
    /// Why the last session ended, in words.
    pub last_error: Option<String>,
    /// The same as a stable name (see docs/lg.md).
    pub last_end_reason: Option<&'static str>,
    pub remote: Option<String>,
    pub hold_time: Option<u16>,
    pub capabilities: Vec<String>,
    /// Long-lived graceful restart (RFC 9494) negotiated on the current or last session.
    pub llgr: bool,
    /// After its loss with LLGR: per family, when its long-lived stale routes expire
    /// (seconds since the Unix epoch).
    pub llgr_stale_until: Vec<(String, u64)>,
    pub hostname: Option<String>,
    pub routes_accepted: u64,
    pub routes_filtered: u64,
    /// Routes withdrawn from (or not sent to) it for not fitting its maximum message
    /// length (RFC 8654).
    pub routes_too_big: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    pub prefixes_announced_in: u64,
    pub prefixes_withdrawn_in: u64,
    pub notifications_in: u64,
    pub notifications_out: u64,
    pub established_transitions: u64,
}

pub fn peer_view(p: &PeerEntry, counters: &RibCounters) -> PeerView {
    use super::super::session::status::Counters as C;
    let d = p.status.details();
    let c = &p.status.counters;
    let (mut acc, mut rej) = (0, 0);
    for f in Family::ALL {
        let (a, r) = counters.paths(p.id, f);
        acc += a;
        rej += r;
    }
    let neg = d.negotiated.as_ref();
    let mut caps = Vec::new();
    if let Some(n) = neg {
        for f in n.families.iter() {
            caps.push(f.to_string());
        }
        if n.four_octet_as {
            caps.push("4-octet-as".into());
        }
        if !n.rx.add_path.is_empty() {
            caps.push("add-path-receive".into());
        }
        if !n.tx.add_path.is_empty() {
            caps.push("add-path-send".into());
        }
        if n.route_refresh {
            caps.push("route-refresh".into());
        }
        if n.enhanced_route_refresh {
            caps.push("enhanced-route-refresh".into());
        }
        if n.extended_message {
            caps.push("extended-message".into());
        }
        if n.graceful_restart.is_some() {
            caps.push("graceful-restart".into());
        }
        if n.llgr.is_some() {
            caps.push("long-lived-graceful-restart".into());
        }
        if let Some(r) = n.peer_role {
            caps.push(format!("role-{r}"));
        }
    }
    PeerView {
        name: p.config.name.clone(),
        description: p.config.description.clone(),
        address: p.config.address,
        asn: p.config.asn.0,
        state: p.status.state().to_string(),
        uptime_seconds: p.status.uptime(),
        established_since: d
            .since
            .and_then(|(_, t)| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|x| x.as_secs()),
        last_error: d.last_error.as_ref().map(ToString::to_string),
        last_end_reason: d.last_error.as_ref().map(|r| r.label()),
        remote: d.remote.map(|r| r.to_string()),
        hold_time: neg.map(|n| n.hold_time),
        capabilities: caps,
        llgr: neg.is_some_and(|n| n.llgr.is_some()),
        llgr_stale_until: d
            .llgr_until
            .iter()
            .filter_map(|(f, t)| {
                let s = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                Some((f.to_string(), s))
            })
            .collect(),
        hostname: neg.and_then(|n| n.hostname.clone()),
        routes_accepted: acc,
        routes_filtered: rej,
        routes_too_big: counters.routes_too_big(p.id),
        messages_in: C::get(&c.messages_in),
        messages_out: C::get(&c.messages_out),
        updates_in: C::get(&c.updates_in),
        updates_out: C::get(&c.updates_out),
        prefixes_announced_in: C::get(&c.prefixes_announced_in),
        prefixes_withdrawn_in: C::get(&c.prefixes_withdrawn_in),
        notifications_in: C::get(&c.notifications_in),
        notifications_out: C::get(&c.notifications_out),
        established_transitions: C::get(&c.established_transitions),
    }
}

/// One path of one prefix.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RouteView {
    pub prefix: String,
    pub peer: String,
    pub peer_asn: u32,
    pub path_id: u32,
    pub as_path: String,
    pub origin: String,
    pub next_hop: String,
    pub med: Option<u32>,
    pub local_pref: u32,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub ext_communities: Vec<String>,
    pub accepted: bool,
    /// Why it was rejected (empty when accepted).
    pub reasons: Vec<String>,
    /// Euro-IX `RS:1101:N` codes of the reasons that have one.
    pub reason_codes: Vec<u32>,
    /// Place in selection order among the prefix's accepted paths (1 = best), 0 if rejected.
    pub rank: usize,
    /// RPKI origin validation state: valid, not found, not checked or invalid.
    pub rpki: String,
    /// ASPA verification outcome: valid, unknown, not checked or invalid.
    pub aspa: String,
    /// An accepted RFC 7999 blackhole (exported only to clients that take blackholes).
    pub blackhole: bool,
    pub stale: bool,
    /// Long-lived stale (RFC 9494): least preferred, exported only to clients that
    /// negotiated LLGR.
    pub llgr_stale: bool,
    /// When a long-lived stale route of a lost peer expires (seconds since the Unix epoch).
    pub llgr_stale_until: Option<u64>,
    /// Seconds since the Unix epoch when received.
    pub since: u32,
}

pub fn next_hop_text(nh: &MpNextHop) -> String {
    match nh {
        MpNextHop::V4(a) => a.to_string(),
        MpNextHop::V6 { global, .. } => global.to_string(),
        MpNextHop::Raw(b) => format!("{} octets", b.len()),
    }
}

pub fn route_view(
    prefix: &Prefix,
    entry: &PrefixEntry,
    path: &Path,
    dir: &PeerDirectory,
) -> RouteView {
    let a = &path.attrs.attrs;
    let rank = if path.accepted() {
        entry
            .paths
            .iter()
            .position(|p| std::ptr::eq(p, path))
            .map_or(0, |i| i + 1)
    } else {
        0
    };
    RouteView {
        prefix: prefix.to_string(),
        peer: dir.name(path.peer),
        peer_asn: dir.get(path.peer).map_or(0, |p| p.config.asn.0),
        path_id: path.rx_id,
        as_path: a
            .as_path
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        origin: a.origin.map(|o| o.to_string()).unwrap_or_default(),
        next_hop: next_hop_text(&path.attrs.next_hop),
        med: a.med,
        local_pref: path.verdict.local_pref,
        communities: a.communities.iter().map(|c| c.to_string()).collect(),
        large_communities: a.large_communities.iter().map(|c| c.to_string()).collect(),
        ext_communities: a.ext_communities.iter().map(|c| c.to_string()).collect(),
        accepted: path.accepted(),
        reasons: path
            .verdict
            .rejects
            .iter()
            .map(|r| r.name().to_string())
            .collect(),
        reason_codes: path
            .verdict
            .rejects
            .iter()
            .filter_map(|r| r.euro_ix_code())
            .collect(),
        rank,
        rpki: path.rpki.name().to_string(),
        aspa: path.aspa.name().to_string(),
        blackhole: path.blackhole,
        stale: path.stale,
        llgr_stale: path.llgr_stale,
        llgr_stale_until: llgr_until(dir, path, prefix.family()),
        since: path.since,
    }
}

/// When `path`'s long-lived stale time ends, if it is long-lived stale from its peer's loss.
fn llgr_until(dir: &PeerDirectory, path: &Path, family: Family) -> Option<u64> {
    if !(path.llgr_stale && path.stale) {
        return None;
    }
    let d = dir.get(path.peer)?.status.details();
    let (_, t) = d.llgr_until.iter().find(|(f, _)| *f == family)?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|x| x.as_secs())
}

/// Every path of the most specific prefix covering `p` (or of exactly `p`).
pub fn routes_for(
    snap: &RibSnapshot,
    dir: &PeerDirectory,
    p: &Prefix,
    exact: bool,
) -> Vec<RouteView> {
    let found = if exact {
        snap.exact(p).map(|e| (*p, e))
    } else {
        snap.longest_match_prefix(p)
    };
    match found {
        Some((prefix, e)) => e
            .paths
            .iter()
            .map(|x| route_view(&prefix, &e, x, dir))
            .collect(),
        None => Vec::new(),
    }
}

/// Paths received from `peer` (accepted, or with `filtered` the rejected ones), in prefix
/// order, from `offset`, at most `limit`; and how many there are in all.
pub fn routes_from(
    snap: &RibSnapshot,
    dir: &PeerDirectory,
    peer: PeerId,
    filtered: bool,
    offset: usize,
    limit: usize,
) -> (Vec<RouteView>, usize) {
    let mut all: Vec<(&Prefix, &Arc<PrefixEntry>, &Path)> = snap
        .iter()
        .flat_map(|(p, e)| {
            e.paths
                .iter()
                .filter(move |x| x.peer == peer && x.accepted() != filtered)
                .map(move |x| (p, e, x))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0).then(a.2.rx_id.cmp(&b.2.rx_id)));
    let total = all.len();
    let page = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(p, e, x)| route_view(p, e, x, dir))
        .collect();
    (page, total)
}

/// What `client` receives (its best allowed path per prefix), in prefix order, paged.
pub fn routes_to(
    snap: &RibSnapshot,
    dir: &PeerDirectory,
    client: PeerId,
    offset: usize,
    limit: usize,
) -> (Vec<RouteView>, usize) {
    let mut all: Vec<(Prefix, Arc<PrefixEntry>, Path)> = snap
        .iter()
        .filter_map(|(p, e)| snap.choice_for(client, p).map(|x| (*p, e.clone(), x)))
        .collect();
    all.sort_by_key(|a| a.0);
    let total = all.len();
    let page = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(p, e, x)| {
            let found = e
                .paths
                .iter()
                .find(|y| y.peer == x.peer && y.rx_id == x.rx_id)
                .unwrap_or(x);
            route_view(p, e, found, dir)
        })
        .collect();
    (page, total)
}
