//! Decodes every message captured from a real BGP implementation (bird2, gobgpd, exabgp, FRR;
//! see tests/data/README.md) and checks it against the facts in MANIFEST.toml, which were
//! read off the captures by Wireshark's dissector, not by peerex. Every vector must also
//! survive re-encoding: decode(encode(decode(bytes))) == decode(bytes).

use std::path::Path;

use bytes::{Bytes, BytesMut};
use peerex::wire::capability::Capability;
use peerex::wire::{Family, FamilySet, Message, MpNextHop, NotifCode, Origin, ParseCtx};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    vector: Vec<Vector>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Vector {
    file: String,
    source: String,
    kind: String,
    length: usize,
    four_octet_as: bool,
    add_path_ipv4: bool,
    add_path_ipv6: bool,
    extended_message: bool,
    // OPEN
    asn: Option<u32>,
    my_as: Option<u16>,
    hold_time: Option<u16>,
    bgp_id: Option<String>,
    capability_codes: Option<Vec<u8>>,
    hostname: Option<String>,
    // UPDATE
    attr_types: Option<Vec<u8>>,
    origin: Option<String>,
    as_path: Option<Vec<u32>>,
    next_hop: Option<String>,
    next_hop_link_local: Option<String>,
    med: Option<u32>,
    local_pref: Option<u32>,
    communities: Option<Vec<String>>,
    large_communities: Option<Vec<String>>,
    ext_communities: Option<Vec<String>>,
    aggregator: Option<String>,
    atomic_aggregate: Option<bool>,
    originator_id: Option<String>,
    cluster_list: Option<Vec<String>>,
    otc: Option<u32>,
    unknown_attributes: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    prefixes_count: Option<usize>,
    prefixes_first: Option<String>,
    prefixes_last: Option<String>,
    withdrawn: Option<Vec<String>>,
    path_ids: Option<Vec<u32>>,
    eor: Option<String>,
    // NOTIFICATION
    code: Option<u8>,
    subcode: Option<u8>,
    data: Option<String>,
    shutdown_message: Option<String>,
    // ROUTE-REFRESH
    afi: Option<u16>,
    safi: Option<u8>,
    subtype: Option<u8>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ctx(v: &Vector) -> ParseCtx {
    let mut add_path = FamilySet::EMPTY;
    if v.add_path_ipv4 {
        add_path.insert(Family::Ipv4Unicast);
    }
    if v.add_path_ipv6 {
        add_path.insert(Family::Ipv6Unicast);
    }
    ParseCtx {
        four_octet_as: v.four_octet_as,
        add_path,
        extended_message: v.extended_message,
        // The iBGP capture carries LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST.
        ebgp: v.local_pref.is_none() && v.originator_id.is_none(),
    }
}

fn load() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors");
    let text = std::fs::read_to_string(dir.join("MANIFEST.toml")).unwrap();
    let m: Manifest = toml::from_str(&text).unwrap();
    m.vector
}

fn read(v: &Vector) -> Bytes {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors");
    Bytes::from(std::fs::read(dir.join(&v.file)).unwrap())
}

fn check_open(v: &Vector, o: &peerex::wire::Open) {
    if let Some(asn) = v.asn {
        assert_eq!(o.asn().0, asn);
    }
    if let Some(my_as) = v.my_as {
        assert_eq!(o.my_as, my_as);
    }
    if let Some(h) = v.hold_time {
        assert_eq!(o.hold_time, h);
    }
    if let Some(id) = &v.bgp_id {
        assert_eq!(o.bgp_id.to_string(), *id);
    }
    if let Some(codes) = &v.capability_codes {
        let got: Vec<u8> = o.capabilities.iter().map(|c| c.code()).collect();
        assert_eq!(&got, codes);
    }
    if let Some(name) = &v.hostname {
        assert!(o.capabilities.iter().any(|c| matches!(
            c,
            Capability::Fqdn { hostname, .. } if &hostname[..] == name.as_bytes()
        )));
    }
}

fn check_update(v: &Vector, u: &peerex::wire::Update) {
    assert!(u.issues().is_empty(), "{}: {:?}", v.file, u.issues());
    let a = u.attrs();
    if let Some(o) = &v.origin {
        let want = match o.as_str() {
            "igp" => Origin::Igp,
            "egp" => Origin::Egp,
            _ => Origin::Incomplete,
        };
        assert_eq!(a.origin(), Some(want));
    }
    if let Some(p) = &v.as_path {
        let got: Vec<u32> = a.as_path().unwrap().asns().map(|x| x.0).collect();
        assert_eq!(&got, p, "AS path after AS4_PATH merging");
    }
    if let Some(nh) = &v.next_hop {
        let classic = a.next_hop().map(|x| x.to_string());
        let mp = u.mp_reach().and_then(|m| m.next_hop()).map(|n| match n {
            MpNextHop::V4(x) => x.to_string(),
            MpNextHop::V6 { global, .. } => global.to_string(),
            MpNextHop::Raw(b) => hex(&b),
        });
        assert!(
            classic.as_ref() == Some(nh) || mp.as_ref() == Some(nh),
            "next hop {classic:?} / {mp:?} != {nh}"
        );
    }
    if let Some(ll) = &v.next_hop_link_local {
        let Some(MpNextHop::V6 { link_local, .. }) = u.mp_reach().and_then(|m| m.next_hop()) else {
            panic!("no IPv6 next hop")
        };
        assert_eq!(link_local.unwrap().to_string(), *ll);
    }
    assert_eq!(a.med(), v.med);
    assert_eq!(a.local_pref(), v.local_pref);
    let strings = |it: Vec<String>| it;
    if let Some(c) = &v.communities {
        assert_eq!(
            &strings(a.communities().map(|c| c.to_string()).collect()),
            c
        );
    }
    if let Some(c) = &v.large_communities {
        assert_eq!(
            &strings(a.large_communities().map(|c| c.to_string()).collect()),
            c
        );
    }
    if let Some(c) = &v.ext_communities {
        assert_eq!(
            &strings(a.ext_communities().map(|c| hex(&c.0)).collect()),
            c
        );
    }
    if let Some(agg) = &v.aggregator {
        let got = a.aggregator().unwrap();
        assert_eq!(format!("{}:{}", got.asn, got.addr), *agg);
    }
    if let Some(aa) = v.atomic_aggregate {
        assert_eq!(a.atomic_aggregate(), aa);
    }
    if let Some(id) = &v.originator_id {
        assert_eq!(a.originator_id().unwrap().to_string(), *id);
    }
    if let Some(cl) = &v.cluster_list {
        assert_eq!(
            &strings(a.cluster_list().map(|c| c.to_string()).collect()),
            cl
        );
    }
    if let Some(otc) = v.otc {
        assert_eq!(a.otc().map(|x| x.0), Some(otc));
    }
    if let Some(unknown) = &v.unknown_attributes {
        // The dissector does not know OTC (35); peerex does.
        let ours: Vec<String> = a
            .unknown()
            .map(|r| format!("{:02x}{}", r.type_code, hex(&r.value)))
            .collect();
        for raw in unknown {
            let flags = u8::from_str_radix(&raw[0..2], 16).unwrap();
            let ty = u8::from_str_radix(&raw[2..4], 16).unwrap();
            let value = if flags & 0x10 != 0 {
                &raw[8..]
            } else {
                &raw[6..]
            };
            if ty == 35 {
                let want = u32::from_str_radix(&raw[raw.len() - 8..], 16).unwrap();
                assert_eq!(a.otc().map(|x| x.0), Some(want));
            } else {
                let want = format!("{ty:02x}{value}");
                assert!(ours.contains(&want), "{raw} not in {ours:?}");
            }
        }
    }
    if let Some(types) = &v.attr_types {
        // Every attribute peerex knows reads back; MP ones show as MP views.
        for t in types {
            let present = match t {
                14 => u.mp_reach().is_some(),
                15 => u.mp_unreach().is_some(),
                17 | 18 => true, // merged into AS_PATH / AGGREGATOR on 2-octet sessions
                t => a.raw(*t).is_some() || a.unknown().any(|r| r.type_code == *t),
            };
            assert!(present, "attribute {t} missing");
        }
    }
    let announced: Vec<_> = u.announced().collect();
    if let Some(p) = &v.prefixes {
        let got: Vec<String> = announced.iter().map(|n| n.prefix.to_string()).collect();
        assert_eq!(&got, p);
    }
    if let Some(n) = v.prefixes_count {
        assert_eq!(announced.len(), n);
    }
    if let Some(p) = &v.prefixes_first {
        assert_eq!(announced.first().unwrap().prefix.to_string(), *p);
    }
    if let Some(p) = &v.prefixes_last {
        assert_eq!(announced.last().unwrap().prefix.to_string(), *p);
    }
    if let Some(ids) = &v.path_ids {
        let got: Vec<u32> = announced.iter().map(|n| n.path_id.unwrap().0).collect();
        assert_eq!(&got, ids);
    }
    if let Some(w) = &v.withdrawn {
        let got: Vec<String> = u.withdrawals().map(|n| n.prefix.to_string()).collect();
        assert_eq!(&got, w);
    }
    match &v.eor {
        Some(f) => assert_eq!(u.end_of_rib().unwrap().to_string(), *f),
        None => assert_eq!(u.end_of_rib(), None),
    }
}

#[test]
fn every_captured_vector_decodes_to_its_manifest() {
    let vectors = load();
    assert!(vectors.len() >= 40, "only {} vectors", vectors.len());
    let mut kinds = std::collections::BTreeMap::<(String, String), usize>::new();
    for v in &vectors {
        let bytes = read(v);
        assert_eq!(bytes.len(), v.length, "{}", v.file);
        let ctx = ctx(v);
        let m = Message::decode(bytes.clone(), &ctx)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", v.file));
        let daemon = v.source.split(' ').next().unwrap().to_string();
        *kinds.entry((daemon, v.kind.clone())).or_default() += 1;
        match (&m, v.kind.as_str()) {
            (Message::Open(o), "open") => check_open(v, o),
            (Message::Update(u), "update") => check_update(v, u),
            (Message::Keepalive, "keepalive") => {}
            (Message::Notification(n), "notification") => {
                assert_eq!(n.code, NotifCode::new(v.code.unwrap(), v.subcode.unwrap()));
                if let Some(d) = &v.data {
                    assert_eq!(hex(&n.data), *d);
                }
                assert_eq!(n.shutdown_message(), v.shutdown_message.as_deref());
            }
            (Message::RouteRefresh(r), "route-refresh") => {
                assert_eq!(r.afi_safi.afi.0, v.afi.unwrap());
                assert_eq!(r.afi_safi.safi.0, v.safi.unwrap());
                assert_eq!(u8::from(r.kind), v.subtype.unwrap());
            }
            _ => panic!(
                "{}: decoded as {:?}, manifest says {}",
                v.file,
                m.kind(),
                v.kind
            ),
        }
        // Re-encode what was decoded and decode again: the same value.
        let again = match &m {
            Message::Update(u) => {
                let owned = u.to_owned();
                let mut out = BytesMut::new();
                owned.encode(&ctx, &mut out).unwrap();
                let Message::Update(u2) = Message::decode(out.freeze(), &ctx).unwrap() else {
                    panic!()
                };
                assert_eq!(u2.to_owned(), owned, "{}", v.file);
                continue;
            }
            other => {
                let mut out = BytesMut::new();
                other.encode(&ctx, &mut out);
                out.freeze()
            }
        };
        let m2 = Message::decode(again.clone(), &ctx).unwrap();
        match (&m, &m2) {
            (Message::Open(a), Message::Open(b)) => assert_eq!(a, b),
            (Message::Notification(a), Message::Notification(b)) => assert_eq!(a, b),
            (Message::RouteRefresh(a), Message::RouteRefresh(b)) => assert_eq!(a, b),
            (Message::Keepalive, Message::Keepalive) => assert_eq!(again, bytes),
            _ => panic!("{}: kind changed", v.file),
        }
    }
    // At least one vector of every message type, from a real implementation.
    for kind in [
        "open",
        "update",
        "keepalive",
        "notification",
        "route-refresh",
    ] {
        assert!(kinds.keys().any(|(_, k)| k == kind), "no {kind} vector");
    }
}
