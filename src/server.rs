//! Starting and stopping the route server: the RIB shards, one task per peer, the BGP
//! listeners, peer ids, and what it publishes for readers (the [`ServerView`]: configuration
//! and peer directory). [`Shared`] offers the operations reload and the control socket need
//! (start, unlist and command peers; swap policy; publish) as plain methods.
//!
//! Never imports `lg`, `control` or `reload`: they see the server only through the
//! [`ServerView`] and the traits `main.rs` implements over [`Shared`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;
use tracing::{info, warn};

use crate::config::{Config, PeerConfig, ServerConfig};
use crate::directory::{PeerDirectory, PeerEntry};
use crate::policy::{PeerId, Policies, VrpTable, MAX_PEERS};
use crate::rib::{outq, ExportPolicy, Rib, ShardMsg};
use crate::rpki::RpkiFeed;
use crate::session::listener::{self, PeerMap};
use crate::session::peer::{self, PeerCmd, PeerHandle, PeerSetup};
use crate::session::sockopt;
use crate::view::{Publisher, ServerView};

/// The running server's state, shared by its tasks and the wiring in `main.rs`.
pub struct Shared {
    rib: Arc<Rib>,
    /// What readers see: configuration, peer directory (see [`ServerView`]).
    published: Publisher,
    /// Running peer tasks by name.
    handles: Mutex<BTreeMap<String, Arc<PeerHandle>>>,
    /// Running peer tasks by address, for the listeners.
    peer_map: PeerMap,
    /// The compiled policy in force (replaced whole on reload).
    policies: ArcSwap<Policies>,
    /// Peer ids to hand out (reload gives new and reset peers fresh ones).
    ids: Mutex<IdPool>,
    /// The BGP listeners, for TCP-MD5 keys of peers added on reload.
    listeners: Mutex<Vec<Arc<tokio::net::TcpListener>>>,
}

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
    /// The read-only view of the running server.
    pub fn view(&self) -> ServerView {
        self.published.view()
    }

    /// Makes `config` the one in force: rebuilds the peer directory (descriptions from
    /// `config`), hands the RIB the peer addresses, and swaps the configuration readers see.
    /// Makes `collectors` the BMP collectors readers see.
    pub fn set_collectors(&self, collectors: Vec<crate::directory::CollectorEntry>) {
        self.published.set_collectors(collectors);
    }

    pub async fn publish(&self, config: Config) {
        self.publish_directory(&config);
        self.publish_addresses().await;
        self.published.set_config(config);
    }

    /// Each RIB shard's progress counter and queued input, for the systemd watchdog.
    pub fn shard_progress(&self) -> Vec<crate::rib::ShardProgress> {
        self.rib.progress()
    }

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
    pub fn start_peer(
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
    pub fn unlist_peer(&self, name: &str) -> Option<Arc<PeerHandle>> {
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

    /// A fresh peer id (see [`IdPool`]).
    pub fn new_peer_id(&self) -> Option<PeerId> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Gives back the id of a peer whose routes have left the RIB.
    pub fn retire_peer_id(&self, id: PeerId) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retire(id);
    }

    /// Rebuilds the directory readers see from the running handles (descriptions from `cfg`).
    fn publish_directory(&self, cfg: &Config) {
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
        self.published.set_directory(PeerDirectory { peers });
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

    /// The RIB's export settings `config` compiles to, peer `i` having id `ids[i]` (what
    /// [`Shared::apply_policy`] would install; nothing changes).
    pub fn export_policy_for(&self, config: &Config, ids: &[PeerId]) -> ExportPolicy {
        export_policy(config, Arc::new(Policies::with_ids(config, ids)))
    }

    /// Withdraws every path of peer `id` from the RIB, stale ones included.
    pub async fn forget_routes(&self, id: PeerId) {
        self.rib
            .broadcast(|| ShardMsg::PeerDown {
                peer: id,
                stale_for: None,
                long_lived: Vec::new(),
            })
            .await;
    }

    /// Sets or clears the TCP-MD5 key for `peer` on every listener that accepts its family.
    pub fn set_listener_md5(&self, peer: &PeerConfig, key: Option<&[u8]>) {
        let listeners = self
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

    /// Peer addresses by id, for the RIB's selection tie-break.
    async fn publish_addresses(&self) {
        let dir = self.published.view().directory();
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
            published: Publisher::new(config.clone(), rib.clone(), rpki),
            rib,
            handles: Mutex::new(BTreeMap::new()),
            peer_map: Arc::new(RwLock::new(HashMap::new())),
            policies: ArcSwap::new(policies),
            ids: Mutex::new(IdPool::new(config.peers.len())),
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
fn export_policy(config: &Config, policies: Arc<Policies>) -> ExportPolicy {
    ExportPolicy {
        rules: policies.export_rules().to_vec(),
        local_asn: config.server.asn,
        always_compare_med: false,
        policies: Some(policies),
    }
}

/// Hands every new VRP table to the shards with what changed since the one they have.
async fn forward_vrps(
    mut rx: tokio::sync::watch::Receiver<crate::rpki::RpkiUpdate>,
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
