//! Interoperability of peerex's BGP sessions with the Debian BGP daemons (issue #3): bird2,
//! gobgpd, exabgp and FRR bgpd run as route-server clients of the real `peerex` binary on
//! loopback addresses, with generated configurations (see `tests/common`).
//!
//! | test | shows |
//! |---|---|
//! | `four_daemons_exchange_routes_over_ipv4` | each daemon, in a 4-octet AS, peers over IPv4 and announces IPv4 and IPv6 routes (4-octet AS path, MED, communities, large communities) that the three others receive unchanged; withdrawals (NLRI and MP_UNREACH) reach them too |
//! | `ipv6_transport_*` | each daemon peers over `::1` and exchanges IPv4 and IPv6 routes with an IPv4-transport client, then gets the shutdown NOTIFICATION over IPv6 |
//! | `add_path_*` | ExaBGP sends two paths of one prefix (ADD-PATH); an ADD-PATH client gets both with distinct path ids, a plain client gets the best, and follows when it is withdrawn |
//! | `graceful_restart_*` | helper behaviour: a killed speaker's routes stay exported while it restarts; after it is back, the routes it did not send again go (at its End-of-RIB when it kept its forwarding state, at once when it did not); without graceful restart they go at once |
//! | `admin_shutdown_message_reaches_all_four_daemons` | SIGTERM: every daemon reports Cease/Administrative Shutdown with "route server shutting down" |
//!
//! GoBGP connects by itself only every 5-10 s, so it is made passive and peerex connects to it
//! (`passive = false` on peerex's side); the other daemons connect to peerex.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::peerex::RS_ASN;
use common::{
    trace, wait_until, AddPath, BgpDaemon, Bird, ExaBgp, Frr, GoBgp, PeerSpec, Peerex, PeerexPeer,
    ReceivedRoute, Result, RouteAttrs, SessionState, TempDir,
};

/// Bound for sessions to come up and for routes to arrive.
const T: Duration = Duration::from_secs(30);

/// What peerex sends every peer when it is stopped (SIGTERM).
const SHUTDOWN_MESSAGE: &str = "route server shutting down";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bird,
    GoBgp,
    ExaBgp,
    Frr,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Bird, Kind::GoBgp, Kind::ExaBgp, Kind::Frr];

    fn name(self) -> &'static str {
        match self {
            Kind::Bird => "bird",
            Kind::GoBgp => "gobgp",
            Kind::ExaBgp => "exabgp",
            Kind::Frr => "frr",
        }
    }

    /// A spec for this kind of daemon on a fresh 127.x address (GoBGP passive, see the
    /// module doc).
    fn spec(self, name: &str, asn: u32) -> PeerSpec {
        PeerSpec::new(name, asn).passive(self == Kind::GoBgp)
    }

    /// The same on ::1.
    fn spec_v6(self, name: &str, asn: u32) -> PeerSpec {
        PeerSpec::new_v6(name, asn).passive(self == Kind::GoBgp)
    }

    fn start(self, dir: &TempDir, spec: PeerSpec) -> Result<Box<dyn BgpDaemon>> {
        Ok(match self {
            Kind::Bird => Box::new(Bird::start(dir, spec)?),
            Kind::GoBgp => Box::new(GoBgp::start(dir, spec)?),
            // The launcher that reads and sends shutdown communications.
            Kind::ExaBgp => Box::new(ExaBgp::start(dir, spec)?),
            Kind::Frr => Box::new(Frr::start(dir, spec)?),
        })
    }
}

/// peerex's side of a daemon: it connects to a passive daemon (on its listening port).
fn rs_peer(spec: &PeerSpec) -> PeerexPeer {
    let p = PeerexPeer::for_spec(spec);
    if spec.passive {
        p.with("passive = false")
            .with(&format!("port = {}", spec.local_port))
            .with("connect_retry = 1")
    } else {
        p
    }
}

/// Attributes a daemon announces its routes with: an AS path of 2- and 4-octet ASNs (after
/// the daemon's own 4-octet ASN), MED, communities and large communities, all particular to
/// `tag`.
fn attrs(tag: u32) -> RouteAttrs {
    RouteAttrs {
        as_path: vec![64512 + tag, 4_200_000_000 + tag],
        med: Some(100 + tag),
        communities: vec![(65000, tag as u16), (65001, 7)],
        large_communities: vec![(4_200_000_000 + tag, 1, 2), (64_499, 0, tag)],
        ..Default::default()
    }
}

fn v4(tag: u32) -> String {
    format!("10.{tag}.0.0/24")
}

fn v6(tag: u32) -> String {
    format!("2001:db8:{tag:x}::/48")
}

/// Checks that `r` is the route `from` announced with `at`, as the route server must pass it
/// on: AS path as sent (the sender's ASN first, nothing of the route server), next hop, MED,
/// communities and large communities unchanged.
fn check_unchanged(r: &ReceivedRoute, from: &dyn BgpDaemon, at: &RouteAttrs, to: &dyn BgpDaemon) {
    let ctx = format!("{} -> peerex -> {}: {r:?}", from.kind(), to.kind());
    assert_eq!(
        r.as_path,
        from.spec().expected_as_path(at),
        "AS path: {ctx}"
    );
    assert!(
        !r.as_path.contains(&RS_ASN),
        "route server ASN in the path: {ctx}"
    );
    assert_eq!(r.med, at.med, "MED: {ctx}");
    assert_eq!(r.communities, at.communities, "communities: {ctx}");
    let mut large = at.large_communities.clone();
    large.sort_unstable();
    assert_eq!(r.large_communities, large, "large communities: {ctx}");
    let nh: IpAddr = if r.prefix.contains(':') {
        from.spec().self_next_hop_v6().into()
    } else {
        from.spec().self_next_hop_v4().into()
    };
    assert_eq!(r.next_hop, Some(nh), "next hop: {ctx}");
    assert_eq!(r.origin.as_deref(), Some("igp"), "origin: {ctx}");
}

/// Waits until `to` has exactly the prefixes in `want` (one path each), then checks every
/// route against what its announcer sent: `(announcer, tag)` pairs, prefixes from
/// `v4(tag)`/`v6(tag)`.
fn expect_routes(
    to: &dyn BgpDaemon,
    want: &BTreeSet<String>,
    from: &[(&dyn BgpDaemon, u32)],
) -> Result<()> {
    let routes = to.wait_routes(T, &format!("routes {want:?}"), &|rs| {
        rs.len() == want.len()
            && rs.iter().map(|r| &r.prefix).collect::<BTreeSet<_>>().len() == want.len()
            && rs.iter().all(|r| want.contains(&r.prefix))
    })?;
    for r in &routes {
        let (d, tag) = from
            .iter()
            .find(|(_, tag)| r.prefix == v4(*tag) || r.prefix == v6(*tag))
            .unwrap_or_else(|| panic!("unexpected route {r:?} on {}", to.kind()));
        check_unchanged(r, *d, &attrs(*tag), to);
    }
    Ok(())
}

/// Kills a daemon's main process with SIGKILL (no NOTIFICATION, no clean close of anything)
/// and waits until it is gone.
fn kill_daemon(d: &dyn BgpDaemon) {
    let file = match d.kind() {
        "bird" => "bird.conf",
        "gobgp" => "gobgpd.toml",
        "exabgp" => "peerex_launch.py",
        _ => "bgpd.conf",
    };
    let arg = d.dir().join(file).to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
            pids.push(pid);
        }
    }
    assert_eq!(pids.len(), 1, "{} process with {arg}: {pids:?}", d.kind());
    trace(format_args!(
        "kill -9 {} ({} {})",
        pids[0],
        d.kind(),
        d.spec().name
    ));
    common::process::signal(pids[0], "KILL");
    assert!(
        wait_until(Duration::from_secs(10), || !d.is_running()),
        "{} survived SIGKILL",
        d.kind()
    );
}

/// peerex's log without terminal colour sequences.
fn log_text(rs: &Peerex) -> String {
    let raw = std::fs::read_to_string(&rs.log).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of peerex's log that contain all of `words`.
fn log_count(rs: &Peerex, words: &[&str]) -> usize {
    log_text(rs)
        .lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .count()
}

/// Waits until peerex's log has a line with all of `words`.
fn wait_log(rs: &Peerex, words: &[&str]) -> bool {
    wait_until(T, || log_count(rs, words) > 0)
}

fn prefixes(list: &[String]) -> BTreeSet<String> {
    list.iter().cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// Routes over IPv4 transport, every daemon with every other

#[test]
fn four_daemons_exchange_routes_over_ipv4() -> Result<()> {
    let dir = TempDir::new("interop-mesh");
    let specs: Vec<(Kind, PeerSpec, u32)> = Kind::ALL
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let tag = 11 + i as u32;
            (*k, k.spec(k.name(), 4_200_000_000 + tag), tag)
        })
        .collect();
    let peers: Vec<PeerexPeer> = specs.iter().map(|(_, s, _)| rs_peer(s)).collect();
    let rs = Peerex::start(&dir, &peers, "")?;
    let mut daemons: Vec<(Box<dyn BgpDaemon>, u32)> = Vec::new();
    for (k, s, tag) in &specs {
        daemons.push((k.start(&dir, rs.target(s.clone()))?, *tag));
    }
    for (d, _) in &daemons {
        d.wait_established(T)?;
    }
    for (d, tag) in &daemons {
        d.announce(&[&v4(*tag), &v6(*tag)], &attrs(*tag))?;
    }
    let all: Vec<(&dyn BgpDaemon, u32)> = daemons.iter().map(|(d, t)| (d.as_ref(), *t)).collect();
    for (d, tag) in &daemons {
        let want: BTreeSet<String> = all
            .iter()
            .filter(|(_, t)| t != tag)
            .flat_map(|(_, t)| [v4(*t), v6(*t)])
            .collect();
        expect_routes(d.as_ref(), &want, &all)?;
    }

    // Withdrawals: bird and exabgp withdraw their IPv4 route (NLRI withdrawn), gobgp and frr
    // their IPv6 route (MP_UNREACH_NLRI).
    let mut gone = BTreeSet::new();
    for (d, tag) in &daemons {
        let p = match d.kind() {
            "bird" | "exabgp" => v4(*tag),
            _ => v6(*tag),
        };
        d.withdraw(&[&p])?;
        gone.insert(p);
    }
    for (d, tag) in &daemons {
        let want: BTreeSet<String> = all
            .iter()
            .filter(|(_, t)| t != tag)
            .flat_map(|(_, t)| [v4(*t), v6(*t)])
            .filter(|p| !gone.contains(p))
            .collect();
        expect_routes(d.as_ref(), &want, &all)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// IPv6 transport

/// `kind6` peers over ::1 (the only IPv6 loopback address, so the only IPv6-transport peer of
/// this peerex), `kind4` over 127.x; both announce IPv4 and IPv6 routes, and each receives
/// the other's unchanged. Stopping peerex sends the ::1 peer its shutdown NOTIFICATION.
fn ipv6_transport(kind6: Kind, kind4: Kind) -> Result<()> {
    let dir = TempDir::new(&format!("interop-v6-{}", kind6.name()));
    let (t6, t4) = (61, 62);
    let s6 = kind6.spec_v6(&format!("{}-v6", kind6.name()), 4_200_000_000 + t6);
    let s4 = kind4.spec(&format!("{}-v4", kind4.name()), 4_200_000_000 + t4);
    let rs = Peerex::start(&dir, &[rs_peer(&s6), rs_peer(&s4)], "")?;
    let d6 = kind6.start(&dir, rs.target_v6(s6))?;
    let d4 = kind4.start(&dir, rs.target(s4))?;
    d6.wait_established(T)?;
    d4.wait_established(T)?;
    assert!(
        wait_log(&rs, &["session established", "remote=[::1]:"]),
        "peerex logged no session over ::1:\n{}",
        rs.log_tail(40)
    );
    d6.announce(&[&v4(t6), &v6(t6)], &attrs(t6))?;
    d4.announce(&[&v4(t4), &v6(t4)], &attrs(t4))?;
    let all = [(d6.as_ref(), t6), (d4.as_ref(), t4)];
    expect_routes(d4.as_ref(), &prefixes(&[v4(t6), v6(t6)]), &all)?;
    expect_routes(d6.as_ref(), &prefixes(&[v4(t4), v6(t4)]), &all)?;

    rs.stop();
    let e = d6.wait_last_error(T, &|e| e.message.as_deref() == Some(SHUTDOWN_MESSAGE))?;
    assert!(e.is_admin_shutdown(), "{}: {e}", d6.kind());
    Ok(())
}

#[test]
fn ipv6_transport_bird() -> Result<()> {
    ipv6_transport(Kind::Bird, Kind::Frr)
}

#[test]
fn ipv6_transport_gobgp() -> Result<()> {
    ipv6_transport(Kind::GoBgp, Kind::Bird)
}

#[test]
fn ipv6_transport_exabgp() -> Result<()> {
    ipv6_transport(Kind::ExaBgp, Kind::GoBgp)
}

#[test]
fn ipv6_transport_frr() -> Result<()> {
    ipv6_transport(Kind::Frr, Kind::ExaBgp)
}

// ---------------------------------------------------------------------------------------------
// ADD-PATH

/// ExaBGP (ADD-PATH send) announces two paths for one IPv4 and one IPv6 prefix (path ids 1
/// and 2, MED 10 and 20, different next hops). GoBGP (ADD-PATH receive, `add_path = "both"`
/// on peerex's side) gets both paths with distinct path ids; BIRD (no ADD-PATH) gets only the
/// best one (lower MED). When path 1 is withdrawn, GoBGP keeps path 2 alone and BIRD switches
/// to it.
#[test]
fn add_path_two_paths_reach_add_path_client_best_reaches_the_other() -> Result<()> {
    let dir = TempDir::new("interop-addpath");
    let se = Kind::ExaBgp
        .spec("exa-ap", 4_200_000_071)
        .add_path(AddPath::Send);
    let sg = Kind::GoBgp
        .spec("gobgp-ap", 4_200_000_072)
        .add_path(AddPath::Receive);
    let sb = Kind::Bird.spec("bird-plain", 4_200_000_073);
    let rs = Peerex::start(
        &dir,
        &[
            rs_peer(&se).with("add_path = \"both\""),
            rs_peer(&sg).with("add_path = \"both\""),
            rs_peer(&sb),
        ],
        "",
    )?;
    let exa = ExaBgp::start(&dir, rs.target(se))?;
    let gobgp = GoBgp::start(&dir, rs.target(sg))?;
    let bird = Bird::start(&dir, rs.target(sb))?;
    exa.wait_established(T)?;
    gobgp.wait_established(T)?;
    bird.wait_established(T)?;
    let open = exa.last_open();
    let ap = open.as_ref().map(|o| {
        o.get("capabilities")
            .get("69")
            .get("ipv4/unicast")
            .as_str()
            .map(str::to_string)
    });
    assert_eq!(
        ap.flatten().as_deref(),
        Some("send/receive"),
        "peerex's OPEN as exabgp saw it: {open:?}"
    );

    let nh = |v6: bool, id: u32| -> IpAddr {
        if v6 {
            format!("2001:db8:ffff:71::{id}").parse().unwrap()
        } else {
            format!("10.71.255.{id}").parse().unwrap()
        }
    };
    let (p4, p6) = (v4(71), v6(71));
    for (p, is6) in [(&p4, false), (&p6, true)] {
        for id in [1u32, 2] {
            let at = RouteAttrs {
                path_id: Some(id),
                med: Some(10 * id),
                as_path: vec![4_200_000_171],
                communities: vec![(65071, id as u16)],
                next_hop: Some(nh(is6, id)),
                ..Default::default()
            };
            exa.announce(&[p], &at)?;
        }
    }

    for (p, is6) in [(&p4, false), (&p6, true)] {
        let rs_g = gobgp.wait_routes(T, &format!("two paths of {p}"), &|rs| {
            rs.iter().filter(|r| &r.prefix == p).count() == 2
        })?;
        let mut paths: Vec<(Option<u32>, Option<IpAddr>, Vec<u32>)> = rs_g
            .iter()
            .filter(|r| &r.prefix == p)
            .map(|r| (r.med, r.next_hop, r.as_path.clone()))
            .collect();
        paths.sort();
        let path = vec![4_200_000_071, 4_200_000_171];
        assert_eq!(
            paths,
            vec![
                (Some(10), Some(nh(is6, 1)), path.clone()),
                (Some(20), Some(nh(is6, 2)), path.clone()),
            ],
            "gobgp (ADD-PATH): {rs_g:#?}"
        );
        let ids: BTreeSet<Option<u32>> = rs_g
            .iter()
            .filter(|r| &r.prefix == p)
            .map(|r| r.path_id)
            .collect();
        assert!(
            ids.len() == 2 && ids.iter().all(|i| i.is_some_and(|i| i != 0)),
            "gobgp (ADD-PATH): path ids not distinct: {rs_g:#?}"
        );

        let best = bird.wait_route(p, T)?;
        assert_eq!(
            (best.med, best.next_hop),
            (Some(10), Some(nh(is6, 1))),
            "bird: {best:?}"
        );
    }
    // The plain client never has more than one path per prefix.
    let rb = bird.received_routes()?;
    assert_eq!(rb.len(), 2, "bird (no ADD-PATH): {rb:#?}");

    // Withdraw path 1 only (exabgp's text API; the harness withdraws all ids of a prefix).
    for (p, is6) in [(&p4, false), (&p6, true)] {
        exa.command(&format!(
            "withdraw route {p} path-information 1 next-hop {}",
            nh(is6, 1)
        ))?;
    }
    for (p, is6) in [(&p4, false), (&p6, true)] {
        let rs_g = gobgp.wait_routes(T, &format!("path 1 of {p} withdrawn"), &|rs| {
            let v: Vec<_> = rs.iter().filter(|r| &r.prefix == p).collect();
            v.len() == 1 && v[0].med == Some(20)
        })?;
        let r = rs_g.iter().find(|r| &r.prefix == p).unwrap();
        assert_eq!(r.next_hop, Some(nh(is6, 2)), "{r:?}");
        bird.wait_routes(T, &format!("bird switching to path 2 of {p}"), &|rs| {
            let v: Vec<_> = rs.iter().filter(|r| &r.prefix == p).collect();
            v.len() == 1 && v[0].med == Some(20) && v[0].next_hop == Some(nh(is6, 2))
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Graceful restart (peerex as helper, RFC 4724)

/// Polls `to` for `dur`, failing as soon as one of `keep` is missing.
fn routes_stay(
    to: &dyn BgpDaemon,
    keep: &BTreeSet<String>,
    dur: Duration,
    why: &str,
) -> Result<()> {
    let end = Instant::now() + dur;
    while Instant::now() < end {
        let have: BTreeSet<String> = to
            .received_routes()?
            .into_iter()
            .map(|r| r.prefix)
            .collect();
        if !keep.is_subset(&have) {
            common::bail!(
                "{why}: {} lost {:?} (has {have:?}) on {}",
                to.kind(),
                keep.difference(&have).collect::<Vec<_>>(),
                to.diagnostics()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// ExaBGP restarts with its forwarding state preserved (it sets the F bit for every family).
/// Killed with SIGKILL, its four routes stay exported to GoBGP as stale; restarted (same
/// address, port and ASN), it announces two of them again; the two others go when its
/// End-of-RIB arrives, while the two it sent again never leave GoBGP.
#[test]
fn graceful_restart_keeps_routes_of_a_killed_peer_until_its_end_of_rib() -> Result<()> {
    let dir = TempDir::new("interop-gr");
    let tag = 81;
    // peerex connects to the restarting speaker, so that the restarted one has its routes
    // before the session comes back (exabgp would send End-of-RIB at once otherwise).
    let se = Kind::ExaBgp
        .spec("exa-gr", 4_200_000_000 + tag)
        .graceful_restart(true)
        .passive(true);
    let sg = Kind::GoBgp.spec("gobgp-rcv", 4_200_000_082);
    let rs = Peerex::start(
        &dir,
        &[
            PeerexPeer::for_spec(&se)
                .with("passive = false")
                .with(&format!("port = {}", se.local_port))
                .with("connect_retry = 2"),
            rs_peer(&sg),
        ],
        "",
    )?;
    let se = rs.target(se);
    let exa = ExaBgp::start(&dir, se.clone())?;
    let gobgp = GoBgp::start(&dir, rs.target(sg))?;
    exa.wait_established(T)?;
    gobgp.wait_established(T)?;
    let (a4, b4, a6, b6) = (
        v4(tag),
        format!("10.{tag}.1.0/24"),
        v6(tag),
        format!("2001:db8:{tag:x}:1::/64"),
    );
    let at = attrs(tag);
    exa.announce(&[&a4, &b4, &a6, &b6], &at)?;
    let all = prefixes(&[a4.clone(), b4.clone(), a6.clone(), b6.clone()]);
    gobgp.wait_routes(T, "the four routes", &|rs| {
        rs.iter().map(|r| r.prefix.clone()).collect::<BTreeSet<_>>() == all
    })?;
    let eor_before = log_count(&rs, &["peer=exa-gr ", "End-of-RIB received"]);

    let failed_before = log_count(&rs, &["peer=exa-gr ", "connect failed"]);
    kill_daemon(&exa);
    assert!(
        wait_log(&rs, &["peer=exa-gr ", "session down"]),
        "peerex did not notice the killed exabgp:\n{}",
        rs.log_tail(40)
    );
    // Restart once peerex has failed to reconnect twice (connect_retry 2 s, doubling): its
    // next attempt is then 6-10 s away, time enough for exabgp to start and take its routes.
    let t0 = Instant::now();
    let mut ok = false;
    while t0.elapsed() < T {
        routes_stay(
            &gobgp,
            &all,
            Duration::from_millis(500),
            "while exabgp is down",
        )?;
        if log_count(&rs, &["peer=exa-gr ", "connect failed"]) >= failed_before + 2 {
            ok = true;
            break;
        }
    }
    assert!(ok, "peerex did not try to reconnect:\n{}", rs.log_tail(40));
    trace(format_args!(
        "routes kept for {:.1?} after the kill",
        t0.elapsed()
    ));
    drop(exa);
    let exa = ExaBgp::start(&dir, se)?;
    exa.announce(&[&a4, &a6], &at)?;
    assert_ne!(
        exa.session_state()?,
        SessionState::Established,
        "the restarted exabgp was connected before its routes were announced: the test's \
         timing assumption failed"
    );
    let keep = prefixes(&[a4.clone(), a6.clone()]);
    routes_stay(
        &gobgp,
        &all,
        Duration::from_millis(100),
        "before the session is back",
    )?;
    exa.wait_established(T)?;
    // The routes not sent again go at End-of-RIB; the others stay throughout.
    let t1 = Instant::now();
    loop {
        let have: BTreeSet<String> = gobgp
            .received_routes()?
            .into_iter()
            .map(|r| r.prefix)
            .collect();
        assert!(
            keep.is_subset(&have),
            "re-announced routes left gobgp: {have:?}"
        );
        if have == keep {
            break;
        }
        assert!(
            t1.elapsed() < T,
            "stale routes not removed: {have:?}\n{}",
            rs.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        log_count(&rs, &["peer=exa-gr ", "End-of-RIB received"]) > eor_before,
        "stale routes removed without an End-of-RIB:\n{}",
        rs.log_tail(40)
    );
    assert_eq!(
        log_count(&rs, &["peer=exa-gr ", "forwarding state not preserved"]),
        0,
        "{}",
        rs.log_tail(40)
    );
    expect_routes(&gobgp, &keep, &[(&exa as &dyn BgpDaemon, tag)])?;
    Ok(())
}

/// BIRD restarts without preserved forwarding state (F bit clear: it was not started in
/// recovery mode). Its routes stay exported while it is down; when its session is back,
/// RFC 4724 §4.2 has the helper drop the stale routes at once: the route it does not announce
/// again goes, the one it announces again is there.
#[test]
fn graceful_restart_without_forwarding_state_drops_stale_routes_on_reconnect() -> Result<()> {
    let dir = TempDir::new("interop-gr-nof");
    let tag = 91;
    let sb = Kind::Bird
        .spec("bird-gr", 4_200_000_000 + tag)
        .graceful_restart(true);
    let sf = Kind::Frr.spec("frr-rcv", 4_200_000_092);
    let rs = Peerex::start(&dir, &[rs_peer(&sb), rs_peer(&sf)], "")?;
    let sb = rs.target(sb);
    let bird = Bird::start(&dir, sb.clone())?;
    let frr = Frr::start(&dir, rs.target(sf))?;
    bird.wait_established(T)?;
    frr.wait_established(T)?;
    let (a, b) = (v4(tag), v6(tag));
    bird.announce(&[&a, &b], &attrs(tag))?;
    let all = prefixes(&[a.clone(), b.clone()]);
    frr.wait_routes(T, "both routes", &|rs| {
        rs.iter().map(|r| r.prefix.clone()).collect::<BTreeSet<_>>() == all
    })?;

    kill_daemon(&bird);
    assert!(
        wait_log(&rs, &["peer=bird-gr ", "session down"]),
        "peerex did not notice the killed bird:\n{}",
        rs.log_tail(40)
    );
    routes_stay(&frr, &all, Duration::from_secs(3), "while bird is down")?;
    drop(bird);
    let bird = Bird::start(&dir, sb)?;
    bird.announce(&[&a], &attrs(tag))?;
    bird.wait_established(T)?;
    let keep = prefixes(std::slice::from_ref(&a));
    frr.wait_routes(T, "only the route announced again", &|rs| {
        rs.iter().map(|r| r.prefix.clone()).collect::<BTreeSet<_>>() == keep
    })?;
    expect_routes(&frr, &keep, &[(&bird as &dyn BgpDaemon, tag)])?;
    assert!(
        wait_log(&rs, &["peer=bird-gr ", "forwarding state not preserved"]),
        "peerex did not drop the stale routes at once:\n{}",
        rs.log_tail(40)
    );
    Ok(())
}

/// With `graceful_restart = false` for the peer, peerex offers no graceful restart, so the
/// routes of a killed BIRD (which would restart gracefully) go at once.
#[test]
fn graceful_restart_off_routes_of_a_killed_peer_go_at_once() -> Result<()> {
    let dir = TempDir::new("interop-nogr");
    let tag = 95;
    let sb = Kind::Bird
        .spec("bird-nogr", 4_200_000_000 + tag)
        .graceful_restart(true);
    let sg = Kind::GoBgp.spec("gobgp-rcv", 4_200_000_096);
    let rs = Peerex::start(
        &dir,
        &[rs_peer(&sb).with("graceful_restart = false"), rs_peer(&sg)],
        "",
    )?;
    let bird = Bird::start(&dir, rs.target(sb))?;
    let gobgp = GoBgp::start(&dir, rs.target(sg))?;
    bird.wait_established(T)?;
    gobgp.wait_established(T)?;
    let (a, b) = (v4(tag), v6(tag));
    bird.announce(&[&a, &b], &attrs(tag))?;
    let all = prefixes(&[a, b]);
    gobgp.wait_routes(T, "both routes", &|rs| {
        rs.iter().map(|r| r.prefix.clone()).collect::<BTreeSet<_>>() == all
    })?;
    kill_daemon(&bird);
    let t = Instant::now();
    // (As a helper, peerex would keep them for BIRD's restart time: 120 s.)
    gobgp.wait_routes(
        Duration::from_secs(10),
        "withdrawal of the killed peer's routes",
        &|rs| rs.is_empty(),
    )?;
    trace(format_args!(
        "routes gone {:.1?} after the kill",
        t.elapsed()
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Administrative shutdown

#[test]
fn admin_shutdown_message_reaches_all_four_daemons() -> Result<()> {
    let dir = TempDir::new("interop-shutdown");
    let specs: Vec<(Kind, PeerSpec)> = Kind::ALL
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                *k,
                k.spec(&format!("{}-sd", k.name()), 4_200_000_041 + i as u32),
            )
        })
        .collect();
    let peers: Vec<PeerexPeer> = specs.iter().map(|(_, s)| rs_peer(s)).collect();
    let rs = Peerex::start(&dir, &peers, "")?;
    let mut daemons = Vec::new();
    for (k, s) in &specs {
        daemons.push(k.start(&dir, rs.target(s.clone()))?);
    }
    for d in &daemons {
        d.wait_established(T)?;
    }
    rs.stop();
    assert!(!rs.running(), "peerex still running after SIGTERM");
    for d in &daemons {
        let e = d.wait_last_error(T, &|e| e.message.is_some() || e.is_admin_shutdown())?;
        assert!(e.is_admin_shutdown(), "{}: {e}", d.kind());
        assert_eq!(
            e.message.as_deref(),
            Some(SHUTDOWN_MESSAGE),
            "{}: {e}",
            d.kind()
        );
        d.wait_not_established(T)?;
    }
    assert!(
        log_count(&rs, &["route server stopped"]) == 1,
        "{}",
        rs.log_tail(40)
    );
    Ok(())
}
