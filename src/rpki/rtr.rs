//! One RPKI-to-router cache (RFC 8210) through the `rpki` crate's client: a
//! [`PayloadTarget`] that keeps the cache's route origins and hands a snapshot to the merger
//! after every update that changed them; reconnects after `retry`, keeping the session state
//! so the next session can ask for a delta (serial query); drops the data once the cache has
//! been unreachable longer than its expire interval.
//!
//! RTR version 2 carries ASPAs too; they are kept and published with the route origins. A
//! cache that speaks version 2 with ASPA PDUs of an earlier draft (Debian's stayrtr 0.5.1:
//! the announce flag, AFI flags and a provider count in the body, a zero header field)
//! reads, in the current layout, as withdrawals of ASPAs of nonsense customers. So an ASPA
//! withdrawal in a reset, or of a customer the cache never announced, is refused as RFC 8210
//! "Withdrawal of Unknown Record" (an ASPA PDU the crate cannot decode fails the session by
//! itself), and such a cache is then asked for version 1 (RFC 8210 version negotiation),
//! which has no ASPA PDUs: its route origins keep flowing. Logged once per cache; kept for
//! the life of the task.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::rpki::rtr::client::{Client, PayloadError, PayloadTarget, PayloadUpdate};
use ::rpki::rtr::payload::{Action, Payload, RouteOrigin, Timing};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{SourceData, SourceMsg};
use crate::policy::rpki::Aspa;
use crate::policy::Vrp;
use crate::wire::{Asn, Prefix};

/// One update as the client receives it.
pub(super) struct Batch {
    reset: bool,
    items: Vec<(Action, Payload)>,
    /// Set when the cache sent ASPA PDUs that cannot be right (the collector's flag).
    bad_aspa: Arc<AtomicBool>,
}

impl PayloadUpdate for Batch {
    fn push_update(&mut self, action: Action, payload: Payload) -> Result<(), PayloadError> {
        if self.reset && action == Action::Withdraw && matches!(payload, Payload::Aspa(_)) {
            self.bad_aspa.store(true, Ordering::Relaxed);
            return Err(PayloadError::UnknownWithdraw);
        }
        self.items.push((action, payload));
        Ok(())
    }
}

/// The cache's current route origins.
pub(super) struct Collector {
    source: usize,
    origins: HashSet<RouteOrigin>,
    /// Provider sets by customer AS (RTR version 2).
    aspas: BTreeMap<u32, Vec<u32>>,
    /// The cache sent ASPA withdrawals of records it never announced.
    bad_aspa: Arc<AtomicBool>,
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
            aspas: BTreeMap::new(),
            bad_aspa: Arc::new(AtomicBool::new(false)),
            timing: Timing::default(),
            last_ok: None,
            applied: 0,
            published: false,
            out,
        }
    }

    fn publish(&mut self) {
        let vrps: Vec<Vrp> = self.origins.iter().filter_map(to_vrp).collect();
        let aspas = self
            .aspas
            .iter()
            .map(|(c, p)| Aspa {
                customer: Asn(*c),
                providers: p.iter().map(|a| Asn(*a)).collect(),
            })
            .collect();
        self.published = true;
        let data = SourceData { vrps, aspas };
        let _ = self.out.send((self.source, Some(Arc::new(data))));
    }

    /// Applies one ASPA announcement (which replaces the customer's provider set) or
    /// withdrawal; true when it changed something.
    fn apply_aspa(&mut self, action: Action, a: &::rpki::rtr::payload::Aspa) -> bool {
        let customer = a.customer.into_u32();
        match action {
            Action::Announce => {
                let mut p: Vec<u32> = a.providers.iter().map(|x| x.into_u32()).collect();
                p.sort_unstable();
                p.dedup();
                self.aspas.insert(customer, p.clone()) != Some(p)
            }
            Action::Withdraw => self.aspas.remove(&customer).is_some(),
        }
    }

    /// Drops the data if the cache has not answered within its expire interval.
    fn expire_if_stale(&mut self, cache: &str) {
        let expire = Duration::from_secs(u64::from(self.timing.expire));
        if self.published && self.last_ok.is_some_and(|t| t.elapsed() > expire) {
            warn!(cache, "RTR data expired: dropping its VRPs and ASPAs");
            self.origins.clear();
            self.aspas.clear();
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
            bad_aspa: self.bad_aspa.clone(),
        }
    }

    fn apply(&mut self, update: Batch, timing: Timing) -> Result<(), PayloadError> {
        let unknown_aspa_withdrawal = update.items.iter().any(|(a, p)| {
            *a == Action::Withdraw
                && matches!(p, Payload::Aspa(x) if !self.aspas.contains_key(&x.customer.into_u32()))
        });
        if unknown_aspa_withdrawal {
            self.bad_aspa.store(true, Ordering::Relaxed);
            return Err(PayloadError::UnknownWithdraw);
        }
        let mut changed = false;
        if update.reset {
            let before = std::mem::take(&mut self.origins);
            let before_aspas = std::mem::take(&mut self.aspas);
            for (action, payload) in update.items {
                match (action, payload) {
                    (Action::Announce, Payload::Origin(o)) => {
                        self.origins.insert(o);
                    }
                    (Action::Announce, Payload::Aspa(a)) => {
                        self.apply_aspa(Action::Announce, &a);
                    }
                    _ => {}
                }
            }
            changed = before != self.origins || before_aspas != self.aspas;
        } else {
            for (action, payload) in update.items {
                // Router keys are not used.
                changed |= match (action, payload) {
                    (Action::Announce, Payload::Origin(o)) => self.origins.insert(o),
                    (Action::Withdraw, Payload::Origin(o)) => self.origins.remove(&o),
                    (action, Payload::Aspa(a)) => self.apply_aspa(action, &a),
                    _ => false,
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
                aspas = self.aspas.len(),
                "RTR update applied"
            );
            self.publish();
        }
        Ok(())
    }
}

/// True for the error the crate's client reports for a PDU whose layout it cannot decode
/// (as opposed to the connection failing or the cache closing it).
fn undecodable_pdu(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("ASPA")
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
    // 2 (the crate's default, with ASPA) until the cache proves it cannot be read with it.
    let mut version = 2u8;
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
                let mut client = Client::with_initial_version(version, sock, target, state);
                let r = client.run().await;
                state = client.state();
                target = client.into_target();
                if let Err(e) = &r {
                    let bad_aspa = target.bad_aspa.swap(false, Ordering::Relaxed);
                    if version == 2 && (bad_aspa || undecodable_pdu(e)) {
                        warn!(
                            cache = %addr,
                            error = %e,
                            "RTR cache sends version 2 PDUs this client cannot read (ASPA of \
                             an earlier draft?): using RTR version 1 with this cache from now \
                             on; its VRPs are used, its ASPAs are not"
                        );
                        version = 1;
                        state = None;
                        continue;
                    }
                }
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
