//! The BMP encoder read back by Wireshark's dissector (Debian's `tshark`): one message of
//! every type peerex's BMP exporter needs — Initiation, Peer Up with two real OPENs, Route
//! Monitoring of a real UPDATE in the pre-policy, post-policy, Adj-RIB-Out and Loc-RIB views,
//! Statistics Report, Peer Down with a real NOTIFICATION, Termination — written as one TCP
//! stream into a pcap file, dissected by tshark with no malformed-packet or error report, and
//! the fields tshark reads checked against what was encoded. The same stream sent to a real
//! collector, pmacct's `pmbmpd`, over TCP: every message is in its JSON log with the fields
//! encoded. tshark and pmbmpd must be installed (`.ci/install-deps` does): a missing one fails
//! the test.

mod common;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::tshark;
use peerex::bmp::msg::*;
use peerex::wire::{
    AsPath, Asn, Capability, Nlri, Notification, Open, Origin, ParseCtx, PathAttributes,
    UpdateMessage,
};

const PORT: u16 = 11019;

fn open(asn: u32, id: [u8; 4]) -> Bytes {
    let mut b = BytesMut::new();
    Open::new(
        Asn(asn),
        90,
        Ipv4Addr::from(id),
        vec![Capability::FourOctetAs(Asn(asn))],
    )
    .encode(&mut b);
    b.freeze()
}

fn update() -> Bytes {
    let msg = UpdateMessage {
        attrs: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(64501), Asn(64502)])),
            next_hop: Some(Ipv4Addr::new(127, 0, 0, 2)),
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

fn peer(flags: u8) -> PeerHeader {
    PeerHeader {
        peer_type: PeerType::Global,
        flags,
        distinguisher: 0,
        address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        asn: 64501,
        bgp_id: Ipv4Addr::new(10, 0, 0, 2),
        timestamp_secs: 1_765_000_000,
        timestamp_micros: 0,
    }
}

fn messages() -> Vec<Message> {
    let loc_rib = PeerHeader {
        peer_type: PeerType::LocRib,
        flags: 0,
        address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        asn: 64500,
        bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        ..peer(0)
    };
    let mut v6 = peer(0);
    v6.address = IpAddr::V6(Ipv6Addr::LOCALHOST);
    v6.flags = flags::IPV6;
    let mut n = BytesMut::new();
    Notification::admin_shutdown("maintenance").encode(4096, &mut n);
    vec![
        Message::Initiation(vec![
            InfoTlv::text(info::SYS_DESCR, "peerex test"),
            InfoTlv::text(info::SYS_NAME, "rs1"),
        ]),
        Message::PeerUp {
            peer: peer(0),
            body: PeerUp {
                local_address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                local_port: 179,
                remote_port: 40001,
                sent_open: open(64500, [10, 0, 0, 1]),
                received_open: open(64501, [10, 0, 0, 2]),
                // No information TLVs: they are optional (RFC 7854 §4.10; RFC 9069 §5.3 asks
                // for a VRF/Table Name only when one is configured) and Debian's tshark 4.0
                // reads whatever follows the OPENs as BGP.
                information: vec![],
            },
        },
        Message::RouteMonitoring {
            peer: peer(0),
            update: update(),
        },
        Message::RouteMonitoring {
            peer: peer(flags::POST_POLICY),
            update: update(),
        },
        Message::RouteMonitoring {
            peer: peer(flags::POST_POLICY | flags::ADJ_RIB_OUT),
            update: update(),
        },
        Message::RouteMonitoring {
            peer: v6,
            update: update(),
        },
        Message::PeerUp {
            peer: loc_rib.clone(),
            body: PeerUp {
                local_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                local_port: 0,
                remote_port: 0,
                sent_open: open(64500, [10, 0, 0, 1]),
                received_open: open(64500, [10, 0, 0, 1]),
                information: vec![],
            },
        },
        Message::RouteMonitoring {
            peer: loc_rib,
            update: update(),
        },
        Message::StatisticsReport {
            peer: peer(0),
            stats: vec![
                Stat {
                    kind: stat::REJECTED_BY_POLICY,
                    value: StatValue::Counter(2),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN,
                    value: StatValue::Gauge(7),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN_PER_FAMILY,
                    value: StatValue::FamilyGauge {
                        afi: 1,
                        safi: 1,
                        value: 7,
                    },
                },
            ],
        },
        Message::PeerDown {
            peer: peer(0),
            reason: PeerDownReason::LocalNotification(n.freeze()),
        },
        Message::PeerDown {
            peer: peer(0),
            reason: PeerDownReason::RemoteNoData,
        },
        Message::PeerDown {
            peer: PeerHeader {
                peer_type: PeerType::LocRib,
                flags: 0,
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                asn: 64500,
                bgp_id: Ipv4Addr::new(10, 0, 0, 1),
                ..peer(0)
            },
            reason: PeerDownReason::LocalTlv(vec![]),
        },
        Message::Termination(vec![InfoTlv {
            kind: term::REASON,
            value: Bytes::from_static(&[0, 0]),
        }]),
    ]
}

/// The messages as one TCP stream from 127.0.0.1:40179 to 127.0.0.9:PORT, one segment each.
fn pcap(payloads: &[Bytes]) -> Vec<u8> {
    tshark::pcap(&[tshark::Flow {
        from: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 40179),
        to: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), PORT),
        segments: payloads.iter().map(|p| p.to_vec()).collect(),
    }])
}

fn tshark(file: &std::path::Path, extra: &[&str]) -> String {
    tshark::tshark(file, PORT, "bmp", extra).unwrap()
}

#[test]
fn tshark_dissects_every_message_type_cleanly() {
    let msgs = messages();
    let payloads: Vec<Bytes> = msgs.iter().map(Message::to_bytes).collect();
    // Our own decoder agrees with our encoder first.
    for (m, b) in msgs.iter().zip(&payloads) {
        let (back, used) = Message::decode(b).unwrap().unwrap();
        assert_eq!((&back, used), (m, b.len()));
    }
    let dir = std::env::temp_dir().join(format!("peerex-bmp-codec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bmp.pcap");
    std::fs::write(&file, pcap(&payloads)).unwrap();

    let verbose = tshark(&file, &["-V"]);
    let problems = tshark::problems(&verbose);
    assert!(
        problems.is_empty(),
        "tshark reports {problems:?}:\n{verbose}"
    );

    // One line per packet: the BMP types, the per-peer fields, and the BGP message types
    // inside, as tshark reads them.
    let fields = tshark(
        &file,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "bmp.type",
            "-e",
            "bmp.peer.flags",
            "-e",
            "bmp.peer.asn",
            "-e",
            "bmp.peer.type",
            "-e",
            "bgp.type",
        ],
    );
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), msgs.len(), "{fields}");
    let types: Vec<u8> = lines
        .iter()
        .map(|l| l.split('|').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![4, 3, 0, 0, 0, 0, 3, 0, 1, 2, 2, 2, 5],
        "{fields}"
    );
    let col = |i: usize, c: usize| lines[i].split('|').nth(c).unwrap().to_string();
    // Peer Up: two OPENs; Route Monitoring: one UPDATE; Peer Down: a NOTIFICATION.
    assert_eq!(col(1, 4), "1,1", "{fields}");
    assert_eq!(col(2, 4), "2", "{fields}");
    assert_eq!(col(9, 4), "3", "{fields}");
    // Flags: pre-policy 0, post-policy 0x40, Adj-RIB-Out 0x50, IPv6 0x80.
    let flag = |i| u8::from_str_radix(col(i, 1).trim_start_matches("0x"), 16).unwrap();
    assert_eq!(
        (flag(2), flag(3), flag(4), flag(5)),
        (0, 0x40, 0x50, 0x80),
        "{fields}"
    );
    assert_eq!(col(2, 2), "64501");
    // The Loc-RIB peer type (RFC 9069).
    assert_eq!(col(7, 3), "3", "{fields}");
    assert_eq!(col(7, 2), "64500");

    // The statistics and the information TLVs as tshark reads them.
    assert!(
        verbose.contains("sysName") || verbose.contains("rs1"),
        "{verbose}"
    );
    assert!(verbose.contains("peerex test"), "{verbose}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pmbmpd_logs_every_message_with_its_fields() -> common::Result<()> {
    let dir = common::TempDir::new("bmp-pmbmpd");
    let collector = common::pmbmpd::Pmbmpd::start(&dir)?;
    let mut s = std::net::TcpStream::connect(collector.addr)?;
    for m in messages() {
        s.write_all(&m.to_bytes())?;
    }
    s.flush()?;
    let events = collector.wait_for(Duration::from_secs(20), |ev| {
        ev.iter()
            .any(|e| e.get("bmp_msg_type").as_str() == Some("term"))
    })?;
    drop(s);
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e.get("bmp_msg_type").as_str())
        .collect();
    let dump = || {
        std::fs::read_to_string(&collector.log).unwrap_or_default()
            + &std::fs::read_to_string(&collector.daemon_log).unwrap_or_default()
    };
    let of = |k: &str| -> Vec<&common::json::Json> {
        events
            .iter()
            .filter(|e| e.get("bmp_msg_type").as_str() == Some(k))
            .collect()
    };
    let init = of("init");
    assert_eq!(init.len(), 1, "{}", dump());
    assert_eq!(init[0].get("bmp_init_info_sysname").as_str(), Some("rs1"));
    assert_eq!(
        init[0].get("bmp_init_info_sysdescr").as_str(),
        Some("peerex test"),
        "{}",
        dump()
    );
    let up = of("peer_up");
    assert_eq!(up.len(), 2, "{kinds:?}\n{}", dump());
    assert_eq!(up[0].get("peer_ip").as_str(), Some("127.0.0.2"));
    assert_eq!(up[0].get("peer_asn").as_u32(), Some(64501));
    assert_eq!(up[0].get("bgp_id").as_str(), Some("10.0.0.2"));
    assert_eq!(up[0].get("local_ip").as_str(), Some("127.0.0.1"));
    assert_eq!(up[0].get("remote_port").as_u32(), Some(40001));
    assert_eq!(up[1].get("peer_type").as_u32(), Some(3), "{}", dump());

    // Route monitoring: the pre-policy, post-policy and Adj-RIB-Out views of 127.0.0.2 and
    // the Loc-RIB; the IPv6 peer (::1) had no Peer Up, so a collector discards its route.
    let rm = of("route_monitor");
    let view = |e: &common::json::Json| {
        (
            e.get("peer_ip").as_str().unwrap_or("").to_string(),
            e.get("is_post").as_u32(),
            e.get("is_out").as_u32(),
            e.get("is_loc").as_u32(),
        )
    };
    let views: Vec<_> = rm.iter().map(|e| view(e)).collect();
    let peer = || "127.0.0.2".to_string();
    assert_eq!(
        views,
        vec![
            (peer(), Some(0), None, None),
            (peer(), Some(1), None, None),
            (peer(), Some(1), Some(1), None),
            ("0.0.0.0".to_string(), None, None, Some(1)),
        ],
        "{}",
        dump()
    );
    for e in &rm {
        assert_eq!(
            e.get("ip_prefix").as_str(),
            Some("198.51.100.0/24"),
            "{}",
            dump()
        );
        assert_eq!(e.get("as_path").as_str(), Some("64501 64502"), "{}", dump());
        assert_eq!(e.get("bgp_nexthop").as_str(), Some("127.0.0.2"));
        assert_eq!(e.get("log_type").as_str(), Some("update"));
    }
    let stats = of("stats");
    let counter = |t: u32| {
        stats
            .iter()
            .find(|e| e.get("counter_type").as_u32() == Some(t))
            .and_then(|e| e.get("counter_value").as_u64())
    };
    assert_eq!(counter(0), Some(2), "{}", dump());
    assert_eq!(counter(7), Some(7), "{}", dump());
    assert_eq!(counter(9), Some(7), "{}", dump());
    let down = of("peer_down");
    let reasons: Vec<Option<u32>> = down.iter().map(|e| e.get("reason_type").as_u32()).collect();
    assert_eq!(reasons, vec![Some(1), Some(4), Some(6)], "{}", dump());
    assert_eq!(of("term").len(), 1);
    Ok(())
}
