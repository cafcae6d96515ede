//! Accepting BGP connections: match the source address to a configured peer and hand the
//! connection over; a connection from an unknown address is closed before any OPEN.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::peer::PeerHandle;
use super::sockopt;

/// The peers a listener hands connections to, by address; replaced on reload.
pub type PeerMap = Arc<RwLock<HashMap<IpAddr, Arc<PeerHandle>>>>;

/// The address as the peer table holds it (IPv4-mapped IPv6 becomes IPv4).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Binds one listening socket with the MD5 keys of the peers of its family.
pub fn bind(addr: SocketAddr, md5: &[(IpAddr, Vec<u8>)]) -> std::io::Result<TcpListener> {
    let keys: Vec<(IpAddr, &[u8])> = md5
        .iter()
        .filter(|(ip, _)| ip.is_ipv4() == addr.is_ipv4() || addr.is_ipv6())
        .map(|(ip, k)| (*ip, k.as_slice()))
        .collect();
    sockopt::listen_with(addr, &keys, None)
}

/// Accepts until the listener fails.
pub async fn serve(listener: Arc<TcpListener>, peers: PeerMap) {
    let local = listener.local_addr().ok();
    info!(?local, "listening for BGP");
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = canonical(remote.ip());
        let peer = peers.read().ok().and_then(|m| m.get(&ip).cloned());
        let Some(peer) = peer else {
            info!(%remote, "connection from an unknown address refused");
            drop(stream);
            continue;
        };
        if peer.config.ttl_security {
            if let Err(e) = sockopt::harden_accepted(&stream, Some(1)) {
                warn!(peer = %peer.config.name, error = %e, "cannot apply GTSM; connection refused");
                continue;
            }
        }
        if !peer.offer(stream) {
            debug!(peer = %peer.config.name, "peer busy with another connection; refused");
        }
    }
}
