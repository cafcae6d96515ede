//! Update groups: between two flushes, the prefixes whose export changed, filed by
//! (family, attributes or withdrawal, ADD-PATH, recipients), so that clients getting the
//! same thing share one encoding; at the flush each group is encoded once per encoding
//! variant of its live recipients into the flush's feed entry.
//!
//! Decides nothing about who gets what (`outcomes.rs`, `mod.rs` file prefixes here) and
//! never holds two outcomes of one prefix: every prefix is filed once per flush.

use std::collections::HashMap;

use smallvec::SmallVec;

use super::super::feed::{EntryBuilder, Variant};
use super::super::fxhash::FxBuild;
use super::super::path::PeerId;
use super::encode::{encode, Encoded};
use super::outcomes::{Exported, Tag};
use super::Client;
use crate::policy::{ClientSet, Policies};
use crate::wire::{Asn, Family, Nlri};

/// Pending export of a batch: prefixes grouped by (family, attributes or withdrawal,
/// ADD-PATH, recipients).
#[derive(Default)]
pub(crate) struct Groups {
    /// Groups go out in no particular order, so a batch must never hold two outcomes of one
    /// prefix: every prefix is filed once per flush (`export_pending`, `reexport`).
    map: HashMap<GroupKey, Group, FxBuild>,
}

#[derive(PartialEq, Eq, Hash)]
struct GroupKey {
    family: Family,
    attrs: usize,
    tag: Tag,
    add_path: bool,
    mask: ClientSet,
}

struct Group {
    export: Option<Exported>,
    nlri: Vec<Nlri>,
}

impl Groups {
    pub fn add(
        &mut self,
        family: Family,
        export: Option<Exported>,
        add_path: bool,
        mask: ClientSet,
        nlri: Nlri,
    ) {
        let (attrs, tag) = Exported::key(export.as_ref());
        let key = GroupKey {
            family,
            attrs,
            tag,
            add_path,
            mask,
        };
        self.map
            .entry(key)
            .or_insert_with(|| Group {
                export,
                nlri: Vec::new(),
            })
            .nlri
            .push(nlri);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Encodes every group once per encoding variant of its live recipients (among
    /// `clients`) into `entry`, emptying the groups (the map keeps its allocation for the
    /// next batch). Adds to `too_big` each recipient and how many of its prefixes were
    /// withdrawn instead, their announcement being too big for it (RFC 8654 §4).
    pub fn encode_into(
        &mut self,
        clients: &[Option<Client>],
        entry: &mut EntryBuilder,
        local_asn: Asn,
        policies: Option<&Policies>,
        too_big: &mut Vec<(PeerId, u64)>,
    ) {
        for (key, group) in self.map.drain() {
            let mut variants: SmallVec<[Variant; 2]> = SmallVec::new();
            for c in key.mask.iter() {
                let Some(Some(client)) = clients.get(c.index()) else {
                    continue;
                };
                if !client.sync.is_live() {
                    continue;
                }
                let v = Variant {
                    tx: client.info.tx,
                    add_otc: client.info.add_otc,
                };
                if !variants.contains(&v) {
                    variants.push(v);
                }
            }
            for v in variants {
                let mut how = Encoded::Nothing;
                entry.part(v, key.mask.clone(), |out| {
                    how = encode(
                        key.family,
                        group.export.as_ref(),
                        &group.nlri,
                        &v,
                        local_asn,
                        policies,
                        out,
                    );
                    how != Encoded::Nothing
                });
                if how == Encoded::TooBig {
                    let n = group.nlri.len() as u64;
                    for c in key.mask.iter() {
                        let Some(Some(client)) = clients.get(c.index()) else {
                            continue;
                        };
                        if client.sync.is_live()
                            && client.info.tx == v.tx
                            && client.info.add_otc == v.add_otc
                        {
                            too_big.push((c, n));
                        }
                    }
                }
            }
        }
    }
}
