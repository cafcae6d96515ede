//! pmacct's BMP collector, `pmbmpd` (Debian's pmacct), as a real collector for tests: it
//! listens on a loopback port and logs every BMP message it parses as one JSON object per
//! line (`-o FILE`), which the tests read back field by field.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::json::Json;
use super::process::Proc;
use super::{unique_port, wait_until, Error, Result, TempDir};

pub struct Pmbmpd {
    pub addr: SocketAddr,
    /// The JSON lines log.
    pub log: PathBuf,
    /// pmbmpd's own log (its INFO lines: what it discarded and why).
    pub daemon_log: PathBuf,
    pub proc: Proc,
}

impl Pmbmpd {
    /// Starts pmbmpd on 127.0.0.1 and a free port, and waits until it listens.
    pub fn start(dir: &TempDir) -> Result<Pmbmpd> {
        let port = unique_port();
        let log = dir.join("pmbmpd.json");
        let daemon_log = dir.join("pmbmpd.log");
        let mut cmd = Command::new("pmbmpd");
        cmd.args(["-L", "127.0.0.1", "-l", &port.to_string(), "-o"])
            .arg(&log);
        let proc = Proc::spawn("pmbmpd", cmd, &daemon_log, dir.path()).map_err(|e| {
            Error(format!(
                "{e}: pmbmpd is in Debian's pmacct package (apt-get install pmacct, as \
                 .ci/install-deps does)"
            ))
        })?;
        let listening = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&daemon_log).is_ok_and(|s| s.contains("waiting for BMP data"))
        });
        if !listening {
            return Err(Error(format!(
                "pmbmpd did not start listening: {}",
                std::fs::read_to_string(&daemon_log).unwrap_or_default()
            )));
        }
        Ok(Pmbmpd {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            daemon_log,
            proc,
        })
    }

    /// Every JSON object logged so far (a line being written is skipped).
    pub fn events(&self) -> Vec<Json> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| Json::parse(l).ok())
            .collect()
    }

    /// The logged messages of one BMP type (`bmp_msg_type`: init, peer_up, route_monitor,
    /// stats, peer_down, term).
    pub fn of_type(&self, kind: &str) -> Vec<Json> {
        self.events()
            .into_iter()
            .filter(|e| e.get("bmp_msg_type").as_str() == Some(kind))
            .collect()
    }

    /// Waits until `done` holds over the events; the events, or an error with the logs.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[Json]) -> bool,
    ) -> Result<Vec<Json>> {
        let mut last = Vec::new();
        if wait_until(timeout, || {
            last = self.events();
            done(&last)
        }) {
            return Ok(last);
        }
        Err(Error(format!(
            "pmbmpd did not log what was expected within {timeout:?}.\nJSON log:\n{}\npmbmpd log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(&self.daemon_log).unwrap_or_default()
        )))
    }
}
