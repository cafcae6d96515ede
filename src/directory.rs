//! `directory`: the configured peers as readers see them — id, configuration and live session
//! status — indexed by [`PeerId`] and replaced as a whole; and the BMP collectors' entries
//! (configuration and the counters their tasks keep). The server builds and publishes it;
//! the looking glass, the control socket and reload only read it.
//!
//! A leaf: depends on `config`, `policy` (for `PeerId`) and `session` (for `PeerStatus`);
//! never imports `server`, `lg`, `control` or `reload`, and holds no locks or tasks.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::{BmpConfig, PeerConfig};
use crate::policy::PeerId;
use crate::session::PeerStatus;

/// One configured peer as readers see it.
#[derive(Clone, Debug)]
pub struct PeerEntry {
    pub id: PeerId,
    pub config: Arc<PeerConfig>,
    pub status: Arc<PeerStatus>,
}

/// Every configured peer, by `PeerId` (removed peers leave a gap). Replaced as a whole.
#[derive(Clone, Debug, Default)]
pub struct PeerDirectory {
    pub peers: Vec<Option<PeerEntry>>,
}

impl PeerDirectory {
    pub fn get(&self, id: PeerId) -> Option<&PeerEntry> {
        self.peers.get(id.index()).and_then(|p| p.as_ref())
    }

    pub fn by_name(&self, name: &str) -> Option<&PeerEntry> {
        self.iter().find(|p| p.config.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PeerEntry> {
        self.peers.iter().flatten()
    }

    /// The name of peer `id`, or `peerN` when the directory no longer has it.
    pub fn name(&self, id: PeerId) -> String {
        self.get(id)
            .map_or_else(|| format!("peer{}", id.0), |p| p.config.name.clone())
    }
}

/// Where a collector connection is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CollectorState {
    Connecting = 0,
    /// Connected, sending the initial dump.
    Dumping = 1,
    /// Connected, dump sent, sending changes.
    Up = 2,
    /// Waiting to reconnect.
    Waiting = 3,
    Stopped = 4,
}

impl CollectorState {
    pub const ALL: [CollectorState; 5] = [
        CollectorState::Connecting,
        CollectorState::Dumping,
        CollectorState::Up,
        CollectorState::Waiting,
        CollectorState::Stopped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CollectorState::Connecting => "connecting",
            CollectorState::Dumping => "dumping",
            CollectorState::Up => "up",
            CollectorState::Waiting => "waiting",
            CollectorState::Stopped => "stopped",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => CollectorState::Connecting,
            1 => CollectorState::Dumping,
            2 => CollectorState::Up,
            3 => CollectorState::Waiting,
            _ => CollectorState::Stopped,
        }
    }
}

/// A collector's counters, read by the looking glass, metrics and `ctl status`.
#[derive(Debug, Default)]
pub struct CollectorStats {
    state: AtomicU8,
    /// Connections established.
    pub sessions: AtomicU64,
    /// BMP messages and bytes written (over all sessions).
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    /// Sessions dropped because the collector stopped reading.
    pub resyncs: AtomicU64,
    last_error: Mutex<String>,
}

impl CollectorStats {
    pub fn state(&self) -> CollectorState {
        CollectorState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set_state(&self, s: CollectorState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }

    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    pub(crate) fn set_error(&self, e: String) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e;
        }
    }
}

/// One configured collector as readers (looking glass, metrics, `ctl status`) see it.
#[derive(Clone, Debug)]
pub struct CollectorEntry {
    pub config: Arc<BmpConfig>,
    pub stats: Arc<CollectorStats>,
}

impl CollectorEntry {
    /// The collector's settings and counters, as the looking glass and `ctl status` show
    /// them.
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.config;
        let views: Vec<&str> = [
            (c.views.pre_policy, "pre-policy"),
            (c.views.post_policy, "post-policy"),
            (c.views.loc_rib, "loc-rib"),
            (c.views.adj_rib_out, "adj-rib-out"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect();
        let s = &self.stats;
        serde_json::json!({
            "name": c.name,
            "address": c.address.to_string(),
            "views": views,
            "peers": c.peers,
            "state": s.state().name(),
            "sessions": s.sessions.load(Ordering::Relaxed),
            "messages": s.messages.load(Ordering::Relaxed),
            "bytes": s.bytes.load(Ordering::Relaxed),
            "resyncs": s.resyncs.load(Ordering::Relaxed),
            "last_error": s.last_error(),
        })
    }
}
