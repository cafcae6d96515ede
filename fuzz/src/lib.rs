//! Shared code of the peerex fuzz targets: the context byte, the round-trip checks and the
//! accessor walk. Every check panics on a violation so libFuzzer reports the input.
//!
//! The targets in `fuzz_targets/` are thin wrappers around [`fuzz_message`],
//! [`fuzz_update_body`] and [`fuzz_open_body`]; the seed generator (`examples/seeds.rs`) uses
//! the framing helpers here so seeds and targets agree on the input format.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use peerex::wire::header::{self, MsgType, HEADER_LEN, MAX_EXTENDED_LEN};
use peerex::wire::update::TooLong;
use peerex::wire::{
    AsPathView, DecodeError, Family, FamilySet, Message, Notification, Open, ParseCtx,
    RouteRefresh, Update,
};

/// Bit 0 of the context byte: 4-octet AS numbers negotiated.
pub const CTX_FOUR_OCTET_AS: u8 = 0x01;
/// Bit 1: ADD-PATH for IPv4 unicast.
pub const CTX_ADD_PATH_V4: u8 = 0x02;
/// Bit 2: ADD-PATH for IPv6 unicast.
pub const CTX_ADD_PATH_V6: u8 = 0x04;
/// Bit 3: extended messages (65,535-octet UPDATEs).
pub const CTX_EXTENDED: u8 = 0x08;
/// Bit 4: the peer is external.
pub const CTX_EBGP: u8 = 0x10;
/// The bits that mean something; the other three are ignored.
pub const CTX_MASK: u8 = 0x1f;

/// The context a context byte selects (bits 5–7 are ignored).
pub fn ctx_from_byte(b: u8) -> ParseCtx {
    let mut add_path = FamilySet::EMPTY;
    if b & CTX_ADD_PATH_V4 != 0 {
        add_path.insert(Family::Ipv4Unicast);
    }
    if b & CTX_ADD_PATH_V6 != 0 {
        add_path.insert(Family::Ipv6Unicast);
    }
    ParseCtx {
        four_octet_as: b & CTX_FOUR_OCTET_AS != 0,
        add_path,
        extended_message: b & CTX_EXTENDED != 0,
        ebgp: b & CTX_EBGP != 0,
    }
}

/// The context byte of `ctx` (inverse of [`ctx_from_byte`] on the low five bits).
pub fn ctx_to_byte(ctx: &ParseCtx) -> u8 {
    let mut b = 0;
    if ctx.four_octet_as {
        b |= CTX_FOUR_OCTET_AS;
    }
    if ctx.add_path_for(Family::Ipv4Unicast) {
        b |= CTX_ADD_PATH_V4;
    }
    if ctx.add_path_for(Family::Ipv6Unicast) {
        b |= CTX_ADD_PATH_V6;
    }
    if ctx.extended_message {
        b |= CTX_EXTENDED;
    }
    if ctx.ebgp {
        b |= CTX_EBGP;
    }
    b
}

/// A whole message: a valid header for `kind` in front of `body`. `None` when it would exceed
/// 65,535 octets.
pub fn frame(kind: MsgType, body: &[u8]) -> Option<Bytes> {
    let len = HEADER_LEN + body.len();
    if len > MAX_EXTENDED_LEN {
        return None;
    }
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[0xff; 16]);
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.push(kind as u8);
    v.extend_from_slice(body);
    Some(Bytes::from(v))
}

/// Target `message`: context byte, then one whole message.
pub fn fuzz_message(data: &[u8]) {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    let ctx = ctx_from_byte(c);
    check_message(&ctx, Bytes::copy_from_slice(rest));
}

/// Target `update`: context byte, then an UPDATE body (withdrawn routes length onwards).
pub fn fuzz_update_body(data: &[u8]) {
    let Some((&c, body)) = data.split_first() else {
        return;
    };
    let ctx = ctx_from_byte(c);
    let Some(whole) = frame(MsgType::Update, body) else {
        return;
    };
    check_message(&ctx, whole);
}

/// Target `open`: an OPEN body (version onwards).
pub fn fuzz_open_body(body: &[u8]) {
    let Some(whole) = frame(MsgType::Open, body) else {
        return;
    };
    let decoded = Open::decode(&whole);
    // The framed path must agree with the direct decoder whenever the header is acceptable.
    if let Ok(Some(h)) = header::check(&whole, header::MAX_LEN) {
        if h.len == whole.len() {
            match (Message::decode(whole.clone(), &ParseCtx::new()), &decoded) {
                (Ok(Message::Open(m)), Ok(o)) => assert_eq!(&m, o, "Message::decode disagrees"),
                (Err(e1), Err(e2)) => assert_eq!(&e1, e2, "Message::decode error disagrees"),
                (a, b) => panic!("Message::decode {a:?} vs Open::decode {b:?}"),
            }
        }
    }
    match decoded {
        Ok(open) => check_open(&open),
        Err(e) => exercise_error(&e),
    }
}

/// Decodes one whole message under `ctx` and checks it round-trips.
pub fn check_message(ctx: &ParseCtx, whole: Bytes) {
    let msg = match Message::decode(whole.clone(), ctx) {
        Ok(m) => m,
        Err(e) => {
            exercise_error(&e);
            return;
        }
    };
    black_box(msg.kind());
    let mut out = BytesMut::new();
    msg.encode(ctx, &mut out);
    match &msg {
        Message::Open(open) => check_open(open),
        Message::Update(u) => {
            // Message::encode writes an UPDATE as received.
            assert_eq!(&out[..], &whole[..], "UPDATE not written as received");
            check_update(ctx, u);
        }
        Message::Notification(n) => {
            check_notification(n);
            // NOTIFICATION encoding is canonical: the same octets come back.
            assert_eq!(&out[..], &whole[..], "NOTIFICATION octets differ");
        }
        Message::Keepalive => assert_eq!(&out[..], &whole[..], "KEEPALIVE octets differ"),
        Message::RouteRefresh(rr) => {
            check_route_refresh(rr);
            assert_eq!(&out[..], &whole[..], "ROUTE-REFRESH octets differ");
        }
    }
}

/// `Open::decode(Open::encode(open)) == open`, and the encoding is acceptable to the framer.
pub fn check_open(open: &Open) {
    black_box(open.asn());
    for c in &open.capabilities {
        black_box(c.code());
        black_box(c.to_string());
    }
    let mut out = BytesMut::new();
    open.encode(&mut out);
    let whole = out.freeze();
    let hdr = header::check(&whole, header::MAX_LEN);
    assert!(
        matches!(hdr, Ok(Some(h)) if h.len == whole.len() && h.kind == MsgType::Open),
        "re-encoded OPEN has a bad header: {hdr:?}"
    );
    match Open::decode(&whole) {
        Ok(back) => assert_eq!(&back, open, "OPEN round trip"),
        Err(e) => panic!("re-encoded OPEN does not decode: {e}"),
    }
    match Message::decode(whole, &ParseCtx::new()) {
        Ok(Message::Open(back)) => assert_eq!(&back, open, "OPEN round trip via Message"),
        other => panic!("re-encoded OPEN via Message::decode: {other:?}"),
    }
}

fn check_notification(n: &Notification) {
    black_box(n.shutdown_message());
    black_box(n.to_string());
    black_box(n.encoded_len());
    let mut out = BytesMut::new();
    n.encode(MAX_EXTENDED_LEN, &mut out);
    let mut ctx = ParseCtx::new();
    ctx.extended_message = true;
    match Message::decode(out.freeze(), &ctx) {
        Ok(Message::Notification(back)) => assert_eq!(&back, n, "NOTIFICATION round trip"),
        other => panic!("re-encoded NOTIFICATION: {other:?}"),
    }
}

fn check_route_refresh(rr: &RouteRefresh) {
    black_box(rr.to_string());
    let mut out = BytesMut::new();
    rr.encode(&mut out);
    match RouteRefresh::decode(&out.freeze()) {
        Ok(back) => assert_eq!(&back, rr, "ROUTE-REFRESH round trip"),
        Err(e) => panic!("re-encoded ROUTE-REFRESH does not decode: {e}"),
    }
}

fn exercise_error(e: &DecodeError) {
    black_box(e.to_string());
    let mut out = BytesMut::new();
    e.notification.encode(header::MAX_LEN, &mut out);
    assert!(out.len() <= header::MAX_LEN);
    black_box(out);
}

/// Walks every accessor of the view, then checks the owned form round-trips through the
/// encoder: `parse(encode(to_owned(u))).to_owned() == to_owned(u)`, unless the encoding is
/// legitimately too long for the context.
pub fn check_update(ctx: &ParseCtx, u: &Update) {
    exercise_update(u);
    let owned = u.to_owned();
    let mut out = BytesMut::new();
    match owned.encode(ctx, &mut out) {
        Ok(()) => {}
        Err(TooLong { len, max }) => {
            assert!(
                len > max || len > MAX_EXTENDED_LEN,
                "TooLong {len} <= {max}"
            );
            assert!(out.is_empty(), "encode left octets behind on Err");
            return;
        }
    }
    let whole = out.freeze();
    let back = match Update::parse(whole.clone(), ctx) {
        Ok(b) => b,
        Err(e) => panic!(
            "re-encoded UPDATE does not parse: {e}\n owned: {owned:?}\n bytes: {}",
            hex(&whole)
        ),
    };
    exercise_update(&back);
    let owned2 = back.to_owned();
    assert_eq!(
        owned,
        owned2,
        "UPDATE round trip differs; re-encoded: {}",
        hex(&whole)
    );
    // The framed path agrees with Update::parse.
    match Message::decode(whole, ctx) {
        Ok(Message::Update(m)) => assert_eq!(m.to_owned(), owned2),
        other => panic!("re-encoded UPDATE via Message::decode: {other:?}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exercise_path(p: &AsPathView<'_>) {
    let mut hops = 0usize;
    let mut n = 0usize;
    for s in p.segments() {
        let k = s.kind();
        let asns: Vec<_> = s.asns().collect();
        assert_eq!(asns.len(), s.len(), "segment length vs ASNs");
        assert_eq!(s.is_empty(), s.asns().next().is_none());
        assert_eq!(s.asns().len(), s.len(), "ExactSizeIterator");
        hops += k.hops(s.len());
        n += asns.len();
        black_box(k.is_confed());
    }
    assert_eq!(p.hop_count(), hops, "hop_count");
    assert_eq!(p.asns().count(), n, "asns count");
    assert_eq!(p.is_empty(), p.segments().next().is_none());
    let first = p.first_asn();
    let origin = p.origin_asn();
    if let Some(a) = first {
        assert!(p.contains(a));
    }
    if let Some(a) = origin {
        assert!(p.contains(a));
    }
    black_box(p.has_set());
    let owned = p.to_owned();
    assert_eq!(owned.hop_count(), hops, "owned hop_count");
    black_box(owned.to_string());
}

/// Calls every accessor of a checked UPDATE (they must not panic) and checks the few
/// relations between them that always hold.
pub fn exercise_update(u: &Update) {
    black_box(u.as_bytes().len());
    black_box(u.ctx());
    let issues = u.issues();
    black_box(issues.worst());
    assert!(issues.iter().count() <= issues.count());
    assert_eq!(issues.is_empty(), issues.count() == 0);
    for i in issues.iter() {
        black_box(i.to_string());
    }
    black_box(u.treat_as_withdraw());
    black_box(u.attr_section());
    black_box(u.end_of_rib());

    let withdrawn = u.withdrawn().count();
    let nlri = u.nlri().count();
    let mp_reach = u.mp_reach().map_or(0, |m| {
        black_box((m.afi_safi(), m.family()));
        black_box(m.next_hop().map(|nh| nh.to_string()));
        m.nlri().count()
    });
    let mp_unreach = u.mp_unreach().map_or(0, |m| {
        black_box((m.afi_safi(), m.family(), m.next_hop()));
        m.nlri().count()
    });
    assert_eq!(u.announced().count(), nlri + mp_reach, "announced()");
    assert_eq!(
        u.withdrawals().count(),
        withdrawn + mp_unreach,
        "withdrawals()"
    );
    for n in u.announced().chain(u.withdrawals()) {
        black_box(n.to_string());
    }

    let a = u.attrs();
    black_box(a.origin());
    if let Some(p) = a.as_path() {
        exercise_path(&p);
    }
    black_box(a.next_hop());
    black_box(a.med());
    black_box(a.local_pref());
    black_box(a.atomic_aggregate());
    black_box(a.aggregator().map(|x| x.to_string()));
    let c = a.communities();
    assert_eq!(c.len(), c.clone().count());
    for x in c {
        black_box((x.high(), x.low(), x.to_string()));
    }
    let e = a.ext_communities();
    assert_eq!(e.len(), e.clone().count());
    for x in e {
        black_box((x.kind(), x.is_non_transitive(), x.to_string()));
    }
    let l = a.large_communities();
    assert_eq!(l.len(), l.clone().count());
    for x in l {
        black_box(x.to_string());
    }
    black_box(a.originator_id());
    black_box(a.cluster_list().count());
    black_box(a.otc());
    for r in a.unknown() {
        black_box((r.flags, r.type_code, r.value.len()));
    }
    for ty in 0..=255u8 {
        black_box(a.raw(ty));
    }
}
pub mod bmp;
pub mod pipeline;
