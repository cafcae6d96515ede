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
    /// The peer's long-lived graceful restart entries for negotiated families (RFC 9494), as
    /// received (shown whether or not LLGR is in effect).
    pub long_lived_gr: Vec<LlgrFamily>,
    /// Long-lived graceful restart in effect (RFC 9494): both sides sent the LLGR and the GR
    /// capabilities. The peer then also takes long-lived stale routes from others.
    pub llgr: Option<PeerLlgr>,
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

/// What the peer's long-lived graceful restart capability tells its helper (RFC 9494).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerLlgr {
    /// Per negotiated family the capability lists with a non-zero time: how long its routes
    /// stay long-lived stale, the smaller of the peer's time and ours.
    pub stale_times: Vec<(Family, Duration)>,
    /// Families whose forwarding state the peer preserved (the capability's F bit).
    pub forwarding_preserved: FamilySet,
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
    if let (true, Some(t)) = (peer.graceful_restart, peer.long_lived_stale_time) {
        // RFC 9494 §3: with the GR capability; F bit clear, peerex keeps no forwarding state.
        let stale_time = t.as_secs().min(0x00ff_ffff) as u32;
        caps.push(Capability::LongLivedGracefulRestart(
            peer.families
                .iter()
                .map(|f| LlgrFamily {
                    afi_safi: f.afi_safi(),
                    flags: 0,
                    stale_time,
                })
                .collect(),
        ));
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
        llgr: long_lived(ours, theirs, families),
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

fn llgr_cap(open: &Open) -> Option<&[LlgrFamily]> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::LongLivedGracefulRestart(l) => Some(l.as_slice()),
        _ => None,
    })
}

/// LLGR in effect when both sides sent it with the GR capability (RFC 9494 §3: without GR
/// it is ignored); each family's long-lived stale time is the smaller of both sides'.
fn long_lived(ours: &Open, theirs: &Open, families: FamilySet) -> Option<PeerLlgr> {
    graceful_restart_cap(ours)?;
    graceful_restart_cap(theirs)?;
    let our = llgr_cap(ours)?;
    let mut out = PeerLlgr {
        stale_times: Vec::new(),
        forwarding_preserved: FamilySet::EMPTY,
    };
    for e in llgr_cap(theirs)? {
        let Some(f) = e.afi_safi.family().filter(|f| families.contains(*f)) else {
            continue;
        };
        let mine = our.iter().find(|o| o.afi_safi == e.afi_safi);
        let secs = mine.map_or(0, |o| o.stale_time.min(e.stale_time));
        if secs > 0 && !out.stale_times.iter().any(|(g, _)| *g == f) {
            out.stale_times
                .push((f, Duration::from_secs(u64::from(secs))));
        }
        if e.flags & LLGR_FORWARDING != 0 {
            out.forwarding_preserved.insert(f);
        }
    }
    Some(out)
}

/// The F bit of an LLGR capability entry (RFC 9494 §3).
const LLGR_FORWARDING: u8 = 0x80;

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
#[path = "negotiate_tests.rs"]
mod tests;
