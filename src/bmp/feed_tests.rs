//! The feed against a real shard (the RIB's `Sim`): random route changes, session resets
//! and passes; a collector model rebuilt only from the BMP messages (encoded, decoded again
//! and their UPDATEs parsed) must equal the snapshot's pre-policy, post-policy, Loc-RIB and
//! Adj-RIB-Out state at the end.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;

use super::collector::Feed;
use super::feed::{FeedSettings, RibFeed};
use super::msg::{flags, Message, PeerDownReason, PeerType};
use super::render::{PeerInfo, Views};
use super::source::{PeerStats, Session, Source};
use crate::policy::{reject_communities, ExportRules, PeerId, RejectReason, RejectSet, Verdict};
use crate::rib::sim::{Sim, SimPeer};
use crate::rib::{choose, RibSnapshot, RouteAttrs, RouteBatch, SelectCtx, ShardMsg};
use crate::session::status::Handshake;
use crate::wire::{
    AsPath, Asn, FamilySet, MpNextHop, Nlri, Origin, ParseCtx, PathAttributes, Prefix, Update,
};

const PEERS: usize = 4;
const RS: Asn = Asn(64500);

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8))
}

fn prefixes() -> Vec<Prefix> {
    let mut v: Vec<Prefix> = (0..6)
        .map(|i| format!("10.{i}.0.0/16").parse().unwrap())
        .collect();
    v.extend((0..3).map(|i| format!("2001:db8:{i}::/48").parse::<Prefix>().unwrap()));
    v
}

/// The sessions the feed sees: peer `i` is up when `up[i]`, since `since[i]`.
struct SimSource {
    snap: Mutex<RibSnapshot>,
    up: Mutex<[(bool, u32); PEERS]>,
}

impl Source for SimSource {
    fn snapshot(&self) -> RibSnapshot {
        self.snap.lock().unwrap().clone()
    }

    fn sessions(&self, select: Option<&[String]>) -> Vec<Session> {
        let up = *self.up.lock().unwrap();
        (0..PEERS)
            .filter(|&i| up[i].0)
            .filter(|&i| select.is_none_or(|s| s.contains(&format!("p{i}"))))
            .map(|i| Session {
                info: PeerInfo {
                    id: PeerId(i as u32),
                    address: addr(i),
                    asn: Asn(65001 + i as u32),
                    bgp_id: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
                    rx_add_path: FamilySet::EMPTY,
                    tx_add_path: FamilySet::EMPTY,
                    add_otc: false,
                    up_since: (up[i].1, 0),
                },
                name: format!("p{i}"),
                remote_port: 179,
                handshake: Arc::new(Handshake {
                    local: None,
                    sent_open: open(64500),
                    received_open: open(65001 + i as u32),
                }),
            })
            .collect()
    }

    fn down_reason(&self, _id: PeerId) -> PeerDownReason {
        PeerDownReason::RemoteNoData
    }

    fn peer_stats(&self, _id: PeerId) -> PeerStats {
        PeerStats::default()
    }
}

fn open(asn: u32) -> bytes::Bytes {
    let mut b = BytesMut::new();
    crate::wire::Open::new(Asn(asn), 90, Ipv4Addr::new(10, 0, 0, 1), Vec::new()).encode(&mut b);
    b.freeze()
}

/// What a collector holds per view: (peer or client, prefix) → (AS path, MED, large
/// communities).
type Key = (Vec<u32>, Option<u32>, Vec<(u32, u32, u32)>);
type View = BTreeMap<(u32, Prefix), Key>;

#[derive(Default, Debug, PartialEq)]
struct Collector {
    pre: View,
    post: View,
    loc: View,
    out: View,
    up: Vec<u32>,
}

fn key_of(a: &PathAttributes) -> Key {
    let path = a
        .as_path
        .as_ref()
        .map(|p| {
            p.segments
                .iter()
                .flat_map(|s| s.asns.iter().map(|x| x.0))
                .collect()
        })
        .unwrap_or_default();
    let large = a
        .large_communities
        .iter()
        .map(|l| (l.global, l.local1, l.local2))
        .collect();
    (path, a.med, large)
}

impl Collector {
    fn take(&mut self, m: Message) {
        // Through the wire and back, as a collector would get it.
        let b = m.to_bytes();
        let (m, used) = Message::decode(&b).unwrap().unwrap();
        assert_eq!(used, b.len());
        let ctx = ParseCtx {
            four_octet_as: true,
            add_path: FamilySet::EMPTY,
            extended_message: true,
            ebgp: false,
        };
        match m {
            Message::PeerUp { peer, .. } => {
                if peer.peer_type != PeerType::LocRib {
                    let id = u32::from(match peer.address {
                        IpAddr::V4(a) => a.octets()[3] - 10,
                        IpAddr::V6(_) => panic!("v6 peer"),
                    });
                    assert!(!self.up.contains(&id), "Peer Up twice for {id}");
                    self.up.push(id);
                }
            }
            Message::PeerDown { peer, .. } => {
                let id = match peer.address {
                    IpAddr::V4(a) => u32::from(a.octets()[3] - 10),
                    IpAddr::V6(_) => panic!("v6 peer"),
                };
                assert!(self.up.contains(&id), "Peer Down for {id} without Peer Up");
                self.up.retain(|x| *x != id);
                for v in [&mut self.pre, &mut self.post, &mut self.out] {
                    v.retain(|(p, _), _| *p != id);
                }
            }
            Message::RouteMonitoring { peer, update } => {
                let id = match (peer.peer_type, peer.address) {
                    (PeerType::LocRib, _) => u32::MAX,
                    (_, IpAddr::V4(a)) => u32::from(a.octets()[3] - 10),
                    _ => panic!("v6 peer"),
                };
                if id != u32::MAX {
                    assert!(self.up.contains(&id), "route for {id} before its Peer Up");
                }
                let view = match (peer.peer_type, peer.flags) {
                    (PeerType::LocRib, _) => &mut self.loc,
                    (_, f) if f & flags::ADJ_RIB_OUT != 0 => &mut self.out,
                    (_, f) if f & flags::POST_POLICY != 0 => &mut self.post,
                    _ => &mut self.pre,
                };
                let u = Update::parse(update, &ctx).unwrap();
                for n in u.withdrawals() {
                    view.remove(&(id, n.prefix));
                }
                let a = u.attrs().to_owned();
                let mut nlri: Vec<Nlri> = u.nlri().collect();
                if let Some(m) = u.mp_reach() {
                    nlri.extend(m.nlri());
                }
                for n in nlri {
                    view.insert((id, n.prefix), key_of(&a));
                }
            }
            Message::StatisticsReport { .. } | Message::Initiation(_) | Message::Termination(_) => {
            }
        }
    }
}

/// What the collector should hold for `snap` with every peer in `up` monitored.
fn expected(snap: &RibSnapshot, up: &[bool; PEERS], views: Views) -> Collector {
    let mut c = Collector::default();
    let shard = &snap.shards[0];
    let ctx = SelectCtx {
        always_compare_med: shard.policy.always_compare_med,
        peer_addrs: &shard.peer_addrs,
    };
    for (prefix, e) in snap.iter() {
        for p in &e.paths {
            if !up[p.peer.index()] {
                continue;
            }
            let mut a = p.attrs.attrs.clone();
            if views.post_policy && p.accepted() {
                c.post.insert((p.peer.0, *prefix), key_of(&a));
            }
            if views.pre_policy {
                if !p.accepted() {
                    a.large_communities
                        .extend(reject_communities(RS, p.verdict.rejects));
                }
                c.pre.insert((p.peer.0, *prefix), key_of(&a));
            }
        }
        if views.loc_rib {
            if let Some(b) = choose(&e.paths, &ctx, |_| true) {
                c.loc.insert((u32::MAX, *prefix), key_of(&b.attrs.attrs));
            }
        }
        if views.adj_rib_out {
            for (i, on) in up.iter().enumerate() {
                if !on {
                    continue;
                }
                if let Some(b) = snap.choice_for(PeerId(i as u32), prefix) {
                    c.out.insert((i as u32, *prefix), key_of(&b.attrs.attrs));
                }
            }
        }
    }
    c.up = (0..PEERS as u32).filter(|i| up[*i as usize]).collect();
    c
}

#[derive(Clone, Debug)]
enum Op {
    Announce {
        peer: usize,
        prefix: usize,
        hops: u8,
        med: u8,
        reject: bool,
    },
    Withdraw {
        peer: usize,
        prefix: usize,
    },
    /// Session reset: down (paths gone), a pass may run, up again later.
    Down(usize),
    Up(usize),
    /// A pass of the feed, drained in batches.
    Pass,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PEERS, 0..9usize, 1..4u8, 0..3u8, any::<bool>()).prop_map(
            |(peer, prefix, hops, med, reject)| Op::Announce { peer, prefix, hops, med, reject }
        ),
        2 => (0..PEERS, 0..9usize).prop_map(|(peer, prefix)| Op::Withdraw { peer, prefix }),
        1 => (0..PEERS).prop_map(Op::Down),
        1 => (0..PEERS).prop_map(Op::Up),
        3 => Just(Op::Pass),
    ]
}

fn attrs(peer: usize, hops: u8, med: u8, prefix: Prefix) -> Arc<RouteAttrs> {
    let mut path = vec![Asn(65001 + peer as u32)];
    path.extend((1..hops).map(|i| Asn(64600 + u32::from(i))));
    let nh = match prefix {
        Prefix::V4(_) => MpNextHop::V4(Ipv4Addr::new(127, 0, 0, 10 + peer as u8)),
        Prefix::V6(_) => MpNextHop::V6 {
            global: format!("2001:db8:ffff::{}", peer + 1).parse().unwrap(),
            link_local: None,
        },
    };
    Arc::new(RouteAttrs::new(
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path)),
            med: Some(u32::from(med)),
            ..PathAttributes::default()
        },
        nh,
    ))
}

fn sim_peers() -> Vec<SimPeer> {
    (0..PEERS)
        .map(|i| SimPeer {
            asn: Asn(65001 + i as u32),
            router_id: 0x0a00_0001 + i as u32,
            address: addr(i),
            tx: ParseCtx::new(),
            add_path_max: 0,
            // Peer 3 takes nothing from peer 0: Adj-RIB-Out differs per client.
            rules: if i == 3 {
                ExportRules {
                    accepts_from: Some(Arc::new([1u32, 2].iter().map(|&q| PeerId(q)).collect())),
                    ..ExportRules::default()
                }
            } else {
                ExportRules::default()
            },
        })
        .collect()
}

/// Drains everything `feed` produces for its current pass (or dump) into `col`.
fn drain_pass(feed: &mut RibFeed<SimSource>, col: &mut Collector, first: bool) {
    let mut out = Vec::new();
    let mut more = feed.dump(first, &mut out);
    for m in out.drain(..) {
        col.take(m);
    }
    while more {
        more = feed.dump(false, &mut out);
        for m in out.drain(..) {
            col.take(m);
        }
    }
}

fn run(ops: Vec<Op>, views: Views, batch: usize) {
    let mut sim = Sim::new(sim_peers(), RS, 1 << 20);
    sim.settle(|_, _| {});
    let pfx = prefixes();
    let source = Arc::new(SimSource {
        snap: Mutex::new(sim.snapshot()),
        up: Mutex::new([(true, 1); PEERS]),
    });
    let mut settings = FeedSettings::new(views);
    settings.batch = batch;
    settings.stats_interval = Duration::ZERO;
    settings.pass_interval = Duration::ZERO;
    let mut feed = RibFeed::new(source.clone(), settings, RS, Ipv4Addr::new(10, 255, 0, 1));
    let mut col = Collector::default();
    let mut dumped = false;
    let mut up = [true; PEERS];
    let mut clock = 1u32;
    let reject = {
        let mut r = RejectSet::default();
        r.insert(RejectReason::PrefixNotAllowed);
        Verdict::reject(r)
    };
    let publish = |sim: &mut Sim| {
        sim.flush();
        sim.settle(|_, _| {});
        sim.publish();
        *source.snap.lock().unwrap() = sim.snapshot();
    };
    for op in ops {
        match op {
            Op::Announce {
                peer,
                prefix,
                hops,
                med,
                reject: r,
            } => {
                if !up[peer] {
                    continue;
                }
                let p = pfx[prefix];
                sim.apply([ShardMsg::Routes(RouteBatch {
                    peer: PeerId(peer as u32),
                    family: p.family(),
                    attrs: Some(attrs(peer, hops, med, p)),
                    verdict: if r { reject } else { Verdict::ACCEPT },
                    announce: vec![Nlri::new(p)],
                    withdraw: vec![],
                })]);
            }
            Op::Withdraw { peer, prefix } => {
                let p = pfx[prefix];
                sim.apply([ShardMsg::Routes(RouteBatch {
                    peer: PeerId(peer as u32),
                    family: p.family(),
                    attrs: None,
                    verdict: Verdict::ACCEPT,
                    announce: vec![],
                    withdraw: vec![Nlri::new(p)],
                })]);
            }
            Op::Down(i) => {
                if up[i] {
                    up[i] = false;
                    sim.down(i);
                    source.up.lock().unwrap()[i].0 = false;
                }
            }
            Op::Up(i) => {
                if !up[i] {
                    up[i] = true;
                    sim.up(i);
                    clock += 1;
                    source.up.lock().unwrap()[i] = (true, clock);
                }
            }
            Op::Pass => {
                publish(&mut sim);
                if dumped {
                    pass(&mut feed, &mut col);
                } else {
                    drain_pass(&mut feed, &mut col, true);
                    dumped = true;
                }
            }
        }
    }
    publish(&mut sim);
    if dumped {
        pass(&mut feed, &mut col);
    } else {
        drain_pass(&mut feed, &mut col, true);
    }
    col.up.sort_unstable();
    let want = expected(&sim.snapshot(), &up, views);
    assert_eq!(col.up, want.up, "peers up");
    assert_eq!(col.pre, want.pre, "pre-policy");
    assert_eq!(col.post, want.post, "post-policy");
    assert_eq!(col.loc, want.loc, "Loc-RIB");
    assert_eq!(col.out, want.out, "Adj-RIB-Out");
}

/// One pass of changes, driven as the collector session drives it (without waiting for the
/// pass interval: it is zero).
fn pass(feed: &mut RibFeed<SimSource>, col: &mut Collector) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        // The first call starts a pass and returns its first batch (or waits when nothing
        // changed: bounded by a timeout, after which the pass is complete).
        loop {
            let got = tokio::time::timeout(Duration::from_millis(50), feed.changes(&mut out)).await;
            for m in out.drain(..) {
                col.take(m);
            }
            if got.is_err() || !feed.pass_in_progress() {
                break;
            }
        }
    });
}

const ALL: Views = Views {
    pre_policy: true,
    post_policy: true,
    loc_rib: true,
    adj_rib_out: true,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reconstructed_views_equal_the_snapshot(ops in proptest::collection::vec(op(), 1..60), batch in 1..8usize) {
        run(ops, ALL, batch);
    }
}

#[test]
fn dump_then_changes_by_hand() {
    use Op::*;
    let a = |peer, prefix, hops, reject| Announce {
        peer,
        prefix,
        hops,
        med: 0,
        reject,
    };
    run(
        vec![
            a(0, 0, 2, false),
            a(1, 0, 1, false),
            a(2, 1, 1, true),
            a(3, 6, 1, false),
            Pass,
            a(0, 0, 1, false),
            Withdraw { peer: 1, prefix: 0 },
            Down(3),
            Pass,
            Up(3),
            a(3, 7, 2, false),
            Pass,
        ],
        ALL,
        2,
    );
}

#[test]
fn views_can_be_chosen() {
    use Op::*;
    let ops = vec![
        Announce {
            peer: 0,
            prefix: 1,
            hops: 1,
            med: 0,
            reject: true,
        },
        Announce {
            peer: 1,
            prefix: 1,
            hops: 1,
            med: 0,
            reject: false,
        },
        Pass,
    ];
    run(
        ops.clone(),
        Views {
            pre_policy: true,
            ..Views::default()
        },
        1,
    );
    run(
        ops,
        Views {
            loc_rib: true,
            adj_rib_out: true,
            ..Views::default()
        },
        3,
    );
}

#[test]
fn encodes_with_four_octet_asns_and_reasons() {
    // A rejected path's pre-policy UPDATE carries RS:1101:N for its reason.
    let mut sim = Sim::new(sim_peers(), RS, 1 << 20);
    let p: Prefix = "10.9.0.0/16".parse().unwrap();
    let mut r = RejectSet::default();
    r.insert(RejectReason::PrefixNotAllowed);
    sim.apply([ShardMsg::Routes(RouteBatch {
        peer: PeerId(0),
        family: p.family(),
        attrs: Some(attrs(0, 2, 0, p)),
        verdict: Verdict::reject(r),
        announce: vec![Nlri::new(p)],
        withdraw: vec![],
    })]);
    sim.publish();
    let source = Arc::new(SimSource {
        snap: Mutex::new(sim.snapshot()),
        up: Mutex::new([(true, 1); PEERS]),
    });
    let mut feed = RibFeed::new(
        source,
        FeedSettings::new(Views {
            pre_policy: true,
            post_policy: true,
            ..Views::default()
        }),
        RS,
        Ipv4Addr::new(10, 255, 0, 1),
    );
    let mut out = Vec::new();
    while feed.dump(out.is_empty(), &mut out) {}
    let rms: Vec<_> = out
        .iter()
        .filter_map(|m| match m {
            Message::RouteMonitoring { peer, update } => Some((peer.flags, update.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        rms.len(),
        1,
        "only the pre-policy view has the rejected path"
    );
    assert_eq!(rms[0].0 & flags::POST_POLICY, 0);
    let u = Update::parse(rms[0].1.clone(), &ParseCtx::new()).unwrap();
    let a = u.attrs().to_owned();
    let code = RejectReason::PrefixNotAllowed.euro_ix_code().unwrap();
    assert!(a
        .large_communities
        .iter()
        .any(|l| l.global == RS.0 && l.local1 == 1101 && l.local2 == code));
    let mut b = BytesMut::new();
    Message::RouteMonitoring {
        peer: match &out[0] {
            Message::PeerUp { peer, .. } => peer.clone(),
            m => panic!("first message {m:?}"),
        },
        update: rms[0].1.clone(),
    }
    .encode(&mut b);
    assert!(b.len() > 48);
}
