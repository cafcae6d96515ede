//! systemd integration: the readiness protocol (`sd_notify`: READY, RELOADING, STOPPING,
//! STATUS, one datagram each to `$NOTIFY_SOCKET`) and the watchdog, which pets systemd
//! (`WATCHDOG=1`) only while every RIB shard makes progress. Without `NOTIFY_SOCKET` in the
//! environment nothing here sends anything. A leaf of the top level: imports only the RIB's
//! progress sample type; never `server`, `lg`, `control` or `reload`.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

use crate::rib::ShardProgress;

/// Where notifications go, when systemd (or a test) asked for them.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("enabled", &self.enabled())
            .finish()
    }
}

/// The address named by a `NOTIFY_SOCKET` value: a path, or (leading `@`) a name in the
/// abstract namespace.
fn notify_addr(value: &str) -> std::io::Result<SocketAddr> {
    match value.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(value),
    }
}

impl Notifier {
    /// A notifier for `$NOTIFY_SOCKET`; one that sends nothing when it is unset or unusable.
    pub fn from_env() -> Notifier {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { target: None };
        };
        let value = value.to_string_lossy().into_owned();
        let target = notify_addr(&value).and_then(|a| Ok((UnixDatagram::unbound()?, a)));
        match target {
            Ok(t) => Notifier { target: Some(t) },
            Err(e) => {
                tracing::warn!(socket = %value, error = %e, "NOTIFY_SOCKET unusable; systemd will not hear from us");
                Notifier { target: None }
            }
        }
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (newline-separated `KEY=value` assignments) as one datagram.
    pub fn notify(&self, state: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                tracing::warn!(error = %e, state, "sd_notify failed");
            }
        }
    }

    /// Startup or a reload is complete.
    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={status}"));
    }

    /// A reload starts (systemd waits for the next READY=1).
    pub fn reloading(&self) {
        self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration",
            monotonic_usec()
        ));
    }

    /// The route server is shutting down.
    pub fn stopping(&self) {
        self.notify("STOPPING=1\nSTATUS=shutting down: ceasing sessions");
    }
}

/// CLOCK_MONOTONIC in microseconds, which RELOADING=1 must carry (systemd ≥ 253 compares it
/// with the time of the reload request).
#[allow(unsafe_code)]
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid, exclusive pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`), unless `WATCHDOG_PID` names
/// another process (then the watchdog is someone else's).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Tells stuck shards from busy and idle ones across successive samples.
///
/// A shard is stuck when work was waiting in its input at the previous sample, is still
/// waiting now, and its progress counter has not moved in between: a live shard takes a
/// waiting batch (or at least goes round its loop, which it does every few hundred
/// milliseconds even while it holds its input back) long before the next sample. A shard
/// with nothing queued is idle, which is healthy however long it lasts.
#[derive(Debug, Default)]
pub struct ProgressCheck {
    last: Vec<ShardProgress>,
}

impl ProgressCheck {
    pub fn new() -> ProgressCheck {
        ProgressCheck::default()
    }

    /// The indexes of the shards stuck since the previous sample.
    pub fn stuck(&mut self, now: &[ShardProgress]) -> Vec<usize> {
        let stuck = now
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                self.last.get(*i).is_some_and(|before| {
                    before.queued > 0 && s.queued > 0 && before.advanced == s.advanced
                })
            })
            .map(|(i, _)| i)
            .collect();
        self.last = now.to_vec();
        stuck
    }
}

/// Pets the watchdog every `interval / 2` while `sample` shows every shard making progress
/// (or idle); stays silent while any is stuck, so systemd restarts the daemon once
/// `interval` has passed without a ping. Runs until the task is dropped.
pub async fn watchdog(
    notifier: Arc<Notifier>,
    interval: Duration,
    sample: impl Fn() -> Vec<ShardProgress>,
) {
    let mut tick = tokio::time::interval((interval / 2).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut check = ProgressCheck::new();
    let mut was_stuck = false;
    loop {
        tick.tick().await;
        let stuck = check.stuck(&sample());
        if stuck.is_empty() {
            if was_stuck {
                tracing::warn!("watchdog: every RIB shard makes progress again; pinging systemd");
                notifier.notify("WATCHDOG=1\nSTATUS=running");
            } else {
                notifier.notify("WATCHDOG=1");
            }
            was_stuck = false;
        } else if !was_stuck {
            was_stuck = true;
            tracing::error!(shards = ?stuck, "watchdog: RIB shard has work queued and made no progress; no longer pinging systemd (it will restart us)");
            notifier.notify(&format!("STATUS=RIB shards {stuck:?} stuck"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(advanced: u64, queued: usize) -> ShardProgress {
        ShardProgress { advanced, queued }
    }

    #[test]
    fn idle_and_busy_shards_are_healthy_a_stalled_one_is_not() {
        let mut c = ProgressCheck::new();
        assert!(c.stuck(&[p(0, 0), p(0, 5)]).is_empty(), "no history yet");
        // Shard 0 idle (nothing queued, no progress); shard 1 advanced.
        assert!(c.stuck(&[p(0, 0), p(7, 5)]).is_empty());
        // Work just arrived at shard 0: not stuck before a whole interval went by.
        assert!(c.stuck(&[p(0, 3), p(9, 5)]).is_empty());
        // Still queued and no progress: stuck. Shard 1 stopped too.
        assert_eq!(c.stuck(&[p(0, 3), p(9, 5)]), vec![0, 1]);
        // Shard 0 advanced: healthy again.
        assert_eq!(c.stuck(&[p(1, 3), p(9, 6)]), vec![1]);
    }

    #[test]
    fn abstract_and_path_addresses() {
        use std::os::linux::net::SocketAddrExt;
        let a = notify_addr("@peerex/test").unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"peerex/test"[..]));
        let p = notify_addr("/run/systemd/notify").unwrap();
        assert_eq!(
            p.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
    }

    #[test]
    fn notifies_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("peerex-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                notify_addr(&format!("@{name}")).unwrap(),
            )),
        };
        n.ready("up");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
        assert!(monotonic_usec() > 0);
    }
}
