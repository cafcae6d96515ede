//! The TOML schema as serde types. Unknown keys are errors; every field that semantic
//! validation may complain about is `Spanned` so the complaint can name its line.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub server: Server,
    #[serde(default)]
    pub defaults: PeerFields,
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerEntry>,
}

/// `[server]`: the route server itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub asn: Spanned<u32>,
    pub router_id: Spanned<std::net::Ipv4Addr>,
    /// Addresses to accept BGP connections on (default `0.0.0.0:179` and `[::]:179`).
    #[serde(default)]
    pub listen: Option<Vec<Spanned<SocketAddr>>>,
    /// Smallest hold time accepted from a peer (RFC 4271 allows 3; 0 is always accepted).
    #[serde(default)]
    pub min_hold_time: Option<Spanned<u16>>,
}

/// Declares the per-peer settings once, for both `[defaults]` (`PeerFields`) and `[[peer]]`
/// (`PeerEntry`, which adds identity); serde cannot combine `flatten` with
/// `deny_unknown_fields`, so the fields are spelled out in both.
macro_rules! peer_settings {
    ($($(#[$m:meta])* $f:ident: $t:ty,)*) => {
        /// Per-peer settings; each may be set in `[defaults]` and overridden in a `[[peer]]`.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PeerFields {
            $($(#[$m])* pub $f: Option<$t>,)*
        }

        /// One `[[peer]]` table.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PeerEntry {
            pub name: Spanned<String>,
            pub asn: Spanned<u32>,
            pub address: Spanned<IpAddr>,
            #[serde(default)]
            pub description: Option<String>,
            /// Start administratively disabled.
            #[serde(default)]
            pub disabled: bool,
            $($(#[$m])* #[serde(default)] pub $f: Option<$t>,)*
        }

        impl PeerEntry {
            /// The per-peer settings of this entry.
            pub fn fields(&self) -> PeerFields {
                PeerFields { $($f: self.$f.clone(),)* }
            }
        }

        impl PeerFields {
            /// Settings of `self`, falling back to `base` where unset.
            pub fn or(self, base: &PeerFields) -> PeerFields {
                PeerFields { $($f: self.$f.or_else(|| base.$f.clone()),)* }
            }
        }
    };
}

peer_settings! {
    /// Wait for the peer to connect (the usual route-server mode) instead of connecting.
    passive: bool,
    /// TCP port to connect to (active peers).
    port: u16,
    /// Source address for outgoing connections.
    local_address: Spanned<IpAddr>,
    /// Hold time offered in OPEN (0, or 3 and above).
    hold_time: Spanned<u16>,
    /// Initial reconnect delay for active peers, seconds (doubles up to 60× with jitter).
    connect_retry: Spanned<u16>,
    /// Address families to negotiate: "ipv4-unicast", "ipv6-unicast".
    families: Vec<Spanned<String>>,
    /// ADD-PATH: "off", "receive", "send" or "both" (for every negotiated family).
    add_path: Spanned<String>,
    /// With ADD-PATH send: how many paths per prefix (0 = all).
    add_path_max: u16,
    /// Act as graceful-restart helper (RFC 4724) for this peer.
    graceful_restart: bool,
    /// BGP role (RFC 9234) checks: "off", "on" (send role rs, check the peer says rs-client
    /// if it sends a role) or "strict" (the peer must send rs-client).
    role_check: Spanned<String>,
    /// TCP MD5 signature password (RFC 2385).
    md5_password: String,
    /// GTSM (RFC 5082): accept only packets with TTL 255 (one hop).
    ttl_security: bool,
    /// Maximum prefixes accepted per family (0 = no limit).
    max_prefixes: Spanned<u32>,
    /// What to do at the limit: "warn", "reset", or "restart" (reset and reconnect after
    /// `max_prefixes_restart` minutes).
    max_prefixes_action: Spanned<String>,
    max_prefixes_restart: u16,
    /// RFC 9687 send hold time in seconds (default: the larger of 8 minutes and twice the
    /// negotiated hold time).
    send_hold_time: Spanned<u32>,
}
