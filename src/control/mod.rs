//! `control`: the Unix control socket (JSON lines, see `protocol.rs`) and its commands.
//! Reads through the read-only [`ServerView`](crate::view::ServerView) (snapshots, peer
//! directory, configuration) and the looking glass's views (`lg::model`); changes things only
//! through the [`Actions`] trait (peer commands, reload) that `main.rs` implements. Never
//! imports `server` and never touches RIB internals.

pub mod actions;
pub mod client;
pub mod commands;
pub mod protocol;
pub mod render;
pub mod socket;

pub use actions::{Actions, PeerCommandError};
pub use protocol::{PeerAction, Request, Response};
