//! RFC 9687 send hold timer, measured on what the peer acknowledged: a client that stops
//! reading when everything peerex has for it fits in the kernel's send buffer — so every
//! `write()` succeeds and peerex's own queue is empty — is still dropped after its send hold
//! time, with the send hold NOTIFICATION reason, and nobody else is.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::speaker::{announcements, loopbacks, numbered_peers, prefixes, Speaker, SpeakerOpts};
use common::{Peerex, TempDir};

fn peer_json(rs: &Peerex, name: &str) -> common::json::Json {
    let peers = rs.ctl_json(&["peers"]).unwrap();
    peers
        .as_array()
        .iter()
        .find(|p| p.get("name").as_str() == Some(name))
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_acknowledges_nothing_is_dropped_even_with_an_empty_queue() {
    let dir = TempDir::new("sendhold");
    let addrs = loopbacks(63, 2);
    let cfg = numbered_peers(&addrs, 4_200_030_000, |i| {
        if i == 1 {
            "send_hold_time = 4\n".into()
        } else {
            String::new()
        }
    });
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let sender = Speaker::connect(addrs[0], target, 4_200_030_000, SpeakerOpts::default())
        .await
        .unwrap();
    let stuck_opts = SpeakerOpts {
        recv_buffer: Some(4096),
        ..SpeakerOpts::default()
    };
    let stuck = Speaker::connect(addrs[1], target, 4_200_030_001, stuck_opts)
        .await
        .unwrap();
    let t = Instant::now();
    while !(sender.eor() && stuck.eor()) {
        assert!(t.elapsed() < Duration::from_secs(20), "no End-of-RIB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stuck.set_reading(false);
    // 20,000 routes: about 80 KiB, more than the stuck client's receive window and less
    // than peerex's socket send buffer on loopback, so every write succeeds and the rest
    // waits in the kernel, unacknowledged.
    let n = 20_000;
    let list = prefixes(40, n);
    let upd = announcements(
        4_200_030_000,
        Ipv4Addr::new(10, 63, 0, 1),
        &list,
        &sender.tx,
    );
    sender.send(&upd).await.unwrap();
    let t = Instant::now();
    loop {
        let p = peer_json(&rs, "p1");
        if p.get("state").as_str() != Some("Established") {
            assert_eq!(
                p.get("last_end_reason").as_str(),
                Some("send_hold_timer_expired"),
                "{p:?}"
            );
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the stuck client is still Established after 30 s (send hold time 4 s)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "dropped after {waited:?}, before its send hold time"
    );
    assert!(
        stuck.received() < n as u64,
        "the stuck client got everything: nothing waited for it"
    );
    let p0 = peer_json(&rs, "p0");
    assert_eq!(p0.get("state").as_str(), Some("Established"));
    assert!(!sender.closed());
}
