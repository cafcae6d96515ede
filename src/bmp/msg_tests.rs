//! The BMP codec: every message type round-trips (property), real BGP messages built by
//! `wire` ride inside unchanged, hand-checked bytes for the fixed layouts, and the decoder
//! survives every truncation and byte flip of valid messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::msg::*;
use crate::wire::{
    AsPath, Asn, Capability, Nlri, Notification, Open, Origin, ParseCtx, PathAttributes,
    UpdateMessage,
};

fn peer(addr: IpAddr) -> PeerHeader {
    PeerHeader {
        peer_type: PeerType::Global,
        flags: 0,
        distinguisher: 0,
        address: addr,
        asn: 64500,
        bgp_id: Ipv4Addr::new(192, 0, 2, 1),
        timestamp_secs: 1_700_000_000,
        timestamp_micros: 250_000,
    }
}

fn real_open() -> Bytes {
    let mut b = BytesMut::new();
    Open::new(
        Asn(64500),
        90,
        Ipv4Addr::new(192, 0, 2, 1),
        vec![Capability::FourOctetAs(Asn(64500))],
    )
    .encode(&mut b);
    b.freeze()
}

fn real_update() -> Bytes {
    let msg = UpdateMessage {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(64500), Asn(64501)])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri {
            path_id: None,
            prefix: "198.51.100.0/24".parse().unwrap(),
        }],
        ..UpdateMessage::default()
    };
    let mut b = BytesMut::new();
    msg.encode(&ParseCtx::default(), &mut b).unwrap();
    b.freeze()
}

fn real_notification() -> Bytes {
    let mut b = BytesMut::new();
    Notification::admin_shutdown("maintenance").encode(4096, &mut b);
    b.freeze()
}

fn decode_all(b: &Bytes) -> Message {
    let (m, used) = Message::decode(b).unwrap().unwrap();
    assert_eq!(used, b.len());
    m
}

#[test]
fn initiation_bytes_are_as_the_rfc_lays_them_out() {
    let m = Message::Initiation(vec![
        InfoTlv::text(info::SYS_NAME, "rs1"),
        InfoTlv::text(info::SYS_DESCR, "peerex"),
    ]);
    let b = m.to_bytes();
    let want: &[u8] = &[
        3, 0, 0, 0, 23, 4, // version, length 6 + 7 + 10, type 4
        0, 2, 0, 3, b'r', b's', b'1', // sysName
        0, 1, 0, 6, b'p', b'e', b'e', b'r', b'e', b'x', // sysDescr
    ];
    assert_eq!(&b[..], want);
    assert_eq!(decode_all(&b), m);
}

#[test]
fn per_peer_header_layout_and_v_flag() {
    let mut p = peer(IpAddr::V6(Ipv6Addr::LOCALHOST));
    p.flags = flags::POST_POLICY; // the encoder adds V itself
    let m = Message::RouteMonitoring {
        peer: p.clone(),
        update: real_update(),
    };
    let b = m.to_bytes();
    assert_eq!(b[6], 0, "peer type global");
    assert_eq!(b[7], flags::IPV6 | flags::POST_POLICY);
    assert_eq!(&b[16..32], &Ipv6Addr::LOCALHOST.octets());
    assert_eq!(&b[32..36], &64500u32.to_be_bytes());
    assert_eq!(
        b.len(),
        COMMON_HEADER_LEN + PEER_HEADER_LEN + real_update().len()
    );
    p.flags |= flags::IPV6;
    assert_eq!(
        decode_all(&b),
        Message::RouteMonitoring {
            peer: p,
            update: real_update()
        }
    );

    // IPv4: twelve zero bytes, then the address; no V flag.
    let b = Message::RouteMonitoring {
        peer: peer(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))),
        update: real_update(),
    }
    .to_bytes();
    assert_eq!(b[7], 0);
    assert_eq!(
        &b[16..32],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 7]
    );
}

#[test]
fn loc_rib_keeps_its_filtered_flag_and_zero_address() {
    let p = PeerHeader {
        peer_type: PeerType::LocRib,
        flags: flags::LOC_RIB_FILTERED,
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ..peer(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    };
    let m = Message::RouteMonitoring {
        peer: p,
        update: real_update(),
    };
    let b = m.to_bytes();
    assert_eq!((b[6], b[7]), (3, flags::LOC_RIB_FILTERED));
    assert_eq!(decode_all(&b), m);
}

#[test]
fn peer_up_and_down_carry_real_bgp_messages() {
    let up = Message::PeerUp {
        peer: peer(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
        body: PeerUp {
            local_address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            local_port: 179,
            remote_port: 40001,
            sent_open: real_open(),
            received_open: real_open(),
            information: vec![InfoTlv::text(info::STRING, "supplier-a")],
        },
    };
    assert_eq!(decode_all(&up.to_bytes()), up);
    for reason in [
        PeerDownReason::LocalNotification(real_notification()),
        PeerDownReason::RemoteNotification(real_notification()),
        PeerDownReason::LocalNoNotification(10),
        PeerDownReason::RemoteNoData,
        PeerDownReason::Deconfigured,
    ] {
        let down = Message::PeerDown {
            peer: peer(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            reason,
        };
        assert_eq!(decode_all(&down.to_bytes()), down);
    }
}

#[test]
fn statistics_shapes_follow_their_lengths() {
    let m = Message::StatisticsReport {
        peer: peer(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
        stats: vec![
            Stat {
                kind: stat::REJECTED_BY_POLICY,
                value: StatValue::Counter(3),
            },
            Stat {
                kind: stat::ADJ_RIB_IN_PRE,
                value: StatValue::Gauge(200_000),
            },
            Stat {
                kind: stat::ADJ_RIB_IN_POST_PER_FAMILY,
                value: StatValue::FamilyGauge {
                    afi: 2,
                    safi: 1,
                    value: 5,
                },
            },
        ],
    };
    let b = m.to_bytes();
    // 6 + 42 + count 4 + (4 + 4) + (4 + 8) + (4 + 11)
    assert_eq!(b.len(), 6 + 42 + 4 + 8 + 12 + 15);
    assert_eq!(decode_all(&b), m);
}

#[test]
fn a_stream_is_framed_message_by_message() {
    let mut s = BytesMut::new();
    let a = Message::Initiation(vec![InfoTlv::text(info::SYS_NAME, "rs1")]);
    let b = Message::Termination(vec![InfoTlv {
        kind: term::REASON,
        value: Bytes::from_static(&[0, 0]),
    }]);
    a.encode(&mut s);
    b.encode(&mut s);
    let s = s.freeze();
    let (m1, n1) = Message::decode(&s).unwrap().unwrap();
    let (m2, n2) = Message::decode(&s.slice(n1..)).unwrap().unwrap();
    assert_eq!((m1, m2, n1 + n2), (a, b, s.len()));
    assert_eq!(Message::decode(&s.slice(..n1 - 1)).unwrap(), None);
}

#[test]
fn bad_framing_is_refused() {
    let mut b = Message::Initiation(vec![]).to_bytes().to_vec();
    b[0] = 1;
    assert_eq!(
        Message::decode(&Bytes::from(b.clone())),
        Err(DecodeError::Version(1))
    );
    b[0] = 3;
    b[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Message::decode(&Bytes::from(b.clone())),
        Err(DecodeError::Length(u32::MAX))
    );
    b[1..5].copy_from_slice(&6u32.to_be_bytes());
    b[5] = 6;
    assert_eq!(Message::decode(&Bytes::from(b)), Err(DecodeError::Type(6)));
    // A statistics count far beyond the bytes there.
    let mut m = Message::StatisticsReport {
        peer: peer(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        stats: vec![],
    }
    .to_bytes()
    .to_vec();
    let at = m.len() - 4;
    m[at..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Message::decode(&Bytes::from(m)),
        Err(DecodeError::Truncated(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A whole BGP message of `kind` with a random body.
fn bgp(kind: u8) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(move |body| {
        let mut b = BytesMut::new();
        b.put_bytes(0xff, 16);
        b.put_u16((19 + body.len()) as u16);
        b.put_u8(kind);
        b.put_slice(&body);
        b.freeze()
    })
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn peer_header() -> impl Strategy<Value = PeerHeader> {
    (
        0u8..3,
        any::<u8>(),
        any::<u64>(),
        addr(),
        any::<u32>(),
        any::<[u8; 4]>(),
        any::<(u32, u32)>(),
    )
        .prop_map(|(t, f, d, address, asn, id, (s, us))| PeerHeader {
            peer_type: match t {
                0 => PeerType::Global,
                1 => PeerType::RdInstance,
                _ => PeerType::LocalInstance,
            },
            // What the decoder reads back: V follows the address.
            flags: (f & !flags::IPV6) | if address.is_ipv6() { flags::IPV6 } else { 0 },
            distinguisher: d,
            address,
            asn,
            bgp_id: Ipv4Addr::from(id),
            timestamp_secs: s,
            timestamp_micros: us,
        })
}

fn tlvs() -> impl Strategy<Value = Vec<InfoTlv>> {
    proptest::collection::vec(
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(kind, v)| {
            InfoTlv {
                kind,
                value: Bytes::from(v),
            }
        }),
        0..4,
    )
}

fn stat_value() -> impl Strategy<Value = StatValue> {
    prop_oneof![
        any::<u32>().prop_map(StatValue::Counter),
        any::<u64>().prop_map(StatValue::Gauge),
        (any::<u16>(), any::<u8>(), any::<u64>())
            .prop_map(|(afi, safi, value)| { StatValue::FamilyGauge { afi, safi, value } }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (peer_header(), bgp(2))
            .prop_map(|(peer, update)| Message::RouteMonitoring { peer, update }),
        (
            peer_header(),
            proptest::collection::vec(
                (any::<u16>(), stat_value()).prop_map(|(kind, value)| Stat { kind, value }),
                0..6
            )
        )
            .prop_map(|(peer, stats)| Message::StatisticsReport { peer, stats }),
        (
            peer_header(),
            prop_oneof![
                bgp(3).prop_map(PeerDownReason::LocalNotification),
                any::<u16>().prop_map(PeerDownReason::LocalNoNotification),
                bgp(3).prop_map(PeerDownReason::RemoteNotification),
                Just(PeerDownReason::RemoteNoData),
                Just(PeerDownReason::Deconfigured),
                tlvs().prop_map(PeerDownReason::LocalTlv),
            ]
        )
            .prop_map(|(peer, reason)| Message::PeerDown { peer, reason }),
        (
            peer_header(),
            any::<([u8; 16], u16, u16)>(),
            bgp(1),
            bgp(1),
            tlvs()
        )
            .prop_map(
                |(peer, (local, lp, rp), sent_open, received_open, information)| {
                    let local_address = match peer.address {
                        IpAddr::V4(_) => {
                            let [.., a, b, c, d] = local;
                            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
                        }
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(local)),
                    };
                    Message::PeerUp {
                        peer,
                        body: PeerUp {
                            local_address,
                            local_port: lp,
                            remote_port: rp,
                            sent_open,
                            received_open,
                            information,
                        },
                    }
                }
            ),
        tlvs().prop_map(Message::Initiation),
        tlvs().prop_map(Message::Termination),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips(m in message()) {
        let b = m.to_bytes();
        let (back, used) = Message::decode(&b).unwrap().unwrap();
        prop_assert_eq!(used, b.len());
        prop_assert_eq!(back, m);
    }

    #[test]
    fn truncations_and_flips_never_panic(m in message(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let b = m.to_bytes();
        let cut = at.index(b.len());
        // A prefix is never a whole message: incomplete, or refused.
        prop_assert!(!matches!(Message::decode(&b.slice(..cut)), Ok(Some(_))));
        let mut v = b.to_vec();
        v[cut] ^= x;
        let _ = Message::decode(&Bytes::from(v));
    }
}
