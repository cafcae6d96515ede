//! Import policy: one test per check and reject reason, from configuration text to outcome.

use std::net::Ipv4Addr;
use std::path::Path;

use super::*;
use crate::config::Config;
use crate::wire::{
    AsPath, Asn, Community, MpNextHop, PathAttributes, PathSegment, Prefix, SegmentType,
};

pub(crate) const SERVER: &str = r#"
[server]
asn = 64500
router_id = "192.0.2.1"
listen = ["127.0.0.1:1179"]
"#;

/// A configuration of the server plus `rest` (peers, defaults, roles...).
pub(crate) fn config(rest: &str) -> Config {
    let text = format!("{SERVER}\n{rest}");
    match Config::parse(&text, Path::new("test.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n---\n{text}"),
    }
}

/// Peer "p" (AS 100 at 192.0.2.11) with `settings`.
fn one_peer(settings: &str) -> Policies {
    Policies::new(&config(&format!(
        "[[peer]]\nname = \"p\"\nasn = 100\naddress = \"192.0.2.11\"\n{settings}\n"
    )))
}

const PEER_NH: MpNextHop = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 11));

fn attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        as_path: Some(AsPath::sequence(path.iter().map(|a| Asn(*a)))),
        ..PathAttributes::default()
    }
}

fn with_communities(mut a: PathAttributes, list: &[&str]) -> PathAttributes {
    a.communities = list.iter().map(|c| c.parse().unwrap()).collect();
    a
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn eval_with(
    pol: &Policies,
    prefix: &str,
    a: &PathAttributes,
    nh: &MpNextHop,
    vrps: &VrpTable,
) -> ImportOutcome {
    let ip = pol.import(PeerId(0)).unwrap();
    let full = ip.evaluate(&p(prefix), a, nh, vrps);
    // The two-step form gives the same answer.
    assert_eq!(ip.prepare(a, nh).evaluate(&p(prefix), vrps), full);
    full
}

fn eval(pol: &Policies, prefix: &str, a: &PathAttributes) -> ImportOutcome {
    eval_with(pol, prefix, a, &PEER_NH, &VrpTable::empty())
}

fn reasons(o: ImportOutcome) -> Vec<RejectReason> {
    o.verdict.rejects.iter().collect()
}

use RejectReason::*;

#[test]
fn a_clean_route_is_accepted() {
    let pol = one_peer("");
    let o = eval(&pol, "1.2.0.0/16", &attrs(&[100, 200]));
    assert!(o.verdict.accepted(), "{:?}", reasons(o));
    assert_eq!(o.verdict.local_pref, 100);
    assert_eq!(o.rpki, RpkiState::NotChecked);
    assert!(!o.blackhole);
    assert!(pol.import(PeerId(1)).is_none());
}

#[test]
fn prefix_length_limits_per_family() {
    let pol = one_peer("");
    let a = attrs(&[100]);
    assert_eq!(reasons(eval(&pol, "1.2.3.0/25", &a)), vec![PrefixTooLong]);
    assert_eq!(reasons(eval(&pol, "2.0.0.0/7", &a)), vec![PrefixTooShort]);
    assert!(eval(&pol, "1.0.0.0/8", &a).verdict.accepted());
    assert!(eval(&pol, "1.2.3.0/24", &a).verdict.accepted());
    let nh6 = MpNextHop::V6 {
        global: "2001:7f8::11".parse().unwrap(),
        link_local: None,
    };
    let pol6 = one_peer("next_hops = [\"2001:7f8::11\"]");
    let e6 = |s: &str| reasons(eval_with(&pol6, s, &a, &nh6, &VrpTable::empty()));
    assert_eq!(e6("2a00:1::/49"), vec![PrefixTooLong]);
    assert_eq!(e6("2a00::/11"), vec![PrefixTooShort]);
    assert!(e6("2a00:1::/48").is_empty());
    assert!(e6("2a00::/12").is_empty());
    let custom = one_peer("ipv4_min_length = 16\nipv4_max_length = 22");
    assert_eq!(
        reasons(eval(&custom, "1.0.0.0/15", &a)),
        vec![PrefixTooShort]
    );
    assert_eq!(
        reasons(eval(&custom, "1.2.0.0/23", &a)),
        vec![PrefixTooLong]
    );
    assert_eq!(PrefixTooLong.euro_ix_code(), Some(1));
    assert_eq!(PrefixTooShort.euro_ix_code(), Some(2));
}

#[test]
fn bogon_prefixes_default_override_and_off() {
    let a = attrs(&[100]);
    let pol = one_peer("");
    for b in [
        "10.1.0.0/16",
        "192.168.1.0/24",
        "100.64.0.0/10",
        "224.0.0.0/8",
        "198.18.0.0/15",
    ] {
        assert_eq!(reasons(eval(&pol, b, &a)), vec![BogonPrefix], "{b}");
    }
    let nh6 = MpNextHop::V6 {
        global: "2001:7f8::11".parse().unwrap(),
        link_local: None,
    };
    let pol6 = one_peer("next_hops = [\"2001:7f8::11\"]");
    for b in ["2001:db8::/32", "fc00::/16", "2002::/16", "3fff::/20"] {
        assert_eq!(
            reasons(eval_with(&pol6, b, &a, &nh6, &VrpTable::empty())),
            vec![BogonPrefix],
            "{b}"
        );
    }
    assert_eq!(BogonPrefix.euro_ix_code(), Some(3));
    let off = one_peer("reject_bogon_prefixes = false");
    assert!(eval(&off, "10.1.0.0/16", &a).verdict.accepted());
    let custom = Policies::new(&config(
        "[policy]\nbogon_prefixes = [\"1.2.0.0/16\", \"5.0.0.0/8 ge 24\"]\n[[peer]]\nname = \"p\"\nasn = 100\naddress = \"192.0.2.11\"\n",
    ));
    assert_eq!(
        reasons(eval(&custom, "1.2.3.0/24", &a)),
        vec![BogonPrefix],
        "plain entries cover more specifics"
    );
    assert!(
        eval(&custom, "10.0.0.0/8", &a).verdict.accepted(),
        "the default list is replaced"
    );
    assert!(
        eval(&custom, "5.1.0.0/16", &a).verdict.accepted(),
        "ranges are kept"
    );
    assert_eq!(reasons(eval(&custom, "5.1.1.0/24", &a)), vec![BogonPrefix]);
}

#[test]
fn bogon_asns_anywhere_in_the_path() {
    let pol = one_peer("");
    for bad in [
        0, 23456, 64496, 64512, 65534, 65535, 65536, 65551, 100000, 4200000000, 4294967294,
        4294967295,
    ] {
        assert_eq!(
            reasons(eval(&pol, "1.2.0.0/16", &attrs(&[100, bad, 200]))),
            vec![BogonAsn],
            "AS{bad}"
        );
    }
    for fine in [112, 23455, 64495, 131072, 4199999999] {
        assert!(
            eval(&pol, "1.2.0.0/16", &attrs(&[100, fine]))
                .verdict
                .accepted(),
            "AS{fine}"
        );
    }
    assert_eq!(BogonAsn.euro_ix_code(), Some(4));
    let off = one_peer("reject_bogon_asns = false");
    assert!(eval(&off, "1.2.0.0/16", &attrs(&[100, 64512]))
        .verdict
        .accepted());
}

#[test]
fn path_length_limit() {
    let pol = one_peer("");
    let mut path = vec![100; 64];
    assert!(eval(&pol, "1.2.0.0/16", &attrs(&path)).verdict.accepted());
    path.push(200);
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &attrs(&path))),
        vec![PathTooLong]
    );
    let short = one_peer("max_path_length = 3");
    assert!(eval(&short, "1.2.0.0/16", &attrs(&[100, 200, 300]))
        .verdict
        .accepted());
    assert_eq!(
        reasons(eval(&short, "1.2.0.0/16", &attrs(&[100, 100, 200, 300]))),
        vec![PathTooLong]
    );
    assert_eq!(PathTooLong.euro_ix_code(), Some(5));
}

#[test]
fn first_as_must_be_the_peer() {
    let pol = one_peer("");
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &attrs(&[200, 100]))),
        vec![FirstAsNotPeer]
    );
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &attrs(&[]))),
        vec![FirstAsNotPeer]
    );
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &PathAttributes::default())),
        vec![FirstAsNotPeer]
    );
    assert_eq!(FirstAsNotPeer.euro_ix_code(), Some(7));
    let off = one_peer("check_first_as = false");
    assert!(eval(&off, "1.2.0.0/16", &attrs(&[200, 300]))
        .verdict
        .accepted());
}

fn with_set(seq: &[u32], set: &[u32]) -> PathAttributes {
    PathAttributes {
        as_path: Some(AsPath {
            segments: vec![
                PathSegment {
                    kind: SegmentType::Sequence,
                    asns: seq.iter().map(|a| Asn(*a)).collect(),
                },
                PathSegment {
                    kind: SegmentType::Set,
                    asns: set.iter().map(|a| Asn(*a)).collect(),
                },
            ],
        }),
        ..PathAttributes::default()
    }
}

#[test]
fn as_sets_are_rejected() {
    let pol = one_peer("");
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &with_set(&[100], &[200, 300]))),
        vec![AsSet]
    );
    assert_eq!(AsSet.euro_ix_code(), None);
    let off = one_peer("reject_as_set = false");
    let o = eval(&off, "1.2.0.0/16", &with_set(&[100], &[200, 300]));
    assert!(o.verdict.accepted());
    // A bogon inside the set still counts.
    assert_eq!(
        reasons(eval(&off, "1.2.0.0/16", &with_set(&[100], &[64512]))),
        vec![BogonAsn]
    );
}

#[test]
fn transit_free_asns_behind_the_peer() {
    let pol = one_peer("");
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &attrs(&[100, 3356, 200]))),
        vec![TransitFreeAsn]
    );
    assert_eq!(TransitFreeAsn.euro_ix_code(), Some(14));
    // The peer is itself transit-free: its own ASN (prepended too) is fine, others are not.
    let tf = Policies::new(&config(
        "[[peer]]\nname = \"t\"\nasn = 174\naddress = \"192.0.2.11\"\n",
    ));
    assert!(eval(&tf, "1.2.0.0/16", &attrs(&[174, 174, 200]))
        .verdict
        .accepted());
    assert_eq!(
        reasons(eval(&tf, "1.2.0.0/16", &attrs(&[174, 3356, 200]))),
        vec![TransitFreeAsn]
    );
    let off = one_peer("reject_transit_free = false");
    assert!(eval(&off, "1.2.0.0/16", &attrs(&[100, 3356]))
        .verdict
        .accepted());
    let custom = Policies::new(&config(
        "[policy]\ntransit_free_asns = [300, \"AS400-AS401\"]\n[[peer]]\nname = \"p\"\nasn = 100\naddress = \"192.0.2.11\"\n",
    ));
    assert!(eval(&custom, "1.2.0.0/16", &attrs(&[100, 3356]))
        .verdict
        .accepted());
    assert_eq!(
        reasons(eval(&custom, "1.2.0.0/16", &attrs(&[100, 401]))),
        vec![TransitFreeAsn]
    );
}

#[test]
fn next_hop_is_the_peer_or_allowed() {
    let pol = one_peer("next_hops = [\"192.0.2.12\", \"2001:7f8::11\"]");
    let a = attrs(&[100]);
    let other = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 99));
    assert_eq!(
        reasons(eval_with(
            &pol,
            "1.2.0.0/16",
            &a,
            &other,
            &VrpTable::empty()
        )),
        vec![NextHopNotPeer]
    );
    let second = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 12));
    assert!(
        eval_with(&pol, "1.2.0.0/16", &a, &second, &VrpTable::empty())
            .verdict
            .accepted()
    );
    let v6 = MpNextHop::V6 {
        global: "2001:7f8::11".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    assert!(eval_with(&pol, "2a00::/32", &a, &v6, &VrpTable::empty())
        .verdict
        .accepted());
    let raw = MpNextHop::Raw(bytes::Bytes::new());
    assert_eq!(
        reasons(eval_with(&pol, "1.2.0.0/16", &a, &raw, &VrpTable::empty())),
        vec![NextHopNotPeer]
    );
    assert_eq!(NextHopNotPeer.euro_ix_code(), Some(8));
    let off = one_peer("check_next_hop = false");
    assert!(
        eval_with(&off, "1.2.0.0/16", &a, &other, &VrpTable::empty())
            .verdict
            .accepted()
    );
}

#[test]
fn prefix_allow_list_only_when_configured() {
    let a = attrs(&[100]);
    let pol = one_peer("prefixes = [\"1.2.0.0/16 le 20\", \"5.5.5.0/24\"]");
    assert!(eval(&pol, "1.2.0.0/16", &a).verdict.accepted());
    assert!(eval(&pol, "1.2.16.0/20", &a).verdict.accepted());
    assert_eq!(
        reasons(eval(&pol, "1.2.16.0/21", &a)),
        vec![PrefixNotAllowed]
    );
    assert_eq!(
        reasons(eval(&pol, "1.3.0.0/16", &a)),
        vec![PrefixNotAllowed]
    );
    assert!(eval(&pol, "5.5.5.0/24", &a).verdict.accepted());
    assert_eq!(PrefixNotAllowed.euro_ix_code(), Some(9));
    // No list: no check.
    assert!(eval(&one_peer(""), "1.3.0.0/16", &a).verdict.accepted());
    let off = one_peer("prefixes = [\"1.2.0.0/16\"]\ncheck_prefixes = false");
    assert!(eval(&off, "1.3.0.0/16", &a).verdict.accepted());
    // An empty list allows nothing.
    let empty = one_peer("prefixes = []");
    assert_eq!(
        reasons(eval(&empty, "1.3.0.0/16", &a)),
        vec![PrefixNotAllowed]
    );
}

#[test]
fn origin_allow_list_includes_the_peer() {
    let pol = one_peer("origin_asns = [200, \"AS300\", \"400-410\"]");
    for ok in [&[100][..], &[100, 200], &[100, 300], &[100, 405]] {
        assert!(
            eval(&pol, "1.2.0.0/16", &attrs(ok)).verdict.accepted(),
            "{ok:?}"
        );
    }
    assert_eq!(
        reasons(eval(&pol, "1.2.0.0/16", &attrs(&[100, 500]))),
        vec![OriginNotAllowed]
    );
    // An AS_SET at the end leaves no origin.
    let o = eval(&pol, "1.2.0.0/16", &with_set(&[100], &[200]));
    assert_eq!(reasons(o), vec![OriginNotAllowed, AsSet]);
    assert_eq!(OriginNotAllowed.euro_ix_code(), Some(10));
    let off = one_peer("origin_asns = [200]\ncheck_origins = false");
    assert!(eval(&off, "1.2.0.0/16", &attrs(&[100, 500]))
        .verdict
        .accepted());
}

fn vrps() -> VrpTable {
    VrpTable::new([
        Vrp {
            prefix: p("1.2.0.0/16"),
            max_len: 20,
            asn: Asn(200),
        },
        Vrp {
            prefix: p("5.5.0.0/16"),
            max_len: 16,
            asn: Asn(300),
        },
    ])
}

#[test]
fn rpki_reject_tag_and_off() {
    let t = vrps();
    let valid = attrs(&[100, 200]);
    let wrong = attrs(&[100, 201]);
    let pol = one_peer("");
    let o = eval_with(&pol, "1.2.0.0/16", &valid, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.rpki), (true, RpkiState::Valid));
    let o = eval_with(&pol, "1.2.0.0/16", &wrong, &PEER_NH, &t);
    assert_eq!(
        (reasons(o), o.rpki),
        (vec![RpkiInvalid], RpkiState::Invalid)
    );
    let o = eval_with(&pol, "1.2.0.0/21", &valid, &PEER_NH, &t);
    assert_eq!(
        (reasons(o), o.rpki),
        (vec![RpkiInvalid], RpkiState::Invalid),
        "too long"
    );
    let o = eval_with(&pol, "9.9.0.0/16", &valid, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.rpki), (true, RpkiState::NotFound));
    assert_eq!(RpkiInvalid.euro_ix_code(), Some(13));
    let tag = one_peer("rpki = \"tag\"");
    let o = eval_with(&tag, "1.2.0.0/16", &wrong, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.rpki), (true, RpkiState::Invalid));
    let off = one_peer("rpki = \"off\"");
    let o = eval_with(&off, "1.2.0.0/16", &wrong, &PEER_NH, &t);
    assert_eq!(
        (o.verdict.accepted(), o.rpki),
        (true, RpkiState::NotChecked)
    );
}

#[test]
fn aspa_reject_tag_and_off() {
    use crate::policy::rpki::Aspa;
    // 200 names the peer (100) as its provider; 300 names someone else.
    let t = vrps().with_aspas(crate::policy::rpki::AspaSet::new([
        Aspa {
            customer: Asn(200),
            providers: vec![Asn(100)],
        },
        Aspa {
            customer: Asn(300),
            providers: vec![Asn(999)],
        },
    ]));
    let (valid, leak, unknown) = (attrs(&[100, 200]), attrs(&[100, 300]), attrs(&[100, 400]));
    let pol = one_peer("aspa = \"reject\"");
    let o = eval_with(&pol, "9.9.0.0/16", &valid, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.aspa), (true, AspaState::Valid));
    let o = eval_with(&pol, "9.9.0.0/16", &leak, &PEER_NH, &t);
    assert_eq!(
        (reasons(o), o.aspa),
        (vec![AspaInvalid], AspaState::Invalid)
    );
    let o = eval_with(&pol, "9.9.0.0/16", &unknown, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.aspa), (true, AspaState::Unknown));
    // Nothing loaded yet: not checked, and nothing is rejected for it.
    let o = eval_with(&pol, "9.9.0.0/16", &leak, &PEER_NH, &VrpTable::empty());
    assert_eq!(
        (o.verdict.accepted(), o.aspa),
        (true, AspaState::NotChecked)
    );
    let tag = one_peer("aspa = \"tag\"");
    let o = eval_with(&tag, "9.9.0.0/16", &leak, &PEER_NH, &t);
    assert_eq!((o.verdict.accepted(), o.aspa), (true, AspaState::Invalid));
    // Off by default.
    let o = eval_with(&one_peer(""), "9.9.0.0/16", &leak, &PEER_NH, &t);
    assert_eq!(
        (o.verdict.accepted(), o.aspa),
        (true, AspaState::NotChecked)
    );
}

#[test]
fn blackholes_from_allowed_peers_only() {
    let t = vrps();
    let bh = with_communities(attrs(&[100, 200]), &["65535:666"]);
    let not_allowed = one_peer("prefixes = [\"1.2.0.0/16\"]");
    let o = eval_with(&not_allowed, "1.2.3.4/32", &bh, &PEER_NH, &t);
    assert_eq!(
        reasons(o),
        vec![
            PrefixTooLong,
            PrefixNotAllowed,
            RpkiInvalid,
            BlackholeNotAllowed
        ]
    );
    assert!(!o.blackhole);
    let o = eval_with(&not_allowed, "1.2.0.0/16", &bh, &PEER_NH, &t);
    assert_eq!(reasons(o), vec![BlackholeNotAllowed]);
    let allowed = one_peer("prefixes = [\"1.2.0.0/16\"]\nallow_blackhole = true");
    let o = eval_with(&allowed, "1.2.3.4/32", &bh, &PEER_NH, &t);
    assert!(o.verdict.accepted(), "{:?}", reasons(o));
    assert!(o.blackhole);
    assert_eq!(
        o.rpki,
        RpkiState::Valid,
        "the origin matches; max length is ignored"
    );
    // Still only inside the allow-list, and the origin must still match.
    let o = eval_with(&allowed, "9.9.9.9/32", &bh, &PEER_NH, &t);
    assert_eq!(reasons(o), vec![PrefixNotAllowed]);
    assert!(!o.blackhole);
    let bad_origin = with_communities(attrs(&[100, 201]), &["65535:666"]);
    let o = eval_with(&allowed, "1.2.3.4/32", &bad_origin, &PEER_NH, &t);
    assert_eq!(reasons(o), vec![RpkiInvalid]);
    let nh6 = MpNextHop::V6 {
        global: "2001:7f8::11".parse().unwrap(),
        link_local: None,
    };
    let v6 = one_peer("allow_blackhole = true\nnext_hops = [\"2001:7f8::11\"]");
    let o = eval_with(&v6, "2a00::1/128", &bh, &nh6, &t);
    assert!(o.verdict.accepted() && o.blackhole);
    assert_eq!(BlackholeNotAllowed.euro_ix_code(), None);
}

#[test]
fn graceful_shutdown_lowers_preference() {
    let gshut = with_communities(attrs(&[100]), &["65535:0"]);
    let o = eval(&one_peer(""), "1.2.0.0/16", &gshut);
    assert_eq!((o.verdict.accepted(), o.verdict.local_pref), (true, 0));
    let o = eval(&one_peer("graceful_shutdown = false"), "1.2.0.0/16", &gshut);
    assert_eq!(o.verdict.local_pref, 100);
    let o = eval(&one_peer("local_pref = 150"), "1.2.0.0/16", &attrs(&[100]));
    assert_eq!(o.verdict.local_pref, 150);
    assert_eq!(Community::GRACEFUL_SHUTDOWN.to_string(), "65535:0");
}

#[test]
fn every_reason_is_reported() {
    let pol = one_peer("prefixes = [\"1.2.0.0/16\"]\norigin_asns = [200]\nmax_path_length = 2");
    let a = with_communities(with_set(&[200, 64512, 3356], &[7]), &["65535:666"]);
    let other = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 99));
    let o = eval_with(&pol, "10.0.0.0/25", &a, &other, &vrps());
    assert_eq!(
        reasons(o),
        vec![
            PrefixTooLong,
            BogonPrefix,
            BogonAsn,
            PathTooLong,
            FirstAsNotPeer,
            NextHopNotPeer,
            PrefixNotAllowed,
            OriginNotAllowed,
            TransitFreeAsn,
            AsSet,
            BlackholeNotAllowed,
        ]
    );
    let tags: Vec<String> = reject_communities(Asn(64500), o.verdict.rejects)
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        tags,
        [
            "64500:1101:1",
            "64500:1101:3",
            "64500:1101:4",
            "64500:1101:5",
            "64500:1101:7",
            "64500:1101:8",
            "64500:1101:9",
            "64500:1101:10",
            "64500:1101:14"
        ]
    );
}

#[test]
fn defaults_and_roles_set_checks() {
    let pol = Policies::new(&config(
        r#"
[defaults]
reject_bogon_asns = false
[role.supplier]
max_path_length = 2
[[peer]]
name = "s"
asn = 100
address = "192.0.2.11"
role = "supplier"
[[peer]]
name = "m"
asn = 200
address = "192.0.2.12"
max_path_length = 1
reject_bogon_asns = true
"#,
    ));
    let s = pol.import(PeerId(0)).unwrap();
    let m = pol.import(PeerId(1)).unwrap();
    let nh_m = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 12));
    let t = VrpTable::empty();
    let o = s.evaluate(&p("1.2.0.0/16"), &attrs(&[100, 64512]), &PEER_NH, &t);
    assert!(
        o.verdict.accepted(),
        "[defaults] turned the bogon ASN check off"
    );
    let o = s.evaluate(&p("1.2.0.0/16"), &attrs(&[100, 1, 2]), &PEER_NH, &t);
    assert_eq!(reasons(o), vec![PathTooLong], "[role.supplier] limit");
    let o = m.evaluate(&p("1.2.0.0/16"), &attrs(&[200, 64512]), &nh_m, &t);
    assert_eq!(
        reasons(o),
        vec![BogonAsn, PathTooLong],
        "the peer's own settings win"
    );
}
