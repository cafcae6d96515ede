//! The RFC 4271 §8 session states and the pure decisions around a connection: what a state
//! means, hold and keepalive timer arithmetic, connection collision resolution (§6.8), and
//! what a peer does between sessions (Idle, Connect, Active: [`plan`], [`Between`]). The
//! states of a connection (OpenSent to Established) are run by [`super::machine`]. Nothing
//! here does I/O or reads a clock: times come in as arguments.

use std::time::{Duration, Instant};

use super::end::{AdminAction, EndReason};
use super::machine::PeerCmd;

/// RFC 4271 §8.2.2 states (plus the administrative "disabled" an operator sets).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    Idle = 0,
    Connect = 1,
    Active = 2,
    OpenSent = 3,
    OpenConfirm = 4,
    Established = 5,
    /// Administratively disabled: Idle, and staying there until enabled.
    Disabled = 6,
}

impl State {
    pub fn from_u8(v: u8) -> State {
        match v {
            1 => State::Connect,
            2 => State::Active,
            3 => State::OpenSent,
            4 => State::OpenConfirm,
            5 => State::Established,
            6 => State::Disabled,
            _ => State::Idle,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
            State::Disabled => "Disabled",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The hold time used in OpenSent before the peer's OPEN arrives (RFC 4271 §8: "large").
pub const OPEN_HOLD: Duration = Duration::from_secs(240);

/// Keepalive interval for a negotiated hold time: a third of it, or none.
pub fn keepalive_interval(hold: u16) -> Option<Duration> {
    (hold > 0).then(|| Duration::from_millis(u64::from(hold) * 1000 / 3))
}

/// RFC 9687: how long writing may make no progress before the peer is dropped — the larger
/// of 8 minutes and twice the hold time, unless configured.
pub fn send_hold(hold: u16, configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| Duration::from_secs((2 * u64::from(hold)).max(480)))
}

/// Which connection survives a collision (RFC 4271 §6.8).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Survivor {
    /// Keep the connection we initiated.
    Outbound,
    /// Keep the connection the peer initiated.
    Inbound,
}

/// The connection initiated by the speaker with the higher BGP identifier survives.
pub fn resolve_collision(local_id: u32, remote_id: u32) -> Survivor {
    if local_id > remote_id {
        Survivor::Outbound
    } else {
        Survivor::Inbound
    }
}

/// A jitter value for [`backoff`] (0.0–1.0), from the clock's nanoseconds: enough to keep
/// many peers (or collectors) that failed together from retrying in step.
pub fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// Reconnect delay for an active peer after `failures` consecutive failures: doubling from
/// `base` up to 60 × base, with ±25 % jitter from `jitter` (0.0–1.0).
pub fn backoff(base: Duration, failures: u32, jitter: f64) -> Duration {
    let factor = 1u64 << failures.min(6);
    let d = base
        .saturating_mul(factor as u32)
        .min(base.saturating_mul(60));
    let j = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    d.mul_f64(j)
}

/// What a peer remembers between sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Between {
    /// An operator disabled the peer: no session until enabled.
    pub disabled: bool,
    /// The peer task ends (removed, reconfigured, server stopping).
    pub stop: bool,
    /// No session before this instant (max-prefix "restart").
    pub hold_off: Option<Instant>,
    /// Consecutive failed attempts (for the back-off).
    pub failures: u32,
}

/// What the peer task does next between sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// End the task.
    Stop,
    /// Stay down until enabled (incoming connections are refused).
    Disabled,
    /// Idle until this instant, then plan again.
    HoldOff(Instant),
    /// RFC 4271 Active: wait for the peer to connect (a passive peer).
    Listen,
    /// RFC 4271 Connect: connect to the peer (accepting its connection meanwhile).
    Connect,
}

impl Between {
    /// Idle → Connect or Active (the ManualStart / AutomaticStart of RFC 4271 §8.1.2), unless
    /// a command or a hold-off keeps the peer down.
    pub fn plan(&mut self, passive: bool, now: Instant) -> Plan {
        if self.stop {
            return Plan::Stop;
        }
        if self.disabled {
            return Plan::Disabled;
        }
        if let Some(t) = self.hold_off {
            if now < t {
                return Plan::HoldOff(t);
            }
            self.hold_off = None;
        }
        if passive {
            Plan::Listen
        } else {
            Plan::Connect
        }
    }

    /// A command while no session runs (the session machine takes those that come while
    /// one does).
    pub fn command(&mut self, c: &PeerCmd) {
        match c {
            PeerCmd::Disable(_) => self.disabled = true,
            PeerCmd::Enable => {
                self.disabled = false;
                self.hold_off = None;
            }
            PeerCmd::Reset(_) | PeerCmd::RefreshIn => {}
            PeerCmd::Remove | PeerCmd::Reconfigure | PeerCmd::Shutdown(_) => self.stop = true,
        }
    }

    /// A session or an attempt ended for `reason`.
    pub fn ended(&mut self, reason: &EndReason, was_established: bool) {
        match reason {
            EndReason::Admin {
                action: AdminAction::Disable,
                ..
            } => self.disabled = true,
            EndReason::Deconfigured | EndReason::ConfigChanged | EndReason::ServerShutdown => {
                self.stop = true
            }
            _ => {}
        }
        self.failures = if was_established {
            0
        } else {
            self.failures.saturating_add(1)
        };
    }

    /// How long an active peer waits before connecting again (Connect → Active on a failed
    /// attempt, Idle after a session): back-off after failures, `base` after a session.
    pub fn retry_after(&self, base: Duration, jitter: f64) -> Duration {
        backoff(base, self.failures, jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_sessions_a_peer_connects_listens_or_stays_down() {
        let now = Instant::now();
        let mut b = Between::default();
        assert_eq!(b.plan(false, now), Plan::Connect);
        assert_eq!(b.plan(true, now), Plan::Listen);
        b.command(&PeerCmd::Disable(None));
        assert_eq!(b.plan(false, now), Plan::Disabled);
        b.command(&PeerCmd::Enable);
        assert_eq!(b.plan(false, now), Plan::Connect);
        b.hold_off = Some(now + Duration::from_secs(5));
        assert_eq!(
            b.plan(false, now),
            Plan::HoldOff(now + Duration::from_secs(5))
        );
        assert_eq!(b.plan(false, now + Duration::from_secs(6)), Plan::Connect);
        assert_eq!(b.hold_off, None);
        b.hold_off = Some(now + Duration::from_secs(5));
        b.command(&PeerCmd::Enable);
        assert_eq!(b.plan(true, now), Plan::Listen, "enable lifts a hold-off");
        b.command(&PeerCmd::Reset(None));
        assert_eq!(b.plan(true, now), Plan::Listen);
        b.command(&PeerCmd::Remove);
        assert_eq!(b.plan(true, now), Plan::Stop);
    }

    #[test]
    fn session_ends_set_what_comes_next() {
        let mut b = Between::default();
        b.ended(&EndReason::HoldTimerExpired, false);
        b.ended(&EndReason::HoldTimerExpired, false);
        assert_eq!(b.failures, 2);
        let base = Duration::from_secs(5);
        assert_eq!(b.retry_after(base, 0.5), Duration::from_secs(20));
        b.ended(&EndReason::HoldTimerExpired, true);
        assert_eq!(b.failures, 0);
        assert_eq!(b.retry_after(base, 0.5), base);
        let disable = EndReason::Admin {
            action: AdminAction::Disable,
            message: None,
        };
        b.ended(&disable, true);
        assert!(b.disabled && !b.stop);
        for r in [
            EndReason::Deconfigured,
            EndReason::ConfigChanged,
            EndReason::ServerShutdown,
        ] {
            let mut b = Between::default();
            b.ended(&r, true);
            assert!(b.stop, "{r}");
        }
    }

    #[test]
    fn timers() {
        assert_eq!(keepalive_interval(0), None);
        assert_eq!(keepalive_interval(3), Some(Duration::from_secs(1)));
        assert_eq!(keepalive_interval(90), Some(Duration::from_secs(30)));
        assert_eq!(send_hold(90, None), Duration::from_secs(480));
        assert_eq!(send_hold(600, None), Duration::from_secs(1200));
        assert_eq!(
            send_hold(90, Some(Duration::from_secs(10))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn collision_keeps_the_higher_identifiers_connection() {
        assert_eq!(resolve_collision(2, 1), Survivor::Outbound);
        assert_eq!(resolve_collision(1, 2), Survivor::Inbound);
        assert_eq!(resolve_collision(1, 1), Survivor::Inbound);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let b = Duration::from_secs(5);
        assert_eq!(backoff(b, 0, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(b, 1, 0.5), Duration::from_secs(10));
        assert_eq!(backoff(b, 20, 0.5), Duration::from_secs(300));
        assert!(backoff(b, 2, 0.0) < backoff(b, 2, 1.0));
        assert_eq!(backoff(b, 2, 0.0), Duration::from_secs(15));
    }

    #[test]
    fn states_round_trip() {
        for s in [
            State::Idle,
            State::Connect,
            State::Active,
            State::OpenSent,
            State::OpenConfirm,
            State::Established,
            State::Disabled,
        ] {
            assert_eq!(State::from_u8(s as u8), s);
        }
    }
}
