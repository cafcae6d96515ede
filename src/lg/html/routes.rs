//! Web view of one neighbour's routes (`/api/v1/neighbours/{name}/routes/{which}`):
//! received, accepted, filtered (every reject reason in words with its `RS:1101:N`
//! community, and a count per reason) or exported (what the neighbour is sent, with a link
//! to `why` per prefix), one page of `PAGE_SIZE` rows at a time. The rows are the JSON
//! API's (`api::paths_of` and `api_route`, `model::routes_to`), read from one snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::page::{esc, layout, link, neighbour_url, route_table, routes_url, Columns, Pager};
use crate::lg::api::{api_route, paths_of, peer, Ctx, Which};
use crate::lg::model::routes_to;
use crate::lg::query::{ApiError, Query};
use crate::lg::reasons;
use crate::policy::RejectReason;
use crate::session::State;

const LISTS: [(&str, &str); 4] = [
    ("received", "Received"),
    ("accepted", "Accepted"),
    ("filtered", "Filtered"),
    ("exported", "Exported"),
];

/// Links to the four listings, the current one in bold.
fn tabs(name: &str, current: &str) -> String {
    let mut s = format!(
        "<p>{} · ",
        link(&neighbour_url(name), &format!("Neighbour {name}"))
    );
    let parts: Vec<String> = LISTS
        .iter()
        .map(|(w, label)| {
            if *w == current {
                format!("<strong>{label}</strong>")
            } else {
                link(&routes_url(name, w, 0), label)
            }
        })
        .collect();
    s.push_str(&parts.join(" · "));
    s.push_str("</p>\n");
    s
}

/// The reasons of every filtered route of the listing with how many routes show each.
fn reason_counts(all: &[RejectReason], rs_asn: u32) -> String {
    let mut n: BTreeMap<u32, (RejectReason, usize)> = BTreeMap::new();
    for r in all {
        n.entry(reasons::code(*r)).or_insert((*r, 0)).1 += 1;
    }
    if n.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<h2>Reasons</h2>\n<table>\n<thead><tr><th>Reason</th><th>Large community</th>\
         <th>Routes</th></tr></thead>\n<tbody>\n",
    );
    for (r, count) in n.values() {
        let (a, b, c) = reasons::community(*r, rs_asn);
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td><code>{a}:{b}:{c}</code></td><td class=\"n\">{count}</td></tr>",
            esc(r.name())
        );
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// `/api/v1/neighbours/{name}/routes/{received|accepted|filtered|exported}[?page=N]`.
pub fn listing(ctx: &Ctx, name: &str, which: &str, q: &Query) -> Result<String, ApiError> {
    q.allow(&["page"])?;
    let which_list = match which {
        "received" => Some(Which::Received),
        "accepted" => Some(Which::Accepted),
        "filtered" => Some(Which::Filtered),
        "exported" => None,
        _ => return Err(ApiError::not_found(format!("no listing {which:?}"))),
    };
    let dir = ctx.view.directory();
    let p = peer(&dir, name)?;
    let snap = ctx.view.snapshot();
    let rs = ctx.rs_asn();
    let mut b = tabs(name, which);
    let (rows, pager) = match which_list {
        Some(w) => {
            let all = paths_of(&snap, p.id, w);
            let pager = Pager::from_query(q, ctx.max_results, all.len())?;
            if w == Which::Filtered {
                let every: Vec<RejectReason> = all
                    .iter()
                    .flat_map(|(_, _, x)| x.verdict.rejects.iter())
                    .collect();
                b.push_str(&reason_counts(&every, rs));
            }
            let rows: Vec<Value> = all
                .iter()
                .skip(pager.offset())
                .take(pager.size)
                .map(|(pfx, e, x)| api_route(pfx, e, x, &dir, rs))
                .collect();
            (rows, pager)
        }
        None => {
            let page = Pager::from_query(q, ctx.max_results, 0)?;
            let (routes, total) = routes_to(&snap, &dir, p.id, page.offset(), page.size);
            if p.status.state() != State::Established {
                let _ = writeln!(
                    b,
                    "<p class=\"summary err\">The session is {}: these routes are what {} \
                     would be sent; nothing is sent now.</p>",
                    esc(&p.status.state().to_string()),
                    esc(name)
                );
            }
            let rows = routes
                .into_iter()
                .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
                .collect();
            (rows, Pager { total, ..page })
        }
    };
    let nav = pager.nav(|n| routes_url(name, which, n));
    b.push_str(&nav);
    if !rows.is_empty() {
        let cols = match which_list {
            None => Columns::Exported(name),
            Some(_) => Columns::Verdict,
        };
        b.push_str(&route_table(&rows, cols));
        b.push_str(&nav);
    }
    let title = LISTS
        .iter()
        .find(|(w, _)| *w == which)
        .map_or("Routes", |(_, l)| l);
    Ok(layout(&format!("{title} routes of {name}"), &b))
}
