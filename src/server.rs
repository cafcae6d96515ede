//! Starting and stopping the route server: the RIB shards, one task per peer, the BGP
//! listeners. Wiring only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use crate::config::Config;
use crate::rib::{outq, ExportPolicy, PeerId, Rib, ShardMsg};
use crate::session::listener::{self, PeerMap};
use crate::session::peer::{self, PeerCmd, PeerHandle, PeerSetup};

/// A running route server.
pub struct Server {
    pub config: Arc<Config>,
    pub rib: Arc<Rib>,
    pub peers: Vec<Arc<PeerHandle>>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

/// Shards: one per core.
fn shard_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Server {
    /// Starts everything the configuration describes.
    pub async fn start(config: Config) -> std::io::Result<Server> {
        let config = Arc::new(config);
        let policy = Arc::new(ExportPolicy {
            rules: Vec::new(),
            local_asn: config.server.asn,
            always_compare_med: false,
        });
        let rib = Rib::start(shard_count(), policy)?;
        let addrs: Vec<IpAddr> = config.peers.iter().map(|p| p.address).collect();
        let addrs = Arc::new(addrs);
        rib.broadcast(|| ShardMsg::PeerAddrs(addrs.clone())).await;
        let server_cfg = Arc::new(config.server.clone());
        let mut peers = Vec::new();
        let map: PeerMap = Arc::new(RwLock::new(HashMap::new()));
        for (i, p) in config.peers.iter().enumerate() {
            let h = Arc::new(peer::spawn(PeerSetup {
                id: PeerId(i as u32),
                config: Arc::new(p.clone()),
                server: server_cfg.clone(),
                rib: rib.clone(),
                queue_high: outq::DEFAULT_HIGH,
            }));
            if let Ok(mut m) = map.write() {
                m.insert(p.address, h.clone());
            }
            peers.push(h);
        }
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
            let l = listener::bind(*addr, &md5)?;
            listeners.push(tokio::spawn(listener::serve(l, map.clone())));
        }
        info!(
            peers = peers.len(),
            shards = rib.shards(),
            "route server started"
        );
        Ok(Server {
            config,
            rib,
            peers,
            listeners,
        })
    }

    /// Ceases every session with an administrative shutdown and stops.
    pub async fn shutdown(self, message: &str) {
        for l in &self.listeners {
            l.abort();
        }
        for p in &self.peers {
            let _ = p
                .cmd
                .send(PeerCmd::Shutdown(Some(message.to_string())))
                .await;
        }
        for p in self.peers.iter() {
            let t = std::time::Duration::from_secs(3);
            if tokio::time::timeout(t, wait(&p.task)).await.is_err() {
                warn!(peer = %p.config.name, "peer task did not stop in time");
            }
        }
        let rib = self.rib.clone();
        let _ = tokio::task::spawn_blocking(move || rib.shutdown()).await;
        info!("route server stopped");
    }
}

async fn wait(t: &tokio::task::JoinHandle<()>) {
    while !t.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
