//! Enhanced route refresh from a peer (RFC 7313) through the real binary: between its BoRR and
//! EoRR the peer sends again what it still has; whatever it did not send again is stale and
//! swept at the EoRR, so the other clients get those prefixes withdrawn — and nothing else.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};
use peerex::wire::{AfiSafi, RefreshKind, RouteRefresh};

const T: Duration = Duration::from_secs(20);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

fn refresh(kind: RefreshKind) -> BytesMut {
    let mut b = BytesMut::new();
    RouteRefresh {
        afi_safi: AfiSafi::IPV4_UNICAST,
        kind,
    }
    .encode(&mut b);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_peer_does_not_resend_between_borr_and_eorr_is_withdrawn() {
    let dir = TempDir::new("borr");
    let addrs = loopbacks(68, 2);
    let cfg = numbered_peers(&addrs, 4_200_080_000, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let err = SpeakerOpts {
        enhanced_route_refresh: true,
        ..SpeakerOpts::default()
    };
    let sender = Speaker::connect(addrs[0], target, 4_200_080_000, err)
        .await
        .unwrap();
    let client = Speaker::connect(addrs[1], target, 4_200_080_001, SpeakerOpts::default())
        .await
        .unwrap();
    wait("End-of-RIB", || sender.eor() && client.eor()).await;
    let nh = Ipv4Addr::new(10, 68, 0, 1);
    let all = prefixes(45, 100);
    sender
        .send(&announcements(4_200_080_000, nh, &all, &sender.tx))
        .await
        .unwrap();
    wait("100 routes at the client", || client.received() == 100).await;

    // BoRR, 60 of the 100 again, EoRR.
    sender.send(&refresh(RefreshKind::Begin)).await.unwrap();
    sender
        .send(&announcements(4_200_080_000, nh, &all[..60], &sender.tx))
        .await
        .unwrap();
    sender.send(&refresh(RefreshKind::End)).await.unwrap();
    wait("40 withdrawals at the client", || {
        client.stats.withdrawn.load(Ordering::Relaxed) == 40
    })
    .await;
    let peers = rs.ctl_json(&["peers"]).unwrap();
    let p0 = peers
        .as_array()
        .iter()
        .find(|p| p.get("name").as_str() == Some("p0"))
        .unwrap()
        .clone();
    assert_eq!(p0.get("routes_accepted").as_u64(), Some(60), "{p0:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        client.stats.withdrawn.load(Ordering::Relaxed),
        40,
        "more than the stale 40 withdrawn"
    );
    assert!(!sender.closed() && !client.closed());
}
