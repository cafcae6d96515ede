//! Unique TCP ports and 127/8 addresses, also across test processes running at the same time.
//!
//! Each allocation is reserved with a lock file (`create_new`) in
//! `$TMPDIR/peerex-test-locks/` holding the owner's pid; a lock whose owner is gone is
//! reclaimed. Ports are also bind-tested (wildcard, 127.0.0.1 and ::1) and taken below the
//! kernel's ephemeral range so outgoing connections cannot occupy them.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Mutex, Once};

static ALLOCATED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static SWEEP: Once = Once::new();

fn lock_dir() -> PathBuf {
    let d = std::env::temp_dir().join("peerex-test-locks");
    let _ = fs::create_dir_all(&d);
    d
}

pub(crate) fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes lock files of processes that no longer exist (once per process).
fn sweep() {
    SWEEP.call_once(|| {
        let Ok(rd) = fs::read_dir(lock_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(s) = fs::read_to_string(&p) {
                if let Ok(pid) = s.trim().parse::<u32>() {
                    if !pid_alive(pid) {
                        let _ = fs::remove_file(&p);
                    }
                }
            }
        }
    });
}

/// Reserves `key` for this process. False if another live process (or this one) has it.
fn reserve(key: &str) -> bool {
    sweep();
    let mut g = ALLOCATED.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if set.contains(key) {
        return false;
    }
    let path = lock_dir().join(key);
    let me = std::process::id();
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let _ = write!(f, "{me}");
                set.insert(key.to_string());
                return true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Reclaim a stale lock (owner gone, or an earlier process with our pid).
                let owner = fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                match owner {
                    Some(pid) if pid != me && pid_alive(pid) => return false,
                    // Being written right now by its creator: treat as taken.
                    None => return false,
                    _ => {
                        let _ = fs::remove_file(&path);
                    }
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// A start index for this process, so that concurrent processes probe different places.
fn seed(modulus: u32) -> u32 {
    let pid = std::process::id();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (pid.wrapping_mul(2_654_435_761) ^ t) % modulus
}

fn ephemeral_range() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .unwrap_or((32768, 60999))
}

fn bindable(port: u16) -> bool {
    let addrs: [SocketAddr; 3] = [
        ([0, 0, 0, 0], port).into(),
        ([127, 0, 0, 1], port).into(),
        (std::net::Ipv6Addr::LOCALHOST, port).into(),
    ];
    // Bind each separately (the wildcard one is dropped before 127.0.0.1 is tried).
    addrs.iter().all(|a| match TcpListener::bind(a) {
        Ok(_) => true,
        // ::1 may be unavailable (IPv6 disabled); do not let that block IPv4 ports.
        Err(e) => a.is_ipv6() && e.kind() == std::io::ErrorKind::AddrNotAvailable,
    })
}

/// A TCP port that no other test (in this or another process) gets, free right now on
/// 0.0.0.0, 127.0.0.1 and ::1, outside the ephemeral range.
pub fn unique_port() -> u16 {
    const LO: u32 = 10000;
    let (eph_lo, eph_hi) = ephemeral_range();
    let hi: u32 = 65000;
    let n = hi - LO;
    let start = seed(n);
    for i in 0..n {
        let port = (LO + (start + i * 7) % n) as u16;
        if (eph_lo..=eph_hi).contains(&port) {
            continue;
        }
        if !bindable(port) {
            continue;
        }
        // If someone outside the harness took the port between the two checks, the
        // reservation is kept (harmless) and the search goes on.
        if reserve(&format!("port-{port}")) && bindable(port) {
            return port;
        }
    }
    panic!("no free TCP port found");
}

/// A 127.x.y.z address (x in 64..=127, y and z in 1..=250) that no other test gets.
/// Linux routes all of 127/8 to `lo`, so it can be bound without configuration.
pub fn unique_loopback() -> Ipv4Addr {
    const PER_X: u32 = 250 * 250;
    let n = 64 * PER_X;
    let start = seed(n);
    for i in 0..n {
        let k = (start + i) % n;
        let a = Ipv4Addr::new(
            127,
            64 + (k / PER_X) as u8,
            1 + (k / 250 % 250) as u8,
            1 + (k % 250) as u8,
        );
        if reserve(&format!("addr-{a}")) {
            return a;
        }
    }
    panic!("no free loopback address found");
}
