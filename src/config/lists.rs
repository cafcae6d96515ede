//! Prefix and ASN list syntax: one entry per string or per line of a list file.
//!
//! A prefix entry is a prefix with an optional range of accepted lengths:
//!
//! | entry | lengths accepted |
//! | --- | --- |
//! | `10.1.0.0/16` | exactly 16 |
//! | `10.1.0.0/16{16,24}` | 16 to 24 |
//! | `10.1.0.0/16 le 24` | 16 to 24 |
//! | `10.1.0.0/16 ge 18` | 18 to 32 |
//! | `10.1.0.0/16 ge 18 le 24` | 18 to 24 |
//! | `10.1.0.0/16^+` | 16 to 32 (IRR syntax, RFC 2622) |
//! | `10.1.0.0/16^-` | 17 to 32 |
//! | `10.1.0.0/16^20`, `10.1.0.0/16^18-24` | 20; 18 to 24 |
//!
//! In files, `#` starts a comment and blank lines are ignored. An ASN entry is a number, `AS`
//! and a number, or a range `64512-65534`.

use std::fmt;
use std::str::FromStr;

use crate::wire::{Asn, Prefix};

/// A prefix and the range of lengths of the prefixes it allows (`prefix.length() <= min <=
/// max <= 32 or 128`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrefixRange {
    pub prefix: Prefix,
    pub min: u8,
    pub max: u8,
}

impl PrefixRange {
    /// The prefix itself and nothing longer.
    pub fn exact(prefix: Prefix) -> PrefixRange {
        PrefixRange {
            prefix,
            min: prefix.length(),
            max: prefix.length(),
        }
    }

    /// The prefix and every more specific of it.
    pub fn or_longer(prefix: Prefix) -> PrefixRange {
        PrefixRange {
            prefix,
            min: prefix.length(),
            max: prefix.family().max_len(),
        }
    }

    /// True when `p` lies within the prefix and its length is in range.
    pub fn matches(&self, p: Prefix) -> bool {
        self.prefix.covers(p) && (self.min..=self.max).contains(&p.length())
    }
}

impl fmt::Display for PrefixRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.prefix.length() && self.max == self.min {
            write!(f, "{}", self.prefix)
        } else {
            write!(f, "{}{{{},{}}}", self.prefix, self.min, self.max)
        }
    }
}

/// A problem in one entry: the column (1-based, in characters) it starts at and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> EntryError {
    EntryError {
        column,
        message: message.into(),
    }
}

/// Tokens of an entry with the column each starts at.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split_ascii_whitespace().map(move |t| {
        let off = t.as_ptr() as usize - s.as_ptr() as usize;
        (s.get(..off).map_or(0, |b| b.chars().count()) + 1, t)
    })
}

fn parse_len(tok: &str, col: usize, max: u8) -> Result<u8, EntryError> {
    match tok.parse::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(err(
            col,
            format!("{tok:?} is not a prefix length (0 to {max})"),
        )),
    }
}

impl PrefixRange {
    /// Parses one entry (no comment). Columns in errors are relative to `s`.
    pub fn parse(s: &str) -> Result<PrefixRange, EntryError> {
        let mut toks = tokens(s);
        let Some((col, first)) = toks.next() else {
            return Err(err(1, "empty prefix entry"));
        };
        // Split `first` into the prefix and a `{a,b}` or `^...` suffix.
        let cut = first.find(['{', '^']).unwrap_or(first.len());
        let (ptext, suffix) = first.split_at(cut);
        let prefix: Prefix = ptext
            .parse()
            .map_err(|e| err(col, format!("{ptext:?}: {e}")))?;
        let plen = prefix.length();
        let fmax = prefix.family().max_len();
        let suffix_col = col + ptext.chars().count();
        let mut range_col = suffix_col;
        let (mut min, mut max) = (plen, plen);
        if let Some(body) = suffix.strip_prefix('{') {
            let body = body
                .strip_suffix('}')
                .ok_or_else(|| err(suffix_col, "missing '}' after the length range"))?;
            let (a, b) = body.split_once(',').unwrap_or((body, body));
            min = parse_len(a.trim(), suffix_col, fmax)?;
            max = parse_len(b.trim(), suffix_col, fmax)?;
        } else if let Some(op) = suffix.strip_prefix('^') {
            (min, max) = match op {
                "+" => (plen, fmax),
                "-" => (plen.saturating_add(1), fmax),
                _ => match op.split_once('-') {
                    Some((a, b)) => (
                        parse_len(a, suffix_col, fmax)?,
                        parse_len(b, suffix_col, fmax)?,
                    ),
                    None => {
                        let n = parse_len(op, suffix_col, fmax)?;
                        (n, n)
                    }
                },
            };
            if min > fmax {
                return Err(err(suffix_col, format!("{prefix}^- leaves no length")));
            }
        } else {
            let mut seen_ge = false;
            let mut seen_le = false;
            while let Some((kcol, kw)) = toks.next() {
                if !seen_ge && !seen_le {
                    range_col = kcol;
                }
                let Some((vcol, v)) = toks.next() else {
                    return Err(err(kcol, format!("{kw:?} needs a length after it")));
                };
                match kw.to_ascii_lowercase().as_str() {
                    "ge" if !seen_ge && !seen_le => {
                        seen_ge = true;
                        min = parse_len(v, vcol, fmax)?;
                        max = fmax;
                    }
                    "le" if !seen_le => {
                        seen_le = true;
                        max = parse_len(v, vcol, fmax)?;
                    }
                    _ => {
                        return Err(err(
                            kcol,
                            format!("unexpected {kw:?}: use \"ge N\", \"le N\" or \"ge N le M\""),
                        ))
                    }
                }
            }
        }
        if let Some((c, t)) = toks.next() {
            return Err(err(c, format!("unexpected {t:?} after the entry")));
        }
        if min < plen {
            return Err(err(
                range_col,
                format!("length {min} is shorter than the prefix {prefix} itself"),
            ));
        }
        if max < min {
            return Err(err(
                range_col,
                format!("empty length range {min} to {max} for {prefix}"),
            ));
        }
        Ok(PrefixRange { prefix, min, max })
    }
}

impl FromStr for PrefixRange {
    type Err = EntryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PrefixRange::parse(s)
    }
}

/// A problem on one line of a list file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Most errors reported for one file; a file in the wrong format would otherwise produce one
/// error per line.
pub const MAX_FILE_ERRORS: usize = 20;

/// Parses a prefix list file: one entry per line, `#` comments, blank lines ignored.
pub fn parse_prefix_file(text: &str) -> Result<Vec<PrefixRange>, Vec<LineError>> {
    let mut out = Vec::with_capacity(text.len() / 20);
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        match PrefixRange::parse(line) {
            Ok(r) => out.push(r),
            Err(e) => {
                errors.push(LineError {
                    line: i + 1,
                    column: e.column,
                    message: e.message,
                });
                if errors.len() >= MAX_FILE_ERRORS {
                    break;
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// An inclusive range of AS numbers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsnRange {
    pub first: u32,
    pub last: u32,
}

impl AsnRange {
    pub const fn one(asn: u32) -> AsnRange {
        AsnRange {
            first: asn,
            last: asn,
        }
    }

    pub const fn new(first: u32, last: u32) -> AsnRange {
        AsnRange { first, last }
    }

    pub const fn contains(&self, asn: Asn) -> bool {
        self.first <= asn.0 && asn.0 <= self.last
    }
}

impl fmt::Display for AsnRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Sorts and merges overlapping or adjacent ranges.
pub fn normalize_asns(mut v: Vec<AsnRange>) -> Vec<AsnRange> {
    v.sort_unstable();
    let mut out: Vec<AsnRange> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.first <= last.last.saturating_add(1) => {
                last.last = last.last.max(r.last)
            }
            _ => out.push(r),
        }
    }
    out
}

fn parse_asn(s: &str) -> Option<u32> {
    let s = s.trim();
    let digits = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl FromStr for AsnRange {
    type Err = String;
    /// `64496`, `AS64496` or `64512-65534`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an AS number, \"AS\" and a number, or a range \"A-B\"");
        match s.split_once('-') {
            Some((a, b)) => {
                let (first, last) = (parse_asn(a).ok_or_else(bad)?, parse_asn(b).ok_or_else(bad)?);
                if last < first {
                    return Err(format!("empty AS range {s:?}"));
                }
                Ok(AsnRange { first, last })
            }
            None => parse_asn(s).map(AsnRange::one).ok_or_else(bad),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> (String, u8, u8) {
        let x = PrefixRange::parse(s).unwrap();
        (x.prefix.to_string(), x.min, x.max)
    }

    #[test]
    fn prefix_entry_forms() {
        assert_eq!(r("10.1.0.0/16"), ("10.1.0.0/16".into(), 16, 16));
        assert_eq!(r("10.1.0.0/16{16,24}"), ("10.1.0.0/16".into(), 16, 24));
        assert_eq!(r("10.1.0.0/16{20}"), ("10.1.0.0/16".into(), 20, 20));
        assert_eq!(r("10.1.0.0/16 le 24"), ("10.1.0.0/16".into(), 16, 24));
        assert_eq!(r("10.1.0.0/16 ge 18"), ("10.1.0.0/16".into(), 18, 32));
        assert_eq!(
            r("  10.1.0.0/16 ge 18 le 24 "),
            ("10.1.0.0/16".into(), 18, 24)
        );
        assert_eq!(r("10.1.0.0/16 GE 18 LE 24"), ("10.1.0.0/16".into(), 18, 24));
        assert_eq!(r("10.1.0.0/16^+"), ("10.1.0.0/16".into(), 16, 32));
        assert_eq!(r("10.1.0.0/16^-"), ("10.1.0.0/16".into(), 17, 32));
        assert_eq!(r("10.1.0.0/16^20"), ("10.1.0.0/16".into(), 20, 20));
        assert_eq!(r("10.1.0.0/16^18-24"), ("10.1.0.0/16".into(), 18, 24));
        assert_eq!(r("2001:db8::/32 le 48"), ("2001:db8::/32".into(), 32, 48));
        assert_eq!(r("2001:db8::/32^+"), ("2001:db8::/32".into(), 32, 128));
        let p = PrefixRange::parse("10.1.0.0/16{16,24}").unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16{16,24}");
        assert!(p.matches("10.1.2.0/24".parse().unwrap()));
        assert!(!p.matches("10.1.2.0/25".parse().unwrap()));
        assert!(!p.matches("10.2.0.0/24".parse().unwrap()));
    }

    #[test]
    fn prefix_entry_errors_name_the_column() {
        let e = PrefixRange::parse("10.1.0.1/16").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.contains("bits set"), "{}", e.message);
        let e = PrefixRange::parse("10.1.0.0/16 le 33").unwrap_err();
        assert_eq!(e.column, 16);
        let e = PrefixRange::parse("10.1.0.0/16 le 12").unwrap_err();
        assert!(e.message.contains("empty length range"), "{}", e.message);
        let e = PrefixRange::parse("10.1.0.0/16 ge 12").unwrap_err();
        assert!(e.message.contains("shorter"), "{}", e.message);
        let e = PrefixRange::parse("10.1.0.0/16 le").unwrap_err();
        assert_eq!(e.column, 13);
        let e = PrefixRange::parse("10.1.0.0/16 le 24 ge 18").unwrap_err();
        assert_eq!(e.column, 19);
        let e = PrefixRange::parse("10.1.0.0/16{16,24").unwrap_err();
        assert_eq!(e.column, 12);
        let e = PrefixRange::parse("10.1.0.0/16 foo").unwrap_err();
        assert_eq!(e.column, 13);
        assert!(PrefixRange::parse("10.1.0.0").is_err());
        assert!(PrefixRange::parse("10.0.0.0/32^-").is_err());
    }

    #[test]
    fn files_skip_comments_and_report_lines() {
        let text = "# suppliers\n\n10.0.0.0/8 le 24   # aggregate\n192.0.2.0/24\n";
        let v = parse_prefix_file(text).unwrap();
        assert_eq!(v.len(), 2);
        let e = parse_prefix_file("10.0.0.0/8\n\n  10.0.0.0/33\n").unwrap_err();
        assert_eq!((e[0].line, e[0].column), (3, 3));
        let e = parse_prefix_file("\n 10.0.0.0/16 le 8\n").unwrap_err();
        assert_eq!((e[0].line, e[0].column), (2, 14));
        let many = "x\n".repeat(100);
        assert_eq!(parse_prefix_file(&many).unwrap_err().len(), MAX_FILE_ERRORS);
    }

    #[test]
    fn tens_of_thousands_of_lines_load_fast() {
        let mut text = String::from("# generated\n");
        for i in 0..50_000u32 {
            let a = 0x2d00_0000u32 + (i << 8);
            let a = std::net::Ipv4Addr::from(a);
            text.push_str(&format!("{a}/24\n{a}/24 le 24 # again\n"));
        }
        let t = std::time::Instant::now();
        let v = parse_prefix_file(&text).unwrap();
        assert_eq!(v.len(), 100_000);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn asn_ranges() {
        assert_eq!("64496".parse(), Ok(AsnRange::one(64496)));
        assert_eq!("AS64496".parse(), Ok(AsnRange::one(64496)));
        assert_eq!("64512-65534".parse(), Ok(AsnRange::new(64512, 65534)));
        assert_eq!("AS1-AS2".parse(), Ok(AsnRange::new(1, 2)));
        assert!("2-1".parse::<AsnRange>().is_err());
        assert!("AS".parse::<AsnRange>().is_err());
        assert!("4294967296".parse::<AsnRange>().is_err());
        assert!("-5".parse::<AsnRange>().is_err());
        assert!(AsnRange::new(1, 3).contains(Asn(2)));
    }
}
