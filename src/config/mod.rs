//! `config`: the TOML configuration — schema, validation with positions, and the resolved
//! settings the rest of peerex reads. Never: applying a configuration.

mod bmp;
pub mod defaults;
pub mod diff;
pub mod lists;
mod llgr;
mod model;
mod policy;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::wire::{Asn, Family, FamilySet};

pub use bmp::{changed_collectors, BmpConfig, BmpViews};
pub use diff::{diff, ConfigDiff, ResetPeer};
pub use lists::{AsnRange, PrefixRange};
pub use model::{File, PeerEntry, PeerFields};
pub use policy::{
    ImportChecks, LengthRange, PeerPolicy, PolicyConfig, RpkiAction, RpkiConfig, Selector,
    BUILTIN_ROLES, DEFAULT_ROLE,
};

/// A problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// All the problems found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// What ADD-PATH to negotiate with a peer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    Off,
    Receive,
    Send,
    Both,
}

impl AddPathMode {
    pub fn receive(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
    pub fn send(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// How BGP roles (RFC 9234) are checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RoleCheck {
    /// No role capability sent or checked.
    Off,
    /// Send role `rs`; a peer that sends a role must say `rs-client`.
    On,
    /// As `On`, and a peer that sends no role is refused.
    Strict,
}

/// What happens when a peer exceeds its prefix limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MaxPrefixAction {
    /// Log, keep the session and the routes.
    Warn,
    /// Cease the session (an active peer reconnects as usual).
    Reset,
    /// Cease and refuse the peer until the delay has passed.
    Restart(Duration),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaxPrefixes {
    /// Limits by family (IPv4, IPv6); `None` is no limit.
    pub limits: [Option<u32>; 2],
    pub action: MaxPrefixAction,
}

impl MaxPrefixes {
    /// The limit for `family`, if it has one.
    pub fn limit_for(&self, family: crate::wire::Family) -> Option<u32> {
        let i = match family {
            crate::wire::Family::Ipv4Unicast => 0,
            crate::wire::Family::Ipv6Unicast => 1,
        };
        self.limits.get(i).copied().flatten()
    }
}

/// The route server's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub asn: Asn,
    pub router_id: Ipv4Addr,
    pub listen: Vec<SocketAddr>,
    pub min_hold_time: u16,
}

/// One peer's resolved settings (defaults applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub name: String,
    pub asn: Asn,
    pub address: IpAddr,
    pub description: Option<String>,
    pub disabled: bool,
    pub passive: bool,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub hold_time: u16,
    pub connect_retry: Duration,
    pub families: FamilySet,
    pub add_path: AddPathMode,
    pub add_path_max: u16,
    pub graceful_restart: bool,
    /// Long-lived graceful restart (RFC 9494): the long-lived stale time offered and kept at
    /// most; `None` when off.
    pub long_lived_stale_time: Option<Duration>,
    pub role_check: RoleCheck,
    pub md5_password: Option<String>,
    pub ttl_security: bool,
    pub max_prefixes: Option<MaxPrefixes>,
    pub send_hold_time: Option<Duration>,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub source: PathBuf,
    pub server: ServerConfig,
    pub peers: Vec<PeerConfig>,
    /// Roles, filters and the marketplace; `policy.peers[i]` belongs to `peers[i]`.
    pub policy: PolicyConfig,
    /// Where VRPs come from.
    pub rpki: RpkiConfig,
    pub control: ControlConfig,
    pub looking_glass: LookingGlassConfig,
    pub log: LogConfig,
    pub bmp: Vec<BmpConfig>,
}

/// The control socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlConfig {
    pub socket: PathBuf,
    pub mode: u32,
    pub group: Option<u32>,
    /// A client that sends no complete request for this long is disconnected.
    pub idle_timeout: Duration,
}

/// Default `[control] idle_timeout`.
pub const DEFAULT_CONTROL_IDLE: Duration = Duration::from_secs(60);

/// The default control socket path.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/peerex/peerex.sock";

/// Default `[looking_glass] cache_ttl`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5);

/// The looking glass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookingGlassConfig {
    pub listen: Option<SocketAddr>,
    pub max_results: usize,
    /// How long a birdwatcher answer stays valid (its `ttl`): Alice-LG serves it from its
    /// cache until then.
    pub cache_ttl: Duration,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub level: String,
    pub json: bool,
}

/// The gid of a group name in /etc/group.
fn group_id(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// The text of a configuration file, or the error naming it.
fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        }])
    })
}

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Config::parse(&read(path)?, path)
    }

    /// Validates `text` as the contents of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        let mut v = Validator {
            file: path.display().to_string(),
            text,
            errors: Vec::new(),
        };
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                v.error(e.span(), e.message().to_string());
                return Err(ConfigErrors(v.errors));
            }
        };
        let cfg = v.resolve(&file, path);
        if v.errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigErrors(v.errors))
        }
    }

    /// The control socket a configuration file names, read leniently: `peerex ctl --config`
    /// must reach the server even when the file has since been edited into an invalid one
    /// (that is when `reload` is needed to report the errors). Fails only when the file cannot
    /// be read or is not TOML at all.
    pub fn control_socket_of(path: &Path) -> Result<PathBuf, ConfigErrors> {
        let text = read(path)?;
        let table: toml::Table = match toml::from_str(&text) {
            Ok(t) => t,
            Err(_) => return Config::parse(&text, path).map(|c| c.control.socket),
        };
        let socket = table
            .get("control")
            .and_then(|c| c.get("socket"))
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty());
        Ok(match socket {
            Some(s) => match (Path::new(s).is_relative(), path.parent()) {
                (true, Some(dir)) => dir.join(s),
                _ => PathBuf::from(s),
            },
            None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
        })
    }

    pub fn peer(&self, name: &str) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.name == name)
    }
}

/// The default BGP port.
pub const BGP_PORT: u16 = 179;
const DEFAULT_HOLD_TIME: u16 = 90;
const DEFAULT_CONNECT_RETRY: u16 = 5;

struct Validator<'a> {
    file: String,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn error(&mut self, span: Option<std::ops::Range<usize>>, message: String) {
        let (line, column) = span.map_or((0, 0), |s| self.position(s.start));
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            message,
        });
    }

    fn at<T>(&mut self, v: &Spanned<T>, message: String) {
        self.error(Some(v.span()), message);
    }

    fn check_asn(&mut self, asn: &Spanned<u32>, what: &str) -> Asn {
        let a = *asn.get_ref();
        // 0 (RFC 7607), AS_TRANS (RFC 6793), 65535 and 4294967295 (RFC 7300).
        if a == 0 || a == Asn::TRANS.0 || a == 65535 || a == u32::MAX {
            self.at(asn, format!("{what} {a} is reserved and cannot be used"));
        }
        Asn(a)
    }

    fn check_hold(&mut self, h: &Spanned<u16>) -> u16 {
        let v = *h.get_ref();
        if v == 1 || v == 2 {
            self.at(
                h,
                format!("hold time {v} is not allowed: use 0 or at least 3 seconds"),
            );
        }
        v
    }

    fn control(&mut self, c: &model::ControlSection, path: &Path) -> ControlConfig {
        let socket = match &c.socket {
            Some(s) => {
                let p = PathBuf::from(s.get_ref());
                if s.get_ref().is_empty() {
                    self.at(s, "control socket path is empty".into());
                }
                match (p.is_relative(), path.parent()) {
                    (true, Some(dir)) => dir.join(p),
                    _ => p,
                }
            }
            None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
        };
        let mode = match &c.mode {
            Some(m) => self.control_mode(m),
            None => 0o600,
        };
        let group = c.group.as_ref().and_then(|g| {
            let name = g.get_ref();
            let id = name.parse::<u32>().ok().or_else(|| group_id(name));
            if id.is_none() {
                self.at(g, format!("no group {name:?} in /etc/group"));
            }
            id
        });
        let idle_timeout = match &c.idle_timeout {
            Some(t) if *t.get_ref() == 0 || *t.get_ref() > 86_400 => {
                self.at(t, "idle_timeout must be 1 to 86400 seconds".into());
                DEFAULT_CONTROL_IDLE
            }
            Some(t) => Duration::from_secs(*t.get_ref()),
            None => DEFAULT_CONTROL_IDLE,
        };
        ControlConfig {
            socket,
            mode,
            group,
            idle_timeout,
        }
    }

    /// The control socket's file mode: octal, the owner may read and write, other users may
    /// not (anyone who can connect controls the route server).
    fn control_mode(&mut self, m: &Spanned<toml::Value>) -> u32 {
        let parsed = match m.get_ref() {
            toml::Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
            toml::Value::Integer(i) => u32::try_from(*i).ok(),
            _ => None,
        }
        .filter(|v| *v <= 0o777);
        let shown = match m.get_ref() {
            toml::Value::Integer(i) => i.to_string(),
            v => v.to_string(),
        };
        match parsed {
            None => {
                self.at(
                    m,
                    format!(
                        "control mode {shown} is not an octal file mode like \"0600\" or 0o660 \
                         (a TOML integer without 0o is decimal)"
                    ),
                );
                0o600
            }
            Some(v) if v & 0o007 != 0 => {
                self.at(
                    m,
                    format!(
                        "control mode {v:04o} lets every local user control the route server: \
                         use \"0600\", or \"0660\" with `group`"
                    ),
                );
                0o600
            }
            Some(v) if v & 0o600 != 0o600 => {
                self.at(
                    m,
                    format!("control mode {v:04o} must let the owner read and write (0600)"),
                );
                0o600
            }
            Some(v) => v,
        }
    }

    /// Complains about port 0 in an address to listen on.
    fn check_port(&mut self, a: &Spanned<SocketAddr>, what: &str) {
        if a.get_ref().port() == 0 {
            self.at(
                a,
                format!(
                    "{what} {} has port 0: give the port to listen on",
                    a.get_ref()
                ),
            );
        }
    }

    /// Checks a `[log] level` the way the daemon will use it: tracing-subscriber directives,
    /// where a bare word must be a level (a bare word is otherwise a target name, and a typo
    /// like "verbose" would silently log nothing).
    fn check_log_level(&mut self, l: &Spanned<String>) {
        const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
        let text = l.get_ref();
        let bad = text.split(',').map(str::trim).find(|d| {
            let level = d.rsplit_once('=').map_or(*d, |(_, lv)| lv);
            d.is_empty() || !LEVELS.contains(&level.to_ascii_lowercase().as_str())
        });
        if bad.is_some() || tracing_subscriber::EnvFilter::try_new(text).is_err() {
            self.at(
                l,
                format!(
                    "log level {text:?}: use trace, debug, info, warn, error or off, \
                     optionally per target (\"info,peerex::session=debug\")"
                ),
            );
        }
    }

    fn looking_glass(&mut self, l: &model::LookingGlassSection) -> LookingGlassConfig {
        let max_results = match &l.max_results {
            Some(m) if *m.get_ref() == 0 => {
                self.at(m, "max_results must be at least 1".into());
                1000
            }
            Some(m) => *m.get_ref(),
            None => 1000,
        };
        if let Some(a) = &l.listen {
            self.check_port(a, "looking_glass listen");
        }
        let cache_ttl = match &l.cache_ttl {
            Some(t) if *t.get_ref() > 3600 => {
                self.at(t, "cache_ttl must be at most 3600 seconds".into());
                DEFAULT_CACHE_TTL
            }
            Some(t) => Duration::from_secs(*t.get_ref()),
            None => DEFAULT_CACHE_TTL,
        };
        LookingGlassConfig {
            listen: l.listen.as_ref().map(|a| *a.get_ref()),
            max_results,
            cache_ttl,
        }
    }

    fn log(&mut self, l: &model::LogSection) -> LogConfig {
        if let Some(level) = &l.level {
            self.check_log_level(level);
        }
        let json = match l.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None | Some((_, "text")) => false,
            Some((_, "json")) => true,
            Some((f, other)) => {
                self.at(f, format!("log format {other:?}: use \"text\" or \"json\""));
                false
            }
        };
        LogConfig {
            level: l
                .level
                .as_ref()
                .map_or_else(|| "info".to_string(), |s| s.get_ref().clone()),
            json,
        }
    }

    fn resolve(&mut self, f: &File, path: &Path) -> Config {
        let asn = self.check_asn(&f.server.asn, "server asn");
        let router_id = *f.server.router_id.get_ref();
        if router_id.is_unspecified() || router_id.is_multicast() || router_id.is_broadcast() {
            self.at(
                &f.server.router_id,
                format!("router_id {router_id} is not a usable BGP identifier"),
            );
        }
        let listen: Vec<SocketAddr> = match &f.server.listen {
            Some(l) => {
                let mut seen = HashMap::new();
                for a in l {
                    self.check_port(a, "listen address");
                    if seen.insert(*a.get_ref(), ()).is_some() {
                        self.at(a, format!("listen address {} given twice", a.get_ref()));
                    }
                }
                l.iter().map(|a| *a.get_ref()).collect()
            }
            None => vec![
                SocketAddr::from(([0, 0, 0, 0], BGP_PORT)),
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, BGP_PORT)),
            ],
        };
        let min_hold_time = match &f.server.min_hold_time {
            Some(h) => {
                let v = *h.get_ref();
                if v < 3 {
                    self.at(
                        h,
                        format!("min_hold_time {v} is below the RFC 4271 minimum of 3"),
                    );
                }
                v
            }
            None => 3,
        };
        let server = ServerConfig {
            asn,
            router_id,
            listen,
            min_hold_time,
        };
        let roles = self.roles(f);
        let default_role = f.defaults.role.clone();
        if let Some(r) = &default_role {
            self.role_of(Some(r), &roles);
        }
        let mut names: HashMap<String, ()> = HashMap::new();
        let mut addresses: HashMap<IpAddr, String> = HashMap::new();
        let mut peers = Vec::new();
        let mut merged: Vec<(usize, PeerFields)> = Vec::new();
        for e in &f.peers {
            let name = e.name.get_ref().clone();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                self.at(
                    &e.name,
                    format!("peer name {name:?} must be letters, digits, '-', '_' or '.'"),
                );
            }
            if names.insert(name.clone(), ()).is_some() {
                self.at(&e.name, format!("peer name {name:?} is used twice"));
            }
            let address = *e.address.get_ref();
            let broadcast = matches!(address, IpAddr::V4(a) if a.is_broadcast());
            if address.is_unspecified() || address.is_multicast() || broadcast {
                self.at(
                    &e.address,
                    format!("peer address {address} is not a unicast address"),
                );
            }
            if let Some(other) = addresses.insert(address, name.clone()) {
                self.at(
                    &e.address,
                    format!("address {address} of peer {name:?} is already peer {other:?}'s"),
                );
            }
            let peer_asn = self.check_asn(&e.asn, "peer asn");
            // The peer's own settings, then its role's, then [defaults].
            let role = match &e.role {
                Some(r) => self.role_of(Some(r), &roles),
                None => self.role_of(
                    default_role
                        .as_ref()
                        .filter(|r| roles.contains(r.get_ref())),
                    &roles,
                ),
            };
            let role_fields = roles
                .get(role)
                .and_then(|name| f.roles.iter().find(|(k, _)| k.get_ref() == name))
                .map(|(_, t)| t.get_ref().clone())
                .unwrap_or_default();
            let fields = e.fields().or(&role_fields).or(&f.defaults);
            peers.push(self.peer(e, name, peer_asn, address, &fields));
            merged.push((role, fields));
        }
        let index: HashMap<String, usize> = peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut cache = policy::FileCache::new();
        let peer_policies = merged
            .iter()
            .map(|(role, fields)| {
                self.peer_policy(fields, *role, &roles, &index, &base, &mut cache)
            })
            .collect();
        let (bogon_prefixes, bogon_asns, transit_free_asns, rpki_communities) =
            self.policy_lists(&f.policy);
        let rpki = self.rpki(&f.rpki, &base);
        Config {
            source: path.to_path_buf(),
            server,
            peers,
            policy: PolicyConfig {
                roles,
                bogon_prefixes,
                bogon_asns,
                transit_free_asns,
                rpki_communities,
                peers: peer_policies,
            },
            rpki,
            control: self.control(&f.control, path),
            looking_glass: self.looking_glass(&f.looking_glass),
            log: self.log(&f.log),
            bmp: self.bmp(&f.bmp, &index),
        }
    }

    fn peer(
        &mut self,
        e: &PeerEntry,
        name: String,
        asn: Asn,
        address: IpAddr,
        f: &PeerFields,
    ) -> PeerConfig {
        let hold_time = f
            .hold_time
            .as_ref()
            .map_or(DEFAULT_HOLD_TIME, |h| self.check_hold(h));
        let connect_retry = match &f.connect_retry {
            Some(c) if *c.get_ref() == 0 => {
                self.at(c, "connect_retry must be at least 1 second".into());
                1
            }
            Some(c) => *c.get_ref(),
            None => DEFAULT_CONNECT_RETRY,
        };
        let mut families = FamilySet::EMPTY;
        match &f.families {
            None => families = FamilySet::ALL,
            Some(list) => {
                for s in list {
                    match s.get_ref().as_str() {
                        "ipv4-unicast" => families.insert(Family::Ipv4Unicast),
                        "ipv6-unicast" => families.insert(Family::Ipv6Unicast),
                        other => self.at(
                            s,
                            format!("unknown family {other:?}: use \"ipv4-unicast\" or \"ipv6-unicast\""),
                        ),
                    }
                }
                if list.is_empty() {
                    self.error(
                        Some(e.name.span()),
                        format!("peer {name:?} has no address family"),
                    );
                }
            }
        }
        let add_path = match f.add_path.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "off")) => AddPathMode::Off,
            Some((_, "receive")) => AddPathMode::Receive,
            Some((_, "send")) => AddPathMode::Send,
            Some((_, "both")) => AddPathMode::Both,
            Some((s, other)) => {
                self.at(
                    s,
                    format!("add_path {other:?}: use \"off\", \"receive\", \"send\" or \"both\""),
                );
                AddPathMode::Off
            }
        };
        let role_check = match f.role_check.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "on")) => RoleCheck::On,
            Some((_, "off")) => RoleCheck::Off,
            Some((_, "strict")) => RoleCheck::Strict,
            Some((s, other)) => {
                self.at(
                    s,
                    format!("role_check {other:?}: use \"off\", \"on\" or \"strict\""),
                );
                RoleCheck::On
            }
        };
        let limit = |v: &Option<Spanned<u32>>| v.as_ref().map(|l| *l.get_ref());
        let both = limit(&f.max_prefixes);
        let limits = [
            limit(&f.max_prefixes_ipv4).or(both).filter(|l| *l > 0),
            limit(&f.max_prefixes_ipv6).or(both).filter(|l| *l > 0),
        ];
        let max_prefixes = match limits {
            [None, None] => None,
            limits => {
                let action = match f
                    .max_prefixes_action
                    .as_ref()
                    .map(|s| (s, s.get_ref().as_str()))
                {
                    None | Some((_, "reset")) => MaxPrefixAction::Reset,
                    Some((_, "warn")) => MaxPrefixAction::Warn,
                    Some((_, "restart")) => MaxPrefixAction::Restart(Duration::from_secs(
                        60 * u64::from(f.max_prefixes_restart.unwrap_or(5).max(1)),
                    )),
                    Some((s, other)) => {
                        self.at(s, format!("max_prefixes_action {other:?}: use \"warn\", \"reset\" or \"restart\""));
                        MaxPrefixAction::Reset
                    }
                };
                Some(MaxPrefixes { limits, action })
            }
        };
        let local_address = f.local_address.as_ref().map(|a| {
            if a.get_ref().is_ipv4() != address.is_ipv4() {
                self.at(
                    a,
                    format!(
                        "local_address {} is not of the same family as {address}",
                        a.get_ref()
                    ),
                );
            }
            *a.get_ref()
        });
        let send_hold_time = f.send_hold_time.as_ref().map(|s| {
            if *s.get_ref() < 3 {
                self.at(s, "send_hold_time must be at least 3 seconds".into());
            }
            Duration::from_secs(u64::from(*s.get_ref()))
        });
        let graceful_restart = f.graceful_restart.unwrap_or(true);
        let long_lived_stale_time = self.long_lived(f, graceful_restart);
        PeerConfig {
            name,
            asn,
            address,
            description: e.description.clone(),
            disabled: e.disabled,
            passive: f.passive.unwrap_or(true),
            port: match &f.port {
                Some(p) if *p.get_ref() == 0 => {
                    self.at(p, "port 0 is not a TCP port to connect to".into());
                    BGP_PORT
                }
                Some(p) => *p.get_ref(),
                None => BGP_PORT,
            },
            local_address,
            hold_time,
            connect_retry: Duration::from_secs(u64::from(connect_retry)),
            families,
            add_path,
            add_path_max: f.add_path_max.unwrap_or(0),
            graceful_restart,
            long_lived_stale_time,
            role_check,
            md5_password: f.md5_password.clone().filter(|p| !p.is_empty()),
            ttl_security: f.ttl_security.unwrap_or(false),
            max_prefixes,
            send_hold_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(text, Path::new("test.toml"))
    }

    const BASE: &str = r#"
[server]
asn = 65000
router_id = "192.0.2.1"
listen = ["127.0.0.1:1179"]

[defaults]
hold_time = 30

[[peer]]
name = "s1"
asn = 65001
address = "127.0.0.2"
add_path = "receive"

[[peer]]
name = "m1"
asn = 4200000001
address = "127.0.0.3"
hold_time = 9
passive = false
port = 1790
"#;

    #[test]
    fn resolves_defaults_and_overrides() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.server.asn, Asn(65000));
        assert_eq!(c.peers.len(), 2);
        let s1 = c.peer("s1").unwrap();
        assert_eq!(s1.hold_time, 30);
        assert!(s1.passive);
        assert_eq!(s1.add_path, AddPathMode::Receive);
        assert_eq!(s1.families, FamilySet::ALL);
        let m1 = c.peer("m1").unwrap();
        assert_eq!(m1.hold_time, 9);
        assert!(!m1.passive);
        assert_eq!(m1.port, 1790);
    }

    fn first_error(text: &str) -> ConfigError {
        parse(text).unwrap_err().0.remove(0)
    }

    #[test]
    fn control_socket_is_found_even_in_an_invalid_file() {
        let dir = std::env::temp_dir().join(format!("peerex-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        // Invalid (hold time 2), but the socket is still named.
        let text = format!(
            "{}\n[control]\nsocket = \"ctl.sock\"\n",
            BASE.replace("hold_time = 9", "hold_time = 2")
        );
        std::fs::write(&path, text).unwrap();
        assert!(Config::load(&path).is_err());
        assert_eq!(
            Config::control_socket_of(&path).unwrap(),
            dir.join("ctl.sock")
        );
        std::fs::write(&path, BASE).unwrap();
        assert_eq!(
            Config::control_socket_of(&path).unwrap(),
            PathBuf::from(DEFAULT_CONTROL_SOCKET)
        );
        std::fs::write(&path, "[server\n").unwrap();
        let e = Config::control_socket_of(&path).unwrap_err();
        assert_eq!(e.0[0].line, 1, "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn errors_name_the_line() {
        let e = first_error(&BASE.replace("hold_time = 9", "hold_time = 2"));
        assert_eq!(
            (e.line, e.message.contains("hold time 2")),
            (20, true),
            "{e}"
        );
        let e = first_error(&BASE.replace("address = \"127.0.0.3\"", "address = \"127.0.0.2\""));
        assert_eq!(e.line, 19, "{e}");
        assert!(e.message.contains("already peer \"s1\""), "{e}");
        let e = first_error(&BASE.replace("add_path = \"receive\"", "add_paths = \"receive\""));
        assert_eq!(e.line, 14, "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
        let e = first_error(&BASE.replace("name = \"m1\"", "name = \"s1\""));
        assert_eq!(e.line, 17);
        let e = first_error(&BASE.replace("asn = 65001", "asn = 23456"));
        assert_eq!(e.line, 12);
        assert_eq!(
            e.to_string(),
            "test.toml:12:7: peer asn 23456 is reserved and cannot be used"
        );
    }
}
