//! The negotiated context one direction of a session decodes or encodes with.
//!
//! Owns: `ParseCtx`. Built by the session from the capabilities both sides sent; the codec
//! reads it and knows nothing of how it was negotiated.

use super::header::{MAX_EXTENDED_LEN, MAX_LEN};
use super::types::{Family, FamilySet};

/// Capabilities that change how UPDATEs are encoded, for one direction of one session.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParseCtx {
    /// 4-octet AS numbers negotiated (RFC 6793); otherwise AS_PATH carries 2-octet ASNs.
    pub four_octet_as: bool,
    /// Families whose NLRI carry ADD-PATH path identifiers in this direction (RFC 7911).
    pub add_path: FamilySet,
    /// Extended messages negotiated (RFC 8654): UPDATEs up to 65,535 octets.
    pub extended_message: bool,
    /// The peer is external: internal-only attributes are discarded, confederation
    /// segments are errors.
    pub ebgp: bool,
}

impl ParseCtx {
    /// The common modern eBGP context: 4-octet AS, no ADD-PATH, 4,096-octet messages.
    pub const fn new() -> Self {
        ParseCtx {
            four_octet_as: true,
            add_path: FamilySet::EMPTY,
            extended_message: false,
            ebgp: true,
        }
    }

    /// Largest UPDATE in this direction.
    pub const fn max_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_LEN
        } else {
            MAX_LEN
        }
    }

    pub const fn add_path_for(&self, f: Family) -> bool {
        self.add_path.contains(f)
    }

    /// Octets per ASN in AS_PATH and AGGREGATOR.
    pub const fn asn_width(&self) -> usize {
        if self.four_octet_as {
            4
        } else {
            2
        }
    }
}

impl Default for ParseCtx {
    fn default() -> Self {
        ParseCtx::new()
    }
}
