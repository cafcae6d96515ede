//! BMP collectors come and go with `peerex ctl reload`, against the real binary, a bird2 peer
//! and pmacct's pmbmpd: adding a `[[bmp]]` table connects and dumps, changing it restarts
//! that collector (Termination, then a new Initiation and dump with the new views), removing
//! it sends Termination; `ctl status` and the looking glass show the collector; the BGP
//! session is never touched.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use common::json::Json;
use common::pmbmpd::Pmbmpd;
use common::{BgpDaemon, Bird, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, TempDir};

const T: Duration = Duration::from_secs(60);

fn config(dir: &TempDir, port: u16, lg: u16, peer: &PeerexPeer, bmp: &str) -> String {
    let mut cfg = format!(
        "[server]\nasn = {}\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[looking_glass]\nlisten = \"127.0.0.1:{lg}\"\n\n\
         [defaults]\n{}",
        common::peerex::RS_ASN,
        dir.join("peerex.sock").display(),
        common::peerex::LAB_DEFAULTS
    );
    let _ = write!(
        cfg,
        "\n[[peer]]\nname = \"{}\"\nasn = {}\naddress = \"{}\"\n{}\n{bmp}",
        peer.name, peer.asn, peer.address, peer.extra
    );
    cfg
}

fn collector(at: SocketAddr, views: &str) -> String {
    format!(
        "[[bmp]]\nname = \"pm\"\naddress = \"{}\"\nport = {}\nviews = [{views}]\nstats_interval = 0\nretry = 1\n",
        at.ip(),
        at.port()
    )
}

fn reload(rs: &Peerex) -> Result<Json> {
    rs.ctl_json(&["reload"])
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn count(events: &[Json], kind: &str) -> usize {
    events
        .iter()
        .filter(|e| e.get("bmp_msg_type").as_str() == Some(kind))
        .count()
}

/// The neighbour's Established transitions, from the looking glass.
fn transitions(lg: SocketAddr, name: &str) -> Result<u64> {
    let r = common::http::get(lg, &format!("/api/v1/neighbours/{name}"))?;
    let v = Json::parse(&r.body).map_err(common::Error)?;
    v.at(&["neighbour", "established_transitions"])
        .as_u64()
        .or_else(|| v.get("established_transitions").as_u64())
        .ok_or_else(|| common::Error(format!("no established_transitions in {}", r.body)))
}

#[test]
fn reload_adds_changes_and_removes_a_collector_without_touching_sessions() -> Result<()> {
    let dir = TempDir::new("bmp-reload");
    let pm = Pmbmpd::start(&dir)?;
    let spec = PeerSpec::new("supplier", 64501);
    let peer = PeerexPeer::for_spec(&spec);
    let (port, lg_port) = (common::unique_port(), common::unique_port());
    let lg = SocketAddr::from(([127, 0, 0, 1], lg_port));
    let rs = Peerex::start_with_config(&dir, &config(&dir, port, lg_port, &peer, ""), port)?;
    let bird = Bird::start(&dir, rs.target(spec))?;
    bird.wait_established(T)?;
    bird.announce(&["10.31.0.0/24"], &RouteAttrs::default())?;
    assert!(common::wait_until(T, || rs
        .ctl(&["routes", "--peer", "supplier"])
        .is_ok_and(|(_, out, _)| out.contains("10.31.0.0/24"))));
    let before = transitions(lg, "supplier")?;

    // Added: it connects and gets the dump (Peer Up, then the route pre-policy).
    let set = |bmp: &str| -> Result<Json> {
        std::fs::write(&rs.config, config(&dir, port, lg_port, &peer, bmp))?;
        reload(&rs)
    };
    let r = set(&collector(pm.addr, "\"pre-policy\""))?;
    assert_eq!(
        strings(r.get("bmp")),
        vec!["pm (added)".to_string()],
        "{r:?}"
    );
    let ev = pm.wait_for(T, |ev| {
        ev.iter().any(|e| {
            e.get("bmp_msg_type").as_str() == Some("route_monitor")
                && e.get("ip_prefix").as_str() == Some("10.31.0.0/24")
        })
    })?;
    assert_eq!(count(&ev, "init"), 1);
    assert_eq!(count(&ev, "peer_up"), 1, "one Peer Up: the bird peer");
    assert!(
        !ev.iter().any(|e| e.get("is_loc").as_u64() == Some(1)),
        "no Loc-RIB without the view"
    );
    // ctl status and the looking glass show it.
    assert!(common::wait_until(T, || rs
        .ctl_json(&["status"])
        .is_ok_and(|s| {
            let c = &s
                .get("bmp_collectors")
                .as_array()
                .first()
                .cloned()
                .unwrap_or(Json::Null);
            c.get("name").as_str() == Some("pm")
                && c.get("state").as_str() == Some("up")
                && c.get("messages").as_u64().is_some_and(|m| m >= 3)
        })));
    let (_, text, _) = rs.ctl(&["status"])?;
    assert!(
        text.contains("BMP collectors:") && text.contains("pm"),
        "{text}"
    );
    let st = Json::parse(&common::http::get(lg, "/api/v1/status")?.body).map_err(common::Error)?;
    let c = st
        .get("bmp_collectors")
        .as_array()
        .first()
        .cloned()
        .unwrap_or(Json::Null);
    assert_eq!(c.get("name").as_str(), Some("pm"));
    assert_eq!(
        c.get("address").as_str(),
        Some(pm.addr.to_string().as_str())
    );
    let metrics = common::http::get(lg, "/metrics")?.body;
    assert!(
        metrics.contains("peerex_bmp_state{collector=\"pm\",state=\"up\"} 1"),
        "{metrics}"
    );

    // Changed (a view added): Termination, a new session, and the Loc-RIB this time.
    let r = set(&collector(pm.addr, "\"pre-policy\", \"loc-rib\""))?;
    assert_eq!(
        strings(r.get("bmp")),
        vec!["pm (changed)".to_string()],
        "{r:?}"
    );
    let ev = pm.wait_for(T, |ev| {
        ev.iter().any(|e| {
            e.get("is_loc").as_u64() == Some(1)
                && e.get("bmp_msg_type").as_str() == Some("route_monitor")
                && e.get("ip_prefix").as_str() == Some("10.31.0.0/24")
        })
    })?;
    assert_eq!(
        count(&ev, "term"),
        1,
        "the first session was closed with Termination"
    );
    assert_eq!(count(&ev, "init"), 2);

    // Unchanged on a reload that touches nothing BMP: no new session.
    let r = reload(&rs)?;
    assert!(strings(r.get("bmp")).is_empty(), "{r:?}");

    // Removed: Termination.
    let r = set("")?;
    assert_eq!(
        strings(r.get("bmp")),
        vec!["pm (removed)".to_string()],
        "{r:?}"
    );
    let ev = pm.wait_for(T, |ev| count(ev, "term") == 2)?;
    assert_eq!(count(&ev, "init"), 2, "no session after the removal");
    assert!(common::wait_until(T, || rs
        .ctl_json(&["status"])
        .is_ok_and(|s| s.get("bmp_collectors").as_array().is_empty())));

    // The BGP session was never touched.
    assert_eq!(transitions(lg, "supplier")?, before);
    assert_eq!(bird.session_state()?, common::SessionState::Established);
    rs.stop();
    Ok(())
}
