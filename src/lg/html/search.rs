//! Web view of the prefix search (`/api/v1/routes?prefix=P[&exact=1][&page=N]`): a GET form,
//! and every path held for the most specific prefix covering `P` (or exactly `P`) with its
//! import verdict and reasons, paged; then the `why` form for that prefix. One snapshot
//! lookup, as the JSON `lookup` does.

use std::fmt::Write as _;

use serde_json::Value;

use super::explain;
use super::page::{esc, layout, route_table, Columns, Pager};
use crate::lg::api::{api_route, Ctx};
use crate::lg::query::{parse_prefix, ApiError, Query};

/// The search form, filled with `prefix` and `exact`.
pub fn form(prefix: &str, exact: bool) -> String {
    format!(
        "<form method=\"get\" action=\"/api/v1/routes\">\n\
         <label for=\"search-prefix\">Prefix or address</label>\n\
         <input id=\"search-prefix\" name=\"prefix\" value=\"{}\" \
         placeholder=\"192.0.2.0/24 or 2001:db8::1\" required>\n\
         <label><input type=\"checkbox\" name=\"exact\" value=\"1\"{}> exactly this prefix</label>\n\
         <button type=\"submit\">Search</button>\n</form>\n",
        esc(prefix),
        if exact { " checked" } else { "" }
    )
}

/// The `page` link of this search.
fn url(prefix: &str, exact: bool, page: usize) -> String {
    let mut u = format!("/api/v1/routes?prefix={}", super::page::pct(prefix));
    if exact {
        u.push_str("&exact=1");
    }
    if page > 0 {
        let _ = write!(u, "&page={page}");
    }
    u
}

/// `/api/v1/routes`: the form alone without a prefix, else the form and the paths found.
pub fn search(ctx: &Ctx, q: &Query) -> Result<String, ApiError> {
    q.allow(&["prefix", "exact", "page"])?;
    let raw = q.get("prefix").unwrap_or("").trim();
    let exact = q.flag("exact")?;
    let mut b = form(raw, exact);
    if raw.is_empty() {
        b.push_str(
            "<p class=\"muted\">Give a prefix (every path of the most specific prefix \
             covering it is listed) or an address (longest match).</p>\n",
        );
        return Ok(layout("Prefix search", &b));
    }
    let prefix = parse_prefix(raw)?;
    let dir = ctx.view.directory();
    let snap = ctx.view.snapshot();
    let found = if exact {
        snap.exact(&prefix).map(|e| (prefix, e))
    } else {
        snap.longest_match_prefix(&prefix)
    };
    let Some((matched, entry)) = found else {
        let _ = writeln!(
            b,
            "<p class=\"summary err\">No path is held for {}{}.</p>",
            esc(&prefix.to_string()),
            if exact {
                ""
            } else {
                " or any prefix covering it"
            }
        );
        return Ok(layout(&format!("Prefix search: {prefix}"), &b));
    };
    let pager = Pager::from_query(q, ctx.max_results, entry.paths.len())?;
    let rs = ctx.rs_asn();
    let rows: Vec<Value> = entry
        .paths
        .iter()
        .skip(pager.offset())
        .take(pager.size)
        .map(|x| api_route(&matched, &entry, x, &dir, rs))
        .collect();
    let _ = writeln!(
        b,
        "<p class=\"summary\">{} held for {}{}.</p>",
        match entry.paths.len() {
            1 => "1 path".to_string(),
            n => format!("{n} paths"),
        },
        esc(&matched.to_string()),
        if matched == prefix {
            String::new()
        } else {
            format!(
                ", the most specific prefix covering {}",
                esc(&prefix.to_string())
            )
        }
    );
    let nav = pager.nav(|n| url(raw, exact, n));
    b.push_str(&nav);
    if !rows.is_empty() {
        b.push_str(&route_table(&rows, Columns::Peer));
        b.push_str(&nav);
    }
    let names: Vec<String> = dir.iter().map(|p| p.config.name.clone()).collect();
    b.push_str("<h2>Which neighbour gets it, and why?</h2>\n");
    b.push_str(&explain::form(&names, None, &matched.to_string(), "s"));
    Ok(layout(&format!("Prefix search: {matched}"), &b))
}
