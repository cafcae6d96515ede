//! One peer's I/O task: it connects or waits for connections (with back-off, as
//! [`fsm::Between`] plans), reads and writes, runs the timers, and feeds each connection's
//! [`Machine`], doing what it outputs. It decides nothing about BGP itself.
//!
//! While Established, two halves run: a reader task that decodes, applies route changes to
//! the RIB in order and hands everything else to the machine, and this task, which owns the
//! socket's write side ([`Outbox`]), the timers and the client's out-queue. Keepalives are
//! never behind routes: they go out at the next message boundary. A reader blocked by RIB
//! backpressure does not count against the peer's hold timer (we are the ones not reading).
//! A peer that stops reading is dropped by the RFC 9687 send hold timer, which counts the
//! bytes the peer acknowledged ([`SendProgress`]), not our writes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tracing::{debug, info, warn, Instrument};

use super::end::{ConnError, EndReason};
use super::framing::FrameReader;
use super::fsm::{self, jitter, Between, Plan, State};
use super::inbox::{self, Inbox, InboxSender};
use super::keepalive::{self, Gate};
use super::machine::{self, Input, Machine, Output, Second};
use super::negotiate::{self, Negotiated};
use super::reader::{frame_input, reader_loop};
use super::sockopt;
use super::status::{Counters, Handshake, PeerStatus};
use super::writer::{split_messages, Outbox, SendProgress};
use crate::config::{PeerConfig, RoleCheck, ServerConfig};
use crate::rib::{ClientInfo, OutItem, OutQueue, PeerId, Rib, ShardMsg};
use crate::wire::header::{self, MAX_LEN};
use crate::wire::notification::CeaseSubcode;
use crate::wire::{Family, FamilySet, Notification, Open, ParseCtx};

pub use super::machine::PeerCmd;

/// What the server keeps of a running peer.
#[derive(Debug)]
pub struct PeerHandle {
    pub id: PeerId,
    pub config: Arc<PeerConfig>,
    pub status: Arc<PeerStatus>,
    pub cmd: InboxSender<PeerCmd>,
    inbound: InboxSender<TcpStream>,
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
    let (cmd_tx, cmd_rx) = inbox::inbox(16);
    let (in_tx, in_rx) = inbox::inbox(2);
    let status = PeerStatus::new();
    let id = setup.id;
    let config = setup.config.clone();
    let span = tracing::info_span!("peer", peer = %config.name, addr = %config.address);
    let peer = Peer {
        between: Between {
            disabled: setup.config.disabled,
            ..Between::default()
        },
        id,
        cfg: setup.config,
        server: setup.server,
        rib: setup.rib,
        queue_high: setup.queue_high,
        status: status.clone(),
        cmd_rx,
        inbound_rx: in_rx,
        next_conn: None,
        stale: FamilySet::EMPTY,
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
    cmd_rx: Inbox<PeerCmd>,
    inbound_rx: Inbox<TcpStream>,
    between: Between,
    /// A connection that arrived while the previous session was ending.
    next_conn: Option<TcpStream>,
    /// The families in which the RIB holds stale paths of this peer (graceful restart):
    /// the ones the ended session's capability listed. Empty when nothing is stale.
    stale: FamilySet,
}

/// A connection whose machine reached Established.
struct Opened {
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    machine: Machine,
    neg: Negotiated,
    remote: SocketAddr,
    /// What BMP's Peer Up shows: the local end and both OPENs as they went over the wire.
    handshake: Handshake,
}

async fn send_notification(w: &mut OwnedWriteHalf, n: &Notification, max_len: usize) {
    let mut b = BytesMut::new();
    n.encode(max_len, &mut b);
    let _ = tokio::time::timeout(Duration::from_secs(2), w.write_all(&b)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
}

fn keepalive() -> Bytes {
    let mut b = BytesMut::new();
    header::encode_keepalive(&mut b);
    b.freeze()
}

/// The OPEN exchange on one connection, run by its machine until Established or closed.
async fn open_exchange(
    stream: TcpStream,
    outbound: bool,
    ours: Open,
    server: Arc<ServerConfig>,
    cfg: Arc<PeerConfig>,
    shards: usize,
    status: Arc<PeerStatus>,
) -> Result<Opened, EndReason> {
    let remote = stream
        .peer_addr()
        .map_err(|e| EndReason::ConnectionLost(ConnError::from(&e)))?;
    let local = stream.local_addr().unwrap_or(remote);
    let mut sent_open: Option<Bytes> = None;
    let mut received_open: Option<Bytes> = None;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new(rd);
    let mut out = Vec::new();
    let mut m = Machine::start(ours, server, cfg, shards, outbound, &mut out);
    let mut hold: Option<Duration> = None;
    let mut every: Option<Duration> = None;
    loop {
        for o in out.drain(..) {
            match o {
                Output::Send(b) => {
                    wr.write_all(&b)
                        .await
                        .map_err(|e| EndReason::ConnectionLost(ConnError::from(&e)))?;
                    Counters::add(&status.counters.messages_out, 1);
                    // The machine's first message is its OPEN.
                    sent_open.get_or_insert(b);
                }
                Output::Keepalive => {
                    wr.write_all(&keepalive())
                        .await
                        .map_err(|e| EndReason::ConnectionLost(ConnError::from(&e)))?;
                    Counters::add(&status.counters.messages_out, 1);
                }
                Output::Hold(h) => hold = h,
                Output::KeepaliveEvery(k) => every = k,
                Output::MaxLen(n) => reader.set_max_len(n),
                Output::Established(neg) => {
                    return Ok(Opened {
                        reader,
                        writer: wr,
                        machine: m,
                        neg: *neg,
                        remote,
                        handshake: Handshake {
                            local: Some(local),
                            sent_open: sent_open.take().unwrap_or_default(),
                            received_open: received_open.take().unwrap_or_default(),
                        },
                    })
                }
                Output::Close {
                    notification,
                    reason,
                } => {
                    if let Some(n) = notification {
                        send_notification(&mut wr, &n, m.max_len()).await;
                        Counters::add(&status.counters.notifications_out, 1);
                    }
                    return Err(reason);
                }
                Output::Refresh(_) | Output::HoldOff(_) | Output::Second(_) => {}
            }
        }
        status.set_state(m.state());
        let ctx = m.negotiated().map_or_else(ParseCtx::new, |n| n.rx);
        let wait = hold.unwrap_or(fsm::OPEN_HOLD);
        let tick = every.unwrap_or(Duration::from_secs(3600));
        let input = tokio::select! {
            r = tokio::time::timeout(wait, reader.next()) => match r {
                Err(_) => Input::HoldExpired,
                Ok(f) => {
                    if let (Ok(b), None) = (&f, &received_open) {
                        // The first message in is the peer's OPEN (or the session ends).
                        received_open = Some(b.clone());
                    }
                    frame_input(f, &ctx, &status)
                }
            },
            _ = tokio::time::sleep(tick), if every.is_some() => Input::KeepaliveDue,
        };
        m.process(input, &mut out);
    }
}

type OpenFut =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Opened, EndReason>> + Send>>;

/// How long stale paths wait for a restarted peer's End-of-RIB (RFC 4724 "stale timer").
const STALE_TIME: Duration = Duration::from_secs(360);

impl Peer {
    async fn run(mut self) {
        info!(passive = self.cfg.passive, "peer configured");
        loop {
            match self.between.plan(self.cfg.passive, Instant::now()) {
                Plan::Stop => {
                    self.status.set_state(State::Idle);
                    return;
                }
                Plan::Disabled => {
                    self.status.set_state(State::Disabled);
                    self.wait_enabled().await;
                    continue;
                }
                Plan::HoldOff(t) => {
                    self.status.set_state(State::Idle);
                    self.idle_until(t).await;
                    continue;
                }
                Plan::Listen | Plan::Connect => {}
            }
            let Some((stream, outbound)) = self.connection().await else {
                continue;
            };
            match self.open_with_collisions(stream, outbound).await {
                Ok(opened) => self.established(opened).await,
                Err(reason) => {
                    info!(reason = %reason, "session not established");
                    self.record_end(&reason);
                    self.between.ended(&reason, false);
                    self.status.set_state(State::Idle);
                    if !self.cfg.passive {
                        let d = self.between.retry_after(self.cfg.connect_retry, jitter());
                        self.idle_until(Instant::now() + d).await;
                    }
                }
            }
        }
    }

    fn record_end(&self, reason: &EndReason) {
        if let Some(n) = self.status.counters.ends.get(reason.index()) {
            Counters::add(n, 1);
        }
        self.status.update(|d| d.last_error = Some(reason.clone()));
    }

    fn command(&mut self, c: Option<PeerCmd>) {
        match c {
            Some(c) => self.between.command(&c),
            None => self.between.stop = true,
        }
    }

    async fn wait_enabled(&mut self) {
        tokio::select! {
            c = self.cmd_rx.recv() => self.command(c),
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
                c = self.cmd_rx.recv() => {
                    // Enable and reset end the wait: the peer (re)connects now.
                    let end = c.is_none() || matches!(c, Some(PeerCmd::Enable | PeerCmd::Reset(_)));
                    self.command(c);
                    if end || self.between.stop || self.between.disabled {
                        return;
                    }
                }
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
            return tokio::select! {
                s = self.inbound_rx.recv() => s.map(|s| (s, false)),
                c = self.cmd_rx.recv() => { self.command(c); None }
            };
        }
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
        let failed = tokio::select! {
            r = connect => match r {
                Ok(s) => return Some((s, true)),
                Err(e) => e,
            },
            s = self.inbound_rx.recv() => return s.map(|s| (s, false)),
            c = self.cmd_rx.recv() => { self.command(c); return None }
        };
        // Connect → Active: wait out the back-off, accepting the peer's connection meanwhile.
        let reason = EndReason::ConnectFailed(ConnError::from(&failed));
        debug!(reason = %reason, "connect failed");
        self.record_end(&reason);
        self.between.ended(&reason, false);
        self.status.set_state(State::Active);
        let d = self.between.retry_after(self.cfg.connect_retry, jitter());
        let deadline = tokio::time::Instant::now() + d;
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => None,
            s = self.inbound_rx.recv() => s.map(|s| (s, false)),
            c = self.cmd_rx.recv() => { self.command(c); None }
        }
    }

    fn open_fut(&self, s: TcpStream, outbound: bool) -> OpenFut {
        Box::pin(open_exchange(
            s,
            outbound,
            // Built for each connection rather than kept: a peer that is not connected
            // holds nothing of it.
            negotiate::our_open(&self.server, &self.cfg),
            self.server.clone(),
            self.cfg.clone(),
            self.rib.shards(),
            self.status.clone(),
        ))
    }

    /// Runs the OPEN exchange; a second connection from the peer meanwhile is handled as the
    /// machine says ([`machine::second_connection`]): both run and the BGP identifiers decide
    /// once both completed (RFC 4271 §6.8), or the newer replaces the older.
    async fn open_with_collisions(
        &mut self,
        first: TcpStream,
        outbound: bool,
    ) -> Result<Opened, EndReason> {
        let mut a = self.open_fut(first, outbound);
        let mut b: Option<OpenFut> = None;
        let mut ra: Option<Result<Opened, EndReason>> = None;
        let mut rb: Option<Result<Opened, EndReason>> = None;
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
                    match machine::second_connection(outbound) {
                        Second::Contend => b = Some(self.open_fut(s, false)),
                        _ => {
                            info!("a newer connection from the peer replaces the one in the OPEN exchange");
                            a = self.open_fut(s, false);
                            ra = None;
                        }
                    }
                }
                c = self.cmd_rx.recv() => {
                    let ending = c.as_ref().and_then(PeerCmd::ending);
                    self.command(c);
                    if self.between.stop || self.between.disabled {
                        return Err(ending.map_or(EndReason::ServerShutdown, |(_, r)| r));
                    }
                }
            }
        }
        match (ra, rb) {
            (Some(Ok(x)), Some(Ok(y))) => {
                let local = u32::from(self.server.router_id);
                let remote = u32::from(x.neg.peer_id);
                let (keep, mut lost) = if machine::keep_first(local, remote, x.machine.outbound()) {
                    (x, y)
                } else {
                    (y, x)
                };
                info!(
                    kept_outbound = keep.machine.outbound(),
                    reason = %EndReason::CollisionLost,
                    "connection collision resolved by BGP identifier (RFC 4271 §6.8)"
                );
                let n = Notification::cease(CeaseSubcode::ConnectionCollision);
                send_notification(&mut lost.writer, &n, MAX_LEN).await;
                Counters::add(&self.status.counters.notifications_out, 1);
                Ok(keep)
            }
            (Some(Ok(x)), _) | (_, Some(Ok(x))) => Ok(x),
            (Some(Err(e)), _) => Err(e),
            (None, Some(Err(e))) => Err(e),
            (None, None) => Err(EndReason::CollisionLost),
        }
    }

    /// Graceful restart (RFC 4724 §4.2): stale paths from before are kept only in the families
    /// the peer lists again with its forwarding state preserved (F bit); this session
    /// refreshes them and its End-of-RIB removes the rest. In every other family they go at
    /// once.
    async fn resume_stale(&mut self, neg: &Negotiated) {
        let id = self.id;
        // A family in its long-lived stale time is kept when either capability's F bit says
        // so (RFC 9494).
        let kept = neg
            .graceful_restart
            .as_ref()
            .map_or(FamilySet::EMPTY, |g| g.forwarding_preserved)
            .union(
                neg.llgr
                    .as_ref()
                    .map_or(FamilySet::EMPTY, |l| l.forwarding_preserved),
            );
        // Only the families that hold stale paths can lose any; the others were swept when
        // the previous session ended.
        let dropped: Vec<Family> = Family::ALL
            .into_iter()
            .filter(|f| self.stale.contains(*f) && !kept.contains(*f))
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
        if self.stale.iter().any(|f| kept.contains(f)) {
            // Stale paths wait for the peer's End-of-RIB, at most this long.
            let after = STALE_TIME;
            self.rib
                .broadcast(|| ShardMsg::StaleTimer { peer: id, after })
                .await;
        }
        self.stale = FamilySet::EMPTY;
    }

    /// Runs an Established session to its end.
    async fn established(&mut self, opened: Opened) {
        let Opened {
            reader,
            mut writer,
            mut machine,
            neg,
            remote,
            handshake,
        } = opened;
        let max_len = machine.max_len();
        info!(%remote, hold = neg.hold_time, families = ?neg.families, "session established");
        self.status.set_state(State::Established);
        Counters::add(&self.status.counters.established_transitions, 1);
        self.status.update(|d| {
            d.since = Some((Instant::now(), SystemTime::now()));
            d.negotiated = Some(neg.clone());
            d.remote = Some(remote);
            d.handshake = Some(Arc::new(handshake));
        });
        if !self.stale.is_empty() {
            self.resume_stale(&neg).await;
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
            llgr: neg.llgr.is_some(),
            queue: queue.clone(),
        });
        self.rib
            .broadcast(|| ShardMsg::ClientUp(info.clone()))
            .await;

        // Boxed: an `Input` is a few hundred bytes (a decoded message), and a queue keeps
        // the room it once grew to (a tokio channel of unboxed inputs was 7.6 KiB per
        // session). What crosses it is rare (no UPDATE does), so the box costs nothing.
        let (in_tx, mut in_rx) = inbox::inbox::<Box<Input>>(8);
        let reader_task = tokio::spawn(
            reader_loop(
                reader,
                neg.clone(),
                self.id,
                self.rib.clone(),
                self.status.clone(),
                self.cfg.clone(),
                roles,
                in_tx,
            )
            .in_current_span(),
        );

        let ka_every = fsm::keepalive_interval(neg.hold_time);
        let send_hold = fsm::send_hold(neg.hold_time, self.cfg.send_hold_time);
        let mut ka = tokio::time::interval(ka_every.unwrap_or(Duration::from_secs(3600)));
        ka.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ka.tick().await;
        let mut check = tokio::time::interval(Duration::from_millis(500));
        let mut outbox = Outbox::new();
        let mut ka_due = false;
        let mut progress = SendProgress::new(Instant::now());
        // Keepalives this task is too late to write go out from the backstop thread.
        let gate = ka_every.and_then(|every| {
            let name: Arc<str> = Arc::from(self.cfg.name.as_str());
            Gate::open(&writer, every, self.status.clone(), name)
                .map_err(|e| warn!(error = %e, "no keepalive backstop for this session"))
                .ok()
        });
        let mut items = Vec::new();
        let mut out: Vec<Output> = Vec::new();
        let mut newer: Option<TcpStream> = None;
        let (notification, reason) = 'session: loop {
            for o in out.drain(..) {
                match o {
                    Output::Send(b) => {
                        Counters::add(&self.status.counters.messages_out, 1);
                        outbox.push(b, 0);
                    }
                    Output::Keepalive => ka_due = true,
                    Output::Refresh(f) => {
                        info!(family = %f, enhanced = neg.enhanced_route_refresh, "route refresh requested by the peer; sending the table again");
                        let id = self.id;
                        self.rib
                            .broadcast(|| ShardMsg::Refresh {
                                peer: id,
                                family: f,
                            })
                            .await;
                    }
                    Output::HoldOff(d) => self.between.hold_off = Some(Instant::now() + d),
                    Output::Second(Second::TakeNew) => {
                        info!("RFC 4724: the peer restarted; its new connection replaces the established session");
                        self.next_conn = newer.take();
                    }
                    Output::Second(Second::Refuse(n)) => {
                        info!("RFC 4271 §6.8: a second connection from the peer is refused; the established session stays");
                        if let Some(s) = newer.take() {
                            let (_, mut w) = s.into_split();
                            tokio::spawn(
                                async move { send_notification(&mut w, &n, MAX_LEN).await },
                            );
                        }
                    }
                    Output::Close {
                        notification,
                        reason,
                    } => break 'session (notification, reason),
                    Output::Second(Second::Contend)
                    | Output::Hold(_)
                    | Output::KeepaliveEvery(_)
                    | Output::MaxLen(_)
                    | Output::Established(_) => {}
                }
            }
            // A keepalive goes at the next message boundary, ahead of what waits.
            if ka_due && outbox.at_boundary() {
                outbox.push_front(keepalive());
                ka_due = false;
                Counters::add(&self.status.counters.messages_out, 1);
            }
            let writing = !outbox.is_empty();
            tokio::select! {
                biased;
                i = in_rx.recv() => match i.map(|i| *i) {
                    Some(Input::PrefixCount(f, n)) => self.prefix_count(&mut machine, f, n, &mut out),
                    i => machine.process(i.unwrap_or(Input::Closed(ConnError::Closed)), &mut out),
                },
                c = self.cmd_rx.recv() => machine.process(Input::Admin(c.unwrap_or(PeerCmd::Shutdown(None))), &mut out),
                s = self.inbound_rx.recv() => if let Some(s) = s {
                    newer = Some(s);
                    machine.process(Input::SecondConnection, &mut out);
                },
                t = ka.tick(), if ka_every.is_some() => {
                    // Our own lateness, logged before it costs the session: this timer ran
                    // a whole interval late, or two intervals passed without a write while
                    // the peer had taken everything (a peer that does not read is the send
                    // hold timer's business, not ours).
                    let every = ka_every.unwrap_or_default();
                    let late = t.elapsed();
                    let quiet = gate.as_ref().map_or(Duration::ZERO, |g| g.gate().since_write());
                    let unacked = sockopt::unacked_bytes(writer.as_ref()).ok();
                    if late > every || (quiet > 2 * every && unacked == Some(0)) {
                        warn!(
                            timer_late_ms = late.as_millis() as u64,
                            nothing_written_ms = quiet.as_millis() as u64,
                            waiting_bytes = outbox.len(),
                            "our keepalive is late: the session task was not run in time"
                        );
                    }
                    machine.process(Input::KeepaliveDue, &mut out)
                }
                _ = check.tick() => {
                    let unacked = sockopt::unacked_bytes(writer.as_ref()).ok();
                    if progress.stalled(writing, unacked, Instant::now()) > send_hold {
                        machine.process(Input::SendHoldExpired, &mut out);
                        continue;
                    }
                    // The reader checks after each UPDATE, but the shards count a batch only
                    // once they have applied it: the last UPDATE of a burst is caught here.
                    self.count_prefixes(&neg, &mut machine, &mut out);
                }
                r = std::future::poll_fn(|cx| match &gate {
                    Some(g) => g.gate().poll_write(cx, &mut writer, &mut outbox, &queue),
                    None => keepalive::poll_write(cx, &mut writer, &mut outbox, &queue),
                }), if writing => match r {
                    Ok(0) => machine.process(Input::Closed(ConnError::Closed), &mut out),
                    Ok(n) => progress.wrote(n),
                    Err(e) => machine.process(Input::Closed(ConnError::from(&e)), &mut out),
                },
                _ = queue.pop_all(&mut items, crate::rib::outq::READ_BUDGET), if !writing => {
                    for item in items.drain(..) {
                        match item {
                            OutItem::Updates(b) | OutItem::Shared(b) if b.is_empty() => {}
                            OutItem::Updates(b) => self.count_out(split_messages(b, true, &mut outbox)),
                            OutItem::Shared(b) => self.count_out(split_messages(b, false, &mut outbox)),
                            OutItem::Attach { .. } => {}
                            OutItem::DumpDone { families, .. } => machine.process(Input::DumpDone(families), &mut out),
                        }
                    }
                }
            }
        };
        reader_task.abort();
        queue.close();
        // The backstop writes nothing more; what it started goes out first.
        let ka_rest = gate.as_ref().and_then(|g| g.close());
        if let Some(n) = notification {
            // Send the NOTIFICATION at a message boundary: finish the message in flight.
            if let Some(rest) = ka_rest.or_else(|| outbox.rest_of_front()) {
                let _ = tokio::time::timeout(Duration::from_secs(1), writer.write_all(&rest)).await;
            }
            Counters::add(&self.status.counters.notifications_out, 1);
            send_notification(&mut writer, &n, max_len).await;
        }
        match &reason {
            EndReason::NotificationReceived(n) => match n.shutdown_message() {
                Some(m) => {
                    warn!(notification = %n.code, message = %m, "session down: NOTIFICATION received")
                }
                None => warn!(reason = %reason, "session down"),
            },
            EndReason::ProtocolError { .. } | EndReason::MaxPrefixes { .. } => {
                warn!(reason = %reason, "session down")
            }
            _ => info!(reason = %reason, "session down"),
        }
        self.session_down(&neg, &reason).await;
        if !self.cfg.passive
            && !self.between.stop
            && !self.between.disabled
            && self.next_conn.is_none()
        {
            let d = self.between.retry_after(self.cfg.connect_retry, jitter());
            self.idle_until(Instant::now() + d).await;
        }
    }

    fn count_out(&self, (msgs, updates): (u64, u64)) {
        Counters::add(&self.status.counters.messages_out, msgs);
        Counters::add(&self.status.counters.updates_out, updates);
    }

    /// Tells the machine about families over their prefix limit.
    fn count_prefixes(&self, neg: &Negotiated, machine: &mut Machine, out: &mut Vec<Output>) {
        let Some(mp) = self.cfg.max_prefixes else {
            return;
        };
        for f in neg.families.iter() {
            let (acc, rej) = self.rib.counters().paths(self.id, f);
            if mp.limit_for(f).is_some_and(|l| acc + rej > u64::from(l)) {
                return self.prefix_count(machine, f, acc + rej, out);
            }
        }
    }

    /// The machine decides what a prefix count over the limit does; a "warn" is logged once.
    fn prefix_count(&self, machine: &mut Machine, f: Family, count: u64, out: &mut Vec<Output>) {
        let warned = machine.warned_max_prefix();
        machine.process(Input::PrefixCount(f, count), out);
        if !warned && machine.warned_max_prefix() {
            warn!(family = %f, count, "maximum prefixes exceeded (action warn: the session stays)");
        }
    }

    /// After an Established session: the RIB forgets the client and, unless it keeps them
    /// as stale (graceful restart), the peer's paths.
    async fn session_down(&mut self, neg: &Negotiated, reason: &EndReason) {
        let gr = neg.graceful_restart.as_ref();
        // RFC 9494 §4.2: after the restart time (at once when it is 0) the families the
        // peer's LLGR capability lists with a time stay long-lived stale.
        let long_lived = match &neg.llgr {
            Some(l) if reason.keeps_stale() && self.cfg.long_lived_stale_time.is_some() => {
                l.stale_times.clone()
            }
            _ => Vec::new(),
        };
        let llgr_families = long_lived
            .iter()
            .fold(FamilySet::EMPTY, |s, (f, _)| s.with(*f));
        // RFC 4724 §4.2: only the families the peer's capability listed are kept as stale.
        let kept = gr.map_or(FamilySet::EMPTY, |g| g.families.union(llgr_families));
        let stale_for = match gr {
            Some(g) if reason.keeps_stale() && self.cfg.graceful_restart && !kept.is_empty() => {
                Some(g.restart_time)
            }
            _ => None,
        };
        self.stale = match stale_for {
            Some(_) => kept,
            None => FamilySet::EMPTY,
        };
        let long_lived = if stale_for.is_some() {
            long_lived
        } else {
            Vec::new()
        };
        if let (Some(g), false) = (gr, long_lived.is_empty()) {
            info!(
                restart_time = ?g.restart_time,
                long_lived = ?long_lived,
                "long-lived graceful restart: routes kept long-lived stale after the restart time (RFC 9494)"
            );
        }
        let restart = gr.map_or(Duration::ZERO, |g| g.restart_time);
        let lost = SystemTime::now();
        self.status.update(|d| {
            d.llgr_until = long_lived
                .iter()
                .map(|(f, t)| (*f, lost + restart + *t))
                .collect();
        });
        let id = self.id;
        self.rib
            .broadcast(|| ShardMsg::PeerDown {
                peer: id,
                stale_for,
                long_lived: long_lived.clone(),
            })
            .await;
        if stale_for.is_some() {
            for f in Family::ALL.into_iter().filter(|f| !kept.contains(*f)) {
                self.rib
                    .broadcast(|| ShardMsg::EndOfRib {
                        peer: id,
                        family: f,
                    })
                    .await;
            }
        }
        self.record_end(reason);
        self.between.ended(reason, true);
        self.status.update(|d| {
            d.since = None;
            d.remote = None;
            d.handshake = None;
        });
        self.status.set_state(State::Idle);
    }
}
