//! `session`: BGP sessions — one tokio task per peer running the RFC 4271 state machine,
//! timers, capability negotiation, and the socket options that protect the transport.
//! Hands decoded route changes to the RIB and writes what the exporter queues. Knows no
//! policy beyond attaching the import verdict.

pub mod end;
pub mod framing;
pub mod fsm;
pub mod inbox;
pub mod keepalive;
pub mod listener;
pub mod machine;
pub mod negotiate;
pub mod peer;
pub mod reader;
pub mod routes;
pub mod sockopt;
pub mod status;
pub mod writer;

pub use end::EndReason;
pub use fsm::State;
pub use peer::{PeerCmd, PeerHandle};
pub use status::PeerStatus;
