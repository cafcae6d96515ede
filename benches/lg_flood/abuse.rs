//! The abusive clients of `lg_flood`'s *abuse* samples, each on its own OS threads so that
//! they cost the load generator's runtime nothing:
//!
//! * **burst**: `LGF_BURST` (default 1,000) connections opened at once, each sending one
//!   request, then every answer read; again and again. Beyond the looking glass's
//!   connection limit the server closes on accept; those count as *refused*.
//! * **slow-loris**: `LGF_LORIS` (default 64) connections that send a request head one octet
//!   per second and never finish it; reopened when the server closes them.
//! * **oversized**: a 200 KiB request target, and 100 headers of 1 KiB (over the 64 KiB head
//!   limit); must get a 4xx or be closed.
//! * **malformed**: garbage octets, bad percent-encoding, impossible prefixes, absurd page
//!   numbers and limits, a POST with a body, path traversal, HTTP/0.9; a 4xx or a close, and
//!   never a 5xx.
//! * **never-read**: `LGF_DEAF` (default 64) connections that pipeline requests for large
//!   route pages and never read a byte of the answers.
//! * **control socket**: 16 clients sending malformed lines and one line over the request
//!   limit, 8 that pipeline `routes` requests and never read, 8 that connect and stay silent.
//!
//! A *witness* meanwhile asks `GET /api/v1/status` and the control socket's `status` every
//! 250 ms and records whether and how fast it was answered.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the abusers and the witness saw.
#[derive(Default)]
pub struct Tally {
    pub burst_answered: AtomicU64,
    pub burst_refused: AtomicU64,
    pub loris_closed_by_server: AtomicU64,
    pub bad_4xx: AtomicU64,
    pub bad_closed: AtomicU64,
    /// Answers with a status that is wrong for a bad request (2xx, 5xx): described.
    pub bad_wrong: Mutex<Vec<String>>,
    pub deaf_open: AtomicU64,
    pub ctl_errors_answered: AtomicU64,
    pub witness_lg: Mutex<Vec<Option<Duration>>>,
    pub witness_ctl: Mutex<Vec<Option<Duration>>>,
}

/// One request over a fresh connection; the status code, 0 if the connection was closed or
/// failed without one.
pub fn raw(lg: SocketAddr, request: &[u8], timeout: Duration) -> u16 {
    let Ok(mut s) = TcpStream::connect_timeout(&lg, timeout) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    if s.write_all(request).is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    status_of(&buf)
}

fn status_of(buf: &[u8]) -> u16 {
    if !buf.starts_with(b"HTTP/1.") {
        return 0;
    }
    buf.get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn get_req(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: lg\r\nConnection: close\r\n\r\n").into_bytes()
}

/// The bad requests, each with a name.
fn bad_requests() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("garbage", b"\x00\x01\x02garbage\xff\xfe\r\n\r\n".to_vec()),
        ("bad percent", get_req("/api/v1/routes?prefix=%zz%")),
        ("impossible prefix", get_req("/api/v1/routes?prefix=300.1.1.1/40")),
        ("empty why", get_req("/api/v1/why?prefix=&neighbour=")),
        (
            "huge limit",
            get_req("/api/v1/neighbours/p0/routes/accepted?limit=99999999999999999999999"),
        ),
        (
            "huge page",
            get_req("/api/v1/neighbours/p0/routes/accepted?page=18446744073709551615&limit=1000"),
        ),
        ("unknown neighbour", get_req("/api/v1/neighbours/nobody/routes/accepted")),
        ("traversal", get_req("/../../../../etc/passwd")),
        (
            "post",
            b"POST /api/v1/status HTTP/1.1\r\nHost: lg\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
                .to_vec(),
        ),
        (
            "bad content-length",
            b"GET /api/v1/status HTTP/1.1\r\nHost: lg\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
        ("bad version", b"GET /api/v1/status HTTP/9.9\r\nHost: lg\r\n\r\n".to_vec()),
        ("http/0.9", b"GET /\r\n\r\n".to_vec()),
        ("unknown path", get_req("/api/v2/everything")),
    ];
    let long_target = format!("/api/v1/routes?prefix={}", "1".repeat(200 * 1024));
    v.push(("200 KiB target", get_req(&long_target)));
    let mut many = b"GET /api/v1/status HTTP/1.1\r\nHost: lg\r\n".to_vec();
    for i in 0..100 {
        many.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(1024)).as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    v.push(("100 KiB of headers", many));
    v
}

/// The running abusers and witness; [`Abuse::stop`] ends them.
pub struct Abuse {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub tally: Arc<Tally>,
}

impl Abuse {
    pub fn start(lg: SocketAddr, ctl: &Path) -> Abuse {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let mut threads = Vec::new();
        let spawn = |threads: &mut Vec<JoinHandle<()>>, f: Box<dyn FnOnce() + Send>| {
            threads.push(std::thread::spawn(f));
        };
        let (s, t) = (stop.clone(), tally.clone());
        spawn(&mut threads, Box::new(move || burst(lg, &s, &t)));
        let (s, t) = (stop.clone(), tally.clone());
        spawn(&mut threads, Box::new(move || slow_loris(lg, &s, &t)));
        let (s, t) = (stop.clone(), tally.clone());
        spawn(&mut threads, Box::new(move || malformed(lg, &s, &t)));
        let (s, t) = (stop.clone(), tally.clone());
        spawn(&mut threads, Box::new(move || deaf(lg, &s, &t)));
        let (s, t, c) = (stop.clone(), tally.clone(), ctl.to_path_buf());
        spawn(&mut threads, Box::new(move || control(&c, &s, &t)));
        let (s, t, c) = (stop.clone(), tally.clone(), ctl.to_path_buf());
        spawn(&mut threads, Box::new(move || witness(lg, &c, &s, &t)));
        Abuse {
            stop,
            threads,
            tally,
        }
    }

    /// Stops every abuser (their connections close) and the witness.
    pub fn stop(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.tally
    }
}

fn burst(lg: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let n = env_or("LGF_BURST", 1000);
    let req = get_req("/api/v1/neighbours");
    while !stop.load(Ordering::Relaxed) {
        let mut conns: Vec<TcpStream> = Vec::with_capacity(n);
        for _ in 0..n {
            match TcpStream::connect(lg) {
                Ok(mut s) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                    if s.write_all(&req).is_ok() {
                        conns.push(s);
                    } else {
                        t.burst_refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(_) => {
                    t.burst_refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for mut s in conns {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            if status_of(&buf) == 200 {
                t.burst_answered.fetch_add(1, Ordering::Relaxed);
            } else {
                t.burst_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn slow_loris(lg: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let n = env_or("LGF_LORIS", 64);
    let head = b"GET /api/v1/status HTTP/1.1\r\nHost: lg\r\nX-Slow: ";
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    while !stop.load(Ordering::Relaxed) {
        for c in conns.iter_mut() {
            if c.is_none() {
                if let Ok(s) = TcpStream::connect(lg) {
                    let _ = s.set_nonblocking(true);
                    *c = Some(s);
                }
            }
            let Some(s) = c.as_mut() else { continue };
            // One more octet of a head that never ends; a closed connection shows as an
            // error on write or as end of file on read.
            let mut probe = [0u8; 256];
            let closed = match s.read(&mut probe) {
                Ok(0) => true,
                Ok(_) => true, // the server answered (an error) and will close
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            } || s.write_all(&head[..1]).is_err();
            if closed {
                t.loris_closed_by_server.fetch_add(1, Ordering::Relaxed);
                *c = None;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn malformed(lg: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let bad = bad_requests();
    while !stop.load(Ordering::Relaxed) {
        for (name, req) in &bad {
            let code = raw(lg, req, Duration::from_secs(20));
            match code {
                0 => {
                    t.bad_closed.fetch_add(1, Ordering::Relaxed);
                }
                400..=499 => {
                    t.bad_4xx.fetch_add(1, Ordering::Relaxed);
                }
                c => {
                    let mut w = t.bad_wrong.lock().unwrap();
                    if w.len() < 32 {
                        w.push(format!("{name}: {c}"));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn deaf(lg: SocketAddr, stop: &AtomicBool, t: &Tally) {
    let n = env_or("LGF_DEAF", 64);
    let mut one =
        b"GET /api/v1/neighbours/p0/routes/accepted?limit=1000 HTTP/1.1\r\nHost: lg\r\n\r\n"
            .to_vec();
    one.extend_from_slice(b"GET /metrics HTTP/1.1\r\nHost: lg\r\n\r\n");
    let many: Vec<u8> = one.repeat(50);
    let mut conns = Vec::new();
    for _ in 0..n {
        if let Ok(s) = TcpStream::connect(lg) {
            let _ = s.set_nonblocking(true);
            conns.push(s);
        }
    }
    // Write as much of the pipeline as the server takes, never read.
    for s in conns.iter_mut() {
        let _ = s.write(&many);
    }
    t.deaf_open.store(conns.len() as u64, Ordering::Relaxed);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn control(ctl: &Path, stop: &AtomicBool, t: &Tally) {
    let mut noisy: Vec<(UnixStream, Vec<u8>)> = Vec::new();
    let mut deaf = Vec::new();
    let mut silent = Vec::new();
    for i in 0..32 {
        let Ok(s) = UnixStream::connect(ctl) else {
            continue;
        };
        match i % 4 {
            0 | 1 => noisy.push((s, Vec::new())),
            2 => {
                let _ = s.set_nonblocking(true);
                let line = b"{\"cmd\":\"routes\",\"to\":\"p0\",\"limit\":100000}\n".repeat(200);
                let mut s = s;
                let _ = s.write(&line);
                deaf.push(s);
            }
            _ => silent.push(s),
        }
    }
    let lines: [&[u8]; 4] = [
        b"not json at all\n",
        b"{\"cmd\":\"no-such-command\"}\n",
        b"{\"cmd\":\"peer\",\"name\":\"\xff\xfe\"}\n",
        b"{\"cmd\":\"routes\",\"prefix\":\"999.0.0.0/99\"}\n",
    ];
    let oversized: Vec<u8> = {
        let mut v = b"{\"cmd\":\"status\",\"pad\":\"".to_vec();
        v.extend(std::iter::repeat_n(b'x', 70 * 1024));
        v.extend_from_slice(b"\"}\n");
        v
    };
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for (s, _) in noisy.iter_mut() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            if s.write_all(lines[k % lines.len()]).is_ok() {
                let mut line = Vec::new();
                let mut b = [0u8; 1];
                while let Ok(1) = s.read(&mut b) {
                    if b[0] == b'\n' {
                        break;
                    }
                    line.push(b[0]);
                }
                if line.starts_with(b"{\"ok\":false") {
                    t.ctl_errors_answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            k += 1;
        }
        // One over-long line on a fresh connection each round: refused and closed.
        if let Ok(mut s) = UnixStream::connect(ctl) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.write_all(&oversized);
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            if buf.starts_with(b"{\"ok\":false") {
                t.ctl_errors_answered.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop((deaf, silent));
}

/// One control request over a fresh connection; whether it was answered `ok`.
pub fn ctl_status(ctl: &PathBuf, timeout: Duration) -> bool {
    let Ok(mut s) = UnixStream::connect(ctl) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    if s.write_all(b"{\"cmd\":\"status\"}\n").is_err() {
        return false;
    }
    let mut line = Vec::new();
    let mut b = [0u8; 4096];
    while !line.contains(&b'\n') {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => line.extend_from_slice(&b[..n]),
        }
    }
    line.starts_with(b"{\"ok\":true")
}

fn witness(lg: SocketAddr, ctl: &PathBuf, stop: &AtomicBool, t: &Tally) {
    let req = get_req("/api/v1/status");
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let ok = raw(lg, &req, Duration::from_secs(10)) == 200;
        t.witness_lg.lock().unwrap().push(ok.then(|| t0.elapsed()));
        let t0 = Instant::now();
        let ok = ctl_status(ctl, Duration::from_secs(10));
        t.witness_ctl.lock().unwrap().push(ok.then(|| t0.elapsed()));
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// "answered/asked, median and max latency" of a witness record.
pub fn summary(v: &[Option<Duration>]) -> (usize, usize, Duration, Duration) {
    let mut ok: Vec<Duration> = v.iter().flatten().copied().collect();
    ok.sort();
    let med = ok.get(ok.len() / 2).copied().unwrap_or_default();
    let max = ok.last().copied().unwrap_or_default();
    (ok.len(), v.len(), med, max)
}
