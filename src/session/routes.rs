//! Turning one received UPDATE into RIB route batches: RFC 7606 treat-as-withdraw applied,
//! next hops taken from NEXT_HOP or MP_REACH_NLRI, families the session did not negotiate
//! ignored, the import verdict attached, and the prefixes split by owning shard.

use std::sync::Arc;

use crate::policy::{RejectReason, RejectSet, Verdict};
use crate::rib::{shard_of, PeerId, Rib, RouteAttrs, RouteBatch, ShardMsg};
use crate::wire::{Family, FamilySet, MpNextHop, Nlri, Update};

/// What an UPDATE amounted to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub announced: u64,
    pub withdrawn: u64,
    /// The End-of-RIB marker of this family.
    pub end_of_rib: Option<Family>,
}

/// The import side of one session.
pub struct Importer<'a> {
    pub peer: PeerId,
    pub rib: &'a Rib,
    /// Families negotiated and not disabled.
    pub families: FamilySet,
    /// RFC 9234 roles are in use: a route carrying OTC from an RS-client is a leak.
    pub check_otc: bool,
}

/// Route changes of one family bound for one shard.
#[derive(Default)]
struct Batch {
    announce: Vec<Nlri>,
    withdraw: Vec<Nlri>,
}

impl Importer<'_> {
    /// The verdict for attributes the peer sent (import policy).
    fn verdict(&self, ra: &RouteAttrs) -> Verdict {
        let mut rejects = RejectSet::EMPTY;
        if self.check_otc && ra.attrs.otc.is_some() {
            rejects.insert(RejectReason::OtcLeak);
        }
        if rejects.is_empty() {
            Verdict::ACCEPT
        } else {
            Verdict::reject(rejects)
        }
    }

    /// Sends the UPDATE's changes to the shards (waiting while they are full).
    pub async fn apply(&self, u: &Update) -> Applied {
        let mut out = Applied::default();
        if let Some(eor) = u.end_of_rib() {
            out.end_of_rib = eor.family().filter(|f| self.families.contains(*f));
            return out;
        }
        let shards = self.rib.shards();
        // Withdrawals first (classic field and MP_UNREACH_NLRI).
        let mut withdraw: Vec<(Family, Vec<Vec<Nlri>>)> = Vec::new();
        let mut add_withdraw = |n: Nlri| {
            let f = n.prefix.family();
            if !self.families.contains(f) {
                return false;
            }
            let i = shard_of(&n.prefix, shards);
            let slot = match withdraw.iter_mut().position(|(g, _)| *g == f) {
                Some(p) => p,
                None => {
                    withdraw.push((f, vec![Vec::new(); shards]));
                    withdraw.len() - 1
                }
            };
            if let Some(v) = withdraw.get_mut(slot).and_then(|(_, s)| s.get_mut(i)) {
                v.push(n);
            }
            true
        };
        for n in u.withdrawals() {
            if add_withdraw(n) {
                out.withdrawn += 1;
            }
        }
        let taw = u.treat_as_withdraw();
        // Announcements: the classic NLRI field with NEXT_HOP, then MP_REACH_NLRI.
        let a = u.attrs();
        let mut groups: Vec<(Family, Arc<RouteAttrs>, Vec<Nlri>)> = Vec::new();
        let mut attrs_owned = None;
        let mut announce =
            |family: Family, nh: Option<MpNextHop>, list: &mut dyn Iterator<Item = Nlri>| {
                let list: Vec<Nlri> = list.collect();
                if list.is_empty() || !self.families.contains(family) {
                    return 0;
                }
                if taw {
                    let n = list.len() as u64;
                    for x in list {
                        add_withdraw(x);
                    }
                    return n;
                }
                let Some(nh) = nh else { return 0 };
                let pa = attrs_owned.get_or_insert_with(|| a.to_owned()).clone();
                groups.push((family, Arc::new(RouteAttrs::new(pa, nh)), list));
                0
            };
        let classic_nh = a.next_hop().map(MpNextHop::V4);
        let withdrawn_by_taw = announce(Family::Ipv4Unicast, classic_nh, &mut u.nlri());
        let mut mp_taw = 0;
        if let Some(m) = u.mp_reach() {
            if let Some(f) = m.family() {
                mp_taw = announce(f, m.next_hop(), &mut m.nlri());
            }
        }
        out.withdrawn += withdrawn_by_taw + mp_taw;
        // Send, shard by shard.
        for (family, per_shard) in withdraw {
            for (i, list) in per_shard.into_iter().enumerate() {
                if list.is_empty() {
                    continue;
                }
                let batch = RouteBatch {
                    peer: self.peer,
                    family,
                    attrs: None,
                    verdict: Verdict::ACCEPT,
                    announce: Vec::new(),
                    withdraw: list,
                };
                self.rib.send(i, ShardMsg::Routes(batch)).await;
            }
        }
        for (family, attrs, list) in groups {
            out.announced += list.len() as u64;
            let verdict = self.verdict(&attrs);
            let mut per_shard: Vec<Batch> = (0..shards).map(|_| Batch::default()).collect();
            for n in list {
                if let Some(b) = per_shard.get_mut(shard_of(&n.prefix, shards)) {
                    b.announce.push(n);
                }
            }
            for (i, b) in per_shard.into_iter().enumerate() {
                if b.announce.is_empty() && b.withdraw.is_empty() {
                    continue;
                }
                let batch = RouteBatch {
                    peer: self.peer,
                    family,
                    attrs: Some(attrs.clone()),
                    verdict,
                    announce: b.announce,
                    withdraw: b.withdraw,
                };
                self.rib.send(i, ShardMsg::Routes(batch)).await;
            }
        }
        out
    }
}
