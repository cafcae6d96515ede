//! BMP, the BGP Monitoring Protocol (RFC 7854; Loc-RIB per RFC 9069, Adj-RIB-Out per
//! RFC 8671): how peerex shows what it sees to an exchange's monitoring collectors.
//!
//! So far this module holds the message codec ([`msg`]) and nothing that sends: no collector
//! connections, no configuration and no exporter exist yet (issue 13 is open; the README's
//! status table says so). It sits beside `lg` at the top of the layering and, like it, may
//! read `wire` but never `server`.

pub mod msg;

#[cfg(test)]
mod msg_tests;
