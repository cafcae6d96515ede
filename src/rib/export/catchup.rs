//! Catch-up: what a client that is not live (dumping its initial table or a route refresh,
//! or let go by the feed because it lagged far behind) is sent next — from its cursor in
//! the shard's change journal, or its walk of the table when the journal no longer reaches
//! back that far — each prefix in its *current* state, and where the client stands after.
//!
//! Reads the table and the journal and changes nothing: the export engine (`mod.rs`) applies
//! a step (the client's new state, encoding, queueing, attaching it to the feed).

use super::super::entry::PrefixEntry;
use super::super::journal::Sync;
use super::super::path::{Path, SelectCtx};
use super::super::table::Table;
use super::outcomes::{client_choice, client_paths, Exported};
use super::Client;
use crate::wire::{Family, FamilySet, Nlri, Prefix};

/// Prefixes a refill step handles for one client before giving others a turn.
const REFILL_CHUNK: usize = 512;

/// One catch-up step of one client.
pub(super) struct Step {
    /// Where the client stands after it.
    pub next: Sync,
    /// Families whose dump it finished.
    pub done: FamilySet,
    /// What it is sent: per family, (attributes and tag, or withdrawal) → prefixes.
    pub out: Vec<(Family, Option<Exported>, Vec<Nlri>)>,
}

/// What a catch-up step sends one client: per family, (attributes and tag, or withdrawal)
/// → prefixes.
pub(super) struct Catchup<'c> {
    client: &'c Client,
    ctx: &'c SelectCtx<'c>,
    out: Vec<(Family, Option<Exported>, Vec<Nlri>)>,
    /// Prefixes handled.
    sent: usize,
}

impl<'c> Catchup<'c> {
    /// Up to a chunk of what `client` is behind on in `table`.
    pub(super) fn step(client: &'c Client, table: &Table, ctx: &'c SelectCtx<'c>) -> Step {
        let (prefixes, journal) = (&table.prefixes, &table.journal);
        let mut done = FamilySet::EMPTY;
        let mut out = Catchup {
            client,
            ctx,
            out: Vec::new(),
            sent: 0,
        };
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
                    match prefixes.get(&prefix) {
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
                    for (scanned, (prefix, entry)) in prefixes
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
        Step {
            next,
            done,
            out: out.out,
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
