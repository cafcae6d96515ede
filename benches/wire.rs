//! Criterion benchmarks of the `wire` codec.
//!
//! * `decode/*`: the same UPDATE bytes through peerex (`Update::parse`, then every attribute
//!   read through the view and every prefix extracted) and through bgpkit-parser
//!   (`parse_bgp_message`, then every attribute value and every prefix touched), side by side
//!   in one group per corpus. Throughput is in prefixes.
//! * `encode/*`: `UpdateMessage::encode` of single-prefix UPDATEs and `pack_announce` of
//!   10,000 prefixes sharing one attribute set. Throughput is in prefixes.
//!
//! The corpora are generated deterministically with peerex's own encoders (see `corpus`
//! below). Before anything is timed, every message of every corpus is decoded by both parsers
//! and the results are compared (prefix count, AS path, and a digest of every value read), so
//! the two sides provably do the same work on input both accept.
//!
//! Run: `cargo bench --bench wire -- --warm-up-time 1 --measurement-time 5`
//!
//! The corpus lives in this file rather than in `benches/corpus.rs` because Cargo would
//! auto-discover a `benches/corpus.rs` as a bench target of its own.

use std::hint::black_box;
use std::net::IpAddr;

use bgpkit_parser::models::{
    AsPathSegment, AsnLength, AttributeValue, BgpMessage, BgpUpdateMessage,
    Community as BkCommunity, NetworkPrefix, NextHopAddress,
};
use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerex::wire::update::pack_announce;
use peerex::wire::{Family, MpNextHop, ParseCtx, Prefix, Update};

use corpus::Corpus;

/// Deterministic generation of realistic UPDATEs with peerex's encoders.
mod corpus {
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use bytes::{Bytes, BytesMut};
    use peerex::wire::update::pack_announce;
    use peerex::wire::{
        AsPath, Asn, Community, Family, LargeCommunity, MpNextHop, MpReach, Nlri, Origin, ParseCtx,
        PathAttributes, Prefix, Prefix4, Prefix6, UpdateMessage,
    };

    /// SplitMix64: tiny, fast, good enough, and stable across platforms and versions.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed)
        }
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// Uniform in `lo..=hi`.
        pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.below(hi - lo + 1)
        }
        pub fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        /// Picks from `(weight, value)` pairs.
        pub fn weighted<T: Copy>(&mut self, table: &[(u64, T)]) -> T {
            let total: u64 = table.iter().map(|(w, _)| w).sum();
            let mut x = self.below(total);
            for &(w, v) in table {
                if x < w {
                    return v;
                }
                x -= w;
            }
            table[0].1
        }
    }

    /// An ASN as seen in the DFZ: half 2-octet, the rest 4-octet (above 65535).
    fn asn(rng: &mut Rng) -> Asn {
        let v = match rng.below(10) {
            0..=4 => rng.range(1, 64_495),
            5..=7 => rng.range(131_072, 401_308),
            8 => rng.range(262_144, 399_999),
            _ => rng.range(4_200_000_000, 4_294_967_294),
        };
        // AS_TRANS never appears on a 4-octet session.
        Asn(if v == 23_456 { 23_457 } else { v as u32 })
    }

    /// The route server's members: each UPDATE comes from one of them.
    const MEMBERS: usize = 64;

    fn member_asn(i: usize) -> Asn {
        // A stable mix of 2- and 4-octet member ASNs.
        if i % 3 == 0 {
            Asn(200_000 + i as u32 * 7)
        } else {
            Asn(6_000 + i as u32 * 13)
        }
    }

    /// An AS_SEQUENCE of 3–8 hops starting with the member's AS, sometimes with prepends.
    fn as_path(rng: &mut Rng, member: Asn) -> AsPath {
        let hops = rng.range(3, 8) as usize;
        let mut asns = vec![member];
        while asns.len() < hops {
            let a = asn(rng);
            asns.push(a);
            // Origin prepending, now and then.
            if asns.len() < hops && rng.chance(10) {
                asns.push(a);
            }
        }
        AsPath::sequence(asns)
    }

    /// A typical attribute set: ORIGIN, AS_PATH, NEXT_HOP (IPv4 only), sometimes MED,
    /// 2–6 standard communities and one large community.
    pub fn attrs(rng: &mut Rng, v4_next_hop: bool) -> PathAttributes {
        let m = rng.below(MEMBERS as u64) as usize;
        let member = member_asn(m);
        let origin = rng.weighted(&[
            (80, Origin::Igp),
            (15, Origin::Incomplete),
            (5, Origin::Egp),
        ]);
        let high = if member.is_16bit() {
            member.0 as u16
        } else {
            65_000
        };
        let mut communities: Vec<Community> = (0..rng.range(2, 6))
            .map(|_| {
                let h = if rng.chance(60) {
                    high
                } else {
                    rng.range(1, 64_000) as u16
                };
                Community::new(h, rng.range(1, 65_000) as u16)
            })
            .collect();
        if rng.chance(5) {
            if let Some(c) = communities.last_mut() {
                *c = Community::NO_EXPORT;
            }
        }
        PathAttributes {
            origin: Some(origin),
            as_path: Some(as_path(rng, member)),
            next_hop: v4_next_hop.then(|| Ipv4Addr::new(198, 51, 100, 1 + m as u8)),
            med: rng.chance(40).then(|| rng.below(1_000) as u32),
            communities,
            large_communities: vec![LargeCommunity::new(
                member.0,
                rng.range(1, 9) as u32,
                rng.below(100_000) as u32,
            )],
            ..PathAttributes::default()
        }
    }

    /// An RFC 2545 next hop of a member: global, and link-local for half of them.
    pub fn v6_next_hop(rng: &mut Rng) -> MpNextHop {
        let m = rng.below(MEMBERS as u64) as u16;
        let global = Ipv6Addr::new(0x2001, 0x7f8, 0, 0, 0, 0, 0xa5, m + 1);
        let link_local = (m % 2 == 0).then(|| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, m + 1));
        MpNextHop::V6 { global, link_local }
    }

    /// IPv4 prefix lengths roughly as in the DFZ.
    pub fn v4_len(rng: &mut Rng) -> u8 {
        rng.weighted(&[
            (55, 24),
            (8, 23),
            (10, 22),
            (5, 21),
            (6, 20),
            (4, 19),
            (2, 18),
            (2, 17),
            (4, 16),
            (1, 12),
            (1, 8),
            (1, 28),
            (1, 32),
        ])
    }

    /// IPv6 prefix lengths roughly as in the DFZ.
    pub fn v6_len(rng: &mut Rng) -> u8 {
        rng.weighted(&[
            (50, 48),
            (10, 32),
            (8, 44),
            (7, 40),
            (4, 36),
            (3, 29),
            (6, 56),
            (6, 64),
            (3, 128),
            (3, 46),
        ])
    }

    /// Distinct prefixes, never repeated within one generator.
    pub struct Prefixes {
        rng: Rng,
        seen: HashSet<Prefix>,
    }

    impl Prefixes {
        pub fn new(seed: u64) -> Self {
            Prefixes {
                rng: Rng::new(seed),
                seen: HashSet::new(),
            }
        }

        fn fresh(&mut self, make: impl Fn(&mut Rng) -> Option<Prefix>) -> Prefix {
            loop {
                if let Some(p) = make(&mut self.rng) {
                    if self.seen.insert(p) {
                        return p;
                    }
                }
            }
        }

        /// A unicast IPv4 prefix of `len` bits (first octet 1–223, not 10 or 127).
        pub fn v4(&mut self, len: u8) -> Prefix {
            self.fresh(|rng| {
                let a = rng.next() as u32;
                let first = a >> 24;
                if first == 0 || first == 10 || first == 127 || first >= 224 {
                    return None;
                }
                Prefix4::new(a, len).map(Prefix::V4)
            })
        }

        /// A global unicast IPv6 prefix (2000::/3) of `len` bits.
        pub fn v6(&mut self, len: u8) -> Prefix {
            self.fresh(|rng| {
                let a = (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3
                    | 0x2000_0000_0000_0000_0000_0000_0000_0000;
                Prefix6::new(a, len).map(Prefix::V6)
            })
        }

        pub fn v4_mixed(&mut self, n: usize) -> Vec<Nlri> {
            (0..n)
                .map(|_| {
                    let len = v4_len(&mut self.rng);
                    Nlri::new(self.v4(len))
                })
                .collect()
        }

        pub fn v6_mixed(&mut self, n: usize) -> Vec<Nlri> {
            (0..n)
                .map(|_| {
                    let len = v6_len(&mut self.rng);
                    Nlri::new(self.v6(len))
                })
                .collect()
        }
    }

    /// A set of whole UPDATE messages (header included), each a slice of one shared buffer as
    /// the session codec would hand them over.
    pub struct Corpus {
        pub name: &'static str,
        pub msgs: Vec<Bytes>,
        pub prefixes: u64,
    }

    /// Splits back-to-back messages at their header lengths.
    pub fn split(mut buf: Bytes) -> Vec<Bytes> {
        let mut out = Vec::new();
        while buf.len() >= 19 {
            let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
            out.push(buf.split_to(len));
        }
        assert!(buf.is_empty(), "trailing octets after the last message");
        out
    }

    fn encode_all(msgs: &[UpdateMessage], ctx: &ParseCtx) -> Vec<Bytes> {
        let mut out = BytesMut::new();
        for m in msgs {
            m.encode(ctx, &mut out).expect("an UPDATE that fits");
        }
        split(out.freeze())
    }

    /// `n` single-prefix IPv4 UPDATEs (NLRI field), each with its own typical attributes.
    pub fn single_v4(n: usize, ctx: &ParseCtx) -> (Vec<UpdateMessage>, Corpus) {
        let mut rng = Rng::new(0x5eed_0001);
        let mut pfx = Prefixes::new(0x5eed_0002);
        let owned: Vec<UpdateMessage> = (0..n)
            .map(|_| {
                let len = v4_len(&mut rng);
                UpdateMessage {
                    attrs: attrs(&mut rng, true),
                    nlri: vec![Nlri::new(pfx.v4(len))],
                    ..UpdateMessage::default()
                }
            })
            .collect();
        let msgs = encode_all(&owned, ctx);
        let corpus = Corpus {
            name: "single_v4",
            msgs,
            prefixes: n as u64,
        };
        (owned, corpus)
    }

    /// `n` single-prefix IPv6 UPDATEs (one prefix in MP_REACH_NLRI).
    pub fn single_v6(n: usize, ctx: &ParseCtx) -> (Vec<UpdateMessage>, Corpus) {
        let mut rng = Rng::new(0x5eed_0003);
        let mut pfx = Prefixes::new(0x5eed_0004);
        let owned: Vec<UpdateMessage> = (0..n)
            .map(|_| {
                let len = v6_len(&mut rng);
                let nh = v6_next_hop(&mut rng);
                UpdateMessage {
                    attrs: attrs(&mut rng, false),
                    mp_reach: Some(MpReach::new(
                        Family::Ipv6Unicast,
                        nh,
                        vec![Nlri::new(pfx.v6(len))],
                    )),
                    ..UpdateMessage::default()
                }
            })
            .collect();
        let msgs = encode_all(&owned, ctx);
        let corpus = Corpus {
            name: "single_v6",
            msgs,
            prefixes: n as u64,
        };
        (owned, corpus)
    }

    /// How the prefixes of a packed corpus are chosen.
    #[derive(Copy, Clone)]
    pub enum Lengths {
        /// Every prefix a /24 (IPv4) or /48 (IPv6).
        Typical,
        /// The DFZ mix of lengths.
        Mixed,
    }

    /// `n` UPDATEs, each filled to the 4,096-octet limit by `pack_announce` with prefixes
    /// sharing one attribute set (a different set per message).
    pub fn packed(
        name: &'static str,
        family: Family,
        lengths: Lengths,
        n: usize,
        seed: u64,
        ctx: &ParseCtx,
    ) -> Corpus {
        let mut rng = Rng::new(seed);
        let mut pfx = Prefixes::new(seed ^ 0xffff);
        let mut msgs = Vec::new();
        let mut prefixes = 0;
        for _ in 0..n {
            let v4 = family == Family::Ipv4Unicast;
            let a = attrs(&mut rng, v4);
            let mut enc = BytesMut::new();
            a.encode(ctx, &mut enc);
            // More than fit in one message; only the first (full) message is kept.
            let list: Vec<Nlri> = match (family, lengths) {
                (Family::Ipv4Unicast, Lengths::Typical) => {
                    (0..1_100).map(|_| Nlri::new(pfx.v4(24))).collect()
                }
                (Family::Ipv4Unicast, Lengths::Mixed) => pfx.v4_mixed(1_400),
                (Family::Ipv6Unicast, Lengths::Typical) => {
                    (0..650).map(|_| Nlri::new(pfx.v6(48))).collect()
                }
                (Family::Ipv6Unicast, Lengths::Mixed) => pfx.v6_mixed(650),
            };
            let nh = if v4 {
                MpNextHop::V4(Ipv4Addr::new(198, 51, 100, 1))
            } else {
                v6_next_hop(&mut rng)
            };
            let mut out = BytesMut::new();
            let written = pack_announce(ctx, family, &enc, &nh, &list, &mut out).expect("pack");
            assert!(written >= 2, "the list should overflow one message");
            let first = split(out.freeze()).swap_remove(0);
            assert!(first.len() > ctx.max_len() - 22, "message not full");
            msgs.push(first);
        }
        // Count what landed in the kept messages.
        for m in &msgs {
            let u = peerex::wire::Update::parse(m.clone(), ctx).expect("own packed UPDATE");
            prefixes += u.announced().count() as u64;
        }
        Corpus {
            name,
            msgs,
            prefixes,
        }
    }

    /// One typical attribute set, encoded, for the packing benches.
    pub fn shared_attrs(family: Family, ctx: &ParseCtx) -> (Bytes, MpNextHop) {
        let mut rng = Rng::new(0x5eed_0005);
        let v4 = family == Family::Ipv4Unicast;
        let a = attrs(&mut rng, v4);
        let mut enc = BytesMut::new();
        a.encode(ctx, &mut enc);
        let nh = if v4 {
            MpNextHop::V4(Ipv4Addr::new(198, 51, 100, 1))
        } else {
            v6_next_hop(&mut rng)
        };
        (enc.freeze(), nh)
    }
}

// ---------------------------------------------------------------------------------------------
// The decode work, identical on both sides: every attribute value and every prefix is folded
// into an order-independent digest (a sum of mixed items), so both parsers must produce the
// same digest for the same message.

/// What decoding one message produced.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Work {
    digest: u64,
    prefixes: u64,
}

/// An order-independent digest: the wrapping sum of every (tag, value) read, mixed.
#[derive(Default)]
struct Digest(u64);

impl Digest {
    #[inline(always)]
    fn add(&mut self, tag: u64, v: u64) {
        let mixed = (v ^ tag.rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = self.0.wrapping_add(mixed);
    }
}

#[inline(always)]
fn fold128(v: u128) -> u64 {
    (v as u64) ^ ((v >> 64) as u64)
}

#[inline(always)]
fn prefix_key(addr: u64, len: u8) -> u64 {
    addr.rotate_left(8) ^ u64::from(len)
}

#[inline(always)]
fn peerex_prefix(p: Prefix) -> u64 {
    match p {
        Prefix::V4(p) => prefix_key(u64::from(p.addr_bits()), p.length()),
        Prefix::V6(p) => prefix_key(fold128(p.addr_bits()), p.length()),
    }
}

#[inline(always)]
fn bgpkit_prefix(p: &NetworkPrefix) -> u64 {
    let len = p.prefix.prefix_len();
    match p.prefix.addr() {
        IpAddr::V4(a) => prefix_key(u64::from(a.to_bits()), len),
        IpAddr::V6(a) => prefix_key(fold128(a.to_bits()), len),
    }
}

/// Reads everything peerex's view offers.
#[inline(always)]
fn peerex_touch(u: &Update) -> Work {
    let a = u.attrs();
    let mut d = Digest::default();
    if let Some(o) = a.origin() {
        d.add(1, o as u64);
    }
    if let Some(p) = a.as_path() {
        let mut i = 0u64;
        for s in p.segments() {
            d.add(2, s.kind() as u64);
            for asn in s.asns() {
                d.add(3, u64::from(asn.0) | i << 32);
                i += 1;
            }
        }
    }
    if let Some(nh) = a.next_hop() {
        d.add(4, u64::from(nh.to_bits()));
    }
    if let Some(m) = a.med() {
        d.add(5, u64::from(m));
    }
    if let Some(lp) = a.local_pref() {
        d.add(6, u64::from(lp));
    }
    if a.atomic_aggregate() {
        d.add(7, 0);
    }
    if let Some(ag) = a.aggregator() {
        d.add(8, u64::from(ag.asn.0) << 32 | u64::from(ag.addr.to_bits()));
    }
    for c in a.communities() {
        d.add(9, u64::from(c.0));
    }
    // Not in the corpora; both sides count them (bgpkit keeps no raw form to digest).
    let mut ext = 0u64;
    for e in a.ext_communities() {
        black_box(e);
        ext += 1;
    }
    if ext > 0 {
        d.add(10, ext);
    }
    for l in a.large_communities() {
        d.add(11, u64::from(l.global));
        d.add(12, u64::from(l.local1));
        d.add(13, u64::from(l.local2));
    }
    if let Some(id) = a.originator_id() {
        d.add(14, u64::from(id.to_bits()));
    }
    for c in a.cluster_list() {
        d.add(15, u64::from(c.to_bits()));
    }
    if let Some(otc) = a.otc() {
        d.add(16, u64::from(otc.0));
    }
    if let Some(mp) = u.mp_reach() {
        match mp.next_hop() {
            Some(MpNextHop::V4(a)) => d.add(4, u64::from(a.to_bits())),
            Some(MpNextHop::V6 { global, link_local }) => {
                d.add(17, fold128(global.to_bits()));
                if let Some(ll) = link_local {
                    d.add(18, fold128(ll.to_bits()));
                }
            }
            _ => {}
        }
    }
    let mut n = 0;
    for p in u.announced() {
        d.add(20, peerex_prefix(p.prefix));
        n += 1;
    }
    for p in u.withdrawals() {
        d.add(21, peerex_prefix(p.prefix));
        n += 1;
    }
    Work {
        digest: d.0,
        prefixes: n,
    }
}

#[inline(always)]
fn peerex_decode(msg: &Bytes, ctx: &ParseCtx) -> Work {
    match Update::parse(msg.clone(), ctx) {
        Ok(u) => peerex_touch(&u),
        Err(_) => Work::default(),
    }
}

/// Reads everything bgpkit-parser decoded.
#[inline(always)]
fn bgpkit_touch(u: &BgpUpdateMessage) -> Work {
    let mut d = Digest::default();
    let mut n = 0;
    for v in &u.attributes {
        match v {
            AttributeValue::Origin(o) => d.add(1, *o as u64),
            AttributeValue::AsPath(p) => {
                let mut i = 0u64;
                for s in &p.segments {
                    let kind = match s {
                        AsPathSegment::AsSet(_) => 1,
                        AsPathSegment::AsSequence(_) => 2,
                        AsPathSegment::ConfedSequence(_) => 3,
                        AsPathSegment::ConfedSet(_) => 4,
                    };
                    d.add(2, kind);
                    for asn in s {
                        d.add(3, u64::from(u32::from(asn)) | i << 32);
                        i += 1;
                    }
                }
            }
            AttributeValue::NextHop(IpAddr::V4(a)) => d.add(4, u64::from(a.to_bits())),
            AttributeValue::MultiExitDiscriminator(m) => d.add(5, u64::from(*m)),
            AttributeValue::LocalPreference(lp) => d.add(6, u64::from(*lp)),
            AttributeValue::AtomicAggregate => d.add(7, 0),
            AttributeValue::Aggregator { asn, id } => {
                let v = u64::from(u32::from(asn)) << 32 | u64::from(id.to_bits());
                d.add(8, v);
            }
            AttributeValue::Communities(list) => {
                for c in list {
                    let v = match c {
                        BkCommunity::NoExport => 0xffff_ff01,
                        BkCommunity::NoAdvertise => 0xffff_ff02,
                        BkCommunity::NoExportSubConfed => 0xffff_ff03,
                        BkCommunity::Custom(asn, low) => u32::from(asn) << 16 | u32::from(*low),
                    };
                    d.add(9, u64::from(v));
                }
            }
            AttributeValue::ExtendedCommunities(list) => d.add(10, black_box(list).len() as u64),
            AttributeValue::LargeCommunities(list) => {
                for l in list {
                    d.add(11, u64::from(l.global_admin));
                    d.add(12, u64::from(l.local_data[0]));
                    d.add(13, u64::from(l.local_data[1]));
                }
            }
            AttributeValue::OriginatorId(id) => d.add(14, u64::from(id.to_bits())),
            AttributeValue::Clusters(list) => {
                for c in list {
                    d.add(15, u64::from(*c));
                }
            }
            AttributeValue::OnlyToCustomer(asn) => d.add(16, u64::from(u32::from(asn))),
            AttributeValue::MpReachNlri(nlri) => {
                match &nlri.next_hop {
                    Some(NextHopAddress::Ipv4(a)) => d.add(4, u64::from(a.to_bits())),
                    Some(NextHopAddress::Ipv6(g)) => d.add(17, fold128(g.to_bits())),
                    Some(NextHopAddress::Ipv6LinkLocal(g, ll)) => {
                        d.add(17, fold128(g.to_bits()));
                        d.add(18, fold128(ll.to_bits()));
                    }
                    _ => {}
                }
                for p in &nlri.prefixes {
                    d.add(20, bgpkit_prefix(p));
                    n += 1;
                }
            }
            AttributeValue::MpUnreachNlri(nlri) => {
                for p in &nlri.prefixes {
                    d.add(21, bgpkit_prefix(p));
                    n += 1;
                }
            }
            _ => {}
        }
    }
    for p in &u.announced_prefixes {
        d.add(20, bgpkit_prefix(p));
        n += 1;
    }
    for p in &u.withdrawn_prefixes {
        d.add(21, bgpkit_prefix(p));
        n += 1;
    }
    Work {
        digest: d.0,
        prefixes: n,
    }
}

fn bgpkit_parse(msg: &Bytes) -> Option<BgpUpdateMessage> {
    let mut data = msg.clone();
    match parse_bgp_message(&mut data, false, &AsnLength::Bits32) {
        Ok(BgpMessage::Update(u)) => Some(u),
        _ => None,
    }
}

#[inline(always)]
fn bgpkit_decode(msg: &Bytes) -> Work {
    match bgpkit_parse(msg) {
        Some(u) => bgpkit_touch(&u),
        None => Work::default(),
    }
}

/// Proves, before timing, that both parsers accept every message of the corpus cleanly and
/// read the same prefixes, the same AS path and the same values.
fn check_corpus(c: &Corpus, ctx: &ParseCtx) {
    let mut total = 0;
    for (i, m) in c.msgs.iter().enumerate() {
        let u = Update::parse(m.clone(), ctx).expect("peerex parses its own UPDATE");
        assert!(
            u.issues().is_empty(),
            "{} #{i}: peerex issues {:?}",
            c.name,
            u.issues()
        );
        let b = bgpkit_parse(m).unwrap_or_else(|| panic!("{} #{i}: bgpkit failed", c.name));
        assert!(
            b.attributes.validation_warnings().is_empty(),
            "{} #{i}: bgpkit warnings {:?}",
            c.name,
            b.attributes.validation_warnings()
        );
        let pw = peerex_touch(&u);
        let bw = bgpkit_touch(&b);
        let bk_prefixes = b.announced_prefixes.len()
            + b.attributes
                .get_reachable_nlri()
                .map_or(0, |n| n.prefixes.len());
        assert_eq!(
            pw.prefixes, bk_prefixes as u64,
            "{} #{i}: prefix count",
            c.name
        );
        let p_path: Vec<u32> = u
            .attrs()
            .as_path()
            .map(|p| p.asns().map(|a| a.0).collect())
            .unwrap_or_default();
        let b_path: Vec<u32> = b
            .attributes
            .as_path()
            .map(|p| p.iter_segments().flatten().map(u32::from).collect())
            .unwrap_or_default();
        assert!(!p_path.is_empty());
        assert_eq!(p_path, b_path, "{} #{i}: AS path", c.name);
        assert_eq!(pw, bw, "{} #{i}: digest of everything read", c.name);
        total += pw.prefixes;
    }
    assert_eq!(total, c.prefixes, "{}: corpus prefix count", c.name);
}

fn bench_decode(c: &mut Criterion) {
    let ctx = ParseCtx::new();
    use corpus::Lengths::{Mixed, Typical};
    let (v4, v6) = (Family::Ipv4Unicast, Family::Ipv6Unicast);
    let mut corpora = vec![corpus::single_v4(10_000, &ctx).1];
    for (name, family, lengths, messages, seed) in [
        ("packed_v4_24", v4, Typical, 40, 0x5eed_0010),
        ("packed_v4_mixed", v4, Mixed, 8, 0x5eed_0020),
        ("packed_v6_48", v6, Typical, 20, 0x5eed_0030),
        ("packed_v6_mixed", v6, Mixed, 8, 0x5eed_0040),
    ] {
        corpora.push(corpus::packed(name, family, lengths, messages, seed, &ctx));
        if name == "packed_v4_mixed" {
            corpora.push(corpus::single_v6(5_000, &ctx).1);
        }
    }
    for corpus in &corpora {
        check_corpus(corpus, &ctx);
        let octets: usize = corpus.msgs.iter().map(Bytes::len).sum();
        eprintln!(
            "corpus {}: {} messages, {} prefixes, {} octets ({:.1} prefixes/message)",
            corpus.name,
            corpus.msgs.len(),
            corpus.prefixes,
            octets,
            corpus.prefixes as f64 / corpus.msgs.len() as f64
        );
        let mut g = c.benchmark_group(format!("decode/{}", corpus.name));
        g.throughput(Throughput::Elements(corpus.prefixes));
        g.sample_size(30);
        g.bench_function("peerex", |b| {
            b.iter(|| {
                let mut acc = 0u64;
                for m in &corpus.msgs {
                    let w = peerex_decode(black_box(m), &ctx);
                    acc = acc.wrapping_add(w.digest) ^ w.prefixes;
                }
                black_box(acc)
            })
        });
        g.bench_function("bgpkit", |b| {
            b.iter(|| {
                let mut acc = 0u64;
                for m in &corpus.msgs {
                    let w = bgpkit_decode(black_box(m));
                    acc = acc.wrapping_add(w.digest) ^ w.prefixes;
                }
                black_box(acc)
            })
        });
        g.finish();
    }
}

fn bench_encode(c: &mut Criterion) {
    let ctx = ParseCtx::new();

    // UpdateMessage::encode, one prefix per message (bgpkit's encoder alongside, on the same
    // messages as it decoded them).
    for (owned, corpus) in [
        corpus::single_v4(10_000, &ctx),
        corpus::single_v6(5_000, &ctx),
    ] {
        let bk: Vec<BgpMessage> = corpus
            .msgs
            .iter()
            .map(|m| BgpMessage::Update(bgpkit_parse(m).expect("bgpkit parses")))
            .collect();
        let octets: usize = corpus.msgs.iter().map(Bytes::len).sum();
        let mut g = c.benchmark_group(format!("encode/{}", corpus.name));
        g.throughput(Throughput::Elements(corpus.prefixes));
        g.sample_size(30);
        let mut out = BytesMut::with_capacity(octets);
        g.bench_function("peerex", |b| {
            b.iter(|| {
                out.clear();
                for m in &owned {
                    let _ = black_box(m).encode(&ctx, &mut out);
                }
                black_box(out.len())
            })
        });
        g.bench_function("bgpkit", |b| {
            b.iter(|| {
                let mut n = 0;
                for m in &bk {
                    n += black_box(m)
                        .encode(AsnLength::Bits32)
                        .map_or(0, |b| b.len());
                }
                black_box(n)
            })
        });
        g.finish();
    }

    // pack_announce: 10,000 prefixes sharing one attribute set.
    let mut pfx = corpus::Prefixes::new(0x5eed_0050);
    for (name, family, list) in [
        ("pack_v4_10k", Family::Ipv4Unicast, pfx.v4_mixed(10_000)),
        ("pack_v6_10k", Family::Ipv6Unicast, pfx.v6_mixed(10_000)),
    ] {
        let (attrs, nh) = corpus::shared_attrs(family, &ctx);
        let mut out = BytesMut::with_capacity(1 << 20);
        let msgs = pack_announce(&ctx, family, &attrs, &nh, &list, &mut out).expect("pack");
        // The packed output decodes back to the same prefixes.
        let back: Vec<_> = corpus::split(out.split().freeze())
            .into_iter()
            .flat_map(|m| {
                let u = Update::parse(m, &ctx).expect("packed UPDATE parses");
                assert!(u.issues().is_empty());
                u.announced().collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(back, list);
        eprintln!("encode {name}: {} prefixes in {msgs} messages", list.len());
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(list.len() as u64));
        g.sample_size(50);
        g.bench_function("peerex", |b| {
            b.iter(|| {
                out.clear();
                let n = pack_announce(&ctx, family, &attrs, &nh, black_box(&list), &mut out);
                black_box((n.ok(), out.len()))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_decode, bench_encode);
criterion_main!(benches);
