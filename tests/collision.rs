//! A second connection from a peer whose session is Established, through the real binary and
//! on the wire: RFC 4271 §6.8 refuses it with Cease / Connection Collision Resolution and
//! keeps the session; a peer that negotiated graceful restart is taken to have restarted
//! (RFC 4724), so its new connection replaces the session and its routes stay meanwhile.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

const T: Duration = Duration::from_secs(20);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

fn state(rs: &Peerex, name: &str) -> (String, Option<String>) {
    let peers = rs.ctl_json(&["peers"]).unwrap();
    let p = peers
        .as_array()
        .iter()
        .find(|p| p.get("name").as_str() == Some(name))
        .unwrap()
        .clone();
    (
        p.get("state").as_str().unwrap_or_default().to_string(),
        p.get("last_end_reason").as_str().map(str::to_string),
    )
}

/// Opens a bare TCP connection from `local` to the route server.
async fn connect_from(local: IpAddr, rs: SocketAddr) -> tokio::net::TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(local, 0)).unwrap();
    sock.connect(rs).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_graceful_restart_the_established_session_stays_and_the_newcomer_gets_a_cease() {
    let dir = TempDir::new("collision-est");
    let addrs = loopbacks(64, 1);
    let rs = Peerex::start(
        &dir,
        &numbered_peers(&addrs, 4_200_040_000, |_| String::new()),
        "",
    )
    .unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let s = Speaker::connect(addrs[0], target, 4_200_040_000, SpeakerOpts::default())
        .await
        .unwrap();
    wait("End-of-RIB", || s.eor()).await;

    let mut second = connect_from(addrs[0], target).await;
    let mut got = Vec::new();
    tokio::time::timeout(T, second.read_to_end(&mut got))
        .await
        .expect("the second connection is closed")
        .unwrap();
    // One NOTIFICATION (type 3), Cease (6) / Connection Collision Resolution (7), then EOF.
    assert!(got.len() >= 21, "{got:?}");
    assert_eq!(&got[..16], &[0xff; 16]);
    assert_eq!((got[18], got[19], got[20]), (3, 6, 7), "{got:?}");

    assert!(
        rs.wait_log(&["RFC 4271 §6.8", "refused"], T),
        "{}",
        rs.log_tail(20)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!s.closed(), "the established session was closed");
    assert_eq!(state(&rs, "p0"), ("Established".to_string(), None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_peer_that_reconnects_replaces_its_session_and_keeps_its_routes() {
    let dir = TempDir::new("collision-gr");
    let addrs = loopbacks(65, 2);
    let rs = Peerex::start(
        &dir,
        &numbered_peers(&addrs, 4_200_050_000, |_| String::new()),
        "",
    )
    .unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let gr = SpeakerOpts {
        graceful_restart: true,
        ..SpeakerOpts::default()
    };
    let restarting = Speaker::connect(addrs[0], target, 4_200_050_000, gr)
        .await
        .unwrap();
    let client = Speaker::connect(addrs[1], target, 4_200_050_001, SpeakerOpts::default())
        .await
        .unwrap();
    wait("End-of-RIB", || restarting.eor() && client.eor()).await;
    let list = prefixes(41, 100);
    let upd = announcements(
        4_200_050_000,
        Ipv4Addr::new(10, 65, 0, 1),
        &list,
        &restarting.tx,
    );
    restarting.send(&upd).await.unwrap();
    wait("the routes at the client", || client.received() == 100).await;

    // The peer comes back on a new connection while its old one still looks fine to us.
    let again = Speaker::connect(addrs[0], target, 4_200_050_000, gr)
        .await
        .unwrap();
    assert!(
        rs.wait_log(&["RFC 4724", "replaces the established session"], T),
        "{}",
        rs.log_tail(20)
    );
    wait("the old connection closed", || restarting.closed()).await;
    assert_eq!(state(&rs, "p0").0, "Established");
    assert_eq!(state(&rs, "p0").1.as_deref(), Some("replaced"));
    // Its routes stayed at the client: nothing was withdrawn.
    assert_eq!(
        client
            .stats
            .withdrawn
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(!client.closed() && !again.closed());
}
