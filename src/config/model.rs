//! The TOML schema as serde types. Unknown keys are errors; every field that semantic
//! validation may complain about is `Spanned` so the complaint can name its line.

use std::collections::BTreeMap;
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
    /// `[role.NAME]`: settings shared by the peers of a role (between `[defaults]` and the
    /// peer's own). Declaring a table also declares a custom role.
    #[serde(default, rename = "role")]
    pub roles: BTreeMap<Spanned<String>, Spanned<PeerFields>>,
    /// `[policy]`: server-wide filter lists and tagging.
    #[serde(default)]
    pub policy: PolicySection,
    /// `[rpki]`: where validated ROA payloads come from.
    #[serde(default)]
    pub rpki: RpkiSection,
    /// `[control]`: the control socket.
    #[serde(default)]
    pub control: ControlSection,
    /// `[looking_glass]`: the HTTP looking glass and metrics.
    #[serde(default)]
    pub looking_glass: LookingGlassSection,
    /// `[log]`: logging.
    #[serde(default)]
    pub log: LogSection,
    /// `[[bmp]]`: BMP collectors to send to, any number.
    #[serde(default)]
    pub bmp: Vec<BmpEntry>,
}

/// One `[[bmp]]` table: a BMP collector (RFC 7854) peerex connects to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmpEntry {
    /// Unique name for logs and the control socket (default "<address>:<port>").
    pub name: Option<Spanned<String>>,
    /// The collector's IP address.
    pub address: Spanned<IpAddr>,
    /// The collector's TCP port (1 to 65535).
    pub port: Spanned<u16>,
    /// "pre-policy", "post-policy", "loc-rib", "adj-rib-out" (default the first two).
    pub views: Option<Spanned<Vec<Spanned<String>>>>,
    /// Names of the `[[peer]]`s monitored (default all).
    pub peers: Option<Spanned<Vec<Spanned<String>>>>,
    /// Seconds between Statistics Reports (0 = none; default 60).
    pub stats_interval: Option<Spanned<u64>>,
    /// Seconds a write may make no progress before the collector is dropped (default 30).
    pub stall_limit: Option<Spanned<u64>>,
    /// First reconnect delay, seconds (default 5; doubles up to 60×).
    pub retry: Option<Spanned<u64>>,
}

/// `[control]`: where the control socket is and who may use it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// Path of the Unix socket (relative paths are relative to the configuration file).
    pub socket: Option<Spanned<String>>,
    /// File mode, octal: a string ("0600" by default; "0660" lets a group in) or a TOML
    /// octal integer (0o660).
    pub mode: Option<Spanned<toml::Value>>,
    /// Group owning the socket: a name from /etc/group or a number.
    pub group: Option<Spanned<String>>,
    /// Seconds a client may stay connected without sending a complete request (default 60).
    pub idle_timeout: Option<Spanned<u64>>,
}

/// `[looking_glass]`: the read-only HTTP API (and /metrics).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookingGlassSection {
    /// Address to serve on; absent = no looking glass.
    pub listen: Option<Spanned<std::net::SocketAddr>>,
    /// Most routes one request may return (default 1,000).
    pub max_results: Option<Spanned<usize>>,
    /// Seconds a birdwatcher answer may be served from a client's cache (default 5).
    pub cache_ttl: Option<Spanned<u64>>,
}

/// `[log]`: how peerex logs (the command line's --log-level overrides `level`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A filter in tracing-subscriber syntax: "info", "peerex=debug", …
    pub level: Option<Spanned<String>>,
    /// "text" (default) or "json".
    pub format: Option<Spanned<String>>,
}

/// `[policy]`: lists every peer's import policy shares, and export tagging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Replaces the built-in bogon prefix list (entries in prefix list syntax).
    #[serde(default)]
    pub bogon_prefixes: Option<Vec<Spanned<String>>>,
    /// Replaces the built-in bogon ASN list (numbers, "AS" numbers or "A-B" ranges).
    #[serde(default)]
    pub bogon_asns: Option<Vec<Spanned<toml::Value>>>,
    /// Replaces the built-in list of transit-free ASNs.
    #[serde(default)]
    pub transit_free_asns: Option<Vec<Spanned<toml::Value>>>,
    /// Tag accepted routes with the RPKI state as large community `RS:1000:N` (1 valid, 2 not
    /// found, 3 not checked, 4 invalid). Default false.
    #[serde(default)]
    pub rpki_communities: Option<bool>,
}

/// `[rpki]`: sources of validated ROA payloads; all of them are merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpkiSection {
    /// JSON VRP files (rpki-client, Routinator, StayRTR `{"roas": [...]}` format), relative to
    /// the configuration file.
    #[serde(default)]
    pub vrp_files: Vec<Spanned<String>>,
    /// Seconds between checks of the VRP files for changes (default 60).
    #[serde(default)]
    pub file_refresh: Option<Spanned<u32>>,
    /// RPKI-to-router caches (RFC 8210) as "host:port".
    #[serde(default)]
    pub rtr: Vec<Spanned<String>>,
    /// Seconds to wait before reconnecting to an RTR cache (default 30).
    #[serde(default)]
    pub rtr_retry: Option<Spanned<u32>>,
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
    port: Spanned<u16>,
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
    /// Long-lived graceful restart helper (RFC 9494) for this peer: advertise the capability
    /// and keep its routes as long-lived stale after its restart time (default false; needs
    /// `graceful_restart`).
    long_lived_graceful_restart: Spanned<bool>,
    /// The long-lived stale time advertised, and the most peerex keeps a peer's routes
    /// long-lived stale, in seconds (1 to 16777215, default 3600).
    long_lived_stale_time: Spanned<u32>,
    /// BGP role (RFC 9234) checks: "off", "on" (send role rs, check the peer says rs-client
    /// if it sends a role) or "strict" (the peer must send rs-client).
    role_check: Spanned<String>,
    /// TCP MD5 signature password (RFC 2385).
    md5_password: String,
    /// GTSM (RFC 5082): accept only packets with TTL 255 (one hop).
    ttl_security: bool,
    /// Maximum prefixes accepted per family (0 = no limit).
    max_prefixes: Spanned<u32>,
    /// The IPv4 unicast limit, instead of `max_prefixes` (0 = no limit).
    max_prefixes_ipv4: Spanned<u32>,
    /// The IPv6 unicast limit, instead of `max_prefixes` (0 = no limit).
    max_prefixes_ipv6: Spanned<u32>,
    /// What to do at the limit: "warn", "reset", or "restart" (reset and reconnect after
    /// `max_prefixes_restart` minutes).
    max_prefixes_action: Spanned<String>,
    max_prefixes_restart: u16,
    /// RFC 9687 send hold time in seconds (default: the larger of 8 minutes and twice the
    /// negotiated hold time).
    send_hold_time: Spanned<u32>,

    // Policy: the marketplace.
    /// The peer's role: "supplier", "member", "service" or a role declared with `[role.NAME]`
    /// (default "member").
    role: Spanned<String>,
    /// Whose routes this peer receives: "all", "none", "role:NAME" or peer names (default by
    /// role: suppliers receive from members and services, the others from all).
    receive_from: Vec<Spanned<String>>,
    /// Who receives this peer's routes, same syntax (default "all").
    send_to: Vec<Spanned<String>>,
    /// This peer accepts RFC 7999 blackhole routes from others (default true).
    accept_blackholes: bool,

    // Policy: import filters.
    /// Allowed prefixes, inline (prefix list syntax, e.g. "10.1.0.0/16 le 24").
    prefixes: Vec<Spanned<String>>,
    /// Allowed prefixes from files (one entry per line), relative to the configuration file.
    prefix_files: Vec<Spanned<String>>,
    /// Allowed origin ASNs besides the peer's own (numbers, "AS" numbers or "A-B" ranges).
    origin_asns: Vec<Spanned<toml::Value>>,
    /// Further addresses NEXT_HOP may hold besides the peer's own address.
    next_hops: Vec<Spanned<IpAddr>>,
    /// Reject prefixes not in `prefixes`/`prefix_files` (when a list is given; default true).
    check_prefixes: bool,
    /// Reject origin ASNs not in `origin_asns` (when a list is given; default true).
    check_origins: bool,
    /// Reject paths whose first AS is not the peer's (default true).
    check_first_as: bool,
    /// Reject routes whose NEXT_HOP is not the peer's address or in `next_hops` (default true).
    check_next_hop: bool,
    /// Longest AS path accepted, in hops (default 64).
    max_path_length: Spanned<u16>,
    /// Reject paths with an AS_SET (default true).
    reject_as_set: bool,
    /// Reject paths with a private, reserved or documentation ASN (default true).
    reject_bogon_asns: bool,
    /// Reject bogon prefixes (default true).
    reject_bogon_prefixes: bool,
    /// Reject paths with a transit-free ASN behind the peer (default true).
    reject_transit_free: bool,
    /// Shortest and longest IPv4 prefix accepted (default 8 and 24; blackholes up to 32).
    ipv4_min_length: Spanned<u8>,
    ipv4_max_length: Spanned<u8>,
    /// Shortest and longest IPv6 prefix accepted (default 12 and 48; blackholes up to 128).
    ipv6_min_length: Spanned<u8>,
    ipv6_max_length: Spanned<u8>,
    /// RPKI origin validation (RFC 6811): "reject" invalid routes, "tag" them and accept, or
    /// "off" (default "reject"; routes are "not checked" while no VRPs are loaded).
    rpki: Spanned<String>,
    /// The peer may send RFC 7999 BLACKHOLE routes (default false).
    allow_blackhole: bool,
    /// Honour RFC 8326 GRACEFUL_SHUTDOWN: LOCAL_PREF 0 (default true).
    graceful_shutdown: bool,
    /// LOCAL_PREF given to the peer's accepted routes (default 100).
    local_pref: u32,
    /// ASPA path verification (draft-ietf-sidrops-aspa-verification, upstream procedure with
    /// the peer as neighbor): "reject" invalid paths, "tag" them and accept, or "off"
    /// (default "off"; paths are "not checked" while no RPKI data is loaded).
    aspa: Spanned<String>,
}
