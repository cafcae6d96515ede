//! End-to-end benchmark: peerex against BIRD 2 (in two layouts) as route servers, driven over
//! loopback by an in-repo load generator (issue #4).
//!
//! ```sh
//! cargo bench --bench e2e                                   # all scenarios, full scale, 3 runs
//! E2E_SCENARIOS=a,c E2E_SCALE=0.1 cargo bench --bench e2e   # a quick run
//! E2E_RUNS=5 cargo bench --bench e2e                        # medians over 5 runs
//! E2E_SERVERS=peerex,bird-single cargo bench --bench e2e    # a subset of the servers
//! E2E_NET=netns cargo bench --bench e2e                     # every server behind veth
//! # two peerex builds side by side, e.g. before and after a change:
//! E2E_SERVERS=peerex,peerex-base PEEREX_BASE_BIN=/path/to/old/peerex cargo bench --bench e2e
//! # 1,000 sessions with a 3 s hold time through a 500k table load and a looking-glass flood:
//! E2E_SCENARIOS=h E2E_SERVERS=peerex E2E_RUNS=1 cargo bench --bench e2e
//! # its short form (1,000 sessions, a 50k table; CI runs it):
//! E2E_SCENARIOS=h E2E_SCALE=0.1 E2E_SERVERS=peerex E2E_RUNS=1 cargo bench --bench e2e
//! ```
//!
//! Needs Linux, root for `bird-single` (see "The servers") and `bird` (Debian's bird2;
//! `.ci/install-deps` installs it). Binding 127.64.x.y source addresses needs nothing (all
//! of 127/8 is local on Linux); the network namespace (`ip netns`, a veth pair) needs root.
//! peerex alone (`E2E_SERVERS=peerex`) needs no root. The bench raises its open-file limit
//! to the hard limit, which needs no root either (scenarios `d` and `h` need about 1,000
//! sockets in the generator and 1,000 in the server, which inherits the limit; a warning
//! says when the hard limit is too low). Not part of CI, except the short form of `h`
//! (`.ci/run`).
//!
//! # What it does
//!
//! For every scenario, `E2E_RUNS` times (default 3), once for every server in each
//! repetition (the servers alternate: peerex, bird-pipes, bird-single, then again), so that
//! whatever else the machine does hits all of them alike: start the server fresh with a
//! generated configuration (listening on 127.0.0.1:PORT, one passive session per emulated
//! peer, the import checks below), connect P emulated peers from their own 127.64.x.y
//! addresses with their own ASNs, wait until every session is up, then let the senders
//! write their whole table at once (pre-encoded packed UPDATEs followed by End-of-RIB) and
//! time until every client holds exactly what it should.
//!
//! Scenarios (`E2E_SCENARIOS`, default `a,b,c,d,a6`):
//! * `a`: 4 senders × 200,000 prefixes, 20 further clients that only receive. Every client
//!   (the senders too) must hold every prefix it did not announce, from its owner.
//! * `b`: 100 peers each sending 1,000 prefixes and receiving the other 99,000.
//! * `c`: 10 peers announcing the same 100,000 prefixes with different paths. Per group of
//!   prefixes one sender's path is clearly best (AS path length 2), the next sender's second
//!   (length 3), the others' length 4; the winner rotates from group to group. Every peer
//!   must hold every prefix with the best path, except the winner itself, which must hold the
//!   second best (a client never gets its own path, and no path hiding).
//! * `d`: 1,000 peers each announcing 200 prefixes and receiving all the others' (a
//!   200,000-prefix table, 199.8 M deliveries). The sessions are set up at most
//!   `E2E_CONNECT_PARALLEL` (default 32) at a time; if they are not all up within
//!   `E2E_CONNECT_TIMEOUT` seconds (default 300) the run fails with "did not establish: N of
//!   1000 sessions up" instead of waiting.
//! * `d250`: `d`'s 200,000-prefix table from 250 peers (800 prefixes each), all receiving all;
//!   not in the default list. Peak RSS in `d` minus peak RSS here is what 750 more clients
//!   cost on the same table.
//! * `h`: sessions under load (issue 12): `d`'s layout with a 500,000-prefix table, 1,000
//!   peers each announcing 500 prefixes and receiving all the others' (499.5 M deliveries),
//!   with a negotiated hold time of 3 s, while peerex's looking glass is flooded; not in the
//!   default list; peerex builds only (the BIRD servers skip it). `E2E_SCALE` scales the
//!   table and keeps the 1,000 sessions. See "Scenario h" below.
//! * `a6`: `a` in IPv6: /48s in MP_REACH_NLRI, IPv6 unicast the only family negotiated (the
//!   sessions stay on IPv4 loopback), next hop `2001:db8:77::<p + 1>` for peer `p`.
//!
//! Peer `p` has ASN 10000 + p (public 2-octet ASNs, none private or reserved), address
//! 127.64.x.y. IPv4 prefixes are /24s from 20.0.0.0, IPv6 ones /48s from 2a00::.
//!
//! Every path has a realistic attribute set: ORIGIN, an AS path starting with the sender's
//! ASN (a transit hop, a 4-octet origin AS), NEXT_HOP = the sender's address, two standard
//! and one large community, and a MED in scenario `c`. Consecutive prefixes share one
//! attribute set (same origin AS) in groups of `E2E_GROUP` (default 8), which is how the
//! senders pack them into UPDATEs.
//!
//! # Import checks (the same on both servers)
//!
//! For every peer: (1) prefix allow-list: the fewest aligned prefixes that cover exactly the
//! peer's own prefixes, each allowing only the announced length (`20.0.0.0/13{24,24}`, ...;
//! 1 to ~20 entries per peer; a peer that announces nothing gets an empty list); (2) origin
//! allow-list: the last AS must be in 131072–191071, the range the generated paths use (a
//! path ending in an AS_SET has no origin and fails); (3) first AS = the peer's ASN; (4) next
//! hop = the peer's address (IPv6: its `2001:db8:77::<p + 1>`, the only IPv6 next hop allowed
//! for it); (5) max-prefix: 10 % above what the peer announces, counting accepted and
//! rejected routes; at the limit the session is reset (peerex `max_prefixes_action =
//! "reset"`, BIRD `receive limit N action restart`). Rejected routes are kept on both (peerex
//! always, BIRD `import keep filtered on`).
//! * peerex: `prefixes`, `origin_asns`, `check_first_as`, `check_next_hop` (+ `next_hops`
//!   for IPv6), `max_prefixes`; its further checks without a counterpart in the BIRD
//!   configuration are off (bogon ASNs and prefixes, transit-free ASNs, RPKI, prefix length
//!   limits), except `max_path_length` (64) and `reject_as_set`, which the generated paths
//!   never trip.
//! * BIRD: per channel `import where net ~ [ ... ] && bgp_path.first = ASN && bgp_path.last
//!   ~ ORIGINS && bgp_next_hop = NH;` and `receive limit`; `enforce first as off` (the filter
//!   does it).
//!
//! # What it measures
//!
//! * **converge**: from just before the first UPDATE is written until the last client holds
//!   its complete and correct table. Every client decodes every UPDATE with `peerex::wire`
//!   and tracks, per prefix, whose path it holds (checked by the first AS of the path; the
//!   NEXT_HOP is checked too), so "converged" means exactly the expected set, nothing missing
//!   and nothing extra. After convergence the run waits `E2E_SETTLE_MS` (default 1000) and
//!   checks that nothing changed any more.
//! * **in**: prefix announcements received by the server per second, over the time until the
//!   server had read every byte the senders wrote (sender socket has no unacknowledged bytes
//!   (SIOCOUTQ) and the server's socket has no unread bytes (rx_queue in /proc/net/tcp)).
//! * **out**: prefix announcements delivered to the clients per second over the convergence
//!   time (every announcement counts, also one that replaces an earlier path; `delivered`
//!   shows how many there were against the routes the clients must end up with).
//! * **delivered / final**: the announcements the clients received until convergence
//!   divided by the routes they must end up with (1.00: every client got each route once;
//!   more: paths replaced before the best was known).
//! * **peak RSS**: VmHWM of the server process (summed over its child processes, if any),
//!   read after convergence; **CPU**: user + system seconds the server used in the run.
//! * **peerex's memory**: after convergence the bench GETs peerex's (and peerex-base's)
//!   /metrics (its looking glass listener, `[looking_glass] listen`) and prints every
//!   `peerex_memory_bytes{part}` sample there (none in versions without the breakdown) and
//!   `peerex_process_resident_memory_bytes` (or why it is not available); also in the
//!   notes. Nothing comparable is read from BIRD.
//! * **sessions**: every session must stay up from the OPEN exchange to the end of the
//!   settle time; one that ends fails the run (see "Scenario h"). The notes give the
//!   sessions up at the end (and peerex's own count of established sessions), the longest
//!   silence of the server at any client and the longest gap between the generator's own
//!   keepalives.
//!
//! # Scenario h: sessions under load
//!
//! Each emulated peer offers a hold time of 3 s (the servers offer 90, so 3 s is
//! negotiated), writes a KEEPALIVE every second (a third of it) and runs a hold timer on
//! what the server sends, as a real peer would: no whole message for 3 s ends the session.
//! While the table loads every client receives UPDATEs all the time, so after convergence
//! the run waits three hold times (9 s; `E2E_SETTLE_MS` if longer) in which only keepalives
//! keep the sessions up. From when the sessions are up to the end of that wait,
//! `E2E_LG_FLOOD` threads (default 4) send looking-glass requests to peerex back to back,
//! each over a fresh connection (the requests of `benches/lg_flood.rs`, from `e2e/lg.rs`),
//! and keep sending as answers slow down. The run
//! FAILS, with the reason, when any session ends: a NOTIFICATION from peerex (e.g. "hold
//! timer expired": the generator's keepalives did not reach it in time), a close, a failed
//! write, or the client's own hold timer (peerex silent for 3 s; the message gives the bytes
//! waiting unread in the client's socket: any means the generator, not peerex, was late),
//! and when a client does not end with exactly its table. The report's "Sessions under
//! load" table has per run: time to convergence, peak RSS, CPU seconds, sessions up at the
//! end (with peerex's `neighbours_established` from /api/v1/status), the longest silence of
//! the server at any client (as the generator's reader saw it, so an upper bound; more than
//! 3 s would have been a hold expiry), the longest gap between two of the generator's own
//! keepalives, the looking-glass requests answered while the table loaded (first UPDATE to
//! convergence) and over the whole flood, failures, and the longest request. peerex's
//! looking-glass workers run at `SCHED_IDLE`, so on a saturated machine they answer few
//! requests during the load, by design (and a request may wait longer than the flood's
//! 30 s read timeout: it then counts as failed, which does not fail the run).
//!
//! The table is 1,000 senders × 500 prefixes, like `d`, rather than a few senders of a full
//! table and 996 clients that only receive (e.g. 4 × 125,000): measured on the 2-core
//! machine, the full scale fits (the generator's clients keep one bit per (client, prefix):
//! 62.5 MB, 250 MB in all; peerex peaked at 285–317 MiB and converged in 65–68 s, the
//! generator taking most of a core to decode 63 M UPDATEs), and every session is busy in
//! both directions, reading its own UPDATEs in and writing the others' out, where a late
//! keepalive is likeliest. The short form, `E2E_SCALE=0.1`, keeps the 1,000 sessions with a
//! 50,000-prefix table (about 13 s a run, the 9 s wait included).
//!
//! The generator must not be the one that is late: its readers decode frames out of large
//! reads, which cost tokio's cooperative budget nothing, so each now yields its budget per
//! message (`consume_budget`); before that, 1,000 busy readers starved the keepalive tasks
//! for more than 3 s and peerex rightly expired the sessions.
//!
//! The report is printed and written as markdown to `target/e2e-report.md` (or
//! `$CARGO_TARGET_DIR`), see `e2e/report.rs`: per (scenario, server) the MEDIAN over the
//! runs that converged (failed runs are counted, not averaged in) of converge time, peak
//! RSS, CPU seconds and delivered announcements, with delivered / final routes; then ratios
//! peerex / other computed from those medians, against bird-single, bird-pipes and
//! peerex-base, with verdicts against the targets for BIRD: peerex at least 5× faster to
//! converge, at most half the peak memory and half the CPU seconds; and, where senders
//! share prefixes (scenario `c`), at most 1.5 announcements delivered per final route. Last
//! comes every run's own row and notes. Server logs and configs stay in
//! `target/e2e/<scenario>-<server>-run<N>/`.
//!
//! # The servers
//!
//! * **peerex**: the release binary. The bench runs `cargo build --release --bin peerex`
//!   first (bench targets get no `CARGO_BIN_EXE_*`) and uses `target/release/peerex`; set
//!   `PEEREX_BIN=/path/to/peerex` to use a given binary instead (nothing is built then).
//!   Logs at `info` (`E2E_PEEREX_LOG` to change).
//! * **peerex-base** (only when `E2E_SERVERS` names it): the binary in `PEEREX_BASE_BIN`
//!   (required then; nothing is built for it), e.g. a release build of an older commit,
//!   configured exactly like peerex, to compare two builds in one session.
//! * **BIRD 2** (`bird` on the PATH) as a route server with no path hiding, `rs client`
//!   sessions, `interpret communities off`, `import keep filtered on`, `import table off`
//!   (`E2E_BIRD_IMPORT_TABLE=1` for arouteserver's extra Adj-RIB-In copy), in two layouts,
//!   both in every run (`E2E_SERVERS`, default `peerex,bird-pipes,bird-single`; `bird` means
//!   both layouts):
//!   - **bird-pipes** (IXP-Manager's BIRD 2 layout): every client `pX` has its own table
//!     `t_pX`; a pipe puts the client's routes into `master4` and every other client's
//!     routes from `master4` into `t_pX`. The pipe raises `preference` on what it brings
//!     into `t_pX`, so the client's own route (which sits in `t_pX` too) never wins there:
//!     the client gets the best of the others'. BIRD keeps a copy of nearly every path per
//!     client. Runs on loopback, where it needs `multihop` (BIRD gives 127/8 host scope, so a
//!     direct session on `lo` is refused: "Invalid remote address") and `next hop keep on`.
//!   - **bird-single** (arouteserver's BIRD 2 layout, BIRD's leanest without path hiding):
//!     one `sorted` master table, every channel `secondary`: each client gets the first path
//!     in the table's sorted list that its export accepts, never its own, so the second best
//!     where its own is best. One copy of each path. BIRD 2.0.12 cannot do this on loopback:
//!     a sorted table needs direct sessions ("BGP in recursive mode prohibits sorted table";
//!     multihop forces recursive mode: "Multihop BGP cannot use direct gateway mode"), a
//!     direct neighbour on `lo` is refused (host scope, tried), and a dynamic session
//!     (`neighbor range`, which skips that check) would still withdraw every route whose
//!     NEXT_HOP is not on a connected network of non-host scope (`bgp_apply_next_hop` in
//!     direct mode, read in BIRD's source, not tried). So bird-single
//!     always runs in network namespace `e2e-rs` (needs root; the report's server column
//!     says `veth`): BIRD on 10.77.255.1, the peers on 10.77.x.y at the other end of a veth
//!     pair, the IPv6 next hops on a /64 configured on BIRD's side. Without root its runs
//!     fail with a message saying so.
//!
//!   `E2E_NET=netns` puts every server behind the veth pair (then bird-pipes uses direct
//!   sessions too): the same transport for all, at the cost of veth instead of loopback.
//!
//! # Other knobs
//!
//! `E2E_RUNS` (repetitions, default 3), `E2E_SCALE` (multiplies every prefix count, default
//! 1), `E2E_GROUP` (prefixes per attribute set, default 8), `E2E_TIMEOUT` (seconds per run,
//! default 600), `E2E_STALL` (give up when the server has read all input and no UPDATE
//! arrived for this many seconds, default 20), `E2E_GEN_THREADS` (load generator threads,
//! default 2), `E2E_TRACE_PREFIX=i` (print every change of prefix index `i` at every client,
//! to debug a server that does not converge), `E2E_CONNECT_TIMEOUT` and
//! `E2E_CONNECT_PARALLEL` (above), `E2E_EXACT_MAX` (up to this many (client, prefix) states
//! in all, default 32 M, the clients keep which sender's path they hold, for the mismatch
//! report; above it only one bit per prefix, "holds what it must": 25 MB for `d`),
//! `E2E_HOLD` (the hold time the generator offers in every scenario instead of the
//! scenario's own, 3 in `h` and 90 elsewhere; 0 or at least 3), `E2E_LG_FLOOD` (looking-glass
//! flood threads in `h`, default 4; 0: no flood).
//!
//! # Fairness notes
//!
//! The load generator runs on the same machine as the server, so it takes CPU from it
//! (decoding every UPDATE every client receives); it is the same generator for both servers.
//! BIRD 2 is single-threaded; peerex may use every core. bird-single runs behind veth, the
//! others on loopback (unless `E2E_NET=netns`). Anything else running on the machine skews
//! the times: the notes give the load average before and after each run.

#[path = "e2e/lg.rs"]
mod lg;
#[path = "e2e/load.rs"]
mod load;
#[path = "e2e/metrics.rs"]
mod metrics;
#[path = "e2e/net.rs"]
mod net;
#[path = "e2e/report.rs"]
mod report;
#[path = "e2e/scenario.rs"]
mod scenario;
#[path = "e2e/servers.rs"]
mod servers;

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use load::{ns_since, Peer};
use report::{mib, secs, LgFigures, Outcome, Sessions};
use scenario::Scenario;
use servers::{BirdOpts, Kind, Server};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The peerex binary: `PEEREX_BIN`, or a fresh `cargo build --release --bin peerex`.
fn peerex_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PEEREX_BIN") {
        return PathBuf::from(p);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the peerex release binary (cargo build --release --bin peerex)");
    let st = Command::new(cargo)
        .args(["build", "--release", "--bin", "peerex"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cannot run cargo");
    assert!(st.success(), "cargo build --release --bin peerex failed");
    target_dir().join("release").join("peerex")
}

/// The baseline peerex binary for `peerex-base`: `PEEREX_BASE_BIN`, which must name an
/// existing file (nothing is built for it).
fn peerex_base_bin() -> Result<PathBuf, String> {
    let p = std::env::var_os("PEEREX_BASE_BIN").ok_or(
        "E2E_SERVERS names peerex-base but PEEREX_BASE_BIN is not set: set it to the peerex \
         binary to compare with (e.g. a release build of an older commit)",
    )?;
    let p = PathBuf::from(p);
    if !p.is_file() {
        return Err(format!(
            "PEEREX_BASE_BIN={}: no such file (the baseline peerex binary)",
            p.display()
        ));
    }
    Ok(p)
}

struct Settings {
    /// Every server in a network namespace behind veth (E2E_NET=netns) instead of on
    /// loopback (bird-single always runs there).
    netns: bool,
    /// How long the sessions may take to come up (E2E_CONNECT_TIMEOUT).
    connect_timeout: Duration,
    /// Sessions being established at once (E2E_CONNECT_PARALLEL).
    connect_parallel: usize,
    timeout: Duration,
    /// Give up when the server has read everything and nothing arrived for this long.
    stall: Duration,
    settle: Duration,
    peerex: PathBuf,
    /// The baseline peerex build (`PEEREX_BASE_BIN`), when `peerex-base` runs.
    peerex_base: PathBuf,
    bird: BirdOpts,
    /// The hold time the generator offers in every scenario (E2E_HOLD), instead of the
    /// scenario's own.
    hold: Option<u16>,
    /// Looking-glass flood threads in scenarios that flood (E2E_LG_FLOOD).
    lg_flood: usize,
}

impl Settings {
    /// The binary a peerex kind runs (empty for BIRD, which is `bird` on the PATH).
    fn bin(&self, kind: Kind) -> &Path {
        match kind {
            Kind::Peerex => &self.peerex,
            Kind::PeerexBase => &self.peerex_base,
            Kind::BirdPipes | Kind::BirdSingle => Path::new(""),
        }
    }
}

/// Connects every peer, at most `parallel` session setups at a time (so that BIRD, which
/// accepts and opens sessions in its single thread, is not flooded with 1,000 at once), each
/// retrying until `timeout` from the start of the phase; then reports how many came up.
async fn connect_all(
    sc: &Arc<Scenario>,
    rs: SocketAddr,
    epoch: Instant,
    timeout: Duration,
    parallel: usize,
    hold: u16,
) -> Result<Vec<Peer>, String> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for p in 0..sc.peers {
        let sc = sc.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut last = String::new();
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Err(format!("peer {p}: {last}"));
                }
                let c = Peer::connect_with_hold(p, rs, sc.clone(), epoch, hold);
                match tokio::time::timeout(left, c).await {
                    Ok(Ok(peer)) => return Ok(peer),
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => last = "timed out".into(),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }
    let mut peers = Vec::new();
    let mut failed = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.map_err(|e| e.to_string())? {
            Ok(p) => peers.push(p),
            Err(e) => failed.push(e),
        }
    }
    if !failed.is_empty() {
        failed.sort();
        return Err(format!(
            "did not establish: {} of {} sessions up after {:.1} s (E2E_CONNECT_TIMEOUT={}); \
             e.g. {}",
            peers.len(),
            sc.peers,
            start.elapsed().as_secs_f64(),
            timeout.as_secs(),
            failed
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    peers.sort_by_key(|p| p.index);
    eprintln!(
        "  {} sessions established in {:.1} s",
        peers.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(peers)
}

fn sum(peers: &[Peer], f: impl Fn(&load::RxStats) -> u64) -> u64 {
    peers.iter().map(|p| f(&p.rx)).sum()
}

/// Repetition `run` (from 1) of scenario `sc` against server `kind`.
async fn run_one(sc: &Arc<Scenario>, kind: Kind, run: usize, st: &Settings) -> Outcome {
    let mut out = Outcome {
        scenario: sc.name.to_string(),
        server: kind,
        run,
        netns: st.netns || kind == Kind::BirdSingle,
        converge: None,
        ingest: None,
        sent: sc.announcements_sent(),
        expected_routes: sc.expected_routes(),
        delivered: 0,
        peak_rss_kib: 0,
        cpu_secs: 0.0,
        error: None,
        notes: Vec::new(),
        sessions: None,
    };
    let dir = target_dir()
        .join("e2e")
        .join(format!("{}-{}-run{run}", sc.name, kind.name()));
    if out.netns && !net::is_up() {
        out.error = Some(format!(
            "{} needs the network namespace (see the top comment), which could not be set up \
             (needs root)",
            kind.name()
        ));
        return out;
    }
    scenario::NETNS.store(out.netns, Ordering::Relaxed);
    let mut server = match Server::start(kind, &dir, sc, st.bin(kind), st.bird, out.netns) {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let load_before = loadavg();
    let r = drive(sc, &mut server, st, &mut out).await;
    out.notes.push(format!(
        "load average (1 min) {load_before} before, {} after",
        loadavg()
    ));
    out.peak_rss_kib = server.peak_rss_kib();
    out.cpu_secs = server.cpu_secs();
    if r.is_ok() {
        let now = server.rss_kib();
        out.peak_rss_kib = out.peak_rss_kib.max(now);
        out.notes.push(format!(
            "RSS after convergence {} (peak {})",
            mib(now),
            mib(out.peak_rss_kib)
        ));
    }
    if let Err(e) = r {
        out.error = Some(format!(
            "{e}\n--- {} log tail ({}) ---\n{}",
            kind.name(),
            server.log.display(),
            server.log_tail(10)
        ));
    }
    server.stop();
    out
}

async fn drive(
    sc: &Arc<Scenario>,
    server: &mut Server,
    st: &Settings,
    out: &mut Outcome,
) -> Result<(), String> {
    let epoch = Instant::now();
    let rs = SocketAddr::new(IpAddr::V4(server.ip), server.port);
    // Encode every sender's table before anything is timed.
    let tables: Vec<Vec<bytes::Bytes>> = (0..sc.senders)
        .map(|s| {
            sc.updates(
                s,
                scenario::peer_addr(s),
                &peerex::wire::ParseCtx::new(),
                64 * 1024,
            )
        })
        .collect();
    let stress = sc.stress();
    let hold = st.hold.unwrap_or(stress.hold);
    let peers = connect_all(sc, rs, epoch, st.connect_timeout, st.connect_parallel, hold).await?;
    // The looking-glass flood runs from here to the end of the settle time.
    let flood = match server.lg_port {
        Some(port) if stress.lg_flood && st.lg_flood > 0 => {
            let lg = SocketAddr::new(IpAddr::V4(server.ip), port);
            Some((lg::Flood::start(lg, st.lg_flood), Instant::now()))
        }
        _ => None,
    };
    // Let the initial (empty) table exchange finish (and the flood reach full speed).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    if let Some(e) = ended(&peers, epoch) {
        return Err(format!("before the start: {e}"));
    }
    let base_delivered = sum(&peers, |r| r.announced.load(Ordering::Relaxed));
    if base_delivered != 0 {
        out.notes
            .push(format!("{base_delivered} announcements before the start"));
    }
    let total_universe = (sc.universe() * sc.peers) as u64;
    let lg_at_t0 = flood.as_ref().map_or(0, |(f, _)| f.answered());
    let t0 = Instant::now();
    let t0_ns = ns_since(epoch);
    let sends: Vec<_> = tables
        .into_iter()
        .zip(&peers)
        .map(|(t, p)| p.spawn_send(t, epoch))
        .collect();
    let mut ingest_at: Option<u64> = None;
    let mut last_progress = Instant::now();
    let converged_ns = loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        if ingest_at.is_none() {
            let senders = &peers[..sc.senders];
            if senders
                .iter()
                .all(|p| p.sent_at_ns.load(Ordering::Acquire) != 0)
            {
                let rq = servers::server_rx_queues(server.pid(), server.port);
                if senders
                    .iter()
                    .all(|p| p.unacked_bytes() == Some(0) && rq.get(&p.addr) == Some(&0))
                {
                    ingest_at = Some(ns_since(epoch));
                }
            }
        }
        if peers.iter().all(|p| p.rx.converged.load(Ordering::Acquire)) {
            let t = peers
                .iter()
                .map(|p| p.rx.converged_at_ns.load(Ordering::Relaxed))
                .max()
                .unwrap_or(t0_ns);
            break t.max(t0_ns);
        }
        if let Some(e) = ended(&peers, epoch) {
            return Err(format!("during the load: {e}"));
        }
        if !server.alive() {
            return Err("the server exited".into());
        }
        let last = peers
            .iter()
            .map(|p| p.rx.last_update_ns.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
            .max(t0_ns);
        if ingest_at.is_some() && ns_since(epoch).saturating_sub(last) > st.stall.as_nanos() as u64
        {
            let correct = sum(&peers, |r| r.correct.load(Ordering::Relaxed));
            out.delivered = sum(&peers, |r| r.announced.load(Ordering::Relaxed)) - base_delivered;
            return Err(format!(
                "stalled without converging: the server read all input after {:.2} s, the last UPDATE \
                 reached a client at {:.2} s, nothing since for {:?}; {correct} of {total_universe} \
                 (client, prefix) states correct; {} announcements delivered\n{}",
                ingest_at.unwrap_or(0).saturating_sub(t0_ns) as f64 / 1e9,
                (last - t0_ns) as f64 / 1e9,
                st.stall,
                out.delivered,
                mismatches(sc, &peers)
            ));
        }
        if t0.elapsed() > st.timeout {
            let correct = sum(&peers, |r| r.correct.load(Ordering::Relaxed));
            let not: Vec<usize> = peers
                .iter()
                .filter(|p| !p.rx.converged.load(Ordering::Relaxed))
                .map(|p| p.index)
                .collect();
            out.delivered = sum(&peers, |r| r.announced.load(Ordering::Relaxed)) - base_delivered;
            return Err(format!(
                "no convergence after {:?}: {correct} of {total_universe} (client, prefix) states correct; \
                 clients not converged: {not:?}; {} delivered; server drained its input: {}\n{}",
                st.timeout,
                out.delivered,
                ingest_at.is_some(),
                mismatches(sc, &peers)
            ));
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            let correct = sum(&peers, |r| r.correct.load(Ordering::Relaxed));
            eprintln!(
                "  ... {:>6.1}s  {:>5.1}% of (client, prefix) states correct, {} announcements delivered{}",
                t0.elapsed().as_secs_f64(),
                100.0 * correct as f64 / total_universe.max(1) as f64,
                sum(&peers, |r| r.announced.load(Ordering::Relaxed)) - base_delivered,
                if ingest_at.is_some() { ", server has read all input" } else { "" }
            );
        }
    };
    let delivered_at_conv = sum(&peers, |r| r.announced.load(Ordering::Relaxed));
    let lg_at_conv = flood.as_ref().map_or(0, |(f, _)| f.answered());
    // The input is necessarily all read by now, except perhaps the End-of-RIB markers.
    let t = Instant::now();
    while ingest_at.is_none() && t.elapsed() < Duration::from_secs(5) {
        let rq = servers::server_rx_queues(server.pid(), server.port);
        if peers[..sc.senders]
            .iter()
            .all(|p| p.unacked_bytes() == Some(0) && rq.get(&p.addr) == Some(&0))
        {
            ingest_at = Some(ns_since(epoch));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for s in sends {
        s.await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("sending failed: {e}"))?;
    }
    out.converge = Some(Duration::from_nanos(converged_ns - t0_ns));
    out.ingest = ingest_at.map(|i| Duration::from_nanos(i.saturating_sub(t0_ns)));
    // With a stress, the quiet time after the load lasts three hold times (the flood goes
    // on): no UPDATE flows then, only keepalives keep the sessions up.
    let stressed = stress.lg_flood || stress.hold != load::DEFAULT_HOLD || st.hold.is_some();
    let settle = if stressed {
        st.settle.max(Duration::from_secs(3 * u64::from(hold)))
    } else {
        st.settle
    };
    tokio::time::sleep(settle).await;
    // peerex's memory while every session is still up (once the peers go, it tears the
    // table down).
    if let Some(port) = server.lg_port {
        for line in metrics::memory_lines(server.ip, port) {
            eprintln!("  {line}");
            out.notes.push(line);
        }
    }
    // The flood stops (each thread finishes its request in flight), then the sessions at
    // the end.
    let lg = flood.map(|(f, started)| {
        let (slowest, slowest_target) = f.slowest();
        let figures = LgFigures {
            threads: st.lg_flood,
            during_load: lg_at_conv - lg_at_t0,
            load_secs: (converged_ns - t0_ns) as f64 / 1e9,
            answered: f.answered(),
            failed: f.failed(),
            secs: started.elapsed().as_secs_f64(),
            slowest,
            slowest_target,
        };
        tokio::task::block_in_place(|| f.stop());
        figures
    });
    let now = ns_since(epoch);
    let (max_gap, max_gap_peer) = peers
        .iter()
        .map(|p| {
            let mut g = p.rx.max_gap_ns.load(Ordering::Relaxed);
            if !p.rx.closed.load(Ordering::Acquire) {
                // The silence still running at the end counts too.
                g = g.max(now.saturating_sub(p.rx.last_msg_ns.load(Ordering::Relaxed)));
            }
            (g, p.index)
        })
        .max()
        .unwrap_or((0, 0));
    let sessions = Sessions {
        stressed,
        hold: peers.iter().map(|p| p.hold).min().unwrap_or(0),
        up: peers
            .iter()
            .filter(|p| !p.rx.closed.load(Ordering::Acquire))
            .count(),
        of: peers.len(),
        server_says: server.lg_port.and_then(|port| {
            lg::sessions_established(SocketAddr::new(IpAddr::V4(server.ip), port)).ok()
        }),
        max_gap: Duration::from_nanos(max_gap),
        max_gap_peer,
        ka_sent_gap: Duration::from_nanos(
            peers
                .iter()
                .map(|p| p.rx.ka_sent_gap_ns.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0),
        ),
        lg,
    };
    eprintln!("  {}", sessions_line(&sessions));
    out.notes.push(sessions_line(&sessions));
    if sessions
        .server_says
        .is_some_and(|n| n != sessions.up as u64)
    {
        out.notes.push(format!(
            "peerex's looking glass says {} sessions established, the generator has {} up",
            sessions.server_says.unwrap_or(0),
            sessions.up
        ));
    }
    out.sessions = Some(sessions);
    if let Some(e) = ended(&peers, epoch) {
        return Err(format!("after convergence: {e}"));
    }
    let delivered = sum(&peers, |r| r.announced.load(Ordering::Relaxed));
    out.delivered = delivered_at_conv - base_delivered;
    if delivered != delivered_at_conv {
        out.notes.push(format!(
            "{} announcements arrived after convergence",
            delivered - delivered_at_conv
        ));
    }
    if let Some(p) = peers
        .iter()
        .find(|p| !p.rx.converged.load(Ordering::Acquire))
    {
        return Err(format!(
            "peer {} lost its correct table after convergence",
            p.index
        ));
    }
    for (what, n) in [
        (
            "withdrawals",
            sum(&peers, |r| r.withdrawn.load(Ordering::Relaxed)),
        ),
        (
            "unknown prefixes",
            sum(&peers, |r| r.strays.load(Ordering::Relaxed)),
        ),
        (
            "announcements not from a sender",
            sum(&peers, |r| r.foreign.load(Ordering::Relaxed)),
        ),
        (
            "announcements with a changed NEXT_HOP",
            sum(&peers, |r| r.nh_mismatch.load(Ordering::Relaxed)),
        ),
    ] {
        if n > 0 {
            out.notes.push(format!("{n} {what}"));
        }
    }
    let updates = sum(&peers, |r| r.updates.load(Ordering::Relaxed));
    out.notes.push(format!(
        "{updates} UPDATE messages to clients ({:.1} prefixes each)",
        delivered as f64 / updates.max(1) as f64
    ));
    Ok(())
}

/// The sessions that ended (a NOTIFICATION or a close from the server, a failed write, or
/// the client's hold timer), if any: how many, the first few reasons, and the first one's
/// keepalive timing as the generator saw it.
fn ended(peers: &[Peer], epoch: Instant) -> Option<String> {
    let gone: Vec<&Peer> = peers
        .iter()
        .filter(|p| p.rx.closed.load(Ordering::Acquire))
        .collect();
    let first = gone.first()?;
    let why = |p: &Peer| {
        p.rx.error
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "no reason recorded".into())
    };
    let mut s = format!(
        "{} of {} sessions ended; session of peer {} ended: {}",
        gone.len(),
        peers.len(),
        first.index,
        why(first)
    );
    let r = &first.rx;
    let now = ns_since(epoch);
    let secs = |ns: u64| ns as f64 / 1e9;
    let _ = write!(
        s,
        " (at the generator: its longest gap between two KEEPALIVEs it wrote {:.2} s, the \
         last one {:.2} s ago; the longest silence of the server {:.2} s, its last message \
         {:.2} s ago, {} KEEPALIVEs from it)",
        secs(r.ka_sent_gap_ns.load(Ordering::Relaxed)),
        secs(now.saturating_sub(r.ka_sent_ns.load(Ordering::Relaxed))),
        secs(r.max_gap_ns.load(Ordering::Relaxed)),
        secs(now.saturating_sub(r.last_msg_ns.load(Ordering::Relaxed))),
        r.keepalives.load(Ordering::Relaxed)
    );
    for p in gone.iter().skip(1).take(2) {
        let _ = write!(s, "; peer {}: {}", p.index, why(p));
    }
    Some(s)
}

/// One line on the sessions of a run.
fn sessions_line(s: &Sessions) -> String {
    let mut l = format!(
        "sessions up at the end {}/{}{}, hold time {} s; longest silence of the server at a \
         client {:.2} s (peer {}), longest gap between the generator's keepalives {:.2} s",
        s.up,
        s.of,
        s.server_says
            .map_or(String::new(), |n| format!(" (peerex says {n} established)")),
        s.hold,
        s.max_gap.as_secs_f64(),
        s.max_gap_peer,
        s.ka_sent_gap.as_secs_f64()
    );
    if let Some(f) = &s.lg {
        let _ = write!(
            l,
            "; looking glass ({} threads): {} requests answered during the load ({:.1} s, \
             {:.0}/s), {} answered and {} failed in {:.1} s of flood, the longest request \
             {:.2} s ({})",
            f.threads,
            f.during_load,
            f.load_secs,
            f.during_load as f64 / f.load_secs.max(1e-9),
            f.answered,
            f.failed,
            f.secs,
            f.slowest.as_secs_f64(),
            f.slowest_target
        );
    }
    l
}

/// What the clients hold that they should not, grouped by (client, expected, held).
fn mismatches(sc: &Scenario, peers: &[Peer]) -> String {
    use std::collections::BTreeMap;
    // `None`: the client holds something else (only the bitmap is kept, see `load::Held`).
    let who = |v: Option<u16>| match v {
        None => "something else".to_string(),
        Some(0) => "nothing".to_string(),
        Some(u16::MAX) => "a path not from a sender".to_string(),
        Some(v) => format!("sender {}'s path", v - 1),
    };
    let mut out = String::new();
    let mut shown = 0;
    for p in peers {
        if shown == 4 {
            let _ = writeln!(out, "  (further clients not shown)");
            break;
        }
        let held = p.rx.held.lock().unwrap();
        let exact = held.exact();
        let mut groups: BTreeMap<(u16, Option<u16>), (usize, Vec<usize>)> = BTreeMap::new();
        for i in 0..sc.universe() {
            if !held.ok(i) {
                let e = sc.expected(p.index, i);
                let g = groups.entry((e, exact.map(|x| x[i]))).or_default();
                g.0 += 1;
                if g.1.len() < 3 {
                    g.1.push(i);
                }
            }
        }
        if !groups.is_empty() {
            shown += 1;
        }
        for ((e, h), (n, ex)) in groups.iter().take(4) {
            let ex: Vec<String> = ex
                .iter()
                .map(|&i| format!("{}", sc.prefix(i).prefix))
                .collect();
            let _ = writeln!(
                out,
                "  peer {}: {n} prefixes hold {} instead of {} (e.g. {})",
                p.index,
                who(*h),
                who(Some(*e)),
                ex.join(", ")
            );
        }
    }
    out
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// Raises the soft limit of open files to the hard limit (peerex and BIRD inherit it): a
/// scenario with P peers needs P sockets in the generator and P in the server.
fn raise_fd_limit(peers: usize) {
    let have = load::raise_nofile();
    let need = 2 * peers as u64 + 256;
    if have < need {
        eprintln!("warning: open file limit {have} is below the {need} the largest scenario needs");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported (use E2E_SCENARIOS).
    let scale: f64 = env_or("E2E_SCALE", 1.0);
    let group: usize = env_or("E2E_GROUP", 8).max(1);
    let wanted: String = env_or("E2E_SCENARIOS", "a,b,c,d,a6".to_string());
    let servers: String = env_or("E2E_SERVERS", "peerex,bird-pipes,bird-single".to_string());
    let mut kinds: Vec<Kind> = Vec::new();
    for s in servers.split(',') {
        let add: &[Kind] = match s.trim() {
            "peerex" => &[Kind::Peerex],
            "peerex-base" | "base" => &[Kind::PeerexBase],
            "bird-pipes" | "pipes" => &[Kind::BirdPipes],
            "bird-single" | "single" => &[Kind::BirdSingle],
            "bird" | "bird2" => &[Kind::BirdPipes, Kind::BirdSingle],
            other => panic!(
                "E2E_SERVERS: unknown server {other:?} (peerex, peerex-base, bird-pipes, \
                 bird-single, bird = both BIRD layouts)"
            ),
        };
        for k in add {
            if !kinds.contains(k) {
                kinds.push(*k);
            }
        }
    }
    let servers = kinds;
    // Before anything is built or started: a missing baseline is a usage error.
    let peerex_base = if servers.contains(&Kind::PeerexBase) {
        peerex_base_bin().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        })
    } else {
        PathBuf::new()
    };
    let runs: usize = env_or("E2E_RUNS", 3);
    if runs == 0 {
        eprintln!("error: E2E_RUNS=0: at least one run is needed");
        std::process::exit(2);
    }
    let scenarios: Vec<Arc<Scenario>> = Scenario::all(scale, group)
        .into_iter()
        .filter(|s| wanted.split(',').any(|w| w.trim() == s.name))
        .map(Arc::new)
        .collect();
    assert!(
        !scenarios.is_empty(),
        "E2E_SCENARIOS={wanted:?} names no scenario (a, b, c, d, d250, h, a6)"
    );
    assert_eq!(report::median(vec![3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(report::median(vec![4.0, 1.0]), Some(2.5));
    for i in [0, 1, 65_535, 65_536, 799_999] {
        assert_eq!(
            scenario::index_of(&scenario::prefix_of(i), 800_000),
            Some(i)
        );
        assert_eq!(
            scenario::index_of(&scenario::prefix6_of(i), 800_000),
            Some(i)
        );
    }
    for sc in &scenarios {
        assert!(
            sc.senders < usize::from(u16::MAX) && sc.peers <= 250 * 250,
            "too many peers"
        );
        assert!(
            sc.universe() < (236 << 16),
            "scenario {} has more prefixes than the 20.0.0.0-255.255.255.0 /24 space",
            sc.name
        );
        // The allow-lists cover exactly the senders' prefixes.
        for s in [0, sc.senders - 1] {
            let n: u64 = sc
                .allowed(s)
                .iter()
                .map(|(_, l)| 1u64 << (if sc.v6() { 48 } else { 24 } - l))
                .sum();
            assert_eq!(n, sc.indices(s).len() as u64, "allow-list of {}", sc.name);
        }
    }
    raise_fd_limit(scenarios.iter().map(|s| s.peers).max().unwrap_or(0));
    let netns = match env_or("E2E_NET", "loopback".to_string()).as_str() {
        "loopback" => false,
        "netns" => true,
        other => panic!("E2E_NET={other:?}: use loopback or netns"),
    };
    let st = Settings {
        netns,
        connect_timeout: Duration::from_secs(env_or("E2E_CONNECT_TIMEOUT", 300)),
        connect_parallel: env_or("E2E_CONNECT_PARALLEL", 32),
        timeout: Duration::from_secs(env_or("E2E_TIMEOUT", 600)),
        settle: Duration::from_millis(env_or("E2E_SETTLE_MS", 1000)),
        stall: Duration::from_secs(env_or("E2E_STALL", 20)),
        peerex: if servers.contains(&Kind::Peerex) {
            peerex_bin()
        } else {
            PathBuf::new()
        },
        peerex_base,
        bird: BirdOpts {
            import_table: env_or::<u8>("E2E_BIRD_IMPORT_TABLE", 0) != 0,
        },
        hold: std::env::var("E2E_HOLD")
            .ok()
            .map(|_| env_or("E2E_HOLD", 90)),
        lg_flood: env_or("E2E_LG_FLOOD", 4),
    };
    if st.hold.is_some_and(|h| h == 1 || h == 2) {
        eprintln!("error: E2E_HOLD must be 0 or at least 3 (RFC 4271)");
        std::process::exit(2);
    }
    // (Scenarios that flood the looking glass do not run on BIRD.)
    let bird_single =
        servers.contains(&Kind::BirdSingle) && scenarios.iter().any(|s| !s.stress().lg_flood);
    if netns || bird_single {
        let most = scenarios.iter().map(|s| s.peers).max().unwrap_or(0);
        if let Err(e) = net::setup(most) {
            net::teardown();
            if netns {
                panic!("E2E_NET=netns: cannot set up the namespace (needs root): {e}");
            }
            eprintln!("cannot set up the network namespace bird-single needs (root?): {e}");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("E2E_GEN_THREADS", 2))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut outcomes = Vec::new();
    for sc in &scenarios {
        eprintln!(
            "scenario {} ({}): {} sessions, {} announcements in, {} routes expected at clients",
            sc.name,
            sc.description,
            sc.peers,
            sc.announcements_sent(),
            sc.expected_routes()
        );
        for run in 1..=runs {
            for &k in &servers {
                if sc.stress().lg_flood && !k.is_peerex() {
                    if run == 1 {
                        eprintln!(
                            "scenario {}: not run on {} (it floods peerex's looking glass; \
                             peerex builds only)",
                            sc.name,
                            k.name()
                        );
                    }
                    continue;
                }
                eprintln!("scenario {}, run {run}/{runs}, {}:", sc.name, k.name());
                let o = rt.block_on(run_one(sc, k, run, &st));
                match &o.error {
                    None => eprintln!(
                        "  converged in {} (server read all input after {}), peak RSS {}, CPU {:.1} s, \
                         {} announcements delivered",
                        secs(o.converge),
                        secs(o.ingest),
                        mib(o.peak_rss_kib),
                        o.cpu_secs,
                        o.delivered
                    ),
                    Some(e) => eprintln!("  FAILED: {e}"),
                }
                outcomes.push(o);
            }
        }
    }
    if netns {
        net::teardown();
    }
    let text = report::report(&scenarios, &servers, runs, &outcomes, st.bird.import_table);
    println!("\n{text}");
    let path = target_dir().join("e2e-report.md");
    match std::fs::write(&path, &text) {
        Ok(()) => eprintln!("report written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
    if outcomes.iter().any(|o| o.error.is_some()) {
        std::process::exit(1);
    }
}
