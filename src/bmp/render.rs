//! One prefix's change as BMP Route Monitoring messages, per view: Adj-RIB-In pre-policy
//! (every path a monitored peer sent, a rejected one with its reasons as `RS:1101:N` large
//! communities), post-policy (the accepted ones), Loc-RIB (RFC 9069: the best path over all
//! peers) and Adj-RIB-Out (RFC 8671: what each monitored client is sent, as it is sent).
//!
//! Pure: it compares two versions of a prefix's entry (either may be absent) and appends
//! what a collector that holds the first needs to hold the second. It owns no state and does
//! no I/O; which peers are monitored and which views are on is the caller's (`feed.rs`).
//!
//! Every BGP message inside BMP is encoded with 4-octet AS numbers (so the per-peer header's
//! A flag is never set, RFC 7854 §4.2) and may use extended message lengths; path
//! identifiers are included where the monitored session negotiated ADD-PATH for the family
//! in that direction, as the collector reads from the OPENs in Peer Up.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

use super::msg::{flags, Message, PeerHeader, PeerType};
pub use crate::config::BmpViews as Views;
use crate::policy::{reject_communities, PeerId};
use crate::rib::{choose, client_update, Path, PrefixEntry, SelectCtx, ShardSnapshot};
use crate::wire::update::{pack_announce, pack_withdraw};
use crate::wire::{Asn, Family, FamilySet, MpNextHop, Nlri, Overrides, ParseCtx, Prefix};

/// A monitored peer, as its per-peer header names it and as its session encodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    pub address: IpAddr,
    pub asn: Asn,
    pub bgp_id: Ipv4Addr,
    /// Families in which the peer sends us path identifiers (ADD-PATH receive).
    pub rx_add_path: FamilySet,
    /// Families in which we send it path identifiers (ADD-PATH send).
    pub tx_add_path: FamilySet,
    /// OTC is added on export to it (roles in use, RFC 9234).
    pub add_otc: bool,
    /// When its session came up (seconds, microseconds since the Unix epoch).
    pub up_since: (u32, u32),
}

/// The monitored peers, by `PeerId`, each with whether the collector has yet to be sent
/// all of its state (it came up since the last pass: compared with nothing).
#[derive(Clone, Debug, Default)]
pub struct Monitored {
    peers: Vec<Option<(PeerInfo, bool)>>,
    count: usize,
}

impl Monitored {
    pub fn get(&self, id: PeerId) -> Option<&PeerInfo> {
        self.entry(id).map(|(p, _)| p)
    }

    fn entry(&self, id: PeerId) -> Option<&(PeerInfo, bool)> {
        self.peers.get(id.index()).and_then(|p| p.as_ref())
    }

    /// Adds (or replaces) a peer; `fresh` when the collector holds nothing of it yet.
    pub fn insert(&mut self, p: PeerInfo, fresh: bool) {
        let i = p.id.index();
        if self.peers.len() <= i {
            self.peers.resize(i + 1, None);
        }
        if let Some(slot) = self.peers.get_mut(i) {
            if slot.is_none() {
                self.count += 1;
            }
            *slot = Some((p, fresh));
        }
    }

    pub fn remove(&mut self, id: PeerId) -> Option<PeerInfo> {
        let old = self.peers.get_mut(id.index()).and_then(|s| s.take());
        if old.is_some() {
            self.count -= 1;
        }
        old.map(|(p, _)| p)
    }

    /// Whether some peer is still to be sent whole.
    pub fn any_fresh(&self) -> bool {
        self.iter_all().any(|(_, f)| f)
    }

    /// Marks every peer as sent.
    pub fn settle(&mut self) {
        for (_, f) in self.peers.iter_mut().flatten() {
            *f = false;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &PeerInfo> {
        self.iter_all().map(|(p, _)| p)
    }

    fn iter_all(&self) -> impl Iterator<Item = (&PeerInfo, bool)> {
        self.peers.iter().flatten().map(|(p, f)| (p, *f))
    }
}

/// Per client and family, the routes the collector holds in its Adj-RIB-Out view (what
/// Statistics types 15 and 17 report), kept as the view's messages are rendered.
#[derive(Clone, Debug, Default)]
pub struct OutCounts(Vec<[u64; 2]>);

impl OutCounts {
    fn slot(f: Family) -> usize {
        match f {
            Family::Ipv4Unicast => 0,
            Family::Ipv6Unicast => 1,
        }
    }

    fn adjust(&mut self, peer: PeerId, f: Family, was: bool, now: bool) {
        if was == now {
            return;
        }
        let i = peer.index();
        if self.0.len() <= i {
            self.0.resize(i + 1, [0, 0]);
        }
        if let Some(c) = self.0.get_mut(i).and_then(|c| c.get_mut(Self::slot(f))) {
            *c = if now { *c + 1 } else { c.saturating_sub(1) };
        }
    }

    /// Routes held for `peer` in `f`.
    pub fn get(&self, peer: PeerId, f: Family) -> u64 {
        self.0
            .get(peer.index())
            .and_then(|c| c.get(Self::slot(f)))
            .copied()
            .unwrap_or(0)
    }

    /// The collector holds nothing for `peer` (it has not had its Peer Up yet, or had its
    /// Peer Down).
    pub fn reset(&mut self, peer: PeerId) {
        if let Some(c) = self.0.get_mut(peer.index()) {
            *c = [0, 0];
        }
    }
}

/// Seconds and microseconds since the Unix epoch, now.
pub fn stamp_now() -> (u32, u32) {
    stamp(SystemTime::now())
}

pub fn stamp(t: SystemTime) -> (u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.subsec_micros(),
    )
}

/// The per-peer header of monitored peer `p`.
pub fn peer_header(p: &PeerInfo, flags: u8, (secs, micros): (u32, u32)) -> PeerHeader {
    PeerHeader {
        peer_type: PeerType::Global,
        flags,
        distinguisher: 0,
        address: p.address,
        asn: p.asn.0,
        bgp_id: p.bgp_id,
        timestamp_secs: secs,
        timestamp_micros: micros,
    }
}

/// What renders: the views, and the route server as the Loc-RIB's "peer".
#[derive(Clone, Debug)]
pub struct Render {
    pub views: Views,
    pub rs_asn: Asn,
    pub router_id: Ipv4Addr,
}

/// One version of a prefix: its entry and the shard snapshot it is from (for the export
/// policy and selection context of that moment).
#[derive(Copy, Clone)]
pub struct Side<'a> {
    pub entry: Option<&'a PrefixEntry>,
    pub shard: &'a ShardSnapshot,
}

impl Side<'_> {
    fn paths(&self) -> &[Path] {
        self.entry.map_or(&[], |e| &e.paths)
    }

    fn ctx(&self) -> SelectCtx<'_> {
        SelectCtx {
            always_compare_med: self.shard.policy.always_compare_med,
            peer_addrs: &self.shard.peer_addrs,
        }
    }
}

/// How a change is to be compared.
#[derive(Copy, Clone, Debug, Default)]
pub struct Compare<'a> {
    /// The two entries are the same object: only fresh peers (and, with `rules_changed`,
    /// Adj-RIB-Out) can have anything to send.
    pub same_entry: bool,
    /// Per client index, whether its export rules differ between the two sides (a policy
    /// or session change): its Adj-RIB-Out is compared even when the entry is the same.
    pub rules_changed: &'a [bool],
    /// The Loc-RIB is sent whole (a new collector session).
    pub loc_fresh: bool,
}

impl Render {
    /// The Loc-RIB's per-peer header (RFC 9069 §4.1).
    pub fn loc_header(&self, ts: (u32, u32)) -> PeerHeader {
        PeerHeader {
            peer_type: PeerType::LocRib,
            flags: 0,
            distinguisher: 0,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            asn: self.rs_asn.0,
            bgp_id: self.router_id,
            timestamp_secs: ts.0,
            timestamp_micros: ts.1,
        }
    }

    /// Appends what turns `old` into `new` for `prefix` in every view that is on (and keeps
    /// `counts` in step with the Adj-RIB-Out messages).
    #[allow(clippy::too_many_arguments)]
    pub fn prefix(
        &self,
        prefix: Prefix,
        old: Side<'_>,
        new: Side<'_>,
        how: Compare<'_>,
        mon: &Monitored,
        counts: &mut OutCounts,
        out: &mut Vec<Message>,
    ) {
        if self.views.pre_policy || self.views.post_policy {
            self.adj_rib_in(prefix, old, new, how, mon, out);
        }
        if self.views.loc_rib && (how.loc_fresh || !how.same_entry) {
            self.loc_rib(prefix, old, new, how.loc_fresh, out);
        }
        if self.views.adj_rib_out {
            self.adj_rib_out(prefix, old, new, how, mon, counts, out);
        }
    }

    fn adj_rib_in(
        &self,
        prefix: Prefix,
        old: Side<'_>,
        new: Side<'_>,
        how: Compare<'_>,
        mon: &Monitored,
        out: &mut Vec<Message>,
    ) {
        // The peers with a path on either side, each once (entries hold few paths).
        let mut seen: smallvec::SmallVec<[PeerId; 8]> = smallvec::SmallVec::new();
        for p in old.paths().iter().chain(new.paths()) {
            if seen.contains(&p.peer) {
                continue;
            }
            seen.push(p.peer);
            let Some((info, fresh)) = mon.entry(p.peer) else {
                continue;
            };
            if how.same_entry && !fresh {
                continue;
            }
            let before: &[Path] = if *fresh { &[] } else { old.paths() };
            let mine = |paths: &'_ [Path]| -> smallvec::SmallVec<[Path; 2]> {
                paths
                    .iter()
                    .filter(|x| x.peer == info.id)
                    .cloned()
                    .collect()
            };
            let (was, now) = (mine(before), mine(new.paths()));
            if self.views.pre_policy {
                self.diff_in(prefix, info, &was, &now, false, out);
            }
            if self.views.post_policy {
                let acc = |v: &[Path]| -> smallvec::SmallVec<[Path; 2]> {
                    v.iter().filter(|x| x.accepted()).cloned().collect()
                };
                self.diff_in(prefix, info, &acc(&was), &acc(&now), true, out);
            }
        }
    }

    /// One peer's paths of one prefix in the pre- or post-policy view.
    fn diff_in(
        &self,
        prefix: Prefix,
        info: &PeerInfo,
        was: &[Path],
        now: &[Path],
        post: bool,
        out: &mut Vec<Message>,
    ) {
        let ctx = bmp_ctx(info.rx_add_path, false);
        let flags = if post { flags::POST_POLICY } else { 0 };
        for p in now {
            let unchanged = was.iter().any(|w| w.rx_id == p.rx_id && w.same_as(p));
            if unchanged {
                continue;
            }
            let mut b = BytesMut::new();
            let rejected = !p.accepted();
            if self.encode_received(prefix, p, &ctx, p.rx_id, rejected, &mut b) {
                out.push(Message::RouteMonitoring {
                    peer: peer_header(info, flags, (p.since, 0)),
                    update: b.freeze(),
                });
            }
        }
        for w in was {
            if !now.iter().any(|p| p.rx_id == w.rx_id) {
                self.withdraw(
                    prefix,
                    &ctx,
                    w.rx_id,
                    peer_header(info, flags, stamp_now()),
                    out,
                );
            }
        }
    }

    fn loc_rib(
        &self,
        prefix: Prefix,
        old: Side<'_>,
        new: Side<'_>,
        fresh: bool,
        out: &mut Vec<Message>,
    ) {
        let best = |s: &Side<'_>| -> Option<Path> {
            let ctx = s.ctx();
            choose(s.paths(), &ctx, |_| true).cloned()
        };
        let was = if fresh { None } else { best(&old) };
        let now = best(&new);
        let ctx = bmp_ctx(FamilySet::EMPTY, false);
        match (&was, &now) {
            (Some(w), Some(n)) if w.peer == n.peer && w.same_as(n) => {}
            (_, Some(n)) => {
                let mut b = BytesMut::new();
                if self.encode_received(prefix, n, &ctx, 0, false, &mut b) {
                    out.push(Message::RouteMonitoring {
                        peer: self.loc_header((n.since, 0)),
                        update: b.freeze(),
                    });
                }
            }
            (Some(_), None) => self.withdraw(prefix, &ctx, 0, self.loc_header(stamp_now()), out),
            (None, None) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn adj_rib_out(
        &self,
        prefix: Prefix,
        old: Side<'_>,
        new: Side<'_>,
        how: Compare<'_>,
        mon: &Monitored,
        counts: &mut OutCounts,
        out: &mut Vec<Message>,
    ) {
        let (octx, nctx) = (old.ctx(), new.ctx());
        for (info, fresh) in mon.iter_all() {
            let c = info.id;
            let rules_changed = how.rules_changed.get(c.index()).copied().unwrap_or(false);
            if how.same_entry && !fresh && !rules_changed {
                continue;
            }
            let was = if fresh {
                None
            } else {
                old.entry.and_then(|e| {
                    crate::rib::client_choice(e, c, &old.shard.rules(c), &octx).cloned()
                })
            };
            let now = new
                .entry
                .and_then(|e| crate::rib::client_choice(e, c, &new.shard.rules(c), &nctx));
            let flags = flags::POST_POLICY | flags::ADJ_RIB_OUT;
            let tx = bmp_ctx(info.tx_add_path, true);
            let same = match (&was, now) {
                (Some(w), Some(n)) => {
                    w.same_as(n)
                        && w.tx_id == n.tx_id
                        && w.llgr_stale == n.llgr_stale
                        && !rules_changed
                }
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            let mut sent = false;
            if let Some(n) = now {
                let mut b = BytesMut::new();
                let policy = &new.shard.policy;
                if client_update(
                    n,
                    c,
                    prefix,
                    u32::from(n.tx_id),
                    tx,
                    info.add_otc,
                    policy,
                    &mut b,
                ) {
                    out.push(Message::RouteMonitoring {
                        peer: peer_header(info, flags, stamp_now()),
                        update: b.freeze(),
                    });
                    sent = true;
                }
            }
            if !sent {
                if let Some(w) = &was {
                    let id = u32::from(w.tx_id);
                    self.withdraw(prefix, &tx, id, peer_header(info, flags, stamp_now()), out);
                }
            }
            counts.adjust(c, prefix.family(), was.is_some(), sent);
        }
    }

    /// An UPDATE announcing `p` with the attributes its peer sent (and, when `with_reasons`,
    /// a large community per reason it was rejected for).
    fn encode_received(
        &self,
        prefix: Prefix,
        p: &Path,
        ctx: &ParseCtx,
        path_id: u32,
        with_reasons: bool,
        out: &mut BytesMut,
    ) -> bool {
        let ra = &p.attrs;
        let o = Overrides {
            next_hop: Some(match (prefix.family(), &ra.next_hop) {
                (Family::Ipv4Unicast, MpNextHop::V4(v4)) => Some(*v4),
                _ => None,
            }),
            strip_internal: false,
            otc_if_absent: None,
        };
        let mut enc = BytesMut::new();
        if with_reasons {
            let mut a = ra.attrs.clone();
            a.large_communities
                .extend(reject_communities(self.rs_asn, p.verdict.rejects));
            a.encode_with(ctx, &o, &mut enc);
        } else {
            ra.attrs.encode_with(ctx, &o, &mut enc);
        }
        pack_announce(
            ctx,
            prefix.family(),
            &enc,
            &ra.next_hop,
            &[nlri(ctx, prefix, path_id)],
            out,
        )
        .is_ok()
    }

    fn withdraw(
        &self,
        prefix: Prefix,
        ctx: &ParseCtx,
        path_id: u32,
        header: PeerHeader,
        out: &mut Vec<Message>,
    ) {
        let mut b = BytesMut::new();
        if pack_withdraw(ctx, prefix.family(), &[nlri(ctx, prefix, path_id)], &mut b).is_ok() {
            out.push(Message::RouteMonitoring {
                peer: header,
                update: b.freeze(),
            });
        }
    }
}

/// How BGP messages inside BMP are encoded: 4-octet AS numbers always (RFC 7854 §4.2, the A
/// flag clear), extended message lengths, path ids in the families of `add_path`.
fn bmp_ctx(add_path: FamilySet, ebgp: bool) -> ParseCtx {
    ParseCtx {
        four_octet_as: true,
        add_path,
        extended_message: true,
        ebgp,
    }
}

fn nlri(ctx: &ParseCtx, prefix: Prefix, path_id: u32) -> Nlri {
    if ctx.add_path_for(prefix.family()) {
        Nlri::with_path_id(prefix, path_id)
    } else {
        Nlri::new(prefix)
    }
}
