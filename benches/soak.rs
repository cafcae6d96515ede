//! Bench `soak`: churn from many peers for a long time, and whether anything grows.
//!
//! The real peerex binary on loopback with `SOAK_PEERS` in-repo speakers (default 20). Each
//! announces `SOAK_PREFIXES` prefixes (default 5,000; 100,000 in all), every one receives
//! all the others', and then for `SOAK_SECS` seconds (default 3,600) one peer after another
//! withdraws a tenth of its table and announces it again with a new next hop, about
//! `SOAK_RATE` prefix changes per second (default 5,000). Every `SOAK_SAMPLE` seconds
//! (default 10) it samples the server's RSS, CPU seconds, open file descriptors and threads,
//! prints a table of the samples, and writes `target/soak-rss.svg` (RSS over time).
//!
//! It fails (exit status 1) when the server grows: the median RSS of the last third of the
//! samples more than `SOAK_MAX_GROWTH` percent (default 10) above the median of the first
//! third (the first sample, taken before the churn, is left out), or file descriptors or
//! threads not back to the first churn sample's, or any session lost.
//!
//! ```text
//! cargo bench --bench soak                        # one hour
//! SOAK_SECS=120 SOAK_SAMPLE=5 cargo bench --bench soak   # what CI runs
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::speaker::{announcements, loopbacks, numbered_peers, prefixes, Speaker, SpeakerOpts};
use common::{Peerex, TempDir};

const FIRST_ASN: u32 = 4_200_140_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: f64,
    rss_kib: u64,
    cpu_s: f64,
    fds: usize,
    threads: u64,
}

fn sample(pid: u32, at: f64) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of /proc/PID/stat, after the ")" of the name.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let hz = 100.0; // USER_HZ on Linux
    Sample {
        at,
        rss_kib: field("VmRSS:"),
        cpu_s: ticks as f64 / hz,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count()),
        threads: field("Threads:"),
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// A plain SVG line chart of RSS (MiB) over time (s).
fn svg(samples: &[Sample]) -> String {
    let (w, h, pad) = (800.0, 300.0, 50.0);
    let t_max = samples.last().map_or(1.0, |s| s.at.max(1.0));
    let r_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(1) as f64 / 1024.0 * 1.1;
    let x = |t: f64| pad + t / t_max * (w - 2.0 * pad);
    let y = |r: f64| h - pad - r / r_max * (h - 2.0 * pad);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{pad}\" y=\"20\">peerex RSS during the soak (MiB over seconds)</text>\n\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text x=\"{pad}\" y=\"{lb}\">0</text><text x=\"{r}\" y=\"{lb}\" text-anchor=\"end\">{t_max:.0} s</text>\n\
         <text x=\"5\" y=\"{pad}\">{r_max:.0}</text>\n",
        b = h - pad,
        r = w - pad,
        lb = h - pad + 15.0,
    );
    let points: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.1},{:.1}", x(s.at), y(s.rss_kib as f64 / 1024.0)))
        .collect();
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n</svg>",
        points.join(" ")
    );
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let peers = env("SOAK_PEERS", 20) as usize;
    let per_peer = env("SOAK_PREFIXES", 5_000) as usize;
    let secs = env("SOAK_SECS", 3_600);
    let rate = env("SOAK_RATE", 5_000);
    let every = env("SOAK_SAMPLE", 10).max(1);
    let max_growth = env("SOAK_MAX_GROWTH", 10);

    let dir = TempDir::new("soak");
    let addrs = loopbacks(74, peers);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").expect("peerex starts");
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut sp = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let s = Speaker::connect(*a, target, FIRST_ASN + i as u32, SpeakerOpts::default())
            .await
            .expect("session up");
        sp.push(s);
    }
    let all = prefixes(60, per_peer * peers);
    let tables: Vec<_> = all.chunks(per_peer).map(<[_]>::to_vec).collect();
    let nh = |i: usize, alt: bool| Ipv4Addr::new(10, 74, u8::from(alt), i as u8 + 1);
    let t0 = Instant::now();
    for (i, s) in sp.iter().enumerate() {
        s.send(&announcements(
            FIRST_ASN + i as u32,
            nh(i, false),
            &tables[i],
            &s.tx,
        ))
        .await
        .expect("send");
    }
    let want = (per_peer * (peers - 1)) as u64;
    while !sp.iter().all(|s| s.received() >= want) {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "initial load did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "soak: {peers} peers × {per_peer} prefixes loaded in {:.2} s; churn {rate}/s for {secs} s, sample every {every} s",
        t0.elapsed().as_secs_f64()
    );

    let pid = rs.pid();
    let start = Instant::now();
    let mut samples = vec![sample(pid, 0.0)];
    let slice = (per_peer / 10).max(1);
    // Each step changes `slice` prefixes twice (withdraw, announce): pace the steps to `rate`.
    let step = Duration::from_secs_f64(2.0 * slice as f64 / rate.max(1) as f64);
    let (mut peer, mut round, mut next_sample) = (0usize, 0usize, Duration::from_secs(every));
    while start.elapsed() < Duration::from_secs(secs) {
        let s = &sp[peer];
        let part = &tables[peer][(round % 10) * slice..((round % 10) + 1) * slice];
        let mut wd = bytes::BytesMut::new();
        peerex::wire::update::pack_withdraw(
            &s.tx,
            peerex::wire::Family::Ipv4Unicast,
            part,
            &mut wd,
        )
        .expect("withdraw");
        s.send(&wd).await.expect("send");
        let ann = announcements(
            FIRST_ASN + peer as u32,
            nh(peer, round % 2 == 0),
            part,
            &s.tx,
        );
        s.send(&ann).await.expect("send");
        peer = (peer + 1) % peers;
        if peer == 0 {
            round += 1;
        }
        tokio::time::sleep(step).await;
        if start.elapsed() >= next_sample {
            samples.push(sample(pid, start.elapsed().as_secs_f64()));
            next_sample += Duration::from_secs(every);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    samples.push(sample(pid, start.elapsed().as_secs_f64()));

    println!(
        "\n| t (s) | RSS (MiB) | CPU (s) | fds | threads |\n| ---: | ---: | ---: | ---: | ---: |"
    );
    let shown = samples.len().div_ceil(30).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % shown == 0 || i + 1 == samples.len() {
            println!(
                "| {:.0} | {:.1} | {:.1} | {} | {} |",
                s.at,
                s.rss_kib as f64 / 1024.0,
                s.cpu_s,
                s.fds,
                s.threads
            );
        }
    }
    let plot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/soak-rss.svg");
    if let Err(e) = std::fs::write(&plot, svg(&samples)) {
        println!("cannot write {}: {e}", plot.display());
    } else {
        println!("\nRSS plot: {}", plot.display());
    }

    let churn = &samples[1..];
    let third = (churn.len() / 3).max(1);
    let first = median(churn[..third].iter().map(|s| s.rss_kib).collect());
    let last = median(
        churn[churn.len() - third..]
            .iter()
            .map(|s| s.rss_kib)
            .collect(),
    );
    let growth = (last as f64 / first.max(1) as f64 - 1.0) * 100.0;
    let (f0, l0) = (churn[0], churn[churn.len() - 1]);
    println!(
        "\nRSS median first third {:.1} MiB, last third {:.1} MiB: {growth:+.1} % (limit {max_growth} %); \
         fds {} → {}, threads {} → {}; CPU {:.1} s over {:.0} s",
        first as f64 / 1024.0,
        last as f64 / 1024.0,
        f0.fds,
        l0.fds,
        f0.threads,
        l0.threads,
        l0.cpu_s - samples[0].cpu_s,
        l0.at
    );
    let lost = sp.iter().filter(|s| s.closed()).count();
    let mut failed = Vec::new();
    if growth > max_growth as f64 {
        failed.push(format!("RSS grew {growth:.1} %"));
    }
    if l0.fds != f0.fds || l0.threads != f0.threads {
        failed.push("file descriptors or threads changed".to_string());
    }
    if lost > 0 {
        failed.push(format!("{lost} sessions lost"));
    }
    if !failed.is_empty() {
        println!("soak FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
    println!("soak passed");
}
