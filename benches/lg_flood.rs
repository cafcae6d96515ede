//! Does a flood of looking-glass requests slow UPDATE processing? (issue 6)
//!
//! ```sh
//! cargo bench --bench lg_flood                         # defaults below
//! LGF_PREFIXES=20000 LGF_RUNS=3 cargo bench --bench lg_flood
//! ```
//!
//! Runs the real peerex release binary (built first, or `PEEREX_BIN`) with a looking glass,
//! and the e2e bench's load generator (`benches/e2e/{scenario,load}.rs`): `LGF_SENDERS`
//! (default 2) peers announce `LGF_PREFIXES` (default 50,000) prefixes each, `LGF_CLIENTS`
//! (default 2) further peers only receive; the time from the first UPDATE written to every
//! client holding its exact table is one sample. Samples alternate between *quiet* (no HTTP
//! traffic) and *flood* (`LGF_FLOODERS`, default 8, threads sending looking-glass requests
//! back to back over fresh connections for the whole run: status, neighbours, /metrics,
//! birdwatcher protocols, prefix lookups, `why`, and a neighbour's routes pages), with a
//! fresh server per sample, `LGF_RUNS` (default 5) samples each. Prints both medians, the
//! ratio flood/quiet, and how many requests the flood got answered.
//!
//! With `LGF_ABUSE=1` (the default) every run adds an *abuse* sample: the looking glass and
//! the control socket under abusive clients (`lg_flood/abuse.rs`: 1,000 concurrent requests,
//! slow-loris, oversized and malformed requests, clients that never read, and the same kinds
//! on the control socket) from 3 s before the table is sent until convergence, and at least
//! `LGF_ABUSE_SECS` (default 15) in all, while a witness asks both for their status every
//! 250 ms.
//!
//! Not a test of speed: nothing is asserted about the ratios; they are figures for the
//! report. It does fail (exit 1) when the server does not survive: a BGP session ends, the
//! process dies, a bad request gets a 2xx or 5xx answer, no slow-loris connection is closed
//! by the server (it gives a request head 10 s), or the looking glass or the control
//! socket does not answer the witness within 15 s after the abusers stopped. CI runs a short
//! form: `LGF_PREFIXES=10000 LGF_RUNS=1 cargo bench --bench lg_flood`.

#[path = "lg_flood/abuse.rs"]
mod abuse;
#[allow(dead_code)]
#[path = "e2e/lg.rs"]
mod lg;
#[allow(dead_code)]
#[path = "e2e/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "e2e/scenario.rs"]
mod scenario;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use load::Peer;
use scenario::{Kind, Scenario, BASE_ASN, RS_ASN};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

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

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("no free port");
    l.local_addr().expect("local address").port()
}

struct Server {
    child: Child,
    bgp: SocketAddr,
    lg: SocketAddr,
    ctl: PathBuf,
}

impl Server {
    fn start(bin: &Path, dir: &Path, sc: &Scenario) -> Server {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("bench directory");
        let (bgp, lg) = (free_port(), free_port());
        let mut c = String::new();
        let _ = writeln!(
            c,
            "[server]\nasn = {RS_ASN}\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{bgp}\"]\n"
        );
        let _ = writeln!(
            c,
            "[control]\nsocket = \"{}\"\n",
            dir.join("peerex.sock").display()
        );
        let _ = writeln!(
            c,
            "[looking_glass]\nlisten = \"127.0.0.1:{lg}\"\nmax_results = 1000\n"
        );
        // The generator's paths cross well-known transit ASNs (174, 1299, ...) that the
        // default transit-free check refuses; the e2e bench turns the same checks off.
        let _ = writeln!(
            c,
            "[defaults]\nreject_bogon_asns = false\nreject_transit_free = false\n"
        );
        for p in 0..sc.peers {
            let _ = writeln!(
                c,
                "[[peer]]\nname = \"p{p}\"\nasn = {}\naddress = \"{}\"\n",
                BASE_ASN + p as u32,
                scenario::peer_addr(p)
            );
        }
        let cfg = dir.join("peerex.toml");
        std::fs::write(&cfg, c).expect("config");
        let log = std::fs::File::create(dir.join("peerex.log")).expect("log");
        let child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .arg("--log-level")
            .arg("warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("cannot start peerex");
        let lg = SocketAddr::from((Ipv4Addr::LOCALHOST, lg));
        let t = Instant::now();
        while TcpStream::connect(lg).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "peerex did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            bgp: SocketAddr::from((Ipv4Addr::LOCALHOST, bgp)),
            lg,
            ctl: dir.join("peerex.sock"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, then wait.
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What runs beside the table's load in one sample.
#[derive(Clone, Copy, PartialEq)]
enum Load {
    Quiet,
    Flood(usize),
    Abuse,
}

/// One sample: time to convergence, LG requests served meanwhile (flood), and what the
/// abusers and the witness saw (abuse).
async fn sample(
    bin: &Path,
    sc: &Arc<Scenario>,
    load: Load,
    tag: &str,
) -> (Duration, u64, Option<Arc<abuse::Tally>>) {
    let dir = target_dir().join("lg_flood").join(tag);
    let server = Server::start(bin, &dir, sc);
    let epoch = Instant::now();
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
    let mut peers: Vec<Peer> = Vec::new();
    for p in 0..sc.peers {
        let t = Instant::now();
        loop {
            match Peer::connect(p, server.bgp, sc.clone(), epoch).await {
                Ok(peer) => {
                    peers.push(peer);
                    break;
                }
                Err(e) if t.elapsed() > Duration::from_secs(30) => {
                    panic!("peer {p} could not establish its session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The abusers start 3 s before the table is sent (their connections are open and the
    // slow ones are dripping when the load begins) and run at least `LGF_ABUSE_SECS`
    // (default 15: longer than the 10 s the looking glass gives a request head).
    let abuse_from = Instant::now();
    let abusers = (load == Load::Abuse).then(|| {
        let a = abuse::Abuse::start(server.lg, &server.ctl);
        std::thread::sleep(Duration::from_secs(3));
        a
    });
    let flood = if let Load::Flood(flooders) = load {
        let f = lg::Flood::start(server.lg, flooders);
        // Let the flood reach full speed before the clock starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some(f)
    } else {
        None
    };
    let before = flood.as_ref().map_or(0, lg::Flood::answered);
    let t0 = Instant::now();
    let t0_ns = load::ns_since(epoch);
    let sends: Vec<_> = tables
        .into_iter()
        .zip(&peers)
        .map(|(t, p)| p.spawn_send(t, epoch))
        .collect();
    let converged_ns = loop {
        tokio::time::sleep(Duration::from_millis(2)).await;
        if peers.iter().all(|p| p.rx.converged.load(Ordering::Acquire)) {
            break peers
                .iter()
                .map(|p| p.rx.converged_at_ns.load(Ordering::Relaxed))
                .max()
                .unwrap_or(t0_ns)
                .max(t0_ns);
        }
        if let Some(p) = peers.iter().find(|p| p.rx.closed.load(Ordering::Acquire)) {
            panic!(
                "session of peer {} ended: {:?}",
                p.index,
                p.rx.error.lock().unwrap()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no convergence after 300 s"
        );
    };
    let during = flood.as_ref().map_or(0, lg::Flood::answered) - before;
    if let Some(f) = flood {
        f.stop();
    }
    for s in sends {
        let _ = s.await;
    }
    let tally = abusers.map(|a| {
        let least = Duration::from_secs(env_or("LGF_ABUSE_SECS", 15));
        if let Some(rest) = least.checked_sub(abuse_from.elapsed()) {
            std::thread::sleep(rest);
        }
        let tally = a.stop();
        recovered(&server);
        if let Some(p) = peers.iter().find(|p| p.rx.closed.load(Ordering::Acquire)) {
            fail(&format!("session of peer {} ended under abuse", p.index));
        }
        tally
    });
    drop(peers);
    drop(server);
    (Duration::from_nanos(converged_ns - t0_ns), during, tally)
}

fn fail(why: &str) -> ! {
    eprintln!("lg_flood: FAILED: {why}");
    std::process::exit(1)
}

/// After the abusers stopped: the process lives, and the looking glass and the control
/// socket answer within 15 s.
fn recovered(server: &Server) {
    let t = Instant::now();
    loop {
        let lg = abuse::raw(
            server.lg,
            b"GET /api/v1/status HTTP/1.1\r\nHost: lg\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        ) == 200;
        let ctl = abuse::ctl_status(&server.ctl, Duration::from_secs(5));
        if lg && ctl {
            return;
        }
        if t.elapsed() > Duration::from_secs(15) {
            fail(&format!(
                "15 s after the abuse stopped: looking glass answers {lg}, control socket answers {ctl}"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let per_sender: usize = env_or("LGF_PREFIXES", 50_000);
    let senders: usize = env_or("LGF_SENDERS", 2);
    let clients: usize = env_or("LGF_CLIENTS", 2);
    let runs: usize = env_or("LGF_RUNS", 5).max(1);
    let flooders: usize = env_or("LGF_FLOODERS", 8).max(1);
    let with_abuse = env_or("LGF_ABUSE", 1usize) != 0;
    scenario::NETNS.store(false, Ordering::Relaxed);
    // A burst is 1,000 sockets here and up to the connection limit in the server.
    load::raise_nofile();
    let bin = peerex_bin();
    let sc = Arc::new(Scenario {
        name: "lg",
        description: String::new(),
        peers: senders + clients,
        senders,
        per_sender,
        kind: Kind::Disjoint,
        group: 8,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (mut quiet, mut flooded, mut abused) = (Vec::new(), Vec::new(), Vec::new());
    println!(
        "lg_flood: {senders} senders x {per_sender} prefixes, {clients} receiving clients, \
         {flooders} flood threads, abuse {}, {runs} samples each, cores: {}",
        if with_abuse { "on" } else { "off" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for i in 0..runs {
        let (q, _, _) = rt.block_on(sample(&bin, &sc, Load::Quiet, &format!("quiet-{i}")));
        let (f, n, _) = rt.block_on(sample(
            &bin,
            &sc,
            Load::Flood(flooders),
            &format!("flood-{i}"),
        ));
        println!(
            "  sample {i}: quiet {:>8.3} s   flood {:>8.3} s   ({n} LG requests answered during the flood run, {:.0}/s)",
            q.as_secs_f64(),
            f.as_secs_f64(),
            n as f64 / f.as_secs_f64()
        );
        quiet.push(q);
        flooded.push(f);
        if with_abuse {
            let (a, _, tally) = rt.block_on(sample(&bin, &sc, Load::Abuse, &format!("abuse-{i}")));
            let t = tally.expect("abuse tally");
            let (lg_ok, lg_n, lg_med, lg_max) = abuse::summary(&t.witness_lg.lock().unwrap());
            let (c_ok, c_n, c_med, c_max) = abuse::summary(&t.witness_ctl.lock().unwrap());
            println!(
                "            abuse {:>8.3} s   burst answered {} refused {}, slow-loris closed by the server {}, \
                 bad requests 4xx {} closed {}, never-reading connections {}, control errors answered {}",
                a.as_secs_f64(),
                t.burst_answered.load(Ordering::Relaxed),
                t.burst_refused.load(Ordering::Relaxed),
                t.loris_closed_by_server.load(Ordering::Relaxed),
                t.bad_4xx.load(Ordering::Relaxed),
                t.bad_closed.load(Ordering::Relaxed),
                t.deaf_open.load(Ordering::Relaxed),
                t.ctl_errors_answered.load(Ordering::Relaxed),
            );
            println!(
                "            witness: looking glass {lg_ok}/{lg_n} answered (median {:.1} ms, max {:.1} ms), \
                 control socket {c_ok}/{c_n} (median {:.1} ms, max {:.1} ms)",
                lg_med.as_secs_f64() * 1e3,
                lg_max.as_secs_f64() * 1e3,
                c_med.as_secs_f64() * 1e3,
                c_max.as_secs_f64() * 1e3,
            );
            if t.loris_closed_by_server.load(Ordering::Relaxed) == 0 {
                fail("no slow-loris connection was closed by the server during the abuse");
            }
            let wrong = t.bad_wrong.lock().unwrap();
            if !wrong.is_empty() {
                fail(&format!("bad requests got wrong answers: {wrong:?}"));
            }
            abused.push(a);
        }
    }
    let (mq, mf) = (median(&mut quiet), median(&mut flooded));
    println!(
        "median convergence: quiet {:.3} s, with LG flood {:.3} s, ratio flood/quiet {:.3}",
        mq.as_secs_f64(),
        mf.as_secs_f64(),
        mf.as_secs_f64() / mq.as_secs_f64()
    );
    if with_abuse {
        let ma = median(&mut abused);
        println!(
            "median convergence under abuse {:.3} s, ratio abuse/quiet {:.3}",
            ma.as_secs_f64(),
            ma.as_secs_f64() / mq.as_secs_f64()
        );
    }
}
