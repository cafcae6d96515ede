//! ExaBGP 4.2: one exabgp process per instance, one neighbor, with two API processes:
//!
//! * `peerex_cmd.py` forwards each line the harness appends to `commands` to exabgp (text API:
//!   `announce route ...`, `withdraw route ...`, `neighbor X teardown 2`) and appends
//!   exabgp's answer ("done"/"error") to `acks`, so [`ExaBgp::command`] is synchronous;
//! * `peerex_rcv.py` appends exabgp's JSON events (state changes, OPEN, UPDATE, NOTIFICATION;
//!   `receive { parsed; update; ... }`) to `received.jsonl`, from which the harness rebuilds
//!   the received routes and the session state.
//!
//! exabgp listens on `local_addr:local_port` (`listen` in the neighbor) and connects to the
//! remote (`connect`) unless passive. ExaBGP sends the AS path as configured, so on eBGP the
//! harness prepends the local ASN itself.
//!
//! exabgp runs through `peerex_launch.py`, which changes three things by monkeypatching (see
//! [`LAUNCHER`]; [`ExaBgp::start_unpatched`] runs the stock program):
//! * 4.2.21 on Python 3 cannot decode a received shutdown communication (`b'%s' % str`
//!   raises TypeError): it answers a Cease/Administrative Shutdown that carries a message with
//!   NOTIFICATION 1/0 and never reports the message;
//! * `teardown` always sends the fixed text "Administrative Shutdown"; the launcher sends
//!   the contents of the file `shutdown-message` when it exists;
//! * its reconnect back-off grows to 60 s; the launcher caps it at `connect_retry`.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::json::Json;
use super::process::Proc;
use super::{
    bail, finish_route, instance_dir, notification_from_text, prefix_is_v6, quote_safe,
    try_norm_prefix, AddPath, Announced, BgpDaemon, Error, LastError, PeerSpec, ReceivedRoute,
    Result, RouteAttrs, SessionState, TempDir,
};

/// Forwards commands from a file to exabgp and records the answers. (Helper scripts are named
/// `peerex_*.py`: their directory is first on sys.path, and `cmd.py` would shadow the
/// standard library module that exabgp imports.)
const CMD_PY: &str = r#"import os, sys, time
cmds, acks = sys.argv[1], sys.argv[2]
pos, n, ppid = 0, 0, os.getppid()
while True:
    if os.getppid() != ppid:
        sys.exit(0)
    try:
        with open(cmds, 'rb') as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        data = b''
    end = data.rfind(b'\n')
    if end < 0:
        time.sleep(0.02)
        continue
    pos += end + 1
    for line in data[:end + 1].decode().splitlines():
        if not line.strip():
            continue
        sys.stdout.write(line + '\n')
        sys.stdout.flush()
        answer = []
        while True:
            a = sys.stdin.readline()
            if not a:
                sys.exit(0)
            a = a.strip()
            if a in ('done', 'error', 'shutdown'):
                break
            answer.append(a)
        n += 1
        with open(acks, 'a') as f:
            f.write('%d %s %s\n' % (n, a, ' | '.join(answer)))
"#;

/// Appends exabgp's JSON events to a file.
const RCV_PY: &str = r#"import sys
with open(sys.argv[1], 'a') as f:
    for line in sys.stdin:
        f.write(line)
        f.flush()
"#;

/// Runs exabgp with fixes (see the module doc). argv: peerex_launch.py DIR CONNECT_RETRY CONFIG
pub const LAUNCHER: &str = r#"import os, sys, time
here, retry = sys.argv[1], int(sys.argv[2])
del sys.argv[1:3]

from exabgp.bgp.message import notification as _n

_orig_init = _n.Notification.__init__
def _init(self, code, subcode, data=b'', parse_data=True):
    # 4.2.21: b'Shutdown Communication: "%s"' % str raises TypeError on Python 3.
    if parse_data and (code, subcode) in ((6, 2), (6, 4)) and len(data) > 1:
        n = data[0]
        if 0 < n <= len(data) - 1:
            try:
                text = data[1:1 + n].decode('utf-8').replace('\r', ' ').replace('\n', ' ')
            except UnicodeDecodeError:
                text = None
            if text is not None:
                self.code, self.subcode = code, subcode
                self.data = ('Shutdown Communication: "%s"' % text).encode('utf-8')
                if data[1 + n:]:
                    self.data += b', trailing data: ' + data[1 + n:].hex().encode()
                return
    _orig_init(self, code, subcode, data, parse_data)
_n.Notification.__init__ = _init

_orig_notify = _n.Notify.__init__
def _notify(self, code, subcode, data=None):
    # teardown: send the harness's shutdown message, if any.
    if data is None and (code, subcode) in ((6, 2), (6, 4)):
        try:
            with open(os.path.join(here, 'shutdown-message'), encoding='utf-8') as f:
                data = f.read().strip() or None
        except OSError:
            pass
    _orig_notify(self, code, subcode, data)
_n.Notify.__init__ = _notify

from exabgp.reactor import delay as _d
def _increase(self):
    self._time = time.time() + self._next
    self._next = min(int(1 + self._next * 1.2), retry)
_d.Delay.increase = _increase

from exabgp.application import run_exabgp
sys.argv[0] = 'exabgp'
sys.exit(run_exabgp())
"#;

pub struct ExaBgp {
    spec: PeerSpec,
    dir: PathBuf,
    proc: Proc,
    announced: Mutex<Announced>,
    /// Commands written so far (serialises command/ack pairs).
    sent: Mutex<usize>,
}

impl ExaBgp {
    /// Starts exabgp through the fixing launcher (see the module doc).
    pub fn start(tmp: &TempDir, spec: PeerSpec) -> Result<ExaBgp> {
        Self::start_with(tmp, spec, true)
    }

    /// Starts the stock exabgp program, without the launcher's fixes.
    pub fn start_unpatched(tmp: &TempDir, spec: PeerSpec) -> Result<ExaBgp> {
        Self::start_with(tmp, spec, false)
    }

    fn start_with(tmp: &TempDir, spec: PeerSpec, patched: bool) -> Result<ExaBgp> {
        let spec = spec.resolved();
        spec.check()?;
        let dir = instance_dir(tmp, &spec.name)?;
        let python = find_python()?;
        fs::write(dir.join("peerex_cmd.py"), CMD_PY)?;
        fs::write(dir.join("peerex_rcv.py"), RCV_PY)?;
        fs::write(dir.join("peerex_launch.py"), LAUNCHER)?;
        fs::write(dir.join("commands"), "")?;
        fs::write(dir.join("acks"), "")?;
        fs::write(dir.join("received.jsonl"), "")?;
        fs::write(dir.join("exabgp.conf"), config(&spec, &dir, &python))?;
        let user = current_user();
        let mut cmd = if patched {
            let mut c = Command::new(&python);
            c.arg(dir.join("peerex_launch.py"))
                .arg(&dir)
                .arg(spec.connect_retry.max(1).to_string());
            c
        } else {
            Command::new("exabgp")
        };
        cmd.arg(dir.join("exabgp.conf"))
            .current_dir(&dir)
            .env("exabgp.daemon.user", user)
            .env("exabgp.daemon.daemonize", "false")
            .env("exabgp.daemon.pid", dir.join("exabgp.pid"))
            .env("exabgp.api.cli", "false")
            .env("exabgp.api.ack", "true")
            .env("exabgp.log.destination", "stdout")
            .env("exabgp.log.level", "INFO")
            .env("exabgp.log.short", "false")
            .env("exabgp.tcp.bind", "")
            .env("exabgp.tcp.once", "false")
            .env("exabgp.daemon.drop", "false");
        let proc = Proc::spawn(&spec.name, cmd, &dir.join("exabgp.log"), tmp.path())?;
        let e = ExaBgp {
            spec,
            dir,
            proc,
            announced: Mutex::new(Announced::new()),
            sent: Mutex::new(0),
        };
        // exabgp answers API commands once it runs its reactor.
        if let Err(err) = e.command("version") {
            bail!("exabgp did not start ({err}): {}", e.diagnostics());
        }
        super::started(&e, e.proc.pid);
        Ok(e)
    }

    /// Sends one text API command and waits for exabgp's answer; returns any output lines.
    pub fn command(&self, cmd: &str) -> Result<String> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = OpenOptions::new()
            .append(true)
            .open(self.dir.join("commands"))?;
        writeln!(f, "{}", cmd.replace('\n', " "))?;
        drop(f);
        *sent += 1;
        let want = *sent;
        let acks = self.dir.join("acks");
        let line = super::wait_for(Duration::from_secs(15), || {
            if !self.proc.running() {
                return Some(Err(()));
            }
            let text = fs::read_to_string(&acks).ok()?;
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(&want.to_string()))
                .map(|l| Ok(l.to_string()))
        });
        match line {
            Some(Ok(l)) => {
                let mut it = l.splitn(3, ' ');
                let _n = it.next();
                let status = it.next().unwrap_or("");
                let rest = it.next().unwrap_or("").to_string();
                if status == "done" {
                    Ok(rest)
                } else {
                    bail!("exabgp command {cmd:?}: {status} {rest}")
                }
            }
            Some(Err(())) => bail!("exabgp exited during command {cmd:?}"),
            None => bail!("exabgp did not answer command {cmd:?}"),
        }
    }

    /// The OPEN message last received from the peer, as exabgp decoded it: `{"version",
    /// "asn", "hold_time", "router_id", "capabilities": {"<code>": {"name": ...}}}`. Useful
    /// to check what the peer (e.g. peerex) advertises.
    pub fn last_open(&self) -> Option<Json> {
        self.events()
            .into_iter()
            .rev()
            .find(|ev| {
                ev.get("type").as_str() == Some("open")
                    && ev.at(&["neighbor", "direction"]).as_str() == Some("receive")
            })
            .map(|ev| ev.at(&["neighbor", "open"]).clone())
    }

    /// Capability names in the last OPEN received from the peer ("multiprotocol", "asn4",
    /// "graceful restart", "addpath", "extended-message", "route-refresh", ...).
    pub fn peer_capabilities(&self) -> Vec<String> {
        self.last_open()
            .map(|o| {
                o.get("capabilities")
                    .entries()
                    .into_iter()
                    .filter_map(|(_, c)| c.get("name").as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn events(&self) -> Vec<Json> {
        let text = fs::read_to_string(self.dir.join("received.jsonl")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| Json::parse(l).ok())
            .collect()
    }

    /// Attribute text for announcements (`withdraw`: only the next hop, which exabgp needs
    /// to parse an IPv4 `withdraw attributes ... nlri ...`).
    fn attr_text(&self, v6: bool, attrs: &RouteAttrs, withdraw: bool) -> String {
        let nh = match attrs.next_hop {
            Some(nh) => nh.to_string(),
            None if v6 => self.spec.self_next_hop_v6().to_string(),
            None => self.spec.self_next_hop_v4().to_string(),
        };
        let mut c = format!(" next-hop {nh}");
        if withdraw {
            return c;
        }
        c.push_str(" origin igp");
        let path = self.spec.expected_as_path(attrs);
        let path: Vec<String> = path.iter().map(|a| a.to_string()).collect();
        let _ = write!(c, " as-path [ {} ]", path.join(" "));
        if let Some(m) = attrs.med {
            let _ = write!(c, " med {m}");
        }
        if let Some(lp) = attrs.local_pref {
            let _ = write!(c, " local-preference {lp}");
        }
        if !attrs.communities.is_empty() {
            let v: Vec<String> = attrs
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            let _ = write!(c, " community [ {} ]", v.join(" "));
        }
        if !attrs.large_communities.is_empty() {
            let v: Vec<String> = attrs
                .large_communities
                .iter()
                .map(|(a, b, x)| format!("{a}:{b}:{x}"))
                .collect();
            let _ = write!(c, " large-community [ {} ]", v.join(" "));
        }
        c
    }

    /// Sends `verb` (announce/withdraw) for `prefixes` with `attrs`: one
    /// `<verb> attributes ... nlri P1 P2 ...` per family and 200 prefixes, or one
    /// `<verb> route P path-information N ...` per prefix when a path id is set.
    fn send_routes(&self, verb: &str, prefixes: &[String], attrs: &RouteAttrs) -> Result<()> {
        let withdraw = verb == "withdraw";
        for v6 in [false, true] {
            let fam: Vec<&str> = prefixes
                .iter()
                .filter(|p| prefix_is_v6(p) == v6)
                .map(String::as_str)
                .collect();
            if fam.is_empty() {
                continue;
            }
            let text = self.attr_text(v6, attrs, withdraw);
            match attrs.path_id {
                Some(id) => {
                    for p in fam {
                        self.command(&format!("{verb} route {p} path-information {id}{text}"))?;
                    }
                }
                None => {
                    for chunk in fam.chunks(200) {
                        self.command(&format!("{verb} attributes{text} nlri {}", chunk.join(" ")))?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for ExaBgp {
    fn drop(&mut self) {
        super::report_on_panic(self);
        self.proc.stop(Duration::from_secs(5));
    }
}

impl BgpDaemon for ExaBgp {
    fn kind(&self) -> &'static str {
        "exabgp"
    }
    fn spec(&self) -> &PeerSpec {
        &self.spec
    }
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("exabgp.log")
    }
    fn is_running(&self) -> bool {
        self.proc.running()
    }

    fn announce(&self, prefixes: &[&str], attrs: &RouteAttrs) -> Result<()> {
        super::trace(format_args!(
            "exabgp {}: announce {prefixes:?} {attrs:?}",
            self.spec.name
        ));
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        let prefixes = prefixes
            .iter()
            .map(|p| try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}"))))
            .collect::<Result<Vec<_>>>()?;
        self.send_routes("announce", &prefixes, attrs)?;
        for p in prefixes {
            a.insert((p, attrs.path_id), attrs.clone());
        }
        Ok(())
    }

    fn withdraw(&self, prefixes: &[&str]) -> Result<()> {
        super::trace(format_args!(
            "exabgp {}: withdraw {prefixes:?}",
            self.spec.name
        ));
        let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        let mut plain = Vec::new();
        for p in prefixes {
            let p = try_norm_prefix(p).ok_or_else(|| Error(format!("bad prefix {p:?}")))?;
            let keys: Vec<_> = a.keys().filter(|(q, _)| *q == p).cloned().collect();
            if keys.is_empty() {
                plain.push(p.clone());
            }
            for k in keys {
                let attrs = a.remove(&k).unwrap_or_default();
                match k.1 {
                    Some(_) => self.send_routes("withdraw", std::slice::from_ref(&k.0), &attrs)?,
                    None => plain.push(k.0.clone()),
                }
            }
        }
        self.send_routes("withdraw", &plain, &RouteAttrs::default())
    }

    fn received_routes(&self) -> Result<Vec<ReceivedRoute>> {
        // Replay the event log: a RIB keyed by (prefix, path id), cleared when the session
        // goes down.
        let mut rib: std::collections::BTreeMap<(String, Option<u32>), ReceivedRoute> =
            Default::default();
        for ev in self.events() {
            match ev.get("type").as_str() {
                Some("state") if ev.at(&["neighbor", "state"]).as_str() == Some("down") => {
                    rib.clear();
                }
                Some("update") => {
                    let upd = ev.at(&["neighbor", "message", "update"]);
                    if upd.is_null() {
                        continue; // EoR
                    }
                    for (_fam, nlris) in upd.get("withdraw").entries() {
                        for n in nlris.as_array() {
                            if let Some(key) = nlri_key(n) {
                                rib.remove(&key);
                            }
                        }
                    }
                    let attrs = upd.get("attribute");
                    for (_fam, by_nh) in upd.get("announce").entries() {
                        for (nh, nlris) in by_nh.entries() {
                            for n in nlris.as_array() {
                                let Some(key) = nlri_key(n) else { continue };
                                let r = route_from(&key, nh, attrs);
                                rib.insert(key, r);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(rib.into_values().collect())
    }

    fn session_state(&self) -> Result<SessionState> {
        let mut st = SessionState::Idle;
        for ev in self.events() {
            if ev.get("type").as_str() == Some("state") {
                st = match ev.at(&["neighbor", "state"]).as_str() {
                    Some("connected") => SessionState::OpenSent,
                    Some("up") => SessionState::Established,
                    Some("down") => SessionState::Idle,
                    Some(other) => SessionState::Other(other.into()),
                    None => st,
                };
            }
        }
        Ok(st)
    }

    fn last_error(&self) -> Result<Option<LastError>> {
        let mut last = None;
        for ev in self.events() {
            match ev.get("type").as_str() {
                Some("notification") => {
                    // {"neighbor": {..., "direction": "receive", "notification": {"code": 6,
                    // "subcode": 2, "data": "0x<hex of exabgp's text>"}}}; exabgp's own
                    // shutdown is {"type": "notification", "notification": "shutdown"}.
                    let n = ev.at(&["neighbor", "notification"]);
                    if n.get("code").is_null()
                        || ev.at(&["neighbor", "direction"]).as_str() == Some("send")
                    {
                        continue;
                    }
                    let data = n.get("data").as_str().unwrap_or("");
                    let text = decode_hex_text(data).unwrap_or_else(|| data.to_string());
                    last = Some(LastError {
                        code: n.get("code").as_u64().map(|c| c as u8),
                        subcode: n.get("subcode").as_u64().map(|c| c as u8),
                        message: shutdown_message(&text),
                        text,
                    });
                }
                Some("state") => {
                    // "peer reset, message (notification received (6,2)) error(...)"
                    let reason = ev.at(&["neighbor", "reason"]).as_str().unwrap_or("");
                    if let Some(i) = reason.find("notification received (") {
                        let cs = &reason[i + "notification received (".len()..];
                        let cs = cs.split(')').next().unwrap_or("");
                        let mut it = cs.split(',').map(|x| x.trim().parse::<u8>().ok());
                        let (code, subcode) = (it.next().flatten(), it.next().flatten());
                        let (code, subcode) = match (code, subcode) {
                            (Some(c), Some(s)) => (Some(c), Some(s)),
                            _ => match notification_from_text(reason) {
                                Some((c, s)) => (Some(c), Some(s)),
                                None => (None, None),
                            },
                        };
                        // Keep the message from a preceding notification event if it has it.
                        let message = shutdown_message(reason).or_else(|| {
                            last.as_ref()
                                .filter(|l: &&LastError| l.code == code)
                                .and_then(|l| l.message.clone())
                        });
                        last = Some(LastError {
                            code,
                            subcode,
                            message,
                            text: reason.to_string(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(last)
    }

    fn shutdown_session(&self, message: Option<&str>) -> Result<()> {
        super::trace(format_args!(
            "exabgp {}: shutdown session, message {message:?}",
            self.spec.name
        ));
        let f = self.dir.join("shutdown-message");
        match message {
            Some(m) => fs::write(&f, quote_safe(m))?,
            None => {
                let _ = fs::remove_file(&f);
            }
        }
        self.command(&format!("neighbor {} teardown 2", self.spec.remote_addr))?;
        Ok(())
    }

    /// ExaBGP reconnects by itself after a teardown: nothing to do.
    fn enable_session(&self) -> Result<()> {
        super::trace(format_args!("exabgp {}: enable session", self.spec.name));
        Ok(())
    }
}

fn config(s: &PeerSpec, dir: &Path, python: &str) -> String {
    let d = dir.display();
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "# generated by tests/common/exabgp.rs");
    let _ = writeln!(
        w,
        "process peerex-cmd {{\n  run {python} {d}/peerex_cmd.py {d}/commands {d}/acks;\n  encoder text;\n}}"
    );
    let _ = writeln!(
        w,
        "process peerex-rcv {{\n  run {python} {d}/peerex_rcv.py {d}/received.jsonl;\n  encoder json;\n}}"
    );
    let _ = writeln!(w, "neighbor {} {{", s.remote_addr);
    let _ = writeln!(w, "  description \"{}\";", quote_safe(&s.name));
    let _ = writeln!(w, "  router-id {};", s.router_id);
    let _ = writeln!(w, "  local-address {};", s.local_addr);
    let _ = writeln!(w, "  local-as {};", s.local_asn);
    let _ = writeln!(w, "  peer-as {};", s.remote_asn);
    let _ = writeln!(w, "  hold-time {};", s.hold_time);
    let _ = writeln!(w, "  listen {};", s.local_port);
    let _ = writeln!(w, "  connect {};", s.remote_port);
    let _ = writeln!(w, "  passive {};", s.passive);
    let _ = writeln!(w, "  group-updates true;");
    if let Some(pw) = &s.md5 {
        let _ = writeln!(w, "  md5-password \"{}\";", quote_safe(pw));
    }
    let _ = writeln!(w, "  capability {{");
    let _ = writeln!(w, "    asn4 enable;");
    let _ = writeln!(w, "    route-refresh enable;");
    let ap = match s.add_path {
        AddPath::Off => "disable",
        AddPath::Receive => "receive",
        AddPath::Send => "send",
        AddPath::Both => "send/receive",
    };
    let _ = writeln!(w, "    add-path {ap};");
    if s.graceful_restart {
        let _ = writeln!(w, "    graceful-restart {};", s.graceful_restart_time);
    }
    let _ = writeln!(
        w,
        "    extended-message {};",
        if s.extended_message {
            "enable"
        } else {
            "disable"
        }
    );
    let _ = writeln!(w, "  }}");
    let _ = writeln!(w, "  family {{");
    if s.families.ipv4 {
        let _ = writeln!(w, "    ipv4 unicast;");
    }
    if s.families.ipv6 {
        let _ = writeln!(w, "    ipv6 unicast;");
    }
    let _ = writeln!(w, "  }}");
    let _ = writeln!(
        w,
        "  api peerex-cmd-api {{\n    processes [ peerex-cmd ];\n  }}"
    );
    let _ = writeln!(
        w,
        "  api peerex-rcv-api {{\n    processes [ peerex-rcv ];\n    neighbor-changes;\n    \
         receive {{\n      parsed;\n      update;\n      open;\n      notification;\n    }}\n  }}"
    );
    let _ = writeln!(w, "}}");
    c
}

/// (prefix, path id) of an NLRI entry: `{"nlri": "...", "path-information": "0.0.0.2"}` or
/// a bare prefix string.
fn nlri_key(n: &Json) -> Option<(String, Option<u32>)> {
    let (p, id) = match n {
        Json::String(s) => (s.as_str(), None),
        _ => (n.get("nlri").as_str()?, n.get("path-information").as_str()),
    };
    let id = id.and_then(|s| {
        s.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(u32::from)
            .or_else(|| s.parse().ok())
    });
    Some((try_norm_prefix(p)?, id))
}

fn route_from(key: &(String, Option<u32>), nh: &str, a: &Json) -> ReceivedRoute {
    let num_list =
        |v: &Json| -> Vec<u32> { v.as_array().iter().filter_map(Json::as_u32).collect() };
    let mut as_path = Vec::new();
    match a.get("as-path") {
        // Plain sequence: [1, 2]; with sets exabgp writes an object of segments.
        Json::Array(v) => {
            for x in v {
                match x {
                    Json::Array(_) => as_path.extend(num_list(x)),
                    _ => as_path.extend(x.as_u32()),
                }
            }
        }
        obj @ Json::Object(_) => {
            for (_k, seg) in obj.entries() {
                as_path.extend(num_list(seg.get("value")));
            }
        }
        _ => {}
    }
    let r = ReceivedRoute {
        prefix: key.0.clone(),
        path_id: key.1,
        as_path,
        next_hop: nh.parse().ok(),
        med: a.get("med").as_u32(),
        local_pref: a.get("local-preference").as_u32(),
        communities: a
            .get("community")
            .as_array()
            .iter()
            .filter_map(|c| {
                let v = num_list(c);
                Some((
                    u16::try_from(*v.first()?).ok()?,
                    u16::try_from(*v.get(1)?).ok()?,
                ))
            })
            .collect(),
        large_communities: a
            .get("large-community")
            .as_array()
            .iter()
            .filter_map(|c| {
                let v = num_list(c);
                Some((*v.first()?, *v.get(1)?, *v.get(2)?))
            })
            .collect(),
        origin: a.get("origin").as_str().map(str::to_string),
    };
    finish_route(r)
}

fn decode_hex_text(h: &str) -> Option<String> {
    let h = h.strip_prefix("0x").unwrap_or(h);
    if h.is_empty() || h.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The message in `... Shutdown Communication: "message" ...`.
fn shutdown_message(text: &str) -> Option<String> {
    let i = text.find("Shutdown Communication: \"")?;
    let rest = &text[i + "Shutdown Communication: \"".len()..];
    let end = rest.rfind('"')?;
    Some(rest[..end].to_string())
}

/// The interpreter exabgp is installed for: the `#!` line of the `exabgp` script (a
/// `python3` earlier in PATH, e.g. pyenv's, may not have the exabgp module).
fn find_python() -> Result<String> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/bin".into());
    for d in path.split(':').chain(["/usr/sbin", "/usr/bin"]) {
        let p = Path::new(d).join("exabgp");
        let Ok(text) = fs::read(&p) else { continue };
        let first = String::from_utf8_lossy(&text[..text.len().min(200)])
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        if let Some(interp) = first.strip_prefix("#!") {
            let interp = interp.trim();
            // "#!/usr/bin/env python3" -> python3 via PATH is what exabgp itself uses.
            return Ok(interp
                .strip_prefix("/usr/bin/env ")
                .map(|x| x.trim().to_string())
                .unwrap_or_else(|| interp.to_string()));
        }
    }
    bail!("exabgp not found in PATH (install the Debian package exabgp)")
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => std::env::var("USER").unwrap_or_else(|_| "root".into()),
    }
}
