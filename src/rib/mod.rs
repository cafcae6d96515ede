//! `rib`: every path from every peer, per prefix, with interned attributes; per-client best
//! paths without path hiding; the export engine; and the lock-free snapshots readers use.
//! Knows no sockets and parses no configuration.
//!
//! Prefixes hash to shards, each owned by one thread (`shard.rs`); sessions send route
//! batches through bounded channels (`api.rs`, `handle.rs`) and receive encoded UPDATEs
//! through their bounded out-queues (`outq.rs`) and the shards' feeds (`feed.rs`). A shard
//! holds its paths in a table (`table.rs`); its export engine (`export/`) computes
//! per-client choices from each prefix's sorted path list without a RIB per client.

pub mod api;
pub mod attrs;
pub mod counters;
pub mod entry;
mod export;
mod feed;
mod fxhash;
pub mod handle;
mod journal;
pub mod memory;
pub mod mrt;
pub mod outq;
pub mod path;
mod reeval;
mod shard;
pub mod sim;
pub mod snapshot;
mod table;
pub mod whatif;

pub use crate::policy::ClientSet;
pub use crate::policy::ExportRules;
pub use api::{ClientInfo, ExportPolicy, RouteBatch, ShardCtl, ShardMsg};
pub use attrs::RouteAttrs;
pub use counters::RibCounters;
pub use entry::PrefixEntry;
pub(crate) use export::client_choice;
pub use export::{client_update, export_attrs, fits_client};
pub use handle::{shard_of, Rib, ShardProgress};
pub use memory::MemoryReport;
pub use outq::{OutItem, OutQueue};
pub use path::{choose, Path, PeerId, SelectCtx};
pub use snapshot::{RibSnapshot, ShardSnapshot};
#[cfg(test)]
mod llgr_tests;
#[cfg(test)]
mod tests;
