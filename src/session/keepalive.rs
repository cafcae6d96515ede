//! The keepalive backstop: one plain thread that writes a KEEPALIVE for an Established
//! session whose own task has not written anything for one and a half keepalive intervals.
//!
//! Why: all sessions share the I/O runtime, and while it is saturated (a thousand sessions
//! writing their clients' backlogs) a session's keepalive timer can wait seconds for its turn,
//! longer than a 3 s hold time. This thread is outside that queue.
//!
//! Owns: each session's [`Gate`] — a lock the session's writes happen under, whether the
//! stream so far ends at a message boundary, when anything was last written, and a `dup` of
//! the socket. It writes only at a message boundary, only when the kernel's send queue is
//! empty (so the 19 octets go in one piece), and never after the session closed its gate
//! (before its NOTIFICATION and before the socket is dropped). Must not: read, decide
//! anything about the session, or write anything but a KEEPALIVE.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::net::tcp::OwnedWriteHalf;
use tracing::{debug, warn};

use super::sockopt;
use super::status::{Counters, PeerStatus};
use super::writer::Outbox;
use crate::rib::OutQueue;
use crate::wire::header;

/// How often the thread looks at the sessions.
const SCAN: Duration = Duration::from_millis(100);

struct State {
    /// Our own handle on the socket; taken (closed) when the session closes the gate.
    fd: Option<OwnedFd>,
    /// The octets written so far end at a message boundary.
    boundary: bool,
    last_write: Instant,
    /// What the thread could not write of a KEEPALIVE (the session writes it first).
    rest: Option<Bytes>,
    /// KEEPALIVEs the thread wrote for this session, and when it last said so.
    sent: u64,
    said: Option<Instant>,
}

/// One Established session's side of the backstop.
pub struct Gate {
    state: Mutex<State>,
    every: Duration,
    status: Arc<PeerStatus>,
    name: Arc<str>,
}

impl Gate {
    /// Registers a session whose keepalive interval is `every`. The returned guard closes
    /// the gate when dropped.
    pub fn open(
        writer: &OwnedWriteHalf,
        every: Duration,
        status: Arc<PeerStatus>,
        name: Arc<str>,
    ) -> io::Result<GateGuard> {
        let fd = writer.as_ref().as_fd().try_clone_to_owned()?;
        let gate = Arc::new(Gate {
            state: Mutex::new(State {
                fd: Some(fd),
                boundary: true,
                last_write: Instant::now(),
                rest: None,
                sent: 0,
                said: None,
            }),
            every,
            status,
            name,
        });
        registry().add(&gate);
        Ok(GateGuard(gate))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what `outbox` holds (after any KEEPALIVE rest), under the gate, and advances it.
    /// The result is the outbox octets written.
    pub fn poll_write(
        &self,
        cx: &mut Context<'_>,
        writer: &mut OwnedWriteHalf,
        outbox: &mut Outbox,
        queue: &OutQueue,
    ) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        while let Some(rest) = s.rest.as_mut() {
            match Pin::new(&mut *writer).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                Poll::Ready(Ok(k)) => {
                    rest.advance(k);
                    if rest.is_empty() {
                        s.rest = None;
                        s.boundary = true;
                    }
                }
                other => return other,
            }
        }
        let r = poll_write(cx, writer, outbox, queue);
        if let Poll::Ready(Ok(n)) = r {
            if n > 0 {
                s.boundary = outbox.at_boundary();
                s.last_write = Instant::now();
            }
        }
        r
    }

    /// One look by the thread: a KEEPALIVE if the session has been silent too long.
    fn backstop(&self, now: Instant) -> bool {
        let mut s = self.lock();
        let Some(fd) = s.fd.as_ref() else {
            return false;
        };
        if !s.boundary || s.rest.is_some() || now.duration_since(s.last_write) < self.due() {
            return false;
        }
        // Only into an empty send queue: then the kernel takes all 19 octets at once.
        if sockopt::unacked_bytes(fd).ok() != Some(0) {
            return false;
        }
        let mut ka = BytesMut::new();
        header::encode_keepalive(&mut ka);
        let ka = ka.freeze();
        match sockopt::send_now(fd, &ka) {
            Ok(n) if n == ka.len() => {}
            Ok(n) => {
                s.rest = Some(ka.slice(n..));
                s.boundary = false;
            }
            Err(e) => {
                debug!(peer = %self.name, error = %e, "keepalive backstop: write failed");
                return false;
            }
        }
        let silent = now.duration_since(s.last_write);
        s.last_write = now;
        s.sent += 1;
        // Logged once a minute at most per session, with the count since the first.
        let say = s
            .said
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60));
        if say {
            s.said = Some(now);
        }
        let sent = s.sent;
        drop(s);
        Counters::add(&self.status.counters.messages_out, 1);
        if say {
            warn!(
                peer = %self.name,
                silent_ms = silent.as_millis() as u64,
                sent_by_backstop = sent,
                "keepalive sent by the backstop thread: the session's own task was late"
            );
        }
        true
    }

    /// How long since the session (or the thread) last wrote.
    pub fn since_write(&self) -> Duration {
        self.lock().last_write.elapsed()
    }

    fn due(&self) -> Duration {
        self.every + self.every / 2
    }

    fn closed(&self) -> bool {
        self.lock().fd.is_none()
    }
}

/// One vectored write of what `outbox` holds; advances it by what the socket took.
pub fn poll_write(
    cx: &mut Context<'_>,
    writer: &mut OwnedWriteHalf,
    outbox: &mut Outbox,
    queue: &OutQueue,
) -> Poll<io::Result<usize>> {
    let r = {
        let slices = outbox.slices();
        Pin::new(&mut *writer).poll_write_vectored(cx, &slices)
    };
    if let Poll::Ready(Ok(n)) = r {
        outbox.advance(n, queue);
    }
    r
}

/// Closes its gate when dropped (or when asked): the thread writes nothing more, and its
/// handle on the socket is closed. Returns what is left of a KEEPALIVE it had started.
pub struct GateGuard(Arc<Gate>);

impl GateGuard {
    pub fn gate(&self) -> &Gate {
        &self.0
    }

    /// Closes the gate; the rest of a KEEPALIVE the thread started, to be written before
    /// anything else (a NOTIFICATION).
    pub fn close(&self) -> Option<Bytes> {
        let mut s = self.0.lock();
        s.fd = None;
        s.rest.take()
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.close();
    }
}

struct Registry {
    gates: Mutex<Vec<Weak<Gate>>>,
}

impl Registry {
    fn add(&self, g: &Arc<Gate>) {
        let mut v = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        v.push(Arc::downgrade(g));
    }

    fn run(&self) {
        let mut live = Vec::new();
        loop {
            std::thread::sleep(SCAN);
            {
                let mut v = self.gates.lock().unwrap_or_else(|e| e.into_inner());
                v.retain(|w| w.upgrade().is_some_and(|g| !g.closed()));
                live.extend(v.iter().filter_map(Weak::upgrade));
            }
            let now = Instant::now();
            for g in live.drain(..) {
                g.backstop(now);
            }
        }
    }
}

fn registry() -> &'static Registry {
    static R: OnceLock<&'static Registry> = OnceLock::new();
    R.get_or_init(|| {
        let r: &'static Registry = Box::leak(Box::new(Registry {
            gates: Mutex::new(Vec::new()),
        }));
        if let Err(e) = std::thread::Builder::new()
            .name("peerex-keepalive".into())
            .spawn(move || r.run())
        {
            warn!(error = %e, "cannot start the keepalive backstop thread");
        }
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    /// Reads what arrives within `wait`; empty when nothing does.
    async fn arrived(s: &mut TcpStream, wait: Duration) -> Vec<u8> {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(n)) => buf[..n].to_vec(),
            _ => Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_thread_keeps_a_silent_session_alive_only_at_a_boundary_and_never_after_close() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut peer, _) = l.accept().await.unwrap();
        let (_r, w) = ours.into_split();
        let every = Duration::from_millis(100);
        let guard = Gate::open(&w, every, PeerStatus::new(), Arc::from("t")).unwrap();
        let mut ka = BytesMut::new();
        header::encode_keepalive(&mut ka);

        // Nothing written by the session: KEEPALIVEs come from the thread.
        let got = arrived(&mut peer, Duration::from_secs(2)).await;
        assert!(!got.is_empty() && got.len() % ka.len() == 0, "{got:?}");
        assert!(got.chunks(ka.len()).all(|m| m == &ka[..]), "{got:?}");

        // Mid-message: nothing.
        guard.gate().lock().boundary = false;
        let _ = arrived(&mut peer, Duration::from_millis(50)).await;
        assert!(
            arrived(&mut peer, 4 * every).await.is_empty(),
            "wrote mid-message"
        );

        // A session that writes often enough needs none.
        guard.gate().lock().boundary = true;
        for _ in 0..8 {
            guard.gate().lock().last_write = Instant::now();
            tokio::time::sleep(every / 2).await;
        }
        let _ = arrived(&mut peer, Duration::from_millis(1)).await;

        // Closed: nothing more, ever.
        assert!(guard.close().is_none());
        let _ = arrived(&mut peer, Duration::from_millis(50)).await;
        assert!(
            arrived(&mut peer, 4 * every).await.is_empty(),
            "wrote after close"
        );
        assert!(guard.gate().closed());
    }
}
