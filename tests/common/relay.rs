//! A recording TCP relay: listens on a fresh loopback address and port, connects each
//! accepted connection to an upstream address, forwards bytes both ways unchanged, and keeps
//! every byte the connecting side sent (e.g. everything peerex sent its BMP collector, for
//! tshark). Plain threads, no runtime.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{trace, unique_loopback, unique_port, wait_until, Error, Result};

/// What one accepted connection carried so far.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The connecting side's address.
    pub from: SocketAddr,
    /// Every byte it sent, in order.
    pub sent: Vec<u8>,
    /// It closed its side (or the relay gave up on it).
    pub closed: bool,
}

struct Conn {
    from: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
    /// Both sockets, to shut them down when the relay is dropped.
    sockets: Vec<TcpStream>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    conns: Mutex<Vec<Conn>>,
}

pub struct Relay {
    /// Where the relay listens.
    pub addr: SocketAddr,
    pub upstream: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on a fresh loopback address and port; relays every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Relay> {
        let addr = SocketAddr::from((unique_loopback(), unique_port()));
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error(format!("relay: cannot listen on {addr}: {e}")))?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("relay-accept".into())
            .spawn(move || accept_loop(listener, upstream, s))?;
        trace(format_args!("relay {addr} -> {upstream}"));
        Ok(Relay {
            addr,
            upstream,
            shared,
            accept: Some(accept),
        })
    }

    /// Every connection accepted so far, in order.
    pub fn connections(&self) -> Vec<Recorded> {
        let g = self.shared.conns.lock().unwrap_or_else(|e| e.into_inner());
        g.iter()
            .map(|c| Recorded {
                from: c.from,
                sent: c.sent.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                closed: c.closed.load(Ordering::SeqCst),
            })
            .collect()
    }

    /// Waits until at least one connection was accepted and every accepted one is closed.
    pub fn wait_all_closed(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let c = self.connections();
            !c.is_empty() && c.iter().all(|c| c.closed)
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for c in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for s in &c.sockets {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(down) = conn else { continue };
        let from = down.peer_addr().unwrap_or(upstream);
        let up = match TcpStream::connect(upstream) {
            Ok(s) => s,
            Err(e) => {
                trace(format_args!("relay: cannot reach {upstream}: {e}"));
                continue;
            }
        };
        trace(format_args!("relay: connection from {from}"));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (Ok(down2), Ok(up2)) = (down.try_clone(), up.try_clone()) else {
            continue;
        };
        let sockets = [&down, &up]
            .iter()
            .filter_map(|s| s.try_clone().ok())
            .collect();
        shared
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Conn {
                from,
                sent: sent.clone(),
                closed: closed.clone(),
                sockets,
            });
        // The connecting side to upstream, recorded.
        let rec = sent.clone();
        let done = closed.clone();
        let _ = std::thread::Builder::new()
            .name("relay-up".into())
            .spawn(move || {
                copy(down, up, Some(&rec));
                done.store(true, Ordering::SeqCst);
            });
        // Upstream's answers (a collector sends none) back, unrecorded.
        let _ = std::thread::Builder::new()
            .name("relay-down".into())
            .spawn(move || copy(up2, down2, None));
    }
}

/// Copies until EOF or an error, then closes the writing half of `to`.
fn copy(mut from: TcpStream, mut to: TcpStream, record: Option<&Mutex<Vec<u8>>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(r) = record {
            r.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
