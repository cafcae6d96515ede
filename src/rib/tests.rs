//! The RIB against a brute-force model: for random sequences of announcements and
//! withdrawals from several peers, random per-client export restrictions, ADD-PATH clients,
//! slow clients (small queues drained at random) and policy changes, what every client has
//! received — decoded from the very bytes queued for it — equals a per-client best-path
//! computation over everything announced. With import policy on, announcements also carry
//! the route server's control communities (do not announce to X, announce only to X, prepend
//! to X) and a path-length limit that policy changes move, so re-evaluation is exercised.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use proptest::prelude::*;
use tokio::sync::mpsc;

use super::api::{ClientInfo, ExportPolicy, RouteBatch, ShardCtl, ShardMsg};
use super::attrs::RouteAttrs;
use super::counters::RibCounters;
use super::journal::{Journal, Sync, LOG_MAX};
use super::outq::{OutItem, OutQueue};
use super::path::PeerId;
use super::shard::Shard;
use super::snapshot::ShardSnapshot;
use crate::policy::ClientSet;
use crate::policy::ExportRules;
use crate::policy::{Policies, Verdict};
use crate::wire::{
    AsPath, Asn, Community, Family, FamilySet, LargeCommunity, MpNextHop, Nlri, Origin, ParseCtx,
    PathAttributes, Prefix, Update,
};

/// The route server's ASN in these tests (the control communities' `RS`).
const RS: u32 = 64500;

/// A peer's ASN.
fn asn(p: u32) -> u32 {
    65001 + p
}

/// What a path's control communities ask (with import policy on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctl {
    None,
    /// `RS:0:X`: not to peer k.
    Exclude(u32),
    /// `0:RS` and `RS:1:X`: to peer k only.
    OnlyTo(u32),
    /// `RS:102:X`: prepended twice towards peer k.
    Prepend(u32),
}

impl Ctl {
    fn allows(self, client: u32) -> bool {
        match self {
            Ctl::Exclude(k) => client != k,
            Ctl::OnlyTo(k) => client == k,
            Ctl::None | Ctl::Prepend(_) => true,
        }
    }
}

/// Import policy for the six peers: only the AS path length limit is checked.
fn policies(max_path_length: u32) -> Arc<Policies> {
    let mut text = format!(
        "[server]\nasn = {RS}\nrouter_id = \"192.0.2.1\"\nlisten = [\"127.0.0.1:1179\"]\n\
         [defaults]\nreject_bogon_asns = false\nreject_bogon_prefixes = false\n\
         check_next_hop = false\ncheck_first_as = false\nrpki = \"off\"\n\
         max_path_length = {max_path_length}\n"
    );
    for p in 0..PEERS {
        text.push_str(&format!(
            "[[peer]]\nname = \"p{p}\"\nasn = {}\naddress = \"127.0.0.{}\"\n",
            asn(p),
            10 + p
        ));
    }
    let c = crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Policies::new(&c))
}

const PEERS: u32 = 6;
/// AS path hops that make an UPDATE too big for 4,096-octet messages (RFC 8654 §4).
const HUGE: usize = 1100;

fn prefixes() -> Vec<Prefix> {
    let mut v: Vec<Prefix> = (0..6u32)
        .map(|i| format!("10.{i}.0.0/16").parse().unwrap())
        .collect();
    v.extend((0..3u32).map(|i| format!("2001:db8:{i}::/48").parse::<Prefix>().unwrap()));
    v
}

/// What a peer announced for a prefix.
#[derive(Clone, Debug)]
struct Ann {
    neighbor: u32,
    hops: usize,
    med: u32,
    tag: u32,
    ctl: Ctl,
}

#[derive(Clone, Debug)]
enum Op {
    Announce {
        peer: u32,
        prefix: usize,
        neighbor: u32,
        hops: usize,
        med: u32,
        /// 0..=4 none, 5 exclude, 6 only to, 7 prepend (to peer `ctl_peer`).
        ctl: u8,
        ctl_peer: u32,
    },
    Withdraw {
        peer: u32,
        prefix: usize,
    },
    Drain {
        peer: u32,
    },
    Policy {
        seed: u64,
    },
    /// The client stops reading (or, when stalled, starts again).
    Stall {
        peer: u32,
    },
    /// Every client that reads catches up; each must then hold exactly its brute-force state.
    Check,
    /// The client reads what is queued and the shard takes a refill step or two, with
    /// changes still pending (no flush): a client may catch up between two flushes.
    Read {
        peer: u32,
    },
    /// The client asks for the family of prefix `prefix` again (route refresh).
    Refresh {
        peer: u32,
        prefix: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PEERS, 0..9usize, 0..3u32, prop_oneof![9 => 1..4usize, 1 => Just(HUGE)], 0..3u32, 0..8u8, 0..PEERS).prop_map(|(peer, prefix, n, hops, med, ctl, ctl_peer)| Op::Announce {
            peer,
            prefix,
            neighbor: 100 * (n + 1),
            hops,
            med,
            ctl,
            ctl_peer,
        }),
        3 => (0..PEERS, 0..9usize).prop_map(|(peer, prefix)| Op::Withdraw { peer, prefix }),
        2 => (0..PEERS).prop_map(|peer| Op::Drain { peer }),
        1 => any::<u64>().prop_map(|seed| Op::Policy { seed }),
    ]
}

/// [`op`], with clients that stall and resume, and checks while some are stalled.
fn op_with_stalls() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => op(),
        2 => (0..PEERS).prop_map(|peer| Op::Stall { peer }),
        1 => Just(Op::Check),
        3 => (0..PEERS).prop_map(|peer| Op::Read { peer }),
        1 => (0..PEERS, 0..9usize).prop_map(|(peer, prefix)| Op::Refresh { peer, prefix }),
    ]
}

fn rules_from_seed(seed: u64) -> Vec<ExportRules> {
    (0..PEERS)
        .map(|c| {
            let bits = (seed >> (c * 8)) & 0xff;
            if bits & 1 == 0 {
                ExportRules::default()
            } else {
                let set: ClientSet = (0..PEERS)
                    .filter(|q| bits & (2 << q) != 0)
                    .map(PeerId)
                    .collect();
                ExportRules {
                    accepts_from: Some(Arc::new(set)),
                    ..ExportRules::default()
                }
            }
        })
        .collect()
}

struct Harness {
    shard: Shard,
    queues: Vec<Arc<OutQueue>>,
    refills: Arc<Mutex<Vec<PeerId>>>,
    /// Per client: (prefix, path id) → tag received.
    received: Vec<BTreeMap<(Prefix, u32), u32>>,
    done: Vec<FamilySet>,
    add_path_max: Vec<Option<u16>>,
    /// Clients that read nothing now.
    stalled: Vec<bool>,
}

fn router_id(p: u32) -> u32 {
    // Not in peer order, so the tie-break is exercised.
    [7, 3, 9, 1, 5, 2][p as usize]
}

impl Harness {
    fn new(
        add_path_max: Vec<Option<u16>>,
        seed: u64,
        high: usize,
        policies: Option<Arc<Policies>>,
    ) -> Self {
        let (ctl_tx, _ctl_rx) = mpsc::unbounded_channel::<ShardCtl>();
        let policy = Arc::new(ExportPolicy {
            rules: rules_from_seed(seed),
            local_asn: Asn(65000),
            always_compare_med: false,
            policies,
        });
        let mut shard = Shard::new(
            0,
            Arc::new(RibCounters::default()),
            ctl_tx,
            Arc::new(ArcSwap::from_pointee(ShardSnapshot::empty(0))),
            policy,
        );
        // The feed lets readers go at the queues' mark: small marks exercise catch-up.
        shard.export.set_feed_lag(high);
        let addrs: Vec<IpAddr> = (0..PEERS)
            .map(|p| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + p as u8)))
            .collect();
        shard.message(ShardMsg::PeerAddrs(Arc::new(addrs)));
        let refills = Arc::new(Mutex::new(Vec::new()));
        let mut queues = Vec::new();
        for p in 0..PEERS {
            let r = refills.clone();
            let q = Arc::new(OutQueue::new(
                high,
                Box::new(move || r.lock().unwrap().push(PeerId(p))),
            ));
            let mut tx = ParseCtx::new();
            if add_path_max[p as usize].is_some() {
                tx.add_path = FamilySet::ALL;
            }
            shard.message(ShardMsg::ClientUp(Arc::new(ClientInfo {
                peer: PeerId(p),
                asn: Asn(asn(p)),
                router_id: router_id(p),
                families: FamilySet::ALL,
                tx,
                add_path_max: add_path_max[p as usize].unwrap_or(0),
                add_otc: false,
                llgr: false,
                queue: q.clone(),
            })));
            queues.push(q);
        }
        Harness {
            shard,
            queues,
            refills,
            received: vec![BTreeMap::new(); PEERS as usize],
            done: vec![FamilySet::EMPTY; PEERS as usize],
            add_path_max,
            stalled: vec![false; PEERS as usize],
        }
    }

    fn drain(&mut self, p: u32) {
        if self.stalled[p as usize] {
            return;
        }
        let q = &self.queues[p as usize];
        let mut items = Vec::new();
        q.try_pop_all(&mut items);
        let mut ctx = ParseCtx::new();
        if self.add_path_max[p as usize].is_some() {
            ctx.add_path = FamilySet::ALL;
        }
        for item in items {
            let own = matches!(item, OutItem::Updates(_));
            match item {
                OutItem::Attach { .. } => {}
                OutItem::Updates(mut b) | OutItem::Shared(mut b) => {
                    let n = if own { b.len() } else { 0 };
                    while !b.is_empty() {
                        let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
                        let u = Update::parse(b.split_to(len), &ctx).unwrap();
                        assert!(u.issues().is_empty(), "{:?}", u.issues());
                        let rx = &mut self.received[p as usize];
                        for w in u.withdrawals() {
                            rx.remove(&(w.prefix, w.path_id.map_or(0, |i| i.0)));
                        }
                        // The tag survives export: `1:tag` is nobody's control community.
                        let tag = u.attrs().communities().next().map(|c| c.0 & 0xffff);
                        for a in u.announced() {
                            rx.insert((a.prefix, a.path_id.map_or(0, |i| i.0)), tag.unwrap());
                        }
                        assert!(u.attrs().local_pref().is_none());
                    }
                    if n > 0 {
                        q.written(n);
                    }
                }
                OutItem::DumpDone { families, .. } => {
                    self.done[p as usize] = self.done[p as usize].union(families);
                }
            }
        }
    }

    /// Runs refills until nothing is pending.
    fn settle(&mut self) {
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > 10_000 {
                let states: Vec<String> = self
                    .shard
                    .export
                    .clients
                    .iter()
                    .flatten()
                    .map(|c| {
                        format!(
                            "{}: sync {:?} behind {} queued {} refill {:?}",
                            c.info.peer,
                            c.sync,
                            c.info.queue.is_behind(),
                            c.info.queue.queued_bytes(),
                            self.shard.export.refill,
                        )
                    })
                    .collect();
                panic!("export never settles: {states:#?}");
            }
            for p in 0..PEERS {
                self.drain(p);
            }
            let pending: Vec<PeerId> = std::mem::take(&mut *self.refills.lock().unwrap());
            for p in pending {
                self.shard.control(ShardCtl::Refill(p));
            }
            let mut worked = false;
            let mut steps = 0;
            while self.shard.refill_step() {
                worked = true;
                steps += 1;
                if steps > 100_000 {
                    let states: Vec<String> = self
                        .shard
                        .export
                        .clients
                        .iter()
                        .flatten()
                        .map(|c| {
                            format!(
                                "{}: sync {:?} behind {}",
                                c.info.peer,
                                c.sync,
                                c.info.queue.is_behind()
                            )
                        })
                        .collect();
                    panic!("refill never ends: {states:#?}");
                }
            }
            let queued = self
                .queues
                .iter()
                .zip(&self.stalled)
                .any(|(q, stalled)| !stalled && q.queued_bytes() > 0);
            if !worked && !queued && self.refills.lock().unwrap().is_empty() {
                break;
            }
        }
    }
}

/// Naive RFC 4271 §9.1.2.2 over the candidates: shortest path, then MED elimination within
/// each neighbouring AS, then lowest router id / address.
fn brute_best(cands: &[(u32, &Ann)]) -> Option<u32> {
    let min_hops = cands.iter().map(|(_, a)| a.hops).min()?;
    let tier: Vec<&(u32, &Ann)> = cands.iter().filter(|(_, a)| a.hops == min_hops).collect();
    let survivors: Vec<&&(u32, &Ann)> = tier
        .iter()
        .filter(|(_, a)| {
            !tier
                .iter()
                .any(|(_, b)| b.neighbor == a.neighbor && b.med < a.med)
        })
        .collect();
    survivors
        .iter()
        .min_by_key(|(p, _)| (router_id(*p), *p))
        .map(|(p, _)| *p)
}

fn preorder_key(p: u32, a: &Ann) -> (usize, u32, u32) {
    (a.hops, router_id(p), p)
}

/// `max_hops`: import policy's path length limit (paths longer are rejected).
/// Stalled clients are not checked.
fn check(h: &Harness, model: &HashMap<(u32, usize), Ann>, rules: &[ExportRules], max_hops: usize) {
    let pfx = prefixes();
    for c in (0..PEERS).filter(|c| !h.stalled[*c as usize]) {
        let mut expect: BTreeMap<(Prefix, u32), u32> = BTreeMap::new();
        for (i, prefix) in pfx.iter().enumerate() {
            let cands: Vec<(u32, &Ann)> = (0..PEERS)
                .filter(|q| *q != c && rules[c as usize].accepts(PeerId(*q)))
                .filter_map(|q| model.get(&(q, i)).map(|a| (q, a)))
                .filter(|(_, a)| a.hops <= max_hops && a.ctl.allows(c))
                .collect();
            match h.add_path_max[c as usize] {
                None => {
                    // A path too big for the client's 4,096 octets is withdrawn there.
                    if let Some(best) = brute_best(&cands).filter(|b| model[&(*b, i)].hops < HUGE) {
                        expect.insert((*prefix, 0), model[&(best, i)].tag);
                    }
                }
                Some(max) => {
                    let Some(best) = brute_best(&cands) else {
                        continue;
                    };
                    let mut rest: Vec<&(u32, &Ann)> =
                        cands.iter().filter(|(q, _)| *q != best).collect();
                    rest.sort_by_key(|(q, a)| preorder_key(*q, a));
                    let n = if max == 0 {
                        usize::MAX
                    } else {
                        usize::from(max)
                    };
                    let mut tags = vec![&model[&(best, i)]];
                    tags.extend(rest.iter().map(|(_, a)| *a).take(n - 1));
                    let tags: Vec<u32> = tags
                        .iter()
                        .filter(|a| a.hops < HUGE)
                        .map(|a| a.tag)
                        .collect();
                    let got: Vec<u32> = h.received[c as usize]
                        .range((*prefix, 0)..=(*prefix, u32::MAX))
                        .map(|(_, t)| *t)
                        .collect();
                    let mut g = got.clone();
                    g.sort();
                    let mut t = tags.clone();
                    t.sort();
                    assert_eq!(g, t, "ADD-PATH client {c} prefix {prefix}");
                    continue;
                }
            }
        }
        if h.add_path_max[c as usize].is_none() {
            assert_eq!(h.received[c as usize], expect, "client {c}");
        }
        assert_eq!(
            h.done[c as usize],
            FamilySet::ALL,
            "client {c} never got its End-of-RIB markers"
        );
    }
}

fn attrs_for(peer: u32, a: &Ann, prefix: Prefix) -> Arc<RouteAttrs> {
    let mut communities = vec![Community(0x0001_0000 | a.tag)];
    let mut large = Vec::new();
    match a.ctl {
        Ctl::None => {}
        Ctl::Exclude(k) => large.push(LargeCommunity::new(RS, 0, asn(k))),
        Ctl::OnlyTo(k) => {
            communities.push(Community(RS));
            large.push(LargeCommunity::new(RS, 1, asn(k)));
        }
        Ctl::Prepend(k) => large.push(LargeCommunity::new(RS, 102, asn(k))),
    }
    let mut path = vec![Asn(a.neighbor)];
    path.extend((1..a.hops).map(|i| Asn(64500 + i as u32)));
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
            med: Some(a.med),
            communities,
            large_communities: large,
            ..PathAttributes::default()
        },
        nh,
    ))
}

/// `batch`: how many operations the shard takes before it flushes its export (the shard
/// batches up to 256 messages in production).
/// `with_policy`: import policy on (control communities, path length limit 2 or 3).
/// `log_max`: the shard's journal length (small values make clients that are behind walk
/// the table).
#[allow(clippy::too_many_arguments)]
fn run(
    ops: Vec<Op>,
    add_path_max: Vec<Option<u16>>,
    seed: u64,
    high: usize,
    batch: usize,
    with_policy: bool,
    log_max: usize,
) {
    let compiled = with_policy.then(|| [policies(2), policies(3)]);
    let mut limit = 3usize;
    let current = |limit: usize| compiled.as_ref().map(|c| c[limit - 2].clone());
    let mut h = Harness::new(add_path_max, seed, high, current(limit));
    h.shard.table.journal = Journal::with_log_max(log_max);
    // The sessions' initial (empty) dumps complete first, as when peers connect; after that
    // changes take the direct export path.
    h.settle();
    let mut rules = rules_from_seed(seed);
    let mut model: HashMap<(u32, usize), Ann> = HashMap::new();
    let pfx = prefixes();
    let mut tag = 1u32;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Announce {
                peer,
                prefix,
                neighbor,
                hops,
                med,
                ctl,
                ctl_peer,
            } => {
                tag += 1;
                let ctl = match ctl {
                    _ if !with_policy => Ctl::None,
                    5 => Ctl::Exclude(ctl_peer),
                    6 => Ctl::OnlyTo(ctl_peer),
                    7 => Ctl::Prepend(ctl_peer),
                    _ => Ctl::None,
                };
                let a = Ann {
                    neighbor,
                    hops,
                    med,
                    tag,
                    ctl,
                };
                let p = pfx[prefix];
                h.shard.message(ShardMsg::Routes(RouteBatch {
                    peer: PeerId(peer),
                    family: p.family(),
                    attrs: Some(attrs_for(peer, &a, p)),
                    verdict: Verdict::ACCEPT,
                    announce: vec![Nlri::new(p)],
                    withdraw: vec![],
                }));
                model.insert((peer, prefix), a);
            }
            Op::Withdraw { peer, prefix } => {
                let p = pfx[prefix];
                h.shard.message(ShardMsg::Routes(RouteBatch {
                    peer: PeerId(peer),
                    family: p.family(),
                    attrs: None,
                    verdict: Verdict::ACCEPT,
                    announce: vec![],
                    withdraw: vec![Nlri::new(p)],
                }));
                model.remove(&(peer, prefix));
            }
            Op::Drain { peer } => {
                h.shard.flush();
                h.drain(peer);
            }
            Op::Policy { seed } => {
                rules = rules_from_seed(seed);
                if seed & (1 << 63) != 0 {
                    limit = 5 - limit;
                }
                h.shard.message(ShardMsg::Policy(Arc::new(ExportPolicy {
                    rules: rules.clone(),
                    local_asn: Asn(65000),
                    always_compare_med: false,
                    policies: current(limit),
                })));
            }
            Op::Stall { peer } => {
                let s = &mut h.stalled[peer as usize];
                *s = !*s;
            }
            Op::Read { peer } => {
                h.drain(peer);
                let asked: Vec<PeerId> = std::mem::take(&mut *h.refills.lock().unwrap());
                for p in asked {
                    h.shard.control(ShardCtl::Refill(p));
                }
                h.shard.refill_step();
                h.shard.refill_step();
            }
            Op::Refresh { peer, prefix } => {
                h.shard.message(ShardMsg::Refresh {
                    peer: PeerId(peer),
                    family: pfx[prefix].family(),
                });
            }
            Op::Check => {
                h.shard.flush();
                h.settle();
                let max_hops = if with_policy { limit } else { usize::MAX };
                check(&h, &model, &rules, max_hops);
            }
        }
        if (step + 1) % batch == 0 {
            h.shard.flush();
        }
    }
    // Every client reads again.
    h.stalled.iter_mut().for_each(|s| *s = false);
    for p in 0..PEERS {
        h.drain(p);
    }
    h.shard.flush();
    h.settle();
    let max_hops = if with_policy { limit } else { usize::MAX };
    check(&h, &model, &rules, max_hops);
    // Withdrawing everything leaves the RIB and every client empty.
    let mut keys: Vec<(u32, usize)> = model.keys().copied().collect();
    keys.sort();
    for (peer, prefix) in keys {
        let p = pfx[prefix];
        h.shard.message(ShardMsg::Routes(RouteBatch {
            peer: PeerId(peer),
            family: p.family(),
            attrs: None,
            verdict: Verdict::ACCEPT,
            announce: vec![],
            withdraw: vec![Nlri::new(p)],
        }));
        model.remove(&(peer, prefix));
        h.shard.flush();
        h.settle();
        check(&h, &model, &rules, max_hops);
    }
    assert!(h.shard.table.is_empty());
    h.shard.table.interner.sweep();
    assert_eq!(
        h.shard.table.interner.len(),
        0,
        "interned attributes leaked"
    );
    for c in 0..PEERS as usize {
        assert!(
            h.received[c].is_empty(),
            "client {c} still holds {:?}",
            h.received[c]
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn clients_receive_their_brute_force_best_paths(
        ops in proptest::collection::vec(op(), 1..120),
        add_path in proptest::collection::vec(prop_oneof![4 => Just(None), 1 => Just(Some(0u16)), 1 => Just(Some(2u16))], PEERS as usize),
        seed in any::<u64>(),
        high in prop_oneof![Just(200usize), Just(1_000_000usize)],
        batch in prop_oneof![Just(1usize), Just(7), Just(1000)],
        with_policy in any::<bool>(),
    ) {
        run(ops, add_path, seed, high, batch, with_policy, LOG_MAX);
    }

    /// Without ADD-PATH clients, where export skips changes no client can see (a path
    /// behind two other peers' paths): the same brute-force check, more often.
    #[test]
    fn clients_receive_their_brute_force_best_paths_without_add_path(
        ops in proptest::collection::vec(op(), 1..160),
        seed in any::<u64>(),
        batch in prop_oneof![Just(1usize), Just(7), Just(1000)],
        with_policy in any::<bool>(),
    ) {
        run(ops, vec![None; PEERS as usize], seed, 1_000_000, batch, with_policy, LOG_MAX);
    }

    /// Clients stall and resume at random while routes and policy change, with small
    /// queues and a journal short enough that clients fall off it and walk the table: every
    /// client that reads is exact at every check, and every client is exact at the end.
    #[test]
    fn clients_that_stall_and_resume_end_exact(
        ops in proptest::collection::vec(op_with_stalls(), 1..160),
        add_path in proptest::collection::vec(prop_oneof![4 => Just(None), 1 => Just(Some(0u16)), 1 => Just(Some(2u16))], PEERS as usize),
        seed in any::<u64>(),
        high in prop_oneof![Just(120usize), Just(400), Just(1_000_000)],
        batch in prop_oneof![Just(1usize), Just(7), Just(1000)],
        with_policy in any::<bool>(),
        log_max in prop_oneof![Just(1usize), Just(3), Just(16), Just(LOG_MAX)],
    ) {
        run(ops, add_path, seed, high, batch, with_policy, log_max);
    }
}

#[test]
fn family_of_each_prefix_is_right() {
    for p in prefixes() {
        assert!(matches!(
            (p, p.family()),
            (Prefix::V4(_), Family::Ipv4Unicast) | (Prefix::V6(_), Family::Ipv6Unicast)
        ));
    }
}

/// A shard holds its exports back only when most live clients are well behind in its feed;
/// a minority that lags too far is let go into catch-up from the journal, from the first
/// entry it did not read, and a reader catching up rings the drain signal.
#[test]
fn pressure_needs_a_majority_of_lagging_readers() {
    use super::feed::{EntryBuilder, Variant};
    let high = 1000;
    let mut h = Harness::new(vec![None; PEERS as usize], 1, high, None);
    // Dumps of the (empty) table finish; every client reads the feed from then on.
    h.settle();
    assert!(h
        .shard
        .export
        .clients
        .iter()
        .flatten()
        .all(|c| c.sync.is_live()));
    assert!(!h.shard.export.under_pressure());
    let all: ClientSet = (0..PEERS).map(PeerId).collect();
    let append = |h: &mut Harness, since: u64, n: usize| {
        let mut e = EntryBuilder::new(since);
        let v = Variant {
            tx: ParseCtx::new(),
            add_otc: false,
        };
        // Empty UPDATEs (23 octets each), which the harness reads like any other.
        let mut msg = vec![0xffu8; 16];
        msg.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
        e.part(v, all.clone(), |out| {
            for _ in 0..n / msg.len() {
                out.extend_from_slice(&msg);
            }
            true
        });
        h.shard.export.feed.append(e);
    };
    append(&mut h, 0, high * 6 / 10);
    // 3 of 6 behind: not a majority.
    for p in 0..3 {
        h.drain(p);
    }
    assert!(!h.shard.export.under_pressure());
    h.stalled[2] = true;
    append(&mut h, 7, high * 6 / 10);
    h.drain(0);
    h.drain(1);
    // 4 of 6 behind (2 by one entry, 3, 4 and 5 by two): the clients as a whole are slow,
    // and none is let go: it is the input that is fast, not one client that is slow.
    assert!(h.shard.export.under_pressure());
    h.shard.export.settle_feed();
    assert!(h
        .shard
        .export
        .clients
        .iter()
        .flatten()
        .all(|c| c.sync.is_live()));
    // 3 and 4 read; 5, past the mark behind the median, is let go, to catch up from the
    // journal where its first unread entry began; 2 is behind but within the mark.
    h.drain(3);
    h.drain(4);
    assert!(!h.shard.export.under_pressure());
    h.shard.export.settle_feed();
    let syncs: Vec<Sync> = h
        .shard
        .export
        .clients
        .iter()
        .flatten()
        .map(|c| c.sync)
        .collect();
    assert!(syncs[..5].iter().all(|s| s.is_live()), "{syncs:?}");
    assert!(matches!(syncs[5], Sync::Journal { cursor: 0 }), "{syncs:?}");
    assert!(h.shard.export.refill.contains(&PeerId(5)));
    // The entry everybody left read is gone; the one 2 has not read stays.
    assert_eq!(h.shard.export.feed.floor(), Some(7));
    // Everyone catches up and reads the feed again.
    h.stalled[2] = false;
    h.settle();
    assert!(h
        .shard
        .export
        .clients
        .iter()
        .flatten()
        .all(|c| c.sync.is_live()));
    h.shard.export.settle_feed();
    assert_eq!(h.shard.export.feed.floor(), None);
}

/// A pressed reader that reads below half the mark rings the shard's drain signal.
#[test]
fn a_reader_catching_up_rings_the_drain_signal() {
    use super::feed::{EntryBuilder, Feed, Variant};
    let signal = Arc::new(tokio::sync::Notify::new());
    let feed = Feed::new(100, signal.clone());
    let v = Variant {
        tx: ParseCtx::new(),
        add_otc: false,
    };
    let epoch = feed.register(PeerId(0), v);
    feed.activate(PeerId(0), epoch);
    let mut e = EntryBuilder::new(0);
    e.part(v, std::iter::once(PeerId(0)).collect(), |out| {
        out.extend_from_slice(&[0u8; 80]);
        true
    });
    feed.append(e);
    assert!(feed.pressed_majority());
    let woken = signal.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    let mut out = Vec::new();
    assert_eq!(feed.read(PeerId(0), usize::MAX, &mut out), 80);
    assert!(!feed.pressed_majority());
    assert!(futures_ready(woken));
}

fn futures_ready<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    f.poll(&mut cx).is_ready()
}

/// Neighbouring prefixes stay on one shard (so packed input stays packed on export), and a
/// table spread over many /16s (or /32s) loads the shards evenly.
#[test]
fn shards_keep_neighbours_together_and_balance() {
    use crate::rib::shard_of;
    let v4 = |a: u32, len: u8| Prefix::new(Ipv4Addr::from(a).into(), len).unwrap();
    for base in [0x0a00_0000u32, 0xc633_6400, 0x5db8_0000] {
        let s = shard_of(&v4(base & 0xffff_0000, 16), 4);
        for i in 0..256u32 {
            assert_eq!(shard_of(&v4((base & 0xffff_0000) | (i << 8), 24), 4), s);
        }
    }
    let mut count = [0usize; 4];
    for i in 0..4096u32 {
        count[shard_of(&v4(0x2000_0000 + (i << 16), 24), 4)] += 1;
    }
    assert!(count.iter().all(|&c| c > 800 && c < 1250), "{count:?}");
    let v6 = |hi: u128| Prefix::new(std::net::Ipv6Addr::from(hi << 96).into(), 48).unwrap();
    let mut count = [0usize; 2];
    for i in 0..2048u128 {
        count[shard_of(&v6(0x2001_0000 + i), 2)] += 1;
    }
    assert!(count.iter().all(|&c| c > 850), "{count:?}");
}

/// RFC 8654 §4: when a route's UPDATE outgrows 4,096 octets, a client without extended
/// messages that had its smaller version gets a withdrawal (counted), not a stale route.
#[test]
fn a_route_too_big_for_a_client_is_withdrawn_there() {
    let mut h = Harness::new(vec![None; PEERS as usize], 0, 1_000_000, None);
    h.settle();
    let p = prefixes()[0];
    for (tag, hops) in [(2, 3), (3, 1100), (4, 1100), (5, 3)] {
        let a = Ann {
            neighbor: 100,
            hops,
            med: 0,
            tag,
            ctl: Ctl::None,
        };
        h.shard.message(ShardMsg::Routes(RouteBatch {
            peer: PeerId(0),
            family: p.family(),
            attrs: Some(attrs_for(0, &a, p)),
            verdict: Verdict::ACCEPT,
            announce: vec![Nlri::new(p)],
            withdraw: vec![],
        }));
        h.shard.flush();
        h.settle();
        let want = (hops == 3).then_some(tag);
        assert_eq!(h.received[1].get(&(p, 0)).copied(), want, "tag {tag}");
    }
    assert_eq!(h.shard.counters.routes_too_big(PeerId(1)), 2);
}
