//! The scenarios: who sends which prefixes with which attributes, and what every client must
//! hold at the end (the reference the receivers check against, prefix by prefix).
//!
//! Prefixes are numbered 0..universe and map to the /24 `20.0.0.0 + (index << 8)` (IPv6
//! scenarios: the /48 `2a00:0000:0000::/48 + (index << 80)`), so a receiver turns a received
//! prefix back into its index with two integer operations. Peer `p` has ASN `BASE_ASN + p`
//! and connects from 127.64.x.y; the first `senders` peers announce, every peer (senders
//! included) is a client that receives.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use peerex::wire::update::{encode_end_of_rib, pack_announce};
use peerex::wire::{
    AsPath, Asn, Community, Family, LargeCommunity, MpNextHop, Nlri, Origin, ParseCtx,
    PathAttributes, Prefix,
};

/// ASN of peer 0; peer `p` is `BASE_ASN + p`: 2-octet (so it fits standard communities) and
/// public, not a private or reserved ASN (10000..10999 for scenario `d`'s 1,000 peers).
pub const BASE_ASN: u32 = 10_000;
/// The route server's ASN (both servers).
pub const RS_ASN: u32 = 64500;
/// First octets of the prefix space: index 0 is 20.0.0.0/24.
const PREFIX_BASE: u32 = 20 << 16;
/// The first 16 bits of the IPv6 prefix space: index 0 is 2a00::/48.
const PREFIX6_BASE: u64 = 0x2a00 << 32;
/// Origin ASNs of the generated paths: `ORIGIN_FIRST + (group % ORIGIN_COUNT)` (4-octet,
/// public). Every peer may originate from this range (the origin allow-list of both servers).
pub const ORIGIN_FIRST: u32 = 131_072;
pub const ORIGIN_COUNT: u32 = 60_000;
/// Well-known transit ASNs used as middle hops.
const TRANSIT: [u32; 8] = [174, 1299, 2914, 3257, 3356, 6453, 6762, 6939];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Every sender announces its own prefixes; every client gets each prefix from its owner.
    Disjoint,
    /// Every sender announces the same prefixes with different paths; per attribute group
    /// one sender has the clearly best path (AS path length 2), the next one the second best
    /// (length 3), the others length 4. The winner rotates by group.
    SamePrefixes,
    /// `Disjoint` in IPv6 unicast: MP_REACH_NLRI, /48s, next hop [`peer_nh6`]. (A variant
    /// rather than a `v6` field: only this layout has an IPv6 scenario, and struct literals
    /// elsewhere, such as `benches/lg_flood.rs`, need not name the family.)
    Disjoint6,
}

/// See [`Scenario::stress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stress {
    /// The hold time the generator's peers offer in their OPEN (the servers offer 90, so this
    /// is the negotiated one); they send a KEEPALIVE every third of it and expect the server
    /// to do the same (`E2E_HOLD` overrides it for every scenario).
    pub hold: u16,
    /// peerex's looking glass is flooded with requests during the whole load
    /// (`E2E_LG_FLOOD` threads); the scenario runs on peerex builds only.
    pub lg_flood: bool,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name used in E2E_SCENARIOS and the report.
    pub name: &'static str,
    pub description: String,
    /// Sessions in total (senders first).
    pub peers: usize,
    pub senders: usize,
    /// Prefixes each sender announces.
    pub per_sender: usize,
    pub kind: Kind,
    /// Consecutive prefixes sharing one attribute set (same origin AS), i.e. packed together.
    pub group: usize,
}

impl Scenario {
    /// The scenarios, prefix counts multiplied by `scale`.
    pub fn all(scale: f64, group: usize) -> Vec<Scenario> {
        let n = |x: f64| ((x * scale).round() as usize).max(1);
        vec![
            Scenario {
                name: "a",
                description: format!(
                    "4 senders x {} prefixes, 20 receiving clients",
                    n(200_000.0)
                ),
                peers: 24,
                senders: 4,
                per_sender: n(200_000.0),
                kind: Kind::Disjoint,
                group,
            },
            Scenario {
                name: "b",
                description: format!(
                    "100 peers each sending {} and receiving all the others'",
                    n(1_000.0)
                ),
                peers: 100,
                senders: 100,
                per_sender: n(1_000.0),
                kind: Kind::Disjoint,
                group,
            },
            Scenario {
                name: "c",
                description: format!(
                    "10 peers announcing the same {} prefixes with different paths",
                    n(100_000.0)
                ),
                peers: 10,
                senders: 10,
                per_sender: n(100_000.0),
                kind: Kind::SamePrefixes,
                group,
            },
            Scenario {
                name: "d",
                description: format!(
                    "1000 peers each sending {} and receiving all the others'",
                    n(200.0)
                ),
                peers: 1000,
                senders: 1000,
                per_sender: n(200.0),
                kind: Kind::Disjoint,
                group,
            },
            // `d`'s table over a quarter of the peers: peak RSS of `d` minus this one is what
            // 750 more clients cost (not in the default list).
            Scenario {
                name: "d250",
                description: format!(
                    "250 peers each sending {} and receiving all the others'",
                    n(800.0)
                ),
                peers: 250,
                senders: 250,
                per_sender: n(800.0),
                kind: Kind::Disjoint,
                group,
            },
            // `d`'s layout with a 500,000-prefix table, a 3 s hold time and a looking-glass
            // flood (see [`Scenario::stress`]; not in the default list). At any scale it keeps
            // its 1,000 sessions: `E2E_SCALE` scales the table.
            Scenario {
                name: "h",
                description: format!(
                    "1000 peers each sending {} and receiving all the others', hold time 3 s, \
                     looking glass flooded",
                    n(500.0)
                ),
                peers: 1000,
                senders: 1000,
                per_sender: n(500.0),
                kind: Kind::Disjoint,
                group,
            },
            Scenario {
                name: "a6",
                description: format!(
                    "IPv6: 4 senders x {} /48s, 20 receiving clients",
                    n(200_000.0)
                ),
                peers: 24,
                senders: 4,
                per_sender: n(200_000.0),
                kind: Kind::Disjoint6,
                group,
            },
        ]
    }

    /// What the load does besides the table, by scenario (not fields of [`Scenario`], so
    /// that struct literals elsewhere, such as `benches/lg_flood.rs`, stay valid): `h` offers
    /// a 3 s hold time and floods peerex's looking glass; the others offer 90 s, no flood.
    pub fn stress(&self) -> Stress {
        match self.name {
            "h" => Stress {
                hold: 3,
                lg_flood: true,
            },
            _ => Stress {
                hold: 90,
                lg_flood: false,
            },
        }
    }

    /// Distinct prefixes in the scenario.
    pub fn universe(&self) -> usize {
        match self.kind {
            Kind::Disjoint | Kind::Disjoint6 => self.senders * self.per_sender,
            Kind::SamePrefixes => self.per_sender,
        }
    }

    /// IPv6 unicast (MP_REACH_NLRI, /48s, next hop [`peer_nh6`]) instead of IPv4 (/24s).
    pub fn v6(&self) -> bool {
        self.kind == Kind::Disjoint6
    }

    pub fn family(&self) -> Family {
        if self.v6() {
            Family::Ipv6Unicast
        } else {
            Family::Ipv4Unicast
        }
    }

    /// What peer `peer` must hold for prefix `idx` at the end: 0 = nothing, `s + 1` = the
    /// path of sender `s`. A client never gets its own path back; where its own is the best
    /// it must get the second best (no path hiding).
    #[inline]
    pub fn expected(&self, peer: usize, idx: usize) -> u16 {
        match self.kind {
            Kind::Disjoint | Kind::Disjoint6 => {
                let owner = idx / self.per_sender;
                if owner == peer {
                    0
                } else {
                    owner as u16 + 1
                }
            }
            Kind::SamePrefixes => {
                let w = (idx / self.group) % self.senders;
                if w == peer {
                    ((w + 1) % self.senders) as u16 + 1
                } else {
                    w as u16 + 1
                }
            }
        }
    }

    /// The prefix of index `idx` in this scenario's family.
    pub fn prefix(&self, idx: usize) -> Nlri {
        if self.v6() {
            prefix6_of(idx)
        } else {
            prefix_of(idx)
        }
    }

    /// Sender `s`'s prefix allow-list: the fewest aligned prefixes covering exactly its
    /// indices, each as (address, length); every entry allows only the announced length
    /// (/24 or /48), i.e. `addr/len{24,24}`.
    pub fn allowed(&self, s: usize) -> Vec<(IpAddr, u8)> {
        let r = self.indices(s);
        let (base, unit) = if self.v6() {
            (PREFIX6_BASE, 48u8)
        } else {
            (u64::from(PREFIX_BASE), 24u8)
        };
        let (mut a, b) = (base + r.start as u64, base + r.end as u64);
        let mut out = Vec::new();
        while a < b {
            let mut k = a.trailing_zeros().min(unit as u32 - 1);
            while a + (1u64 << k) > b {
                k -= 1;
            }
            let addr = if self.v6() {
                IpAddr::V6(Ipv6Addr::from(u128::from(a) << 80))
            } else {
                IpAddr::V4(Ipv4Addr::from((a as u32) << 8))
            };
            out.push((addr, unit - k as u8));
            a += 1u64 << k;
        }
        out
    }

    /// The max-prefix limit of sender `s` (both servers): 10 % above what it announces.
    pub fn max_prefixes(&self, s: usize) -> usize {
        let n = if s < self.senders {
            self.indices(s).len()
        } else {
            0
        };
        n + n / 10 + 10
    }

    /// Routes all clients together must hold at convergence.
    pub fn expected_routes(&self) -> u64 {
        let u = self.universe() as u64;
        match self.kind {
            Kind::Disjoint | Kind::Disjoint6 => {
                self.peers as u64 * u - (self.senders.min(self.peers) * self.per_sender) as u64
            }
            Kind::SamePrefixes => self.peers as u64 * u,
        }
    }

    /// Prefix announcements the server receives in total.
    pub fn announcements_sent(&self) -> u64 {
        (self.senders * self.per_sender) as u64
    }

    /// Indices announced by sender `s`.
    pub fn indices(&self, s: usize) -> std::ops::Range<usize> {
        match self.kind {
            Kind::Disjoint | Kind::Disjoint6 => s * self.per_sender..(s + 1) * self.per_sender,
            Kind::SamePrefixes => 0..self.per_sender,
        }
    }

    /// The path attributes sender `s` uses for the group starting at prefix `idx`.
    fn attrs(&self, s: usize, idx: usize, nh: Ipv4Addr) -> PathAttributes {
        let g = idx / self.group;
        let asn = BASE_ASN + s as u32;
        let origin = ORIGIN_FIRST + (g as u32 % ORIGIN_COUNT);
        let t1 = TRANSIT[(g + s) % TRANSIT.len()];
        let t2 = TRANSIT[(g + s + 3) % TRANSIT.len()];
        let (path, med) = match self.kind {
            Kind::Disjoint | Kind::Disjoint6 => (vec![asn, t1, origin], None),
            Kind::SamePrefixes => {
                let w = g % self.senders;
                let path = if s == w {
                    vec![asn, origin]
                } else if s == (w + 1) % self.senders {
                    vec![asn, t1, origin]
                } else {
                    vec![asn, t1, t2, origin]
                };
                // MED differs per path; it is only compared within one neighbour AS, so it
                // never decides between these paths (each sender is its own neighbour AS).
                (path, Some(10 * (s as u32 + 1)))
            }
        };
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path.into_iter().map(Asn))),
            // IPv6: the next hop goes into MP_REACH_NLRI (see `updates`).
            next_hop: (!self.v6()).then_some(nh),
            med,
            communities: vec![
                Community((asn << 16) | 100),
                Community((asn << 16) | (1000 + (g % 16) as u32)),
            ],
            large_communities: vec![LargeCommunity {
                global: asn,
                local1: 1,
                local2: (g % 100) as u32,
            }],
            ..PathAttributes::default()
        }
    }

    /// Sender `s`'s whole table as packed UPDATEs followed by End-of-RIB, cut at message
    /// boundaries into chunks of about `chunk` bytes (so keepalives can go in between).
    pub fn updates(&self, s: usize, nh: Ipv4Addr, ctx: &ParseCtx, chunk: usize) -> Vec<Bytes> {
        let mut chunks = Vec::new();
        let mut out = BytesMut::new();
        let range = self.indices(s);
        let mut start = range.start;
        while start < range.end {
            let end = ((start / self.group + 1) * self.group).min(range.end);
            let list: Vec<Nlri> = (start..end).map(|i| self.prefix(i)).collect();
            let mut enc = BytesMut::new();
            self.attrs(s, start, nh).encode(ctx, &mut enc);
            let mp_nh = if self.v6() {
                MpNextHop::V6 {
                    global: peer_nh6(s),
                    link_local: None,
                }
            } else {
                MpNextHop::V4(nh)
            };
            pack_announce(ctx, self.family(), &enc, &mp_nh, &list, &mut out)
                .expect("attributes fit in an UPDATE");
            if out.len() >= chunk {
                chunks.push(out.split().freeze());
            }
            start = end;
        }
        encode_end_of_rib(self.family(), &mut out);
        chunks.push(out.freeze());
        chunks
    }
}

/// The /24 of prefix index `idx`.
pub fn prefix_of(idx: usize) -> Nlri {
    let a = (PREFIX_BASE + idx as u32) << 8;
    Nlri::new(Prefix::new(Ipv4Addr::from(a).into(), 24).expect("a /24 is valid"))
}

/// The /48 of prefix index `idx` (IPv6 scenarios).
pub fn prefix6_of(idx: usize) -> Nlri {
    let a = u128::from(PREFIX6_BASE + idx as u64) << 80;
    Nlri::new(Prefix::new(Ipv6Addr::from(a).into(), 48).expect("a /48 is valid"))
}

/// The index of a received prefix, if it is one of ours (a /24 or a /48 of our spaces).
#[inline]
pub fn index_of(n: &Nlri, universe: usize) -> Option<usize> {
    if n.path_id.is_some() {
        return None;
    }
    let i = match n.prefix.addr() {
        IpAddr::V4(a) if n.prefix.length() == 24 => {
            (a.to_bits() >> 8).checked_sub(PREFIX_BASE)? as usize
        }
        IpAddr::V6(a) if n.prefix.length() == 48 => u64::try_from(a.to_bits() >> 80)
            .ok()?
            .checked_sub(PREFIX6_BASE)?
            as usize,
        _ => return None,
    };
    (i < universe).then_some(i)
}

/// The IPv6 next hop peer `p` announces in IPv6 scenarios: `2001:db8:77::<p + 1>`, in a /64
/// that netns mode configures on the server's side of the veth pair (BIRD's direct sessions
/// need a next hop on a connected network); on loopback it is just an address.
pub fn peer_nh6(p: usize) -> Ipv6Addr {
    let q = p as u32 + 1;
    Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, (q >> 16) as u16, q as u16)
}

/// Whether the current run's server is in the network namespace behind a veth pair (see
/// `net.rs`); peers then use 10.77.x.y instead of 127.64.x.y. Set before every run (runs
/// are sequential: the transport can differ from server to server).
pub static NETNS: AtomicBool = AtomicBool::new(false);

/// Address of peer `p` (127.64.x.y on loopback, 10.77.x.y in netns mode; y from 1 to 250).
pub fn peer_addr(p: usize) -> Ipv4Addr {
    let a = if NETNS.load(Ordering::Relaxed) {
        [10, 77]
    } else {
        [127, 64]
    };
    Ipv4Addr::new(a[0], a[1], (p / 250) as u8, (p % 250 + 1) as u8)
}

/// The BGP identifier of peer `p`.
pub fn peer_router_id(p: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 64, (p / 250) as u8, (p % 250 + 1) as u8)
}
