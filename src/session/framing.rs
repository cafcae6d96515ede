//! Reading whole BGP messages off a byte stream: buffer, check the header, split the frame
//! out as `Bytes` without copying.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::wire::header::{self, MAX_LEN};
use crate::wire::Notification;

/// Why no frame could be read.
#[derive(Debug)]
pub enum FrameError {
    /// The connection failed.
    Io(std::io::Error),
    /// The peer closed the connection.
    Closed,
    /// A header error: send this NOTIFICATION and close.
    Header(Notification),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "connection error: {e}"),
            FrameError::Closed => f.write_str("connection closed by peer"),
            FrameError::Header(n) => write!(f, "bad message header: {n}"),
        }
    }
}

pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    max_len: usize,
    /// Room made for the next read: grows while reads fill it (a busy peer's UPDATEs then
    /// arrive in few reads), shrinks again while they do not (a quiet peer, which most of an
    /// exchange's clients are, costs a few KiB).
    chunk: usize,
}

/// Largest read: large enough that a busy peer's UPDATEs arrive in few reads.
const READ_CHUNK: usize = 64 * 1024;
/// First and smallest read.
const READ_MIN: usize = 4 * 1024;
/// What a quiet reader waits with: it holds no buffer between messages (an exchange's ~1,000
/// mostly quiet sessions would otherwise each keep `READ_MIN` for a keepalive every 30 s),
/// and reads the first octets of the next one into this much room in the task itself.
const IDLE_READ: usize = 64;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            max_len: MAX_LEN,
            chunk: READ_MIN,
        }
    }

    /// Largest message accepted (65,535 once extended messages are negotiated).
    pub fn set_max_len(&mut self, n: usize) {
        self.max_len = n;
    }

    /// The next whole message, header included. Cancel-safe: a partial read stays buffered.
    pub async fn next(&mut self) -> Result<Bytes, FrameError> {
        loop {
            if let Some(h) = header::check(&self.buf, self.max_len).map_err(FrameError::Header)? {
                if self.buf.len() >= h.len {
                    return Ok(self.buf.split_to(h.len).freeze());
                }
            }
            if self.buf.is_empty() && self.chunk == READ_MIN {
                // Quiet: let go of the buffer (frames already handed out keep their part)
                // and wait with a small read of our own.
                self.buf = BytesMut::new();
                let mut first = [0u8; IDLE_READ];
                let n = self.inner.read(&mut first).await.map_err(FrameError::Io)?;
                if n == 0 {
                    return Err(FrameError::Closed);
                }
                self.buf.reserve(self.chunk);
                self.buf
                    .extend_from_slice(first.get(..n).unwrap_or_default());
                continue;
            }
            if self.buf.capacity() - self.buf.len() < self.chunk / 4 {
                self.buf.reserve(self.chunk);
            }
            let room = self.buf.capacity() - self.buf.len();
            let n = self
                .inner
                .read_buf(&mut self.buf)
                .await
                .map_err(FrameError::Io)?;
            if n == 0 {
                return Err(FrameError::Closed);
            }
            if n >= room {
                self.chunk = (self.chunk * 2).min(READ_CHUNK);
            } else if n < self.chunk / 8 {
                self.chunk = (self.chunk / 2).max(READ_MIN);
            }
        }
    }

    /// Bytes read from the stream that do not yet make a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream read from.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_frames_across_reads() {
        let mut data = Vec::new();
        for _ in 0..3 {
            let mut b = BytesMut::new();
            header::encode_keepalive(&mut b);
            data.extend_from_slice(&b);
        }
        let (mut a, b) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            a.write_all(&data).await.unwrap();
        });
        let mut r = FrameReader::new(b);
        for _ in 0..3 {
            assert_eq!(r.next().await.unwrap().len(), 19);
        }
        writer.await.unwrap();
        assert!(matches!(r.next().await, Err(FrameError::Closed)));
    }

    /// Reads start small and grow while they fill the buffer, so a large message (extended
    /// messages) and a burst arrive whole.
    #[tokio::test]
    async fn large_messages_arrive_whole_across_growing_reads() {
        let mut msg = vec![0xffu8; 16];
        let len: u16 = 40_000;
        msg.extend_from_slice(&len.to_be_bytes());
        msg.push(2);
        msg.resize(usize::from(len), 0);
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend_from_slice(&msg);
        }
        let (mut a, b) = tokio::io::duplex(100_000);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            a.write_all(&data).await.unwrap();
        });
        let mut r = FrameReader::new(b);
        r.set_max_len(usize::from(u16::MAX));
        for _ in 0..3 {
            assert_eq!(r.next().await.unwrap().len(), usize::from(len));
        }
        assert!(r.chunk > READ_MIN, "reads grew");
        writer.await.unwrap();
    }

    /// A quiet session holds no read buffer while it waits, and still reads what comes next
    /// whole, whether it fits the first small read or not.
    #[tokio::test]
    async fn a_quiet_reader_holds_no_buffer_between_messages() {
        use tokio::io::AsyncWriteExt;
        let (mut a, b) = tokio::io::duplex(1 << 16);
        let mut r = FrameReader::new(b);
        let mut ka = BytesMut::new();
        header::encode_keepalive(&mut ka);
        a.write_all(&ka).await.unwrap();
        let frame = r.next().await.unwrap();
        assert_eq!(&frame[..], &ka[..]);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), r.next()).await;
        assert!(waiting.is_err(), "nothing more was sent");
        assert_eq!(r.buf.capacity(), 0, "no buffer held while waiting");
        // A message longer than the first small read, then one that is not.
        let mut msg = vec![0xffu8; 16];
        msg.extend_from_slice(&300u16.to_be_bytes());
        msg.push(2);
        msg.resize(300, 7);
        a.write_all(&msg).await.unwrap();
        a.write_all(&ka).await.unwrap();
        assert_eq!(&r.next().await.unwrap()[..], &msg[..]);
        assert_eq!(&r.next().await.unwrap()[..], &ka[..]);
        drop(frame);
        drop(a);
        assert!(matches!(r.next().await, Err(FrameError::Closed)));
    }

    #[tokio::test]
    async fn bad_header_is_a_notification() {
        let (mut a, b) = tokio::io::duplex(64);
        use tokio::io::AsyncWriteExt;
        a.write_all(&[0u8; 19]).await.unwrap();
        let mut r = FrameReader::new(b);
        assert!(matches!(r.next().await, Err(FrameError::Header(_))));
    }
}
