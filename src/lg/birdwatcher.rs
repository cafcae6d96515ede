//! The birdwatcher API shape (alice-lg/birdwatcher, "single table" mode) so that Alice-LG
//! can use peerex as a source: `/status`, `/protocols[/bgp|/short]`, `/routes/protocol/{id}`,
//! `/routes/filtered/{id}`, `/routes/noexport/{id}`, `/routes/prefix?prefix=`,
//! `/routes/table/{table}[/filtered]`. A "protocol" is a peer, its id the peer's name.
//! Filtered routes carry their reasons as `RS:1101:N` large communities (`reasons.rs`).
//! Times are UTC; see docs/lg.md for the Alice-LG source settings.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::api::{paths_of, peer, Ctx, Which};
use super::model::next_hop_text;
use super::query::{parse_prefix, ApiError, Query};
use super::reasons;
use super::stats::TableStats;
use crate::directory::{PeerDirectory, PeerEntry};
use crate::rib::{Path, PrefixEntry, RibSnapshot};
use crate::session::State;
use crate::wire::{Family, Prefix};

/// `(year, month, day, hour, minute, second)` of a Unix time (UTC).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

/// `2006-01-02 15:04:05` (Alice's `servertime_short` and `servertime_ext`).
pub fn time_short(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `2006-01-02T15:04:05Z` (Alice's `servertime`).
pub fn time_rfc3339(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `api` block and `ttl` every birdwatcher answer carries. We answer from live
/// snapshots, never from a cache of ours; the answer stays valid for the configured
/// `cache_ttl`, so a client (Alice-LG) may serve it from its cache until `ttl`.
fn envelope(ctx: &Ctx, mut body: Map<String, Value>) -> Value {
    let now = now();
    let ttl = ctx.view.config().looking_glass.cache_ttl.as_secs();
    let t = time_rfc3339(now);
    body.insert(
        "api".into(),
        json!({
            "Version": concat!("peerex ", env!("CARGO_PKG_VERSION")),
            "result_from_cache": false,
            "cache_status": {
                "orig_ttl": ttl,
                "cached_at": { "date": t, "timezone_type": "UTC", "timezone": "UTC" },
            },
        }),
    );
    body.insert("ttl".into(), Value::String(time_rfc3339(now + ttl)));
    Value::Object(body)
}

/// `/status`
pub fn status(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let cfg = ctx.view.config();
    let started = ctx
        .view
        .started_at()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut m = Map::new();
    m.insert(
        "status".into(),
        json!({
            "current_server": time_short(now()),
            "last_reboot": time_short(started),
            "last_reconfig": time_short(started),
            "message": "peerex is up and running",
            "router_id": cfg.server.router_id.to_string(),
            "version": env!("CARGO_PKG_VERSION"),
        }),
    );
    Ok(envelope(ctx, m))
}

/// BIRD's protocol state: `up` when established, `down` when disabled, else `start`.
fn bird_state(s: State) -> &'static str {
    match s {
        State::Established => "up",
        State::Disabled => "down",
        _ => "start",
    }
}

fn state_changed(p: &PeerEntry, started: u64) -> String {
    let since = p
        .status
        .details()
        .since
        .filter(|_| p.status.state() == State::Established)
        .and_then(|(_, t)| t.duration_since(UNIX_EPOCH).ok())
        .map_or(started, |d| d.as_secs());
    time_short(since)
}

/// `/protocols`, `/protocols/bgp`: every peer as a BIRD BGP protocol.
pub fn protocols(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let dir = ctx.view.directory();
    let snap = ctx.view.snapshot();
    let stats = TableStats::compute(&snap, &dir);
    let counters = ctx.view.counters();
    let started = ctx
        .view
        .started_at()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut protos = Map::new();
    for p in dir.iter() {
        let (mut acc, mut rej) = (0u64, 0u64);
        for f in Family::ALL {
            let (a, r) = counters.paths(p.id, f);
            acc += a;
            rej += r;
        }
        let state = p.status.state();
        let d = p.status.details();
        use crate::session::status::Counters as C;
        let c = &p.status.counters;
        protos.insert(
            p.config.name.clone(),
            json!({
                "protocol": p.config.name,
                "bird_protocol": "BGP",
                "table": "master",
                "state": bird_state(state),
                "bgp_state": state.to_string(),
                "connection": state.to_string(),
                "state_changed": state_changed(p, started),
                "neighbor_address": p.config.address.to_string(),
                "neighbor_as": p.config.asn.0,
                "description": p.config.description.clone().unwrap_or_default(),
                "last_error": d.last_error.map(|e| e.to_string()).unwrap_or_default(),
                "routes": {
                    "imported": acc,
                    "filtered": rej,
                    "exported": stats.exported_of(p.id.index()),
                    "preferred": stats.preferred_of(p.id.index()),
                },
                "route_changes": {
                    "import_updates": { "received": C::get(&c.prefixes_announced_in) },
                    "import_withdraws": { "received": C::get(&c.prefixes_withdrawn_in) },
                    "export_updates": { "accepted": C::get(&c.updates_out) },
                },
            }),
        );
    }
    let mut m = Map::new();
    m.insert("protocols".into(), Value::Object(protos));
    Ok(envelope(ctx, m))
}

/// `/protocols/short`: state only.
pub fn protocols_short(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let dir = ctx.view.directory();
    let started = ctx
        .view
        .started_at()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut protos = Map::new();
    for p in dir.iter() {
        let state = p.status.state();
        protos.insert(
            p.config.name.clone(),
            json!({
                "proto": "BGP",
                "table": "master",
                "state": bird_state(state),
                "since": state_changed(p, started),
                "info": state.to_string(),
            }),
        );
    }
    let mut m = Map::new();
    m.insert("protocols".into(), Value::Object(protos));
    Ok(envelope(ctx, m))
}

/// One route in birdwatcher's shape. `filtered` adds the reject communities.
fn route(
    prefix: &Prefix,
    entry: &PrefixEntry,
    path: &Path,
    dir: &PeerDirectory,
    rs_asn: u32,
) -> Value {
    let a = &path.attrs.attrs;
    let (name, addr) = dir.get(path.peer).map_or_else(
        || (format!("peer{}", path.peer.0), String::new()),
        |p| (p.config.name.clone(), p.config.address.to_string()),
    );
    let as_path: Vec<String> = a
        .as_path
        .iter()
        .flat_map(|p| p.segments.iter())
        .flat_map(|s| s.asns.iter())
        .map(|x| x.0.to_string())
        .collect();
    let communities: Vec<[u32; 2]> = a
        .communities
        .iter()
        .map(|c| [c.0 >> 16, c.0 & 0xffff])
        .collect();
    let mut large: Vec<[u32; 3]> = a
        .large_communities
        .iter()
        .map(|c| [c.global, c.local1, c.local2])
        .collect();
    for r in path.verdict.rejects.iter() {
        let (x, y, z) = reasons::community(r, rs_asn);
        large.push([x, y, z]);
    }
    let ext: Vec<Value> = a
        .ext_communities
        .iter()
        .map(|c| {
            let text = c.to_string();
            let parts: Vec<&str> = text.splitn(3, ':').collect();
            match parts.as_slice() {
                [k, x, y] => json!([k, x, y]),
                _ => json!(["generic", text, "0"]),
            }
        })
        .collect();
    let primary = path.accepted()
        && entry
            .paths
            .first()
            .is_some_and(|f| f.peer == path.peer && f.rx_id == path.rx_id);
    json!({
        "network": prefix.to_string(),
        "gateway": addr,
        "learnt_from": addr,
        "interface": "",
        "metric": 100,
        "from_protocol": name,
        "age": time_short(u64::from(path.since)),
        "type": ["BGP", "univ"],
        "primary": primary,
        "bgp": {
            "origin": a.origin.map(|o| o.to_string()).unwrap_or_else(|| "incomplete".into()),
            "as_path": as_path,
            "next_hop": next_hop_text(&path.attrs.next_hop),
            "med": a.med.unwrap_or(0).to_string(),
            "local_pref": path.verdict.local_pref.to_string(),
            "communities": communities,
            "large_communities": large,
            "ext_communities": ext,
        },
    })
}

fn routes_answer<'a>(
    ctx: &Ctx,
    dir: &PeerDirectory,
    it: impl Iterator<Item = (&'a Prefix, &'a PrefixEntry, &'a Path)>,
) -> Value {
    let rs = ctx.rs_asn();
    let mut routes = Vec::new();
    let mut truncated = false;
    for (p, e, x) in it {
        if routes.len() >= ctx.max_results {
            truncated = true;
            break;
        }
        routes.push(route(p, e, x, dir, rs));
    }
    let mut m = Map::new();
    m.insert("routes".into(), Value::Array(routes));
    if truncated {
        m.insert("truncated".into(), Value::Bool(true));
    }
    envelope(ctx, m)
}

/// `/routes/protocol/{id}` (accepted) and `/routes/filtered/{id}` (rejected).
pub fn routes_of(ctx: &Ctx, id: &str, filtered: bool, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let dir = ctx.view.directory();
    let p = peer(&dir, id)?;
    let snap = ctx.view.snapshot();
    let which = if filtered {
        Which::Filtered
    } else {
        Which::Accepted
    };
    let all = paths_of(&snap, p.id, which);
    Ok(routes_answer(
        ctx,
        &dir,
        all.into_iter().map(|(p, e, x)| (p, &**e, x)),
    ))
}

/// `/routes/noexport/{id}`: accepted paths of other peers that the peer's export rules
/// exclude (what BIRD shows as rejected by the protocol's export filter).
pub fn noexport(ctx: &Ctx, id: &str, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let dir = ctx.view.directory();
    let client = peer(&dir, id)?;
    let snap = ctx.view.snapshot();
    let mut found: Vec<(&Prefix, &PrefixEntry, &Path)> = Vec::new();
    for shard in &snap.shards {
        let rules = shard.rules(client.id);
        if rules.accepts_from.is_none() {
            continue;
        }
        for (p, e) in shard.table.iter() {
            for x in e.paths.iter().take_while(|x| x.accepted()) {
                if x.peer != client.id && !rules.accepts(x.peer) {
                    found.push((p, e, x));
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(b.0).then(a.2.peer.cmp(&b.2.peer)));
    Ok(routes_answer(ctx, &dir, found.into_iter()))
}

/// `/routes/prefix?prefix=P`: the accepted paths of the most specific prefix covering `P`.
pub fn routes_prefix(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["prefix", "uncached"])?;
    let prefix = parse_prefix(q.required("prefix")?)?;
    let dir = ctx.view.directory();
    let snap = ctx.view.snapshot();
    let found = snap.longest_match_prefix(&prefix);
    Ok(match &found {
        Some((p, e)) => routes_answer(
            ctx,
            &dir,
            e.paths
                .iter()
                .filter(|x| x.accepted())
                .map(|x| (p, &**e, x)),
        ),
        None => routes_answer(ctx, &dir, std::iter::empty()),
    })
}

/// `/routes/table/{table}[/filtered]`: the whole table (`master`, `master4`, `master6`).
pub fn table(ctx: &Ctx, name: &str, filtered: bool, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["uncached"])?;
    let family = match name {
        "master" => None,
        "master4" => Some(Family::Ipv4Unicast),
        "master6" => Some(Family::Ipv6Unicast),
        _ => return Err(ApiError::not_found(format!("no table named {name:?}"))),
    };
    let dir = ctx.view.directory();
    let snap: RibSnapshot = ctx.view.snapshot();
    let mut all: Vec<(&Prefix, &PrefixEntry, &Path)> = snap
        .iter()
        .filter(|(p, _)| family.is_none_or(|f| p.family() == f))
        .flat_map(|(p, e)| {
            e.paths
                .iter()
                .filter(move |x| x.accepted() != filtered)
                .map(move |x| (p, &**e, x))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    Ok(routes_answer(ctx, &dir, all.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time_short(0), "1970-01-01 00:00:00");
        assert_eq!(time_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(time_short(1_700_000_000), "2023-11-14 22:13:20");
    }
}
