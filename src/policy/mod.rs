//! `policy`: import and export filters as pure functions from a route to a verdict with
//! reasons. Knows no sockets and never mutates the RIB.

pub mod verdict;

pub use verdict::{RejectReason, RejectSet, Verdict, DEFAULT_LOCAL_PREF};
