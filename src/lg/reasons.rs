//! The one place where an import verdict's reasons become what readers see: a stable key, a
//! sentence, and the `RS:1101:N` large community (Euro-IX route-server "filtered" codes, as
//! Alice-LG and birdwatcher-based looking glasses expect). Extend here when policy gains
//! reasons; nothing else in `lg` matches on `RejectReason`.

use serde_json::{json, Value};

use crate::policy::RejectReason;

/// The Euro-IX function number of "filtered: reason N" large communities.
pub const FILTERED: u32 = 1101;

/// Codes for reasons the Euro-IX list does not name: a private range at the top of the
/// `RS:1101:N` space, documented in docs/lg.md.
const OTC_LEAK: u32 = 65531;
const AS_SET: u32 = 65532;
const BLACKHOLE_NOT_ALLOWED: u32 = 65533;
const ASPA_INVALID: u32 = 65530;

/// The `N` of `RS:1101:N` for a reason: its Euro-IX code, else our private one.
pub fn code(r: RejectReason) -> u32 {
    match r.euro_ix_code() {
        Some(c) => c,
        None => match r {
            RejectReason::OtcLeak => OTC_LEAK,
            RejectReason::AsSet => AS_SET,
            RejectReason::BlackholeNotAllowed => BLACKHOLE_NOT_ALLOWED,
            RejectReason::AspaInvalid => ASPA_INVALID,
            // Reasons added later without a code of their own: "other".
            _ => 65535,
        },
    }
}

/// A stable machine key (`snake_case`) for a reason.
pub fn key(r: RejectReason) -> &'static str {
    match r {
        RejectReason::PrefixTooLong => "prefix_too_long",
        RejectReason::PrefixTooShort => "prefix_too_short",
        RejectReason::BogonPrefix => "bogon_prefix",
        RejectReason::BogonAsn => "bogon_asn",
        RejectReason::PathTooLong => "as_path_too_long",
        RejectReason::FirstAsNotPeer => "first_as_not_peer",
        RejectReason::NextHopNotPeer => "next_hop_not_peer",
        RejectReason::PrefixNotAllowed => "prefix_not_allowed",
        RejectReason::OriginNotAllowed => "origin_not_allowed",
        RejectReason::RpkiInvalid => "rpki_invalid",
        RejectReason::TransitFreeAsn => "transit_free_asn",
        RejectReason::AsSet => "as_set",
        RejectReason::OtcLeak => "otc_leak",
        RejectReason::BlackholeNotAllowed => "blackhole_not_allowed",
        RejectReason::AspaInvalid => "aspa_invalid",
    }
}

/// The large community `(rs_asn, 1101, N)` a filtered route is shown with.
pub fn community(r: RejectReason, rs_asn: u32) -> (u32, u32, u32) {
    (rs_asn, FILTERED, code(r))
}

/// The JSON of one reason in our own API.
pub fn to_json(r: RejectReason, rs_asn: u32) -> Value {
    let (a, b, c) = community(r, rs_asn);
    json!({
        "key": key(r),
        "text": r.name(),
        "code": c,
        "euro_ix": r.euro_ix_code().is_some(),
        "community": format!("{a}:{b}:{c}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_code_and_key() {
        let mut codes: Vec<u32> = RejectReason::ALL.iter().map(|r| code(*r)).collect();
        let mut keys: Vec<&str> = RejectReason::ALL.iter().map(|r| key(*r)).collect();
        codes.sort_unstable();
        codes.dedup();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(codes.len(), RejectReason::ALL.len());
        assert_eq!(keys.len(), RejectReason::ALL.len());
        assert_eq!(code(RejectReason::RpkiInvalid), 13);
        assert_eq!(
            community(RejectReason::AspaInvalid, 64500),
            (64500, 1101, 65530)
        );
        assert_eq!(
            community(RejectReason::OtcLeak, 64500),
            (64500, 1101, 65531)
        );
        assert_eq!(
            to_json(RejectReason::FirstAsNotPeer, 64500)["community"],
            "64500:1101:7"
        );
    }
}
