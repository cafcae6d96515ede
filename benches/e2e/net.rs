//! Netns mode (`E2E_NET=netns`): the server under test runs in its own network namespace
//! `e2e-rs`, reached over a veth pair: the server listens on 10.77.255.1 (`e2e-b`, inside),
//! the emulated peers use 10.77.x.y addresses on `e2e-a` (outside). BIRD then sees its
//! neighbours as directly connected, which its arouteserver-style layout (sorted table with
//! `secondary` channels) needs; over loopback BIRD 2.0 refuses it. Needs root (`ip`).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use std::sync::atomic::{AtomicBool, Ordering};

use crate::scenario::{peer_addr, NETNS};

static UP: AtomicBool = AtomicBool::new(false);

/// Whether [`setup`] succeeded (and [`teardown`] has not run since).
pub fn is_up() -> bool {
    UP.load(Ordering::Relaxed)
}

pub const NS: &str = "e2e-rs";
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 255, 1);

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Removes the namespace and the veth pair (deleting the namespace deletes both ends).
pub fn teardown() {
    UP.store(false, Ordering::Relaxed);
    let _ = ip(&["netns", "del", NS]);
    let _ = ip(&["link", "del", "e2e-a"]);
}

/// Creates the namespace, the veth pair and the addresses of `peers` peers.
pub fn setup(peers: usize) -> Result<(), String> {
    teardown();
    ip(&["netns", "add", NS])?;
    ip(&[
        "link", "add", "e2e-a", "type", "veth", "peer", "name", "e2e-b", "netns", NS,
    ])?;
    ip(&["-n", NS, "link", "set", "lo", "up"])?;
    ip(&[
        "-n",
        NS,
        "addr",
        "add",
        &format!("{SERVER_IP}/16"),
        "dev",
        "e2e-b",
    ])?;
    // The IPv6 next hops of the peers (`scenario::peer_nh6`) are on this /64, so that BIRD's
    // direct sessions see them as on a connected network.
    ip(&[
        "-n",
        NS,
        "addr",
        "add",
        "2001:db8:77::ffff:ffff/64",
        "dev",
        "e2e-b",
        "nodad",
    ])?;
    ip(&["-n", NS, "link", "set", "e2e-b", "up"])?;
    let was = NETNS.swap(true, Ordering::Relaxed);
    let mut batch = String::new();
    for p in 0..peers {
        batch.push_str(&format!("addr add {}/16 dev e2e-a\n", peer_addr(p)));
    }
    batch.push_str("link set e2e-a up\n");
    NETNS.store(was, Ordering::Relaxed);
    let mut child = Command::new("ip")
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(batch.as_bytes())
        .map_err(|e| e.to_string())?;
    let st = child.wait().map_err(|e| e.to_string())?;
    if !st.success() {
        return Err("ip -batch (peer addresses) failed".into());
    }
    UP.store(true, Ordering::Relaxed);
    Ok(())
}
