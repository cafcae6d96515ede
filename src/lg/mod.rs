//! `lg`: the read-only looking glass — views of peers and routes built from RIB snapshots
//! and the peer directory, served over HTTP (our JSON API, the birdwatcher shape for
//! Alice-LG, Prometheus `/metrics`, and the web looking glass's HTML pages for browsers,
//! `html/`). See docs/lg.md.
//!
//! Reads the running server only through the [`ServerView`](crate::view::ServerView) it is
//! started with; never mutates anything and never imports `server`, `control` or `reload`.
//! `model.rs` (peer and route views) is also what the control socket renders.

pub mod api;
pub mod birdwatcher;
pub mod html;
pub mod http;
pub mod metrics;
pub mod model;
pub mod pool;
pub mod query;
pub mod reasons;
pub mod stats;
pub mod why;

pub use model::{PeerView, RouteView};

#[cfg(test)]
mod tests;
