//! `peerex ctl reload` and SIGHUP against the real binary with bird2 and gobgpd peers: a
//! reload adds, removes and resets exactly the peers whose configuration says so, leaves the
//! others' sessions alone, and an invalid file changes nothing.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{BgpDaemon, Bird, GoBgp, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, TempDir};

const T: Duration = Duration::from_secs(60);

/// A peerex configuration listening on `port` with these peers and its control socket in
/// `dir` (the same text shape as `Peerex::start`, written again on each reload).
fn config(dir: &TempDir, port: u16, peers: &[PeerexPeer]) -> String {
    let mut cfg = format!(
        "[server]\nasn = {}\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[defaults]\n{}",
        common::peerex::RS_ASN,
        dir.join("peerex.sock").display(),
        common::peerex::LAB_DEFAULTS
    );
    for p in peers {
        let _ = write!(
            cfg,
            "\n[[peer]]\nname = \"{}\"\nasn = {}\naddress = \"{}\"\n{}",
            p.name, p.asn, p.address, p.extra
        );
    }
    cfg
}

fn u(v: &common::json::Json, k: &str) -> Option<u64> {
    v.get(k).as_u64()
}

fn names(v: &common::json::Json, k: &str) -> Vec<String> {
    v.get(k)
        .as_array()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

#[test]
fn reload_adds_removes_and_resets_only_what_changed() -> Result<()> {
    let dir = TempDir::new("reload-main");
    let sk = PeerSpec::new("keep", 64501);
    let sg = PeerSpec::new("gone", 64502);
    let sc = PeerSpec::new("change", 64503);
    let sn = PeerSpec::new("new", 64504);
    let port = common::unique_port();
    let (pk, pg, pc, pn) = (
        PeerexPeer::for_spec(&sk),
        PeerexPeer::for_spec(&sg),
        PeerexPeer::for_spec(&sc),
        PeerexPeer::for_spec(&sn),
    );
    let rs = Peerex::start_with_config(
        &dir,
        &config(&dir, port, &[pk.clone(), pg.clone(), pc.clone()]),
        port,
    )?;
    let keep = Bird::start(&dir, rs.target(sk))?;
    let gone = Bird::start(&dir, rs.target(sg))?;
    let change = Bird::start(&dir, rs.target(sc))?;
    // Not configured yet: its connections are refused until the reload adds it.
    let new = GoBgp::start(&dir, rs.target(sn))?;
    for b in [&keep, &gone, &change] {
        b.wait_established(T)?;
    }
    gone.announce(&["10.21.0.0/24"], &RouteAttrs::default())?;
    change.announce(&["10.23.0.0/24"], &RouteAttrs::default())?;
    keep.wait_route("10.21.0.0/24", T)?;
    keep.wait_route("10.23.0.0/24", T)?;
    // The dry run's route impact reads a snapshot, published every 100 ms: wait until the
    // snapshot (what `ctl routes` reads too) holds both routes, not only the client.
    assert!(
        common::wait_until(T, || ["10.21.0.0/24", "10.23.0.0/24"].iter().all(|p| rs
            .ctl_json(&["routes", p])
            .is_ok_and(|r| r.get("routes").as_array().len() == 1))),
        "the snapshot never held both routes"
    );
    let keep_before = rs.ctl_json(&["peer", "keep"])?;
    assert_eq!(u(&keep_before, "established_transitions"), Some(1));

    // The new file: "gone" removed, "new" added, "change" with another hold time, and a policy
    // change for "keep" alone (it stops receiving from "new").
    let next = config(
        &dir,
        port,
        &[
            pk.clone().with("receive_from = [\"change\"]"),
            pc.clone().with("hold_time = 60"),
            pn.clone(),
        ],
    );
    std::fs::write(&rs.config, &next)?;

    // Dry run: says what would happen and does none of it.
    let dry = rs.ctl_json(&["reload", "--dry-run"])?;
    assert_eq!(dry.get("dry_run").as_bool(), Some(true));
    assert_eq!(names(&dry, "start"), ["new"]);
    assert_eq!(names(&dry, "stop"), ["gone"]);
    let reset = dry.get("reset").as_array();
    assert_eq!(reset.len(), 1, "{dry:?}");
    assert_eq!(reset[0].get("peer").as_str(), Some("change"));
    assert_eq!(names(&reset[0], "changed"), ["hold_time"]);
    assert_eq!(names(&dry, "policy"), ["keep"]);
    // The blast radius, on a snapshot: "keep" and "change" lose the removed peer's route,
    // "new" would receive "change"'s; nobody's paths change verdict.
    let impact: std::collections::BTreeMap<String, [u64; 4]> = dry
        .get("route_impact")
        .as_array()
        .iter()
        .map(|r| {
            let n = |k: &str| u(r, k).unwrap_or(u64::MAX);
            (
                r.get("peer").as_str().unwrap_or_default().to_string(),
                [
                    n("newly_accepted"),
                    n("newly_rejected"),
                    n("newly_received"),
                    n("lost"),
                ],
            )
        })
        .collect();
    let want: std::collections::BTreeMap<String, [u64; 4]> = [
        ("change".to_string(), [0, 0, 0, 1]),
        ("keep".to_string(), [0, 0, 0, 1]),
        ("new".to_string(), [0, 0, 1, 0]),
    ]
    .into();
    assert_eq!(impact, want, "{dry:?}");
    let (ok, out, _) = rs.ctl(&["reload", "--dry-run"])?;
    assert!(
        ok && out.contains("dry run")
            && out.contains("change (hold_time)")
            && out.contains("NEWLY RECEIVED"),
        "{out}"
    );
    assert!(
        rs.ctl_json(&["peer", "gone"]).is_ok(),
        "dry run removed a peer"
    );
    assert!(
        rs.ctl_json(&["peer", "new"]).is_err(),
        "dry run added a peer"
    );

    // The reload itself.
    let (ok, out, err) = rs.ctl(&["reload"])?;
    assert!(ok, "{err}{out}");
    assert!(out.contains("reloaded") && out.contains("gone"), "{out}");

    // The removed peer got Cease / Peer De-configured and its routes left the others.
    let e = gone.wait_last_error(T, &|e| e.code == Some(6))?;
    assert_eq!(e.subcode, Some(3), "{e}");
    keep.wait_route_gone("10.21.0.0/24", T)?;
    assert!(rs.ctl_json(&["peer", "gone"]).is_err());

    // The changed peer was reset (Other Configuration Change) and came back.
    let e = change.wait_last_error(T, &|e| e.code == Some(6))?;
    assert_eq!(e.subcode, Some(6), "{e}");
    change.wait_established(T)?;

    // The new peer came up and takes part: it receives "change"'s route and "change"
    // receives its own.
    new.wait_established(T)?;
    new.wait_route("10.23.0.0/24", T)?;
    new.announce(&["10.24.0.0/24"], &RouteAttrs::default())?;
    change.wait_route("10.24.0.0/24", T)?;
    let ok = common::wait_until(T, || {
        rs.ctl_json(&["peer", "new"])
            .is_ok_and(|p| p.get("state").as_str() == Some("Established"))
    });
    assert!(ok, "peerex does not show the new peer established");

    // The unchanged session was never touched: same established time, no new transition,
    // no NOTIFICATION on its side.
    let keep_after = rs.ctl_json(&["peer", "keep"])?;
    assert_eq!(keep_after.get("state").as_str(), Some("Established"));
    assert_eq!(
        u(&keep_after, "established_transitions"),
        u(&keep_before, "established_transitions")
    );
    assert_eq!(
        keep_after.get("established_since"),
        keep_before.get("established_since")
    );
    assert_eq!(keep.last_error()?, None);
    let status = rs.ctl_json(&["status"])?;
    assert_eq!(u(&status, "peers"), Some(3));

    // Reloading the same file again changes nothing.
    let again = rs.ctl_json(&["reload"])?;
    assert!(names(&again, "start").is_empty() && names(&again, "stop").is_empty());
    assert_eq!(again.get("reset").as_array().len(), 0);
    assert_eq!(u(&again, "unchanged"), Some(3));

    // A policy-only change re-filters at the receiving peer without a reset: "keep" switches
    // from "change" to "new" and loses the one's route as it gains the other's.
    let next = config(
        &dir,
        port,
        &[
            pk.clone().with("receive_from = [\"new\"]"),
            pc.clone().with("hold_time = 60"),
            pn.clone(),
        ],
    );
    std::fs::write(&rs.config, &next)?;
    let r = rs.ctl_json(&["reload"])?;
    assert_eq!(names(&r, "policy"), ["keep"], "{r:?}");
    keep.wait_route("10.24.0.0/24", T)?;
    keep.wait_route_gone("10.23.0.0/24", T)?;
    let keep_last = rs.ctl_json(&["peer", "keep"])?;
    assert_eq!(
        u(&keep_last, "established_transitions"),
        u(&keep_before, "established_transitions")
    );
    assert_eq!(keep.last_error()?, None);
    assert_eq!(change.session_state()?, common::SessionState::Established);
    Ok(())
}

#[test]
fn an_invalid_file_changes_nothing_and_sighup_reloads() -> Result<()> {
    let dir = TempDir::new("reload-bad");
    let s1 = PeerSpec::new("b1", 64511);
    let s2 = PeerSpec::new("b2", 64512);
    let port = common::unique_port();
    let (p1, p2) = (PeerexPeer::for_spec(&s1), PeerexPeer::for_spec(&s2));
    let rs = Peerex::start_with_config(&dir, &config(&dir, port, std::slice::from_ref(&p1)), port)?;
    let b1 = Bird::start(&dir, rs.target(s1))?;
    let b2 = Bird::start(&dir, rs.target(s2))?;
    b1.wait_established(T)?;
    let before = rs.ctl_json(&["peer", "b1"])?;

    // An invalid file: the error comes back with its line, nothing changes.
    let bad = config(&dir, port, &[p1.clone().with("hold_time = 2"), p2.clone()]);
    let line = bad.lines().position(|l| l == "hold_time = 2").unwrap() + 1;
    std::fs::write(&rs.config, &bad)?;
    let (ok, out, err) = rs.ctl(&["reload"])?;
    assert!(!ok, "{out}");
    let want = format!("peerex.toml:{line}:13: hold time 2 is not allowed");
    assert!(err.contains(&want), "want {want:?} in {err}");
    let (ok, out, _) = rs.ctl(&["reload", "--json"])?;
    assert!(!ok);
    assert!(
        out.contains("\"ok\": false") && out.contains(&want),
        "{out}"
    );
    // SIGHUP with the invalid file: logged, nothing changes.
    common::process::signal(rs.pid(), "HUP");
    assert!(rs.wait_log(&["SIGHUP", "not reloaded", "hold time 2"], T));
    assert!(rs.running());
    assert!(rs.ctl_json(&["peer", "b2"]).is_err());
    let after = rs.ctl_json(&["peer", "b1"])?;
    assert_eq!(after.get("state").as_str(), Some("Established"));
    assert_eq!(
        u(&after, "established_transitions"),
        u(&before, "established_transitions")
    );
    assert_eq!(
        after.get("established_since"),
        before.get("established_since")
    );

    // Fixed, and applied by SIGHUP: b2 comes up, b1 stays.
    std::fs::write(&rs.config, config(&dir, port, &[p1, p2]))?;
    common::process::signal(rs.pid(), "HUP");
    assert!(rs.wait_log(&["SIGHUP", "configuration reloaded"], T));
    b2.wait_established(T)?;
    let after = rs.ctl_json(&["peer", "b1"])?;
    assert_eq!(
        u(&after, "established_transitions"),
        u(&before, "established_transitions")
    );
    assert_eq!(b1.last_error()?, None);
    Ok(())
}
