//! What changed between the running configuration and a new one, peer by peer. Pure: the
//! reload applies the result (src/reload.rs).
//!
//! Peers are matched by name. A peer whose session settings changed (anything the OPEN
//! exchange, the connection or the session task uses) must reset; one whose policy alone
//! changed keeps its session and is re-filtered; `disabled` flips become enable / disable
//! commands and a new description is only shown. A `[[bmp]]` change is reported on its own
//! (`bmp_changed`) and touches no peer: BMP collectors are not BGP sessions.

use serde::Serialize;

use super::{Config, PeerConfig, PeerPolicy, Selector};

/// One peer that must reset, and which of its settings changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResetPeer {
    pub peer: String,
    pub changed: Vec<String>,
}

/// The difference between two configurations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    /// Peers only in the new configuration: their sessions start.
    pub added: Vec<String>,
    /// Peers only in the old one: Cease / Peer De-configured, their routes withdrawn.
    pub removed: Vec<String>,
    /// Peers whose session settings changed: Cease / Other Configuration Change, restarted.
    pub reset: Vec<ResetPeer>,
    /// Peers whose own policy changed (and nothing that needs a reset): the session stays.
    pub policy: Vec<String>,
    /// Server-wide policy settings that changed (`[policy]`, roles): every peer's
    /// policy is rebuilt.
    pub policy_server_wide: Vec<String>,
    /// Peers turned `disabled = false` / `true`: enabled / shut down, nothing else changed.
    pub enabled: Vec<String>,
    pub disabled: Vec<String>,
    /// Peers with only a new description.
    pub described: Vec<String>,
    /// Settings that changed but that reload does not apply (a restart does).
    pub not_applied: Vec<String>,
    /// The `[[bmp]]` collectors changed (added, removed or any of their settings). No peer is
    /// listed anywhere above because of it.
    pub bmp_changed: bool,
}

impl ConfigDiff {
    /// True when nothing at all changed.
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }

    /// True when `peer` is named anywhere in the difference.
    pub fn touches(&self, peer: &str) -> bool {
        let lists = [
            &self.added,
            &self.removed,
            &self.policy,
            &self.enabled,
            &self.disabled,
            &self.described,
        ];
        lists.iter().any(|l| l.iter().any(|n| n == peer))
            || self.reset.iter().any(|r| r.peer == peer)
    }

    /// True when the RIB's policy must be rebuilt: a policy changed, or the set of peers or
    /// their ids did (export rules are per peer).
    pub fn policy_rebuild(&self) -> bool {
        !(self.added.is_empty()
            && self.removed.is_empty()
            && self.reset.is_empty()
            && self.policy.is_empty()
            && self.policy_server_wide.is_empty())
    }
}

/// The session settings of a peer that differ between `a` and `b` (name, description and
/// `disabled` are not session settings).
fn session_changes(a: &PeerConfig, b: &PeerConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, same: bool| {
        if !same {
            out.push(name.to_string());
        }
    };
    field("asn", a.asn == b.asn);
    field("address", a.address == b.address);
    field("passive", a.passive == b.passive);
    field("port", a.port == b.port);
    field("local_address", a.local_address == b.local_address);
    field("hold_time", a.hold_time == b.hold_time);
    field("connect_retry", a.connect_retry == b.connect_retry);
    field("families", a.families == b.families);
    field("add_path", a.add_path == b.add_path);
    field("add_path_max", a.add_path_max == b.add_path_max);
    field("graceful_restart", a.graceful_restart == b.graceful_restart);
    field("role_check", a.role_check == b.role_check);
    field("md5_password", a.md5_password == b.md5_password);
    field("ttl_security", a.ttl_security == b.ttl_security);
    field("max_prefixes", a.max_prefixes == b.max_prefixes);
    field("send_hold_time", a.send_hold_time == b.send_hold_time);
    field(
        "long_lived_stale_time",
        a.long_lived_stale_time == b.long_lived_stale_time,
    );
    out
}

/// A selector by name, so that peers added or removed elsewhere (which shift indices) do not
/// look like a change.
fn selector_name(c: &Config, s: &Selector) -> String {
    match s {
        Selector::All => "all".into(),
        Selector::Role(i) => format!(
            "role:{}",
            c.policy.roles.get(*i).map_or("?", String::as_str)
        ),
        Selector::Peer(i) => c.peers.get(*i).map_or("?", |p| p.name.as_str()).into(),
    }
}

/// A peer's policy with indices replaced by names.
fn named_policy(c: &Config, i: usize) -> Option<(PeerPolicy, String, Vec<String>, Vec<String>)> {
    let p = c.policy.peers.get(i)?;
    let role = c.policy.roles.get(p.role).cloned().unwrap_or_default();
    let recv = p.receive_from.iter().map(|s| selector_name(c, s)).collect();
    let send = p.send_to.iter().map(|s| selector_name(c, s)).collect();
    let mut rest = p.clone();
    rest.role = 0;
    rest.receive_from.clear();
    rest.send_to.clear();
    Some((rest, role, recv, send))
}

/// Computes what changed from `old` to `new`.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut d = ConfigDiff::default();
    let (os, ns) = (&old.server, &new.server);
    // Our own OPEN and the hold time we accept are every session's parameters.
    let mut server_changes = Vec::new();
    if os.asn != ns.asn {
        server_changes.push("server.asn".to_string());
    }
    if os.router_id != ns.router_id {
        server_changes.push("server.router_id".to_string());
    }
    if os.min_hold_time != ns.min_hold_time {
        server_changes.push("server.min_hold_time".to_string());
    }
    if os.listen != ns.listen {
        d.not_applied.push("server.listen".into());
    }
    // The socket and the listener are bound once; the idle timeout and the cache TTL are
    // read at each use, so a reload applies them.
    let (oc, nc) = (&old.control, &new.control);
    if (&oc.socket, oc.mode, oc.group) != (&nc.socket, nc.mode, nc.group) {
        d.not_applied.push("control".into());
    }
    let (ol, nl) = (&old.looking_glass, &new.looking_glass);
    if (ol.listen, ol.max_results) != (nl.listen, nl.max_results) {
        d.not_applied.push("looking_glass".into());
    }
    if old.log != new.log {
        d.not_applied.push("log".into());
    }
    let (op, np) = (&old.policy, &new.policy);
    if op.roles != np.roles {
        d.policy_server_wide.push("roles".into());
    }
    if op.bogon_prefixes != np.bogon_prefixes {
        d.policy_server_wide.push("policy.bogon_prefixes".into());
    }
    if op.bogon_asns != np.bogon_asns {
        d.policy_server_wide.push("policy.bogon_asns".into());
    }
    if op.transit_free_asns != np.transit_free_asns {
        d.policy_server_wide.push("policy.transit_free_asns".into());
    }
    if op.rpki_communities != np.rpki_communities {
        d.policy_server_wide.push("policy.rpki_communities".into());
    }
    d.bmp_changed = old.bmp != new.bmp;
    if old.rpki != new.rpki {
        // The VRP sources run from start to stop: a new source needs a restart.
        d.not_applied.push("rpki".into());
    }
    for (oi, o) in old.peers.iter().enumerate() {
        let Some((ni, n)) = new.peers.iter().enumerate().find(|(_, p)| p.name == o.name) else {
            d.removed.push(o.name.clone());
            continue;
        };
        let mut changed = session_changes(o, n);
        changed.extend(server_changes.iter().cloned());
        if !changed.is_empty() {
            d.reset.push(ResetPeer {
                peer: o.name.clone(),
                changed,
            });
            continue;
        }
        if named_policy(old, oi) != named_policy(new, ni) {
            d.policy.push(o.name.clone());
        }
        match (o.disabled, n.disabled) {
            (true, false) => d.enabled.push(o.name.clone()),
            (false, true) => d.disabled.push(o.name.clone()),
            _ => {}
        }
        if o.description != n.description {
            d.described.push(o.name.clone());
        }
    }
    for n in &new.peers {
        if old.peer(&n.name).is_none() {
            d.added.push(n.name.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const BASE: &str = r#"
[server]
asn = 64500
router_id = "192.0.2.1"
listen = ["127.0.0.1:1179"]

[[peer]]
name = "a"
asn = 64501
address = "192.0.2.11"

[[peer]]
name = "b"
asn = 64502
address = "192.0.2.12"

[[peer]]
name = "c"
asn = 64503
address = "192.0.2.13"
receive_from = ["a"]
"#;

    fn cfg(text: &str) -> Config {
        Config::parse(text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn the_same_file_is_no_change() {
        assert!(diff(&cfg(BASE), &cfg(BASE)).is_empty());
    }

    #[test]
    fn peers_added_removed_reset_and_refiltered() {
        let new = BASE
            .replace(
                "name = \"a\"\nasn = 64501\naddress = \"192.0.2.11\"\n",
                "name = \"d\"\nasn = 64504\naddress = \"192.0.2.14\"\nreceive_from = [\"c\"]\n",
            )
            .replace("asn = 64502\n", "asn = 64502\nhold_time = 30\n")
            .replace("receive_from = [\"a\"]", "receive_from = [\"d\"]");
        let d = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["a"]);
        assert_eq!(
            d.reset,
            [ResetPeer {
                peer: "b".into(),
                changed: vec!["hold_time".into()]
            }]
        );
        assert_eq!(d.policy, ["c"]);
        assert!(d.policy_rebuild());
    }

    /// Like `graceful_restart`, the LLGR keys change what the OPEN offers: a reset.
    #[test]
    fn long_lived_graceful_restart_changes_reset_the_session() {
        let on = BASE.replace(
            "asn = 64502\n",
            "asn = 64502\nlong_lived_graceful_restart = true\n",
        );
        let longer = on.replace(
            "long_lived_graceful_restart = true\n",
            "long_lived_graceful_restart = true\nlong_lived_stale_time = 7200\n",
        );
        for (old, new) in [(BASE, on.as_str()), (on.as_str(), longer.as_str())] {
            let d = diff(&cfg(old), &cfg(new));
            assert_eq!(
                d.reset,
                [ResetPeer {
                    peer: "b".into(),
                    changed: vec!["long_lived_stale_time".into()]
                }]
            );
        }
        // The time alone, with LLGR off, changes nothing.
        let idle = BASE.replace("asn = 64502\n", "asn = 64502\nlong_lived_stale_time = 9\n");
        assert!(diff(&cfg(BASE), &cfg(&idle)).is_empty());
    }

    /// BMP collectors are not sessions: adding, changing or removing them resets, refilters
    /// or otherwise touches no peer, even a peer a collector monitors.
    #[test]
    fn bmp_changes_touch_no_peer() {
        let one = format!("{BASE}\n[[bmp]]\naddress = \"127.0.0.1\"\nport = 1790\n");
        let other = one.replace(
            "port = 1790\n",
            "port = 1791\nviews = [\"loc-rib\", \"adj-rib-out\"]\npeers = [\"a\", \"c\"]\n",
        );
        let changes = [
            (BASE, one.as_str()),
            (one.as_str(), other.as_str()),
            (other.as_str(), BASE),
        ];
        for (old, new) in changes {
            let d = diff(&cfg(old), &cfg(new));
            assert_eq!(
                d,
                ConfigDiff {
                    bmp_changed: true,
                    ..ConfigDiff::default()
                }
            );
            assert!(!d.policy_rebuild());
            assert!(["a", "b", "c"].iter().all(|p| !d.touches(p)));
        }
        assert!(!diff(&cfg(&other), &cfg(&other)).bmp_changed);
    }

    #[test]
    fn index_shifts_are_not_policy_changes() {
        // Removing the first peer moves b and c down one index; c still receives from b.
        let old = BASE.replace("receive_from = [\"a\"]", "receive_from = [\"b\"]");
        let new = old.replace(
            "[[peer]]\nname = \"a\"\nasn = 64501\naddress = \"192.0.2.11\"\n",
            "",
        );
        let d = diff(&cfg(&old), &cfg(&new));
        assert!(d.policy.is_empty(), "{d:?}");
        assert_eq!((d.added.len(), d.removed.len()), (0, 1));
    }

    #[test]
    fn enable_disable_description_and_server_settings() {
        let new = BASE
            .replace(
                "name = \"a\"\n",
                "name = \"a\"\ndisabled = true\ndescription = \"x\"\n",
            )
            .replace(
                "listen = [\"127.0.0.1:1179\"]",
                "listen = [\"127.0.0.1:1180\"]",
            );
        let d = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(d.disabled, ["a"]);
        assert_eq!(d.described, ["a"]);
        assert_eq!(d.not_applied, ["server.listen"]);
        assert!(d.reset.is_empty() && !d.policy_rebuild());
        let new = BASE.replace("router_id = \"192.0.2.1\"", "router_id = \"192.0.2.2\"");
        let d = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(d.reset.len(), 3, "every session carries the router id");
        let new = format!("{BASE}\n[policy]\nbogon_asns = [0]\n");
        let d = diff(&cfg(BASE), &cfg(&new));
        assert_eq!(d.policy_server_wide, ["policy.bogon_asns"]);
        assert!(d.policy.is_empty() && d.policy_rebuild());
    }
}
