//! The owned path attribute set and its encoder.

use std::net::Ipv4Addr;

use bytes::BytesMut;

use super::aggregator::{self, Aggregator};
use super::as_path::{self, AsPath};
use super::communities::{self, Community};
use super::ext_communities::{self, ExtCommunity};
use super::large_communities::{self, LargeCommunity};
use super::origin::{self, Origin};
use super::unknown::{self, RawAttr};
use super::{atomic_aggregate, cluster_list, local_pref, med, next_hop, originator_id, otc};
use crate::wire::ctx::ParseCtx;
use crate::wire::types::Asn;

/// Changes applied while encoding (see [`PathAttributes::encode_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replace NEXT_HOP (`Some(None)` leaves it out).
    pub next_hop: Option<Option<Ipv4Addr>>,
    /// Leave out LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST (towards external peers).
    pub strip_internal: bool,
    /// Add OTC with this ASN when the set has none (RFC 9234).
    pub otc_if_absent: Option<Asn>,
}

/// Every path attribute except MP_REACH_NLRI / MP_UNREACH_NLRI, owned. The AS path and
/// aggregator always hold 4-octet ASNs; the encoder writes AS4_PATH / AS4_AGGREGATOR when a
/// 2-octet session needs them. Empty lists mean the attribute is absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub otc: Option<Asn>,
    /// Unknown optional transitive attributes, in ascending type order.
    pub unknown: Vec<RawAttr>,
}

impl PathAttributes {
    /// Appends every attribute in ascending type order (RFC 4271 §5 recommends it). MP
    /// attributes are the caller's: they go first (RFC 7606 §5.1).
    pub fn encode(&self, ctx: &ParseCtx, out: &mut BytesMut) {
        self.encode_with(ctx, &Overrides::default(), out);
    }

    /// As [`PathAttributes::encode`], with the changes of `o` applied on the way (so an
    /// exporter needs no modified copy).
    pub fn encode_with(&self, ctx: &ParseCtx, o: &Overrides, out: &mut BytesMut) {
        let mut unknown = self.unknown.iter().peekable();
        let mut flush_unknown_below = |ty: u8, out: &mut BytesMut| {
            while let Some(u) = unknown.next_if(|u| u.type_code < ty) {
                unknown::emit(out, u);
            }
        };
        if let Some(o) = self.origin {
            origin::emit(out, o);
        }
        if let Some(p) = &self.as_path {
            as_path::emit(out, p, ctx.four_octet_as);
        }
        if let Some(nh) = o.next_hop.unwrap_or(self.next_hop) {
            next_hop::emit(out, nh);
        }
        if let Some(m) = self.med {
            med::emit(out, m);
        }
        if let Some(lp) = self.local_pref.filter(|_| !o.strip_internal) {
            local_pref::emit(out, lp);
        }
        if self.atomic_aggregate {
            atomic_aggregate::emit(out);
        }
        if let Some(a) = self.aggregator {
            aggregator::emit(out, a, ctx.four_octet_as);
        }
        flush_unknown_below(8, out);
        if !self.communities.is_empty() {
            communities::emit(out, &self.communities);
        }
        if let Some(id) = self.originator_id.filter(|_| !o.strip_internal) {
            originator_id::emit(out, id);
        }
        if !self.cluster_list.is_empty() && !o.strip_internal {
            cluster_list::emit(out, &self.cluster_list);
        }
        flush_unknown_below(16, out);
        if !self.ext_communities.is_empty() {
            ext_communities::emit(out, &self.ext_communities);
        }
        flush_unknown_below(32, out);
        if !self.large_communities.is_empty() {
            large_communities::emit(out, &self.large_communities);
        }
        flush_unknown_below(35, out);
        if let Some(asn) = self.otc.or(o.otc_if_absent) {
            otc::emit(out, asn);
        }
        flush_unknown_below(255, out);
        for u in unknown {
            unknown::emit(out, u);
        }
    }
}
