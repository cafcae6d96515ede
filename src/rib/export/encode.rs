//! What a client is sent, as bytes: the attributes it receives (the route server stays
//! transparent, RFC 7947; OTC added per RFC 9234; the server's control communities removed,
//! RPKI and blackhole tags added, the first AS prepended) packed into UPDATEs for one
//! encoding variant (4-octet AS, ADD-PATH, extended message, OTC).
//!
//! Holds no state and decides nothing about who gets what (`outcomes.rs`); used by the
//! flush (`groups.rs`) and by catch-up (`mod.rs`) alike.

use bytes::BytesMut;

use super::super::api::ExportPolicy;
use super::super::attrs::RouteAttrs;
use super::super::feed::Variant;
use super::super::path::{Path, PeerId};
use super::outcomes::{Exported, Tag};
use crate::policy::{export_attributes, has_control_communities, prepend_first_as, Policies};
use crate::wire::update::{pack_announce, pack_withdraw, PackError};
use crate::wire::{Asn, Family, MpNextHop, Nlri, Overrides, ParseCtx, PathAttributes, Prefix};

/// What changes between the attributes a peer sent and those a client receives: the route
/// server stays invisible (RFC 7947) — no AS prepended, NEXT_HOP and MED unchanged — but no
/// LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST go to external clients, and OTC is added per
/// RFC 9234 where roles are in use.
fn export_overrides(
    ra: &RouteAttrs,
    family: Family,
    tx: &ParseCtx,
    add_otc: bool,
    local_asn: Asn,
) -> Overrides {
    Overrides {
        next_hop: Some(match (family, &ra.next_hop) {
            (Family::Ipv4Unicast, MpNextHop::V4(v4)) => Some(*v4),
            _ => None,
        }),
        strip_internal: tx.ebgp,
        otc_if_absent: add_otc.then_some(local_asn),
    }
}

/// The attributes a client receives, as an owned set (what export encodes without copying).
pub fn export_attrs(
    ra: &RouteAttrs,
    family: Family,
    tx: &ParseCtx,
    add_otc: bool,
    local_asn: Asn,
) -> PathAttributes {
    let o = export_overrides(ra, family, tx, add_otc, local_asn);
    let mut a = ra.attrs.clone();
    if o.strip_internal {
        a.local_pref = None;
        a.originator_id = None;
        a.cluster_list.clear();
    }
    a.otc = a.otc.or(o.otc_if_absent);
    a.next_hop = o.next_hop.flatten();
    a
}

/// The attributes to send instead of the received ones, when they differ: control
/// communities removed, the RPKI tag and a blackhole's NO_EXPORT added, the first AS
/// prepended. `None` when the received attributes go out as they are.
fn rewritten(ra: &RouteAttrs, tag: &Tag, policies: Option<&Policies>) -> Option<PathAttributes> {
    let pol = policies?;
    let rs = pol.rs_asn();
    let tag_rpki = pol.rpki_communities();
    if !tag_rpki && !tag.blackhole && tag.prepend == 0 && !has_control_communities(&ra.attrs, rs) {
        return None;
    }
    let mut a = export_attributes(
        &ra.attrs,
        rs,
        tag_rpki.then_some(tag.rpki),
        tag_rpki.then_some(tag.aspa),
        tag.blackhole,
    );
    prepend_first_as(&mut a, tag.prepend);
    Some(a)
}

/// What `encode` wrote.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Encoded {
    /// The UPDATEs asked for.
    Sent,
    /// Nothing can be sent (what it wrote is to be dropped).
    Nothing,
    /// The announcement did not fit the variant's maximum message length even without the
    /// attributes eligible for discard: withdrawals of `nlri` were written instead
    /// (RFC 8654 §4).
    TooBig,
}

/// Appends the UPDATEs of `nlri` (announced with `export`, or withdrawn) as client
/// variant `v` needs them to `out`.
///
/// An announcement too big for the variant (a client without extended messages, RFC 8654
/// §4) is retried without the attributes RFC 7606 treats by attribute discard
/// (ATOMIC_AGGREGATE, AGGREGATOR and so AS4_AGGREGATOR); if it still does not fit, the
/// prefixes are withdrawn instead. What a client holds thus stays a function of the current
/// outcome (a withdrawal of a prefix it did not have is ignored by the receiver, as those of
/// catch-up are). Routes that fit cost nothing more.
pub(super) fn encode(
    family: Family,
    export: Option<&Exported>,
    nlri: &[Nlri],
    v: &Variant,
    local_asn: Asn,
    policies: Option<&Policies>,
    out: &mut BytesMut,
) -> Encoded {
    let Some(ex) = export else {
        return match pack_withdraw(&v.tx, family, nlri, out) {
            Ok(_) => Encoded::Sent,
            Err(_) => Encoded::Nothing,
        };
    };
    let ra = &ex.attrs;
    let o = export_overrides(ra, family, &v.tx, v.add_otc, local_asn);
    if family == Family::Ipv4Unicast && o.next_hop == Some(None) {
        tracing::warn!(%family, "route without an IPv4 next hop not exported");
        return Encoded::Nothing;
    }
    let mut enc = BytesMut::new();
    let rw = rewritten(ra, &ex.tag, policies);
    let attrs = rw.as_ref().unwrap_or(&ra.attrs);
    attrs.encode_with(&v.tx, &o, &mut enc);
    let mut packed = pack_announce(&v.tx, family, &enc, &ra.next_hop, nlri, out);
    if matches!(packed, Err(PackError::AttributesTooLong { .. }))
        && (attrs.atomic_aggregate || attrs.aggregator.is_some())
    {
        let mut lean = attrs.clone();
        lean.atomic_aggregate = false;
        lean.aggregator = None;
        enc.clear();
        lean.encode_with(&v.tx, &o, &mut enc);
        packed = pack_announce(&v.tx, family, &enc, &ra.next_hop, nlri, out);
    }
    match packed {
        Ok(_) => Encoded::Sent,
        Err(PackError::AttributesTooLong { .. }) => match pack_withdraw(&v.tx, family, nlri, out) {
            Ok(_) => Encoded::TooBig,
            Err(_) => Encoded::Nothing,
        },
        Err(e) => {
            tracing::warn!(%family, error = %e, "route not exported");
            Encoded::Nothing
        }
    }
}

/// Whether `path` of `prefix`, chosen for `client` (whose session sends with `tx`, adding OTC when
/// `add_otc`), fits the client's maximum message length as one announcement of one prefix
/// (RFC 8654 §4; the looking glass's `why`). Encodes it once, into a scratch buffer.
pub fn fits_client(
    path: &Path,
    client: PeerId,
    prefix: Prefix,
    tx: ParseCtx,
    add_otc: bool,
    policy: &ExportPolicy,
) -> bool {
    let v = Variant { tx, add_otc };
    let mut out = BytesMut::new();
    for_client(path, client, prefix, 0, &v, policy, &mut out) != Encoded::TooBig
}

/// The UPDATE that announces `path` of `prefix` to `client` with the attributes the client
/// is sent (control communities removed, tags and prepends added, OTC where roles are in
/// use), encoded with `tx` and carrying `path_id` where `tx` has ADD-PATH for the family:
/// what BMP's Adj-RIB-Out view shows (RFC 8671). False if the route could not be encoded
/// (it did not fit, or has no usable next hop), as the client would not have received it.
#[allow(clippy::too_many_arguments)]
pub fn client_update(
    path: &Path,
    client: PeerId,
    prefix: Prefix,
    path_id: u32,
    tx: ParseCtx,
    add_otc: bool,
    policy: &ExportPolicy,
    out: &mut BytesMut,
) -> bool {
    let v = Variant { tx, add_otc };
    let at = out.len();
    if for_client(path, client, prefix, path_id, &v, policy, out) != Encoded::Sent {
        out.truncate(at);
        return false;
    }
    true
}

/// One announcement of `path` of `prefix` to `client`, encoded for variant `v`.
fn for_client(
    path: &Path,
    client: PeerId,
    prefix: Prefix,
    path_id: u32,
    v: &Variant,
    policy: &ExportPolicy,
    out: &mut BytesMut,
) -> Encoded {
    let ex = Exported::of(path, path.actions.prepends(client));
    let nlri = [if v.tx.add_path_for(prefix.family()) {
        Nlri::with_path_id(prefix, path_id)
    } else {
        Nlri::new(prefix)
    }];
    encode(
        prefix.family(),
        Some(&ex),
        &nlri,
        v,
        policy.local_asn,
        policy.policies.as_deref(),
        out,
    )
}
