//! Why a session ended (or a connection never became one): a typed reason that logs, `peerex
//! ctl peers`, the looking glass and the metrics all show the same way. Owns the reasons and
//! their names; decides nothing (the state machine picks the reason).

use std::fmt;

use crate::wire::{Family, Notification};

/// What an operator asked for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AdminAction {
    /// `peerex ctl disable`: Cease / Administrative Shutdown, and stay down.
    Disable,
    /// `peerex ctl reset`: Cease / Administrative Reset, and reconnect.
    Reset,
}

/// How a connection failed, from the operating system's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnError {
    /// The peer closed the connection (end of stream).
    Closed,
    /// The OS reported an error: its kind and, where there is one, its errno.
    Os {
        kind: std::io::ErrorKind,
        errno: Option<i32>,
    },
}

impl From<&std::io::Error> for ConnError {
    fn from(e: &std::io::Error) -> Self {
        ConnError::Os {
            kind: e.kind(),
            errno: e.raw_os_error(),
        }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Closed => f.write_str("closed by the peer"),
            ConnError::Os {
                errno: Some(n),
                kind,
            } => write!(f, "{} ({kind:?})", std::io::Error::from_raw_os_error(*n)),
            ConnError::Os { kind, .. } => write!(f, "{}", std::io::Error::from(*kind)),
        }
    }
}

/// Why a session ended, or why a connection did not become one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// What the peer sent was malformed or unexpected; we sent this NOTIFICATION. `fault`
    /// names what was wrong (the decoder's typed fault, rendered).
    ProtocolError { sent: Notification, fault: String },
    /// The peer's OPEN was well formed but not acceptable here (AS, hold time,
    /// capabilities, role); we sent this NOTIFICATION.
    OpenRefused(Notification),
    /// Nothing arrived from the peer for the hold time (RFC 4271).
    HoldTimerExpired,
    /// The peer took nothing we sent for the send hold time (RFC 9687).
    SendHoldTimerExpired,
    /// The TCP connection failed or was closed without a NOTIFICATION.
    ConnectionLost(ConnError),
    /// Our outbound connection attempt failed.
    ConnectFailed(ConnError),
    /// The peer sent more prefixes of `family` than its limit.
    MaxPrefixes { family: Family, limit: u32 },
    /// An operator disabled or reset the session, with an optional shutdown message.
    Admin {
        action: AdminAction,
        message: Option<String>,
    },
    /// The peer was removed from the configuration.
    Deconfigured,
    /// A reload changed the peer's session settings.
    ConfigChanged,
    /// peerex is stopping.
    ServerShutdown,
    /// A new connection from a peer that negotiated graceful restart replaced the session
    /// (RFC 4724: the peer restarted).
    Replaced,
    /// Two connections to the same peer: this one lost the collision (RFC 4271 §6.8).
    CollisionLost,
}

impl EndReason {
    /// A stable name for metrics labels and JSON (`snake_case`).
    pub fn label(&self) -> &'static str {
        match self {
            EndReason::NotificationReceived(_) => "notification_received",
            EndReason::ProtocolError { .. } => "protocol_error",
            EndReason::OpenRefused(_) => "open_refused",
            EndReason::HoldTimerExpired => "hold_timer_expired",
            EndReason::SendHoldTimerExpired => "send_hold_timer_expired",
            EndReason::ConnectionLost(_) => "connection_lost",
            EndReason::ConnectFailed(_) => "connect_failed",
            EndReason::MaxPrefixes { .. } => "max_prefixes",
            EndReason::Admin {
                action: AdminAction::Disable,
                ..
            } => "admin_disable",
            EndReason::Admin {
                action: AdminAction::Reset,
                ..
            } => "admin_reset",
            EndReason::Deconfigured => "deconfigured",
            EndReason::ConfigChanged => "config_changed",
            EndReason::ServerShutdown => "server_shutdown",
            EndReason::Replaced => "replaced",
            EndReason::CollisionLost => "collision_lost",
        }
    }

    /// Every label, in the order of [`EndReason::index`] (for per-reason counters).
    pub const LABELS: [&'static str; 15] = [
        "notification_received",
        "protocol_error",
        "open_refused",
        "hold_timer_expired",
        "send_hold_timer_expired",
        "connection_lost",
        "connect_failed",
        "max_prefixes",
        "admin_disable",
        "admin_reset",
        "deconfigured",
        "config_changed",
        "server_shutdown",
        "replaced",
        "collision_lost",
    ];

    /// This reason's position in [`EndReason::LABELS`].
    pub fn index(&self) -> usize {
        let l = self.label();
        Self::LABELS.iter().position(|x| *x == l).unwrap_or(0)
    }

    /// A graceful-restart helper keeps the peer's routes as stale only when the session
    /// ended without a NOTIFICATION (RFC 4724 §4.2) or the peer reconnected.
    pub fn keeps_stale(&self) -> bool {
        matches!(self, EndReason::ConnectionLost(_) | EndReason::Replaced)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::NotificationReceived(n) => write!(f, "received NOTIFICATION {n}"),
            EndReason::ProtocolError { sent, fault } => {
                write!(f, "sent NOTIFICATION {sent}: {fault}")
            }
            EndReason::OpenRefused(n) => write!(f, "OPEN refused: sent NOTIFICATION {n}"),
            EndReason::HoldTimerExpired => f.write_str("hold timer expired"),
            EndReason::SendHoldTimerExpired => f.write_str("send hold timer expired"),
            EndReason::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            EndReason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            EndReason::MaxPrefixes { family, limit } => {
                write!(f, "maximum prefixes exceeded ({family}, limit {limit})")
            }
            EndReason::Admin { action, message } => {
                match action {
                    AdminAction::Disable => f.write_str("disabled by an operator")?,
                    AdminAction::Reset => f.write_str("reset by an operator")?,
                }
                match message {
                    Some(m) if !m.is_empty() => write!(f, ": {m:?}"),
                    _ => Ok(()),
                }
            }
            EndReason::Deconfigured => f.write_str("removed from the configuration"),
            EndReason::ConfigChanged => f.write_str("session settings changed by a reload"),
            EndReason::ServerShutdown => f.write_str("peerex is stopping"),
            EndReason::Replaced => f.write_str(
                "replaced by a new connection from the restarting peer (graceful restart)",
            ),
            EndReason::CollisionLost => {
                f.write_str("connection collision: the other connection was kept")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_indexed_and_distinct() {
        let all = [
            EndReason::HoldTimerExpired,
            EndReason::SendHoldTimerExpired,
            EndReason::Replaced,
            EndReason::CollisionLost,
            EndReason::ConnectionLost(ConnError::Closed),
            EndReason::Admin {
                action: AdminAction::Reset,
                message: None,
            },
        ];
        for r in &all {
            assert_eq!(EndReason::LABELS[r.index()], r.label());
        }
        let mut l = EndReason::LABELS.to_vec();
        l.sort();
        l.dedup();
        assert_eq!(l.len(), EndReason::LABELS.len());
    }

    #[test]
    fn only_silent_ends_keep_stale_routes() {
        assert!(EndReason::ConnectionLost(ConnError::Closed).keeps_stale());
        assert!(EndReason::Replaced.keeps_stale());
        assert!(!EndReason::HoldTimerExpired.keeps_stale());
        assert!(!EndReason::NotificationReceived(Notification::admin_shutdown("")).keeps_stale());
    }

    #[test]
    fn os_errors_render_with_their_kind() {
        let e = std::io::Error::from_raw_os_error(104);
        let c = ConnError::from(&e);
        assert!(c.to_string().contains("ConnectionReset"), "{c}");
    }
}
