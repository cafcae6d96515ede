//! peerex: a BGP route server for peering exchanges.
//!
//! The crate is layered; each module can be read and tested alone and depends only on the
//! ones below it. `wire` is the floor: bytes ⇄ typed BGP messages.

#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod config;
pub mod control;
pub mod directory;
pub mod lg;
pub mod policy;
pub mod reload;
pub mod rib;
pub mod rpki;
pub mod server;
pub mod session;
pub mod view;
pub mod wire;
