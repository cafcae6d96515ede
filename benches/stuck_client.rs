//! Bench `stuck_client`: what one client with a zero receive window costs the route server.
//!
//! The real peerex binary on loopback with six in-repo speakers (tests/common/speaker.rs):
//! p0 sends, p1–p4 read everything, and p5 — in the run "with" it — sets a 4 KiB receive
//! buffer and stops reading as soon as its session is up. p0 loads a full table
//! (`STUCK_PREFIXES`, default 1,000,000 IPv4 prefixes), then churns for `STUCK_CHURN_SECS`
//! (default 600): every 100 ms it re-announces a window of the table with the other of two
//! next hops, `STUCK_CHURN_RATE` prefix changes per second in all (default 10,000). The same
//! run goes once without p5 and once with it, and the report compares the server's peak RSS
//! (VmHWM) and how long the four readers took to receive the full table.
//!
//! ```text
//! cargo bench --bench stuck_client                          # the full 10 minutes, twice
//! STUCK_CHURN_SECS=30 STUCK_PREFIXES=200000 cargo bench --bench stuck_client
//! ```
//!
//! p5 keeps its default send hold time (8 minutes): with a 10-minute churn the server drops
//! it with the RFC 9687 NOTIFICATION before the end, as it should. What it costs while it is
//! stuck is in the peak.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async as wait, Speaker, SpeakerOpts,
};
use common::{env_u64 as env, proc_status_kib, Peerex, TempDir};

const FIRST_ASN: u32 = 4_200_030_000;

struct Outcome {
    load: Duration,
    peak_kib: u64,
    end_kib: u64,
    delivered: u64,
    stuck_dropped: Option<bool>,
}

async fn run(stuck: bool, n: usize, churn: Duration, rate: u64) -> Outcome {
    let dir = TempDir::new(if stuck { "stuck-with" } else { "stuck-without" });
    let addrs = loopbacks(63, 6);
    let used = if stuck { 6 } else { 5 };
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").expect("peerex starts");
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut speakers = Vec::new();
    for (i, a) in addrs.iter().enumerate().take(used) {
        let opts = SpeakerOpts {
            recv_buffer: (i == 5).then_some(4 * 1024),
            ..SpeakerOpts::default()
        };
        let s = Speaker::connect(*a, target, FIRST_ASN + i as u32, opts)
            .await
            .expect("session up");
        if i == 5 {
            s.set_reading(false);
        }
        speakers.push(s);
    }
    wait("End-of-RIB", Duration::from_secs(30), || {
        speakers[..5].iter().all(|s| s.eor())
    })
    .await;
    let list = prefixes(40, n);
    let ctx = speakers[0].tx;
    let hops = [Ipv4Addr::new(10, 63, 0, 1), Ipv4Addr::new(10, 63, 0, 2)];
    let t0 = Instant::now();
    let full = announcements(FIRST_ASN, hops[0], &list, &ctx);
    speakers[0].send(&full).await.expect("load sent");
    wait("the table at the readers", Duration::from_secs(300), || {
        speakers[1..5].iter().all(|s| s.received() >= n as u64)
    })
    .await;
    let load = t0.elapsed();
    // Churn: windows of the table, each re-announced with the other next hop.
    let per_tick = ((rate / 10) as usize).clamp(1, n);
    let end = Instant::now() + churn;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut at = 0usize;
    let mut round = 1usize;
    while Instant::now() < end {
        tick.tick().await;
        let window = &list[at..(at + per_tick).min(n)];
        let upd = announcements(FIRST_ASN, hops[round % 2], window, &ctx);
        speakers[0].send(&upd).await.expect("churn sent");
        at += per_tick;
        if at >= n {
            at = 0;
            round += 1;
        }
    }
    // Let the readers take the last changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = speakers[1..5].iter().map(|s| s.received()).sum();
    // The stuck speaker reads nothing, so it cannot see its session close: ask the log.
    let stuck_dropped =
        stuck.then(|| rs.wait_log(&["p5", "send hold timer expired"], Duration::ZERO));
    let out = Outcome {
        load,
        peak_kib: rs.peak_rss_kib().unwrap_or(0),
        end_kib: proc_status_kib(rs.pid(), "VmRSS:").unwrap_or(0),
        delivered,
        stuck_dropped,
    };
    for s in &speakers[..5] {
        assert!(!s.closed(), "a reading client was dropped");
    }
    assert_eq!(
        speakers[1].stats.withdrawn.load(Ordering::Relaxed),
        0,
        "nothing was withdrawn"
    );
    rs.stop();
    out
}

fn main() {
    let n = env("STUCK_PREFIXES", 1_000_000) as usize;
    let secs = env("STUCK_CHURN_SECS", 600);
    let rate = env("STUCK_CHURN_RATE", 10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let churn = Duration::from_secs(secs);
    let without = rt.block_on(run(false, n, churn, rate));
    let with = rt.block_on(run(true, n, churn, rate));
    println!("# one client with a zero receive window");
    println!();
    println!(
        "{n} prefixes loaded, then {secs} s of churn at {rate} prefix changes/s; 4 reading \
         clients; peerex at its defaults."
    );
    println!();
    println!("| run | readers' load time | peak RSS | RSS at the end | delivered to the readers | stuck client dropped |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for (name, o) in [("without the stuck client", &without), ("with it", &with)] {
        println!(
            "| {name} | {:.3} s | {:.1} MiB | {:.1} MiB | {} | {} |",
            o.load.as_secs_f64(),
            o.peak_kib as f64 / 1024.0,
            o.end_kib as f64 / 1024.0,
            o.delivered,
            match o.stuck_dropped {
                Some(true) => "yes (send hold timer)",
                Some(false) => "no",
                None => "-",
            }
        );
    }
    println!();
    println!(
        "The stuck client added {:+.2} MiB to the peak RSS; the readers' load time ratio is {:.2}.",
        (with.peak_kib as f64 - without.peak_kib as f64) / 1024.0,
        with.load.as_secs_f64() / without.load.as_secs_f64()
    );
}
