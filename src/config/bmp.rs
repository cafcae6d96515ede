//! `[[bmp]]`: the BMP collectors (RFC 7854) peerex sends to, resolved into [`BmpConfig`] and
//! checked with their positions: name, address and port, views, monitored peers, timers.
//! Never: connecting to a collector or deciding what is sent (that is `crate::bmp`), and never
//! anything that touches a BGP session (a `[[bmp]]` change resets no peer).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use toml::Spanned;

use super::model::BmpEntry;
use super::Validator;

/// Which BMP views a collector receives.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BmpViews {
    /// Adj-RIB-In pre-policy: every path a monitored peer sent, accepted or not.
    pub pre_policy: bool,
    /// Adj-RIB-In post-policy: the paths accepted from a monitored peer.
    pub post_policy: bool,
    /// Loc-RIB (RFC 9069): the best path of each prefix.
    pub loc_rib: bool,
    /// Adj-RIB-Out post-policy (RFC 8671): what each monitored client is sent.
    pub adj_rib_out: bool,
}

/// One BMP collector, resolved (defaults applied).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BmpConfig {
    /// Unique among the collectors; `"<address>:<port>"` (`SocketAddr` display) unless given.
    pub name: String,
    pub address: SocketAddr,
    pub views: BmpViews,
    /// The `[[peer]]` names monitored (each names a configured peer); `None` = all peers.
    pub peers: Option<Vec<String>>,
    /// Time between Statistics Reports; `Duration::ZERO` = none.
    pub stats_interval: Duration,
    /// A write that makes no progress for this long drops the collector (it resyncs when it
    /// reconnects).
    pub stall_limit: Duration,
    /// The first reconnect delay (doubling up to 60 times it).
    pub retry: Duration,
}

/// The views when `views` is not given.
const DEFAULT_VIEWS: BmpViews = BmpViews {
    pre_policy: true,
    post_policy: true,
    loc_rib: false,
    adj_rib_out: false,
};
const VIEWS_HELP: &str = "use \"pre-policy\", \"post-policy\", \"loc-rib\" or \"adj-rib-out\"";
const STATS_INTERVAL: RangeInclusive<u64> = 0..=86_400;
const DEFAULT_STATS_INTERVAL: u64 = 60;
const STALL_LIMIT: RangeInclusive<u64> = 1..=3600;
const DEFAULT_STALL_LIMIT: u64 = 30;
const RETRY: RangeInclusive<u64> = 1..=3600;
const DEFAULT_RETRY: u64 = 5;

impl Validator<'_> {
    /// Every `[[bmp]]` table; `peers` are the configured peers' names.
    pub(super) fn bmp(
        &mut self,
        entries: &[BmpEntry],
        peers: &HashMap<String, usize>,
    ) -> Vec<BmpConfig> {
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for e in entries {
            let c = self.collector(e, peers);
            if !names.insert(c.name.clone()) {
                match &e.name {
                    Some(n) => self.at(n, format!("BMP collector name {:?} is used twice", c.name)),
                    None => self.at(
                        &e.address,
                        format!(
                            "BMP collector name {:?} (the default, address:port) is used twice: \
                             give each collector a distinct `name`",
                            c.name
                        ),
                    ),
                }
            }
            out.push(c);
        }
        out
    }

    fn collector(&mut self, e: &BmpEntry, peers: &HashMap<String, usize>) -> BmpConfig {
        let ip = *e.address.get_ref();
        let broadcast = matches!(ip, IpAddr::V4(a) if a.is_broadcast());
        if ip.is_unspecified() || ip.is_multicast() || broadcast {
            self.at(
                &e.address,
                format!("BMP collector address {ip} is not a unicast address"),
            );
        }
        let port = *e.port.get_ref();
        if port == 0 {
            self.at(&e.port, "port 0 is not a TCP port to connect to".into());
        }
        let address = SocketAddr::new(ip, port);
        let name = match &e.name {
            Some(n) => {
                if n.get_ref().is_empty() {
                    self.at(n, "BMP collector name is empty".into());
                }
                n.get_ref().clone()
            }
            None => address.to_string(),
        };
        let views = self.bmp_views(e.views.as_ref());
        let peers = self.bmp_peers(e.peers.as_ref(), &views, peers);
        BmpConfig {
            name,
            address,
            views,
            peers,
            stats_interval: self.bmp_secs(
                e.stats_interval.as_ref(),
                "stats_interval",
                STATS_INTERVAL,
                DEFAULT_STATS_INTERVAL,
            ),
            stall_limit: self.bmp_secs(
                e.stall_limit.as_ref(),
                "stall_limit",
                STALL_LIMIT,
                DEFAULT_STALL_LIMIT,
            ),
            retry: self.bmp_secs(e.retry.as_ref(), "retry", RETRY, DEFAULT_RETRY),
        }
    }

    /// `views`: non-empty, known names, none twice.
    fn bmp_views(&mut self, list: Option<&Spanned<Vec<Spanned<String>>>>) -> BmpViews {
        let Some(list) = list else {
            return DEFAULT_VIEWS;
        };
        if list.get_ref().is_empty() {
            self.at(list, format!("views is empty: {VIEWS_HELP}"));
            return DEFAULT_VIEWS;
        }
        let mut views = BmpViews {
            pre_policy: false,
            post_policy: false,
            loc_rib: false,
            adj_rib_out: false,
        };
        for s in list.get_ref() {
            let on = match s.get_ref().as_str() {
                "pre-policy" => &mut views.pre_policy,
                "post-policy" => &mut views.post_policy,
                "loc-rib" => &mut views.loc_rib,
                "adj-rib-out" => &mut views.adj_rib_out,
                other => {
                    self.at(s, format!("unknown BMP view {other:?}: {VIEWS_HELP}"));
                    continue;
                }
            };
            if *on {
                self.at(s, format!("BMP view {:?} is given twice", s.get_ref()));
            }
            *on = true;
        }
        views
    }

    /// `peers`: configured peer names, none twice; an empty list only with the Loc-RIB view
    /// (without it the collector would receive nothing).
    fn bmp_peers(
        &mut self,
        list: Option<&Spanned<Vec<Spanned<String>>>>,
        views: &BmpViews,
        known: &HashMap<String, usize>,
    ) -> Option<Vec<String>> {
        let list = list?;
        let mut seen = HashSet::new();
        for s in list.get_ref() {
            let name = s.get_ref().as_str();
            if !known.contains_key(name) {
                self.at(
                    s,
                    format!("peers: unknown peer {name:?} (use names of [[peer]] tables)"),
                );
            } else if !seen.insert(name) {
                self.at(s, format!("peers: peer {name:?} is given twice"));
            }
        }
        if list.get_ref().is_empty() && !views.loc_rib {
            self.at(
                list,
                "peers is empty and views has no \"loc-rib\": this collector would receive \
                 nothing"
                    .into(),
            );
        }
        Some(list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
    }

    /// A number of seconds within `range`, or `default` when not given.
    fn bmp_secs(
        &mut self,
        v: Option<&Spanned<u64>>,
        key: &str,
        range: RangeInclusive<u64>,
        default: u64,
    ) -> Duration {
        let secs = match v {
            Some(s) if !range.contains(s.get_ref()) => {
                self.at(
                    s,
                    format!("{key} must be {} to {} seconds", range.start(), range.end()),
                );
                default
            }
            Some(s) => *s.get_ref(),
            None => default,
        };
        Duration::from_secs(secs)
    }
}

/// What differs between two `[[bmp]]` lists, by collector name: `"<name> (added)"`,
/// `"<name> (removed)"` or `"<name> (changed)"` (a changed collector is restarted).
pub fn changed_collectors(old: &[BmpConfig], new: &[BmpConfig]) -> Vec<String> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.name == n.name) {
            None => out.push(format!("{} (added)", n.name)),
            Some(o) if o != n => out.push(format!("{} (changed)", n.name)),
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|n| n.name == o.name) {
            out.push(format!("{} (removed)", o.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{BmpConfig, BmpViews, Config, ConfigError};

    use super::*;

    /// Lines 2–14; `[[bmp]]` tables start on line 16.
    const HEAD: &str = r#"
[server]
asn = 64500
router_id = "192.0.2.1"

[[peer]]
name = "bird-a"
asn = 64501
address = "192.0.2.11"

[[peer]]
name = "gobgp-b"
asn = 64502
address = "192.0.2.12"
"#;

    fn parse(extra: &str) -> Result<Config, crate::config::ConfigErrors> {
        Config::parse(&format!("{HEAD}{extra}"), Path::new("t.toml"))
    }

    fn collectors(extra: &str) -> Vec<BmpConfig> {
        parse(extra).unwrap().bmp
    }

    /// The only error of `extra`, as `(line, column, message)`.
    fn error(extra: &str) -> (usize, usize, String) {
        let mut e = parse(extra).unwrap_err().0;
        assert_eq!(e.len(), 1, "{e:?}");
        let ConfigError {
            line,
            column,
            message,
            ..
        } = e.remove(0);
        (line, column, message)
    }

    #[test]
    fn a_full_table_resolves() {
        let c = collectors(
            r#"
[[bmp]]
name = "pmacct"
address = "127.0.0.1"
port = 1790
views = ["pre-policy", "post-policy", "loc-rib", "adj-rib-out"]
peers = ["bird-a", "gobgp-b"]
stats_interval = 0
stall_limit = 3600
retry = 1
"#,
        );
        assert_eq!(
            c,
            [BmpConfig {
                name: "pmacct".into(),
                address: "127.0.0.1:1790".parse().unwrap(),
                views: BmpViews {
                    pre_policy: true,
                    post_policy: true,
                    loc_rib: true,
                    adj_rib_out: true,
                },
                peers: Some(vec!["bird-a".into(), "gobgp-b".into()]),
                stats_interval: Duration::ZERO,
                stall_limit: Duration::from_secs(3600),
                retry: Duration::from_secs(1),
            }]
        );
    }

    #[test]
    fn defaults_and_several_collectors() {
        assert!(parse("").unwrap().bmp.is_empty());
        let c = collectors(
            "\n[[bmp]]\naddress = \"::1\"\nport = 1790\n\n[[bmp]]\naddress = \"192.0.2.50\"\nport = 11019\nviews = [\"loc-rib\"]\npeers = []\nstats_interval = 86400\n",
        );
        assert_eq!(
            c[0],
            BmpConfig {
                name: "[::1]:1790".into(),
                address: "[::1]:1790".parse().unwrap(),
                views: BmpViews {
                    pre_policy: true,
                    post_policy: true,
                    loc_rib: false,
                    adj_rib_out: false,
                },
                peers: None,
                stats_interval: Duration::from_secs(60),
                stall_limit: Duration::from_secs(30),
                retry: Duration::from_secs(5),
            }
        );
        assert_eq!(c[1].name, "192.0.2.50:11019");
        assert_eq!(
            c[1].views,
            BmpViews {
                pre_policy: false,
                post_policy: false,
                loc_rib: true,
                adj_rib_out: false,
            }
        );
        assert_eq!(c[1].peers, Some(vec![]));
        assert_eq!(c[1].stats_interval, Duration::from_secs(86_400));
    }

    const ONE: &str = "\n[[bmp]]\naddress = \"127.0.0.1\"\nport = 1790\n";

    /// Errors found while resolving, each at its line and column.
    #[test]
    fn errors_name_the_place() {
        let cases: [(&str, usize, usize, &str); 14] = [
            (
                "views = [\"pre-policy\", \"pre_policy\"]\n",
                19,
                24,
                "unknown BMP view \"pre_policy\": use \"pre-policy\"",
            ),
            ("views = []\n", 19, 9, "views is empty"),
            (
                "views = [\"loc-rib\", \"loc-rib\"]\n",
                19,
                21,
                "BMP view \"loc-rib\" is given twice",
            ),
            (
                "peers = [\"bird-a\", \"bird-c\"]\n",
                19,
                20,
                "peers: unknown peer \"bird-c\"",
            ),
            (
                "peers = [\"bird-a\", \"bird-a\"]\n",
                19,
                20,
                "peers: peer \"bird-a\" is given twice",
            ),
            ("peers = []\n", 19, 9, "would receive nothing"),
            (
                "stats_interval = 86401\n",
                19,
                18,
                "stats_interval must be 0 to 86400 seconds",
            ),
            (
                "stall_limit = 0\n",
                19,
                15,
                "stall_limit must be 1 to 3600 seconds",
            ),
            (
                "stall_limit = 3601\n",
                19,
                15,
                "stall_limit must be 1 to 3600",
            ),
            ("retry = 0\n", 19, 9, "retry must be 1 to 3600 seconds"),
            ("retry = 3601\n", 19, 9, "retry must be 1 to 3600 seconds"),
            ("name = \"\"\n", 19, 8, "BMP collector name is empty"),
            (
                "[[bmp]]\naddress = \"127.0.0.1\"\nport = 1790\n",
                20,
                11,
                "BMP collector name \"127.0.0.1:1790\" (the default, address:port) is used twice",
            ),
            (
                "name = \"x\"\n[[bmp]]\nname = \"x\"\naddress = \"127.0.0.2\"\nport = 1790\n",
                21,
                8,
                "BMP collector name \"x\" is used twice",
            ),
        ];
        for (extra, line, column, fragment) in cases {
            let (l, c, m) = error(&format!("{ONE}{extra}"));
            assert_eq!((l, c), (line, column), "{extra}: {m}");
            assert!(m.contains(fragment), "{extra}: {m}");
        }
        let (l, c, m) = error(&ONE.replace("1790", "0"));
        assert_eq!((l, c), (18, 8), "{m}");
        assert_eq!(m, "port 0 is not a TCP port to connect to");
        let (l, c, m) = error(&ONE.replace("127.0.0.1", "224.0.0.1"));
        assert_eq!((l, c), (17, 11), "{m}");
        assert!(m.contains("not a unicast address"), "{m}");
        // An explicit name may not take another collector's default one either.
        let (l, c, m) = error(&format!(
            "{ONE}\n[[bmp]]\nname = \"127.0.0.1:1790\"\naddress = \"::1\"\nport = 1790\n"
        ));
        assert_eq!((l, c), (21, 8), "{m}");
    }

    /// Errors the TOML schema finds (unknown keys, wrong types, numbers that do not fit): the
    /// first one is reported, at its place.
    #[test]
    fn schema_errors_name_the_place() {
        let port = ONE.replace("port = 1790", "port = 70000");
        let cases: [(&str, usize, usize, &str); 5] = [
            (&format!("{ONE}stats = 5\n"), 19, 1, "unknown field `stats`"),
            (&port, 18, 8, "70000"),
            (&format!("{ONE}retry = -1\n"), 19, 9, "-1"),
            (
                &format!("{ONE}views = \"loc-rib\"\n"),
                19,
                9,
                "expected a sequence",
            ),
            (&format!("{ONE}peers = [1]\n"), 19, 10, "expected a string"),
        ];
        for (text, line, column, fragment) in cases {
            let (l, c, m) = error(text);
            assert_eq!((l, c), (line, column), "{text}: {m}");
            assert!(m.contains(fragment), "{text}: {m}");
        }
        let (l, c, m) = error("\n[[bmp]]\nport = 1790\n");
        assert_eq!((l, c), (16, 1), "{m}");
        assert!(m.contains("missing field `address`"), "{m}");
        let (l, _, m) = error("\n[[bmp]]\naddress = \"127.0.0.1:1790\"\nport = 1790\n");
        assert_eq!(l, 17, "{m}");
    }
}
