//! `session`: BGP sessions — one tokio task per peer running the RFC 4271 state machine,
//! timers, capability negotiation, and the socket options that protect the transport.
//! Hands decoded route changes to the RIB and writes what the exporter queues. Knows no
//! policy.

pub mod negotiate;
pub mod sockopt;
