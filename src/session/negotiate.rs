//! The OPEN peerex sends and the negotiation of one session's parameters from the two OPENs.
//!
//! Owns: which capabilities a route server offers a peer, the semantic OPEN checks that need
//! configuration (peer AS, BGP identifier, hold time, families, BGP role), and the resulting
//! [`Negotiated`] parameters, including the two [`ParseCtx`]s the codec uses.
//! Never: I/O, timers, or the state machine (a failed negotiation is a [`Notification`] for
//! the caller to send before closing).
//!
//! What is usable is decided from the two OPENs as sent (`ours` is normally
//! [`our_open`]'s result); the configuration adds the checks and limits a peer's OPEN
//! cannot override.

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::BytesMut;

use crate::config::{AddPathMode, PeerConfig, RoleCheck, ServerConfig};
use crate::wire::capability::{AddPathEntry, GracefulRestart, LlgrFamily, Role};
use crate::wire::notification::OpenSubcode;
use crate::wire::ParseCtx;
use crate::wire::{AfiSafi, Asn, Capability, Family, FamilySet, NotifCode, Notification, Open};

/// The restart time peerex advertises in its graceful restart capability (RFC 4724). peerex
/// only helps restarting peers; the value tells a peer how long to wait for us after a
/// session loss, and no family entries say we keep no forwarding state ourselves.
pub const OUR_RESTART_TIME: u16 = 120;

/// The pre-standard route refresh capability code some speakers still send (Cisco).
const OLD_ROUTE_REFRESH: u8 = 128;

/// The session parameters agreed with one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_asn: Asn,
    pub peer_id: Ipv4Addr,
    /// Seconds; 0 means no keepalives and no hold timer.
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs: `hold_time / 3`, 0 when `hold_time` is 0.
    pub keepalive_interval: u16,
    /// Routed families both sides advertised (and the peer's configuration allows).
    pub families: FamilySet,
    /// 4-octet AS numbers (RFC 6793) in both directions.
    pub four_octet_as: bool,
    /// How to decode what the peer sends.
    pub rx: ParseCtx,
    /// How to encode what we send.
    pub tx: ParseCtx,
    /// We may send the peer ROUTE-REFRESH (RFC 2918; code 2 or the old code 128).
    pub route_refresh: bool,
    /// Both sides support enhanced route refresh (RFC 7313): BoRR/EoRR demarcation.
    pub enhanced_route_refresh: bool,
    /// Messages up to 65,535 octets in both directions (RFC 8654).
    pub extended_message: bool,
    /// The peer's graceful restart capability, when we act as its helper (RFC 4724).
    pub graceful_restart: Option<PeerGracefulRestart>,
    /// The peer's long-lived graceful restart entries for negotiated families (RFC 9494).
    /// Informational: peerex does not advertise LLGR, so it is not in effect.
    pub long_lived_gr: Vec<LlgrFamily>,
    /// The role the peer declared (RFC 9234) when roles are checked on this session.
    pub peer_role: Option<Role>,
    /// From the FQDN capability: "host" or "host.domain" (lossy UTF-8, control characters
    /// replaced).
    pub hostname: Option<String>,
    /// The peer is in another AS.
    pub ebgp: bool,
}

/// What the peer's graceful restart capability (RFC 4724, RFC 8538) tells its helper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerGracefulRestart {
    /// How long to keep the peer's routes (as stale) while waiting for it to come back.
    pub restart_time: Duration,
    /// Negotiated families the capability lists: only these may be kept across a restart.
    pub families: FamilySet,
    /// Those of `families` whose forwarding state the peer preserved (F bit).
    pub forwarding_preserved: FamilySet,
    /// The peer has just restarted (R bit): do not wait for its End-of-RIB before sending.
    pub restarting: bool,
    /// Graceful notification (RFC 8538): a NOTIFICATION other than Hard Reset also starts the
    /// helper procedure. True only when both OPENs set the N bit.
    pub notification: bool,
}

/// What peerex offers a peer, from the server settings and the peer's resolved config.
pub fn our_open(server: &ServerConfig, peer: &PeerConfig) -> Open {
    let mut caps: Vec<Capability> = peer
        .families
        .iter()
        .map(|f| Capability::Multiprotocol(f.afi_safi()))
        .collect();
    caps.extend([
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(server.asn),
        Capability::ExtendedMessage,
    ]);
    let send_receive = match peer.add_path {
        AddPathMode::Off => 0,
        AddPathMode::Receive => AddPathEntry::RECEIVE,
        AddPathMode::Send => AddPathEntry::SEND,
        AddPathMode::Both => AddPathEntry::BOTH,
    };
    if send_receive != 0 && !peer.families.is_empty() {
        caps.push(Capability::AddPath(
            peer.families
                .iter()
                .map(|f| AddPathEntry {
                    afi_safi: f.afi_safi(),
                    send_receive,
                })
                .collect(),
        ));
    }
    if peer.graceful_restart {
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: 0,
            time: OUR_RESTART_TIME,
            families: Vec::new(),
        }));
    }
    if checks_roles(server, peer) {
        caps.push(Capability::Role(Role::RouteServer));
    }
    Open::new(server.asn, peer.hold_time, server.router_id, caps)
}

/// Checks the peer's OPEN against its config and our OPEN; returns the session parameters or
/// the NOTIFICATION to send (and then close).
///
/// Checks run in RFC 4271 §6.2 order (peer AS, hold time, BGP identifier), then the
/// families, then the BGP role.
pub fn negotiate(
    server: &ServerConfig,
    peer: &PeerConfig,
    ours: &Open,
    theirs: &Open,
) -> Result<Negotiated, Notification> {
    let peer_asn = check_peer_as(peer, theirs)?;
    let ebgp = peer.asn != server.asn;

    let hold = theirs.hold_time;
    if hold == 1 || hold == 2 || (hold != 0 && hold < server.min_hold_time) {
        return Err(open_error(OpenSubcode::UnacceptableHoldTime));
    }
    let hold_time = ours.hold_time.min(hold);

    if theirs.bgp_id.is_unspecified() || (!ebgp && theirs.bgp_id == ours.bgp_id) {
        return Err(open_error(OpenSubcode::BadBgpIdentifier));
    }

    let our_families = families_of(ours).intersection(peer.families);
    let families = our_families.intersection(families_of(theirs));
    if families.is_empty() {
        return Err(unsupported_families(ours));
    }

    let peer_role = if checks_roles(server, peer) {
        check_role(peer.role_check, theirs)?
    } else {
        None
    };

    let both = |pred: fn(&Capability) -> bool| {
        ours.capabilities.iter().any(pred) && theirs.capabilities.iter().any(pred)
    };
    let four_octet_as = both(|c| matches!(c, Capability::FourOctetAs(_)));
    let extended_message = both(|c| matches!(c, Capability::ExtendedMessage));
    let enhanced_route_refresh = both(|c| matches!(c, Capability::EnhancedRouteRefresh));
    let route_refresh = ours
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::RouteRefresh))
        && theirs.capabilities.iter().any(|c| {
            matches!(c, Capability::RouteRefresh)
                || matches!(c, Capability::Unknown { code, .. } if *code == OLD_ROUTE_REFRESH)
        });

    let (our_rx, our_tx) = add_path_of(ours);
    let (their_rx, their_tx) = add_path_of(theirs);
    let ctx = |add_path: FamilySet| ParseCtx {
        four_octet_as,
        add_path: add_path.intersection(families),
        extended_message,
        ebgp,
    };

    Ok(Negotiated {
        peer_asn,
        peer_id: theirs.bgp_id,
        hold_time,
        keepalive_interval: hold_time / 3,
        families,
        four_octet_as,
        rx: ctx(our_rx.intersection(their_tx)),
        tx: ctx(our_tx.intersection(their_rx)),
        route_refresh,
        enhanced_route_refresh,
        extended_message,
        graceful_restart: graceful_restart(ours, theirs, families),
        long_lived_gr: theirs
            .capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::LongLivedGracefulRestart(list) => Some(list),
                _ => None,
            })
            .flatten()
            .filter(|e| e.afi_safi.family().is_some_and(|f| families.contains(f)))
            .copied()
            .collect(),
        peer_role,
        hostname: hostname(theirs),
        ebgp,
    })
}

fn open_error(sub: OpenSubcode) -> Notification {
    Notification::new(NotifCode::Open(sub), Vec::new())
}

/// Roles (RFC 9234) describe eBGP relationships: checked and sent on eBGP sessions only.
fn checks_roles(server: &ServerConfig, peer: &PeerConfig) -> bool {
    peer.role_check != RoleCheck::Off && peer.asn != server.asn
}

/// The peer's ASN (RFC 6793 §4.2), which must be the configured one.
fn check_peer_as(peer: &PeerConfig, theirs: &Open) -> Result<Asn, Notification> {
    let bad = || open_error(OpenSubcode::BadPeerAs);
    let my_as = Asn(u32::from(theirs.my_as));
    let four_octet = theirs.capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(a) => Some(*a),
        _ => None,
    });
    let asn = match four_octet {
        // An ASN that fits two octets must be the one in the My AS field too.
        Some(a) if a.is_16bit() && a != my_as => return Err(bad()),
        Some(a) => a,
        // AS_TRANS stands in for a 4-octet ASN the peer did not tell us.
        None if my_as == Asn::TRANS => return Err(bad()),
        None => my_as,
    };
    if asn == peer.asn {
        Ok(asn)
    } else {
        Err(bad())
    }
}

/// The routed families an OPEN offers; with no multiprotocol capability at all, IPv4 unicast
/// (RFC 4760 §8).
fn families_of(open: &Open) -> FamilySet {
    let mut set = FamilySet::EMPTY;
    let mut any = false;
    for c in &open.capabilities {
        if let Capability::Multiprotocol(afi_safi) = c {
            any = true;
            if let Some(f) = afi_safi.family() {
                set.insert(f);
            }
        }
    }
    if any {
        set
    } else {
        FamilySet::EMPTY.with(Family::Ipv4Unicast)
    }
}

/// OPEN / Unsupported Capability carrying our multiprotocol capabilities (RFC 5492 §5).
fn unsupported_families(ours: &Open) -> Notification {
    let mut data = BytesMut::new();
    let mut mp = ours
        .capabilities
        .iter()
        .filter(|c| matches!(c, Capability::Multiprotocol(_)))
        .peekable();
    if mp.peek().is_none() {
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST).encode(&mut data);
    }
    for c in mp {
        c.encode(&mut data);
    }
    Notification::new(
        NotifCode::Open(OpenSubcode::UnsupportedCapability),
        data.freeze(),
    )
}

/// The peer's role when it is acceptable for a route server's client (RFC 9234 §4.2).
fn check_role(check: RoleCheck, theirs: &Open) -> Result<Option<Role>, Notification> {
    let mismatch = || open_error(OpenSubcode::RoleMismatch);
    let mut roles = theirs.capabilities.iter().filter_map(|c| match c {
        Capability::Role(r) => Some(*r),
        _ => None,
    });
    let role = roles.next();
    // Several role capabilities must agree.
    if roles.any(|r| Some(r) != role) {
        return Err(mismatch());
    }
    match role {
        Some(Role::RouteServerClient) => Ok(role),
        Some(_) => Err(mismatch()),
        None if check == RoleCheck::Strict => Err(mismatch()),
        None => Ok(None),
    }
}

/// The families an OPEN's ADD-PATH capabilities offer to (receive, send). A capability with
/// a Send/Receive value other than 1–3 is ignored (RFC 7911 §4); for a family listed twice the
/// last entry counts.
fn add_path_of(open: &Open) -> (FamilySet, FamilySet) {
    let entries: Vec<&AddPathEntry> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::AddPath(list)
                if list
                    .iter()
                    .all(|e| (1..=AddPathEntry::BOTH).contains(&e.send_receive)) =>
            {
                Some(list)
            }
            _ => None,
        })
        .flatten()
        .collect();
    let (mut receive, mut send) = (FamilySet::EMPTY, FamilySet::EMPTY);
    for f in Family::ALL {
        if let Some(e) = entries
            .iter()
            .rev()
            .find(|e| e.afi_safi.family() == Some(f))
        {
            if e.receive() {
                receive.insert(f);
            }
            if e.send() {
                send.insert(f);
            }
        }
    }
    (receive, send)
}

fn graceful_restart_cap(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

/// The peer's graceful restart parameters when both sides sent the capability.
fn graceful_restart(
    ours: &Open,
    theirs: &Open,
    families: FamilySet,
) -> Option<PeerGracefulRestart> {
    let our_gr = graceful_restart_cap(ours)?;
    let gr = graceful_restart_cap(theirs)?;
    let (mut listed, mut forwarding) = (FamilySet::EMPTY, FamilySet::EMPTY);
    for e in &gr.families {
        let Some(f) = e.afi_safi.family().filter(|f| families.contains(*f)) else {
            continue;
        };
        listed.insert(f);
        if e.flags & GracefulRestart::FORWARDING != 0 {
            forwarding.insert(f);
        }
    }
    Some(PeerGracefulRestart {
        restart_time: Duration::from_secs(u64::from(gr.time)),
        families: listed,
        forwarding_preserved: forwarding,
        restarting: gr.flags & GracefulRestart::RESTART_STATE != 0,
        notification: gr.flags & our_gr.flags & GracefulRestart::NOTIFICATION != 0,
    })
}

/// "host" or "host.domain" from the FQDN capability; `None` without one or with an empty host.
fn hostname(open: &Open) -> Option<String> {
    let (host, domain) = open.capabilities.iter().find_map(|c| match c {
        Capability::Fqdn { hostname, domain } => Some((hostname, domain)),
        _ => None,
    })?;
    if host.is_empty() {
        return None;
    }
    let mut name = String::from_utf8_lossy(host).into_owned();
    if !domain.is_empty() {
        name.push('.');
        name.push_str(&String::from_utf8_lossy(domain));
    }
    Some(
        name.chars()
            .map(|c| {
                if c.is_control() {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
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

    fn with(
        mut caps: Vec<Capability>,
        more: impl IntoIterator<Item = Capability>,
    ) -> Vec<Capability> {
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
}
