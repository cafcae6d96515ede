//! The [`Feed`] a collector connection pulls from: the RIB's snapshots and the sessions'
//! status turned into BMP — Peer Up/Down, Route Monitoring per view, Statistics Reports.
//!
//! A pull design, so that a collector never slows routing: nothing is queued for a
//! collector. The feed remembers only the snapshot its collector's state matches; each pass
//! (at most one per `pass_interval`, RFC 9069's "state compression") compares the newest
//! snapshot with it, shard by shard — `imbl`'s diff skips the subtrees the two share, so a
//! pass costs what changed — and renders the difference, a bounded batch at a time. The
//! initial dump is the same pass against an empty RIB. A peer that came up since the last
//! pass is compared with nothing (the collector forgot its routes at its Peer Down), which
//! takes a walk over the whole table; so do export-rule changes when the Adj-RIB-Out view is
//! on.
//!
//! Memory: the two snapshots of the pass in progress (what they do not share grows with the
//! changes since the last pass), one batch, and the monitored peers' headers. A collector
//! that stops reading stalls its own pass and is dropped by `collector.rs`, which lets the
//! snapshots go.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use imbl::ordmap::DiffItem;
use tokio::time::Instant;

use super::collector::Feed;
use super::msg::{stat, Message, PeerDownReason, PeerUp, Stat, StatValue};
use super::render::{
    peer_header, stamp_now, Compare, Monitored, OutCounts, PeerInfo, Render, Side, Views,
};
use super::source::{unspecified, Session, Source};
use crate::policy::PeerId;
use crate::rib::{PrefixEntry, RibSnapshot, ShardSnapshot};
use crate::wire::capability::Capability;
use crate::wire::{Asn, Family, Open, Prefix};

/// What one collector gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedSettings {
    pub views: Views,
    /// Names of the peers monitored; all when `None`.
    pub peers: Option<Vec<String>>,
    /// Between Statistics Reports; zero for none.
    pub stats_interval: Duration,
    /// Between passes over what changed.
    pub pass_interval: Duration,
    /// Messages per batch (a prefix's messages are never split).
    pub batch: usize,
}

impl FeedSettings {
    pub fn new(views: Views) -> Self {
        FeedSettings {
            views,
            peers: None,
            stats_interval: Duration::from_secs(60),
            pass_interval: Duration::from_secs(1),
            batch: 1024,
        }
    }
}

/// A pass over the difference between two snapshots, resumable between batches.
struct Pass {
    old: RibSnapshot,
    new: RibSnapshot,
    shard: usize,
    /// The last prefix rendered in `shard`.
    after: Option<Prefix>,
    /// The Loc-RIB is sent whole.
    loc_fresh: bool,
    /// Some monitored peer is to be sent whole: every prefix is visited.
    fresh: bool,
    /// In the current shard: per client index, whether its export rules changed; and
    /// whether any did.
    rules_changed: Vec<bool>,
    any_rules_changed: bool,
    rules_for: Option<usize>,
}

pub struct RibFeed<S: Source> {
    source: Arc<S>,
    settings: FeedSettings,
    render: Render,
    /// The snapshot the collector's state matches (after the last complete pass).
    sent: Option<RibSnapshot>,
    mon: Monitored,
    /// What the collector holds in its Adj-RIB-Out view, per client and family.
    out_counts: OutCounts,
    pass: Option<Pass>,
    last_pass: Instant,
    next_stats: Instant,
}

impl<S: Source> RibFeed<S> {
    pub fn new(
        source: Arc<S>,
        settings: FeedSettings,
        rs_asn: Asn,
        router_id: std::net::Ipv4Addr,
    ) -> Self {
        let now = Instant::now();
        RibFeed {
            source,
            render: Render {
                views: settings.views,
                rs_asn,
                router_id,
            },
            next_stats: now + settings.stats_interval,
            settings,
            sent: None,
            mon: Monitored::default(),
            out_counts: OutCounts::default(),
            pass: None,
            last_pass: now,
        }
    }

    /// Whether a pass (or the dump) is under way.
    pub fn pass_in_progress(&self) -> bool {
        self.pass.is_some()
    }

    /// Routes the collector holds in client `peer`'s Adj-RIB-Out view for `f`.
    pub fn adj_rib_out_count(&self, peer: PeerId, f: Family) -> u64 {
        self.out_counts.get(peer, f)
    }

    /// Starts a pass: Peer Down for the sessions that ended, Peer Up for the new ones, then
    /// the routes' difference (against nothing when `first`).
    fn begin(&mut self, first: bool, out: &mut Vec<Message>) {
        let new = self.source.snapshot();
        let old = match (&self.sent, first) {
            (Some(s), false) => s.clone(),
            _ => empty_like(&new),
        };
        if first {
            self.mon = Monitored::default();
            self.out_counts = OutCounts::default();
            if self.render.views.loc_rib {
                out.push(self.loc_peer_up());
            }
        }
        let sessions = self.source.sessions(self.settings.peers.as_deref());
        let gone: Vec<PeerInfo> = self
            .mon
            .iter()
            .filter(|m| !sessions.iter().any(|s| s.info == **m))
            .cloned()
            .collect();
        for g in gone {
            self.mon.remove(g.id);
            self.out_counts.reset(g.id);
            out.push(Message::PeerDown {
                peer: peer_header(&g, 0, stamp_now()),
                reason: match self.source.down_reason(g.id) {
                    // Still up (a new session, or its details changed): it went down between.
                    r if sessions.iter().any(|s| s.info.id == g.id) => match r {
                        PeerDownReason::Deconfigured => PeerDownReason::RemoteNoData,
                        r => r,
                    },
                    r => r,
                },
            });
        }
        for s in &sessions {
            if self.mon.get(s.info.id).is_none() {
                out.push(peer_up(s));
                self.mon.insert(s.info.clone(), true);
            }
        }
        let fresh = self.mon.any_fresh();
        self.pass = Some(Pass {
            old,
            new,
            shard: 0,
            after: None,
            loc_fresh: first,
            fresh,
            rules_changed: Vec::new(),
            any_rules_changed: false,
            rules_for: None,
        });
        self.last_pass = Instant::now();
    }

    /// Renders the pass on until `out` holds a batch; true when the pass is complete.
    fn step(&mut self, out: &mut Vec<Message>) -> bool {
        let Some(pass) = self.pass.as_mut() else {
            return true;
        };
        let budget = self.settings.batch.max(1);
        while pass.shard < pass.new.shards.len() {
            let i = pass.shard;
            let (Some(o), Some(n)) = (
                pass.old.shards.get(i).cloned(),
                pass.new.shards.get(i).cloned(),
            ) else {
                break;
            };
            if pass.rules_for != Some(i) {
                pass.rules_for = Some(i);
                pass.rules_changed.clear();
                pass.any_rules_changed = false;
                if self.render.views.adj_rib_out
                    && !(Arc::ptr_eq(&o.policy, &n.policy)
                        && Arc::ptr_eq(&o.llgr_clients, &n.llgr_clients))
                {
                    for m in self.mon.iter() {
                        let k = m.id.index();
                        if pass.rules_changed.len() <= k {
                            pass.rules_changed.resize(k + 1, false);
                        }
                        let c = o.rules(m.id) != n.rules(m.id);
                        if let Some(x) = pass.rules_changed.get_mut(k) {
                            *x = c;
                        }
                        pass.any_rules_changed |= c;
                    }
                }
            }
            let walk = pass.fresh || pass.loc_fresh || pass.any_rules_changed;
            let how = Compare {
                same_entry: false,
                rules_changed: &pass.rules_changed,
                loc_fresh: pass.loc_fresh,
            };
            let mut one =
                |p: &Prefix, a: Option<&Arc<PrefixEntry>>, b: Option<&Arc<PrefixEntry>>| {
                    let same = matches!((a, b), (Some(x), Some(y)) if Arc::ptr_eq(x, y));
                    let how = Compare {
                        same_entry: same,
                        ..how
                    };
                    self.render.prefix(
                        *p,
                        Side {
                            entry: a.map(|e| &**e),
                            shard: &o,
                        },
                        Side {
                            entry: b.map(|e| &**e),
                            shard: &n,
                        },
                        how,
                        &self.mon,
                        &mut self.out_counts,
                        out,
                    );
                    out.len() >= budget
                };
            let stopped_at = if walk {
                walk_both(&o, &n, pass.after, &mut one)
            } else {
                diff_from(&o, &n, pass.after, &mut one)
            };
            match stopped_at {
                Some(p) => {
                    pass.after = Some(p);
                    return false;
                }
                None => {
                    pass.shard += 1;
                    pass.after = None;
                }
            }
        }
        if let Some(p) = self.pass.take() {
            self.sent = Some(p.new);
        }
        self.mon.settle();
        true
    }

    fn loc_peer_up(&self) -> Message {
        let open = local_open(self.render.rs_asn, self.render.router_id);
        Message::PeerUp {
            peer: self.render.loc_header(stamp_now()),
            body: PeerUp {
                local_address: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                local_port: 0,
                remote_port: 0,
                sent_open: open.clone(),
                received_open: open,
                information: Vec::new(),
            },
        }
    }

    /// A Statistics Report per monitored peer.
    fn stats(&self, out: &mut Vec<Message>) {
        for m in self.mon.iter() {
            let s = self.source.peer_stats(m.id);
            let (mut acc, mut rej) = (0u64, 0u64);
            let mut fam = Vec::new();
            for &(f, a, r) in &s.paths {
                acc += a;
                rej += r;
                let (afi, safi) = (f.afi_safi().afi.0, f.afi_safi().safi.0);
                fam.push((afi, safi, a, r));
            }
            let c = |v: u64| StatValue::Counter(u32::try_from(v).unwrap_or(u32::MAX));
            let mut stats = vec![
                Stat {
                    kind: stat::REJECTED_BY_POLICY,
                    value: c(rej),
                },
                Stat {
                    kind: stat::DUPLICATE_PREFIX,
                    value: c(s.duplicates),
                },
                Stat {
                    kind: stat::UPDATES_TREATED_AS_WITHDRAW,
                    value: c(s.updates_treated_as_withdraw),
                },
                Stat {
                    kind: stat::PREFIXES_TREATED_AS_WITHDRAW,
                    value: c(s.prefixes_treated_as_withdraw),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN,
                    value: StatValue::Gauge(acc + rej),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN_PRE,
                    value: StatValue::Gauge(acc + rej),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN_POST,
                    value: StatValue::Gauge(acc),
                },
            ];
            if self.render.views.adj_rib_out {
                let per: Vec<(Family, u64)> = Family::ALL
                    .into_iter()
                    .map(|f| (f, self.out_counts.get(m.id, f)))
                    .collect();
                stats.push(Stat {
                    kind: stat::ADJ_RIB_OUT_POST,
                    value: StatValue::Gauge(per.iter().map(|(_, n)| n).sum()),
                });
                for (f, value) in per {
                    stats.push(Stat {
                        kind: stat::ADJ_RIB_OUT_POST_PER_FAMILY,
                        value: StatValue::FamilyGauge {
                            afi: f.afi_safi().afi.0,
                            safi: f.afi_safi().safi.0,
                            value,
                        },
                    });
                }
            }
            for &(afi, safi, a, r) in &fam {
                for (kind, value) in [
                    (stat::ADJ_RIB_IN_PER_FAMILY, a + r),
                    (stat::ADJ_RIB_IN_PRE_PER_FAMILY, a + r),
                    (stat::ADJ_RIB_IN_POST_PER_FAMILY, a),
                ] {
                    stats.push(Stat {
                        kind,
                        value: StatValue::FamilyGauge { afi, safi, value },
                    });
                }
            }
            out.push(Message::StatisticsReport {
                peer: peer_header(m, 0, stamp_now()),
                stats,
            });
        }
    }
}

impl<S: Source> Feed for RibFeed<S> {
    fn dump(&mut self, first: bool, out: &mut Vec<Message>) -> bool {
        if first {
            self.pass = None;
            self.sent = None;
            self.begin(true, out);
        }
        !self.step(out)
    }

    fn release(&mut self) {
        self.pass = None;
        self.sent = None;
        self.mon = Monitored::default();
        self.out_counts = OutCounts::default();
    }

    async fn changes(&mut self, out: &mut Vec<Message>) {
        loop {
            if self.pass.is_some() {
                self.step(out);
                if !out.is_empty() {
                    return;
                }
                continue;
            }
            let next_pass = self.last_pass + self.settings.pass_interval;
            let stats_on = !self.settings.stats_interval.is_zero();
            let wake = if stats_on {
                next_pass.min(self.next_stats)
            } else {
                next_pass
            };
            tokio::time::sleep_until(wake).await;
            let t = Instant::now();
            if stats_on && t >= self.next_stats {
                self.stats(out);
                self.next_stats = t + self.settings.stats_interval;
            }
            if t >= next_pass {
                self.begin(false, out);
                self.step(out);
            }
            if !out.is_empty() {
                return;
            }
        }
    }
}

fn peer_up(s: &Session) -> Message {
    let local = s
        .handshake
        .local
        .unwrap_or_else(|| std::net::SocketAddr::new(unspecified(s.info.address), 0));
    Message::PeerUp {
        peer: peer_header(&s.info, 0, s.info.up_since),
        body: PeerUp {
            local_address: local.ip(),
            local_port: local.port(),
            remote_port: s.remote_port,
            sent_open: s.handshake.sent_open.clone(),
            received_open: s.handshake.received_open.clone(),
            information: Vec::new(),
        },
    }
}

/// The OPEN the Loc-RIB's Peer Up carries as sent and received (RFC 9069 §5.3: a copy of
/// what the route server would send): its AS, router id and families.
fn local_open(asn: Asn, router_id: std::net::Ipv4Addr) -> bytes::Bytes {
    let caps = vec![
        Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
        Capability::Multiprotocol(Family::Ipv6Unicast.afi_safi()),
        Capability::FourOctetAs(asn),
    ];
    let mut b = bytes::BytesMut::new();
    Open::new(asn, 0, router_id, caps).encode(&mut b);
    b.freeze()
}

/// A RIB snapshot with `like`'s shards, all empty.
fn empty_like(like: &RibSnapshot) -> RibSnapshot {
    RibSnapshot {
        shards: like
            .shards
            .iter()
            .map(|s| {
                let mut e = ShardSnapshot::empty(s.index);
                e.policy = s.policy.clone();
                e.peer_addrs = s.peer_addrs.clone();
                Arc::new(e)
            })
            .collect(),
    }
}

/// Visits every prefix of either side after `after`, in order, with its entry on each side,
/// until `f` says stop; returns the prefix it stopped at.
fn walk_both(
    o: &ShardSnapshot,
    n: &ShardSnapshot,
    after: Option<Prefix>,
    mut f: impl FnMut(&Prefix, Option<&Arc<PrefixEntry>>, Option<&Arc<PrefixEntry>>) -> bool,
) -> Option<Prefix> {
    let from = match after {
        Some(p) => Bound::Excluded(p),
        None => Bound::Unbounded,
    };
    let mut a = o.table.range((from, Bound::Unbounded)).peekable();
    let mut b = n.table.range((from, Bound::Unbounded)).peekable();
    loop {
        let (k, x, y) = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some((ka, _)), Some((kb, _))) if ka == kb => {
                let (k, x) = a.next()?;
                let (_, y) = b.next()?;
                (k, Some(x), Some(y))
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => {
                let (k, x) = a.next()?;
                (k, Some(x), None)
            }
            (Some(_), None) => {
                let (k, x) = a.next()?;
                (k, Some(x), None)
            }
            _ => {
                let (k, y) = b.next()?;
                (k, None, Some(y))
            }
        };
        if f(k, x, y) {
            return Some(*k);
        }
    }
}

/// Visits the prefixes whose entries differ between the two sides, after `after`, in
/// order, until `f` says stop; returns the prefix it stopped at.
fn diff_from(
    o: &ShardSnapshot,
    n: &ShardSnapshot,
    after: Option<Prefix>,
    mut f: impl FnMut(&Prefix, Option<&Arc<PrefixEntry>>, Option<&Arc<PrefixEntry>>) -> bool,
) -> Option<Prefix> {
    for d in o.table.diff(&n.table) {
        let (k, x, y) = match d {
            DiffItem::Add(k, v) => (k, None, Some(v)),
            DiffItem::Remove(k, v) => (k, Some(v), None),
            DiffItem::Update { old, new } => (old.0, Some(old.1), Some(new.1)),
        };
        if after.is_some_and(|a| *k <= a) {
            continue;
        }
        if f(k, x, y) {
            return Some(*k);
        }
    }
    None
}
