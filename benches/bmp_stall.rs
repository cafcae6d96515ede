//! Bench `bmp_stall`: what a BMP collector with a zero receive window costs the route server
//! while a full table loads (issue 13: BGP convergence unchanged, the collector dropped and
//! re-synced, RSS bounded).
//!
//! The real peerex binary on loopback with five in-repo speakers (tests/common/speaker.rs):
//! p0 loads a full table (`BMP_STALL_PREFIXES`, default 1,000,000 IPv4 prefixes) and p1–p4
//! read it. In the run "with" the collector, peerex also has one `[[bmp]]` (views pre-policy
//! and post-policy, `stall_limit` = `BMP_STALL_LIMIT` seconds, default 10, `retry` = 1)
//! pointing at a listener of the bench that accepts with a 4 KiB receive buffer and reads
//! nothing — during the load and until peerex has dropped it (its `resyncs` counter in
//! `ctl --json status`). The table's first `BMP_STALL_WARMUP` prefixes (default 50,000) go
//! first, untimed: their BMP fills the collector's socket buffers, and the bench waits until
//! peerex writes no more, so that the collector is stalled when the timed load (the rest of
//! the table, sent at once) starts. After the drop the bench accepts the reconnection and
//! reads it, decoding the BMP stream, until it has one pre-policy Route Monitoring per
//! prefix of the table: the re-dump. The run "without" has no `[[bmp]]` (and waits as long).
//! The two alternate, `BMP_STALL_RUNS` pairs (default 3); medians are reported.
//!
//! `BMP_STALL_AWAY=1` measures something else instead of the re-dump: once peerex has dropped
//! the stalled collector, the listener closes (the collector stays away), and in both runs the
//! sender re-announces the whole table with another next hop; the report compares RSS after
//! that churn (what the collector's feed still holds while it cannot reconnect).
//!
//! ```text
//! cargo bench --bench bmp_stall                             # 1,000,000 prefixes, 3 pairs
//! BMP_STALL_PREFIXES=300000 BMP_STALL_RUNS=3 cargo bench --bench bmp_stall
//! BMP_STALL_AWAY=1 BMP_STALL_PREFIXES=300000 BMP_STALL_WARMUP=150000 cargo bench --bench bmp_stall
//! ```
//!
//! Memory figures: VmHWM (peak) and VmRSS of the peerex process, from /proc. "Table" is the
//! RSS the load added in the run without a collector (RSS after the load minus RSS before),
//! the yardstick for what a stalled collector may hold: one batch of about 1,024 messages
//! and the two RIB snapshots of its pass in progress, which share all but what changed since.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use peerex::bmp::msg::{flags, frame_len, Message as Bmp, PeerType};
use peerex::wire::{Message as BgpMessage, Nlri, ParseCtx};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use common::peerex::LAB_DEFAULTS;
use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};

const FIRST_ASN: u32 = 4_200_031_000;
/// The collector's socket receive buffer (the kernel doubles it, and keeps a floor).
const COLLECTOR_RCVBUF: u32 = 4096;

fn rss_kib(pid: u32) -> u64 {
    common::proc_status_kib(pid, "VmRSS:").unwrap_or(0)
}

/// One collector's counters from `ctl --json status`.
#[derive(Clone, Debug, Default)]
struct Bmp0 {
    state: String,
    sessions: u64,
    messages: u64,
    bytes: u64,
    resyncs: u64,
    last_error: String,
    /// `memory.allocator` of the same status: what mimalloc has committed, in KiB.
    alloc_kib: u64,
}

/// `ctl --json status`: the allocator's committed KiB, and the collector when there is one.
fn status(rs: &Peerex) -> (u64, Option<Bmp0>) {
    let st = rs.ctl_json(&["status"]).expect("ctl status");
    let alloc_kib = st.at(&["memory", "allocator"]).as_u64().unwrap_or(0) / 1024;
    let list = st.get("bmp_collectors").as_array();
    let c = list.first().map(|c| Bmp0 {
        state: c.get("state").as_str().unwrap_or("").to_string(),
        sessions: c.get("sessions").as_u64().unwrap_or(0),
        messages: c.get("messages").as_u64().unwrap_or(0),
        bytes: c.get("bytes").as_u64().unwrap_or(0),
        resyncs: c.get("resyncs").as_u64().unwrap_or(0),
        last_error: c.get("last_error").as_str().unwrap_or("").to_string(),
        alloc_kib,
    });
    (alloc_kib, c)
}

fn collector(rs: &Peerex) -> Bmp0 {
    status(rs).1.expect("one BMP collector in ctl status")
}

#[derive(Clone, Debug, Default)]
struct Outcome {
    /// Until all four readers had the whole table.
    load: Duration,
    /// RSS with the sessions up, before the load.
    before_kib: u64,
    /// RSS when the readers had the table.
    loaded_kib: u64,
    /// Peak RSS up to the stall's end ("with": peerex has dropped the collector; "without":
    /// `stall_limit` after the load).
    peak_kib: u64,
    /// "with": the highest RSS sampled while the collector was stalled, after the load;
    /// "without": the highest over the same wait after the load.
    stalled_kib: u64,
    /// RSS right before the bench starts reading ("without": at the same point).
    pre_read_kib: u64,
    /// mimalloc's committed memory (`ctl status`) when the readers had the table, at the
    /// last poll before the drop ("without": at the end of the same wait), and right after.
    alloc_loaded_kib: u64,
    alloc_stalled_kib: u64,
    alloc_after_kib: u64,
    /// `BMP_STALL_AWAY` only.
    away: Option<Away>,
    /// Peak RSS at the end (after the re-dump, "with").
    end_peak_kib: u64,
    bmp: Option<BmpOutcome>,
}

#[derive(Clone, Debug, Default)]
struct BmpOutcome {
    /// BMP bytes peerex had written (into the socket buffers) when it stalled.
    bytes_before_stall: u64,
    /// Seconds from the readers having the table until peerex dropped the collector
    /// (negative: during the load).
    dropped_after: f64,
    resyncs: u64,
    /// From accepting the reconnection until one pre-policy Route Monitoring per prefix.
    redump: Duration,
    redump_bytes: u64,
    redump_messages: u64,
    read_nothing_logged: bool,
    sessions: u64,
}

/// A listener that accepts with a small receive buffer (an accepted socket inherits it).
fn small_listener() -> TcpListener {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(COLLECTOR_RCVBUF)
        .expect("SO_RCVBUF");
    sock.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .expect("bind");
    sock.listen(16).expect("listen")
}

/// Reads the BMP stream until it holds a pre-policy Route Monitoring (global peer) for each
/// of `n` distinct prefixes; returns (bytes, messages) read.
async fn read_dump(stream: &mut TcpStream, n: usize, timeout: Duration) -> (u64, u64) {
    let deadline = Instant::now() + timeout;
    let ctx = ParseCtx {
        four_octet_as: true,
        extended_message: true,
        ebgp: false,
        ..ParseCtx::new()
    };
    let mut seen: HashSet<Nlri> = HashSet::with_capacity(n);
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let (mut bytes, mut messages) = (0u64, 0u64);
    let mut kinds = [0u64; 7];
    while seen.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = match tokio::time::timeout(left, stream.read_buf(&mut buf)).await {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => panic!("reading the collector stream: {e}"),
            Err(_) => panic!(
                "the re-dump did not complete in {timeout:?}: {} of {n} prefixes, {messages} \
                 messages ({kinds:?} by type)",
                seen.len()
            ),
        };
        assert!(
            got > 0,
            "peerex closed the collector stream during the re-dump ({} of {n} prefixes)",
            seen.len()
        );
        bytes += got as u64;
        loop {
            let len = match frame_len(&buf) {
                Ok(Some(l)) if buf.len() >= l => l,
                Ok(_) => break,
                Err(e) => panic!("bad BMP framing: {e:?}"),
            };
            let frame: Bytes = buf.split_to(len).freeze();
            let (msg, used) = Bmp::decode(&frame)
                .expect("BMP message decodes")
                .expect("a whole message");
            assert_eq!(used, len);
            messages += 1;
            let k = frame.get(5).copied().unwrap_or(6).min(6);
            kinds[k as usize] += 1;
            if let Bmp::RouteMonitoring { peer, update } = msg {
                if peer.peer_type == PeerType::Global && peer.flags & flags::POST_POLICY == 0 {
                    match BgpMessage::decode(update, &ctx) {
                        Ok(BgpMessage::Update(u)) => seen.extend(u.announced()),
                        other => panic!("a Route Monitoring without an UPDATE: {other:?}"),
                    }
                }
            }
        }
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(256 * 1024);
        }
    }
    (bytes, messages)
}

async fn run(with: bool, n: usize, warm: usize, stall_limit: u64, away: bool) -> Outcome {
    let dir = TempDir::new(if with {
        "bmp-stall-with"
    } else {
        "bmp-stall-without"
    });
    let addrs = loopbacks(64, 5);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let listener = with.then(small_listener);
    let mut defaults = LAB_DEFAULTS.to_string();
    if let Some(l) = &listener {
        let port = l.local_addr().expect("listener address").port();
        defaults.push_str(&format!(
            "\n[[bmp]]\nname = \"stalled\"\naddress = \"127.0.0.1\"\nport = {port}\n\
             views = [\"pre-policy\", \"post-policy\"]\nstall_limit = {stall_limit}\nretry = 1\n"
        ));
    }
    let rs = Peerex::start_with_defaults(&dir, &cfg, "", &defaults).expect("peerex starts");
    let pid = rs.pid();
    // The collector's first connection: accepted, held, never read.
    let stalled = match &listener {
        Some(l) => Some(
            tokio::time::timeout(Duration::from_secs(20), l.accept())
                .await
                .expect("peerex connects to the collector")
                .expect("accept")
                .0,
        ),
        None => None,
    };
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut speakers = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let s = Speaker::connect(*a, target, FIRST_ASN + i as u32, SpeakerOpts::default())
            .await
            .expect("session up");
        speakers.push(s);
    }
    wait_async("End-of-RIB", Duration::from_secs(30), || {
        speakers.iter().all(|s| s.eor())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_kib = rss_kib(pid);
    let list = prefixes(40, n);
    let ctx = speakers[0].tx;
    let hop = Ipv4Addr::new(10, 64, 0, 1);
    // Warm-up: the table's first `warm` prefixes, not timed. They make peerex write more
    // BMP than the socket buffers hold, so that the collector is stalled before the timed
    // load starts.
    let first = announcements(FIRST_ASN, hop, &list[..warm], &ctx);
    speakers[0].send(&first).await.expect("warm-up sent");
    wait_async(
        "the warm-up at the readers",
        Duration::from_secs(120),
        || speakers[1..5].iter().all(|s| s.received() >= warm as u64),
    )
    .await;
    let mut stalled_kib = 0u64;
    let mut stall_bytes = 0u64;
    if with {
        // Stalled: nothing more written for 2.5 s (over two passes), well short of what the
        // warm-up makes (two Route Monitoring messages of at least 90 bytes per prefix).
        let t = Instant::now();
        let (mut last, mut since) = (u64::MAX, Instant::now());
        loop {
            let c = collector(&rs);
            assert_eq!(c.resyncs, 0, "dropped before the load: {c:?}");
            if c.bytes != last {
                (last, since) = (c.bytes, Instant::now());
            } else if since.elapsed() >= Duration::from_millis(2500)
                && c.bytes < warm as u64 * 2 * 90
            {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the collector did not stall: {c:?}"
            );
            stalled_kib = stalled_kib.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        stall_bytes = last;
    } else {
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let rest = announcements(FIRST_ASN, hop, &list[warm..], &ctx);
    drop(list);
    let t0 = Instant::now();
    speakers[0].send(&rest).await.expect("load sent");
    drop(rest);
    wait_async("the table at the readers", Duration::from_secs(600), || {
        stalled_kib = stalled_kib.max(rss_kib(pid));
        speakers[1..5].iter().all(|s| s.received() >= n as u64)
    })
    .await;
    let load = t0.elapsed();
    let loaded_kib = rss_kib(pid);
    stalled_kib = stalled_kib.max(loaded_kib);
    let alloc_loaded_kib = status(&rs).0;
    let mut alloc_stalled_kib = alloc_loaded_kib;

    let mut bmp = None;
    if let (Some(listener), Some(stalled)) = (listener, stalled) {
        // Wait, reading nothing, until peerex drops the collector.
        let limit = Duration::from_secs(stall_limit * 3 + 120);
        let c = loop {
            let c = collector(&rs);
            if c.resyncs >= 1 {
                break c;
            }
            alloc_stalled_kib = c.alloc_kib;
            stalled_kib = stalled_kib.max(rss_kib(pid));
            assert!(
                t0.elapsed() < load + limit,
                "peerex did not drop the stalled collector within {limit:?} of the load: {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        // Positive: after the readers had the table.
        let dropped_after = t0.elapsed().as_secs_f64() - load.as_secs_f64();
        if away {
            // The collector goes away: connections to it are refused from now on.
            drop(listener);
            drop(stalled);
            let a = churn_sample(&rs, &speakers, n).await;
            check_readers(&speakers);
            rs.stop();
            return Outcome {
                load,
                before_kib,
                loaded_kib,
                stalled_kib,
                away: Some(a),
                ..Outcome::default()
            };
        }
        let peak_kib = common::proc_status_kib(pid, "VmHWM:").unwrap_or(0);
        drop(stalled);
        let pre_read_kib = rss_kib(pid);
        let alloc_after_kib = c.alloc_kib;
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
            .await
            .expect("peerex reconnects to the collector")
            .expect("accept");
        let t1 = Instant::now();
        let (redump_bytes, redump_messages) =
            read_dump(&mut conn, n, Duration::from_secs(600)).await;
        let redump = t1.elapsed();
        let after = collector(&rs);
        assert_eq!(
            after.resyncs, 1,
            "the collector was dropped again while reading: {after:?}"
        );
        bmp = Some(BmpOutcome {
            bytes_before_stall: stall_bytes,
            dropped_after,
            resyncs: c.resyncs,
            redump,
            redump_bytes,
            redump_messages,
            read_nothing_logged: rs.wait_log(&["stalled", "read nothing"], Duration::ZERO),
            sessions: after.sessions,
        });
        eprintln!(
            "with: load {:.2} s, dropped {:+.1} s after the load's end ({}: {}, {} messages \
             written), re-dump {:.2} s",
            load.as_secs_f64(),
            dropped_after,
            c.state,
            c.last_error,
            c.messages,
            redump.as_secs_f64()
        );
        let out = Outcome {
            load,
            before_kib,
            loaded_kib,
            peak_kib,
            stalled_kib,
            pre_read_kib,
            alloc_loaded_kib,
            alloc_stalled_kib,
            alloc_after_kib,
            end_peak_kib: common::proc_status_kib(pid, "VmHWM:").unwrap_or(0),
            bmp,
            away: None,
        };
        check_readers(&speakers);
        rs.stop();
        return out;
    }
    // Without: the same wait after the load as the stall would take, polling `ctl status` as
    // often (the polls cost CPU and let the allocator give freed memory back).
    let until = Instant::now() + Duration::from_secs(stall_limit);
    while Instant::now() < until {
        alloc_stalled_kib = status(&rs).0;
        stalled_kib = stalled_kib.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let peak_kib = common::proc_status_kib(pid, "VmHWM:").unwrap_or(0);
    let alloc_after_kib = status(&rs).0;
    let away = if away {
        Some(churn_sample(&rs, &speakers, n).await)
    } else {
        None
    };
    eprintln!("without: load {:.2} s", load.as_secs_f64());
    let out = Outcome {
        load,
        before_kib,
        loaded_kib,
        peak_kib,
        stalled_kib,
        pre_read_kib: rss_kib(pid),
        alloc_loaded_kib,
        alloc_stalled_kib,
        alloc_after_kib,
        end_peak_kib: peak_kib,
        bmp,
        away,
    };
    check_readers(&speakers);
    rs.stop();
    out
}

/// `BMP_STALL_AWAY`: the sender re-announces the whole table with another next hop; then
/// RSS and the allocator are sampled for 3 s (the last sample kept).
async fn churn_sample(rs: &Peerex, speakers: &[Speaker], n: usize) -> Away {
    let list = prefixes(40, n);
    let ctx = speakers[0].tx;
    let upd = announcements(FIRST_ASN, Ipv4Addr::new(10, 64, 0, 2), &list, &ctx);
    drop(list);
    let t = Instant::now();
    speakers[0].send(&upd).await.expect("churn sent");
    drop(upd);
    wait_async("churn at the readers", Duration::from_secs(600), || {
        speakers[1..5].iter().all(|s| s.received() >= 2 * n as u64)
    })
    .await;
    let took = t.elapsed();
    let mut rss = 0;
    let mut alloc = 0;
    for _ in 0..15 {
        alloc = status(rs).0;
        rss = rss_kib(rs.pid());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = status(rs).1;
    eprintln!(
        "away: churn {:.2} s, RSS {:.1} MiB, allocator {:.1} MiB, collector {:?}",
        took.as_secs_f64(),
        mib(rss),
        mib(alloc),
        c.as_ref().map(|c| (&c.state, c.sessions, c.resyncs))
    );
    Away {
        churn: took,
        rss_kib: rss,
        alloc_kib: alloc,
        collector: c.map(|c| c.state).unwrap_or_else(|| "-".into()),
    }
}

/// What `BMP_STALL_AWAY` measures.
#[derive(Clone, Debug, Default)]
struct Away {
    churn: Duration,
    rss_kib: u64,
    alloc_kib: u64,
    collector: String,
}

fn check_readers(speakers: &[Speaker]) {
    for s in speakers {
        assert!(!s.closed(), "a BGP session was dropped");
    }
    for s in &speakers[1..] {
        assert_eq!(
            s.stats.withdrawn.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "nothing was withdrawn"
        );
    }
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v[v.len() / 2]
}

fn b(o: &Outcome) -> BmpOutcome {
    o.bmp.clone().unwrap_or_default()
}

fn a(o: &Outcome) -> Away {
    o.away.clone().unwrap_or_default()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let n = common::env_u64("BMP_STALL_PREFIXES", 1_000_000) as usize;
    let runs = common::env_u64("BMP_STALL_RUNS", 3).max(1) as usize;
    let stall_limit = common::env_u64("BMP_STALL_LIMIT", 10).max(1);
    let warm = (common::env_u64("BMP_STALL_WARMUP", 50_000) as usize).clamp(1, n / 2);
    let away = common::env_u64("BMP_STALL_AWAY", 0) != 0;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut without = Vec::new();
    let mut with = Vec::new();
    for i in 0..runs {
        eprintln!("pair {}/{runs}", i + 1);
        without.push(rt.block_on(run(false, n, warm, stall_limit, away)));
        with.push(rt.block_on(run(true, n, warm, stall_limit, away)));
    }
    let m = |v: &[Outcome], f: fn(&Outcome) -> f64| median(v.iter().map(f).collect::<Vec<_>>());
    let load = |o: &Outcome| o.load.as_secs_f64();
    let table = |o: &Outcome| mib(o.loaded_kib.saturating_sub(o.before_kib));
    if away {
        println!("# a BMP collector that stalled, was dropped and stays away, during churn");
        println!();
        println!(
            "{n} IPv4 prefixes ({warm} of them before the collector stalled), 4 reading clients; \
             {runs} pairs alternating, medians. \"with\": views = [\"pre-policy\", \
             \"post-policy\"], stall_limit = {stall_limit} s, retry = 1 s; after peerex drops \
             the stalled collector its listener closes (reconnections are refused). Then, in both \
             runs, the sender re-announces the whole table with another next hop; RSS and \
             the allocator 3 s after the readers have it all."
        );
        println!();
        println!("| run | readers' load time | RSS loaded | churn at the readers | RSS after the churn | allocator after the churn | collector |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
        for (name, v) in [
            ("without a collector", &without),
            ("with the collector away", &with),
        ] {
            println!(
                "| {name} | {:.3} s | {:.1} MiB | {:.3} s | {:.1} MiB | {:.1} MiB | {} |",
                m(v, load),
                m(v, |o| mib(o.loaded_kib)),
                m(v, |o| a(o).churn.as_secs_f64()),
                m(v, |o| mib(a(o).rss_kib)),
                m(v, |o| mib(a(o).alloc_kib)),
                a(&v[0]).collector,
            );
        }
        println!();
        let extra = m(&with, |o| mib(a(o).rss_kib)) - m(&without, |o| mib(a(o).rss_kib));
        println!(
            "RSS after the churn, with minus without: {extra:+.1} MiB ({:+.1} % of the {:.1} MiB \
             the table adds). A collector that is away should cost nothing: its feed lets go of \
             its snapshots when the session ends (what it kept until 957d4a5 grew with the \
             churn: +27.5 MiB here).",
            100.0 * extra / m(&without, table).max(f64::MIN_POSITIVE),
            m(&without, table),
        );
        return;
    }

    println!("# a BMP collector with a zero receive window during a full-table load");
    println!();
    println!(
        "{n} IPv4 prefixes loaded by one sender, 4 reading clients, peerex at its defaults; \
         {runs} pairs alternating, medians. The first {warm} prefixes are a warm-up (not \
         timed; with the collector, the BMP they make fills its socket buffers and it stalls); \
         the readers' load time is for the other {} prefixes, sent at once. \"with\": one \
         `[[bmp]]` collector, views = [\"pre-policy\", \"post-policy\"], stall_limit = \
         {stall_limit} s, retry = 1 s, whose listener accepts with a {COLLECTOR_RCVBUF}-byte \
         receive buffer and reads nothing until peerex drops it; then it reads the re-dump.",
        n - warm
    );
    println!();
    println!(
        "| run | readers' load time | RSS before the load | RSS loaded | RSS while stalled \
         (max) | RSS before reading | peak RSS to the drop | peak RSS at the end | allocator \
         loaded | allocator while stalled | allocator at the drop |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, v) in [
        ("without a collector", &without),
        ("with the stalled collector", &with),
    ] {
        println!(
            "| {name} | {:.3} s | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | \
             {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            m(v, load),
            m(v, |o| mib(o.before_kib)),
            m(v, |o| mib(o.loaded_kib)),
            m(v, |o| mib(o.stalled_kib)),
            m(v, |o| mib(o.pre_read_kib)),
            m(v, |o| mib(o.peak_kib)),
            m(v, |o| mib(o.end_peak_kib)),
            m(v, |o| mib(o.alloc_loaded_kib)),
            m(v, |o| mib(o.alloc_stalled_kib)),
            m(v, |o| mib(o.alloc_after_kib)),
        );
    }
    println!();
    println!(
        "\"allocator\": mimalloc's committed memory from `ctl status` (memory.allocator); \
         \"at the drop\": the first status showing the resync (without: the end of the same \
         wait)."
    );
    println!();
    println!("| collector (with) | resyncs | sessions | BMP bytes out before the stall | dropped after the load's end | re-dump time | re-dump read | \"read nothing\" logged |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    println!(
        "| views pre-policy + post-policy, stall_limit {stall_limit} s | {} | {} | {:.1} MiB | {:+.1} s | {:.2} s | {:.1} MiB, {:.0} messages | {} |",
        m(&with, |o| b(o).resyncs as f64),
        m(&with, |o| b(o).sessions as f64),
        m(&with, |o| b(o).bytes_before_stall as f64 / 1048576.0),
        m(&with, |o| b(o).dropped_after),
        m(&with, |o| b(o).redump.as_secs_f64()),
        m(&with, |o| b(o).redump_bytes as f64 / 1048576.0),
        m(&with, |o| b(o).redump_messages as f64),
        if with.iter().all(|o| b(o).read_nothing_logged) { "yes, every run" } else { "NO" },
    );
    println!();
    println!("Per run (load time without / with): {}", {
        let v: Vec<String> = without
            .iter()
            .zip(&with)
            .map(|(a, c)| format!("{:.3} / {:.3} s", load(a), load(c)))
            .collect();
        v.join(", ")
    });
    println!();
    let tbl = m(&without, table);
    let stalled_extra = m(&with, |o| mib(o.stalled_kib)) - m(&without, |o| mib(o.stalled_kib));
    println!(
        "Readers' load time ratio with/without: {:.2}. Peak RSS difference to the drop: {:+.1} MiB, \
         at the end (after the re-dump): {:+.1} MiB. RSS while stalled minus RSS over the same \
         wait without a collector: {:+.1} MiB, {:.1} % of the {:.1} MiB the table adds.",
        m(&with, load) / m(&without, load),
        m(&with, |o| mib(o.peak_kib)) - m(&without, |o| mib(o.peak_kib)),
        m(&with, |o| mib(o.end_peak_kib)) - m(&without, |o| mib(o.end_peak_kib)),
        stalled_extra,
        100.0 * stalled_extra / tbl.max(f64::MIN_POSITIVE),
        tbl,
    );
    println!();
    let alloc_extra =
        m(&with, |o| mib(o.alloc_stalled_kib)) - m(&without, |o| mib(o.alloc_stalled_kib));
    let freed = |o: &Outcome| mib(o.alloc_stalled_kib) - mib(o.alloc_after_kib);
    println!(
        "Allocator while stalled, with minus without: {alloc_extra:+.1} MiB ({:+.1} % of the \
         table); given back at the drop: {:+.1} MiB with the collector, {:+.1} MiB without.",
        100.0 * alloc_extra / tbl.max(f64::MIN_POSITIVE),
        m(&with, freed),
        m(&without, freed),
    );
    println!();
    println!(
        "What a stalled collector holds does not grow with the time it stalls nor with what it \
         misses (nothing is queued for it): one batch (about 1,024 messages, written whole) \
         and the two RIB snapshots of its pass in progress. Those share with the live RIB all \
         but what changed since the pass began, so the extra grows with the RIB changes during \
         the stall (here the load after the warm-up only adds tree nodes; churn would keep the \
         replaced entries too), at most the snapshot's whole table. The feed lets them go when \
         the session ends (the drop), whether or not the collector comes back (see \
         BMP_STALL_AWAY). The socket buffers (here {:.1} MiB \
         written before the stall) are kernel memory, not in peerex's RSS.",
        m(&with, |o| b(o).bytes_before_stall as f64 / 1048576.0),
    );
}
