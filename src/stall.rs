//! A stream wrapper for the readers' front doors (the looking glass and the control socket)
//! that gives up on a client that stops reading: once a write has made no progress for the
//! stall limit, it fails with `TimedOut`, so the connection ends and its slot is free again.
//! Progress is any octet written; a slow client that keeps reading is never cut off.
//!
//! It owns only that timer. It must not be used for BGP sessions, whose send hold timer
//! (RFC 9687) measures what the peer acknowledged instead (`session/writer.rs`).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A client that reads nothing for this long is disconnected.
pub const WRITE_STALL: Duration = Duration::from_secs(30);

/// `io` with a write-stall limit.
pub struct Stall<T> {
    io: T,
    limit: Duration,
    /// Armed while a write is pending; cleared by any progress.
    since: Option<Pin<Box<Sleep>>>,
}

impl<T> Stall<T> {
    pub fn new(io: T, limit: Duration) -> Stall<T> {
        Stall {
            io,
            limit,
            since: None,
        }
    }

    /// What a write, a vectored write or a flush of the inner stream returned: progress
    /// clears the timer; pending arms it if needed, and fails once it has fired.
    fn watch<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if r.is_ready() {
            self.since = None;
            return r;
        }
        let limit = self.limit;
        let timer = self
            .since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", limit.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stall<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stall<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_client_that_never_reads_is_given_up() {
        let (a, _b) = tokio::io::duplex(1024);
        let mut w = Stall::new(a, Duration::from_millis(200));
        let t0 = std::time::Instant::now();
        let e = w.write_all(&vec![0u8; 64 * 1024]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_slow_reader_is_not() {
        let (a, mut b) = tokio::io::duplex(512);
        let mut w = Stall::new(a, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 512];
            loop {
                // 512 octets every 100 ms: the whole write takes 1.6 s, each stall 100 ms.
                tokio::time::sleep(Duration::from_millis(100)).await;
                match b.read(&mut buf).await.unwrap() {
                    0 => return got,
                    n => got += n,
                }
            }
        });
        w.write_all(&vec![1u8; 8 * 1024]).await.unwrap();
        drop(w);
        assert_eq!(reader.await.unwrap(), 8 * 1024);
    }
}
