//! One RIB shard: owns the prefixes that hash to it, on its own thread. Takes its messages
//! in order and orchestrates: route changes (with import policy) go to its table
//! (`table.rs`), client sessions, flushes and refills to its export engine (`export/`),
//! and every so often the table is published as an immutable snapshot. It decides *when*
//! (batching, holding exports back while the clients as a whole are behind, coalescing,
//! graceful-restart timers) and evaluates import policy on paths as they come, but no path
//! is applied, chosen or encoded in this file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use super::api::{ClientInfo, ExportPolicy, RouteBatch, ShardCtl, ShardMsg};
use super::counters::RibCounters;
use super::export::Exporter;
use super::memory::export_state_estimate;
use super::path::{Path, PeerId, SelectCtx};
use super::reeval::{evaluate_path, merge};
use super::snapshot::ShardSnapshot;
use super::table::{PathKey, Table};
use crate::policy::{AspaState, PathActions, RpkiState, VrpChanges, VrpTable};
use crate::wire::{Community, Family, FamilySet, Prefix};

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
/// While input keeps coming and prefixes change again before their export went out (the
/// export engine's `coalescing`: at least one change in `REPEATS_WORTH` since the last
/// flush), pending exports are flushed once this many prefixes are pending (or when the
/// input runs dry): the changes of one prefix from several peers, which arrive close
/// together, then go out as one. In e2e scenario c (10 peers announcing the same prefixes)
/// this took deliveries from 2.4 to 1.4 per final route (`E2E_SCALE=0.3`). Without repeats
/// (a table arriving from disjoint sources) the shard flushes after every batch: waiting
/// would only delay the clients.
const FLUSH_PENDING: usize = 8 * 1024;
/// While coalescing, how long the input must stay quiet before pending exports go out.
const QUIET: Duration = Duration::from_millis(5);
/// While coalescing, the longest an export waits for the next flush.
const DELAY_MAX: Duration = Duration::from_millis(100);

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().min(u64::from(u32::MAX)) as u32)
}

/// Path selection under `policy`, with the peers' addresses `addrs` for the last tie-break.
fn select_ctx<'a>(policy: &ExportPolicy, addrs: &'a [IpAddr]) -> SelectCtx<'a> {
    SelectCtx {
        always_compare_med: policy.always_compare_med,
        peer_addrs: addrs,
    }
}

pub struct Shard {
    index: usize,
    /// Every path per prefix, and the journal numbering their changes.
    pub(crate) table: Table,
    /// The clients and what reaches them: pending changes, update groups, feed, catch-up.
    pub(crate) export: Exporter,
    policy: Arc<ExportPolicy>,
    peer_addrs: Arc<Vec<IpAddr>>,
    /// The VRPs import policy validates against.
    vrps: Arc<VrpTable>,
    pub(crate) counters: Arc<RibCounters>,
    stale_epoch: HashMap<PeerId, u64>,
    /// Peers in their graceful-restart time whose families then go long-lived stale (RFC
    /// 9494), with each family's long-lived stale time.
    llgr_plan: HashMap<PeerId, Vec<(Family, Duration)>>,
    /// The running long-lived stale timers, by peer and family (the last one armed).
    llgr_epoch: HashMap<(PeerId, Family), u64>,
    llgr_seq: u64,
    ctl_tx: mpsc::UnboundedSender<ShardCtl>,
    snapshot: Arc<ArcSwap<ShardSnapshot>>,
    last_publish: Instant,
    /// Heartbeat: bumped every turn of the loop and every message taken (the watchdog reads
    /// it; see `systemd.rs`).
    pub(crate) progress: Arc<AtomicU64>,
    /// Test hook (`handle::TEST_STALL_ENV`): when to stop making progress.
    stall_at: Option<Instant>,
}

impl Shard {
    pub(crate) fn new(
        index: usize,
        counters: Arc<RibCounters>,
        ctl_tx: mpsc::UnboundedSender<ShardCtl>,
        snapshot: Arc<ArcSwap<ShardSnapshot>>,
        policy: Arc<ExportPolicy>,
    ) -> Self {
        Shard {
            index,
            table: Table::new(index, counters.clone()),
            export: Exporter::new(index, counters.clone()),
            policy,
            peer_addrs: Arc::new(Vec::new()),
            vrps: Arc::new(VrpTable::empty()),
            counters,
            stale_epoch: HashMap::new(),
            llgr_plan: HashMap::new(),
            llgr_epoch: HashMap::new(),
            llgr_seq: 0,
            ctl_tx,
            snapshot,
            last_publish: Instant::now(),
            progress: Arc::new(AtomicU64::new(0)),
            stall_at: None,
        }
    }

    /// TEST HOOK: the shard stops making progress at `at` (see `handle::TEST_STALL_ENV`).
    pub(crate) fn with_stall(mut self, at: Option<Instant>) -> Self {
        self.stall_at = at;
        self
    }

    /// TEST HOOK: past `stall_at`, blocks the shard's thread until told to shut down, taking
    /// no input and never bumping its heartbeat: a stuck shard, for the watchdog test.
    fn stall_if_due(&mut self, ctl: &mut mpsc::UnboundedReceiver<ShardCtl>) -> bool {
        if self.stall_at.is_none_or(|t| Instant::now() < t) {
            return false;
        }
        tracing::warn!(
            shard = self.index,
            "test hook: RIB shard stalls (PEEREX_TEST_STALL_SHARD_AFTER)"
        );
        loop {
            match ctl.try_recv() {
                Ok(ShardCtl::Shutdown) | Err(mpsc::error::TryRecvError::Disconnected) => {
                    return true
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The signal the feed rings when a lagging reader catches up (shared by the shards of a
    /// RIB).
    pub(crate) fn with_drain_signal(mut self, drained: Arc<tokio::sync::Notify>) -> Self {
        self.export.set_drain_signal(drained);
        self
    }

    /// Runs the shard until told to stop.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<ShardMsg>,
        mut ctl: mpsc::UnboundedReceiver<ShardCtl>,
    ) {
        let mut tick = tokio::time::interval(PUBLISH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let drained = self.export.drained.clone();
        // Since when the clients have been behind as a whole (None: they are not).
        let mut held_since: Option<Instant> = None;
        // When input last came, and since when exports have been pending.
        let mut last_input = Instant::now();
        let mut pending_since: Option<Instant> = None;
        loop {
            self.progress.fetch_add(1, Ordering::Relaxed);
            if self.stall_at.is_some() && self.stall_if_due(&mut ctl) {
                return;
            }
            // Control first: refills and timeouts never wait behind route batches.
            while let Ok(c) = ctl.try_recv() {
                if !self.control(c) {
                    self.publish();
                    return;
                }
            }
            self.export.settle_feed();
            // Listen for a drain before looking, so one between the look and the wait counts.
            let wake = drained.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            // While the clients as a whole are behind (`hold`), pending exports wait for a
            // queue to drain and input keeps coming until `PENDING_MAX` prefixes are
            // pending: what changes again meanwhile goes out once. Then the senders wait
            // (TCP backpressure), and every client keeps sharing one encoding per update
            // group instead of falling back to per-client refills.
            let hold = match (self.export.under_pressure(), held_since) {
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
            let room = |s: &Self| !hold || s.export.pending.len() < PENDING_MAX;
            let mut handled = 0;
            let mut idle = false;
            while room(&self) && handled < BATCH_MESSAGES {
                match rx.try_recv() {
                    Ok(m) => {
                        self.message(m);
                        self.progress.fetch_add(1, Ordering::Relaxed);
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
            let quiet = idle && (!self.export.coalescing || last_input.elapsed() >= QUIET);
            let overdue = pending_since.is_some_and(|t| t.elapsed() >= DELAY_MAX);
            let pending = self.export.pending.len();
            let due = quiet || !self.export.coalescing || pending >= FLUSH_PENDING || overdue;
            if !hold && due && (pending > 0 || self.export.groups.len() > 0) {
                self.flush();
            }
            pending_since = match (self.export.pending.is_empty(), pending_since) {
                (true, _) => None,
                (false, None) => Some(Instant::now()),
                (false, since) => since,
            };
            let waiting = self.export.coalescing && !hold && !self.export.pending.is_empty();
            let refilled = self.refill_step();
            if self.table.changed && self.last_publish.elapsed() >= PUBLISH_INTERVAL {
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
                    if self.table.changed { self.publish(); }
                }
            }
        }
    }

    pub(crate) fn control(&mut self, c: ShardCtl) -> bool {
        match c {
            ShardCtl::Refill(p) => self.export.request_refill(p),
            ShardCtl::StaleTimeout { peer, epoch } => {
                if self.stale_epoch.get(&peer) == Some(&epoch) {
                    self.stale_epoch.remove(&peer);
                    match self.llgr_plan.remove(&peer) {
                        Some(plan) => self.begin_llgr(peer, plan),
                        None => self.remove_paths(peer, FamilySet::ALL, |p| p.stale),
                    }
                    self.flush();
                }
            }
            ShardCtl::LlgrTimeout {
                peer,
                family,
                epoch,
            } => {
                if self.llgr_epoch.get(&(peer, family)) == Some(&epoch) {
                    self.llgr_epoch.remove(&(peer, family));
                    self.remove_paths(peer, FamilySet::EMPTY.with(family), |p| p.stale);
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
            ShardMsg::PeerDown {
                peer,
                stale_for,
                long_lived,
            } => self.peer_down(peer, stale_for, long_lived),
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
            ShardMsg::StaleTimer { peer, after } => {
                // Back within its restart time: no long-lived stale phase follows.
                self.llgr_plan.remove(&peer);
                self.arm_stale_timer(peer, after)
            }
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
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        for n in withdraw {
            let rx_id = n.path_id.map_or(0, |i| i.0);
            let key = PathKey {
                family,
                prefix: n.prefix,
                peer,
                rx_id,
            };
            self.table.change(&mut self.export, &ctx, key, None);
        }
        let Some(attrs) = attrs else { return };
        if announce.is_empty() {
            return;
        }
        let attrs = self.table.interner.intern(attrs);
        let router_id = self.export.client(peer).map_or(0, |c| c.info.router_id);
        let now = unix_now();
        // RFC 9494 §4.3: a route received with LLGR_STALE is long-lived stale as well.
        let llgr_stale = attrs.attrs.communities.contains(&Community::LLGR_STALE);
        // Import policy: the attribute half once per batch, the prefix half per prefix.
        let policies = self.policy.policies.as_deref();
        let import = policies.and_then(|p| p.import(peer));
        let prepared = import.map(|i| i.prepare(&attrs.attrs, &attrs.next_hop));
        let actions = policies.map_or_else(PathActions::default, |p| {
            PathActions::new(&attrs.attrs, p.action_ctx())
        });
        for n in announce {
            let rx_id = n.path_id.map_or(0, |i| i.0);
            let (verdict, rpki, blackhole, aspa) = match &prepared {
                Some(pr) => merge(verdict, pr.evaluate(&n.prefix, &self.vrps)),
                None => (verdict, RpkiState::NotChecked, false, AspaState::NotChecked),
            };
            let path = Path {
                attrs: attrs.clone(),
                peer,
                rx_id,
                router_id,
                verdict,
                rpki,
                aspa,
                blackhole,
                actions: actions.clone(),
                tx_id: 0,
                stale: false,
                llgr_stale,
                since: now,
            };
            let key = PathKey {
                family,
                prefix: n.prefix,
                peer,
                rx_id,
            };
            self.table.change(&mut self.export, &ctx, key, Some(path));
        }
    }

    fn client_up(&mut self, info: Arc<ClientInfo>) {
        // Pending changes are compared under the clients and classes they were made with.
        self.flush();
        let (peer, families) = (info.peer, info.families);
        let rules = self.policy.rules(peer);
        // Readers learn the client's long-lived graceful restart from the next snapshot.
        self.table.changed |= info.llgr;
        self.export.add_client(info, rules);
        self.start_dump(peer, families);
    }

    pub(crate) fn start_dump(&mut self, peer: PeerId, families: FamilySet) {
        // A live client holds everything up to the last flush; after this one, everything
        // up to `head`, which the dump builds on.
        self.flush();
        let head = self.table.journal.head();
        self.export.start_dump(peer, families, head);
    }

    fn peer_down(
        &mut self,
        peer: PeerId,
        stale_for: Option<Duration>,
        long_lived: Vec<(Family, Duration)>,
    ) {
        self.flush();
        self.table.changed |= self.export.client(peer).is_some_and(|c| c.info.llgr);
        self.export.remove_client(peer);
        // A new loss restarts the procedure: long-lived timers of an earlier one are void.
        self.llgr_epoch.retain(|(p, _), _| *p != peer);
        self.llgr_plan.remove(&peer);
        match stale_for {
            Some(t) => {
                self.mark_stale(peer, FamilySet::ALL);
                if !long_lived.is_empty() {
                    self.llgr_plan.insert(peer, long_lived);
                }
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

    /// The end of a peer's restart time with long-lived graceful restart (RFC 9494 §4.2):
    /// stale paths of the families without a long-lived stale time go; the others become
    /// long-lived stale (`Table::enter_llgr`) until their family's time is up.
    fn begin_llgr(&mut self, peer: PeerId, plan: Vec<(Family, Duration)>) {
        let mut kept = FamilySet::EMPTY;
        for (f, _) in &plan {
            kept.insert(*f);
        }
        let gone = Family::ALL
            .into_iter()
            .filter(|f| !kept.contains(*f))
            .fold(FamilySet::EMPTY, FamilySet::with);
        self.remove_paths(peer, gone, |p| p.stale);
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        self.table.enter_llgr(&mut self.export, &ctx, peer, kept);
        for (family, after) in plan {
            self.llgr_seq += 1;
            let epoch = self.llgr_seq;
            self.llgr_epoch.insert((peer, family), epoch);
            let tx = self.ctl_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(ShardCtl::LlgrTimeout {
                    peer,
                    family,
                    epoch,
                });
            });
        }
    }

    fn mark_stale(&mut self, peer: PeerId, families: FamilySet) {
        // Pending changes keep the entries they compare; these change outside `change`.
        self.flush();
        self.table.mark_stale(peer, families);
    }

    /// Removes the paths of `peer` in `families` for which `which` holds, exporting the result.
    pub(crate) fn remove_paths(
        &mut self,
        peer: PeerId,
        families: FamilySet,
        which: impl Fn(&Path) -> bool,
    ) {
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        self.table
            .remove_paths(&mut self.export, &ctx, peer, families, which);
        if self.export.pending.len() >= PENDING_MAX {
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
        self.policy = p;
        // First the new import policy under the old export rules (the clients still hold
        // them), then the new export rules over the re-evaluated table.
        if import_changed {
            self.reevaluate(true, None);
            self.flush();
        }
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        self.export.apply_rules(&self.policy, &mut self.table, &ctx);
        self.flush();
    }

    /// Evaluates import policy again for the paths of every prefix (`vrps`: only the
    /// prefixes the VRP changes cover, and those with a path through an AS whose ASPA
    /// changed) and exports what changed. `actions`: the control
    /// community context changed too.
    pub(crate) fn reevaluate(&mut self, actions: bool, vrps: Option<&VrpChanges>) {
        let Some(policies) = self.policy.policies.clone() else {
            return;
        };
        let prefixes = &self.table.prefixes;
        let keys: Vec<Prefix> = match vrps {
            Some(c) if c.is_empty() => return,
            Some(c) if !c.is_everything() => prefixes
                .iter()
                .filter(|(k, e)| {
                    c.affects(k)
                        || e.paths
                            .iter()
                            .any(|p| c.affects_path(p.attrs.attrs.as_path.as_ref()))
                })
                .map(|(k, _)| *k)
                .collect(),
            _ => prefixes.keys().copied().collect(),
        };
        for prefix in keys {
            let Some(entry) = self.table.prefixes.get(&prefix) else {
                continue;
            };
            let mut fresh: smallvec::SmallVec<[(usize, Path); 4]> = smallvec::SmallVec::new();
            for (i, p) in entry.paths.iter().enumerate() {
                let n = evaluate_path(&policies, &self.vrps, p, &prefix, actions);
                if !n.same_as(p) {
                    fresh.push((i, n));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            let ctx = select_ctx(&self.policy, &self.peer_addrs);
            self.table
                .replace_paths(&mut self.export, &ctx, prefix, fresh);
            if self.export.groups.len() > 1024 {
                self.flush();
            }
        }
    }

    /// Exports what is pending (`Exporter::flush`).
    pub(crate) fn flush(&mut self) {
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        self.export
            .flush(&mut self.table.journal, &self.policy, &ctx);
    }

    /// One step of refilling the first client waiting for it (`Exporter::refill_step`).
    pub(crate) fn refill_step(&mut self) -> bool {
        let ctx = select_ctx(&self.policy, &self.peer_addrs);
        self.export.refill_step(&self.table, &self.policy, &ctx)
    }

    /// Publishes the table for readers (O(1): the map is persistent).
    pub(crate) fn publish(&mut self) {
        let snap = ShardSnapshot {
            index: self.index,
            table: self.table.prefixes.clone(),
            policy: self.policy.clone(),
            peer_addrs: self.peer_addrs.clone(),
            published: Instant::now(),
            llgr_clients: Arc::new(
                self.export
                    .clients
                    .iter()
                    .flatten()
                    .filter(|c| c.info.llgr)
                    .map(|c| c.info.peer)
                    .collect(),
            ),
        };
        self.snapshot.store(Arc::new(snap));
        let mem = &self.counters.memory;
        let interned = self.table.interner.bytes();
        mem.publish_table(self.index, self.table.len(), interned);
        let state = export_state_estimate(&self.table.journal, &self.export);
        mem.set_export_state(self.index, state);

        self.table.changed = false;
        self.last_publish = Instant::now();
    }
}
