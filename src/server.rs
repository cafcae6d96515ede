//! Starting and stopping the route server: the RIB shards, one task per peer, the BGP
//! listeners, and the shared state the control socket and looking glass read. Wiring only.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use tracing::{info, warn};

use crate::config::{Config, PeerConfig, ServerConfig};
use crate::directory::{PeerDirectory, PeerEntry};
use crate::policy::{PeerId, Policies, RpkiFeed, VrpTable};
use crate::rib::{outq, ExportPolicy, Rib, ShardMsg};
use crate::session::listener::{self, PeerMap};
use crate::session::peer::{self, PeerCmd, PeerHandle, PeerSetup};

/// What the control socket and the looking glass share with the server.
pub struct Shared {
    pub config: ArcSwap<Config>,
    pub rib: Arc<Rib>,
    /// Peers by `PeerId`, for readers.
    pub directory: ArcSwap<PeerDirectory>,
    /// Running peer tasks by name.
    handles: Mutex<BTreeMap<String, Arc<PeerHandle>>>,
    /// Running peer tasks by address, for the listeners.
    peer_map: PeerMap,
    /// When the server started.
    pub started: Instant,
    pub started_at: SystemTime,
    /// The compiled policy in force (replaced whole on reload).
    pub policies: ArcSwap<Policies>,
    /// The VRP sources (kept running while the server runs).
    pub rpki: RpkiFeed,
    /// Peer ids to hand out (reload gives new and reset peers fresh ones).
    ids: Mutex<crate::reload::IdPool>,
    /// One reload at a time (control socket and SIGHUP).
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    /// The BGP listeners, for TCP-MD5 keys of peers added on reload.
    pub(crate) listeners: Mutex<Vec<Arc<tokio::net::TcpListener>>>,
}

/// A running route server.
pub struct Server {
    pub shared: Arc<Shared>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

/// Shards: one per core.
fn shard_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Shared {
    /// The handle of the peer called `name`.
    pub fn handle(&self, name: &str) -> Option<Arc<PeerHandle>> {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn handles(&self) -> Vec<Arc<PeerHandle>> {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Starts the task of a peer and makes it reachable by name, address and id.
    pub(crate) fn start_peer(
        &self,
        id: PeerId,
        cfg: &PeerConfig,
        server: &ServerConfig,
    ) -> Arc<PeerHandle> {
        let h = Arc::new(peer::spawn(PeerSetup {
            id,
            config: Arc::new(cfg.clone()),
            server: Arc::new(server.clone()),
            rib: self.rib.clone(),
            queue_high: outq::DEFAULT_HIGH,
        }));
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cfg.name.clone(), h.clone());
        if let Ok(mut m) = self.peer_map.write() {
            m.insert(cfg.address, h.clone());
        }
        h
    }

    /// Removes the peer called `name` from the name and address maps; its task keeps running.
    pub(crate) fn unlist_peer(&self, name: &str) -> Option<Arc<PeerHandle>> {
        let h = self
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)?;
        if let Ok(mut m) = self.peer_map.write() {
            if m.get(&h.config.address).is_some_and(|x| Arc::ptr_eq(x, &h)) {
                m.remove(&h.config.address);
            }
        }
        Some(h)
    }

    /// A fresh peer id (see [`crate::reload::IdPool`]).
    pub(crate) fn new_peer_id(&self) -> Option<PeerId> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Gives back the id of a peer whose routes have left the RIB.
    pub(crate) fn retire_peer_id(&self, id: PeerId) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retire(id);
    }

    /// Rebuilds the directory readers see from the running handles (descriptions from `cfg`).
    pub(crate) fn publish_directory(&self, cfg: &Config) {
        let mut peers: Vec<Option<PeerEntry>> = Vec::new();
        for h in self.handles() {
            let i = h.id.index();
            if peers.len() <= i {
                peers.resize(i + 1, None);
            }
            if let Some(slot) = peers.get_mut(i) {
                let config = match cfg.peer(&h.config.name) {
                    Some(c) if c.description != h.config.description => Arc::new(PeerConfig {
                        description: c.description.clone(),
                        ..(*h.config).clone()
                    }),
                    _ => h.config.clone(),
                };
                *slot = Some(PeerEntry {
                    id: h.id,
                    config,
                    status: h.status.clone(),
                });
            }
        }
        self.directory.store(Arc::new(PeerDirectory { peers }));
    }

    /// The id of every peer of `cfg`, in its order: `fresh` for peers about to start, the
    /// running task's for the others.
    pub(crate) fn ids_for(
        &self,
        cfg: &Config,
        fresh: &std::collections::HashMap<String, PeerId>,
    ) -> Vec<PeerId> {
        cfg.peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                fresh
                    .get(&p.name)
                    .copied()
                    .or_else(|| self.handle(&p.name).map(|h| h.id))
                    .unwrap_or(PeerId(i as u32))
            })
            .collect()
    }

    /// Compiles the policy of `config` (peer `i` having id `ids[i]`), makes it current, and
    /// has the RIB evaluate every held path again and correct what each client receives:
    /// no session is touched.
    pub async fn apply_policy(&self, config: &Config, ids: &[PeerId]) {
        let policies = Arc::new(Policies::with_ids(config, ids));
        self.policies.store(policies.clone());
        let policy = Arc::new(export_policy(config, policies));
        self.rib
            .broadcast(|| ShardMsg::Policy(policy.clone()))
            .await;
    }

    /// Peer addresses by id, for the RIB's selection tie-break.
    pub(crate) async fn publish_addresses(&self) {
        let dir = self.directory.load();
        let addrs: Vec<IpAddr> = dir
            .peers
            .iter()
            .map(|p| {
                p.as_ref()
                    .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |p| {
                        p.config.address
                    })
            })
            .collect();
        let addrs = Arc::new(addrs);
        self.rib
            .broadcast(|| ShardMsg::PeerAddrs(addrs.clone()))
            .await;
    }
}

impl Server {
    /// Starts everything the configuration describes.
    pub async fn start(config: Config) -> std::io::Result<Server> {
        let policies = Arc::new(Policies::new(&config));
        let policy = Arc::new(export_policy(&config, policies.clone()));
        let rib = Rib::start(shard_count(), policy)?;
        let rpki = RpkiFeed::start(&config.rpki);
        tokio::spawn(forward_vrps(rpki.subscribe(), rib.clone()));
        let shared = Arc::new(Shared {
            config: ArcSwap::from_pointee(config.clone()),
            rib,
            directory: ArcSwap::from_pointee(PeerDirectory::default()),
            handles: Mutex::new(BTreeMap::new()),
            peer_map: Arc::new(RwLock::new(HashMap::new())),
            started: Instant::now(),
            started_at: SystemTime::now(),
            policies: ArcSwap::new(policies),
            rpki,
            ids: Mutex::new(crate::reload::IdPool::new(config.peers.len())),
            reload_lock: tokio::sync::Mutex::new(()),
            listeners: Mutex::new(Vec::new()),
        });
        for (i, p) in config.peers.iter().enumerate() {
            shared.start_peer(PeerId(i as u32), p, &config.server);
        }
        shared.publish_directory(&config);
        shared.publish_addresses().await;
        let md5: Vec<(IpAddr, Vec<u8>)> = config
            .peers
            .iter()
            .filter_map(|p| {
                p.md5_password
                    .as_ref()
                    .map(|k| (p.address, k.as_bytes().to_vec()))
            })
            .collect();
        let mut listeners = Vec::new();
        for addr in &config.server.listen {
            let l = Arc::new(listener::bind(*addr, &md5)?);
            shared
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(l.clone());
            listeners.push(tokio::spawn(listener::serve(l, shared.peer_map.clone())));
        }
        info!(
            peers = config.peers.len(),
            shards = shared.rib.shards(),
            "route server started"
        );
        Ok(Server { shared, listeners })
    }

    /// Ceases every session with an administrative shutdown and stops.
    pub async fn shutdown(self, message: &str) {
        for l in &self.listeners {
            l.abort();
        }
        let handles = self.shared.handles();
        for p in &handles {
            let _ = p
                .cmd
                .send(PeerCmd::Shutdown(Some(message.to_string())))
                .await;
        }
        for p in &handles {
            let t = std::time::Duration::from_secs(3);
            if tokio::time::timeout(t, wait(&p.task)).await.is_err() {
                warn!(peer = %p.config.name, "peer task did not stop in time");
            }
        }
        let rib = self.shared.rib.clone();
        let _ = tokio::task::spawn_blocking(move || rib.shutdown()).await;
        info!("route server stopped");
    }
}

async fn wait(t: &tokio::task::JoinHandle<()>) {
    while !t.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The RIB's export settings for `config` under `policies`.
pub(crate) fn export_policy(config: &Config, policies: Arc<Policies>) -> ExportPolicy {
    ExportPolicy {
        rules: policies.export_rules().to_vec(),
        local_asn: config.server.asn,
        always_compare_med: false,
        policies: Some(policies),
    }
}

/// Hands every new VRP table to the shards with what changed since the one they have.
async fn forward_vrps(
    mut rx: tokio::sync::watch::Receiver<crate::policy::RpkiUpdate>,
    rib: Arc<Rib>,
) {
    let mut generation = 0;
    let mut table = Arc::new(VrpTable::empty());
    while rx.changed().await.is_ok() {
        let update = rx.borrow_and_update().clone();
        let changes = update.changes_for(generation, &table);
        info!(
            vrps = update.table.len(),
            generation = update.generation,
            "VRPs updated; revalidating affected routes"
        );
        rib.broadcast(|| ShardMsg::Vrps {
            table: update.table.clone(),
            changes: changes.clone(),
        })
        .await;
        generation = update.generation;
        table = update.table;
    }
}
