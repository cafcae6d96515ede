//! `policy`: import and export filters as pure functions from a route to a verdict with
//! reasons. Knows no sockets and never mutates the RIB.

pub mod clientset;
pub mod rules;
pub mod verdict;

pub use clientset::{ClientSet, PeerId, MAX_PEERS};
pub use rules::ExportRules;
pub use verdict::{RejectReason, RejectSet, Verdict, DEFAULT_LOCAL_PREF};
