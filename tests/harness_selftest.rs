//! Self-test of the daemon harness in tests/common: real BIRD, GoBGP, ExaBGP and FRR peer
//! with each other on loopback (peerex itself is not involved). Each test checks that the
//! session comes up, that routes announced on one side arrive on the other with their AS path,
//! MED, communities, large communities and next hop, that withdrawals arrive, and that an
//! administrative shutdown with a message is reported by the other side's `last_error`.
//!
//! Needs the Debian packages bird2, gobgpd, exabgp and frr (`.ci/install-deps`).

mod common;

use std::time::Duration;

use common::{
    AddPath, BgpDaemon, Bird, ExaBgp, Families, Frr, GoBgp, PeerSpec, Result, RouteAttrs,
    SessionState, TempDir,
};

const T: Duration = Duration::from_secs(20);

fn attrs(tag: u32) -> RouteAttrs {
    RouteAttrs {
        as_path: vec![64512 + tag, 4_200_000_000 + tag],
        med: Some(100 + tag),
        communities: vec![(65000, tag as u16), (65001, 7)],
        large_communities: vec![(4_200_000_000 + tag, 1, 2)],
        ..Default::default()
    }
}

/// `a` announces an IPv4 and an IPv6 prefix; `b` receives them with all attributes; `a`
/// withdraws the IPv4 one; `b` sees it go while the IPv6 one stays.
fn check_routes(a: &dyn BgpDaemon, b: &dyn BgpDaemon, tag: u32) -> Result<()> {
    let v4 = format!("10.{tag}.0.0/24");
    let v6 = format!("2001:db8:{tag:x}::/48");
    let at = attrs(tag);
    a.announce(&[&v4, &v6], &at)?;

    let r = b.wait_route(&v4, T)?;
    let ctx = format!("{} -> {}: {r:?}", a.kind(), b.kind());
    assert_eq!(r.as_path, a.spec().expected_as_path(&at), "{ctx}");
    assert_eq!(r.med, at.med, "{ctx}");
    assert_eq!(r.communities, at.communities, "{ctx}");
    assert_eq!(r.large_communities, at.large_communities, "{ctx}");
    assert_eq!(
        r.next_hop,
        Some(a.spec().self_next_hop_v4().into()),
        "{ctx}"
    );
    assert_eq!(r.origin.as_deref(), Some("igp"), "{ctx}");

    let r = b.wait_route(&v6, T)?;
    let ctx = format!("{} -> {}: {r:?}", a.kind(), b.kind());
    assert_eq!(r.as_path, a.spec().expected_as_path(&at), "{ctx}");
    assert_eq!(r.med, at.med, "{ctx}");
    assert_eq!(r.communities, at.communities, "{ctx}");
    assert_eq!(r.large_communities, at.large_communities, "{ctx}");
    assert_eq!(
        r.next_hop,
        Some(a.spec().self_next_hop_v6().into()),
        "{ctx}"
    );

    // Change attributes of an announced route (implicit withdraw + announce).
    let at2 = RouteAttrs {
        med: Some(7),
        ..at.clone()
    };
    a.announce(&[&v4], &at2)?;
    b.wait_routes(T, "MED change", &|rs| {
        rs.iter().any(|r| r.prefix == v4 && r.med == Some(7))
    })?;

    a.withdraw(&[&v4])?;
    b.wait_route_gone(&v4, T)?;
    assert!(
        b.received_routes()?.iter().any(|r| r.prefix == v6),
        "{} -> {}: IPv6 route vanished with the IPv4 withdrawal",
        a.kind(),
        b.kind()
    );
    a.withdraw(&[&v6])?;
    b.wait_route_gone(&v6, T)?;
    Ok(())
}

/// `a` shuts the session down with `msg`; `b` reports Cease/Administrative Shutdown with that
/// message; `a` re-enables it and the session comes back.
fn check_shutdown(a: &dyn BgpDaemon, b: &dyn BgpDaemon, msg: &str) -> Result<()> {
    a.shutdown_session(Some(msg))?;
    let e = b.wait_last_error(T, &|e| e.message.as_deref() == Some(msg))?;
    assert!(e.is_admin_shutdown(), "{} -> {}: {e}", a.kind(), b.kind());
    a.enable_session()?;
    a.wait_established(T)?;
    b.wait_established(T)?;
    Ok(())
}

fn up(a: &dyn BgpDaemon, b: &dyn BgpDaemon) -> Result<()> {
    a.wait_established(T)?;
    b.wait_established(T)
}

#[test]
fn bird_gobgp() -> Result<()> {
    let dir = TempDir::new("bird-gobgp");
    let sb = PeerSpec::new("bird", 4_200_000_011);
    let sg = PeerSpec::new("gobgp", 4_200_000_012);
    let bird = Bird::start(&dir, sb.clone().peer_with(&sg))?;
    let gobgp = GoBgp::start(&dir, sg.clone().peer_with(&sb).passive(true))?;
    up(&bird, &gobgp)?;
    check_routes(&bird, &gobgp, 11)?;
    check_routes(&gobgp, &bird, 12)?;
    check_shutdown(&bird, &gobgp, "bird to gobgp: maintenance")?;
    check_shutdown(&gobgp, &bird, "gobgp to bird: maintenance")?;
    // Still exchanging routes after the flaps.
    check_routes(&bird, &gobgp, 13)?;
    Ok(())
}

#[test]
fn gobgp_exabgp_add_path() -> Result<()> {
    let dir = TempDir::new("gobgp-exabgp");
    let sg = PeerSpec::new("gobgp", 65021).add_path(AddPath::Both);
    let se = PeerSpec::new("exabgp", 65022).add_path(AddPath::Both);
    let exa = ExaBgp::start(&dir, se.clone().peer_with(&sg))?;
    let gobgp = GoBgp::start(&dir, sg.clone().peer_with(&se).passive(true))?;
    up(&gobgp, &exa)?;
    check_routes(&gobgp, &exa, 21)?;
    check_routes(&exa, &gobgp, 22)?;

    // Two paths for one prefix, each way, with distinct path ids.
    for (from, to, base) in [
        (&gobgp as &dyn BgpDaemon, &exa as &dyn BgpDaemon, 23u32),
        (&exa, &gobgp, 24),
    ] {
        let p = format!("10.{base}.0.0/24");
        for id in [1u32, 2] {
            let at = RouteAttrs {
                path_id: Some(id),
                med: Some(id * 10),
                next_hop: Some(format!("10.{base}.255.{id}").parse().unwrap()),
                ..Default::default()
            };
            from.announce(&[&p], &at)?;
        }
        let rs = to.wait_routes(T, "two paths", &|rs| {
            rs.iter().filter(|r| r.prefix == p).count() == 2
        })?;
        let mut paths: Vec<_> = rs
            .iter()
            .filter(|r| r.prefix == p)
            .map(|r| (r.med, r.next_hop, r.path_id.is_some()))
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                (
                    Some(10),
                    Some(format!("10.{base}.255.1").parse().unwrap()),
                    true
                ),
                (
                    Some(20),
                    Some(format!("10.{base}.255.2").parse().unwrap()),
                    true
                ),
            ],
            "{} -> {}: {rs:?}",
            from.kind(),
            to.kind()
        );
        let ids: std::collections::BTreeSet<_> = rs
            .iter()
            .filter(|r| r.prefix == p)
            .map(|r| r.path_id)
            .collect();
        assert_eq!(ids.len(), 2, "path ids not distinct: {rs:?}");
        from.withdraw(&[&p])?;
        to.wait_route_gone(&p, T)?;
    }

    check_shutdown(&gobgp, &exa, "gobgp to exabgp: bye")?;
    check_shutdown(&exa, &gobgp, "exabgp to gobgp: bye")?;
    Ok(())
}

#[test]
fn frr_bird_md5_gr_extended_message() -> Result<()> {
    let dir = TempDir::new("frr-bird");
    let sf = PeerSpec::new("frr", 4_200_000_031)
        .md5("s3cret-md5")
        .graceful_restart(true)
        .extended_message(true);
    let sb = PeerSpec::new("bird", 4_200_000_032)
        .md5("s3cret-md5")
        .graceful_restart(true)
        .extended_message(true);
    let frr = Frr::start(&dir, sf.clone().peer_with(&sb))?;
    let bird = Bird::start(&dir, sb.clone().peer_with(&sf).passive(true))?;
    up(&frr, &bird)?;
    let caps = bird.birdc(&["show", "protocols", "all", "peer"])?;
    let neighbor_caps = caps.split("Neighbor capabilities").nth(1).unwrap_or("");
    assert!(neighbor_caps.contains("Extended message"), "{caps}");
    assert!(neighbor_caps.contains("Graceful restart"), "{caps}");
    check_routes(&frr, &bird, 31)?;
    check_routes(&bird, &frr, 32)?;
    check_shutdown(&frr, &bird, "frr to bird: maintenance")?;
    check_shutdown(&bird, &frr, "bird to frr: maintenance")?;
    Ok(())
}

#[test]
fn exabgp_frr() -> Result<()> {
    let dir = TempDir::new("exabgp-frr");
    let se = PeerSpec::new("exabgp", 65041);
    let sf = PeerSpec::new("frr", 65042);
    let frr = Frr::start(&dir, sf.clone().peer_with(&se).passive(true))?;
    let exa = ExaBgp::start(&dir, se.clone().peer_with(&sf))?;
    up(&exa, &frr)?;
    check_routes(&exa, &frr, 41)?;
    check_routes(&frr, &exa, 42)?;
    check_shutdown(&frr, &exa, "frr to exabgp: bye")?;
    check_shutdown(&exa, &frr, "exabgp to frr: bye")?;
    Ok(())
}

/// Sessions over ::1 (distinct ports): BIRD <-> FRR and GoBGP <-> ExaBGP (with TCP MD5), IPv4
/// and IPv6 routes over an IPv6 transport.
#[test]
fn ipv6_transport() -> Result<()> {
    let dir = TempDir::new("ipv6");
    let sb = PeerSpec::new_v6("bird6", 65051);
    let sf = PeerSpec::new_v6("frr6", 65052);
    let sg = PeerSpec::new_v6("gobgp6", 65053).md5("v6-secret");
    let se = PeerSpec::new_v6("exabgp6", 65054).md5("v6-secret");
    let bird = Bird::start(&dir, sb.clone().peer_with(&sf))?;
    let frr = Frr::start(&dir, sf.clone().peer_with(&sb).passive(true))?;
    let gobgp = GoBgp::start(&dir, sg.clone().peer_with(&se).passive(true))?;
    let exa = ExaBgp::start(&dir, se.clone().peer_with(&sg))?;
    up(&bird, &frr)?;
    up(&gobgp, &exa)?;
    check_routes(&bird, &frr, 51)?;
    check_routes(&frr, &bird, 52)?;
    check_routes(&gobgp, &exa, 53)?;
    check_routes(&exa, &gobgp, 54)?;
    Ok(())
}

/// IPv4-only sessions, iBGP (LOCAL_PREF, no AS prepended), both sides active (connection
/// collision), shutdown without a message, and session state tracking.
#[test]
fn gobgp_bird_ibgp_v4_only() -> Result<()> {
    let dir = TempDir::new("ibgp");
    let sg = PeerSpec::new("gobgp", 65060).families(Families::V4);
    let sb = PeerSpec::new("bird", 65060).families(Families::V4);
    let gobgp = GoBgp::start(&dir, sg.clone().peer_with(&sb))?;
    let bird = Bird::start(&dir, sb.clone().peer_with(&sg))?;
    up(&gobgp, &bird)?;
    for (from, to) in [
        (&gobgp as &dyn BgpDaemon, &bird as &dyn BgpDaemon),
        (&bird, &gobgp),
    ] {
        let at = RouteAttrs {
            as_path: vec![65099],
            local_pref: Some(250),
            communities: vec![(65060, 1)],
            ..Default::default()
        };
        let p = if from.kind() == "gobgp" {
            "10.61.0.0/24"
        } else {
            "10.62.0.0/24"
        };
        from.announce(&[p], &at)?;
        let r = to.wait_route(p, T)?;
        assert_eq!(r.as_path, vec![65099], "{r:?}");
        assert_eq!(r.local_pref, Some(250), "{r:?}");
        assert_eq!(r.communities, vec![(65060, 1)], "{r:?}");
    }
    gobgp.shutdown_session(None)?;
    assert_eq!(gobgp.session_state()?, SessionState::AdminDown);
    bird.wait_not_established(T)?;
    let e = bird.wait_last_error(T, &|e| e.is_admin_shutdown())?;
    assert_eq!(e.message, None, "{e}");
    gobgp.enable_session()?;
    up(&gobgp, &bird)?;
    Ok(())
}

/// A wrong TCP MD5 password keeps the session down (so the MD5 options really reach the
/// daemons); the stock (unpatched) exabgp program also works with the harness.
#[test]
fn md5_mismatch_and_stock_exabgp() -> Result<()> {
    let dir = TempDir::new("md5-mismatch");
    let sb = PeerSpec::new("bird", 65071).md5("right");
    let sg = PeerSpec::new("gobgp", 65072).md5("wrong");
    let bird = Bird::start(&dir, sb.clone().peer_with(&sg))?;
    let gobgp = GoBgp::start(&dir, sg.clone().peer_with(&sb).passive(true))?;

    let sb2 = PeerSpec::new("bird2", 65073);
    let se = PeerSpec::new("exabgp", 65074);
    let bird2 = Bird::start(&dir, sb2.clone().peer_with(&se).passive(true))?;
    let exa = ExaBgp::start_unpatched(&dir, se.clone().peer_with(&sb2))?;
    up(&bird2, &exa)?;
    check_routes(&exa, &bird2, 73)?;

    std::thread::sleep(Duration::from_secs(4));
    assert_ne!(bird.session_state()?, SessionState::Established);
    assert_ne!(gobgp.session_state()?, SessionState::Established);
    Ok(())
}

/// The spec's capability switches reach each daemon's OPEN (as seen by an ExaBGP peer), with
/// the daemons' known limits: GoBGP has no extended message, FRR 8.4 always advertises it.
#[test]
fn capabilities_follow_spec() -> Result<()> {
    let dir = TempDir::new("capabilities");
    for on in [false, true] {
        let mut pairs: Vec<(Box<dyn BgpDaemon>, ExaBgp)> = Vec::new();
        for (i, kind) in ["bird", "gobgp", "frr", "exabgp"].into_iter().enumerate() {
            let se = PeerSpec::new("exabgp-obs", 65100).add_path(AddPath::Both);
            let so = PeerSpec::new(kind, 65101 + i as u32)
                .graceful_restart(on)
                .extended_message(on)
                .add_path(if on { AddPath::Both } else { AddPath::Off })
                .passive(true)
                .peer_with(&se);
            let obs = ExaBgp::start(&dir, se.peer_with(&so))?;
            let d: Box<dyn BgpDaemon> = match kind {
                "bird" => Box::new(Bird::start(&dir, so)?),
                "gobgp" => Box::new(GoBgp::start(&dir, so)?),
                "frr" => Box::new(Frr::start(&dir, so)?),
                _ => Box::new(ExaBgp::start(&dir, so)?),
            };
            pairs.push((d, obs));
        }
        for (d, obs) in &pairs {
            up(d.as_ref(), obs)?;
            let caps = obs.peer_capabilities();
            let has = |c: &str| caps.iter().any(|x| x == c);
            let ctx = format!("{} (switches {on}): {:?}", d.kind(), obs.last_open());
            assert!(has("multiprotocol") && has("asn4"), "{ctx}");
            assert_eq!(has("graceful restart"), on, "{ctx}");
            match d.kind() {
                "gobgp" => assert!(!has("extended-message"), "{ctx}"),
                "frr" => assert!(has("extended-message"), "{ctx}"),
                _ => assert_eq!(has("extended-message"), on, "{ctx}"),
            }
            let open = obs.last_open().unwrap();
            let addpath = open
                .get("capabilities")
                .get("69")
                .get("ipv4/unicast")
                .as_str()
                .map(str::to_string);
            if on {
                assert_eq!(addpath.as_deref(), Some("send/receive"), "{ctx}");
            } else {
                // FRR 8.4 still sends the capability, with neither send nor receive.
                assert!(
                    addpath.is_none() || addpath.as_deref() == Some("disabled"),
                    "{ctx}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn unique_ports_and_addresses() {
    let ports: std::collections::HashSet<u16> = (0..200).map(|_| common::unique_port()).collect();
    assert_eq!(ports.len(), 200);
    let addrs: std::collections::HashSet<_> = (0..200).map(|_| common::unique_loopback()).collect();
    assert_eq!(addrs.len(), 200);
    for a in &addrs {
        assert_eq!(a.octets()[0], 127);
        // Bindable without configuration.
        std::net::TcpListener::bind((*a, 0)).unwrap();
    }
}

#[test]
fn json_reader() {
    use common::json::Json;
    let j = Json::parse(
        r#"{"a": [1, 4294967295, -2.5e3], "b": {"c": "x\"\u00e9\n"}, "d": null, "e": true}"#,
    )
    .unwrap();
    assert_eq!(j.get("a").as_array()[1].as_u32(), Some(u32::MAX));
    assert_eq!(j.at(&["b", "c"]).as_str(), Some("x\"é\n"));
    assert!(j.get("d").is_null());
    assert_eq!(j.get("e").as_bool(), Some(true));
    assert!(j.get("missing").is_null());
    let many = Json::parse_many("{\"x\":1}\n{\"x\":2} [3]").unwrap();
    assert_eq!(many.len(), 3);
    assert!(Json::parse("{\"x\":1").is_err());
}
