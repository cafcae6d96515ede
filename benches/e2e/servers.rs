//! The servers under test: the peerex release binary (and optionally a baseline peerex
//! binary) and BIRD 2 (`bird` from Debian's bird2) in two layouts, each started fresh per
//! run with a generated configuration, listening on 127.0.0.1:PORT (or 10.77.255.1 in the
//! namespace), with one passive session per emulated peer and the same import checks on
//! both; plus what we measure on them from /proc (peak RSS, CPU time, the unread bytes of
//! their sockets) and peerex's /metrics.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net;
use crate::scenario::{
    peer_addr, peer_nh6, Scenario, BASE_ASN, ORIGIN_COUNT, ORIGIN_FIRST, RS_ASN,
};

/// A server under test; BIRD once per layout (see [`bird_config`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Peerex,
    /// Another peerex binary (`PEEREX_BASE_BIN`), configured exactly like [`Kind::Peerex`]:
    /// a baseline to compare two builds side by side.
    PeerexBase,
    /// BIRD with a table per client fed by a pipe from the master table.
    BirdPipes,
    /// BIRD with one sorted master table and `secondary` export channels.
    BirdSingle,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Peerex => "peerex",
            Kind::PeerexBase => "peerex-base",
            Kind::BirdPipes => "bird-pipes",
            Kind::BirdSingle => "bird-single",
        }
    }

    /// A peerex build (the one under test or the baseline).
    pub fn is_peerex(self) -> bool {
        matches!(self, Kind::Peerex | Kind::PeerexBase)
    }
}

/// Knobs for the BIRD configuration.
#[derive(Clone, Copy, Debug)]
pub struct BirdOpts {
    /// `import table on` (an extra Adj-RIB-In copy per channel).
    pub import_table: bool,
}

pub struct Server {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// peerex's looking glass (/metrics) port.
    pub lg_port: Option<u16>,
    pub log: PathBuf,
    child: Child,
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

impl Server {
    /// `peerex_bin`: the binary for this kind when it is a peerex build (unused for BIRD).
    pub fn start(
        kind: Kind,
        dir: &Path,
        sc: &Scenario,
        peerex_bin: &Path,
        bird: BirdOpts,
        netns: bool,
    ) -> Result<Server, String> {
        let ip = if netns {
            net::SERVER_IP
        } else {
            Ipv4Addr::LOCALHOST
        };
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let lg_port = if kind.is_peerex() {
            Some(free_port().map_err(|e| format!("no free port: {e}"))?)
        } else {
            None
        };
        let log = dir.join(format!("{}.log", kind.name()));
        let out = fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let program: &std::ffi::OsStr = match kind {
            Kind::Peerex | Kind::PeerexBase => peerex_bin.as_os_str(),
            Kind::BirdPipes | Kind::BirdSingle => "bird".as_ref(),
        };
        // In netns mode `ip netns exec` execs the server in place: same pid.
        let mut cmd = if netns {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", net::NS]).arg(program);
            c
        } else {
            Command::new(program)
        };
        match kind {
            Kind::Peerex | Kind::PeerexBase => {
                let cfg = dir.join("peerex.toml");
                let lg = lg_port.unwrap_or(0);
                let sock = dir.join("peerex.sock");
                fs::write(&cfg, peerex_config(sc, ip, port, lg, &sock))
                    .map_err(|e| e.to_string())?;
                cmd.arg("run")
                    .arg("--config")
                    .arg(&cfg)
                    .arg("--log-level")
                    .arg(std::env::var("E2E_PEEREX_LOG").unwrap_or_else(|_| "info".into()));
            }
            Kind::BirdPipes | Kind::BirdSingle => {
                let cfg = dir.join("bird.conf");
                fs::write(&cfg, bird_config(sc, ip, port, kind, netns, bird))
                    .map_err(|e| e.to_string())?;
                cmd.arg("-c")
                    .arg(&cfg)
                    .arg("-s")
                    .arg(dir.join("bird.ctl"))
                    .arg("-P")
                    .arg(dir.join("bird.pid"))
                    .arg("-f");
            }
        }
        cmd.env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", kind.name()))?;
        let mut s = Server {
            ip,
            port,
            lg_port,
            log,
            child,
        };
        let t = Instant::now();
        while !listening(s.pid(), ip, port) {
            if !s.alive() || t.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "{} did not start listening on {ip}:{port}:\n{}",
                    kind.name(),
                    s.log_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Peak resident memory (VmHWM) of the server's process and its children, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        family(self.pid())
            .into_iter()
            .filter_map(|p| status_field(p, "VmHWM:"))
            .sum()
    }

    /// Resident memory now (VmRSS) of the server's process and its children, in KiB.
    pub fn rss_kib(&self) -> u64 {
        family(self.pid())
            .into_iter()
            .filter_map(|p| status_field(p, "VmRSS:"))
            .sum()
    }

    /// User + system CPU time of the server's process (and children), in seconds.
    pub fn cpu_secs(&self) -> f64 {
        // SAFETY: sysconf has no preconditions.
        let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        family(self.pid())
            .into_iter()
            .filter_map(|p| {
                let s = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                // Fields after the ")" of the command name: state is field 3, utime 14.
                let rest = s.rsplit_once(')')?.1;
                let f: Vec<&str> = rest.split_whitespace().collect();
                let u: f64 = f.get(11)?.parse().ok()?;
                let s: f64 = f.get(12)?.parse().ok()?;
                Some((u + s) / tck)
            })
            .sum()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let s = fs::read_to_string(&self.log).unwrap_or_default();
        let v: Vec<&str> = s.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, libc::SIGTERM);
        }
        let t = Instant::now();
        while self.alive() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `pid` and its descendants.
fn family(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    let all: Vec<(u32, u32)> = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| {
                let p: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let pp = status_field(p, "PPid:")?;
                Some((p, pp as u32))
            })
            .collect()
        })
        .unwrap_or_default();
    while let Some(&p) = out.get(i) {
        out.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

fn status_field(pid: u32, key: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// /proc/net/tcp's hex form of an IPv4 address (the in-memory u32 on a little-endian host).
fn hex_addr(a: Ipv4Addr) -> String {
    format!("{:08X}", u32::from_ne_bytes(a.octets()))
}

/// Whether process `pid` (seen through its network namespace) listens on `ip`:`port` (or
/// the wildcard).
fn listening(pid: u32, ip: Ipv4Addr, port: u16) -> bool {
    let p = format!("{port:04X}");
    fs::read_to_string(format!("/proc/{pid}/net/tcp"))
        .map(|s| {
            s.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(3) == Some(&"0A")
                    && f.get(1).is_some_and(|a| {
                        a.ends_with(&format!(":{p}"))
                            && (a.starts_with(&hex_addr(ip)) || a.starts_with("00000000"))
                    })
            })
        })
        .unwrap_or(false)
}

/// Unread bytes (rx_queue) of the server's established sockets on `port`, by remote address
/// (read through the server's network namespace).
pub fn server_rx_queues(pid: u32, port: u16) -> HashMap<Ipv4Addr, u64> {
    let suffix = format!(":{port:04X}");
    let mut m = HashMap::new();
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/net/tcp")) else {
        return m;
    };
    for l in s.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(local), Some(remote), Some(st), Some(q)) =
            (f.get(1), f.get(2), f.get(3), f.get(4))
        else {
            continue;
        };
        if *st != "01" || !local.ends_with(&suffix) {
            continue;
        }
        let Some(rq) = q
            .split_once(':')
            .and_then(|(_, r)| u64::from_str_radix(r, 16).ok())
        else {
            continue;
        };
        let Some(ip) = remote
            .split_once(':')
            .and_then(|(a, _)| u32::from_str_radix(a, 16).ok())
        else {
            continue;
        };
        m.insert(Ipv4Addr::from(ip.to_ne_bytes()), rq);
    }
    m
}

/// The origin allow-list, one range for every peer (see `scenario::ORIGIN_FIRST`).
fn origin_range() -> (u32, u32) {
    (ORIGIN_FIRST, ORIGIN_FIRST + ORIGIN_COUNT - 1)
}

/// peerex: passive sessions, one family (the scenario's), and the import checks of the top
/// comment of `benches/e2e.rs`: per peer a prefix allow-list covering exactly its prefixes,
/// the origin allow-list, first AS = the peer's ASN, NEXT_HOP = the peer's address (IPv6:
/// the peer's IPv6 next hop, listed in `next_hops`), `max_prefixes`; the checks BIRD has no
/// counterpart for in the BIRD configuration (bogon ASNs and prefixes, transit-free ASNs,
/// RPKI) off. The looking glass listens on `lg_port` for /metrics; the control socket is
/// `socket` in the run's directory (the default, under /run, needs root and is shared).
fn peerex_config(sc: &Scenario, ip: Ipv4Addr, port: u16, lg_port: u16, socket: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "[server]\nasn = {RS_ASN}\nrouter_id = \"10.255.255.1\"\nlisten = [\"{ip}:{port}\"]\n"
    );
    let _ = writeln!(c, "[control]\nsocket = \"{}\"\n", socket.display());
    let _ = writeln!(c, "[looking_glass]\nlisten = \"{ip}:{lg_port}\"\n");
    let (o1, o2) = origin_range();
    let _ = writeln!(
        c,
        "[defaults]\nfamilies = [\"{}\"]\ncheck_first_as = true\ncheck_next_hop = true\n\
         origin_asns = [\"{o1}-{o2}\"]\nmax_prefixes_action = \"reset\"\n\
         reject_bogon_asns = false\nreject_bogon_prefixes = false\nreject_transit_free = false\n\
         rpki = \"off\"\nipv4_max_length = 32\nipv6_max_length = 128\n",
        if sc.v6() {
            "ipv6-unicast"
        } else {
            "ipv4-unicast"
        }
    );
    let unit = if sc.v6() { 48 } else { 24 };
    for p in 0..sc.peers {
        let _ = writeln!(
            c,
            "[[peer]]\nname = \"p{p}\"\nasn = {}\naddress = \"{}\"\nmax_prefixes = {}",
            BASE_ASN + p as u32,
            peer_addr(p),
            sc.max_prefixes(p)
        );
        let list: Vec<String> = if p < sc.senders {
            sc.allowed(p)
                .iter()
                .map(|(a, l)| format!("\"{a}/{l}{{{unit},{unit}}}\""))
                .collect()
        } else {
            Vec::new()
        };
        let _ = writeln!(c, "prefixes = [{}]", list.join(", "));
        if sc.v6() {
            let _ = writeln!(c, "next_hops = [\"{}\"]", peer_nh6(p));
        }
        c.push('\n');
    }
    c
}

/// BIRD 2 as a route server with no path hiding, in one of two layouts:
///
/// * `bird-pipes` (IXP-Manager's BIRD 2 layout): every client `pX` has its own table `t_pX`;
///   a pipe puts the client's routes into the master table and every other client's routes
///   from the master table into `t_pX`; the client's BGP channel exports the best route of
///   `t_pX`. The pipe raises `preference` on routes it brings into `t_pX`, so a client's own
///   route (which is in `t_pX` too, as it arrived there) never wins its table: the client
///   gets the best route among the others'. BIRD keeps a copy of nearly every path per
///   client. Over loopback the sessions are `multihop` (BIRD gives 127/8 host scope, so a
///   direct session on `lo` is refused: "Invalid remote address").
/// * `bird-single` (arouteserver's BIRD 2 layout, without its `import table`): one `sorted`
///   master table, every channel `secondary`: each client gets the first path in the
///   table's sorted list that its export accepts, and its own path is never exported to it,
///   so it gets the second best where its own is best. One copy of each path. BIRD 2.0
///   allows a sorted table only with direct (non-multihop) sessions ("BGP in recursive mode
///   prohibits sorted table", and multihop forces recursive mode: "Multihop BGP cannot use
///   direct gateway mode"), and a direct neighbour and every NEXT_HOP must be on a
///   connected network that is not host scope, which nothing on `lo` is: so this layout
///   always runs in the network namespace (`netns`), whatever the other servers use.
///
/// Both: `rs client`, `interpret communities off`, `next hop keep on` where multihop (BIRD
/// otherwise rewrites the next hop between peers not on one interface), `import keep
/// filtered on` (like peerex, which keeps rejected routes), and per client an import filter
/// and `receive limit` equivalent to peerex's checks (see the top comment of `e2e.rs`).
fn bird_config(
    sc: &Scenario,
    ip: Ipv4Addr,
    port: u16,
    kind: Kind,
    netns: bool,
    o: BirdOpts,
) -> String {
    let single = kind == Kind::BirdSingle;
    let (af, master) = if sc.v6() {
        ("ipv6", "master6")
    } else {
        ("ipv4", "master4")
    };
    let unit = if sc.v6() { 48 } else { 24 };
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "# generated by benches/e2e/servers.rs ({})", kind.name());
    let _ = writeln!(w, "router id 10.255.255.1;");
    let _ = writeln!(
        w,
        "log stderr {{ info, remote, warning, error, auth, fatal, bug }};"
    );
    let _ = writeln!(w, "protocol device {{ }}");
    let _ = writeln!(
        w,
        "{af} table {master}{};",
        if single { " sorted" } else { "" }
    );
    let (o1, o2) = origin_range();
    let _ = writeln!(w, "define ORIGINS = [{o1}..{o2}];");
    let _ = writeln!(w, "template bgp rs_client {{");
    let _ = writeln!(w, "  local {ip} port {port} as {RS_ASN};");
    let _ = writeln!(w, "  strict bind yes;");
    let multihop = !netns;
    if multihop {
        // Loopback: neighbours are not directly connected for BIRD.
        let _ = writeln!(w, "  multihop;");
    }
    let _ = writeln!(w, "  passive on;");
    let _ = writeln!(w, "  rs client;");
    let _ = writeln!(w, "  interpret communities off;");
    // The first AS is checked by the import filter, like the other checks.
    let _ = writeln!(w, "  enforce first as off;");
    let _ = writeln!(w, "  hold time 90;");
    let _ = writeln!(w, "  error wait time 1, 2;");
    let _ = writeln!(w, "}}");
    for p in 0..sc.peers {
        let addr = peer_addr(p);
        let asn = BASE_ASN + p as u32;
        let nh = if sc.v6() {
            peer_nh6(p).to_string()
        } else {
            addr.to_string()
        };
        let set: Vec<String> = if p < sc.senders {
            sc.allowed(p)
                .iter()
                .map(|(a, l)| format!("{a}/{l}{{{unit},{unit}}}"))
                .collect()
        } else {
            Vec::new()
        };
        // An empty prefix set is not valid syntax: a client that sends nothing gets a
        // filter that rejects everything.
        let prefixes = if set.is_empty() {
            "false".to_string()
        } else {
            format!("net ~ [ {} ]", set.join(", "))
        };
        let table = if single {
            master.to_string()
        } else {
            let _ = writeln!(w, "{af} table t_p{p};");
            format!("t_p{p}")
        };
        let _ = writeln!(w, "protocol bgp p{p} from rs_client {{");
        let _ = writeln!(w, "  neighbor {addr} as {asn};");
        let _ = writeln!(w, "  {af} {{");
        let _ = writeln!(w, "    table {table};");
        if single {
            let _ = writeln!(w, "    secondary;");
        }
        if o.import_table {
            let _ = writeln!(w, "    import table on;");
        }
        let _ = writeln!(w, "    import keep filtered on;");
        if multihop {
            let _ = writeln!(w, "    next hop keep on;");
        }
        let _ = writeln!(
            w,
            "    receive limit {} action restart;",
            sc.max_prefixes(p)
        );
        let _ = writeln!(
            w,
            "    import where {prefixes} && bgp_path.first = {asn} && bgp_path.last ~ ORIGINS && bgp_next_hop = {nh};"
        );
        let _ = writeln!(w, "    export all;");
        let _ = writeln!(w, "  }};");
        let _ = writeln!(w, "}}");
        if !single {
            let _ = writeln!(
                w,
                "protocol pipe pp_p{p} {{ table {master}; peer table t_p{p}; \
                 import where proto = \"p{p}\"; \
                 export filter {{ preference = 200; accept; }}; }}"
            );
        }
    }
    c
}
