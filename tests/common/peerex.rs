//! The peerex binary as a test process: a generated configuration, a log file, stopped with
//! SIGTERM on drop (its log tail is printed when a test fails).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::process::Proc;
use super::{tail_file, trace, unique_port, wait_until, Error, PeerSpec, Result, TempDir};

/// One peer in a generated peerex configuration.
#[derive(Clone, Debug)]
pub struct PeerexPeer {
    pub name: String,
    pub asn: u32,
    pub address: IpAddr,
    /// Extra TOML lines for the `[[peer]]` table (e.g. `hold_time = 3`).
    pub extra: String,
}

impl PeerexPeer {
    /// The peerex side of a daemon described by `spec`.
    pub fn for_spec(spec: &PeerSpec) -> PeerexPeer {
        PeerexPeer {
            name: spec.name.clone(),
            asn: spec.local_asn,
            address: spec.local_addr,
            extra: String::new(),
        }
    }

    /// The `[[peer]]` of `spec` allowing the daemon's own next hops (its routes carry its
    /// router-id-derived addresses, as a second router of the same organisation would).
    pub fn allowing_own_next_hops(spec: &PeerSpec) -> PeerexPeer {
        PeerexPeer::for_spec(spec).with(&format!(
            "next_hops = [\"{}\", \"{}\"]",
            spec.self_next_hop_v4(),
            spec.self_next_hop_v6()
        ))
    }

    pub fn with(mut self, line: &str) -> PeerexPeer {
        self.extra.push_str(line);
        self.extra.push('\n');
        self
    }
}

pub struct Peerex {
    proc: Proc,
    pub dir: PathBuf,
    pub asn: u32,
    pub port: u16,
    pub config: PathBuf,
    pub log: PathBuf,
}

/// Import checks for tests that are about sessions and the RIB, not filters: the daemons
/// announce private and documentation space from private ASNs with next hops other than
/// their own address, which a production route server rightly refuses.
pub const LAB_DEFAULTS: &str = "reject_bogon_asns = false\nreject_bogon_prefixes = false\ncheck_next_hop = false\nrpki = \"off\"\nipv4_max_length = 32\nipv6_max_length = 128\n";

/// The route server's ASN in tests.
pub const RS_ASN: u32 = 64500;

impl Peerex {
    /// Writes a configuration for `peers` (listening on 127.0.0.1 and ::1 on a fresh port)
    /// and starts `peerex run`. `server_extra` is added to `[server]`.
    pub fn start(dir: &TempDir, peers: &[PeerexPeer], server_extra: &str) -> Result<Peerex> {
        Self::start_with_defaults(dir, peers, server_extra, LAB_DEFAULTS)
    }

    /// Like [`start`](Self::start), with `defaults` as the body of `[defaults]` (and any
    /// further top-level tables after it, e.g. `[policy]` or `[rpki]`).
    pub fn start_with_defaults(
        dir: &TempDir,
        peers: &[PeerexPeer],
        server_extra: &str,
        defaults: &str,
    ) -> Result<Peerex> {
        let port = unique_port();
        let mut cfg = String::new();
        let _ = writeln!(
            cfg,
            "[server]\nasn = {RS_ASN}\nrouter_id = \"10.255.255.1\""
        );
        let _ = writeln!(cfg, "listen = [\"127.0.0.1:{port}\", \"[::1]:{port}\"]");
        cfg.push_str(server_extra);
        cfg.push('\n');
        let _ = writeln!(cfg, "[defaults]\n{defaults}");
        for p in peers {
            let _ = writeln!(
                cfg,
                "\n[[peer]]\nname = \"{}\"\nasn = {}\naddress = \"{}\"\n{}",
                p.name, p.asn, p.address, p.extra
            );
        }
        Self::start_with_config(dir, &cfg, port)
    }

    /// Starts peerex on a configuration written by the caller, which listens on `port`.
    pub fn start_with_config(dir: &TempDir, cfg: &str, port: u16) -> Result<Peerex> {
        Self::start_with_config_env(dir, cfg, port, &[])
    }

    /// Like [`start_with_config`](Self::start_with_config), with `env` added to peerex's
    /// environment (e.g. `NOTIFY_SOCKET`, `WATCHDOG_USEC`, test hooks).
    pub fn start_with_config_env(
        dir: &TempDir,
        cfg: &str,
        port: u16,
        env: &[(&str, String)],
    ) -> Result<Peerex> {
        let config = dir.join("peerex.toml");
        let mut cfg = cfg.to_string();
        if !cfg.contains("[control]") {
            // Each instance gets its own control socket: the default path under /run is one
            // per machine, and tests run side by side.
            let _ = write!(
                cfg,
                "\n[control]\nsocket = \"{}\"\n",
                dir.join("peerex.sock").display()
            );
        }
        std::fs::write(&config, &cfg)?;
        let log = dir.join("peerex.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerex"));
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--log-level")
            .arg(std::env::var("PEEREX_TEST_LOG").unwrap_or_else(|_| "peerex=debug,info".into()))
            // Plain text: the log is a file that tests search and print.
            .env("NO_COLOR", "1");
        // systemd's variables reach peerex only when a test sets them (the test runner may
        // itself run under a service manager).
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let proc = Proc::spawn("peerex", cmd, &log, dir.path())?;
        let p = Peerex {
            proc,
            dir: dir.path().to_path_buf(),
            asn: RS_ASN,
            port,
            config,
            log,
        };
        let ok = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() || !p.proc.running()
        });
        if !ok || !p.proc.running() {
            return Err(Error(format!("peerex did not start:\n{}", p.log_tail(40))));
        }
        trace(format!("peerex running on port {port}"));
        Ok(p)
    }

    /// Points a daemon spec at this route server (IPv4 transport).
    pub fn target(&self, spec: PeerSpec) -> PeerSpec {
        spec.remote(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port, self.asn)
    }

    /// Points a daemon spec at this route server over ::1.
    pub fn target_v6(&self, spec: PeerSpec) -> PeerSpec {
        spec.remote(
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            self.port,
            self.asn,
        )
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail_file(&self.log, lines)
    }

    /// Waits until the log has a line containing all of `words`.
    pub fn wait_log(&self, words: &[&str], timeout: Duration) -> bool {
        wait_until(timeout, || {
            std::fs::read_to_string(&self.log)
                .map(|s| s.lines().any(|l| words.iter().all(|w| l.contains(w))))
                .unwrap_or(false)
        })
    }

    pub fn running(&self) -> bool {
        self.proc.running()
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid
    }

    /// Peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        super::proc_status_kib(self.proc.pid, "VmHWM:")
    }

    /// Runs `peerex ctl --config <its config> ARGS` (the control socket path comes from the
    /// configuration); returns (success, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerex"));
        cmd.arg("ctl").arg("--config").arg(&self.config).args(args);
        super::process::run(&mut cmd, Duration::from_secs(60))
    }

    /// `peerex ctl ARGS --json`, which must succeed: the `result` of the answer.
    pub fn ctl_json(&self, args: &[&str]) -> Result<super::json::Json> {
        let mut a = args.to_vec();
        a.push("--json");
        let (ok, out, err) = self.ctl(&a)?;
        if !ok {
            return Err(Error(format!("peerex ctl {args:?} failed: {err}{out}")));
        }
        let v = super::json::Json::parse(&out)
            .map_err(|e| Error(format!("peerex ctl {args:?}: {e} in {out}")))?;
        if v.get("ok").as_bool() != Some(true) {
            return Err(Error(format!("peerex ctl {args:?}: {out}")));
        }
        Ok(v.get("result").clone())
    }

    /// Stops it with SIGTERM (sessions get an administrative shutdown).
    pub fn stop(&self) {
        self.proc.stop(Duration::from_secs(5));
    }
}

impl Drop for Peerex {
    fn drop(&mut self) {
        if std::thread::panicking() || super::failure_reported() {
            eprintln!(
                "---- peerex log tail ({}) ----\n{}",
                self.log.display(),
                self.log_tail(80)
            );
        }
        self.proc.stop(Duration::from_secs(5));
    }
}
