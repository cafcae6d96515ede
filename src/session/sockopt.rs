//! Transport-security socket options for BGP sessions (Linux only).
//!
//! * **TCP-MD5 signatures** (RFC 2385): [`set_md5`] installs or removes the key for one peer
//!   address on any TCP socket. On a listener each peer address has its own key; the kernel
//!   then drops SYNs from that address that are unsigned or signed with another key, and SYNs
//!   signed with a key from an address that has none. An accepted socket gets a copy of the key
//!   for its peer, so changing or removing a key on the listener does not touch established
//!   sessions: the session must be reset for a new key to take effect.
//! * **GTSM** (RFC 5082): [`set_gtsm`] sends with TTL / hop limit 255 and drops segments that
//!   arrive with a TTL below `256 - hops`. Set on a listener, Linux copies both values into
//!   every accepted socket (see the `gtsm_is_inherited_*` tests); set on an accepted socket with
//!   [`harden_accepted`] when only some peers of a shared listener use GTSM.
//! * **Outgoing connections**: [`connect`] (or [`connect_socket`] to drive `connect` yourself)
//!   binds an optional source address and applies the options *before* the SYN is sent.
//! * **Listeners**: [`listen`] / [`listen_with`] with `SO_REUSEADDR` and, for IPv6,
//!   `IPV6_V6ONLY`; keys are installed before `listen(2)` so no unsigned SYN slips through,
//!   and can be changed later (reload) with [`set_md5`] on the listener.
//!
//! libc exposes `TCP_MD5SIG` but not `struct tcp_md5sig`, so its layout from `linux/tcp.h` is
//! declared here and checked at compile time. This is the one module allowed `unsafe`: the
//! three raw `setsockopt`/`getsockopt` calls.

#![allow(unsafe_code)]

use std::io;
use std::mem::{align_of, offset_of, size_of};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Longest TCP-MD5 key the kernel accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// The TTL / hop limit GTSM sends with (RFC 5082 §3).
pub const GTSM_TTL: u8 = 255;

/// Pending-connection queue of listeners.
const LISTEN_BACKLOG: i32 = 1024;

/// `struct __kernel_sockaddr_storage`: 128 bytes, aligned like a pointer.
#[repr(C, align(8))]
struct KernelSockaddrStorage([u8; 128]);

/// `struct tcp_md5sig` from `linux/tcp.h`.
#[repr(C)]
struct TcpMd5Sig {
    addr: KernelSockaddrStorage,
    /// `TCP_MD5SIG_FLAG_*`; only read by `TCP_MD5SIG_EXT`, zero here.
    flags: u8,
    /// Only read by `TCP_MD5SIG_EXT` with `TCP_MD5SIG_FLAG_PREFIX`, zero here.
    prefixlen: u8,
    keylen: u16,
    /// Only read by `TCP_MD5SIG_EXT` with `TCP_MD5SIG_FLAG_IFINDEX`, zero here.
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY_LEN],
}

// The layout the kernel expects, and no padding (every byte handed to the kernel is
// initialised). The sockaddr offsets used by `kernel_sockaddr` come from libc's own structs.
const _: () = {
    assert!(size_of::<KernelSockaddrStorage>() == size_of::<libc::sockaddr_storage>());
    assert!(align_of::<KernelSockaddrStorage>() == align_of::<libc::sockaddr_storage>());
    assert!(offset_of!(TcpMd5Sig, flags) == 128);
    assert!(offset_of!(TcpMd5Sig, prefixlen) == 129);
    assert!(offset_of!(TcpMd5Sig, keylen) == 130);
    assert!(offset_of!(TcpMd5Sig, ifindex) == 132);
    assert!(offset_of!(TcpMd5Sig, key) == 136);
    assert!(size_of::<TcpMd5Sig>() == 136 + MD5_MAX_KEY_LEN);
    assert!(MD5_MAX_KEY_LEN == libc::TCP_MD5SIG_MAXKEYLEN);
    assert!(offset_of!(libc::sockaddr_in, sin_family) == 0);
    assert!(offset_of!(libc::sockaddr_in6, sin6_family) == 0);
};

/// Installs (`Some(key)`) or removes (`None`) the TCP-MD5 key for `peer` on `sock`.
///
/// Works on listeners (one key per peer address, any number of peers) and on outgoing
/// sockets before `connect`. On an IPv6 socket an IPv4 peer is written as its v4-mapped
/// address, which the kernel files as an IPv4 key (for dual-stack sockets); on an IPv4 socket
/// a v4-mapped IPv6 peer is unmapped. Installing a key for an address that already has one
/// replaces it. Removing a key that is not there succeeds.
///
/// Errors: `InvalidInput` for an empty (`Some(&[])`) or over-long key, or an IPv6 peer on an
/// IPv4 socket; `Unsupported` when the kernel is built without `CONFIG_TCP_MD5SIG`.
pub fn set_md5<S: AsFd>(sock: &S, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let fd = sock.as_fd();
    let peer = match (is_ipv6_socket(fd)?, peer) {
        (true, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (true, v6 @ IpAddr::V6(_)) => v6,
        (false, v4 @ IpAddr::V4(_)) => v4,
        (false, IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return Err(invalid("TCP-MD5: IPv6 peer address on an IPv4 socket")),
        },
    };
    let mut sig = TcpMd5Sig {
        addr: kernel_sockaddr(peer),
        flags: 0,
        prefixlen: 0,
        keylen: 0,
        ifindex: 0,
        key: [0; MD5_MAX_KEY_LEN],
    };
    // keylen 0 asks the kernel to delete the key for the address.
    let removing = key.is_none();
    if let Some(key) = key {
        check_md5_key(key)?;
        let slot = sig
            .key
            .get_mut(..key.len())
            .ok_or_else(|| invalid("TCP-MD5 key longer than 80 octets"))?;
        slot.copy_from_slice(key);
        sig.keylen = u16::try_from(key.len()).map_err(|_| invalid("TCP-MD5 key too long"))?;
    }
    match setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig) {
        Ok(()) => Ok(()),
        Err(e) if removing && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP-MD5 signatures are not supported by this kernel (CONFIG_TCP_MD5SIG)",
        )),
        Err(e) => Err(e),
    }
}

/// Validates a key given in configuration: 1 to 80 octets.
pub fn check_md5_key(key: &[u8]) -> io::Result<()> {
    if key.is_empty() {
        Err(invalid("TCP-MD5 key is empty (use no key to disable)"))
    } else if key.len() > MD5_MAX_KEY_LEN {
        Err(invalid("TCP-MD5 key longer than 80 octets"))
    } else {
        Ok(())
    }
}

/// Turns GTSM on: send with TTL / hop limit 255, drop segments whose TTL is below
/// `256 - hops` (`hops` = 1 for a directly connected peer, so the minimum is 255).
///
/// IPv4 sockets get `IP_TTL` / `IP_MINTTL`; IPv6 sockets `IPV6_UNICAST_HOPS` /
/// `IPV6_MINHOPCOUNT`, and the IPv4 pair too when they are dual-stack (not `IPV6_V6ONLY`),
/// since IPv4 traffic on them is checked against the IPv4 values.
pub fn set_gtsm<S: AsFd>(sock: &S, hops: u8) -> io::Result<()> {
    if hops == 0 {
        return Err(invalid("GTSM hop count must be 1 to 255"));
    }
    let min = libc::c_int::from(GTSM_TTL - (hops - 1));
    set_ttls(sock.as_fd(), libc::c_int::from(GTSM_TTL), min)
}

/// Turns GTSM off: kernel-default TTL / hop limit and no minimum.
pub fn clear_gtsm<S: AsFd>(sock: &S) -> io::Result<()> {
    // -1 asks the kernel for its default (sysctl) TTL / hop limit; 0 disables the check.
    set_ttls(sock.as_fd(), -1, 0)
}

fn set_ttls(fd: BorrowedFd<'_>, ttl: libc::c_int, min: libc::c_int) -> io::Result<()> {
    let v6 = is_ipv6_socket(fd)?;
    if v6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)?;
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)?;
    }
    if !v6 || !SockRef::from(&fd).only_v6()? {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl)?;
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min)?;
    }
    Ok(())
}

/// The TTL-related state of a socket, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TtlState {
    /// TTL / hop limit of outgoing segments (the kernel default when none was set).
    pub outgoing: u8,
    /// Lowest TTL / hop limit accepted; 0 when unchecked.
    pub min_accepted: u8,
}

/// Reads back what [`set_gtsm`] sets (the IPv6 pair on IPv6 sockets).
pub fn ttl_state<S: AsFd>(sock: &S) -> io::Result<TtlState> {
    let fd = sock.as_fd();
    let (level, ttl, min) = if is_ipv6_socket(fd)? {
        (
            libc::IPPROTO_IPV6,
            libc::IPV6_UNICAST_HOPS,
            libc::IPV6_MINHOPCOUNT,
        )
    } else {
        (libc::IPPROTO_IP, libc::IP_TTL, libc::IP_MINTTL)
    };
    let as_u8 = |v: libc::c_int| u8::try_from(v).map_err(|_| invalid("TTL out of range"));
    Ok(TtlState {
        outgoing: as_u8(getsockopt_int(fd, level, ttl)?)?,
        min_accepted: as_u8(getsockopt_int(fd, level, min)?)?,
    })
}

/// Bytes in the socket's send queue that the peer has not acknowledged yet (including
/// those not sent yet): `SIOCOUTQ`. Written bytes minus this is what the peer acknowledged.
pub fn unacked_bytes<S: AsFd>(sock: &S) -> io::Result<u64> {
    queue_len(sock, libc::TIOCOUTQ, "negative send queue length")
}

/// Bytes the peer sent that wait unread in the socket's receive queue: `SIOCINQ`
/// (`FIONREAD`). Non-zero when the hold timer fires means we, not the peer, were late.
pub fn unread_bytes<S: AsFd>(sock: &S) -> io::Result<u64> {
    queue_len(sock, libc::FIONREAD, "negative receive queue length")
}

/// How long ago the kernel last received data on this connection (`TCP_INFO`'s
/// `tcpi_last_data_recv`, in milliseconds): what the peer last sent, however late we read it.
pub fn since_data_received<S: AsFd>(sock: &S) -> io::Result<Duration> {
    // SAFETY: tcp_info is plain integers, for which all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`, which lives for the call;
    // the fd is borrowed from a live socket.
    let r = unsafe {
        libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            std::ptr::from_mut(&mut info).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < offset_of!(libc::tcp_info, tcpi_last_data_recv) + size_of::<u32>() {
        return Err(io::Error::other("TCP_INFO too short"));
    }
    Ok(Duration::from_millis(u64::from(info.tcpi_last_data_recv)))
}

/// Writes `buf` now or not at all: `send` with `MSG_DONTWAIT` (never blocks, whatever the
/// socket's mode) and `MSG_NOSIGNAL` (a closed peer is an error, not a SIGPIPE). Returns
/// the octets the kernel took, which may be fewer than `buf` when its send buffer is full.
pub fn send_now<S: AsFd>(sock: &S, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which lives for the call; the fd is
    // borrowed from a live socket.
    let r = unsafe {
        libc::send(
            sock.as_fd().as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(r).map_err(|_| io::Error::last_os_error())
}

/// A socket queue length read with `ioctl(request)` (`TIOCOUTQ` or `FIONREAD`).
fn queue_len<S: AsFd>(sock: &S, request: libc::Ioctl, negative: &'static str) -> io::Result<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: both requests write one c_int through the pointer, which points at `n` and
    // lives for the call; the fd is borrowed from a live socket.
    let r = unsafe {
        libc::ioctl(
            sock.as_fd().as_raw_fd(),
            request,
            std::ptr::from_mut(&mut n),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    u64::try_from(n).map_err(|_| invalid(negative))
}

/// Hardens a socket returned by `accept` for a peer whose configuration asks for GTSM.
///
/// MD5 needs nothing here: the kernel copies the listener's key for the peer into the
/// accepted socket. GTSM set on the listener is inherited too; call this with `Some(hops)`
/// when the listener is shared with peers that do not use GTSM (so the listener has none).
/// The handshake itself was then not TTL-checked, but nothing the peer sends afterwards is
/// accepted with a low TTL, including its OPEN. `None` leaves the socket as accepted.
pub fn harden_accepted(stream: &TcpStream, gtsm_hops: Option<u8>) -> io::Result<()> {
    match gtsm_hops {
        Some(hops) => set_gtsm(stream, hops),
        None => Ok(()),
    }
}

/// Creates the unconnected, non-blocking socket for an outgoing session to `peer`:
/// MD5 key for `peer`, GTSM, and the source address bound (port chosen at connect time,
/// `IP_BIND_ADDRESS_NO_PORT`), all in place before the SYN is sent.
///
/// A link-local IPv6 source takes the scope (interface) of `peer`.
pub fn connect_socket(
    peer: SocketAddr,
    source: Option<IpAddr>,
    md5: Option<&[u8]>,
    gtsm_hops: Option<u8>,
) -> io::Result<TcpSocket> {
    let sock = Socket::new(
        Domain::for_address(peer),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    if let Some(key) = md5 {
        set_md5(&sock, peer.ip(), Some(key))?;
    }
    if let Some(hops) = gtsm_hops {
        set_gtsm(&sock, hops)?;
    }
    if let Some(src) = source {
        let local = match (src, peer) {
            (IpAddr::V4(ip), SocketAddr::V4(_)) => SocketAddr::new(IpAddr::V4(ip), 0),
            (IpAddr::V6(ip), SocketAddr::V6(p)) => {
                let scope = if ip.is_unicast_link_local() {
                    p.scope_id()
                } else {
                    0
                };
                SocketAddr::V6(SocketAddrV6::new(ip, 0, 0, scope))
            }
            _ => {
                return Err(invalid(
                    "source and peer addresses are of different families",
                ))
            }
        };
        setsockopt(
            sock.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            &1,
        )?;
        sock.bind(&local.into())?;
    }
    Ok(TcpSocket::from_std_stream(sock.into()))
}

/// Connects to `peer` with the options of [`connect_socket`], giving up with `TimedOut`
/// after `timeout` (a peer whose kernel drops our SYNs, e.g. for a wrong MD5 key or TTL,
/// never answers).
pub async fn connect(
    peer: SocketAddr,
    source: Option<IpAddr>,
    md5: Option<&[u8]>,
    gtsm_hops: Option<u8>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let socket = connect_socket(peer, source, md5, gtsm_hops)?;
    match tokio::time::timeout(timeout, socket.connect(peer)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connect to {peer} timed out after {timeout:?}"),
        )),
    }
}

/// A listener on `addr` with `SO_REUSEADDR` (and `IPV6_V6ONLY` for IPv6). Must be called
/// inside a tokio runtime.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    listen_with(addr, &[], None)
}

/// [`listen`] with MD5 keys for peers and optional GTSM applied before `listen(2)`, so no
/// connection is accepted in between. Keys change later with [`set_md5`] on the listener.
pub fn listen_with(
    addr: SocketAddr,
    md5_keys: &[(IpAddr, &[u8])],
    gtsm_hops: Option<u8>,
) -> io::Result<TcpListener> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    for (peer, key) in md5_keys {
        set_md5(&sock, *peer, Some(key))?;
    }
    if let Some(hops) = gtsm_hops {
        set_gtsm(&sock, hops)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(sock.into())
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn is_ipv6_socket(fd: BorrowedFd<'_>) -> io::Result<bool> {
    match SockRef::from(&fd).domain()? {
        d if d == Domain::IPV6 => Ok(true),
        d if d == Domain::IPV4 => Ok(false),
        _ => Err(invalid("not an IPv4 or IPv6 socket")),
    }
}

/// `struct sockaddr_in` / `sockaddr_in6` (port 0) in a kernel sockaddr storage, written byte
/// by byte at the offsets of libc's declarations.
fn kernel_sockaddr(ip: IpAddr) -> KernelSockaddrStorage {
    let mut buf = [0u8; 128];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = buf.get_mut(at..at.saturating_add(bytes.len())) {
            dst.copy_from_slice(bytes);
        }
    };
    match ip {
        IpAddr::V4(v4) => {
            put(0, &(libc::AF_INET as libc::sa_family_t).to_ne_bytes());
            put(offset_of!(libc::sockaddr_in, sin_addr), &v4.octets());
        }
        IpAddr::V6(v6) => {
            put(0, &(libc::AF_INET6 as libc::sa_family_t).to_ne_bytes());
            put(offset_of!(libc::sockaddr_in6, sin6_addr), &v6.octets());
        }
    }
    KernelSockaddrStorage(buf)
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>()).map_err(|_| invalid("option too big"))?;
    // SAFETY: `fd` is an open descriptor borrowed for the duration of the call; `value` is a
    // reference to an initialised `T` (callers pass `c_int` or the padding-free `TcpMd5Sig`),
    // so `len` bytes are readable from the pointer, and the kernel only reads them.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(value).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn getsockopt_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(size_of::<libc::c_int>())
        .map_err(|_| invalid("option too big"))?;
    // SAFETY: `fd` is an open descriptor borrowed for the duration of the call; `value` and
    // `len` are live, writable locals, and `len` tells the kernel it may write at most
    // `size_of::<c_int>()` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_mut(&mut value).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn since_data_received_follows_what_the_peer_sent() {
        use tokio::io::AsyncWriteExt;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut them = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (us, _) = l.accept().await.unwrap();
        them.write_all(b"x").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(since_data_received(&us).unwrap() < Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(700)).await;
        let d = since_data_received(&us).unwrap();
        assert!(d >= Duration::from_millis(600), "{d:?}");
    }

    use std::net::{Ipv4Addr, Ipv6Addr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::timeout;

    const KEY: &[u8] = b"peerex-test-key";
    /// How long a connection that must not establish is given. On loopback an answered SYN
    /// completes in well under a millisecond; the kernel counters (TCPMD5NotFound,
    /// TCPMD5Unexpected, TCPMD5Failure, TCPMinTTLDrop) confirm that these SYNs are dropped.
    const FAIL: Duration = Duration::from_millis(800);
    const OK: Duration = Duration::from_secs(5);
    const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn addr_of(l: &TcpListener) -> SocketAddr {
        l.local_addr().unwrap()
    }

    async fn accept(l: &TcpListener) -> TcpStream {
        timeout(OK, l.accept()).await.unwrap().unwrap().0
    }

    /// Bytes flow both ways.
    async fn ping(a: &mut TcpStream, b: &mut TcpStream) {
        a.write_all(b"OPEN").await.unwrap();
        let mut buf = [0u8; 4];
        timeout(OK, b.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"OPEN");
        b.write_all(b"KEEP").await.unwrap();
        timeout(OK, a.read_exact(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"KEEP");
    }

    /// Connects and exchanges data, returning (client, accepted).
    async fn established(
        l: &TcpListener,
        src: IpAddr,
        md5: Option<&[u8]>,
        gtsm: Option<u8>,
    ) -> (TcpStream, TcpStream) {
        let mut c = connect(addr_of(l), Some(src), md5, gtsm, OK).await.unwrap();
        let mut s = accept(l).await;
        assert_eq!(s.peer_addr().unwrap().ip(), src);
        ping(&mut c, &mut s).await;
        (c, s)
    }

    /// The SYN is silently dropped: no refusal, just a timeout, and nothing to accept.
    async fn blocked(l: &TcpListener, src: IpAddr, md5: Option<&[u8]>, gtsm: Option<u8>) {
        let err = connect(addr_of(l), Some(src), md5, gtsm, FAIL)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(timeout(Duration::from_millis(50), l.accept())
            .await
            .is_err());
    }

    /// A client socket from `src` with TTL / hop limit 64 set explicitly.
    async fn connect_ttl64(peer: SocketAddr, src: IpAddr) -> io::Result<TcpStream> {
        let sock = connect_socket(peer, Some(src), None, None)?;
        if peer.is_ipv4() {
            SockRef::from(&sock).set_ttl_v4(64)?;
        } else {
            SockRef::from(&sock).set_unicast_hops_v6(64)?;
        }
        match timeout(FAIL, sock.connect(peer)).await {
            Ok(r) => r,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    fn gtsm_on(hops_min: u8) -> TtlState {
        TtlState {
            outgoing: 255,
            min_accepted: hops_min,
        }
    }

    #[test]
    fn kernel_sockaddr_layout() {
        let a = kernel_sockaddr(v4(9)).0;
        assert_eq!(u16::from_ne_bytes([a[0], a[1]]), libc::AF_INET as u16);
        assert_eq!(&a[4..8], &[127, 0, 0, 9]);
        assert!(a[8..].iter().all(|&b| b == 0));
        let b = kernel_sockaddr(V6).0;
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET6 as u16);
        assert_eq!(&b[8..24], &Ipv6Addr::LOCALHOST.octets());
        assert!(b[24..].iter().all(|&x| x == 0));
    }

    #[tokio::test]
    async fn unread_bytes_counts_what_waits_in_the_receive_queue() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let mut a = TcpStream::connect(addr_of(&l)).await.unwrap();
        let mut b = accept(&l).await;
        assert_eq!(unread_bytes(&b).unwrap(), 0);
        a.write_all(&[7u8; 19]).await.unwrap();
        let t = std::time::Instant::now();
        while unread_bytes(&b).unwrap() < 19 {
            assert!(t.elapsed() < OK, "the octets never arrived");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut buf = [0u8; 19];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(unread_bytes(&b).unwrap(), 0);
    }

    #[tokio::test]
    async fn md5_same_key_both_ends_v4() {
        let l = listen_with(SocketAddr::new(v4(1), 0), &[(v4(10), KEY)], None).unwrap();
        established(&l, v4(10), Some(KEY), None).await;
    }

    #[tokio::test]
    async fn md5_on_listener_only_blocks_unsigned_syn_v4() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        set_md5(&l, v4(11), Some(KEY)).unwrap();
        blocked(&l, v4(11), None, None).await;
        // The key is per peer address: others without a key still get in.
        established(&l, v4(12), None, None).await;
    }

    #[tokio::test]
    async fn md5_on_client_only_is_dropped_v4() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        blocked(&l, v4(13), Some(KEY), None).await;
    }

    #[tokio::test]
    async fn md5_mismatched_keys_v4() {
        let l = listen_with(SocketAddr::new(v4(1), 0), &[(v4(14), KEY)], None).unwrap();
        blocked(&l, v4(14), Some(b"another-key"), None).await;
    }

    #[tokio::test]
    async fn md5_several_peers_on_one_listener_and_reload() {
        let (a, b, c) = (v4(15), v4(16), v4(17));
        let l = listen_with(
            SocketAddr::new(v4(1), 0),
            &[(a, b"key-a"), (b, b"key-b")],
            None,
        )
        .unwrap();
        let (mut ca, mut sa) = established(&l, a, Some(b"key-a"), None).await;
        established(&l, b, Some(b"key-b"), None).await;
        blocked(&l, a, Some(b"key-b"), None).await;
        blocked(&l, c, Some(b"key-a"), None).await;

        // Reload: a's key changes, b's goes away, c gets one.
        set_md5(&l, a, Some(b"key-a2")).unwrap();
        set_md5(&l, b, None).unwrap();
        set_md5(&l, c, Some(b"key-c")).unwrap();
        blocked(&l, a, Some(b"key-a"), None).await;
        established(&l, a, Some(b"key-a2"), None).await;
        established(&l, b, None, None).await;
        established(&l, c, Some(b"key-c"), None).await;
        // The session set up under the old key keeps its own copy of it.
        ping(&mut ca, &mut sa).await;
    }

    #[tokio::test]
    async fn md5_longest_key_works_and_bad_keys_are_rejected() {
        let long = [0xa5u8; MD5_MAX_KEY_LEN];
        let l = listen_with(SocketAddr::new(v4(1), 0), &[(v4(18), &long)], None).unwrap();
        established(&l, v4(18), Some(&long), None).await;

        let too_long = [1u8; MD5_MAX_KEY_LEN + 1];
        for bad in [&too_long[..], &[][..]] {
            let err = set_md5(&l, v4(19), Some(bad)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            let peer = addr_of(&l);
            let err = connect(peer, None, Some(bad), None, OK).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[tokio::test]
    async fn md5_removing_an_absent_key_is_fine() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        set_md5(&l, v4(20), None).unwrap();
        set_md5(&l, v4(20), Some(KEY)).unwrap();
        set_md5(&l, v4(20), None).unwrap();
        set_md5(&l, v4(20), None).unwrap();
        established(&l, v4(20), None, None).await;
    }

    #[tokio::test]
    async fn md5_ipv6_peer_on_ipv4_socket_is_rejected() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let err = set_md5(&l, V6, Some(KEY)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // A v4-mapped address is taken as the IPv4 address it maps.
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 21).to_ipv6_mapped());
        set_md5(&l, mapped, Some(KEY)).unwrap();
        blocked(&l, v4(21), None, None).await;
    }

    #[tokio::test]
    async fn md5_v6() {
        let l = listen_with(SocketAddr::new(V6, 0), &[(V6, KEY)], None).unwrap();
        established(&l, V6, Some(KEY), None).await;
        blocked(&l, V6, None, None).await;
        blocked(&l, V6, Some(b"another-key"), None).await;
        set_md5(&l, V6, None).unwrap();
        blocked(&l, V6, Some(KEY), None).await;
        established(&l, V6, None, None).await;
    }

    /// An IPv4 peer on a dual-stack IPv6 socket (bound to ::ffff:127.0.0.1, loopback only).
    #[tokio::test]
    async fn md5_and_gtsm_v4_peer_on_dual_stack_socket() {
        let sock = Socket::new(Domain::IPV6, Type::STREAM.nonblocking(), None).unwrap();
        sock.set_only_v6(false).unwrap();
        set_md5(&sock, v4(22), Some(KEY)).unwrap();
        set_gtsm(&sock, 1).unwrap();
        let mapped = Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped();
        sock.bind(&SocketAddr::new(IpAddr::V6(mapped), 0).into())
            .unwrap();
        sock.listen(16).unwrap();
        let l = TcpListener::from_std(sock.into()).unwrap();
        let port = addr_of(&l).port();
        let target = SocketAddr::new(v4(1), port);

        let mut c = connect(target, Some(v4(22)), Some(KEY), Some(1), OK)
            .await
            .unwrap();
        let (mut s, from) = timeout(OK, l.accept()).await.unwrap().unwrap();
        assert_eq!(
            from.ip(),
            IpAddr::V6(Ipv4Addr::new(127, 0, 0, 22).to_ipv6_mapped())
        );
        ping(&mut c, &mut s).await;

        let err = connect(target, Some(v4(22)), None, Some(1), FAIL).await;
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::TimedOut);
        let err = connect_ttl64(target, v4(23)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn gtsm_values_and_clearing() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        assert_eq!(ttl_state(&l).unwrap().min_accepted, 0);
        set_gtsm(&l, 1).unwrap();
        assert_eq!(ttl_state(&l).unwrap(), gtsm_on(255));
        set_gtsm(&l, 2).unwrap();
        assert_eq!(ttl_state(&l).unwrap(), gtsm_on(254));
        set_gtsm(&l, 255).unwrap();
        assert_eq!(ttl_state(&l).unwrap(), gtsm_on(1));
        assert_eq!(
            set_gtsm(&l, 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        clear_gtsm(&l).unwrap();
        let cleared = ttl_state(&l).unwrap();
        assert_eq!(cleared.min_accepted, 0);
        assert_ne!(cleared.outgoing, 255, "back to the kernel default");

        let l6 = listen(SocketAddr::new(V6, 0)).unwrap();
        set_gtsm(&l6, 1).unwrap();
        assert_eq!(ttl_state(&l6).unwrap(), gtsm_on(255));
        clear_gtsm(&l6).unwrap();
        assert_eq!(ttl_state(&l6).unwrap().min_accepted, 0);
    }

    #[tokio::test]
    async fn gtsm_is_inherited_by_accepted_sockets_v4() {
        let l = listen_with(SocketAddr::new(v4(1), 0), &[], Some(1)).unwrap();
        let (c, s) = established(&l, v4(30), None, Some(1)).await;
        assert_eq!(ttl_state(&c).unwrap(), gtsm_on(255));
        assert_eq!(ttl_state(&s).unwrap(), gtsm_on(255));
    }

    #[tokio::test]
    async fn gtsm_low_ttl_client_is_dropped_v4() {
        let l = listen_with(SocketAddr::new(v4(1), 0), &[], Some(1)).unwrap();
        let err = connect_ttl64(addr_of(&l), v4(31)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(timeout(Duration::from_millis(50), l.accept())
            .await
            .is_err());
        // A multi-hop setting that allows 192 hops lets TTL 64 in.
        set_gtsm(&l, 192).unwrap();
        let mut c = connect_ttl64(addr_of(&l), v4(31)).await.unwrap();
        let mut s = accept(&l).await;
        ping(&mut c, &mut s).await;
    }

    /// The client checks too: a SYN-ACK sent with the default TTL is dropped.
    #[tokio::test]
    async fn gtsm_client_drops_low_ttl_answer() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let err = connect(addr_of(&l), Some(v4(32)), None, Some(1), FAIL).await;
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn gtsm_v6() {
        let l = listen_with(SocketAddr::new(V6, 0), &[], Some(1)).unwrap();
        let (c, s) = established(&l, V6, None, Some(1)).await;
        assert_eq!(ttl_state(&c).unwrap(), gtsm_on(255));
        assert_eq!(ttl_state(&s).unwrap(), gtsm_on(255), "inherited on accept");
        let err = connect_ttl64(addr_of(&l), V6).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let plain = listen(SocketAddr::new(V6, 0)).unwrap();
        blocked(&plain, V6, None, Some(1)).await;
    }

    /// A shared listener without GTSM: the accepted socket of a GTSM peer is hardened after
    /// accept, and from then on low-TTL segments from it are dropped.
    #[tokio::test]
    async fn harden_accepted_applies_gtsm_after_accept() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let mut good = connect(addr_of(&l), Some(v4(33)), None, None, OK)
            .await
            .unwrap();
        SockRef::from(&good).set_ttl_v4(255).unwrap();
        let mut s_good = accept(&l).await;
        harden_accepted(&s_good, Some(1)).unwrap();
        assert_eq!(ttl_state(&s_good).unwrap(), gtsm_on(255));
        ping(&mut good, &mut s_good).await;

        let mut bad = connect_ttl64(addr_of(&l), v4(34)).await.unwrap();
        let mut s_bad = accept(&l).await;
        harden_accepted(&s_bad, Some(1)).unwrap();
        bad.write_all(b"OPEN").await.unwrap();
        let mut buf = [0u8; 4];
        let read = timeout(FAIL, s_bad.read_exact(&mut buf)).await;
        assert!(
            read.is_err(),
            "TTL-64 data must not reach the hardened socket"
        );

        harden_accepted(&s_bad, None).unwrap();
        assert_eq!(
            ttl_state(&s_bad).unwrap(),
            gtsm_on(255),
            "None changes nothing"
        );
    }

    #[tokio::test]
    async fn source_address_is_bound_v4() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let (c, s) = established(&l, v4(55), None, None).await;
        assert_eq!(c.local_addr().unwrap().ip(), v4(55));
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        assert_eq!(c.peer_addr().unwrap(), addr_of(&l));
    }

    #[tokio::test]
    async fn source_address_is_bound_v6() {
        let l = listen(SocketAddr::new(V6, 0)).unwrap();
        let (c, s) = established(&l, V6, None, None).await;
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    }

    #[tokio::test]
    async fn source_of_the_wrong_family_is_rejected() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let err = connect(addr_of(&l), Some(V6), None, None, OK).await;
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn md5_gtsm_and_source_together() {
        let l = listen_with(SocketAddr::new(v4(1), 0), &[(v4(56), KEY)], Some(1)).unwrap();
        let (_c, s) = established(&l, v4(56), Some(KEY), Some(1)).await;
        assert_eq!(ttl_state(&s).unwrap(), gtsm_on(255));
        blocked(&l, v4(56), Some(KEY), None).await;
        blocked(&l, v4(56), None, Some(1)).await;
    }

    #[tokio::test]
    async fn listener_options() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        assert!(SockRef::from(&l).reuse_address().unwrap());
        let l6 = listen(SocketAddr::new(V6, 0)).unwrap();
        assert!(SockRef::from(&l6).reuse_address().unwrap());
        assert!(SockRef::from(&l6).only_v6().unwrap());
        // SO_REUSEADDR: the port can be listened on again right after a session on it closed.
        let addr = addr_of(&l);
        let (c, s) = established(&l, v4(57), None, None).await;
        drop((s, l, c));
        let again = listen(addr).unwrap();
        established(&again, v4(57), None, None).await;
    }

    #[tokio::test]
    async fn connect_to_a_closed_port_is_refused_not_timed_out() {
        let l = listen(SocketAddr::new(v4(1), 0)).unwrap();
        let addr = addr_of(&l);
        drop(l);
        let err = connect(addr, Some(v4(58)), None, None, OK).await;
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    }
}
