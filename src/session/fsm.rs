//! The RFC 4271 §8 session states and the pure decisions of the state machine: what a state
//! means, hold and keepalive timer arithmetic, and connection collision resolution (§6.8).
//! The peer task drives the transitions; nothing here does I/O or keeps time.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
