//! Web views of the server and its neighbours: the overview (`/`, `/api/v1/neighbours`:
//! every neighbour with its state, uptime and route counts, and the lookup forms) and one
//! neighbour's page (`/api/v1/neighbours/{name}`: its session and counters, links to its
//! routes, the `why` form for it). Counts come from the RIB counters and one
//! `TableStats` pass over the snapshot, as `/protocols` and `/metrics` compute them.

use std::fmt::Write as _;

use super::page::{duration, esc, layout, link, neighbour_url, routes_url};
use super::{explain, search};
use crate::lg::api::{peer, Ctx};
use crate::lg::model::{peer_view, PeerView};
use crate::lg::query::{ApiError, Query};
use crate::lg::stats::TableStats;
use crate::session::State;

fn state_cell(v: &PeerView) -> String {
    let class = if v.state == State::Established.to_string() {
        "ok"
    } else {
        "bad"
    };
    format!("<td class=\"{class}\">{}</td>", esc(&v.state))
}

fn count_link(name: &str, which: &str, n: u64) -> String {
    format!(
        "<td class=\"n\">{}</td>",
        link(&routes_url(name, which, 0), &n.to_string())
    )
}

/// `/` and `/api/v1/neighbours`.
pub fn overview(ctx: &Ctx, q: &Query) -> Result<String, ApiError> {
    q.allow(&[])?;
    let view = &ctx.view;
    let cfg = view.config();
    let dir = view.directory();
    let snap = view.snapshot();
    let counters = view.counters();
    let stats = TableStats::compute(&snap, &dir);
    let views: Vec<(usize, PeerView)> = dir
        .iter()
        .map(|p| (p.id.index(), peer_view(p, counters)))
        .collect();
    let up = dir
        .iter()
        .filter(|p| p.status.state() == State::Established)
        .count();
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p>Route server AS{} · router id {} · up {} · {} of {} neighbours established · \
         {} prefixes held</p>",
        cfg.server.asn.0,
        esc(&cfg.server.router_id.to_string()),
        duration(view.uptime().as_secs()),
        up,
        views.len(),
        snap.len()
    );
    b.push_str("<h2>Look up a prefix</h2>\n");
    b.push_str(&search::form("", false));
    let names: Vec<String> = views.iter().map(|(_, v)| v.name.clone()).collect();
    b.push_str(&explain::form(&names, None, "", "o"));
    b.push_str(
        "<h2>Neighbours</h2>\n<table>\n<thead><tr><th>Neighbour</th><th>Description</th>\
         <th>Address</th><th>ASN</th><th>State</th><th>Uptime</th><th>Received</th>\
         <th>Accepted</th><th>Filtered</th><th>Exported</th></tr></thead>\n<tbody>\n",
    );
    for (i, v) in &views {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>{}<td>{}</td>",
            link(&neighbour_url(&v.name), &v.name),
            esc(v.description.as_deref().unwrap_or("–")),
            esc(&v.address.to_string()),
            v.asn,
            state_cell(v),
            v.uptime_seconds.map_or("–".into(), duration),
        );
        b.push_str(&count_link(
            &v.name,
            "received",
            v.routes_accepted + v.routes_filtered,
        ));
        b.push_str(&count_link(&v.name, "accepted", v.routes_accepted));
        b.push_str(&count_link(&v.name, "filtered", v.routes_filtered));
        b.push_str(&count_link(&v.name, "exported", stats.exported_of(*i)));
        b.push_str("</tr>\n");
    }
    b.push_str("</tbody>\n</table>\n");
    collectors(view, &mut b);
    Ok(layout("Neighbours", &b))
}

/// The BMP collectors table, when there are any.
fn collectors(view: &crate::view::ServerView, b: &mut String) {
    let list = view.collectors();
    if list.is_empty() {
        return;
    }
    b.push_str(
        "<h2>BMP collectors</h2>\n<table>\n<thead><tr><th>Collector</th><th>Address</th>\
         <th>Views</th><th>State</th><th>Sessions</th><th>Messages</th><th>Resyncs</th>\
         <th>Last error</th></tr></thead>\n<tbody>\n",
    );
    for c in list.iter() {
        let views = c.config.views.names();
        let st = &c.stats;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&c.config.name),
            esc(&c.config.address.to_string()),
            esc(&views.join(", ")),
            esc(c.stats.state().name()),
            n(&st.sessions),
            n(&st.messages),
            n(&st.resyncs),
            esc(&c.stats.last_error()),
        );
    }
    b.push_str("</tbody>\n</table>\n");
}

/// `/api/v1/neighbours/{name}`.
pub fn neighbour(ctx: &Ctx, name: &str, q: &Query) -> Result<String, ApiError> {
    q.allow(&[])?;
    let dir = ctx.view.directory();
    let p = peer(&dir, name)?;
    let v = peer_view(p, ctx.view.counters());
    let snap = ctx.view.snapshot();
    let exported = TableStats::compute(&snap, &dir).exported_of(p.id.index());
    let mut b = String::new();
    b.push_str(
        "<h2>Routes</h2>\n<table>\n<thead><tr><th>Received</th><th>Accepted</th>\
                <th>Filtered</th><th>Exported</th></tr></thead>\n<tbody><tr>",
    );
    b.push_str(&count_link(
        &v.name,
        "received",
        v.routes_accepted + v.routes_filtered,
    ));
    b.push_str(&count_link(&v.name, "accepted", v.routes_accepted));
    b.push_str(&count_link(&v.name, "filtered", v.routes_filtered));
    b.push_str(&count_link(&v.name, "exported", exported));
    b.push_str("</tr></tbody>\n</table>\n");
    let names: Vec<String> = dir.iter().map(|p| p.config.name.clone()).collect();
    b.push_str(&explain::form(&names, Some(&v.name), "", "n"));
    b.push_str("<h2>Session</h2>\n<table>\n<tbody>\n");
    let row = |b: &mut String, k: &str, val: String| {
        let val = if val.is_empty() { "–".into() } else { val };
        let _ = writeln!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&val));
    };
    let opt = |x: Option<String>| x.unwrap_or_default();
    row(&mut b, "Description", opt(v.description.clone()));
    row(&mut b, "Address", v.address.to_string());
    row(&mut b, "ASN", v.asn.to_string());
    let _ = writeln!(b, "<tr><th>State</th>{}</tr>", state_cell(&v));
    row(&mut b, "Uptime", opt(v.uptime_seconds.map(duration)));
    row(&mut b, "Remote", opt(v.remote.clone()));
    row(
        &mut b,
        "Hold time",
        opt(v.hold_time.map(|h| format!("{h} s"))),
    );
    row(&mut b, "Capabilities", v.capabilities.join(", "));
    row(&mut b, "Hostname", opt(v.hostname.clone()));
    row(&mut b, "Last error", opt(v.last_error.clone()));
    row(
        &mut b,
        "Last end reason",
        opt(v.last_end_reason.map(str::to_string)),
    );
    row(
        &mut b,
        "Too big for it (RFC 8654)",
        v.routes_too_big.to_string(),
    );
    row(
        &mut b,
        "Messages in / out",
        format!("{} / {}", v.messages_in, v.messages_out),
    );
    row(
        &mut b,
        "Updates in / out",
        format!("{} / {}", v.updates_in, v.updates_out),
    );
    row(
        &mut b,
        "Prefixes announced / withdrawn",
        format!("{} / {}", v.prefixes_announced_in, v.prefixes_withdrawn_in),
    );
    row(
        &mut b,
        "Notifications in / out",
        format!("{} / {}", v.notifications_in, v.notifications_out),
    );
    row(
        &mut b,
        "Times established",
        v.established_transitions.to_string(),
    );
    b.push_str("</tbody>\n</table>\n");
    Ok(layout(&format!("Neighbour {name}"), &b))
}
