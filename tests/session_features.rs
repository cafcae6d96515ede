//! Session features through the real binary with real peers: TCP-MD5, connection collisions,
//! the max-prefix Cease and route refresh requested by a peer.

mod common;

use std::time::Duration;

use common::{
    BgpDaemon, Bird, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, SessionState, TempDir,
};

const T: Duration = Duration::from_secs(30);

fn count_lines(rs: &Peerex, words: &[&str]) -> usize {
    std::fs::read_to_string(&rs.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .count()
}

#[test]
fn tcp_md5_protects_the_session() -> Result<()> {
    let dir = TempDir::new("md5");
    let good = PeerSpec::new("md5good", 4_200_000_101).md5("s3cret-key");
    let bad = PeerSpec::new("md5bad", 4_200_000_102).md5("wrong-key");
    let rs = Peerex::start(
        &dir,
        &[
            PeerexPeer::for_spec(&good).with("md5_password = \"s3cret-key\""),
            PeerexPeer::for_spec(&bad).with("md5_password = \"right-key\""),
        ],
        "",
    )?;
    let g = Bird::start(&dir, rs.target(good))?;
    let b = Bird::start(&dir, rs.target(bad))?;
    g.wait_established(T)?;
    // The kernel drops the mismatched peer's segments: it never gets past Connect/Active.
    std::thread::sleep(Duration::from_secs(8));
    assert_ne!(b.session_state()?, SessionState::Established);
    assert_eq!(count_lines(&rs, &["md5bad", "session established"]), 0);
    Ok(())
}

/// Both sides connect at once (peerex active towards a BIRD that also connects): one
/// connection survives (RFC 4271 §6.8) and the session then stays up.
#[test]
fn connection_collision_leaves_one_stable_session() -> Result<()> {
    let dir = TempDir::new("collision");
    let spec = PeerSpec::new("both", 4_200_000_111);
    let rs_peer = PeerexPeer::for_spec(&spec)
        .with("passive = false")
        .with(&format!("port = {}", spec.local_port))
        .with("connect_retry = 1");
    let rs = Peerex::start(&dir, &[rs_peer], "")?;
    let b = Bird::start(&dir, rs.target(spec))?;
    b.wait_established(T)?;
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(b.session_state()?, SessionState::Established);
    assert_eq!(
        count_lines(&rs, &["both", "session established"]),
        1,
        "the session flapped"
    );
    Ok(())
}

#[test]
fn max_prefix_ceases_the_session() -> Result<()> {
    let dir = TempDir::new("maxpfx");
    let spec = PeerSpec::new("greedy", 4_200_000_121);
    let rs = Peerex::start(
        &dir,
        &[PeerexPeer::for_spec(&spec)
            .with("max_prefixes = 5")
            .with("max_prefixes_action = \"restart\"")
            .with("max_prefixes_restart = 60")],
        "",
    )?;
    let b = Bird::start(&dir, rs.target(spec))?;
    b.wait_established(T)?;
    let list: Vec<String> = (0..10).map(|i| format!("10.77.{i}.0/24")).collect();
    let refs: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
    b.announce(&refs, &RouteAttrs::default())?;
    let e = b.wait_last_error(T, &|e| e.code == Some(6))?;
    assert_eq!((e.code, e.subcode), (Some(6), Some(1)), "{e:?}");
    assert!(rs.wait_log(
        &["greedy", "maximum prefixes exceeded"],
        Duration::from_secs(5)
    ));
    // With "restart", peerex refuses the peer for the configured minutes.
    std::thread::sleep(Duration::from_secs(5));
    assert_ne!(b.session_state()?, SessionState::Established);
    Ok(())
}

/// BIRD asks for the routes again (`birdc reload in`): peerex sends its table again between
/// BoRR and EoRR (RFC 7313), and BIRD still has every route afterwards.
#[test]
fn route_refresh_from_a_peer_resends_the_table() -> Result<()> {
    let dir = TempDir::new("refresh");
    let a = PeerSpec::new("rr-a", 4_200_000_131);
    let b = PeerSpec::new("rr-b", 4_200_000_132);
    let rs = Peerex::start(
        &dir,
        &[PeerexPeer::for_spec(&a), PeerexPeer::for_spec(&b)],
        "",
    )?;
    let da = Bird::start(&dir, rs.target(a))?;
    let db = Bird::start(&dir, rs.target(b))?;
    da.wait_established(T)?;
    db.wait_established(T)?;
    da.announce(
        &["10.78.0.0/24", "2001:db8:78::/48"],
        &RouteAttrs::default(),
    )?;
    db.wait_route("10.78.0.0/24", T)?;
    db.wait_route("2001:db8:78::/48", T)?;
    let proto = db.birdc(&["show", "protocols"])?;
    let name = proto
        .lines()
        .find(|l| l.contains("BGP"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a BGP protocol")
        .to_string();
    db.birdc(&["reload", "in", &name])?;
    assert!(
        rs.wait_log(
            &["rr-b", "route refresh requested"],
            Duration::from_secs(10)
        ),
        "no refresh request seen"
    );
    std::thread::sleep(Duration::from_secs(2));
    let got = db.received_routes()?;
    assert!(got.iter().any(|r| r.prefix == "10.78.0.0/24"));
    assert!(got.iter().any(|r| r.prefix == "2001:db8:78::/48"));
    assert_eq!(db.session_state()?, SessionState::Established);
    Ok(())
}
