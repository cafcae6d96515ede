//! Writes the seed corpora into `fuzz/seeds/<target>/`:
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds
//!
//! Seeds are built with peerex's own encoders (plus a few hand-made malformed UPDATEs that
//! reach the RFC 7606 paths), and every captured vector in `tests/data/vectors/*.bin` that
//! exists when it runs. Each target directory is emptied first, so the output depends only on
//! the encoders and the vectors.
//!
//! Formats (see README.md): `message` = context byte + whole message; `update` = context byte
//! + UPDATE body (the message minus its 19-byte header); `open` = OPEN body.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use peerex::wire::capability::{AddPathEntry, GrFamily, GracefulRestart, LlgrFamily, Role};
use peerex::wire::header::{self, MsgType, HEADER_LEN};
use peerex::wire::notification::{CeaseSubcode, HeaderSubcode, NotifCode};
use peerex::wire::update::{encode_end_of_rib, pack_announce, pack_withdraw};
use peerex::wire::{
    Afi, AfiSafi, Aggregator, AsPath, Asn, Capability, Community, ExtCommunity, Family,
    LargeCommunity, Message, MpNextHop, MpReach, MpUnreach, Nlri, Notification, Open, Origin,
    ParseCtx, PathAttributes, PathSegment, RawAttr, RefreshKind, RouteRefresh, Safi, SegmentType,
    UpdateMessage,
};
use peerex_fuzz::{ctx_from_byte, ctx_to_byte, CTX_MASK};

/// 4-octet AS, eBGP, no ADD-PATH, 4,096-octet messages.
const EBGP4: u8 = 0x11;
/// 4-octet AS, iBGP.
const IBGP4: u8 = 0x01;
/// 2-octet AS, eBGP.
const EBGP2: u8 = 0x10;
/// 2-octet AS, iBGP.
const IBGP2: u8 = 0x00;
/// ADD-PATH for both families.
const ADD_PATH: u8 = 0x06;
/// Extended messages.
const EXT: u8 = 0x08;

#[derive(Default)]
struct Seeds {
    /// target -> file name -> contents
    files: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
}

impl Seeds {
    fn put(&mut self, target: &'static str, name: String, data: Vec<u8>) {
        let dir = self.files.entry(target).or_default();
        // Identical contents under two names is a waste of fuzzing time.
        if dir.values().any(|v| *v == data) {
            return;
        }
        dir.insert(name, data);
    }

    /// Adds a whole message under context byte `c` to `message`, and its body to `update` or
    /// `open` when it is one of those.
    fn message(&mut self, name: &str, c: u8, whole: &[u8]) {
        let mut m = vec![c];
        m.extend_from_slice(whole);
        self.put("message", format!("{name}.bin"), m);
        match whole.get(18).copied() {
            Some(2) => {
                let mut b = vec![c];
                b.extend_from_slice(whole.get(HEADER_LEN..).unwrap_or_default());
                self.put("update", format!("{name}.bin"), b);
            }
            Some(1) => {
                let b = whole.get(HEADER_LEN..).unwrap_or_default().to_vec();
                self.put("open", format!("{name}.bin"), b);
            }
            _ => {}
        }
    }

    /// Encodes `u` under context byte `c` and adds it.
    fn update(&mut self, name: &str, c: u8, u: &UpdateMessage) {
        let mut out = BytesMut::new();
        u.encode(&ctx_from_byte(c), &mut out)
            .unwrap_or_else(|e| panic!("seed {name}: {e}"));
        self.message(name, c, &out);
    }

    /// Adds every message of a buffer holding several back to back.
    fn messages(&mut self, name: &str, c: u8, mut buf: &[u8]) {
        let mut i = 0;
        while buf.len() >= HEADER_LEN {
            let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
            let (one, rest) = buf.split_at(len);
            self.message(&format!("{name}-{i}"), c, one);
            buf = rest;
            i += 1;
        }
    }

    fn write(&self, root: &Path) -> std::io::Result<()> {
        for target in ["message", "update", "open", "pipeline", "bmp"] {
            let dir = root.join(target);
            if dir.exists() {
                for e in fs::read_dir(&dir)? {
                    let p = e?.path();
                    if p.is_file() {
                        fs::remove_file(p)?;
                    }
                }
            }
            fs::create_dir_all(&dir)?;
            let files = self.files.get(target).cloned().unwrap_or_default();
            for (name, data) in &files {
                fs::write(dir.join(name), data)?;
            }
            println!("{}: {} seeds", dir.display(), files.len());
        }
        Ok(())
    }
}

fn p(s: &str) -> Nlri {
    Nlri::new(s.parse().unwrap())
}

fn pid(s: &str, id: u32) -> Nlri {
    Nlri::with_path_id(s.parse().unwrap(), id)
}

fn seg(kind: SegmentType, asns: &[u32]) -> PathSegment {
    PathSegment {
        kind,
        asns: asns.iter().map(|&a| Asn(a)).collect(),
    }
}

fn v6_nh(link_local: bool) -> MpNextHop {
    MpNextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: link_local.then(|| "fe80::1".parse().unwrap()),
    }
}

fn basic_attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(path.iter().map(|&a| Asn(a)))),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..PathAttributes::default()
    }
}

/// Every attribute peerex knows, plus two unknown optional transitive ones.
fn every_attr() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Incomplete),
        as_path: Some(AsPath {
            segments: vec![
                seg(SegmentType::Sequence, &[64500, 4_200_000_001, 64501]),
                seg(SegmentType::Set, &[64510, 4_200_000_002]),
            ],
        }),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(100),
        local_pref: Some(200),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: Asn(4_200_000_001),
            addr: Ipv4Addr::new(192, 0, 2, 9),
        }),
        communities: vec![
            Community::new(64500, 1),
            Community::NO_EXPORT,
            Community::BLACKHOLE,
        ],
        ext_communities: vec![
            ExtCommunity([0, 2, 0xfb, 0xf4, 0, 0, 0, 1]),
            ExtCommunity([0x43, 3, 0, 0, 0, 0, 0, 9]),
        ],
        large_communities: vec![
            LargeCommunity::new(4_200_000_001, 1, 2),
            LargeCommunity::new(64500, 0, 0),
        ],
        originator_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
        cluster_list: vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)],
        otc: Some(Asn(64500)),
        unknown: vec![
            RawAttr::passthrough(30, Bytes::from_static(&[1, 2, 3, 4])),
            RawAttr::passthrough(99, Bytes::from_static(b"opaque")),
        ],
    }
}

fn generated(s: &mut Seeds) {
    // --- OPEN ---
    let all_caps = vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::ExtendedMessage,
        Capability::FourOctetAs(Asn(4_200_000_001)),
        Capability::AddPath(vec![
            AddPathEntry {
                afi_safi: AfiSafi::IPV4_UNICAST,
                send_receive: AddPathEntry::BOTH,
            },
            AddPathEntry {
                afi_safi: AfiSafi::IPV6_UNICAST,
                send_receive: AddPathEntry::RECEIVE,
            },
        ]),
        Capability::GracefulRestart(GracefulRestart {
            flags: GracefulRestart::RESTART_STATE | GracefulRestart::NOTIFICATION,
            time: 120,
            families: vec![
                GrFamily {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    flags: GracefulRestart::FORWARDING,
                },
                GrFamily {
                    afi_safi: AfiSafi::IPV6_UNICAST,
                    flags: 0,
                },
            ],
        }),
        Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            afi_safi: AfiSafi::IPV6_UNICAST,
            flags: 0x80,
            stale_time: 86400,
        }]),
        Capability::Role(Role::RouteServer),
        Capability::Fqdn {
            hostname: Bytes::from_static(b"rs1"),
            domain: Bytes::from_static(b"example.net"),
        },
        Capability::Unknown {
            code: 128,
            value: Bytes::from_static(&[1, 2, 3]),
        },
    ];
    let id = Ipv4Addr::new(192, 0, 2, 1);
    let opens = [
        (
            "open-all-caps",
            Open::new(Asn(4_200_000_001), 90, id, all_caps.clone()),
        ),
        ("open-no-caps", Open::new(Asn(64500), 180, id, vec![])),
        (
            "open-2octet",
            Open::new(
                Asn(64500),
                3,
                id,
                vec![
                    Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
                    Capability::RouteRefresh,
                ],
            ),
        ),
        (
            // More than 255 octets of capabilities: the RFC 9072 extended form.
            "open-extended-params",
            Open::new(Asn(4_200_000_001), 90, id, {
                let mut c = all_caps.clone();
                for i in 0..60 {
                    c.push(Capability::GracefulRestart(GracefulRestart {
                        flags: 0,
                        time: i,
                        families: vec![],
                    }));
                }
                c
            }),
        ),
    ];
    for (name, o) in &opens {
        let mut out = BytesMut::new();
        o.encode(&mut out);
        s.message(name, EBGP4, &out);
    }
    // Two capability parameters (peerex writes one; others write one per capability).
    let mut two = vec![0xffu8; 16];
    two.extend_from_slice(&[0, 0, 1, 4, 0xfb, 0xf4, 0, 90, 192, 0, 2, 1, 14]);
    two.extend_from_slice(&[2, 6, 65, 4, 0xfa, 0x56, 0xea, 1, 2, 4, 1, 4, 0, 1]);
    let n = two.len() as u16;
    two[16..18].copy_from_slice(&n.to_be_bytes());
    s.message("open-two-params", EBGP4, &two);

    // --- UPDATE ---
    s.update(
        "update-ipv4",
        EBGP4,
        &UpdateMessage {
            attrs: basic_attrs(&[64500, 64501]),
            nlri: vec![p("10.0.0.0/8"), p("192.0.2.0/24"), p("198.51.100.7/32")],
            ..UpdateMessage::default()
        },
    );
    s.update(
        "update-every-attr-ibgp",
        IBGP4,
        &UpdateMessage {
            attrs: every_attr(),
            nlri: vec![p("203.0.113.0/24")],
            ..UpdateMessage::default()
        },
    );
    s.update(
        "update-every-attr-ebgp",
        EBGP4,
        &UpdateMessage {
            attrs: every_attr(),
            nlri: vec![p("203.0.113.0/24")],
            ..UpdateMessage::default()
        },
    );
    // The same attributes on a 2-octet session: AS4_PATH and AS4_AGGREGATOR are written.
    s.update(
        "update-as4-path-2octet",
        IBGP2,
        &UpdateMessage {
            attrs: every_attr(),
            nlri: vec![p("203.0.113.0/24")],
            ..UpdateMessage::default()
        },
    );
    s.update(
        "update-as4-path-2octet-ebgp",
        EBGP2,
        &UpdateMessage {
            attrs: basic_attrs(&[64500, 4_200_000_001, 4_200_000_002, 64501]),
            nlri: vec![p("203.0.113.0/24")],
            ..UpdateMessage::default()
        },
    );
    // Confederation segments from an internal peer, 2-octet and 4-octet.
    let mut confed = basic_attrs(&[]);
    confed.as_path = Some(AsPath {
        segments: vec![
            seg(SegmentType::ConfedSequence, &[65010, 65011]),
            seg(SegmentType::ConfedSet, &[65012]),
            seg(SegmentType::Sequence, &[64500, 4_200_000_003]),
        ],
    });
    for (name, c) in [("update-confed-2octet", IBGP2), ("update-confed", IBGP4)] {
        s.update(
            name,
            c,
            &UpdateMessage {
                attrs: confed.clone(),
                nlri: vec![p("10.1.0.0/16")],
                ..UpdateMessage::default()
            },
        );
    }
    let v6_announce = |ll: bool, nlri: Vec<Nlri>| UpdateMessage {
        attrs: PathAttributes {
            next_hop: None,
            communities: vec![Community::new(64500, 7)],
            ..basic_attrs(&[64500])
        },
        mp_reach: Some(MpReach::new(Family::Ipv6Unicast, v6_nh(ll), nlri)),
        ..UpdateMessage::default()
    };
    s.update(
        "update-ipv6-mp-reach",
        EBGP4,
        &v6_announce(
            false,
            vec![p("2001:db8::/32"), p("2001:db8:1::/48"), p("::/0")],
        ),
    );
    s.update(
        "update-ipv6-link-local",
        EBGP4,
        &v6_announce(true, vec![p("2001:db8:ff00::/40")]),
    );
    s.update(
        "update-ipv6-add-path",
        EBGP4 | ADD_PATH,
        &v6_announce(
            false,
            vec![pid("2001:db8::/32", 1), pid("2001:db8::/32", 2)],
        ),
    );
    s.update(
        "update-ipv4-add-path",
        EBGP4 | ADD_PATH,
        &UpdateMessage {
            withdrawn: vec![pid("10.9.0.0/16", 7)],
            attrs: basic_attrs(&[64500]),
            nlri: vec![pid("10.0.0.0/8", 1), pid("10.0.0.0/8", 2)],
            ..UpdateMessage::default()
        },
    );
    // IPv4 in MP_REACH_NLRI, and an unrouted family kept raw.
    s.update(
        "update-ipv4-mp-reach",
        EBGP4,
        &UpdateMessage {
            attrs: PathAttributes {
                next_hop: None,
                ..basic_attrs(&[64500])
            },
            mp_reach: Some(MpReach::new(
                Family::Ipv4Unicast,
                MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                vec![p("10.2.0.0/16")],
            )),
            ..UpdateMessage::default()
        },
    );
    let vpn = AfiSafi::new(Afi(1), Safi(128));
    s.update(
        "update-unrouted-family",
        EBGP4,
        &UpdateMessage {
            attrs: PathAttributes {
                next_hop: None,
                ..basic_attrs(&[64500])
            },
            mp_reach: Some(MpReach {
                afi_safi: vpn,
                next_hop: MpNextHop::Raw(Bytes::from_static(&[0; 12])),
                nlri: vec![],
                other: Bytes::from_static(&[0x70, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 10]),
            }),
            mp_unreach: Some(MpUnreach {
                afi_safi: vpn,
                nlri: vec![],
                other: Bytes::from_static(&[0x70, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 10]),
            }),
            ..UpdateMessage::default()
        },
    );
    // Withdrawals.
    s.update(
        "update-withdraw-ipv4",
        EBGP4,
        &UpdateMessage {
            withdrawn: vec![p("10.0.0.0/8"), p("192.0.2.0/24"), p("0.0.0.0/0")],
            ..UpdateMessage::default()
        },
    );
    s.update(
        "update-withdraw-ipv6",
        EBGP4,
        &UpdateMessage {
            mp_unreach: Some(MpUnreach::new(
                Family::Ipv6Unicast,
                vec![p("2001:db8::/32"), p("2001:db8:ffff::/128")],
            )),
            ..UpdateMessage::default()
        },
    );
    s.update(
        "update-withdraw-and-announce",
        EBGP4,
        &UpdateMessage {
            withdrawn: vec![p("10.3.0.0/16")],
            mp_unreach: Some(MpUnreach::new(
                Family::Ipv6Unicast,
                vec![p("2001:db8::/32")],
            )),
            ..v6_announce(true, vec![p("2001:db8:2::/48")])
        },
    );
    // End-of-RIB, both families, from both encoders.
    for f in Family::ALL {
        s.update(
            &format!("update-eor-{f}"),
            EBGP4,
            &UpdateMessage::end_of_rib(f),
        );
        let mut out = BytesMut::new();
        encode_end_of_rib(f, &mut out);
        s.message(&format!("update-eor-packer-{f}"), EBGP4, &out);
    }
    // The packer: many prefixes, normal and extended size, with and without ADD-PATH.
    let v4: Vec<Nlri> = (0..700u32)
        .map(|i| {
            Nlri::with_path_id(
                format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap(),
                i,
            )
        })
        .collect();
    let v6: Vec<Nlri> = (0..300u32)
        .map(|i| Nlri::with_path_id(format!("2001:db8:{i:x}::/48").parse().unwrap(), i))
        .collect();
    let mut attr_bytes = BytesMut::new();
    basic_attrs(&[64500, 64501]).encode(&ParseCtx::new(), &mut attr_bytes);
    let mut v6_attr_bytes = BytesMut::new();
    PathAttributes {
        next_hop: None,
        ..basic_attrs(&[64500, 64501])
    }
    .encode(&ParseCtx::new(), &mut v6_attr_bytes);
    for c in [EBGP4, EBGP4 | ADD_PATH, EBGP4 | EXT, EBGP4 | EXT | ADD_PATH] {
        let ctx = ctx_from_byte(c);
        let mut out = BytesMut::new();
        let nh = MpNextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        pack_announce(&ctx, Family::Ipv4Unicast, &attr_bytes, &nh, &v4, &mut out).unwrap();
        s.messages(&format!("update-packed-ipv4-ctx{c:02x}"), c, &out);
        let mut out = BytesMut::new();
        pack_announce(
            &ctx,
            Family::Ipv6Unicast,
            &v6_attr_bytes,
            &v6_nh(true),
            &v6,
            &mut out,
        )
        .unwrap();
        s.messages(&format!("update-packed-ipv6-ctx{c:02x}"), c, &out);
        let mut out = BytesMut::new();
        pack_withdraw(&ctx, Family::Ipv6Unicast, &v6[..40], &mut out).unwrap();
        s.messages(&format!("update-packed-withdraw-ipv6-ctx{c:02x}"), c, &out);
    }

    // Hand-made malformed UPDATEs that RFC 7606 lets the session survive, and a few fatal
    // ones: each is an attribute section after a valid NLRI.
    let bad_attrs: [(&str, &[u8]); 12] = [
        ("bad-origin-value", &[0x40, 1, 1, 3]),
        ("bad-origin-flags", &[0xc0, 1, 1, 0]),
        (
            "duplicate-med",
            &[0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2],
        ),
        ("as-path-zero", &[0x40, 2, 4, 2, 1, 0, 0]),
        ("as-path-bad-segment", &[0x40, 2, 4, 9, 1, 0, 1]),
        ("attr-overrun", &[0x40, 1, 9, 0]),
        ("attr-header-overrun", &[0x40, 1]),
        ("unknown-well-known", &[0x40, 200, 1, 0]),
        ("unknown-non-transitive", &[0x80, 200, 2, 1, 2]),
        ("communities-bad-length", &[0xc0, 8, 3, 1, 2, 3]),
        (
            "duplicate-mp-unreach",
            &[0x80, 15, 3, 0, 2, 1, 0x80, 15, 3, 0, 2, 1],
        ),
        ("as4-path-on-4octet", &[0xc0, 17, 6, 2, 1, 0, 0, 0, 9]),
    ];
    for (name, attrs) in bad_attrs {
        let mut body = vec![0, 0];
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(attrs);
        body.extend_from_slice(&[24, 10, 0, 0]);
        let whole = peerex_fuzz::frame(MsgType::Update, &body).unwrap();
        s.message(&format!("update-malformed-{name}"), EBGP4, &whole);
    }

    // --- NOTIFICATION ---
    let notifs = [
        (
            "shutdown",
            Notification::admin_shutdown("maintenance until 14:00, see NOC-1234"),
        ),
        (
            "reset-utf8",
            Notification::admin_reset("wartung läuft — bitte warten"),
        ),
        ("shutdown-empty", Notification::admin_shutdown("")),
        (
            "max-prefixes",
            Notification::max_prefixes(AfiSafi::IPV6_UNICAST, 1000),
        ),
        ("cease", Notification::cease(CeaseSubcode::PeerDeconfigured)),
        (
            "bad-length",
            Notification::new(
                NotifCode::MessageHeader(HeaderSubcode::BadMessageLength),
                vec![0x10, 0x01],
            ),
        ),
        (
            "unknown-code",
            Notification::new(NotifCode::Other(42, 7), vec![1, 2, 3]),
        ),
    ];
    for (name, n) in &notifs {
        let mut out = BytesMut::new();
        n.encode(header::MAX_LEN, &mut out);
        s.message(&format!("notification-{name}"), EBGP4, &out);
    }

    // --- ROUTE-REFRESH and KEEPALIVE ---
    for (name, kind, fam) in [
        ("request-ipv4", RefreshKind::Request, AfiSafi::IPV4_UNICAST),
        ("borr-ipv6", RefreshKind::Begin, AfiSafi::IPV6_UNICAST),
        ("eorr-ipv6", RefreshKind::End, AfiSafi::IPV6_UNICAST),
        (
            "other",
            RefreshKind::Other(9),
            AfiSafi::new(Afi(25), Safi(70)),
        ),
    ] {
        let mut out = BytesMut::new();
        RouteRefresh {
            afi_safi: fam,
            kind,
        }
        .encode(&mut out);
        s.message(&format!("route-refresh-{name}"), EBGP4, &out);
    }
    let mut out = BytesMut::new();
    header::encode_keepalive(&mut out);
    s.message("keepalive", EBGP4, &out);
}

/// The context byte a captured vector was most likely recorded under: hinted by its name,
/// then the nearest one (fewest differing bits) under which it decodes without an issue.
fn vector_ctx(name: &str, whole: &Bytes) -> u8 {
    let mut hint = EBGP4;
    if name.contains("addpath") || name.contains("add-path") {
        hint |= ADD_PATH;
    }
    if name.contains("as-trans") || name.contains("as4") || name.contains("2octet") {
        hint &= !peerex_fuzz::CTX_FOUR_OCTET_AS;
    }
    if name.contains("ibgp") {
        hint &= !peerex_fuzz::CTX_EBGP;
    }
    if whole.len() > header::MAX_LEN || name.contains("extended") {
        hint |= EXT;
    }
    let mut candidates: Vec<u8> = (0..=CTX_MASK).collect();
    candidates.sort_by_key(|c| ((c ^ hint).count_ones(), *c));
    let clean = |c: u8| match Message::decode(whole.clone(), &ctx_from_byte(c)) {
        Ok(Message::Update(u)) => u.issues().is_empty(),
        Ok(_) => true,
        Err(_) => false,
    };
    let ok = |c: u8| Message::decode(whole.clone(), &ctx_from_byte(c)).is_ok();
    candidates
        .iter()
        .copied()
        .find(|&c| clean(c))
        .or_else(|| candidates.iter().copied().find(|&c| ok(c)))
        .unwrap_or(hint)
}

fn vectors(s: &mut Seeds, dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else {
        println!("no vectors in {}", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    let mut n = 0;
    for path in paths {
        let Ok(data) = fs::read(&path) else { continue };
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let whole = Bytes::from(data);
        if whole.len() < HEADER_LEN {
            continue;
        }
        let c = vector_ctx(&name, &whole);
        let check = ctx_to_byte(&ctx_from_byte(c));
        assert_eq!(check, c);
        s.message(&format!("vector-{name}"), c, &whole);
        n += 1;
    }
    println!("{n} vectors from {}", dir.display());
}

/// Seeds of the `pipeline` target: settings, then `[peer][len][UPDATE body]` chunks in which
/// several peers announce overlapping prefixes with different path lengths and MEDs,
/// withdraw some, and one session resets.
fn pipeline(s: &mut Seeds) {
    use peerex::wire::{
        AsPath, Asn, Community, Family, MpNextHop, MpReach, Origin, PathAttributes, UpdateMessage,
    };
    use std::net::Ipv4Addr;
    let body = |peer: usize, msg: &UpdateMessage| -> Vec<u8> {
        let mut ctx = ParseCtx::new();
        if peer == 3 {
            ctx.add_path = peerex::wire::FamilySet::ALL;
        }
        let mut out = BytesMut::new();
        msg.encode(&ctx, &mut out).unwrap();
        let b = out.get(HEADER_LEN..).unwrap().to_vec();
        let mut chunk = vec![peer as u8];
        chunk.extend_from_slice(&(b.len() as u16).to_be_bytes());
        chunk.extend_from_slice(&b);
        chunk
    };
    let announce = |peer: usize, path: &[u32], med: u32, v4: &[&str], v6: &[&str]| {
        let id = |n: Nlri| {
            if peer == 3 {
                Nlri::with_path_id(n.prefix, 7)
            } else {
                n
            }
        };
        UpdateMessage {
            attrs: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(path.iter().map(|a| Asn(*a)))),
                next_hop: Some(Ipv4Addr::new(192, 0, 2, 1 + peer as u8)),
                med: Some(med),
                communities: vec![Community::new(65000, peer as u16)],
                ..PathAttributes::default()
            },
            nlri: v4.iter().map(|x| id(p(x))).collect(),
            mp_reach: (!v6.is_empty()).then(|| {
                MpReach::new(
                    Family::Ipv6Unicast,
                    MpNextHop::V6 {
                        global: format!("2001:db8::{}", peer + 1).parse().unwrap(),
                        link_local: None,
                    },
                    v6.iter().map(|x| id(p(x))).collect(),
                )
            }),
            ..UpdateMessage::default()
        }
    };
    let withdraw = |peer: usize, v4: &[&str]| UpdateMessage {
        withdrawn: v4
            .iter()
            .map(|x| if peer == 3 { pid(x, 7) } else { p(x) })
            .collect(),
        ..UpdateMessage::default()
    };
    let mut a = vec![0xff, 0xff, 0x00];
    a.extend(body(
        0,
        &announce(
            0,
            &[65001, 100, 200],
            10,
            &["10.0.0.0/8", "10.1.0.0/16"],
            &["2001:db8:1::/48"],
        ),
    ));
    a.extend(body(
        1,
        &announce(1, &[65002, 100], 20, &["10.0.0.0/8"], &["2001:db8:1::/48"]),
    ));
    a.extend(body(
        2,
        &announce(2, &[65003, 100], 5, &["10.0.0.0/8", "10.2.0.0/16"], &[]),
    ));
    a.extend(body(
        3,
        &announce(3, &[65004, 300], 0, &["10.0.0.0/8"], &["2001:db8:1::/48"]),
    ));
    a.extend(body(1, &withdraw(1, &["10.0.0.0/8"])));
    s.files
        .entry("pipeline")
        .or_default()
        .insert("mixed".into(), a);
    let mut b = vec![0x0f, 0x3c, 0x82];
    b.extend(body(0, &announce(0, &[65001], 1, &["10.9.0.0/16"], &[])));
    b.extend(body(2, &announce(2, &[65003], 1, &["10.9.0.0/16"], &[])));
    b.extend([0x80, 0, 0]);
    b.extend(body(3, &announce(3, &[65004, 1], 1, &["10.9.0.0/16"], &[])));
    s.files
        .entry("pipeline")
        .or_default()
        .insert("rules-reset".into(), b);
}

/// `bmp`: one stream of every message type the exporter sends, and each message alone.
fn bmp(s: &mut Seeds) {
    use peerex::bmp::msg::{
        flags, info, stat, InfoTlv, Message as Bmp, PeerDownReason, PeerHeader, PeerType, PeerUp,
        Stat, StatValue,
    };
    use std::net::IpAddr;
    let bgp = |kind: u8| {
        let mut out = BytesMut::new();
        match kind {
            1 => Open::new(
                Asn(64500),
                90,
                Ipv4Addr::new(192, 0, 2, 1),
                vec![Capability::FourOctetAs(Asn(64500))],
            )
            .encode(&mut out),
            2 => UpdateMessage {
                attrs: basic_attrs(&[64500, 64501]),
                nlri: vec![Nlri {
                    path_id: None,
                    prefix: "198.51.100.0/24".parse().unwrap(),
                }],
                ..UpdateMessage::default()
            }
            .encode(&ParseCtx::default(), &mut out)
            .unwrap(),
            _ => Notification::admin_shutdown("maintenance").encode(4096, &mut out),
        }
        out.freeze()
    };
    let peer = |peer_type, flags, address| PeerHeader {
        peer_type,
        flags,
        distinguisher: 0,
        address,
        asn: 64500,
        bgp_id: Ipv4Addr::new(192, 0, 2, 1),
        timestamp_secs: 1_765_000_000,
        timestamp_micros: 0,
    };
    let v4 = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let zero = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let msgs = vec![
        Bmp::Initiation(vec![InfoTlv::text(info::SYS_NAME, "rs1")]),
        Bmp::PeerUp {
            peer: peer(PeerType::Global, 0, v6),
            body: PeerUp {
                local_address: v6,
                local_port: 179,
                remote_port: 40001,
                sent_open: bgp(1),
                received_open: bgp(1),
                information: vec![],
            },
        },
        Bmp::RouteMonitoring {
            peer: peer(PeerType::Global, flags::POST_POLICY | flags::ADJ_RIB_OUT, v4),
            update: bgp(2),
        },
        Bmp::RouteMonitoring {
            peer: peer(PeerType::LocRib, 0, zero),
            update: bgp(2),
        },
        Bmp::StatisticsReport {
            peer: peer(PeerType::Global, 0, v4),
            stats: vec![
                Stat {
                    kind: stat::REJECTED_BY_POLICY,
                    value: StatValue::Counter(1),
                },
                Stat {
                    kind: stat::ADJ_RIB_IN_PER_FAMILY,
                    value: StatValue::FamilyGauge {
                        afi: 1,
                        safi: 1,
                        value: 9,
                    },
                },
            ],
        },
        Bmp::PeerDown {
            peer: peer(PeerType::Global, 0, v4),
            reason: PeerDownReason::RemoteNotification(bgp(3)),
        },
        Bmp::PeerDown {
            peer: peer(PeerType::LocRib, 0, zero),
            reason: PeerDownReason::LocalTlv(vec![]),
        },
        Bmp::Termination(vec![InfoTlv {
            kind: 1,
            value: Bytes::from_static(&[0, 0]),
        }]),
    ];
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let b = m.to_bytes();
        stream.extend_from_slice(&b);
        s.put("bmp", format!("bmp-{i}.bin"), b.to_vec());
    }
    s.put("bmp", "bmp-stream.bin".into(), stream);
}

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = Seeds::default();
    generated(&mut s);
    pipeline(&mut s);
    bmp(&mut s);
    vectors(&mut s, &root.join("../tests/data/vectors"));
    s.write(&root.join("seeds"))
}
