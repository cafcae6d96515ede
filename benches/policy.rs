//! Import policy evaluation per route with a realistic policy: a 10,000-entry prefix
//! allow-list, a 60-ASN origin list, every check on, RPKI with 500,000 VRPs (400k IPv4, 100k
//! IPv6). Reported as routes per second (criterion "elements"). Also measured alone: the
//! prefix-set lookup, RFC 6811 validation, and, for comparison, the same prefix set in a plain
//! binary trie (the structure the compiled sorted index replaced; see `src/policy/cover.rs`).
//!
//! `cargo bench --bench policy`

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerex::config::{Config, PrefixRange};
use peerex::policy::{PeerId, Policies, PrefixSet, Vrp, VrpTable};
use peerex::wire::{
    AsPath, Asn, Community, LargeCommunity, MpNextHop, PathAttributes, Prefix, Prefix4, Prefix6,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PEER_ASN: u32 = 3333;
const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

/// Public-looking IPv4 space outside the bogon list.
fn v4_addr(r: &mut Rng) -> u32 {
    loop {
        let a = r.next() as u32;
        let top = a >> 24;
        if (1..=223).contains(&top) && ![10, 100, 127, 169, 172, 192, 198, 203].contains(&top) {
            return a;
        }
    }
}

fn v6_addr(r: &mut Rng) -> u128 {
    // 2400::/12 .. 2a0f::/16: where most IPv6 routes live.
    let top = [
        0x2001u128, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2c0f,
    ];
    let t = top[r.below(top.len() as u64) as usize];
    (t << 112) | ((r.next() as u128) << 48)
}

struct Setup {
    policies: Policies,
    vrps: VrpTable,
    routes: Vec<(Prefix, PathAttributes, MpNextHop)>,
    allow: Vec<PrefixRange>,
}

fn setup() -> Setup {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let origins: Vec<u32> = (0..60).map(|i| 10_000 + i * 37).collect();
    // The allow-list: 8,000 IPv4 and 2,000 IPv6 entries, aggregates with "le" ranges.
    let mut allow = Vec::new();
    let mut v4_allowed = Vec::new();
    let mut v6_allowed = Vec::new();
    while allow.len() < 8_000 {
        let len = 16 + r.below(9) as u8; // /16../24
        let p = Prefix4::new(v4_addr(&mut r), len).unwrap();
        allow.push(PrefixRange {
            prefix: Prefix::V4(p),
            min: len,
            max: 24.max(len),
        });
        v4_allowed.push(p);
    }
    while allow.len() < 10_000 {
        let len = 29 + r.below(20) as u8; // /29../48
        let p = Prefix6::new(v6_addr(&mut r), len).unwrap();
        allow.push(PrefixRange {
            prefix: Prefix::V6(p),
            min: len,
            max: 48,
        });
        v6_allowed.push(p);
    }
    // 500,000 VRPs. Each allowed prefix has its origin (`origin_of`); 70% have a matching
    // VRP (valid), 5% a VRP for another AS (invalid), the rest none (not found, unless the
    // random VRPs below happen to cover them).
    let origin_of = |i: usize| origins[i % origins.len()];
    let mut vrps = Vec::with_capacity(500_000);
    let allowed: Vec<Prefix> = v4_allowed
        .iter()
        .map(|p| Prefix::V4(*p))
        .chain(v6_allowed.iter().map(|p| Prefix::V6(*p)))
        .collect();
    for (i, p) in allowed.iter().enumerate() {
        let asn = match i % 20 {
            0 => 64_999_999,
            1..=14 => origin_of(i),
            _ => continue,
        };
        let max_len = if matches!(p, Prefix::V4(_)) { 24 } else { 48 };
        vrps.push(Vrp {
            prefix: *p,
            max_len,
            asn: Asn(asn),
        });
    }
    while vrps.len() < 400_000 {
        let len = [24, 24, 24, 23, 22, 21, 20, 19, 18, 17, 16, 12][r.below(12) as usize];
        let p = Prefix4::new(v4_addr(&mut r), len).unwrap();
        let max_len = len + r.below(u64::from(25 - len.min(24)) + 1) as u8;
        vrps.push(Vrp {
            prefix: Prefix::V4(p),
            max_len: max_len.min(24),
            asn: Asn(1 + r.below(400_000) as u32),
        });
    }
    while vrps.len() < 500_000 {
        let len = [32, 29, 36, 40, 44, 48, 48, 48][r.below(8) as usize];
        let p = Prefix6::new(v6_addr(&mut r), len).unwrap();
        vrps.push(Vrp {
            prefix: Prefix::V6(p),
            max_len: 48,
            asn: Asn(1 + r.below(400_000) as u32),
        });
    }
    let vrps = VrpTable::new(vrps);
    assert!(vrps.len() >= 495_000, "{} VRPs", vrps.len());

    let mut text = format!(
        "[server]\nasn = 64500\nrouter_id = \"192.0.2.1\"\n\n[policy]\nrpki_communities = true\n\n\
         [[peer]]\nname = \"supplier\"\nasn = {PEER_ASN}\naddress = \"{PEER_ADDR}\"\nrole = \"supplier\"\n\
         allow_blackhole = true\nnext_hops = [\"2001:7f8::11\"]\norigin_asns = {origins:?}\nprefixes = [\n"
    );
    for e in &allow {
        text.push_str(&format!("  \"{e}\",\n"));
    }
    text.push_str("]\n");
    let config = Config::parse(&text, Path::new("bench.toml")).unwrap();
    let policies = Policies::new(&config);

    // 20,000 routes: mostly allowed prefixes (and their more specifics), some not allowed,
    // a few blackholes; 1 to 6 hops; typical communities. About 80% pass.
    let nh4 = MpNextHop::V4(PEER_ADDR);
    let nh6 = MpNextHop::V6 {
        global: "2001:7f8::11".parse().unwrap(),
        link_local: Some("fe80::11".parse().unwrap()),
    };
    let mut routes = Vec::with_capacity(20_000);
    for i in 0..20_000usize {
        let kind = r.below(100);
        let pick = r.below(allowed.len() as u64) as usize;
        let mut origin = origins[r.below(origins.len() as u64) as usize];
        let prefix = if kind < 92 {
            origin = origin_of(pick);
            match allowed[pick] {
                Prefix::V4(p) => {
                    let len = (p.length() + r.below(3) as u8).min(24);
                    let host = u32::MAX >> p.length();
                    Prefix::V4(Prefix4::new(p.addr_bits() | (r.next() as u32 & host), len).unwrap())
                }
                v6 => v6,
            }
        } else if kind < 98 {
            Prefix::V4(Prefix4::new(v4_addr(&mut r), 24).unwrap())
        } else {
            match allowed[pick] {
                Prefix::V4(p) => {
                    origin = origin_of(pick);
                    let host = u32::MAX >> p.length();
                    Prefix::V4(Prefix4::new(p.addr_bits() | (r.next() as u32 & host), 32).unwrap())
                }
                _ => Prefix::V4(Prefix4::new(v4_addr(&mut r), 32).unwrap()),
            }
        };
        let hops = 1 + r.below(6) as usize;
        let mut path = vec![Asn(PEER_ASN)];
        for _ in 1..hops {
            path.push(Asn(20_000 + r.below(5_000) as u32));
        }
        path.push(Asn(origin));
        let mut communities = vec![Community::new(PEER_ASN as u16, 100 + (i % 7) as u16)];
        if kind >= 98 {
            communities.push(Community::BLACKHOLE);
        }
        if i % 5 == 0 {
            communities.push(Community::new(0, 6939));
        }
        let attrs = PathAttributes {
            as_path: Some(AsPath::sequence(path)),
            communities,
            large_communities: vec![LargeCommunity::new(PEER_ASN, 1, i as u32 % 10)],
            med: Some(0),
            ..PathAttributes::default()
        };
        let nh = if matches!(prefix, Prefix::V6(_)) {
            nh6.clone()
        } else {
            nh4.clone()
        };
        routes.push((prefix, attrs, nh));
    }
    Setup {
        policies,
        vrps,
        routes,
        allow,
    }
}

/// A trie node: children by next bit (0 = none) and the entry's length range.
type TrieNode = ([u32; 2], Option<(u8, u8)>);

/// A plain binary trie of the same allow-list (IPv4 only), for comparison.
struct Trie {
    nodes: Vec<TrieNode>,
}

impl Trie {
    fn new(entries: &[PrefixRange]) -> Trie {
        let mut t = Trie {
            nodes: vec![([0, 0], None)],
        };
        for e in entries {
            let Prefix::V4(p) = e.prefix else { continue };
            let mut n = 0usize;
            for bit in 0..p.length() {
                let b = ((p.addr_bits() >> (31 - bit)) & 1) as usize;
                if t.nodes[n].0[b] == 0 {
                    t.nodes.push(([0, 0], None));
                    let id = (t.nodes.len() - 1) as u32;
                    t.nodes[n].0[b] = id;
                }
                n = t.nodes[n].0[b] as usize;
            }
            t.nodes[n].1 = Some((e.min, e.max));
        }
        t
    }

    fn matches(&self, p: &Prefix4) -> bool {
        let (a, len) = (p.addr_bits(), p.length());
        let mut n = 0usize;
        for bit in 0..=len {
            if let Some((lo, hi)) = self.nodes[n].1 {
                if (lo..=hi).contains(&len) {
                    return true;
                }
            }
            if bit == len {
                break;
            }
            let next = self.nodes[n].0[((a >> (31 - bit)) & 1) as usize];
            if next == 0 {
                return false;
            }
            n = next as usize;
        }
        false
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let import = s.policies.import(PeerId(0)).unwrap();
    let accepted = s
        .routes
        .iter()
        .filter(|(p, a, nh)| import.evaluate(p, a, nh, &s.vrps).verdict.accepted())
        .count();
    eprintln!(
        "policy bench: {} routes ({} accepted), {} VRPs ({} MB), allow-list {} entries ({} KB)",
        s.routes.len(),
        accepted,
        s.vrps.len(),
        s.vrps.heap_size() >> 20,
        s.allow.len(),
        PrefixSet::new(&s.allow).heap_size() >> 10,
    );

    let mut g = c.benchmark_group("import_policy");
    g.throughput(Throughput::Elements(s.routes.len() as u64));
    g.bench_function("evaluate_per_route", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for (p, a, nh) in &s.routes {
                n += u32::from(
                    import
                        .evaluate(black_box(p), a, nh, &s.vrps)
                        .verdict
                        .accepted(),
                );
            }
            n
        })
    });
    g.finish();

    let set = PrefixSet::new(&s.allow);
    let trie = Trie::new(&s.allow);
    let v4: Vec<Prefix4> = s
        .routes
        .iter()
        .filter_map(|(p, _, _)| match p {
            Prefix::V4(p) => Some(*p),
            _ => None,
        })
        .collect();
    let origins: Vec<(Prefix, Option<Asn>)> = s
        .routes
        .iter()
        .map(|(p, a, _)| {
            (
                *p,
                a.as_path
                    .as_ref()
                    .and_then(|x| x.segments.last())
                    .and_then(|g| g.asns.last().copied()),
            )
        })
        .collect();
    for (pv, tv) in v4
        .iter()
        .map(|p| (set.matches(&Prefix::V4(*p)), trie.matches(p)))
    {
        assert_eq!(pv, tv);
    }
    let mut g = c.benchmark_group("lookups");
    g.throughput(Throughput::Elements(v4.len() as u64));
    g.bench_function("prefix_set_sorted_index_v4", |b| {
        b.iter(|| v4.iter().filter(|p| set.matches(&Prefix::V4(**p))).count())
    });
    g.bench_function("prefix_set_binary_trie_v4", |b| {
        b.iter(|| v4.iter().filter(|p| trie.matches(p)).count())
    });
    g.throughput(Throughput::Elements(origins.len() as u64));
    g.bench_function("rpki_validate_500k_vrps", |b| {
        b.iter(|| {
            origins
                .iter()
                .filter(|(p, o)| {
                    s.vrps.validate(black_box(p), *o) == peerex::policy::RpkiState::Valid
                })
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
