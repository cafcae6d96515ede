//! systemd integration through the real binary. The test owns the notification socket
//! (`NOTIFY_SOCKET`, a path in one test and an abstract name in the other) and checks:
//! READY=1 only once the BGP listener accepts connections and the control socket answers;
//! RELOADING=1 (with MONOTONIC_USEC) then READY=1 around `peerex ctl reload` and SIGHUP, in
//! strict pairs when both come at once;
//! STOPPING=1 on SIGTERM; no watchdog pings when `WATCHDOG_PID` names another process; and
//! the watchdog: WATCHDOG=1 about every half `WATCHDOG_USEC` while the RIB shards make
//! progress, still while a stalled shard has nothing to do, and none once that shard has work
//! queued (the test hook `PEEREX_TEST_STALL_SHARD_AFTER` stalls shard 0).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::speaker::{announcements, Speaker, SpeakerOpts};
use common::{unique_loopback, unique_port, Peerex, TempDir};
use peerex::wire::{Nlri, Prefix};

/// One datagram from peerex, with what was reachable the moment it arrived.
#[derive(Debug)]
struct Note {
    at: Instant,
    text: String,
    /// A TCP connection to the BGP port succeeded right after READY=1 arrived.
    bgp_accepting: bool,
    /// A connection to the control socket succeeded right after READY=1 arrived.
    control_accepting: bool,
}

/// Receives notifications on `sock` in a thread; on READY=1 it connects to the BGP port and
/// the control socket at once, before reading anything else.
fn receive(sock: UnixDatagram, port: u16, control: PathBuf) -> mpsc::Receiver<Note> {
    let (tx, rx) = mpsc::channel();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    continue
                }
                Err(_) => return,
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let ready = text.lines().any(|l| l == "READY=1");
            let note = Note {
                at: Instant::now(),
                bgp_accepting: ready && TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok(),
                control_accepting: ready && UnixStream::connect(&control).is_ok(),
                text,
            };
            if tx.send(note).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next notification with a line `line`, skipping others (returned in `skipped`).
fn wait_for(
    rx: &mpsc::Receiver<Note>,
    line: &str,
    timeout: Duration,
    skipped: &mut Vec<Note>,
) -> Note {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) if n.text.lines().any(|l| l == line) => return n,
            Ok(n) => skipped.push(n),
            Err(_) => panic!("no {line} within {timeout:?}; got {skipped:#?}"),
        }
    }
}

/// Every notification that arrives within `d`.
fn collect(rx: &mpsc::Receiver<Note>, d: Duration) -> Vec<Note> {
    let end = Instant::now() + d;
    let mut v = Vec::new();
    while let Ok(n) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        v.push(n);
    }
    v
}

fn pings(notes: &[Note]) -> Vec<Instant> {
    notes
        .iter()
        .filter(|n| n.text.lines().any(|l| l == "WATCHDOG=1"))
        .map(|n| n.at)
        .collect()
}

fn config(port: u16, control: &std::path::Path, peer: IpAddr) -> String {
    format!(
        "[server]\nasn = 64500\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\
         [control]\nsocket = \"{}\"\n[defaults]\n{}\n[[peer]]\nname = \"p0\"\nasn = 4200120000\naddress = \"{peer}\"\n",
        control.display(),
        common::peerex::LAB_DEFAULTS
    )
}

#[test]
fn ready_after_listening_then_reloading_ready_and_stopping() {
    let dir = TempDir::new("sd-notify");
    let port = unique_port();
    let control = dir.join("peerex.sock");
    let notify = dir.join("notify.sock");
    let rx = receive(UnixDatagram::bind(&notify).unwrap(), port, control.clone());
    let env = [
        ("NOTIFY_SOCKET", notify.display().to_string()),
        // The watchdog is another process's: peerex must not ping.
        ("WATCHDOG_USEC", "200000".to_string()),
        ("WATCHDOG_PID", "1".to_string()),
    ];
    let cfg = config(port, &control, IpAddr::V4(unique_loopback()));
    let rs = Peerex::start_with_config_env(&dir, &cfg, port, &env).unwrap();
    let mut before = Vec::new();
    let ready = wait_for(&rx, "READY=1", Duration::from_secs(10), &mut before);
    assert!(
        before.is_empty(),
        "notifications before READY=1: {before:#?}"
    );
    assert!(
        ready.bgp_accepting,
        "READY=1 arrived before the BGP listener accepted connections"
    );
    assert!(
        ready.control_accepting,
        "READY=1 arrived before the control socket accepted connections"
    );
    assert!(ready.text.contains("STATUS="), "{ready:?}");

    // A reload through the control socket (what ExecReload runs).
    let (ok, out, err) = rs.ctl(&["reload"]).unwrap();
    assert!(ok, "ctl reload failed: {out}{err}");
    let mut skipped = Vec::new();
    let reloading = wait_for(&rx, "RELOADING=1", Duration::from_secs(5), &mut skipped);
    let usec: u64 = reloading
        .text
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {reloading:?}"));
    assert!(usec > 0);
    let again = wait_for(&rx, "READY=1", Duration::from_secs(5), &mut skipped);
    assert!(again.at >= reloading.at);
    // A dry run is not a reload.
    let (ok, _, _) = rs.ctl(&["reload", "--dry-run"]).unwrap();
    assert!(ok);
    // SIGHUP reloads too.
    common::process::signal(rs.pid(), "HUP");
    wait_for(&rx, "RELOADING=1", Duration::from_secs(5), &mut skipped);
    wait_for(&rx, "READY=1", Duration::from_secs(5), &mut skipped);
    let dry = collect(&rx, Duration::from_millis(300));
    assert!(
        !dry.iter().any(|n| n.text.contains("RELOADING=1")),
        "{dry:#?}"
    );
    skipped.extend(dry);

    // Reloads from both doors at once: systemd must see RELOADING=1 and READY=1 strictly in
    // pairs, never READY=1 while another reload is still under way. A long allow-list makes
    // each reload take long enough for the requests to overlap.
    let list: Vec<String> = (0..40_000u32)
        .map(|i| format!("\"10.{}.{}.0/24\"", i >> 8 & 0xff, i & 0xff))
        .collect();
    std::fs::write(
        &rs.config,
        format!("{cfg}prefixes = [{}]\n", list.join(", ")),
    )
    .unwrap();
    let pid = rs.pid();
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                let (ok, out, err) = rs.ctl(&["reload"]).unwrap();
                assert!(ok, "ctl reload failed: {out}{err}");
            });
            s.spawn(move || common::process::signal(pid, "HUP"));
        }
    });
    let storm = collect(&rx, Duration::from_secs(3));
    let seq: Vec<&str> = storm
        .iter()
        .filter_map(|n| {
            let lines: Vec<&str> = n.text.lines().collect();
            if lines.contains(&"RELOADING=1") {
                Some("RELOADING")
            } else if lines.contains(&"READY=1") {
                Some("READY")
            } else {
                None
            }
        })
        .collect();
    assert!(seq.len() >= 4, "{seq:?}");
    for (i, pair) in seq.chunks(2).enumerate() {
        assert_eq!(pair, ["RELOADING", "READY"], "pair {i} of {seq:?}");
    }
    skipped.extend(storm);

    rs.stop();
    let stopping = wait_for(&rx, "STOPPING=1", Duration::from_secs(5), &mut skipped);
    assert!(stopping.at >= again.at);
    assert!(
        pings(&skipped).is_empty(),
        "WATCHDOG=1 sent although WATCHDOG_PID names another process: {skipped:#?}"
    );
}

/// Prefixes, one per /16, that hash to RIB shard 0 (the one the test hook stalls).
fn shard0_prefixes(n: usize) -> Vec<Nlri> {
    let shards = std::thread::available_parallelism().map_or(2, |n| n.get());
    (0..100u8)
        .flat_map(|a| (0..=255u8).map(move |b| (a, b)))
        .map(|(a, b)| Prefix::new(IpAddr::V4(Ipv4Addr::new(11 + a, b, 0, 0)), 24).unwrap())
        .filter(|p| peerex::rib::shard_of(p, shards) == 0)
        .take(n)
        .map(Nlri::new)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pings_while_shards_progress_and_stops_when_one_is_stuck() {
    use std::os::linux::net::SocketAddrExt;
    let dir = TempDir::new("sd-watchdog");
    let port = unique_port();
    let control = dir.join("peerex.sock");
    let name = format!("peerex-test-watchdog-{}-{port}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let rx = receive(
        UnixDatagram::bind_addr(&addr).unwrap(),
        port,
        control.clone(),
    );
    let peer = unique_loopback();
    let env = [
        ("NOTIFY_SOCKET", format!("@{name}")),
        ("WATCHDOG_USEC", "1000000".to_string()),
        ("PEEREX_TEST_STALL_SHARD_AFTER", "3".to_string()),
    ];
    let cfg = config(port, &control, IpAddr::V4(peer));
    let rs = Peerex::start_with_config_env(&dir, &cfg, port, &env).unwrap();
    let mut skipped = Vec::new();
    wait_for(&rx, "READY=1", Duration::from_secs(10), &mut skipped);

    // Healthy: a ping about every 0.5 s.
    let healthy = pings(&collect(&rx, Duration::from_millis(2000)));
    assert!(healthy.len() >= 3, "{} pings in 2 s", healthy.len());
    let max_gap = healthy.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        max_gap < Duration::from_millis(900),
        "pings {max_gap:?} apart"
    );

    // Shard 0 stalls, but has nothing to do: that is idle, and idle is healthy.
    assert!(
        rs.wait_log(&["test hook", "stalls"], Duration::from_secs(10)),
        "the stall hook did not fire"
    );
    let idle = pings(&collect(&rx, Duration::from_millis(2000)));
    assert!(
        idle.len() >= 3,
        "{} pings in 2 s while the stalled shard was idle",
        idle.len()
    );

    // Work for the stalled shard: a peer comes up and announces routes that hash to it.
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let sp = Speaker::connect(
        IpAddr::V4(peer),
        target,
        4_200_120_000,
        SpeakerOpts::default(),
    )
    .await
    .unwrap();
    let ann = announcements(
        4_200_120_000,
        Ipv4Addr::new(10, 12, 0, 1),
        &shard0_prefixes(200),
        &sp.tx,
    );
    sp.send(&ann).await.unwrap();
    assert!(
        rs.wait_log(&["watchdog", "no progress"], Duration::from_secs(10)),
        "the watchdog did not notice the stuck shard"
    );
    // Nothing in flight is counted; from now on not one ping.
    let _ = collect(&rx, Duration::from_millis(100));
    let stuck = collect(&rx, Duration::from_millis(3000));
    assert!(
        pings(&stuck).is_empty(),
        "{} pings in 3 s while a shard was stuck with work queued",
        pings(&stuck).len()
    );
    assert!(rs.running());
    drop(sp);
}
