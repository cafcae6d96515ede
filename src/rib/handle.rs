//! Starting the shards and talking to them: the RIB's handle for sessions and the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use super::api::{ExportPolicy, ShardCtl, ShardMsg};
use super::counters::RibCounters;
use super::outq::OutQueue;
use super::path::PeerId;
use super::shard::Shard;
use super::snapshot::{RibSnapshot, ShardSnapshot};
use crate::wire::Prefix;

/// Route batches a shard's input channel holds before senders wait (backpressure).
pub const SHARD_CHANNEL: usize = 1024;

/// TEST HOOK, not for production: when set to a number of seconds, shard 0 stops making
/// progress that long after the RIB starts (its thread blocks, waking only for Shutdown), so
/// tests can see the systemd watchdog stop petting (tests/systemd.rs). Read once, at start.
pub const TEST_STALL_ENV: &str = "PEEREX_TEST_STALL_SHARD_AFTER";

/// One shard's liveness as the watchdog samples it: how far its loop has gone, and how many
/// route batches wait in its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardProgress {
    /// Counts the turns of the shard's loop and the messages it took; only ever grows.
    pub advanced: u64,
    /// Messages waiting in the shard's input channel.
    pub queued: usize,
}

/// Which shard owns `p` among `n`.
///
/// By the covering /16 (IPv4) or /32 (IPv6), hashed: neighbouring prefixes, which usually
/// share their origin and attributes, stay on one shard, so a peer's UPDATE is rarely split
/// and the prefixes packed together on input can be packed together on export. Tables hold
/// thousands of distinct /16s and /32s, so the shards stay evenly loaded.
pub fn shard_of(p: &Prefix, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let key: u64 = match p {
        Prefix::V4(p) => u64::from(p.addr_bits() >> 16),
        Prefix::V6(p) => ((p.addr_bits() >> 96) as u64) | (1 << 40),
    };
    let h = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) % n as u64) as usize
}

pub struct Rib {
    senders: Vec<mpsc::Sender<ShardMsg>>,
    ctl: Vec<mpsc::UnboundedSender<ShardCtl>>,
    cells: Vec<Arc<ArcSwap<ShardSnapshot>>>,
    counters: Arc<RibCounters>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Each shard's progress counter (its heartbeat, read by the watchdog).
    progress: Vec<Arc<AtomicU64>>,
}

impl std::fmt::Debug for Rib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rib")
            .field("shards", &self.senders.len())
            .finish()
    }
}

impl Rib {
    /// Starts `shards` shard threads.
    pub fn start(shards: usize, policy: Arc<ExportPolicy>) -> std::io::Result<Arc<Rib>> {
        let shards = shards.max(1);
        let counters = Arc::new(RibCounters::new(shards));
        let mut senders = Vec::new();
        let mut ctl = Vec::new();
        let mut cells = Vec::new();
        let mut threads = Vec::new();
        let mut progress = Vec::new();
        let stall_at = std::env::var(TEST_STALL_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .and_then(|d| Instant::now().checked_add(d));
        // Rung when a reader of any shard's feed catches up (shards holding back look again).
        let drained = Arc::new(tokio::sync::Notify::new());
        for i in 0..shards {
            let (tx, rx) = mpsc::channel(SHARD_CHANNEL);
            let (ctx, crx) = mpsc::unbounded_channel();
            let cell = Arc::new(ArcSwap::from_pointee(ShardSnapshot::empty(i)));
            let shard = Shard::new(
                i,
                counters.clone(),
                ctx.clone(),
                cell.clone(),
                policy.clone(),
            )
            .with_drain_signal(drained.clone())
            .with_stall(if i == 0 { stall_at } else { None });
            progress.push(shard.progress.clone());
            let handle = std::thread::Builder::new()
                .name(format!("rib-shard-{i}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match rt {
                        Ok(rt) => rt.block_on(shard.run(rx, crx)),
                        Err(e) => {
                            tracing::error!(shard = i, error = %e, "cannot start shard runtime")
                        }
                    }
                })?;
            senders.push(tx);
            ctl.push(ctx);
            cells.push(cell);
            threads.push(handle);
        }
        Ok(Arc::new(Rib {
            senders,
            ctl,
            cells,
            counters,
            threads: Mutex::new(threads),
            progress,
        }))
    }

    pub fn shards(&self) -> usize {
        self.senders.len()
    }

    /// Every shard's progress now (cheap: two atomic loads per shard).
    pub fn progress(&self) -> Vec<ShardProgress> {
        self.senders
            .iter()
            .zip(&self.progress)
            .map(|(tx, p)| ShardProgress {
                advanced: p.load(Ordering::Relaxed),
                queued: tx.max_capacity().saturating_sub(tx.capacity()),
            })
            .collect()
    }

    pub fn counters(&self) -> &Arc<RibCounters> {
        &self.counters
    }

    /// Sends to one shard, waiting while its channel is full (backpressure).
    pub async fn send(&self, shard: usize, msg: ShardMsg) {
        if let Some(tx) = self.senders.get(shard) {
            if tx.send(msg).await.is_err() {
                tracing::error!(shard, "RIB shard has stopped");
            }
        }
    }

    /// Sends a message built by `f` to every shard.
    pub async fn broadcast(&self, f: impl Fn() -> ShardMsg) {
        for i in 0..self.senders.len() {
            self.send(i, f()).await;
        }
    }

    /// A new outbound queue for `peer` whose refill requests reach every shard.
    pub fn new_queue(&self, peer: PeerId, high: usize) -> Arc<OutQueue> {
        let ctl = self.ctl.clone();
        let q = Arc::new(OutQueue::new(
            high,
            Box::new(move || {
                for c in &ctl {
                    let _ = c.send(ShardCtl::Refill(peer));
                }
            }),
        ));
        self.counters.memory.track_queue(&q);
        q
    }

    /// The current published view.
    pub fn snapshot(&self) -> RibSnapshot {
        RibSnapshot::load(&self.cells)
    }

    /// Stops the shards and waits for their threads.
    pub fn shutdown(&self) {
        for c in &self.ctl {
            let _ = c.send(ShardCtl::Shutdown);
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Rib {
    fn drop(&mut self) {
        for c in &self.ctl {
            let _ = c.send(ShardCtl::Shutdown);
        }
    }
}
