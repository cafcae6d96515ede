//! Compiling a validated configuration into [`Policies`]: one [`ImportPolicy`] and one
//! [`ExportRules`] per peer, the control-community context, shared lists compiled once.

use std::collections::HashMap;
use std::sync::Arc;

use super::actions::{export_attributes, ActionCtx};
use super::asnset::AsnSet;
use super::clientset::PeerId;
use super::import::{ImportOutcome, ImportPolicy};
use super::prefixset::PrefixSet;
use super::rules::{compile_export_rules, ExportRules};
use crate::config::{AsnRange, Config, PrefixRange};
use crate::wire::{Asn, PathAttributes};

/// Every peer's compiled policy, indexed by [`PeerId`] (the peer's index in `config.peers`).
/// Immutable: a reload compiles a new one and swaps it whole.
#[derive(Clone, Debug)]
pub struct Policies {
    rs_asn: Asn,
    /// By `PeerId` (ids of removed peers are `None`).
    import: Vec<Option<ImportPolicy>>,
    export: Vec<ExportRules>,
    actions: Arc<ActionCtx>,
    rpki_communities: bool,
}

impl Policies {
    /// Compiles `config` (already validated: this cannot fail), peer `i` getting `PeerId(i)`.
    pub fn new(config: &Config) -> Policies {
        let ids: Vec<PeerId> = (0..config.peers.len() as u32).map(PeerId).collect();
        Policies::with_ids(config, &ids)
    }

    /// Compiles `config` with `ids[i]` the id of `config.peers[i]` (ids stay with a peer
    /// across reloads).
    pub fn with_ids(config: &Config, ids: &[PeerId]) -> Policies {
        let id_of = |i: usize| ids.get(i).copied().unwrap_or(PeerId(i as u32));
        let pc = &config.policy;
        let bogon_prefixes = Arc::new(PrefixSet::new(&pc.bogon_prefixes));
        let bogon_asns = Arc::new(AsnSet::new(pc.bogon_asns.iter().copied()));
        let transit_free = Arc::new(AsnSet::new(pc.transit_free_asns.iter().copied()));
        // Peers sharing a list (the same file, or [defaults]) share its compiled set.
        let mut compiled: HashMap<*const PrefixRange, Arc<PrefixSet>> = HashMap::new();
        let len = (0..config.peers.len())
            .map(|i| id_of(i).index() + 1)
            .max()
            .unwrap_or(0);
        let mut import: Vec<Option<ImportPolicy>> = vec![None; len];
        let compiled_peers = config.peers.iter().zip(pc.peers.iter()).map(|(peer, p)| {
            let prefixes = p.prefixes.as_ref().filter(|_| p.checks.prefixes).map(|l| {
                compiled
                    .entry(l.as_ptr())
                    .or_insert_with(|| Arc::new(PrefixSet::new(l)))
                    .clone()
            });
            let origins = p
                .origin_asns
                .as_ref()
                .filter(|_| p.checks.origins)
                .map(|l| {
                    Arc::new(AsnSet::new(
                        l.iter().copied().chain([AsnRange::one(peer.asn.0)]),
                    ))
                });
            ImportPolicy {
                peer_asn: peer.asn,
                peer_addr: peer.address,
                next_hops: p.next_hops.clone().into(),
                checks: p.checks,
                max_path_length: p.max_path_length,
                v4_lengths: p.ipv4_lengths,
                v6_lengths: p.ipv6_lengths,
                prefixes,
                origins,
                bogon_prefixes: bogon_prefixes.clone(),
                bogon_asns: bogon_asns.clone(),
                transit_free: transit_free.clone(),
                peer_is_transit_free: transit_free.contains(peer.asn),
                rpki: p.rpki,
                allow_blackhole: p.allow_blackhole,
                graceful_shutdown: p.graceful_shutdown,
                local_pref: p.local_pref,
                aspa: p.aspa,
            }
        });
        for (i, ip) in compiled_peers.enumerate() {
            if let Some(slot) = import.get_mut(id_of(i).index()) {
                *slot = Some(ip);
            }
        }
        Policies {
            rs_asn: config.server.asn,
            import,
            export: compile_export_rules(pc, ids),
            actions: Arc::new(ActionCtx::new(
                config.server.asn,
                config
                    .peers
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (id_of(i), p.asn)),
            )),
            rpki_communities: pc.rpki_communities,
        }
    }

    /// The import policy of `peer`.
    #[inline]
    pub fn import(&self, peer: PeerId) -> Option<&ImportPolicy> {
        self.import.get(peer.index()).and_then(|p| p.as_ref())
    }

    /// The export rules of client `peer`.
    pub fn export(&self, peer: PeerId) -> Option<&ExportRules> {
        self.export.get(peer.index())
    }

    /// Export rules of every client by peer index (for `rib::ExportPolicy::rules`).
    pub fn export_rules(&self) -> &[ExportRules] {
        &self.export
    }

    /// What [`PathActions::new`](super::PathActions::new) needs.
    pub fn action_ctx(&self) -> &Arc<ActionCtx> {
        &self.actions
    }

    pub fn rs_asn(&self) -> Asn {
        self.rs_asn
    }

    /// Accepted routes get the `RS:1000:N` RPKI tag and the `RS:1001:N` ASPA tag on export.
    pub fn rpki_communities(&self) -> bool {
        self.rpki_communities
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.import.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The attributes to export for an accepted path: [`export_attributes`] with this
    /// server's ASN and tagging setting.
    pub fn export_attributes(
        &self,
        attrs: &PathAttributes,
        outcome: &ImportOutcome,
    ) -> PathAttributes {
        export_attributes(
            attrs,
            self.rs_asn,
            self.rpki_communities.then_some(outcome.rpki),
            self.rpki_communities.then_some(outcome.aspa),
            outcome.blackhole,
        )
    }
}
