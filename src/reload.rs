//! Reload: read the configuration file again, validate it, compute the difference with the
//! running one (`config::diff`) and apply it — removed peers get a Cease (peer de-configured)
//! and their routes leave the RIB, peers whose session settings changed reset, new peers
//! start, peers whose policy alone changed keep their sessions — then swap the configuration
//! readers see. An invalid file changes nothing. Used by `peerex ctl reload` and SIGHUP.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::config::{diff, Config, ConfigDiff, ResetPeer};
use crate::policy::{PeerId, MAX_PEERS};
use crate::rib::ShardMsg;
use crate::server::Shared;
use crate::session::peer::{PeerCmd, PeerHandle};
use crate::session::sockopt;

/// How long a stopping peer task may take to send its NOTIFICATION and end.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Peer ids. The RIB, its counters and the export rules are indexed by id, so an id must not
/// name a new peer while paths of the old one may still be in the RIB: new and reset peers
/// get ids never used before, and a retired id (its peer stopped and its routes withdrawn) is
/// reused only when all [`MAX_PEERS`] have been handed out.
#[derive(Debug)]
pub struct IdPool {
    next: u32,
    retired: VecDeque<PeerId>,
}

impl IdPool {
    /// The first `used` ids belong to the peers of the starting configuration.
    pub fn new(used: usize) -> IdPool {
        IdPool {
            next: u32::try_from(used).unwrap_or(u32::MAX),
            retired: VecDeque::new(),
        }
    }

    pub fn take(&mut self) -> Option<PeerId> {
        if (self.next as usize) < MAX_PEERS {
            self.next += 1;
            return Some(PeerId(self.next - 1));
        }
        self.retired.pop_front()
    }

    pub fn retire(&mut self, id: PeerId) {
        self.retired.push_back(id);
    }
}

/// What a reload did, or (dry run) would do.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    pub dry_run: bool,
    pub config: PathBuf,
    /// Sessions started (new peers).
    pub start: Vec<String>,
    /// Sessions stopped with Cease / Peer De-configured (peers removed).
    pub stop: Vec<String>,
    /// Sessions reset with Cease / Other Configuration Change, and the settings that changed.
    pub reset: Vec<ResetPeer>,
    /// Peers whose policy alone changed: sessions kept, routes re-filtered.
    pub policy: Vec<String>,
    /// Server-wide policy settings that changed (every peer re-filtered).
    pub policy_server_wide: Vec<String>,
    pub enable: Vec<String>,
    pub disable: Vec<String>,
    pub description: Vec<String>,
    /// Changed settings reload does not apply; restart peerex for them.
    pub not_applied: Vec<String>,
    /// Peers that could not be started (no peer id left).
    pub not_started: Vec<String>,
    /// Peers left as they were.
    pub unchanged: usize,
    /// Dry run: per peer, what the new policy would change in the routes held now.
    pub route_impact: Option<Vec<PeerImpact>>,
    pub route_impact_note: &'static str,
}

/// The route-level impact of a reload on one peer (see [`crate::rib::whatif`]).
#[derive(Clone, Debug, Serialize)]
pub struct PeerImpact {
    pub peer: String,
    #[serde(flatten)]
    pub impact: crate::rib::whatif::Impact,
}

impl ReloadReport {
    fn new(d: ConfigDiff, config: PathBuf, dry_run: bool, unchanged: usize) -> ReloadReport {
        ReloadReport {
            dry_run,
            config,
            start: d.added,
            stop: d.removed,
            reset: d.reset,
            policy: d.policy,
            policy_server_wide: d.policy_server_wide,
            enable: d.enabled,
            disable: d.disabled,
            description: d.described,
            not_applied: d.not_applied,
            not_started: Vec::new(),
            unchanged,
            route_impact: None,
            route_impact_note: "",
        }
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "{} started, {} stopped, {} reset, {} policy changed{}, {} unchanged{}",
            self.start.len(),
            self.stop.len(),
            self.reset.len(),
            self.policy.len(),
            if self.policy_server_wide.is_empty() {
                String::new()
            } else {
                format!(" (server-wide: {})", self.policy_server_wide.join(", "))
            },
            self.unchanged,
            if self.not_applied.is_empty() {
                String::new()
            } else {
                format!(
                    "; not applied, restart needed: {}",
                    self.not_applied.join(", ")
                )
            }
        )
    }
}

/// Reads the running configuration's file again and applies it (or, with `dry_run`, only
/// reports what would change). An invalid file is an error (`file:line:col: message` lines)
/// and changes nothing.
pub async fn reload(shared: &Shared, dry_run: bool) -> Result<ReloadReport, String> {
    let _one_at_a_time = shared.reload_lock.lock().await;
    let old = shared.config.load_full();
    let new = Config::load(&old.source).map_err(|e| e.to_string())?;
    let d = diff(&old, &new);
    let unchanged = new.peers.iter().filter(|p| !d.touches(&p.name)).count();
    let mut report = ReloadReport::new(d.clone(), old.source.clone(), dry_run, unchanged);
    if dry_run {
        report.route_impact = Some(route_impact(shared, &new, &d));
        report.route_impact_note = "computed on a snapshot of the RIB with the VRPs held now: \
            paths newly accepted or rejected per source peer, prefixes newly received or lost \
            per client (a new peer's whole initial table counts as newly received; peers that \
            reset are counted as if they sent the same routes again)";
    } else {
        report.not_started = apply(shared, new, &d).await;
        info!(summary = %report.summary(), "configuration reloaded");
    }
    Ok(report)
}

/// What `new` would change in the routes held now, per peer (dry run).
fn route_impact(shared: &Shared, new: &Config, d: &ConfigDiff) -> Vec<PeerImpact> {
    let dir = shared.directory.load();
    // Running peers keep their ids; new ones get ids no running peer has.
    let fresh: std::collections::HashMap<String, crate::policy::PeerId> = (dir.peers.len()
        as u32..)
        .zip(&d.added)
        .map(|(i, name)| (name.clone(), crate::policy::PeerId(i)))
        .collect();
    let ids = shared.ids_for(new, &fresh);
    let policies = Arc::new(crate::policy::Policies::with_ids(new, &ids));
    let policy = crate::server::export_policy(new, policies);
    let gone: Vec<crate::policy::PeerId> = d
        .removed
        .iter()
        .filter_map(|n| dir.by_name(n).map(|p| p.id))
        .collect();
    let vrps = shared.rpki.current();
    let snap = shared.rib.snapshot();
    let by_id =
        crate::rib::whatif::impact(&snap, &policy, &vrps, &|p| gone.contains(&p), &ids, &|p| {
            fresh.values().any(|f| *f == p)
        });
    let name_of = |id: crate::policy::PeerId| {
        new.peers
            .iter()
            .zip(&ids)
            .find(|(_, i)| **i == id)
            .map(|(p, _)| p.name.clone())
            .or_else(|| dir.get(id).map(|p| p.config.name.clone()))
            .unwrap_or_else(|| format!("peer{}", id.0))
    };
    by_id
        .into_iter()
        .map(|(id, impact)| PeerImpact {
            peer: name_of(id),
            impact,
        })
        .collect()
}

/// Sets or clears the TCP-MD5 key for `peer` on every listener that accepts its family.
fn listener_md5(shared: &Shared, peer: &crate::config::PeerConfig, key: Option<&[u8]>) {
    let listeners = shared
        .listeners
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for l in listeners {
        let family_ok = l
            .local_addr()
            .is_ok_and(|a| a.is_ipv6() || peer.address.is_ipv4());
        if family_ok {
            if let Err(e) = sockopt::set_md5(&*l, peer.address, key) {
                warn!(peer = %peer.name, error = %e, "cannot set the TCP-MD5 key on a listener");
            }
        }
    }
}

async fn stopped(h: &PeerHandle) {
    let t = tokio::time::Instant::now() + STOP_WAIT;
    while !h.task.is_finished() && tokio::time::Instant::now() < t {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !h.task.is_finished() {
        warn!(peer = %h.config.name, "peer task did not stop in time; aborted");
        h.task.abort();
    }
}

/// Applies `d` (computed against `new`); returns the peers that could not be started.
async fn apply(shared: &Shared, new: Config, d: &ConfigDiff) -> Vec<String> {
    // Stop removed peers and peers whose session settings changed.
    let mut stopping = Vec::new();
    let resets = d
        .reset
        .iter()
        .map(|r| (r.peer.as_str(), PeerCmd::Reconfigure));
    let removes = d.removed.iter().map(|n| (n.as_str(), PeerCmd::Remove));
    for (name, cmd) in removes.chain(resets) {
        if let Some(h) = shared.unlist_peer(name) {
            // A full command queue means the task is busy stopping anyway; abort covers it.
            let _ = h.cmd.try_send(cmd);
            stopping.push(h);
        }
    }
    for h in &stopping {
        stopped(h).await;
    }
    for h in &stopping {
        // The task withdrew an established session's routes itself; this also covers paths
        // kept stale from an earlier graceful-restart loss, and an aborted task.
        let id = h.id;
        shared
            .rib
            .broadcast(|| ShardMsg::PeerDown {
                peer: id,
                stale_for: None,
            })
            .await;
        // Clear its TCP-MD5 key, unless a peer of the new file keeps a key for the address
        // (set again below; clearing it first would open a window without one).
        let rekeyed = new
            .peers
            .iter()
            .any(|p| p.address == h.config.address && p.md5_password.is_some());
        if h.config.md5_password.is_some() && !rekeyed {
            listener_md5(shared, &h.config, None);
        }
        shared.retire_peer_id(id);
    }
    // New peers and the reset ones get fresh ids; the RIB has the policy that knows them
    // before any of them can send a route (the shards take messages in order).
    let mut not_started = Vec::new();
    let mut fresh: std::collections::HashMap<String, crate::policy::PeerId> =
        std::collections::HashMap::new();
    let starting = d.added.iter().chain(d.reset.iter().map(|r| &r.peer));
    for name in starting {
        if new.peer(name).is_none() {
            continue;
        }
        match shared.new_peer_id() {
            Some(id) => {
                fresh.insert(name.clone(), id);
            }
            None => {
                warn!(peer = %name, "no peer id left; peer not started");
                not_started.push(name.clone());
            }
        }
    }
    if d.policy_rebuild() {
        let ids = shared.ids_for(&new, &fresh);
        shared.apply_policy(&new, &ids).await;
    }
    for p in &new.peers {
        let Some(id) = fresh.get(&p.name) else {
            continue;
        };
        if let Some(k) = &p.md5_password {
            listener_md5(shared, p, Some(k.as_bytes()));
        }
        shared.start_peer(*id, p, &new.server);
    }
    for (names, enable) in [(&d.enabled, true), (&d.disabled, false)] {
        for name in names {
            if let Some(h) = shared.handle(name) {
                let cmd = if enable {
                    PeerCmd::Enable
                } else {
                    PeerCmd::Disable(Some("disabled in the configuration".into()))
                };
                let _ = h.cmd.send(cmd).await;
            }
        }
    }
    shared.publish_directory(&new);
    shared.publish_addresses().await;
    shared.config.store(Arc::new(new));
    not_started
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_until_exhausted_then_retired_ones_return() {
        let mut p = IdPool::new(2);
        assert_eq!(p.take(), Some(PeerId(2)));
        p.retire(PeerId(0));
        assert_eq!(p.take(), Some(PeerId(3)), "a fresh id before a retired one");
        let mut p = IdPool::new(MAX_PEERS);
        assert_eq!(p.take(), None);
        p.retire(PeerId(7));
        assert_eq!(p.take(), Some(PeerId(7)));
    }
}
