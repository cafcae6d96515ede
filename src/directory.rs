//! `directory`: the configured peers as readers see them — id, configuration and live session
//! status — indexed by [`PeerId`] and replaced as a whole. The server builds and publishes it;
//! the looking glass, the control socket and reload only read it.
//!
//! A leaf: depends on `config`, `policy` (for `PeerId`) and `session` (for `PeerStatus`);
//! never imports `server`, `lg`, `control` or `reload`, and holds no locks or tasks.

use std::sync::Arc;

use crate::config::PeerConfig;
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
