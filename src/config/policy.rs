//! The policy half of the configuration: roles and the marketplace (who receives whose
//! routes), import filter settings per peer, the server-wide lists, and the RPKI sources.
//! Everything here is resolved (defaults applied, names turned into indices, prefix files read)
//! and checked; `policy` compiles it into filters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::defaults;
use super::lists::{normalize_asns, parse_prefix_file, AsnRange, PrefixRange};
use super::model::{File, PeerFields, PolicySection, RpkiSection};
use super::{ConfigError, Validator};

/// The built-in roles, in this order (role index 0, 1, 2).
pub const BUILTIN_ROLES: [&str; 3] = ["supplier", "member", "service"];
/// The role of a peer that names none.
pub const DEFAULT_ROLE: &str = "member";

/// A set of peers named in `receive_from` / `send_to`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Every peer.
    All,
    /// Every peer of the role with this index in [`PolicyConfig::roles`].
    Role(usize),
    /// The peer with this index in `Config::peers`.
    Peer(usize),
}

/// What RPKI origin validation does with an invalid route.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RpkiAction {
    /// Reject it (reason RPKI invalid).
    Reject,
    /// Accept it; its RPKI state is kept (and tagged when `rpki_communities` is on).
    Tag,
    /// Do not validate: every route is "not checked".
    Off,
}

/// Shortest and longest prefix accepted for one family.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LengthRange {
    pub min: u8,
    pub max: u8,
}

/// The import checks, each on or off.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImportChecks {
    pub prefixes: bool,
    pub origins: bool,
    pub first_as: bool,
    pub next_hop: bool,
    pub as_set: bool,
    pub bogon_asns: bool,
    pub bogon_prefixes: bool,
    pub transit_free: bool,
}

/// One peer's resolved policy settings (same index as its `PeerConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Index into [`PolicyConfig::roles`].
    pub role: usize,
    /// Peers whose routes it receives (empty: none).
    pub receive_from: Vec<Selector>,
    /// Peers that receive its routes (empty: none).
    pub send_to: Vec<Selector>,
    pub accept_blackholes: bool,
    /// The prefix allow-list, when one is configured (inline entries, then files).
    pub prefixes: Option<Arc<[PrefixRange]>>,
    /// Allowed origin ASNs besides the peer's own, when a list is configured.
    pub origin_asns: Option<Vec<AsnRange>>,
    /// Allowed NEXT_HOP values besides the peer's address.
    pub next_hops: Vec<IpAddr>,
    pub checks: ImportChecks,
    pub max_path_length: u16,
    pub ipv4_lengths: LengthRange,
    pub ipv6_lengths: LengthRange,
    pub rpki: RpkiAction,
    pub allow_blackhole: bool,
    pub graceful_shutdown: bool,
    pub local_pref: u32,
    /// What ASPA verification does with an invalid path (`Off`: not verified).
    pub aspa: RpkiAction,
}

/// Server-wide policy settings and each peer's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Role names: the built-in ones, then those declared with `[role.NAME]`.
    pub roles: Vec<String>,
    pub bogon_prefixes: Arc<[PrefixRange]>,
    /// Sorted, disjoint.
    pub bogon_asns: Vec<AsnRange>,
    /// Sorted, disjoint.
    pub transit_free_asns: Vec<AsnRange>,
    pub rpki_communities: bool,
    /// By peer index.
    pub peers: Vec<PeerPolicy>,
}

impl PolicyConfig {
    pub fn role_index(&self, name: &str) -> Option<usize> {
        self.roles.iter().position(|r| r == name)
    }
}

/// Where VRPs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpkiConfig {
    pub vrp_files: Vec<PathBuf>,
    pub file_refresh: Duration,
    /// RTR caches as "host:port".
    pub rtr: Vec<String>,
    pub rtr_retry: Duration,
}

impl RpkiConfig {
    /// True when no VRP source is configured (every route is "not checked").
    pub fn is_empty(&self) -> bool {
        self.vrp_files.is_empty() && self.rtr.is_empty()
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Prefix files read during one validation, by path, so peers sharing a file share its list.
pub(super) type FileCache = HashMap<PathBuf, Option<Arc<[PrefixRange]>>>;

impl Validator<'_> {
    /// Role names and each declared role's table; errors for bad declarations.
    pub(super) fn roles(&mut self, f: &File) -> Vec<String> {
        let mut roles: Vec<String> = BUILTIN_ROLES.iter().map(|s| s.to_string()).collect();
        for (name, table) in &f.roles {
            if !valid_name(name.get_ref()) {
                self.at(
                    name,
                    format!(
                        "role name {:?} must be letters, digits, '-', '_' or '.'",
                        name.get_ref()
                    ),
                );
            }
            if let Some(r) = &table.get_ref().role {
                self.at(r, "a [role] table cannot set `role`".into());
            }
            if !roles.contains(name.get_ref()) {
                roles.push(name.get_ref().clone());
            }
        }
        roles
    }

    /// The role a `[[peer]]` (or `[defaults]`) names, checked.
    pub(super) fn role_of(&mut self, role: Option<&Spanned<String>>, roles: &[String]) -> usize {
        let Some(r) = role else {
            return roles.iter().position(|x| x == DEFAULT_ROLE).unwrap_or(0);
        };
        match roles.iter().position(|x| x == r.get_ref()) {
            Some(i) => i,
            None => {
                self.at(
                    r,
                    format!(
                        "unknown role {:?}: use {} or declare [role.{}]",
                        r.get_ref(),
                        roles
                            .iter()
                            .map(|x| format!("{x:?}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        r.get_ref()
                    ),
                );
                roles.iter().position(|x| x == DEFAULT_ROLE).unwrap_or(0)
            }
        }
    }

    fn selectors(
        &mut self,
        list: &[Spanned<String>],
        what: &str,
        roles: &[String],
        peers: &HashMap<String, usize>,
    ) -> Vec<Selector> {
        let mut out = Vec::new();
        for s in list {
            let v = s.get_ref().as_str();
            match v {
                "all" => out.push(Selector::All),
                "none" => {
                    if list.len() > 1 {
                        self.at(
                            s,
                            format!("{what}: \"none\" cannot be combined with others"),
                        );
                    }
                }
                _ => {
                    if let Some(role) = v.strip_prefix("role:") {
                        match roles.iter().position(|r| r == role) {
                            Some(i) => out.push(Selector::Role(i)),
                            None => self.at(s, format!("{what}: unknown role {role:?}")),
                        }
                    } else {
                        match peers.get(v) {
                            Some(i) => out.push(Selector::Peer(*i)),
                            None => self.at(
                                s,
                                format!(
                                    "{what}: unknown peer {v:?} (use a peer name, \"all\", \"none\" or \"role:NAME\")"
                                ),
                            ),
                        }
                    }
                }
            }
        }
        out
    }

    fn asn_list(&mut self, list: &[Spanned<toml::Value>], what: &str) -> Vec<AsnRange> {
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            let r = match v.get_ref() {
                toml::Value::Integer(n) => u32::try_from(*n)
                    .map(AsnRange::one)
                    .map_err(|_| format!("{what}: {n} is not an AS number")),
                toml::Value::String(s) => s.parse::<AsnRange>().map_err(|e| format!("{what}: {e}")),
                other => Err(format!(
                    "{what}: expected an AS number or a string, found {}",
                    other.type_str()
                )),
            };
            match r {
                Ok(r) => out.push(r),
                Err(m) => self.at(v, m),
            }
        }
        normalize_asns(out)
    }

    fn prefix_entries(
        &mut self,
        list: &[Spanned<String>],
        what: &str,
        cover: bool,
    ) -> Vec<PrefixRange> {
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            match PrefixRange::parse(s.get_ref()) {
                Ok(r) => {
                    let plain = !s.get_ref().contains(['{', '^'])
                        && s.get_ref().split_ascii_whitespace().count() == 1;
                    out.push(if cover && plain {
                        PrefixRange::or_longer(r.prefix)
                    } else {
                        r
                    });
                }
                Err(e) => {
                    // Point at the entry's character inside the string (after the quote).
                    let span = s.span();
                    let at = span.start + 1 + e.column.saturating_sub(1);
                    self.error(Some(at..at), format!("{what}: {}", e.message));
                }
            }
        }
        out
    }

    fn prefix_file(
        &mut self,
        name: &Spanned<String>,
        base: &Path,
        cache: &mut FileCache,
    ) -> Option<Arc<[PrefixRange]>> {
        let path = base.join(name.get_ref());
        if let Some(hit) = cache.get(&path) {
            return hit.clone();
        }
        let result = match std::fs::read_to_string(&path) {
            Err(e) => {
                self.at(
                    name,
                    format!("cannot read prefix file {}: {e}", path.display()),
                );
                None
            }
            Ok(text) => match parse_prefix_file(&text) {
                Ok(v) => Some(Arc::from(v)),
                Err(errs) => {
                    for e in errs {
                        self.errors.push(ConfigError {
                            file: path.display().to_string(),
                            line: e.line,
                            column: e.column,
                            message: e.message,
                        });
                    }
                    None
                }
            },
        };
        cache.insert(path, result.clone());
        result
    }

    fn length(&mut self, v: Option<&Spanned<u8>>, default: u8, family_max: u8, what: &str) -> u8 {
        match v {
            None => default,
            Some(s) if *s.get_ref() > family_max => {
                self.at(s, format!("{what} {} is above {family_max}", s.get_ref()));
                default
            }
            Some(s) => *s.get_ref(),
        }
    }

    fn lengths(
        &mut self,
        min: Option<&Spanned<u8>>,
        max: Option<&Spanned<u8>>,
        default: (u8, u8),
        family_max: u8,
        family: &str,
    ) -> LengthRange {
        let lo = self.length(min, default.0, family_max, &format!("{family}_min_length"));
        let hi = self.length(max, default.1, family_max, &format!("{family}_max_length"));
        if lo > hi {
            if let Some(s) = max.or(min) {
                self.at(
                    s,
                    format!("{family}_min_length {lo} is above {family}_max_length {hi}"),
                );
            }
        }
        LengthRange { min: lo, max: hi }
    }

    /// One peer's policy from its merged fields (peer, then role, then `[defaults]`).
    pub(super) fn peer_policy(
        &mut self,
        f: &PeerFields,
        role: usize,
        roles: &[String],
        peers: &HashMap<String, usize>,
        base: &Path,
        cache: &mut FileCache,
    ) -> PeerPolicy {
        let receive_from = match &f.receive_from {
            Some(l) => self.selectors(l, "receive_from", roles, peers),
            // Suppliers do not take each other's routes; everyone else takes all.
            None if roles.get(role).map(String::as_str) == Some("supplier") => roles
                .iter()
                .enumerate()
                .filter(|(_, r)| *r == "member" || *r == "service")
                .map(|(i, _)| Selector::Role(i))
                .collect(),
            None => vec![Selector::All],
        };
        let send_to = match &f.send_to {
            Some(l) => self.selectors(l, "send_to", roles, peers),
            None => vec![Selector::All],
        };
        let mut list: Option<Vec<PrefixRange>> = None;
        let mut single_file: Option<Arc<[PrefixRange]>> = None;
        if let Some(inline) = &f.prefixes {
            list = Some(self.prefix_entries(inline, "prefixes", false));
        }
        if let Some(files) = &f.prefix_files {
            for name in files {
                let Some(v) = self.prefix_file(name, base, cache) else {
                    continue;
                };
                if list.is_none() && single_file.is_none() && files.len() == 1 {
                    single_file = Some(v);
                } else {
                    list.get_or_insert_with(Vec::new).extend_from_slice(&v);
                }
            }
            if list.is_none() && single_file.is_none() {
                list = Some(Vec::new());
            }
        }
        let prefixes = single_file.or_else(|| list.map(Arc::from));
        let origin_asns = f
            .origin_asns
            .as_ref()
            .map(|l| self.asn_list(l, "origin_asns"));
        let max_path_length = match &f.max_path_length {
            Some(s) if *s.get_ref() == 0 => {
                self.at(s, "max_path_length must be at least 1".into());
                defaults::MAX_PATH_LENGTH
            }
            Some(s) => *s.get_ref(),
            None => defaults::MAX_PATH_LENGTH,
        };
        let rpki = match f.rpki.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "reject")) => RpkiAction::Reject,
            Some((_, "tag")) => RpkiAction::Tag,
            Some((_, "off")) => RpkiAction::Off,
            Some((s, other)) => {
                self.at(
                    s,
                    format!("rpki {other:?}: use \"reject\", \"tag\" or \"off\""),
                );
                RpkiAction::Reject
            }
        };
        let aspa = match f.aspa.as_ref().map(|s| (s, s.get_ref().as_str())) {
            None | Some((_, "off")) => RpkiAction::Off,
            Some((_, "reject")) => RpkiAction::Reject,
            Some((_, "tag")) => RpkiAction::Tag,
            Some((s, other)) => {
                self.at(
                    s,
                    format!("aspa {other:?}: use \"reject\", \"tag\" or \"off\""),
                );
                RpkiAction::Off
            }
        };
        let ipv4_lengths = self.lengths(
            f.ipv4_min_length.as_ref(),
            f.ipv4_max_length.as_ref(),
            defaults::IPV4_LENGTHS,
            32,
            "ipv4",
        );
        let ipv6_lengths = self.lengths(
            f.ipv6_min_length.as_ref(),
            f.ipv6_max_length.as_ref(),
            defaults::IPV6_LENGTHS,
            128,
            "ipv6",
        );
        PeerPolicy {
            role,
            receive_from,
            send_to,
            accept_blackholes: f.accept_blackholes.unwrap_or(true),
            prefixes,
            origin_asns,
            next_hops: f.next_hops.iter().flatten().map(|a| *a.get_ref()).collect(),
            checks: ImportChecks {
                prefixes: f.check_prefixes.unwrap_or(true),
                origins: f.check_origins.unwrap_or(true),
                first_as: f.check_first_as.unwrap_or(true),
                next_hop: f.check_next_hop.unwrap_or(true),
                as_set: f.reject_as_set.unwrap_or(true),
                bogon_asns: f.reject_bogon_asns.unwrap_or(true),
                bogon_prefixes: f.reject_bogon_prefixes.unwrap_or(true),
                transit_free: f.reject_transit_free.unwrap_or(true),
            },
            max_path_length,
            ipv4_lengths,
            ipv6_lengths,
            rpki,
            allow_blackhole: f.allow_blackhole.unwrap_or(false),
            graceful_shutdown: f.graceful_shutdown.unwrap_or(true),
            local_pref: f.local_pref.unwrap_or(defaults::LOCAL_PREF),
            aspa,
        }
    }

    /// The server-wide part of `[policy]`.
    pub(super) fn policy_lists(
        &mut self,
        p: &PolicySection,
    ) -> (Arc<[PrefixRange]>, Vec<AsnRange>, Vec<AsnRange>, bool) {
        let bogon_prefixes: Arc<[PrefixRange]> = match &p.bogon_prefixes {
            Some(l) => Arc::from(self.prefix_entries(l, "bogon_prefixes", true)),
            None => Arc::from(defaults::bogon_prefixes()),
        };
        let bogon_asns = match &p.bogon_asns {
            Some(l) => self.asn_list(l, "bogon_asns"),
            None => defaults::BOGON_ASNS.to_vec(),
        };
        let transit_free = match &p.transit_free_asns {
            Some(l) => self.asn_list(l, "transit_free_asns"),
            None => normalize_asns(
                defaults::TRANSIT_FREE_ASNS
                    .iter()
                    .map(|a| AsnRange::one(*a))
                    .collect(),
            ),
        };
        (
            bogon_prefixes,
            bogon_asns,
            transit_free,
            p.rpki_communities.unwrap_or(false),
        )
    }

    pub(super) fn rpki(&mut self, r: &RpkiSection, base: &Path) -> RpkiConfig {
        let secs = |v: &Option<Spanned<u32>>, default: u32, this: &mut Self, what: &str| match v {
            Some(s) if *s.get_ref() == 0 => {
                this.at(s, format!("{what} must be at least 1 second"));
                Duration::from_secs(u64::from(default))
            }
            Some(s) => Duration::from_secs(u64::from(*s.get_ref())),
            None => Duration::from_secs(u64::from(default)),
        };
        let file_refresh = secs(&r.file_refresh, 60, self, "file_refresh");
        let rtr_retry = secs(&r.rtr_retry, 30, self, "rtr_retry");
        for a in &r.rtr {
            let ok = a
                .get_ref()
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                self.at(
                    a,
                    format!("rtr cache {:?} must be \"host:port\"", a.get_ref()),
                );
            }
        }
        RpkiConfig {
            vrp_files: r.vrp_files.iter().map(|p| base.join(p.get_ref())).collect(),
            file_refresh,
            rtr: r.rtr.iter().map(|s| s.get_ref().clone()).collect(),
            rtr_retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigErrors};

    const HEAD: &str = r#"
[server]
asn = 64500
router_id = "192.0.2.1"

[[peer]]
name = "s1"
asn = 101
address = "192.0.2.2"
role = "supplier"

[[peer]]
name = "m1"
asn = 201
address = "192.0.2.3"
"#;

    fn parse_at(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        Config::parse(text, path)
    }

    fn first_error(extra: &str) -> ConfigError {
        let text = format!("{HEAD}{extra}");
        parse_at(&text, Path::new("t.toml"))
            .unwrap_err()
            .0
            .remove(0)
    }

    #[test]
    fn defaults_resolve() {
        let c = parse_at(HEAD, Path::new("t.toml")).unwrap();
        let pc = &c.policy;
        assert_eq!(pc.roles, ["supplier", "member", "service"]);
        assert_eq!(pc.peers.len(), 2);
        let (s1, m1) = (&pc.peers[0], &pc.peers[1]);
        assert_eq!(s1.role, 0);
        assert_eq!(m1.role, 1);
        assert_eq!(s1.receive_from, [Selector::Role(1), Selector::Role(2)]);
        assert_eq!(m1.receive_from, [Selector::All]);
        assert_eq!(m1.send_to, [Selector::All]);
        assert_eq!(m1.max_path_length, 64);
        assert_eq!((m1.ipv4_lengths.min, m1.ipv4_lengths.max), (8, 24));
        assert_eq!((m1.ipv6_lengths.min, m1.ipv6_lengths.max), (12, 48));
        assert_eq!(m1.rpki, RpkiAction::Reject);
        assert_eq!(m1.aspa, RpkiAction::Off);
        assert!(m1.prefixes.is_none() && m1.origin_asns.is_none());
        assert!(m1.checks.first_as && m1.checks.next_hop && m1.checks.transit_free);
        assert!(!m1.allow_blackhole && m1.accept_blackholes && m1.graceful_shutdown);
        assert_eq!(pc.transit_free_asns.len(), 14);
        assert!(!pc.rpki_communities);
        assert!(c.rpki.is_empty());
    }

    #[test]
    fn selectors_name_known_peers_and_roles() {
        let e = first_error("receive_from = [\"s1\", \"nobody\"]\n");
        assert_eq!((e.line, e.column), (16, 23), "{e}");
        assert!(e.message.contains("unknown peer \"nobody\""), "{e}");
        let e = first_error("send_to = [\"role:transit\"]\n");
        assert_eq!((e.line, e.column), (16, 12), "{e}");
        assert!(e.message.contains("unknown role \"transit\""), "{e}");
        let e = first_error("send_to = [\"none\", \"s1\"]\n");
        assert!(e.message.contains("cannot be combined"), "{e}");
        let e = first_error("role = \"transit\"\n");
        assert_eq!((e.line, e.column), (16, 8), "{e}");
        let e = first_error("\n[role.transit]\nrole = \"member\"\n");
        assert!(e.message.contains("cannot set `role`"), "{e}");
        let c = parse_at(
            &format!("{HEAD}role = \"transit\"\nreceive_from = [\"none\"]\n[role.transit]\nsend_to = [\"m1\"]\n"),
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.policy.roles[3], "transit");
        let m1 = &c.policy.peers[1];
        assert_eq!(m1.role, 3);
        assert!(m1.receive_from.is_empty());
        assert_eq!(m1.send_to, [Selector::Peer(1)]);
    }

    #[test]
    fn value_errors_have_positions() {
        let e = first_error("rpki = \"drop\"\n");
        assert_eq!((e.line, e.column), (16, 8));
        let e = first_error("aspa = \"drop\"\n");
        assert_eq!((e.line, e.column), (16, 8));
        assert!(e.message.contains("aspa \"drop\""), "{e}");
        let c = parse_at(&format!("{HEAD}aspa = \"tag\"\n"), Path::new("t.toml")).unwrap();
        assert_eq!(c.policy.peers[1].aspa, RpkiAction::Tag);
        let e = first_error("ipv4_max_length = 33\n");
        assert!(e.message.contains("above 32"), "{e}");
        let e = first_error("ipv6_min_length = 64\n");
        assert!(e.message.contains("above ipv6_max_length"), "{e}");
        let e = first_error("max_path_length = 0\n");
        assert_eq!(e.line, 16);
        let e = first_error("origin_asns = [1, \"AS2x\"]\n");
        assert_eq!((e.line, e.column), (16, 19), "{e}");
        let e = first_error("origin_asns = [-1]\n");
        assert!(e.message.contains("not an AS number"), "{e}");
        let e = first_error("prefixes = [\"10.0.0.0/8 le 40\"]\n");
        assert_eq!((e.line, e.column), (16, 28), "{e}");
        let e = first_error("\n[policy]\nbogon_prefixes = [\"10.0.0.1/8\"]\n");
        assert_eq!((e.line, e.column), (18, 20), "{e}");
        let e = first_error("\n[policy]\nbogons = []\n");
        assert!(e.message.contains("unknown field"), "{e}");
        let e = first_error("\n[rpki]\nrtr = [\"localhost\"]\n");
        assert!(e.message.contains("host:port"), "{e}");
        let e = first_error("\n[rpki]\nfile_refresh = 0\n");
        assert!(e.message.contains("at least 1 second"), "{e}");
    }

    #[test]
    fn prefix_files_are_read_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("peerex-cfg-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lists")).unwrap();
        std::fs::write(
            dir.join("lists/s1.txt"),
            "# s1\n10.1.0.0/16 le 24\n\n2001:db8::/32{32,48}   # v6\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("lists/bad.txt"),
            "10.1.0.0/16\n\n  10.2.0.0/16 le 8\n",
        )
        .unwrap();
        let cfg_path = dir.join("peerex.toml");
        let text = format!(
            "{HEAD}prefix_files = [\"lists/s1.txt\"]\nprefixes = [\"192.0.2.0/24\"]\n\n[defaults]\nprefix_files = [\"lists/s1.txt\"]\n"
        );
        let c = parse_at(&text, &cfg_path).unwrap();
        let s1 = c.policy.peers[0].prefixes.as_ref().unwrap();
        let m1 = c.policy.peers[1].prefixes.as_ref().unwrap();
        assert_eq!(s1.len(), 2);
        assert_eq!(m1.len(), 3, "inline entries and the file");
        assert_eq!(m1[0].to_string(), "192.0.2.0/24");
        assert_eq!(m1[1].to_string(), "10.1.0.0/16{16,24}");
        let text = format!("{HEAD}prefix_files = [\"lists/bad.txt\"]\n");
        let e = parse_at(&text, &cfg_path).unwrap_err().0.remove(0);
        assert!(e.file.ends_with("lists/bad.txt"), "{e}");
        assert_eq!((e.line, e.column), (3, 15), "{e}");
        let text = format!("{HEAD}prefix_files = [\"lists/missing.txt\"]\n");
        let e = parse_at(&text, &cfg_path).unwrap_err().0.remove(0);
        assert_eq!((e.line, e.column), (16, 17), "{e}");
        assert!(e.message.contains("cannot read prefix file"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rpki_sources() {
        let text = format!(
            "{HEAD}\n[rpki]\nvrp_files = [\"vrps.json\"]\nrtr = [\"127.0.0.1:8282\", \"[::1]:323\"]\nrtr_retry = 5\n\n[policy]\nrpki_communities = true\n"
        );
        let c = parse_at(&text, Path::new("/etc/peerex/peerex.toml")).unwrap();
        assert_eq!(c.rpki.vrp_files, [PathBuf::from("/etc/peerex/vrps.json")]);
        assert_eq!(c.rpki.rtr.len(), 2);
        assert_eq!(c.rpki.rtr_retry, Duration::from_secs(5));
        assert_eq!(c.rpki.file_refresh, Duration::from_secs(60));
        assert!(c.policy.rpki_communities);
    }
}
