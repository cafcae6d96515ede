//! Long-lived graceful restart (RFC 9494) through the real binary, with real daemons: a
//! sender that negotiated LLGR is killed with SIGKILL (no NOTIFICATION). After its restart
//! time its routes stay, with LLGR_STALE (65535:6), at the clients that negotiated LLGR
//! (bird2 and gobgpd), for the long-lived stale time (the smaller of the sender's and
//! peerex's); a client without LLGR loses them, or gets the next best path; routes with
//! NO_LLGR (65535:7) go. The sender's return and End-of-RIB sweep exactly what it did not
//! send again; when the long-lived stale time is over, the stale routes are gone.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::http::get;
use common::json::Json;

use common::{
    trace, BgpDaemon, Bird, Families, GoBgp, PeerSpec, Peerex, PeerexPeer, ReceivedRoute,
    RouteAttrs, TempDir,
};

const T: Duration = Duration::from_secs(20);
const LLGR_STALE: (u16, u16) = (65535, 6);
const NO_LLGR: (u16, u16) = (65535, 7);
/// peerex's own long-lived stale time: longer than the senders', so theirs applies.
const RS_LLGR: &str =
    "graceful_restart = true\nlong_lived_graceful_restart = true\nlong_lived_stale_time = 60";

fn net(a: u8, i: usize) -> String {
    format!("10.{a}.{i}.0/24")
}

fn nets(a: u8, n: usize) -> Vec<String> {
    (0..n).map(|i| net(a, i)).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// What a client holds: prefix → (first AS of the path, carries LLGR_STALE).
fn held(d: &dyn BgpDaemon) -> Vec<(String, u32, bool)> {
    d.received_routes()
        .unwrap_or_default()
        .iter()
        .map(|r: &ReceivedRoute| {
            (
                r.prefix.clone(),
                r.as_path.first().copied().unwrap_or(0),
                r.communities.contains(&LLGR_STALE),
            )
        })
        .collect()
}

/// Whether `d` holds exactly `want` (prefix, first AS, LLGR_STALE) among the prefixes of
/// `scope`.
fn holds(
    d: &dyn BgpDaemon,
    scope: &BTreeSet<String>,
    want: &BTreeSet<(String, u32, bool)>,
) -> bool {
    let got: BTreeSet<(String, u32, bool)> = held(d)
        .into_iter()
        .filter(|(p, _, _)| scope.contains(p))
        .collect();
    got == *want
}

fn wait_holds(
    d: &dyn BgpDaemon,
    what: &str,
    scope: &BTreeSet<String>,
    want: &BTreeSet<(String, u32, bool)>,
) {
    let t = Instant::now();
    while !holds(d, scope, want) {
        assert!(
            t.elapsed() < T,
            "{} {}: {what}: want {want:?}, holds {:?}",
            d.kind(),
            d.spec().name,
            held(d)
                .into_iter()
                .filter(|(p, _, _)| scope.contains(p))
                .collect::<BTreeSet<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    trace(format_args!("{} {}: {what}", d.kind(), d.spec().name));
}

fn set(prefixes: &[String], asn: u32, stale: bool) -> BTreeSet<(String, u32, bool)> {
    prefixes.iter().map(|p| (p.clone(), asn, stale)).collect()
}

fn scope_of(lists: &[&[String]]) -> BTreeSet<String> {
    lists.iter().flat_map(|l| l.iter().cloned()).collect()
}

/// The peer `name` as `ctl peers` shows it (the LLGR column is the last).
fn ctl_peer_row(rs: &Peerex, name: &str) -> String {
    let (ok, out, err) = rs.ctl(&["peers"]).unwrap();
    assert!(ok, "{err}");
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_default()
        .to_string()
}

/// Routes peerex holds from `name`: (total, how many are llgr-stale with an expiry).
fn llgr_held(rs: &Peerex, name: &str) -> (u64, usize) {
    let r = rs
        .ctl_json(&["routes", "--peer", name, "--limit", "1000"])
        .unwrap();
    let page = r.get("routes").as_array();
    let stale = page
        .iter()
        .filter(|x| {
            x.get("llgr_stale").as_bool() == Some(true)
                && x.get("llgr_stale_until").as_u64().is_some()
        })
        .count();
    (r.get("total").as_u64().unwrap_or(0), stale)
}

fn lg_json(lg: SocketAddr, target: &str) -> Json {
    let r = get(lg, target).unwrap();
    assert_eq!(r.status, 200, "GET {target}: {}", r.body);
    r.json().unwrap()
}

/// The looking glass during the sender's long-lived stale time: its routes `llgr_stale`
/// with their expiry, the neighbour's expiry, exported to the LLGR client and not to the
/// other, and why not.
fn check_looking_glass(lg: SocketAddr, a: &[String]) {
    let n = lg_json(lg, "/api/v1/neighbours/sender");
    assert_eq!(n.at(&["neighbour", "llgr"]).as_bool(), Some(true), "{n:?}");
    let until = n.at(&["neighbour", "llgr_stale_until"]).as_array();
    assert!(!until.is_empty(), "{n:?}");
    let recv = lg_json(lg, "/api/v1/neighbours/sender/routes/received");
    let routes = recv.get("routes").as_array();
    assert_eq!(routes.len(), 13, "{recv:?}");
    for r in routes {
        assert_eq!(r.get("llgr_stale").as_bool(), Some(true), "{r:?}");
        assert!(r.get("llgr_stale_until").as_u64().is_some(), "{r:?}");
        let communities = r.get("communities").as_array();
        assert!(
            communities.iter().any(|c| c.as_str() == Some("65535:6")),
            "{r:?}"
        );
    }
    let exported = |who: &str| -> BTreeSet<String> {
        let e = lg_json(lg, &format!("/api/v1/neighbours/{who}/routes/exported"));
        e.get("routes")
            .as_array()
            .iter()
            .filter_map(|r| r.get("prefix").as_str().map(str::to_string))
            .collect()
    };
    let (to_lc, to_pc) = (exported("lc"), exported("pc"));
    assert!(a.iter().all(|p| to_lc.contains(p)), "{to_lc:?}");
    assert!(a.iter().all(|p| !to_pc.contains(p)), "{to_pc:?}");
    let why = lg_json(lg, &format!("/api/v1/why?prefix={}&neighbour=pc", a[0]));
    let first = &why.get("paths").as_array()[0];
    let code = first.at(&["export", "code"]).as_str().map(str::to_string);
    assert_eq!(code.as_deref(), Some("client_not_llgr"), "{why:?}");
}

#[test]
fn a_killed_bird_stays_long_lived_stale_at_llgr_clients_until_back_or_expired() {
    let dir = TempDir::new("llgr-bird");
    const RESTART: u16 = 3;
    const LLST: u32 = 8;
    let sender = PeerSpec::new("sender", 4_200_160_001)
        .families(Families::V4)
        .graceful_restart(true)
        .graceful_restart_time(RESTART)
        .long_lived_stale_time(LLST);
    // A second source of the prefixes C, with a longer path: the next best.
    let backup = PeerSpec::new("backup", 4_200_160_002).families(Families::V4);
    let lc = PeerSpec::new("lc", 4_200_160_010)
        .families(Families::V4)
        .graceful_restart(true)
        .long_lived_stale_time(3600);
    let gc = PeerSpec::new("gc", 4_200_160_011)
        .families(Families::V4)
        .passive(true)
        .graceful_restart(true)
        .long_lived_stale_time(3600);
    let pc = PeerSpec::new("pc", 4_200_160_012).families(Families::V4);
    let peers = vec![
        PeerexPeer::for_spec(&sender).with(RS_LLGR),
        PeerexPeer::for_spec(&backup),
        PeerexPeer::for_spec(&lc).with(RS_LLGR),
        PeerexPeer::for_spec(&gc)
            .with(RS_LLGR)
            .with("passive = false")
            .with(&format!("port = {}", gc.local_port))
            .with("connect_retry = 1"),
        PeerexPeer::for_spec(&pc),
    ];
    let lg = SocketAddr::from((Ipv4Addr::LOCALHOST, common::unique_port()));
    let lg_conf = format!("\n[looking_glass]\nlisten = \"{lg}\"\n");
    let rs = Peerex::start(&dir, &peers, &lg_conf).unwrap();
    let lc = Bird::start(&dir, rs.target(lc)).unwrap();
    let gc = GoBgp::start(&dir, rs.target(gc)).unwrap();
    let pc = Bird::start(&dir, rs.target(pc)).unwrap();
    let clients: [&dyn BgpDaemon; 3] = [&lc, &gc, &pc];
    for c in clients {
        c.wait_established(T).unwrap();
    }

    let a = nets(161, 10);
    let b = nets(162, 3);
    let c = nets(163, 3);
    let backup = Bird::start(&dir, rs.target(backup)).unwrap();
    let longer = RouteAttrs {
        as_path: vec![64999, 64998],
        ..RouteAttrs::default()
    };
    backup.wait_established(T).unwrap();
    backup.announce(&strs(&c), &longer).unwrap();
    let mut first = a.clone();
    first.extend(c.iter().cloned());
    let bird = Bird::start_with(
        &dir,
        rs.target(sender),
        &strs(&first),
        &RouteAttrs::default(),
        false,
    )
    .unwrap();
    let sender = bird.spec().clone();
    bird.wait_established(T).unwrap();
    let no_llgr = RouteAttrs {
        communities: vec![NO_LLGR],
        ..RouteAttrs::default()
    };
    bird.announce(&strs(&b), &no_llgr).unwrap();
    let (s_as, b_as) = (sender.local_asn, backup.spec().local_asn);
    let scope = scope_of(&[&a, &b, &c]);
    let mut all = set(&a, s_as, false);
    all.extend(set(&b, s_as, false));
    all.extend(set(&c, s_as, false));
    for c in clients {
        wait_holds(c, "the sender's table", &scope, &all);
    }
    for name in ["sender", "lc", "gc"] {
        assert!(
            ctl_peer_row(&rs, name).ends_with("yes"),
            "{}",
            ctl_peer_row(&rs, name)
        );
    }
    assert!(ctl_peer_row(&rs, "pc").ends_with('-'));
    let lcp = rs.ctl_json(&["peer", "lc"]).unwrap();
    assert_eq!(lcp.get("llgr").as_bool(), Some(true), "{lcp:?}");

    // Killed: during its restart time everyone keeps everything, as with graceful restart.
    bird.kill();
    let killed = Instant::now();
    // After it: long-lived stale at the LLGR clients, with LLGR_STALE; C from the backup
    // (a long-lived stale path loses to any other); NO_LLGR routes gone.
    let mut long_lived = set(&a, s_as, true);
    long_lived.extend(set(&c, b_as, false));
    wait_holds(&lc, "long-lived stale routes", &scope, &long_lived);
    let after = killed.elapsed();
    assert!(
        after >= Duration::from_secs(u64::from(RESTART)),
        "long-lived stale after {after:?}, before the restart time"
    );
    wait_holds(&gc, "long-lived stale routes", &scope, &long_lived);
    // The client without LLGR: A withdrawn, C from the backup.
    wait_holds(
        &pc,
        "only the backup's routes",
        &scope,
        &set(&c, b_as, false),
    );
    let (total, stale) = llgr_held(&rs, "sender");
    assert_eq!(
        (total, stale),
        (13, 13),
        "A and C, long-lived stale, in peerex"
    );
    check_looking_glass(lg, &a);
    let (ok, text, err) = rs.ctl(&["routes", "--peer", "sender"]).unwrap();
    assert!(ok, "{err}");
    let marked = text.lines().filter(|l| l.contains("llgr-stale")).count();
    assert_eq!(marked, 13, "{text}");
    assert!(
        ctl_peer_row(&rs, "sender").contains("stale"),
        "{}",
        ctl_peer_row(&rs, "sender")
    );

    // Back (with its forwarding state kept) without 3 of A and without B and C: its
    // End-of-RIB sweeps exactly those.
    let kept: Vec<String> = a[3..].to_vec();
    let bird = Bird::start_with(
        &dir,
        sender.clone(),
        &strs(&kept),
        &RouteAttrs::default(),
        true,
    )
    .unwrap();
    bird.wait_established(T).unwrap();
    let back = killed.elapsed();
    assert!(
        back < Duration::from_secs(u64::from(RESTART) + u64::from(LLST)),
        "back after {back:?}: past the long-lived stale time"
    );
    let mut fresh = set(&kept, s_as, false);
    fresh.extend(set(&c, b_as, false));
    for c in clients {
        wait_holds(c, "the sender's new table", &scope, &fresh);
    }
    assert_eq!(llgr_held(&rs, "sender"), (7, 0));

    // Killed again and not back: long-lived stale after the restart time, gone after the
    // long-lived stale time.
    bird.kill();
    let killed = Instant::now();
    let mut long_lived = set(&kept, s_as, true);
    long_lived.extend(set(&c, b_as, false));
    wait_holds(&lc, "long-lived stale again", &scope, &long_lived);
    wait_holds(
        &pc,
        "only the backup's routes",
        &scope,
        &set(&c, b_as, false),
    );
    let gone = set(&c, b_as, false);
    wait_holds(&lc, "the long-lived stale routes expired", &scope, &gone);
    let waited = killed.elapsed();
    assert!(
        waited >= Duration::from_secs(u64::from(RESTART) + u64::from(LLST)),
        "expired after {waited:?}"
    );
    wait_holds(&gc, "the long-lived stale routes expired", &scope, &gone);
    assert_eq!(llgr_held(&rs, "sender"), (0, 0));
}

#[test]
fn a_killed_gobgpd_stays_long_lived_stale_at_the_llgr_client_only() {
    let dir = TempDir::new("llgr-gobgp");
    const RESTART: u16 = 2;
    const LLST: u32 = 6;
    let sender = PeerSpec::new("gsender", 4_200_161_001)
        .families(Families::V4)
        .passive(true)
        .graceful_restart(true)
        .graceful_restart_time(RESTART)
        .long_lived_stale_time(LLST);
    let lc = PeerSpec::new("lc", 4_200_161_010)
        .families(Families::V4)
        .graceful_restart(true)
        .long_lived_stale_time(3600);
    let pc = PeerSpec::new("pc", 4_200_161_012).families(Families::V4);
    let peers = vec![
        PeerexPeer::for_spec(&sender)
            .with(RS_LLGR)
            .with("passive = false")
            .with(&format!("port = {}", sender.local_port))
            .with("connect_retry = 1"),
        PeerexPeer::for_spec(&lc).with(RS_LLGR),
        PeerexPeer::for_spec(&pc),
    ];
    let rs = Peerex::start(&dir, &peers, "").unwrap();
    let lc = Bird::start(&dir, rs.target(lc)).unwrap();
    let pc = Bird::start(&dir, rs.target(pc)).unwrap();
    let g = GoBgp::start(&dir, rs.target(sender)).unwrap();
    for c in [&lc as &dyn BgpDaemon, &pc, &g] {
        c.wait_established(T).unwrap();
    }
    let a = nets(171, 4);
    let b = nets(172, 2);
    g.announce(&strs(&a), &RouteAttrs::default()).unwrap();
    let no_llgr = RouteAttrs {
        communities: vec![NO_LLGR],
        ..RouteAttrs::default()
    };
    g.announce(&strs(&b), &no_llgr).unwrap();
    let s_as = g.spec().local_asn;
    let scope = scope_of(&[&a, &b]);
    let mut all = set(&a, s_as, false);
    all.extend(set(&b, s_as, false));
    for c in [&lc, &pc] {
        wait_holds(c, "gobgpd's table", &scope, &all);
    }

    g.kill();
    let killed = Instant::now();
    wait_holds(&lc, "long-lived stale routes", &scope, &set(&a, s_as, true));
    assert!(killed.elapsed() >= Duration::from_secs(u64::from(RESTART)));
    wait_holds(&pc, "nothing of gobgpd's", &scope, &BTreeSet::new());
    // Still there half-way through the long-lived stale time.
    std::thread::sleep(Duration::from_secs(u64::from(LLST) / 2));
    assert!(holds(&lc, &scope, &set(&a, s_as, true)), "{:?}", held(&lc));
    wait_holds(
        &lc,
        "the long-lived stale routes expired",
        &scope,
        &BTreeSet::new(),
    );
    let waited = killed.elapsed();
    assert!(
        waited >= Duration::from_secs(u64::from(RESTART) + u64::from(LLST)),
        "expired after {waited:?}"
    );
}
