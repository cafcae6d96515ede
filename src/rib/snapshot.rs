//! Immutable published views of the RIB. Readers (looking glass, control socket, MRT dumps)
//! load one per shard and work on it for as long as they like; the shards keep going.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use imbl::OrdMap;

use super::api::ExportPolicy;
use super::entry::PrefixEntry;
use super::export::client_choice;
use super::path::{Path, PeerId, SelectCtx};
use crate::policy::{ClientSet, ExportRules};
use crate::wire::{Prefix, Prefix4, Prefix6};

/// One shard's table at one moment.
#[derive(Clone)]
pub struct ShardSnapshot {
    pub index: usize,
    pub table: OrdMap<Prefix, Arc<PrefixEntry>>,
    pub policy: Arc<ExportPolicy>,
    pub peer_addrs: Arc<Vec<IpAddr>>,
    pub published: Instant,
    /// The live clients that negotiated long-lived graceful restart (they take long-lived
    /// stale paths, RFC 9494).
    pub llgr_clients: Arc<ClientSet>,
}

impl ShardSnapshot {
    pub fn empty(index: usize) -> Self {
        ShardSnapshot {
            index,
            table: OrdMap::new(),
            policy: Arc::new(ExportPolicy::default()),
            peer_addrs: Arc::new(Vec::new()),
            published: Instant::now(),
            llgr_clients: Arc::new(ClientSet::new()),
        }
    }

    /// Client `c`'s export rules under the published policy and its session.
    pub fn rules(&self, c: PeerId) -> ExportRules {
        let mut r = self.policy.rules(c);
        r.takes_llgr_stale = self.llgr_clients.contains(c);
        r
    }
}

/// The whole RIB at (about) one moment: one snapshot per shard.
#[derive(Clone)]
pub struct RibSnapshot {
    pub shards: Vec<Arc<ShardSnapshot>>,
}

impl RibSnapshot {
    pub fn load(cells: &[Arc<ArcSwap<ShardSnapshot>>]) -> Self {
        RibSnapshot {
            shards: cells.iter().map(|c| c.load_full()).collect(),
        }
    }

    fn shard_for(&self, p: &Prefix) -> Option<&ShardSnapshot> {
        let i = super::handle::shard_of(p, self.shards.len());
        self.shards.get(i).map(|s| &**s)
    }

    /// The entry of exactly `p`.
    pub fn exact(&self, p: &Prefix) -> Option<Arc<PrefixEntry>> {
        self.shard_for(p)?.table.get(p).cloned()
    }

    /// The most specific prefix holding `addr`, with its entry.
    pub fn longest_match(&self, addr: IpAddr) -> Option<(Prefix, Arc<PrefixEntry>)> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (0..=max).rev().find_map(|len| {
            let p = match addr {
                IpAddr::V4(a) => Prefix::V4(Prefix4::new(a.to_bits(), len)?),
                IpAddr::V6(a) => Prefix::V6(Prefix6::new(a.to_bits(), len)?),
            };
            self.exact(&p).map(|e| (p, e))
        })
    }

    /// The most specific prefix that covers `p` (`p` itself included), with its entry.
    pub fn longest_match_prefix(&self, p: &Prefix) -> Option<(Prefix, Arc<PrefixEntry>)> {
        (0..=p.length()).rev().find_map(|len| {
            let q = Prefix::new(p.addr(), len)?;
            self.exact(&q).map(|e| (q, e))
        })
    }

    /// Every prefix and entry, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&Prefix, &Arc<PrefixEntry>)> {
        self.shards.iter().flat_map(|s| s.table.iter())
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.table.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every path `peer` sent (accepted and rejected), in prefix order within each shard.
    pub fn paths_from(&self, peer: PeerId) -> impl Iterator<Item = (&Prefix, &Path)> {
        self.iter().flat_map(move |(p, e)| {
            e.paths
                .iter()
                .filter(move |x| x.peer == peer)
                .map(move |x| (p, x))
        })
    }

    /// The path client `client` receives for `p` under the published policy (without
    /// ADD-PATH), if any.
    pub fn choice_for(&self, client: PeerId, p: &Prefix) -> Option<Path> {
        let shard = self.shard_for(p)?;
        let entry = shard.table.get(p)?;
        let ctx = SelectCtx {
            always_compare_med: shard.policy.always_compare_med,
            peer_addrs: &shard.peer_addrs,
        };
        client_choice(entry, client, &shard.rules(client), &ctx).cloned()
    }
}
