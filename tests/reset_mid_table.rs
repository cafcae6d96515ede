//! A peer whose TCP connection is reset in the middle of sending its table (a crashed host),
//! through the real binary: what it had sent is withdrawn from every client, nothing is left
//! behind, and no other session notices.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};

const FIRST_ASN: u32 = 4_200_130_000;
const T: Duration = Duration::from_secs(30);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_table_withdraws_what_was_sent_and_nothing_else() {
    let dir = TempDir::new("reset-mid");
    let addrs = loopbacks(73, 4);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let tracked = SpeakerOpts {
        track: true,
        ..SpeakerOpts::default()
    };
    let mut sp = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        sp.push(
            Speaker::connect(*a, target, FIRST_ASN + i as u32, tracked)
                .await
                .unwrap(),
        );
    }
    wait("End-of-RIB", || sp.iter().all(|s| s.eor())).await;
    // p1 has a table of its own, which must survive.
    let steady = prefixes(52, 2_000);
    sp[1]
        .send(&announcements(
            FIRST_ASN + 1,
            Ipv4Addr::new(10, 73, 0, 2),
            &steady,
            &sp[1].tx,
        ))
        .await
        .unwrap();
    // p0 starts a 100k table and is reset after part of it.
    let table = prefixes(53, 100_000);
    let nh = Ipv4Addr::new(10, 73, 0, 1);
    for chunk in table.chunks(5_000).take(8) {
        sp[0]
            .send(&announcements(FIRST_ASN, nh, chunk, &sp[0].tx))
            .await
            .unwrap();
    }
    wait("part of p0's table at the clients", || {
        sp[2].stats.held.lock().unwrap().len() > 10_000
    })
    .await;
    let crashed = sp.remove(0);
    crashed.reset().await;
    // Now sp[0] is p1 (it receives only p0's routes, none left), sp[1] and sp[2] are p2, p3.

    let want: HashSet<_> = steady.iter().copied().collect();
    wait("the clients hold exactly p1's table", || {
        sp[0].stats.held.lock().unwrap().is_empty()
            && *sp[1].stats.held.lock().unwrap() == want
            && *sp[2].stats.held.lock().unwrap() == want
    })
    .await;
    assert!(sp.iter().all(|s| !s.closed()), "another session noticed");
    let p0 = rs.ctl_json(&["peer", "p0"]).unwrap();
    assert_eq!(
        p0.get("last_end_reason").as_str(),
        Some("connection_lost"),
        "{p0:?}"
    );
    assert_eq!(p0.get("routes_accepted").as_u64(), Some(0), "{p0:?}");
}
