//! `view`: the running route server as readers see it. [`ServerView`] is the narrow,
//! read-only context the looking glass, the control socket and reload get instead of the
//! server itself: the configuration in force, the peer directory, RIB snapshots and counters,
//! the VRP status, the BMP collectors' counters, and when the server started. It has no
//! method that changes anything; the server alone holds the [`Publisher`] that replaces the
//! configuration, the directory and the collectors' list.
//!
//! A leaf of the top level: depends on `config`, `directory`, `policy`, `rib` and `rpki`;
//! never imports `server`, `lg`, `control`, `reload` or `bmp`. Reads are lock-free (`arc-swap`
//! loads, RIB snapshots).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::{ArcSwap, Guard};

use crate::config::Config;
use crate::directory::CollectorEntry;
use crate::directory::PeerDirectory;
use crate::policy::VrpTable;
use crate::rib::{Rib, RibCounters, RibSnapshot};
use crate::rpki::RpkiFeed;

struct Published {
    config: ArcSwap<Config>,
    directory: ArcSwap<PeerDirectory>,
    /// The BMP collectors and their counters.
    collectors: ArcSwap<Vec<CollectorEntry>>,
    rib: Arc<Rib>,
    /// The VRP sources; they run as long as the server or any reader holds this.
    rpki: RpkiFeed,
    started: Instant,
    started_at: SystemTime,
}

/// A read-only handle on the running server; cheap to clone.
#[derive(Clone)]
pub struct ServerView(Arc<Published>);

/// The write side of [`ServerView`]: what the server publishes for readers. Not `Clone`.
pub struct Publisher(Arc<Published>);

impl Publisher {
    /// Starts publishing `config` and an empty directory, with `rib` and `rpki` to read from.
    pub fn new(config: Config, rib: Arc<Rib>, rpki: RpkiFeed) -> Publisher {
        Publisher(Arc::new(Published {
            config: ArcSwap::from_pointee(config),
            directory: ArcSwap::from_pointee(PeerDirectory::default()),
            collectors: ArcSwap::from_pointee(Vec::new()),
            rib,
            rpki,
            started: Instant::now(),
            started_at: SystemTime::now(),
        }))
    }

    /// A reader's handle.
    pub fn view(&self) -> ServerView {
        ServerView(self.0.clone())
    }

    /// Makes `config` the configuration readers see.
    pub fn set_config(&self, config: Config) {
        self.0.config.store(Arc::new(config));
    }

    /// Makes `collectors` the BMP collectors readers see.
    pub fn set_collectors(&self, collectors: Vec<CollectorEntry>) {
        self.0.collectors.store(Arc::new(collectors));
    }

    /// Makes `directory` the peer directory readers see.
    pub fn set_directory(&self, directory: PeerDirectory) {
        self.0.directory.store(Arc::new(directory));
    }
}

impl ServerView {
    /// The configuration in force.
    pub fn config(&self) -> Guard<Arc<Config>> {
        self.0.config.load()
    }

    /// The configuration in force, to keep.
    pub fn config_full(&self) -> Arc<Config> {
        self.0.config.load_full()
    }

    /// The peer directory.
    pub fn directory(&self) -> Guard<Arc<PeerDirectory>> {
        self.0.directory.load()
    }

    /// The BMP collectors, by name.
    pub fn collectors(&self) -> Arc<Vec<CollectorEntry>> {
        self.0.collectors.load_full()
    }

    /// An immutable snapshot of every RIB shard.
    pub fn snapshot(&self) -> RibSnapshot {
        self.0.rib.snapshot()
    }

    /// The RIB's path counters and memory figures.
    pub fn counters(&self) -> &Arc<RibCounters> {
        self.0.rib.counters()
    }

    /// How many RIB shards there are.
    pub fn shards(&self) -> usize {
        self.0.rib.shards()
    }

    /// The VRP table import policy validates against now.
    pub fn vrps(&self) -> Arc<VrpTable> {
        self.0.rpki.current()
    }

    /// VRPs in the table, and its generation.
    pub fn rpki_status(&self) -> (usize, u64) {
        self.0.rpki.status()
    }

    /// Customer ASes in the current ASPA set.
    pub fn aspa_customers(&self) -> usize {
        self.0.rpki.current().aspas().len()
    }

    /// Time since the server started.
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// When the server started (wall clock).
    pub fn started_at(&self) -> SystemTime {
        self.0.started_at
    }
}
