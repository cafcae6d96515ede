//! Export rules per client: which peers' routes a client takes (the marketplace) and whether
//! it takes blackholes. Compiled from the configuration by [`compile_export_rules`]: a
//! source's `send_to` is folded into each receiver's `accepts_from`, so the RIB has one check.

use std::collections::HashMap;
use std::sync::Arc;

use super::clientset::{ClientSet, PeerId};
use crate::config::{PolicyConfig, Selector};

/// Export rules the RIB applies per client.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportRules {
    /// The source peers this client takes routes from; `None` takes from everyone. Clients
    /// with equal sets share one `Arc` (compare with `Arc::ptr_eq` to group them).
    pub accepts_from: Option<Arc<ClientSet>>,
    /// The client does not take RFC 7999 blackhole routes (`accept_blackholes = false`).
    pub rejects_blackholes: bool,
    /// The client negotiated long-lived graceful restart (RFC 9494) and so takes long-lived
    /// stale routes; set by the RIB from the session, not by policy.
    pub takes_llgr_stale: bool,
}

impl ExportRules {
    /// Does the client take routes from `source`?
    #[inline]
    pub fn accepts(&self, source: PeerId) -> bool {
        self.accepts_from
            .as_ref()
            .is_none_or(|s| s.contains(source))
    }

    /// Does the client take this path: from `source`, a blackhole or not?
    #[inline]
    pub fn accepts_path(&self, source: PeerId, blackhole: bool) -> bool {
        !(blackhole && self.rejects_blackholes) && self.accepts(source)
    }

    /// A key equal for clients with the same rules (the shared `Arc` of `accepts_from`, and
    /// the blackhole flag): the RIB's export classes.
    pub fn class_key(&self) -> (usize, bool, bool) {
        (
            self.accepts_from
                .as_ref()
                .map_or(0, |s| Arc::as_ptr(s) as usize),
            self.rejects_blackholes,
            self.takes_llgr_stale,
        )
    }
}

/// Export rules per client, indexed by [`PeerId`]: client C takes routes from S when S is in
/// C's `receive_from` and C is in S's `send_to`. `ids[i]` is the id of `cfg.peers[i]`; ids
/// not given to any peer get the default rules.
pub fn compile_export_rules(cfg: &PolicyConfig, ids: &[PeerId]) -> Vec<ExportRules> {
    let id_of = |i: usize| ids.get(i).copied().unwrap_or(PeerId(i as u32));
    let all: ClientSet = (0..cfg.peers.len()).map(id_of).collect();
    let mut by_role = vec![ClientSet::new(); cfg.roles.len()];
    for (i, p) in cfg.peers.iter().enumerate() {
        if let Some(set) = by_role.get_mut(p.role) {
            set.insert(id_of(i));
        }
    }
    let resolve = |list: &[Selector]| -> ClientSet {
        let mut out = ClientSet::new();
        for s in list {
            match s {
                Selector::All => return all.clone(),
                Selector::Role(r) => {
                    if let Some(set) = by_role.get(*r) {
                        out = out.union(set);
                    }
                }
                Selector::Peer(i) => out.insert(id_of(*i)),
            }
        }
        out
    };
    let send: HashMap<PeerId, ClientSet> = cfg
        .peers
        .iter()
        .enumerate()
        .map(|(i, p)| (id_of(i), resolve(&p.send_to)))
        .collect();
    let mut shared: HashMap<ClientSet, Arc<ClientSet>> = HashMap::new();
    let len = (0..cfg.peers.len())
        .map(|i| id_of(i).index() + 1)
        .max()
        .unwrap_or(0);
    let mut out = vec![ExportRules::default(); len];
    for (c, p) in cfg.peers.iter().enumerate() {
        let me = id_of(c);
        let mut accepts = resolve(&p.receive_from);
        let selected_itself = accepts.contains(me);
        for s in accepts.clone().iter() {
            if !send.get(&s).is_some_and(|t| t.contains(me)) {
                accepts.remove(s);
            }
        }
        // A client never gets its own routes back, so whether it is in its own set does
        // not matter: keep it as selected, so that clients whose selections read alike
        // ("all but X", "the members") share one set, and one export class in the RIB.
        if selected_itself {
            accepts.insert(me);
        }
        let accepts_from = if accepts == all {
            None
        } else {
            Some(
                shared
                    .entry(accepts.clone())
                    .or_insert_with(|| Arc::new(accepts))
                    .clone(),
            )
        };
        if let Some(slot) = out.get_mut(me.index()) {
            *slot = ExportRules {
                accepts_from,
                rejects_blackholes: !p.accept_blackholes,
                takes_llgr_stale: false,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::config;
    use crate::policy::Policies;

    const MARKET: &str = r#"
[[peer]]
name = "s1"
asn = 101
address = "192.0.2.1"
role = "supplier"
[[peer]]
name = "s2"
asn = 102
address = "192.0.2.2"
role = "supplier"
[[peer]]
name = "s3"
asn = 103
address = "192.0.2.3"
role = "supplier"
[[peer]]
name = "m1"
asn = 201
address = "192.0.2.11"
receive_from = ["s1", "s2", "role:service"]
[[peer]]
name = "m2"
asn = 202
address = "192.0.2.12"
receive_from = ["s3", "role:service"]
accept_blackholes = false
[[peer]]
name = "dns"
asn = 301
address = "192.0.2.21"
role = "service"
"#;

    /// Who client `c` takes routes from, by name.
    fn sources(pol: &Policies, names: &[&str], c: usize) -> Vec<String> {
        let r = pol.export(PeerId(c as u32)).unwrap();
        (0..names.len())
            .filter(|s| *s != c && r.accepts(PeerId(*s as u32)))
            .map(|s| names[s].to_string())
            .collect()
    }

    #[test]
    fn the_marketplace_in_one_line_per_member() {
        let pol = Policies::new(&config(MARKET));
        let names = ["s1", "s2", "s3", "m1", "m2", "dns"];
        // Suppliers take members' and services' routes, not each other's.
        assert_eq!(sources(&pol, &names, 0), ["m1", "m2", "dns"]);
        assert_eq!(sources(&pol, &names, 2), ["m1", "m2", "dns"]);
        assert_eq!(sources(&pol, &names, 3), ["s1", "s2", "dns"]);
        assert_eq!(sources(&pol, &names, 4), ["s3", "dns"]);
        assert_eq!(sources(&pol, &names, 5), ["s1", "s2", "s3", "m1", "m2"]);
        // Suppliers 0 and 2 chose alike: one shared set (one export class in the RIB).
        let r0 = pol.export(PeerId(0)).unwrap();
        let r2 = pol.export(PeerId(2)).unwrap();
        assert!(Arc::ptr_eq(
            r0.accepts_from.as_ref().unwrap(),
            r2.accepts_from.as_ref().unwrap()
        ));
        assert_eq!(r0.class_key(), r2.class_key());
        // The service takes from everyone: no set at all.
        assert!(pol.export(PeerId(5)).unwrap().accepts_from.is_none());
        // Blackholes.
        let m2 = pol.export(PeerId(4)).unwrap();
        assert!(m2.rejects_blackholes);
        assert!(m2.accepts_path(PeerId(2), false));
        assert!(!m2.accepts_path(PeerId(2), true));
        assert!(pol.export(PeerId(3)).unwrap().accepts_path(PeerId(0), true));
        assert_ne!(m2.class_key(), pol.export(PeerId(3)).unwrap().class_key());
    }

    #[test]
    fn send_to_restricts_the_receivers() {
        let text = MARKET.replace(
            "address = \"192.0.2.3\"\nrole = \"supplier\"",
            "address = \"192.0.2.3\"\nrole = \"supplier\"\nsend_to = [\"role:member\"]",
        );
        let pol = Policies::new(&config(&text));
        let names = ["s1", "s2", "s3", "m1", "m2", "dns"];
        // s3 sends only to members: the service no longer gets its routes.
        assert_eq!(sources(&pol, &names, 5), ["s1", "s2", "m1", "m2"]);
        assert_eq!(sources(&pol, &names, 4), ["s3", "dns"]);
        let text = MARKET.replace(
            "address = \"192.0.2.21\"\nrole = \"service\"",
            "address = \"192.0.2.21\"\nrole = \"service\"\nsend_to = [\"none\"]",
        );
        let pol = Policies::new(&config(&text));
        assert_eq!(sources(&pol, &names, 3), ["s1", "s2"]);
        assert_eq!(sources(&pol, &names, 0), ["m1", "m2"]);
    }

    #[test]
    fn custom_roles_and_role_defaults() {
        let text = format!(
            "{MARKET}\n[role.transit]\nreceive_from = [\"role:member\"]\nsend_to = [\"role:member\"]\n[[peer]]\nname = \"t\"\nasn = 401\naddress = \"192.0.2.31\"\nrole = \"transit\"\n"
        );
        let pol = Policies::new(&config(&text));
        let names = ["s1", "s2", "s3", "m1", "m2", "dns", "t"];
        assert_eq!(sources(&pol, &names, 6), ["m1", "m2"]);
        // Members that chose their suppliers do not get the transit peer; the service, which
        // takes from all, does not either: the transit peer sends only to members.
        assert_eq!(sources(&pol, &names, 3), ["s1", "s2", "dns"]);
        assert_eq!(sources(&pol, &names, 5), ["s1", "s2", "s3", "m1", "m2"]);
    }

    #[test]
    fn everyone_by_default() {
        let pol = Policies::new(&config(
            "[[peer]]\nname = \"a\"\nasn = 1\naddress = \"192.0.2.1\"\n[[peer]]\nname = \"b\"\nasn = 2\naddress = \"192.0.2.2\"\n",
        ));
        assert!(pol
            .export_rules()
            .iter()
            .all(|r| r.accepts_from.is_none() && !r.rejects_blackholes));
        assert_eq!(ExportRules::default().class_key(), (0, false, false));
    }
}

#[cfg(test)]
mod example {
    use super::*;
    use crate::config::Config;
    use crate::policy::Policies;

    /// The example exchange in `config/examples` loads, and each peer takes what the comments
    /// there say.
    #[test]
    fn the_example_exchange() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/exchange.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let pol = Policies::new(&c);
        let names: Vec<&str> = c.peers.iter().map(|p| p.name.as_str()).collect();
        let from = |who: &str| -> Vec<&str> {
            let me = names.iter().position(|n| *n == who).unwrap();
            let r = pol.export(PeerId(me as u32)).unwrap();
            (0..names.len())
                .filter(|s| *s != me && r.accepts(PeerId(*s as u32)))
                .map(|s| names[s])
                .collect()
        };
        assert_eq!(from("supplier-a"), ["member-1", "member-2", "dns-anycast"]);
        assert_eq!(
            from("member-1"),
            ["supplier-a", "supplier-b", "dns-anycast"]
        );
        assert_eq!(from("member-2"), ["supplier-c", "dns-anycast"]);
        assert_eq!(
            from("dns-anycast"),
            ["supplier-a", "supplier-b", "member-1", "member-2"]
        );
        let a = &c.policy.peers[0];
        assert_eq!(a.prefixes.as_ref().unwrap().len(), 6);
        assert!(a.allow_blackhole);
        assert_eq!(
            c.peers[0].max_prefixes.unwrap().limits,
            [Some(100_000), Some(100_000)]
        );
        // The service's IPv6 limit is its own; IPv4 takes `max_prefixes`.
        let svc = c.peers[5].max_prefixes.unwrap();
        assert_eq!(svc.limits, [Some(10), Some(2)]);
        assert_eq!(svc.limit_for(crate::wire::Family::Ipv6Unicast), Some(2));
    }
}
