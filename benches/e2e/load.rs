//! The load generator's BGP speakers: one TCP session per emulated peer from its own
//! 127.64.x.y address, an OPEN exchange, keepalives on time, a sender that writes the peer's
//! pre-encoded table, and a receiver that decodes every UPDATE with `peerex::wire` and keeps,
//! per prefix, which sender's path it currently holds, so it knows at every message whether
//! it holds exactly what the scenario says it must. Each client runs a hold timer on what
//! the server sends, as a real peer would (the session ends, and the run fails, when the
//! server is silent for the negotiated hold time), and records the longest silence and the
//! longest gap between its own keepalives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use peerex::session::framing::FrameReader;
use peerex::wire::{
    header, AfiSafi, Asn, Capability, Message, MpNextHop, NotifCode, Notification, Open, ParseCtx,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

use crate::scenario::{index_of, peer_addr, peer_nh6, peer_router_id, Scenario, BASE_ASN};

/// What one client has received, published by its reader task.
#[derive(Default)]
pub struct RxStats {
    /// UPDATE messages.
    pub updates: AtomicU64,
    /// Prefix announcements (including replacements of an earlier path).
    pub announced: AtomicU64,
    pub withdrawn: AtomicU64,
    /// Prefixes that are not part of the scenario.
    pub strays: AtomicU64,
    /// Announcements whose AS path does not start with a sender's ASN.
    pub foreign: AtomicU64,
    /// Announcements whose NEXT_HOP is not the originating sender's address.
    pub nh_mismatch: AtomicU64,
    /// Prefixes whose held path is the expected one (0 for "must not hold" counts too).
    pub correct: AtomicU64,
    /// Holds exactly the expected table now.
    pub converged: AtomicBool,
    /// When it last became converged, ns since the run's epoch.
    pub converged_at_ns: AtomicU64,
    /// When the last UPDATE arrived, ns since the run's epoch.
    pub last_update_ns: AtomicU64,
    /// When the last message of any type arrived, ns since the run's epoch (the reader's
    /// start counts as one: the OPEN exchange has just ended).
    pub last_msg_ns: AtomicU64,
    /// The longest time between two messages from the server (KEEPALIVE, UPDATE, ...), as
    /// this client's reader saw them (so including the generator's own scheduling delays);
    /// more than the hold time ends the session.
    pub max_gap_ns: AtomicU64,
    /// KEEPALIVEs received after the OPEN exchange.
    pub keepalives: AtomicU64,
    /// The longest time between two KEEPALIVEs this client wrote (a write waits for the
    /// sender's chunk in flight, and for the server to read).
    pub ka_sent_gap_ns: AtomicU64,
    /// When this client last wrote a KEEPALIVE (or the session came up), ns since the
    /// run's epoch.
    pub ka_sent_ns: AtomicU64,
    pub closed: AtomicBool,
    pub error: Mutex<Option<String>>,
    pub held: Mutex<Held>,
}

/// What one client holds, per prefix index. Always one bit per prefix ("holds what it
/// must"), so that 1,000 clients of a 200,000-prefix table cost 25 MB; the exact holder
/// (for the mismatch report) only while all clients together have at most
/// `E2E_EXACT_MAX` (default 32 M) (client, prefix) states.
#[derive(Default)]
pub struct Held {
    ok: Vec<u64>,
    /// Per prefix: 0 (nothing) or s + 1 (sender s's path; `u16::MAX` = not from a sender).
    exact: Option<Vec<u16>>,
}

impl Held {
    pub fn ok(&self, i: usize) -> bool {
        self.ok.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    pub fn exact(&self) -> Option<&[u16]> {
        self.exact.as_deref()
    }
}

/// Whether clients keep the exact holder of every prefix (see [`Held`]).
pub fn keep_exact(sc: &Scenario) -> bool {
    let max: u64 = std::env::var("E2E_EXACT_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32_000_000);
    (sc.peers as u64).saturating_mul(sc.universe() as u64) <= max
}

pub struct Peer {
    pub index: usize,
    pub addr: Ipv4Addr,
    /// The negotiated hold time (the smaller of the two OPENs'), seconds.
    pub hold: u16,
    pub rx: Arc<RxStats>,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    fd: RawFd,
    /// When the sender finished writing, ns since epoch (0 = not yet).
    pub sent_at_ns: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

fn other(m: impl Into<String>) -> std::io::Error {
    std::io::Error::other(m.into())
}

/// The hold time [`Peer::connect`] offers.
pub const DEFAULT_HOLD: u16 = 90;

impl Peer {
    /// Connects peer `index` of `sc` to the server at `rs` and completes the OPEN exchange,
    /// offering a hold time of [`DEFAULT_HOLD`].
    #[allow(dead_code)] // used by benches/lg_flood.rs
    pub async fn connect(
        index: usize,
        rs: SocketAddr,
        sc: Arc<Scenario>,
        epoch: Instant,
    ) -> std::io::Result<Peer> {
        Peer::connect_with_hold(index, rs, sc, epoch, DEFAULT_HOLD).await
    }

    /// [`Peer::connect`] offering hold time `hold` (seconds; 0 or at least 3). The session
    /// then keeps the negotiated one: a KEEPALIVE every third of it, and the end of the
    /// session when the server sends nothing for that long.
    pub async fn connect_with_hold(
        index: usize,
        rs: SocketAddr,
        sc: Arc<Scenario>,
        epoch: Instant,
        hold: u16,
    ) -> std::io::Result<Peer> {
        let addr = peer_addr(index);
        let asn = BASE_ASN + index as u32;
        let sock = TcpSocket::new_v4()?;
        sock.set_reuseaddr(true)?;
        sock.bind(SocketAddr::new(IpAddr::V4(addr), 0))?;
        let stream = tokio::time::timeout(Duration::from_secs(10), sock.connect(rs))
            .await
            .map_err(|_| other("connect timed out"))??;
        stream.set_nodelay(true)?;
        let fd = stream.as_raw_fd();
        let (rd, mut wr) = stream.into_split();
        let caps = vec![
            Capability::Multiprotocol(if sc.v6() {
                AfiSafi::IPV6_UNICAST
            } else {
                AfiSafi::IPV4_UNICAST
            }),
            Capability::RouteRefresh,
            Capability::FourOctetAs(Asn(asn)),
        ];
        let open = Open::new(Asn(asn), hold, peer_router_id(index), caps);
        let mut b = BytesMut::new();
        open.encode(&mut b);
        header::encode_keepalive(&mut b);
        wr.write_all(&b).await?;
        let mut reader = FrameReader::new(rd);
        let ctx = ParseCtx::new();
        let first = tokio::time::timeout(Duration::from_secs(15), reader.next())
            .await
            .map_err(|_| other("no OPEN from the server"))?
            .map_err(|e| other(e.to_string()))?;
        let theirs = match Message::decode(first, &ctx) {
            Ok(Message::Open(o)) => o,
            Ok(Message::Notification(n)) => return Err(other(format!("NOTIFICATION: {n}"))),
            other_msg => return Err(other(format!("expected OPEN, got {other_msg:?}"))),
        };
        let second = tokio::time::timeout(Duration::from_secs(15), reader.next())
            .await
            .map_err(|_| other("no KEEPALIVE from the server"))?
            .map_err(|e| other(e.to_string()))?;
        match Message::decode(second, &ctx) {
            Ok(Message::Keepalive) => {}
            Ok(Message::Notification(n)) => return Err(other(format!("NOTIFICATION: {n}"))),
            other_msg => return Err(other(format!("expected KEEPALIVE, got {other_msg:?}"))),
        }
        let negotiated = hold.min(theirs.hold_time);
        let rx = Arc::new(RxStats::default());
        let writer = Arc::new(tokio::sync::Mutex::new(wr));
        let mut tasks = Vec::new();
        {
            let rx = rx.clone();
            let w = writer.clone();
            tasks.push(tokio::spawn(async move {
                if receive(reader, ctx, index, sc, rx, epoch, negotiated, fd).await {
                    // As a real peer does: NOTIFICATION Hold Timer Expired, then close.
                    let mut b = BytesMut::new();
                    Notification::new(NotifCode::HoldTimerExpired(0), Bytes::new())
                        .encode(4096, &mut b);
                    let mut w = w.lock().await;
                    let _ = w.write_all(&b).await;
                    let _ = w.shutdown().await;
                }
            }));
        }
        if negotiated > 0 {
            let w = writer.clone();
            let rx = rx.clone();
            let every = Duration::from_millis(u64::from(negotiated) * 1000 / 3);
            tasks.push(tokio::spawn(async move {
                let mut ka = BytesMut::new();
                header::encode_keepalive(&mut ka);
                let ka = ka.freeze();
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                let mut last = ns_since(epoch);
                rx.ka_sent_ns.store(last, Ordering::Relaxed);
                loop {
                    tick.tick().await;
                    if rx.closed.load(Ordering::Acquire) {
                        return;
                    }
                    if let Err(e) = w.lock().await.write_all(&ka).await {
                        end(&rx, format!("writing a KEEPALIVE failed: {e}"));
                        return;
                    }
                    let now = ns_since(epoch);
                    rx.ka_sent_gap_ns
                        .fetch_max(now.saturating_sub(last), Ordering::Relaxed);
                    rx.ka_sent_ns.store(now, Ordering::Relaxed);
                    last = now;
                }
            }));
        }
        Ok(Peer {
            index,
            addr,
            hold: negotiated,
            rx,
            writer,
            fd,
            sent_at_ns: Arc::new(AtomicU64::new(0)),
            tasks,
        })
    }

    /// Writes `chunks` (whole messages each), letting keepalives in between chunks; records
    /// when the last byte was handed to the kernel.
    pub fn spawn_send(
        &self,
        chunks: Vec<Bytes>,
        epoch: Instant,
    ) -> JoinHandle<std::io::Result<()>> {
        let w = self.writer.clone();
        let done = self.sent_at_ns.clone();
        tokio::spawn(async move {
            for c in chunks {
                w.lock().await.write_all(&c).await?;
            }
            done.store(ns_since(epoch).max(1), Ordering::Release);
            Ok(())
        })
    }

    /// Bytes written but not yet acknowledged by the server's TCP (SIOCOUTQ).
    pub fn unacked_bytes(&self) -> Option<u64> {
        let mut v: libc::c_int = 0;
        // SAFETY: `fd` belongs to this peer's socket, which lives as long as `self.writer`.
        let r = unsafe { libc::ioctl(self.fd, libc::TIOCOUTQ, &mut v as *mut libc::c_int) };
        (r == 0).then_some(v as u64)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub fn ns_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// The session ended: why (the first reason wins), and `closed`.
fn end(rx: &RxStats, why: String) {
    let mut e = rx.error.lock().unwrap();
    if e.is_none() {
        *e = Some(why);
    }
    rx.closed.store(true, Ordering::Release);
}

/// Bytes received on socket `fd` and not yet read (FIONREAD).
fn unread_bytes(fd: RawFd) -> Option<u64> {
    let mut v: libc::c_int = 0;
    // SAFETY: FIONREAD on a socket this process holds open, into a c_int.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut v as *mut libc::c_int) };
    (r == 0).then_some(v as u64)
}

/// The reader: decodes every message and tracks, per prefix, whose path is held, until the
/// session ends; true when it ended by this client's hold timer.
#[allow(clippy::too_many_arguments)]
async fn receive<R: tokio::io::AsyncRead + Unpin>(
    mut reader: FrameReader<R>,
    ctx: ParseCtx,
    me: usize,
    sc: Arc<Scenario>,
    rx: Arc<RxStats>,
    epoch: Instant,
    hold: u16,
    fd: RawFd,
) -> bool {
    let hold = (hold > 0).then(|| Duration::from_secs(u64::from(hold)));
    let mut last_msg = ns_since(epoch);
    rx.last_msg_ns.store(last_msg, Ordering::Relaxed);
    let universe = sc.universe();
    let mut correct = 0;
    {
        let mut h = Held {
            ok: vec![0u64; universe.div_ceil(64)],
            exact: keep_exact(&sc).then(|| vec![0u16; universe]),
        };
        for i in 0..universe {
            if sc.expected(me, i) == 0 {
                h.ok[i / 64] |= 1 << (i % 64);
                correct += 1;
            }
        }
        *rx.held.lock().unwrap() = h;
    }
    let next_hops: Vec<IpAddr> = (0..sc.senders)
        .map(|s| {
            if sc.v6() {
                IpAddr::V6(peer_nh6(s))
            } else {
                IpAddr::V4(peer_addr(s))
            }
        })
        .collect();
    rx.correct.store(correct as u64, Ordering::Relaxed);
    let trace: Option<usize> = std::env::var("E2E_TRACE_PREFIX")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut converged = correct == universe;
    rx.converged.store(converged, Ordering::Release);
    loop {
        let next = match hold {
            // The hold timer runs only while the reader waits for the server.
            Some(h) => match tokio::time::timeout(h, reader.next()).await {
                Ok(r) => r,
                Err(_) => {
                    let silence = ns_since(epoch).saturating_sub(last_msg);
                    rx.max_gap_ns.fetch_max(silence, Ordering::Relaxed);
                    // Bytes waiting in the socket mean the generator, not the server, was
                    // late; none (or only part of a message) mean the server was silent.
                    let unread = unread_bytes(fd).map_or("unknown".into(), |n| n.to_string());
                    end(
                        &rx,
                        format!(
                            "hold timer expired at the client: no whole message from the \
                             server for {} s (the negotiated hold time); bytes waiting unread in \
                             the client's socket: {unread}, read but short of a whole message: {}",
                            h.as_secs(),
                            reader.buffered()
                        ),
                    );
                    return true;
                }
            },
            None => reader.next().await,
        };
        let frame = match next {
            Ok(f) => f,
            Err(e) => {
                end(&rx, format!("session ended: {e}"));
                return false;
            }
        };
        let now = ns_since(epoch);
        rx.max_gap_ns
            .fetch_max(now.saturating_sub(last_msg), Ordering::Relaxed);
        rx.last_msg_ns.store(now, Ordering::Relaxed);
        last_msg = now;
        // A read fills a large buffer, and frames taken from it cost the runtime's
        // cooperative budget nothing: without this, 1,000 busy readers would each decode
        // megabytes per turn and starve the keepalive tasks for seconds (3 s and more
        // were seen, with a 3 s hold time).
        tokio::task::coop::consume_budget().await;
        let u = match Message::decode(frame, &ctx) {
            Ok(Message::Update(u)) => u,
            Ok(Message::Notification(n)) => {
                end(&rx, format!("NOTIFICATION from the server: {n}"));
                return false;
            }
            Ok(Message::Keepalive) => {
                rx.keepalives.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                end(&rx, format!("undecodable message: {e}"));
                return false;
            }
        };
        rx.updates.fetch_add(1, Ordering::Relaxed);
        let mut held = rx.held.lock().unwrap();
        let held = &mut *held;
        let mut apply = |i: usize, v: u16, correct: &mut usize| {
            let exp = sc.expected(me, i);
            if trace == Some(i) {
                eprintln!(
                    "  trace: {:.6}s peer {me} prefix {i}: {} (expected {exp})",
                    epoch.elapsed().as_secs_f64(),
                    if v == 0 {
                        "withdrawn".to_string()
                    } else {
                        format!("sender {}", v - 1)
                    }
                );
            }
            if i >= universe {
                return;
            }
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            let was = held.ok[w] & bit != 0;
            let now = v == exp;
            if was && !now {
                *correct -= 1;
                held.ok[w] &= !bit;
            } else if !was && now {
                *correct += 1;
                held.ok[w] |= bit;
            }
            if let Some(x) = held.exact.as_mut() {
                x[i] = v;
            }
        };
        let mut withdrawn = 0u64;
        let mut strays = 0u64;
        for n in u.withdrawals() {
            withdrawn += 1;
            match index_of(&n, universe) {
                Some(i) => apply(i, 0, &mut correct),
                None => strays += 1,
            }
        }
        let attrs = u.attrs();
        let sender = attrs
            .as_path()
            .and_then(|p| p.first_asn())
            .and_then(|a| a.0.checked_sub(BASE_ASN))
            .map(|s| s as usize)
            .filter(|s| *s < sc.senders);
        // An announcement from no known sender can never be correct: hold it as u16::MAX.
        let v = sender.map_or(u16::MAX, |s| s as u16 + 1);
        let mut announced = 0u64;
        for n in u.announced() {
            announced += 1;
            match index_of(&n, universe) {
                Some(i) => apply(i, v, &mut correct),
                None => strays += 1,
            }
        }
        if announced > 0 {
            match sender {
                None => {
                    rx.foreign.fetch_add(announced, Ordering::Relaxed);
                }
                Some(s) => {
                    let nh = if sc.v6() {
                        match u.mp_reach().and_then(|m| m.next_hop()) {
                            Some(MpNextHop::V6 { global, .. }) => Some(IpAddr::V6(global)),
                            _ => None,
                        }
                    } else {
                        attrs.next_hop().map(IpAddr::V4)
                    };
                    if nh != next_hops.get(s).copied() {
                        rx.nh_mismatch.fetch_add(announced, Ordering::Relaxed);
                    }
                }
            }
        }
        rx.announced.fetch_add(announced, Ordering::Relaxed);
        rx.withdrawn.fetch_add(withdrawn, Ordering::Relaxed);
        if strays > 0 {
            rx.strays.fetch_add(strays, Ordering::Relaxed);
        }
        let now = ns_since(epoch);
        rx.last_update_ns.store(now, Ordering::Relaxed);
        rx.correct.store(correct as u64, Ordering::Relaxed);
        let c = correct == universe;
        if c != converged {
            converged = c;
            if c {
                rx.converged_at_ns.store(now, Ordering::Relaxed);
            }
            rx.converged.store(c, Ordering::Release);
        }
    }
}

/// Raises this process's soft limit of open files to the hard limit (servers started from it
/// inherit the limit); the soft limit in force afterwards.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}
