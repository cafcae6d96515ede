//! `lg`: the read-only looking glass — views of peers and routes built from RIB snapshots
//! and the peer directory. Never mutates anything.

pub mod model;

pub use model::{PeerDirectory, PeerEntry, PeerView, RouteView};
