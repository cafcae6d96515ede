//! A bird2 peer killed with SIGKILL, through the real binary: without graceful restart, what
//! it had sent of its table is withdrawn from every client and no other session notices;
//! with graceful restart (RFC 4724), its routes stay at the clients (stale in peerex) until
//! it is back and has sent its End-of-RIB, which withdraws exactly what it no longer
//! announces, or until its restart time is over, which withdraws them all.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::speaker::{announcements, prefixes, wait_async, Speaker, SpeakerOpts};
use common::{
    trace, unique_loopback, BgpDaemon, Bird, Families, PeerSpec, Peerex, PeerexPeer, RouteAttrs,
    TempDir,
};
use peerex::wire::Nlri;

const T: Duration = Duration::from_secs(30);
const BIRD_ASN: u32 = 4_200_150_000;
const CLIENT_ASN: u32 = 4_200_150_010;

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

/// Three in-repo speakers that track what they hold: two clients that announce nothing
/// (`c0`, `c1`) and `steady`, which announces a table of its own that must survive.
struct Clients {
    c: Vec<Speaker>,
    steady: HashSet<Nlri>,
}

const CLIENT_NAMES: [&str; 3] = ["c0", "c1", "steady"];

impl Clients {
    fn config() -> Vec<(PeerexPeer, IpAddr)> {
        CLIENT_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let address = IpAddr::V4(unique_loopback());
                let p = PeerexPeer {
                    name: name.to_string(),
                    asn: CLIENT_ASN + i as u32,
                    address,
                    extra: String::new(),
                };
                (p, address)
            })
            .collect()
    }

    async fn connect(rs: &Peerex, addrs: &[IpAddr], steady_base: u8) -> Clients {
        let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
        let tracked = SpeakerOpts {
            track: true,
            ..SpeakerOpts::default()
        };
        let mut c = Vec::new();
        for (i, a) in addrs.iter().enumerate() {
            c.push(
                Speaker::connect(*a, target, CLIENT_ASN + i as u32, tracked)
                    .await
                    .unwrap(),
            );
        }
        wait("End-of-RIB at the clients", || c.iter().all(|s| s.eor())).await;
        let steady = prefixes(steady_base, 2_000);
        c[2].send(&announcements(
            CLIENT_ASN + 2,
            Ipv4Addr::new(10, 15, 0, 2),
            &steady,
            &c[2].tx,
        ))
        .await
        .unwrap();
        let steady: HashSet<Nlri> = steady.into_iter().collect();
        wait("the steady table at c0 and c1", || {
            c[..2]
                .iter()
                .all(|s| *s.stats.held.lock().unwrap() == steady)
        })
        .await;
        Clients { c, steady }
    }

    /// Whether c0 and c1 hold `steady` and `bird`, and `steady` holds `bird`, exactly.
    fn hold(&self, bird: &HashSet<Nlri>) -> bool {
        let both: HashSet<Nlri> = self.steady.union(bird).copied().collect();
        self.c[..2]
            .iter()
            .all(|s| *s.stats.held.lock().unwrap() == both)
            && *self.c[2].stats.held.lock().unwrap() == *bird
    }

    fn withdrawn(&self) -> Vec<u64> {
        self.c
            .iter()
            .map(|s| s.stats.withdrawn.load(Ordering::Relaxed))
            .collect()
    }

    fn assert_untouched(&self, rs: &Peerex) {
        for (s, name) in self.c.iter().zip(CLIENT_NAMES) {
            assert!(
                !s.closed(),
                "{name}'s session was closed: {:?}",
                s.notification()
            );
            let p = rs.ctl_json(&["peer", name]).unwrap();
            assert_eq!(p.get("state").as_str(), Some("Established"), "{p:?}");
            assert_eq!(p.get("established_transitions").as_u64(), Some(1), "{p:?}");
        }
    }
}

fn texts(list: &[Nlri]) -> Vec<String> {
    list.iter().map(|n| n.to_string()).collect()
}

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Starts peerex with the bird peer (`extra` in its table) and the three clients.
fn start_rs(dir: &TempDir, bird: &PeerSpec, extra: &str) -> (Peerex, Vec<IpAddr>) {
    let clients = Clients::config();
    let mut peers = vec![PeerexPeer::for_spec(bird).with(extra)];
    peers.extend(clients.iter().map(|(p, _)| p.clone()));
    let rs = Peerex::start(dir, &peers, "").unwrap();
    (rs, clients.into_iter().map(|(_, a)| a).collect())
}

/// Whether peerex logged an End-of-RIB received from `peer`.
fn eor_logged(rs: &Peerex, peer: &str) -> bool {
    std::fs::read_to_string(&rs.log)
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains("End-of-RIB received") && l.contains(peer))
}

/// The state, `established_transitions` and `last_end_reason` of peer `name`.
fn session(rs: &Peerex, name: &str) -> (String, u64, Option<String>) {
    let p = rs.ctl_json(&["peer", name]).unwrap();
    (
        p.get("state").as_str().unwrap_or_default().to_string(),
        p.get("established_transitions").as_u64().unwrap_or(0),
        p.get("last_end_reason").as_str().map(str::to_string),
    )
}

/// Of the routes peerex holds from `name`: how many, and how many of the first (up to 1,000)
/// are listed and how many of those are stale.
fn held_from(rs: &Peerex, name: &str) -> (u64, usize, usize) {
    let r = rs
        .ctl_json(&["routes", "--peer", name, "--limit", "1000"])
        .unwrap();
    let page = r.get("routes").as_array();
    let stale = page
        .iter()
        .filter(|x| x.get("stale").as_bool() == Some(true))
        .count();
    (r.get("total").as_u64().unwrap(), page.len(), stale)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bird_killed_mid_table_is_withdrawn_everywhere_and_nothing_else_moves() {
    let dir = TempDir::new("kill-bird-mid");
    // bird does not offer graceful restart (the harness default), so peerex, a helper by
    // default, must not keep anything.
    let spec = PeerSpec::new("bird", BIRD_ASN).families(Families::V4);
    let (rs, addrs) = start_rs(&dir, &spec, "");
    let clients = Clients::connect(&rs, &addrs, 54).await;

    // 100,000 routes: bird sends them here in about 0.4 s (all but the last few hundred,
    // which bird2 holds back for some 3 s), and they reach the clients tens of milliseconds
    // behind; bird is killed once c0 holds 5,000 of them. The watch runs on a thread of its
    // own, so that the speakers decoding the table cannot delay the kill.
    const TABLE: u64 = 100_000;
    const KILL_AT: u64 = 5_000;
    let table = prefixes(55, TABLE as usize);
    let table_text = texts(&table);
    let bird = Bird::start_with(
        &dir,
        rs.target(spec),
        &strs(&table_text),
        &RouteAttrs::default(),
        false,
    )
    .unwrap();
    let steady = clients.steady.len() as u64;
    let c0 = clients.c[0].stats.clone();
    let got = tokio::task::block_in_place(|| {
        let deadline = Instant::now() + T;
        loop {
            let n = c0.announced.load(Ordering::Relaxed).saturating_sub(steady);
            if n >= KILL_AT {
                bird.kill();
                return n;
            }
            assert!(Instant::now() < deadline, "bird's routes never came");
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    trace(format_args!("bird killed with {got} of its routes at c0"));

    wait("bird's routes withdrawn from every client", || {
        clients.hold(&HashSet::new())
    })
    .await;
    // Mid-table: c0 had a part of it, peerex at most nine tenths (not merely all but bird's
    // late tail), and bird never sent its End-of-RIB.
    let p = rs.ctl_json(&["peer", "bird"]).unwrap();
    let sent = p.get("prefixes_announced_in").as_u64().unwrap();
    trace(format_args!("peerex had received {sent} of bird's routes"));
    assert!(got < TABLE, "c0 had the whole table before the kill");
    assert!(
        sent <= TABLE / 10 * 9 && !eor_logged(&rs, "peer=bird "),
        "bird had sent {sent} of its {TABLE} routes when it was killed: not mid-table"
    );
    // Every route c0 got from bird was withdrawn again; nothing of bird's is left in the RIB.
    let w = clients.withdrawn();
    assert!(
        w[0] >= got,
        "c0 got {got} of bird's routes, {w:?} withdrawn"
    );
    assert_eq!(p.get("routes_accepted").as_u64(), Some(0), "{p:?}");
    // (The control socket reads the RIB's snapshots, published every 100 ms.)
    wait("peerex's RIB back to the steady table", || {
        let status = rs.ctl_json(&["status"]).unwrap();
        status.get("prefixes").as_u64() == Some(steady)
    })
    .await;
    // The kernel closed bird's socket: no NOTIFICATION, the connection was lost.
    assert_ne!(p.get("state").as_str(), Some("Established"), "{p:?}");
    assert_eq!(p.get("established_transitions").as_u64(), Some(1), "{p:?}");
    assert_eq!(
        p.get("last_end_reason").as_str(),
        Some("connection_lost"),
        "{p:?}"
    );
    clients.assert_untouched(&rs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_bird_keeps_its_routes_until_it_is_back_or_its_time_is_up() {
    let dir = TempDir::new("kill-bird-gr");
    const RESTART: Duration = Duration::from_secs(5);
    let spec = PeerSpec::new("bird", BIRD_ASN + 1)
        .families(Families::V4)
        .graceful_restart(true)
        .graceful_restart_time(RESTART.as_secs() as u16);
    let (rs, addrs) = start_rs(&dir, &spec, "graceful_restart = true");
    let clients = Clients::connect(&rs, &addrs, 56).await;

    let table = prefixes(57, 20_000);
    let table_text = texts(&table);
    let bird = Bird::start_with(
        &dir,
        rs.target(spec),
        &strs(&table_text),
        &RouteAttrs::default(),
        false,
    )
    .unwrap();
    let spec = bird.spec().clone();
    let all: HashSet<Nlri> = table.iter().copied().collect();
    wait("bird's table at the clients", || clients.hold(&all)).await;
    assert!(eor_logged(&rs, "peer=bird "), "{}", rs.log_tail(20));
    let before = clients.withdrawn();

    // Killed: peerex keeps its routes as stale, the clients keep them.
    bird.kill();
    let killed = Instant::now();
    wait("bird's session down", || {
        session(&rs, "bird") != ("Established".to_string(), 1, None)
    })
    .await;
    assert_eq!(session(&rs, "bird").2.as_deref(), Some("connection_lost"));
    // (The control socket reads the RIB's snapshots, published every 100 ms.)
    wait("peerex holds bird's routes as stale", || {
        let (total, page, stale) = held_from(&rs, "bird");
        total == all.len() as u64 && stale == page && page > 0
    })
    .await;
    assert!(
        clients.hold(&all),
        "a client lost routes of the restarting bird"
    );
    assert_eq!(clients.withdrawn(), before);

    // Back within its restart time (in recovery, so with its forwarding state kept), without
    // 100 of its routes: its End-of-RIB withdraws exactly those.
    let gone: HashSet<Nlri> = table.iter().step_by(200).copied().collect();
    let kept: Vec<Nlri> = table
        .iter()
        .filter(|n| !gone.contains(n))
        .copied()
        .collect();
    let kept_text = texts(&kept);
    let bird = Bird::start_with(
        &dir,
        spec.clone(),
        &strs(&kept_text),
        &RouteAttrs::default(),
        true,
    )
    .unwrap();
    let kept: HashSet<Nlri> = kept.into_iter().collect();
    wait("bird's session back", || {
        session(&rs, "bird").0 == "Established"
    })
    .await;
    let back = killed.elapsed();
    assert!(
        back < RESTART,
        "bird took {back:?} to come back: past its restart time"
    );
    // (bird2 sends the last few hundred routes of a table some 3 s after the rest.)
    wait("the clients hold bird's new table", || clients.hold(&kept)).await;
    trace(format_args!(
        "bird's new table at the clients {:?} after the kill",
        killed.elapsed()
    ));
    let after = clients.withdrawn();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            a - b,
            gone.len() as u64,
            "withdrawn {before:?} -> {after:?}"
        );
    }
    assert_eq!(session(&rs, "bird").0, "Established");
    assert_eq!(session(&rs, "bird").1, 2);
    wait("peerex holds bird's new table, none of it stale", || {
        let (total, page, stale) = held_from(&rs, "bird");
        total == kept.len() as u64 && stale == 0 && page > 0
    })
    .await;

    // Killed again and not back: after its restart time its routes go.
    bird.kill();
    let killed = Instant::now();
    wait("bird's session down again", || {
        session(&rs, "bird").0 != "Established"
    })
    .await;
    tokio::time::sleep(RESTART.saturating_sub(killed.elapsed() + Duration::from_secs(1))).await;
    assert!(
        clients.hold(&kept),
        "routes withdrawn before the restart time"
    );
    wait("bird's routes withdrawn after the restart time", || {
        clients.hold(&HashSet::new())
    })
    .await;
    let waited = killed.elapsed();
    trace(format_args!("withdrawn {waited:?} after the kill"));
    assert!(waited >= RESTART, "withdrawn after {waited:?}");
    wait("nothing of bird's left in peerex", || {
        held_from(&rs, "bird").0 == 0
    })
    .await;
    assert_eq!(session(&rs, "bird").2.as_deref(), Some("connection_lost"));
    clients.assert_untouched(&rs);
}
