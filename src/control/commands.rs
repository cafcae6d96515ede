//! What each control request does. Reads go to snapshots and the peer directory through the
//! [`ServerView`]; changes go through [`Actions`] (peer commands, reload).

use std::net::Ipv4Addr;

use serde_json::json;

use super::protocol::{PeerAction, Request, Response, DEFAULT_LIMIT, MAX_LIMIT};
use super::Actions;
use crate::lg::model::{peer_view, routes_for, routes_from, routes_to};
use crate::policy::PeerId;
use crate::rib::mrt::{peer_table, write_dump, MrtPeer};
use crate::session::{PeerCmd, State};
use crate::view::ServerView;
use crate::wire::{Family, Prefix};

pub async fn handle(req: Request, view: &ServerView, actions: &impl Actions) -> Response {
    match run(req, view, actions).await {
        Ok(v) => Response::ok(v),
        Err(e) => Response::err(e),
    }
}

fn peer_id(view: &ServerView, name: &str) -> Result<PeerId, String> {
    view.directory()
        .by_name(name)
        .map(|p| p.id)
        .ok_or_else(|| format!("no peer named {name:?}"))
}

/// Bytes per part (`peerex_memory_bytes` in /metrics), and where `allocator` comes from.
fn memory_json(m: &crate::rib::MemoryReport) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    for (part, bytes) in m.parts() {
        o.insert(part.into(), bytes.into());
    }
    o.insert("allocator_source".into(), m.allocator_source.into());
    serde_json::Value::Object(o)
}

async fn run(
    req: Request,
    view: &ServerView,
    actions: &impl Actions,
) -> Result<serde_json::Value, String> {
    let dir = view.directory();
    let counters = view.counters();
    match req {
        Request::Status => {
            let cfg = view.config();
            let snap = view.snapshot();
            let (mut acc, mut rej) = (0u64, 0u64);
            for p in dir.iter() {
                for f in Family::ALL {
                    let (a, r) = counters.paths(p.id, f);
                    acc += a;
                    rej += r;
                }
            }
            let established = dir
                .iter()
                .filter(|p| p.status.state() == State::Established)
                .count();
            Ok(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "asn": cfg.server.asn.0,
                "router_id": cfg.server.router_id.to_string(),
                "config": cfg.source.display().to_string(),
                "uptime_seconds": view.uptime().as_secs(),
                "peers": dir.iter().count(),
                "peers_established": established,
                "prefixes": snap.len(),
                "paths_accepted": acc,
                "paths_filtered": rej,
                "rib_shards": view.shards(),
                "memory": memory_json(&counters.memory()),
                "bmp_collectors": view.collectors().iter().map(|c| c.to_json()).collect::<Vec<_>>(),
            }))
        }
        Request::Peers => {
            let list: Vec<_> = dir.iter().map(|p| peer_view(p, counters)).collect();
            serde_json::to_value(list).map_err(|e| e.to_string())
        }
        Request::Peer { name } => {
            let p = dir
                .by_name(&name)
                .ok_or_else(|| format!("no peer named {name:?}"))?;
            serde_json::to_value(peer_view(p, counters)).map_err(|e| e.to_string())
        }
        Request::Routes {
            prefix,
            exact,
            peer,
            filtered,
            to,
            offset,
            limit,
        } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
            let snap = view.snapshot();
            match (prefix, peer, to) {
                (Some(p), None, None) => {
                    let p: Prefix = match p.parse() {
                        Ok(x) => x,
                        Err(_) => {
                            let addr: std::net::IpAddr = p
                                .parse()
                                .map_err(|_| format!("{p:?} is neither a prefix nor an address"))?;
                            let len = if addr.is_ipv4() { 32 } else { 128 };
                            Prefix::new(addr, len).ok_or("bad address")?
                        }
                    };
                    let routes = routes_for(&snap, &dir, &p, exact);
                    Ok(json!({ "routes": routes, "total": routes.len() }))
                }
                (None, Some(name), None) => {
                    let id = peer_id(view, &name)?;
                    let (routes, total) = routes_from(&snap, &dir, id, filtered, offset, limit);
                    Ok(json!({ "routes": routes, "total": total, "offset": offset }))
                }
                (None, None, Some(name)) => {
                    let id = peer_id(view, &name)?;
                    let (routes, total) = routes_to(&snap, &dir, id, offset, limit);
                    Ok(json!({ "routes": routes, "total": total, "offset": offset }))
                }
                _ => Err("routes needs exactly one of prefix, peer or to".into()),
            }
        }
        Request::PeerAction {
            name,
            action,
            message,
        } => {
            let cmd = match action {
                PeerAction::Disable => PeerCmd::Disable(message),
                PeerAction::Enable => PeerCmd::Enable,
                PeerAction::Reset => PeerCmd::Reset(message),
                PeerAction::Refresh => PeerCmd::RefreshIn,
            };
            actions
                .peer_command(&name, cmd)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({ "peer": name, "action": action }))
        }
        Request::DumpMrt { file } => {
            let snap = view.snapshot();
            let cfg = view.config();
            let peers = peer_table(dir.iter().map(|p| {
                let bgp_id = p
                    .status
                    .details()
                    .negotiated
                    .map_or(Ipv4Addr::UNSPECIFIED, |n| n.peer_id);
                (
                    p.id,
                    MrtPeer {
                        bgp_id,
                        address: p.config.address,
                        asn: p.config.asn,
                    },
                )
            }));
            let router_id = cfg.server.router_id;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32);
            let path = std::path::PathBuf::from(&file);
            let stats = tokio::task::spawn_blocking(move || -> Result<_, String> {
                let tmp = path.with_extension("partial");
                let f =
                    std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                let mut w = std::io::BufWriter::new(f);
                let stats = write_dump(&snap, &peers, router_id, "peerex", now, &mut w)
                    .map_err(|e| format!("{}: {e}", tmp.display()))?;
                std::io::Write::flush(&mut w).map_err(|e| e.to_string())?;
                std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(stats)
            })
            .await
            .map_err(|e| e.to_string())??;
            Ok(json!({ "file": file, "prefixes": stats.prefixes, "paths": stats.paths }))
        }
        Request::Reload { dry_run } => {
            let report = actions.reload(dry_run).await.map_err(|e| e.to_string())?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        }
    }
}
