//! UPDATE messages (RFC 4271 §4.3, RFC 4760, RFC 7911): the checked zero-copy view, the owned
//! form, and the packer that fills UPDATEs with prefixes.
//!
//! `Update::parse` checks the whole message once — framing, both prefix fields, every
//! attribute under RFC 7606 — and keeps only offsets into the message's `Bytes`. After that,
//! every accessor reads checked bytes and allocates nothing.

mod owned;
mod pack;

use bytes::Bytes;

use super::attr::mp_reach::MpNextHop;
use super::attr::{self, code, AttrIndex, Attrs, MpInfo, Slot};
use super::ctx::ParseCtx;
use super::error::{Action, DecodeError, Fault, IssueLog};
use super::header::{HEADER_LEN, MAX_EXTENDED_LEN};
use super::nlri::{self, NlriIter};
use super::notification::{HeaderSubcode, NotifCode, Notification, UpdateSubcode};
use super::reader::Reader;
use super::types::{AfiSafi, Family, Nlri};
use super::Span;

pub use owned::{TooLong, UpdateMessage};
pub use pack::{encode_end_of_rib, pack_announce, pack_withdraw, PackError};

/// A checked UPDATE over the received message bytes.
#[derive(Clone, Debug)]
pub struct Update {
    whole: Bytes,
    ctx: ParseCtx,
    withdrawn: Span,
    attrs: Span,
    nlri: Span,
    index: AttrIndex,
    issues: IssueLog,
}

fn reset(fault: Fault, sub: UpdateSubcode) -> DecodeError {
    DecodeError::reset(
        fault,
        None,
        Notification::new(NotifCode::Update(sub), Bytes::new()),
    )
}

impl Update {
    /// Checks a whole UPDATE message (header included). Problems RFC 7606 lets the session
    /// survive are recorded in [`Update::issues`]; the others are returned as errors.
    pub fn parse(whole: Bytes, ctx: &ParseCtx) -> Result<Update, DecodeError> {
        let len = whole.len();
        let mut r = Reader::new(whole.get(16..).unwrap_or_default());
        let (hdr_len, kind) = (r.u16(), r.u8());
        if !(HEADER_LEN + 4..=MAX_EXTENDED_LEN).contains(&len)
            || hdr_len.map(usize::from) != Some(len)
        {
            let field = hdr_len.unwrap_or_default().to_be_bytes().to_vec();
            return Err(DecodeError::reset(
                Fault::Truncated,
                None,
                Notification::new(
                    NotifCode::MessageHeader(HeaderSubcode::BadMessageLength),
                    field,
                ),
            ));
        }
        if kind != Some(2) {
            return Err(DecodeError::reset(
                Fault::Value,
                None,
                Notification::new(
                    NotifCode::MessageHeader(HeaderSubcode::BadMessageType),
                    vec![kind.unwrap_or_default()],
                ),
            ));
        }
        let wlen = usize::from(r.u16().unwrap_or_default());
        let w_start = HEADER_LEN + 2;
        if w_start + wlen + 2 > len {
            return Err(reset(
                Fault::WithdrawnLength,
                UpdateSubcode::MalformedAttributeList,
            ));
        }
        let withdrawn = Span::new(w_start, wlen);
        let mut r = Reader::new(whole.get(withdrawn.end()..).unwrap_or_default());
        let alen = usize::from(r.u16().unwrap_or_default());
        let a_start = withdrawn.end() + 2;
        if a_start + alen > len {
            return Err(reset(
                Fault::AttributesLength,
                UpdateSubcode::MalformedAttributeList,
            ));
        }
        let attrs = Span::new(a_start, alen);
        let nlri = Span::new(attrs.end(), len - attrs.end());
        let v4_add_path = ctx.add_path_for(Family::Ipv4Unicast);
        for field in [withdrawn, nlri] {
            nlri::validate(field.get(&whole), Family::Ipv4Unicast, v4_add_path)
                .map_err(|f| reset(f, UpdateSubcode::InvalidNetworkField))?;
        }
        let mut issues = IssueLog::default();
        let index = attr::scan(&whole, attrs, ctx, &mut issues)?;
        let u = Update {
            whole,
            ctx: *ctx,
            withdrawn,
            attrs,
            nlri,
            index,
            issues,
        };
        Ok(u.check_mandatory())
    }

    /// RFC 7606 §3 (d): an UPDATE that announces prefixes without a well-known mandatory
    /// attribute is treated as a withdrawal.
    fn check_mandatory(mut self) -> Self {
        let classic = !self.nlri.is_empty();
        let mp = self.index.mp_reach.is_some_and(|m| !m.nlri.is_empty());
        if !(classic || mp) {
            return self;
        }
        let mandatory = [
            Some((code::ORIGIN, Slot::Origin)),
            Some((code::AS_PATH, Slot::AsPath)),
            classic.then_some((code::NEXT_HOP, Slot::NextHop)),
        ];
        for (ty, slot) in mandatory.into_iter().flatten() {
            if !self.index.seen(slot) {
                self.issues
                    .push(Some(ty), Fault::Missing, Action::TreatAsWithdraw);
            }
        }
        self
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.whole
    }

    /// The context it was decoded with.
    pub fn ctx(&self) -> &ParseCtx {
        &self.ctx
    }

    /// Problems found while decoding, and the strongest action they call for.
    pub fn issues(&self) -> &IssueLog {
        &self.issues
    }

    /// True when RFC 7606 says every prefix this UPDATE announces must be withdrawn instead.
    pub fn treat_as_withdraw(&self) -> bool {
        self.issues.worst() == Some(Action::TreatAsWithdraw)
    }

    /// IPv4 prefixes of the Withdrawn Routes field.
    pub fn withdrawn(&self) -> NlriIter<'_> {
        NlriIter::new(
            self.withdrawn.get(&self.whole),
            Family::Ipv4Unicast,
            self.ctx.add_path_for(Family::Ipv4Unicast),
        )
    }

    /// IPv4 prefixes of the NLRI field.
    pub fn nlri(&self) -> NlriIter<'_> {
        NlriIter::new(
            self.nlri.get(&self.whole),
            Family::Ipv4Unicast,
            self.ctx.add_path_for(Family::Ipv4Unicast),
        )
    }

    pub fn mp_reach(&self) -> Option<MpView<'_>> {
        self.index
            .mp_reach
            .map(|info| MpView { update: self, info })
    }

    pub fn mp_unreach(&self) -> Option<MpView<'_>> {
        self.index
            .mp_unreach
            .map(|info| MpView { update: self, info })
    }

    /// Every announced prefix: NLRI field, then MP_REACH_NLRI.
    pub fn announced(&self) -> impl Iterator<Item = Nlri> + '_ {
        Both::new(self.nlri(), self.mp_reach().map(|m| m.nlri()))
    }

    /// Every withdrawn prefix: Withdrawn Routes field, then MP_UNREACH_NLRI.
    pub fn withdrawals(&self) -> impl Iterator<Item = Nlri> + '_ {
        Both::new(self.withdrawn(), self.mp_unreach().map(|m| m.nlri()))
    }

    pub fn attrs(&self) -> Attrs<'_> {
        Attrs::new(&self.whole, self.attrs, &self.index, self.ctx)
    }

    /// The path attribute section as received (for hashing or logging).
    pub fn attr_section(&self) -> Bytes {
        self.attrs.bytes(&self.whole)
    }

    /// The family this UPDATE marks End-of-RIB for (RFC 4724 §2), if it is such a marker.
    pub fn end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attrs.is_empty() {
            return Some(AfiSafi::IPV4_UNICAST);
        }
        let un = self.index.mp_unreach?;
        (self.index.single_attribute() && un.nlri.is_empty()).then_some(un.afi_safi)
    }

    /// Copies everything into the owned form.
    pub fn to_owned(&self) -> UpdateMessage {
        UpdateMessage {
            withdrawn: self.withdrawn().collect(),
            attrs: self.attrs().to_owned(),
            mp_reach: self.mp_reach().map(|m| attr::mp_reach::MpReach {
                afi_safi: m.afi_safi(),
                next_hop: m.next_hop().unwrap_or(MpNextHop::Raw(Bytes::new())),
                nlri: m.nlri().collect(),
                other: m.raw_if_unrouted(),
            }),
            mp_unreach: self.mp_unreach().map(|m| attr::mp_unreach::MpUnreach {
                afi_safi: m.afi_safi(),
                nlri: m.nlri().collect(),
                other: m.raw_if_unrouted(),
            }),
            nlri: self.nlri().collect(),
        }
    }
}

/// An MP_REACH_NLRI or MP_UNREACH_NLRI of a checked UPDATE.
#[derive(Copy, Clone, Debug)]
pub struct MpView<'a> {
    update: &'a Update,
    info: MpInfo,
}

impl<'a> MpView<'a> {
    pub fn afi_safi(&self) -> AfiSafi {
        self.info.afi_safi
    }

    /// The routed family, or `None` for one peerex does not route (its NLRI stay raw).
    pub fn family(&self) -> Option<Family> {
        self.info.afi_safi.family()
    }

    /// The next hop (MP_REACH_NLRI only).
    pub fn next_hop(&self) -> Option<MpNextHop> {
        if self.info.next_hop.is_empty() && self.family().is_some() {
            return None;
        }
        let v = self.info.next_hop.get(&self.update.whole);
        MpNextHop::read(self.family(), v, &self.update.whole, self.info.next_hop)
    }

    /// The prefixes (empty for an unrouted family).
    pub fn nlri(&self) -> NlriIter<'a> {
        match self.family() {
            Some(f) => NlriIter::new(
                self.info.nlri.get(&self.update.whole),
                f,
                self.update.ctx.add_path_for(f),
            ),
            None => NlriIter::empty(Family::Ipv4Unicast),
        }
    }

    fn raw_if_unrouted(&self) -> Bytes {
        match self.family() {
            Some(_) => Bytes::new(),
            None => self.info.nlri.bytes(&self.update.whole),
        }
    }
}

/// The classic prefix field, then the MP one: a chain whose hot path is one inlined
/// `NlriIter::next` (std's `Chain` of a `FlatMap` costs a call and several moves per prefix).
struct Both<'a> {
    now: NlriIter<'a>,
    then: Option<NlriIter<'a>>,
}

impl<'a> Both<'a> {
    fn new(first: NlriIter<'a>, then: Option<NlriIter<'a>>) -> Self {
        Both { now: first, then }
    }
}

impl Iterator for Both<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        loop {
            if let Some(n) = self.now.next() {
                return Some(n);
            }
            self.now = self.then.take()?;
        }
    }
}
