//! A reload storm while routes flow, through the real binary: `RELOAD_STORM` reloads in a row
//! (default 50), alternating a policy change that re-exports (who one client receives from)
//! and one that changes nothing visible, while a sender keeps announcing and withdrawing.
//! No session resets (none of the changes requires one), the RIB's accounted memory is back
//! where it was, and every client ends with exactly the routes its final policy gives it.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::speaker::{
    announcements, loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts,
};
use common::{Peerex, TempDir};
use peerex::wire::Nlri;

const FIRST_ASN: u32 = 4_200_100_000;
const T: Duration = Duration::from_secs(60);

async fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

fn held(s: &Speaker) -> HashSet<Nlri> {
    s.stats.held.lock().unwrap().clone()
}

/// (rib_paths, attribute_sets) bytes from `peerex ctl status`.
fn rib_memory(rs: &Peerex) -> (u64, u64) {
    let st = rs.ctl_json(&["status"]).unwrap();
    let m = st.get("memory");
    (
        m.get("rib_paths").as_u64().unwrap(),
        m.get("attribute_sets").as_u64().unwrap(),
    )
}

fn established_transitions(rs: &Peerex) -> u64 {
    let peers = rs.ctl_json(&["peers"]).unwrap();
    peers
        .as_array()
        .iter()
        .map(|p| p.get("established_transitions").as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_while_routes_flow_reset_nothing_and_end_exact() {
    let reloads: usize = std::env::var("RELOAD_STORM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = TempDir::new("reload-storm");
    let addrs = loopbacks(70, 4);
    // p0 and p1 send; p2 and p3 receive. p2's receive_from and p0's max_path_length change.
    let extra = [
        "max_path_length = 64\n",
        "",
        "receive_from = [\"all\"]\n",
        "",
    ];
    let cfg = numbered_peers(&addrs, FIRST_ASN, |i| extra[i].to_string());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let text_a = std::fs::read_to_string(&rs.config).unwrap();
    let text_b = text_a
        .replace("receive_from = [\"all\"]", "receive_from = [\"p1\"]")
        .replace("max_path_length = 64", "max_path_length = 63");
    assert_ne!(text_a, text_b);
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let opts = SpeakerOpts {
        track: true,
        ..SpeakerOpts::default()
    };
    let mut sp = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        sp.push(Arc::new(
            Speaker::connect(*a, target, FIRST_ASN + i as u32, opts)
                .await
                .unwrap(),
        ));
    }
    wait("End-of-RIB", || sp.iter().all(|s| s.eor())).await;
    let from0 = prefixes(47, 5_000);
    let from1 = prefixes(48, 5_000);
    let nh0 = Ipv4Addr::new(10, 70, 0, 1);
    let nh1 = Ipv4Addr::new(10, 70, 0, 2);
    sp[0]
        .send(&announcements(FIRST_ASN, nh0, &from0, &sp[0].tx))
        .await
        .unwrap();
    sp[1]
        .send(&announcements(FIRST_ASN + 1, nh1, &from1, &sp[1].tx))
        .await
        .unwrap();
    wait("the full table at both clients", || {
        held(&sp[2]).len() == 10_000 && held(&sp[3]).len() == 10_000
    })
    .await;
    let memory_before = rib_memory(&rs);
    let transitions_before = established_transitions(&rs);

    // Churn: p0 withdraws and announces again a quarter of its routes, over and over.
    let churning = Arc::new(AtomicBool::new(true));
    let churn = {
        let (s, on) = (sp[0].clone(), churning.clone());
        let part = from0[..1_250].to_vec();
        tokio::spawn(async move {
            let mut wd = bytes::BytesMut::new();
            peerex::wire::update::pack_withdraw(
                &s.tx,
                peerex::wire::Family::Ipv4Unicast,
                &part,
                &mut wd,
            )
            .unwrap();
            let ann = announcements(FIRST_ASN, nh0, &part, &s.tx);
            while on.load(Ordering::Acquire) {
                s.send(&wd).await.unwrap();
                s.send(&ann).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    for i in 0..reloads {
        // Alternate, ending on text_b: a reload that applied nothing would leave p2 with p0's
        // routes.
        let text = if (reloads - i) % 2 == 1 {
            &text_b
        } else {
            &text_a
        };
        std::fs::write(&rs.config, text).unwrap();
        let (ok, out, err) = rs.ctl(&["reload"]).unwrap();
        assert!(ok, "reload {i} failed: {out}{err}");
    }
    churning.store(false, Ordering::Release);
    churn.await.unwrap();
    // The final configuration is text_b: p2 receives from p1 only.
    let want2: HashSet<Nlri> = from1.iter().copied().collect();
    let want3: HashSet<Nlri> = from0.iter().chain(&from1).copied().collect();
    wait("every client exact", || {
        held(&sp[2]) == want2 && held(&sp[3]) == want3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(held(&sp[2]), want2, "p2 changed after it was exact");
    assert_eq!(held(&sp[3]), want3, "p3 changed after it was exact");

    assert_eq!(
        established_transitions(&rs),
        transitions_before,
        "a session was reset by reloads that required none"
    );
    assert!(sp.iter().all(|s| !s.closed()));
    let memory_after = rib_memory(&rs);
    eprintln!(
        "rib memory (paths, attribute sets) before {memory_before:?}, after {memory_after:?}"
    );
    // The same table: the same paths and attribute sets, byte for byte within 1 %.
    let close = |a: u64, b: u64| a.abs_diff(b) * 100 <= a.max(b);
    assert!(
        close(memory_before.0, memory_after.0) && close(memory_before.1, memory_after.1),
        "RIB memory grew: {memory_before:?} -> {memory_after:?}"
    );
}
