//! Property tests: for every message type, decode(encode(x)) == x, under every capability
//! combination; and the packer loses, duplicates or reorders nothing.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use peerex::wire::capability::{AddPathEntry, GrFamily, GracefulRestart, LlgrFamily, Role};
use peerex::wire::update::{encode_end_of_rib, pack_announce, pack_withdraw};
use peerex::wire::{
    Afi, AfiSafi, Aggregator, AsPath, Asn, Capability, Community, ExtCommunity, Family, FamilySet,
    LargeCommunity, Message, MpNextHop, MpReach, MpUnreach, Nlri, NotifCode, Notification, Open,
    Origin, ParseCtx, PathAttributes, PathSegment, Prefix, RawAttr, RefreshKind, RouteRefresh,
    Safi, SegmentType, Update, UpdateMessage,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn ctx_strategy() -> impl Strategy<Value = ParseCtx> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(four, ap4, ap6, ext, ebgp)| {
            let mut add_path = FamilySet::EMPTY;
            if ap4 {
                add_path.insert(Family::Ipv4Unicast);
            }
            if ap6 {
                add_path.insert(Family::Ipv6Unicast);
            }
            ParseCtx {
                four_octet_as: four,
                add_path,
                extended_message: ext,
                ebgp,
            }
        })
}

fn prefix4() -> impl Strategy<Value = Prefix> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Prefix::new(Ipv4Addr::from(a).into(), l).unwrap())
}

fn prefix6() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128).prop_map(|(a, l)| Prefix::new(Ipv6Addr::from(a).into(), l).unwrap())
}

fn nlri_list(
    p: impl Strategy<Value = Prefix>,
    add_path: bool,
    max: usize,
) -> impl Strategy<Value = Vec<Nlri>> {
    vec((p, any::<u32>()), 0..max).prop_map(move |v| {
        v.into_iter()
            .map(|(p, id)| {
                if add_path {
                    Nlri::with_path_id(p, id)
                } else {
                    Nlri::new(p)
                }
            })
            .collect()
    })
}

/// A usable IPv4 unicast next hop.
fn v4_host() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..224, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d))
}

/// Non-zero ASNs, half of them 2-octet.
fn asn() -> impl Strategy<Value = Asn> {
    prop_oneof![
        (1u32..=65535).prop_map(Asn),
        (65536u32..=u32::MAX).prop_map(Asn)
    ]
}

/// Paths that can travel the context: confederation segments only between internal peers,
/// only leading, and with 2-octet ASNs (AS4_PATH does not carry them, RFC 6793 §4.2.2).
fn as_path(ctx: ParseCtx) -> impl Strategy<Value = AsPath> {
    let confed = if ctx.ebgp { 0..1usize } else { 0..3usize };
    let confed_seg = (
        prop_oneof![
            Just(SegmentType::ConfedSequence),
            Just(SegmentType::ConfedSet)
        ],
        vec((1u32..=65535).prop_map(Asn), 1..5),
    );
    let seg = (
        prop_oneof![3 => Just(SegmentType::Sequence), 1 => Just(SegmentType::Set)],
        vec(asn(), 1..12),
    );
    (vec(confed_seg, confed), vec(seg, 0..4)).prop_map(|(c, s)| AsPath {
        segments: c
            .into_iter()
            .chain(s)
            .map(|(kind, asns)| PathSegment { kind, asns })
            .collect(),
    })
}

fn unknown_attrs() -> impl Strategy<Value = Vec<RawAttr>> {
    // Types peerex passes on unchecked: registered ones it does not interpret and the
    // unassigned ranges (deprecated, reserved and checked codes have their own tests).
    let free: Vec<u8> = [22u8, 23, 24, 27, 34, 36, 37, 38, 39, 41]
        .into_iter()
        .chain(42..=127)
        .chain(130..=240)
        .chain(244..=254)
        .collect();
    proptest::sample::subsequence(free, 0..3).prop_flat_map(|types| {
        let n = types.len();
        vec(vec(any::<u8>(), 0..20), n).prop_map(move |values| {
            types
                .iter()
                .zip(values)
                .map(|(t, v)| RawAttr::passthrough(*t, Bytes::from(v)))
                .collect()
        })
    })
}

fn attrs(ctx: ParseCtx) -> impl Strategy<Value = PathAttributes> {
    let ibgp = !ctx.ebgp;
    let two = !ctx.four_octet_as;
    (
        (
            proptest::option::of(prop_oneof![
                Just(Origin::Igp),
                Just(Origin::Egp),
                Just(Origin::Incomplete)
            ]),
            proptest::option::of(as_path(ctx)),
            proptest::option::of(v4_host()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()).prop_map(move |v| v.filter(|_| ibgp)),
            any::<bool>(),
            // On 2-octet sessions an AGGREGATOR naming a real 2-octet AS voids AS4_PATH, so
            // only aggregators that need AS4_AGGREGATOR are generated there.
            proptest::option::of((
                asn().prop_map(move |a| if two { Asn(a.0.max(65536)) } else { a }),
                any::<[u8; 4]>(),
            ))
            .prop_map(|a| {
                a.map(|(asn, ip)| Aggregator {
                    asn,
                    addr: Ipv4Addr::from(ip),
                })
            }),
        ),
        (
            vec(any::<u32>().prop_map(Community), 0..6),
            vec(any::<[u8; 8]>().prop_map(ExtCommunity), 0..3),
            vec(
                any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)),
                0..3,
            ),
            proptest::option::of(any::<[u8; 4]>().prop_map(Ipv4Addr::from))
                .prop_map(move |v| v.filter(|_| ibgp)),
            vec(any::<[u8; 4]>().prop_map(Ipv4Addr::from), 0..3).prop_map(move |v| {
                if ibgp {
                    v
                } else {
                    vec![]
                }
            }),
            proptest::option::of(any::<u32>().prop_map(Asn)),
            unknown_attrs(),
        ),
    )
        .prop_map(
            |(
                (origin, as_path, next_hop, med, local_pref, atomic_aggregate, aggregator),
                (
                    communities,
                    ext_communities,
                    large_communities,
                    originator_id,
                    cluster_list,
                    otc,
                    unknown,
                ),
            )| {
                PathAttributes {
                    origin,
                    as_path,
                    next_hop,
                    med,
                    local_pref,
                    atomic_aggregate,
                    aggregator,
                    communities,
                    ext_communities,
                    large_communities,
                    originator_id,
                    cluster_list,
                    otc,
                    unknown,
                }
            },
        )
}

fn v6_next_hop() -> impl Strategy<Value = MpNextHop> {
    (any::<u128>(), proptest::option::of(any::<u64>())).prop_map(|(g, ll)| MpNextHop::V6 {
        // Keep the global address unicast and specified.
        global: Ipv6Addr::from((g & !(0xffu128 << 120)) | (0x20u128 << 120)),
        link_local: ll.map(|l| Ipv6Addr::from((0xfe80u128 << 112) | u128::from(l))),
    })
}

fn update(ctx: ParseCtx) -> impl Strategy<Value = UpdateMessage> {
    let ap4 = ctx.add_path_for(Family::Ipv4Unicast);
    let ap6 = ctx.add_path_for(Family::Ipv6Unicast);
    (
        nlri_list(prefix4(), ap4, 20),
        attrs(ctx),
        proptest::option::of((v6_next_hop(), nlri_list(prefix6(), ap6, 20))),
        proptest::option::of(nlri_list(prefix6(), ap6, 20)),
        nlri_list(prefix4(), ap4, 20),
    )
        .prop_map(|(withdrawn, attrs, reach, unreach, nlri)| UpdateMessage {
            withdrawn,
            attrs,
            mp_reach: reach.map(|(nh, l)| MpReach::new(Family::Ipv6Unicast, nh, l)),
            mp_unreach: unreach.map(|l| MpUnreach::new(Family::Ipv6Unicast, l)),
            nlri,
        })
}

fn ctx_and_update() -> impl Strategy<Value = (ParseCtx, UpdateMessage)> {
    ctx_strategy().prop_flat_map(|ctx| (Just(ctx), update(ctx)))
}

fn afi_safi() -> impl Strategy<Value = AfiSafi> {
    (any::<u16>(), any::<u8>()).prop_map(|(a, s)| AfiSafi::new(Afi(a), Safi(s)))
}

fn capability() -> impl Strategy<Value = Capability> {
    let known = [1u8, 2, 6, 9, 64, 65, 69, 70, 71, 73];
    prop_oneof![
        afi_safi().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(|a| Capability::FourOctetAs(Asn(a))),
        vec((afi_safi(), 1u8..=3), 0..4).prop_map(|v| Capability::AddPath(
            v.into_iter()
                .map(|(afi_safi, send_receive)| AddPathEntry {
                    afi_safi,
                    send_receive
                })
                .collect()
        )),
        (0u8..16, 0u16..4096, vec((afi_safi(), any::<u8>()), 0..4)).prop_map(|(flags, time, f)| {
            Capability::GracefulRestart(GracefulRestart {
                flags,
                time,
                families: f
                    .into_iter()
                    .map(|(afi_safi, flags)| GrFamily { afi_safi, flags })
                    .collect(),
            })
        }),
        vec((afi_safi(), any::<u8>(), 0u32..0x0100_0000), 0..4).prop_map(|v| {
            Capability::LongLivedGracefulRestart(
                v.into_iter()
                    .map(|(afi_safi, flags, stale_time)| LlgrFamily {
                        afi_safi,
                        flags,
                        stale_time,
                    })
                    .collect(),
            )
        }),
        any::<u8>().prop_map(|r| Capability::Role(Role::from(r))),
        ("[a-z0-9-]{0,40}", "[a-z0-9.]{0,60}").prop_map(|(h, d)| Capability::Fqdn {
            hostname: Bytes::from(h),
            domain: Bytes::from(d),
        }),
        (
            any::<u8>().prop_filter("unknown code", move |c| !known.contains(c)),
            vec(any::<u8>(), 0..30)
        )
            .prop_map(|(code, v)| Capability::Unknown {
                code,
                value: Bytes::from(v)
            }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        vec(capability(), 0..40),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
}

fn decode(bytes: BytesMut, ctx: &ParseCtx) -> Message {
    Message::decode(bytes.freeze(), ctx).expect("our own encoding must decode")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn update_round_trips((ctx, msg) in ctx_and_update()) {
        let mut out = BytesMut::new();
        if msg.encode(&ctx, &mut out).is_err() {
            // Too large for the context: nothing may have been written.
            prop_assert!(out.is_empty());
            return Ok(());
        }
        prop_assert!(out.len() <= ctx.max_len());
        let Message::Update(u) = decode(out, &ctx) else { panic!("not an UPDATE") };
        prop_assert_eq!(u.to_owned(), msg);
    }

    #[test]
    fn end_of_rib_round_trips(v6 in any::<bool>(), ctx in ctx_strategy()) {
        let family = if v6 { Family::Ipv6Unicast } else { Family::Ipv4Unicast };
        let mut a = BytesMut::new();
        UpdateMessage::end_of_rib(family).encode(&ctx, &mut a).unwrap();
        let mut b = BytesMut::new();
        encode_end_of_rib(family, &mut b);
        prop_assert_eq!(&a, &b);
        let Message::Update(u) = decode(a, &ctx) else { panic!() };
        prop_assert_eq!(u.end_of_rib(), Some(family.afi_safi()));
    }

    #[test]
    fn open_round_trips(o in open()) {
        let mut out = BytesMut::new();
        o.encode(&mut out);
        let Message::Open(back) = decode(out, &ParseCtx::new()) else { panic!() };
        prop_assert_eq!(back, o);
    }

    #[test]
    fn notification_round_trips(code in any::<u8>(), sub in any::<u8>(), data in vec(any::<u8>(), 0..600), ext in any::<bool>()) {
        let ctx = ParseCtx { extended_message: ext, ..ParseCtx::new() };
        let n = Notification::new(NotifCode::new(code, sub), data);
        let mut out = BytesMut::new();
        n.encode(ctx.max_len(), &mut out);
        let Message::Notification(back) = decode(out, &ctx) else { panic!() };
        prop_assert_eq!(back, n);
    }

    #[test]
    fn shutdown_message_round_trips(text in "\\PC{0,120}") {
        let n = Notification::admin_shutdown(&text);
        let mut out = BytesMut::new();
        n.encode(4096, &mut out);
        let Message::Notification(back) = decode(out, &ParseCtx::new()) else { panic!() };
        let shown = back.shutdown_message().unwrap();
        prop_assert!(text.starts_with(shown));
        prop_assert!(shown.len() <= 255);
    }

    #[test]
    fn route_refresh_round_trips(fam in afi_safi(), kind in any::<u8>()) {
        let rr = RouteRefresh { afi_safi: fam, kind: RefreshKind::from(kind) };
        let mut out = BytesMut::new();
        rr.encode(&mut out);
        let Message::RouteRefresh(back) = decode(out, &ParseCtx::new()) else { panic!() };
        prop_assert_eq!(back, rr);
    }

    /// Packing: every prefix arrives once, in order, with the same attributes, in as few
    /// messages as the size limit allows.
    #[test]
    fn packer_preserves_every_prefix(ctx in ctx_strategy(), v6 in any::<bool>(), n in 0usize..3000, seed in any::<u64>(), nh in v6_next_hop()) {
        let family = if v6 { Family::Ipv6Unicast } else { Family::Ipv4Unicast };
        let add_path = ctx.add_path_for(family);
        let mut x = seed | 1;
        let list: Vec<Nlri> = (0..n).map(|i| {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            let len = (x % 33) as u8;
            let p = if v6 {
                Prefix::new(Ipv6Addr::from(u128::from(x) << 64).into(), len * 2).unwrap()
            } else {
                Prefix::new(Ipv4Addr::from(x as u32).into(), len).unwrap()
            };
            if add_path { Nlri::with_path_id(p, i as u32) } else { Nlri::new(p) }
        }).collect();
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001), Asn(4_200_000_001)])),
            next_hop: (!v6).then_some(Ipv4Addr::new(192, 0, 2, 1)),
            communities: (0..20).map(Community).collect(),
            ..PathAttributes::default()
        };
        let mut encoded = BytesMut::new();
        attrs.encode(&ctx, &mut encoded);
        let mut out = BytesMut::new();
        let count = pack_announce(&ctx, family, &encoded, &nh, &list, &mut out).unwrap();
        let mut got = Vec::new();
        let mut wire = out.freeze();
        let mut sizes = Vec::new();
        while !wire.is_empty() {
            let len = usize::from(u16::from_be_bytes([wire[16], wire[17]]));
            prop_assert!(len <= ctx.max_len());
            let m = wire.split_to(len);
            let u = Update::parse(m, &ctx).unwrap();
            prop_assert!(u.issues().is_empty(), "{:?}", u.issues());
            prop_assert_eq!(u.attrs().to_owned(), attrs.clone());
            if v6 {
                prop_assert_eq!(u.mp_reach().unwrap().next_hop(), Some(nh.clone()));
            }
            let before = got.len();
            got.extend(u.announced());
            sizes.push((len, got.len() - before));
        }
        prop_assert_eq!(sizes.len(), count);
        prop_assert_eq!(&got, &list);
        // As few messages as the limit allows: each full message had no room for the next
        // prefix.
        let mut next = 0;
        for w in sizes.windows(2) {
            next += w[0].1;
            let need = peerex::wire::nlri::encoded_len(&list[next], add_path);
            prop_assert!(w[0].0 + need > ctx.max_len());
        }

        let mut out = BytesMut::new();
        pack_withdraw(&ctx, family, &list, &mut out).unwrap();
        let mut wire = out.freeze();
        let mut got = Vec::new();
        while !wire.is_empty() {
            let len = usize::from(u16::from_be_bytes([wire[16], wire[17]]));
            prop_assert!(len <= ctx.max_len());
            let u = Update::parse(wire.split_to(len), &ctx).unwrap();
            prop_assert!(u.issues().is_empty());
            prop_assert_eq!(u.announced().count(), 0);
            got.extend(u.withdrawals());
        }
        prop_assert_eq!(got, list);
    }
}

#[test]
fn keepalive_round_trips() {
    let mut out = BytesMut::new();
    Message::Keepalive.encode(&ParseCtx::new(), &mut out);
    assert!(matches!(decode(out, &ParseCtx::new()), Message::Keepalive));
}

#[test]
fn packed_update_is_full() {
    // 1,000 /24s with a small attribute set: a 4,096-octet UPDATE holds 1,000 octets of
    // prefixes... and more: check the first message is filled to within one prefix.
    let ctx = ParseCtx::new();
    let list: Vec<Nlri> = (0..2000u32)
        .map(|i| Nlri::new(Prefix::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)).into(), 24).unwrap()))
        .collect();
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([Asn(65001)])),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..PathAttributes::default()
    };
    let mut enc = BytesMut::new();
    attrs.encode(&ctx, &mut enc);
    let mut out = BytesMut::new();
    let n = pack_announce(
        &ctx,
        Family::Ipv4Unicast,
        &enc,
        &MpNextHop::V4(Ipv4Addr::UNSPECIFIED),
        &list,
        &mut out,
    )
    .unwrap();
    let first_len = usize::from(u16::from_be_bytes([out[16], out[17]]));
    assert!(
        first_len > 4096 - 4,
        "first message only {first_len} octets"
    );
    assert_eq!(n, (2000 * 4usize).div_ceil(4096 - 23 - enc.len()));
}
