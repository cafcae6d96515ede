//! The RFC 4271 hold timer through the real binary: a peer that negotiated a 3 s hold time
//! and then goes silent is dropped with a Hold Timer Expired NOTIFICATION, shown as
//! `hold_timer_expired`, while a peer that keeps sending keepalives on the same hold time
//! stays. (The reader reads on when the timer fires with octets waiting unread in the
//! socket — it was late, not the peer — so a silent peer must still be caught.)

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::speaker::{loopbacks, numbered_peers, wait_async, Speaker, SpeakerOpts};
use common::{Peerex, TempDir};
use peerex::wire::NotifCode;

const FIRST_ASN: u32 = 4_200_120_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_by_the_hold_timer_a_talking_one_stays() {
    let dir = TempDir::new("hold-timer");
    let addrs = loopbacks(76, 2);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let three = SpeakerOpts {
        hold_time: 3,
        ..SpeakerOpts::default()
    };
    let talking = Speaker::connect(addrs[0], target, FIRST_ASN, three)
        .await
        .unwrap();
    let t0 = Instant::now();
    let silent = Speaker::connect(
        addrs[1],
        target,
        FIRST_ASN + 1,
        SpeakerOpts {
            silent: true,
            ..three
        },
    )
    .await
    .unwrap();
    wait_async(
        "the silent peer's NOTIFICATION",
        Duration::from_secs(20),
        || silent.closed(),
    )
    .await;
    let took = t0.elapsed();
    let n = silent.stats.notification.lock().unwrap().clone();
    let n = n.expect("closed with a NOTIFICATION");
    assert!(
        matches!(n.code, NotifCode::HoldTimerExpired(_)),
        "NOTIFICATION {n}"
    );
    assert!(
        took >= Duration::from_secs(3),
        "dropped after {took:?}, before the hold time"
    );
    // The other peer, on the same 3 s hold time, is still up well past it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!talking.closed(), "the talking peer was dropped");
    let peers = rs.ctl_json(&["peers"]).unwrap();
    let peer = |name: &str| {
        peers
            .as_array()
            .iter()
            .find(|p| p.get("name").as_str() == Some(name))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        peer("p1").get("last_end_reason").as_str(),
        Some("hold_timer_expired")
    );
    assert_eq!(peer("p0").get("state").as_str(), Some("Established"));
    assert_eq!(peer("p0").get("established_transitions").as_u64(), Some(1));
}
