//! GoBGP (`gobgpd`, `gobgp`): one gobgpd per instance with its gRPC API on its own
//! 127.0.0.1 port, listening on `local_addr:local_port` only, one neighbor. Routes go into
//! the global RIB with `gobgp global rib add`; received routes come from
//! `gobgp neighbor <remote> adj-in -j` (pre-policy).
//!
//! gobgpd logs JSON lines to `gobgpd.log`; the last NOTIFICATION received is read from its
//! "received notification" entries.
//!
//! GoBGP 3.10 behaviour to know about:
//! * an IPv4 NEXT_HOP in 127/8 is "invalid nexthop address": the UPDATE is treated as
//!   withdraw (hence the non-loopback default next hops of [`PeerSpec`]);
//! * after any session drop it refuses incoming connections for 5 s (idle hold; the config's
//!   `idle-hold-time-after-reset` does not shorten it), and its active connect attempts come
//!   every 5-10 s (`connect-retry` below 5 is ignored): prefer `passive` for GoBGP;
//! * no extended message capability; it always advertises extended next hop and FQDN;
//! * `adj-in -j` has no ADD-PATH path ids: they are taken from the text output (same order);
//! * `neighbor X shutdown --reason M` sends M as shutdown communication, `disable` none;
//! * announcements are one CLI call per prefix (~10 ms each).

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
    bail, finish_route, instance_dir, prefix_is_v6, try_norm_prefix, unique_port, Announced,
    BgpDaemon, Error, LastError, PeerSpec, ReceivedRoute, Result, RouteAttrs, SessionState,
    TempDir,
};

pub struct GoBgp {
    spec: PeerSpec,
    dir: PathBuf,
    api_port: u16,
    proc: Proc,
    announced: Mutex<Announced>,
}

impl GoBgp {
    /// Writes the config and starts gobgpd; returns once its API answers.
    pub fn start(tmp: &TempDir, spec: PeerSpec) -> Result<GoBgp> {
        let spec = spec.resolved();
        spec.check()?;
        let dir = instance_dir(tmp, &spec.name)?;
        let api_port = unique_port();
        fs::write(dir.join("gobgpd.toml"), config(&spec))?;
        let mut cmd = Command::new("gobgpd");
        cmd.arg("-f")
            .arg(dir.join("gobgpd.toml"))
            .arg(format!("--api-hosts=127.0.0.1:{api_port}"))
            .arg("--pprof-disable")
            .arg("-l")
            .arg("debug");
        let proc = Proc::spawn(&spec.name, cmd, &dir.join("gobgpd.log"), tmp.path())?;
        let g = GoBgp {
            spec,
            dir,
            api_port,
            proc,
            announced: Mutex::new(Announced::new()),
        };
        let ready = super::wait_until(Duration::from_secs(10), || {
            !g.proc.running() || g.gobgp(&["global"]).is_ok()
        });
        if !ready || !g.proc.running() {
            bail!("gobgpd did not start: {}", g.diagnostics());
        }
        // The neighbor comes from the config file a moment after the API is up.
        let remote = g.spec.remote_addr.to_string();
        super::wait_until(Duration::from_secs(5), || {
            g.gobgp(&["neighbor", &remote]).is_ok()
        });
        super::started(&g, g.proc.pid);
        Ok(g)
    }

    /// The gRPC API port (`gobgp -p <port> ...`).
    /// SIGKILL, as a crash: no NOTIFICATION. Returns once the process is gone.
    pub fn kill(&self) {
        super::trace(format_args!("gobgpd {}: SIGKILL", self.spec.name));
        self.proc.kill();
    }

    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// Runs `gobgp -p <api port> <args>`; returns stdout.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("gobgp");
        cmd.arg("-p").arg(self.api_port.to_string()).args(args);
        let (ok, out, err) = run(&mut cmd, Duration::from_secs(15))?;
        if !ok {
            bail!("gobgp {}: {}{}", args.join(" "), out.trim(), err.trim());
        }
        Ok(out)
    }

    fn rib_add(&self, prefix: &str, attrs: &RouteAttrs) -> Result<()> {
        let v6 = prefix_is_v6(prefix);
        let nh: IpAddr = match attrs.next_hop {
            Some(nh) => nh,
            None if v6 => self.spec.self_next_hop_v6().into(),
            None => self.spec.self_next_hop_v4().into(),
        };
        let mut args: Vec<String> = vec![
            "global".into(),
            "rib".into(),
            "add".into(),
            "-a".into(),
            if v6 { "ipv6" } else { "ipv4" }.into(),
            prefix.into(),
        ];
        if let Some(id) = attrs.path_id {
            args.extend(["identifier".into(), id.to_string()]);
        }
        args.extend(["origin".into(), "igp".into()]);
        args.extend(["nexthop".into(), nh.to_string()]);
        if !attrs.as_path.is_empty() {
            let p: Vec<String> = attrs.as_path.iter().map(|a| a.to_string()).collect();
            args.extend(["aspath".into(), p.join(",")]);
        }
        if let Some(m) = attrs.med {
            args.extend(["med".into(), m.to_string()]);
        }
        if let Some(lp) = attrs.local_pref {
            args.extend(["local-pref".into(), lp.to_string()]);
        }
        if !attrs.communities.is_empty() {
            let c: Vec<String> = attrs
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            args.extend(["community".into(), c.join(",")]);
        }
        if !attrs.large_communities.is_empty() {
            let c: Vec<String> = attrs
                .large_communities
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            args.extend(["large-community".into(), c.join(",")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&args).map(|_| ())
    }

    fn rib_del(&self, prefix: &str, path_id: Option<u32>) -> Result<()> {
        let fam = if prefix_is_v6(prefix) { "ipv6" } else { "ipv4" };
        let id = path_id.map(|i| i.to_string());
        let mut args = vec!["global", "rib", "del", "-a", fam, prefix];
        if let Some(id) = &id {
            args.extend(["identifier", id.as_str()]);
        }
        self.gobgp(&args).map(|_| ())
    }

    fn neighbor_json(&self) -> Result<Json> {
        let out = self.gobgp(&["neighbor", &self.spec.remote_addr.to_string(), "-j"])?;
        Json::parse(&out).map_err(Error)
    }
}

impl Drop for GoBgp {
    fn drop(&mut self) {
        super::report_on_panic(self);
        self.proc.stop(Duration::from_secs(5));
    }
}

impl BgpDaemon for GoBgp {
    fn kind(&self) -> &'static str {
        "gobgp"
    }
    fn spec(&self) -> &PeerSpec {
        &self.spec
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("gobgpd.log")
    }
    fn is_running(&self) -> bool {
        self.proc.running()
    }

    fn announce(&self, prefixes: &[&str], attrs: &RouteAttrs) -> Result<()> {
        super::trace(format_args!(
            "gobgp {}: announce {prefixes:?} {attrs:?}",
            self.spec.name
        ));
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            self.rib_add(&p, attrs)?;
            a.insert((p, attrs.path_id), attrs.clone());
        }
        Ok(())
    }

    fn withdraw(&self, prefixes: &[&str]) -> Result<()> {
        super::trace(format_args!(
            "gobgp {}: withdraw {prefixes:?}",
            self.spec.name
        ));
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            let keys: Vec<_> = a.keys().filter(|(q, _)| *q == p).cloned().collect();
            if keys.is_empty() {
                self.rib_del(&p, None)?;
            }
            for k in keys {
                self.rib_del(&k.0, k.1)?;
                a.remove(&k);
            }
        }
        Ok(())
    }

    fn received_routes(&self) -> Result<Vec<ReceivedRoute>> {
        if self.session_state()? != SessionState::Established {
            // adj-in is an error while the session is down.
            return Ok(Vec::new());
        }
        let remote = self.spec.remote_addr.to_string();
        let mut routes = Vec::new();
        for (enabled, fam) in [
            (self.spec.families.ipv4, "ipv4"),
            (self.spec.families.ipv6, "ipv6"),
        ] {
            if !enabled {
                continue;
            }
            let out = self.gobgp(&["neighbor", &remote, "adj-in", "-a", fam, "-j"])?;
            let j = Json::parse(&out).map_err(Error)?;
            // The JSON has no path identifiers; the text output has them (column ID) in the
            // same order.
            let ids = if self.spec.add_path.receive() {
                let text = self.gobgp(&["neighbor", &remote, "adj-in", "-a", fam])?;
                Some(parse_text_ids(&text))
            } else {
                None
            };
            for (prefix, paths) in j.entries() {
                let Some(prefix) = try_norm_prefix(prefix) else {
                    continue;
                };
                let pids = ids
                    .as_ref()
                    .and_then(|m| m.iter().find(|(p, _)| *p == prefix).map(|(_, v)| v.clone()));
                for (i, path) in paths.as_array().iter().enumerate() {
                    let mut r = parse_path(&prefix, path);
                    if let Some(pids) = &pids {
                        if pids.len() == paths.as_array().len() {
                            r.path_id = pids.get(i).copied();
                        }
                    }
                    routes.push(r);
                }
            }
        }
        Ok(routes)
    }

    fn session_state(&self) -> Result<SessionState> {
        let j = self.neighbor_json()?;
        let st = j.at(&["state", "session_state"]);
        let admin = j.at(&["state", "admin_state"]).as_u64();
        if admin == Some(1) {
            return Ok(SessionState::AdminDown);
        }
        Ok(match st.as_u64() {
            Some(1) | None => SessionState::Idle,
            Some(2) => SessionState::Connect,
            Some(3) => SessionState::Active,
            Some(4) => SessionState::OpenSent,
            Some(5) => SessionState::OpenConfirm,
            Some(6) => SessionState::Established,
            Some(n) => SessionState::Other(format!("session_state {n}")),
        })
    }

    fn last_error(&self) -> Result<Option<LastError>> {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        for line in log.lines().rev() {
            if !line.contains("\"received notification\"") {
                continue;
            }
            let Ok(j) = Json::parse(line) else { continue };
            let code = j.get("Code").as_u64().map(|c| c as u8);
            let subcode = j.get("Subcode").as_u64().map(|c| c as u8);
            let message = j
                .get("Communicated-Reason")
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            return Ok(Some(LastError {
                code,
                subcode,
                message,
                text: line.to_string(),
            }));
        }
        Ok(None)
    }

    fn shutdown_session(&self, message: Option<&str>) -> Result<()> {
        super::trace(format_args!(
            "gobgp {}: shutdown session, message {message:?}",
            self.spec.name
        ));
        let remote = self.spec.remote_addr.to_string();
        // "shutdown" (a deprecated alias of "disable") is the command that sends --reason as
        // the shutdown communication.
        match message {
            Some(m) => self.gobgp(&["neighbor", &remote, "shutdown", "--reason", m])?,
            None => self.gobgp(&["neighbor", &remote, "disable"])?,
        };
        Ok(())
    }

    fn enable_session(&self) -> Result<()> {
        super::trace(format_args!("gobgp {}: enable session", self.spec.name));
        self.gobgp(&["neighbor", &self.spec.remote_addr.to_string(), "enable"])?;
        Ok(())
    }
}

fn config(s: &PeerSpec) -> String {
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "# generated by tests/common/gobgp.rs");
    let _ = writeln!(w, "[global.config]");
    let _ = writeln!(w, "  as = {}", s.local_asn);
    let _ = writeln!(w, "  router-id = \"{}\"", s.router_id);
    let _ = writeln!(w, "  port = {}", s.local_port);
    let _ = writeln!(w, "  local-address-list = [\"{}\"]", s.local_addr);
    let _ = writeln!(w, "[[neighbors]]");
    let _ = writeln!(w, "  [neighbors.config]");
    let _ = writeln!(w, "    neighbor-address = \"{}\"", s.remote_addr);
    let _ = writeln!(w, "    peer-as = {}", s.remote_asn);
    if let Some(pw) = &s.md5 {
        let _ = writeln!(w, "    auth-password = \"{}\"", super::quote_safe(pw));
    }
    let _ = writeln!(w, "  [neighbors.transport.config]");
    let _ = writeln!(w, "    local-address = \"{}\"", s.local_addr);
    let _ = writeln!(w, "    remote-port = {}", s.remote_port);
    let _ = writeln!(w, "    passive-mode = {}", s.passive);
    let _ = writeln!(w, "  [neighbors.timers.config]");
    let _ = writeln!(w, "    connect-retry = {}", s.connect_retry.max(1));
    let _ = writeln!(w, "    hold-time = {}", s.hold_time);
    let _ = writeln!(w, "    keepalive-interval = {}", (s.hold_time / 3).max(1));
    // Default 30 s: after any reset gobgpd refuses connections that long.
    let _ = writeln!(w, "    idle-hold-time-after-reset = 1");
    if s.graceful_restart {
        let _ = writeln!(w, "  [neighbors.graceful-restart.config]");
        let _ = writeln!(w, "    enabled = true");
        let _ = writeln!(w, "    restart-time = {}", s.graceful_restart_time);
        if s.long_lived_stale_time.is_some() {
            let _ = writeln!(w, "    long-lived-enabled = true");
        }
    }
    for (enabled, fam) in [
        (s.families.ipv4, "ipv4-unicast"),
        (s.families.ipv6, "ipv6-unicast"),
    ] {
        if !enabled {
            continue;
        }
        let _ = writeln!(w, "  [[neighbors.afi-safis]]");
        let _ = writeln!(w, "    [neighbors.afi-safis.config]");
        let _ = writeln!(w, "      afi-safi-name = \"{fam}\"");
        if s.graceful_restart {
            let _ = writeln!(w, "    [neighbors.afi-safis.mp-graceful-restart.config]");
            let _ = writeln!(w, "      enabled = true");
            if let Some(t) = s.long_lived_stale_time {
                let llgr = "[neighbors.afi-safis.long-lived-graceful-restart.config]";
                let _ = writeln!(
                    w,
                    "    {llgr}\n      enabled = true\n      restart-time = {t}"
                );
            }
        }
        let _ = writeln!(w, "    [neighbors.afi-safis.add-paths.config]");
        let _ = writeln!(w, "      receive = {}", s.add_path.receive());
        let _ = writeln!(
            w,
            "      send-max = {}",
            if s.add_path.send() { 8 } else { 0 }
        );
    }
    c
}

fn parse_path(prefix: &str, path: &Json) -> ReceivedRoute {
    let mut r = ReceivedRoute {
        prefix: prefix.to_string(),
        ..Default::default()
    };
    for a in path.get("attrs").as_array() {
        match a.get("type").as_u64() {
            Some(1) => {
                r.origin = match a.get("value").as_u64() {
                    Some(0) => Some("igp".into()),
                    Some(1) => Some("egp".into()),
                    Some(2) => Some("incomplete".into()),
                    _ => None,
                }
            }
            Some(2) => {
                for seg in a.get("as_paths").as_array() {
                    r.as_path
                        .extend(seg.get("asns").as_array().iter().filter_map(Json::as_u32));
                }
            }
            Some(3) => r.next_hop = a.get("nexthop").as_str().and_then(|s| s.parse().ok()),
            Some(4) => r.med = a.get("metric").as_u32(),
            Some(5) => r.local_pref = a.get("value").as_u32(),
            Some(8) => {
                r.communities = a
                    .get("communities")
                    .as_array()
                    .iter()
                    .filter_map(Json::as_u32)
                    .map(|c| ((c >> 16) as u16, c as u16))
                    .collect()
            }
            Some(14) if r.next_hop.is_none() => {
                r.next_hop = a.get("nexthop").as_str().and_then(|s| s.parse().ok());
            }
            Some(32) => {
                r.large_communities = a
                    .get("value")
                    .as_array()
                    .iter()
                    .filter_map(|v| {
                        Some((
                            v.get("ASN").as_u32()?,
                            v.get("LocalData1").as_u32()?,
                            v.get("LocalData2").as_u32()?,
                        ))
                    })
                    .collect()
            }
            _ => {}
        }
    }
    finish_route(r)
}

/// From `gobgp neighbor X adj-in` text: prefix -> path ids in output order.
fn parse_text_ids(text: &str) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> = Vec::new();
    for line in text.lines().skip(1) {
        let mut it = line.split_whitespace();
        let (Some(id), Some(prefix)) = (it.next(), it.next()) else {
            continue;
        };
        let (Ok(id), Some(prefix)) = (id.parse::<u32>(), try_norm_prefix(prefix)) else {
            continue;
        };
        match out.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, v)) => v.push(id),
            None => out.push((prefix, vec![id])),
        }
    }
    out
}
