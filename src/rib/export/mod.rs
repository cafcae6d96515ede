//! The export engine of a shard: its clients and their state, and how each change of the
//! table reaches them.
//!
//! Between two flushes it keeps, per prefix changed, the prefix's entry as of the previous
//! flush (`track_change`). At a flush it compares that entry with the entry now (so a
//! prefix that changed several times in between goes out once), works out which clients'
//! choice changed (`outcomes.rs`) and files the prefix under an update group
//! (`groups.rs`): the same attributes (or a withdrawal) for the same set of clients. Then
//! each group is encoded once per encoding variant (`encode.rs`) into the flush's entry of
//! the shard's feed (`feed.rs`), which every live client's session reads at its own pace.
//!
//! A client that is dumping its initial table, or that the feed let go because it lagged
//! far behind the others, is not live: it keeps a cursor into the shard's change journal
//! (`journal.rs`), and refills send it the *current* state of every prefix that changed
//! after its cursor (`catchup.rs`), encoded for it when its own queue has room; once caught
//! up it reads the feed again. So a slow client only ever receives the latest state, costs a
//! cursor whatever the table's size, and never holds the shard up.
//!
//! Never changes a path: it reads the table (`table.rs`), which the shard passes in, and
//! only numbers changes of what export makes of a prefix (`Table::restamp`). When to flush
//! is the shard's decision.

mod catchup;
mod encode;
mod groups;
mod outcomes;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::BytesMut;
use smallvec::SmallVec;
use tokio::sync::Notify;

use super::api::{ClientInfo, ExportPolicy};
use super::counters::RibCounters;
use super::entry::PrefixEntry;
use super::feed::{self, EntryBuilder, Feed, Variant};
use super::fxhash::FxBuild;
use super::journal::{Journal, Sync};
use super::outq::OutItem;
use super::path::{choose_many, Path, PeerId, SelectCtx};
use super::table::{PathKey, Table};
use crate::policy::{ClientSet, ExportRules};
use crate::wire::{ByFamily, Family, FamilySet, Nlri, Prefix};
use catchup::{Catchup, Step};
pub use encode::{client_update, export_attrs, fits_client};
use encode::{encode, Encoded};
use groups::Groups;
pub(crate) use outcomes::client_choice;
use outcomes::{client_paths, mentioned, same, ExportView, Exported, Outcomes};

/// A flush that finds at least one repeat (a change to a prefix that was pending already)
/// per `REPEATS_WORTH` pending prefixes sets `coalescing`: changes of one prefix from
/// several peers arrive close together, and the shard then waits for more input before it
/// flushes (`shard.rs`, `FLUSH_PENDING`), so they go out as one.
const REPEATS_WORTH: usize = 16;

/// A prefix changed since the last flush: its entry as of that flush and its entry now
/// (`None`: it had none, it has none).
pub(crate) struct Pending {
    pub then: Option<Arc<PrefixEntry>>,
    pub now: Option<Arc<PrefixEntry>>,
}

pub(crate) struct Client {
    pub info: Arc<ClientInfo>,
    pub rules: ExportRules,
    pub class: usize,
    /// How far behind the shard's changes it is (`journal.rs`).
    pub sync: Sync,
    /// Families whose dump finished but whose marker is not queued yet (it is queued when
    /// the client has caught up).
    pub done: FamilySet,
}

impl Client {
    pub fn add_path(&self, f: Family) -> bool {
        self.info.tx.add_path_for(f)
    }
}

/// Clients with identical export rules, whose choice is computed once.
pub(crate) struct Class {
    pub rules: ExportRules,
    /// Established non-ADD-PATH members per family.
    pub members: ByFamily<ClientSet>,
    /// Whether `members` of the family is non-empty.
    pub active: ByFamily<bool>,
}

pub(crate) struct Exporter {
    index: usize,
    counters: Arc<RibCounters>,
    pub(crate) clients: Vec<Option<Client>>,
    classes: Vec<Class>,
    /// ADD-PATH clients per family.
    add_path_clients: ByFamily<Vec<PeerId>>,
    /// Prefixes changed since the last flush; the flush exports the difference.
    pub(crate) pending: HashMap<Prefix, Pending, FxBuild>,
    /// Changes since the last flush to prefixes that were pending already.
    repeats: usize,
    /// Whether the last flush found enough repeats to make waiting for more input worth it
    /// (`REPEATS_WORTH`).
    pub(crate) coalescing: bool,
    pub(crate) groups: Groups,
    /// Clients that caught up while changes were pending: they go live after the next flush.
    parked: Vec<PeerId>,
    /// Clients asking for a refill, in order.
    pub(crate) refill: VecDeque<PeerId>,
    /// Rung when a reader of the feed catches up below its pressed mark.
    pub(crate) drained: Arc<Notify>,
    /// What the flushes encoded for the live clients, read by their sessions (`feed.rs`).
    pub(crate) feed: Arc<Feed>,
}

impl Exporter {
    pub(crate) fn new(index: usize, counters: Arc<RibCounters>) -> Self {
        let drained = Arc::new(Notify::new());
        Exporter {
            index,
            counters,
            clients: Vec::new(),
            classes: Vec::new(),
            add_path_clients: ByFamily::default(),
            pending: HashMap::default(),
            repeats: 0,
            coalescing: false,
            groups: Groups::default(),
            parked: Vec::new(),
            refill: VecDeque::new(),
            drained: drained.clone(),
            feed: Arc::new(Feed::new(feed::LAG_MAX, drained)),
        }
    }

    /// The signal the feed rings when a lagging reader catches up (shared by the shards of a
    /// RIB). Only before any client is up.
    pub(crate) fn set_drain_signal(&mut self, drained: Arc<Notify>) {
        self.feed = Arc::new(Feed::new(feed::LAG_MAX, drained.clone()));
        self.drained = drained;
    }

    /// A feed that lets readers go at `lag_max` bytes (tests use small ones). Only before
    /// any client is up.
    pub(crate) fn set_feed_lag(&mut self, lag_max: usize) {
        self.feed = Arc::new(Feed::new(lag_max, self.drained.clone()));
    }

    /// Most live clients are well behind in the feed: the clients as a whole are slower than
    /// the input, so exporting every change now would only grow the feed until they are all
    /// let go into per-client catch-up (and send changes that a later one overrides). A
    /// minority of slow clients never holds the shard up; the feed lets them go.
    pub(crate) fn under_pressure(&self) -> bool {
        self.feed.pressed_majority()
    }

    /// Lets lagging clients go from the feed into catch-up from the journal, and drops what
    /// every reader has read.
    pub(crate) fn settle_feed(&mut self) {
        let gone = self.feed.settle();
        self.counters
            .memory
            .set_feed_bytes(self.index, self.feed.sizes().0);
        for (peer, cursor) in gone {
            if let Some(Some(c)) = self.clients.get_mut(peer.index()) {
                if c.sync.is_live() {
                    c.sync = Sync::Journal { cursor };
                    if !self.refill.contains(&peer) {
                        self.refill.push_back(peer);
                    }
                }
            }
        }
    }

    pub(crate) fn client(&self, peer: PeerId) -> Option<&Client> {
        self.clients.get(peer.index()).and_then(|c| c.as_ref())
    }

    /// `peer` asks for a refill (its queue has room again).
    pub(crate) fn request_refill(&mut self, peer: PeerId) {
        if !self.refill.contains(&peer) {
            self.refill.push_back(peer);
        }
    }

    /// A client's session is up, with `rules`: it reads nothing until its dump
    /// (`start_dump`) has caught up. Pending changes must be flushed first (they are
    /// compared under the clients and classes they were made with).
    pub(crate) fn add_client(&mut self, info: Arc<ClientInfo>, mut rules: ExportRules) {
        rules.takes_llgr_stale = info.llgr;
        let peer = info.peer;
        let idx = peer.index();
        if self.clients.len() <= idx {
            self.clients.resize_with(idx + 1, || None);
        }
        self.feed.detach(peer);
        info.queue.set_feed(self.index, peer, self.feed.clone());
        if let Some(slot) = self.clients.get_mut(idx) {
            *slot = Some(Client {
                info,
                rules,
                class: 0,
                sync: Sync::Live,
                done: FamilySet::EMPTY,
            });
        }
        self.rebuild_classes();
    }

    /// Sends `peer` every prefix of `families` again, on top of what it is behind on.
    /// `head`: the table's last change, which must have been flushed (a live client holds
    /// everything up to the last flush; the dump builds on that).
    pub(crate) fn start_dump(&mut self, peer: PeerId, families: FamilySet, head: u64) {
        if let Some(Some(c)) = self.clients.get_mut(peer.index()) {
            let families = families.intersection(c.info.families);
            if c.sync.is_live() {
                // What it has not read of the feed it gets from the journal.
                let cursor = self.feed.detach(peer).unwrap_or(head);
                c.sync = Sync::Journal { cursor };
            }
            c.sync = c.sync.with_dump(families, head);
            if !self.refill.contains(&peer) {
                self.refill.push_back(peer);
            }
        }
    }

    /// A client's session is down. Pending changes must be flushed first.
    pub(crate) fn remove_client(&mut self, peer: PeerId) {
        self.feed.detach(peer);
        if let Some(slot) = self.clients.get_mut(peer.index()) {
            *slot = None;
        }
        self.refill.retain(|p| *p != peer);
        self.rebuild_classes();
    }

    /// Groups the clients by their export rules into classes; lists the ADD-PATH clients.
    fn rebuild_classes(&mut self) {
        let mut classes: Vec<Class> = Vec::new();
        for c in self.clients.iter_mut().flatten() {
            let key = c.rules.class_key();
            let pos = classes.iter().position(|k| k.rules.class_key() == key);
            let i = match pos {
                Some(i) => i,
                None => {
                    classes.push(Class {
                        rules: c.rules.clone(),
                        members: ByFamily::default(),
                        active: ByFamily::default(),
                    });
                    classes.len() - 1
                }
            };
            c.class = i;
            for f in Family::ALL {
                if c.info.families.contains(f) && !c.info.tx.add_path_for(f) {
                    if let Some(class) = classes.get_mut(i) {
                        class.members.get_mut(f).insert(c.info.peer);
                        *class.active.get_mut(f) = true;
                    }
                }
            }
        }
        self.classes = classes;
        let mut ap: ByFamily<Vec<PeerId>> = ByFamily::default();
        for c in self.clients.iter().flatten() {
            for f in Family::ALL {
                if c.info.families.contains(f) && c.info.tx.add_path_for(f) {
                    ap.get_mut(f).push(c.info.peer);
                }
            }
        }
        self.add_path_clients = ap;
    }

    /// Notes that the path of `key` in `existing` (the prefix's entry, if any) is about to
    /// be replaced with `new` (or removed). Returns where the table puts the entry once
    /// changed, or `None` when the prefix was not pending and no client can see the change
    /// (`ExportView::unseen`): the flush then has nothing to compare.
    pub(crate) fn track_change(
        &mut self,
        key: &PathKey,
        existing: Option<&Arc<PrefixEntry>>,
        new: Option<&Path>,
        ctx: &SelectCtx<'_>,
    ) -> Option<&mut Pending> {
        // What clients must be sent is worked out at the flush, from the entry as it was at
        // the previous flush (kept here, once per prefix) and the entry then: a prefix that
        // changes several times in between goes out once, in its final state.
        match self.pending.entry(key.prefix) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let view = ExportView {
                    classes: &self.classes,
                    clients: &self.clients,
                    add_path: self.add_path_clients.get(key.family),
                };
                let unseen = existing.is_some_and(|e| {
                    let old = e.find(key.peer, key.rx_id);
                    view.unseen(key.family, e, key.peer, old, new, ctx)
                });
                (!unseen).then(|| {
                    vacant.insert(Pending {
                        then: existing.cloned(),
                        now: None,
                    })
                })
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                self.repeats += 1;
                Some(o.into_mut())
            }
        }
    }

    /// As `track_change`, for a change every client may see (re-evaluated paths).
    pub(crate) fn track(
        &mut self,
        prefix: Prefix,
        existing: Option<&Arc<PrefixEntry>>,
    ) -> &mut Pending {
        self.pending.entry(prefix).or_insert_with(|| Pending {
            then: existing.cloned(),
            now: None,
        })
    }

    /// Files what changed for `prefix` between `before` and `after` into export groups.
    fn export_change(&mut self, family: Family, prefix: Prefix, before: Outcomes, after: Outcomes) {
        // Called once per prefix per flush (`export_pending`), so groups never hold two
        // outcomes of one prefix.
        // Clients that now get the same thing share one group (and one encoding).
        let mut merged: SmallVec<[(Option<Exported>, ClientSet); 4]> = SmallVec::new();
        let mut put = |ex: &Option<Exported>, mask: ClientSet| {
            let k = Exported::key(ex.as_ref());
            match merged
                .iter_mut()
                .find(|(e, _)| Exported::key(e.as_ref()) == k)
            {
                Some((_, m)) => *m = m.union(&mask),
                None => merged.push((ex.clone(), mask)),
            }
        };
        // Mentioned clients whose choice is their class's, before and after, go with the
        // class; the others are worked out one by one.
        let mut apart = ClientSet::new();
        let none: Option<Exported> = None;
        for ((c, class, b), (_, _, a)) in before.clients.iter().zip(after.clients.iter()) {
            if b.is_none() && a.is_none() {
                continue;
            }
            apart.insert(*c);
            let b = b
                .as_ref()
                .unwrap_or_else(|| before.classes.get(*class).unwrap_or(&none));
            let a = a
                .as_ref()
                .unwrap_or_else(|| after.classes.get(*class).unwrap_or(&none));
            if !same(b, a) {
                put(a, std::iter::once(*c).collect());
            }
        }
        for (i, (b, a)) in before.classes.iter().zip(after.classes.iter()).enumerate() {
            if same(b, a) {
                continue;
            }
            let Some(class) = self.classes.get(i) else {
                continue;
            };
            let mask = class.members.get(family).difference(&apart);
            if !mask.is_empty() {
                put(a, mask);
            }
        }
        for (ex, mask) in merged {
            self.groups.add(family, ex, false, mask, Nlri::new(prefix));
        }
        for ((c, bl), (_, al)) in before.add_path.iter().zip(after.add_path.iter()) {
            let mask: ClientSet = std::iter::once(*c).collect();
            for (id, ex) in al {
                let key = Exported::key(Some(ex));
                if !bl
                    .iter()
                    .any(|(i, q)| i == id && Exported::key(Some(q)) == key)
                {
                    let n = Nlri::with_path_id(prefix, u32::from(*id));
                    self.groups
                        .add(family, Some(ex.clone()), true, mask.clone(), n);
                }
            }
            for (id, _) in bl {
                if !al.iter().any(|(i, _)| i == id) {
                    let n = Nlri::with_path_id(prefix, u32::from(*id));
                    self.groups.add(family, None, true, mask.clone(), n);
                }
            }
        }
    }

    /// Encodes every pending group once per encoding variant of its live clients into one
    /// feed entry, which their sessions read (`feed.rs`); then lets go the clients that lag
    /// too far behind in the feed (they catch up from the journal), and tells `journal`
    /// what the clients still need of it.
    pub(crate) fn flush(
        &mut self,
        journal: &mut Journal,
        policy: &ExportPolicy,
        ctx: &SelectCtx<'_>,
    ) {
        self.export_pending(ctx);
        let mut entry = EntryBuilder::new(journal.flushed());
        let policies = policy.policies.as_deref();
        let mut too_big = Vec::new();
        self.groups.encode_into(
            &self.clients,
            &mut entry,
            policy.local_asn,
            policies,
            &mut too_big,
        );
        self.report_too_big(&too_big);
        if !entry.is_empty() {
            self.feed.append(entry);
            for c in self.clients.iter().flatten().filter(|c| c.sync.is_live()) {
                c.info.queue.wake();
            }
        }
        self.settle_feed();
        let floor = self.feed.floor();
        journal.flushed_now(self.clients.iter().flatten().map(|c| &c.sync), floor);
        // Clients that caught up while changes were pending go on from here.
        for p in std::mem::take(&mut self.parked) {
            if !self.refill.contains(&p) {
                self.refill.push_back(p);
            }
        }
    }

    /// Files what the prefixes changed since the last flush mean for the clients into
    /// groups: per prefix, the outcomes of its entry as of the last flush against those of
    /// its entry now.
    fn export_pending(&mut self, ctx: &SelectCtx<'_>) {
        if self.pending.is_empty() {
            return;
        }
        self.coalescing = self.repeats * REPEATS_WORTH >= self.pending.len();
        self.repeats = 0;
        let mut pending = std::mem::take(&mut self.pending);
        let empty = PrefixEntry::default();
        for (
            prefix,
            Pending {
                then: old,
                now: new,
            },
        ) in pending.drain()
        {
            match (&old, &new) {
                (None, None) => continue,
                (Some(a), Some(b)) if Arc::ptr_eq(a, b) => continue,
                _ => {}
            }
            let family = prefix.family();
            let (o, n) = (
                old.as_deref().unwrap_or(&empty),
                new.as_deref().unwrap_or(&empty),
            );
            let view = ExportView {
                classes: &self.classes,
                clients: &self.clients,
                add_path: self.add_path_clients.get(family),
            };
            let mentioned = mentioned(&[], o.paths.iter().chain(n.paths.iter()));
            let before = view.outcomes(family, o, &mentioned, ctx);
            let after = view.outcomes(family, n, &mentioned, ctx);
            self.export_change(family, prefix, before, after);
        }
        // Keep the map's allocation for the next batch.
        self.pending = pending;
    }

    /// One step of refilling the first client waiting for it (from its journal cursor, or a
    /// step of its table walk). Returns whether there was anything to do.
    pub(crate) fn refill_step(
        &mut self,
        table: &Table,
        policy: &ExportPolicy,
        ctx: &SelectCtx<'_>,
    ) -> bool {
        let Some(peer) = self.refill.pop_front() else {
            return false;
        };
        let Some(Some(client)) = self.clients.get(peer.index()) else {
            return true;
        };
        if client.info.queue.is_closed() {
            return true;
        }
        if client.info.queue.is_behind() {
            // The queue's own refill signal brings it back.
            return true;
        }
        let more = self.refill_client(peer, table, policy, ctx);
        if more {
            self.refill.push_back(peer);
        }
        true
    }

    /// Sends the client up to a chunk of what it is behind on (from the journal, or walking
    /// the table), each prefix in its current state; returns whether more is left (and the
    /// queue still has room).
    fn refill_client(
        &mut self,
        peer: PeerId,
        table: &Table,
        policy: &ExportPolicy,
        ctx: &SelectCtx<'_>,
    ) -> bool {
        let Some(Some(client)) = self.clients.get_mut(peer.index()) else {
            return false;
        };
        let Step {
            next,
            done,
            out: batches,
        } = Catchup::step(client, table, ctx);
        // A client goes live only when nothing is pending: the next flush compares each
        // pending prefix with its state at the previous flush, which a client that caught up
        // since may not hold. It waits for that flush.
        let parked_now = !client.sync.is_live() && next.is_live() && !self.pending.is_empty();
        let next = if parked_now {
            self.parked.push(peer);
            Sync::Journal {
                cursor: table.journal.head(),
            }
        } else {
            next
        };
        let attach = next.is_live() && !client.sync.is_live();
        client.sync = next;
        client.done = client.done.union(done);
        let variant = Variant {
            tx: client.info.tx,
            add_otc: client.info.add_otc,
        };
        // Queue the whole step, even past the high mark: a prefix's paths may need several
        // messages, and refusing some would resend them all next time without progress.
        let mut buf = BytesMut::new();
        let mut too_big = 0u64;
        for (family, ex, nlri) in batches {
            let at = buf.len();
            match encode(
                family,
                ex.as_ref(),
                &nlri,
                &variant,
                policy.local_asn,
                policy.policies.as_deref(),
                &mut buf,
            ) {
                Encoded::Sent => {}
                Encoded::TooBig => too_big += nlri.len() as u64,
                Encoded::Nothing => buf.truncate(at),
            }
        }
        if !buf.is_empty() {
            client.info.queue.push_forced(buf.freeze());
        }
        if attach {
            // Caught up: from the next flush on it reads the feed, after what is queued.
            let epoch = self.feed.register(peer, variant);
            client.info.queue.push_marker(OutItem::Attach {
                shard: self.index,
                epoch,
            });
        }
        if client.sync.is_live() && !client.done.is_empty() {
            let families = std::mem::take(&mut client.done);
            client.info.queue.push_marker(OutItem::DumpDone {
                shard: self.index,
                families,
            });
        }
        let more = !client.sync.is_live() && !client.info.queue.is_behind() && !parked_now;
        if too_big > 0 {
            self.report_too_big(&[(peer, too_big)]);
        }
        more
    }

    /// Counts and logs, per client, the routes withdrawn from it (or not sent) because their
    /// UPDATE did not fit its maximum message length (RFC 8654 §4): one line per client per
    /// flush or refill step.
    fn report_too_big(&self, too_big: &[(PeerId, u64)]) {
        let mut seen = ClientSet::new();
        for (peer, _) in too_big {
            if seen.contains(*peer) {
                continue;
            }
            seen.insert(*peer);
            let n: u64 = too_big
                .iter()
                .filter(|(p, _)| p == peer)
                .map(|(_, n)| n)
                .sum();
            self.counters.add_too_big(*peer, n);
            let asn = self.client(*peer).map(|c| c.info.asn.0);
            tracing::warn!(
                %peer,
                asn,
                routes = n,
                "routes too big for the client's maximum message length (no extended \
                 messages) withdrawn from it, not sent (RFC 8654)"
            );
        }
    }

    /// After an export policy change: gives every client its rules under `policy` and, for
    /// every client whose rules changed, compares what it received under the old rules with
    /// what it gets now, prefix by prefix. Pending changes must be flushed first.
    pub(crate) fn apply_rules(
        &mut self,
        policy: &ExportPolicy,
        table: &mut Table,
        ctx: &SelectCtx<'_>,
    ) {
        let old_rules: Vec<Option<ExportRules>> = self
            .clients
            .iter()
            .map(|c| c.as_ref().map(|c| c.rules.clone()))
            .collect();
        for c in self.clients.iter_mut().flatten() {
            c.rules = policy.rules(c.info.peer);
            c.rules.takes_llgr_stale = c.info.llgr;
        }
        self.rebuild_classes();
        let changed: Vec<(PeerId, ExportRules)> = self
            .clients
            .iter()
            .flatten()
            .filter_map(|c| {
                let old = old_rules.get(c.info.peer.index()).cloned().flatten()?;
                let same_rules = old.rejects_blackholes == c.rules.rejects_blackholes
                    && match (&old.accepts_from, &c.rules.accepts_from) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    };
                (!same_rules).then(|| (c.info.peer, old))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        // A client that is behind cannot be told what changed between the two rules (what it
        // holds is not known): it is sent every prefix's state again, withdrawals included.
        let head = table.journal.head();
        for (peer, _) in &changed {
            if let Some(Some(c)) = self.clients.get_mut(peer.index()) {
                if !c.sync.is_live() {
                    c.sync = Sync::Walk {
                        since: 0,
                        full: FamilySet::EMPTY,
                        after: None,
                        tombs: false,
                        start: head,
                    };
                    if !self.refill.contains(peer) {
                        self.refill.push_back(*peer);
                    }
                }
            }
        }
        let mut refiled: Vec<Prefix> = Vec::new();
        for (prefix, entry) in table.prefixes.iter() {
            let family = prefix.family();
            let mut filed = false;
            for (peer, old) in &changed {
                let Some(Some(c)) = self.clients.get(peer.index()) else {
                    continue;
                };
                if !c.info.families.contains(family) {
                    continue;
                }
                let mask: ClientSet = std::iter::once(*peer).collect();
                if c.add_path(family) {
                    let me = *peer;
                    let max = usize::from(c.info.add_path_max);
                    let before = choose_many(&entry.paths, ctx, max, |p| p.allowed_for(me, old));
                    let after = client_paths(entry, c, ctx);
                    for p in &after {
                        if !before.iter().any(|q| q.tx_id == p.tx_id) {
                            let n = Nlri::with_path_id(*prefix, u32::from(p.tx_id));
                            let ex = Exported::of(p, p.actions.prepends(me));
                            self.groups.add(family, Some(ex), true, mask.clone(), n);
                            filed = true;
                        }
                    }
                    for q in &before {
                        if !after.iter().any(|p| p.tx_id == q.tx_id) {
                            let n = Nlri::with_path_id(*prefix, u32::from(q.tx_id));
                            self.groups.add(family, None, true, mask.clone(), n);
                            filed = true;
                        }
                    }
                } else {
                    let pick = |rules: &ExportRules| {
                        client_choice(entry, *peer, rules, ctx)
                            .map(|p| Exported::of(p, p.actions.prepends(*peer)))
                    };
                    let (b, a) = (pick(old), pick(&c.rules));
                    if !same(&b, &a) {
                        self.groups.add(family, a, false, mask, Nlri::new(*prefix));
                        filed = true;
                    }
                }
            }
            if filed {
                refiled.push(*prefix);
            }
        }
        // A change like any other: a client refused in the flush, or one that falls off the
        // journal and walks the table, is sent these prefixes in their current state.
        for prefix in refiled {
            table.restamp(prefix);
        }
    }
}
