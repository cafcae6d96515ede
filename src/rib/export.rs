//! The export engine of a shard.
//!
//! At a flush, for each prefix changed since the previous one, it compares the prefix's entry
//! as of that flush with its entry now (so a prefix that changed several times in between
//! goes out once) and works out which clients' choice changed — per export class
//! (clients with the same rules share one computation) plus the few clients the prefix
//! "mentions" (the sources of its paths, whose own paths they must not get), plus ADD-PATH
//! clients one by one — and files the prefix under an export group: the same attributes (or
//! a withdrawal) for the same set of clients. Then each group is encoded once per encoding
//! variant (4-octet AS, ADD-PATH, extended message, OTC) into the flush's entry of the
//! shard's feed (`feed.rs`), which every live client's session reads at its own pace.
//!
//! A client that is dumping its initial table, or that the feed let go because it lagged
//! far behind the others, is not live: it keeps a cursor into the shard's change journal
//! (`journal.rs`), and refills send it the *current* state of every prefix that changed
//! after its cursor, encoded for it when its own queue has room; once caught up it reads the
//! feed again. So a slow client only ever receives the latest state, costs a cursor whatever
//! the table's size, and never holds the shard up.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use smallvec::SmallVec;

use super::attrs::RouteAttrs;
use super::entry::PrefixEntry;
use super::feed::{EntryBuilder, Variant};
use super::journal::Sync;
use super::outq::OutItem;
use super::path::{
    behind_two_others, choose, choose_many, choose_with_sources, Path, PeerId, SelectCtx,
};
use super::shard::{mentioned, Class, Client, Pending, Shard};
use crate::policy::{
    export_attributes, has_control_communities, prepend_first_as, ClientSet, ExportRules, Policies,
    RpkiState,
};
use crate::wire::update::{pack_announce, pack_withdraw};
use crate::wire::{
    Asn, Family, FamilySet, MpNextHop, Nlri, Overrides, ParseCtx, PathAttributes, Prefix,
};

/// Prefixes a refill step handles for one client before giving others a turn.
const REFILL_CHUNK: usize = 512;

/// What the clients affected by one prefix get, before or after a change: what each is sent
/// (attributes and tag), which is all change detection needs.
pub(crate) struct Outcomes {
    /// Per export class (by index): the class's choice.
    classes: SmallVec<[Option<Exported>; 4]>,
    /// Per mentioned non-ADD-PATH client (with its class): its own choice, or `None` when it
    /// is its class's.
    clients: SmallVec<[ClientPick; 8]>,
    /// Per ADD-PATH client: its paths with their transmit ids.
    add_path: SmallVec<[(PeerId, AddPathPicks); 2]>,
}

/// A mentioned client, its class, and its own choice (`None`: its class's).
type ClientPick = (PeerId, usize, Option<Option<Exported>>);

/// An ADD-PATH client's paths with their transmit ids.
type AddPathPicks = SmallVec<[(u16, Exported); 4]>;

fn same(a: &Option<Exported>, b: &Option<Exported>) -> bool {
    Exported::key(a.as_ref()) == Exported::key(b.as_ref())
}

/// The choice of client `c` under `rules`.
pub(crate) fn client_choice<'p>(
    entry: &'p PrefixEntry,
    c: PeerId,
    rules: &ExportRules,
    ctx: &SelectCtx<'_>,
) -> Option<&'p Path> {
    choose(&entry.paths, ctx, |p| p.allowed_for(c, rules))
}

/// The paths of ADD-PATH client `c`.
pub(crate) fn client_paths<'p>(
    entry: &'p PrefixEntry,
    c: &Client,
    ctx: &SelectCtx<'_>,
) -> SmallVec<[&'p Path; 4]> {
    let me = c.info.peer;
    choose_many(&entry.paths, ctx, usize::from(c.info.add_path_max), |p| {
        p.allowed_for(me, &c.rules)
    })
}

/// Pending export of a batch: prefixes grouped by (family, attributes or withdrawal,
/// ADD-PATH, recipients).
#[derive(Default)]
pub(crate) struct Groups {
    /// Groups go out in no particular order, so a batch must never hold two outcomes of one
    /// prefix: every prefix is filed once per flush (`export_pending`, `reexport_all`).
    map: HashMap<GroupKey, Group, super::fxhash::FxBuild>,
}

#[derive(PartialEq, Eq, Hash)]
struct GroupKey {
    family: Family,
    attrs: usize,
    tag: Tag,
    add_path: bool,
    mask: ClientSet,
}

/// What, beyond the received attributes, decides the attributes a client is sent.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub(crate) struct Tag {
    pub rpki: RpkiState,
    pub blackhole: bool,
    /// Times the first AS is prepended (control communities).
    pub prepend: u8,
}

/// A path as exported: its attributes and tag.
#[derive(Clone, Debug)]
pub(crate) struct Exported {
    pub attrs: Arc<RouteAttrs>,
    pub tag: Tag,
}

impl Exported {
    /// `p` as sent to a client for which it is prepended `prepend` times.
    pub fn of(p: &Path, prepend: u8) -> Exported {
        Exported {
            attrs: p.attrs.clone(),
            tag: Tag {
                rpki: p.rpki,
                blackhole: p.blackhole,
                prepend,
            },
        }
    }

    fn key(e: Option<&Exported>) -> (usize, Tag) {
        e.map_or((0, Tag::default()), |e| {
            (Arc::as_ptr(&e.attrs) as usize, e.tag)
        })
    }
}

struct Group {
    export: Option<Exported>,
    nlri: Vec<Nlri>,
}

impl Groups {
    fn add(
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
}

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
    let mut a = export_attributes(&ra.attrs, rs, tag_rpki.then_some(tag.rpki), tag.blackhole);
    prepend_first_as(&mut a, tag.prepend);
    Some(a)
}

/// Appends the UPDATEs of `nlri` (announced with `export`, or withdrawn) as client
/// variant `v` needs them to `out`; false when nothing can be sent (what it wrote is then
/// to be dropped).
fn encode(
    family: Family,
    export: Option<&Exported>,
    nlri: &[Nlri],
    v: &Variant,
    local_asn: Asn,
    policies: Option<&Policies>,
    out: &mut BytesMut,
) -> bool {
    match export {
        None => {
            if pack_withdraw(&v.tx, family, nlri, out).is_err() {
                return false;
            }
        }
        Some(ex) => {
            let ra = &ex.attrs;
            let o = export_overrides(ra, family, &v.tx, v.add_otc, local_asn);
            if family == Family::Ipv4Unicast && o.next_hop == Some(None) {
                tracing::warn!(%family, "route without an IPv4 next hop not exported");
                return false;
            }
            let mut enc = BytesMut::new();
            match rewritten(ra, &ex.tag, policies) {
                Some(a) => a.encode_with(&v.tx, &o, &mut enc),
                None => ra.attrs.encode_with(&v.tx, &o, &mut enc),
            }
            if let Err(e) = pack_announce(&v.tx, family, &enc, &ra.next_hop, nlri, out) {
                tracing::warn!(%family, error = %e, "route not exported");
                return false;
            }
        }
    }
    true
}

/// The parts of a shard export decisions read (borrowed apart from the table so a prefix
/// entry can be changed in place between the "before" and "after" computations).
pub(crate) struct ExportView<'a> {
    pub classes: &'a [Class],
    pub clients: &'a [Option<Client>],
    /// ADD-PATH clients of the family.
    pub add_path: &'a [PeerId],
}

impl ExportView<'_> {
    /// Whether replacing `old` (the current path of `peer` being changed, if any) with `new`
    /// (if any) can change no client's choice: each of them, where some class takes it, sits
    /// behind the paths of two other peers in the first tier's terms, so no client compares
    /// it. Not decided (false) with ADD-PATH clients (they may take more than the best) or
    /// control communities (they single clients out).
    pub(crate) fn unseen(
        &self,
        family: Family,
        entry: &PrefixEntry,
        peer: PeerId,
        old: Option<&Path>,
        new: Option<&Path>,
        ctx: &SelectCtx<'_>,
    ) -> bool {
        if !self.add_path.is_empty()
            || new.is_some_and(|p| !p.actions.is_none())
            || entry.paths.iter().any(|p| !p.actions.is_none())
        {
            return false;
        }
        old.into_iter().chain(new).all(|c| {
            !c.accepted()
                || self
                    .classes
                    .iter()
                    .filter(|class| *class.active.get(family))
                    .filter(|class| c.allowed_for_class(&class.rules))
                    .all(|class| {
                        behind_two_others(&entry.paths, ctx, peer, c, |p| {
                            p.allowed_for_class(&class.rules)
                        })
                    })
        })
    }

    pub(crate) fn outcomes(
        &self,
        family: Family,
        entry: &PrefixEntry,
        mentioned: &[PeerId],
        ctx: &SelectCtx<'_>,
    ) -> Outcomes {
        // Per class: its choice, and the sources of the paths that choice compared.
        let mut tiers: SmallVec<[SmallVec<[PeerId; 4]>; 4]> = SmallVec::new();
        let classes: SmallVec<[Option<Exported>; 4]> = self
            .classes
            .iter()
            .map(|class: &Class| {
                if !*class.active.get(family) {
                    tiers.push(SmallVec::new());
                    None
                } else {
                    let (best, sources) = choose_with_sources(&entry.paths, ctx, |p| {
                        p.allowed_for_class(&class.rules)
                    });
                    tiers.push(sources);
                    best.map(|p| Exported::of(p, p.actions.default_prepends()))
                }
            })
            .collect();
        // Clients named by the paths' control communities are treated apart from their class.
        let mut named: SmallVec<[PeerId; 4]> = SmallVec::new();
        for p in entry.paths.iter().filter(|p| !p.actions.is_none()) {
            named.extend(p.actions.mentioned());
        }
        let mut clients = SmallVec::new();
        for &m in mentioned {
            let Some(Some(c)) = self.clients.get(m.index()) else {
                continue;
            };
            if !c.info.families.contains(family) || c.add_path(family) {
                continue;
            }
            // A client mentioned only as a source, none of whose paths its class compared,
            // gets its class's choice: no need to choose again.
            let shared = !named.contains(&m) && tiers.get(c.class).is_some_and(|t| !t.contains(&m));
            let own = (!shared).then(|| {
                client_choice(entry, m, &c.rules, ctx)
                    .map(|p| Exported::of(p, p.actions.prepends(m)))
            });
            clients.push((m, c.class, own));
        }
        let mut add_path = SmallVec::new();
        for p in self.add_path {
            if let Some(Some(c)) = self.clients.get(p.index()) {
                let paths = client_paths(entry, c, ctx)
                    .into_iter()
                    .map(|q| (q.tx_id, Exported::of(q, q.actions.prepends(*p))))
                    .collect();
                add_path.push((*p, paths));
            }
        }
        Outcomes {
            classes,
            clients,
            add_path,
        }
    }
}

impl Shard {
    /// Files what changed for `prefix` between `before` and `after` into export groups.
    pub(crate) fn export_change(
        &mut self,
        family: Family,
        prefix: Prefix,
        before: Outcomes,
        after: Outcomes,
    ) {
        // Called once per prefix per flush (`export_pending`), so groups never hold two
        // outcomes of one prefix.
        // Clients that now get the same thing share one group (and one encoding).
        let mut merged: SmallVec<[(Option<Exported>, ClientSet); 4]> = SmallVec::new();
        let mut put = |ex: &Option<Exported>, mask: ClientSet| {
            let k = Exported::key(ex.as_ref());
            match merged
                .iter_mut()
                .find(|(e, _)| Exported::key(e.as_ref()) == k)
            {
                Some((_, m)) => *m = m.union(&mask),
                None => merged.push((ex.clone(), mask)),
            }
        };
        // Mentioned clients whose choice is their class's, before and after, go with the
        // class; the others are worked out one by one.
        let mut apart = ClientSet::new();
        let none: Option<Exported> = None;
        for ((c, class, b), (_, _, a)) in before.clients.iter().zip(after.clients.iter()) {
            if b.is_none() && a.is_none() {
                continue;
            }
            apart.insert(*c);
            let b = b
                .as_ref()
                .unwrap_or_else(|| before.classes.get(*class).unwrap_or(&none));
            let a = a
                .as_ref()
                .unwrap_or_else(|| after.classes.get(*class).unwrap_or(&none));
            if !same(b, a) {
                put(a, std::iter::once(*c).collect());
            }
        }
        for (i, (b, a)) in before.classes.iter().zip(after.classes.iter()).enumerate() {
            if same(b, a) {
                continue;
            }
            let Some(class) = self.classes.get(i) else {
                continue;
            };
            let mask = class.members.get(family).difference(&apart);
            if !mask.is_empty() {
                put(a, mask);
            }
        }
        for (ex, mask) in merged {
            self.groups.add(family, ex, false, mask, Nlri::new(prefix));
        }
        for ((c, bl), (_, al)) in before.add_path.iter().zip(after.add_path.iter()) {
            let mask: ClientSet = std::iter::once(*c).collect();
            for (id, ex) in al {
                let key = Exported::key(Some(ex));
                if !bl
                    .iter()
                    .any(|(i, q)| i == id && Exported::key(Some(q)) == key)
                {
                    let n = Nlri::with_path_id(prefix, u32::from(*id));
                    self.groups
                        .add(family, Some(ex.clone()), true, mask.clone(), n);
                }
            }
            for (id, _) in bl {
                if !al.iter().any(|(i, _)| i == id) {
                    let n = Nlri::with_path_id(prefix, u32::from(*id));
                    self.groups.add(family, None, true, mask.clone(), n);
                }
            }
        }
    }

    /// Encodes every pending group once per encoding variant of its live clients into one
    /// feed entry, which their sessions read (`feed.rs`); then lets go the clients that lag
    /// too far behind in the feed (they catch up from the journal).
    pub(crate) fn flush(&mut self) {
        self.export_pending();
        let local_asn = self.policy.local_asn;
        let policies = self.policy.policies.clone();
        let mut entry = EntryBuilder::new(self.journal.flushed());
        let mut groups = std::mem::take(&mut self.groups.map);
        for (key, group) in groups.drain() {
            let mut variants: SmallVec<[Variant; 2]> = SmallVec::new();
            for c in key.mask.iter() {
                let Some(Some(client)) = self.clients.get(c.index()) else {
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
                entry.part(v, key.mask.clone(), |out| {
                    encode(
                        key.family,
                        group.export.as_ref(),
                        &group.nlri,
                        &v,
                        local_asn,
                        policies.as_deref(),
                        out,
                    )
                });
            }
        }
        // Keep the map's allocation for the next batch.
        self.groups.map = groups;
        if !entry.is_empty() {
            self.feed.append(entry);
            for c in self.clients.iter().flatten().filter(|c| c.sync.is_live()) {
                c.info.queue.wake();
            }
        }
        self.settle_feed();
        let floor = self.feed.floor();
        self.journal
            .flushed_now(self.clients.iter().flatten().map(|c| &c.sync), floor);
        // Clients that caught up while changes were pending go on from here.
        for p in std::mem::take(&mut self.parked) {
            if !self.refill.contains(&p) {
                self.refill.push_back(p);
            }
        }
    }

    /// Files what the prefixes changed since the last flush mean for the clients into
    /// groups: per prefix, the outcomes of its entry as of the last flush against those of
    /// its entry now.
    fn export_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.coalescing = self.repeats * super::shard::REPEATS_WORTH >= self.pending.len();
        self.repeats = 0;
        let mut pending = std::mem::take(&mut self.pending);
        let (always, addrs) = self.select_ctx();
        let ctx = SelectCtx {
            always_compare_med: always,
            peer_addrs: &addrs,
        };
        let empty = PrefixEntry::default();
        for (
            prefix,
            Pending {
                then: old,
                now: new,
            },
        ) in pending.drain()
        {
            match (&old, &new) {
                (None, None) => continue,
                (Some(a), Some(b)) if Arc::ptr_eq(a, b) => continue,
                _ => {}
            }
            let family = prefix.family();
            let (o, n) = (
                old.as_deref().unwrap_or(&empty),
                new.as_deref().unwrap_or(&empty),
            );
            let view = ExportView {
                classes: &self.classes,
                clients: &self.clients,
                add_path: self.add_path_clients.get(family),
            };
            let mentioned = mentioned(&[], o.paths.iter().chain(n.paths.iter()));
            let before = view.outcomes(family, o, &mentioned, &ctx);
            let after = view.outcomes(family, n, &mentioned, &ctx);
            self.export_change(family, prefix, before, after);
        }
        // Keep the map's allocation for the next batch.
        self.pending = pending;
    }

    /// One step of refilling the first client waiting for it (from its journal cursor, or a
    /// step of its table walk). Returns whether there was anything to do.
    pub(crate) fn refill_step(&mut self) -> bool {
        let Some(peer) = self.refill.pop_front() else {
            return false;
        };
        let Some(Some(client)) = self.clients.get(peer.index()) else {
            return true;
        };
        if client.info.queue.is_closed() {
            return true;
        }
        if client.info.queue.is_behind() {
            // The queue's own refill signal brings it back.
            return true;
        }
        let more = self.refill_client(peer);
        if more {
            self.refill.push_back(peer);
        }
        true
    }

    /// Sends the client up to a chunk of what it is behind on (from the journal, or walking
    /// the table), each prefix in its current state; returns whether more is left (and the
    /// queue still has room).
    fn refill_client(&mut self, peer: PeerId) -> bool {
        let (always, addrs) = self.select_ctx();
        let ctx = SelectCtx {
            always_compare_med: always,
            peer_addrs: &addrs,
        };
        let local_asn = self.policy.local_asn;
        let policies = self.policy.policies.clone();
        let index = self.index;
        let Shard {
            table,
            clients,
            journal,
            pending,
            parked,
            feed,
            ..
        } = self;
        let Some(Some(client)) = clients.get_mut(peer.index()) else {
            return false;
        };
        let mut done = FamilySet::EMPTY;
        let mut out = Catchup::new(client, &ctx);
        let next = match client.sync {
            Sync::Live => Sync::Live,
            Sync::Journal { cursor } if !journal.covers(cursor) => Sync::Walk {
                since: cursor,
                full: FamilySet::EMPTY,
                after: None,
                tombs: false,
                start: journal.head(),
            },
            Sync::Journal { cursor } => {
                let head = journal.head();
                let mut at = cursor;
                let mut scanned = 0;
                while at < head && out.sent < REFILL_CHUNK && scanned < 8 * REFILL_CHUNK {
                    at += 1;
                    scanned += 1;
                    let Some(prefix) = journal.at(at) else {
                        continue;
                    };
                    // Only the prefix's last change is sent: an earlier one was superseded.
                    match table.get(&prefix) {
                        Some(e) if e.changed <= at => out.state(prefix, Some(e), e.tx_hwm, true),
                        Some(_) => {}
                        None => match journal.tomb(&prefix) {
                            Some(t) if t.seq > at => {}
                            t => out.state(prefix, None, t.map_or(0, |t| t.tx_hwm), true),
                        },
                    }
                }
                if at >= head {
                    Sync::Live
                } else {
                    Sync::Journal { cursor: at }
                }
            }
            Sync::Walk {
                since,
                full,
                mut after,
                mut tombs,
                start,
            } => {
                let mut finished = true;
                if !tombs {
                    let from = match after {
                        Some(a) => std::ops::Bound::Excluded(a),
                        None => std::ops::Bound::Unbounded,
                    };
                    for (scanned, (prefix, entry)) in table
                        .range::<_, Prefix>((from, std::ops::Bound::Unbounded))
                        .enumerate()
                    {
                        if out.sent >= REFILL_CHUNK || scanned >= 8 * REFILL_CHUNK {
                            finished = false;
                            break;
                        }
                        after = Some(*prefix);
                        // Changed since the walk began: the pass after it sends it (once).
                        if entry.changed > start {
                            continue;
                        }
                        let changed = entry.changed > since;
                        if changed || full.contains(prefix.family()) {
                            out.state(*prefix, Some(entry), entry.tx_hwm, changed);
                        }
                    }
                    if finished {
                        tombs = true;
                        after = None;
                    }
                }
                if finished {
                    for (prefix, t) in journal.tombs_after(after) {
                        if out.sent >= REFILL_CHUNK {
                            finished = false;
                            break;
                        }
                        after = Some(*prefix);
                        if t.seq > since && t.seq <= start {
                            out.state(*prefix, None, t.tx_hwm, true);
                        }
                    }
                }
                if !finished {
                    Sync::Walk {
                        since,
                        full,
                        after,
                        tombs,
                        start,
                    }
                } else {
                    done = full;
                    if !journal.covers(start) {
                        Sync::Walk {
                            since: start,
                            full: FamilySet::EMPTY,
                            after: None,
                            tombs: false,
                            start: journal.head(),
                        }
                    } else if start >= journal.head() {
                        Sync::Live
                    } else {
                        Sync::Journal { cursor: start }
                    }
                }
            }
        };
        // A client goes live only when nothing is pending: the next flush compares each
        // pending prefix with its state at the previous flush, which a client that caught up
        // since may not hold. It waits for that flush.
        let parked_now = !client.sync.is_live() && next.is_live() && !pending.is_empty();
        let next = if parked_now {
            parked.push(peer);
            Sync::Journal {
                cursor: journal.head(),
            }
        } else {
            next
        };
        let batches = out.out;
        let attach = next.is_live() && !client.sync.is_live();
        client.sync = next;
        client.done = client.done.union(done);
        let variant = Variant {
            tx: client.info.tx,
            add_otc: client.info.add_otc,
        };
        // Queue the whole step, even past the high mark: a prefix's paths may need several
        // messages, and refusing some would resend them all next time without progress.
        let mut buf = BytesMut::new();
        for (family, ex, nlri) in batches {
            let at = buf.len();
            if !encode(
                family,
                ex.as_ref(),
                &nlri,
                &variant,
                local_asn,
                policies.as_deref(),
                &mut buf,
            ) {
                buf.truncate(at);
            }
        }
        if !buf.is_empty() {
            client.info.queue.push_forced(buf.freeze());
        }
        if attach {
            // Caught up: from the next flush on it reads the feed, after what is queued.
            let epoch = feed.register(peer, variant);
            client.info.queue.push_marker(OutItem::Attach {
                shard: index,
                epoch,
            });
        }
        if client.sync.is_live() && !client.done.is_empty() {
            let families = std::mem::take(&mut client.done);
            client.info.queue.push_marker(OutItem::DumpDone {
                shard: index,
                families,
            });
        }
        !client.sync.is_live() && !client.info.queue.is_behind() && !parked_now
    }

    /// After an export policy change: for every client whose rules changed, compare what it
    /// received under the old rules with what it gets now, prefix by prefix.
    pub(crate) fn reexport_all(
        &mut self,
        _old_classes: Vec<Class>,
        old_rules: Vec<Option<ExportRules>>,
    ) {
        let (always, addrs) = self.select_ctx();
        let ctx = SelectCtx {
            always_compare_med: always,
            peer_addrs: &addrs,
        };
        let changed: Vec<(PeerId, ExportRules)> = self
            .clients
            .iter()
            .flatten()
            .filter_map(|c| {
                let old = old_rules.get(c.info.peer.index()).cloned().flatten()?;
                let same_rules = old.rejects_blackholes == c.rules.rejects_blackholes
                    && match (&old.accepts_from, &c.rules.accepts_from) {
                        (None, None) => true,
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    };
                (!same_rules).then(|| (c.info.peer, old))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        // A client that is behind cannot be told what changed between the two rules (what it
        // holds is not known): it is sent every prefix's state again, withdrawals included.
        let head = self.journal.head();
        for (peer, _) in &changed {
            if let Some(Some(c)) = self.clients.get_mut(peer.index()) {
                if !c.sync.is_live() {
                    c.sync = Sync::Walk {
                        since: 0,
                        full: FamilySet::EMPTY,
                        after: None,
                        tombs: false,
                        start: head,
                    };
                    if !self.refill.contains(peer) {
                        self.refill.push_back(*peer);
                    }
                }
            }
        }
        let mut refiled: Vec<Prefix> = Vec::new();
        for (prefix, entry) in self.table.iter() {
            let family = prefix.family();
            let mut filed = false;
            for (peer, old) in &changed {
                let Some(Some(c)) = self.clients.get(peer.index()) else {
                    continue;
                };
                if !c.info.families.contains(family) {
                    continue;
                }
                let mask: ClientSet = std::iter::once(*peer).collect();
                if c.add_path(family) {
                    let me = *peer;
                    let max = usize::from(c.info.add_path_max);
                    let before = choose_many(&entry.paths, &ctx, max, |p| p.allowed_for(me, old));
                    let after = client_paths(entry, c, &ctx);
                    for p in &after {
                        if !before.iter().any(|q| q.tx_id == p.tx_id) {
                            let n = Nlri::with_path_id(*prefix, u32::from(p.tx_id));
                            let ex = Exported::of(p, p.actions.prepends(me));
                            self.groups.add(family, Some(ex), true, mask.clone(), n);
                            filed = true;
                        }
                    }
                    for q in &before {
                        if !after.iter().any(|p| p.tx_id == q.tx_id) {
                            let n = Nlri::with_path_id(*prefix, u32::from(q.tx_id));
                            self.groups.add(family, None, true, mask.clone(), n);
                            filed = true;
                        }
                    }
                } else {
                    let pick = |rules: &ExportRules| {
                        client_choice(entry, *peer, rules, &ctx)
                            .map(|p| Exported::of(p, p.actions.prepends(*peer)))
                    };
                    let (b, a) = (pick(old), pick(&c.rules));
                    if !same(&b, &a) {
                        self.groups.add(family, a, false, mask, Nlri::new(*prefix));
                        filed = true;
                    }
                }
            }
            if filed {
                refiled.push(*prefix);
            }
        }
        // A change like any other: a client refused in the flush, or one that falls off the
        // journal and walks the table, is sent these prefixes in their current state.
        for prefix in refiled {
            let seq = self.journal.record(prefix);
            if let Some(e) = self.table.get_mut(&prefix) {
                Arc::make_mut(e).changed = seq;
            }
        }
    }
}

/// What a catch-up step sends one client: per family, (attributes and tag, or withdrawal)
/// → prefixes.
struct Catchup<'c> {
    client: &'c Client,
    ctx: &'c SelectCtx<'c>,
    out: Vec<(Family, Option<Exported>, Vec<Nlri>)>,
    /// Prefixes handled.
    sent: usize,
}

impl<'c> Catchup<'c> {
    fn new(client: &'c Client, ctx: &'c SelectCtx<'c>) -> Self {
        Catchup {
            client,
            ctx,
            out: Vec::new(),
            sent: 0,
        }
    }

    fn add(&mut self, family: Family, p: Option<&Path>, n: Nlri) {
        let peer = self.client.info.peer;
        let ex = p.map(|p| Exported::of(p, p.actions.prepends(peer)));
        let key = Exported::key(ex.as_ref());
        match self
            .out
            .iter_mut()
            .find(|(f, e, _)| *f == family && Exported::key(e.as_ref()) == key)
        {
            Some((_, _, list)) => list.push(n),
            None => self.out.push((family, ex, vec![n])),
        }
    }

    /// The client's current state of `prefix` (`entry`, or none when it is not in the
    /// table). `changed`: the client may hold something else for it, so what it no longer
    /// gets is withdrawn (ADD-PATH: every transmit id up to `tx_hwm` not in use for it).
    fn state(&mut self, prefix: Prefix, entry: Option<&PrefixEntry>, tx_hwm: u16, changed: bool) {
        let family = prefix.family();
        let c = self.client;
        if !c.info.families.contains(family) {
            return;
        }
        self.sent += 1;
        if c.add_path(family) {
            let paths = entry
                .map(|e| client_paths(e, c, self.ctx))
                .unwrap_or_default();
            if changed {
                for id in 1..=tx_hwm {
                    if !paths.iter().any(|p| p.tx_id == id) {
                        self.add(family, None, Nlri::with_path_id(prefix, u32::from(id)));
                    }
                }
            }
            for p in paths {
                let n = Nlri::with_path_id(prefix, u32::from(p.tx_id));
                self.add(family, Some(p), n);
            }
        } else {
            let choice = entry.and_then(|e| client_choice(e, c.info.peer, &c.rules, self.ctx));
            if choice.is_some() || changed {
                self.add(family, choice, Nlri::new(prefix));
            }
        }
    }
}
