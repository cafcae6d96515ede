//! The Established session's reader half: reads frames, decodes them with the negotiated
//! context, applies route changes and refresh demarcations to the RIB in the order they came
//! (see [`machine::receive`]) and hands everything else to the session's [`Machine`] as an
//! [`Input`]. It decides nothing about the session itself.
//!
//! [`Machine`]: super::machine::Machine

use std::sync::Arc;
use std::time::Duration;

use super::inbox::InboxSender;
use tracing::{debug, warn};

use super::end::ConnError;
use super::framing::{FrameError, FrameReader};
use super::machine::{self, Input, Received};
use super::negotiate::Negotiated;
use super::routes::Importer;
use super::sockopt;
use super::status::{Counters, PeerStatus};
use crate::config::PeerConfig;
use crate::rib::{PeerId, Rib, ShardMsg};
use crate::wire::{Action, Message, ParseCtx};
use bytes::Bytes;
use tokio::net::tcp::OwnedReadHalf;

/// Hold-timer expiries in a row that may be put down to our own lateness.
const LATE_READS_MAX: u32 = 3;

/// The hold timer fired, but the peer was not silent for the hold time: octets wait unread
/// in the socket, or the kernel received data from it within the hold time.
fn we_were_late(reader: &FrameReader<OwnedReadHalf>, hold: Option<Duration>) -> bool {
    let sock = reader.get_ref().as_ref();
    sockopt::unread_bytes(sock).is_ok_and(|n| n > 0)
        || hold.is_some_and(|h| sockopt::since_data_received(sock).is_ok_and(|d| d < h))
}

/// The Established reader: reads, decodes, applies route changes to the RIB in order (see
/// [`machine::receive`]) and hands everything else to the machine. The hold timer runs only
/// while it waits for the peer; while it is busy handing routes to the RIB it is our delay,
/// not the peer's silence.
#[allow(clippy::too_many_arguments)]
pub async fn reader_loop(
    mut reader: FrameReader<OwnedReadHalf>,
    neg: Negotiated,
    id: PeerId,
    rib: Arc<Rib>,
    status: Arc<PeerStatus>,
    cfg: Arc<PeerConfig>,
    check_otc: bool,
    to_machine: InboxSender<Box<Input>>,
) {
    let hold = (neg.hold_time > 0).then(|| Duration::from_secs(u64::from(neg.hold_time)));
    let mut families = neg.families;
    let mut late_reads = 0u32;
    loop {
        let next = async {
            match hold {
                Some(h) => tokio::time::timeout(h, reader.next()).await.ok(),
                None => Some(reader.next().await),
            }
        };
        let msg = match next.await {
            // RFC 4271's hold timer measures the peer's silence. Under CPU starvation the
            // timer can fire before this task has seen what the peer sent in time: octets
            // waiting unread in the socket, or data the kernel received within the hold
            // time, mean we were late, not the peer, so read on — a few times in a row at
            // most, so a peer that trickles octets without ever completing a message still
            // meets its hold timer.
            None if late_reads < LATE_READS_MAX && we_were_late(&reader, hold) => {
                late_reads += 1;
                debug!(
                    late_reads,
                    "hold timer fired but the peer sent within it: we were late, reading on"
                );
                continue;
            }
            None => {
                let _ = to_machine.send(Box::new(Input::HoldExpired)).await;
                return;
            }
            Some(Ok(frame)) => {
                late_reads = 0;
                Counters::add(&status.counters.messages_in, 1);
                match Message::decode(frame, &neg.rx) {
                    Ok(m) => m,
                    Err(e)
                        if e.action == Action::AfiSafiDisable
                            && e.family.and_then(|f| f.family()).is_some() =>
                    {
                        // RFC 7606 §5.3 / RFC 4760 §7: stop using the family, drop its routes.
                        let Some(f) = e.family.and_then(|f| f.family()) else {
                            continue;
                        };
                        warn!(family = %f, error = %e, "malformed UPDATE: family disabled for this session");
                        families = families.without(f);
                        rib.broadcast(|| ShardMsg::PeerFamilyDown {
                            peer: id,
                            family: f,
                        })
                        .await;
                        continue;
                    }
                    Err(e) => {
                        let fault = e.to_string();
                        warn!(error = %fault, "malformed message ends the session");
                        let _ = to_machine
                            .send(Box::new(Input::Malformed {
                                notification: e.notification,
                                fault,
                            }))
                            .await;
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = to_machine
                    .send(Box::new(frame_input(Err(e), &neg.rx, &status)))
                    .await;
                return;
            }
        };
        match machine::receive(msg, families) {
            Received::Routes(u) => {
                Counters::add(&status.counters.updates_in, 1);
                for i in u.issues().iter() {
                    warn!(issue = %i, "malformed UPDATE handled per RFC 7606");
                }
                let importer = Importer {
                    peer: id,
                    shards: rib.shards(),
                    families,
                    check_otc,
                };
                let applied = importer.apply(&rib, &u).await;
                Counters::add(&status.counters.prefixes_announced_in, applied.announced);
                Counters::add(&status.counters.prefixes_withdrawn_in, applied.withdrawn);
                if u.treat_as_withdraw() {
                    Counters::add(&status.counters.updates_treated_as_withdraw, 1);
                    Counters::add(
                        &status.counters.prefixes_treated_as_withdraw,
                        applied.treated_as_withdraw,
                    );
                }
                if let Some(f) = applied.end_of_rib {
                    debug!(family = %f, "End-of-RIB received");
                    rib.broadcast(|| ShardMsg::EndOfRib {
                        peer: id,
                        family: f,
                    })
                    .await;
                }
                if let Some(mp) = cfg.max_prefixes {
                    for f in families.iter() {
                        let (acc, rej) = rib.counters().paths(id, f);
                        if mp.limit_for(f).is_some_and(|l| acc + rej > u64::from(l))
                            && to_machine
                                .send(Box::new(Input::PrefixCount(f, acc + rej)))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            // RFC 7313 §4: paths not re-sent between BoRR and EoRR are stale.
            Received::MarkStale(f) => {
                rib.broadcast(|| ShardMsg::MarkStale {
                    peer: id,
                    family: f,
                })
                .await
            }
            Received::EndOfRefresh(f) => {
                rib.broadcast(|| ShardMsg::EndOfRib {
                    peer: id,
                    family: f,
                })
                .await
            }
            Received::Nothing => {}
            Received::Session(input) => {
                if let Input::Message(Message::Notification(n)) = &input {
                    Counters::add(&status.counters.notifications_in, 1);
                    match n.shutdown_message() {
                        Some(m) => {
                            warn!(notification = %n.code, message = %m, "NOTIFICATION received")
                        }
                        None => warn!(notification = %n, "NOTIFICATION received"),
                    }
                }
                let ends = matches!(
                    input,
                    Input::Message(Message::Notification(_) | Message::Open(_))
                );
                if to_machine.send(Box::new(input)).await.is_err() || ends {
                    return;
                }
            }
        }
    }
}

/// What a frame (or the failure to read one) is for the machine.
pub fn frame_input(frame: Result<Bytes, FrameError>, ctx: &ParseCtx, status: &PeerStatus) -> Input {
    match frame {
        Err(FrameError::Header(n)) => Input::Malformed {
            fault: "bad message header".into(),
            notification: n,
        },
        Err(FrameError::Io(e)) => Input::Closed(ConnError::from(&e)),
        Err(FrameError::Closed) => Input::Closed(ConnError::Closed),
        Ok(f) => {
            Counters::add(&status.counters.messages_in, 1);
            match Message::decode(f, ctx) {
                Ok(m) => {
                    if matches!(m, Message::Notification(_)) {
                        Counters::add(&status.counters.notifications_in, 1);
                    }
                    Input::Message(m)
                }
                Err(e) => Input::Malformed {
                    notification: e.notification.clone(),
                    fault: e.to_string(),
                },
            }
        }
    }
}
