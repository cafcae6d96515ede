//! RFC 8654 §4 through the real binary: a sender with extended messages grows a route past
//! 4,096 octets (a long AS path; its `max_path_length` raised so policy takes it); a client
//! without extended messages that had the smaller version gets a withdrawal, the counter and
//! the looking glass's `why` say so, and the smaller version comes back when sent again.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::http::get;
use common::speaker::{loopbacks, numbered_peers, prefixes, Speaker, SpeakerOpts};
use common::{wait_for, Peerex, TempDir};
use peerex::wire::update::pack_announce;
use peerex::wire::{AsPath, Asn, Family, MpNextHop, Origin, PathAttributes};

const T: Duration = Duration::from_secs(20);

async fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < T, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One UPDATE announcing 100.0.0.0/24 from `s` with its ASN `hops` times.
async fn announce(s: &Speaker, nh: Ipv4Addr, hops: usize) {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(std::iter::repeat_n(Asn(s.asn), hops))),
        next_hop: Some(nh),
        ..PathAttributes::default()
    };
    let mut enc = BytesMut::new();
    attrs.encode(&s.tx, &mut enc);
    let mut out = BytesMut::new();
    let list = prefixes(100, 1);
    pack_announce(
        &s.tx,
        Family::Ipv4Unicast,
        &enc,
        &MpNextHop::V4(nh),
        &list,
        &mut out,
    )
    .unwrap();
    s.send(&out).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_too_big_for_a_client_is_withdrawn_there() {
    let dir = TempDir::new("too-big");
    let addrs = loopbacks(67, 2);
    let first_asn = 4_200_070_000u32;
    let cfg = numbered_peers(&addrs, first_asn, |i| {
        if i == 0 {
            "max_path_length = 2000\n".into()
        } else {
            String::new()
        }
    });
    let lg = SocketAddr::from((Ipv4Addr::LOCALHOST, common::unique_port()));
    let rs = Peerex::start(
        &dir,
        &cfg,
        &format!("\n[looking_glass]\nlisten = \"{lg}\"\n"),
    )
    .unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let opts = SpeakerOpts {
        extended_message: true,
        ..SpeakerOpts::default()
    };
    let sender = Speaker::connect(addrs[0], target, first_asn, opts)
        .await
        .unwrap();
    assert!(
        sender.tx.extended_message,
        "extended messages not negotiated"
    );
    let client = Speaker::connect(addrs[1], target, first_asn + 1, SpeakerOpts::default())
        .await
        .unwrap();
    wait("End-of-RIB", || sender.eor() && client.eor()).await;
    let nh = match addrs[0] {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => unreachable!(),
    };
    let (ann, wd) = (&client.stats.announced, &client.stats.withdrawn);
    announce(&sender, nh, 3).await;
    wait("the small version", || ann.load(Ordering::Relaxed) == 1).await;
    // 1,100 four-octet ASNs: over 4,400 octets of AS_PATH.
    announce(&sender, nh, 1100).await;
    wait("the withdrawal", || wd.load(Ordering::Relaxed) == 1).await;
    assert_eq!(ann.load(Ordering::Relaxed), 1);
    assert!(!client.closed(), "the client's session must stay up");
    let p1 = |rs: &Peerex| {
        let peers = rs.ctl_json(&["peers"]).unwrap();
        let p = peers
            .as_array()
            .iter()
            .find(|p| p.get("name").as_str() == Some("p1"))
            .cloned();
        p.unwrap().get("routes_too_big").as_u64()
    };
    assert_eq!(p1(&rs), Some(1));
    assert!(
        rs.wait_log(&["RFC 8654"], Duration::from_secs(5)),
        "{}",
        rs.log_tail(30)
    );
    let metrics = wait_for(Duration::from_secs(10), || get(lg, "/metrics").ok()).unwrap();
    assert!(
        metrics
            .body
            .contains("peerex_peer_routes_too_big_total{peer=\"p1\"} 1"),
        "{}",
        metrics.body
    );
    // `why` reads a snapshot, published every 100 ms: wait for one taken after the change.
    let mut why = String::new();
    let seen = common::wait_until(Duration::from_secs(10), || {
        why = get(lg, "/api/v1/why?prefix=100.0.0.0/24&neighbour=p1")
            .map(|r| r.body)
            .unwrap_or_default();
        why.contains("too_big_for_client")
    });
    assert!(seen, "{why}");
    assert!(why.contains("too big for this client (RFC 8654)"), "{why}");
    // Small again: announced again.
    announce(&sender, nh, 2).await;
    wait("the small version again", || {
        ann.load(Ordering::Relaxed) == 2
    })
    .await;
    rs.stop();
}
