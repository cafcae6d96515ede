//! One peer's task: connections (passive, active with back-off, collisions), the OPEN
//! exchange, and the Established session — a reader task that decodes and feeds the RIB, and
//! this task, which owns the socket's write side, the timers and the out-queue.
//!
//! Keepalives are never behind routes: they go out at the next message boundary, and large
//! out-queue items are written in message-aligned chunks. A reader blocked by RIB
//! backpressure does not count against the peer's hold timer (we are the ones not reading).
//! A peer that stops reading is dropped by the RFC 9687 send hold timer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info, warn, Instrument};

use super::framing::{FrameError, FrameReader};
use super::fsm::{self, State, Survivor};
use super::negotiate::{self, Negotiated};
use super::routes::Importer;
use super::sockopt;
use super::status::{Counters, PeerStatus};
use super::writer::Outbox;
use crate::config::{MaxPrefixAction, PeerConfig, RoleCheck, ServerConfig};
use crate::rib::{ClientInfo, OutItem, OutQueue, PeerId, Rib, ShardMsg};
use crate::wire::header::{self, HEADER_LEN, MAX_EXTENDED_LEN, MAX_LEN};
use crate::wire::notification::{CeaseSubcode, FsmSubcode};
use crate::wire::update::encode_end_of_rib;
use crate::wire::{
    Action, ByFamily, Family, FamilySet, Message, NotifCode, Notification, Open, ParseCtx,
    RefreshKind, RouteRefresh,
};

/// Commands to a peer task.
#[derive(Debug, Clone)]
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

/// What the server keeps of a running peer.
#[derive(Debug)]
pub struct PeerHandle {
    pub id: PeerId,
    pub config: Arc<PeerConfig>,
    pub status: Arc<PeerStatus>,
    pub cmd: mpsc::Sender<PeerCmd>,
    inbound: mpsc::Sender<TcpStream>,
    pub task: tokio::task::JoinHandle<()>,
}

impl PeerHandle {
    /// Hands an accepted connection to the peer; false if it cannot take one now.
    pub fn offer(&self, s: TcpStream) -> bool {
        self.inbound.try_send(s).is_ok()
    }
}

/// Everything a peer task needs.
pub struct PeerSetup {
    pub id: PeerId,
    pub config: Arc<PeerConfig>,
    pub server: Arc<ServerConfig>,
    pub rib: Arc<Rib>,
    /// Out-queue high mark in bytes.
    pub queue_high: usize,
}

/// Starts the task of one peer.
pub fn spawn(setup: PeerSetup) -> PeerHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let (in_tx, in_rx) = mpsc::channel(2);
    let status = PeerStatus::new();
    let id = setup.id;
    let config = setup.config.clone();
    let span = tracing::info_span!("peer", peer = %config.name, addr = %config.address);
    let peer = Peer {
        ours: negotiate::our_open(&setup.server, &setup.config),
        disabled: setup.config.disabled,
        id,
        cfg: setup.config,
        server: setup.server,
        rib: setup.rib,
        queue_high: setup.queue_high,
        status: status.clone(),
        cmd_rx,
        inbound_rx: in_rx,
        failures: 0,
        next_conn: None,
        hold_off_until: None,
        stale: false,
        stop: false,
    };
    let task = tokio::spawn(peer.run().instrument(span));
    PeerHandle {
        id,
        config,
        status,
        cmd: cmd_tx,
        inbound: in_tx,
        task,
    }
}

struct Peer {
    id: PeerId,
    cfg: Arc<PeerConfig>,
    server: Arc<ServerConfig>,
    rib: Arc<Rib>,
    queue_high: usize,
    status: Arc<PeerStatus>,
    cmd_rx: mpsc::Receiver<PeerCmd>,
    inbound_rx: mpsc::Receiver<TcpStream>,
    ours: Open,
    disabled: bool,
    failures: u32,
    /// A connection that arrived while the previous session was ending.
    next_conn: Option<TcpStream>,
    /// No session before this instant (max-prefix "restart" action).
    hold_off_until: Option<Instant>,
    /// The RIB holds stale paths of this peer (graceful restart).
    stale: bool,
    stop: bool,
}

/// A session that completed the OPEN exchange.
struct Est {
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    neg: Negotiated,
    remote: SocketAddr,
    outbound: bool,
}

/// How an Established session ended.
enum End {
    /// We sent this NOTIFICATION.
    Sent(Notification),
    /// The peer sent this NOTIFICATION.
    Received(Notification),
    /// The connection failed or closed.
    Lost(String),
    /// A new connection from the peer replaced this session.
    Replaced(TcpStream),
}

fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

async fn send_notification(w: &mut OwnedWriteHalf, n: &Notification, max_len: usize) {
    let mut b = BytesMut::new();
    n.encode(max_len, &mut b);
    let _ = tokio::time::timeout(Duration::from_secs(2), w.write_all(&b)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
}

/// The OPEN exchange on one connection, up to OpenConfirm completed.
async fn open_phase(
    stream: TcpStream,
    outbound: bool,
    cfg: Arc<PeerConfig>,
    server: Arc<ServerConfig>,
    ours: Open,
    status: Arc<PeerStatus>,
) -> Result<Est, String> {
    let remote = stream.peer_addr().map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new(rd);
    status.set_state(State::OpenSent);
    let mut b = BytesMut::new();
    ours.encode(&mut b);
    wr.write_all(&b)
        .await
        .map_err(|e| format!("sending OPEN: {e}"))?;
    Counters::add(&status.counters.messages_out, 1);
    let ctx = ParseCtx::new();
    let frame = match tokio::time::timeout(fsm::OPEN_HOLD, reader.next()).await {
        Err(_) => {
            let n = Notification::new(NotifCode::HoldTimerExpired(0), Bytes::new());
            send_notification(&mut wr, &n, MAX_LEN).await;
            return Err("no OPEN within the hold time".into());
        }
        Ok(Err(FrameError::Header(n))) => {
            send_notification(&mut wr, &n, MAX_LEN).await;
            return Err(format!("bad message header: {n}"));
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(f)) => f,
    };
    Counters::add(&status.counters.messages_in, 1);
    let theirs = match Message::decode(frame, &ctx) {
        Ok(Message::Open(o)) => o,
        Ok(Message::Notification(n)) => {
            Counters::add(&status.counters.notifications_in, 1);
            return Err(format!("received NOTIFICATION {n}"));
        }
        Ok(other) => {
            let n = Notification::new(
                NotifCode::Fsm(FsmSubcode::UnexpectedInOpenSent),
                Bytes::new(),
            );
            send_notification(&mut wr, &n, MAX_LEN).await;
            return Err(format!("expected OPEN, got {:?}", other.kind()));
        }
        Err(e) => {
            send_notification(&mut wr, &e.notification, MAX_LEN).await;
            return Err(format!("bad OPEN: {e}"));
        }
    };
    let neg = match negotiate::negotiate(&server, &cfg, &ours, &theirs) {
        Ok(n) => n,
        Err(n) => {
            send_notification(&mut wr, &n, MAX_LEN).await;
            Counters::add(&status.counters.notifications_out, 1);
            return Err(format!("OPEN refused: {n}"));
        }
    };
    let mut b = BytesMut::new();
    header::encode_keepalive(&mut b);
    wr.write_all(&b)
        .await
        .map_err(|e| format!("sending KEEPALIVE: {e}"))?;
    Counters::add(&status.counters.messages_out, 1);
    status.set_state(State::OpenConfirm);
    let wait = if neg.hold_time > 0 {
        Duration::from_secs(u64::from(neg.hold_time))
    } else {
        fsm::OPEN_HOLD
    };
    let max_len = if neg.extended_message {
        MAX_EXTENDED_LEN
    } else {
        MAX_LEN
    };
    reader.set_max_len(max_len);
    {
        let frame = match tokio::time::timeout(wait, reader.next()).await {
            Err(_) => {
                let n = Notification::new(NotifCode::HoldTimerExpired(0), Bytes::new());
                send_notification(&mut wr, &n, max_len).await;
                return Err("hold timer expired in OpenConfirm".into());
            }
            Ok(Err(FrameError::Header(n))) => {
                send_notification(&mut wr, &n, max_len).await;
                return Err(format!("bad message header: {n}"));
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(f)) => f,
        };
        Counters::add(&status.counters.messages_in, 1);
        match Message::decode(frame, &neg.rx) {
            Ok(Message::Keepalive) => {}
            Ok(Message::Notification(n)) => {
                Counters::add(&status.counters.notifications_in, 1);
                return Err(format!("received NOTIFICATION {n}"));
            }
            Ok(other) => {
                let n = Notification::new(
                    NotifCode::Fsm(FsmSubcode::UnexpectedInOpenConfirm),
                    Bytes::new(),
                );
                send_notification(&mut wr, &n, max_len).await;
                return Err(format!("expected KEEPALIVE, got {:?}", other.kind()));
            }
            Err(e) => {
                send_notification(&mut wr, &e.notification, max_len).await;
                return Err(format!("bad message in OpenConfirm: {e}"));
            }
        }
    }
    Ok(Est {
        reader,
        writer: wr,
        neg,
        remote,
        outbound,
    })
}

/// Events from the reader task to the session loop.
enum Event {
    HoldExpired,
    Closed(String),
    Send(Notification, String),
    Received(Notification),
    /// The peer asked for `family` again.
    Refresh(Family),
    MaxPrefix(Family, u64),
}

/// How long stale paths wait for a restarted peer's End-of-RIB (RFC 4724 "stale timer").
const STALE_TIME: Duration = Duration::from_secs(360);

type OpenFut = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Est, String>> + Send>>;

impl Peer {
    async fn run(mut self) {
        info!(passive = self.cfg.passive, "peer configured");
        loop {
            if self.stop {
                self.status.set_state(State::Idle);
                return;
            }
            if self.disabled {
                self.status.set_state(State::Disabled);
                self.wait_enabled().await;
                continue;
            }
            if let Some(t) = self.hold_off_until {
                if Instant::now() < t {
                    self.status.set_state(State::Idle);
                    self.idle_until(t).await;
                    continue;
                }
                self.hold_off_until = None;
            }
            let Some((stream, outbound)) = self.connection().await else {
                continue;
            };
            let est = match self.open_with_collisions(stream, outbound).await {
                Ok(e) => e,
                Err(why) => {
                    info!(error = %why, "session not established");
                    self.status.update(|d| d.last_error = Some(why));
                    self.failures = self.failures.saturating_add(1);
                    self.status.set_state(State::Idle);
                    if !self.cfg.passive {
                        let d = fsm::backoff(self.cfg.connect_retry, self.failures, jitter());
                        self.idle_until(Instant::now() + d).await;
                    }
                    continue;
                }
            };
            self.failures = 0;
            self.established(est).await;
        }
    }

    /// Handles a command outside Established; returns false when the task should end.
    fn command_idle(&mut self, c: PeerCmd) {
        match c {
            PeerCmd::Disable(_) => self.disabled = true,
            PeerCmd::Enable => {
                self.disabled = false;
                self.hold_off_until = None;
            }
            PeerCmd::Reset(_) | PeerCmd::RefreshIn => {}
            PeerCmd::Remove | PeerCmd::Reconfigure | PeerCmd::Shutdown(_) => self.stop = true,
        }
    }

    async fn wait_enabled(&mut self) {
        tokio::select! {
            c = self.cmd_rx.recv() => match c {
                Some(c) => self.command_idle(c),
                None => self.stop = true,
            },
            s = self.inbound_rx.recv() => {
                // Refused while disabled.
                drop(s);
            }
        }
    }

    async fn idle_until(&mut self, t: Instant) {
        let deadline = tokio::time::Instant::from_std(t);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                c = self.cmd_rx.recv() => match c {
                    Some(c) => { self.command_idle(c); if self.stop || self.disabled || self.hold_off_until.is_none() && matches!(self.status.state(), State::Idle) { return; } }
                    None => { self.stop = true; return; }
                },
                s = self.inbound_rx.recv(), if self.cfg.passive => {
                    if let Some(s) = s { self.next_conn = Some(s); return; }
                }
            }
        }
    }

    /// Waits for or makes a connection; `None` when a command changed the plan.
    async fn connection(&mut self) -> Option<(TcpStream, bool)> {
        if let Some(s) = self.next_conn.take() {
            return Some((s, false));
        }
        if self.cfg.passive {
            self.status.set_state(State::Active);
            tokio::select! {
                s = self.inbound_rx.recv() => s.map(|s| (s, false)),
                c = self.cmd_rx.recv() => { match c { Some(c) => self.command_idle(c), None => self.stop = true } None }
            }
        } else {
            self.status.set_state(State::Connect);
            let peer = SocketAddr::new(self.cfg.address, self.cfg.port);
            let md5 = self.cfg.md5_password.clone();
            let gtsm = self.cfg.ttl_security.then_some(1u8);
            let connect = sockopt::connect(
                peer,
                self.cfg.local_address,
                md5.as_deref().map(str::as_bytes),
                gtsm,
                Duration::from_secs(10),
            );
            tokio::select! {
                r = connect => match r {
                    Ok(s) => Some((s, true)),
                    Err(e) => {
                        debug!(error = %e, "connect failed");
                        self.status.update(|d| d.last_error = Some(format!("connect: {e}")));
                        self.failures = self.failures.saturating_add(1);
                        self.status.set_state(State::Active);
                        let d = fsm::backoff(self.cfg.connect_retry, self.failures, jitter());
                        let deadline = tokio::time::Instant::now() + d;
                        tokio::select! {
                            _ = tokio::time::sleep_until(deadline) => None,
                            s = self.inbound_rx.recv() => s.map(|s| (s, false)),
                            c = self.cmd_rx.recv() => { match c { Some(c) => self.command_idle(c), None => self.stop = true } None }
                        }
                    }
                },
                s = self.inbound_rx.recv() => s.map(|s| (s, false)),
                c = self.cmd_rx.recv() => { match c { Some(c) => self.command_idle(c), None => self.stop = true } None }
            }
        }
    }

    fn open_fut(&self, s: TcpStream, outbound: bool) -> OpenFut {
        Box::pin(open_phase(
            s,
            outbound,
            self.cfg.clone(),
            self.server.clone(),
            self.ours.clone(),
            self.status.clone(),
        ))
    }

    /// Runs the OPEN exchange; a second connection from the peer meanwhile is a collision,
    /// resolved by BGP identifier once both have completed (RFC 4271 §6.8).
    async fn open_with_collisions(
        &mut self,
        first: TcpStream,
        outbound: bool,
    ) -> Result<Est, String> {
        let mut a = self.open_fut(first, outbound);
        let mut b: Option<OpenFut> = None;
        let mut ra: Option<Result<Est, String>> = None;
        let mut rb: Option<Result<Est, String>> = None;
        loop {
            let b_pending = b.is_some() && rb.is_none();
            if ra.is_some() && !b_pending {
                break;
            }
            tokio::select! {
                r = &mut a, if ra.is_none() => ra = Some(r),
                r = async { match b.as_mut() { Some(f) => f.await, None => std::future::pending().await } }, if b_pending => rb = Some(r),
                s = self.inbound_rx.recv(), if b.is_none() => {
                    let Some(s) = s else { continue };
                    if outbound {
                        b = Some(self.open_fut(s, false));
                    } else {
                        // A newer connection from the same passive peer replaces the older.
                        a = self.open_fut(s, false);
                        ra = None;
                    }
                }
                c = self.cmd_rx.recv() => match c {
                    Some(c) => { self.command_idle(c); if self.stop || self.disabled { return Err("stopped by command".into()); } }
                    None => { self.stop = true; return Err("stopped".into()); }
                },
            }
        }
        match (ra, rb) {
            (Some(Ok(x)), Some(Ok(y))) => {
                let local = u32::from(self.server.router_id);
                let remote = u32::from(x.neg.peer_id);
                let (keep, mut drop_it) = match fsm::resolve_collision(local, remote) {
                    Survivor::Outbound if x.outbound => (x, y),
                    Survivor::Outbound => (y, x),
                    Survivor::Inbound if x.outbound => (y, x),
                    Survivor::Inbound => (x, y),
                };
                info!("connection collision resolved by BGP identifier");
                let n = Notification::cease(CeaseSubcode::ConnectionCollision);
                send_notification(&mut drop_it.writer, &n, MAX_LEN).await;
                Ok(keep)
            }
            (Some(Ok(x)), _) | (_, Some(Ok(x))) => Ok(x),
            (Some(Err(e)), _) => Err(e),
            (None, Some(Err(e))) => Err(e),
            (None, None) => Err("no connection".into()),
        }
    }

    /// Runs an Established session to its end.
    async fn established(&mut self, est: Est) {
        let Est {
            reader,
            mut writer,
            neg,
            remote,
            ..
        } = est;
        let max_len = if neg.extended_message {
            MAX_EXTENDED_LEN
        } else {
            MAX_LEN
        };
        info!(%remote, hold = neg.hold_time, families = ?neg.families, "session established");
        self.status.set_state(State::Established);
        Counters::add(&self.status.counters.established_transitions, 1);
        self.status.update(|d| {
            d.since = Some((Instant::now(), SystemTime::now()));
            d.negotiated = Some(neg.clone());
            d.remote = Some(remote);
        });
        // Graceful restart (RFC 4724 §4.2): stale paths from before are kept only in the
        // families the peer lists again with its forwarding state preserved (F bit); this
        // session refreshes them and its End-of-RIB removes the rest. In every other family
        // they go at once.
        if self.stale {
            let id = self.id;
            let kept = neg
                .graceful_restart
                .as_ref()
                .map_or(FamilySet::EMPTY, |g| g.forwarding_preserved);
            let dropped: Vec<Family> = Family::ALL
                .into_iter()
                .filter(|f| !kept.contains(*f))
                .collect();
            for &f in &dropped {
                self.rib
                    .broadcast(|| ShardMsg::EndOfRib {
                        peer: id,
                        family: f,
                    })
                    .await;
            }
            if !dropped.is_empty() {
                info!(families = ?dropped, "graceful restart: forwarding state not preserved, stale routes removed");
            }
            if !kept.is_empty() {
                // Stale paths wait for the peer's End-of-RIB, at most this long.
                let after = STALE_TIME;
                self.rib
                    .broadcast(|| ShardMsg::StaleTimer { peer: id, after })
                    .await;
            }
            self.stale = false;
        }
        let queue: Arc<OutQueue> = self.rib.new_queue(self.id, self.queue_high);
        let roles = self.cfg.role_check != RoleCheck::Off && neg.ebgp;
        let info = Arc::new(ClientInfo {
            peer: self.id,
            asn: neg.peer_asn,
            router_id: u32::from(neg.peer_id),
            families: neg.families,
            tx: neg.tx,
            add_path_max: self.cfg.add_path_max,
            add_otc: roles,
            queue: queue.clone(),
        });
        self.rib
            .broadcast(|| ShardMsg::ClientUp(info.clone()))
            .await;

        let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(8);
        let ev_tx_check = ev_tx.clone();
        let mut max_warned = false;
        let reader_task = tokio::spawn(
            reader_loop(
                reader,
                neg.clone(),
                self.id,
                self.rib.clone(),
                self.status.clone(),
                self.cfg.clone(),
                roles,
                ev_tx,
            )
            .in_current_span(),
        );

        let shards = self.rib.shards() as u32;
        let keepalive = fsm::keepalive_interval(neg.hold_time);
        let send_hold = fsm::send_hold(neg.hold_time, self.cfg.send_hold_time);
        let mut ka = tokio::time::interval(keepalive.unwrap_or(Duration::from_secs(3600)));
        ka.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ka.tick().await;
        let mut check = tokio::time::interval(Duration::from_millis(500));
        let mut outbox = Outbox::new();
        let mut ka_due = false;
        let mut last_progress = Instant::now();
        let mut markers: ByFamily<u32> = ByFamily::default();
        let mut initial: FamilySet = neg.families;
        let mut refreshing = FamilySet::EMPTY;
        let mut items = Vec::new();
        let end: End = loop {
            // A keepalive goes at the next message boundary, ahead of what waits.
            if ka_due && outbox.at_boundary() {
                let mut b = BytesMut::new();
                header::encode_keepalive(&mut b);
                outbox.push_front(b.freeze());
                ka_due = false;
                Counters::add(&self.status.counters.messages_out, 1);
            }
            let writing = !outbox.is_empty();
            tokio::select! {
                biased;
                ev = ev_rx.recv() => match ev {
                    None | Some(Event::Closed(_)) => {
                        let why = match ev { Some(Event::Closed(w)) => w, _ => "reader ended".into() };
                        break End::Lost(why);
                    }
                    Some(Event::HoldExpired) => break End::Sent(Notification::new(NotifCode::HoldTimerExpired(0), Bytes::new())),
                    Some(Event::Send(n, why)) => { warn!(error = %why, "closing session"); break End::Sent(n); }
                    Some(Event::Received(n)) => break End::Received(n),
                    Some(Event::MaxPrefix(f, count)) => {
                        let Some(mp) = self.cfg.max_prefixes else { continue };
                        let Some(limit) = mp.limit_for(f) else { continue };
                        if max_warned && mp.action == MaxPrefixAction::Warn {
                            continue;
                        }
                        max_warned = true;
                        warn!(family = %f, count, limit, "maximum prefixes exceeded");
                        match mp.action {
                            MaxPrefixAction::Warn => continue,
                            MaxPrefixAction::Reset => {}
                            MaxPrefixAction::Restart(after) => self.hold_off_until = Some(Instant::now() + after),
                        }
                        break End::Sent(Notification::max_prefixes(f.afi_safi(), limit));
                    }
                    Some(Event::Refresh(f)) => {
                        info!(family = %f, enhanced = neg.enhanced_route_refresh, "route refresh requested by the peer; sending the table again");
                        if neg.enhanced_route_refresh {
                            let mut b = BytesMut::new();
                            RouteRefresh { afi_safi: f.afi_safi(), kind: RefreshKind::Begin }.encode(&mut b);
                            outbox.push(b.freeze(), 0);
                        }
                        refreshing.insert(f);
                        let id = self.id;
                        self.rib.broadcast(|| ShardMsg::Refresh { peer: id, family: f }).await;
                    }
                },
                c = self.cmd_rx.recv() => match c {
                    None | Some(PeerCmd::Shutdown(_)) | Some(PeerCmd::Remove) | Some(PeerCmd::Reconfigure) | Some(PeerCmd::Disable(_)) | Some(PeerCmd::Reset(_)) => {
                        let n = match &c {
                            Some(PeerCmd::Remove) => Notification::cease(CeaseSubcode::PeerDeconfigured),
                            Some(PeerCmd::Reconfigure) => Notification::cease(CeaseSubcode::OtherConfigurationChange),
                            Some(PeerCmd::Reset(m)) => Notification::admin_reset(m.as_deref().unwrap_or("")),
                            Some(PeerCmd::Disable(m)) | Some(PeerCmd::Shutdown(m)) => Notification::admin_shutdown(m.as_deref().unwrap_or("")),
                            _ => Notification::cease(CeaseSubcode::AdministrativeShutdown),
                        };
                        match c {
                            Some(PeerCmd::Disable(_)) => self.disabled = true,
                            Some(PeerCmd::Reset(_)) => {}
                            _ => self.stop = true,
                        }
                        break End::Sent(n);
                    }
                    Some(PeerCmd::Enable) => {}
                    Some(PeerCmd::RefreshIn) => {
                        if neg.route_refresh {
                            for f in neg.families.iter() {
                                let mut b = BytesMut::new();
                                RouteRefresh { afi_safi: f.afi_safi(), kind: RefreshKind::Request }.encode(&mut b);
                                outbox.push(b.freeze(), 0);
                                Counters::add(&self.status.counters.messages_out, 1);
                            }
                        }
                    }
                },
                s = self.inbound_rx.recv() => {
                    if let Some(s) = s {
                        info!("new connection from the peer replaces the established session");
                        break End::Replaced(s);
                    }
                }
                _ = ka.tick(), if keepalive.is_some() => ka_due = true,
                _ = check.tick() => {
                    if writing && last_progress.elapsed() > send_hold {
                        break End::Sent(Notification::new(NotifCode::SendHoldTimerExpired(0), Bytes::new()));
                    }
                    // The reader checks after each UPDATE, but the shards count a batch only
                    // once they have applied it: the last UPDATE of a burst is caught here.
                    if let Some(mp) = self.cfg.max_prefixes {
                        for f in neg.families.iter() {
                            let (acc, rej) = self.rib.counters().paths(self.id, f);
                            if mp.limit_for(f).is_some_and(|l| acc + rej > u64::from(l)) {
                                let _ = ev_tx_check.try_send(Event::MaxPrefix(f, acc + rej));
                                break;
                            }
                        }
                    }
                }
                r = async {
                    let slices = outbox.slices();
                    writer.write_vectored(&slices).await
                }, if writing => match r {
                    Ok(0) => break End::Lost("connection closed while writing".into()),
                    Ok(n) => {
                        last_progress = Instant::now();
                        outbox.advance(n, &queue);
                    }
                    Err(e) => break End::Lost(format!("write: {e}")),
                },
                _ = queue.pop_all(&mut items, crate::rib::outq::READ_BUDGET), if !writing => {
                    last_progress = Instant::now();
                    for item in items.drain(..) {
                        match item {
                            OutItem::Updates(b) | OutItem::Shared(b) if b.is_empty() => {}
                            OutItem::Updates(b) => {
                                let (msgs, updates) = split_messages(b, true, &mut outbox);
                                Counters::add(&self.status.counters.messages_out, msgs);
                                Counters::add(&self.status.counters.updates_out, updates);
                            }
                            OutItem::Shared(b) => {
                                let (msgs, updates) = split_messages(b, false, &mut outbox);
                                Counters::add(&self.status.counters.messages_out, msgs);
                                Counters::add(&self.status.counters.updates_out, updates);
                            }
                            OutItem::Attach { .. } => {}
                            OutItem::DumpDone { families, .. } => {
                                for f in families.iter() {
                                    let m = markers.get_mut(f);
                                    *m += 1;
                                    if *m < shards { continue; }
                                    *m = 0;
                                    let mut b = BytesMut::new();
                                    if initial.contains(f) {
                                        encode_end_of_rib(f, &mut b);
                                        initial = initial.without(f);
                                        debug!(family = %f, "End-of-RIB sent");
                                    } else if refreshing.contains(f) {
                                        refreshing = refreshing.without(f);
                                        if neg.enhanced_route_refresh {
                                            RouteRefresh { afi_safi: f.afi_safi(), kind: RefreshKind::End }.encode(&mut b);
                                        }
                                    }
                                    if !b.is_empty() {
                                        Counters::add(&self.status.counters.messages_out, 1);
                                        outbox.push(b.freeze(), 0);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        reader_task.abort();
        queue.close();
        let gr = neg.graceful_restart.clone();
        let (why, keep_stale) = match end {
            End::Sent(n) => {
                // Send the NOTIFICATION at a message boundary: finish the message in flight.
                if let Some(rest) = outbox.rest_of_front() {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), writer.write_all(&rest)).await;
                }
                Counters::add(&self.status.counters.notifications_out, 1);
                send_notification(&mut writer, &n, max_len).await;
                (format!("sent NOTIFICATION {n}"), false)
            }
            End::Received(n) => {
                Counters::add(&self.status.counters.notifications_in, 1);
                (format!("received NOTIFICATION {n}"), false)
            }
            End::Lost(why) => (why, true),
            End::Replaced(s) => {
                self.next_conn = Some(s);
                ("replaced by a new connection from the peer".into(), true)
            }
        };
        info!(reason = %why, "session down");
        // RFC 4724 §4.2: only the families the peer's capability listed are kept as stale.
        let stale_for = match (&gr, keep_stale) {
            (Some(g), true) if self.cfg.graceful_restart && !g.families.is_empty() => {
                Some(g.restart_time)
            }
            _ => None,
        };
        self.stale = stale_for.is_some();
        let id = self.id;
        self.rib
            .broadcast(|| ShardMsg::PeerDown {
                peer: id,
                stale_for,
            })
            .await;
        if let (Some(g), Some(_)) = (&gr, stale_for) {
            for f in Family::ALL.into_iter().filter(|f| !g.families.contains(*f)) {
                self.rib
                    .broadcast(|| ShardMsg::EndOfRib {
                        peer: id,
                        family: f,
                    })
                    .await;
            }
        }
        self.status.update(|d| {
            d.since = None;
            d.last_error = Some(why);
            d.remote = None;
        });
        self.status.set_state(State::Idle);
        if !self.cfg.passive && !self.stop && !self.disabled && self.next_conn.is_none() {
            let d = fsm::backoff(self.cfg.connect_retry, 0, jitter());
            self.idle_until(Instant::now() + d).await;
        }
    }
}

/// Splits an out-queue item into message-aligned chunks of at most 64 KiB (so a keepalive
/// never waits behind more than that) and counts its messages and UPDATEs. Each chunk of an
/// item from the peer's own queue (`own`) accounts for its own length in the queue; shared
/// feed slices are not counted there.
fn split_messages(mut b: Bytes, own: bool, out: &mut Outbox) -> (u64, u64) {
    const CHUNK: usize = 64 * 1024;
    let (mut msgs, mut updates) = (0u64, 0u64);
    while !b.is_empty() {
        let mut end = 0;
        while end < b.len() {
            let len = b
                .get(end + 16..end + 18)
                .and_then(|l| l.first_chunk::<2>())
                .map_or(b.len() - end, |l| usize::from(u16::from_be_bytes(*l)));
            let len = len.max(HEADER_LEN).min(b.len() - end);
            if end > 0 && end + len > CHUNK {
                break;
            }
            msgs += 1;
            if b.get(end + 18) == Some(&2) {
                updates += 1;
            }
            end += len;
        }
        let chunk = b.split_to(end);
        let n = if own { chunk.len() } else { 0 };
        out.push(chunk, n);
    }
    (msgs, updates)
}

/// Reads and handles everything the peer sends while Established.
#[allow(clippy::too_many_arguments)]
async fn reader_loop(
    mut reader: FrameReader<OwnedReadHalf>,
    neg: Negotiated,
    id: PeerId,
    rib: Arc<Rib>,
    status: Arc<PeerStatus>,
    cfg: Arc<PeerConfig>,
    check_otc: bool,
    ev: mpsc::Sender<Event>,
) {
    let hold = (neg.hold_time > 0).then(|| Duration::from_secs(u64::from(neg.hold_time)));
    let mut families = neg.families;
    loop {
        // The hold timer runs only while we wait for the peer; while we are busy handing its
        // routes to the RIB it is our delay, not the peer's silence.
        let next = async {
            match hold {
                Some(h) => tokio::time::timeout(h, reader.next()).await.ok(),
                None => Some(reader.next().await),
            }
        };
        let frame = match next.await {
            None => {
                let _ = ev.send(Event::HoldExpired).await;
                return;
            }
            Some(Err(FrameError::Header(n))) => {
                let _ = ev.send(Event::Send(n, "bad message header".into())).await;
                return;
            }
            Some(Err(e)) => {
                let _ = ev.send(Event::Closed(e.to_string())).await;
                return;
            }
            Some(Ok(f)) => f,
        };
        Counters::add(&status.counters.messages_in, 1);
        let msg = match Message::decode(frame, &neg.rx) {
            Ok(m) => m,
            Err(e) if e.action == Action::AfiSafiDisable => {
                // RFC 7606 §5.3 / RFC 4760 §7: stop using the family, drop its routes.
                let Some(f) = e.family.and_then(|f| f.family()) else {
                    let _ = ev
                        .send(Event::Send(e.notification.clone(), e.to_string()))
                        .await;
                    return;
                };
                warn!(family = %f, error = %e, "malformed UPDATE: family disabled for this session");
                families = families.without(f);
                rib.broadcast(|| ShardMsg::PeerFamilyDown {
                    peer: id,
                    family: f,
                })
                .await;
                continue;
            }
            Err(e) => {
                let _ = ev
                    .send(Event::Send(e.notification.clone(), e.to_string()))
                    .await;
                return;
            }
        };
        match msg {
            Message::Update(u) => {
                Counters::add(&status.counters.updates_in, 1);
                if !u.issues().is_empty() {
                    for i in u.issues().iter() {
                        warn!(issue = %i, "malformed UPDATE handled per RFC 7606");
                    }
                }
                let importer = Importer {
                    peer: id,
                    shards: rib.shards(),
                    families,
                    check_otc,
                };
                let applied = importer.apply(&rib, &u).await;
                Counters::add(&status.counters.prefixes_announced_in, applied.announced);
                Counters::add(&status.counters.prefixes_withdrawn_in, applied.withdrawn);
                if let Some(f) = applied.end_of_rib {
                    debug!(family = %f, "End-of-RIB received");
                    rib.broadcast(|| ShardMsg::EndOfRib {
                        peer: id,
                        family: f,
                    })
                    .await;
                }
                if let Some(mp) = cfg.max_prefixes {
                    for f in families.iter() {
                        let (acc, rej) = rib.counters().paths(id, f);
                        if mp.limit_for(f).is_some_and(|l| acc + rej > u64::from(l))
                            && ev.send(Event::MaxPrefix(f, acc + rej)).await.is_err()
                        {
                            return;
                        }
                    }
                }
            }
            Message::Keepalive => {}
            Message::Notification(n) => {
                match n.shutdown_message() {
                    Some(m) => warn!(notification = %n.code, message = %m, "NOTIFICATION received"),
                    None => warn!(notification = %n, "NOTIFICATION received"),
                }
                let _ = ev.send(Event::Received(n)).await;
                return;
            }
            Message::RouteRefresh(rr) => {
                let Some(f) = rr.afi_safi.family().filter(|f| families.contains(*f)) else {
                    continue;
                };
                match rr.kind {
                    RefreshKind::Request => {
                        if ev.send(Event::Refresh(f)).await.is_err() {
                            return;
                        }
                    }
                    // RFC 7313 §4: paths not re-sent between BoRR and EoRR are stale.
                    RefreshKind::Begin => {
                        rib.broadcast(|| ShardMsg::MarkStale {
                            peer: id,
                            family: f,
                        })
                        .await
                    }
                    RefreshKind::End => {
                        rib.broadcast(|| ShardMsg::EndOfRib {
                            peer: id,
                            family: f,
                        })
                        .await
                    }
                    RefreshKind::Other(_) => {}
                }
            }
            Message::Open(_) => {
                let n = Notification::new(
                    NotifCode::Fsm(FsmSubcode::UnexpectedInEstablished),
                    Bytes::new(),
                );
                let _ = ev.send(Event::Send(n, "OPEN in Established".into())).await;
                return;
            }
        }
    }
}
