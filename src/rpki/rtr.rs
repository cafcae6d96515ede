//! One RPKI-to-router cache (RFC 8210) through the `rpki` crate's client: a
//! [`PayloadTarget`] that keeps the cache's route origins and hands a snapshot to the merger
//! after every update that changed them; reconnects after `retry`, keeping the session state
//! so the next session can ask for a delta (serial query); drops the data once the cache has
//! been unreachable longer than its expire interval.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ::rpki::rtr::client::{Client, PayloadError, PayloadTarget, PayloadUpdate};
use ::rpki::rtr::payload::{Action, Payload, RouteOrigin, Timing};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::SourceMsg;
use crate::policy::Vrp;
use crate::wire::{Asn, Prefix};

/// One update as the client receives it.
pub(super) struct Batch {
    reset: bool,
    items: Vec<(Action, Payload)>,
}

impl PayloadUpdate for Batch {
    fn push_update(&mut self, action: Action, payload: Payload) -> Result<(), PayloadError> {
        self.items.push((action, payload));
        Ok(())
    }
}

/// The cache's current route origins.
pub(super) struct Collector {
    source: usize,
    origins: HashSet<RouteOrigin>,
    timing: Timing,
    last_ok: Option<Instant>,
    /// Updates applied, over all sessions.
    applied: u64,
    published: bool,
    out: UnboundedSender<SourceMsg>,
}

fn to_vrp(o: &RouteOrigin) -> Option<Vrp> {
    let p = o.prefix.prefix();
    Some(Vrp {
        prefix: Prefix::new(p.addr(), p.len())?,
        max_len: o.prefix.resolved_max_len(),
        asn: Asn(o.asn.into_u32()),
    })
}

impl Collector {
    pub(super) fn new(source: usize, out: UnboundedSender<SourceMsg>) -> Collector {
        Collector {
            source,
            origins: HashSet::new(),
            timing: Timing::default(),
            last_ok: None,
            applied: 0,
            published: false,
            out,
        }
    }

    fn publish(&mut self) {
        let vrps: Vec<Vrp> = self.origins.iter().filter_map(to_vrp).collect();
        self.published = true;
        let _ = self.out.send((self.source, Some(Arc::new(vrps))));
    }

    /// Drops the data if the cache has not answered within its expire interval.
    fn expire_if_stale(&mut self, cache: &str) {
        let expire = Duration::from_secs(u64::from(self.timing.expire));
        if self.published && self.last_ok.is_some_and(|t| t.elapsed() > expire) {
            warn!(cache, "RTR data expired: dropping its VRPs");
            self.origins.clear();
            self.published = false;
            let _ = self.out.send((self.source, None));
        }
    }
}

impl PayloadTarget for Collector {
    type Update = Batch;

    fn start(&mut self, reset: bool) -> Batch {
        Batch {
            reset,
            items: Vec::new(),
        }
    }

    fn apply(&mut self, update: Batch, timing: Timing) -> Result<(), PayloadError> {
        let mut changed = false;
        if update.reset {
            let before = std::mem::take(&mut self.origins);
            for (action, payload) in update.items {
                if let (Action::Announce, Payload::Origin(o)) = (action, payload) {
                    self.origins.insert(o);
                }
            }
            changed = before != self.origins;
        } else {
            for (action, payload) in update.items {
                // Router keys and ASPA are not used.
                let Payload::Origin(o) = payload else {
                    continue;
                };
                changed |= match action {
                    Action::Announce => self.origins.insert(o),
                    Action::Withdraw => self.origins.remove(&o),
                };
            }
        }
        self.timing = timing;
        self.last_ok = Some(Instant::now());
        self.applied += 1;
        if changed || !self.published {
            debug!(
                source = self.source,
                vrps = self.origins.len(),
                "RTR update applied"
            );
            self.publish();
        }
        Ok(())
    }
}

/// Keeps a session with the cache at `addr` ("host:port") forever.
pub(super) async fn run(
    addr: String,
    source: usize,
    retry: Duration,
    out: UnboundedSender<SourceMsg>,
) {
    let mut target = Collector::new(source, out);
    let mut state = None;
    loop {
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr.as_str()),
        )
        .await;
        match conn {
            Ok(Ok(sock)) => {
                let _ = sock.set_nodelay(true);
                info!(cache = %addr, "RTR session up");
                let before = target.applied;
                let mut client = Client::new(sock, target, state);
                let r = client.run().await;
                state = client.state();
                target = client.into_target();
                if r.is_err() && target.applied == before && state.is_some() {
                    // The cache would not continue the old session (it restarted, or lost
                    // its history): start over at once with a reset query.
                    warn!(cache = %addr, "RTR cache refused the old session: resetting");
                    state = None;
                    continue;
                }
                match r {
                    Ok(()) => warn!(cache = %addr, "RTR cache closed the session"),
                    Err(e) => warn!(cache = %addr, error = %e, "RTR session failed"),
                }
            }
            Ok(Err(e)) => warn!(cache = %addr, error = %e, "cannot connect to RTR cache"),
            Err(_) => warn!(cache = %addr, "connecting to RTR cache timed out"),
        }
        target.expire_if_stale(&addr);
        tokio::time::sleep(retry).await;
    }
}
