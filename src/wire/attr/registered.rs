//! Attribute types peerex does not decode but gives a defined treatment: the rest of the IANA
//! "BGP Path Attributes" registry (see the table in `README.md`).
//!
//! A route server passes most of them on untouched, as RFC 4271 asks for unknown optional
//! transitive attributes. Some are checked first where an RFC fixes their form (RFC 5701's
//! IPv6 Address Specific Extended Community, RFC 6368's ATTR_SET); some are never passed on:
//! deprecated and reserved codes, attributes of features peerex never enables (AIGP, BGPsec)
//! and the BGP Prefix-SID, which belongs to labeled unicast inside one SR domain.
//!
//! Never: interpreting the values it passes on.

use super::{flag, frame};
use crate::wire::error::{Action, Fault};

/// Type codes of the registry that peerex does not decode.
pub mod code {
    pub const RESERVED: u8 = 0;
    pub const DPA: u8 = 11;
    pub const ADVERTISER: u8 = 12;
    pub const RCID_PATH: u8 = 13;
    pub const SSA: u8 = 19;
    pub const CONNECTOR: u8 = 20;
    pub const AS_PATHLIMIT: u8 = 21;
    pub const PMSI_TUNNEL: u8 = 22;
    pub const TUNNEL_ENCAPSULATION: u8 = 23;
    pub const TRAFFIC_ENGINEERING: u8 = 24;
    pub const IPV6_EXT_COMMUNITIES: u8 = 25;
    pub const AIGP: u8 = 26;
    pub const PE_DISTINGUISHER_LABELS: u8 = 27;
    pub const ENTROPY_LABEL: u8 = 28;
    pub const BGP_LS: u8 = 29;
    pub const BGPSEC_PATH: u8 = 33;
    pub const D_PATH: u8 = 36;
    pub const SFP: u8 = 37;
    pub const BFD_DISCRIMINATOR: u8 = 38;
    pub const PREFIX_SID: u8 = 40;
    pub const BIER: u8 = 41;
    pub const ATTR_SET: u8 = 128;
    pub const DEVELOPMENT: u8 = 255;
}

/// A form check on an attribute value.
type Check = fn(&[u8]) -> Result<(), Fault>;

/// What the scan does with an attribute type outside the decoded set.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Treatment {
    /// Unassigned, or registered without a form peerex checks: optional transitive ones are
    /// passed on with Partial set, optional non-transitive ones dropped, well-known ones reset
    /// the session (RFC 4271 §5, §9).
    Forward,
    /// Must carry the Optional and Transitive flags (else treat-as-withdraw, RFC 7606 §3 (c))
    /// and pass `check` (else `on_malformed`); then it is passed on with its own Partial bit.
    /// With `ibgp_only`, from an external peer it is discarded unchecked.
    Checked {
        check: Check,
        on_malformed: Action,
        ibgp_only: bool,
    },
    /// Never passed on: attribute discard, recorded with `fault`, whatever the flags. With
    /// `check`, a value that fails it is recorded with the check's fault instead.
    Discard { fault: Fault, check: Option<Check> },
}

const fn discard(fault: Fault) -> Treatment {
    Treatment::Discard { fault, check: None }
}

/// The treatment of a type code [`super::spec`] does not know.
pub(crate) const fn treatment(ty: u8) -> Treatment {
    use code::*;
    match ty {
        RESERVED | DEVELOPMENT => discard(Fault::Reserved),
        // RFC 6938 (11–13, 19, 20), expired drafts (21), RFC 7447 (28), RFC 8093 (the rest).
        DPA
        | ADVERTISER
        | RCID_PATH
        | SSA
        | CONNECTOR
        | AS_PATHLIMIT
        | ENTROPY_LABEL
        | 30
        | 31
        | 129
        | 241..=243 => discard(Fault::Deprecated),
        IPV6_EXT_COMMUNITIES => Treatment::Checked {
            check: check_ipv6_ext_communities,
            on_malformed: Action::TreatAsWithdraw,
            ibgp_only: false,
        },
        ATTR_SET => Treatment::Checked {
            check: check_attr_set,
            on_malformed: Action::TreatAsWithdraw,
            ibgp_only: true,
        },
        AIGP => Treatment::Discard {
            fault: Fault::NotEnabled,
            check: Some(check_aigp),
        },
        BGPSEC_PATH => discard(Fault::NotEnabled),
        PREFIX_SID => Treatment::Discard {
            fault: Fault::OutOfScope,
            check: Some(check_prefix_sid),
        },
        _ => Treatment::Forward,
    }
}

/// The outcome of [`apply`] for one attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Pass it on (when optional transitive).
    Forward,
    /// Do not pass it on; record `fault` with `action`.
    Drop { fault: Fault, action: Action },
}

/// Applies [`treatment`] to one attribute with `flags` and `value`, received from an external
/// peer when `ebgp`.
pub(crate) fn apply(ty: u8, flags: u8, value: &[u8], ebgp: bool) -> Outcome {
    let drop = |fault, action| Outcome::Drop { fault, action };
    match treatment(ty) {
        Treatment::Forward => Outcome::Forward,
        Treatment::Discard { fault, check } => {
            let fault = match check.map(|c| c(value)) {
                Some(Err(f)) => f,
                _ => fault,
            };
            drop(fault, Action::AttributeDiscard)
        }
        Treatment::Checked {
            check,
            on_malformed,
            ibgp_only,
        } => {
            let wanted = flag::OPTIONAL | flag::TRANSITIVE;
            if flags & wanted != wanted {
                drop(Fault::Flags, Action::TreatAsWithdraw)
            } else if ibgp_only && ebgp {
                drop(Fault::IbgpOnly, Action::AttributeDiscard)
            } else if let Err(f) = check(value) {
                drop(f, on_malformed)
            } else {
                Outcome::Forward
            }
        }
    }
}

/// True when peerex checks the type's form before passing it on, so it keeps the Partial bit
/// as received instead of setting it.
pub(crate) const fn checked(ty: u8) -> bool {
    matches!(treatment(ty), Treatment::Checked { .. })
}

/// RFC 5701 §3: a non-empty list of 20-octet IPv6 address specific extended communities.
fn check_ipv6_ext_communities(v: &[u8]) -> Result<(), Fault> {
    super::check_list(v, 20)
}

/// RFC 6368 §5: a 4-octet origin AS, then path attributes that frame exactly.
fn check_attr_set(v: &[u8]) -> Result<(), Fault> {
    if v.len() < 4 {
        return Err(Fault::Length);
    }
    let mut pos = 4;
    while pos < v.len() {
        let a = frame(v, pos, v.len()).map_err(|_| Fault::Tlv)?;
        pos = a.whole.end();
    }
    Ok(())
}

/// RFC 7311 §3: TLVs of a 1-octet type and a 2-octet length that counts the 3-octet header;
/// the AIGP TLV (type 1) is 11 octets.
fn check_aigp(v: &[u8]) -> Result<(), Fault> {
    let mut rest = v;
    if rest.is_empty() {
        return Err(Fault::Length);
    }
    while let [t, a, b, ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if len < 3 || len > rest.len() || (*t == 1 && len != 11) {
            return Err(Fault::Tlv);
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Fault::Tlv)
    }
}

/// RFC 8669 §3: TLVs of a 1-octet type and a 2-octet length of the value alone; the
/// Label-Index TLV (type 1) has a 7-octet value.
fn check_prefix_sid(v: &[u8]) -> Result<(), Fault> {
    let mut rest = v;
    if rest.is_empty() {
        return Err(Fault::Length);
    }
    while let [t, a, b, ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if 3 + len > rest.len() || (*t == 1 && len != 7) {
            return Err(Fault::Tlv);
        }
        rest = rest.get(3 + len..).unwrap_or_default();
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Fault::Tlv)
    }
}

/// A readable name for a type code of this file, if it is registered.
pub(crate) const fn name(ty: u8) -> Option<&'static str> {
    use code::*;
    Some(match ty {
        RESERVED => "reserved attribute 0",
        DPA => "DPA",
        ADVERTISER => "ADVERTISER",
        RCID_PATH => "RCID_PATH",
        SSA => "SSA",
        CONNECTOR => "CONNECTOR",
        AS_PATHLIMIT => "AS_PATHLIMIT",
        PMSI_TUNNEL => "PMSI_TUNNEL",
        TUNNEL_ENCAPSULATION => "TUNNEL_ENCAPSULATION",
        TRAFFIC_ENGINEERING => "TRAFFIC_ENGINEERING",
        IPV6_EXT_COMMUNITIES => "IPV6_EXT_COMMUNITIES",
        AIGP => "AIGP",
        PE_DISTINGUISHER_LABELS => "PE_DISTINGUISHER_LABELS",
        ENTROPY_LABEL => "ENTROPY_LABEL",
        BGP_LS => "BGP_LS",
        BGPSEC_PATH => "BGPSEC_PATH",
        D_PATH => "D_PATH",
        SFP => "SFP",
        BFD_DISCRIMINATOR => "BFD_DISCRIMINATOR",
        PREFIX_SID => "PREFIX_SID",
        BIER => "BIER",
        ATTR_SET => "ATTR_SET",
        30 | 31 | 129 | 241..=243 => "deprecated attribute",
        DEVELOPMENT => "development attribute 255",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::wire::{ParseCtx, Update};

    const IBGP: ParseCtx = ParseCtx {
        ebgp: false,
        ..ParseCtx::new()
    };

    /// An UPDATE for 10.0.0.0/24 with ORIGIN, AS_PATH, NEXT_HOP and `extra`.
    fn update(extra: &[u8], ctx: &ParseCtx) -> Update {
        let base: &[u8] = &[
            0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1,
        ];
        let attrs = [base, extra].concat();
        let mut m = vec![0xffu8; 16];
        m.extend_from_slice(&((19 + 4 + attrs.len() + 4) as u16).to_be_bytes());
        m.extend_from_slice(&[2, 0, 0]);
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(&attrs);
        m.extend_from_slice(&[24, 10, 0, 0]);
        Update::parse(Bytes::from(m), ctx).unwrap()
    }

    /// The single issue recorded, as (type, fault, action).
    fn only_issue(u: &Update) -> (Option<u8>, Fault, Action) {
        assert_eq!(u.issues().count(), 1, "{:?}", u.issues());
        let i = u.issues().iter().next().unwrap();
        (i.attr, i.fault, i.action)
    }

    /// The attributes peerex would send on, encoded.
    fn reencoded(u: &Update) -> Vec<u8> {
        let mut out = BytesMut::new();
        u.attrs().to_owned().encode(&ParseCtx::new(), &mut out);
        out.to_vec()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn ipv6_ext_community() -> Vec<u8> {
        let mut v = vec![0x00, 0x02]; // transitive IPv6 address specific, route target
        v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v.extend_from_slice(&[0; 12]);
        v.extend_from_slice(&[0, 100]);
        v
    }

    #[test]
    fn ipv6_ext_communities_are_checked_then_passed_on_with_their_partial_bit() {
        let c = ipv6_ext_community();
        for flags in [0xc0u8, 0xe0] {
            let attr = [&[flags, 25, 40][..], &c, &c].concat();
            let u = update(&attr, &ParseCtx::new());
            assert!(u.issues().is_empty(), "{:?}", u.issues());
            let kept: Vec<_> = u.attrs().unknown().collect();
            assert_eq!(kept.len(), 1);
            assert_eq!(kept[0].flags, flags);
            assert_eq!(&kept[0].value[..], &[&c[..], &c].concat()[..]);
            assert!(contains(&reencoded(&u), &attr));
        }
    }

    #[test]
    fn malformed_ipv6_ext_communities_withdraw() {
        let c = ipv6_ext_community();
        for len in [0usize, 8, 19, 21, 39] {
            let value: Vec<u8> = c.iter().cycle().take(len).copied().collect();
            let attr = [&[0xc0, 25, len as u8][..], &value].concat();
            let u = update(&attr, &ParseCtx::new());
            assert_eq!(
                only_issue(&u),
                (Some(25), Fault::Length, Action::TreatAsWithdraw),
                "length {len}"
            );
            assert_eq!(u.attrs().unknown().count(), 0);
        }
        // Well-known or non-transitive flags conflict with the type: not a session reset.
        for flags in [0x40u8, 0x80] {
            let attr = [&[flags, 25, 20][..], &c].concat();
            let u = update(&attr, &ParseCtx::new());
            assert_eq!(
                only_issue(&u),
                (Some(25), Fault::Flags, Action::TreatAsWithdraw)
            );
            assert!(!contains(&reencoded(&u), &[25, 20]));
        }
    }

    #[test]
    fn deprecated_and_reserved_codes_are_discarded_whatever_their_flags() {
        let deprecated = [11u8, 12, 13, 19, 20, 21, 28, 30, 31, 129, 241, 242, 243];
        let cases = deprecated
            .iter()
            .map(|t| (*t, Fault::Deprecated))
            .chain([(0, Fault::Reserved), (255, Fault::Reserved)]);
        for (ty, fault) in cases {
            for flags in [0xc0u8, 0x80, 0x40, 0xe0] {
                let u = update(&[flags, ty, 3, 0xaa, 0xbb, 0xcc], &ParseCtx::new());
                assert_eq!(
                    only_issue(&u),
                    (Some(ty), fault, Action::AttributeDiscard),
                    "type {ty} flags {flags:#x}"
                );
                assert_eq!(u.attrs().unknown().count(), 0);
                assert!(!contains(&reencoded(&u), &[ty, 3, 0xaa, 0xbb, 0xcc]));
                assert_eq!(u.announced().count(), 1);
            }
        }
    }

    #[test]
    fn aigp_is_never_passed_on() {
        let good = [0x80u8, 26, 11, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 10];
        for ctx in [ParseCtx::new(), IBGP] {
            let u = update(&good, &ctx);
            assert_eq!(
                only_issue(&u),
                (Some(26), Fault::NotEnabled, Action::AttributeDiscard)
            );
            assert!(!contains(&reencoded(&u), &good[1..]));
        }
        // The AIGP TLV must be 11 octets; a TLV may not overrun the value.
        for bad in [
            &[0x80u8, 26, 10, 1, 0, 10, 0, 0, 0, 0, 0, 0, 10][..],
            &[0x80, 26, 4, 2, 0, 9, 0],
            &[0x80, 26, 2, 1, 0],
            &[0x80, 26, 0],
        ] {
            let (_, fault, action) = only_issue(&update(bad, &ParseCtx::new()));
            assert!(matches!(fault, Fault::Tlv | Fault::Length), "{bad:?}");
            assert_eq!(action, Action::AttributeDiscard);
        }
    }

    #[test]
    fn attr_set_passes_between_internal_peers_only() {
        // Origin AS 65001, then a nested ORIGIN.
        let attr = [0xc0u8, 128, 8, 0, 0, 0xfd, 0xe9, 0x40, 1, 1, 0];
        let u = update(&attr, &ParseCtx::new());
        assert_eq!(
            only_issue(&u),
            (Some(128), Fault::IbgpOnly, Action::AttributeDiscard)
        );
        assert!(!contains(&reencoded(&u), &attr[1..]));

        let u = update(&attr, &IBGP);
        assert!(u.issues().is_empty(), "{:?}", u.issues());
        assert!(contains(&reencoded(&u), &attr));

        for bad in [
            &[0xc0u8, 128, 3, 0, 0, 0xfd][..],
            &[0xc0, 128, 7, 0, 0, 0xfd, 0xe9, 0x40, 1, 1],
        ] {
            let (_, _, action) = only_issue(&update(bad, &IBGP));
            assert_eq!(action, Action::TreatAsWithdraw, "{bad:?}");
        }
    }

    #[test]
    fn bgpsec_path_is_discarded() {
        let u = update(&[0x90, 33, 0, 4, 0, 4, 0, 0], &ParseCtx::new());
        assert_eq!(
            only_issue(&u),
            (Some(33), Fault::NotEnabled, Action::AttributeDiscard)
        );
        assert_eq!(u.attrs().unknown().count(), 0);
    }

    #[test]
    fn prefix_sid_is_checked_then_discarded() {
        let label_index = [0xc0u8, 40, 10, 1, 0, 7, 0, 0, 0, 0, 0, 0, 100];
        let u = update(&label_index, &ParseCtx::new());
        assert_eq!(
            only_issue(&u),
            (Some(40), Fault::OutOfScope, Action::AttributeDiscard)
        );
        assert!(!contains(&reencoded(&u), &label_index[1..]));
        for bad in [
            &[0xc0u8, 40, 9, 1, 0, 6, 0, 0, 0, 0, 0, 100][..],
            &[0xc0, 40, 4, 3, 0, 5, 0],
            &[0xc0, 40, 0],
        ] {
            let (_, fault, action) = only_issue(&update(bad, &ParseCtx::new()));
            assert!(matches!(fault, Fault::Tlv | Fault::Length), "{bad:?}");
            assert_eq!(action, Action::AttributeDiscard);
        }
    }

    #[test]
    fn other_registered_and_unassigned_codes_pass_as_unknown() {
        for ty in [
            22u8, 23, 24, 27, 36, 37, 38, 41, 42, 127, 130, 240, 244, 254,
        ] {
            let u = update(&[0xc0, ty, 2, 7, 7], &ParseCtx::new());
            assert!(u.issues().is_empty(), "type {ty}");
            assert!(contains(&reencoded(&u), &[0xe0, ty, 2, 7, 7]), "type {ty}");
        }
        // Optional non-transitive ones (BGP-LS) are dropped quietly.
        let u = update(&[0x80, 29, 2, 7, 7], &ParseCtx::new());
        assert!(u.issues().is_empty());
        assert_eq!(u.attrs().unknown().count(), 0);
    }

    #[test]
    fn every_named_code_has_a_decided_treatment() {
        for ty in 0..=255u8 {
            let registered = super::super::spec(ty).is_some() || name(ty).is_some();
            let unassigned = matches!(ty, 34 | 39 | 42..=127 | 130..=240 | 244..=254);
            assert!(registered != unassigned, "type {ty}");
            if unassigned {
                assert!(matches!(treatment(ty), Treatment::Forward), "type {ty}");
            }
        }
    }
}
