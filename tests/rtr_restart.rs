//! The RTR cache goes away and comes back, through the real binary with a real cache
//! (stayrtr): while it is gone its VRPs are kept, until its expire interval passes; then the
//! routes are validated again without them; a restarted cache with other data is picked up
//! and the routes follow it. No BGP session notices any of it.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::Proc;
use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{unique_port, wait_until, Peerex, TempDir};
use peerex::wire::Nlri;

const FIRST_ASN: u32 = 4_200_150_000;
/// The cache's expire interval (seconds), short for the test.
const EXPIRE: u64 = 8;

fn write_vrps(path: &std::path::Path, roas: &[(&str, u32)]) {
    let body: Vec<String> = roas
        .iter()
        .map(|(p, a)| format!(r#"{{"prefix":"{p}","maxLength":24,"asn":"AS{a}"}}"#))
        .collect();
    let text = format!(
        r#"{{"metadata":{{"buildtime":"2026-01-01T00:00:00Z"}},"roas":[{}]}}"#,
        body.join(",")
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn stayrtr(dir: &TempDir, file: &std::path::Path, port: u16) -> Proc {
    let mut cmd = Command::new("stayrtr");
    cmd.arg("-cache")
        .arg(file)
        .arg("-bind")
        .arg(format!("127.0.0.1:{port}"))
        .args(["-checktime=false", "-refresh", "1"])
        .arg(format!("-rtr.expire={EXPIRE}"))
        .args(["-rtr.refresh=1", "-rtr.retry=1"])
        .arg("-metrics.addr")
        .arg(format!("127.0.0.1:{}", unique_port()));
    let p = Proc::spawn("stayrtr", cmd, &dir.join("stayrtr.log"), dir.path()).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "stayrtr did not start listening"
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vrps_outlive_the_cache_until_they_expire_and_sessions_never_notice() {
    let dir = TempDir::new("rtr-restart");
    let file = dir.join("vrps.json");
    // The sender's routes originate in AS 64999 (the speaker's paths end there).
    let list = prefixes(81, 2);
    let (a, b) = ("81.0.0.0/24", "81.0.1.0/24");
    write_vrps(&file, &[(a, 64999), (b, 65111)]);
    let port = unique_port();
    let cache = stayrtr(&dir, &file, port);
    let addrs = loopbacks(75, 2);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |i| {
        if i == 0 {
            "rpki = \"reject\"\n".into()
        } else {
            String::new()
        }
    });
    let rs = Peerex::start_with_defaults(
        &dir,
        &cfg,
        "",
        &format!(
            "{}\n[rpki]\nrtr = [\"127.0.0.1:{port}\"]\nrtr_retry = 1\n",
            common::peerex::LAB_DEFAULTS
        ),
    )
    .unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let sender = Speaker::connect(addrs[0], target, FIRST_ASN, SpeakerOpts::default())
        .await
        .unwrap();
    let tracked = SpeakerOpts {
        track: true,
        ..SpeakerOpts::default()
    };
    let client = Speaker::connect(addrs[1], target, FIRST_ASN + 1, tracked)
        .await
        .unwrap();
    let long = Duration::from_secs(60);
    wait_async("End-of-RIB", long, || sender.eor() && client.eor()).await;
    // A valid and an invalid route (until the VRPs are loaded both pass, then one goes).
    sender
        .send(&announcements(
            FIRST_ASN,
            Ipv4Addr::new(10, 75, 0, 1),
            &list,
            &sender.tx,
        ))
        .await
        .unwrap();
    let held = || client.stats.held.lock().unwrap().clone();
    let only = |p: &Nlri| HashSet::from([*p]);
    wait_async("the valid route only", long, || held() == only(&list[0])).await;

    // The cache goes away: its VRPs stay (the invalid route stays out) until they expire...
    drop(cache);
    let gone = Instant::now();
    tokio::time::sleep(Duration::from_secs(EXPIRE / 2)).await;
    assert_eq!(
        held(),
        only(&list[0]),
        "VRPs dropped before the expire interval"
    );
    // ... then the routes are validated without them: both are "not found" and pass.
    let both: HashSet<Nlri> = list.iter().copied().collect();
    wait_async("both routes once the VRPs expired", long, || held() == both).await;
    assert!(gone.elapsed() >= Duration::from_secs(EXPIRE - 1));

    // The cache comes back with other data: the routes follow it.
    write_vrps(&file, &[(a, 65111), (b, 64999)]);
    let _cache = stayrtr(&dir, &file, port);
    wait_async("the other route only", long, || held() == only(&list[1])).await;

    assert!(
        !sender.closed() && !client.closed(),
        "a BGP session noticed the cache"
    );
    let peers = rs.ctl_json(&["peers"]).unwrap();
    for p in peers.as_array() {
        assert_eq!(p.get("established_transitions").as_u64(), Some(1), "{p:?}");
    }
}
