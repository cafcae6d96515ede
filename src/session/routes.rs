//! Turning one received UPDATE into RIB route batches: RFC 7606 treat-as-withdraw applied,
//! next hops taken from NEXT_HOP or MP_REACH_NLRI, families the session did not negotiate
//! ignored, the import verdict attached, and the prefixes split by owning shard.
//!
//! `plan` is synchronous and pure (it is also what the pipeline fuzz target and bench
//! drive); `apply` sends the plan to the shards, waiting while they are full.

use std::sync::Arc;

use crate::policy::{RejectReason, RejectSet, Verdict};
use crate::rib::{shard_of, PeerId, Rib, RouteAttrs, RouteBatch, ShardMsg};
use crate::wire::{Family, FamilySet, MpNextHop, Nlri, Update};

/// What an UPDATE amounted to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub announced: u64,
    pub withdrawn: u64,
    /// Prefixes announced in an UPDATE that RFC 7606 treats as a withdrawal (counted in
    /// `withdrawn` too); non-zero exactly when the UPDATE was treated as withdraw.
    pub treated_as_withdraw: u64,
    /// The End-of-RIB marker of this family.
    pub end_of_rib: Option<Family>,
}

/// The import side of one session.
#[derive(Debug, Clone)]
pub struct Importer {
    pub peer: PeerId,
    /// How many shards prefixes are split over.
    pub shards: usize,
    /// Families negotiated and not disabled.
    pub families: FamilySet,
    /// RFC 9234 roles are in use: a route carrying OTC from an RS-client is a leak.
    pub check_otc: bool,
}

impl Importer {
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

    /// Splits `list` by shard into batches of `family` with `attrs`.
    fn batches(
        &self,
        family: Family,
        attrs: Option<Arc<RouteAttrs>>,
        verdict: Verdict,
        list: Vec<Nlri>,
        withdraw: bool,
        out: &mut Vec<(usize, RouteBatch)>,
    ) {
        let mut per: Vec<Vec<Nlri>> = vec![Vec::new(); self.shards.max(1)];
        for n in list {
            if let Some(v) = per.get_mut(shard_of(&n.prefix, self.shards)) {
                v.push(n);
            }
        }
        for (i, v) in per.into_iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let (announce, withdraw) = if withdraw {
                (Vec::new(), v)
            } else {
                (v, Vec::new())
            };
            out.push((
                i,
                RouteBatch {
                    peer: self.peer,
                    family,
                    attrs: attrs.clone(),
                    verdict,
                    announce,
                    withdraw,
                },
            ));
        }
    }

    /// What the UPDATE changes, as batches per shard (withdrawals before announcements).
    pub fn plan(&self, u: &Update) -> (Applied, Vec<(usize, RouteBatch)>) {
        let mut out = Applied::default();
        let mut batches = Vec::new();
        if let Some(eor) = u.end_of_rib() {
            out.end_of_rib = eor.family().filter(|f| self.families.contains(*f));
            return (out, batches);
        }
        let taw = u.treat_as_withdraw();
        let mut taw_prefixes = 0u64;
        let mut withdraw: [Vec<Nlri>; 2] = [Vec::new(), Vec::new()];
        let slot = |f: Family| match f {
            Family::Ipv4Unicast => 0,
            Family::Ipv6Unicast => 1,
        };
        for n in u.withdrawals() {
            let f = n.prefix.family();
            if self.families.contains(f) {
                if let Some(v) = withdraw.get_mut(slot(f)) {
                    v.push(n);
                }
            }
        }
        // Announcements: the NLRI field with NEXT_HOP, and MP_REACH_NLRI with its next hop.
        let a = u.attrs();
        let mut owned = None;
        let mut announce: Vec<(Family, Arc<RouteAttrs>, Vec<Nlri>)> = Vec::new();
        let mut reach = |family: Family, nh: Option<MpNextHop>, list: Vec<Nlri>| {
            if list.is_empty() || !self.families.contains(family) {
                return;
            }
            if taw {
                // RFC 7606: the prefixes are withdrawn instead.
                taw_prefixes += list.len() as u64;
                if let Some(v) = withdraw.get_mut(slot(family)) {
                    v.extend(list);
                }
                return;
            }
            let Some(nh) = nh else { return };
            let pa = owned.get_or_insert_with(|| a.to_owned()).clone();
            announce.push((family, Arc::new(RouteAttrs::new(pa, nh)), list));
        };
        reach(
            Family::Ipv4Unicast,
            a.next_hop().map(MpNextHop::V4),
            u.nlri().collect(),
        );
        if let Some(m) = u.mp_reach() {
            if let Some(f) = m.family() {
                reach(f, m.next_hop(), m.nlri().collect());
            }
        }
        out.treated_as_withdraw = taw_prefixes;
        for f in Family::ALL {
            let list = withdraw
                .get_mut(slot(f))
                .map(std::mem::take)
                .unwrap_or_default();
            out.withdrawn += list.len() as u64;
            self.batches(f, None, Verdict::ACCEPT, list, true, &mut batches);
        }
        for (family, attrs, list) in announce {
            out.announced += list.len() as u64;
            let verdict = self.verdict(&attrs);
            self.batches(family, Some(attrs), verdict, list, false, &mut batches);
        }
        (out, batches)
    }

    /// Sends the UPDATE's changes to the shards (waiting while they are full).
    pub async fn apply(&self, rib: &Rib, u: &Update) -> Applied {
        let (applied, batches) = self.plan(u);
        for (shard, b) in batches {
            rib.send(shard, ShardMsg::Routes(b)).await;
        }
        applied
    }
}
