//! A flap storm through the real binary: one peer connects, announces, and drops its
//! connection every second (`FLAP_COUNT` times, default 10 here; the five minutes is
//! `FLAP_COUNT=300`) while another peer's table flows to a client. Afterwards the client holds
//! exactly the steady peer's table, nobody else's session noticed, and the server's memory,
//! file descriptors and threads are back to where they were.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};
use peerex::wire::Nlri;

const FIRST_ASN: u32 = 4_200_110_000;
const T: Duration = Duration::from_secs(60);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

/// (VmRSS in KiB, open file descriptors, threads) of the server process.
fn footprint(pid: u32) -> (u64, usize, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (field("VmRSS:"), fds, field("Threads:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_peer_leaves_no_trace() {
    let flaps: usize = std::env::var("FLAP_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let table: usize = std::env::var("FLAP_TABLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = TempDir::new("flap-storm");
    let addrs = loopbacks(71, 3);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let tracked = SpeakerOpts {
        track: true,
        ..SpeakerOpts::default()
    };
    let steady = Speaker::connect(addrs[0], target, FIRST_ASN, SpeakerOpts::default())
        .await
        .unwrap();
    let client = Speaker::connect(addrs[1], target, FIRST_ASN + 1, tracked)
        .await
        .unwrap();
    wait("End-of-RIB", || steady.eor() && client.eor()).await;
    let flapper_routes = prefixes(50, 100);
    let flap = || async {
        let f = Speaker::connect(addrs[2], target, FIRST_ASN + 2, SpeakerOpts::default())
            .await
            .expect("the flapping peer reconnects");
        let ann = announcements(
            FIRST_ASN + 2,
            Ipv4Addr::new(10, 71, 0, 3),
            &flapper_routes,
            &f.tx,
        );
        f.send(&ann).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(f);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // One flap to warm up, then the reference footprint.
    flap().await;
    let all = prefixes(49, table);
    let want: HashSet<Nlri> = all.iter().copied().collect();
    let nh = Ipv4Addr::new(10, 71, 0, 1);
    steady
        .send(&announcements(FIRST_ASN, nh, &all, &steady.tx))
        .await
        .unwrap();
    wait("the table at the client", || {
        *client.stats.held.lock().unwrap() == want
    })
    .await;
    // A storm: the flapping peer flaps `n` times while half of the steady peer's table is
    // withdrawn and announced again (ending announced).
    let half = &all[..table / 2];
    let mut wd = bytes::BytesMut::new();
    peerex::wire::update::pack_withdraw(
        &steady.tx,
        peerex::wire::Family::Ipv4Unicast,
        half,
        &mut wd,
    )
    .unwrap();
    let again = announcements(FIRST_ASN, nh, half, &steady.tx);
    let storm = |n: usize| {
        let (wd, again, steady, flap) = (&wd, &again, &steady, &flap);
        async move {
            let done = std::sync::atomic::AtomicBool::new(false);
            let churn = async {
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    steady.send(wd).await.unwrap();
                    steady.send(again).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            };
            let flaps = async {
                for _ in 0..n {
                    flap().await;
                }
                done.store(true, std::sync::atomic::Ordering::Release);
            };
            tokio::join!(churn, flaps);
        }
    };
    // A short storm first: the working buffers that churn needs (the pending map, the
    // journal, the feed) reach their size, and the reference is taken after it.
    storm(2).await;
    wait("the table at the client again", || {
        *client.stats.held.lock().unwrap() == want
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = footprint(rs.pid());
    let mem_before = rs.ctl_json(&["status"]).unwrap().get("memory").clone();
    storm(flaps).await;

    wait("the client holds exactly the steady peer's table", || {
        *client.stats.held.lock().unwrap() == want
    })
    .await;
    assert!(
        !steady.closed() && !client.closed(),
        "another session noticed"
    );
    let peers = rs.ctl_json(&["peers"]).unwrap();
    let transitions = |name: &str| {
        peers
            .as_array()
            .iter()
            .find(|p| p.get("name").as_str() == Some(name))
            .and_then(|p| p.get("established_transitions").as_u64())
            .unwrap()
    };
    assert_eq!(transitions("p0"), 1);
    assert_eq!(transitions("p1"), 1);
    assert_eq!(transitions("p2"), flaps as u64 + 3);

    // Back to the reference footprint: the same table, the same sessions.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = footprint(rs.pid());
    eprintln!("footprint (RSS KiB, fds, threads) before {before:?}, after {after:?}");
    let mem_after = rs.ctl_json(&["status"]).unwrap().get("memory").clone();
    eprintln!("memory parts before {mem_before:?}\nafter {mem_after:?}");
    assert_eq!(
        after.1, before.1,
        "file descriptors: {before:?} -> {after:?}"
    );
    assert_eq!(after.2, before.2, "threads: {before:?} -> {after:?}");
    // What the daemon accounts for itself: the RIB, the attribute sets and the snapshots hold
    // the same table as before, exactly. The export state and the queues are working
    // buffers whose capacities follow the churn of the moment (the same table was seen at
    // 4.4–4.6 MB and at 7.8 MB of export state), so they get twice the reference: a leak
    // per flap grows past that, a capacity step does not.
    for part in ["rib_paths", "attribute_sets", "snapshots"] {
        assert_eq!(
            mem_after.get(part).as_u64(),
            mem_before.get(part).as_u64(),
            "memory part {part}"
        );
    }
    for part in ["export_state", "out_queues"] {
        let (b, a) = (mem_before.get(part).as_u64(), mem_after.get(part).as_u64());
        assert!(
            a.unwrap() <= 2 * b.unwrap(),
            "memory part {part} more than doubled: {b:?} -> {a:?}"
        );
    }
    // The allocator's committed memory must not keep growing. mimalloc commits in steps of
    // a MiB or more and keeps them: one step of 6–7 MiB was seen early in a storm, then
    // nothing (65,798,144 bytes after 100 flaps and after 300, from 58–59.5 MB), so it gets
    // 5 % plus 8 MiB. A leak of memory that is written shows in the RSS check below first.
    let committed = |m: &common::json::Json| m.get("allocator").as_u64().unwrap_or(0);
    assert!(
        committed(&mem_after) * 100 <= committed(&mem_before) * 105 + (8 << 20) * 100,
        "allocator committed memory grew more than 5 % + 8 MiB: {} -> {}",
        committed(&mem_before),
        committed(&mem_after)
    );
    // RSS on a ~20 MiB process also moves when already-committed pages are touched for the
    // first time (seen: +1 MiB with every part above unchanged), so it gets 5 % plus 2 MiB.
    assert!(
        after.0 * 100 <= before.0 * 105 + 2048 * 100,
        "RSS grew more than 5 % + 2 MiB: {before:?} -> {after:?}"
    );
}
