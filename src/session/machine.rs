//! The sans-I/O session state machine of one connection (RFC 4271 §8.2.2 OpenSent,
//! OpenConfirm and Established): `Machine::process(input, &mut outputs)` takes what happened
//! (a message, a malformed message, a timer, the connection failing, an operator's command,
//! a dump pass finished, a second connection from the peer) and says what to do (send, arm a
//! timer, start exporting, send the table again, close with or without a NOTIFICATION and a
//! typed reason). It owns the per-case decisions of RFC 4271 §6.8 (collisions) and RFC 4724
//! (a restarting peer's new connection). It does no I/O, keeps no clock and touches no RIB:
//! the peer task (peer.rs) performs the outputs. Idle, Connect and Active — waiting, connecting
//! and back-off — are decided by [`super::fsm::plan`].
//!
//! UPDATEs and the refresh demarcations (End-of-RIB, BoRR, EoRR) do not pass through here:
//! they must reach the RIB in the order they arrived, so the session's reader applies them
//! itself, as [`receive`] classifies them. Everything else the reader gets is an [`Input`].

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::end::{AdminAction, ConnError, EndReason};
use super::fsm::{self, keepalive_interval};
use super::negotiate::{self, Negotiated};
use crate::config::{MaxPrefixAction, PeerConfig, ServerConfig};
use crate::wire::header::{self, MAX_EXTENDED_LEN, MAX_LEN};
use crate::wire::notification::{CeaseSubcode, FsmSubcode};
use crate::wire::update::encode_end_of_rib;
use crate::wire::{
    ByFamily, Family, FamilySet, Message, NotifCode, Notification, Open, RefreshKind, RouteRefresh,
};

/// An operator's or the server's command to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCmd {
    /// Cease with Administrative Shutdown (and this message) and stay down.
    Disable(Option<String>),
    Enable,
    /// Cease with Administrative Reset and reconnect.
    Reset(Option<String>),
    /// Ask the peer to send its routes again (ROUTE-REFRESH).
    RefreshIn,
    /// The peer was removed from the configuration: Cease / Peer De-configured and end.
    Remove,
    /// The peer's session settings changed (reload): Cease / Other Configuration Change and
    /// end; the server starts a task with the new settings.
    Reconfigure,
    /// The server is stopping: Cease / Administrative Shutdown and end.
    Shutdown(Option<String>),
}

impl PeerCmd {
    /// The NOTIFICATION and reason of a command that ends a session; `None` for the
    /// commands that do not (enable, refresh).
    pub fn ending(&self) -> Option<(Notification, EndReason)> {
        let text = |m: &Option<String>| m.as_deref().unwrap_or("").to_owned();
        Some(match self {
            PeerCmd::Enable | PeerCmd::RefreshIn => return None,
            PeerCmd::Disable(m) => (
                Notification::admin_shutdown(&text(m)),
                EndReason::Admin {
                    action: AdminAction::Disable,
                    message: m.clone(),
                },
            ),
            PeerCmd::Reset(m) => (
                Notification::admin_reset(&text(m)),
                EndReason::Admin {
                    action: AdminAction::Reset,
                    message: m.clone(),
                },
            ),
            PeerCmd::Remove => (
                Notification::cease(CeaseSubcode::PeerDeconfigured),
                EndReason::Deconfigured,
            ),
            PeerCmd::Reconfigure => (
                Notification::cease(CeaseSubcode::OtherConfigurationChange),
                EndReason::ConfigChanged,
            ),
            PeerCmd::Shutdown(m) => (
                Notification::admin_shutdown(&text(m)),
                EndReason::ServerShutdown,
            ),
        })
    }
}

/// What happened on or around the connection.
#[derive(Debug)]
pub enum Input {
    /// A decoded message other than an UPDATE or a refresh demarcation (see [`receive`]).
    Message(Message),
    /// What the peer sent could not be decoded and ends the session: send `notification`.
    Malformed {
        notification: Notification,
        fault: String,
    },
    /// The connection failed or the peer closed it.
    Closed(ConnError),
    /// Nothing arrived for the hold time.
    HoldExpired,
    /// Our keepalive interval passed.
    KeepaliveDue,
    /// The peer took nothing we sent for the send hold time (RFC 9687).
    SendHoldExpired,
    Admin(PeerCmd),
    /// One RIB shard finished a table pass to this client for these families.
    DumpDone(FamilySet),
    /// The peer holds `count` prefixes of `family` (accepted and refused).
    PrefixCount(Family, u64),
    /// Another connection from the same peer arrived.
    SecondConnection,
}

/// What to do about a second connection from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Second {
    /// Run the OPEN exchange on both; when both have the peer's identifier, keep the one
    /// [`keep_first`] picks (RFC 4271 §6.8).
    Contend,
    /// Close this connection (an [`Output::Close`] follows) and continue on the new one.
    TakeNew,
    /// Send the new connection this NOTIFICATION and close it; this session stays.
    Refuse(Notification),
}

/// What the peer task must do, in order.
#[derive(Debug)]
pub enum Output {
    /// Write this message (after what is queued).
    Send(Bytes),
    /// Write a KEEPALIVE at the next message boundary, ahead of queued routes.
    Keepalive,
    /// (Re)arm the hold timer with this duration; `None` stops it.
    Hold(Option<Duration>),
    /// Send KEEPALIVEs at this interval; `None` stops them.
    KeepaliveEvery(Option<Duration>),
    /// Accept messages up to this length from now on.
    MaxLen(usize),
    /// The session is Established: register the client with the RIB and start exporting.
    Established(Box<Negotiated>),
    /// The peer asked for `family` again: send it the table.
    Refresh(Family),
    /// Refuse new sessions from this peer for this long (max-prefix "restart").
    HoldOff(Duration),
    /// How to treat the second connection.
    Second(Second),
    /// Send `notification` (if any) at a message boundary, then close; the session ended for
    /// `reason`.
    Close {
        notification: Option<Notification>,
        reason: EndReason,
    },
}

/// The per-connection states this machine runs.
#[derive(Debug)]
enum Phase {
    OpenSent,
    OpenConfirm(Box<Negotiated>),
    Established(Box<Live>),
    Closed,
}

/// Established state.
#[derive(Debug)]
struct Live {
    neg: Negotiated,
    /// Families whose End-of-RIB is still to be sent.
    initial: FamilySet,
    /// Families being sent again on the peer's request (enhanced route refresh).
    refreshing: FamilySet,
    /// Shards that finished the current pass, per family.
    passes: ByFamily<u32>,
    /// A "warn" max-prefix action has been logged.
    warned: bool,
}

/// One connection's session.
#[derive(Debug)]
pub struct Machine {
    phase: Phase,
    ours: Open,
    server: Arc<ServerConfig>,
    peer: Arc<PeerConfig>,
    shards: u32,
    outbound: bool,
}

impl Machine {
    /// A new TCP connection (RFC 4271 §8.2.2 Connect/Active on TcpConnectionConfirmed): send
    /// our OPEN and wait for the peer's with the large initial hold time.
    pub fn start(
        ours: Open,
        server: Arc<ServerConfig>,
        peer: Arc<PeerConfig>,
        shards: usize,
        outbound: bool,
        out: &mut Vec<Output>,
    ) -> Machine {
        let mut b = BytesMut::new();
        ours.encode(&mut b);
        out.push(Output::Send(b.freeze()));
        out.push(Output::Hold(Some(fsm::OPEN_HOLD)));
        Machine {
            phase: Phase::OpenSent,
            ours,
            server,
            peer,
            shards: shards.max(1) as u32,
            outbound,
        }
    }

    /// The RFC 4271 state this connection is in (`Idle` once closed).
    pub fn state(&self) -> fsm::State {
        match self.phase {
            Phase::OpenSent => fsm::State::OpenSent,
            Phase::OpenConfirm(_) => fsm::State::OpenConfirm,
            Phase::Established(_) => fsm::State::Established,
            Phase::Closed => fsm::State::Idle,
        }
    }

    /// We initiated this connection.
    pub fn outbound(&self) -> bool {
        self.outbound
    }

    /// The session parameters, once the peer's OPEN was accepted.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        match &self.phase {
            Phase::OpenConfirm(n) => Some(n),
            Phase::Established(l) => Some(&l.neg),
            _ => None,
        }
    }

    /// Longest message either side may send now.
    pub fn max_len(&self) -> usize {
        match self.negotiated() {
            Some(n) if n.extended_message => MAX_EXTENDED_LEN,
            _ => MAX_LEN,
        }
    }

    fn close(
        &mut self,
        notification: Option<Notification>,
        reason: EndReason,
        out: &mut Vec<Output>,
    ) {
        self.phase = Phase::Closed;
        out.push(Output::Hold(None));
        out.push(Output::KeepaliveEvery(None));
        out.push(Output::Close {
            notification,
            reason,
        });
    }

    fn fsm_error(&mut self, sub: FsmSubcode, got: &Message, out: &mut Vec<Output>) {
        let n = Notification::new(NotifCode::Fsm(sub), Bytes::new());
        let fault = format!("unexpected {:?} in {}", got.kind(), self.state());
        self.close(
            Some(n.clone()),
            EndReason::ProtocolError { sent: n, fault },
            out,
        );
    }

    /// Takes one input; appends what to do to `out`.
    pub fn process(&mut self, input: Input, out: &mut Vec<Output>) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        // What ends a session the same way in every state.
        let input = match input {
            Input::Closed(e) => return self.close(None, EndReason::ConnectionLost(e), out),
            Input::HoldExpired => {
                let n = Notification::new(NotifCode::HoldTimerExpired(0), Bytes::new());
                return self.close(Some(n), EndReason::HoldTimerExpired, out);
            }
            Input::SendHoldExpired => {
                let n = Notification::new(NotifCode::SendHoldTimerExpired(0), Bytes::new());
                return self.close(Some(n), EndReason::SendHoldTimerExpired, out);
            }
            Input::Malformed {
                notification,
                fault,
            } => {
                let reason = EndReason::ProtocolError {
                    sent: notification.clone(),
                    fault,
                };
                return self.close(Some(notification), reason, out);
            }
            Input::Message(Message::Notification(n)) => {
                return self.close(None, EndReason::NotificationReceived(n), out)
            }
            Input::Admin(c) => match c.ending() {
                Some((n, reason)) => return self.close(Some(n), reason, out),
                None => Input::Admin(c),
            },
            other => other,
        };
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::OpenSent => self.open_sent(input, out),
            Phase::OpenConfirm(neg) => self.open_confirm(neg, input, out),
            Phase::Established(live) => self.established(live, input, out),
            Phase::Closed => {}
        }
    }

    fn open_sent(&mut self, input: Input, out: &mut Vec<Output>) {
        self.phase = Phase::OpenSent;
        match input {
            Input::Message(Message::Open(theirs)) => {
                match negotiate::negotiate(&self.server, &self.peer, &self.ours, &theirs) {
                    Ok(neg) => {
                        let mut b = BytesMut::new();
                        header::encode_keepalive(&mut b);
                        out.push(Output::Send(b.freeze()));
                        let hold = (neg.hold_time > 0)
                            .then(|| Duration::from_secs(u64::from(neg.hold_time)));
                        out.push(Output::Hold(hold));
                        out.push(Output::KeepaliveEvery(keepalive_interval(neg.hold_time)));
                        self.phase = Phase::OpenConfirm(Box::new(neg));
                        out.push(Output::MaxLen(self.max_len()));
                    }
                    Err(n) => self.close(Some(n.clone()), EndReason::OpenRefused(n), out),
                }
            }
            Input::Message(m) => self.fsm_error(FsmSubcode::UnexpectedInOpenSent, &m, out),
            Input::SecondConnection => out.push(Output::Second(self.second_before_established())),
            // No keepalives before the OPEN exchange; prefix counts and dumps need a session.
            Input::KeepaliveDue | Input::DumpDone(_) | Input::PrefixCount(..) | Input::Admin(_) => {
            }
            Input::Closed(_)
            | Input::HoldExpired
            | Input::SendHoldExpired
            | Input::Malformed { .. } => {
                unreachable!("handled in process")
            }
        }
    }

    fn open_confirm(&mut self, neg: Box<Negotiated>, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Message(Message::Keepalive) => {
                let neg = *neg;
                out.push(Output::Established(Box::new(neg.clone())));
                self.phase = Phase::Established(Box::new(Live {
                    initial: neg.families,
                    neg,
                    refreshing: FamilySet::EMPTY,
                    passes: ByFamily::default(),
                    warned: false,
                }));
            }
            Input::Message(m) => {
                self.phase = Phase::OpenConfirm(neg);
                self.fsm_error(FsmSubcode::UnexpectedInOpenConfirm, &m, out)
            }
            Input::KeepaliveDue => {
                self.phase = Phase::OpenConfirm(neg);
                out.push(Output::Keepalive);
            }
            Input::SecondConnection => {
                self.phase = Phase::OpenConfirm(neg);
                out.push(Output::Second(self.second_before_established()));
            }
            _ => self.phase = Phase::OpenConfirm(neg),
        }
    }

    fn second_before_established(&self) -> Second {
        second_connection(self.outbound)
    }

    fn established(&mut self, mut live: Box<Live>, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::Message(Message::Keepalive) | Input::Message(Message::Update(_)) => {}
            Input::Message(Message::RouteRefresh(rr)) => {
                if rr.kind == RefreshKind::Request {
                    if let Some(f) = rr
                        .afi_safi
                        .family()
                        .filter(|f| live.neg.families.contains(*f))
                    {
                        if live.neg.enhanced_route_refresh {
                            out.push(Output::Send(refresh(f, RefreshKind::Begin)));
                        }
                        live.refreshing.insert(f);
                        out.push(Output::Refresh(f));
                    }
                }
            }
            Input::Message(m) => {
                self.phase = Phase::Established(live);
                return self.fsm_error(FsmSubcode::UnexpectedInEstablished, &m, out);
            }
            Input::KeepaliveDue => out.push(Output::Keepalive),
            Input::Admin(PeerCmd::RefreshIn) => {
                if live.neg.route_refresh {
                    for f in live.neg.families.iter() {
                        out.push(Output::Send(refresh(f, RefreshKind::Request)));
                    }
                }
            }
            Input::Admin(_) => {}
            Input::DumpDone(families) => {
                for f in families.iter() {
                    let n = live.passes.get_mut(f);
                    *n += 1;
                    if *n < self.shards {
                        continue;
                    }
                    *n = 0;
                    if live.initial.contains(f) {
                        live.initial = live.initial.without(f);
                        let mut b = BytesMut::new();
                        encode_end_of_rib(f, &mut b);
                        out.push(Output::Send(b.freeze()));
                    } else if live.refreshing.contains(f) {
                        live.refreshing = live.refreshing.without(f);
                        if live.neg.enhanced_route_refresh {
                            out.push(Output::Send(refresh(f, RefreshKind::End)));
                        }
                    }
                }
            }
            Input::PrefixCount(f, count) => {
                let limit = self
                    .peer
                    .max_prefixes
                    .and_then(|mp| mp.limit_for(f).map(|l| (mp.action, l)));
                if let Some((action, limit)) = limit.filter(|(_, l)| count > u64::from(*l)) {
                    match action {
                        MaxPrefixAction::Warn => live.warned = true,
                        MaxPrefixAction::Reset | MaxPrefixAction::Restart(_) => {
                            if let MaxPrefixAction::Restart(after) = action {
                                out.push(Output::HoldOff(after));
                            }
                            self.phase = Phase::Established(live);
                            let n = Notification::max_prefixes(f.afi_safi(), limit);
                            return self.close(
                                Some(n),
                                EndReason::MaxPrefixes { family: f, limit },
                                out,
                            );
                        }
                    }
                }
            }
            Input::SecondConnection => {
                // RFC 4724 §4.2: a new connection from a peer that negotiated graceful
                // restart means it restarted; the old session goes, its routes stay stale.
                // Otherwise RFC 4271 §6.8: the Established session stays and the new
                // connection is refused.
                if self.peer.graceful_restart && live.neg.graceful_restart.is_some() {
                    out.push(Output::Second(Second::TakeNew));
                    self.phase = Phase::Established(live);
                    return self.close(None, EndReason::Replaced, out);
                }
                out.push(Output::Second(Second::Refuse(Notification::cease(
                    CeaseSubcode::ConnectionCollision,
                ))));
            }
            Input::Closed(_)
            | Input::HoldExpired
            | Input::SendHoldExpired
            | Input::Malformed { .. } => {
                unreachable!("handled in process")
            }
        }
        self.phase = Phase::Established(live);
    }

    /// Whether the "warn" max-prefix action has fired this session (log it once).
    pub fn warned_max_prefix(&self) -> bool {
        matches!(&self.phase, Phase::Established(l) if l.warned)
    }
}

fn refresh(f: Family, kind: RefreshKind) -> Bytes {
    let mut b = BytesMut::new();
    RouteRefresh {
        afi_safi: f.afi_safi(),
        kind,
    }
    .encode(&mut b);
    b.freeze()
}

/// Before Established, a second connection from the peer: if we initiated the first, both
/// run and the identifiers decide (RFC 4271 §6.8); two connections the peer initiated mean it
/// gave up on the older one, which goes.
pub fn second_connection(first_outbound: bool) -> Second {
    if first_outbound {
        Second::Contend
    } else {
        Second::TakeNew
    }
}

/// Which of two connections that both completed the OPEN exchange survives a collision
/// (RFC 4271 §6.8): the one initiated by the speaker with the higher BGP identifier. True
/// to keep the first (`first_outbound` says whether we initiated it).
pub fn keep_first(local_id: u32, remote_id: u32, first_outbound: bool) -> bool {
    match fsm::resolve_collision(local_id, remote_id) {
        fsm::Survivor::Outbound => first_outbound,
        fsm::Survivor::Inbound => !first_outbound,
    }
}

/// How the Established reader handles a decoded message from the peer.
#[derive(Debug)]
pub enum Received {
    /// Apply these route changes to the RIB, in order.
    Routes(crate::wire::Update),
    /// RFC 7313 BoRR: the family's paths not sent again before its EoRR are stale.
    MarkStale(Family),
    /// RFC 7313 EoRR: remove what was not sent again.
    EndOfRefresh(Family),
    /// Nothing to do (a keepalive, or a refresh message of a family not in the session).
    Nothing,
    /// For the state machine.
    Session(Input),
}

/// Classifies what the peer sent while Established; `families` are those still in use.
pub fn receive(msg: Message, families: FamilySet) -> Received {
    match msg {
        Message::Update(u) => Received::Routes(u),
        Message::Keepalive => Received::Nothing,
        Message::RouteRefresh(rr) => {
            let Some(f) = rr.afi_safi.family().filter(|f| families.contains(*f)) else {
                return Received::Nothing;
            };
            match rr.kind {
                RefreshKind::Request => {
                    Received::Session(Input::Message(Message::RouteRefresh(rr)))
                }
                RefreshKind::Begin => Received::MarkStale(f),
                RefreshKind::End => Received::EndOfRefresh(f),
                RefreshKind::Other(_) => Received::Nothing,
            }
        }
        m @ (Message::Open(_) | Message::Notification(_)) => Received::Session(Input::Message(m)),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
