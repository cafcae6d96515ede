//! The web looking glass: server-rendered HTML views of what the JSON API shows, at the same
//! URLs, for clients that ask for HTML (`Accept` naming `text/html`, as browsers do); every
//! other client gets the JSON API unchanged. Owns only the choice of view for a path; the
//! views are `overview.rs` (the neighbours and the server), `routes.rs` (one neighbour's
//! routes), `search.rs` (prefix search), `explain.rs` (why a client does or does not get a
//! prefix), and `page.rs` the frame, escaping and paging they share.
//!
//! Views read the same snapshot, directory and counters as the JSON handlers of the same
//! URL, through the same functions (`api::paths_of`, `model::routes_to`, `why::explain`,
//! `stats::TableStats`): a page costs the RIB no more than its JSON. Usable without
//! JavaScript (links and GET forms), nothing loaded from elsewhere, tables paged.

pub mod explain;
pub mod overview;
pub mod page;
pub mod routes;
pub mod search;

use super::api::Ctx;
use super::http::{segments, Reply, HTML};
use super::query::{ApiError, Query};

/// The quality an `Accept` header gives `media` when it names it (wildcards do not count).
fn quality(accept: &str, media: &str) -> Option<f32> {
    accept.split(',').find_map(|part| {
        let mut it = part.split(';');
        let m = it.next().unwrap_or("").trim();
        if !m.eq_ignore_ascii_case(media) {
            return None;
        }
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>()))
            .unwrap_or(Ok(1.0));
        Some(q.unwrap_or(0.0))
    })
}

/// Whether an `Accept` header asks for HTML: it names `text/html` (not with `q=0`, RFC 9110
/// §12.4.2) and does not prefer `application/json`. `*/*` alone gets JSON.
pub fn wants_html(accept: Option<&str>) -> bool {
    let Some(a) = accept else { return false };
    match (quality(a, "text/html"), quality(a, "application/json")) {
        (Some(h), Some(j)) => h > 0.0 && h >= j,
        (Some(h), None) => h > 0.0,
        _ => false,
    }
}

/// The page for `path`, or `None` when the path has no HTML view (`/metrics`, the
/// birdwatcher shape, `/api/v1/status`): those answer as for any client.
pub fn dispatch(ctx: &Ctx, path: &str, raw_query: Option<&str>) -> Option<Reply> {
    let segs = match segments(path) {
        Ok(s) => s,
        Err(e) => return Some(error(&e)),
    };
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let page = |q: &Query| -> Result<String, ApiError> {
        match s.as_slice() {
            [] | ["api", "v1", "neighbours" | "neighbors"] => overview::overview(ctx, q),
            ["api", "v1", "neighbours" | "neighbors", name] => overview::neighbour(ctx, name, q),
            ["api", "v1", "neighbours" | "neighbors", name, "routes", which] => {
                routes::listing(ctx, name, which, q)
            }
            ["api", "v1", "routes"] => search::search(ctx, q),
            ["api", "v1", "why"] => explain::why(ctx, q),
            _ => Err(ApiError::not_found("")),
        }
    };
    let known = matches!(
        s.as_slice(),
        [] | ["api", "v1", "neighbours" | "neighbors", ..] | ["api", "v1", "routes" | "why"]
    );
    if !known {
        return None;
    }
    let body = Query::parse(raw_query).and_then(|q| page(&q));
    Some(match body {
        Ok(html) => Reply {
            status: 200,
            content_type: HTML,
            body: html.into_bytes(),
        },
        Err(e) if e.message.is_empty() => error(&ApiError::not_found(format!(
            "no such page: {}",
            path.chars().take(200).collect::<String>()
        ))),
        Err(e) => error(&e),
    })
}

fn error(e: &ApiError) -> Reply {
    Reply {
        status: e.status,
        content_type: HTML,
        body: page::error_page(e).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::wants_html;

    #[test]
    fn browsers_get_html_and_other_clients_json() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                        image/webp,image/apng,*/*;q=0.8";
        assert!(wants_html(Some(chromium)));
        assert!(wants_html(Some("TEXT/HTML")));
        assert!(wants_html(Some("text/html, application/json")));
        assert!(!wants_html(Some("application/json, text/html;q=0.5")));
        assert!(!wants_html(Some("text/html;q=0")));
        assert!(!wants_html(Some("*/*")));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(Some("text/plain;version=0.0.4,*/*;q=0.1")));
        assert!(!wants_html(None));
    }
}
