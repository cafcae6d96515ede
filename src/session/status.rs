//! What the rest of peerex may know about a peer's session: its FSM state, uptime, last
//! error, negotiated parameters and message counters. Written by the peer task, read by
//! anyone (control socket, looking glass, metrics) without locking the task.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use super::end::EndReason;
use super::fsm::State;
use super::negotiate::Negotiated;

/// Message counters of one peer (since the process started).
#[derive(Debug, Default)]
pub struct Counters {
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub updates_in: AtomicU64,
    pub updates_out: AtomicU64,
    pub prefixes_announced_in: AtomicU64,
    pub prefixes_withdrawn_in: AtomicU64,
    pub notifications_in: AtomicU64,
    /// UPDATEs RFC 7606 treated as withdraw, and the prefixes they announced (BMP
    /// statistics 11 and 12).
    pub updates_treated_as_withdraw: AtomicU64,
    pub prefixes_treated_as_withdraw: AtomicU64,
    pub notifications_out: AtomicU64,
    pub established_transitions: AtomicU64,
    /// Sessions (and attempts) ended, per reason ([`EndReason::index`]).
    pub ends: [AtomicU64; EndReason::LABELS.len()],
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Details that change only at state transitions.
#[derive(Debug, Default, Clone)]
pub struct Details {
    /// When the session reached Established (monotonic, for uptime) and the wall clock then.
    pub since: Option<(Instant, SystemTime)>,
    pub negotiated: Option<Negotiated>,
    /// Why the last session (or attempt) ended.
    pub last_error: Option<EndReason>,
    /// Remote address and port of the current connection.
    pub remote: Option<std::net::SocketAddr>,
    /// After a loss with long-lived graceful restart (RFC 9494): per family, when its
    /// long-lived stale routes expire (unless the peer is back and refreshes them first).
    pub llgr_until: Vec<(crate::wire::Family, SystemTime)>,
    /// The current session's local end and OPENs (for BMP's Peer Up); `None` when down.
    pub handshake: Option<Arc<Handshake>>,
}

/// How an Established session began, as BMP's Peer Up shows it (RFC 7854 §4.10).
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// Our end of the connection (the remote end is `Details::remote`); unspecified if the
    /// socket could not tell.
    pub local: Option<std::net::SocketAddr>,
    /// The OPEN we sent and the one we received, each a whole BGP message.
    pub sent_open: bytes::Bytes,
    pub received_open: bytes::Bytes,
}

#[derive(Debug, Default)]
pub struct PeerStatus {
    state: AtomicU8,
    details: Mutex<Details>,
    pub counters: Counters,
}

impl PeerStatus {
    pub fn new() -> Arc<Self> {
        Arc::new(PeerStatus::default())
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    pub fn details(&self) -> Details {
        self.details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Details)) {
        f(&mut self.details.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Seconds in Established, if established.
    pub fn uptime(&self) -> Option<u64> {
        if self.state() != State::Established {
            return None;
        }
        self.details().since.map(|(t, _)| t.elapsed().as_secs())
    }
}
