//! The control socket's idle disconnect through the real binary: a client that sends no
//! complete request for `[control] idle_timeout` gets an error answer and is closed (so
//! forgotten connections cannot hold the client slots); a client that keeps asking stays;
//! and a client that asks and never reads its answers is closed after as long.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Peerex, TempDir};

/// A server without peers whose control socket has `idle_timeout = 2`, in its directory (first,
/// so that it is dropped last), and the socket's path.
fn start(name: &str) -> (TempDir, Peerex, PathBuf) {
    let dir = TempDir::new(name);
    let cfg = format!(
        "[server]\nasn = {}\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{{port}}\"]\n\n\
         [control]\nsocket = \"{}\"\nidle_timeout = 2\n",
        common::peerex::RS_ASN,
        dir.join("peerex.sock").display()
    );
    let port = common::unique_port();
    let cfg = cfg.replace("{port}", &port.to_string());
    let rs = Peerex::start_with_config(&dir, &cfg, port).unwrap();
    let sock = dir.join("peerex.sock");
    (dir, rs, sock)
}

#[test]
fn a_silent_client_is_told_and_closed_a_talking_one_stays() {
    let (_dir, rs, sock) = start("ctl-idle");

    let t = Instant::now();
    let silent = UnixStream::connect(&sock).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut talking = UnixStream::connect(&sock).unwrap();
    talking
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut talking_rd = BufReader::new(talking.try_clone().unwrap());

    // The talking client asks every half second for four seconds: twice the idle timeout.
    for _ in 0..8 {
        talking.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
        let mut line = String::new();
        talking_rd.read_line(&mut line).unwrap();
        assert!(line.contains("\"ok\":true"), "{line}");
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut rd = BufReader::new(silent);
    let mut line = String::new();
    rd.read_line(&mut line).unwrap();
    assert!(line.contains("idle"), "{line}");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_secs(2), "closed after {waited:?}");
    let mut rest = String::new();
    assert_eq!(rd.read_line(&mut rest).unwrap(), 0, "still open: {rest}");
    // The talking one is still served.
    talking.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
    let mut line = String::new();
    talking_rd.read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":true"), "{line}");
    assert!(rs.running());
}

#[test]
fn a_client_that_never_reads_is_closed() {
    let (_dir, rs, sock) = start("ctl-deaf");

    // 4,000 pipelined requests whose answers (about 1 KiB each) are far more than the
    // socket buffers hold: the server blocks writing while the client reads nothing.
    const ASKED: usize = 4000;
    let mut deaf = UnixStream::connect(&sock).unwrap();
    deaf.write_all(&b"{\"cmd\":\"status\"}\n".repeat(ASKED))
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    // Now read: what the server wrote before it gave up, then the end of the connection
    // (or a reset: the server closed with requests of ours unread), well before every answer.
    deaf.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    match deaf.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading: {e}"),
    }
    let answers = got.iter().filter(|&&b| b == b'\n').count();
    assert!(
        answers < ASKED,
        "all {answers} answers arrived: the server waited for the client to read"
    );
    // The server serves others as before.
    let mut other = UnixStream::connect(&sock).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    other.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(other).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":true"), "{line}");
    assert!(rs.running());
}
