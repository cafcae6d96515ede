//! `control`: the Unix control socket (JSON lines, see `protocol.rs`) and its commands. Reads
//! snapshots and sends commands to peer tasks and the RIB; never touches RIB internals.

pub mod client;
pub mod commands;
pub mod protocol;
pub mod render;
pub mod socket;

pub use protocol::{PeerAction, Request, Response};
