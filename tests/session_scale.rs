//! Sessions under load, driven by in-repo speakers (tests/common/speaker.rs) against the real
//! peerex binary: many concurrent sessions, a peer that stops reading, and a process kept
//! busy longer than a short hold time.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_reach_established() {
    let dir = TempDir::new("scale200");
    let addrs = loopbacks(61, 200);
    let rs = Peerex::start(
        &dir,
        &numbered_peers(&addrs, 4_200_010_000, |_| String::new()),
        "",
    )
    .unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut set = tokio::task::JoinSet::new();
    for (i, a) in addrs.iter().enumerate() {
        let a = *a;
        set.spawn(async move {
            let s =
                Speaker::connect(a, target, 4_200_010_000 + i as u32, SpeakerOpts::default()).await;
            (i, s)
        });
    }
    let mut speakers = Vec::new();
    while let Some(r) = set.join_next().await {
        let (i, s) = r.unwrap();
        speakers.push((i, s.expect("session did not reach Established")));
    }
    // In peer order: speaker 0 is AS 4200010000, whose routes must start with that AS.
    speakers.sort_by_key(|(i, _)| *i);
    let speakers: Vec<_> = speakers.into_iter().map(|(_, s)| s).collect();
    assert_eq!(speakers.len(), 200);
    // Every session got its End-of-RIB (the initial, empty table) and none was closed.
    wait_async(
        "End-of-RIB on all sessions",
        Duration::from_secs(30),
        || speakers.iter().all(|s| s.eor()),
    )
    .await;
    // One route from the first peer reaches the 199 others.
    let ctx = speakers[0].tx;
    let upd = announcements(
        4_200_010_000,
        Ipv4Addr::new(10, 61, 0, 1),
        &prefixes(20, 10),
        &ctx,
    );
    speakers[0].send(&upd).await.unwrap();
    wait_async(
        "the routes at every other peer",
        Duration::from_secs(30),
        || speakers[1..].iter().all(|s| s.received() == 10),
    )
    .await;
    assert!(speakers.iter().all(|s| !s.closed()));
    assert_eq!(speakers[0].received(), 0, "a peer got its own routes back");
    assert!(rs.running());
}

/// One client stops reading; the others keep receiving everything, nobody else is dropped,
/// and the stuck one is dropped by the send hold timer (RFC 9687) after its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_slows_nobody() {
    let dir = TempDir::new("stuck");
    let addrs = loopbacks(62, 6);
    let mut cfg = numbered_peers(&addrs, 4_200_020_000, |_| String::new());
    cfg[5].extra = "send_hold_time = 15\n".into();
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut speakers = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let opts = SpeakerOpts {
            recv_buffer: (i == 5).then_some(16 * 1024),
            ..SpeakerOpts::default()
        };
        speakers.push(
            Speaker::connect(*a, target, 4_200_020_000 + i as u32, opts)
                .await
                .unwrap(),
        );
    }
    wait_async("End-of-RIB", Duration::from_secs(20), || {
        speakers.iter().all(|s| s.eor())
    })
    .await;
    speakers[5].set_reading(false);
    // Announce, withdraw and announce again a million prefixes: far more than the stuck
    // client's socket buffers and out-queue hold.
    let n = 1_000_000;
    let list = prefixes(30, n);
    let ctx = speakers[0].tx;
    let upd = announcements(4_200_020_000, Ipv4Addr::new(10, 62, 0, 1), &list, &ctx);
    let mut wd = bytes::BytesMut::new();
    peerex::wire::update::pack_withdraw(&ctx, peerex::wire::Family::Ipv4Unicast, &list, &mut wd)
        .unwrap();
    let t0 = Instant::now();
    speakers[0].send(&upd).await.unwrap();
    wait_async(
        "all prefixes at the reading clients",
        Duration::from_secs(120),
        || speakers[1..5].iter().all(|s| s.received() == n as u64),
    )
    .await;
    speakers[0].send(&wd).await.unwrap();
    wait_async(
        "all withdrawals at the reading clients",
        Duration::from_secs(120),
        || {
            speakers[1..5]
                .iter()
                .all(|s| s.stats.withdrawn.load(std::sync::atomic::Ordering::Relaxed) == n as u64)
        },
    )
    .await;
    speakers[0].send(&upd).await.unwrap();
    wait_async(
        "all prefixes again at the reading clients",
        Duration::from_secs(120),
        || speakers[1..5].iter().all(|s| s.received() == 2 * n as u64),
    )
    .await;
    let took = t0.elapsed();
    eprintln!("3 x {n} prefix changes to 4 clients in {took:?} while one client is stuck");
    assert!(
        speakers[..5].iter().all(|s| !s.closed()),
        "a healthy session was dropped"
    );
    // The stuck client is dropped once its send hold time passes without progress.
    wait_async(
        "the stuck client to be dropped",
        Duration::from_secs(60),
        || rs.wait_log(&["p5", "send hold timer expired"], Duration::ZERO),
    )
    .await;
    assert!(
        speakers[..5].iter().all(|s| !s.closed()),
        "a healthy session was dropped"
    );
    assert!(rs.running());
}

/// The route server is kept busy by a large burst for longer than a 3 s hold time; the
/// short-hold session must stay up, and its keepalives must keep arriving on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_hold_session_survives_a_long_burst() {
    let dir = TempDir::new("busy");
    // Peers 0-3 send, 4-11 receive, 12 has a 3 s hold time.
    let addrs = loopbacks(63, 13);
    let mut cfg = numbered_peers(&addrs, 4_200_030_000, |_| String::new());
    cfg[12].extra = "hold_time = 3\n".into();
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut speakers = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let opts = SpeakerOpts {
            hold_time: if i == 12 { 3 } else { 90 },
            ..SpeakerOpts::default()
        };
        speakers.push(
            Speaker::connect(*a, target, 4_200_030_000 + i as u32, opts)
                .await
                .unwrap(),
        );
    }
    wait_async("End-of-RIB", Duration::from_secs(20), || {
        speakers.iter().all(|s| s.eor())
    })
    .await;
    // Four senders announce 1.5 million prefixes each; eight clients receive all of them.
    let n = 1_500_000;
    let mut sends = Vec::new();
    for (s, sp) in speakers.iter().enumerate().take(4) {
        let list = prefixes(30 + 24 * s as u8, n);
        let ctx = sp.tx;
        let upd = announcements(
            4_200_030_000 + s as u32,
            Ipv4Addr::new(10, 63, 0, 1 + s as u8),
            &list,
            &ctx,
        );
        sends.push(upd);
    }
    let t0 = Instant::now();
    let results = futures_join(&speakers[..4], &sends).await;
    assert!(results.iter().all(|r| r.is_ok()));
    wait_async("the burst to arrive", Duration::from_secs(300), || {
        speakers[4..12].iter().all(|s| s.received() >= 4 * n as u64)
    })
    .await;
    let busy = t0.elapsed();
    eprintln!(
        "burst of {} prefixes to 8 clients processed in {busy:?}",
        4 * n
    );
    let short = &speakers[12];
    assert!(
        !short.closed(),
        "the 3 s hold-time session was dropped: {:?}",
        short.notification()
    );
    let gap = short
        .stats
        .max_gap_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("longest silence towards the 3 s session: {gap} ms");
    assert!(
        gap < 3000,
        "the route server was silent for {gap} ms on a 3 s hold-time session"
    );
    assert!(busy > Duration::from_secs(3), "the burst did not keep the server busy longer than the hold time ({busy:?}); make it larger");
    assert!(rs.running());
}

/// Sends each speaker's bytes concurrently.
async fn futures_join(speakers: &[Speaker], sends: &[bytes::Bytes]) -> Vec<std::io::Result<()>> {
    let futs: Vec<_> = speakers.iter().zip(sends).map(|(s, b)| s.send(b)).collect();
    let mut out = Vec::new();
    let mut set = Vec::new();
    for f in futs {
        set.push(f);
    }
    // join_all without a futures dependency: poll them together through tokio::join! pairs.
    let mut iter = set.into_iter();
    while let Some(a) = iter.next() {
        match iter.next() {
            Some(b) => {
                let (x, y) = tokio::join!(a, b);
                out.push(x);
                out.push(y);
            }
            None => out.push(a.await),
        }
    }
    out
}
