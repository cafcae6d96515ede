//! What sessions and the server send to the RIB, and what the RIB knows of each client.
//! The only way into the RIB: no caller touches shard state.

use std::sync::Arc;
use std::time::Duration;

use super::attrs::RouteAttrs;
use super::outq::OutQueue;
use super::path::PeerId;
use crate::policy::{ExportRules, Policies, Verdict, VrpChanges, VrpTable};
use crate::wire::{Asn, Family, FamilySet, Nlri, ParseCtx};

/// Route changes from one peer for one family, all sharing one attribute set.
#[derive(Debug)]
pub struct RouteBatch {
    pub peer: PeerId,
    pub family: Family,
    /// The attributes and verdict of `announce` (unused when it is empty).
    pub attrs: Option<Arc<RouteAttrs>>,
    pub verdict: Verdict,
    pub announce: Vec<Nlri>,
    pub withdraw: Vec<Nlri>,
}

/// An established session as the RIB sees it: where to send, and how to encode for it.
#[derive(Debug)]
pub struct ClientInfo {
    pub peer: PeerId,
    pub asn: Asn,
    /// The peer's BGP identifier (selection tie-break for its paths).
    pub router_id: u32,
    pub families: FamilySet,
    /// How to encode what we send it.
    pub tx: ParseCtx,
    /// Paths per prefix for ADD-PATH clients (0 = all).
    pub add_path_max: u16,
    /// Add OTC with our ASN on routes without one (RFC 9234, role negotiated).
    pub add_otc: bool,
    /// The client negotiated long-lived graceful restart (RFC 9494): it takes long-lived
    /// stale routes.
    pub llgr: bool,
    pub queue: Arc<OutQueue>,
}

/// The server-wide export settings, swapped as a whole on reload.
#[derive(Debug, Default, Clone)]
pub struct ExportPolicy {
    /// Per client, by peer index; missing entries take everything.
    pub rules: Vec<ExportRules>,
    /// Our ASN (OTC on export).
    pub local_asn: Asn,
    /// Compare MED across neighbouring ASes.
    pub always_compare_med: bool,
    /// Import policy per peer, the control-community context and export tagging. `None`
    /// accepts everything (what the RIB's own tests and benches use).
    pub policies: Option<Arc<Policies>>,
}

impl ExportPolicy {
    pub fn rules(&self, p: PeerId) -> ExportRules {
        self.rules.get(p.index()).cloned().unwrap_or_default()
    }
}

/// Messages to a shard, in order per sender.
#[derive(Debug)]
pub enum ShardMsg {
    Routes(RouteBatch),
    /// A session came up: export to it (initial dump, then End-of-RIB).
    ClientUp(Arc<ClientInfo>),
    /// A session went down. With `stale_for`, its paths are kept as stale (graceful-restart
    /// helper) until it re-sends them and End-of-RIB, or the time passes; otherwise they go.
    /// When the time passes, the paths of the `long_lived` families (RFC 9494) stay for
    /// their long-lived stale time instead, with LLGR_STALE, least preferred.
    PeerDown {
        peer: PeerId,
        stale_for: Option<Duration>,
        long_lived: Vec<(Family, Duration)>,
    },
    /// The peer's routes of `family` are no longer usable (AFI/SAFI disable, RFC 7606).
    PeerFamilyDown {
        peer: PeerId,
        family: Family,
    },
    /// Mark the peer's paths of `family` stale (it began a refresh, RFC 7313 BoRR).
    MarkStale {
        peer: PeerId,
        family: Family,
    },
    /// Replace the pending stale timeout of `peer` (its session came back: RFC 4724 §4.2).
    StaleTimer {
        peer: PeerId,
        after: Duration,
    },
    /// The peer finished sending `family` (End-of-RIB): stale paths of it left are removed.
    EndOfRib {
        peer: PeerId,
        family: Family,
    },
    /// The peer asked for `family` again (ROUTE-REFRESH): dump it again.
    Refresh {
        peer: PeerId,
        family: Family,
    },
    /// The policy changed: import verdicts of every held path are evaluated again and what
    /// every client receives is corrected (soft reconfiguration).
    Policy(Arc<ExportPolicy>),
    /// New VRPs: paths of the prefixes `changes` covers are validated again.
    Vrps {
        table: Arc<VrpTable>,
        changes: Arc<VrpChanges>,
    },
    /// Peer addresses for the selection tie-break, by peer index.
    PeerAddrs(Arc<Vec<std::net::IpAddr>>),
}

/// Control messages that must not wait behind route batches.
#[derive(Debug)]
pub enum ShardCtl {
    /// The peer's queue drained: continue its dump or its catch-up from the journal.
    Refill(PeerId),
    /// Remove the peer's stale paths if its graceful restart has not completed.
    StaleTimeout { peer: PeerId, epoch: u64 },
    /// Remove the peer's long-lived stale paths of `family` if they are still waiting.
    LlgrTimeout {
        peer: PeerId,
        family: Family,
        epoch: u64,
    },
    /// Stop the shard.
    Shutdown,
}
