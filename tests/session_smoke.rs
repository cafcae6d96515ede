//! A first end-to-end check: a bird2 supplier and a GoBGP member peer with the real peerex
//! binary; routes go from one to the other through the route server, unchanged.

mod common;

use std::time::Duration;

use common::{BgpDaemon, Bird, GoBgp, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, TempDir};

const T: Duration = Duration::from_secs(30);

#[test]
fn routes_flow_from_bird_to_gobgp_through_peerex() -> Result<()> {
    let dir = TempDir::new("smoke");
    let b = PeerSpec::new("bird", 4_200_000_011);
    let g = PeerSpec::new("gobgp", 65012);
    let rs = Peerex::start(
        &dir,
        &[PeerexPeer::for_spec(&b), PeerexPeer::for_spec(&g)],
        "",
    )?;
    let bird = Bird::start(&dir, rs.target(b))?;
    let gobgp = GoBgp::start(&dir, rs.target(g))?;
    bird.wait_established(T)?;
    gobgp.wait_established(T)?;
    let at = RouteAttrs {
        as_path: vec![65100, 4_200_000_100],
        med: Some(42),
        communities: vec![(65000, 1)],
        large_communities: vec![(4_200_000_011, 7, 8)],
        ..Default::default()
    };
    bird.announce(&["10.11.0.0/24", "2001:db8:11::/48"], &at)?;
    let r = gobgp.wait_route("10.11.0.0/24", T)?;
    assert_eq!(r.as_path, vec![4_200_000_011, 65100, 4_200_000_100]);
    assert_eq!(r.med, Some(42));
    assert_eq!(r.communities, vec![(65000, 1)]);
    assert_eq!(r.large_communities, vec![(4_200_000_011, 7, 8)]);
    assert_eq!(r.next_hop, Some(bird.spec().self_next_hop_v4().into()));
    let r6 = gobgp.wait_route("2001:db8:11::/48", T)?;
    assert_eq!(r6.next_hop, Some(bird.spec().self_next_hop_v6().into()));
    bird.withdraw(&["10.11.0.0/24"])?;
    gobgp.wait_route_gone("10.11.0.0/24", T)?;
    // A client never receives its own routes.
    assert!(bird.received_routes()?.is_empty());
    Ok(())
}
