//! The collector connection against real sockets on loopback: what a collector receives and
//! in which order, Termination on stop, a collector that stops reading dropped and re-dumped,
//! and back-off while nothing listens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::collector::*;
use super::msg::*;

/// A feed of `chunks` dump batches of `per_chunk` Route Monitoring messages of `size` bytes,
/// then whatever arrives on `changes`.
struct Scripted {
    chunks: usize,
    per_chunk: usize,
    size: usize,
    at: usize,
    dumps: usize,
    /// Times the session ended and the feed was told to let go of its state.
    released: Arc<AtomicUsize>,
    changes: mpsc::Receiver<Message>,
}

fn route(tag: u32, size: usize) -> Message {
    let mut u = BytesMut::new();
    u.put_bytes(0xff, 16);
    u.put_u16(19 + size as u16);
    u.put_u8(2);
    u.put_bytes((tag % 251) as u8, size);
    Message::RouteMonitoring {
        peer: PeerHeader {
            peer_type: PeerType::Global,
            flags: 0,
            distinguisher: 0,
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            asn: tag,
            bgp_id: Ipv4Addr::new(10, 0, 0, 2),
            timestamp_secs: 0,
            timestamp_micros: 0,
        },
        update: u.freeze(),
    }
}

impl Scripted {
    fn new(chunks: usize, per_chunk: usize, size: usize, changes: mpsc::Receiver<Message>) -> Self {
        Scripted {
            chunks,
            per_chunk,
            size,
            at: 0,
            dumps: 0,
            released: Arc::new(AtomicUsize::new(0)),
            changes,
        }
    }
}

impl Feed for Scripted {
    fn dump(&mut self, first: bool, out: &mut Vec<Message>) -> bool {
        if first {
            self.at = 0;
            self.dumps += 1;
        }
        for i in 0..self.per_chunk {
            out.push(route((self.at * self.per_chunk + i) as u32, self.size));
        }
        self.at += 1;
        self.at < self.chunks
    }

    async fn changes(&mut self, out: &mut Vec<Message>) {
        match self.changes.recv().await {
            Some(m) => out.push(m),
            None => std::future::pending().await,
        }
    }

    fn release(&mut self) {
        self.released.fetch_add(1, Ordering::Relaxed);
    }
}

fn settings(address: SocketAddr, stall: Duration) -> CollectorSettings {
    CollectorSettings {
        name: "c1".into(),
        address,
        retry: Duration::from_millis(100),
        stall_limit: stall,
        sys_name: "rs1".into(),
        sys_descr: "peerex test".into(),
    }
}

/// Reads BMP messages off `s` until `n` arrived.
async fn read_messages(s: &mut TcpStream, n: usize) -> Vec<Message> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    while out.len() < n {
        let mut frozen: Bytes = buf.clone().freeze();
        while let Some((m, used)) = Message::decode(&frozen).unwrap() {
            out.push(m);
            frozen = frozen.slice(used..);
        }
        buf = BytesMut::from(&frozen[..]);
        if out.len() >= n {
            break;
        }
        let got = tokio::time::timeout(Duration::from_secs(10), s.read_buf(&mut buf))
            .await
            .expect("the collector connection went quiet")
            .unwrap();
        assert!(got > 0, "closed after {} messages", out.len());
    }
    out
}

#[tokio::test]
async fn initiation_then_dump_then_changes_then_termination() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    let feed = Scripted::new(3, 2, 10, rx);
    let stats = Arc::new(CollectorStats::default());
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run(
        settings(l.local_addr().unwrap(), Duration::from_secs(5)),
        feed,
        stats.clone(),
        stop,
    ));
    let (mut s, _) = l.accept().await.unwrap();
    let got = read_messages(&mut s, 7).await;
    assert!(matches!(&got[0], Message::Initiation(t)
        if t.iter().any(|t| t.kind == info::SYS_NAME && &t.value[..] == b"rs1")));
    let asns: Vec<u32> = got[1..]
        .iter()
        .map(|m| match m {
            Message::RouteMonitoring { peer, .. } => peer.asn,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(asns, vec![0, 1, 2, 3, 4, 5]);
    tx.send(route(99, 5)).await.unwrap();
    let got = read_messages(&mut s, 1).await;
    assert!(matches!(&got[0], Message::RouteMonitoring { peer, .. } if peer.asn == 99));
    assert_eq!(stats.state(), CollectorState::Up);
    stop_tx.send(true).unwrap();
    let got = read_messages(&mut s, 1).await;
    assert!(matches!(&got[0], Message::Termination(_)), "{got:?}");
    task.await.unwrap();
    assert_eq!(stats.state(), CollectorState::Stopped);
    assert_eq!(stats.messages.load(Ordering::Relaxed), 9);
    assert_eq!(stats.sessions.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_collector_that_stops_reading_is_dropped_and_dumped_again() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (_tx, rx) = mpsc::channel(1);
    // 64 MiB of dump: far more than the socket buffers of both ends hold.
    let released = Arc::new(AtomicUsize::new(0));
    let feed = Scripted {
        released: released.clone(),
        ..Scripted::new(256, 64, 4000, rx)
    };
    let stats = Arc::new(CollectorStats::default());
    let (_stop_tx, stop) = watch::channel(false);
    tokio::spawn(run(
        settings(l.local_addr().unwrap(), Duration::from_millis(500)),
        feed,
        stats.clone(),
        stop,
    ));
    // Accept and read nothing: the window closes, the writer stalls.
    let (stalled, _) = l.accept().await.unwrap();
    let (mut second, _) = tokio::time::timeout(Duration::from_secs(10), l.accept())
        .await
        .expect("no reconnect after the stall")
        .unwrap();
    drop(stalled);
    assert_eq!(stats.resyncs.load(Ordering::Relaxed), 1);
    assert_eq!(
        released.load(Ordering::Relaxed),
        1,
        "the feed let go of its state when the session ended"
    );
    assert!(
        stats.last_error().contains("read nothing"),
        "{}",
        stats.last_error()
    );
    // The new session starts over: Initiation, then the dump from its first message.
    let got = read_messages(&mut second, 3).await;
    assert!(matches!(&got[0], Message::Initiation(_)));
    assert!(matches!(&got[1], Message::RouteMonitoring { peer, .. } if peer.asn == 0));
    assert!(matches!(&got[2], Message::RouteMonitoring { peer, .. } if peer.asn == 1));
    assert_eq!(stats.sessions.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn nothing_listening_means_waiting_with_an_error() {
    // A port nothing listens on: bind, take the address, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (_tx, rx) = mpsc::channel(1);
    let feed = Scripted::new(1, 1, 1, rx);
    let stats = Arc::new(CollectorStats::default());
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run(
        settings(addr, Duration::from_secs(1)),
        feed,
        stats.clone(),
        stop,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        stats.state(),
        CollectorState::Waiting | CollectorState::Connecting
    ));
    assert!(
        stats.last_error().contains("connect"),
        "{}",
        stats.last_error()
    );
    assert_eq!(stats.sessions.load(Ordering::Relaxed), 0);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stop is not prompt while waiting to reconnect")
        .unwrap();
    assert_eq!(stats.state(), CollectorState::Stopped);
}
