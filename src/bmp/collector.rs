//! One BMP collector connection (RFC 7854 §3.3: the monitored router connects out and only
//! ever sends). It connects, sends Initiation, then what its [`Feed`] produces — a full dump
//! first, then changes — and Termination when told to stop; it reconnects after a failure with
//! doubling back-off and jitter.
//!
//! A collector never slows routing: the feed is pulled only when the previous batch has been
//! written, so nothing queues up behind a slow collector but one batch. A collector that takes
//! none of a batch for `stall_limit` (a zero receive window) is disconnected and counted as a
//! resync: what it missed is not buffered, it gets a whole new dump when it reconnects.
//!
//! Owns the socket and the session's counters; knows nothing of the RIB or the sessions (that
//! is the feed's business) and never reads from the collector.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{info, warn};

use super::msg::{info, term, InfoTlv, Message};
pub use crate::directory::{CollectorEntry, CollectorState, CollectorStats};
use crate::session::fsm::{backoff, jitter};

/// How one collector is reached and treated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorSettings {
    pub name: String,
    pub address: SocketAddr,
    /// The first reconnect delay; it doubles per failure up to 60 times this.
    pub retry: Duration,
    /// How long a write may make no progress before the collector is dropped.
    pub stall_limit: Duration,
    /// Initiation's sysName and sysDescr.
    pub sys_name: String,
    pub sys_descr: String,
}

/// What a collector session sends after Initiation. A session calls [`Feed::dump`] until it
/// returns false, then [`Feed::changes`] for as long as the session lasts; a new session
/// starts again with `dump`.
#[allow(async_fn_in_trait)]
pub trait Feed: Send {
    /// Starts (`first`) or continues a full dump, appending the next messages to `out`;
    /// false once the dump is complete (`out` may hold its last messages).
    fn dump(&mut self, first: bool, out: &mut Vec<Message>) -> bool;
    /// Waits until there are changes since what was last produced, and appends them.
    async fn changes(&mut self, out: &mut Vec<Message>);
    /// The session ended: let go of whatever the next session's dump does not need (it
    /// starts over), so that a collector that is away costs nothing while it is.
    fn release(&mut self);
}

/// Why a session ended.
enum End {
    Stop,
    Failed(String),
    Stalled,
}

/// Runs the collector until `stop` turns true; then sends Termination (if connected) and
/// returns.
pub async fn run<F: Feed>(
    settings: CollectorSettings,
    mut feed: F,
    stats: Arc<CollectorStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        stats.set_state(CollectorState::Connecting);
        let connected = tokio::select! {
            c = tokio::time::timeout(settings.stall_limit, TcpStream::connect(settings.address)) => c,
            _ = stop.changed() => break,
        };
        let end = match connected {
            Ok(Ok(sock)) => {
                failures = 0;
                stats.sessions.fetch_add(1, Ordering::Relaxed);
                info!(collector = %settings.name, address = %settings.address, "BMP collector connected");
                session(&settings, sock, &mut feed, &stats, &mut stop).await
            }
            Ok(Err(e)) => End::Failed(format!("connect: {e}")),
            Err(_) => End::Failed("connect: timed out".into()),
        };
        feed.release();
        match end {
            End::Stop => break,
            End::Failed(e) => {
                warn!(collector = %settings.name, error = %e, "BMP collector session failed");
                stats.set_error(e);
            }
            End::Stalled => {
                stats.resyncs.fetch_add(1, Ordering::Relaxed);
                let e = format!(
                    "the collector read nothing for {:?}: disconnected; it gets a full dump when it reconnects",
                    settings.stall_limit
                );
                warn!(collector = %settings.name, "{e}");
                stats.set_error(e);
            }
        }
        failures = failures.saturating_add(1);
        stats.set_state(CollectorState::Waiting);
        let wait = backoff(settings.retry, failures - 1, jitter());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    stats.set_state(CollectorState::Stopped);
}

async fn session<F: Feed>(
    s: &CollectorSettings,
    mut sock: TcpStream,
    feed: &mut F,
    stats: &CollectorStats,
    stop: &mut watch::Receiver<bool>,
) -> End {
    let _ = sock.set_nodelay(true);
    let mut batch = vec![Message::Initiation(vec![
        InfoTlv::text(info::SYS_DESCR, &s.sys_descr),
        InfoTlv::text(info::SYS_NAME, &s.sys_name),
    ])];
    stats.set_state(CollectorState::Dumping);
    let mut first = true;
    let mut dumping = true;
    let mut buf = BytesMut::new();
    loop {
        if dumping {
            dumping = feed.dump(first, &mut batch);
            first = false;
            if !dumping {
                stats.set_state(CollectorState::Up);
            }
        } else if batch.is_empty() {
            tokio::select! {
                _ = feed.changes(&mut batch) => {}
                _ = stop.changed() => return terminate(s, sock, stats).await,
            }
        }
        buf.clear();
        for m in batch.drain(..) {
            m.encode(&mut buf);
            stats.messages.fetch_add(1, Ordering::Relaxed);
        }
        if buf.is_empty() {
            continue;
        }
        // A batch is written whole (bounded: the feed makes batches of a few hundred KiB at
        // most), so that Termination never lands inside a message.
        if let Err(e) = write_watched(&mut sock, &buf, s.stall_limit).await {
            return e;
        }
        stats.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if *stop.borrow() {
            return terminate(s, sock, stats).await;
        }
    }
}

/// Writes `buf`, failing with `Stalled` when no byte of it goes out for `limit`.
async fn write_watched(sock: &mut TcpStream, mut buf: &[u8], limit: Duration) -> Result<(), End> {
    while !buf.is_empty() {
        match tokio::time::timeout(limit, sock.write(buf)).await {
            Err(_) => return Err(End::Stalled),
            Ok(Ok(0)) => return Err(End::Failed("the collector closed the connection".into())),
            Ok(Ok(n)) => buf = buf.get(n..).unwrap_or_default(),
            Ok(Err(e)) => return Err(End::Failed(format!("write: {e}"))),
        }
    }
    Ok(())
}

/// Termination ("administratively closed"), given a second to go out.
async fn terminate(s: &CollectorSettings, mut sock: TcpStream, stats: &CollectorStats) -> End {
    let m = Message::Termination(vec![InfoTlv {
        kind: term::REASON,
        value: bytes::Bytes::copy_from_slice(&term::REASON_ADMIN_CLOSE.to_be_bytes()),
    }]);
    let b = m.to_bytes();
    if write_watched(&mut sock, &b, Duration::from_secs(1))
        .await
        .is_ok()
    {
        stats.messages.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        let _ = sock.shutdown().await;
    }
    info!(collector = %s.name, "BMP collector: Termination sent");
    End::Stop
}
