//! Reload: read the configuration file again, validate it, compute the difference with the
//! running one (`config::diff`) and apply it — removed peers get a Cease (peer de-configured)
//! and their routes leave the RIB, peers whose session settings changed reset, new peers
//! start, peers whose policy alone changed keep their sessions — then swap the configuration
//! readers see. An invalid file changes nothing. Used by `peerex ctl reload` and SIGHUP.
//!
//! Owns the order of those steps and nothing else: what it needs of the running server is
//! the [`Target`] trait (read through its [`ServerView`], act through narrow methods), which
//! `main.rs` implements over `server`. Never imports `server`, `control` or `lg`.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::config::{diff, Config, ConfigDiff, ConfigErrors, PeerConfig, ResetPeer, ServerConfig};
use crate::policy::PeerId;
use crate::rib::ExportPolicy;
use crate::session::peer::{PeerCmd, PeerHandle};
use crate::view::ServerView;

/// How long a stopping peer task may take to send its NOTIFICATION and end.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What reload needs of the running server. Reads go through [`Target::view`]; every other
/// method does one thing to the server and reload decides the order.
pub trait Target: Send + Sync {
    /// The read-only view: configuration in force, peer directory, RIB snapshot, VRPs.
    fn view(&self) -> ServerView;

    /// The running task of the peer called `name`.
    fn peer(&self, name: &str) -> Option<Arc<PeerHandle>>;

    /// Takes the peer called `name` out of the server's maps (the listeners no longer hand
    /// it connections) and returns its task, still running, for the caller to stop.
    fn unlist_peer(&self, name: &str) -> Option<Arc<PeerHandle>>;

    /// Starts a task for `cfg` with id `id`, reachable by name and address.
    fn start_peer(&self, id: PeerId, cfg: &PeerConfig, server: &ServerConfig);

    /// A peer id no path in the RIB can still carry; `None` when every id is taken.
    fn new_peer_id(&self) -> Option<PeerId>;

    /// Gives back the id of a stopped peer whose routes have left the RIB.
    fn retire_peer_id(&self, id: PeerId);

    /// Sets (or with `None` clears) the TCP-MD5 key for `peer` on the BGP listeners.
    fn set_listener_md5(&self, peer: &PeerConfig, key: Option<&[u8]>);

    /// The RIB's export settings `config` compiles to, peer `i` having id `ids[i]`.
    fn export_policy(&self, config: &Config, ids: &[PeerId]) -> ExportPolicy;

    /// Makes the policy of `config` current and has the RIB re-filter every held path.
    fn apply_policy(&self, config: &Config, ids: &[PeerId]) -> impl Future<Output = ()> + Send;

    /// Withdraws every path of peer `id` from the RIB (stale ones included).
    fn forget_routes(&self, id: PeerId) -> impl Future<Output = ()> + Send;

    /// Makes `config` the one in force: the peer directory, the RIB's peer addresses and the
    /// configuration readers see.
    fn publish(&self, config: Config) -> impl Future<Output = ()> + Send;
}

/// Runs reloads against a [`Target`], one at a time (control socket and SIGHUP).
pub struct Reloader<T> {
    target: T,
    one_at_a_time: tokio::sync::Mutex<()>,
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
    /// BMP collectors added, removed or changed (restarted); no BGP session is touched.
    pub bmp: Vec<String>,
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
            bmp: Vec::new(),
            not_started: Vec::new(),
            unchanged,
            route_impact: None,
            route_impact_note: "",
        }
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "{} started, {} stopped, {} reset, {} policy changed{}, {} unchanged{}{}",
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
            if self.bmp.is_empty() {
                String::new()
            } else {
                format!("; BMP collectors: {}", self.bmp.join(", "))
            },
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

impl<T: Target> Reloader<T> {
    pub fn new(target: T) -> Reloader<T> {
        Reloader {
            target,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads the running configuration's file again and applies it (or, with `dry_run`, only
    /// reports what would change). An invalid file is an error (`file:line:col: message`
    /// lines) and changes nothing.
    pub async fn reload(&self, dry_run: bool) -> Result<ReloadReport, ConfigErrors> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let target = &self.target;
        let old = target.view().config_full();
        let new = Config::load(&old.source)?;
        let d = diff(&old, &new);
        let unchanged = new.peers.iter().filter(|p| !d.touches(&p.name)).count();
        let mut report = ReloadReport::new(d.clone(), old.source.clone(), dry_run, unchanged);
        report.bmp = crate::config::changed_collectors(&old.bmp, &new.bmp);
        if dry_run {
            report.route_impact = Some(route_impact(target, &new, &d));
            report.route_impact_note = "computed on a snapshot of the RIB with the VRPs held \
                now: paths newly accepted or rejected per source peer, prefixes newly received \
                or lost per client (a new peer's whole initial table counts as newly received; \
                peers that reset are counted as if they sent the same routes again)";
        } else {
            report.not_started = apply(target, new, &d).await;
            info!(summary = %report.summary(), "configuration reloaded");
        }
        Ok(report)
    }
}

/// The id of every peer of `cfg`, in its order: `fresh` for peers about to start, the
/// running task's for the others.
fn ids_for(target: &impl Target, cfg: &Config, fresh: &HashMap<String, PeerId>) -> Vec<PeerId> {
    cfg.peers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            fresh
                .get(&p.name)
                .copied()
                .or_else(|| target.peer(&p.name).map(|h| h.id))
                .unwrap_or(PeerId(i as u32))
        })
        .collect()
}

/// What `new` would change in the routes held now, per peer (dry run).
fn route_impact(target: &impl Target, new: &Config, d: &ConfigDiff) -> Vec<PeerImpact> {
    let view = target.view();
    let dir = view.directory();
    // Running peers keep their ids; new ones get ids no running peer has.
    let fresh: HashMap<String, PeerId> = (dir.peers.len() as u32..)
        .zip(&d.added)
        .map(|(i, name)| (name.clone(), PeerId(i)))
        .collect();
    let ids = ids_for(target, new, &fresh);
    let policy = target.export_policy(new, &ids);
    let gone: Vec<PeerId> = d
        .removed
        .iter()
        .filter_map(|n| dir.by_name(n).map(|p| p.id))
        .collect();
    let vrps = view.vrps();
    let snap = view.snapshot();
    let by_id =
        crate::rib::whatif::impact(&snap, &policy, &vrps, &|p| gone.contains(&p), &ids, &|p| {
            fresh.values().any(|f| *f == p)
        });
    let name_of = |id: PeerId| {
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
async fn apply(target: &impl Target, new: Config, d: &ConfigDiff) -> Vec<String> {
    // Stop removed peers and peers whose session settings changed.
    let mut stopping = Vec::new();
    let resets = d
        .reset
        .iter()
        .map(|r| (r.peer.as_str(), PeerCmd::Reconfigure));
    let removes = d.removed.iter().map(|n| (n.as_str(), PeerCmd::Remove));
    for (name, cmd) in removes.chain(resets) {
        if let Some(h) = target.unlist_peer(name) {
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
        target.forget_routes(id).await;
        // Clear its TCP-MD5 key, unless a peer of the new file keeps a key for the address
        // (set again below; clearing it first would open a window without one).
        let rekeyed = new
            .peers
            .iter()
            .any(|p| p.address == h.config.address && p.md5_password.is_some());
        if h.config.md5_password.is_some() && !rekeyed {
            target.set_listener_md5(&h.config, None);
        }
        target.retire_peer_id(id);
    }
    // New peers and the reset ones get fresh ids; the RIB has the policy that knows them
    // before any of them can send a route (the shards take messages in order).
    let mut not_started = Vec::new();
    let mut fresh: HashMap<String, PeerId> = HashMap::new();
    let starting = d.added.iter().chain(d.reset.iter().map(|r| &r.peer));
    for name in starting {
        if new.peer(name).is_none() {
            continue;
        }
        match target.new_peer_id() {
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
        let ids = ids_for(target, &new, &fresh);
        target.apply_policy(&new, &ids).await;
    }
    for p in &new.peers {
        let Some(id) = fresh.get(&p.name) else {
            continue;
        };
        if let Some(k) = &p.md5_password {
            target.set_listener_md5(p, Some(k.as_bytes()));
        }
        target.start_peer(*id, p, &new.server);
    }
    for (names, enable) in [(&d.enabled, true), (&d.disabled, false)] {
        for name in names {
            if let Some(h) = target.peer(name) {
                let cmd = if enable {
                    PeerCmd::Enable
                } else {
                    PeerCmd::Disable(Some("disabled in the configuration".into()))
                };
                let _ = h.cmd.send(cmd).await;
            }
        }
    }
    target.publish(new).await;
    not_started
}
