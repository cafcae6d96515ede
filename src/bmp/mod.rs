//! BMP, the BGP Monitoring Protocol (RFC 7854; Loc-RIB per RFC 9069, Adj-RIB-Out per
//! RFC 8671): how peerex shows what it sees to an exchange's monitoring collectors.
//!
//! - [`msg`]: the message codec;
//! - [`render`]: one prefix's change as Route Monitoring per view;
//! - [`feed`]: passes over the RIB's snapshots and the sessions, as a collector pulls them;
//! - [`source`]: what a feed reads (the server's [`ServerView`](crate::view::ServerView));
//! - [`collector`]: one collector connection (connect out, Initiation, dump then changes,
//!   Termination, back-off, dropping a collector that stops reading);
//! - [`manager`]: the configured `[[bmp]]` collectors as tasks, changed by reload.
//!
//! It sits beside `lg` at the top of the layering and, like it, reads `wire`, `session`,
//! `config` and the RIB's snapshots through the server's view, never `server` itself.

pub mod collector;
pub mod feed;
pub mod manager;
pub mod msg;
pub mod render;
pub mod source;

#[cfg(test)]
mod collector_tests;
#[cfg(test)]
mod feed_tests;
#[cfg(test)]
mod msg_tests;
