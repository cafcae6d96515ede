//! Web view of `why` (`/api/v1/why?prefix=P&neighbour=N[&exact=1]`): does neighbour N get
//! prefix P, and why (not)? A GET form, the one-line answer, and every path held with its
//! import verdict (reasons with `RS:1101:N`) and the export decision for N. The answer is
//! `why::explain`'s, the same as the JSON's.

use std::fmt::Write as _;

use serde_json::Value;

use super::page::{cell, esc, layout, link, neighbour_url, search_url, text, verdict_cell};
use crate::lg::api::{peer, Ctx};
use crate::lg::query::{parse_prefix, ApiError, Query};
use crate::lg::why;

/// The `why` form: a neighbour to choose (`selected` preselected) and a prefix. `id`
/// keeps the element ids unique when a page holds more than one form.
pub fn form(names: &[String], selected: Option<&str>, prefix: &str, id: &str) -> String {
    let mut s = format!(
        "<form method=\"get\" action=\"/api/v1/why\">\n\
         <label for=\"why-n-{id}\">Does neighbour</label>\n\
         <select id=\"why-n-{id}\" name=\"neighbour\">\n"
    );
    for n in names {
        let sel = if Some(n.as_str()) == selected {
            " selected"
        } else {
            ""
        };
        let _ = writeln!(s, "<option value=\"{0}\"{sel}>{0}</option>", esc(n));
    }
    let _ = write!(
        s,
        "</select>\n<label for=\"why-p-{id}\">get</label>\n\
         <input id=\"why-p-{id}\" name=\"prefix\" value=\"{}\" \
         placeholder=\"192.0.2.0/24\" required>\n\
         <button type=\"submit\">Why (not)?</button>\n</form>\n",
        esc(prefix)
    );
    s
}

/// The paths of an explanation, in selection order, with the decision for the client.
fn paths_table(paths: &[Value]) -> String {
    let mut s = String::from(
        "<table>\n<thead><tr><th>From</th><th>AS path</th><th>Next hop</th>\
         <th>Import</th><th>Export to this neighbour</th></tr></thead>\n<tbody>\n",
    );
    for p in paths {
        let peer = text(p, "peer");
        let export = p.get("export").cloned().unwrap_or(Value::Null);
        let selected = export.get("selected").and_then(Value::as_bool) == Some(true);
        let _ = writeln!(
            s,
            "<tr><td>{}</td>{}{}{}<td class=\"{}\"><code>{}</code> {}</td></tr>",
            link(&neighbour_url(peer), peer),
            cell(text(p, "as_path")),
            cell(text(p, "next_hop")),
            verdict_cell(p),
            if selected { "ok" } else { "bad" },
            esc(text(&export, "code")),
            esc(text(&export, "reason")),
        );
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// `/api/v1/why`: the form alone until both a neighbour and a prefix are given.
pub fn why(ctx: &Ctx, q: &Query) -> Result<String, ApiError> {
    q.allow(&["prefix", "neighbour", "neighbor", "exact"])?;
    let name = match (q.get("neighbour"), q.get("neighbor")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give \"neighbour\" or \"neighbor\", not both",
            ))
        }
        (Some(n), None) | (None, Some(n)) => n.trim(),
        (None, None) => "",
    };
    let raw = q.get("prefix").unwrap_or("").trim();
    let exact = q.flag("exact")?;
    let dir = ctx.view.directory();
    let names: Vec<String> = dir.iter().map(|p| p.config.name.clone()).collect();
    let selected = (!name.is_empty()).then_some(name);
    let mut b = form(&names, selected, raw, "w");
    if name.is_empty() || raw.is_empty() {
        b.push_str(
            "<p class=\"muted\">Choose a neighbour and give a prefix (or an address): the \
             answer lists every path held for it, what import policy said about each, and \
             why the neighbour receives the one it gets, or none.</p>\n",
        );
        return Ok(layout("Why (not)?", &b));
    }
    let prefix = parse_prefix(raw)?;
    let client = peer(&dir, name)?;
    let snap = ctx.view.snapshot();
    let v = why::explain(
        &snap,
        &dir,
        client,
        &prefix,
        exact,
        ctx.rs_asn(),
        ctx.max_results,
    );
    let gets = v.get("receives").is_some_and(|r| !r.is_null());
    let _ = writeln!(
        b,
        "<p class=\"summary{}\">{}</p>",
        if gets { "" } else { " err" },
        esc(text(&v, "summary"))
    );
    let matched = text(&v, "prefix");
    if !matched.is_empty() {
        let _ = writeln!(
            b,
            "<p>Prefix {} · neighbour {} ({}) · takes routes from: {}</p>",
            link(&search_url(matched), matched),
            link(&neighbour_url(name), name),
            esc(text(&v, "neighbour_state")),
            esc(&match v.pointer("/export_rules/accepts_from") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => "all neighbours".into(),
            })
        );
        let paths = v
            .get("paths")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = v.get("paths_total").and_then(Value::as_u64).unwrap_or(0);
        if total as usize > paths.len() {
            let _ = writeln!(
                b,
                "<p class=\"muted\">The first {} of {total} paths.</p>",
                paths.len()
            );
        }
        b.push_str(&paths_table(&paths));
        let _ = writeln!(b, "<p class=\"muted\">{}</p>", esc(text(&v, "note")));
    }
    Ok(layout(&format!("Why (not)? {name} and {prefix}"), &b))
}
