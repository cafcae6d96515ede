//! The configured collectors as running tasks: started from `[[bmp]]`, changed by reload
//! (a collector whose settings changed is restarted: it gets a new session and a full dump;
//! the others are left alone; BGP sessions are never touched), and stopped with Termination
//! when peerex stops.
//!
//! Owns the tasks and their stop signals; reads the server only through its [`ServerView`],
//! and publishes each collector's counters as a [`CollectorEntry`] list for the looking
//! glass, metrics and `ctl status`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, Instrument};

use super::collector::{run, CollectorEntry, CollectorSettings, CollectorStats};
use super::feed::{FeedSettings, RibFeed};
use crate::config::BmpConfig;
use crate::view::ServerView;

struct Task {
    config: BmpConfig,
    stats: Arc<CollectorStats>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// The running collectors.
pub struct Collectors {
    view: ServerView,
    tasks: Mutex<HashMap<String, Task>>,
    /// Where the entries are published for readers.
    publish: Box<dyn Fn(Vec<CollectorEntry>) + Send + Sync>,
}

impl Collectors {
    /// No collectors yet; `publish` makes a new list visible to readers.
    pub fn new(
        view: ServerView,
        publish: impl Fn(Vec<CollectorEntry>) + Send + Sync + 'static,
    ) -> Self {
        Collectors {
            view,
            tasks: Mutex::new(HashMap::new()),
            publish: Box::new(publish),
        }
    }

    /// Makes the running collectors those of `configs`: starts new ones, restarts changed
    /// ones, stops removed ones (they send Termination on their way out).
    pub fn apply(&self, configs: &[BmpConfig]) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let keep: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        tasks.retain(|name, t| {
            let same = configs.iter().any(|c| c == &t.config);
            if !same {
                let _ = t.stop.send(true);
                info!(collector = %name, still_configured = keep.contains(&name.as_str()), "BMP collector stopping");
            }
            same
        });
        for c in configs {
            if tasks.contains_key(&c.name) {
                continue;
            }
            tasks.insert(c.name.clone(), self.start(c));
        }
        let mut entries: Vec<CollectorEntry> = configs
            .iter()
            .filter_map(|c| {
                tasks.get(&c.name).map(|t| CollectorEntry {
                    config: Arc::new(t.config.clone()),
                    stats: t.stats.clone(),
                })
            })
            .collect();
        entries.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        (self.publish)(entries);
    }

    fn start(&self, c: &BmpConfig) -> Task {
        let cfg = self.view.config();
        let server = &cfg.server;
        let settings = CollectorSettings {
            name: c.name.clone(),
            address: c.address,
            retry: c.retry,
            stall_limit: c.stall_limit,
            sys_name: format!("peerex AS{} {}", server.asn.0, server.router_id),
            sys_descr: format!("peerex {} BGP route server", env!("CARGO_PKG_VERSION")),
        };
        let feed = RibFeed::new(
            Arc::new(self.view.clone()),
            FeedSettings {
                peers: c.peers.clone(),
                stats_interval: c.stats_interval,
                ..FeedSettings::new(c.views)
            },
            server.asn,
            server.router_id,
        );
        let stats = Arc::new(CollectorStats::default());
        let (stop, rx) = watch::channel(false);
        let span = tracing::info_span!("bmp", collector = %c.name);
        let handle = tokio::spawn(run(settings, feed, stats.clone(), rx).instrument(span));
        info!(collector = %c.name, address = %c.address, "BMP collector configured");
        Task {
            config: c.clone(),
            stats,
            stop,
            handle,
        }
    }

    /// Stops every collector, giving each up to `grace` to send Termination.
    pub async fn shutdown(&self, grace: Duration) {
        let tasks: Vec<Task> = {
            let mut t = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            t.drain().map(|(_, v)| v).collect()
        };
        for t in &tasks {
            let _ = t.stop.send(true);
        }
        for t in tasks {
            let mut h = t.handle;
            if tokio::time::timeout(grace, &mut h).await.is_err() {
                h.abort();
            }
        }
        (self.publish)(Vec::new());
    }
}
