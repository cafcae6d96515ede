//! The JSON VRP file written by rpki-client (`-j`), Routinator (`--format json`) and read by
//! StayRTR: `{"roas": [{"prefix": "192.0.2.0/24", "maxLength": 24, "asn": "AS64496"}, ...]}`.
//! `asn` may be a string ("AS64496" or "64496") or a number; `maxLength` defaults to the
//! prefix length; other fields ("ta", "expires", "metadata") are ignored.
//!
//! ASPAs are read from the `aspas` member rpki-client writes:
//! `{"aspas": [{"customer_asid": 64496, "expires": 1700000000, "providers": [64497, 64498]}]}`;
//! ASNs as numbers or "AS64497" strings, and `customer` for `customer_asid` (Routinator's
//! `{"customer": "AS64496", "providers": ["AS64497"]}`). Entries in earlier drafts' shapes (no `providers`,
//! e.g. `provider_set` with per-family limits) are skipped and counted, never refusing the
//! file: its VRPs matter more. The older `provider_authorizations` member is not read.

use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use super::{Aspa, Vrp};
use crate::wire::{Asn, Prefix};

/// Why a VRP file was refused (the whole file is: a half-read file must not make routes
/// invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrpFileError(pub String);

impl fmt::Display for VrpFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VrpFileError {}

#[derive(Deserialize)]
struct FileModel<'a> {
    #[serde(borrow)]
    roas: Vec<Roa<'a>>,
    #[serde(default)]
    aspas: Vec<AspaModel>,
}

#[derive(Deserialize)]
struct AspaModel {
    /// rpki-client's name; Routinator's JSON calls it `customer` ("AS64496").
    #[serde(alias = "customer")]
    customer_asid: AsnField,
    #[serde(default)]
    providers: Option<Vec<AsnField>>,
}

/// What a JSON RPKI file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpkiFile {
    pub vrps: Vec<Vrp>,
    pub aspas: Vec<Aspa>,
    /// `aspas` entries in a shape this reader does not know (skipped).
    pub skipped_aspas: usize,
}

#[derive(Deserialize)]
struct Roa<'a> {
    #[serde(borrow)]
    prefix: std::borrow::Cow<'a, str>,
    #[serde(rename = "maxLength", default)]
    max_length: Option<u8>,
    asn: AsnField,
}

/// An ASN as a number or a string, read without buffering or allocating.
struct AsnField(Result<u32, String>);

impl<'de> Deserialize<'de> for AsnField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AsnField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AS number or a string like \"AS64496\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(v).map_err(|_| v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(v).map_err(|_| v.to_string())))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AsnField, E> {
                let d = s
                    .strip_prefix("AS")
                    .or_else(|| s.strip_prefix("as"))
                    .unwrap_or(s);
                Ok(AsnField(d.parse::<u32>().map_err(|_| s.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_prefix(s: &str) -> Option<Prefix> {
    let (a, l) = s.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    Prefix::new(addr, l.parse().ok()?)
}

/// Parses a VRP file (its ROAs only).
pub fn parse_vrp_json(text: &str) -> Result<Vec<Vrp>, VrpFileError> {
    parse_rpki_json(text).map(|f| f.vrps)
}

/// Parses a VRP file with its ASPAs.
pub fn parse_rpki_json(text: &str) -> Result<RpkiFile, VrpFileError> {
    let file: FileModel<'_> =
        serde_json::from_str(text).map_err(|e| VrpFileError(format!("not a VRP file: {e}")))?;
    let mut aspas = Vec::with_capacity(file.aspas.len());
    let mut skipped_aspas = 0;
    for (i, a) in file.aspas.iter().enumerate() {
        let bad = |s: &str| VrpFileError(format!("aspas[{i}]: bad asn {s:?}"));
        let customer = a.customer_asid.0.clone().map_err(|s| bad(&s))?;
        let Some(list) = &a.providers else {
            skipped_aspas += 1;
            continue;
        };
        let providers = list
            .iter()
            .map(|p| p.0.clone().map(Asn).map_err(|s| bad(&s)))
            .collect::<Result<Vec<Asn>, _>>()?;
        aspas.push(Aspa {
            customer: Asn(customer),
            providers,
        });
    }
    let mut out = Vec::with_capacity(file.roas.len());
    for (i, r) in file.roas.iter().enumerate() {
        let bad = |what: &str| VrpFileError(format!("roas[{i}]: {what}"));
        let prefix =
            parse_prefix(&r.prefix).ok_or_else(|| bad(&format!("bad prefix {:?}", r.prefix)))?;
        let asn = match &r.asn.0 {
            Ok(a) => *a,
            Err(s) => return Err(bad(&format!("bad asn {s:?}"))),
        };
        let max_len = r.max_length.unwrap_or(prefix.length());
        if max_len < prefix.length() || max_len > prefix.family().max_len() {
            return Err(bad(&format!("maxLength {max_len} does not fit {prefix}")));
        }
        out.push(Vrp {
            prefix,
            max_len,
            asn: Asn(asn),
        });
    }
    Ok(RpkiFile {
        vrps: out,
        aspas,
        skipped_aspas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_common_formats() {
        let text = r#"{
          "metadata": {"buildtime": "2024-01-01T00:00:00Z", "vrps": 3},
          "roas": [
            {"prefix": "192.0.2.0/24", "maxLength": 24, "asn": "AS64496", "ta": "ripe"},
            {"prefix": "2001:db8::/32", "maxLength": 48, "asn": 64497, "expires": 1700000000},
            {"prefix": "198.51.100.0/24", "asn": "64498"}
          ]
        }"#;
        let v = parse_vrp_json(text).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].to_string(), "192.0.2.0/24-24 AS64496");
        assert_eq!(v[1].to_string(), "2001:db8::/32-48 AS64497");
        assert_eq!(v[2].to_string(), "198.51.100.0/24-24 AS64498");
    }

    #[test]
    fn reads_aspas() {
        let text = r#"{
          "roas": [{"prefix": "192.0.2.0/24", "maxLength": 24, "asn": "AS64496"}],
          "aspas": [
            {"customer_asid": 64496, "expires": 1700000000, "providers": [64497, "AS64498"]},
            {"customer_asid": "AS64499", "providers": [0]},
            {"customer": "AS64501", "afi": "ipv6", "providers": ["AS64502"], "ta": "ripe"},
            {"customer_asid": 64500, "provider_set": [{"provider_asid": 1, "afi_limit": "ipv4"}]}
          ]
        }"#;
        let f = parse_rpki_json(text).unwrap();
        assert_eq!(f.vrps.len(), 1);
        assert_eq!(
            f.aspas,
            vec![
                Aspa {
                    customer: Asn(64496),
                    providers: vec![Asn(64497), Asn(64498)]
                },
                Aspa {
                    customer: Asn(64499),
                    providers: vec![Asn(0)]
                },
                Aspa {
                    customer: Asn(64501),
                    providers: vec![Asn(64502)]
                }
            ]
        );
        assert_eq!(f.skipped_aspas, 1);
        let e = parse_rpki_json(r#"{"roas":[],"aspas":[{"customer_asid":1,"providers":["x"]}]}"#)
            .unwrap_err();
        assert!(e.0.contains("aspas[0]"), "{e}");
        // Files without ASPAs (and stayrtr's older member) read as before.
        let f = parse_rpki_json(r#"{"roas":[],"provider_authorizations":{"ipv4":[]}}"#).unwrap();
        assert!(f.aspas.is_empty());
    }

    #[test]
    fn refuses_bad_files() {
        assert!(parse_vrp_json("{}").is_err());
        assert!(parse_vrp_json("[]").is_err());
        let e = parse_vrp_json(r#"{"roas":[{"prefix":"192.0.2.0/33","asn":1}]}"#).unwrap_err();
        assert!(e.0.contains("roas[0]"), "{e}");
        let e = parse_vrp_json(r#"{"roas":[{"prefix":"192.0.2.0/24","asn":"ASx"}]}"#).unwrap_err();
        assert!(e.0.contains("bad asn"), "{e}");
        let e = parse_vrp_json(r#"{"roas":[{"prefix":"192.0.2.0/24","maxLength":16,"asn":1}]}"#)
            .unwrap_err();
        assert!(e.0.contains("maxLength"), "{e}");
    }
}
