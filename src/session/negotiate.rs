//! Capability negotiation (being written).
