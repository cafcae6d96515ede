//! The looking glass's HTTP/1.1 server (hyper): accepts connections on the configured
//! address, routes GET requests to the handlers of our API (`api.rs`), the birdwatcher
//! shape (`birdwatcher.rs`) and `/metrics`, and answers every mistake with a JSON error.
//! A client whose `Accept` asks for HTML (a browser) gets the web looking glass's page of
//! the same URL instead (`html/`), where there is one.
//!
//! Handlers read snapshots only; they run on the looking glass's own worker threads (half
//! the cores, at the lowest CPU priority: `pool.rs`), so a flood of requests queues there
//! (bounded by the connection limit) instead of taking CPU from the runtime threads that
//! drive BGP sessions or from the RIB shards' threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use super::api::{self, Ctx, Which};
use super::pool::Pool;
use super::query::{percent_decode, ApiError, Query};
use super::{birdwatcher, html, metrics};
use crate::stall::{Stall, WRITE_STALL};
use crate::view::ServerView;

/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 256;
/// Largest request head (request line and headers) read; beyond it the HTTP layer answers
/// 431 on its own.
pub const MAX_HEAD: usize = 64 * 1024;
/// Time a client has to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// An answer: status, content type, body.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

const JSON: &str = "application/json";
/// The web looking glass's pages.
pub const HTML: &str = "text/html; charset=utf-8";
/// What a page may load: its own inline style sheet, nothing else (no scripts, no fonts,
/// no images, no frames); forms submit to this server only.
const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Reply {
    fn json(v: &Value) -> Reply {
        match serde_json::to_vec(v) {
            Ok(body) => Reply {
                status: 200,
                content_type: JSON,
                body,
            },
            Err(e) => Reply::error(&ApiError::internal(e.to_string())),
        }
    }

    fn error(e: &ApiError) -> Reply {
        Reply {
            status: e.status,
            content_type: JSON,
            body: e.body(),
        }
    }
}

fn index() -> Value {
    json!({
        "service": concat!("peerex ", env!("CARGO_PKG_VERSION"), " looking glass"),
        "endpoints": [
            "/api/v1/status",
            "/api/v1/neighbours",
            "/api/v1/neighbours/{name}",
            "/api/v1/neighbours/{name}/routes/received",
            "/api/v1/neighbours/{name}/routes/accepted",
            "/api/v1/neighbours/{name}/routes/filtered",
            "/api/v1/neighbours/{name}/routes/exported",
            "/api/v1/routes?prefix=",
            "/api/v1/why?prefix=&neighbour=",
            "/metrics",
            "/status", "/protocols", "/protocols/bgp", "/protocols/short",
            "/routes/protocol/{id}", "/routes/filtered/{id}", "/routes/noexport/{id}",
            "/routes/prefix?prefix=", "/routes/table/{table}", "/routes/table/{table}/filtered",
        ],
        "docs": "docs/lg.md",
    })
}

/// One path segment, percent-decoded (`+` stays a plus in paths).
fn segment(s: &str) -> Result<String, ApiError> {
    percent_decode(&s.replace('+', "%2B"))
}

/// The non-empty segments of a path, each percent-decoded.
pub(crate) fn segments(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(segment)
        .collect()
}

/// Answers one GET request, with a page of the web looking glass when `html` (the client
/// asks for HTML) and the path has one.
pub fn answer(ctx: &Ctx, path: &str, raw_query: Option<&str>, html: bool) -> Reply {
    if html {
        if let Some(r) = html::dispatch(ctx, path, raw_query) {
            return r;
        }
    }
    dispatch(ctx, path, raw_query)
}

/// Answers one GET request. Pure apart from reading `ctx`.
pub fn dispatch(ctx: &Ctx, path: &str, raw_query: Option<&str>) -> Reply {
    match route(ctx, path, raw_query) {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

fn route(ctx: &Ctx, path: &str, raw_query: Option<&str>) -> Result<Reply, ApiError> {
    let q = Query::parse(raw_query)?;
    let segs = segments(path)?;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let v = match s.as_slice() {
        [] => {
            q.allow(&[])?;
            index()
        }
        ["metrics"] => {
            q.allow(&[])?;
            return Ok(Reply {
                status: 200,
                content_type: PROMETHEUS,
                body: metrics::render(ctx).into_bytes(),
            });
        }
        ["api", "v1", rest @ ..] => match rest {
            ["status"] => api::status(ctx, &q)?,
            ["neighbours" | "neighbors"] => api::neighbours(ctx, &q)?,
            ["neighbours" | "neighbors", name] => api::neighbour(ctx, name, &q)?,
            ["neighbours" | "neighbors", name, "routes", which] => match *which {
                "received" => api::neighbour_routes(ctx, name, Which::Received, &q)?,
                "accepted" => api::neighbour_routes(ctx, name, Which::Accepted, &q)?,
                "filtered" => api::neighbour_routes(ctx, name, Which::Filtered, &q)?,
                "exported" => api::neighbour_exported(ctx, name, &q)?,
                _ => return Err(not_found(path)),
            },
            ["routes"] => api::lookup(ctx, &q)?,
            ["why"] => api::why(ctx, &q)?,
            _ => return Err(not_found(path)),
        },
        ["status"] => birdwatcher::status(ctx, &q)?,
        ["protocols"] | ["protocols", "bgp"] => birdwatcher::protocols(ctx, &q)?,
        ["protocols", "short"] => birdwatcher::protocols_short(ctx, &q)?,
        ["routes", "protocol", id] => birdwatcher::routes_of(ctx, id, false, &q)?,
        ["routes", "filtered", id] => birdwatcher::routes_of(ctx, id, true, &q)?,
        ["routes", "noexport", id] => birdwatcher::noexport(ctx, id, &q)?,
        ["routes", "prefix"] => birdwatcher::routes_prefix(ctx, &q)?,
        ["routes", "table", t] => birdwatcher::table(ctx, t, false, &q)?,
        ["routes", "table", t, "filtered"] => birdwatcher::table(ctx, t, true, &q)?,
        _ => return Err(not_found(path)),
    };
    Ok(Reply::json(&v))
}

fn not_found(path: &str) -> ApiError {
    let shown: String = path.chars().take(200).collect();
    ApiError::not_found(format!("no such endpoint: {shown} (see / for the list)"))
}

fn response(r: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The same URL answers HTML or JSON by the request's Accept.
    resp.headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    if r.content_type == HTML {
        resp.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
    }
    resp
}

async fn handle(
    req: Request<Incoming>,
    ctx: Ctx,
    pool: Pool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(Reply::error(&ApiError {
            status: 405,
            message: format!(
                "method {} not allowed: the looking glass is read-only",
                req.method()
            ),
        }));
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let wants_html = html::wants_html(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let queued = pool.try_run(move || {
        let _ = tx.send(answer(&ctx, &path, query.as_deref(), wants_html));
    });
    if !queued {
        return Ok(response(Reply::error(&ApiError::unavailable(
            "the looking glass is busy; try again",
        ))));
    }
    Ok(response(match rx.await {
        Ok(r) => r,
        Err(_) => {
            warn!("looking-glass handler failed");
            Reply::error(&ApiError::internal("the request could not be answered"))
        }
    }))
}

/// Worker threads: half the cores, at least one.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Serves the looking glass on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, ctx: Ctx) {
    let conns = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let work = match Pool::new(workers(), MAX_CONNECTIONS) {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "looking glass: cannot start its worker threads");
            return;
        }
    };
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "looking glass: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            debug!(%remote, "looking glass: too many connections, closing");
            continue;
        };
        let (ctx, work) = (ctx.clone(), work.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req| handle(req, ctx.clone(), work.clone()));
            let mut b = http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD);
            if let Err(e) = b
                .serve_connection(TokioIo::new(Stall::new(stream, WRITE_STALL)), svc)
                .await
            {
                debug!(%remote, error = %e, "looking glass: connection ended");
            }
        });
    }
}

/// Binds `addr` and starts serving `view` there.
pub async fn start(
    addr: SocketAddr,
    view: ServerView,
    max_results: usize,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    info!(%addr, "looking glass listening");
    Ok(tokio::spawn(serve(listener, Ctx { view, max_results })))
}
