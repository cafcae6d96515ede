//! Long-lived graceful restart settings of a peer (RFC 9494): `long_lived_graceful_restart`
//! and `long_lived_stale_time`, checked with their positions.

use std::time::Duration;

use super::model::PeerFields;
use super::Validator;

/// Long-lived stale time when `long_lived_graceful_restart` is on and no time is given.
const DEFAULT_LONG_LIVED_STALE_TIME: u32 = 3600;

impl Validator<'_> {
    /// The long-lived stale time of a peer with LLGR on (RFC 9494: only with graceful
    /// restart; the time is 24 bits on the wire).
    pub(super) fn long_lived(
        &mut self,
        f: &PeerFields,
        graceful_restart: bool,
    ) -> Option<Duration> {
        let secs = match &f.long_lived_stale_time {
            Some(t) if !(1..=0x00ff_ffff).contains(t.get_ref()) => {
                self.at(
                    t,
                    "long_lived_stale_time must be 1 to 16777215 seconds".into(),
                );
                1
            }
            Some(t) => *t.get_ref(),
            None => DEFAULT_LONG_LIVED_STALE_TIME,
        };
        match &f.long_lived_graceful_restart {
            Some(on) if *on.get_ref() && !graceful_restart => {
                let msg = "long_lived_graceful_restart needs graceful_restart = true (RFC 9494)";
                self.at(on, msg.into());
                None
            }
            Some(on) if *on.get_ref() => Some(Duration::from_secs(u64::from(secs))),
            _ => None,
        }
    }
}
