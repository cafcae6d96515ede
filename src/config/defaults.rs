//! Built-in lists an operator can replace: bogon prefixes, bogon ASNs, transit-free ASNs.
//! Each entry names its source; docs/configuration.md prints the same lists.

use super::lists::{AsnRange, PrefixRange};

/// Prefixes no route server client may announce, or anything inside them: the IANA IPv4 and
/// IPv6 Special-Purpose Address Registries (entries not globally reachable), multicast and the
/// reserved class E space. Globally reachable special-purpose entries (192.31.196.0/24 and
/// 2001:4:112::/48 for AS112, 2620:4f:8000::/48, 2001:3::/32 AMT, 2001:20::/28 ORCHIDv2) are
/// not listed. 64:ff9b::/96 (NAT64) lies inside ::/8 and is rejected with it: it is not meant
/// to be announced between networks.
pub const BOGON_PREFIXES: &[&str] = &[
    // IPv4: IANA IPv4 Special-Purpose Address Registry, RFC 6890 and updates.
    "0.0.0.0/8",       // "this network" (RFC 791)
    "10.0.0.0/8",      // private use (RFC 1918)
    "100.64.0.0/10",   // shared address space, CGN (RFC 6598)
    "127.0.0.0/8",     // loopback (RFC 1122)
    "169.254.0.0/16",  // link local (RFC 3927)
    "172.16.0.0/12",   // private use (RFC 1918)
    "192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
    "192.0.2.0/24",    // documentation TEST-NET-1 (RFC 5737)
    "192.88.99.0/24",  // deprecated 6to4 relay anycast (RFC 7526)
    "192.168.0.0/16",  // private use (RFC 1918)
    "198.18.0.0/15",   // benchmarking (RFC 2544)
    "198.51.100.0/24", // documentation TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",  // documentation TEST-NET-3 (RFC 5737)
    "224.0.0.0/4",     // multicast (RFC 5771)
    "240.0.0.0/4",     // reserved, and 255.255.255.255/32 limited broadcast (RFC 1112, 919)
    // IPv6: IANA IPv6 Special-Purpose Address Registry, RFC 6890 and updates.
    "::/8",          // loopback, unspecified, IPv4-mapped, IPv4-compatible, NAT64 (RFC 4291)
    "100::/64",      // discard-only (RFC 6666)
    "2001:2::/48",   // benchmarking (RFC 5180)
    "2001:10::/28",  // deprecated ORCHID (RFC 4843)
    "2001:db8::/32", // documentation (RFC 3849)
    "2002::/16",     // 6to4 (RFC 3056), not to be announced as routes
    "3ffe::/16",     // former 6bone (RFC 3701)
    "3fff::/20",     // documentation (RFC 9637)
    "5f00::/16",     // SRv6 SIDs (RFC 9602)
    "fc00::/7",      // unique local (RFC 4193)
    "fe80::/10",     // link local (RFC 4291)
    "fec0::/10",     // deprecated site local (RFC 3879)
    "ff00::/8",      // multicast (RFC 4291)
];

/// The default bogon prefixes, parsed: each entry and everything inside it.
pub fn bogon_prefixes() -> Vec<PrefixRange> {
    BOGON_PREFIXES
        .iter()
        .filter_map(|s| s.parse().ok())
        .map(PrefixRange::or_longer)
        .collect()
}

/// AS numbers that must not appear in an AS path: the IANA Special-Purpose AS Numbers registry
/// (except AS112, which is a real, announced AS) and the reserved block of the 32-bit space.
pub const BOGON_ASNS: &[AsnRange] = &[
    AsnRange::one(0),                         // reserved (RFC 7607)
    AsnRange::one(23456),                     // AS_TRANS (RFC 6793)
    AsnRange::new(64496, 64511),              // documentation (RFC 5398)
    AsnRange::new(64512, 65534),              // private use (RFC 6996)
    AsnRange::one(65535),                     // reserved (RFC 7300)
    AsnRange::new(65536, 65551),              // documentation (RFC 5398)
    AsnRange::new(65552, 131071),             // IANA reserved
    AsnRange::new(4_200_000_000, 4294967294), // private use (RFC 6996)
    AsnRange::one(4294967295),                // reserved (RFC 7300)
];

/// Well-known transit-free networks (the arouteserver default list): their ASNs should only
/// appear at the left of a path, when they are the route server client themselves.
pub const TRANSIT_FREE_ASNS: &[u32] = &[
    174,   // Cogent
    701,   // Verizon
    1299,  // Arelion
    2914,  // NTT
    3257,  // GTT
    3320,  // Deutsche Telekom
    3356,  // Lumen
    5511,  // Orange
    6453,  // Tata
    6461,  // Zayo
    6762,  // Telecom Italia Sparkle
    6830,  // Liberty Global
    7018,  // AT&T
    12956, // Telxius
];

/// Default import settings (Euro-IX route server practice, arouteserver defaults).
pub const MAX_PATH_LENGTH: u16 = 64;
pub const IPV4_LENGTHS: (u8, u8) = (8, 24);
pub const IPV6_LENGTHS: (u8, u8) = (12, 48);
pub const LOCAL_PREF: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_bogon_parses() {
        assert_eq!(bogon_prefixes().len(), BOGON_PREFIXES.len());
        for w in BOGON_ASNS.windows(2) {
            assert!(w[0].last < w[1].first, "sorted and disjoint: {w:?}");
        }
        assert!(!BOGON_ASNS.iter().any(|r| r.contains(crate::wire::Asn(112))));
    }
}
