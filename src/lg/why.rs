//! `why`: for one prefix and one client, every path held, what import policy said about it,
//! its rank, and why the client does or does not receive it. Mirrors the RIB's own choice
//! (`RibSnapshot::choice_for`, i.e. `client_choice`): the best accepted path that is not the
//! client's own and that the client's export rules take.

use std::cmp::Ordering;

use serde_json::{json, Value};

use super::api::api_route;
use crate::config::RoleCheck;
use crate::directory::{PeerDirectory, PeerEntry};
use crate::rib::{fits_client, shard_of, Path, RibSnapshot};
use crate::session::State;
use crate::wire::Prefix;

/// Why `chosen` beats `other` (both accepted and allowed), in RFC 4271 §9.1.2.2 terms.
fn preferred_because(chosen: &Path, other: &Path) -> &'static str {
    let (a, b) = (&chosen.attrs, &other.attrs);
    if chosen.llgr_stale != other.llgr_stale {
        "not long-lived stale (RFC 9494)"
    } else if chosen.verdict.local_pref != other.verdict.local_pref {
        "higher LOCAL_PREF"
    } else if a.hops != b.hops {
        "shorter AS path"
    } else if a.origin != b.origin {
        "lower ORIGIN"
    } else if a.med != b.med && a.neighbor_as == b.neighbor_as {
        "lower MED from the same neighbouring AS"
    } else {
        match chosen.router_id.cmp(&other.router_id) {
            Ordering::Less => "lower BGP identifier (tie-break)",
            _ => "lower peer address or path id (tie-break)",
        }
    }
}

/// The explanation as JSON (at most `max_paths` paths listed).
pub fn explain(
    snap: &RibSnapshot,
    dir: &PeerDirectory,
    client: &PeerEntry,
    query: &Prefix,
    exact: bool,
    rs_asn: u32,
    max_paths: usize,
) -> Value {
    let found = if exact {
        snap.exact(query).map(|e| (*query, e))
    } else {
        snap.longest_match_prefix(query)
    };
    let established = client.status.state() == State::Established;
    let Some((prefix, entry)) = found else {
        return json!({
            "query": query.to_string(),
            "exact": exact,
            "neighbour": client.config.name,
            "prefix": null,
            "receives": null,
            "paths": [],
            "summary": format!("no path is held for {query}{}", if exact { "" } else { " or any prefix covering it" }),
        });
    };
    let shard = snap.shards.get(shard_of(&prefix, snap.shards.len()));
    let rules = shard.map(|s| s.rules(client.id)).unwrap_or_default();
    let choice = snap.choice_for(client.id, &prefix);
    let is_choice = |p: &Path| {
        choice
            .as_ref()
            .is_some_and(|c| c.peer == p.peer && c.rx_id == p.rx_id)
    };
    // RFC 8654 §4: a choice whose UPDATE does not fit the client's maximum message length
    // (no extended messages) is withdrawn there. Known from the session's negotiated
    // capabilities, with one encoding of the choice.
    let too_big = match (&choice, shard, client.status.details().negotiated.as_ref()) {
        (Some(c), Some(s), Some(neg)) if established => {
            let add_otc = client.config.role_check != RoleCheck::Off && neg.ebgp;
            !fits_client(c, client.id, prefix, neg.tx, add_otc, &s.policy)
        }
        _ => false,
    };
    let choice_rank = choice.as_ref().and_then(|c| {
        entry
            .paths
            .iter()
            .position(|p| p.peer == c.peer && p.rx_id == c.rx_id)
            .map(|i| i + 1)
    });
    let name = |id| {
        dir.get(id)
            .map_or_else(|| format!("peer{}", id.0), |p| p.config.name.clone())
    };
    let paths: Vec<Value> = entry
        .paths
        .iter()
        .take(max_paths)
        .map(|p| {
            let (sent, code, text) = if p.peer == client.id {
                (
                    false,
                    "own_path",
                    "its own path: a client never receives what it announced".to_string(),
                )
            } else if !p.accepted() {
                let rs: Vec<&str> = p.verdict.rejects.iter().map(|r| r.name()).collect();
                (
                    false,
                    "rejected_on_import",
                    format!("rejected on import: {}", rs.join(", ")),
                )
            } else if !rules.accepts(p.peer) {
                (
                    false,
                    "export_rules_exclude_source",
                    format!(
                        "the client's export rules do not take routes from {}",
                        name(p.peer)
                    ),
                )
            } else if p.blackhole && rules.rejects_blackholes {
                (
                    false,
                    "client_rejects_blackholes",
                    "a blackhole route, and the client does not take blackholes".to_string(),
                )
            } else if p.llgr_stale && !rules.takes_llgr_stale {
                (
                    false,
                    "client_not_llgr",
                    "long-lived stale (RFC 9494), and the client did not negotiate long-lived \
                     graceful restart"
                        .to_string(),
                )
            } else if !p.actions.allows(client.id) {
                (
                    false,
                    "control_community_excludes_client",
                    "the path's control communities do not announce it to the client"
                        .to_string(),
                )
            } else if is_choice(p) && too_big {
                (
                    false,
                    "too_big_for_client",
                    "too big for this client (RFC 8654): its UPDATE exceeds the client's \
                     maximum message length (4,096 octets without extended messages), so \
                     it is withdrawn there"
                        .to_string(),
                )
            } else if is_choice(p) {
                (
                    true,
                    "best_allowed_path",
                    "the best path the client may receive: sent".to_string(),
                )
            } else if let Some(c) = &choice {
                (
                    false,
                    "better_allowed_path",
                    format!(
                        "a better allowed path is sent: from {} (rank {}), {}",
                        name(c.peer),
                        choice_rank.unwrap_or(0),
                        preferred_because(c, p)
                    ),
                )
            } else {
                (false, "not_selected", "not selected".to_string())
            };
            let mut v = api_route(&prefix, &entry, p, dir, rs_asn);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "export".into(),
                    json!({ "sent": sent && established, "selected": sent, "code": code, "reason": text }),
                );
            }
            v
        })
        .collect();
    let receives = choice
        .as_ref()
        .filter(|_| !too_big)
        .and_then(|c| entry.find(c.peer, c.rx_id))
        .map(|c| api_route(&prefix, &entry, c, dir, rs_asn));
    let summary = match (&choice, established) {
        (Some(c), true) if too_big => format!(
            "{} receives no path for {prefix}: the path from {} (rank {}) is too big for \
             this client (RFC 8654), its UPDATE exceeds the client's maximum message length",
            client.config.name,
            name(c.peer),
            choice_rank.unwrap_or(0)
        ),
        (Some(c), true) => format!(
            "{} receives the path from {} (rank {})",
            client.config.name,
            name(c.peer),
            choice_rank.unwrap_or(0)
        ),
        (Some(c), false) => format!(
            "{} would receive the path from {} (rank {}), but its session is {}",
            client.config.name,
            name(c.peer),
            choice_rank.unwrap_or(0),
            client.status.state()
        ),
        (None, _) => format!(
            "{} receives no path for {prefix}: none is accepted, allowed and not its own",
            client.config.name
        ),
    };
    json!({
        "query": query.to_string(),
        "exact": exact,
        "neighbour": client.config.name,
        "neighbour_state": client.status.state().to_string(),
        "prefix": prefix.to_string(),
        "export_rules": {
            "accepts_from": match &rules.accepts_from {
                None => json!("all"),
                Some(set) => json!(dir.iter().filter(|p| set.contains(p.id)).map(|p| p.config.name.clone()).collect::<Vec<_>>()),
            },
        },
        "receives": receives,
        "summary": summary,
        "paths_total": entry.paths.len(),
        "paths": paths,
        "note": "without ADD-PATH a client receives one path per prefix; ADD-PATH clients may receive more",
    })
}
