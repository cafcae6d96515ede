//! The web looking glass's page frame and the pieces every view shares: HTML escaping, URL
//! building (percent-encoding, the links between views), the page layout with its inline
//! style sheet, paging (fixed page size, previous/next links) and the route table. No view
//! logic lives here, and nothing here reads the server.
//!
//! Pages load nothing from elsewhere: no scripts, no fonts, no images, the style sheet is
//! inline (and the response's `Content-Security-Policy` forbids anything else, see
//! `http.rs`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::lg::query::{ApiError, Query};

/// Rows per page of a route table (or `max_results`, when that is smaller).
pub const PAGE_SIZE: usize = 100;

/// Escapes text for HTML element content and for quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value: everything but RFC 3986 unreserved
/// characters.
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `<a href="href">text</a>`, both escaped (`href` is a URL built by the functions below).
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), esc(text))
}

/// The neighbour page.
pub fn neighbour_url(name: &str) -> String {
    format!("/api/v1/neighbours/{}", pct(name))
}

/// A neighbour's route listing (`received`, `accepted`, `filtered`, `exported`), page `page`.
pub fn routes_url(name: &str, which: &str, page: usize) -> String {
    let base = format!("{}/routes/{which}", neighbour_url(name));
    if page == 0 {
        base
    } else {
        format!("{base}?page={page}")
    }
}

/// The prefix search for exactly `prefix`.
pub fn search_url(prefix: &str) -> String {
    format!("/api/v1/routes?prefix={}&exact=1", pct(prefix))
}

/// The `why` page for `prefix` and client `name`.
pub fn why_url(prefix: &str, name: &str) -> String {
    format!(
        "/api/v1/why?prefix={}&neighbour={}&exact=1",
        pct(prefix),
        pct(name)
    )
}

/// A duration in words: `3d 4h`, `2h 5m`, `5m 7s`, `42s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

const STYLE: &str = "\
body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#1f3a5f;color:#fff;padding:.6em 1.2em}\
header a{color:#fff;text-decoration:none;margin-right:1.2em}\
header .brand{font-weight:bold}\
main{padding:1em 1.2em}\
h1{font-size:1.35em;margin:.2em 0 .6em}\
h2{font-size:1.1em;margin:1.2em 0 .4em}\
table{border-collapse:collapse;background:#fff;margin:.4em 0;font-size:.92em}\
th,td{border:1px solid #d0d5dc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#e8ecf1}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
code{font:.92em ui-monospace,monospace}\
.ok{color:#116329}.bad{color:#a40e26}.muted{color:#59636e}\
.reason{display:block;white-space:nowrap}\
.pager{margin:.6em 0}.pager a,.pager span{margin-right:1em}\
form{background:#fff;border:1px solid #d0d5dc;padding:.6em;display:inline-block;margin:.3em 1em .3em 0}\
input,select,button{font:inherit}\
.summary{font-size:1.1em;padding:.5em .8em;background:#fff;border-left:4px solid #1f3a5f}\
.err{border-left-color:#a40e26}\
footer{padding:1em 1.2em;color:#59636e;font-size:.85em}";

/// A whole page: `title` (text), `body` (HTML).
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t} · peerex looking glass</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><nav><a class=\"brand\" href=\"/\">peerex looking glass</a>\
         <a href=\"/api/v1/neighbours\">Neighbours</a>\
         <a href=\"/api/v1/routes\">Prefix search</a>\
         <a href=\"/api/v1/why\">Why (not)?</a></nav></header>\n\
         <main>\n<h1>{t}</h1>\n{body}</main>\n\
         <footer>peerex {v} · read from RIB snapshots, up to 0.1 s old · \
         the same URLs answer JSON to clients that do not ask for HTML</footer>\n\
         </body>\n</html>\n",
        t = esc(title),
        v = env!("CARGO_PKG_VERSION"),
    )
}

/// An error as a page (the status stays the error's).
pub fn error_page(e: &ApiError) -> String {
    let title = match e.status {
        404 => "Not found",
        400 => "Bad request",
        503 => "Busy",
        _ => "Error",
    };
    layout(
        title,
        &format!(
            "<p class=\"summary err\">{}</p>\n<p><a href=\"/\">Back to the overview</a></p>\n",
            esc(&e.message)
        ),
    )
}

/// One page of a listing: page number (from 0), rows per page and the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pager {
    pub page: usize,
    pub size: usize,
    pub total: usize,
}

impl Pager {
    /// Page size `min(PAGE_SIZE, max_results)`; `page` from the query (counted from 0, as
    /// in the JSON API).
    pub fn from_query(q: &Query, max_results: usize, total: usize) -> Result<Pager, ApiError> {
        let page = q.usize("page")?.unwrap_or(0);
        let size = PAGE_SIZE.min(max_results).max(1);
        if page.checked_mul(size).is_none() {
            return Err(ApiError::bad_request("parameter \"page\" is too large"));
        }
        Ok(Pager { page, size, total })
    }

    /// Index of the first row shown.
    pub fn offset(&self) -> usize {
        self.page.saturating_mul(self.size)
    }

    /// Number of pages (at least 1, so an empty listing has a page 1 of 1).
    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.size.max(1)).max(1)
    }

    pub fn prev(&self) -> Option<usize> {
        (self.page > 0).then(|| (self.page - 1).min(self.pages() - 1))
    }

    pub fn next(&self) -> Option<usize> {
        (self.page + 1 < self.pages()).then_some(self.page + 1)
    }

    /// "rows 101–200 of 250, page 2 of 3" and previous/next links (`url(page)`).
    pub fn nav(&self, url: impl Fn(usize) -> String) -> String {
        let mut s = String::from("<p class=\"pager\">");
        let first = self.offset().min(self.total);
        let last = (first + self.size).min(self.total);
        if self.total == 0 {
            s.push_str("<span>nothing to list</span>");
        } else if first >= self.total {
            let _ = write!(
                s,
                "<span>page {} is past the end ({} rows)</span>",
                self.page + 1,
                self.total
            );
        } else {
            let _ = write!(
                s,
                "<span>rows {}–{} of {}, page {} of {}</span>",
                first + 1,
                last,
                self.total,
                self.page + 1,
                self.pages()
            );
        }
        if let Some(p) = self.prev() {
            if p > 0 {
                s.push_str(&link(&url(0), "« first"));
            }
            s.push_str(&link(&url(p), "‹ previous"));
        }
        if let Some(n) = self.next() {
            s.push_str(&link(&url(n), "next ›"));
            if n + 1 < self.pages() {
                s.push_str(&link(&url(self.pages() - 1), "last »"));
            }
        }
        s.push_str("</p>\n");
        s
    }
}

pub(super) fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A cell with `s`, or a dash when it is empty (tidy flags empty cells, readers too).
pub(super) fn cell(s: &str) -> String {
    if s.is_empty() {
        "<td class=\"muted\">–</td>".into()
    } else {
        format!("<td>{}</td>", esc(s))
    }
}

fn list(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(esc)
                .collect::<Vec<_>>()
                .join("<br>")
        })
        .unwrap_or_default()
}

/// The reasons of a rejected route, each in words with its `RS:1101:N` community.
pub fn reasons(route: &Value) -> String {
    let rs = route
        .get("reject_reasons")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if rs.is_empty() {
        return String::new();
    }
    rs.iter()
        .map(|r| {
            format!(
                "<span class=\"reason\">{} <code>{}</code></span>",
                esc(text(r, "text")),
                esc(text(r, "community"))
            )
        })
        .collect()
}

/// Which columns a route table shows besides the route itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns<'a> {
    /// The announcing neighbour (link) and the import verdict (a prefix's paths).
    Peer,
    /// The import verdict only (one neighbour's routes).
    Verdict,
    /// What a client receives: the source neighbour and a link to `why` for this client.
    Exported(&'a str),
}

/// A table of route objects as the JSON API gives them (`api_route`, `RouteView`).
pub fn route_table(routes: &[Value], cols: Columns<'_>) -> String {
    let mut s = String::from("<table>\n<thead><tr><th>Prefix</th>");
    if cols != Columns::Verdict {
        s.push_str("<th>From</th>");
    }
    s.push_str(
        "<th>AS path</th><th>Next hop</th><th>Origin</th><th>MED</th><th>Local pref</th>\
         <th>Communities</th><th>Large communities</th><th>RPKI</th><th>ASPA</th>",
    );
    match cols {
        Columns::Exported(_) => s.push_str("<th>Why</th>"),
        _ => s.push_str("<th>Import</th>"),
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in routes {
        let prefix = text(r, "prefix");
        let _ = write!(s, "<tr><td>{}</td>", link(&search_url(prefix), prefix));
        if cols != Columns::Verdict {
            let peer = text(r, "peer");
            let _ = write!(s, "<td>{}</td>", link(&neighbour_url(peer), peer));
        }
        s.push_str(&cell(text(r, "as_path")));
        s.push_str(&cell(text(r, "next_hop")));
        s.push_str(&cell(text(r, "origin")));
        let med = r.get("med").and_then(Value::as_u64).map(|m| m.to_string());
        s.push_str(&cell(med.as_deref().unwrap_or("")));
        let lp = r.get("local_pref").and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(s, "<td class=\"n\">{lp}</td>");
        for k in ["communities", "large_communities"] {
            let l = list(r, k);
            if l.is_empty() {
                s.push_str(&cell(""));
            } else {
                let _ = write!(s, "<td><code>{l}</code></td>");
            }
        }
        s.push_str(&cell(text(r, "rpki")));
        s.push_str(&cell(text(r, "aspa")));
        match cols {
            Columns::Exported(client) => {
                let _ = write!(s, "<td>{}</td>", link(&why_url(prefix, client), "why"));
            }
            _ => s.push_str(&verdict_cell(r)),
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// "accepted, rank N" or "filtered" with every reason.
pub fn verdict_cell(r: &Value) -> String {
    let accepted = r.get("accepted").and_then(Value::as_bool).unwrap_or(false);
    if accepted {
        let rank = r.get("rank").and_then(Value::as_u64).unwrap_or(0);
        let mut t = format!("accepted, rank {rank}");
        if r.get("blackhole").and_then(Value::as_bool) == Some(true) {
            t.push_str(", blackhole");
        }
        if r.get("stale").and_then(Value::as_bool) == Some(true) {
            t.push_str(", stale");
        }
        if r.get("llgr_stale").and_then(Value::as_bool) == Some(true) {
            t.push_str(", llgr-stale");
        }
        format!("<td class=\"ok\">{}</td>", esc(&t))
    } else {
        format!(
            "<td class=\"bad\"><span class=\"reason\">filtered:</span>{}</td>",
            reasons(r)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_the_five_special_characters() {
        assert_eq!(
            esc(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("plain 10.0.0.0/8 · ünï"), "plain 10.0.0.0/8 · ünï");
        assert_eq!(
            esc("&amp;"),
            "&amp;amp;",
            "escaped twice stays visible as typed"
        );
        assert_eq!(
            link("/x?a=1&b=\"2\"", "<b>"),
            "<a href=\"/x?a=1&amp;b=&quot;2&quot;\">&lt;b&gt;</a>"
        );
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(7 * 60 + 5), "7m 5s");
        assert_eq!(duration(2 * 3600 + 61), "2h 1m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 9), "3d 4h");
    }

    #[test]
    fn urls_percent_encode_names_and_prefixes() {
        assert_eq!(pct("a b/c&d=e?"), "a%20b%2Fc%26d%3De%3F");
        assert_eq!(pct("peer-1_x.y~z"), "peer-1_x.y~z");
        assert_eq!(
            routes_url("n/1", "filtered", 2),
            "/api/v1/neighbours/n%2F1/routes/filtered?page=2"
        );
        assert_eq!(
            routes_url("n1", "accepted", 0),
            "/api/v1/neighbours/n1/routes/accepted"
        );
        assert_eq!(
            why_url("10.0.0.0/8", "m 1"),
            "/api/v1/why?prefix=10.0.0.0%2F8&neighbour=m%201&exact=1"
        );
    }

    #[test]
    fn route_rows_escape_and_show_every_reason_with_its_code() {
        let filtered = serde_json::json!({
            "prefix": "10.0.0.0/8", "peer": "a<b>", "as_path": "65001 \"x\"",
            "next_hop": "192.0.2.1", "origin": "IGP", "local_pref": 100,
            "communities": ["65000:1", "65000:<2>"], "large_communities": [],
            "rpki": "not checked", "accepted": false,
            "reject_reasons": [
                {"text": "bogon prefix", "community": "64500:1101:3"},
                {"text": "first AS is not the peer's", "community": "64500:1101:7"},
            ],
        });
        let t = route_table(&[filtered], Columns::Peer);
        assert!(
            t.contains("<a href=\"/api/v1/neighbours/a%3Cb%3E\">a&lt;b&gt;</a>"),
            "{t}"
        );
        assert!(t.contains("65001 &quot;x&quot;"), "{t}");
        assert!(t.contains("65000:1<br>65000:&lt;2&gt;"), "{t}");
        assert!(t.contains("bogon prefix <code>64500:1101:3</code>"), "{t}");
        assert!(
            t.contains("first AS is not the peer&#39;s <code>64500:1101:7</code>"),
            "{t}"
        );
        assert!(t.contains("href=\"/api/v1/routes?prefix=10.0.0.0%2F8&amp;exact=1\""));
        assert!(!t.contains("<td></td>"), "empty cells get a dash: {t}");
        let accepted = serde_json::json!({"prefix": "10.0.0.0/8", "peer": "a",
            "accepted": true, "rank": 2, "local_pref": 100});
        let t = route_table(&[accepted], Columns::Exported("m 1"));
        assert!(t.contains("neighbour=m%201"), "{t}");
        assert!(
            verdict_cell(&serde_json::json!({"accepted": true, "rank": 2}))
                .contains("accepted, rank 2")
        );
    }

    #[test]
    fn paging_counts_pages_and_links_neighbours() {
        let p = |page, size, total| Pager { page, size, total };
        assert_eq!(p(0, 100, 0).pages(), 1);
        assert_eq!(p(0, 100, 100).pages(), 1);
        assert_eq!(p(0, 100, 101).pages(), 2);
        let first = p(0, 5, 12);
        assert_eq!(
            (first.prev(), first.next(), first.offset()),
            (None, Some(1), 0)
        );
        let mid = p(1, 5, 12);
        assert_eq!(
            (mid.prev(), mid.next(), mid.offset()),
            (Some(0), Some(2), 5)
        );
        let last = p(2, 5, 12);
        assert_eq!((last.prev(), last.next()), (Some(1), None));
        // Past the end: back to the last page, nothing further.
        let past = p(9, 5, 12);
        assert_eq!((past.prev(), past.next()), (Some(2), None));
        let nav = mid.nav(|n| routes_url("a", "received", n));
        assert!(nav.contains("rows 6–10 of 12, page 2 of 3"), "{nav}");
        assert!(nav.contains("href=\"/api/v1/neighbours/a/routes/received\""));
        assert!(nav.contains("href=\"/api/v1/neighbours/a/routes/received?page=2\""));
        let nav = p(0, 5, 40).nav(|n| routes_url("a", "received", n));
        assert!(nav.contains("?page=7\">last"), "{nav}");
        assert!(p(9, 5, 12).nav(|_| String::new()).contains("past the end"));

        let q = Query::parse(Some("page=2")).unwrap();
        let pg = Pager::from_query(&q, 1000, 250).unwrap();
        assert_eq!((pg.size, pg.offset()), (PAGE_SIZE, 200));
        let small = Pager::from_query(&q, 7, 250).unwrap();
        assert_eq!((small.size, small.offset()), (7, 14));
        let huge = Query::parse(Some(&format!("page={}", usize::MAX))).unwrap();
        assert_eq!(Pager::from_query(&huge, 10, 0).unwrap_err().status, 400);
        let bad = Query::parse(Some("page=x")).unwrap();
        assert_eq!(Pager::from_query(&bad, 10, 0).unwrap_err().status, 400);
    }
}
