//! One RIB shard: owns the prefixes that hash to it, on its own thread. Applies route
//! changes, keeps graceful-restart stale paths, drives export (see `export.rs`) and
//! publishes its table as an immutable snapshot.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use imbl::OrdMap;
use tokio::sync::mpsc;

use super::api::{ClientInfo, ExportPolicy, RouteBatch, ShardCtl, ShardMsg};
use super::attrs::Interner;
use super::counters::RibCounters;
use super::entry::PrefixEntry;
use super::export::{ExportView, Groups};
use super::feed::{self, Feed};
use super::journal::{Journal, Sync, Tombstone};
use super::path::{Path, PeerId, SelectCtx};
use super::reeval::{evaluate_path, merge};
use super::snapshot::ShardSnapshot;
use crate::policy::{ClientSet, ExportRules, PathActions, RpkiState, VrpChanges, VrpTable};
use crate::wire::{ByFamily, Family, FamilySet, Prefix};

/// How often a changed table is published to readers. Publishing is O(1), but every entry
/// and map node changed afterwards is copied once (the snapshot still holds it): at 50 ms a
/// busy shard spent a quarter of its time on those copies (e2e scenario c).
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// Route batches handled between two looks at control messages, refills and whether to
/// flush.
const BATCH_MESSAGES: usize = 256;
/// How long a shard whose clients are behind as a whole holds its pending exports back (and,
/// once `PENDING_MAX` prefixes are pending, its input) waiting for a reader of its feed to
/// catch up before it flushes and takes the next batch anyway (clients that never read must
/// not stop the exchange: the feed then reaches its bound and lets them go into catch-up
/// from the journal).
const PAUSE_MAX: Duration = Duration::from_millis(200);
/// Prefixes whose export may wait for the next flush. While the clients are behind, a shard
/// keeps taking input until this many are pending, so a prefix that changes again meanwhile
/// goes out once; each costs a map slot and, if it had an entry, that entry's copy.
pub(crate) const PENDING_MAX: usize = 16 * 1024;
/// While input keeps coming and prefixes change again before their export went out (at
/// least one change in `REPEATS_WORTH` since the last flush), pending exports are flushed
/// once this many prefixes are pending (or when the input runs dry): the changes of one
/// prefix from several peers, which arrive close together, then go out as one. In e2e
/// scenario c (10 peers announcing the same prefixes) this took deliveries from 2.4 to 1.4
/// per final route (`E2E_SCALE=0.3`). Without repeats (a table arriving from disjoint
/// sources) the shard flushes after every batch: waiting would only delay the clients.
const FLUSH_PENDING: usize = 8 * 1024;
pub(crate) const REPEATS_WORTH: usize = 16;
/// While coalescing, how long the input must stay quiet before pending exports go out.
const QUIET: Duration = Duration::from_millis(5);
/// While coalescing, the longest an export waits for the next flush.
const DELAY_MAX: Duration = Duration::from_millis(100);

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

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32)
}

pub struct Shard {
    pub(crate) index: usize,
    pub(crate) table: OrdMap<Prefix, Arc<PrefixEntry>>,
    pub(crate) interner: Interner,
    pub(crate) clients: Vec<Option<Client>>,
    pub(crate) classes: Vec<Class>,
    /// ADD-PATH clients per family.
    pub(crate) add_path_clients: ByFamily<Vec<PeerId>>,
    pub(crate) policy: Arc<ExportPolicy>,
    pub(crate) peer_addrs: Arc<Vec<IpAddr>>,
    /// The VRPs import policy validates against.
    pub(crate) vrps: Arc<VrpTable>,
    pub(crate) groups: Groups,
    /// Prefixes changed since the last flush; the flush exports the difference (`export.rs`).
    pub(crate) pending: HashMap<Prefix, Pending, super::fxhash::FxBuild>,
    /// Clients that caught up while changes were pending: they go live after the next flush.
    pub(crate) parked: Vec<PeerId>,
    /// Changes since the last flush to prefixes that were pending already.
    pub(crate) repeats: usize,
    /// Whether the last flush found enough repeats to make waiting for more input worth it
    /// (`FLUSH_PENDING`).
    pub(crate) coalescing: bool,
    /// Changes numbered, for clients that fall behind (`journal.rs`).
    pub(crate) journal: Journal,
    pub(crate) counters: Arc<RibCounters>,
    /// Clients asking for a refill, in order.
    pub(crate) refill: VecDeque<PeerId>,
    stale_epoch: HashMap<PeerId, u64>,
    ctl_tx: mpsc::UnboundedSender<ShardCtl>,
    snapshot: Arc<ArcSwap<ShardSnapshot>>,
    changed: bool,
    last_publish: Instant,
    /// Rung when a reader of the feed catches up below its pressed mark.
    drained: Arc<tokio::sync::Notify>,
    /// What the flushes encoded for the live clients, read by their sessions (`feed.rs`).
    pub(crate) feed: Arc<Feed>,
}

impl Shard {
    pub(crate) fn new(
        index: usize,
        counters: Arc<RibCounters>,
        ctl_tx: mpsc::UnboundedSender<ShardCtl>,
        snapshot: Arc<ArcSwap<ShardSnapshot>>,
        policy: Arc<ExportPolicy>,
    ) -> Self {
        let drained = Arc::new(tokio::sync::Notify::new());
        Shard {
            index,
            table: OrdMap::new(),
            interner: Interner::default(),
            clients: Vec::new(),
            classes: Vec::new(),
            add_path_clients: ByFamily::default(),
            policy,
            peer_addrs: Arc::new(Vec::new()),
            vrps: Arc::new(VrpTable::empty()),
            groups: Groups::default(),
            pending: HashMap::default(),
            parked: Vec::new(),
            repeats: 0,
            coalescing: false,
            journal: Journal::new(),
            counters,
            refill: VecDeque::new(),
            stale_epoch: HashMap::new(),
            ctl_tx,
            snapshot,
            changed: false,
            last_publish: Instant::now(),
            drained: drained.clone(),
            feed: Arc::new(Feed::new(feed::LAG_MAX, drained)),
        }
    }

    /// The signal the feed rings when a lagging reader catches up (shared by the shards of a
    /// RIB).
    pub(crate) fn with_drain_signal(mut self, drained: Arc<tokio::sync::Notify>) -> Self {
        self.feed = Arc::new(Feed::new(feed::LAG_MAX, drained.clone()));
        self.drained = drained;
        self
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

    pub(crate) fn select_ctx(&self) -> (bool, Arc<Vec<IpAddr>>) {
        (self.policy.always_compare_med, self.peer_addrs.clone())
    }

    /// Runs the shard until told to stop.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<ShardMsg>,
        mut ctl: mpsc::UnboundedReceiver<ShardCtl>,
    ) {
        let mut tick = tokio::time::interval(PUBLISH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let drained = self.drained.clone();
        // Since when the clients have been behind as a whole (None: they are not).
        let mut held_since: Option<Instant> = None;
        // When input last came, and since when exports have been pending.
        let mut last_input = Instant::now();
        let mut pending_since: Option<Instant> = None;
        loop {
            // Control first: refills and timeouts never wait behind route batches.
            while let Ok(c) = ctl.try_recv() {
                if !self.control(c) {
                    self.publish();
                    return;
                }
            }
            self.settle_feed();
            // Listen for a drain before looking, so one between the look and the wait counts.
            let wake = drained.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            // While the clients as a whole are behind (`hold`), pending exports wait for a
            // queue to drain and input keeps coming until `PENDING_MAX` prefixes are
            // pending: what changes again meanwhile goes out once. Then the senders wait
            // (TCP backpressure), and every client keeps sharing one encoding per update
            // group instead of falling back to per-client refills.
            let hold = match (self.under_pressure(), held_since) {
                (false, _) => {
                    held_since = None;
                    false
                }
                (true, None) => {
                    held_since = Some(Instant::now());
                    true
                }
                (true, Some(t)) if t.elapsed() >= PAUSE_MAX => {
                    // Nothing drained for a while: flush, take a batch and look again.
                    held_since = Some(Instant::now());
                    false
                }
                (true, Some(_)) => true,
            };
            let room = |s: &Self| !hold || s.pending.len() < PENDING_MAX;
            let mut handled = 0;
            let mut idle = false;
            while room(&self) && handled < BATCH_MESSAGES {
                match rx.try_recv() {
                    Ok(m) => {
                        self.message(m);
                        handled += 1;
                    }
                    Err(_) => {
                        idle = true;
                        break;
                    }
                }
            }
            if handled > 0 {
                last_input = Instant::now();
            }
            // While coalescing, a moment without input is not the end of a burst: the flush
            // waits until the input has been quiet for `QUIET` (or `FLUSH_PENDING` prefixes are
            // pending, or the oldest has waited `DELAY_MAX`).
            let quiet = idle && (!self.coalescing || last_input.elapsed() >= QUIET);
            let overdue = pending_since.is_some_and(|t| t.elapsed() >= DELAY_MAX);
            let due = quiet || !self.coalescing || self.pending.len() >= FLUSH_PENDING || overdue;
            if !hold && due && (!self.pending.is_empty() || self.groups.len() > 0) {
                self.flush();
            }
            pending_since = match (self.pending.is_empty(), pending_since) {
                (true, _) => None,
                (false, None) => Some(Instant::now()),
                (false, since) => since,
            };
            let waiting = self.coalescing && !hold && !self.pending.is_empty();
            let refilled = self.refill_step();
            if self.changed && self.last_publish.elapsed() >= PUBLISH_INTERVAL {
                self.publish();
            }
            if handled > 0 || refilled {
                // More may be waiting; let the runtime breathe, then continue.
                tokio::task::yield_now().await;
                continue;
            }
            let input = room(&self);
            let hold_left = held_since.map_or(PAUSE_MAX, |t| PAUSE_MAX.saturating_sub(t.elapsed()));
            tokio::select! {
                biased;
                c = ctl.recv() => match c {
                    Some(c) => if !self.control(c) { self.publish(); return; },
                    None => { self.publish(); return; }
                },
                m = rx.recv(), if input => match m {
                    Some(m) => { self.message(m); last_input = Instant::now(); }
                    None => { self.publish(); return; }
                },
                _ = &mut wake, if hold => {}
                _ = tokio::time::sleep(QUIET), if waiting => {}
                _ = tokio::time::sleep(hold_left), if hold => {}
                _ = tick.tick() => {
                    if self.changed { self.publish(); }
                }
            }
        }
    }

    pub(crate) fn control(&mut self, c: ShardCtl) -> bool {
        match c {
            ShardCtl::Refill(p) => {
                if !self.refill.contains(&p) {
                    self.refill.push_back(p);
                }
            }
            ShardCtl::StaleTimeout { peer, epoch } => {
                if self.stale_epoch.get(&peer) == Some(&epoch) {
                    self.stale_epoch.remove(&peer);
                    self.remove_paths(peer, FamilySet::ALL, |p| p.stale);
                    self.flush();
                }
            }
            ShardCtl::Shutdown => return false,
        }
        true
    }

    pub(crate) fn message(&mut self, m: ShardMsg) {
        match m {
            ShardMsg::Routes(b) => self.routes(b),
            ShardMsg::ClientUp(info) => self.client_up(info),
            ShardMsg::PeerDown { peer, stale_for } => self.peer_down(peer, stale_for),
            ShardMsg::EndOfRib { peer, family } => {
                let fam = FamilySet::EMPTY.with(family);
                self.remove_paths(peer, fam, |p| p.stale);
            }
            ShardMsg::Refresh { peer, family } => {
                self.start_dump(peer, FamilySet::EMPTY.with(family))
            }
            ShardMsg::PeerFamilyDown { peer, family } => {
                self.remove_paths(peer, FamilySet::EMPTY.with(family), |_| true);
            }
            ShardMsg::MarkStale { peer, family } => {
                self.mark_stale(peer, FamilySet::EMPTY.with(family))
            }
            ShardMsg::StaleTimer { peer, after } => self.arm_stale_timer(peer, after),
            ShardMsg::Policy(p) => self.set_policy(p),
            ShardMsg::Vrps { table, changes } => {
                self.flush();
                self.vrps = table;
                self.reevaluate(false, Some(&changes));
                self.flush();
            }
            ShardMsg::PeerAddrs(a) => {
                // Pending changes are compared under the addresses they were made with.
                self.flush();
                self.peer_addrs = a;
            }
        }
    }

    fn routes(&mut self, b: RouteBatch) {
        let RouteBatch {
            peer,
            family,
            attrs,
            verdict,
            announce,
            withdraw,
        } = b;
        for n in withdraw {
            let rx_id = n.path_id.map_or(0, |i| i.0);
            self.change(family, n.prefix, peer, rx_id, None);
        }
        let Some(attrs) = attrs else { return };
        if announce.is_empty() {
            return;
        }
        let attrs = self.interner.intern(attrs);
        let router_id = self.router_id(peer);
        let now = unix_now();
        // Import policy: the attribute half once per batch, the prefix half per prefix.
        let policies = self.policy.policies.clone();
        let vrps = self.vrps.clone();
        let import = policies.as_deref().and_then(|p| p.import(peer));
        let prepared = import.map(|i| i.prepare(&attrs.attrs, &attrs.next_hop));
        let actions = policies.as_deref().map_or_else(PathActions::default, |p| {
            PathActions::new(&attrs.attrs, p.action_ctx())
        });
        for n in announce {
            let rx_id = n.path_id.map_or(0, |i| i.0);
            let (verdict, rpki, blackhole) = match &prepared {
                Some(pr) => merge(verdict, pr.evaluate(&n.prefix, &vrps)),
                None => (verdict, RpkiState::NotChecked, false),
            };
            let path = Path {
                attrs: attrs.clone(),
                peer,
                rx_id,
                router_id,
                verdict,
                rpki,
                blackhole,
                actions: actions.clone(),
                tx_id: 0,
                stale: false,
                since: now,
            };
            self.change(family, n.prefix, peer, rx_id, Some(path));
        }
    }

    fn router_id(&self, peer: PeerId) -> u32 {
        self.clients
            .get(peer.index())
            .and_then(|c| c.as_ref())
            .map_or(0, |c| c.info.router_id)
    }

    /// Puts `new` in the place of `peer`'s path `rx_id` of `prefix` (creating the entry), or
    /// removes that path when `new` is `None`; the next flush exports the result.
    pub(crate) fn change(
        &mut self,
        family: Family,
        prefix: Prefix,
        peer: PeerId,
        rx_id: u32,
        new: Option<Path>,
    ) {
        let addrs = self.peer_addrs.clone();
        let ctx = SelectCtx {
            always_compare_med: self.policy.always_compare_med,
            peer_addrs: &addrs,
        };
        let Shard {
            table,
            classes,
            clients,
            add_path_clients,
            journal,
            pending,
            repeats,
            ..
        } = self;
        let view = ExportView {
            classes,
            clients,
            add_path: add_path_clients.get(family),
        };
        // One lookup for the prefix (the map copies the path to it out of a published
        // snapshot on the way).
        let mut found = table.get_mut(&prefix);
        if found.is_none() && new.is_none() {
            return;
        }
        // What clients must be sent is worked out at the flush, from the entry as it was at
        // the previous flush (kept here, once per prefix) and the entry then: a prefix that
        // changes several times in between goes out once, in its final state. A change no
        // client can see (`unseen`) leaves nothing to compare.
        let track: Option<&mut Pending> = match pending.entry(prefix) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let existing = found.as_deref();
                let unseen = existing.is_some_and(|e| {
                    view.unseen(family, e, peer, e.find(peer, rx_id), new.as_ref(), &ctx)
                });
                (!unseen).then(|| {
                    vacant.insert(Pending {
                        then: existing.cloned(),
                        now: None,
                    })
                })
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                *repeats += 1;
                Some(o.into_mut())
            }
        };
        let mut slots_before = 0; // path slots the table held for the prefix (memory.rs)
        let slot = match found.take() {
            Some(e) => {
                slots_before = e.paths.capacity();
                e
            }
            None => {
                let fresh = PrefixEntry {
                    tx_hwm: journal.raise(&prefix).map_or(0, |t| t.tx_hwm),
                    ..PrefixEntry::default()
                };
                table.insert(prefix, Arc::new(fresh));
                match table.get_mut(&prefix) {
                    Some(e) => e,
                    None => return,
                }
            }
        };
        let entry = Arc::make_mut(slot);
        let old = match new {
            Some(p) => entry.upsert(p, &ctx),
            None => entry.remove(peer, rx_id),
        };
        let now = entry.find(peer, rx_id).map(|p| p.accepted());
        let empty_now = entry.is_empty();
        let seq = journal.record(prefix);
        entry.changed = seq;
        let tx_hwm = entry.tx_hwm;
        let slots_now = if empty_now { 0 } else { entry.paths.capacity() };
        if let Some(t) = track {
            // The entry as the flush will compare it (kept so that the flush need not look
            // it up again).
            t.now = (!empty_now).then(|| slot.clone());
        }
        self.counters
            .adjust(peer, family, old.as_ref().map(|o| o.accepted()), now);
        if empty_now {
            self.table.remove(&prefix);
            self.journal.bury(prefix, Tombstone { seq, tx_hwm });
        }
        if let Some(o) = old {
            self.interner.release(o.attrs);
        }
        self.changed = true;
        let mem = &self.counters.memory;
        mem.entry_changed(self.index, slots_before, slots_now);
    }

    fn client_up(&mut self, info: Arc<ClientInfo>) {
        // Pending changes are compared under the clients and classes they were made with.
        self.flush();
        let peer = info.peer;
        let idx = peer.index();
        if self.clients.len() <= idx {
            self.clients.resize_with(idx + 1, || None);
        }
        let rules = self.policy.rules(peer);
        let families = info.families;
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
        self.start_dump(peer, families);
    }

    pub(crate) fn start_dump(&mut self, peer: PeerId, families: FamilySet) {
        // A live client holds everything up to the last flush; after this one, everything
        // up to `head`, which the dump builds on.
        self.flush();
        let head = self.journal.head();
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

    fn peer_down(&mut self, peer: PeerId, stale_for: Option<Duration>) {
        self.flush();
        self.feed.detach(peer);
        if let Some(slot) = self.clients.get_mut(peer.index()) {
            *slot = None;
        }
        self.refill.retain(|p| *p != peer);
        self.rebuild_classes();
        match stale_for {
            Some(t) => {
                self.mark_stale(peer, FamilySet::ALL);
                self.arm_stale_timer(peer, t);
            }
            None => {
                self.stale_epoch.remove(&peer);
                self.remove_paths(peer, FamilySet::ALL, |_| true);
            }
        }
        self.flush();
    }

    /// After `after`, the peer's remaining stale paths are removed (unless re-armed).
    fn arm_stale_timer(&mut self, peer: PeerId, after: Duration) {
        let epoch = self.stale_epoch.get(&peer).copied().unwrap_or(0) + 1;
        self.stale_epoch.insert(peer, epoch);
        let tx = self.ctl_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(ShardCtl::StaleTimeout { peer, epoch });
        });
    }

    fn mark_stale(&mut self, peer: PeerId, families: FamilySet) {
        // Pending changes keep the entries they compare; these change outside `change`.
        self.flush();
        let keys: Vec<Prefix> = self
            .table
            .iter()
            .filter(|(k, e)| {
                families.contains(k.family()) && e.paths.iter().any(|p| p.peer == peer)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(e) = self.table.get_mut(&k) {
                for p in Arc::make_mut(e).paths.iter_mut().filter(|p| p.peer == peer) {
                    p.stale = true;
                }
            }
        }
        self.changed = true;
    }

    /// Removes the paths of `peer` in `families` for which `which` holds, exporting the result.
    pub(crate) fn remove_paths(
        &mut self,
        peer: PeerId,
        families: FamilySet,
        which: impl Fn(&Path) -> bool,
    ) {
        let victims: Vec<(Prefix, u32)> = self
            .table
            .iter()
            .filter(|(k, _)| families.contains(k.family()))
            .flat_map(|(k, e)| {
                e.paths
                    .iter()
                    .filter(|p| p.peer == peer && which(p))
                    .map(move |p| (*k, p.rx_id))
            })
            .collect();
        for (prefix, rx_id) in victims {
            self.change(prefix.family(), prefix, peer, rx_id, None);
        }
        if self.pending.len() >= PENDING_MAX {
            self.flush();
        }
    }

    fn set_policy(&mut self, p: Arc<ExportPolicy>) {
        // Export what is pending under the old policy first: what follows compares old and
        // new outcomes of the current table.
        self.flush();
        let import_changed = match (&self.policy.policies, &p.policies) {
            (None, None) => false,
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            _ => true,
        };
        let old_rules: Vec<Option<ExportRules>> = self
            .clients
            .iter()
            .map(|c| c.as_ref().map(|c| c.rules.clone()))
            .collect();
        self.policy = p;
        // First the new import policy under the old export rules (the classes still hold
        // them), then the new export rules over the re-evaluated table.
        if import_changed {
            self.reevaluate(true, None);
            self.flush();
        }
        let old_classes = std::mem::take(&mut self.classes);
        for c in self.clients.iter_mut().flatten() {
            c.rules = self.policy.rules(c.info.peer);
        }
        self.rebuild_classes();
        self.reexport_all(old_classes, old_rules);
        self.flush();
    }

    /// Evaluates import policy again for the paths of every prefix (`vrps`: only the
    /// prefixes the VRP changes cover) and exports what changed. `actions`: the control
    /// community context changed too.
    pub(crate) fn reevaluate(&mut self, actions: bool, vrps: Option<&VrpChanges>) {
        let Some(policies) = self.policy.policies.clone() else {
            return;
        };
        let table = self.vrps.clone();
        let keys: Vec<Prefix> = match vrps {
            Some(c) if c.is_empty() => return,
            Some(c) if !c.is_everything() => self
                .table
                .keys()
                .filter(|k| c.affects(k))
                .copied()
                .collect(),
            _ => self.table.keys().copied().collect(),
        };
        for prefix in keys {
            let Some(entry) = self.table.get(&prefix) else {
                continue;
            };
            let mut fresh: smallvec::SmallVec<[(usize, Path); 4]> = smallvec::SmallVec::new();
            for (i, p) in entry.paths.iter().enumerate() {
                let n = evaluate_path(&policies, &table, p, &prefix, actions);
                if !n.same_as(p) {
                    fresh.push((i, n));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            self.replace_paths(prefix, fresh);
            if self.groups.len() > 1024 {
                self.flush();
            }
        }
    }

    /// Replaces paths of `prefix` (by position) with re-evaluated ones; the next flush exports
    /// the result.
    fn replace_paths(&mut self, prefix: Prefix, fresh: smallvec::SmallVec<[(usize, Path); 4]>) {
        let family = prefix.family();
        let addrs = self.peer_addrs.clone();
        let ctx = SelectCtx {
            always_compare_med: self.policy.always_compare_med,
            peer_addrs: &addrs,
        };
        let Shard {
            table,
            counters,
            journal,
            pending,
            ..
        } = self;
        let track = pending.entry(prefix).or_insert_with(|| Pending {
            then: table.get(&prefix).cloned(),
            now: None,
        });
        let Some(slot) = table.get_mut(&prefix) else {
            return;
        };
        let entry = Arc::make_mut(slot);
        for (i, n) in fresh {
            if let Some(slot) = entry.paths.get_mut(i) {
                counters.adjust(n.peer, family, Some(slot.accepted()), Some(n.accepted()));
                *slot = n;
            }
        }
        entry.resort(&ctx);
        entry.changed = journal.record(prefix);
        track.now = Some(slot.clone());
        self.changed = true;
    }

    pub(crate) fn rebuild_classes(&mut self) {
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

    /// Publishes the table for readers (O(1): the map is persistent).
    pub(crate) fn publish(&mut self) {
        let snap = ShardSnapshot {
            index: self.index,
            table: self.table.clone(),
            policy: self.policy.clone(),
            peer_addrs: self.peer_addrs.clone(),
            published: Instant::now(),
        };
        self.snapshot.store(Arc::new(snap));
        let mem = &self.counters.memory;
        mem.publish_table(self.index, self.table.len(), self.interner.bytes());
        mem.set_export_state(self.index, super::memory::export_state_estimate(self));

        self.changed = false;
        self.last_publish = Instant::now();
    }
}

/// The clients whose outcome for a prefix is worked out one by one: `first`, the sources of
/// `paths` (they must not get their own), and every client the paths' control communities
/// name. Each once.
pub(crate) fn mentioned<'p>(
    first: &[PeerId],
    paths: impl Iterator<Item = &'p Path>,
) -> smallvec::SmallVec<[PeerId; 8]> {
    let mut out: smallvec::SmallVec<[PeerId; 8]> = smallvec::SmallVec::new();
    let mut add = |p: PeerId| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for &p in first {
        add(p);
    }
    for p in paths {
        add(p.peer);
        if !p.actions.is_none() {
            for c in p.actions.mentioned() {
                add(c);
            }
        }
    }
    out
}
