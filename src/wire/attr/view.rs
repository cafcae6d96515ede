//! Typed, allocation-free accessors over an UPDATE's scanned attribute section.

use std::net::Ipv4Addr;

use bytes::Bytes;

use super::aggregator::{self, Aggregator};
use super::as_path::AsPathView;
use super::cluster_list::ClusterIds;
use super::communities::Communities;
use super::ext_communities::ExtCommunities;
use super::large_communities::LargeCommunities;
use super::origin::{self, Origin};
use super::scan::{frame, Seen};
use super::unknown::RawAttr;
use super::{flag, local_pref, med, next_hop, originator_id, otc, registered, spec};
use super::{AttrIndex, PathAttributes, Slot};
use crate::wire::ctx::ParseCtx;
use crate::wire::types::Asn;
use crate::wire::Span;

/// The path attributes of a decoded UPDATE. Attributes that were absent, discarded or
/// malformed read as absent.
#[derive(Copy, Clone, Debug)]
pub struct Attrs<'a> {
    whole: &'a Bytes,
    section: Span,
    index: &'a AttrIndex,
    ctx: ParseCtx,
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(
        whole: &'a Bytes,
        section: Span,
        index: &'a AttrIndex,
        ctx: ParseCtx,
    ) -> Self {
        Attrs {
            whole,
            section,
            index,
            ctx,
        }
    }

    fn value(&self, slot: Slot) -> Option<&'a [u8]> {
        self.index.get(slot).map(|s| s.get(self.whole))
    }

    /// The raw value of a known attribute (e.g. for hashing or pass-through), if usable.
    pub fn raw(&self, type_code: u8) -> Option<Bytes> {
        let s = spec(type_code)?;
        self.index.get(s.slot).map(|sp| sp.bytes(self.whole))
    }

    pub fn origin(&self) -> Option<Origin> {
        origin::read(self.value(Slot::Origin)?)
    }

    /// True when the AS4 attributes must be ignored: both AGGREGATOR and AS4_AGGREGATOR were
    /// received and AGGREGATOR names a 2-octet AS other than AS_TRANS (RFC 6793 §4.2.3: an
    /// OLD speaker aggregated the route). AGGREGATOR alone does not void AS4_PATH.
    fn as4_blocked(&self) -> bool {
        self.index.has(Slot::As4Aggregator)
            && self
                .value(Slot::Aggregator)
                .and_then(|v| aggregator::read(v, 2))
                .is_some_and(|a| a.asn != Asn::TRANS)
    }

    /// The AS path with 4-octet ASNs (merged with AS4_PATH on 2-octet sessions).
    pub fn as_path(&self) -> Option<AsPathView<'a>> {
        let v = self.value(Slot::AsPath)?;
        if self.ctx.four_octet_as {
            return Some(AsPathView::new(v, 4));
        }
        match self.value(Slot::As4Path) {
            Some(as4) if !self.as4_blocked() => Some(AsPathView::merged(v, as4)),
            _ => Some(AsPathView::new(v, 2)),
        }
    }

    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        next_hop::read(self.value(Slot::NextHop)?)
    }

    pub fn med(&self) -> Option<u32> {
        med::read(self.value(Slot::Med)?)
    }

    pub fn local_pref(&self) -> Option<u32> {
        local_pref::read(self.value(Slot::LocalPref)?)
    }

    pub fn atomic_aggregate(&self) -> bool {
        self.index.has(Slot::AtomicAggregate)
    }

    /// The aggregator with a 4-octet AS (from AS4_AGGREGATOR on 2-octet sessions when
    /// AGGREGATOR carries AS_TRANS).
    pub fn aggregator(&self) -> Option<Aggregator> {
        let agg = aggregator::read(self.value(Slot::Aggregator)?, self.ctx.asn_width())?;
        if !self.ctx.four_octet_as && agg.asn == Asn::TRANS {
            if let Some(a4) = self
                .value(Slot::As4Aggregator)
                .and_then(|v| aggregator::read(v, 4))
            {
                return Some(a4);
            }
        }
        Some(agg)
    }

    pub fn communities(&self) -> Communities<'a> {
        Communities::new(self.value(Slot::Communities).unwrap_or_default())
    }

    pub fn ext_communities(&self) -> ExtCommunities<'a> {
        ExtCommunities::new(self.value(Slot::ExtCommunities).unwrap_or_default())
    }

    pub fn large_communities(&self) -> LargeCommunities<'a> {
        LargeCommunities::new(self.value(Slot::LargeCommunities).unwrap_or_default())
    }

    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        originator_id::read(self.value(Slot::OriginatorId)?)
    }

    pub fn cluster_list(&self) -> ClusterIds<'a> {
        ClusterIds::new(self.value(Slot::ClusterList).unwrap_or_default())
    }

    pub fn otc(&self) -> Option<Asn> {
        otc::read(self.value(Slot::Otc)?)
    }

    /// Unknown optional transitive attributes, first occurrence of each type, as they are to
    /// be passed on (Partial set). The values share the message's buffer.
    pub fn unknown(&self) -> Unknown<'a> {
        Unknown {
            whole: self.whole,
            pos: self.section.start(),
            end: if self.index.has_unknown {
                self.section.end()
            } else {
                self.section.start()
            },
            seen: Seen::default(),
            forward: self.index.forward,
        }
    }

    /// Copies everything into an owned attribute set.
    pub fn to_owned(&self) -> PathAttributes {
        PathAttributes {
            origin: self.origin(),
            as_path: self.as_path().map(|p| p.to_owned()),
            next_hop: self.next_hop(),
            med: self.med(),
            local_pref: self.local_pref(),
            atomic_aggregate: self.atomic_aggregate(),
            aggregator: self.aggregator(),
            communities: self.communities().collect(),
            ext_communities: self.ext_communities().collect(),
            large_communities: self.large_communities().collect(),
            originator_id: self.originator_id(),
            cluster_list: self.cluster_list().collect(),
            otc: self.otc(),
            unknown: self.unknown().collect(),
        }
    }
}

/// Iterator over unknown optional transitive attributes.
pub struct Unknown<'a> {
    whole: &'a Bytes,
    pos: usize,
    end: usize,
    seen: Seen,
    /// The types the scan let through.
    forward: Seen,
}

impl Iterator for Unknown<'_> {
    type Item = RawAttr;

    fn next(&mut self) -> Option<RawAttr> {
        while self.pos < self.end {
            let a = frame(self.whole, self.pos, self.end).ok()?;
            self.pos = a.whole.end();
            let first = self.seen.first(a.ty);
            if first && self.forward.contains(a.ty) {
                let value = a.value.bytes(self.whole);
                return Some(if registered::checked(a.ty) {
                    // Checked types are understood well enough to keep their Partial bit.
                    RawAttr {
                        flags: flag::OPTIONAL | flag::TRANSITIVE | (a.flags & flag::PARTIAL),
                        type_code: a.ty,
                        value,
                    }
                } else {
                    RawAttr::passthrough(a.ty, value)
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::wire::{Aggregator, Asn, ParseCtx, Update};

    /// An UPDATE for 10.0.0.0/24 with `attrs`, parsed on a 2-octet eBGP session.
    fn two_octet_update(attrs: &[&[u8]]) -> Update {
        let attrs = attrs.concat();
        let mut m = vec![0xffu8; 16];
        m.extend_from_slice(&((19 + 4 + attrs.len() + 4) as u16).to_be_bytes());
        m.extend_from_slice(&[2, 0, 0]);
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&attrs);
        m.extend_from_slice(&[24, 10, 0, 0]);
        let ctx = ParseCtx {
            four_octet_as: false,
            ..ParseCtx::new()
        };
        Update::parse(Bytes::from(m), &ctx).unwrap()
    }

    // RFC 6793 §4.2.3: AS4_PATH is ignored only when AGGREGATOR (not AS_TRANS) and
    // AS4_AGGREGATOR are both received. Found by the `update` fuzz target: an AGGREGATOR
    // naming a 2-octet AS next to AS4_PATH, as peerex itself encodes it, lost the AS4_PATH.
    #[test]
    fn aggregator_voids_as4_path_only_with_as4_aggregator() {
        let origin: &[u8] = &[0x40, 1, 1, 0];
        let as_path: &[u8] = &[0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0]; // 65001 23456
        let next_hop: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];
        let agg: &[u8] = &[0xc0, 7, 6, 0, 209, 10, 0, 0, 9]; // AS 209
        let as4: &[u8] = &[0xc0, 17, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01];
        let as4_agg: &[u8] = &[0xc0, 18, 8, 0, 0, 0, 209, 10, 0, 0, 9];

        let u = two_octet_update(&[origin, as_path, next_hop, agg, as4]);
        assert!(u.issues().is_empty());
        let p = u.attrs().as_path().unwrap();
        assert_eq!(p.origin_asn(), Some(Asn(4_200_000_001)));
        assert_eq!(
            u.attrs().aggregator(),
            Some(Aggregator {
                asn: Asn(209),
                addr: [10, 0, 0, 9].into()
            })
        );

        let u = two_octet_update(&[origin, as_path, next_hop, agg, as4, as4_agg]);
        assert_eq!(u.attrs().as_path().unwrap().origin_asn(), Some(Asn::TRANS));
        assert_eq!(u.attrs().aggregator().unwrap().asn, Asn(209));
    }
}
