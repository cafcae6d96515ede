//! Who gets what of one prefix: per export class (clients with the same rules share one
//! computation), per client the prefix "mentions" (the sources of its paths, whose own
//! paths they must not get, and the clients its control communities name), and per
//! ADD-PATH client, computed from the prefix's ranked paths without a RIB per client.
//!
//! Pure reads of a prefix entry and of the clients: holds no state, files nothing into
//! export groups and encodes nothing (`mod.rs` and `groups.rs` do).

use std::sync::Arc;

use smallvec::SmallVec;

use super::super::attrs::RouteAttrs;
use super::super::entry::PrefixEntry;
use super::super::path::{
    behind_two_others, choose, choose_many, choose_with_sources, Path, PeerId, SelectCtx,
};
use super::{Class, Client};
use crate::policy::{AspaState, ExportRules, RpkiState};
use crate::wire::Family;

/// What the clients affected by one prefix get, before or after a change: what each is sent
/// (attributes and tag), which is all change detection needs.
pub(crate) struct Outcomes {
    /// Per export class (by index): the class's choice.
    pub classes: SmallVec<[Option<Exported>; 4]>,
    /// Per mentioned non-ADD-PATH client (with its class): its own choice, or `None` when it
    /// is its class's.
    pub clients: SmallVec<[ClientPick; 8]>,
    /// Per ADD-PATH client: its paths with their transmit ids.
    pub add_path: SmallVec<[(PeerId, AddPathPicks); 2]>,
}

/// A mentioned client, its class, and its own choice (`None`: its class's).
type ClientPick = (PeerId, usize, Option<Option<Exported>>);

/// An ADD-PATH client's paths with their transmit ids.
type AddPathPicks = SmallVec<[(u16, Exported); 4]>;

/// What, beyond the received attributes, decides the attributes a client is sent.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub(crate) struct Tag {
    pub rpki: RpkiState,
    pub blackhole: bool,
    pub aspa: AspaState,
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
                aspa: p.aspa,
                prepend,
            },
        }
    }

    /// What tells two outcomes apart: the interned attributes (by address) and the tag.
    pub fn key(e: Option<&Exported>) -> (usize, Tag) {
        e.map_or((0, Tag::default()), |e| {
            (Arc::as_ptr(&e.attrs) as usize, e.tag)
        })
    }
}

/// Whether two outcomes send the same thing.
pub(crate) fn same(a: &Option<Exported>, b: &Option<Exported>) -> bool {
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

/// The clients whose outcome for a prefix is worked out one by one: `first`, the sources of
/// `paths` (they must not get their own), and every client the paths' control communities
/// name. Each once.
pub(crate) fn mentioned<'p>(
    first: &[PeerId],
    paths: impl Iterator<Item = &'p Path>,
) -> SmallVec<[PeerId; 8]> {
    let mut out: SmallVec<[PeerId; 8]> = SmallVec::new();
    let mut add = |p: PeerId| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for &p in first {
        add(p);
    }
    for p in paths {
        add(p.peer);
        if !p.actions.is_none() {
            for c in p.actions.mentioned() {
                add(c);
            }
        }
    }
    out
}

/// The parts of the export engine that decisions read (borrowed apart from the pending
/// changes, so the table can change an entry in place between "before" and "after").
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
