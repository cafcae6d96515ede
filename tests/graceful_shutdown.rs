//! RFC 8326 graceful shutdown from a peer, through the real binary: when the peer whose path a
//! client receives tags it with GRACEFUL_SHUTDOWN (65535:0), peerex lowers it (LOCAL_PREF 0)
//! and the client is moved to the alternative path before the session goes down.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::speaker::{loopbacks, numbered_peers, prefixes, wait_async, Speaker, SpeakerOpts};
use common::{Peerex, TempDir};
use peerex::wire::update::pack_announce;
use peerex::wire::{AsPath, Asn, Community, Family, MpNextHop, Origin, ParseCtx, PathAttributes};

const T: Duration = Duration::from_secs(20);
const FIRST_ASN: u32 = 4_200_090_000;
const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);

fn announce(ctx: &ParseCtx, path: &[u32], nh: Ipv4Addr, communities: Vec<Community>) -> Bytes {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(path.iter().map(|a| Asn(*a)))),
        next_hop: Some(nh),
        communities,
        ..PathAttributes::default()
    };
    let mut enc = BytesMut::new();
    attrs.encode(ctx, &mut enc);
    let mut out = BytesMut::new();
    let list = prefixes(46, 1);
    pack_announce(
        ctx,
        Family::Ipv4Unicast,
        &enc,
        &MpNextHop::V4(nh),
        &list,
        &mut out,
    )
    .unwrap();
    out.freeze()
}

/// The peer whose path client `to` receives for the test prefix, per `peerex ctl routes --to`.
fn source_at(rs: &Peerex, to: &str) -> Option<String> {
    let routes = rs.ctl_json(&["routes", "--to", to]).ok()?;
    let list = routes.get("routes");
    let items = if list.as_array().is_empty() {
        routes.as_array()
    } else {
        list.as_array()
    };
    items
        .iter()
        .find(|r| r.get("prefix").as_str() == Some("46.0.0.0/24"))
        .and_then(|r| r.get("peer").as_str().map(str::to_string))
}

async fn wait_for(what: &str, f: impl FnMut() -> bool) {
    wait_async(what, T, f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gracefully_shut_path_loses_to_the_alternative_at_the_client() {
    let dir = TempDir::new("gshut");
    let addrs = loopbacks(69, 3);
    let cfg = numbered_peers(&addrs, FIRST_ASN, |_| String::new());
    let rs = Peerex::start(&dir, &cfg, "").unwrap();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), rs.port);
    let mut sp = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let s = Speaker::connect(*a, target, FIRST_ASN + i as u32, SpeakerOpts::default())
            .await
            .unwrap();
        sp.push(s);
    }
    wait_for("End-of-RIB", || sp.iter().all(|s| s.eor())).await;
    // p0's path is shorter, so it is the client's; p1's is the alternative.
    let nh0 = Ipv4Addr::new(10, 69, 0, 1);
    let nh1 = Ipv4Addr::new(10, 69, 0, 2);
    sp[0]
        .send(&announce(&sp[0].tx, &[FIRST_ASN, 64999], nh0, vec![]))
        .await
        .unwrap();
    sp[1]
        .send(&announce(
            &sp[1].tx,
            &[FIRST_ASN + 1, 64998, 64999],
            nh1,
            vec![],
        ))
        .await
        .unwrap();
    wait_for("p0's path at the client", || {
        source_at(&rs, "p2").as_deref() == Some("p0")
    })
    .await;
    let before = sp[2].received();

    // p0 is about to go down for maintenance: it tags its path.
    let tagged = announce(&sp[0].tx, &[FIRST_ASN, 64999], nh0, vec![GRACEFUL_SHUTDOWN]);
    sp[0].send(&tagged).await.unwrap();
    wait_for("p1's path at the client", || {
        source_at(&rs, "p2").as_deref() == Some("p1")
    })
    .await;
    wait_for("an UPDATE to the client", || sp[2].received() > before).await;
    assert!(sp.iter().all(|s| !s.closed()));
}
