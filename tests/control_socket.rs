//! The control socket of the real binary: its file mode, how it answers bad requests (and
//! keeps serving), several clients at once, and `peerex ctl` against a server with a real
//! bird2 peer.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::json::Json;
use common::{BgpDaemon, Bird, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, TempDir};

const T: Duration = Duration::from_secs(30);

fn socket_of(rs: &Peerex) -> PathBuf {
    rs.dir.join("peerex.sock")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Sends one line (the newline is added) and reads one answer line.
fn ask(s: &mut BufReader<UnixStream>, line: &[u8]) -> Json {
    let w = s.get_mut();
    w.write_all(line).unwrap();
    w.write_all(b"\n").unwrap();
    let mut answer = String::new();
    s.read_line(&mut answer).unwrap();
    Json::parse(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

fn connect(path: &Path) -> BufReader<UnixStream> {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    BufReader::new(s)
}

fn status_ok(path: &Path) -> bool {
    ask(&mut connect(path), br#"{"cmd":"status"}"#)
        .get("ok")
        .as_bool()
        == Some(true)
}

#[test]
fn socket_mode_is_0600_by_default_and_as_configured() -> Result<()> {
    let dir = TempDir::new("ctl-mode");
    let rs = Peerex::start(&dir, &[], "")?;
    assert_eq!(mode(&socket_of(&rs)), 0o600);
    assert!(status_ok(&socket_of(&rs)));

    let dir2 = TempDir::new("ctl-mode-0660");
    let port = common::unique_port();
    let sock = dir2.join("ctl.sock");
    let cfg = format!(
        "[server]\nasn = 64500\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\nmode = \"0660\"\n",
        sock.display()
    );
    let rs2 = Peerex::start_with_config(&dir2, &cfg, port)?;
    assert_eq!(mode(&sock), 0o660);
    // The TOML octal integer form means the same.
    let dir3 = TempDir::new("ctl-mode-0o640");
    let port = common::unique_port();
    let sock3 = dir3.join("ctl.sock");
    let cfg = format!(
        "[server]\nasn = 64500\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\nmode = 0o640\n",
        sock3.display()
    );
    let rs3 = Peerex::start_with_config(&dir3, &cfg, port)?;
    assert_eq!(mode(&sock3), 0o640);
    let (ok, out, err) = rs3.ctl(&["status"])?;
    assert!(ok, "{err}");
    assert!(out.contains("asn"), "{out}");
    drop((rs2, rs3));
    Ok(())
}

#[test]
fn bad_requests_are_answered_and_the_server_keeps_serving() -> Result<()> {
    let dir = TempDir::new("ctl-bad");
    let b = PeerSpec::new("b1", 64501);
    let rs = Peerex::start(&dir, &[PeerexPeer::for_spec(&b)], "")?;
    let bird = Bird::start(&dir, rs.target(b))?;
    bird.wait_established(T)?;
    let path = socket_of(&rs);
    let before = rs.ctl_json(&["peer", "b1"])?;

    // Malformed JSON, an unknown command, a known command with a wrong field: each gets an
    // error answer on the same connection, which stays usable.
    let mut c = connect(&path);
    let r = ask(&mut c, b"{not json");
    assert_eq!(r.get("ok").as_bool(), Some(false));
    assert!(
        r.get("error").as_str().unwrap().contains("malformed"),
        "{r:?}"
    );
    let r = ask(&mut c, br#"{"cmd":"frobnicate"}"#);
    assert_eq!(r.get("ok").as_bool(), Some(false));
    assert!(
        r.get("error").as_str().unwrap().contains("frobnicate"),
        "{r:?}"
    );
    let r = ask(&mut c, br#"{"cmd":"peer","nmae":"b1"}"#);
    assert_eq!(r.get("ok").as_bool(), Some(false));
    let r = ask(&mut c, b"[1,2,3]");
    assert_eq!(r.get("ok").as_bool(), Some(false));
    let r = ask(&mut c, br#"{"cmd":"peer","name":"nobody"}"#);
    assert_eq!(r.get("ok").as_bool(), Some(false));
    assert!(r.get("error").as_str().unwrap().contains("nobody"), "{r:?}");
    let r = ask(&mut c, br#"{"cmd":"status"}"#);
    assert_eq!(r.get("ok").as_bool(), Some(true), "{r:?}");
    drop(c);

    // An oversized request: an error answer, then the connection is closed.
    let mut c = connect(&path);
    let big = vec![b'x'; 200 * 1024];
    let _ = c.get_mut().write_all(&big); // the server may close before reading it all
    let mut answer = String::new();
    c.read_line(&mut answer).unwrap();
    let r = Json::parse(&answer).unwrap();
    assert_eq!(r.get("ok").as_bool(), Some(false));
    assert!(
        r.get("error").as_str().unwrap().contains("longer than"),
        "{r:?}"
    );
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty());

    // A request cut off without a newline.
    let mut c = UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(br#"{"cmd":"sta"#).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("newline"), "{answer}");

    // A binary line that is not UTF-8.
    let r = ask(&mut connect(&path), &[0xff, 0xfe, 0x00, 0x7b]);
    assert_eq!(r.get("ok").as_bool(), Some(false));

    // Still serving, and the BGP session never noticed.
    assert!(status_ok(&path));
    let after = rs.ctl_json(&["peer", "b1"])?;
    assert_eq!(
        after.get("state").as_str(),
        Some("Established"),
        "{after:?}"
    );
    assert_eq!(
        after.get("established_transitions"),
        before.get("established_transitions")
    );
    assert_eq!(
        after.get("established_since"),
        before.get("established_since")
    );
    Ok(())
}

#[test]
fn many_clients_at_once() -> Result<()> {
    let dir = TempDir::new("ctl-many");
    let rs = Peerex::start(&dir, &[], "")?;
    let path = socket_of(&rs);
    // A client that connects and sends half a line, and one that says nothing, must not hold
    // up the others.
    let mut stalled = UnixStream::connect(&path).unwrap();
    stalled.write_all(br#"{"cmd":"#).unwrap();
    let _silent = UnixStream::connect(&path).unwrap();
    let threads: Vec<_> = (0..12)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = connect(&path);
                for _ in 0..20 {
                    let r = ask(&mut c, br#"{"cmd":"peers"}"#);
                    assert_eq!(r.get("ok").as_bool(), Some(true), "{r:?}");
                }
                assert!(status_ok(&path));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The stalled one finishes its request and gets its answer.
    stalled.write_all(b"\"status\"}\n").unwrap();
    let mut s = BufReader::new(stalled);
    let mut answer = String::new();
    s.get_ref().set_read_timeout(Some(T)).unwrap();
    s.read_line(&mut answer).unwrap();
    assert!(answer.contains("\"ok\":true"), "{answer}");
    Ok(())
}

#[test]
fn ctl_commands_against_a_bird_peer() -> Result<()> {
    let dir = TempDir::new("ctl-bird");
    let b = PeerSpec::new("b1", 64501);
    let rs = Peerex::start(&dir, &[PeerexPeer::for_spec(&b)], "")?;
    let bird = Bird::start(&dir, rs.target(b))?;
    bird.wait_established(T)?;
    bird.announce(&["10.11.0.0/24"], &RouteAttrs::default())?;
    // The route is visible through the control socket once the RIB has it.
    let ok = common::wait_until(T, || {
        rs.ctl_json(&["routes", "--peer", "b1"])
            .is_ok_and(|v| v.get("total").as_u64() == Some(1))
    });
    assert!(ok, "route from b1 never showed up");

    let status = rs.ctl_json(&["status"])?;
    assert_eq!(status.get("asn").as_u32(), Some(common::peerex::RS_ASN));
    assert_eq!(status.get("peers").as_u64(), Some(1));
    assert_eq!(status.get("peers_established").as_u64(), Some(1));
    // Memory by part, raw bytes in JSON; the one route and its attributes are in the table.
    let mem = status.get("memory");
    let part = |k: &str| {
        mem.get(k)
            .as_u64()
            .unwrap_or_else(|| panic!("no memory.{k}"))
    };
    assert!(part("rib_paths") > 0 && part("attribute_sets") > 0);
    for k in ["snapshots", "export_state", "out_queues"] {
        part(k);
    }
    assert!(part("allocator") > part("rib_paths") + part("attribute_sets"));
    assert_eq!(
        mem.get("allocator_source").as_str(),
        Some("mimalloc_committed")
    );
    let (ok, out, _) = rs.ctl(&["status"])?;
    assert!(
        ok && out.contains("peers_established") && out.contains("uptime"),
        "{out}"
    );
    // …and in MiB for people.
    let line = |k: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(k))
            .unwrap_or("")
    };
    assert!(out.lines().any(|l| l == "memory"), "{out}");
    assert!(line("rib_paths").ends_with(" MiB"), "{out}");
    assert!(
        line("allocator").contains("MiB (mimalloc_committed)"),
        "{out}"
    );

    let peers = rs.ctl_json(&["peers"])?;
    assert_eq!(peers.as_array().len(), 1);
    assert_eq!(peers.as_array()[0].get("name").as_str(), Some("b1"));
    let (ok, out, _) = rs.ctl(&["peers"])?;
    assert!(ok, "{out}");
    let row = out.lines().find(|l| l.starts_with("b1")).unwrap_or("");
    assert!(row.contains("Established"), "{out}");

    let p = rs.ctl_json(&["peer", "b1"])?;
    assert_eq!(p.get("state").as_str(), Some("Established"));
    assert_eq!(p.get("asn").as_u32(), Some(64501));
    assert_eq!(p.get("routes_accepted").as_u64(), Some(1), "{p:?}");
    assert_eq!(p.get("established_transitions").as_u64(), Some(1));
    let (ok, out, _) = rs.ctl(&["peer", "b1"])?;
    assert!(ok && out.contains("Established"), "{out}");

    let r = rs.ctl_json(&["routes", "10.11.0.0/24"])?;
    let routes = r.get("routes").as_array();
    assert_eq!(routes.len(), 1, "{r:?}");
    assert_eq!(routes[0].get("peer").as_str(), Some("b1"));
    // Longest match from an address inside the prefix.
    let r = rs.ctl_json(&["routes", "10.11.0.7"])?;
    assert_eq!(r.get("routes").as_array().len(), 1, "{r:?}");
    let (ok, out, _) = rs.ctl(&["routes", "--peer", "b1"])?;
    assert!(ok && out.contains("10.11.0.0/24"), "{out}");
    let r = rs.ctl_json(&["routes", "--to", "b1"])?;
    assert_eq!(
        r.get("total").as_u64(),
        Some(0),
        "a client never gets its own routes"
    );

    // Errors: non-zero exit and a message.
    let (ok, _, err) = rs.ctl(&["peer", "nobody"])?;
    assert!(!ok && err.contains("nobody"), "{err}");
    let (ok, _, err) = rs.ctl(&["routes", "not-a-prefix"])?;
    assert!(!ok && err.contains("not-a-prefix"), "{err}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peerex"));
    cmd.args(["ctl", "--socket"])
        .arg(dir.join("no-such.sock"))
        .arg("status");
    let (ok, _, err) = common::process::run(&mut cmd, T)?;
    assert!(!ok && err.contains("cannot reach peerex"), "{err}");

    // The session was never disturbed by any of this.
    let p = rs.ctl_json(&["peer", "b1"])?;
    assert_eq!(p.get("established_transitions").as_u64(), Some(1));
    Ok(())
}

#[test]
fn clients_beyond_the_limit_are_told_so_and_served_again_later() -> Result<()> {
    let dir = TempDir::new("ctl-limit");
    let rs = Peerex::start(&dir, &[], "")?;
    let path = socket_of(&rs);
    // 64 connections that say nothing take every slot (the limit is MAX_CLIENTS = 64).
    let mut silent: Vec<UnixStream> = Vec::new();
    for _ in 0..64 {
        let mut c = connect(&path);
        // Each answers, so each holds its slot.
        assert_eq!(
            ask(&mut c, br#"{"cmd":"status"}"#).get("ok").as_bool(),
            Some(true)
        );
        silent.push(c.into_inner());
    }
    let mut extra = connect(&path);
    let mut answer = String::new();
    extra.read_line(&mut answer).unwrap();
    assert!(answer.contains("too many control clients"), "{answer}");
    drop(silent);
    assert!(
        common::wait_until(T, || std::panic::catch_unwind(|| status_ok(&path))
            .unwrap_or(false)),
        "slots were not given back"
    );
    Ok(())
}
