//! Our own looking-glass API (`/api/v1/...`): status, neighbours, routes per neighbour
//! (received, accepted, filtered, exported), prefix lookup and `why`. Each handler is a pure
//! function of a RIB snapshot, the peer directory and the query; see docs/lg.md.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use super::model::{peer_view, route_view, routes_to};
use super::query::{parse_prefix, ApiError, Page, Query};
use super::{reasons, why};
use crate::directory::{PeerDirectory, PeerEntry};
use crate::policy::PeerId;
use crate::rib::{Path, PrefixEntry, RibSnapshot};
use crate::session::State;
use crate::view::ServerView;
use crate::wire::{Family, Prefix};

/// What a handler reads: the read-only view of the server and the configured result limit.
#[derive(Clone)]
pub struct Ctx {
    pub view: ServerView,
    pub max_results: usize,
}

impl Ctx {
    pub fn rs_asn(&self) -> u32 {
        self.view.config().server.asn.0
    }
}

/// Which of a neighbour's paths a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Received,
    Accepted,
    Filtered,
}

impl Which {
    fn takes(self, p: &Path) -> bool {
        match self {
            Which::Received => true,
            Which::Accepted => p.accepted(),
            Which::Filtered => !p.accepted(),
        }
    }
}

/// A route of our API: the shared view plus its reasons with codes and communities.
#[derive(Serialize)]
struct ApiRoute {
    #[serde(flatten)]
    view: super::RouteView,
    reject_reasons: Vec<Value>,
}

pub(crate) fn api_route(
    prefix: &Prefix,
    entry: &PrefixEntry,
    path: &Path,
    dir: &PeerDirectory,
    rs_asn: u32,
) -> Value {
    let r = ApiRoute {
        view: route_view(prefix, entry, path, dir),
        reject_reasons: path
            .verdict
            .rejects
            .iter()
            .map(|r| reasons::to_json(r, rs_asn))
            .collect(),
    };
    serde_json::to_value(r).unwrap_or(Value::Null)
}

pub fn peer<'d>(dir: &'d PeerDirectory, name: &str) -> Result<&'d PeerEntry, ApiError> {
    dir.by_name(name)
        .ok_or_else(|| ApiError::not_found(format!("no neighbour named {name:?}")))
}

/// The paths `peer` sent that `which` takes, in prefix order (then path id).
pub fn paths_of(
    snap: &RibSnapshot,
    peer: PeerId,
    which: Which,
) -> Vec<(&Prefix, &Arc<PrefixEntry>, &Path)> {
    let mut all: Vec<(&Prefix, &Arc<PrefixEntry>, &Path)> = snap
        .iter()
        .flat_map(|(p, e)| {
            e.paths
                .iter()
                .filter(move |x| x.peer == peer && which.takes(x))
                .map(move |x| (p, e, x))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(b.0).then(a.2.rx_id.cmp(&b.2.rx_id)));
    all
}

fn pagination(page: Page, total: usize) -> Value {
    json!({
        "offset": page.offset,
        "limit": page.limit,
        "page": page.offset / page.limit.max(1),
        "pages": total.div_ceil(page.limit.max(1)),
        "total": total,
    })
}

/// `GET /api/v1/status`
pub fn status(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&[])?;
    let view = &ctx.view;
    let cfg = view.config();
    let dir = view.directory();
    let snap = view.snapshot();
    let counters = view.counters();
    let mut families = serde_json::Map::new();
    let (mut acc, mut rej) = (0u64, 0u64);
    for f in Family::ALL {
        let (mut fa, mut fr) = (0u64, 0u64);
        for p in dir.iter() {
            let (a, r) = counters.paths(p.id, f);
            fa += a;
            fr += r;
        }
        acc += fa;
        rej += fr;
        families.insert(
            f.to_string(),
            json!({ "paths_accepted": fa, "paths_filtered": fr }),
        );
    }
    let established = dir
        .iter()
        .filter(|p| p.status.state() == State::Established)
        .count();
    let started = view
        .started_at()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "asn": cfg.server.asn.0,
        "router_id": cfg.server.router_id.to_string(),
        "started": started,
        "uptime_seconds": view.uptime().as_secs(),
        "neighbours": dir.iter().count(),
        "neighbours_established": established,
        "rib": {
            "prefixes": snap.len(),
            "paths_accepted": acc,
            "paths_filtered": rej,
            "shards": view.shards(),
            "families": families,
        },
        "max_results": ctx.max_results,
        "bmp_collectors": view.collectors().iter().map(|c| c.to_json()).collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/neighbours`
pub fn neighbours(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&[])?;
    let dir = ctx.view.directory();
    let counters = ctx.view.counters();
    let list: Vec<_> = dir.iter().map(|p| peer_view(p, counters)).collect();
    Ok(json!({ "neighbours": list }))
}

/// `GET /api/v1/neighbours/{name}`
pub fn neighbour(ctx: &Ctx, name: &str, q: &Query) -> Result<Value, ApiError> {
    q.allow(&[])?;
    let dir = ctx.view.directory();
    let p = peer(&dir, name)?;
    Ok(json!({ "neighbour": peer_view(p, ctx.view.counters()) }))
}

/// `GET /api/v1/neighbours/{name}/routes/{received|accepted|filtered}`
pub fn neighbour_routes(ctx: &Ctx, name: &str, which: Which, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["page", "offset", "limit"])?;
    let page = q.page(ctx.max_results)?;
    let dir = ctx.view.directory();
    let p = peer(&dir, name)?;
    let snap = ctx.view.snapshot();
    let all = paths_of(&snap, p.id, which);
    let rs = ctx.rs_asn();
    let routes: Vec<Value> = all
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|(pfx, e, x)| api_route(pfx, e, x, &dir, rs))
        .collect();
    Ok(json!({
        "neighbour": name,
        "routes": routes,
        "pagination": pagination(page, all.len()),
    }))
}

/// `GET /api/v1/neighbours/{name}/routes/exported`: what the neighbour receives.
pub fn neighbour_exported(ctx: &Ctx, name: &str, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["page", "offset", "limit"])?;
    let page = q.page(ctx.max_results)?;
    let dir = ctx.view.directory();
    let p = peer(&dir, name)?;
    let snap = ctx.view.snapshot();
    let (routes, total) = routes_to(&snap, &dir, p.id, page.offset, page.limit);
    Ok(json!({
        "neighbour": name,
        "established": p.status.state() == State::Established,
        "routes": routes,
        "pagination": pagination(page, total),
    }))
}

/// `GET /api/v1/routes?prefix=P[&exact]`: every path of the most specific prefix covering
/// `P` (or of exactly `P`).
pub fn lookup(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["prefix", "exact", "page", "offset", "limit"])?;
    let prefix = parse_prefix(q.required("prefix")?)?;
    let exact = q.flag("exact")?;
    let page = q.page(ctx.max_results)?;
    let dir = ctx.view.directory();
    let snap = ctx.view.snapshot();
    let found = if exact {
        snap.exact(&prefix).map(|e| (prefix, e))
    } else {
        snap.longest_match_prefix(&prefix)
    };
    let rs = ctx.rs_asn();
    let (matched, routes, total) = match &found {
        Some((p, e)) => (
            Some(p.to_string()),
            e.paths
                .iter()
                .skip(page.offset)
                .take(page.limit)
                .map(|x| api_route(p, e, x, &dir, rs))
                .collect::<Vec<_>>(),
            e.paths.len(),
        ),
        None => (None, Vec::new(), 0),
    };
    Ok(json!({
        "query": prefix.to_string(),
        "exact": exact,
        "matched": matched,
        "routes": routes,
        "pagination": pagination(page, total),
    }))
}

/// `GET /api/v1/why?prefix=P&neighbour=N[&exact]`
pub fn why(ctx: &Ctx, q: &Query) -> Result<Value, ApiError> {
    q.allow(&["prefix", "neighbour", "neighbor", "exact"])?;
    let prefix = parse_prefix(q.required("prefix")?)?;
    let name = match (q.get("neighbour"), q.get("neighbor")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give \"neighbour\" or \"neighbor\", not both",
            ))
        }
        (Some(n), None) | (None, Some(n)) if !n.is_empty() => n,
        _ => return Err(ApiError::bad_request("parameter \"neighbour\" is required")),
    };
    let exact = q.flag("exact")?;
    let dir = ctx.view.directory();
    let client = peer(&dir, name)?;
    let snap = ctx.view.snapshot();
    Ok(why::explain(
        &snap,
        &dir,
        client,
        &prefix,
        exact,
        ctx.rs_asn(),
        ctx.max_results,
    ))
}
