//! A minimal BGP speaker built on peerex's own codec, for load and scale tests: it connects
//! from a chosen loopback address, exchanges OPENs, sends keepalives on time, counts what it
//! receives (and tracks the longest silence from the other side), can send large numbers of
//! UPDATEs, and can stop reading its socket to play a stuck peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use peerex::session::framing::FrameReader;
use peerex::wire::capability::{AddPathEntry, Capability, GrFamily, GracefulRestart};
use peerex::wire::update::pack_announce;
use peerex::wire::{
    header, AfiSafi, AsPath, Asn, Family, Message, MpNextHop, Nlri, Notification, Open, Origin,
    ParseCtx, PathAttributes, Prefix,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpSocket;

/// What a speaker has seen.
#[derive(Default)]
pub struct Stats {
    pub updates: AtomicU64,
    pub announced: AtomicU64,
    pub withdrawn: AtomicU64,
    pub eor_v4: AtomicBool,
    pub eor_v6: AtomicBool,
    pub closed: AtomicBool,
    pub notification: Mutex<Option<Notification>>,
    /// Longest time between two messages from the route server, in milliseconds.
    pub max_gap_ms: AtomicU64,
    /// ROUTE-REFRESH requests received from the route server.
    pub refresh_requests: AtomicU64,
    /// The prefixes the speaker holds (announced and not withdrawn since), when tracked.
    pub held: Mutex<std::collections::HashSet<Nlri>>,
}

pub struct Speaker {
    pub local: IpAddr,
    pub asn: u32,
    pub stats: Arc<Stats>,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    stop_reading: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub tx: ParseCtx,
}

#[derive(Clone, Copy, Debug)]
pub struct SpeakerOpts {
    pub hold_time: u16,
    pub add_path: bool,
    /// Socket receive buffer in bytes (small makes a stuck reader stall the sender sooner).
    pub recv_buffer: Option<u32>,
    /// Advertise graceful restart (RFC 4724) for IPv4 unicast, forwarding state preserved.
    pub graceful_restart: bool,
    /// Advertise enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Keep the set of prefixes held (`Stats::held`), not only counters.
    pub track: bool,
    /// Advertise extended messages (RFC 8654): UPDATEs up to 65,535 octets both ways when
    /// the route server offers them too.
    pub extended_message: bool,
    /// Send no KEEPALIVEs after the OPEN exchange: a peer that went silent.
    pub silent: bool,
}

impl Default for SpeakerOpts {
    fn default() -> Self {
        SpeakerOpts {
            hold_time: 90,
            add_path: false,
            recv_buffer: None,
            graceful_restart: false,
            enhanced_route_refresh: false,
            track: false,
            extended_message: false,
            silent: false,
        }
    }
}

impl Speaker {
    /// Connects from `local` to the route server at `rs` and completes the OPEN exchange.
    pub async fn connect(
        local: IpAddr,
        rs: SocketAddr,
        asn: u32,
        opts: SpeakerOpts,
    ) -> std::io::Result<Speaker> {
        let sock = if local.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.bind(SocketAddr::new(local, 0))?;
        if let Some(b) = opts.recv_buffer {
            sock.set_recv_buffer_size(b)?;
        }
        let stream = tokio::time::timeout(Duration::from_secs(10), sock.connect(rs))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect"))??;
        stream.set_nodelay(true)?;
        let (rd, mut wr) = stream.into_split();
        let mut caps = vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(Asn(asn)),
        ];
        if opts.enhanced_route_refresh {
            caps.push(Capability::EnhancedRouteRefresh);
        }
        if opts.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        if opts.graceful_restart {
            caps.push(Capability::GracefulRestart(GracefulRestart {
                flags: 0,
                time: 120,
                families: vec![GrFamily {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    flags: GracefulRestart::FORWARDING,
                }],
            }));
        }
        if opts.add_path {
            caps.push(Capability::AddPath(vec![
                AddPathEntry {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    send_receive: 3,
                },
                AddPathEntry {
                    afi_safi: AfiSafi::IPV6_UNICAST,
                    send_receive: 3,
                },
            ]));
        }
        let id = match local {
            IpAddr::V4(a) => {
                let o = a.octets();
                Ipv4Addr::new(10, o[1], o[2], o[3])
            }
            IpAddr::V6(_) => Ipv4Addr::new(10, 254, 0, 1),
        };
        let open = Open::new(Asn(asn), opts.hold_time, id, caps);
        let mut b = BytesMut::new();
        open.encode(&mut b);
        header::encode_keepalive(&mut b);
        wr.write_all(&b).await?;
        let mut reader = FrameReader::new(rd);
        let ctx0 = ParseCtx::new();
        let err = |m: String| std::io::Error::other(m);
        let first = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .map_err(|_| err("no OPEN".into()))?
            .map_err(|e| err(e.to_string()))?;
        let theirs = match Message::decode(first, &ctx0) {
            Ok(Message::Open(o)) => o,
            other => return Err(err(format!("expected OPEN, got {other:?}"))),
        };
        let add_path = opts.add_path
            && theirs
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::AddPath(_)));
        let extended_message = opts.extended_message
            && theirs
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::ExtendedMessage));
        let mut rx = ParseCtx::new();
        if add_path {
            rx.add_path = peerex::wire::FamilySet::ALL;
        }
        rx.extended_message = extended_message;
        let second = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .map_err(|_| err("no KEEPALIVE".into()))?
            .map_err(|e| err(e.to_string()))?;
        match Message::decode(second, &rx) {
            Ok(Message::Keepalive) => {}
            other => return Err(err(format!("expected KEEPALIVE, got {other:?}"))),
        }
        let stats = Arc::new(Stats::default());
        let stop_reading = Arc::new(AtomicBool::new(false));
        let writer = Arc::new(tokio::sync::Mutex::new(wr));
        let mut tasks = Vec::new();
        {
            let stats = stats.clone();
            let track = opts.track;
            let stop = stop_reading.clone();
            tasks.push(tokio::spawn(async move {
                let mut last = Instant::now();
                loop {
                    while stop.load(Ordering::Acquire) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        last = Instant::now();
                    }
                    let f = match reader.next().await {
                        Ok(f) => f,
                        Err(_) => {
                            stats.closed.store(true, Ordering::Release);
                            return;
                        }
                    };
                    let gap = last.elapsed().as_millis() as u64;
                    stats.max_gap_ms.fetch_max(gap, Ordering::Relaxed);
                    last = Instant::now();
                    match Message::decode(f, &rx) {
                        Ok(Message::Update(u)) => {
                            stats.updates.fetch_add(1, Ordering::Relaxed);
                            if let Some(eor) = u.end_of_rib() {
                                match eor.family() {
                                    Some(Family::Ipv4Unicast) => {
                                        stats.eor_v4.store(true, Ordering::Release)
                                    }
                                    Some(Family::Ipv6Unicast) => {
                                        stats.eor_v6.store(true, Ordering::Release)
                                    }
                                    None => {}
                                }
                            }
                            stats
                                .announced
                                .fetch_add(u.announced().count() as u64, Ordering::Relaxed);
                            stats
                                .withdrawn
                                .fetch_add(u.withdrawals().count() as u64, Ordering::Relaxed);
                            if track {
                                let mut held = stats.held.lock().unwrap();
                                for n in u.withdrawals() {
                                    held.remove(&n);
                                }
                                held.extend(u.announced());
                            }
                        }
                        Ok(Message::Notification(n)) => {
                            *stats.notification.lock().unwrap() = Some(n);
                            stats.closed.store(true, Ordering::Release);
                            return;
                        }
                        Ok(Message::RouteRefresh(_)) => {
                            stats.refresh_requests.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => panic!("route server sent something undecodable: {e}"),
                    }
                }
            }));
        }
        if opts.hold_time > 0 && !opts.silent {
            let w = writer.clone();
            let every = Duration::from_millis(u64::from(opts.hold_time) * 1000 / 3);
            tasks.push(tokio::spawn(async move {
                let mut ka = BytesMut::new();
                header::encode_keepalive(&mut ka);
                let ka = ka.freeze();
                loop {
                    tokio::time::sleep(every).await;
                    if w.lock().await.write_all(&ka).await.is_err() {
                        return;
                    }
                }
            }));
        }
        let mut tx = ParseCtx::new();
        if add_path {
            tx.add_path = peerex::wire::FamilySet::ALL;
        }
        tx.extended_message = extended_message;
        Ok(Speaker {
            local,
            asn,
            stats,
            writer,
            stop_reading,
            tasks,
            tx,
        })
    }

    /// Sends raw encoded messages.
    pub async fn send(&self, b: &[u8]) -> std::io::Result<()> {
        self.writer.lock().await.write_all(b).await
    }

    /// Stops (or resumes) reading from the socket, like a stuck router.
    pub fn set_reading(&self, on: bool) {
        self.stop_reading.store(!on, Ordering::Release);
    }

    pub fn received(&self) -> u64 {
        self.stats.announced.load(Ordering::Relaxed)
    }

    pub fn closed(&self) -> bool {
        self.stats.closed.load(Ordering::Acquire)
    }

    pub fn eor(&self) -> bool {
        self.stats.eor_v4.load(Ordering::Acquire) && self.stats.eor_v6.load(Ordering::Acquire)
    }

    pub fn notification(&self) -> Option<Notification> {
        self.stats.notification.lock().unwrap().clone()
    }
}

impl Speaker {
    /// Ends the connection with a TCP reset (SO_LINGER 0), as a crashing host would.
    pub async fn reset(self) {
        {
            let w = self.writer.lock().await;
            // Linger 0: close() sends a reset at once and does not block.
            if let Err(e) = socket2::SockRef::from(w.as_ref()).set_linger(Some(Duration::ZERO)) {
                panic!("SO_LINGER: {e}");
            }
        }
        drop(self);
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `n` distinct IPv4 /24s: `base`.0.0.0/24, `base`.0.1.0/24, … continuing into the next
/// first octets (65,536 per octet).
pub fn prefixes(base: u8, n: usize) -> Vec<Nlri> {
    (0..n as u32)
        .map(|i| {
            let addr = ((u32::from(base) + i / 65536) << 24) | ((i % 65536) << 8);
            Nlri::new(Prefix::new(IpAddr::V4(Ipv4Addr::from(addr)), 24).unwrap())
        })
        .collect()
}

/// Packed UPDATEs announcing `list` from `asn` (next hop `nh`), paths `[asn, 64999]`.
pub fn announcements(asn: u32, nh: Ipv4Addr, list: &[Nlri], ctx: &ParseCtx) -> Bytes {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([Asn(asn), Asn(64999)])),
        next_hop: Some(nh),
        ..PathAttributes::default()
    };
    let mut enc = BytesMut::new();
    attrs.encode(ctx, &mut enc);
    let mut out = BytesMut::new();
    pack_announce(
        ctx,
        Family::Ipv4Unicast,
        &enc,
        &MpNextHop::V4(nh),
        list,
        &mut out,
    )
    .unwrap();
    out.freeze()
}

/// A sequence of distinct 127.a.b.c addresses for many peers.
pub fn loopbacks(second: u8, n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| {
            IpAddr::V4(Ipv4Addr::new(
                127,
                second,
                (i / 250) as u8,
                (i % 250 + 1) as u8,
            ))
        })
        .collect()
}

/// Configured peers `p0`, `p1`, … at `addrs`, with ASNs counting up from `first_asn`;
/// `extra(i)` goes into peer `i`'s table.
pub fn numbered_peers(
    addrs: &[IpAddr],
    first_asn: u32,
    extra: impl Fn(usize) -> String,
) -> Vec<super::PeerexPeer> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| super::PeerexPeer {
            name: format!("p{i}"),
            asn: first_asn + i as u32,
            address: *a,
            extra: extra(i),
        })
        .collect()
}

/// Polls `f` every 20 ms until it holds; panics naming `what` after `timeout` (benches time
/// loads of a few hundred milliseconds with it).
pub async fn wait_async(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
