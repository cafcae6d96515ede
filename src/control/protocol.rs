//! The control socket protocol: one JSON object per line each way.
//!
//! A request names its command in `cmd`:
//!
//! | `cmd` | fields | result |
//! | --- | --- | --- |
//! | `status` | — | server facts and totals; `memory`: bytes per part (as `peerex_memory_bytes`) |
//! | `peers` | — | every peer: state, uptime, counters |
//! | `peer` | `name` | one peer, with capabilities and last error |
//! | `routes` | `prefix`, `exact` | the paths of the longest-matching (or exact) prefix |
//! | `routes` | `peer`, `filtered`, `offset`, `limit` | paths received from a peer (accepted, or rejected with reasons) |
//! | `routes` | `to`, `offset`, `limit` | what a client receives |
//! | `peer-action` | `name`, `action` (`disable`/`enable`/`reset`/`refresh`), `message` | — |
//! | `dump-mrt` | `file` | an MRT TABLE_DUMP_V2 file of the current table; prefix and path counts |
//! | `reload` | `dry_run` | what changed (or would change) |
//!
//! The answer is `{"ok": true, "result": …}` or `{"ok": false, "error": "…"}`. A connection
//! may carry any number of requests, one after the other. A malformed line or an unknown
//! command gets an error answer and the connection stays usable; requests longer than
//! [`MAX_REQUEST`] octets are refused and the connection closed. At most
//! `socket::MAX_CLIENTS` clients are served at once (one more gets an error answer and is
//! closed), and a client that sends no complete request, or reads none of its answers, for
//! `[control] idle_timeout` (default 60 seconds) is disconnected.

use serde::{Deserialize, Serialize};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Default page size for route listings, and the most a request may ask for.
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    Status,
    Peers,
    Peer {
        name: String,
    },
    Routes {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        #[serde(default)]
        exact: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default)]
        filtered: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        #[serde(default)]
        offset: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
    PeerAction {
        name: String,
        action: PeerAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    DumpMrt {
        file: String,
    },
    Reload {
        #[serde(default)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PeerAction {
    Disable,
    Enable,
    Reset,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn ok(v: serde_json::Value) -> Self {
        Response {
            ok: true,
            result: Some(v),
            error: None,
        }
    }
    pub fn err(e: impl Into<String>) -> Self {
        Response {
            ok: false,
            result: None,
            error: Some(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_unknown_fields_are_refused() {
        let r: Request = serde_json::from_str(r#"{"cmd":"peer","name":"s1"}"#).unwrap();
        assert_eq!(r, Request::Peer { name: "s1".into() });
        let r: Request =
            serde_json::from_str(r#"{"cmd":"routes","peer":"s1","filtered":true}"#).unwrap();
        assert!(matches!(r, Request::Routes { filtered: true, .. }));
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"peer","nmae":"s1"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"frobnicate"}"#).is_err());
        let r: Request = serde_json::from_str(
            r#"{"cmd":"peer-action","name":"x","action":"disable","message":"bye"}"#,
        )
        .unwrap();
        assert!(matches!(
            r,
            Request::PeerAction {
                action: PeerAction::Disable,
                ..
            }
        ));
    }
}
