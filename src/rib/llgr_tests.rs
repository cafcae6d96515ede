//! Long-lived graceful restart (RFC 9494) in one shard, its real timers included (short
//! ones, awaited in the order they fire): what each client is sent — decoded from the bytes queued for it — through a
//! source's loss, its restart time, the long-lived stale time, its return and End-of-RIB.
//!
//! Peers: 0 is the source S that is lost (its paths have MED 10), 1 a client that negotiated
//! LLGR, 2 a client that did not, 3 a second source T (MED 30, a longer path).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use super::api::{ClientInfo, ExportPolicy, RouteBatch, ShardCtl, ShardMsg};
use super::attrs::RouteAttrs;
use super::counters::RibCounters;
use super::outq::{OutItem, OutQueue};
use super::path::PeerId;
use super::shard::Shard;
use super::snapshot::ShardSnapshot;
use crate::policy::Verdict;
use crate::wire::{
    AsPath, Asn, Community, Family, FamilySet, MpNextHop, Nlri, Origin, ParseCtx, PathAttributes,
    Prefix, Update,
};

const S: u32 = 0;
const LLGR: u32 = 1;
const PLAIN: u32 = 2;
const T: u32 = 3;
const PEERS: u32 = 4;
const V4: Family = Family::Ipv4Unicast;

/// What a client holds of a prefix: the MED of the path (who sent it) and whether it
/// carries LLGR_STALE.
type Held = BTreeMap<Prefix, (u32, bool)>;

struct Lab {
    shard: Shard,
    ctl: mpsc::UnboundedReceiver<ShardCtl>,
    queues: Vec<Arc<OutQueue>>,
    refills: Arc<Mutex<Vec<PeerId>>>,
    held: Vec<Held>,
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// `P1` only from S; `P2` from S and T; `NO` from S with NO_LLGR.
fn p1() -> Prefix {
    pfx("10.0.1.0/24")
}
fn p2() -> Prefix {
    pfx("10.0.2.0/24")
}
fn no() -> Prefix {
    pfx("10.0.3.0/24")
}

fn attrs(peer: u32, med: u32, hops: usize, communities: Vec<Community>) -> Arc<RouteAttrs> {
    let path: Vec<Asn> = (0..hops).map(|i| Asn(65001 + peer + i as u32)).collect();
    Arc::new(RouteAttrs::new(
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path)),
            med: Some(med),
            communities,
            ..PathAttributes::default()
        },
        MpNextHop::V4(Ipv4Addr::new(127, 0, 0, 10 + peer as u8)),
    ))
}

impl Lab {
    fn new() -> Lab {
        let (ctl_tx, ctl) = mpsc::unbounded_channel::<ShardCtl>();
        let policy = Arc::new(ExportPolicy {
            local_asn: Asn(64500),
            ..ExportPolicy::default()
        });
        let mut shard = Shard::new(
            0,
            Arc::new(RibCounters::default()),
            ctl_tx,
            Arc::new(ArcSwap::from_pointee(ShardSnapshot::empty(0))),
            policy,
        );
        let addrs: Vec<IpAddr> = (0..PEERS)
            .map(|p| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + p as u8)))
            .collect();
        shard.message(ShardMsg::PeerAddrs(Arc::new(addrs)));
        let mut lab = Lab {
            shard,
            ctl,
            queues: Vec::new(),
            refills: Arc::new(Mutex::new(Vec::new())),
            held: vec![Held::new(); PEERS as usize],
        };
        for p in 0..PEERS {
            let q = lab.new_queue(p);
            lab.queues.push(q);
            lab.up(p);
        }
        lab.settle();
        lab
    }

    fn new_queue(&self, p: u32) -> Arc<OutQueue> {
        let r = self.refills.clone();
        Arc::new(OutQueue::new(
            1 << 20,
            Box::new(move || r.lock().unwrap().push(PeerId(p))),
        ))
    }

    /// Peer `p`'s session comes up (clients 0 and 1 negotiated LLGR).
    fn up(&mut self, p: u32) {
        let queue = self.new_queue(p);
        self.queues[p as usize] = queue.clone();
        self.held[p as usize].clear();
        self.shard.message(ShardMsg::ClientUp(Arc::new(ClientInfo {
            peer: PeerId(p),
            asn: Asn(65001 + p),
            router_id: p + 1,
            families: FamilySet::ALL,
            tx: ParseCtx::new(),
            add_path_max: 0,
            add_otc: false,
            llgr: p == S || p == LLGR,
            queue,
        })));
    }

    fn announce(&mut self, peer: u32, prefixes: &[Prefix], attrs: Arc<RouteAttrs>) {
        self.shard.message(ShardMsg::Routes(RouteBatch {
            peer: PeerId(peer),
            family: V4,
            attrs: Some(attrs),
            verdict: Verdict::ACCEPT,
            announce: prefixes.iter().map(|p| Nlri::new(*p)).collect(),
            withdraw: vec![],
        }));
        self.shard.flush();
        self.settle();
    }

    /// S's usual table: P1, P2 (short path) and NO (with NO_LLGR); T's P2 (longer path).
    fn tables(&mut self) {
        self.announce(S, &[p1(), p2()], attrs(S, 10, 1, vec![]));
        self.announce(S, &[no()], attrs(S, 10, 1, vec![Community::NO_LLGR]));
        self.announce(T, &[p2()], attrs(T, 30, 3, vec![]));
    }

    fn drain(&mut self, p: u32) {
        let q = &self.queues[p as usize];
        let mut items = Vec::new();
        q.try_pop_all(&mut items);
        for item in items {
            let own = matches!(item, OutItem::Updates(_));
            if let OutItem::Updates(mut b) | OutItem::Shared(mut b) = item {
                let n = if own { b.len() } else { 0 };
                while !b.is_empty() {
                    let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
                    let u = Update::parse(b.split_to(len), &ParseCtx::new()).unwrap();
                    let held = &mut self.held[p as usize];
                    for w in u.withdrawals() {
                        held.remove(&w.prefix);
                    }
                    let med = u.attrs().med().unwrap_or(0);
                    let stale = u.attrs().communities().any(|c| c == Community::LLGR_STALE);
                    for a in u.announced() {
                        held.insert(a.prefix, (med, stale));
                    }
                }
                if n > 0 {
                    q.written(n);
                }
            }
        }
    }

    fn settle(&mut self) {
        for _ in 0..1000 {
            for p in 0..PEERS {
                self.drain(p);
            }
            let pending: Vec<PeerId> = std::mem::take(&mut *self.refills.lock().unwrap());
            let mut worked = !pending.is_empty();
            for p in pending {
                self.shard.control(ShardCtl::Refill(p));
            }
            while self.shard.refill_step() {
                worked = true;
            }
            let queued = self.queues.iter().any(|q| q.queued_bytes() > 0);
            if !worked && !queued {
                return;
            }
        }
        panic!("export never settles");
    }

    /// Waits for the shard's next timer to fire and hands it to the shard: which one it was.
    async fn next_timer(&mut self) -> &'static str {
        let c = tokio::time::timeout(Duration::from_secs(10), self.ctl.recv())
            .await
            .expect("no timer fired")
            .expect("timer channel closed");
        let kind = match &c {
            ShardCtl::StaleTimeout { .. } => "restart time",
            ShardCtl::LlgrTimeout { .. } => "long-lived stale time",
            _ => "other",
        };
        assert!(self.shard.control(c));
        self.shard.flush();
        self.settle();
        kind
    }

    fn message(&mut self, m: ShardMsg) {
        self.shard.message(m);
        self.shard.flush();
        self.settle();
    }

    /// S is lost without a NOTIFICATION, with restart time `gr` and LLGR for IPv4.
    fn lose_s(&mut self, gr: Duration, llst: Duration) {
        self.message(ShardMsg::PeerDown {
            peer: PeerId(S),
            stale_for: Some(gr),
            long_lived: vec![(V4, llst)],
        });
    }

    fn held(&self, client: u32, p: Prefix) -> Option<(u32, bool)> {
        self.held[client as usize].get(&p).copied()
    }

    /// Whether S's path of `p` is long-lived stale in the table.
    fn llgr_stale_in_table(&self, p: Prefix) -> Option<bool> {
        let e = self.shard.table.prefixes.get(&p)?;
        e.paths
            .iter()
            .find(|x| x.peer == PeerId(S))
            .map(|x| x.llgr_stale)
    }
}

/// Everyone holds S's table, plain.
fn assert_normal(lab: &Lab) {
    for c in [LLGR, PLAIN] {
        assert_eq!(lab.held(c, p1()), Some((10, false)), "client {c} P1");
        assert_eq!(lab.held(c, p2()), Some((10, false)), "client {c} P2");
        assert_eq!(lab.held(c, no()), Some((10, false)), "client {c} NO");
    }
}

/// S's routes in their long-lived stale time: the LLGR client keeps P1 with LLGR_STALE, the
/// other loses it; both get T's P2 (a stale path loses to any other); NO_LLGR is gone.
fn assert_long_lived(lab: &Lab) {
    assert_eq!(lab.held(LLGR, p1()), Some((10, true)));
    assert_eq!(lab.held(PLAIN, p1()), None);
    assert_eq!(lab.held(LLGR, p2()), Some((30, false)));
    assert_eq!(lab.held(PLAIN, p2()), Some((30, false)));
    assert_eq!(lab.held(LLGR, no()), None);
    assert_eq!(lab.held(PLAIN, no()), None);
    assert_eq!(lab.llgr_stale_in_table(p1()), Some(true));
    assert_eq!(lab.llgr_stale_in_table(p2()), Some(true));
    assert_eq!(lab.llgr_stale_in_table(no()), None);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn restart_time_then_long_lived_stale_time_then_gone() {
    let mut lab = Lab::new();
    lab.tables();
    assert_normal(&lab);
    let lost = Instant::now();
    lab.lose_s(ms(50), ms(100));
    // The restart time: stale, still the best and sent to everyone as it was.
    assert_normal(&lab);
    assert_eq!(lab.llgr_stale_in_table(p1()), Some(false));
    // Its end: long-lived stale.
    assert_eq!(lab.next_timer().await, "restart time");
    assert!(lost.elapsed() >= ms(50));
    let begun = Instant::now();
    assert_long_lived(&lab);
    // The long-lived stale time runs from the end of the restart time.
    assert_eq!(lab.next_timer().await, "long-lived stale time");
    assert!(begun.elapsed() >= ms(95));
    assert_eq!(lab.held(LLGR, p1()), None);
    assert_eq!(lab.held(PLAIN, p1()), None);
    assert_eq!(lab.held(LLGR, p2()), Some((30, false)));
    assert!(lab.shard.table.prefixes.get(&p1()).is_none());
    assert_eq!(lab.llgr_stale_in_table(p2()), None);
}

#[tokio::test]
async fn without_a_restart_time_long_lived_stale_begins_at_once() {
    let mut lab = Lab::new();
    lab.tables();
    lab.lose_s(Duration::ZERO, ms(30));
    assert_eq!(lab.next_timer().await, "restart time");
    assert_long_lived(&lab);
    assert_eq!(lab.next_timer().await, "long-lived stale time");
    assert_eq!(lab.held(LLGR, p1()), None);
}

#[tokio::test]
async fn the_return_and_end_of_rib_sweep_what_was_not_sent_again() {
    let mut lab = Lab::new();
    lab.tables();
    lab.lose_s(ms(10), ms(200));
    assert_eq!(lab.next_timer().await, "restart time");
    assert_long_lived(&lab);
    // S is back (its forwarding state kept): stale paths wait for its End-of-RIB.
    lab.message(ShardMsg::StaleTimer {
        peer: PeerId(S),
        after: Duration::from_secs(360),
    });
    lab.up(S);
    lab.settle();
    assert_long_lived(&lab);
    // It sends P2 again, not P1: P2 is fresh (best again, without LLGR_STALE, for both).
    lab.announce(S, &[p2()], attrs(S, 10, 1, vec![]));
    assert_eq!(lab.held(LLGR, p2()), Some((10, false)));
    assert_eq!(lab.held(PLAIN, p2()), Some((10, false)));
    assert_eq!(lab.held(LLGR, p1()), Some((10, true)));
    lab.message(ShardMsg::EndOfRib {
        peer: PeerId(S),
        family: V4,
    });
    assert_eq!(lab.held(LLGR, p1()), None);
    assert_eq!(lab.held(LLGR, p2()), Some((10, false)));
    assert!(lab.shard.table.prefixes.get(&p1()).is_none());
    // The long-lived timer that was running removes nothing fresh.
    assert_eq!(lab.next_timer().await, "long-lived stale time");
    assert_eq!(lab.held(PLAIN, p2()), Some((10, false)));
    assert_eq!(lab.held(LLGR, p2()), Some((10, false)));
}

#[tokio::test]
async fn back_within_the_restart_time_no_long_lived_phase_follows() {
    let mut lab = Lab::new();
    lab.tables();
    lab.lose_s(ms(30), ms(10));
    lab.message(ShardMsg::StaleTimer {
        peer: PeerId(S),
        after: Duration::from_secs(360),
    });
    lab.up(S);
    lab.settle();
    // The first restart timer fires, void: nothing became long-lived stale or went.
    assert_eq!(lab.next_timer().await, "restart time");
    assert_normal(&lab);
    assert_eq!(lab.llgr_stale_in_table(p1()), Some(false));
    lab.message(ShardMsg::EndOfRib {
        peer: PeerId(S),
        family: V4,
    });
    assert_eq!(lab.held(LLGR, p1()), None);
    assert_eq!(lab.held(PLAIN, p2()), Some((30, false)));
}

#[tokio::test]
async fn families_without_a_long_lived_time_go_at_the_end_of_the_restart_time() {
    let mut lab = Lab::new();
    lab.tables();
    lab.message(ShardMsg::PeerDown {
        peer: PeerId(S),
        stale_for: Some(ms(10)),
        long_lived: vec![(Family::Ipv6Unicast, Duration::from_secs(60))],
    });
    assert_normal(&lab);
    assert_eq!(lab.next_timer().await, "restart time");
    assert_eq!(lab.held(LLGR, p1()), None);
    assert_eq!(lab.held(LLGR, p2()), Some((30, false)));
}

/// A route received with LLGR_STALE is long-lived stale: least preferred, and only for
/// clients that negotiated LLGR; the others get the next best path or a withdrawal.
#[tokio::test]
async fn a_route_received_with_llgr_stale_goes_only_to_llgr_clients() {
    let mut lab = Lab::new();
    let stale = vec![Community::LLGR_STALE];
    lab.announce(S, &[p1(), p2()], attrs(S, 10, 1, stale));
    assert_eq!(lab.held(LLGR, p1()), Some((10, true)));
    assert_eq!(lab.held(PLAIN, p1()), None);
    assert_eq!(lab.llgr_stale_in_table(p1()), Some(true));
    // T's longer path wins over the shorter long-lived stale one, for everyone.
    lab.announce(T, &[p2()], attrs(T, 30, 3, vec![]));
    assert_eq!(lab.held(LLGR, p2()), Some((30, false)));
    assert_eq!(lab.held(PLAIN, p2()), Some((30, false)));
    // S announces P1 again without it: fresh, and the plain client gets it too.
    lab.announce(S, &[p1()], attrs(S, 10, 1, vec![]));
    assert_eq!(lab.held(PLAIN, p1()), Some((10, false)));
    assert_eq!(lab.held(LLGR, p1()), Some((10, false)));
}

/// A second loss during the long-lived stale time starts over: the first loss's long-lived
/// timer no longer removes anything.
#[tokio::test]
async fn a_new_loss_voids_the_earlier_long_lived_timer() {
    let mut lab = Lab::new();
    lab.tables();
    lab.lose_s(ms(10), ms(40));
    assert_eq!(lab.next_timer().await, "restart time");
    lab.message(ShardMsg::StaleTimer {
        peer: PeerId(S),
        after: Duration::from_secs(360),
    });
    lab.up(S);
    lab.announce(S, &[p1(), p2()], attrs(S, 10, 1, vec![]));
    lab.lose_s(ms(150), Duration::from_secs(60));
    // The first loss's long-lived timer: void, S's paths are in their new restart time.
    assert_eq!(lab.next_timer().await, "long-lived stale time");
    assert_eq!(lab.held(PLAIN, p1()), Some((10, false)));
    assert_eq!(lab.next_timer().await, "restart time");
    assert_eq!(lab.held(LLGR, p1()), Some((10, true)));
    assert_eq!(lab.held(PLAIN, p1()), None);
}

/// The long-lived stale mark took a spare byte of the path's padding: a path is as large as
/// it was with `stale` alone (8 + 8 + 8 + 4 × 4 octets and 5 octets of small fields, in 48).
#[test]
fn the_llgr_mark_costs_no_memory() {
    assert_eq!(std::mem::size_of::<super::path::Path>(), 48);
}
