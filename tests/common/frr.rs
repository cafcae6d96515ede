//! FRR bgpd (8.x), standalone: `bgpd -Z` (no zebra), `-S` (no privilege drop),
//! `-l <local_addr> -p <local_port>` (listen), `--vty_socket <dir>/vty` (private vty),
//! `-P 0` (no vty TCP port), `-i <dir>/bgpd.pid`. Queried and configured with
//! `vtysh --vty_socket <dir>/vty -d bgpd -c ...`.
//!
//! Announcements are `network` statements with a route-map per attribute set (`no bgp network
//! import-check`); the route-map sets the next hop and the neighbor has
//! `attribute-unchanged next-hop`, because FRR otherwise announces itself (a 127/8 address
//! for IPv4, `::ffff:127.x.y.z` for IPv6 over IPv4), which FRR and GoBGP peers reject.
//!
//! FRR 8.4 behaviour to know about:
//! * a 127/8 NEXT_HOP received is a "Martian nexthop": NOTIFICATION and session reset;
//! * eBGP needs `no bgp ebgp-requires-policy` (else nothing is exchanged) and, for loopback
//!   neighbours without zebra, `ebgp-multihop`; the config also says
//!   `no neighbor X enforce-first-as` (routes from a route server);
//! * received routes are listed even though their next hops are unresolvable (no zebra);
//! * extended message is always advertised; with ADD-PATH off it still sends the ADD-PATH
//!   capability, with neither send nor receive;
//! * `network` routes carry MED 0 unless a MED is set;
//! * the last NOTIFICATION received is read from bgpd's log (`%NOTIFICATION: received from
//!   neighbor ...`): `show bgp neighbors json` only keeps the last reset reason.

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::json::Json;
use super::process::{run, Proc};
use super::{
    bail, finish_route, instance_dir, parse_community, parse_large_community, prefix_is_v6,
    quote_safe, try_norm_prefix, Announced, BgpDaemon, Error, LastError, PeerSpec, ReceivedRoute,
    Result, RouteAttrs, SessionState, TempDir,
};

struct State {
    announced: Announced,
    /// Attribute sets that have route-maps `PX<i>-4` / `PX<i>-6`.
    route_maps: Vec<RouteAttrs>,
}

pub struct Frr {
    spec: PeerSpec,
    dir: PathBuf,
    proc: Proc,
    state: Mutex<State>,
}

impl Frr {
    /// Writes the config and starts bgpd; returns once vtysh can talk to it.
    pub fn start(tmp: &TempDir, spec: PeerSpec) -> Result<Frr> {
        let spec = spec.resolved();
        spec.check()?;
        let dir = instance_dir(tmp, &spec.name)?;
        fs::create_dir_all(dir.join("vty"))?;
        fs::write(dir.join("bgpd.conf"), config(&spec))?;
        let mut cmd = Command::new(bgpd_path()?);
        cmd.arg("-f")
            .arg(dir.join("bgpd.conf"))
            .arg("-i")
            .arg(dir.join("bgpd.pid"))
            .arg("-Z")
            .arg("-S")
            .arg("-l")
            .arg(spec.local_addr.to_string())
            .arg("-p")
            .arg(spec.local_port.to_string())
            .arg("--vty_socket")
            .arg(dir.join("vty"))
            .arg("-P")
            .arg("0")
            .arg("--log")
            .arg("stdout")
            .current_dir(&dir);
        let proc = Proc::spawn(&spec.name, cmd, &dir.join("bgpd.log"), tmp.path())?;
        let f = Frr {
            spec,
            dir,
            proc,
            state: Mutex::new(State {
                announced: Announced::new(),
                route_maps: Vec::new(),
            }),
        };
        let ready = super::wait_until(Duration::from_secs(10), || {
            !f.proc.running()
                || (f.dir.join("vty/bgpd.vty").exists()
                    && f.vtysh(&["show bgp neighbors json"]).is_ok())
        });
        if !ready || !f.proc.running() {
            bail!("bgpd did not start: {}", f.diagnostics());
        }
        super::started(&f, f.proc.pid);
        Ok(f)
    }

    /// Runs vtysh with one `-c` per command; returns stdout. Fails on a non-zero exit or on
    /// "% ..." error lines.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket")
            .arg(self.dir.join("vty"))
            .arg("-d")
            .arg("bgpd");
        for c in commands {
            cmd.arg("-c").arg(c);
        }
        let (ok, out, err) = run(&mut cmd, Duration::from_secs(15))?;
        if !ok || out.lines().any(|l| l.starts_with("% ")) {
            bail!("vtysh {commands:?} failed: {}{}", out.trim(), err.trim());
        }
        Ok(out)
    }

    /// Runs configuration commands under `configure terminal`.
    pub fn configure(&self, commands: &[String]) -> Result<()> {
        let mut all = vec!["configure terminal"];
        all.extend(commands.iter().map(String::as_str));
        self.vtysh(&all).map(|_| ())
    }

    fn neighbor_json(&self) -> Result<Json> {
        let remote = self.spec.remote_addr.to_string();
        let out = self.vtysh(&[&format!("show bgp neighbors {remote} json")])?;
        let j = Json::parse(&out).map_err(Error)?;
        Ok(j.get(&remote).clone())
    }

    /// Route-map name for `attrs` and the family, creating it if needed (commands appended).
    fn route_map(
        &self,
        st: &mut State,
        attrs: &RouteAttrs,
        v6: bool,
        cmds: &mut Vec<String>,
    ) -> Result<String> {
        let i = match st.route_maps.iter().position(|a| a == attrs) {
            Some(i) => i,
            None => {
                st.route_maps.push(attrs.clone());
                st.route_maps.len() - 1
            }
        };
        let name = format!("PX{i}-{}", if v6 { 6 } else { 4 });
        cmds.push(format!("route-map {name} permit 10"));
        cmds.push("set origin igp".into());
        if !attrs.as_path.is_empty() {
            let p: Vec<String> = attrs.as_path.iter().map(|a| a.to_string()).collect();
            cmds.push(format!("set as-path prepend {}", p.join(" ")));
        }
        if let Some(m) = attrs.med {
            cmds.push(format!("set metric {m}"));
        }
        if let Some(lp) = attrs.local_pref {
            cmds.push(format!("set local-preference {lp}"));
        }
        if !attrs.communities.is_empty() {
            let c: Vec<String> = attrs
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            cmds.push(format!("set community {}", c.join(" ")));
        }
        if !attrs.large_communities.is_empty() {
            let c: Vec<String> = attrs
                .large_communities
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            cmds.push(format!("set large-community {}", c.join(" ")));
        }
        let nh: IpAddr = match attrs.next_hop {
            Some(nh) => nh,
            None if v6 => self.spec.self_next_hop_v6().into(),
            None => self.spec.self_next_hop_v4().into(),
        };
        match nh {
            IpAddr::V4(a) if !v6 => cmds.push(format!("set ip next-hop {a}")),
            IpAddr::V6(a) if v6 => cmds.push(format!("set ipv6 next-hop global {a}")),
            _ => bail!("frr: next hop {nh} does not match the prefix family"),
        }
        cmds.push("exit".into());
        Ok(name)
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        super::report_on_panic(self);
        let pid = self.proc.pid;
        self.proc.stop(Duration::from_secs(5));
        // bgpd leaves a crash-log directory per pid.
        super::process::remove_frr_crash_dir(pid);
    }
}

impl BgpDaemon for Frr {
    fn kind(&self) -> &'static str {
        "frr"
    }
    fn spec(&self) -> &PeerSpec {
        &self.spec
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("bgpd.log")
    }
    fn is_running(&self) -> bool {
        self.proc.running()
    }

    fn announce(&self, prefixes: &[&str], attrs: &RouteAttrs) -> Result<()> {
        super::trace(format_args!(
            "frr {}: announce {prefixes:?} {attrs:?}",
            self.spec.name
        ));
        if attrs.path_id.is_some() {
            bail!("frr: announcing with an explicit path id is not supported");
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut cmds = Vec::new();
        let mut nets: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut keys = Vec::new();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            let v6 = prefix_is_v6(&p);
            let rm = self.route_map(&mut st, attrs, v6, &mut cmds)?;
            nets[v6 as usize].push(format!("network {p} route-map {rm}"));
            keys.push(p);
        }
        cmds.push(format!("router bgp {}", self.spec.local_asn));
        for (v6, list) in nets.iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            cmds.push(format!(
                "address-family {} unicast",
                if v6 == 1 { "ipv6" } else { "ipv4" }
            ));
            cmds.extend(list.iter().cloned());
            cmds.push("exit-address-family".into());
        }
        self.configure(&cmds)?;
        for p in keys {
            st.announced.insert((p, None), attrs.clone());
        }
        Ok(())
    }

    fn withdraw(&self, prefixes: &[&str]) -> Result<()> {
        super::trace(format_args!(
            "frr {}: withdraw {prefixes:?}",
            self.spec.name
        ));
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut cmds = vec![format!("router bgp {}", self.spec.local_asn)];
        let mut keys = Vec::new();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            if !st.announced.contains_key(&(p.clone(), None)) {
                continue;
            }
            let fam = if prefix_is_v6(&p) { "ipv6" } else { "ipv4" };
            cmds.push(format!("address-family {fam} unicast"));
            cmds.push(format!("no network {p}"));
            cmds.push("exit-address-family".into());
            keys.push(p);
        }
        if keys.is_empty() {
            return Ok(());
        }
        self.configure(&cmds)?;
        for p in keys {
            st.announced.remove(&(p, None));
        }
        Ok(())
    }

    fn received_routes(&self) -> Result<Vec<ReceivedRoute>> {
        let remote = self.spec.remote_addr.to_string();
        let mut routes = Vec::new();
        for (enabled, fam) in [
            (self.spec.families.ipv4, "ipv4"),
            (self.spec.families.ipv6, "ipv6"),
        ] {
            if !enabled {
                continue;
            }
            let table = self.vtysh(&[&format!("show bgp {fam} unicast json")])?;
            let table = Json::parse(&table).map_err(Error)?;
            let prefixes: Vec<String> = table
                .get("routes")
                .entries()
                .into_iter()
                .filter(|(_, paths)| {
                    paths
                        .as_array()
                        .iter()
                        .any(|p| p.get("peerId").as_str() == Some(&remote))
                })
                .map(|(p, _)| p.to_string())
                .collect();
            // Details (communities, path ids) per prefix; several prefixes per vtysh call.
            for chunk in prefixes.chunks(50) {
                let cmds: Vec<String> = chunk
                    .iter()
                    .map(|p| format!("show bgp {fam} unicast {p} json"))
                    .collect();
                let cmds: Vec<&str> = cmds.iter().map(String::as_str).collect();
                let out = self.vtysh(&cmds)?;
                for detail in Json::parse_many(&out).map_err(Error)? {
                    let Some(prefix) = detail.get("prefix").as_str().and_then(try_norm_prefix)
                    else {
                        continue;
                    };
                    for path in detail.get("paths").as_array() {
                        if path.at(&["peer", "peerId"]).as_str() != Some(&remote) {
                            continue;
                        }
                        routes.push(parse_path(&prefix, path, self.spec.add_path.receive()));
                    }
                }
            }
        }
        Ok(routes)
    }

    fn session_state(&self) -> Result<SessionState> {
        let j = self.neighbor_json()?;
        if j.get("adminShutDown").as_bool() == Some(true) {
            return Ok(SessionState::AdminDown);
        }
        match j.get("bgpState").as_str() {
            Some(s) => Ok(SessionState::parse(s)),
            None => bail!("frr: no bgpState for {}", self.spec.remote_addr),
        }
    }

    fn last_error(&self) -> Result<Option<LastError>> {
        // bgpd logs every NOTIFICATION it receives:
        // %NOTIFICATION: received from neighbor 127.0.0.2 6/2 (Cease/Administrative Shutdown) "msg"
        // (`show bgp neighbors json` only has the last reset, overwritten by later resets.)
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let needle = format!(
            "%NOTIFICATION: received from neighbor {} ",
            self.spec.remote_addr
        );
        let Some(line) = log.lines().rev().find(|l| l.contains(&needle)) else {
            return Ok(None);
        };
        let rest = line.split_once(&needle).unwrap().1.trim();
        let (cs, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut it = cs.split('/').map(|x| x.parse::<u8>().ok());
        let (code, subcode) = (it.next().flatten(), it.next().flatten());
        // After "(reason)": a quoted shutdown communication, or "N bytes <hex>".
        let after_reason = after.split_once(") ").map(|x| x.1).unwrap_or("");
        let message = after_reason
            .strip_prefix('"')
            .and_then(|m| m.strip_suffix('"'))
            .map(str::to_string);
        Ok(Some(LastError {
            code,
            subcode,
            message,
            text: rest.to_string(),
        }))
    }

    fn shutdown_session(&self, message: Option<&str>) -> Result<()> {
        super::trace(format_args!(
            "frr {}: shutdown session, message {message:?}",
            self.spec.name
        ));
        let r = self.spec.remote_addr;
        let cmd = match message {
            Some(m) => format!("neighbor {r} shutdown message {}", quote_safe(m)),
            None => format!("neighbor {r} shutdown"),
        };
        self.configure(&[format!("router bgp {}", self.spec.local_asn), cmd])
    }

    fn enable_session(&self) -> Result<()> {
        super::trace(format_args!("frr {}: enable session", self.spec.name));
        let r = self.spec.remote_addr;
        self.configure(&[
            format!("router bgp {}", self.spec.local_asn),
            format!("no neighbor {r} shutdown"),
        ])
    }
}

fn bgpd_path() -> Result<PathBuf> {
    for p in [
        "/usr/lib/frr/bgpd",
        "/usr/libexec/frr/bgpd",
        "/usr/sbin/bgpd",
    ] {
        if Path::new(p).is_file() {
            return Ok(p.into());
        }
    }
    bail!("FRR bgpd not found (install the Debian package frr)")
}

fn config(s: &PeerSpec) -> String {
    let r = s.remote_addr;
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "! generated by tests/common/frr.rs");
    let _ = writeln!(w, "frr defaults traditional");
    let _ = writeln!(w, "hostname {}", super::sanitize(&s.name));
    let _ = writeln!(w, "log stdout informational");
    let _ = writeln!(w, "debug bgp neighbor-events");
    let _ = writeln!(w, "!");
    let _ = writeln!(w, "router bgp {}", s.local_asn);
    let _ = writeln!(w, " bgp router-id {}", s.router_id);
    let _ = writeln!(w, " no bgp default ipv4-unicast");
    let _ = writeln!(w, " no bgp ebgp-requires-policy");
    let _ = writeln!(w, " no bgp network import-check");
    if s.graceful_restart {
        let _ = writeln!(w, " bgp graceful-restart");
        let _ = writeln!(
            w,
            " bgp graceful-restart restart-time {}",
            s.graceful_restart_time
        );
    } else {
        let _ = writeln!(w, " bgp graceful-restart-disable");
    }
    let _ = writeln!(w, " neighbor {r} remote-as {}", s.remote_asn);
    let _ = writeln!(w, " neighbor {r} port {}", s.remote_port);
    let _ = writeln!(w, " neighbor {r} update-source {}", s.local_addr);
    let _ = writeln!(
        w,
        " neighbor {r} timers {} {}",
        (s.hold_time / 3).max(if s.hold_time == 0 { 0 } else { 1 }),
        s.hold_time
    );
    let _ = writeln!(w, " neighbor {r} timers connect {}", s.connect_retry.max(1));
    let _ = writeln!(w, " neighbor {r} advertisement-interval 0");
    if s.is_ebgp() {
        let _ = writeln!(w, " neighbor {r} ebgp-multihop 255");
        // The first AS of routes from a route server is not the server's.
        let _ = writeln!(w, " no neighbor {r} enforce-first-as");
    }
    if s.passive {
        let _ = writeln!(w, " neighbor {r} passive");
    }
    if let Some(pw) = &s.md5 {
        let _ = writeln!(w, " neighbor {r} password {}", pw.replace(' ', "_"));
    }
    for (enabled, fam) in [(s.families.ipv4, "ipv4"), (s.families.ipv6, "ipv6")] {
        if !enabled {
            continue;
        }
        let _ = writeln!(w, " address-family {fam} unicast");
        let _ = writeln!(w, "  neighbor {r} activate");
        let _ = writeln!(w, "  neighbor {r} attribute-unchanged next-hop");
        if s.add_path.send() {
            let _ = writeln!(w, "  neighbor {r} addpath-tx-all-paths");
        }
        if !s.add_path.receive() {
            let _ = writeln!(w, "  neighbor {r} disable-addpath-rx");
        }
        let _ = writeln!(w, " exit-address-family");
    }
    let _ = writeln!(w, "exit");
    let _ = writeln!(w, "!");
    c
}

/// Well-known community names FRR prints instead of numbers.
fn well_known(name: &str) -> Option<(u16, u16)> {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match n.as_str() {
        "gracefulshutdown" => (65535, 0),
        "acceptown" => (65535, 1),
        "llgrstale" => (65535, 6),
        "nollgr" => (65535, 7),
        "blackhole" => (65535, 666),
        "noexport" => (65535, 65281),
        "noadvertise" => (65535, 65282),
        "localas" | "noexportsubconfed" => (65535, 65283),
        "nopeer" => (65535, 65284),
        _ => return None,
    })
}

fn parse_path(prefix: &str, p: &Json, add_path_rx: bool) -> ReceivedRoute {
    let mut as_path = Vec::new();
    for seg in p.at(&["aspath", "segments"]).as_array() {
        as_path.extend(seg.get("list").as_array().iter().filter_map(Json::as_u32));
    }
    let r = ReceivedRoute {
        prefix: prefix.to_string(),
        path_id: if add_path_rx {
            p.get("addpathRxId").as_u32().filter(|&i| i != 0)
        } else {
            None
        },
        as_path,
        next_hop: p
            .get("nexthops")
            .as_array()
            .first()
            .and_then(|n| n.get("ip").as_str())
            .and_then(|s| s.parse().ok()),
        med: p.get("metric").as_u32(),
        local_pref: p.get("locPrf").as_u32(),
        communities: p
            .at(&["community", "list"])
            .as_array()
            .iter()
            .filter_map(Json::as_str)
            .filter_map(|s| parse_community(s).or_else(|| well_known(s)))
            .collect(),
        large_communities: p
            .at(&["largeCommunity", "list"])
            .as_array()
            .iter()
            .filter_map(Json::as_str)
            .filter_map(parse_large_community)
            .collect(),
        origin: p.get("origin").as_str().map(|o| match o {
            "IGP" => "igp".to_string(),
            "EGP" => "egp".to_string(),
            _ => "incomplete".to_string(),
        }),
    };
    finish_route(r)
}
