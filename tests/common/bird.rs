//! BIRD 2 (`bird`, `birdc`): one bird process per instance with one BGP protocol named
//! `peer`, control socket `bird.ctl` in the instance directory, log (`log stderr all`) in
//! `bird.log`.
//!
//! Announcements are static routes (protocols `peerex4`/`peerex6`) whose attributes are set
//! in the BGP export filters (BIRD drops a static route's MED on eBGP export unless the export
//! filter sets it); changing them rewrites the config and runs `birdc configure`, which
//! re-exports without resetting the session. An explicit `bgp_next_hop` in the export filter
//! is what BIRD keeps on eBGP (otherwise it announces its own 127/8 address).
//!
//! BIRD 2.0.12 behaviour to know about:
//! * loopback neighbours need `multihop` (routes then resolve their next hop recursively and
//!   show as "unreachable", but are listed and exported);
//! * without `strict bind` it listens on the wildcard address;
//! * ADD-PATH receive: every path is listed, but `show route` does not show path ids;
//! * the received shutdown communication is in the log
//!   (`peer: Received: Administrative shutdown: "msg"`), which `last_error` parses;
//! * after an error it waits `error wait time` (1-2 s here) before reconnecting.

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::process::{run, Proc};
use super::{
    bail, finish_route, group_by_attrs, instance_dir, notification_from_text, prefix_is_v6,
    quote_safe, try_norm_prefix, AddPath, Announced, BgpDaemon, Error, LastError, PeerSpec,
    ReceivedRoute, Result, RouteAttrs, SessionState, TempDir,
};

const PROTO: &str = "peer";

pub struct Bird {
    spec: PeerSpec,
    dir: PathBuf,
    proc: Proc,
    announced: Mutex<Announced>,
}

impl Bird {
    /// Writes the config and starts bird; returns once its control socket answers.
    pub fn start(tmp: &TempDir, spec: PeerSpec) -> Result<Bird> {
        Self::start_with(tmp, spec, &[], &RouteAttrs::default(), false)
    }

    /// Like [`start`](Self::start), with `prefixes` (announced with `attrs`) in the config it
    /// starts with, so that its first session sends them before its End-of-RIB (after
    /// `start`, `announce` may come after an empty initial table). With `recovering`, bird
    /// starts in graceful-restart recovery (`bird -R`), as a router that restarted with its
    /// forwarding state kept: only then does BIRD set the F bit of its graceful-restart
    /// capability (RFC 4724), without which a helper drops the stale routes at once.
    pub fn start_with(
        tmp: &TempDir,
        spec: PeerSpec,
        prefixes: &[&str],
        attrs: &RouteAttrs,
        recovering: bool,
    ) -> Result<Bird> {
        let spec = spec.resolved();
        spec.check()?;
        let dir = instance_dir(tmp, &spec.name)?;
        let mut announced = Announced::new();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            announced.insert((p, None), attrs.clone());
        }
        fs::write(dir.join("bird.conf"), config(&spec, &announced)?)?;
        let mut cmd = Command::new("bird");
        cmd.arg("-c")
            .arg(dir.join("bird.conf"))
            .arg("-s")
            .arg(dir.join("bird.ctl"))
            .arg("-P")
            .arg(dir.join("bird.pid"))
            .arg("-f");
        if recovering {
            cmd.arg("-R");
        }
        let proc = Proc::spawn(&spec.name, cmd, &dir.join("bird.log"), tmp.path())?;
        let b = Bird {
            spec,
            dir,
            proc,
            announced: Mutex::new(announced),
        };
        let ready = super::wait_until(Duration::from_secs(10), || {
            !b.proc.running() || b.birdc(&["show", "status"]).is_ok()
        });
        if !ready || !b.proc.running() {
            bail!("bird did not start: {}", b.diagnostics());
        }
        super::started(&b, b.proc.pid);
        Ok(b)
    }

    /// Runs a birdc command (words as separate arguments); returns its output without the
    /// "BIRD x.y ready." banner. Fails on BIRD error replies (birdc exits 1 on those).
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("birdc");
        cmd.arg("-s").arg(self.dir.join("bird.ctl")).args(args);
        let (ok, out, err) = run(&mut cmd, Duration::from_secs(15))?;
        if !ok {
            bail!("birdc {args:?} failed: {out}{err}");
        }
        Ok(out
            .lines()
            .filter(|l| !(l.starts_with("BIRD ") && l.ends_with(" ready.")))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// SIGKILL, as a crash: no NOTIFICATION, the kernel closes its sockets. Returns once the
    /// process is gone.
    pub fn kill(&self) {
        super::trace(format_args!("bird {}: SIGKILL", self.spec.name));
        self.proc.kill();
    }

    fn reconfigure(&self, announced: &Announced) -> Result<()> {
        let conf = config(&self.spec, announced)?;
        fs::write(self.dir.join("bird.conf"), conf)?;
        let out = self.birdc(&["configure"])?;
        if !out.contains("Reconfigured") && !out.contains("Reconfiguration in progress") {
            bail!("birdc configure: {out}");
        }
        Ok(())
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        super::report_on_panic(self);
        self.proc.stop(Duration::from_secs(5));
    }
}

impl BgpDaemon for Bird {
    fn kind(&self) -> &'static str {
        "bird"
    }
    fn spec(&self) -> &PeerSpec {
        &self.spec
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("bird.log")
    }
    fn is_running(&self) -> bool {
        self.proc.running()
    }

    fn announce(&self, prefixes: &[&str], attrs: &RouteAttrs) -> Result<()> {
        super::trace(format_args!(
            "bird {}: announce {prefixes:?} {attrs:?}",
            self.spec.name
        ));
        if attrs.path_id.is_some() {
            bail!("bird: announcing with an explicit path id is not supported");
        }
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = a.clone();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            next.insert((p, None), attrs.clone());
        }
        self.reconfigure(&next)?;
        *a = next;
        Ok(())
    }

    fn withdraw(&self, prefixes: &[&str]) -> Result<()> {
        super::trace(format_args!(
            "bird {}: withdraw {prefixes:?}",
            self.spec.name
        ));
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = a.clone();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            next.retain(|(q, _), _| *q != p);
        }
        self.reconfigure(&next)?;
        *a = next;
        Ok(())
    }

    fn received_routes(&self) -> Result<Vec<ReceivedRoute>> {
        let out = self.birdc(&["show", "route", "all", "protocol", PROTO])?;
        Ok(parse_routes(&out))
    }

    fn session_state(&self) -> Result<SessionState> {
        let out = self.birdc(&["show", "protocols", "all", PROTO])?;
        // Row: "peer       BGP        ---        down   12:00:00.000  ..." when disabled.
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(PROTO))
            .unwrap_or("");
        if row.split_whitespace().nth(3) == Some("down") {
            return Ok(SessionState::AdminDown);
        }
        for l in out.lines() {
            if let Some(s) = l.trim().strip_prefix("BGP state:") {
                return Ok(SessionState::parse(s));
            }
        }
        bail!("bird: no BGP state in {out:?}")
    }

    fn last_error(&self) -> Result<Option<LastError>> {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let needle = format!("{PROTO}: Received: ");
        let Some(line) = log.lines().rev().find(|l| l.contains(&needle)) else {
            return Ok(None);
        };
        let text = line.split_once(&needle).unwrap().1.trim().to_string();
        // 'Administrative shutdown: "message"'
        let message = text
            .split_once(": \"")
            .and_then(|(_, m)| m.strip_suffix('"'))
            .map(str::to_string);
        let cs = notification_from_text(&text);
        Ok(Some(LastError {
            code: cs.map(|c| c.0),
            subcode: cs.map(|c| c.1),
            message,
            text,
        }))
    }

    fn shutdown_session(&self, message: Option<&str>) -> Result<()> {
        super::trace(format_args!(
            "bird {}: shutdown session, message {message:?}",
            self.spec.name
        ));
        match message {
            Some(m) => self.birdc(&["disable", PROTO, &format!("\"{}\"", quote_safe(m))])?,
            None => self.birdc(&["disable", PROTO])?,
        };
        Ok(())
    }

    fn enable_session(&self) -> Result<()> {
        super::trace(format_args!("bird {}: enable session", self.spec.name));
        self.birdc(&["enable", PROTO])?;
        Ok(())
    }
}

fn config(s: &PeerSpec, announced: &Announced) -> Result<String> {
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "# generated by tests/common/bird.rs");
    let _ = writeln!(w, "router id {};", s.router_id);
    let _ = writeln!(w, "log stderr all;");
    let _ = writeln!(w, "protocol device {{ }}");
    for (v6, name) in [(false, "peerex4"), (true, "peerex6")] {
        let _ = writeln!(w, "protocol static {name} {{");
        let _ = writeln!(w, "  {};", if v6 { "ipv6" } else { "ipv4" });
        for (p, _) in announced.keys() {
            if prefix_is_v6(p) == v6 {
                let _ = writeln!(w, "  route {p} blackhole;");
            }
        }
        let _ = writeln!(w, "}}");
    }
    for v6 in [false, true] {
        let default_nh: IpAddr = if v6 {
            s.self_next_hop_v6().into()
        } else {
            s.self_next_hop_v4().into()
        };
        let _ = writeln!(w, "filter peerex_export{} {{", if v6 { 6 } else { 4 });
        // An explicitly set next hop is kept on eBGP export (BIRD: "next hop self" otherwise).
        let _ = writeln!(w, "  bgp_next_hop = {default_nh};");
        for (attrs, prefixes) in group_by_attrs(announced) {
            let prefixes: Vec<&String> =
                prefixes.iter().filter(|p| prefix_is_v6(p) == v6).collect();
            if prefixes.is_empty() {
                continue;
            }
            let set = prefixes
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(w, "  if net ~ [ {set} ] then {{");
            for asn in attrs.as_path.iter().rev() {
                let _ = writeln!(w, "    bgp_path.prepend({asn});");
            }
            if let Some(m) = attrs.med {
                let _ = writeln!(w, "    bgp_med = {m};");
            }
            if let Some(lp) = attrs.local_pref {
                let _ = writeln!(w, "    bgp_local_pref = {lp};");
            }
            for (a, b) in &attrs.communities {
                let _ = writeln!(w, "    bgp_community.add(({a},{b}));");
            }
            for (a, b, c) in &attrs.large_communities {
                let _ = writeln!(w, "    bgp_large_community.add(({a},{b},{c}));");
            }
            if let Some(nh) = attrs.next_hop {
                if nh.is_ipv6() != v6 {
                    bail!("bird: next hop {nh} does not match the prefix family");
                }
                let _ = writeln!(w, "    bgp_next_hop = {nh};");
            }
            let _ = writeln!(w, "  }}");
        }
        let _ = writeln!(w, "  accept;\n}}");
    }

    let _ = writeln!(w, "protocol bgp {PROTO} {{");
    let _ = writeln!(w, "  description \"{}\";", quote_safe(&s.name));
    let _ = writeln!(
        w,
        "  local {} port {} as {};",
        s.local_addr, s.local_port, s.local_asn
    );
    let _ = writeln!(
        w,
        "  neighbor {} port {} as {};",
        s.remote_addr, s.remote_port, s.remote_asn
    );
    // Listen on local_addr only (the default binds the wildcard address).
    let _ = writeln!(w, "  strict bind yes;");
    // Loopback neighbors are not "directly connected" for BIRD.
    let _ = writeln!(w, "  multihop;");
    let _ = writeln!(w, "  connect delay time 1;");
    let _ = writeln!(w, "  connect retry time {};", s.connect_retry.max(1));
    let _ = writeln!(w, "  error wait time 1, 2;");
    let _ = writeln!(w, "  error forget time 10;");
    let _ = writeln!(w, "  hold time {};", s.hold_time);
    if s.hold_time > 0 {
        let _ = writeln!(w, "  keepalive time {};", (s.hold_time / 3).max(1));
    }
    let _ = writeln!(w, "  passive {};", if s.passive { "on" } else { "off" });
    let _ = writeln!(w, "  enforce first as off;");
    let _ = writeln!(
        w,
        "  enable extended messages {};",
        if s.extended_message { "on" } else { "off" }
    );
    if s.graceful_restart {
        let _ = writeln!(
            w,
            "  graceful restart on;\n  graceful restart time {};",
            s.graceful_restart_time
        );
        if let Some(t) = s.long_lived_stale_time {
            let _ = writeln!(
                w,
                "  long lived graceful restart on;\n  long lived stale time {t};"
            );
        }
    } else {
        let _ = writeln!(w, "  graceful restart off;");
        let _ = writeln!(w, "  long lived graceful restart off;");
    }
    if let Some(pw) = &s.md5 {
        let _ = writeln!(w, "  password \"{}\";", quote_safe(pw));
    }
    let add_paths = match s.add_path {
        AddPath::Off => None,
        AddPath::Receive => Some("rx"),
        AddPath::Send => Some("tx"),
        AddPath::Both => Some("on"),
    };
    for (enabled, v6) in [(s.families.ipv4, false), (s.families.ipv6, true)] {
        if !enabled {
            continue;
        }
        let _ = writeln!(w, "  {} {{", if v6 { "ipv6" } else { "ipv4" });
        let _ = writeln!(w, "    import all;");
        let _ = writeln!(
            w,
            "    export filter peerex_export{};",
            if v6 { 6 } else { 4 }
        );
        if let Some(ap) = add_paths {
            let _ = writeln!(w, "    add paths {ap};");
        }
        if v6 != s.local_addr.is_ipv6() {
            // Routes of the other family than the transport need an explicit next hop.
            let nh: IpAddr = if v6 {
                s.self_next_hop_v6().into()
            } else {
                s.self_next_hop_v4().into()
            };
            let _ = writeln!(w, "    next hop address {nh};");
        }
        let _ = writeln!(w, "  }};");
    }
    let _ = writeln!(w, "}}");
    Ok(c)
}

/// Parses `show route all` output.
fn parse_routes(out: &str) -> Vec<ReceivedRoute> {
    let mut routes = Vec::new();
    let mut cur: Option<ReceivedRoute> = None;
    let mut prefix = String::new();
    for line in out.lines() {
        if line.starts_with("Table ") || line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            let Some(r) = cur.as_mut() else { continue };
            let l = line.trim();
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "BGP.origin" => {
                    r.origin = Some(
                        match v {
                            "IGP" => "igp",
                            "EGP" => "egp",
                            _ => "incomplete",
                        }
                        .into(),
                    )
                }
                "BGP.as_path" => {
                    r.as_path = v
                        .split(|c: char| !c.is_ascii_digit())
                        .filter_map(|x| x.parse().ok())
                        .collect()
                }
                "BGP.next_hop" => {
                    r.next_hop = v.split_whitespace().next().and_then(|x| x.parse().ok())
                }
                "BGP.med" => r.med = v.parse().ok(),
                "BGP.local_pref" => r.local_pref = v.parse().ok(),
                "BGP.community" => {
                    r.communities = tuples(v)
                        .iter()
                        .filter_map(|t| match t[..] {
                            [a, b] => Some((u16::try_from(a).ok()?, u16::try_from(b).ok()?)),
                            _ => None,
                        })
                        .collect()
                }
                "BGP.large_community" => {
                    r.large_communities = tuples(v)
                        .iter()
                        .filter_map(|t| match t[..] {
                            [a, b, c] => Some((
                                u32::try_from(a).ok()?,
                                u32::try_from(b).ok()?,
                                u32::try_from(c).ok()?,
                            )),
                            _ => None,
                        })
                        .collect()
                }
                _ => {}
            }
            continue;
        }
        // A route line: "<prefix>   <dest> [peer ...]" or, for further paths of the same
        // prefix, indented with spaces.
        if let Some(r) = cur.take() {
            routes.push(finish_route(r));
        }
        if !line.starts_with(' ') {
            let first = line.split_whitespace().next().unwrap_or("");
            match try_norm_prefix(first) {
                Some(p) => prefix = p,
                None => continue,
            }
        }
        if prefix.is_empty() || !line.contains('[') {
            continue;
        }
        cur = Some(ReceivedRoute {
            prefix: prefix.clone(),
            ..Default::default()
        });
    }
    if let Some(r) = cur.take() {
        routes.push(finish_route(r));
    }
    routes
}

/// "(1,2) (3, 4, 5)" -> [[1,2],[3,4,5]]
fn tuples(v: &str) -> Vec<Vec<u64>> {
    v.split('(')
        .filter_map(|t| t.split_once(')'))
        .map(|(inner, _)| {
            inner
                .split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect()
        })
        .collect()
}
