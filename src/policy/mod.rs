//! `policy`: import and export filters as pure functions from a route to a verdict with
//! reasons, compiled once from the configuration into immutable structures. Knows no sockets
//! and never mutates the RIB; depends only on `wire` and `config`.
//!
//! * [`Policies`]: everything compiled from a [`Config`](crate::config::Config), per peer.
//! * [`ImportPolicy::evaluate`]: (prefix, attributes, next hop, VRPs) → [`ImportOutcome`].
//! * [`PathActions`]: what a path's control communities ask of export, per client.
//! * [`ExportRules`]: which sources' paths a client takes (the marketplace) and blackholes.
//! * [`rpki`]: the VRP table, RFC 6811 validation, the VRP file format (the sources that
//!   fill the table, files and RTR caches, live in the top-level `rpki` module).
//! * [`PrefixSet`], [`AsnSet`]: the compiled lists.

pub mod actions;
pub mod asnset;
pub mod clientset;
mod compile;
mod cover;
pub mod import;
pub mod prefixset;
pub mod rpki;
pub mod rules;
pub mod verdict;

#[cfg(test)]
mod tests;

pub use actions::{
    aspa_community, export_attributes, has_control_communities, prepend_first_as,
    reject_communities, rpki_community, strip_control_communities, ActionCtx, PathActions,
};
pub use asnset::AsnSet;
pub use clientset::{ClientSet, PeerId, MAX_PEERS};
pub use compile::Policies;
pub use import::{ImportOutcome, ImportPolicy, Prepared};
pub use prefixset::PrefixSet;
pub use rpki::{AspaState, RpkiState, Vrp, VrpChanges, VrpTable};
pub use rules::{compile_export_rules, ExportRules};
pub use verdict::{RejectReason, RejectSet, Verdict, DEFAULT_LOCAL_PREF};
