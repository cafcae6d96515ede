//! Capability negotiation: each rule of `negotiate` and `our_open`, one case at a time.

use super::*;
use crate::wire::capability::GrFamily;
use crate::wire::{Afi, Safi};
use bytes::Bytes;

const V4: FamilySet = FamilySet::EMPTY.with(Family::Ipv4Unicast);
const V6: FamilySet = FamilySet::EMPTY.with(Family::Ipv6Unicast);
const CLIENT_ID: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn server() -> ServerConfig {
    ServerConfig {
        asn: Asn(65000),
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        listen: Vec::new(),
        min_hold_time: 3,
    }
}

fn peer(asn: u32) -> PeerConfig {
    PeerConfig {
        name: "client".into(),
        asn: Asn(asn),
        address: "192.0.2.10".parse().unwrap(),
        description: None,
        disabled: false,
        passive: true,
        port: 179,
        local_address: None,
        hold_time: 90,
        connect_retry: Duration::from_secs(5),
        families: FamilySet::ALL,
        add_path: AddPathMode::Off,
        add_path_max: 0,
        graceful_restart: true,
        long_lived_stale_time: None,
        role_check: RoleCheck::On,
        md5_password: None,
        ttl_security: false,
        max_prefixes: None,
        send_hold_time: None,
    }
}

/// A typical client: IPv4 and IPv6 unicast, route refresh, 4-octet AS.
fn caps(asn: u32) -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::FourOctetAs(Asn(asn)),
    ]
}

fn client(asn: u32, caps: Vec<Capability>) -> Open {
    Open::new(Asn(asn), 90, CLIENT_ID, caps)
}

fn with(mut caps: Vec<Capability>, more: impl IntoIterator<Item = Capability>) -> Vec<Capability> {
    caps.extend(more);
    caps
}

fn run(p: &PeerConfig, theirs: &Open) -> Result<Negotiated, Notification> {
    let s = server();
    negotiate(&s, p, &our_open(&s, p), theirs)
}

fn ok(p: &PeerConfig, theirs: &Open) -> Negotiated {
    run(p, theirs).unwrap()
}

fn refused(p: &PeerConfig, theirs: &Open) -> OpenSubcode {
    match run(p, theirs).unwrap_err().code {
        NotifCode::Open(sub) => sub,
        other => panic!("not an OPEN error: {other}"),
    }
}

fn add_path(entries: &[(AfiSafi, u8)]) -> Capability {
    Capability::AddPath(
        entries
            .iter()
            .map(|&(afi_safi, send_receive)| AddPathEntry {
                afi_safi,
                send_receive,
            })
            .collect(),
    )
}

fn gr(flags: u8, time: u16, families: &[(AfiSafi, u8)]) -> Capability {
    Capability::GracefulRestart(GracefulRestart {
        flags,
        time,
        families: families
            .iter()
            .map(|&(afi_safi, flags)| GrFamily { afi_safi, flags })
            .collect(),
    })
}

// ---- our_open ----

#[test]
fn our_open_offers_everything_a_route_server_uses() {
    let mut p = peer(65001);
    p.add_path = AddPathMode::Both;
    let o = our_open(&server(), &p);
    assert_eq!((o.my_as, o.hold_time), (65000, 90));
    assert_eq!(o.bgp_id, Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(Asn(65000)),
            Capability::ExtendedMessage,
            add_path(&[(AfiSafi::IPV4_UNICAST, 3), (AfiSafi::IPV6_UNICAST, 3)]),
            gr(0, 120, &[]),
            Capability::Role(Role::RouteServer),
        ]
    );
    // It encodes as version 4 and decodes to itself.
    let mut out = BytesMut::new();
    o.encode(&mut out);
    assert_eq!(out[19], 4);
    assert_eq!(Open::decode(&out.freeze()).unwrap(), o);
}

#[test]
fn our_open_puts_as_trans_in_the_header_for_a_4_octet_asn() {
    let mut s = server();
    s.asn = Asn(4_200_000_000);
    let o = our_open(&s, &peer(65001));
    assert_eq!(o.my_as, 23456);
    assert!(o
        .capabilities
        .contains(&Capability::FourOctetAs(Asn(4_200_000_000))));
}

#[test]
fn our_open_follows_the_peer_config() {
    let mut p = peer(65001);
    p.families = V6;
    p.hold_time = 0;
    for (mode, bits) in [
        (AddPathMode::Receive, 1),
        (AddPathMode::Send, 2),
        (AddPathMode::Both, 3),
    ] {
        p.add_path = mode;
        let o = our_open(&server(), &p);
        assert_eq!(o.hold_time, 0);
        assert!(o
            .capabilities
            .contains(&add_path(&[(AfiSafi::IPV6_UNICAST, bits)])));
        assert!(!o
            .capabilities
            .contains(&Capability::Multiprotocol(AfiSafi::IPV4_UNICAST)));
    }
    p.add_path = AddPathMode::Off;
    p.graceful_restart = false;
    p.role_check = RoleCheck::Off;
    let o = our_open(&server(), &p);
    assert!(!o.capabilities.iter().any(|c| matches!(
        c,
        Capability::AddPath(_) | Capability::GracefulRestart(_) | Capability::Role(_)
    )));
    p.role_check = RoleCheck::Strict;
    let o = our_open(&server(), &p);
    assert!(o
        .capabilities
        .contains(&Capability::Role(Role::RouteServer)));
}

#[test]
fn our_open_sends_no_role_on_ibgp() {
    let o = our_open(&server(), &peer(65000));
    assert!(!o
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::Role(_))));
}

// ---- negotiate ----

#[test]
fn a_typical_client_negotiates() {
    let n = ok(&peer(65001), &client(65001, caps(65001)));
    let ctx = ParseCtx {
        four_octet_as: true,
        add_path: FamilySet::EMPTY,
        extended_message: false,
        ebgp: true,
    };
    assert_eq!(
        n,
        Negotiated {
            peer_asn: Asn(65001),
            peer_id: CLIENT_ID,
            hold_time: 90,
            keepalive_interval: 30,
            families: FamilySet::ALL,
            four_octet_as: true,
            rx: ctx,
            tx: ctx,
            route_refresh: true,
            enhanced_route_refresh: false,
            extended_message: false,
            graceful_restart: None,
            long_lived_gr: Vec::new(),
            llgr: None,
            peer_role: None,
            hostname: None,
            ebgp: true,
        }
    );
}

#[test]
fn peer_asn_comes_from_the_4_octet_capability() {
    let p = peer(4_200_000_001);
    let n = ok(&p, &client(4_200_000_001, caps(4_200_000_001)));
    assert_eq!(n.peer_asn, Asn(4_200_000_001));
    // Wrong ASN in the capability.
    let wrong = client(4_200_000_002, caps(4_200_000_002));
    assert_eq!(refused(&p, &wrong), OpenSubcode::BadPeerAs);
    assert!(run(&p, &wrong).unwrap_err().data.is_empty());
}

#[test]
fn peer_asn_from_the_header_without_the_capability() {
    let p = peer(65001);
    let two_octet = client(65001, caps(65001)[..3].to_vec());
    assert_eq!(ok(&p, &two_octet).peer_asn, Asn(65001));
    assert_eq!(
        refused(&p, &client(65002, caps(65002)[..3].to_vec())),
        OpenSubcode::BadPeerAs
    );
}

#[test]
fn as_trans_without_the_capability_is_a_bad_peer_as() {
    let mut o = client(65001, caps(65001)[..3].to_vec());
    o.my_as = 23456;
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::BadPeerAs);
    assert_eq!(refused(&peer(23456), &o), OpenSubcode::BadPeerAs);
}

#[test]
fn a_2_octet_asn_must_agree_with_the_header() {
    let mut o = client(65001, caps(65001));
    o.my_as = 65002;
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::BadPeerAs);
}

#[test]
fn bgp_identifier_zero_is_refused() {
    let mut o = client(65001, caps(65001));
    o.bgp_id = Ipv4Addr::UNSPECIFIED;
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::BadBgpIdentifier);
    assert!(run(&peer(65001), &o).unwrap_err().data.is_empty());
}

#[test]
fn identifier_equal_to_ours_only_refused_on_ibgp() {
    let ours = server().router_id;
    let mut o = client(65000, caps(65000));
    o.bgp_id = ours;
    assert_eq!(refused(&peer(65000), &o), OpenSubcode::BadBgpIdentifier);
    // RFC 6286: an eBGP peer may share it.
    let mut o = client(65001, caps(65001));
    o.bgp_id = ours;
    assert_eq!(ok(&peer(65001), &o).peer_id, ours);
}

#[test]
fn hold_times_1_and_2_are_unacceptable() {
    for h in [1, 2] {
        let mut o = client(65001, caps(65001));
        o.hold_time = h;
        assert_eq!(refused(&peer(65001), &o), OpenSubcode::UnacceptableHoldTime);
    }
}

#[test]
fn hold_time_below_the_server_minimum_is_unacceptable() {
    let s = ServerConfig {
        min_hold_time: 10,
        ..server()
    };
    let p = peer(65001);
    let ours = our_open(&s, &p);
    let mut o = client(65001, caps(65001));
    o.hold_time = 9;
    let e = negotiate(&s, &p, &ours, &o).unwrap_err();
    assert_eq!(e, open_error(OpenSubcode::UnacceptableHoldTime));
    o.hold_time = 10;
    assert_eq!(negotiate(&s, &p, &ours, &o).unwrap().hold_time, 10);
    // 0 (no keepalives) stays allowed.
    o.hold_time = 0;
    assert_eq!(negotiate(&s, &p, &ours, &o).unwrap().hold_time, 0);
}

#[test]
fn hold_time_is_the_smaller_one_and_zero_wins() {
    let mut p = peer(65001);
    let mut o = client(65001, caps(65001));
    for (mine, theirs, hold, keepalive) in [
        (90, 180, 90, 30),
        (90, 9, 9, 3),
        (90, 3, 3, 1),
        (90, 0, 0, 0),
        (0, 90, 0, 0),
        (0, 0, 0, 0),
    ] {
        p.hold_time = mine;
        o.hold_time = theirs;
        let n = ok(&p, &o);
        assert_eq!((n.hold_time, n.keepalive_interval), (hold, keepalive));
    }
}

#[test]
fn no_multiprotocol_capability_means_ipv4_unicast() {
    let o = client(65001, vec![Capability::FourOctetAs(Asn(65001))]);
    assert_eq!(ok(&peer(65001), &o).families, V4);
}

#[test]
fn families_are_the_intersection() {
    let v6_only = client(
        65001,
        vec![
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::Multiprotocol(AfiSafi::new(Afi::IPV4, Safi::MULTICAST)),
        ],
    );
    assert_eq!(ok(&peer(65001), &v6_only).families, V6);
    let mut p = peer(65001);
    p.families = V4;
    assert_eq!(ok(&p, &client(65001, caps(65001))).families, V4);
}

#[test]
fn no_common_family_is_unsupported_capability_with_our_families() {
    let mut p = peer(65001);
    p.families = V6;
    // The peer implicitly offers IPv4 unicast only.
    let e = run(&p, &client(65001, Vec::new())).unwrap_err();
    assert_eq!(e.code, NotifCode::Open(OpenSubcode::UnsupportedCapability));
    assert_eq!(&e.data[..], &[1, 4, 0, 2, 0, 1]);
    // Only families peerex does not route.
    let vpn = client(
        65001,
        vec![Capability::Multiprotocol(AfiSafi::new(
            Afi::IPV4,
            Safi(128),
        ))],
    );
    let e = run(&peer(65001), &vpn).unwrap_err();
    assert_eq!(e.code, NotifCode::Open(OpenSubcode::UnsupportedCapability));
    assert_eq!(&e.data[..], &[1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1]);
}

#[test]
fn four_octet_as_needs_both_sides() {
    let n = ok(&peer(65001), &client(65001, caps(65001)[..3].to_vec()));
    assert!(!n.four_octet_as && !n.rx.four_octet_as && !n.tx.four_octet_as);
    let n = ok(&peer(65001), &client(65001, caps(65001)));
    assert!(n.four_octet_as && n.rx.four_octet_as && n.tx.four_octet_as);
}

#[test]
fn add_path_directions_follow_rfc_7911() {
    let (v4, v6) = (AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST);
    let cases = [
        // (ours, theirs, rx, tx)
        (
            AddPathMode::Both,
            vec![(v4, 2), (v6, 2)],
            FamilySet::ALL,
            FamilySet::EMPTY,
        ),
        (AddPathMode::Both, vec![(v4, 1)], FamilySet::EMPTY, V4),
        (
            AddPathMode::Both,
            vec![(v4, 3), (v6, 1)],
            V4,
            FamilySet::ALL,
        ),
        (
            AddPathMode::Receive,
            vec![(v4, 3), (v6, 3)],
            FamilySet::ALL,
            FamilySet::EMPTY,
        ),
        (
            AddPathMode::Send,
            vec![(v4, 3), (v6, 3)],
            FamilySet::EMPTY,
            FamilySet::ALL,
        ),
        (
            AddPathMode::Off,
            vec![(v4, 3), (v6, 3)],
            FamilySet::EMPTY,
            FamilySet::EMPTY,
        ),
        // A later entry for the same family replaces the earlier one.
        (
            AddPathMode::Both,
            vec![(v4, 2), (v4, 1)],
            FamilySet::EMPTY,
            V4,
        ),
    ];
    for (mode, theirs, rx, tx) in cases {
        let mut p = peer(65001);
        p.add_path = mode;
        let n = ok(&p, &client(65001, with(caps(65001), [add_path(&theirs)])));
        assert_eq!(
            (n.rx.add_path, n.tx.add_path),
            (rx, tx),
            "{mode:?} {theirs:?}"
        );
    }
}

#[test]
fn add_path_only_for_negotiated_families() {
    let mut p = peer(65001);
    p.add_path = AddPathMode::Both;
    let theirs = client(
        65001,
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            add_path(&[(AfiSafi::IPV4_UNICAST, 3), (AfiSafi::IPV6_UNICAST, 3)]),
        ],
    );
    let n = ok(&p, &theirs);
    assert_eq!((n.rx.add_path, n.tx.add_path), (V4, V4));
}

#[test]
fn add_path_with_an_invalid_direction_is_ignored() {
    let mut p = peer(65001);
    p.add_path = AddPathMode::Both;
    for bad in [0, 4] {
        let cap = add_path(&[(AfiSafi::IPV4_UNICAST, 3), (AfiSafi::IPV6_UNICAST, bad)]);
        let n = ok(&p, &client(65001, with(caps(65001), [cap])));
        assert_eq!(
            (n.rx.add_path, n.tx.add_path),
            (FamilySet::EMPTY, FamilySet::EMPTY)
        );
    }
}

#[test]
fn extended_message_needs_both_sides() {
    let n = ok(&peer(65001), &client(65001, caps(65001)));
    assert!(!n.extended_message && !n.rx.extended_message && !n.tx.extended_message);
    let o = client(65001, with(caps(65001), [Capability::ExtendedMessage]));
    let n = ok(&peer(65001), &o);
    assert!(n.extended_message && n.rx.extended_message && n.tx.extended_message);
    assert_eq!(n.tx.max_len(), 65535);
}

#[test]
fn route_refresh_old_and_new_codes_and_enhanced() {
    let base = caps(65001)[..2].to_vec();
    let n = ok(&peer(65001), &client(65001, base.clone()));
    assert!(!n.route_refresh && !n.enhanced_route_refresh);
    let old = Capability::Unknown {
        code: 128,
        value: Bytes::new(),
    };
    assert!(ok(&peer(65001), &client(65001, with(base.clone(), [old]))).route_refresh);
    let n = ok(
        &peer(65001),
        &client(
            65001,
            with(
                base,
                [Capability::RouteRefresh, Capability::EnhancedRouteRefresh],
            ),
        ),
    );
    assert!(n.route_refresh && n.enhanced_route_refresh);
}

#[test]
fn graceful_restart_of_the_peer() {
    let (v4, v6) = (AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST);
    let cap = gr(0x8 | 0x4, 300, &[(v4, 0x80), (v6, 0)]);
    let o = client(65001, with(caps(65001), [cap.clone()]));
    assert_eq!(
        ok(&peer(65001), &o).graceful_restart,
        Some(PeerGracefulRestart {
            restart_time: Duration::from_secs(300),
            families: FamilySet::ALL,
            forwarding_preserved: V4,
            restarting: true,
            notification: false,
        })
    );
    // Families not negotiated are left out.
    let mut p = peer(65001);
    p.families = V6;
    let g = ok(&p, &o).graceful_restart.unwrap();
    assert_eq!((g.families, g.forwarding_preserved), (V6, FamilySet::EMPTY));
    // Not configured, or not sent: no helper.
    p.graceful_restart = false;
    assert_eq!(ok(&p, &o).graceful_restart, None);
    assert_eq!(
        ok(&peer(65001), &client(65001, caps(65001))).graceful_restart,
        None
    );
    // An empty family list: the peer keeps no forwarding state.
    let o = client(65001, with(caps(65001), [gr(0, 120, &[])]));
    let g = ok(&peer(65001), &o).graceful_restart.unwrap();
    assert_eq!((g.families, g.restarting), (FamilySet::EMPTY, false));
}

#[test]
fn graceful_notification_needs_the_n_bit_on_both_sides() {
    let s = server();
    let p = peer(65001);
    let theirs = client(65001, with(caps(65001), [gr(0x4, 120, &[])]));
    let mut ours = our_open(&s, &p);
    let n = negotiate(&s, &p, &ours, &theirs).unwrap();
    assert!(!n.graceful_restart.unwrap().notification);
    for c in &mut ours.capabilities {
        if let Capability::GracefulRestart(g) = c {
            g.flags = GracefulRestart::NOTIFICATION;
        }
    }
    let n = negotiate(&s, &p, &ours, &theirs).unwrap();
    assert!(n.graceful_restart.unwrap().notification);
}

#[test]
fn role_check_on_accepts_a_client_or_no_role() {
    let p = peer(65001);
    let o = client(
        65001,
        with(caps(65001), [Capability::Role(Role::RouteServerClient)]),
    );
    assert_eq!(ok(&p, &o).peer_role, Some(Role::RouteServerClient));
    assert_eq!(ok(&p, &client(65001, caps(65001))).peer_role, None);
    for wrong in [
        Role::RouteServer,
        Role::Peer,
        Role::Customer,
        Role::Provider,
        Role::Other(9),
    ] {
        let o = client(65001, with(caps(65001), [Capability::Role(wrong)]));
        assert_eq!(refused(&p, &o), OpenSubcode::RoleMismatch, "{wrong}");
    }
}

#[test]
fn role_check_strict_requires_a_role() {
    let mut p = peer(65001);
    p.role_check = RoleCheck::Strict;
    assert_eq!(
        refused(&p, &client(65001, caps(65001))),
        OpenSubcode::RoleMismatch
    );
    let o = client(
        65001,
        with(caps(65001), [Capability::Role(Role::RouteServerClient)]),
    );
    assert_eq!(ok(&p, &o).peer_role, Some(Role::RouteServerClient));
}

#[test]
fn conflicting_roles_are_a_mismatch() {
    let o = client(
        65001,
        with(
            caps(65001),
            [
                Capability::Role(Role::RouteServerClient),
                Capability::Role(Role::Peer),
            ],
        ),
    );
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::RoleMismatch);
    let same = Capability::Role(Role::RouteServerClient);
    let o = client(65001, with(caps(65001), [same.clone(), same]));
    assert_eq!(
        ok(&peer(65001), &o).peer_role,
        Some(Role::RouteServerClient)
    );
}

#[test]
fn role_check_off_ignores_roles() {
    let mut p = peer(65001);
    p.role_check = RoleCheck::Off;
    let o = client(65001, with(caps(65001), [Capability::Role(Role::Peer)]));
    assert_eq!(ok(&p, &o).peer_role, None);
}

#[test]
fn two_route_servers_do_not_peer() {
    // Another route server's OPEN: it also declares itself a route server.
    let other = ServerConfig {
        asn: Asn(65001),
        router_id: CLIENT_ID,
        ..server()
    };
    let theirs = our_open(&other, &peer(65000));
    assert_eq!(refused(&peer(65001), &theirs), OpenSubcode::RoleMismatch);
    let mut p = peer(65001);
    p.role_check = RoleCheck::Off;
    let n = ok(&p, &theirs);
    assert!(n.enhanced_route_refresh && n.extended_message && n.graceful_restart.is_some());
}

#[test]
fn ibgp_and_ebgp_contexts() {
    let n = ok(&peer(65001), &client(65001, caps(65001)));
    assert!(n.ebgp && n.rx.ebgp && n.tx.ebgp);
    // iBGP: roles are not checked, even in strict mode.
    let mut p = peer(65000);
    p.role_check = RoleCheck::Strict;
    let o = client(65000, with(caps(65000), [Capability::Role(Role::Peer)]));
    let n = ok(&p, &o);
    assert!(!n.ebgp && !n.rx.ebgp && !n.tx.ebgp);
    assert_eq!(n.peer_role, None);
}

#[test]
fn hostname_from_fqdn() {
    let fqdn = |h: &'static [u8], d: &'static [u8]| Capability::Fqdn {
        hostname: Bytes::from_static(h),
        domain: Bytes::from_static(d),
    };
    for (cap, want) in [
        (fqdn(b"edge1", b""), Some("edge1")),
        (fqdn(b"edge1", b"example.net"), Some("edge1.example.net")),
        (fqdn(b"r\xffx", b""), Some("r\u{fffd}x")),
        (fqdn(b"a\nb", b"c\x1b"), Some("a\u{fffd}b.c\u{fffd}")),
        (fqdn(b"", b"example.net"), None),
    ] {
        let n = ok(&peer(65001), &client(65001, with(caps(65001), [cap])));
        assert_eq!(n.hostname.as_deref(), want);
    }
}

#[test]
fn long_lived_gr_is_reported_for_negotiated_families() {
    let entry = |afi_safi| LlgrFamily {
        afi_safi,
        flags: 0x80,
        stale_time: 86400,
    };
    let cap = Capability::LongLivedGracefulRestart(vec![
        entry(AfiSafi::IPV4_UNICAST),
        entry(AfiSafi::IPV6_UNICAST),
    ]);
    let mut p = peer(65001);
    p.families = V4;
    let n = ok(&p, &client(65001, with(caps(65001), [cap])));
    assert_eq!(n.long_lived_gr, vec![entry(AfiSafi::IPV4_UNICAST)]);
}

#[test]
fn checks_run_in_rfc_4271_order() {
    // Bad AS, bad hold time and bad identifier: the AS is reported.
    let mut o = client(65002, caps(65002));
    o.hold_time = 1;
    o.bgp_id = Ipv4Addr::UNSPECIFIED;
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::BadPeerAs);
    o = client(65001, caps(65001));
    o.hold_time = 1;
    o.bgp_id = Ipv4Addr::UNSPECIFIED;
    assert_eq!(refused(&peer(65001), &o), OpenSubcode::UnacceptableHoldTime);
}

// ---- OPENs captured from other implementations ----

fn vector(name: &str) -> Open {
    let path = format!(
        "{}/tests/data/vectors/{name}-open.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    Open::decode(&Bytes::from(std::fs::read(path).unwrap())).unwrap()
}

fn peer_with(asn: u32, role_check: RoleCheck, add_path: AddPathMode) -> PeerConfig {
    PeerConfig {
        role_check,
        add_path,
        ..peer(asn)
    }
}

#[test]
fn bird_as_a_route_server_is_refused_unless_roles_are_off() {
    let o = vector("bird");
    let p = peer_with(4_200_000_001, RoleCheck::On, AddPathMode::Off);
    assert_eq!(refused(&p, &o), OpenSubcode::RoleMismatch);
    let p = peer_with(4_200_000_001, RoleCheck::Off, AddPathMode::Both);
    let n = ok(&p, &o);
    assert_eq!(n.peer_asn, Asn(4_200_000_001));
    assert_eq!(n.peer_id, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!((n.hold_time, n.keepalive_interval), (90, 30));
    assert_eq!(n.families, FamilySet::ALL);
    assert!(n.four_octet_as && n.route_refresh && n.enhanced_route_refresh);
    assert!(n.extended_message && n.rx.extended_message);
    assert_eq!(
        (n.rx.add_path, n.tx.add_path),
        (FamilySet::EMPTY, FamilySet::EMPTY)
    );
    assert_eq!(
        n.graceful_restart,
        Some(PeerGracefulRestart {
            restart_time: Duration::from_secs(120),
            families: FamilySet::ALL,
            forwarding_preserved: FamilySet::EMPTY,
            restarting: false,
            notification: false,
        })
    );
    assert_eq!(n.long_lived_gr.len(), 2);
    assert!(n.long_lived_gr.iter().all(|e| e.stale_time == 3600));
    assert_eq!(n.peer_role, None);
    assert_eq!(n.hostname.as_deref(), Some("bird-test"));
    assert!(n.ebgp);
}

#[test]
fn gobgp_negotiates() {
    let o = vector("gobgp");
    let p = peer_with(4_200_000_002, RoleCheck::On, AddPathMode::Off);
    let n = ok(&p, &o);
    assert_eq!(n.peer_asn, Asn(4_200_000_002));
    assert_eq!(n.peer_id, Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(n.hold_time, 90);
    assert_eq!(n.families, FamilySet::ALL);
    assert!(n.four_octet_as && n.route_refresh);
    assert!(!n.enhanced_route_refresh && !n.extended_message);
    // N bit set by gobgp, but peerex does not offer graceful notification.
    assert_eq!(
        n.graceful_restart,
        Some(PeerGracefulRestart {
            restart_time: Duration::from_secs(120),
            families: FamilySet::ALL,
            forwarding_preserved: FamilySet::EMPTY,
            restarting: false,
            notification: false,
        })
    );
    assert_eq!(n.long_lived_gr.len(), 2);
    assert_eq!(n.peer_role, None);
    assert_eq!(n.hostname.as_deref(), Some("gobgp-test"));
    // It sends no role, so strict checking refuses it.
    let strict = peer_with(4_200_000_002, RoleCheck::Strict, AddPathMode::Off);
    assert_eq!(refused(&strict, &o), OpenSubcode::RoleMismatch);
    // The wrong ASN configured.
    assert_eq!(refused(&peer(4_200_000_001), &o), OpenSubcode::BadPeerAs);
}

#[test]
fn exabgp_negotiates_add_path_receive() {
    let o = vector("exabgp");
    let p = peer_with(4_200_000_003, RoleCheck::On, AddPathMode::Receive);
    let n = ok(&p, &o);
    assert_eq!(n.peer_asn, Asn(4_200_000_003));
    assert_eq!(n.peer_id, Ipv4Addr::new(10, 0, 0, 3));
    assert_eq!(n.families, FamilySet::ALL);
    // exabgp sends paths; we receive them.
    assert_eq!(
        (n.rx.add_path, n.tx.add_path),
        (FamilySet::ALL, FamilySet::EMPTY)
    );
    assert!(n.route_refresh && n.enhanced_route_refresh && n.extended_message);
    assert!(n.rx.four_octet_as && n.tx.extended_message);
    assert_eq!(
        n.graceful_restart,
        Some(PeerGracefulRestart {
            restart_time: Duration::from_secs(120),
            families: FamilySet::ALL,
            forwarding_preserved: FamilySet::ALL,
            restarting: true,
            notification: false,
        })
    );
    assert!(n.long_lived_gr.is_empty());
    assert_eq!((n.peer_role, n.hostname), (None, None));
    // We only send paths; exabgp does not receive them.
    let p = peer_with(4_200_000_003, RoleCheck::On, AddPathMode::Send);
    let n = ok(&p, &o);
    assert_eq!(
        (n.rx.add_path, n.tx.add_path),
        (FamilySet::EMPTY, FamilySet::EMPTY)
    );
}

#[test]
fn frr_negotiates_with_roles_off() {
    let o = vector("frr");
    let p = peer_with(4_200_000_004, RoleCheck::On, AddPathMode::Both);
    assert_eq!(refused(&p, &o), OpenSubcode::RoleMismatch);
    let p = peer_with(4_200_000_004, RoleCheck::Off, AddPathMode::Both);
    let n = ok(&p, &o);
    assert_eq!(n.peer_asn, Asn(4_200_000_004));
    assert_eq!(n.peer_id, Ipv4Addr::new(10, 0, 0, 4));
    // FRR offers 180 s; ours is 90.
    assert_eq!((n.hold_time, n.keepalive_interval), (90, 30));
    assert_eq!(n.families, FamilySet::ALL);
    assert_eq!(
        (n.rx.add_path, n.tx.add_path),
        (FamilySet::ALL, FamilySet::ALL)
    );
    assert!(n.route_refresh && n.enhanced_route_refresh && n.extended_message);
    assert_eq!(
        n.graceful_restart,
        Some(PeerGracefulRestart {
            restart_time: Duration::from_secs(120),
            families: FamilySet::ALL,
            forwarding_preserved: FamilySet::EMPTY,
            restarting: true,
            notification: false,
        })
    );
    assert!(n.long_lived_gr.iter().all(|e| e.flags == 0x80));
    assert_eq!(n.long_lived_gr.len(), 2);
    assert_eq!(n.hostname.as_deref(), Some("frr-test"));
}

#[path = "negotiate_llgr_tests.rs"]
mod llgr;
