//! peerex: a BGP route server for peering exchanges.
//!
//! The crate is layered; each module can be read and tested alone and depends only on the
//! ones below it, never on one above (README.md, "Layout", says what each owns):
//!
//! * `wire` is the floor: bytes ⇄ typed BGP messages; `config` reads the configuration.
//! * `policy` (filters, the VRP table) over `wire` and `config`; `rpki` (VRP files and RTR
//!   caches) fills the table; `rib` over `policy`; `session` (one task per peer) over `rib`.
//! * `directory` (the peers readers see) and `view` (the read-only [`view::ServerView`]) are
//!   leaves of the top level: they import neither `server` nor `lg`, `control` or `reload`.
//! * `server` starts and stops it all; `lg`, `control` and `reload` read through the
//!   `ServerView` and act through traits (`reload::Target`, `control::Actions`). `server`
//!   imports none of them and they never import `server`: `main.rs` wires them together.
//! * `systemd` (readiness notifications, the watchdog over the shards' progress) and
//!   `assets` (man pages and completions for packaging) are leaves beside them, used only by
//!   `main.rs`.

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

pub mod assets;
pub mod bmp;
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
pub mod stall;
pub mod systemd;
pub mod view;
pub mod wire;
