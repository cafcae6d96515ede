//! The update hot path, measured: UPDATE bytes in → decode → import → RIB shard → export →
//! encoded UPDATEs out, on one core (`rib::sim` runs a real shard without threads or
//! sockets). Reports prefixes per second. Before the criterion groups it measures the heap
//! bytes per path of a full-table RIB with a counting allocator and prints them (also to
//! target/rib-memory.txt).
//!
//! Run: `cargo bench --bench rib`.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerex::policy::{ExportRules, PeerId};
use peerex::rib::sim::{Sim, SimPeer};
use peerex::rib::ShardMsg;
use peerex::session::routes::Importer;
use peerex::wire::update::pack_announce;
use peerex::wire::{
    AsPath, Asn, Community, Family, FamilySet, LargeCommunity, MpNextHop, Nlri, Origin, ParseCtx,
    PathAttributes, Prefix, Update,
};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The allocator the peerex binary uses (mimalloc), counting live bytes.
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

// SAFETY: forwards to mimalloc and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { INNER.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` with `l`.
        unsafe { INNER.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` with `l`.
        unsafe { INNER.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const PEERS: usize = 4;

fn peers_n(n: usize) -> Vec<SimPeer> {
    (0..n)
        .map(|i| SimPeer {
            asn: Asn(65001 + i as u32),
            router_id: 0x0a00_0001 + i as u32,
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8)),
            tx: ParseCtx::new(),
            add_path_max: 0,
            rules: ExportRules::default(),
        })
        .collect()
}

/// A realistic attribute set for group `g` of peer `peer`: a 3–7 hop path starting with the
/// peer's ASN, 2–5 communities, one large community.
fn attrs(peer: usize, g: u32) -> PathAttributes {
    attrs_hops(peer, g, 3 + (g % 5))
}

/// As [`attrs`], with a path of `hops` ASes.
fn attrs_hops(peer: usize, g: u32, hops: u32) -> PathAttributes {
    let mut path = vec![Asn(65001 + peer as u32)];
    path.extend((1..hops).map(|h| Asn(64600 + (g * 7 + h) % 900)));
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(path)),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1 + peer as u8)),
        med: (g % 3 == 0).then_some(g % 50),
        communities: (0..2 + g % 4)
            .map(|c| Community::new(65000, (g + c) as u16))
            .collect(),
        large_communities: vec![LargeCommunity::new(65001 + peer as u32, 1, g)],
        ..PathAttributes::default()
    }
}

fn prefix(i: u32) -> Prefix {
    Prefix::new(IpAddr::V4(Ipv4Addr::from((11 << 24) + (i << 8))), 24).unwrap()
}

/// UPDATEs of `peer` announcing `n` prefixes in groups of `per_group` sharing attributes.
fn corpus(peer: usize, n: u32, per_group: u32) -> Vec<Bytes> {
    corpus_with(peer, n, per_group, attrs)
}

/// As e2e scenario c: every peer announces the same prefixes; per group one peer's path is
/// shortest (2 hops), the next peer's second (3), the others' 4; the winner rotates.
fn rotating_corpus(peer: usize, peers: usize, n: u32, per_group: u32) -> Vec<Bytes> {
    corpus_with(peer, n, per_group, |p, g| {
        let winner = g as usize % peers;
        let hops = match (p + peers - winner) % peers {
            0 => 2,
            1 => 3,
            _ => 4,
        };
        attrs_hops(p, g, hops)
    })
}

fn corpus_with(
    peer: usize,
    n: u32,
    per_group: u32,
    attrs: impl Fn(usize, u32) -> PathAttributes,
) -> Vec<Bytes> {
    let ctx = ParseCtx::new();
    let mut out = Vec::new();
    let mut i = 0;
    let mut g = 0;
    while i < n {
        let list: Vec<Nlri> = (i..(i + per_group).min(n))
            .map(|j| Nlri::new(prefix(j)))
            .collect();
        let mut enc = BytesMut::new();
        let a = attrs(peer, g);
        a.encode(&ctx, &mut enc);
        let mut buf = BytesMut::new();
        pack_announce(
            &ctx,
            Family::Ipv4Unicast,
            &enc,
            &MpNextHop::V4(a.next_hop.unwrap()),
            &list,
            &mut buf,
        )
        .unwrap();
        let mut b = buf.freeze();
        while !b.is_empty() {
            let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
            out.push(b.split_to(len));
        }
        i += per_group;
        g += 1;
    }
    out
}

fn importers(n: usize) -> Vec<Importer> {
    (0..n)
        .map(|i| Importer {
            peer: PeerId(i as u32),
            shards: 1,
            families: FamilySet::ALL,
            check_otc: false,
        })
        .collect()
}

/// Feeds every peer's corpus through the pipeline; returns the export bytes produced.
fn run(corpora: &[Vec<Bytes>]) -> (Sim, usize) {
    let mut sim = Sim::new(peers_n(corpora.len()), Asn(64500), 1 << 30);
    // The sessions' initial (empty) dumps complete first, as they do when peers connect.
    sim.settle(|_, _| {});
    let imp = importers(corpora.len());
    let ctx = ParseCtx::new();
    let mut out = 0;
    for (peer, msgs) in corpora.iter().enumerate() {
        for m in msgs {
            let u = Update::parse(m.clone(), &ctx).unwrap();
            let (_, batches) = imp[peer].plan(&u);
            sim.apply(batches.into_iter().map(|(_, b)| ShardMsg::Routes(b)));
        }
        sim.settle(|_, b| out += b.len());
    }
    (sim, out)
}

fn memory_report() {
    // A full table: 1,000,000 prefixes from each of two peers (2,000,000 paths), attribute
    // sets shared by 10 prefixes each, as in real tables.
    let corpora = vec![corpus(0, 1_000_000, 10), corpus(1, 1_000_000, 10)];
    let before = LIVE.load(Ordering::Relaxed);
    let (sim, _) = run(&corpora);
    let after = LIVE.load(Ordering::Relaxed);
    drop(corpora);
    let bytes = (after - before) as f64;
    let paths = 2_000_000f64;
    let line = format!(
        "RIB memory: {:.1} MiB for {} prefixes / {} paths = {:.1} bytes per path (attribute sets shared by 10 prefixes)\n",
        bytes / 1048576.0,
        sim.table_len(),
        paths as u64,
        bytes / paths
    );
    print!("{line}");
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/rib-memory.txt", line);
    black_box(sim);
}

fn bench(c: &mut Criterion) {
    memory_report();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    // Packed: 4 peers × 50,000 prefixes, 100 prefixes per attribute set.
    let packed: Vec<Vec<Bytes>> = (0..PEERS).map(|p| corpus(p, 50_000, 100)).collect();
    g.throughput(Throughput::Elements(4 * 50_000));
    g.bench_function("packed_4x50k_to_4_clients", |b| {
        b.iter(|| black_box(run(&packed).1))
    });
    // Single-prefix UPDATEs: 4 peers × 20,000.
    let single: Vec<Vec<Bytes>> = (0..PEERS).map(|p| corpus(p, 20_000, 1)).collect();
    g.throughput(Throughput::Elements(4 * 20_000));
    g.bench_function("single_4x20k_to_4_clients", |b| {
        b.iter(|| black_box(run(&single).1))
    });
    // Scenario c of the end-to-end bench: 10 peers × the same 20,000 prefixes, 8 per
    // attribute set, a rotating winner; every peer is a client.
    let rotating: Vec<Vec<Bytes>> = (0..10).map(|p| rotating_corpus(p, 10, 20_000, 8)).collect();
    g.throughput(Throughput::Elements(10 * 20_000));
    g.bench_function("rotating_10x20k_to_10_clients", |b| {
        b.iter(|| black_box(run(&rotating).1))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
