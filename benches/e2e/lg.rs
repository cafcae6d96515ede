//! A looking-glass flood: threads sending GETs to peerex's looking glass back to back, each
//! over a fresh connection, across the endpoints a busy looking glass serves (status,
//! neighbours, /metrics, birdwatcher protocols, prefix lookups, `why`, a neighbour's routes
//! pages), counting what was answered. Shared by the e2e bench's scenario `h` and by
//! `benches/lg_flood.rs`.
//!
//! The targets name neighbours `p0`, `p1` and `p2` and prefixes from 20.0.0.0/24 up, as the
//! bench's configurations and scenarios do.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The requests, in the order every thread cycles through them (thread `i` starts at `i`).
pub const TARGETS: &[&str] = &[
    "/api/v1/status",
    "/api/v1/neighbours",
    "/metrics",
    "/protocols/bgp",
    "/api/v1/routes?prefix=20.0.3.7",
    "/api/v1/why?prefix=20.0.9.0/24&neighbour=p2",
    "/api/v1/neighbours/p0/routes/accepted?page=3&limit=200",
    "/routes/protocol/p1",
    "/api/v1/neighbours/p2/routes/exported?limit=100",
];

/// One GET over a fresh connection: the status code and the body (status 0 when the
/// connection, the request or the answer failed).
pub fn get_body(lg: SocketAddr, target: &str) -> (u16, Vec<u8>) {
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&lg, Duration::from_secs(10)) else {
        return (0, Vec::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    if write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: lg\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return (0, Vec::new());
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    if s.read_to_end(&mut buf).is_err() {
        return (0, Vec::new());
    }
    let code = buf
        .get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |i| buf.split_off(i + 4));
    (code, body)
}

/// One GET; the status code (0 on failure).
pub fn get(lg: SocketAddr, target: &str) -> u16 {
    get_body(lg, target).0
}

/// `neighbours_established` from the looking glass's `/api/v1/status`.
pub fn sessions_established(lg: SocketAddr) -> Result<u64, String> {
    let (code, body) = get_body(lg, "/api/v1/status");
    if code != 200 {
        return Err(format!("GET /api/v1/status answered {code}"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("/api/v1/status: {e}"))?;
    v.get("neighbours_established")
        .and_then(|n| n.as_u64())
        .ok_or_else(|| "/api/v1/status has no neighbours_established".to_string())
}

/// A running flood; [`Flood::stop`] ends it.
pub struct Flood {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// The longest request (connect to the end of the answer), ns, and its target.
    slowest: Arc<std::sync::Mutex<(u64, &'static str)>>,
    threads: Vec<JoinHandle<()>>,
}

impl Flood {
    /// Starts `n` threads sending [`TARGETS`] to `lg` back to back.
    pub fn start(lg: SocketAddr, n: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let slowest = Arc::new(std::sync::Mutex::new((0, "")));
        let threads = (0..n)
            .map(|i| {
                let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
                let slowest = slowest.clone();
                std::thread::spawn(move || {
                    let mut k = i;
                    while !stop.load(Ordering::Relaxed) {
                        let t = TARGETS[k % TARGETS.len()];
                        let start = std::time::Instant::now();
                        let code = get(lg, t);
                        let took = start.elapsed().as_nanos() as u64;
                        {
                            let mut s = slowest.lock().unwrap();
                            if took > s.0 {
                                *s = (took, t);
                            }
                        }
                        if code == 200 {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        k += 1;
                    }
                })
            })
            .collect();
        Flood {
            stop,
            answered,
            failed,
            slowest,
            threads,
        }
    }

    /// The longest request so far (connect to the end of the answer) and its target.
    pub fn slowest(&self) -> (Duration, &'static str) {
        let s = *self.slowest.lock().unwrap();
        (Duration::from_nanos(s.0), s.1)
    }

    /// Requests answered with 200 so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Requests that failed so far (no connection, no answer, or not 200).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Ends the flood and waits until each thread has finished its request in flight.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Flood {
    /// Ends the flood without waiting (a failed run: the server stops next, which ends the
    /// requests in flight).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
