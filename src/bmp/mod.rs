//! BMP, the BGP Monitoring Protocol (RFC 7854; Loc-RIB per RFC 9069, Adj-RIB-Out per
//! RFC 8671): how peerex shows what it sees to an exchange's monitoring collectors.
//!
//! So far this module holds the message codec ([`msg`]) and the collector connection
//! ([`collector`]: connect out, Initiation, a feed's dump then changes, Termination, back-off,
//! dropping a collector that stops reading). What is missing is the feed that turns the RIB's
//! snapshots and the sessions' events into BMP, the `[[bmp]]` configuration and the wiring:
//! peerex does not send BMP yet (issue 13 is open; the README's status table says so). It
//! sits beside `lg` at the top of the layering and, like it, may read `wire`, `session` and
//! the RIB's snapshots but never `server`.

pub mod collector;
pub mod feed;
pub mod msg;
pub mod render;
pub mod source;

#[cfg(test)]
mod collector_tests;
#[cfg(test)]
mod feed_tests;
#[cfg(test)]
mod msg_tests;
