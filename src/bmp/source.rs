//! Where a BMP feed reads from: the RIB's published snapshots and the sessions' live status,
//! behind a narrow trait so that the feed can be driven by the server (through its
//! [`ServerView`], as the looking glass is) or by a test's simulated RIB.
//!
//! Reads only; never holds a lock across a call, never reaches the RIB's internals.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::msg::PeerDownReason;
use super::render::{stamp, PeerInfo};
use crate::config::RoleCheck;
use crate::policy::PeerId;
use crate::rib::RibSnapshot;
use crate::session::end::{AdminAction, EndReason};
use crate::session::status::Handshake;
use crate::session::State;
use crate::view::ServerView;
use crate::wire::notification::CeaseSubcode;
use crate::wire::{Family, Notification};

/// An Established session of a monitored peer.
#[derive(Clone, Debug)]
pub struct Session {
    pub info: PeerInfo,
    pub name: String,
    pub remote_port: u16,
    pub handshake: Arc<Handshake>,
}

/// A peer's figures for a Statistics Report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Per family: paths held (accepted, rejected).
    pub paths: Vec<(Family, u64, u64)>,
    pub duplicates: u64,
    pub updates_treated_as_withdraw: u64,
    pub prefixes_treated_as_withdraw: u64,
}

/// What a feed reads.
pub trait Source: Send + Sync + 'static {
    fn snapshot(&self) -> RibSnapshot;
    /// The Established sessions of the peers `select` names (all when `None`).
    fn sessions(&self, select: Option<&[String]>) -> Vec<Session>;
    /// Why peer `id`'s last session ended, as BMP's Peer Down tells it.
    fn down_reason(&self, id: PeerId) -> PeerDownReason;
    fn peer_stats(&self, id: PeerId) -> PeerStats;
}

impl Source for ServerView {
    fn snapshot(&self) -> RibSnapshot {
        ServerView::snapshot(self)
    }

    fn sessions(&self, select: Option<&[String]>) -> Vec<Session> {
        let dir = self.directory();
        let mut out = Vec::new();
        for p in dir.iter() {
            if let Some(names) = select {
                if !names.iter().any(|n| *n == p.config.name) {
                    continue;
                }
            }
            if p.status.state() != State::Established {
                continue;
            }
            let d = p.status.details();
            let (Some(neg), Some(remote), Some(hs), Some((_, since))) =
                (d.negotiated, d.remote, d.handshake, d.since)
            else {
                continue;
            };
            out.push(Session {
                info: PeerInfo {
                    id: p.id,
                    address: remote.ip(),
                    asn: neg.peer_asn,
                    bgp_id: neg.peer_id,
                    rx_add_path: neg.rx.add_path,
                    tx_add_path: neg.tx.add_path,
                    add_otc: p.config.role_check != RoleCheck::Off && neg.ebgp,
                    up_since: stamp(since),
                },
                name: p.config.name.clone(),
                remote_port: remote.port(),
                handshake: hs,
            });
        }
        out
    }

    fn down_reason(&self, id: PeerId) -> PeerDownReason {
        let dir = self.directory();
        let Some(p) = dir.get(id) else {
            return PeerDownReason::Deconfigured;
        };
        match p.status.details().last_error {
            Some(r) => down_reason(&r),
            None => PeerDownReason::RemoteNoData,
        }
    }

    fn peer_stats(&self, id: PeerId) -> PeerStats {
        let c = self.counters();
        let dir = self.directory();
        let (updates, prefixes) = dir.get(id).map_or((0, 0), |p| {
            let k = &p.status.counters;
            (
                crate::session::status::Counters::get(&k.updates_treated_as_withdraw),
                crate::session::status::Counters::get(&k.prefixes_treated_as_withdraw),
            )
        });
        PeerStats {
            paths: Family::ALL
                .into_iter()
                .map(|f| {
                    let (a, r) = c.paths(id, f);
                    (f, a, r)
                })
                .collect(),
            duplicates: c.duplicates(id),
            updates_treated_as_withdraw: updates,
            prefixes_treated_as_withdraw: prefixes,
        }
    }
}

/// A session's end as BMP's Peer Down reason (RFC 7854 §4.9), with the NOTIFICATION that was
/// sent or received where there was one.
pub fn down_reason(r: &EndReason) -> PeerDownReason {
    let pdu = |n: &Notification| {
        let mut b = bytes::BytesMut::new();
        n.encode(crate::wire::header::MAX_LEN, &mut b);
        b.freeze()
    };
    let cease = |s: CeaseSubcode| PeerDownReason::LocalNotification(pdu(&Notification::cease(s)));
    match r {
        EndReason::NotificationReceived(n) => PeerDownReason::RemoteNotification(pdu(n)),
        EndReason::ProtocolError { sent, .. } | EndReason::OpenRefused(sent) => {
            PeerDownReason::LocalNotification(pdu(sent))
        }
        EndReason::HoldTimerExpired => PeerDownReason::LocalNotification(pdu(&Notification::new(
            crate::wire::notification::NotifCode::HoldTimerExpired(0),
            bytes::Bytes::new(),
        ))),
        EndReason::SendHoldTimerExpired => {
            PeerDownReason::LocalNotification(pdu(&Notification::new(
                crate::wire::notification::NotifCode::SendHoldTimerExpired(0),
                bytes::Bytes::new(),
            )))
        }
        EndReason::ConnectionLost(_) | EndReason::ConnectFailed(_) | EndReason::Replaced => {
            PeerDownReason::RemoteNoData
        }
        EndReason::MaxPrefixes { family, limit } => PeerDownReason::LocalNotification(pdu(
            &Notification::max_prefixes(family.afi_safi(), *limit),
        )),
        EndReason::Admin { action, message } => {
            let m = message.as_deref().unwrap_or("");
            PeerDownReason::LocalNotification(pdu(&match action {
                AdminAction::Disable => Notification::admin_shutdown(m),
                AdminAction::Reset => Notification::admin_reset(m),
            }))
        }
        EndReason::Deconfigured => PeerDownReason::Deconfigured,
        EndReason::ConfigChanged => cease(CeaseSubcode::OtherConfigurationChange),
        EndReason::ServerShutdown => cease(CeaseSubcode::AdministrativeShutdown),
        EndReason::CollisionLost => cease(CeaseSubcode::ConnectionCollision),
    }
}

/// The Loc-RIB's and the local end's address when a session could not tell its own.
pub fn unspecified(remote: IpAddr) -> IpAddr {
    match remote {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}
