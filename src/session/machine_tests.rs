//! The session machine driven by sequences of inputs, with no socket and no runtime: the
//! RFC 4271 §8.2.2 transitions a passive or active route server takes, collisions (§6.8)
//! and a restarting peer's new connection (RFC 4724).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::config::{AddPathMode, MaxPrefixes, RoleCheck};
use crate::wire::capability::{GrFamily, GracefulRestart};
use crate::wire::header::MsgType;
use crate::wire::notification::OpenSubcode;
use crate::wire::{AfiSafi, Asn, Capability, ParseCtx};

const SHARDS: usize = 2;

fn server() -> Arc<ServerConfig> {
    Arc::new(ServerConfig {
        asn: Asn(65000),
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        listen: Vec::new(),
        min_hold_time: 3,
    })
}

fn peer_cfg(max_prefixes: Option<MaxPrefixes>) -> Arc<PeerConfig> {
    Arc::new(PeerConfig {
        name: "client".into(),
        asn: Asn(64500),
        address: "192.0.2.10".parse().unwrap(),
        description: None,
        disabled: false,
        passive: true,
        port: 179,
        local_address: None,
        hold_time: 90,
        connect_retry: Duration::from_secs(5),
        families: crate::wire::FamilySet::ALL,
        add_path: AddPathMode::Off,
        add_path_max: 0,
        graceful_restart: true,
        long_lived_stale_time: None,
        role_check: RoleCheck::Off,
        md5_password: None,
        ttl_security: false,
        max_prefixes,
        send_hold_time: None,
    })
}

/// The client's OPEN: IPv4 and IPv6 unicast, 4-octet AS, enhanced route refresh, and
/// graceful restart when `gr`.
fn their_open(asn: u32, gr: bool) -> Open {
    let mut caps = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(Asn(asn)),
    ];
    if gr {
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: 0,
            time: 120,
            families: vec![GrFamily {
                afi_safi: AfiSafi::IPV4_UNICAST,
                flags: GracefulRestart::FORWARDING,
            }],
        }));
    }
    Open::new(Asn(asn), 90, Ipv4Addr::new(198, 51, 100, 1), caps)
}

struct Run {
    m: Machine,
    out: Vec<Output>,
}

impl Run {
    fn start(outbound: bool, max_prefixes: Option<MaxPrefixes>) -> Run {
        let server = server();
        let cfg = peer_cfg(max_prefixes);
        let ours = negotiate::our_open(&server, &cfg);
        let mut out = Vec::new();
        let m = Machine::start(ours, server, cfg, SHARDS, outbound, &mut out);
        Run { m, out }
    }

    /// Feeds one input; returns what it output.
    fn feed(&mut self, i: Input) -> Vec<Output> {
        self.out.clear();
        self.m.process(i, &mut self.out);
        std::mem::take(&mut self.out)
    }

    fn established(gr: bool, max_prefixes: Option<MaxPrefixes>) -> Run {
        let mut r = Run::start(false, max_prefixes);
        r.feed(Input::Message(Message::Open(their_open(64500, gr))));
        let o = r.feed(Input::Message(Message::Keepalive));
        assert!(matches!(o.as_slice(), [Output::Established(_)]), "{o:?}");
        assert_eq!(r.m.state(), fsm::State::Established);
        r
    }
}

/// The types of the messages in `Send` outputs.
fn sent(out: &[Output]) -> Vec<MsgType> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(Message::decode(b.clone(), &ParseCtx::new()).unwrap().kind()),
            _ => None,
        })
        .collect()
}

/// The NOTIFICATION (code, subcode) and reason of the `Close` output, if there is one.
fn closed(out: &[Output]) -> Option<(Option<(u8, u8)>, EndReason)> {
    out.iter().find_map(|o| match o {
        Output::Close {
            notification,
            reason,
        } => Some((
            notification.as_ref().map(|n| n.code.parts()),
            reason.clone(),
        )),
        _ => None,
    })
}

fn refresh_msg(kind: RefreshKind) -> Message {
    Message::RouteRefresh(RouteRefresh {
        afi_safi: AfiSafi::IPV4_UNICAST,
        kind,
    })
}

fn eor_v4() -> Bytes {
    let mut b = BytesMut::new();
    encode_end_of_rib(Family::Ipv4Unicast, &mut b);
    b.freeze()
}

#[test]
fn a_connection_sends_open_and_waits_with_the_large_hold_time() {
    // Connect/Active --TcpConnectionConfirmed--> OpenSent.
    let r = Run::start(true, None);
    assert_eq!(sent(&r.out), vec![MsgType::Open]);
    assert!(r
        .out
        .iter()
        .any(|o| matches!(o, Output::Hold(Some(d)) if *d == fsm::OPEN_HOLD)));
    assert_eq!(r.m.state(), fsm::State::OpenSent);
    assert!(r.m.outbound());
}

#[test]
fn open_sent_to_open_confirm_to_established() {
    let mut r = Run::start(false, None);
    // OpenSent --BGPOpen--> OpenConfirm: KEEPALIVE sent, negotiated hold time and keepalives.
    let o = r.feed(Input::Message(Message::Open(their_open(64500, false))));
    assert_eq!(sent(&o), vec![MsgType::Keepalive]);
    assert!(o
        .iter()
        .any(|o| matches!(o, Output::Hold(Some(d)) if *d == Duration::from_secs(90))));
    assert!(o
        .iter()
        .any(|o| matches!(o, Output::KeepaliveEvery(Some(d)) if *d == Duration::from_secs(30))));
    assert!(o.iter().any(|o| matches!(o, Output::MaxLen(4096))));
    assert_eq!(r.m.state(), fsm::State::OpenConfirm);
    assert_eq!(r.m.negotiated().unwrap().peer_asn, Asn(64500));
    // OpenConfirm --KeepaliveTimer_Expires--> OpenConfirm, sending a KEEPALIVE.
    let o = r.feed(Input::KeepaliveDue);
    assert!(matches!(o.as_slice(), [Output::Keepalive]));
    // OpenConfirm --KeepAliveMsg--> Established.
    let o = r.feed(Input::Message(Message::Keepalive));
    assert!(matches!(o.as_slice(), [Output::Established(n)] if n.peer_asn == Asn(64500)));
    assert_eq!(r.m.state(), fsm::State::Established);
}

#[test]
fn an_unacceptable_open_is_refused_with_its_open_error() {
    let mut r = Run::start(false, None);
    let o = r.feed(Input::Message(Message::Open(their_open(64999, false))));
    let (n, reason) = closed(&o).unwrap();
    assert_eq!(n, Some((2, u8::from(OpenSubcode::BadPeerAs))));
    assert!(matches!(reason, EndReason::OpenRefused(_)));
    assert_eq!(r.m.state(), fsm::State::Idle);
    // Closed: nothing more happens.
    assert!(r.feed(Input::Message(Message::Keepalive)).is_empty());
    assert!(r.feed(Input::HoldExpired).is_empty());
}

#[test]
fn unexpected_messages_are_fsm_errors_in_each_state() {
    let mut r = Run::start(false, None);
    let o = r.feed(Input::Message(Message::Keepalive));
    assert_eq!(closed(&o).unwrap().0, Some((5, 1)), "KEEPALIVE in OpenSent");

    let mut r = Run::start(false, None);
    r.feed(Input::Message(Message::Open(their_open(64500, false))));
    let o = r.feed(Input::Message(refresh_msg(RefreshKind::Request)));
    assert_eq!(
        closed(&o).unwrap().0,
        Some((5, 2)),
        "ROUTE-REFRESH in OpenConfirm"
    );

    let mut r = Run::established(false, None);
    let o = r.feed(Input::Message(Message::Open(their_open(64500, false))));
    let (n, reason) = closed(&o).unwrap();
    assert_eq!(n, Some((5, 3)), "OPEN in Established");
    assert!(matches!(reason, EndReason::ProtocolError { .. }));
}

#[test]
fn every_state_ends_on_hold_timer_notification_connection_loss_and_malformed_input() {
    let states: [fn() -> Run; 3] = [
        || Run::start(true, None),
        || {
            let mut r = Run::start(true, None);
            r.feed(Input::Message(Message::Open(their_open(64500, false))));
            r
        },
        || Run::established(false, None),
    ];
    for make in states {
        let mut r = make();
        let s = r.m.state();
        let (n, reason) = closed(&r.feed(Input::HoldExpired)).unwrap();
        assert_eq!(
            (n, reason),
            (Some((4, 0)), EndReason::HoldTimerExpired),
            "{s}"
        );

        let mut r = make();
        let got = Notification::admin_shutdown("bye");
        let (n, reason) =
            closed(&r.feed(Input::Message(Message::Notification(got.clone())))).unwrap();
        assert_eq!(
            (n, reason),
            (None, EndReason::NotificationReceived(got)),
            "{s}"
        );

        let mut r = make();
        let (n, reason) = closed(&r.feed(Input::Closed(ConnError::Closed))).unwrap();
        assert_eq!(n, None, "{s}");
        assert!(reason.keeps_stale(), "{s}: a silent loss keeps GR routes");

        let mut r = make();
        let bad = Notification::new(NotifCode::new(1, 2), Bytes::new());
        let o = r.feed(Input::Malformed {
            notification: bad,
            fault: "bad length".into(),
        });
        let (n, reason) = closed(&o).unwrap();
        assert_eq!(n, Some((1, 2)), "{s}");
        assert!(matches!(reason, EndReason::ProtocolError { fault, .. } if fault == "bad length"));
        assert_eq!(r.m.state(), fsm::State::Idle);
    }
}

#[test]
fn operator_commands_end_a_session_with_their_cease() {
    let cases = [
        (PeerCmd::Disable(Some("maint".into())), 2, "admin_disable"),
        (PeerCmd::Shutdown(None), 2, "server_shutdown"),
        (PeerCmd::Reset(None), 4, "admin_reset"),
        (PeerCmd::Remove, 3, "deconfigured"),
        (PeerCmd::Reconfigure, 6, "config_changed"),
    ];
    for (cmd, sub, label) in cases {
        for mut r in [Run::start(true, None), Run::established(false, None)] {
            let (n, reason) = closed(&r.feed(Input::Admin(cmd.clone()))).unwrap();
            assert_eq!(n, Some((6, sub)), "{cmd:?}");
            assert_eq!(reason.label(), label);
        }
    }
    // Enable and refresh-in keep the session.
    let mut r = Run::established(false, None);
    assert!(r.feed(Input::Admin(PeerCmd::Enable)).is_empty());
    let o = r.feed(Input::Admin(PeerCmd::RefreshIn));
    assert_eq!(sent(&o), vec![MsgType::RouteRefresh, MsgType::RouteRefresh]);
}

#[test]
fn keepalives_and_send_hold_while_established() {
    let mut r = Run::established(false, None);
    assert!(matches!(
        r.feed(Input::KeepaliveDue).as_slice(),
        [Output::Keepalive]
    ));
    assert!(r.feed(Input::Message(Message::Keepalive)).is_empty());
    let (n, reason) = closed(&r.feed(Input::SendHoldExpired)).unwrap();
    assert_eq!((n, reason), (Some((8, 0)), EndReason::SendHoldTimerExpired));
}

#[test]
fn end_of_rib_once_every_shard_finished_the_initial_dump() {
    let mut r = Run::established(false, None);
    let v4 = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    assert!(r.feed(Input::DumpDone(v4)).is_empty(), "one shard of two");
    let o = r.feed(Input::DumpDone(v4));
    assert!(matches!(o.as_slice(), [Output::Send(b)] if *b == eor_v4()));
    // A later pass of the same family (not a refresh) sends nothing.
    r.feed(Input::DumpDone(v4));
    assert!(r.feed(Input::DumpDone(v4)).is_empty());
}

#[test]
fn enhanced_route_refresh_is_framed_by_borr_and_eorr() {
    let mut r = Run::established(false, None);
    let all = FamilySet::ALL;
    r.feed(Input::DumpDone(all));
    r.feed(Input::DumpDone(all));
    let o = r.feed(Input::Message(refresh_msg(RefreshKind::Request)));
    assert_eq!(sent(&o), vec![MsgType::RouteRefresh]);
    assert!(o
        .iter()
        .any(|o| matches!(o, Output::Refresh(Family::Ipv4Unicast))));
    let v4 = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    r.feed(Input::DumpDone(v4));
    let o = r.feed(Input::DumpDone(v4));
    let Some(Output::Send(b)) = o.first() else {
        panic!("{o:?}")
    };
    let Message::RouteRefresh(rr) = Message::decode(b.clone(), &ParseCtx::new()).unwrap() else {
        panic!()
    };
    assert_eq!(rr.kind, RefreshKind::End);
}

#[test]
fn prefix_limits_warn_reset_or_restart() {
    let mp = |action| {
        Some(MaxPrefixes {
            limits: [Some(10), None],
            action,
        })
    };
    let v4 = Family::Ipv4Unicast;
    let mut r = Run::established(false, mp(MaxPrefixAction::Warn));
    assert!(r.feed(Input::PrefixCount(v4, 11)).is_empty());
    assert!(r.m.warned_max_prefix());
    assert_eq!(r.m.state(), fsm::State::Established);

    let mut r = Run::established(false, mp(MaxPrefixAction::Reset));
    assert!(
        r.feed(Input::PrefixCount(v4, 10)).is_empty(),
        "at the limit is fine"
    );
    let (n, reason) = closed(&r.feed(Input::PrefixCount(v4, 11))).unwrap();
    assert_eq!(n, Some((6, 1)));
    assert_eq!(
        reason,
        EndReason::MaxPrefixes {
            family: v4,
            limit: 10
        }
    );

    let after = Duration::from_secs(60);
    let mut r = Run::established(false, mp(MaxPrefixAction::Restart(after)));
    let o = r.feed(Input::PrefixCount(v4, 11));
    assert!(matches!(o.first(), Some(Output::HoldOff(d)) if *d == after));
    assert!(closed(&o).is_some());
    // No limit on IPv6.
    let mut r = Run::established(false, mp(MaxPrefixAction::Reset));
    assert!(r
        .feed(Input::PrefixCount(Family::Ipv6Unicast, 1_000_000))
        .is_empty());
}

#[test]
fn collisions_before_established_contend_or_take_the_newer() {
    // We connected out and the peer connected in: both run, identifiers decide.
    let mut r = Run::start(true, None);
    let o = r.feed(Input::SecondConnection);
    assert!(matches!(o.as_slice(), [Output::Second(Second::Contend)]));
    r.feed(Input::Message(Message::Open(their_open(64500, false))));
    let o = r.feed(Input::SecondConnection);
    assert!(matches!(o.as_slice(), [Output::Second(Second::Contend)]));
    // Two connections from the peer: the older one is given up.
    let mut r = Run::start(false, None);
    let o = r.feed(Input::SecondConnection);
    assert!(matches!(o.as_slice(), [Output::Second(Second::TakeNew)]));
    // RFC 4271 §6.8: the connection of the speaker with the higher identifier survives.
    assert!(
        keep_first(2, 1, true),
        "ours higher: keep our outbound connection"
    );
    assert!(!keep_first(2, 1, false));
    assert!(
        keep_first(1, 2, false),
        "theirs higher: keep the inbound one"
    );
    assert!(!keep_first(1, 2, true));
}

#[test]
fn a_second_connection_while_established_is_refused_without_graceful_restart() {
    let mut r = Run::established(false, None);
    let o = r.feed(Input::SecondConnection);
    let [Output::Second(Second::Refuse(n))] = o.as_slice() else {
        panic!("{o:?}")
    };
    assert_eq!(
        n.code.parts(),
        (6, 7),
        "Cease / Connection Collision Resolution"
    );
    assert_eq!(r.m.state(), fsm::State::Established);
}

#[test]
fn a_restarting_peer_replaces_its_session_and_keeps_its_routes_stale() {
    let mut r = Run::established(true, None);
    let o = r.feed(Input::SecondConnection);
    assert!(matches!(o.first(), Some(Output::Second(Second::TakeNew))));
    let (n, reason) = closed(&o).unwrap();
    assert_eq!((n, reason.clone()), (None, EndReason::Replaced));
    assert!(reason.keeps_stale());
    assert_eq!(r.m.state(), fsm::State::Idle);
}

#[test]
fn the_reader_applies_routes_and_demarcations_itself() {
    let fams = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    assert!(matches!(
        receive(Message::Keepalive, fams),
        Received::Nothing
    ));
    assert!(matches!(
        receive(refresh_msg(RefreshKind::Begin), fams),
        Received::MarkStale(Family::Ipv4Unicast)
    ));
    assert!(matches!(
        receive(refresh_msg(RefreshKind::End), fams),
        Received::EndOfRefresh(Family::Ipv4Unicast)
    ));
    assert!(matches!(
        receive(refresh_msg(RefreshKind::Request), fams),
        Received::Session(Input::Message(Message::RouteRefresh(_)))
    ));
    assert!(matches!(
        receive(refresh_msg(RefreshKind::Begin), FamilySet::EMPTY),
        Received::Nothing
    ));
    let n = Message::Notification(Notification::admin_shutdown(""));
    assert!(matches!(receive(n, fams), Received::Session(_)));
}
