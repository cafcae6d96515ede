//! RIB snapshots from outside the RIB: an MRT TABLE_DUMP_V2 dump read back by Debian's
//! `bgpdump`, and a reader looping over snapshots while a million prefixes load.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peerex::policy::{PeerId, Verdict};
use peerex::rib::mrt::{write_dump, MrtPeer};
use peerex::rib::{ExportPolicy, Rib, RibSnapshot, RouteAttrs, RouteBatch, ShardMsg};
use peerex::wire::{
    AsPath, Asn, Community, Family, LargeCommunity, MpNextHop, Nlri, Origin, PathAttributes, Prefix,
};

fn attrs(
    path: &[u32],
    med: Option<u32>,
    communities: &[(u16, u16)],
    nh: MpNextHop,
) -> Arc<RouteAttrs> {
    Arc::new(RouteAttrs::new(
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path.iter().map(|a| Asn(*a)))),
            med,
            communities: communities
                .iter()
                .map(|(a, b)| Community::new(*a, *b))
                .collect(),
            large_communities: vec![LargeCommunity::new(path[0], 1, 2)],
            ..PathAttributes::default()
        },
        nh,
    ))
}

async fn send(rib: &Rib, peer: u32, family: Family, a: Arc<RouteAttrs>, list: Vec<Nlri>) {
    for n in list {
        let shard = peerex::rib::shard_of(&n.prefix, rib.shards());
        rib.send(
            shard,
            ShardMsg::Routes(RouteBatch {
                peer: PeerId(peer),
                family,
                attrs: Some(a.clone()),
                verdict: Verdict::ACCEPT,
                announce: vec![n],
                withdraw: vec![],
            }),
        )
        .await;
    }
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// Waits until the published snapshot holds `n` prefixes.
async fn published(rib: &Rib, n: usize) -> RibSnapshot {
    let t = Instant::now();
    loop {
        let s = rib.snapshot();
        if s.len() == n {
            return s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "snapshot has {} prefixes, want {n}",
            s.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bgpdump_reads_the_mrt_dump() {
    let rib = Rib::start(2, Arc::new(ExportPolicy::default())).unwrap();
    let v4 = |last: u8| MpNextHop::V4(Ipv4Addr::new(192, 0, 2, last));
    let v6 = |last: u16| MpNextHop::V6 {
        global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last),
        link_local: None,
    };
    send(
        &rib,
        0,
        Family::Ipv4Unicast,
        attrs(&[65001, 65100], Some(10), &[(65000, 1)], v4(1)),
        vec![Nlri::new(p("10.1.0.0/16")), Nlri::new(p("10.2.0.0/24"))],
    )
    .await;
    send(
        &rib,
        1,
        Family::Ipv4Unicast,
        attrs(&[4_200_000_002, 65100, 65200], None, &[], v4(2)),
        vec![Nlri::new(p("10.1.0.0/16"))],
    )
    .await;
    send(
        &rib,
        1,
        Family::Ipv6Unicast,
        attrs(&[4_200_000_002], Some(5), &[(65000, 2)], v6(2)),
        vec![Nlri::new(p("2001:db8:1::/48"))],
    )
    .await;
    // ADD-PATH: two paths of peer 2 for one prefix.
    send(
        &rib,
        2,
        Family::Ipv4Unicast,
        attrs(&[65003, 1], None, &[], v4(3)),
        vec![Nlri::with_path_id(p("10.3.0.0/16"), 7)],
    )
    .await;
    send(
        &rib,
        2,
        Family::Ipv4Unicast,
        attrs(&[65003, 2, 3], None, &[], v4(3)),
        vec![Nlri::with_path_id(p("10.3.0.0/16"), 9)],
    )
    .await;
    let snap = published(&rib, 4).await;
    let peers = vec![
        MrtPeer {
            bgp_id: Ipv4Addr::new(10, 0, 0, 1),
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
            asn: Asn(65001),
        },
        MrtPeer {
            bgp_id: Ipv4Addr::new(10, 0, 0, 2),
            address: IpAddr::V6(Ipv6Addr::LOCALHOST),
            asn: Asn(4_200_000_002),
        },
        MrtPeer {
            bgp_id: Ipv4Addr::new(10, 0, 0, 3),
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 13)),
            asn: Asn(65003),
        },
    ];
    let dir = std::env::temp_dir().join(format!("peerex-mrt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rib.mrt");
    let mut f = std::fs::File::create(&file).unwrap();
    let stats = write_dump(
        &snap,
        &peers,
        Ipv4Addr::new(10, 255, 0, 1),
        "peerex",
        1_700_000_000,
        &mut f,
    )
    .unwrap();
    drop(f);
    assert_eq!((stats.prefixes, stats.paths), (4, 6));
    let out = Command::new("bgpdump")
        .arg("-m")
        .arg(&file)
        .output()
        .expect("bgpdump is installed (.ci/install-deps)");
    assert!(
        out.status.success(),
        "bgpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut got: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split('|').map(|s| s.to_string()).collect())
        .collect();
    got.sort();
    // What the snapshot says, in bgpdump's -m fields.
    let mut want: Vec<Vec<String>> = Vec::new();
    for (prefix, entry) in snap.iter() {
        for path in entry.paths.iter().filter(|x| x.accepted()) {
            let peer = &peers[path.peer.index()];
            let a = &path.attrs.attrs;
            let nh = match &path.attrs.next_hop {
                MpNextHop::V4(x) => x.to_string(),
                MpNextHop::V6 { global, .. } => global.to_string(),
                MpNextHop::Raw(_) => String::new(),
            };
            let comms: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
            // ADD-PATH entries (RFC 8050) are shown with their path identifier.
            let (kind, id) = match path.rx_id {
                0 => ("TABLE_DUMP2", vec![]),
                id => ("TABLE_DUMP2_AP", vec![id.to_string()]),
            };
            let mut line: Vec<String> = vec![
                kind.into(),
                "1700000000".into(),
                "B".into(),
                peer.address.to_string(),
                peer.asn.to_string(),
                prefix.to_string(),
            ];
            line.extend(id);
            want.push(line);
            want.last_mut().unwrap().extend([
                a.as_path.as_ref().unwrap().to_string(),
                "IGP".into(),
                nh,
                "0".into(),
                a.med.unwrap_or(0).to_string(),
                comms.join(" "),
                "NAG".into(),
                String::new(),
                String::new(),
            ]);
        }
    }
    want.sort();
    assert_eq!(got, want, "bgpdump output:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
    rib.shutdown();
}

/// A reader takes snapshots and looks prefixes up in a loop while a million prefixes load:
/// loading never waits for it, and every snapshot it sees is consistent (prefixes load in
/// order, so a snapshot holding prefix i holds every prefix before it in its shard, and each
/// entry is well formed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_block_loading_and_see_consistent_tables() {
    let rib = Rib::start(2, Arc::new(ExportPolicy::default())).unwrap();
    let n: u32 = 1_000_000;
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let max_seen = Arc::new(AtomicU64::new(0));
    let reader = {
        let rib = rib.clone();
        let (stop, reads, max_seen) = (stop.clone(), reads.clone(), max_seen.clone());
        std::thread::spawn(move || {
            let mut last = 0usize;
            while !stop.load(Ordering::Acquire) {
                let s = rib.snapshot();
                let len = s.len();
                assert!(
                    len >= last,
                    "a later snapshot has fewer prefixes ({len} < {last})"
                );
                last = len;
                for shard in &s.shards {
                    // Consistency: entries are never empty, their paths are in selection order.
                    if let Some((_, e)) = shard.table.get_max() {
                        assert!(!e.paths.is_empty());
                    }
                }
                // Lookups: the most specific match of an address inside a loaded prefix.
                if len > 0 {
                    let i = (reads.load(Ordering::Relaxed) as u32 * 7919) % (len as u32);
                    let addr = IpAddr::V4(Ipv4Addr::from((20u32 << 24) + (i << 8) + 5));
                    if let Some((p, e)) = s.longest_match(addr) {
                        assert_eq!(p.length(), 24);
                        assert_eq!(e.paths.len(), 1);
                    }
                }
                max_seen.fetch_max(len as u64, Ordering::Relaxed);
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let a = attrs(
        &[65001, 65100],
        None,
        &[],
        MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
    );
    let t0 = Instant::now();
    let mut batch: Vec<Vec<Nlri>> = vec![Vec::new(); rib.shards()];
    for i in 0..n {
        let pfx = Prefix::new(IpAddr::V4(Ipv4Addr::from((20u32 << 24) + (i << 8))), 24).unwrap();
        let s = peerex::rib::shard_of(&pfx, rib.shards());
        batch[s].push(Nlri::new(pfx));
        if batch[s].len() == 1000 {
            let list = std::mem::take(&mut batch[s]);
            rib.send(
                s,
                ShardMsg::Routes(RouteBatch {
                    peer: PeerId(0),
                    family: Family::Ipv4Unicast,
                    attrs: Some(a.clone()),
                    verdict: Verdict::ACCEPT,
                    announce: list,
                    withdraw: vec![],
                }),
            )
            .await;
        }
    }
    for (s, list) in batch.into_iter().enumerate() {
        rib.send(
            s,
            ShardMsg::Routes(RouteBatch {
                peer: PeerId(0),
                family: Family::Ipv4Unicast,
                attrs: Some(a.clone()),
                verdict: Verdict::ACCEPT,
                announce: list,
                withdraw: vec![],
            }),
        )
        .await;
    }
    let snap = published(&rib, n as usize).await;
    let took = t0.elapsed();
    stop.store(true, Ordering::Release);
    reader
        .join()
        .expect("reader found an inconsistent snapshot");
    let reads = reads.load(Ordering::Relaxed);
    eprintln!("loaded {n} prefixes in {took:?} while a reader took {reads} snapshots");
    assert!(reads > 10, "the reader made no progress");
    assert_eq!(snap.len(), n as usize);
    // A change is visible to readers shortly after it is processed (published every 100 ms).
    let t = Instant::now();
    send(
        &rib,
        1,
        Family::Ipv4Unicast,
        a.clone(),
        vec![Nlri::new(p("198.51.100.0/24"))],
    )
    .await;
    while rib.snapshot().exact(&p("198.51.100.0/24")).is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "change not visible after 2 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("a change became visible to readers after {:?}", t.elapsed());
    rib.shutdown();
}
