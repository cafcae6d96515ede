//! `peerex ctl peer NAME disable|enable|reset|refresh` against a real BGP session (the in-repo
//! speaker on a real socket), through the real binary: each does to the session what it says,
//! with the right NOTIFICATION, and the typed end reason shows in `peerex ctl peers`.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::speaker::{loopbacks, wait_async, Speaker, SpeakerOpts};
use common::{Peerex, PeerexPeer, TempDir};

const FIRST_ASN: u32 = 4_200_120_000;
const T: Duration = Duration::from_secs(20);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

fn peer(rs: &Peerex) -> (String, Option<String>) {
    let p = rs.ctl_json(&["peer", "p0"]).unwrap();
    (
        p.get("state").as_str().unwrap_or_default().to_string(),
        p.get("last_end_reason").as_str().map(str::to_string),
    )
}

fn ctl_ok(rs: &Peerex, args: &[&str]) {
    let (ok, out, err) = rs.ctl(args).unwrap();
    assert!(ok, "peerex ctl {args:?}: {out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_reset_and_refresh_do_what_they_say() {
    let dir = TempDir::new("ctl-actions");
    let addrs = loopbacks(72, 1);
    let cfg = vec![PeerexPeer {
        name: "p0".into(),
        asn: FIRST_ASN,
        address: addrs[0],
        extra: String::new(),
    }];
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let connect = || Speaker::connect(addrs[0], target, FIRST_ASN, SpeakerOpts::default());

    // refresh: the peer is asked for its routes again (one ROUTE-REFRESH per family).
    let s = connect().await.unwrap();
    wait("End-of-RIB", || s.eor()).await;
    ctl_ok(&rs, &["peer", "p0", "refresh"]);
    wait("ROUTE-REFRESH at the peer", || {
        s.stats.refresh_requests.load(Ordering::Relaxed) == 2
    })
    .await;
    assert!(!s.closed());

    // disable: Cease / Administrative Shutdown with the message, and the peer stays down.
    ctl_ok(
        &rs,
        &["peer", "p0", "disable", "--message", "maintenance 22:00"],
    );
    wait("the NOTIFICATION", || s.notification().is_some()).await;
    let n = s.notification().unwrap();
    assert_eq!(n.code.parts(), (6, 2), "{n}");
    assert_eq!(n.shutdown_message(), Some("maintenance 22:00"));
    wait("Disabled", || peer(&rs).0 == "Disabled").await;
    assert_eq!(peer(&rs).1.as_deref(), Some("admin_disable"));
    assert!(connect().await.is_err(), "a disabled peer got a session");

    // enable: it may connect again.
    ctl_ok(&rs, &["peer", "p0", "enable"]);
    let s = connect().await.unwrap();
    wait("Established", || peer(&rs).0 == "Established").await;

    // reset: Cease / Administrative Reset; the peer may come straight back.
    ctl_ok(&rs, &["peer", "p0", "reset"]);
    wait("the NOTIFICATION", || s.notification().is_some()).await;
    assert_eq!(s.notification().unwrap().code.parts(), (6, 4));
    wait("the reset recorded", || {
        peer(&rs).1.as_deref() == Some("admin_reset")
    })
    .await;
    let _again = connect().await.unwrap();
    wait("Established again", || peer(&rs).0 == "Established").await;
}
