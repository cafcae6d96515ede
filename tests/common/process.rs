//! Daemon processes: spawn with output to a log file, stop with SIGTERM then SIGKILL, and
//! kill daemons left behind by test processes that died without dropping their handles.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use super::net::pid_alive;
use super::{Error, Result};

/// File in a TempDir listing the pids of the daemons started there.
const REGISTRY: &str = "daemons.pids";

/// A running daemon process.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Mutex<Child>,
    exit: Mutex<Option<ExitStatus>>,
}

impl Proc {
    /// Starts `cmd` with stdin from /dev/null and stdout+stderr appended to `log`. The pid is
    /// recorded in `<registry_dir>/daemons.pids` for [`reap_stale`].
    pub fn spawn(name: &str, mut cmd: Command, log: &Path, registry_dir: &Path) -> Result<Proc> {
        let out = OpenOptions::new().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|e| Error(format!("{name}: cannot start {cmd:?}: {e}")))?;
        let pid = child.id();
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(registry_dir.join(REGISTRY))
        {
            let _ = writeln!(f, "{pid}");
        }
        Ok(Proc {
            name: name.into(),
            pid,
            child: Mutex::new(child),
            exit: Mutex::new(None),
        })
    }

    /// Exit status if the process has ended.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut exit = self.exit.lock().unwrap_or_else(|e| e.into_inner());
        if exit.is_none() {
            let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(Some(st)) = c.try_wait() {
                *exit = Some(st);
            }
        }
        *exit
    }

    pub fn running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// SIGKILL at once, and reaps the process.
    pub fn kill(&self) {
        let st = {
            let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
            let _ = c.kill();
            c.wait().ok()
        };
        if let Some(st) = st {
            *self.exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(st);
        }
    }

    /// SIGTERM, up to `grace` for it to exit, then SIGKILL; always reaps the process.
    pub fn stop(&self, grace: Duration) {
        if !self.running() {
            return;
        }
        signal(self.pid, "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = c.kill();
        if let Ok(st) = c.wait() {
            *self.exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(st);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// Sends a signal by name (TERM, KILL, HUP...) to `pid` via the shell's `kill`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("sh")
        .args([
            "-c",
            "kill -s \"$1\" \"$2\" 2>/dev/null",
            "sh",
            sig,
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs a command to completion with a timeout; returns (success, stdout, stderr).
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<(bool, String, String)> {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error(format!("cannot run {desc}: {e}")))?;
    // Read both pipes on threads so that a large output cannot block the child.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut s);
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error(format!("timeout ({timeout:?}) running {desc}")));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = String::from_utf8_lossy(&to.join().unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&te.join().unwrap_or_default()).into_owned();
    Ok((status.success(), out, err))
}

static REAP: Once = Once::new();

/// Once per process: for every TempDir under `base` whose owning test process is gone, kill
/// the daemons it lists that are still running from that directory, and delete such
/// directories when they are more than a day old.
pub fn reap_stale(base: &Path) {
    REAP.call_once(|| {
        let Ok(rd) = fs::read_dir(base) else {
            return;
        };
        for e in rd.flatten() {
            let dir = e.path();
            let Some(owner) = owner_pid(&dir) else {
                continue;
            };
            if owner == std::process::id() || pid_alive(owner) {
                continue;
            }
            let marker = dir.to_string_lossy().into_owned();
            if let Ok(list) = fs::read_to_string(dir.join(REGISTRY)) {
                for pid in list.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if cmdline.contains(&marker) {
                        signal(pid, "KILL");
                        remove_frr_crash_dir(pid);
                    }
                }
                let _ = fs::remove_file(dir.join(REGISTRY));
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600));
            if old {
                let _ = fs::remove_dir_all(&dir);
            }
        }
    });
}

/// Removes FRR's per-pid crash-log directory `/var/tmp/frr/bgpd.<pid>` (its `logbuf.*`
/// files are left behind when bgpd is killed).
pub fn remove_frr_crash_dir(pid: u32) {
    let dir = PathBuf::from(format!("/var/tmp/frr/bgpd.{pid}"));
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("logbuf.") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let _ = fs::remove_dir(&dir);
}

/// The pid in a TempDir name `<name>.<pid>.<n>`.
fn owner_pid(dir: &Path) -> Option<u32> {
    let name = dir.file_name()?.to_str()?;
    let mut parts = name.rsplit('.');
    let _n = parts.next()?;
    parts.next()?.parse().ok()
}

/// Polls for a file to appear.
pub fn wait_file(path: &Path, timeout: Duration) -> bool {
    super::wait_until(timeout, || path.exists())
}
