//! The update hot path under fuzzing: arbitrary UPDATE bytes from four peers go through
//! decode → import (RFC 7606 actions, next hops, batches) → RIB shard → export → encoded
//! UPDATEs, and what every client has received (decoded from those bytes) must equal a
//! brute-force per-client best-path computation over a model of what was announced. At the
//! end everything is withdrawn and the RIB must be empty.
//!
//! Input: two bytes of settings (export rules per client, ADD-PATH limit, queue size), then
//! chunks `[peer | flags][len u16][UPDATE body]`; flag 0x80 resets the peer's session
//! instead of sending the body.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use peerex::policy::{ClientSet, ExportRules, PeerId};
use peerex::rib::sim::{Sim, SimPeer};
use peerex::rib::{export_attrs, RouteAttrs, ShardMsg};
use peerex::session::routes::Importer;
use peerex::wire::update::pack_withdraw;
use peerex::wire::{
    Asn, Community, Family, FamilySet, MpNextHop, Nlri, Origin, ParseCtx, PathAttributes, Prefix,
    SegmentType, Update,
};

const PEERS: usize = 4;
/// Peer 3 receives and sends ADD-PATH.
const ADD_PATH_PEER: usize = 3;

fn ctx_of(i: usize) -> ParseCtx {
    let mut c = ParseCtx::new();
    if i == ADD_PATH_PEER {
        c.add_path = FamilySet::ALL;
    }
    c
}

fn router_id(i: usize) -> u32 {
    [0x0a00_0003, 0x0a00_0001, 0x0a00_0004, 0x0a00_0002][i % 4]
}

fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8))
}

/// A path as the model keeps it.
#[derive(Clone, Debug)]
struct ModelPath {
    ra: Arc<RouteAttrs>,
}

impl ModelPath {
    fn hops(&self) -> usize {
        self.ra.attrs.as_path.as_ref().map_or(0, |p| p.hop_count())
    }
    fn origin(&self) -> Origin {
        self.ra.attrs.origin.unwrap_or(Origin::Incomplete)
    }
    fn neighbor(&self) -> Option<Asn> {
        let s = self.ra.attrs.as_path.as_ref()?.segments.first()?;
        (s.kind == SegmentType::Sequence)
            .then(|| s.asns.first().copied())
            .flatten()
    }
    fn med(&self) -> u32 {
        self.ra.attrs.med.unwrap_or(0)
    }
}

type Key = (usize, u32); // (peer, received path id)

/// Naive RFC 4271 §9.1.2.2 over `cands` (all accepted, LOCAL_PREF equal).
fn best(cands: &[(Key, &ModelPath)]) -> Option<Key> {
    let min_hops = cands.iter().map(|(_, p)| p.hops()).min()?;
    let t1: Vec<_> = cands.iter().filter(|(_, p)| p.hops() == min_hops).collect();
    let min_origin = t1.iter().map(|(_, p)| p.origin()).min()?;
    let t2: Vec<_> = t1
        .into_iter()
        .filter(|(_, p)| p.origin() == min_origin)
        .collect();
    let t3: Vec<_> = t2
        .iter()
        .filter(|(_, p)| {
            !t2.iter()
                .any(|(_, q)| q.neighbor() == p.neighbor() && q.med() < p.med())
        })
        .collect();
    t3.iter()
        .min_by_key(|((peer, id), _)| (router_id(*peer), addr(*peer), *peer, *id))
        .map(|(k, _)| *k)
}

/// What a client should hold for one prefix: the exported attributes (and next hop) of each
/// path it should have.
fn expected(
    model: &BTreeMap<Prefix, BTreeMap<Key, ModelPath>>,
    client: usize,
    rules: &ExportRules,
    add_path_max: u16,
) -> BTreeMap<Prefix, Vec<(PathAttributes, Option<MpNextHop>)>> {
    let tx = ctx_of(client);
    let mut out = BTreeMap::new();
    for (prefix, paths) in model {
        let cands: Vec<(Key, &ModelPath)> = paths
            .iter()
            // A route received with LLGR_STALE (RFC 9494) goes only to clients that
            // negotiated long-lived graceful restart, and none does here.
            .filter(|((peer, _), p)| {
                *peer != client
                    && rules.accepts(PeerId(*peer as u32))
                    && !p.ra.attrs.communities.contains(&Community::LLGR_STALE)
            })
            .map(|(k, p)| (*k, p))
            .collect();
        let Some(b) = best(&cands) else { continue };
        let mut chosen = vec![b];
        if client == ADD_PATH_PEER {
            let mut rest: Vec<&(Key, &ModelPath)> = cands.iter().filter(|(k, _)| *k != b).collect();
            rest.sort_by_key(|((peer, id), p)| {
                (
                    p.hops(),
                    p.origin(),
                    router_id(*peer),
                    addr(*peer),
                    *peer,
                    *id,
                )
            });
            let n = if add_path_max == 0 {
                usize::MAX
            } else {
                usize::from(add_path_max)
            };
            chosen.extend(rest.iter().map(|(k, _)| *k).take(n - 1));
        }
        let mut list: Vec<(PathAttributes, Option<MpNextHop>)> = chosen
            .iter()
            .filter_map(|k| paths.get(k))
            .map(|p| {
                let family = prefix.family();
                let a = export_attrs(&p.ra, family, &tx, false, Asn(64500));
                let nh = (family == Family::Ipv6Unicast).then(|| p.ra.next_hop.clone());
                (a, nh)
            })
            .collect();
        list.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out.insert(*prefix, list);
    }
    out
}

/// What a client received: (prefix, path id) → attributes and MP next hop.
type Received = BTreeMap<(Prefix, u32), (PathAttributes, Option<MpNextHop>)>;

fn absorb(rx: &mut Received, mut b: Bytes, ctx: &ParseCtx) {
    while !b.is_empty() {
        let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
        let u =
            Update::parse(b.split_to(len), ctx).expect("peerex sent an UPDATE it cannot decode");
        assert!(
            u.issues().is_empty(),
            "peerex sent a malformed UPDATE: {:?}",
            u.issues()
        );
        for w in u.withdrawals() {
            rx.remove(&(w.prefix, w.path_id.map_or(0, |i| i.0)));
        }
        let attrs = u.attrs().to_owned();
        let mp_nh = u.mp_reach().and_then(|m| m.next_hop());
        for a in u.announced() {
            let nh = (a.prefix.family() == Family::Ipv6Unicast)
                .then(|| mp_nh.clone())
                .flatten();
            rx.insert(
                (a.prefix, a.path_id.map_or(0, |i| i.0)),
                (attrs.clone(), nh),
            );
        }
    }
}

fn by_prefix(rx: &Received) -> BTreeMap<Prefix, Vec<(PathAttributes, Option<MpNextHop>)>> {
    let mut out: BTreeMap<Prefix, Vec<_>> = BTreeMap::new();
    for ((p, _), v) in rx {
        out.entry(*p).or_default().push(v.clone());
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    }
    out
}

/// Applies one decoded UPDATE of `peer` to the model, the way the importer does.
fn model_update(
    model: &mut BTreeMap<Prefix, BTreeMap<Key, ModelPath>>,
    peer: usize,
    u: &Update,
    batches: &[(usize, peerex::rib::RouteBatch)],
) {
    // Mirror the batches the importer produced: that is the contract under test downstream.
    // (The importer itself is checked against the decoded UPDATE below.)
    for (_, b) in batches {
        for n in &b.withdraw {
            let key = (peer, n.path_id.map_or(0, |i| i.0));
            if let Some(m) = model.get_mut(&n.prefix) {
                m.remove(&key);
                if m.is_empty() {
                    model.remove(&n.prefix);
                }
            }
        }
        if let Some(ra) = &b.attrs {
            for n in &b.announce {
                let key = (peer, n.path_id.map_or(0, |i| i.0));
                model
                    .entry(n.prefix)
                    .or_default()
                    .insert(key, ModelPath { ra: ra.clone() });
            }
        }
    }
    // The importer must announce exactly what the UPDATE announces (unless treat-as-withdraw)
    // and withdraw exactly what it withdraws.
    let announced: usize = batches.iter().map(|(_, b)| b.announce.len()).sum();
    let withdrawn: usize = batches.iter().map(|(_, b)| b.withdraw.len()).sum();
    let (a, w) = (u.announced().count(), u.withdrawals().count());
    if u.treat_as_withdraw() {
        assert_eq!((announced, withdrawn), (0, a + w));
    } else if u.end_of_rib().is_none() {
        assert_eq!((announced, withdrawn), (a, w));
    }
}

fn rules_from(bits: u16, client: usize) -> ExportRules {
    let mask = (bits >> (4 * client)) & 0xf;
    if mask == 0xf {
        return ExportRules::default();
    }
    let set: ClientSet = (0..PEERS)
        .filter(|q| mask & (1 << q) != 0)
        .map(|q| PeerId(q as u32))
        .collect();
    ExportRules {
        accepts_from: Some(Arc::new(set)),
        ..ExportRules::default()
    }
}

pub fn run(data: &[u8]) {
    let [a, b, c, rest @ ..] = data else { return };
    let bits = u16::from_be_bytes([*a, *b]);
    let add_path_max = u16::from(c & 0x3);
    let high = if c & 0x80 != 0 { 300 } else { 1 << 20 };
    let rules: Vec<ExportRules> = (0..PEERS).map(|i| rules_from(bits, i)).collect();
    let peers: Vec<SimPeer> = (0..PEERS)
        .map(|i| SimPeer {
            asn: Asn(65001 + i as u32),
            router_id: router_id(i),
            address: addr(i),
            tx: ctx_of(i),
            add_path_max: if i == ADD_PATH_PEER { add_path_max } else { 0 },
            rules: rules[i].clone(),
        })
        .collect();
    let mut sim = Sim::new(peers, Asn(64500), high);
    let mut model: BTreeMap<Prefix, BTreeMap<Key, ModelPath>> = BTreeMap::new();
    let mut received: Vec<Received> = vec![Received::new(); PEERS];
    let importers: Vec<Importer> = (0..PEERS)
        .map(|i| Importer {
            peer: PeerId(i as u32),
            shards: 1,
            families: FamilySet::ALL,
            check_otc: false,
        })
        .collect();
    let mut input = rest;
    let mut steps = 0;
    while let [head, l1, l2, tail @ ..] = input {
        steps += 1;
        if steps > 64 {
            break;
        }
        let peer = usize::from(head & 0x3);
        let len = usize::from(u16::from_be_bytes([*l1, *l2]))
            .min(tail.len())
            .min(4096 - 19);
        let (body, next) = tail.split_at(len);
        input = next;
        if head & 0x80 != 0 {
            // Session reset: its paths go; the client is dumped the table again.
            sim.down(peer);
            model.retain(|_, m| {
                m.retain(|(p, _), _| *p != peer);
                !m.is_empty()
            });
            received[peer].clear();
            sim.up(peer);
            continue;
        }
        let mut m = BytesMut::with_capacity(19 + len);
        m.extend_from_slice(&[0xff; 16]);
        m.extend_from_slice(&((19 + len) as u16).to_be_bytes());
        m.extend_from_slice(&[2]);
        m.extend_from_slice(body);
        let Ok(u) = Update::parse(m.freeze(), &ctx_of(peer)) else {
            continue;
        };
        let (_, batches) = importers[peer].plan(&u);
        model_update(&mut model, peer, &u, &batches);
        // Settings bit 6: flush only every fourth UPDATE (the shard batches its input).
        if c & 0x40 != 0 && steps % 4 != 0 {
            sim.queue(batches.into_iter().map(|(_, b)| ShardMsg::Routes(b)));
        } else {
            sim.apply(batches.into_iter().map(|(_, b)| ShardMsg::Routes(b)));
        }
        if steps % 3 == 0 {
            sim.settle(|i, b| absorb(&mut received[i], b, &ctx_of(i)));
        }
    }
    sim.settle(|i, b| absorb(&mut received[i], b, &ctx_of(i)));
    for c in 0..PEERS {
        let want = expected(&model, c, &rules[c], add_path_max);
        let got = by_prefix(&received[c]);
        assert_eq!(
            got, want,
            "client {c} differs from the brute-force best paths"
        );
        assert_eq!(
            sim.dumps_done[c],
            FamilySet::ALL,
            "client {c} never got End-of-RIB"
        );
    }
    // Withdraw everything: the RIB and every client end up empty.
    for peer in 0..PEERS {
        let ctx = ctx_of(peer);
        for fam in Family::ALL {
            let list: Vec<Nlri> = model
                .iter()
                .filter(|(p, _)| p.family() == fam)
                .flat_map(|(p, m)| {
                    m.keys()
                        .filter(|(q, _)| *q == peer)
                        .map(|(_, id)| {
                            if ctx.add_path_for(fam) {
                                Nlri::with_path_id(*p, *id)
                            } else {
                                Nlri::new(*p)
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            if list.is_empty() {
                continue;
            }
            let mut out = BytesMut::new();
            pack_withdraw(&ctx, fam, &list, &mut out).expect("withdrawals pack");
            let mut wire = out.freeze();
            while !wire.is_empty() {
                let len = usize::from(u16::from_be_bytes([wire[16], wire[17]]));
                let u = Update::parse(wire.split_to(len), &ctx).expect("own withdrawal decodes");
                let (_, batches) = importers[peer].plan(&u);
                sim.apply(batches.into_iter().map(|(_, b)| ShardMsg::Routes(b)));
            }
        }
    }
    // The model's references to attribute sets go too.
    model.clear();
    sim.settle(|i, b| absorb(&mut received[i], b, &ctx_of(i)));
    assert_eq!(
        sim.table_len(),
        0,
        "prefixes left after withdrawing everything"
    );
    assert_eq!(
        sim.interned(),
        0,
        "attribute sets left after withdrawing everything"
    );
    for (c, r) in received.iter().enumerate() {
        assert!(r.is_empty(), "client {c} still holds {} paths", r.len());
    }
}
