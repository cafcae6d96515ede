//! Small value types shared by every wire message: AS numbers, address families and prefixes.
//!
//! Owns: `Asn`, `Afi`, `Safi`, `AfiSafi`, `Family`, `FamilySet`, `Prefix` (+ v4/v6 parts),
//! `PathId` and `Nlri`. These are plain `Copy` values with no knowledge of sessions or policy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An autonomous system number (always held as 4 octets, RFC 6793).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS, the 2-octet stand-in for a 4-octet ASN (RFC 6793).
    pub const TRANS: Asn = Asn(23456);

    /// True when the ASN fits the 2-octet encoding.
    pub const fn is_16bit(self) -> bool {
        self.0 <= 0xffff
    }

    /// The value to put in a 2-octet field: the ASN itself, or AS_TRANS.
    pub const fn to_16bit(self) -> u16 {
        if self.0 <= 0xffff {
            self.0 as u16
        } else {
            Asn::TRANS.0 as u16
        }
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for Asn {
    fn from(v: u32) -> Self {
        Asn(v)
    }
}

/// Address Family Identifier (IANA registry).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
}

/// Subsequent Address Family Identifier (IANA registry).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
    pub const MULTICAST: Safi = Safi(2);
}

/// An AFI/SAFI pair as carried on the wire; may name a family peerex does not route.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AfiSafi {
    pub afi: Afi,
    pub safi: Safi,
}

impl AfiSafi {
    pub const IPV4_UNICAST: AfiSafi = AfiSafi::new(Afi::IPV4, Safi::UNICAST);
    pub const IPV6_UNICAST: AfiSafi = AfiSafi::new(Afi::IPV6, Safi::UNICAST);

    pub const fn new(afi: Afi, safi: Safi) -> Self {
        AfiSafi { afi, safi }
    }

    /// The routed family this pair names, if peerex routes it.
    pub fn family(self) -> Option<Family> {
        match (self.afi, self.safi) {
            (Afi::IPV4, Safi::UNICAST) => Some(Family::Ipv4Unicast),
            (Afi::IPV6, Safi::UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family() {
            Some(fam) => fam.fmt(f),
            None => write!(f, "afi {} safi {}", self.afi.0, self.safi.0),
        }
    }
}

/// The address families peerex routes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

    pub const fn afi_safi(self) -> AfiSafi {
        match self {
            Family::Ipv4Unicast => AfiSafi::IPV4_UNICAST,
            Family::Ipv6Unicast => AfiSafi::IPV6_UNICAST,
        }
    }

    /// Longest prefix length of the family (32 or 128).
    pub const fn max_len(self) -> u8 {
        match self {
            Family::Ipv4Unicast => 32,
            Family::Ipv6Unicast => 128,
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Family::Ipv4Unicast => 1,
            Family::Ipv6Unicast => 2,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        })
    }
}

/// A set of routed families (e.g. those with ADD-PATH negotiated in one direction).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const ALL: FamilySet = FamilySet(3);

    pub const fn contains(self, f: Family) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn insert(&mut self, f: Family) {
        self.0 |= f.bit();
    }

    pub const fn with(self, f: Family) -> FamilySet {
        FamilySet(self.0 | f.bit())
    }

    pub const fn without(self, f: Family) -> FamilySet {
        FamilySet(self.0 & !f.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    pub const fn union(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 | other.0)
    }

    pub const fn intersection(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 & other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One value per routed family.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ByFamily<T> {
    pub v4: T,
    pub v6: T,
}

impl<T> ByFamily<T> {
    pub fn get(&self, f: Family) -> &T {
        match f {
            Family::Ipv4Unicast => &self.v4,
            Family::Ipv6Unicast => &self.v6,
        }
    }
    pub fn get_mut(&mut self, f: Family) -> &mut T {
        match f {
            Family::Ipv4Unicast => &mut self.v4,
            Family::Ipv6Unicast => &mut self.v6,
        }
    }
}

/// An ADD-PATH path identifier (RFC 7911).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PathId(pub u32);

/// An IPv4 prefix; host bits beyond the length are always zero. Stored as octets so that
/// [`Prefix`] packs into 18 bytes with alignment 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix4 {
    addr: [u8; 4],
    len: u8,
}

impl Prefix4 {
    /// Builds a prefix, clearing host bits. `None` if `len > 32`.
    pub const fn new(addr: u32, len: u8) -> Option<Self> {
        if len > 32 {
            return None;
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Some(Prefix4 {
            addr: (addr & mask).to_be_bytes(),
            len,
        })
    }
    pub const fn addr_bits(self) -> u32 {
        u32::from_be_bytes(self.addr)
    }
    pub const fn addr(self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.addr_bits())
    }
    pub const fn length(self) -> u8 {
        self.len
    }
    /// True when `other` lies within this prefix (or equals it).
    pub const fn covers(self, other: Prefix4) -> bool {
        if other.len < self.len {
            return false;
        }
        let mask = if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - self.len)
        };
        other.addr_bits() & mask == self.addr_bits()
    }
}

/// An IPv6 prefix; host bits beyond the length are always zero. Stored as 16 octets so the
/// type stays 17 bytes with alignment 1 (a `u128` would pad it to 32).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix6 {
    addr: [u8; 16],
    len: u8,
}

impl Prefix6 {
    /// Builds a prefix, clearing host bits. `None` if `len > 128`.
    pub const fn new(addr: u128, len: u8) -> Option<Self> {
        if len > 128 {
            return None;
        }
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        Some(Prefix6 {
            addr: (addr & mask).to_be_bytes(),
            len,
        })
    }
    pub const fn addr_bits(self) -> u128 {
        u128::from_be_bytes(self.addr)
    }
    pub const fn addr(self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.addr_bits())
    }
    pub const fn length(self) -> u8 {
        self.len
    }
    pub const fn covers(self, other: Prefix6) -> bool {
        if other.len < self.len {
            return false;
        }
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - self.len)
        };
        other.addr_bits() & mask == self.addr_bits()
    }
}

/// An IPv4 or IPv6 prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    V4(Prefix4),
    V6(Prefix6),
}

impl Prefix {
    /// Builds a prefix from an address and length, clearing host bits.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        match addr {
            IpAddr::V4(a) => Prefix4::new(a.to_bits(), len).map(Prefix::V4),
            IpAddr::V6(a) => Prefix6::new(a.to_bits(), len).map(Prefix::V6),
        }
    }
    pub fn family(self) -> Family {
        match self {
            Prefix::V4(_) => Family::Ipv4Unicast,
            Prefix::V6(_) => Family::Ipv6Unicast,
        }
    }
    pub fn length(self) -> u8 {
        match self {
            Prefix::V4(p) => p.length(),
            Prefix::V6(p) => p.length(),
        }
    }
    pub fn addr(self) -> IpAddr {
        match self {
            Prefix::V4(p) => IpAddr::V4(p.addr()),
            Prefix::V6(p) => IpAddr::V6(p.addr()),
        }
    }
    /// True when `other` is the same family and lies within this prefix.
    pub fn covers(self, other: Prefix) -> bool {
        match (self, other) {
            (Prefix::V4(a), Prefix::V4(b)) => a.covers(b),
            (Prefix::V6(a), Prefix::V6(b)) => a.covers(b),
            _ => false,
        }
    }
}

impl From<Prefix4> for Prefix {
    fn from(p: Prefix4) -> Self {
        Prefix::V4(p)
    }
}

impl From<Prefix6> for Prefix {
    fn from(p: Prefix6) -> Self {
        Prefix::V6(p)
    }
}

impl fmt::Display for Prefix4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Display for Prefix6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(p) => p.fmt(f),
            Prefix::V6(p) => p.fmt(f),
        }
    }
}

/// Why a prefix string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixParseError {
    MissingLength,
    BadAddress,
    BadLength,
    HostBitsSet,
}

impl fmt::Display for PrefixParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrefixParseError::MissingLength => "prefix has no /length",
            PrefixParseError::BadAddress => "not an IPv4 or IPv6 address",
            PrefixParseError::BadLength => "prefix length out of range",
            PrefixParseError::HostBitsSet => "address has bits set beyond the prefix length",
        })
    }
}

impl std::error::Error for PrefixParseError {}

impl FromStr for Prefix {
    type Err = PrefixParseError;

    /// Parses `addr/len`; host bits must be clear (a config typo should not silently widen).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s.split_once('/').ok_or(PrefixParseError::MissingLength)?;
        let addr: IpAddr = a.parse().map_err(|_| PrefixParseError::BadAddress)?;
        let len: u8 = l.parse().map_err(|_| PrefixParseError::BadLength)?;
        let p = Prefix::new(addr, len).ok_or(PrefixParseError::BadLength)?;
        if p.addr() != addr {
            return Err(PrefixParseError::HostBitsSet);
        }
        Ok(p)
    }
}

impl From<Prefix> for ipnetwork::IpNetwork {
    fn from(p: Prefix) -> Self {
        match p {
            Prefix::V4(p) => ipnetwork::IpNetwork::V4(ipnetwork::Ipv4Network::from(p)),
            Prefix::V6(p) => ipnetwork::IpNetwork::V6(ipnetwork::Ipv6Network::from(p)),
        }
    }
}

impl From<Prefix4> for ipnetwork::Ipv4Network {
    fn from(p: Prefix4) -> Self {
        // The length is at most 32 by construction, so `new` cannot fail.
        ipnetwork::Ipv4Network::new(p.addr(), p.length())
            .unwrap_or_else(|_| ipnetwork::Ipv4Network::from(p.addr()))
    }
}

impl From<Prefix6> for ipnetwork::Ipv6Network {
    fn from(p: Prefix6) -> Self {
        ipnetwork::Ipv6Network::new(p.addr(), p.length())
            .unwrap_or_else(|_| ipnetwork::Ipv6Network::from(p.addr()))
    }
}

impl From<ipnetwork::IpNetwork> for Prefix {
    fn from(n: ipnetwork::IpNetwork) -> Self {
        match n {
            ipnetwork::IpNetwork::V4(n) => Prefix::V4(n.into()),
            ipnetwork::IpNetwork::V6(n) => Prefix::V6(n.into()),
        }
    }
}

impl From<ipnetwork::Ipv4Network> for Prefix4 {
    fn from(n: ipnetwork::Ipv4Network) -> Self {
        // ipnetwork guarantees prefix <= 32.
        Prefix4::new(n.ip().to_bits(), n.prefix().min(32)).unwrap_or(Prefix4 {
            addr: [0; 4],
            len: 0,
        })
    }
}

impl From<ipnetwork::Ipv6Network> for Prefix6 {
    fn from(n: ipnetwork::Ipv6Network) -> Self {
        Prefix6::new(n.ip().to_bits(), n.prefix().min(128)).unwrap_or(Prefix6 {
            addr: [0; 16],
            len: 0,
        })
    }
}

/// One NLRI entry: a prefix and, when ADD-PATH is in use, its path identifier.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    pub path_id: Option<PathId>,
    pub prefix: Prefix,
}

impl Nlri {
    pub const fn new(prefix: Prefix) -> Self {
        Nlri {
            path_id: None,
            prefix,
        }
    }
    pub const fn with_path_id(prefix: Prefix, id: u32) -> Self {
        Nlri {
            path_id: Some(PathId(id)),
            prefix,
        }
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{} (path id {})", self.prefix, id.0),
            None => self.prefix.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_masks_host_bits_and_parses() {
        let p = Prefix4::new(0x0a01_02ff, 24).unwrap();
        assert_eq!(p.to_string(), "10.1.2.0/24");
        assert_eq!("10.1.2.0/24".parse::<Prefix>().unwrap(), Prefix::V4(p));
        assert_eq!(
            "10.1.2.3/24".parse::<Prefix>(),
            Err(PrefixParseError::HostBitsSet)
        );
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        let v6: Prefix = "2001:db8::/32".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert_eq!(v6.family(), Family::Ipv6Unicast);
        assert!(Prefix4::new(0, 33).is_none());
        assert_eq!(Prefix4::new(u32::MAX, 0).unwrap().addr_bits(), 0);
    }

    #[test]
    fn covers_respects_length_and_family() {
        let a: Prefix = "10.0.0.0/8".parse().unwrap();
        let b: Prefix = "10.1.0.0/16".parse().unwrap();
        let c: Prefix = "11.0.0.0/16".parse().unwrap();
        let d: Prefix = "::/0".parse().unwrap();
        assert!(a.covers(b));
        assert!(!b.covers(a));
        assert!(!a.covers(c));
        assert!(!d.covers(a));
        assert!(d.covers("2001:db8::/32".parse().unwrap()));
    }

    #[test]
    fn ipnetwork_round_trip() {
        let p: Prefix = "2001:db8:1::/48".parse().unwrap();
        let n: ipnetwork::IpNetwork = p.into();
        assert_eq!(Prefix::from(n), p);
        assert_eq!(std::mem::size_of::<Prefix>(), 18);
    }

    #[test]
    fn asn_16bit_fallback() {
        assert_eq!(Asn(65000).to_16bit(), 65000);
        assert_eq!(Asn(4_200_000_000).to_16bit(), 23456);
    }
}
