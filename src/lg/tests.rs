//! `why` and the table statistics against a hand-built snapshot with export rules (which
//! the running server does not configure yet, so the integration tests cannot reach them).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use imbl::OrdMap;

use super::stats::TableStats;
use super::why::explain;
use crate::config::Config;
use crate::directory::{PeerDirectory, PeerEntry};
use crate::policy::{ClientSet, ExportRules, PeerId, RejectReason, RejectSet, Verdict};
use crate::rib::{
    ExportPolicy, Path, PrefixEntry, RibSnapshot, RouteAttrs, SelectCtx, ShardSnapshot,
};
use crate::session::{PeerStatus, State};
use crate::wire::{AsPath, Asn, MpNextHop, Origin, PathAttributes, Prefix};

fn dir() -> PeerDirectory {
    let cfg = Config::parse(
        r#"
[server]
asn = 64500
router_id = "192.0.2.254"
[[peer]]
name = "a"
asn = 65001
address = "192.0.2.1"
[[peer]]
name = "b"
asn = 65002
address = "192.0.2.2"
[[peer]]
name = "c"
asn = 65003
address = "192.0.2.3"
"#,
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    PeerDirectory {
        peers: cfg
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let status = PeerStatus::new();
                status.set_state(State::Established);
                Some(PeerEntry {
                    id: PeerId(i as u32),
                    config: Arc::new(p.clone()),
                    status,
                })
            })
            .collect(),
    }
}

fn path(peer: u32, hops: &[u32], verdict: Verdict) -> Path {
    Path {
        attrs: Arc::new(RouteAttrs::new(
            PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(hops.iter().map(|&a| Asn(a)))),
                ..PathAttributes::default()
            },
            MpNextHop::V4(Ipv4Addr::new(192, 0, 2, peer as u8 + 1)),
        )),
        peer: PeerId(peer),
        rx_id: 0,
        router_id: peer + 1,
        verdict,
        rpki: crate::policy::RpkiState::NotChecked,
        aspa: crate::policy::AspaState::NotChecked,
        blackhole: false,
        actions: crate::policy::PathActions::default(),
        tx_id: peer as u16 + 1,
        stale: false,
        llgr_stale: false,
        since: 0,
    }
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

/// a and b both announce 10.1/16 (a's path shorter); b alone 10.2/16; a's 10.3/16 is a
/// rejected leak. Client c takes routes from a only.
fn snapshot() -> RibSnapshot {
    let addrs: Vec<IpAddr> = (1..=3)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
        .collect();
    let ctx = SelectCtx {
        always_compare_med: false,
        peer_addrs: &addrs,
    };
    let mut table = OrdMap::new();
    let mut e1 = PrefixEntry::default();
    e1.upsert(path(1, &[65002, 65100], Verdict::ACCEPT), &ctx);
    e1.upsert(path(0, &[65001], Verdict::ACCEPT), &ctx);
    table.insert(p("10.1.0.0/16"), Arc::new(e1));
    let mut e2 = PrefixEntry::default();
    e2.upsert(path(1, &[65002], Verdict::ACCEPT), &ctx);
    table.insert(p("10.2.0.0/16"), Arc::new(e2));
    let mut e3 = PrefixEntry::default();
    let leak: RejectSet = [RejectReason::OtcLeak].into_iter().collect();
    e3.upsert(path(0, &[65001], Verdict::reject(leak)), &ctx);
    table.insert(p("10.3.0.0/16"), Arc::new(e3));
    let mut only_a = ClientSet::new();
    only_a.insert(PeerId(0));
    let rules = vec![
        ExportRules::default(),
        ExportRules::default(),
        ExportRules {
            accepts_from: Some(Arc::new(only_a)),
            rejects_blackholes: false,
            takes_llgr_stale: false,
        },
    ];
    RibSnapshot {
        shards: vec![Arc::new(ShardSnapshot {
            index: 0,
            table,
            policy: Arc::new(ExportPolicy {
                rules,
                local_asn: Asn(64500),
                always_compare_med: false,
                policies: None,
            }),
            peer_addrs: Arc::new(addrs),
            published: Instant::now(),
            llgr_clients: Arc::new(ClientSet::new()),
        })],
    }
}

fn codes(v: &serde_json::Value) -> Vec<(String, String)> {
    v["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["peer"].as_str().unwrap().to_string(),
                x["export"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn why_names_the_reason_for_every_path() {
    let (snap, dir) = (snapshot(), dir());
    let who = |n: &str| dir.by_name(n).unwrap();
    let w = explain(&snap, &dir, who("b"), &p("10.1.2.3/32"), false, 64500, 100);
    assert_eq!(w["prefix"], "10.1.0.0/16");
    assert_eq!(w["receives"]["peer"], "a");
    assert_eq!(
        codes(&w),
        [pair("a", "best_allowed_path"), pair("b", "own_path")]
    );
    let w = explain(&snap, &dir, who("c"), &p("10.1.0.0/16"), true, 64500, 100);
    assert_eq!(
        codes(&w),
        [
            pair("a", "best_allowed_path"),
            pair("b", "export_rules_exclude_source")
        ]
    );
    assert_eq!(w["export_rules"]["accepts_from"], serde_json::json!(["a"]));
    let w = explain(&snap, &dir, who("c"), &p("10.2.0.0/16"), true, 64500, 100);
    assert!(w["receives"].is_null());
    assert_eq!(codes(&w), [pair("b", "export_rules_exclude_source")]);
    let w = explain(&snap, &dir, who("b"), &p("10.3.0.0/16"), true, 64500, 100);
    assert!(w["receives"].is_null());
    assert_eq!(codes(&w), [pair("a", "rejected_on_import")]);
    assert_eq!(
        w["paths"][0]["reject_reasons"][0]["community"],
        "64500:1101:65531"
    );
    // a gets b's path; nothing covers 10.9/16.
    let w = explain(&snap, &dir, who("a"), &p("10.1.0.0/16"), true, 64500, 100);
    assert_eq!(w["receives"]["peer"], "b");
    let w = explain(&snap, &dir, who("a"), &p("10.9.0.0/16"), false, 64500, 100);
    assert!(w["prefix"].is_null());
}

#[test]
fn better_path_reason_says_which_step_decided() {
    let (snap, dir) = (snapshot(), dir());
    // c is excluded from b: a is best; for a client taking everything, b's path loses on
    // AS path length.
    let mut all = snap.clone();
    let s = Arc::make_mut(&mut all.shards[0]);
    s.policy = Arc::new(ExportPolicy::default());
    let w = explain(
        &all,
        &dir,
        dir.by_name("c").unwrap(),
        &p("10.1.0.0/16"),
        true,
        64500,
        100,
    );
    assert_eq!(w["paths"][1]["export"]["code"], "better_allowed_path");
    let reason = w["paths"][1]["export"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("shorter AS path") && reason.contains("from a"),
        "{reason}"
    );
}

#[test]
fn table_stats_count_exports_with_and_without_rules() {
    let st = TableStats::compute(&snapshot(), &dir());
    assert_eq!(st.prefixes, [3, 0]);
    assert_eq!(st.paths, [4, 0]);
    assert_eq!(
        (st.preferred_of(0), st.preferred_of(1), st.preferred_of(2)),
        (1, 1, 0)
    );
    // a: b's 10.1 and 10.2; b: a's 10.1; c (from a only): a's 10.1.
    assert_eq!(
        (st.exported_of(0), st.exported_of(1), st.exported_of(2)),
        (2, 1, 1)
    );
    // Not established: nothing is exported to it.
    let d = dir();
    d.get(PeerId(1)).unwrap().status.set_state(State::Active);
    let st = TableStats::compute(&snapshot(), &d);
    assert_eq!(st.exported_of(1), 0);
}
