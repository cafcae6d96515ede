//! Test harness that runs real BGP daemons (BIRD 2, GoBGP, ExaBGP, FRR bgpd) as peers on
//! loopback, with generated configs, for peerex's integration tests. Only std is used; the
//! daemons come from Debian packages (`.ci/install-deps`: bird2, gobgpd, exabgp, frr).
//!
//! ```ignore
//! mod common;
//! use common::{AddPath, BgpDaemon, Bird, GoBgp, PeerSpec, RouteAttrs};
//!
//! let dir = common::TempDir::new("my-test");
//! let rs_port = common::unique_port(); // where peerex listens (on 127.0.0.1, say)
//! let spec = PeerSpec::new("b1", 4200000011).remote(common::ip("127.0.0.1"), rs_port, 65000);
//! let b1 = Bird::start(&dir, spec)?;                   // listens on b1.listen_addr() too
//! b1.announce(&["10.11.0.0/24"], &RouteAttrs { med: Some(10), ..Default::default() })?;
//! b1.wait_established(Duration::from_secs(20))?;
//! let r = b1.wait_route("10.22.0.0/24", Duration::from_secs(10))?; // from another client
//! b1.shutdown_session(Some("maintenance"))?;
//! ```
//!
//! Every daemon instance lives in its own directory under a [`TempDir`] (config, log, pid
//! file, control socket), listens on its own `local_addr:local_port`, and is driven through
//! its own control channel (birdc socket, GoBGP gRPC port, ExaBGP command file, FRR vty
//! socket), so tests can run in parallel. Addresses and ports come from [`unique_loopback`]
//! and [`unique_port`], which are unique across concurrently running test processes.
//! Each handle runs one BGP session (to `remote_addr:remote_port`).
//!
//! A daemon is stopped when its handle is dropped (declare the TempDir first so it is
//! dropped last). If the test is panicking, or a harness wait has failed on this thread, each
//! daemon prints its state and log tail (cargo test shows it with the failure) and the
//! temporary directory is kept; `PEEREX_KEEP=1` keeps every temporary directory. Harness
//! events are traced to stderr with timestamps (`--nocapture` to watch them live). Daemons
//! left behind by a killed test process are killed by the next run.
//!
//! | | BIRD 2.0 | GoBGP 3.10 | ExaBGP 4.2 | FRR 8.4 |
//! |---|---|---|---|---|
//! | ADD-PATH receive | yes (paths listed, no ids) | yes (ids) | yes (ids) | yes (ids) |
//! | ADD-PATH send / announce with `path_id` | send: yes / no | yes / yes | yes / yes | send: yes / no |
//! | graceful restart | yes | yes | yes | yes (`false` = no capability) |
//! | extended message | yes | never advertised | yes | always advertised |
//! | TCP MD5 | yes | yes | yes | yes |
//! | IPv6 transport (::1) | yes | yes | yes | yes |
//! | shutdown message sent | yes | yes | yes (launcher fix) | yes |
//! | shutdown message received | yes | yes | yes (launcher fix) | yes |
//! | session stays down after shutdown_session | yes | yes | no (reconnects) | yes |
//!
//! Gotchas (see the daemon modules for details):
//! * FRR resets the session ("Martian nexthop") and GoBGP treats the UPDATE as withdraw for a
//!   127/8 NEXT_HOP, so announcements use non-loopback next hops by default
//!   ([`PeerSpec::self_next_hop_v4`]: the router id; no traffic is ever sent to them).
//! * GoBGP refuses incoming connections for 5 s after any session drop, and connects
//!   actively only every 5-10 s (its minimum connect retry), whatever the config says:
//!   make GoBGP passive where possible and allow ~15 s for it to come back after a flap.
//! * ExaBGP does not prepend its own ASN: the harness does it on eBGP.
//! * FRR (network statements) sends MED 0 when no MED is set.
//! * BIRD keeps routes with an unresolvable next hop as "unreachable" but still lists them.
//! * IPv6 transport has only ::1: several daemons on ::1 differ by port only, so a peer that
//!   identifies neighbors by address cannot tell them apart.
#![allow(dead_code, unused_imports)]

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod http;
pub mod json;
pub mod net;
pub mod peerex;
pub mod pmbmpd;
pub mod process;
pub mod relay;
pub mod speaker;
pub mod tshark;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use bird::Bird;
pub use exabgp::ExaBgp;
pub use frr::Frr;
pub use gobgp::GoBgp;
pub use net::{unique_loopback, unique_port};
pub use peerex::{Peerex, PeerexPeer};

// ---------------------------------------------------------------------------------------------
// Errors

/// Harness error: a human-readable message, usually with the daemon's state and log tail.
/// `Debug` prints the message verbatim, so `unwrap()` and `-> Result<(), Error>` tests show
/// multi-line logs readably.
pub struct Error(pub String);

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Error {
        Error(msg.into())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error(format!("I/O error: {e}"))
    }
}

macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::common::Error(format!($($arg)*))) };
}
pub(crate) use bail;

// ---------------------------------------------------------------------------------------------
// Temporary directories

static DIR_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A per-test directory. Removed on drop unless `PEEREX_KEEP=1` is set or the thread is
/// panicking (then its path is printed).
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// Creates `<base>/<name>.<pid>.<n>`, where base is `$PEEREX_TMPDIR`, else cargo's
    /// `target/tmp/harness` when that path is short enough for unix socket names, else
    /// `/tmp/peerex-tests`.
    pub fn new(name: &str) -> TempDir {
        let base = tmp_base();
        process::reap_stale(&base);
        let name: String = sanitize(name).chars().take(24).collect();
        let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("{name}.{}.{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path, keep: false }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }

    /// Keeps the directory after the test.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let keep_env = std::env::var("PEEREX_KEEP").is_ok_and(|v| !v.is_empty() && v != "0");
        if self.keep || keep_env || std::thread::panicking() || failure_reported() {
            eprintln!("[harness] kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Prints a timestamped harness event to stderr (cargo test shows it for failed tests, or
/// always with `--nocapture`).
pub fn trace(msg: impl fmt::Display) {
    let t0 = *T0.get_or_init(Instant::now);
    eprintln!("[harness {:>7.3}s] {msg}", t0.elapsed().as_secs_f64());
}

thread_local! {
    /// Set when the harness built a failure report on this thread (see `diagnostics`).
    static FAILURE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn failure_reported() -> bool {
    FAILURE.with(|f| f.get())
}

fn tmp_base() -> PathBuf {
    if let Some(d) = std::env::var_os("PEEREX_TMPDIR") {
        return PathBuf::from(d);
    }
    let cargo = Path::new(env!("CARGO_TARGET_TMPDIR")).join("harness");
    // Unix socket paths are limited to 107 bytes; daemon sockets live two levels below.
    if cargo.as_os_str().len() <= 48 {
        cargo
    } else {
        std::env::temp_dir().join("peerex-tests")
    }
}

/// Lower-case alphanumerics and `-`; anything else becomes `-`.
pub(crate) fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "x".into()
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Waiting

/// Polls `cond` every 100 ms until it is true (returns true) or `timeout` passes (false).
/// Waits until `d` holds exactly the prefixes `want`, and still does a poll later (nothing
/// more is on its way); the routes it holds, or an error naming what it has instead.
pub fn expect_exactly(
    d: &dyn BgpDaemon,
    want: &[&str],
    timeout: Duration,
) -> Result<BTreeMap<String, ReceivedRoute>> {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let mut last = BTreeMap::new();
    let mut stable = 0;
    let ok = wait_until(timeout, || {
        let Ok(routes) = d.received_routes() else {
            return false;
        };
        let got: BTreeMap<String, ReceivedRoute> =
            routes.into_iter().map(|r| (r.prefix.clone(), r)).collect();
        let same = got.keys().cloned().collect::<BTreeSet<_>>() == want;
        last = got;
        stable = if same { stable + 1 } else { 0 };
        stable >= 2
    });
    if !ok {
        return Err(Error(format!(
            "{} {}: want {want:?}, has {:?}",
            d.kind(),
            d.spec().name,
            last.keys().collect::<Vec<_>>()
        )));
    }
    Ok(last)
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    wait_for(timeout, || cond().then_some(())).is_some()
}

/// A number from the environment variable `name`, or `default` when unset or not a number.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/PID/status` figure in KiB (`field` as "VmRSS:" or "VmHWM:"); None when the
/// process or the line is gone.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
    }
}

// ---------------------------------------------------------------------------------------------
// Peer specification

/// Address families of a session (unicast only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    pub const V4: Families = Families {
        ipv4: true,
        ipv6: false,
    };
    pub const V6: Families = Families {
        ipv4: false,
        ipv6: true,
    };
    pub const BOTH: Families = Families {
        ipv4: true,
        ipv6: true,
    };
}

impl Default for Families {
    fn default() -> Self {
        Families::BOTH
    }
}

/// ADD-PATH (RFC 7911) capability the daemon advertises, for every configured family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AddPath {
    #[default]
    Off,
    Receive,
    Send,
    Both,
}

impl AddPath {
    pub fn receive(self) -> bool {
        matches!(self, AddPath::Receive | AddPath::Both)
    }
    pub fn send(self) -> bool {
        matches!(self, AddPath::Send | AddPath::Both)
    }
}

/// One BGP session of one daemon instance: the daemon ("local" side) peers with one remote
/// (peerex, or another daemon in the harness self-test).
///
/// Unspecified fields are filled in when the daemon starts: `local_addr` 0.0.0.0 means a
/// fresh [`unique_loopback`], `local_port` 0 a fresh [`unique_port`], `router_id` 0.0.0.0 is
/// derived from the local address (127.a.b.c -> 10.a.b.c). [`PeerSpec::new`] allocates them
/// immediately so that two specs can point at each other.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    /// Instance name: directory name and log prefix.
    pub name: String,
    /// Address the daemon binds (listening socket and source of its connections).
    pub local_addr: IpAddr,
    /// Port the daemon listens on (all four daemons can listen on a custom port).
    pub local_port: u16,
    pub local_asn: u32,
    pub router_id: Ipv4Addr,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    pub remote_asn: u32,
    /// Never connect, only accept.
    pub passive: bool,
    /// Proposed hold time (keepalive = hold / 3).
    pub hold_time: u16,
    /// Seconds between connection attempts.
    pub connect_retry: u16,
    pub families: Families,
    pub add_path: AddPath,
    /// Advertise the graceful restart capability (RFC 4724) with `graceful_restart_time`.
    pub graceful_restart: bool,
    /// Restart time advertised with graceful restart, in seconds (default 120).
    pub graceful_restart_time: u16,
    /// With `graceful_restart`: advertise long-lived graceful restart (RFC 9494) with this
    /// long-lived stale time in seconds for every family.
    pub long_lived_stale_time: Option<u32>,
    /// Advertise the extended message capability (RFC 8654). Not supported by GoBGP; FRR 8.4
    /// always advertises it.
    pub extended_message: bool,
    /// TCP MD5 signature password (RFC 2385).
    pub md5: Option<String>,
    /// IPv4 next hop the daemon puts on its own announcements unless a route sets one.
    /// Defaults to the router id: FRR and GoBGP reject a loopback (127/8) NEXT_HOP.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// IPv6 next hop for its announcements. Defaults to `2001:db8:ffff:0:A:B:C:D` for router
    /// id A.B.C.D (the decimal octets written as hex groups, e.g. 2001:db8:ffff:0:10:0:0:11).
    pub next_hop_v6: Option<Ipv6Addr>,
}

impl Default for PeerSpec {
    fn default() -> Self {
        PeerSpec {
            name: "peer".into(),
            local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_port: 0,
            local_asn: 65001,
            router_id: Ipv4Addr::UNSPECIFIED,
            remote_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            remote_port: 179,
            remote_asn: 65000,
            passive: false,
            hold_time: 90,
            connect_retry: 1,
            families: Families::BOTH,
            add_path: AddPath::Off,
            graceful_restart: false,
            graceful_restart_time: 120,
            long_lived_stale_time: None,
            extended_message: false,
            md5: None,
            next_hop_v4: None,
            next_hop_v6: None,
        }
    }
}

static V6_RID: AtomicU32 = AtomicU32::new(1);

impl PeerSpec {
    /// A spec on a fresh loopback address and port, router id derived from the address.
    pub fn new(name: &str, local_asn: u32) -> PeerSpec {
        PeerSpec {
            name: name.into(),
            local_asn,
            ..Default::default()
        }
        .resolved()
    }

    /// A spec whose transport is IPv6 on ::1 (the only IPv6 loopback address), on a fresh
    /// port. The remote must then be IPv6 too.
    pub fn new_v6(name: &str, local_asn: u32) -> PeerSpec {
        PeerSpec {
            local_addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            remote_addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            ..PeerSpec::new(name, local_asn)
        }
        .resolved()
    }

    /// Fills unspecified fields (see the type's doc).
    pub fn resolved(mut self) -> PeerSpec {
        if self.local_addr.is_unspecified() {
            self.local_addr = IpAddr::V4(unique_loopback());
        }
        if self.local_port == 0 {
            self.local_port = unique_port();
        }
        if self.router_id.is_unspecified() {
            self.router_id = match self.local_addr {
                IpAddr::V4(a) if a.octets()[0] == 127 => {
                    let o = a.octets();
                    Ipv4Addr::new(10, o[1], o[2], o[3])
                }
                IpAddr::V4(a) => a,
                IpAddr::V6(_) => {
                    let n = V6_RID.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() << 12);
                    Ipv4Addr::new(10, 200 + (n >> 16 & 31) as u8, (n >> 8) as u8, n as u8)
                }
            };
        }
        self
    }

    /// Points the session at `other` (its address, listening port and ASN).
    pub fn peer_with(mut self, other: &PeerSpec) -> PeerSpec {
        self.remote_addr = other.local_addr;
        self.remote_port = other.local_port;
        self.remote_asn = other.local_asn;
        self
    }

    /// Points the session at `addr:port` in AS `asn` (e.g. where peerex listens).
    pub fn remote(mut self, addr: IpAddr, port: u16, asn: u32) -> PeerSpec {
        self.remote_addr = addr;
        self.remote_port = port;
        self.remote_asn = asn;
        self
    }

    pub fn passive(mut self, yes: bool) -> PeerSpec {
        self.passive = yes;
        self
    }
    pub fn hold_time(mut self, secs: u16) -> PeerSpec {
        self.hold_time = secs;
        self
    }
    pub fn families(mut self, f: Families) -> PeerSpec {
        self.families = f;
        self
    }
    pub fn add_path(mut self, a: AddPath) -> PeerSpec {
        self.add_path = a;
        self
    }
    pub fn graceful_restart(mut self, yes: bool) -> PeerSpec {
        self.graceful_restart = yes;
        self
    }
    pub fn graceful_restart_time(mut self, secs: u16) -> PeerSpec {
        self.graceful_restart_time = secs;
        self
    }
    pub fn long_lived_stale_time(mut self, secs: u32) -> PeerSpec {
        self.long_lived_stale_time = Some(secs);
        self
    }
    pub fn extended_message(mut self, yes: bool) -> PeerSpec {
        self.extended_message = yes;
        self
    }
    pub fn md5(mut self, password: &str) -> PeerSpec {
        self.md5 = Some(password.into());
        self
    }

    pub fn is_ebgp(&self) -> bool {
        self.local_asn != self.remote_asn
    }

    /// The IPv4 next hop this daemon announces when a route does not set one.
    pub fn self_next_hop_v4(&self) -> Ipv4Addr {
        self.next_hop_v4.unwrap_or(self.router_id)
    }

    /// The IPv6 next hop this daemon announces when a route does not set one.
    pub fn self_next_hop_v6(&self) -> Ipv6Addr {
        self.next_hop_v6.unwrap_or_else(|| {
            let o = self.router_id.octets();
            let g = |n: u8| u16::from_str_radix(&n.to_string(), 16).unwrap_or(0);
            Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, g(o[0]), g(o[1]), g(o[2]), g(o[3]))
        })
    }

    /// The AS path a peer of this daemon receives for a route announced with `attrs`
    /// (this daemon's ASN first on eBGP).
    pub fn expected_as_path(&self, attrs: &RouteAttrs) -> Vec<u32> {
        let mut p = Vec::new();
        if self.is_ebgp() {
            p.push(self.local_asn);
        }
        p.extend_from_slice(&attrs.as_path);
        p
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.local_addr.is_ipv4() != self.remote_addr.is_ipv4() {
            bail!(
                "{}: local {} and remote {} are of different families",
                self.name,
                self.local_addr,
                self.remote_addr
            );
        }
        if !self.families.ipv4 && !self.families.ipv6 {
            bail!("{}: no address family", self.name);
        }
        if self.hold_time != 0 && self.hold_time < 3 {
            bail!("{}: hold time must be 0 or >= 3", self.name);
        }
        Ok(())
    }
}

/// Attributes for routes a daemon announces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteAttrs {
    /// AS path after the announcing daemon's own ASN; on eBGP the daemon prepends its ASN,
    /// so the peer sees `[local_asn] + as_path` (see [`PeerSpec::expected_as_path`]).
    pub as_path: Vec<u32>,
    pub med: Option<u32>,
    /// LOCAL_PREF (only sent on iBGP sessions).
    pub local_pref: Option<u32>,
    pub communities: Vec<(u16, u16)>,
    pub large_communities: Vec<(u32, u32, u32)>,
    /// NEXT_HOP; None = the daemon's `self_next_hop_v4/v6()`.
    pub next_hop: Option<IpAddr>,
    /// ADD-PATH path identifier to announce with (GoBGP and ExaBGP only; needs
    /// `AddPath::Send`/`Both`). A prefix can then be announced several times with different
    /// ids.
    pub path_id: Option<u32>,
}

impl RouteAttrs {
    /// Attributes with only this AS path.
    pub fn path(hops: &[u32]) -> RouteAttrs {
        RouteAttrs {
            as_path: hops.to_vec(),
            ..Default::default()
        }
    }
}

/// A route a daemon received from its peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceivedRoute {
    /// Canonical prefix text (`10.1.0.0/24`, `2001:db8::/48`).
    pub prefix: String,
    /// ADD-PATH path identifier, when ADD-PATH receive was negotiated and the daemon shows it
    /// (not BIRD 2.0, which lists each path but without its id).
    pub path_id: Option<u32>,
    /// AS path, AS_SETs flattened.
    pub as_path: Vec<u32>,
    pub next_hop: Option<IpAddr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    /// Sorted.
    pub communities: Vec<(u16, u16)>,
    /// Sorted.
    pub large_communities: Vec<(u32, u32, u32)>,
    /// "igp", "egp" or "incomplete".
    pub origin: Option<String>,
}

/// BGP FSM state of the daemon's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
    /// The session is administratively disabled (shutdown_session).
    AdminDown,
    Other(String),
}

impl SessionState {
    pub(crate) fn parse(s: &str) -> SessionState {
        let l = s.trim().to_ascii_lowercase().replace(['_', '-', ' '], "");
        match l.as_str() {
            "idle" => SessionState::Idle,
            "connect" => SessionState::Connect,
            "active" => SessionState::Active,
            "opensent" => SessionState::OpenSent,
            "openconfirm" => SessionState::OpenConfirm,
            "established" | "up" => SessionState::Established,
            _ => SessionState::Other(s.trim().to_string()),
        }
    }
}

/// The last NOTIFICATION the daemon received from its peer, as far as the daemon tells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastError {
    pub code: Option<u8>,
    pub subcode: Option<u8>,
    /// Shutdown communication (RFC 9003) of a Cease/Administrative Shutdown or Reset.
    pub message: Option<String>,
    /// The daemon's own description.
    pub text: String,
}

impl LastError {
    pub fn is_admin_shutdown(&self) -> bool {
        self.code == Some(6) && self.subcode == Some(2)
    }
}

impl fmt::Display for LastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {:?} subcode {:?}", self.code, self.subcode)?;
        if let Some(m) = &self.message {
            write!(f, " message {m:?}")?;
        }
        write!(f, " ({})", self.text)
    }
}

/// NOTIFICATION (code, subcode) names as the daemons print them (RFC 4271, 4486, 6608, 8538,
/// 9234); matched case-insensitively.
pub(crate) const NOTIFICATION_NAMES: &[(u8, u8, &str)] = &[
    (1, 0, "message header error"),
    (1, 0, "invalid message header"),
    (1, 1, "connection not synchronized"),
    (1, 2, "bad message length"),
    (1, 3, "bad message type"),
    (2, 0, "open message error"),
    (2, 0, "invalid open message"),
    (2, 1, "unsupported version number"),
    (2, 2, "bad peer as"),
    (2, 3, "bad bgp identifier"),
    (2, 4, "unsupported optional parameter"),
    (2, 6, "unacceptable hold time"),
    (2, 7, "unsupported capability"),
    (2, 7, "required capability missing"),
    (2, 11, "role mismatch"),
    (3, 0, "update message error"),
    (3, 0, "invalid update message"),
    (3, 1, "malformed attribute list"),
    (3, 2, "unrecognized well-known attribute"),
    (3, 3, "missing well-known attribute"),
    (3, 4, "attribute flags error"),
    (3, 5, "attribute length error"),
    (3, 6, "invalid origin attribute"),
    (3, 8, "invalid next_hop attribute"),
    (3, 9, "optional attribute error"),
    (3, 10, "invalid network field"),
    (3, 11, "malformed as_path"),
    (4, 0, "hold timer expired"),
    (5, 0, "finite state machine error"),
    (6, 1, "maximum number of prefixes reached"),
    (6, 2, "administrative shutdown"),
    (6, 3, "peer de-configured"),
    (6, 3, "peer unconfigured"),
    (6, 4, "administrative reset"),
    (6, 5, "connection rejected"),
    (6, 6, "other configuration change"),
    (6, 7, "connection collision resolution"),
    (6, 8, "out of resources"),
    (6, 9, "hard reset"),
    (6, 0, "cease"),
];

/// Finds (code, subcode) from a daemon's description of a notification: the longest name in
/// [`NOTIFICATION_NAMES`] contained in `text`.
pub(crate) fn notification_from_text(text: &str) -> Option<(u8, u8)> {
    let l = text.to_ascii_lowercase();
    NOTIFICATION_NAMES
        .iter()
        .filter(|(_, _, n)| l.contains(n))
        .max_by_key(|(_, _, n)| n.len())
        .map(|&(c, s, _)| (c, s))
}

/// Canonical prefix text; panics on a malformed prefix (test input).
pub fn norm_prefix(p: &str) -> String {
    try_norm_prefix(p).unwrap_or_else(|| panic!("bad prefix {p:?}"))
}

pub(crate) fn try_norm_prefix(p: &str) -> Option<String> {
    let (a, l) = p.trim().split_once('/')?;
    let a: IpAddr = a.parse().ok()?;
    let l: u8 = l.parse().ok()?;
    Some(format!("{a}/{l}"))
}

pub(crate) fn prefix_is_v6(p: &str) -> bool {
    p.contains(':')
}

/// Parses an IP address; panics on bad input (for tests).
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("bad IP address {s:?}"))
}

/// Sorts and dedups communities so that comparisons do not depend on daemon ordering.
pub(crate) fn finish_route(mut r: ReceivedRoute) -> ReceivedRoute {
    r.communities.sort_unstable();
    r.communities.dedup();
    r.large_communities.sort_unstable();
    r.large_communities.dedup();
    r
}

/// Parses "A:B" into a standard community.
pub(crate) fn parse_community(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Parses "A:B:C" into a large community.
pub(crate) fn parse_large_community(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.trim().split(':');
    let a = it.next()?.trim().parse().ok()?;
    let b = it.next()?.trim().parse().ok()?;
    let c = it.next()?.trim().parse().ok()?;
    Some((a, b, c))
}

/// Routes announced by a daemon, keyed by (canonical prefix, path id).
pub(crate) type Announced = BTreeMap<(String, Option<u32>), RouteAttrs>;

// ---------------------------------------------------------------------------------------------
// The common interface

/// What every daemon handle offers. Methods take `&self` (handles use interior mutability),
/// so a test can hold several daemons and use them through `&dyn BgpDaemon`.
pub trait BgpDaemon {
    /// "bird", "gobgp", "exabgp" or "frr".
    fn kind(&self) -> &'static str;
    /// The resolved spec (with the allocated address, port and router id).
    fn spec(&self) -> &PeerSpec;
    /// The instance's directory (config, log, sockets).
    fn dir(&self) -> &Path;
    /// The daemon's main log file.
    fn log_path(&self) -> PathBuf;

    /// Announces `prefixes` with `attrs` (replacing earlier announcements of the same prefix
    /// and path id). Returns once the daemon has the routes in its RIB.
    fn announce(&self, prefixes: &[&str], attrs: &RouteAttrs) -> Result<()>;
    /// Withdraws `prefixes` (every path id announced for them).
    fn withdraw(&self, prefixes: &[&str]) -> Result<()>;
    /// Routes received from the peer (before import policy where the daemon allows).
    fn received_routes(&self) -> Result<Vec<ReceivedRoute>>;
    fn session_state(&self) -> Result<SessionState>;
    /// The last NOTIFICATION received from the peer (None if none seen).
    fn last_error(&self) -> Result<Option<LastError>>;
    /// Sends Cease/Administrative Shutdown (with a shutdown communication where supported)
    /// and keeps the session down until [`BgpDaemon::enable_session`].
    fn shutdown_session(&self, message: Option<&str>) -> Result<()>;
    /// Re-enables a session disabled by shutdown_session.
    fn enable_session(&self) -> Result<()>;
    /// Whether the daemon process is still running.
    fn is_running(&self) -> bool;

    /// Address:port the daemon listens on.
    fn listen_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.spec().local_addr, self.spec().local_port)
    }

    /// The last `lines` lines of the daemon's log(s).
    fn log_tail(&self, lines: usize) -> String {
        tail_file(&self.log_path(), lines)
    }

    /// A description of the daemon's current state and log, for failure messages. (Also makes
    /// this thread's TempDirs be kept: a test returning the error does not panic.)
    fn diagnostics(&self) -> String {
        FAILURE.with(|f| f.set(true));
        let s = self.spec();
        let state = match self.session_state() {
            Ok(st) => format!("{st:?}"),
            Err(e) => format!("<error: {e}>"),
        };
        let err = match self.last_error() {
            Ok(Some(e)) => e.to_string(),
            Ok(None) => "none".into(),
            Err(e) => format!("<error: {e}>"),
        };
        format!(
            "{} {:?} ({}:{} AS{} -> {}:{} AS{}), running: {}, state: {state}, last error: {err}\n\
             dir: {}\n--- log tail ({}) ---\n{}",
            self.kind(),
            s.name,
            s.local_addr,
            s.local_port,
            s.local_asn,
            s.remote_addr,
            s.remote_port,
            s.remote_asn,
            self.is_running(),
            self.dir().display(),
            self.log_path().display(),
            self.log_tail(60)
        )
    }

    fn wait_state(&self, want: SessionState, timeout: Duration) -> Result<()> {
        let t = Instant::now();
        let mut last = None;
        let ok = wait_until(timeout, || match self.session_state() {
            Ok(s) => {
                let done = s == want;
                last = Some(s);
                done
            }
            Err(_) => false,
        });
        if ok {
            trace(format_args!(
                "{} {}: {want:?} after {:.1?}",
                self.kind(),
                self.spec().name,
                t.elapsed()
            ));
            Ok(())
        } else {
            bail!(
                "timeout ({timeout:?}) waiting for {want:?} (last seen {last:?}) on {}",
                self.diagnostics()
            )
        }
    }

    fn wait_established(&self, timeout: Duration) -> Result<()> {
        self.wait_state(SessionState::Established, timeout)
    }

    /// Waits until the session is anything but Established.
    fn wait_not_established(&self, timeout: Duration) -> Result<()> {
        if wait_until(
            timeout,
            || matches!(self.session_state(), Ok(s) if s != SessionState::Established),
        ) {
            Ok(())
        } else {
            bail!(
                "timeout ({timeout:?}) waiting for the session to go down on {}",
                self.diagnostics()
            )
        }
    }

    /// Waits until `pred` holds for the received routes; returns them.
    fn wait_routes(
        &self,
        timeout: Duration,
        what: &str,
        pred: &dyn Fn(&[ReceivedRoute]) -> bool,
    ) -> Result<Vec<ReceivedRoute>> {
        let t = Instant::now();
        let mut last = Vec::new();
        let r = wait_for(timeout, || match self.received_routes() {
            Ok(r) if pred(&r) => Some(r),
            Ok(r) => {
                last = r;
                None
            }
            Err(_) => None,
        });
        match r {
            Some(r) => {
                trace(format_args!(
                    "{} {}: {what} after {:.1?}",
                    self.kind(),
                    self.spec().name,
                    t.elapsed()
                ));
                Ok(r)
            }
            None => bail!(
                "timeout ({timeout:?}) waiting for {what}; received routes: {last:#?}\non {}",
                self.diagnostics()
            ),
        }
    }

    /// Waits until a route for `prefix` has been received; returns it (the first path).
    fn wait_route(&self, prefix: &str, timeout: Duration) -> Result<ReceivedRoute> {
        let p = norm_prefix(prefix);
        let routes = self.wait_routes(timeout, &format!("route {p}"), &|r| {
            r.iter().any(|x| x.prefix == p)
        })?;
        Ok(routes.into_iter().find(|x| x.prefix == p).unwrap())
    }

    /// Waits until no route for `prefix` is present.
    fn wait_route_gone(&self, prefix: &str, timeout: Duration) -> Result<()> {
        let p = norm_prefix(prefix);
        self.wait_routes(timeout, &format!("withdrawal of {p}"), &|r| {
            !r.iter().any(|x| x.prefix == p)
        })
        .map(|_| ())
    }

    /// Waits until a last error satisfying `pred` is reported; returns it.
    fn wait_last_error(
        &self,
        timeout: Duration,
        pred: &dyn Fn(&LastError) -> bool,
    ) -> Result<LastError> {
        let t = Instant::now();
        match wait_for(timeout, || match self.last_error() {
            Ok(Some(e)) if pred(&e) => Some(e),
            _ => None,
        }) {
            Some(e) => {
                trace(format_args!(
                    "{} {}: last error {e} after {:.1?}",
                    self.kind(),
                    self.spec().name,
                    t.elapsed()
                ));
                Ok(e)
            }
            None => bail!(
                "timeout ({timeout:?}) waiting for a matching last error on {}",
                self.diagnostics()
            ),
        }
    }
}

/// The last `lines` lines of a file ("" if unreadable).
pub fn tail_file(path: &Path, lines: usize) -> String {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) => return format!("<cannot read {}: {e}>", path.display()),
    };
    let text = String::from_utf8_lossy(&data);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(crate) fn started(d: &dyn BgpDaemon, pid: u32) {
    let s = d.spec();
    trace(format_args!(
        "{} {} started: pid {pid}, {} AS{} -> {}:{} AS{}, dir {}",
        d.kind(),
        s.name,
        d.listen_addr(),
        s.local_asn,
        s.remote_addr,
        s.remote_port,
        s.remote_asn,
        d.dir().display()
    ));
}

/// Prints the daemon's diagnostics to stderr if the current thread is panicking or the
/// harness reported a failure on it (called from the daemons' Drop, so that a failed test
/// shows what every daemon saw; cargo test prints it with the failure).
pub(crate) fn report_on_panic(d: &dyn BgpDaemon) {
    if std::thread::panicking() || failure_reported() {
        eprintln!("\n===== [harness] {} =====", d.diagnostics());
    }
}

/// A fresh directory `<tempdir>/<name>[-N]` for one daemon instance.
pub(crate) fn instance_dir(dir: &TempDir, name: &str) -> Result<PathBuf> {
    let base: String = sanitize(name).chars().take(16).collect();
    for i in 1..1000 {
        let d = if i == 1 {
            dir.join(&base)
        } else {
            dir.join(format!("{base}-{i}"))
        };
        match fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!("cannot create {}: {e}", d.display()),
        }
    }
    bail!("too many instances named {name}")
}

/// Groups announced routes by attribute set (for daemons configured per attribute set).
pub(crate) fn group_by_attrs(a: &Announced) -> Vec<(RouteAttrs, Vec<String>)> {
    let mut out: Vec<(RouteAttrs, Vec<String>)> = Vec::new();
    for ((prefix, _), attrs) in a {
        match out.iter_mut().find(|(x, _)| x == attrs) {
            Some((_, v)) => v.push(prefix.clone()),
            None => out.push((attrs.clone(), vec![prefix.clone()])),
        }
    }
    out
}

/// Text safe to put inside a double-quoted daemon argument (shutdown messages).
pub(crate) fn quote_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .collect()
}
