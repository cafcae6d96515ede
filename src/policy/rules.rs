//! Export rules per client: which peers' routes a client takes (the marketplace).

use std::sync::Arc;

use super::clientset::{ClientSet, PeerId};

/// Export rules the RIB applies per client.
#[derive(Debug, Default, Clone)]
pub struct ExportRules {
    /// The source peers this client takes routes from; `None` takes from everyone.
    pub accepts_from: Option<Arc<ClientSet>>,
}

impl ExportRules {
    pub fn accepts(&self, source: PeerId) -> bool {
        self.accepts_from
            .as_ref()
            .is_none_or(|s| s.contains(source))
    }
}
