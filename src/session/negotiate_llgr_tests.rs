//! Long-lived graceful restart negotiation (RFC 9494), with the helpers of the negotiation
//! tests.

use super::*;

fn llgr_of(entries: &[(AfiSafi, u8, u32)]) -> Capability {
    Capability::LongLivedGracefulRestart(
        entries
            .iter()
            .map(|&(afi_safi, flags, stale_time)| LlgrFamily {
                afi_safi,
                flags,
                stale_time,
            })
            .collect(),
    )
}

/// RFC 9494: peerex advertises LLGR (with GR, F bit clear, its time per family) only when
/// configured; it is in effect when the peer sends both capabilities too, each family's
/// time the smaller of both sides'.
#[test]
fn long_lived_gr_is_advertised_with_gr_and_in_effect_when_both_send_both() {
    let s = server();
    let mut p = peer(65001);
    let sent = |p: &PeerConfig| {
        our_open(&s, p)
            .capabilities
            .into_iter()
            .find_map(|c| match c {
                Capability::LongLivedGracefulRestart(l) => Some(l),
                _ => None,
            })
    };
    assert_eq!(sent(&p), None);
    p.long_lived_stale_time = Some(Duration::from_secs(600));
    let ours = sent(&p).unwrap();
    assert_eq!(ours.len(), 2);
    assert!(ours.iter().all(|e| e.flags == 0 && e.stale_time == 600));
    assert!(our_open(&s, &p)
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::GracefulRestart(_))));
    let gr = Capability::GracefulRestart(GracefulRestart {
        flags: 0,
        time: 30,
        families: vec![GrFamily {
            afi_safi: AfiSafi::IPV4_UNICAST,
            flags: 0,
        }],
    });
    let theirs = llgr_of(&[
        (AfiSafi::IPV4_UNICAST, 0x80, 60),
        (AfiSafi::IPV6_UNICAST, 0, 86_400),
    ]);
    let o = client(65001, with(caps(65001), [gr.clone(), theirs.clone()]));
    assert_eq!(
        ok(&p, &o).llgr,
        Some(PeerLlgr {
            stale_times: vec![
                (Family::Ipv4Unicast, Duration::from_secs(60)),
                (Family::Ipv6Unicast, Duration::from_secs(600)),
            ],
            forwarding_preserved: V4,
        })
    );
    // A family with time 0 keeps nothing long-lived, but LLGR is still negotiated.
    let zero = llgr_of(&[(AfiSafi::IPV4_UNICAST, 0, 0)]);
    let n = ok(&p, &client(65001, with(caps(65001), [gr.clone(), zero])));
    assert_eq!(n.llgr.map(|l| l.stale_times), Some(Vec::new()));
    // Without GR the peer's LLGR is ignored (RFC 9494 §3).
    let o = client(65001, with(caps(65001), [theirs.clone()]));
    assert_eq!(ok(&p, &o).llgr, None);
    assert_eq!(ok(&p, &o).long_lived_gr.len(), 2);
    // Not configured here: not in effect, whatever the peer sends.
    p.long_lived_stale_time = None;
    let o = client(65001, with(caps(65001), [gr, theirs]));
    assert_eq!(ok(&p, &o).llgr, None);
}
