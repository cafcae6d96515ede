//! A synchronous, single-shard RIB with in-memory clients: the update hot path (decoded
//! UPDATEs → shard → export → encoded UPDATEs) without threads or sockets, for the pipeline
//! fuzz target, benches and tests. It runs the real `Shard` code; only the transport is
//! replaced by queues the caller drains.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::api::{ClientInfo, ExportPolicy, ShardCtl, ShardMsg};
use super::counters::RibCounters;
use super::outq::{OutItem, OutQueue};
use super::shard::Shard;
use super::snapshot::ShardSnapshot;
use crate::policy::{ExportRules, PeerId};
use crate::wire::{Asn, FamilySet, ParseCtx};

/// One simulated peer (every peer is also a client).
#[derive(Clone, Debug)]
pub struct SimPeer {
    pub asn: Asn,
    pub router_id: u32,
    pub address: IpAddr,
    /// Encoding towards it (4-octet AS, ADD-PATH, extended messages).
    pub tx: ParseCtx,
    pub add_path_max: u16,
    pub rules: ExportRules,
}

pub struct Sim {
    shard: Shard,
    /// Where the shard publishes its snapshots.
    cell: Arc<ArcSwap<ShardSnapshot>>,
    peers: Vec<SimPeer>,
    queues: Vec<Option<Arc<OutQueue>>>,
    refills: Arc<Mutex<Vec<PeerId>>>,
    high: usize,
    /// End-of-RIB markers seen per client.
    pub dumps_done: Vec<FamilySet>,
}

impl Sim {
    /// A shard with every peer connected; `high` is the out-queue high mark (small values
    /// exercise the slow-client path).
    pub fn new(peers: Vec<SimPeer>, local_asn: Asn, high: usize) -> Sim {
        let (ctl_tx, _ctl_rx) = mpsc::unbounded_channel::<ShardCtl>();
        let policy = Arc::new(ExportPolicy {
            rules: peers.iter().map(|p| p.rules.clone()).collect(),
            local_asn,
            always_compare_med: false,
            policies: None,
        });
        let cell = Arc::new(ArcSwap::from_pointee(ShardSnapshot::empty(0)));
        let mut shard = Shard::new(
            0,
            Arc::new(RibCounters::default()),
            ctl_tx,
            cell.clone(),
            policy,
        );
        // The feed lets readers go at the queues' mark: small marks exercise catch-up.
        shard.export.set_feed_lag(high);
        shard.message(ShardMsg::PeerAddrs(Arc::new(
            peers.iter().map(|p| p.address).collect(),
        )));
        let n = peers.len();
        let mut sim = Sim {
            shard,
            cell,
            peers,
            queues: vec![None; n],
            refills: Arc::new(Mutex::new(Vec::new())),
            high,
            dumps_done: vec![FamilySet::EMPTY; n],
        };
        for i in 0..n {
            sim.up(i);
        }
        sim
    }

    /// Brings peer `i`'s session up (a fresh queue; the shard dumps its table to it).
    pub fn up(&mut self, i: usize) {
        let Some(p) = self.peers.get(i) else { return };
        let r = self.refills.clone();
        let id = PeerId(i as u32);
        let q = Arc::new(OutQueue::new(
            self.high,
            Box::new(move || r.lock().unwrap_or_else(|e| e.into_inner()).push(id)),
        ));
        self.shard.message(ShardMsg::ClientUp(Arc::new(ClientInfo {
            peer: id,
            asn: p.asn,
            router_id: p.router_id,
            families: FamilySet::ALL,
            tx: p.tx,
            add_path_max: p.add_path_max,
            add_otc: false,
            llgr: false,
            queue: q.clone(),
        })));
        if let Some(slot) = self.queues.get_mut(i) {
            *slot = Some(q);
        }
        if let Some(d) = self.dumps_done.get_mut(i) {
            *d = FamilySet::EMPTY;
        }
    }

    /// Takes peer `i`'s session down (its paths go, its queue is dropped).
    pub fn down(&mut self, i: usize) {
        self.shard.message(ShardMsg::PeerDown {
            peer: PeerId(i as u32),
            stale_for: None,
            long_lived: Vec::new(),
        });
        if let Some(q) = self.queues.get_mut(i).and_then(|q| q.take()) {
            q.close();
        }
    }

    /// Hands messages to the shard and flushes its export.
    pub fn apply(&mut self, msgs: impl IntoIterator<Item = ShardMsg>) {
        self.queue(msgs);
        self.shard.flush();
    }

    /// Hands messages to the shard without flushing (as the shard does within a batch).
    pub fn queue(&mut self, msgs: impl IntoIterator<Item = ShardMsg>) {
        for m in msgs {
            self.shard.message(m);
        }
    }

    /// Encodes and queues what the shard has pending.
    pub fn flush(&mut self) {
        self.shard.flush();
    }

    /// What client `i` has been sent since the last drain (encoded UPDATEs), marking it
    /// written.
    pub fn drain(&mut self, i: usize) -> Vec<Bytes> {
        let Some(Some(q)) = self.queues.get(i) else {
            return Vec::new();
        };
        let mut items = Vec::new();
        q.try_pop_all(&mut items);
        let mut out = Vec::new();
        for item in items {
            match item {
                OutItem::Updates(b) => {
                    q.written(b.len());
                    out.push(b);
                }
                OutItem::Shared(b) => out.push(b),
                OutItem::Attach { .. } => {}
                OutItem::DumpDone { families, .. } => {
                    if let Some(d) = self.dumps_done.get_mut(i) {
                        *d = d.union(families);
                    }
                }
            }
        }
        out
    }

    /// Drains every client and runs refills until nothing is pending; calls `sink` with each
    /// client's output.
    pub fn settle(&mut self, mut sink: impl FnMut(usize, Bytes)) {
        loop {
            let mut any = false;
            // What the shard has pending goes out first, so this round's drain sees it.
            self.shard.flush();
            for i in 0..self.peers.len() {
                for b in self.drain(i) {
                    any = true;
                    sink(i, b);
                }
            }
            let pending: Vec<PeerId> =
                std::mem::take(&mut *self.refills.lock().unwrap_or_else(|e| e.into_inner()));
            for p in pending {
                any = true;
                self.shard.control(ShardCtl::Refill(p));
            }
            while self.shard.refill_step() {
                any = true;
            }
            if !any {
                return;
            }
        }
    }

    /// Prefixes held.
    pub fn table_len(&self) -> usize {
        self.shard.table.len()
    }

    /// Distinct attribute sets held (after dropping unreferenced ones).
    pub fn interned(&mut self) -> usize {
        self.shard.table.interner.sweep();
        self.shard.table.interner.len()
    }

    /// Publishes the table as the shard does every `PUBLISH_INTERVAL` (with its memory
    /// figures).
    pub fn publish(&mut self) {
        self.shard.publish();
    }

    /// The last published snapshot (see [`Sim::publish`]).
    pub fn snapshot(&self) -> super::snapshot::RibSnapshot {
        super::snapshot::RibSnapshot {
            shards: vec![self.cell.load_full()],
        }
    }

    /// The shard's counters (paths, memory).
    pub fn counters(&self) -> &Arc<RibCounters> {
        &self.shard.counters
    }
}
