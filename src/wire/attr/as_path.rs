//! AS_PATH (type 2, well-known mandatory, RFC 4271 §5.1.2) and AS4_PATH (type 17, RFC 6793).
//!
//! AS_PATH is malformed when a segment has an unknown type, a zero length, or runs past the
//! attribute, when it holds AS 0 (RFC 7607), or when confederation segments come from an
//! external peer: treat-as-withdraw (RFC 7606 §7.2). AS4_PATH malformed in any of those ways,
//! or carrying confederation segments, or received on a 4-octet session: attribute discard
//! (RFC 6793 §6). On 2-octet sessions the two are merged as RFC 6793 §4.2.3 describes; the
//! view always yields 4-octet ASNs.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::{code, Class};
use crate::wire::error::Fault;
use crate::wire::reader::Reader;
use crate::wire::types::Asn;

/// The four segment types (RFC 4271, RFC 5065).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

impl SegmentType {
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(SegmentType::Set),
            2 => Some(SegmentType::Sequence),
            3 => Some(SegmentType::ConfedSequence),
            4 => Some(SegmentType::ConfedSet),
            _ => None,
        }
    }

    pub const fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }

    /// How many hops a segment of `n` ASNs adds to the path length (RFC 4271 §9.1.2.2,
    /// RFC 5065 §5.3): a set counts once, confederation segments not at all.
    pub const fn hops(self, n: usize) -> usize {
        match self {
            SegmentType::Sequence => n,
            SegmentType::Set => 1,
            SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
        }
    }
}

/// Checks an AS_PATH value with `width`-octet ASNs.
pub(crate) fn check(v: &[u8], width: usize, ebgp: bool) -> Result<(), Fault> {
    let mut r = Reader::new(v);
    while !r.is_empty() {
        let kind = r
            .u8()
            .and_then(SegmentType::from_u8)
            .ok_or(Fault::Segment)?;
        let n = usize::from(r.u8().ok_or(Fault::Segment)?);
        if n == 0 {
            return Err(Fault::Segment);
        }
        let raw = r.take(n * width).ok_or(Fault::Segment)?;
        if kind.is_confed() && ebgp {
            return Err(Fault::ConfedFromEbgp);
        }
        if (Asns {
            raw,
            width: width as u8,
        })
        .any(|a| a.0 == 0)
        {
            return Err(Fault::AsZero);
        }
    }
    Ok(())
}

/// Checks an AS4_PATH value: 4-octet ASNs and no confederation segments.
pub(crate) fn check_as4(v: &[u8]) -> Result<(), Fault> {
    check(v, 4, true).map_err(|_| Fault::Segment)
}

/// RFC 6793 §4.2.3 counting of a checked value: sets count once, confederations not at all.
pub(crate) fn hops_of(v: &[u8], width: usize) -> usize {
    AsPathView::new(v, width).hop_count()
}

/// The ASNs of one segment.
#[derive(Clone, Debug)]
pub struct Asns<'a> {
    raw: &'a [u8],
    width: u8,
}

impl Iterator for Asns<'_> {
    type Item = Asn;
    #[inline]
    fn next(&mut self) -> Option<Asn> {
        let mut r = Reader::new(self.raw);
        let v = if self.width == 4 {
            r.u32()?
        } else {
            u32::from(r.u16()?)
        };
        self.raw = r.rest();
        Some(Asn(v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.raw.len() / usize::from(self.width.max(1));
        (n, Some(n))
    }
}

impl ExactSizeIterator for Asns<'_> {}

/// One segment of a checked path.
#[derive(Copy, Clone, Debug)]
pub struct Segment<'a> {
    kind: SegmentType,
    raw: &'a [u8],
    width: u8,
}

impl<'a> Segment<'a> {
    pub fn kind(&self) -> SegmentType {
        self.kind
    }
    pub fn len(&self) -> usize {
        self.raw.len() / usize::from(self.width.max(1))
    }
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    pub fn asns(&self) -> Asns<'a> {
        Asns {
            raw: self.raw,
            width: self.width,
        }
    }
}

/// A checked AS path; on 2-octet sessions, the merge of AS_PATH and AS4_PATH.
#[derive(Copy, Clone, Debug)]
pub struct AsPathView<'a> {
    head: &'a [u8],
    head_width: u8,
    /// Hops to take from `head` before continuing with `tail`; `usize::MAX` takes all.
    head_hops: usize,
    /// AS4_PATH (4-octet), empty when not merging.
    tail: &'a [u8],
}

impl<'a> AsPathView<'a> {
    pub(crate) fn new(v: &'a [u8], width: usize) -> Self {
        AsPathView {
            head: v,
            head_width: width as u8,
            head_hops: usize::MAX,
            tail: &[],
        }
    }

    /// Merges a 2-octet AS_PATH with an AS4_PATH (both checked) per RFC 6793 §4.2.3: when the
    /// AS_PATH has fewer hops than the AS4_PATH the AS4_PATH is ignored; otherwise the leading
    /// hops of AS_PATH are kept and the AS4_PATH follows.
    pub(crate) fn merged(as_path: &'a [u8], as4_path: &'a [u8]) -> Self {
        let n = hops_of(as_path, 2);
        let n4 = hops_of(as4_path, 4);
        if n < n4 {
            return AsPathView::new(as_path, 2);
        }
        AsPathView {
            head: as_path,
            head_width: 2,
            head_hops: n - n4,
            tail: as4_path,
        }
    }

    pub fn segments(&self) -> Segments<'a> {
        Segments {
            head: Reader::new(self.head),
            head_width: self.head_width,
            left: self.head_hops,
            tail: Reader::new(self.tail),
            in_tail: false,
        }
    }

    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a, RFC 5065).
    pub fn hop_count(&self) -> usize {
        self.segments().map(|s| s.kind.hops(s.len())).sum()
    }

    /// True when the path has no ASNs at all.
    pub fn is_empty(&self) -> bool {
        self.segments().next().is_none()
    }

    /// The neighbouring AS: the first ASN when the path starts with an AS_SEQUENCE.
    pub fn first_asn(&self) -> Option<Asn> {
        let s = self.segments().next()?;
        if s.kind == SegmentType::Sequence {
            s.asns().next()
        } else {
            None
        }
    }

    /// The origin AS for route origin validation (RFC 6811): the last ASN when the path ends
    /// with an AS_SEQUENCE, none when it ends with a set.
    pub fn origin_asn(&self) -> Option<Asn> {
        let s = self.segments().last()?;
        if s.kind == SegmentType::Sequence {
            s.asns().last()
        } else {
            None
        }
    }

    /// Every ASN in order, whatever its segment.
    pub fn asns(&self) -> impl Iterator<Item = Asn> + 'a {
        self.segments().flat_map(|s| s.asns())
    }

    pub fn has_set(&self) -> bool {
        self.segments()
            .any(|s| matches!(s.kind, SegmentType::Set | SegmentType::ConfedSet))
    }

    pub fn contains(&self, asn: Asn) -> bool {
        self.asns().any(|a| a == asn)
    }

    pub fn to_owned(&self) -> AsPath {
        AsPath {
            segments: self
                .segments()
                .map(|s| PathSegment {
                    kind: s.kind,
                    asns: s.asns().collect(),
                })
                .collect(),
        }
    }
}

/// Iterator over the segments of an [`AsPathView`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    head: Reader<'a>,
    head_width: u8,
    left: usize,
    tail: Reader<'a>,
    in_tail: bool,
}

fn read_segment<'a>(r: &mut Reader<'a>, width: u8) -> Option<(SegmentType, &'a [u8])> {
    let kind = SegmentType::from_u8(r.u8()?)?;
    let n = usize::from(r.u8()?);
    let raw = r.take(n * usize::from(width))?;
    Some((kind, raw))
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if !self.in_tail {
            let mut peek = self.head.clone();
            if let Some((kind, raw)) = read_segment(&mut peek, self.head_width) {
                let width = self.head_width;
                let n = raw.len() / usize::from(width.max(1));
                if kind.is_confed() || self.left > 0 {
                    self.head = peek;
                    let take = match kind {
                        SegmentType::Sequence => n.min(self.left),
                        _ => n,
                    };
                    self.left = self.left.saturating_sub(kind.hops(take));
                    let raw = raw.get(..take * usize::from(width)).unwrap_or(raw);
                    return Some(Segment { kind, raw, width });
                }
            }
            self.in_tail = true;
        }
        let (kind, raw) = read_segment(&mut self.tail, 4)?;
        Some(Segment {
            kind,
            raw,
            width: 4,
        })
    }
}

/// One segment of an owned path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathSegment {
    pub kind: SegmentType,
    pub asns: Vec<Asn>,
}

/// An owned AS path with 4-octet ASNs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct AsPath {
    pub segments: Vec<PathSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: impl IntoIterator<Item = Asn>) -> Self {
        let asns: Vec<Asn> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![PathSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    pub fn hop_count(&self) -> usize {
        self.segments
            .iter()
            .map(|s| s.kind.hops(s.asns.len()))
            .sum()
    }

    /// Index of the first segment AS4_PATH carries on a 2-octet session. AS4_PATH carries no
    /// confederation segments (RFC 6793 §6) and the receiver takes the leading part of the
    /// path from AS_PATH (§4.2.3), so AS4_PATH starts after the last confederation segment and
    /// a confederation segment that is not leading keeps its place. If a 4-octet ASN outside
    /// confederation segments comes before it, that cannot be done: AS4_PATH then holds every
    /// other segment, keeping the ASNs and losing the confederation segment's place.
    fn as4_start(&self) -> usize {
        let after = self
            .segments
            .iter()
            .rposition(|s| s.kind.is_confed())
            .map_or(0, |i| i + 1);
        let lead = self.segments.get(..after).unwrap_or_default();
        if lead
            .iter()
            .filter(|s| !s.kind.is_confed())
            .flat_map(|s| &s.asns)
            .all(|a| a.is_16bit())
        {
            after
        } else {
            0
        }
    }

    /// The segments written: all of them, or those AS4_PATH carries.
    fn written(&self, as4: bool) -> impl Iterator<Item = &PathSegment> {
        let from = if as4 { self.as4_start() } else { 0 };
        self.segments
            .iter()
            .skip(from)
            .filter(move |s| !(as4 && s.kind.is_confed()))
    }

    /// True when an ASN of the AS4_PATH part needs 4 octets (so AS4_PATH is needed on a
    /// 2-octet session).
    fn needs_as4(&self) -> bool {
        self.written(true)
            .any(|s| s.asns.iter().any(|a| !a.is_16bit()))
    }

    fn encoded_len(&self, width: usize, as4: bool) -> usize {
        self.written(as4)
            .map(|s| {
                let chunks = s.asns.len().div_ceil(255);
                chunks * 2 + s.asns.len() * width
            })
            .sum()
    }

    fn put_segments(&self, out: &mut BytesMut, width: usize, as4: bool) {
        for s in self.written(as4) {
            for chunk in s.asns.chunks(255) {
                out.put_u8(s.kind as u8);
                out.put_u8(chunk.len() as u8);
                for a in chunk {
                    if width == 4 {
                        out.put_u32(a.0);
                    } else {
                        out.put_u16(a.to_16bit());
                    }
                }
            }
        }
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// Writes AS_PATH, and AS4_PATH when 4-octet ASNs must travel over a 2-octet session.
/// Segments longer than 255 ASNs are split.
pub(crate) fn emit(out: &mut BytesMut, path: &AsPath, four_octet_as: bool) {
    let flags = Class::WellKnown.flags();
    let width = if four_octet_as { 4 } else { 2 };
    super::put_header(out, flags, code::AS_PATH, path.encoded_len(width, false));
    path.put_segments(out, width, false);
    if !four_octet_as && path.needs_as4() {
        let len = path.encoded_len(4, true);
        super::put_header(out, Class::OptionalTransitive.flags(), code::AS4_PATH, len);
        path.put_segments(out, 4, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(kind: SegmentType, asns: &[u32]) -> PathSegment {
        PathSegment {
            kind,
            asns: asns.iter().map(|&a| Asn(a)).collect(),
        }
    }

    #[test]
    fn check_rejects_malformed_segments() {
        // SEQ 65001 65002 (2-octet)
        let ok = [2, 2, 0xfd, 0xe9, 0xfd, 0xea];
        assert_eq!(check(&ok, 2, true), Ok(()));
        assert_eq!(check(&ok, 4, true), Err(Fault::Segment));
        assert_eq!(check(&[], 4, true), Ok(()));
        assert_eq!(check(&[5, 1, 0, 1], 2, true), Err(Fault::Segment));
        assert_eq!(check(&[2, 0], 2, true), Err(Fault::Segment));
        assert_eq!(check(&[2], 2, true), Err(Fault::Segment));
        assert_eq!(check(&[2, 1, 0, 0], 2, true), Err(Fault::AsZero));
        assert_eq!(check(&[3, 1, 0, 1], 2, true), Err(Fault::ConfedFromEbgp));
        assert_eq!(check(&[3, 1, 0, 1], 2, false), Ok(()));
        assert_eq!(check_as4(&[3, 1, 0, 0, 0, 1]), Err(Fault::Segment));
    }

    #[test]
    fn view_answers_path_questions() {
        // SEQ 65001 4200000001, SET {65003 65004}
        let mut out = BytesMut::new();
        let path = AsPath {
            segments: vec![
                seg(SegmentType::Sequence, &[65001, 4_200_000_001]),
                seg(SegmentType::Set, &[65003, 65004]),
            ],
        };
        path.put_segments(&mut out, 4, false);
        assert_eq!(check(&out, 4, true), Ok(()));
        let v = AsPathView::new(&out, 4);
        assert_eq!(v.hop_count(), 3);
        assert_eq!(v.first_asn(), Some(Asn(65001)));
        assert_eq!(v.origin_asn(), None);
        assert!(v.has_set());
        assert!(v.contains(Asn(65004)));
        assert_eq!(v.to_owned(), path);
        assert_eq!(path.to_string(), "65001 4200000001 {65003 65004}");
        let seq = AsPath::sequence([Asn(1), Asn(2)]);
        let mut out = BytesMut::new();
        seq.put_segments(&mut out, 4, false);
        assert_eq!(AsPathView::new(&out, 4).origin_asn(), Some(Asn(2)));
    }

    #[test]
    fn as4_merge_rfc6793() {
        // AS_PATH: 65001 23456 23456 65004; AS4_PATH: 4200000002 4200000003 65004.
        let as_path = [2, 4, 0xfd, 0xe9, 0x5b, 0xa0, 0x5b, 0xa0, 0xfd, 0xec];
        let as4 = [
            2, 3, 0xfa, 0x56, 0xea, 0x02, 0xfa, 0x56, 0xea, 0x03, 0, 0, 0xfd, 0xec,
        ];
        assert_eq!(check(&as_path, 2, true), Ok(()));
        assert_eq!(check_as4(&as4), Ok(()));
        let v = AsPathView::merged(&as_path, &as4);
        let asns: Vec<u32> = v.asns().map(|a| a.0).collect();
        assert_eq!(asns, vec![65001, 4_200_000_002, 4_200_000_003, 65004]);
        assert_eq!(v.hop_count(), 4);
        // AS4_PATH longer than AS_PATH: ignored.
        let long4 = [
            2, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
        ];
        let v = AsPathView::merged(&as_path, &long4);
        assert_eq!(v.asns().count(), 4);
        assert_eq!(v.first_asn(), Some(Asn(65001)));
        assert!(v.contains(Asn::TRANS));
    }

    #[test]
    fn as4_merge_keeps_leading_confed_and_counts_sets_once() {
        // AS_PATH: (65010) {1 2} 23456 ; AS4_PATH: 4200000009
        let as_path = [3, 1, 0xfd, 0xf2, 1, 2, 0, 1, 0, 2, 2, 1, 0x5b, 0xa0];
        let as4 = [2, 1, 0xfa, 0x56, 0xea, 0x09];
        assert_eq!(check(&as_path, 2, false), Ok(()));
        let v = AsPathView::merged(&as_path, &as4);
        let owned = v.to_owned();
        assert_eq!(
            owned,
            AsPath {
                segments: vec![
                    seg(SegmentType::ConfedSequence, &[65010]),
                    seg(SegmentType::Set, &[1, 2]),
                    seg(SegmentType::Sequence, &[4_200_000_009]),
                ]
            }
        );
    }

    #[test]
    fn emit_two_octet_adds_as4_path() {
        let path = AsPath::sequence([Asn(65001), Asn(4_200_000_001)]);
        let mut out = BytesMut::new();
        emit(&mut out, &path, false);
        assert_eq!(
            &out[..],
            &[
                0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0, // AS_PATH
                0xc0, 17, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01 // AS4_PATH
            ]
        );
        let mut out = BytesMut::new();
        emit(&mut out, &AsPath::sequence([Asn(65001)]), false);
        assert_eq!(&out[..], &[0x40, 2, 4, 2, 1, 0xfd, 0xe9]);
    }

    /// Emits `path` on a 2-octet session and merges the result back.
    fn two_octet_round_trip(path: &AsPath) -> AsPath {
        let mut out = BytesMut::new();
        emit(&mut out, path, false);
        let (as_path, rest) = out.split_at(3 + usize::from(out[2]));
        let as_path = &as_path[3..];
        assert_eq!(check(as_path, 2, false), Ok(()));
        if rest.is_empty() {
            return AsPathView::new(as_path, 2).to_owned();
        }
        assert_eq!(&rest[..2], &[0xc0, 17]);
        let as4 = &rest[3..];
        assert_eq!(check_as4(as4), Ok(()));
        AsPathView::merged(as_path, as4).to_owned()
    }

    // Found by the `update` fuzz target: a confederation segment after a non-confederation
    // one was lost on a 2-octet session because AS4_PATH restarted the path from the front.
    #[test]
    fn as4_path_keeps_non_leading_confed_segments() {
        let path = AsPath {
            segments: vec![
                seg(SegmentType::Set, &[65010, 65011]),
                seg(SegmentType::ConfedSet, &[65012]),
                seg(SegmentType::Sequence, &[64500, 4_200_000_003]),
            ],
        };
        assert_eq!(two_octet_round_trip(&path), path);
        let leading = AsPath {
            segments: vec![
                seg(SegmentType::ConfedSequence, &[65010]),
                seg(SegmentType::Sequence, &[4_200_000_001, 64500]),
            ],
        };
        assert_eq!(two_octet_round_trip(&leading), leading);
        // A 4-octet ASN before the confederation segment: the ASNs win.
        let before = AsPath {
            segments: vec![
                seg(SegmentType::Sequence, &[4_200_000_001]),
                seg(SegmentType::ConfedSequence, &[65010]),
                seg(SegmentType::Sequence, &[64500]),
            ],
        };
        let back = two_octet_round_trip(&before);
        let asns: Vec<u32> = back
            .segments
            .iter()
            .flat_map(|s| &s.asns)
            .map(|a| a.0)
            .collect();
        assert_eq!(asns, vec![4_200_000_001, 64500]);
    }

    #[test]
    fn long_segments_split_at_255() {
        let path = AsPath::sequence((1..=300).map(Asn));
        let mut out = BytesMut::new();
        emit(&mut out, &path, true);
        // extended length header (4) + 2 segment headers + 300 * 4
        assert_eq!(out.len(), 4 + 4 + 1200);
        let v = AsPathView::new(out.get(4..).unwrap(), 4);
        assert_eq!(v.hop_count(), 300);
        assert_eq!(v.segments().count(), 2);
    }
}
