//! Max-prefix actions `warn` and `reset` through the real binary with in-repo speakers
//! (`restart` is in tests/session_features.rs): `warn` logs once and keeps the session and
//! the routes; `reset` sends Cease / Maximum Number of Prefixes Reached, records the
//! `max_prefixes` end reason and withdraws the peer's routes from the others.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};

const T: Duration = Duration::from_secs(20);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

fn peer(rs: &Peerex, name: &str) -> common::json::Json {
    let peers = rs.ctl_json(&["peers"]).unwrap();
    peers
        .as_array()
        .iter()
        .find(|p| p.get("name").as_str() == Some(name))
        .unwrap()
        .clone()
}

/// Starts peerex with a limited sender p0 and a client p1, both connected and past End-of-RIB.
async fn start(
    tag: &str,
    second: u8,
    first_asn: u32,
    limit: &str,
) -> (TempDir, Peerex, Speaker, Speaker) {
    let dir = TempDir::new(tag);
    let addrs = loopbacks(second, 2);
    let cfg = numbered_peers(&addrs, first_asn, |i| {
        if i == 0 {
            limit.to_string()
        } else {
            String::new()
        }
    });
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let sender = Speaker::connect(addrs[0], target, first_asn, SpeakerOpts::default())
        .await
        .unwrap();
    let client = Speaker::connect(addrs[1], target, first_asn + 1, SpeakerOpts::default())
        .await
        .unwrap();
    wait("End-of-RIB", || sender.eor() && client.eor()).await;
    (dir, rs, sender, client)
}

fn log_count(rs: &Peerex, needle: &str) -> usize {
    rs.log_tail(100_000)
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_logs_once_and_keeps_the_session_and_the_routes() {
    let limit = "max_prefixes = 50\nmax_prefixes_action = \"warn\"\n";
    let (_dir, rs, sender, client) = start("maxpfx-warn", 66, 4_200_060_000, limit).await;
    let upd = announcements(
        4_200_060_000,
        Ipv4Addr::new(10, 66, 0, 1),
        &prefixes(42, 100),
        &sender.tx,
    );
    sender.send(&upd).await.unwrap();
    wait("all 100 routes at the client", || client.received() == 100).await;
    assert!(
        rs.wait_log(&["maximum prefixes exceeded"], T),
        "{}",
        rs.log_tail(20)
    );
    // More over the limit: still one warning, still up.
    let more = announcements(
        4_200_060_000,
        Ipv4Addr::new(10, 66, 0, 1),
        &prefixes(43, 50),
        &sender.tx,
    );
    sender.send(&more).await.unwrap();
    wait("150 routes at the client", || client.received() == 150).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        log_count(&rs, "maximum prefixes exceeded"),
        1,
        "{}",
        rs.log_tail(30)
    );
    assert!(!sender.closed());
    assert_eq!(peer(&rs, "p0").get("state").as_str(), Some("Established"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_ceases_records_the_reason_and_withdraws_the_routes() {
    let limit = "max_prefixes = 50\n";
    let (_dir, rs, sender, client) = start("maxpfx-reset", 67, 4_200_070_000, limit).await;
    let upd = announcements(
        4_200_070_000,
        Ipv4Addr::new(10, 67, 0, 1),
        &prefixes(44, 100),
        &sender.tx,
    );
    sender.send(&upd).await.unwrap();
    wait("the NOTIFICATION at the sender", || {
        sender.notification().is_some()
    })
    .await;
    let n = sender.notification().unwrap();
    assert_eq!(
        n.code.parts(),
        (6, 1),
        "Cease / Maximum Number of Prefixes Reached: {n}"
    );
    let p = peer(&rs, "p0");
    assert_eq!(
        p.get("last_end_reason").as_str(),
        Some("max_prefixes"),
        "{p:?}"
    );
    // The peer's paths are gone from the RIB, and whatever reached the client is withdrawn.
    wait("p0's paths removed", || {
        let p = peer(&rs, "p0");
        p.get("routes_accepted").as_u64() == Some(0) && p.get("routes_filtered").as_u64() == Some(0)
    })
    .await;
    wait("the client holds nothing from p0", || {
        client.stats.announced.load(Ordering::Relaxed)
            == client.stats.withdrawn.load(Ordering::Relaxed)
    })
    .await;
    assert!(!client.closed());
}
