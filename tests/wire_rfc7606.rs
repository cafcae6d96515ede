//! One test per row of RFC 7606's error handling (and the rules of RFC 4271, RFC 4760,
//! RFC 6793, RFC 7607, RFC 8092 and RFC 9234 it points to): each malformed UPDATE must be
//! reported with the right action, and the prefixes to withdraw must stay readable.

use bytes::Bytes;
use peerex::wire::notification::UpdateSubcode;
use peerex::wire::{
    Action, AfiSafi, Asn, Community, FamilySet, Fault, NotifCode, ParseCtx, Prefix, Update,
};

const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
const AS_PATH_65001: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];
const NLRI_10_1: &[u8] = &[24, 10, 1, 0];

/// Builds a whole UPDATE from its three fields.
fn msg(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Bytes {
    let mut m = vec![0xffu8; 16];
    let len = 19 + 2 + withdrawn.len() + 2 + attrs.len() + nlri.len();
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    m.extend_from_slice(withdrawn);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    Bytes::from(m)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The three mandatory attributes plus `extra`.
fn with(extra: &[u8]) -> Vec<u8> {
    cat(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP, extra])
}

fn ebgp() -> ParseCtx {
    ParseCtx::new()
}

fn ibgp() -> ParseCtx {
    ParseCtx {
        ebgp: false,
        ..ParseCtx::new()
    }
}

fn two_octet() -> ParseCtx {
    ParseCtx {
        four_octet_as: false,
        ..ParseCtx::new()
    }
}

fn parse(m: Bytes, ctx: &ParseCtx) -> Update {
    Update::parse(m, ctx).expect("UPDATE should survive")
}

/// Asserts the strongest action and that one issue names `attr` with `fault`.
fn assert_issue(u: &Update, attr: Option<u8>, fault: Fault, action: Action) {
    assert_eq!(u.issues().worst(), Some(action), "issues: {:?}", u.issues());
    assert!(
        u.issues()
            .iter()
            .any(|i| i.attr == attr && i.fault == fault && i.action == action),
        "no {attr:?}/{fault:?}/{action:?} in {:?}",
        u.issues()
    );
}

fn assert_reset(m: Bytes, ctx: &ParseCtx, sub: UpdateSubcode) -> peerex::wire::DecodeError {
    let e = Update::parse(m, ctx).expect_err("should reset");
    assert_eq!(e.action, Action::SessionReset);
    assert_eq!(e.notification.code, NotifCode::Update(sub));
    e
}

fn announced(u: &Update) -> Vec<String> {
    u.announced().map(|n| n.prefix.to_string()).collect()
}

#[test]
fn clean_update_has_no_issues() {
    let u = parse(msg(&[], &with(&[]), NLRI_10_1), &ebgp());
    assert!(u.issues().is_empty());
    assert!(!u.treat_as_withdraw());
    assert_eq!(announced(&u), vec!["10.1.0.0/24"]);
}

// RFC 7606 §4 / RFC 4271 §6.3: lengths that cannot locate the fields.
#[test]
fn withdrawn_length_overrun_resets() {
    let mut m = msg(&[24, 10, 1, 0], &[], &[]).to_vec();
    m[20] = 200;
    assert_reset(
        Bytes::from(m),
        &ebgp(),
        UpdateSubcode::MalformedAttributeList,
    );
}

#[test]
fn total_attribute_length_overrun_resets() {
    let mut m = msg(&[], &with(&[]), &[]).to_vec();
    m[22] = 0xff;
    let e = assert_reset(
        Bytes::from(m),
        &ebgp(),
        UpdateSubcode::MalformedAttributeList,
    );
    assert_eq!(e.fault, Fault::AttributesLength);
}

// RFC 7606 §4: attribute header or length overrunning the section → treat-as-withdraw, NLRI
// still located through the Total Path Attribute Length.
#[test]
fn attribute_header_overrun_is_treat_as_withdraw() {
    let attrs = cat(&[&with(&[]), &[0xc0, 8]]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert_issue(
        &u,
        None,
        Fault::AttributeHeaderOverrun,
        Action::TreatAsWithdraw,
    );
    assert!(u.treat_as_withdraw());
    assert_eq!(announced(&u), vec!["10.1.0.0/24"]);
}

#[test]
fn attribute_length_overrun_is_treat_as_withdraw() {
    let attrs = cat(&[&with(&[]), &[0xc0, 8, 8, 0, 1, 0, 2]]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert_issue(
        &u,
        Some(8),
        Fault::AttributeOverrun,
        Action::TreatAsWithdraw,
    );
    assert_eq!(announced(&u), vec!["10.1.0.0/24"]);
}

// RFC 7606 §3 (c): Optional/Transitive flags conflicting with the type.
#[test]
fn flags_conflict_is_treat_as_withdraw() {
    let attrs = cat(&[&[0xc0, 1, 1, 0], AS_PATH_65001, NEXT_HOP]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert_issue(&u, Some(1), Fault::Flags, Action::TreatAsWithdraw);
    assert_eq!(u.attrs().origin(), None);
}

// RFC 7606 §3 (d): missing well-known mandatory attributes.
#[test]
fn missing_mandatory_is_treat_as_withdraw() {
    for (attrs, missing) in [
        (cat(&[AS_PATH_65001, NEXT_HOP]), 1u8),
        (cat(&[ORIGIN_IGP, NEXT_HOP]), 2),
        (cat(&[ORIGIN_IGP, AS_PATH_65001]), 3),
    ] {
        let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
        assert_issue(&u, Some(missing), Fault::Missing, Action::TreatAsWithdraw);
        assert_eq!(announced(&u), vec!["10.1.0.0/24"]);
    }
}

#[test]
fn next_hop_not_needed_without_classic_nlri() {
    let mp = [
        0x80, 14, 26, 0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        32, 0x20, 0x01, 0x0d, 0xb8,
    ];
    let attrs = cat(&[&mp, ORIGIN_IGP, AS_PATH_65001]);
    let u = parse(msg(&[], &attrs, &[]), &ebgp());
    assert!(u.issues().is_empty(), "{:?}", u.issues());
    assert_eq!(announced(&u), vec!["2001:db8::/32"]);
    // Without ORIGIN the MP prefixes are treat-as-withdraw.
    let attrs = cat(&[&mp, AS_PATH_65001]);
    let u = parse(msg(&[], &attrs, &[]), &ebgp());
    assert_issue(&u, Some(1), Fault::Missing, Action::TreatAsWithdraw);
}

#[test]
fn withdrawal_only_update_needs_no_attributes() {
    let u = parse(msg(NLRI_10_1, &[], &[]), &ebgp());
    assert!(u.issues().is_empty());
    let w: Vec<_> = u.withdrawals().map(|n| n.prefix.to_string()).collect();
    assert_eq!(w, vec!["10.1.0.0/24"]);
    assert_eq!(u.end_of_rib(), None);
}

// RFC 7606 §3 (g): repeated attributes.
#[test]
fn repeated_attribute_keeps_the_first() {
    let attrs = with(&[0xc0, 8, 4, 0, 1, 0, 1, 0xc0, 8, 4, 0, 2, 0, 2]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert_issue(&u, Some(8), Fault::Duplicate, Action::AttributeDiscard);
    let c: Vec<_> = u.attrs().communities().collect();
    assert_eq!(c, vec![Community::new(1, 1)]);
}

#[test]
fn repeated_mp_attribute_resets() {
    let un = [0x80, 15, 3, 0, 2, 1];
    let attrs = cat(&[&un, &un]);
    let e = assert_reset(
        msg(&[], &attrs, &[]),
        &ebgp(),
        UpdateSubcode::MalformedAttributeList,
    );
    assert_eq!(e.fault, Fault::DuplicateMp);
}

// RFC 4271 §6.3: unrecognized well-known attribute.
#[test]
fn unrecognized_well_known_resets_with_the_attribute_as_data() {
    let attrs = with(&[0x40, 99, 2, 7, 7]);
    let e = assert_reset(
        msg(&[], &attrs, NLRI_10_1),
        &ebgp(),
        UpdateSubcode::UnrecognizedWellKnownAttribute,
    );
    assert_eq!(&e.notification.data[..], &[0x40, 99, 2, 7, 7]);
}

// RFC 4271 §5 / §9: unknown optional attributes.
#[test]
fn unknown_optional_transitive_passes_with_partial_and_non_transitive_drops() {
    let attrs = with(&[0xc0, 99, 2, 7, 7, 0x80, 98, 1, 1]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert!(u.issues().is_empty());
    let unknown: Vec<_> = u.attrs().unknown().collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].type_code, 99);
    assert_eq!(unknown[0].flags, 0xe0);
    assert_eq!(&unknown[0].value[..], &[7, 7]);
}

// RFC 7606 §7.1.
#[test]
fn origin_malformed() {
    for bad in [&[0x40u8, 1, 1, 3][..], &[0x40, 1, 2, 0, 0], &[0x40, 1, 0]] {
        let attrs = cat(&[bad, AS_PATH_65001, NEXT_HOP]);
        let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
        assert!(u.treat_as_withdraw());
        assert_eq!(u.issues().iter().next().unwrap().attr, Some(1));
    }
}

// RFC 7606 §7.2, RFC 7607, RFC 5065.
#[test]
fn as_path_malformed() {
    let cases: [(&[u8], Fault); 5] = [
        (&[0x40, 2, 6, 5, 1, 0, 0, 0xfd, 0xe9], Fault::Segment),
        (&[0x40, 2, 2, 2, 0], Fault::Segment),
        (&[0x40, 2, 6, 2, 2, 0, 0, 0xfd, 0xe9], Fault::Segment),
        (&[0x40, 2, 6, 2, 1, 0, 0, 0, 0], Fault::AsZero),
        (&[0x40, 2, 6, 3, 1, 0, 0, 0xfd, 0xe9], Fault::ConfedFromEbgp),
    ];
    for (bad, fault) in cases {
        let attrs = cat(&[ORIGIN_IGP, bad, NEXT_HOP]);
        let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
        assert_issue(&u, Some(2), fault, Action::TreatAsWithdraw);
        assert!(u.attrs().as_path().is_none());
    }
    // Confederation segments are fine between internal peers.
    let attrs = cat(&[ORIGIN_IGP, &[0x40, 2, 6, 3, 1, 0, 0, 0xfd, 0xe9], NEXT_HOP]);
    assert!(parse(msg(&[], &attrs, NLRI_10_1), &ibgp())
        .issues()
        .is_empty());
}

// RFC 7606 §7.3, RFC 4271 §6.3.
#[test]
fn next_hop_malformed() {
    for (bad, fault) in [
        (&[0x40u8, 3, 5, 1, 2, 3, 4, 5][..], Fault::Length),
        (&[0x40, 3, 4, 0, 0, 0, 0], Fault::NextHop),
        (&[0x40, 3, 4, 224, 0, 0, 1], Fault::NextHop),
    ] {
        let attrs = cat(&[ORIGIN_IGP, AS_PATH_65001, bad]);
        let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
        assert_issue(&u, Some(3), fault, Action::TreatAsWithdraw);
    }
}

// RFC 7606 §7.4.
#[test]
fn med_malformed() {
    let u = parse(msg(&[], &with(&[0x80, 4, 3, 0, 0, 1]), NLRI_10_1), &ebgp());
    assert_issue(&u, Some(4), Fault::Length, Action::TreatAsWithdraw);
}

// RFC 7606 §7.5.
#[test]
fn local_pref_discarded_from_ebgp_and_checked_from_ibgp() {
    let lp = [0x40, 5, 4, 0, 0, 0, 200];
    let u = parse(msg(&[], &with(&lp), NLRI_10_1), &ebgp());
    assert_issue(&u, Some(5), Fault::IbgpOnly, Action::AttributeDiscard);
    assert_eq!(u.attrs().local_pref(), None);
    assert!(!u.treat_as_withdraw());
    let u = parse(msg(&[], &with(&lp), NLRI_10_1), &ibgp());
    assert_eq!(u.attrs().local_pref(), Some(200));
    let u = parse(
        msg(&[], &with(&[0x40, 5, 5, 0, 0, 0, 0, 200]), NLRI_10_1),
        &ibgp(),
    );
    assert_issue(&u, Some(5), Fault::Length, Action::TreatAsWithdraw);
}

// RFC 7606 §7.6.
#[test]
fn atomic_aggregate_malformed_is_discarded() {
    let u = parse(msg(&[], &with(&[0x40, 6, 1, 0]), NLRI_10_1), &ebgp());
    assert_issue(&u, Some(6), Fault::Length, Action::AttributeDiscard);
    assert!(!u.attrs().atomic_aggregate());
    assert_eq!(announced(&u), vec!["10.1.0.0/24"]);
}

// RFC 7606 §7.7, RFC 7607.
#[test]
fn aggregator_malformed_is_discarded() {
    for (bad, fault) in [
        (&[0xc0u8, 7, 6, 0xfd, 0xe9, 10, 0, 0, 1][..], Fault::Length),
        (&[0xc0, 7, 8, 0, 0, 0, 0, 10, 0, 0, 1], Fault::AsZero),
    ] {
        let u = parse(msg(&[], &with(bad), NLRI_10_1), &ebgp());
        assert_issue(&u, Some(7), fault, Action::AttributeDiscard);
        assert_eq!(u.attrs().aggregator(), None);
    }
}

// RFC 7606 §7.8.
#[test]
fn communities_malformed() {
    for bad in [&[0xc0u8, 8, 0][..], &[0xc0, 8, 5, 0, 1, 0, 1, 9]] {
        let u = parse(msg(&[], &with(bad), NLRI_10_1), &ebgp());
        assert_issue(&u, Some(8), Fault::Length, Action::TreatAsWithdraw);
    }
}

// RFC 7606 §7.9, §7.10.
#[test]
fn route_reflection_attributes() {
    let oid = [0x80, 9, 4, 10, 0, 0, 1];
    let cl = [0x80, 10, 4, 10, 0, 0, 2];
    let u = parse(msg(&[], &with(&cat(&[&oid, &cl])), NLRI_10_1), &ebgp());
    assert_eq!(u.issues().count(), 2);
    assert_eq!(u.issues().worst(), Some(Action::AttributeDiscard));
    assert_eq!(u.attrs().originator_id(), None);
    let u = parse(msg(&[], &with(&cat(&[&oid, &cl])), NLRI_10_1), &ibgp());
    assert!(u.issues().is_empty());
    assert_eq!(u.attrs().cluster_list().count(), 1);
    let u = parse(msg(&[], &with(&[0x80, 9, 3, 10, 0, 0]), NLRI_10_1), &ibgp());
    assert_issue(&u, Some(9), Fault::Length, Action::TreatAsWithdraw);
    let u = parse(
        msg(&[], &with(&[0x80, 10, 5, 10, 0, 0, 2, 1]), NLRI_10_1),
        &ibgp(),
    );
    assert_issue(&u, Some(10), Fault::Length, Action::TreatAsWithdraw);
}

// RFC 7606 §7.11, RFC 4760 §7.
#[test]
fn mp_reach_next_hop_length_disables_the_family() {
    let mp = [0x80, 14, 10, 0, 2, 1, 4, 192, 0, 2, 1, 0, 8, 0x20];
    let e = Update::parse(
        msg(&[], &cat(&[&mp, ORIGIN_IGP, AS_PATH_65001]), &[]),
        &ebgp(),
    )
    .unwrap_err();
    assert_eq!(e.action, Action::AfiSafiDisable);
    assert_eq!(e.family, Some(AfiSafi::IPV6_UNICAST));
    assert_eq!(e.fault, Fault::NextHopLength);
    assert_eq!(
        e.notification.code,
        NotifCode::Update(UpdateSubcode::OptionalAttributeError)
    );
}

#[test]
fn mp_nlri_that_do_not_parse_disable_the_family() {
    let reach = [0x80, 14, 10, 0, 1, 1, 4, 192, 0, 2, 1, 0, 40, 10];
    let e = Update::parse(
        msg(&[], &cat(&[&reach, ORIGIN_IGP, AS_PATH_65001]), &[]),
        &ebgp(),
    )
    .unwrap_err();
    assert_eq!(
        (e.action, e.fault),
        (Action::AfiSafiDisable, Fault::PrefixLength)
    );
    let unreach = [0x80, 15, 5, 0, 2, 1, 64, 0x20];
    let e = Update::parse(msg(&[], &unreach, &[]), &ebgp()).unwrap_err();
    assert_eq!(
        (e.action, e.fault),
        (Action::AfiSafiDisable, Fault::NlriOverrun)
    );
    assert_eq!(e.family, Some(AfiSafi::IPV6_UNICAST));
    // Too short to name its family at all: reset.
    let e = Update::parse(msg(&[], &[0x80, 15, 2, 0, 2], &[]), &ebgp()).unwrap_err();
    assert_eq!(e.action, Action::SessionReset);
}

#[test]
fn mp_reach_with_bad_flags_is_withdrawn_not_lost() {
    let mp = [
        0xc0, 14, 26, 0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
        32, 0x20, 0x01, 0x0d, 0xb8,
    ];
    let u = parse(
        msg(&[], &cat(&[&mp, ORIGIN_IGP, AS_PATH_65001]), &[]),
        &ebgp(),
    );
    assert_issue(&u, Some(14), Fault::Flags, Action::TreatAsWithdraw);
    assert_eq!(announced(&u), vec!["2001:db8::/32"]);
}

// RFC 7606 §7.14.
#[test]
fn extended_communities_malformed() {
    let u = parse(
        msg(&[], &with(&[0xc0, 16, 7, 0, 2, 0, 1, 0, 0, 0]), NLRI_10_1),
        &ebgp(),
    );
    assert_issue(&u, Some(16), Fault::Length, Action::TreatAsWithdraw);
}

// RFC 6793 §6: AS4_PATH / AS4_AGGREGATOR problems are discards.
#[test]
fn as4_attributes_malformed_or_unexpected_are_discarded() {
    let bad_as4 = [0xc0, 17, 6, 3, 1, 0, 0, 0xfd, 0xe9];
    let attrs = cat(&[
        ORIGIN_IGP,
        &[0x40, 2, 4, 2, 1, 0xfd, 0xe9],
        NEXT_HOP,
        &bad_as4,
    ]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &two_octet());
    assert_issue(&u, Some(17), Fault::Segment, Action::AttributeDiscard);
    assert_eq!(u.attrs().as_path().unwrap().first_asn(), Some(Asn(65001)));
    let as4 = [0xc0, 17, 6, 2, 1, 0, 0, 0xfd, 0xe9];
    let u = parse(msg(&[], &with(&as4), NLRI_10_1), &ebgp());
    assert_issue(&u, Some(17), Fault::UnexpectedAs4, Action::AttributeDiscard);
    let agg4 = [0xc0, 18, 6, 0, 0, 0xfd, 0xe9, 10, 0];
    let attrs = cat(&[ORIGIN_IGP, &[0x40, 2, 4, 2, 1, 0xfd, 0xe9], NEXT_HOP, &agg4]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &two_octet());
    assert_issue(&u, Some(18), Fault::Length, Action::AttributeDiscard);
}

#[test]
fn as4_path_merges_on_two_octet_sessions() {
    // AS_PATH 65001 23456, AS4_PATH 65001 4200000001.
    let as_path = [0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0];
    let as4 = [0xc0, 17, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01];
    let attrs = cat(&[ORIGIN_IGP, &as_path, NEXT_HOP, &as4]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &two_octet());
    assert!(u.issues().is_empty());
    let p = u.attrs().as_path().unwrap();
    assert_eq!(p.origin_asn(), Some(Asn(4_200_000_001)));
    // An AGGREGATOR naming a real 2-octet AS alone does not void AS4_PATH...
    let agg = [0xc0, 7, 6, 0xfd, 0xe9, 10, 0, 0, 1];
    let attrs = cat(&[ORIGIN_IGP, &as_path, NEXT_HOP, &agg, &as4]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &two_octet());
    assert_eq!(
        u.attrs().as_path().unwrap().origin_asn(),
        Some(Asn(4_200_000_001))
    );
    // ...but with an AS4_AGGREGATOR beside it, both AS4 attributes are ignored (RFC 6793
    // §4.2.3: an old speaker aggregated after the AS4 attributes were formed).
    let agg4 = [0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x09, 10, 0, 0, 9];
    let attrs = cat(&[ORIGIN_IGP, &as_path, NEXT_HOP, &agg, &as4, &agg4]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &two_octet());
    assert_eq!(u.attrs().as_path().unwrap().origin_asn(), Some(Asn::TRANS));
    assert_eq!(u.attrs().aggregator().unwrap().asn, Asn(65001));
}

// RFC 8092 §5.
#[test]
fn large_communities_malformed() {
    let u = parse(
        msg(
            &[],
            &with(&[0xc0, 32, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]),
            NLRI_10_1,
        ),
        &ebgp(),
    );
    assert_issue(&u, Some(32), Fault::Length, Action::TreatAsWithdraw);
}

// RFC 9234 §5.
#[test]
fn otc_malformed() {
    let u = parse(msg(&[], &with(&[0xc0, 35, 3, 0, 0, 1]), NLRI_10_1), &ebgp());
    assert_issue(&u, Some(35), Fault::Length, Action::TreatAsWithdraw);
    let u = parse(
        msg(&[], &with(&[0xc0, 35, 4, 0, 0, 0xfd, 0xe9]), NLRI_10_1),
        &ebgp(),
    );
    assert_eq!(u.attrs().otc(), Some(Asn(65001)));
}

// RFC 7606 §5.3, RFC 4271 §6.3: prefix fields that do not parse.
#[test]
fn nlri_field_syntax_errors_reset() {
    let e = assert_reset(
        msg(&[], &with(&[]), &[33, 10, 0, 0, 0, 0]),
        &ebgp(),
        UpdateSubcode::InvalidNetworkField,
    );
    assert_eq!(e.fault, Fault::PrefixLength);
    let e = assert_reset(
        msg(&[], &with(&[]), &[24, 10]),
        &ebgp(),
        UpdateSubcode::InvalidNetworkField,
    );
    assert_eq!(e.fault, Fault::NlriOverrun);
    assert_reset(
        msg(&[40, 10], &[], &[]),
        &ebgp(),
        UpdateSubcode::InvalidNetworkField,
    );
}

// RFC 7606 §3 (i): the strongest action wins.
#[test]
fn strongest_action_wins() {
    let attrs = with(&[0x40, 6, 1, 0, 0xc0, 8, 3, 0, 0, 1]);
    let u = parse(msg(&[], &attrs, NLRI_10_1), &ebgp());
    assert_eq!(u.issues().count(), 2);
    assert_eq!(u.issues().worst(), Some(Action::TreatAsWithdraw));
}

#[test]
fn add_path_identifiers_are_read_when_negotiated() {
    let ctx = ParseCtx {
        add_path: FamilySet::ALL,
        ..ParseCtx::new()
    };
    let nlri = [0, 0, 0, 7, 24, 10, 1, 0, 0, 0, 0, 9, 24, 10, 1, 0];
    let u = parse(msg(&[], &with(&[]), &nlri), &ctx);
    let got: Vec<_> = u
        .announced()
        .map(|n| (n.path_id.unwrap().0, n.prefix))
        .collect();
    let p: Prefix = "10.1.0.0/24".parse().unwrap();
    assert_eq!(got, vec![(7, p), (9, p)]);
    // A path identifier cut short is a broken NLRI field.
    assert!(Update::parse(msg(&[], &with(&[]), &nlri[..14]), &ctx).is_err());
}

#[test]
fn end_of_rib_markers() {
    let u = parse(msg(&[], &[], &[]), &ebgp());
    assert_eq!(u.end_of_rib(), Some(AfiSafi::IPV4_UNICAST));
    let u = parse(msg(&[], &[0x80, 15, 3, 0, 2, 1], &[]), &ebgp());
    assert_eq!(u.end_of_rib(), Some(AfiSafi::IPV6_UNICAST));
    let u = parse(msg(&[], &[0x90, 15, 0, 3, 0, 2, 1], &[]), &ebgp());
    assert_eq!(u.end_of_rib(), Some(AfiSafi::IPV6_UNICAST));
    let u = parse(
        msg(&[], &[0x80, 15, 3, 0, 2, 1, 0xc0, 8, 4, 0, 1, 0, 1], &[]),
        &ebgp(),
    );
    assert_eq!(u.end_of_rib(), None);
}
