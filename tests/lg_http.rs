//! The looking glass through the real binary: our API, the birdwatcher shape Alice-LG reads,
//! and /metrics, against a peerex with real peers (bird2 and ExaBGP announcing, GoBGP
//! receiving); and every kind of bad request answered with a 4xx JSON error while the
//! server keeps serving.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http::{get, request, HttpResponse};
use common::json::Json;
use common::{
    wait_for, BgpDaemon, Bird, Error, ExaBgp, GoBgp, PeerSpec, Peerex, PeerexPeer, Result,
    RouteAttrs, TempDir,
};

const T: Duration = Duration::from_secs(40);

/// Starts peerex with a looking glass on a fresh port; returns it and the LG address.
fn start_rs(
    dir: &TempDir,
    peers: &[PeerexPeer],
    max_results: usize,
) -> Result<(Peerex, SocketAddr)> {
    let lg = SocketAddr::from((Ipv4Addr::LOCALHOST, common::unique_port()));
    let extra = format!("\n[looking_glass]\nlisten = \"{lg}\"\nmax_results = {max_results}\n");
    let rs = Peerex::start(dir, peers, &extra)?;
    // The looking glass binds after the BGP listeners: wait until it answers.
    if wait_for(Duration::from_secs(10), || get(lg, "/api/v1/status").ok()).is_none() {
        return Err(Error(format!(
            "the looking glass does not answer:\n{}",
            rs.log_tail(30)
        )));
    }
    Ok((rs, lg))
}

fn ok_json(lg: SocketAddr, target: &str) -> Result<Json> {
    let r = get(lg, target)?;
    if r.status != 200 {
        return Err(Error(format!("GET {target}: {} {}", r.status, r.body)));
    }
    assert!(
        r.content_type.starts_with("application/json"),
        "{target}: {}",
        r.content_type
    );
    r.json()
}

/// Polls `target` until `pred` holds for its JSON.
fn wait_json(lg: SocketAddr, target: &str, pred: impl Fn(&Json) -> bool) -> Result<Json> {
    let mut last = None;
    let r = wait_for(T, || {
        let j = ok_json(lg, target).ok()?;
        if pred(&j) {
            Some(j)
        } else {
            last = Some(j);
            None
        }
    });
    r.ok_or_else(|| Error(format!("timeout waiting on {target}; last answer {last:?}")))
}

fn strs(j: &Json) -> Vec<String> {
    j.as_array()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn networks(j: &Json) -> Vec<String> {
    j.get("routes")
        .as_array()
        .iter()
        .filter_map(|r| {
            r.get("network")
                .as_str()
                .or(r.get("prefix").as_str())
                .map(str::to_string)
        })
        .collect()
}

/// Runs `promtool check metrics` on `text`; promtool must be installed (Debian's
/// `prometheus` package, which `.ci/install-deps` installs): a missing checker fails the test
/// rather than skipping the check.
fn promtool_accepts(text: &str) -> Result<()> {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error(
            "promtool is not installed (apt-get install prometheus, as .ci/install-deps does): \
                 /metrics cannot be checked"
                .into(),
        )),
        Err(e) => return Err(e.into()),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(Error(format!(
            "promtool rejects /metrics: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn check_metrics(lg: SocketAddr) -> Result<String> {
    let m = get(lg, "/metrics")?;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    promtool_accepts(&m.body)?;
    // No VRP source in these tests: an empty table and both source kinds at zero.
    for line in [
        "peerex_rpki_vrps 0",
        "peerex_rpki_sources{kind=\"rtr\"} 0",
        "peerex_rpki_sources{kind=\"json_file\"} 0",
    ] {
        assert!(m.body.lines().any(|l| l == line), "no {line:?} in /metrics");
    }
    Ok(m.body)
}

#[test]
fn api_birdwatcher_and_metrics_with_bird_exabgp_and_gobgp() -> Result<()> {
    let dir = TempDir::new("lg-http");
    let b = PeerSpec::new("b1", 65011);
    let e = PeerSpec::new("e1", 65012);
    let g = PeerSpec::new("g1", 65013);
    let (rs, lg) = start_rs(
        &dir,
        &[
            PeerexPeer::for_spec(&b),
            PeerexPeer::for_spec(&e),
            PeerexPeer::for_spec(&g),
        ],
        1000,
    )?;
    let bird = Bird::start(&dir, rs.target(b.clone()))?;
    let exa = ExaBgp::start(&dir, rs.target(e.clone()))?;
    let gobgp = GoBgp::start(&dir, rs.target(g.clone()))?;
    bird.wait_established(T)?;
    exa.wait_established(T)?;
    gobgp.wait_established(T)?;

    bird.announce(
        &["10.11.0.0/24", "10.11.1.0/24", "2001:db8:11::/48"],
        &RouteAttrs {
            med: Some(7),
            communities: vec![(65011, 42)],
            large_communities: vec![(65011, 1, 2)],
            ..Default::default()
        },
    )?;
    // 10.99.0.0/24 from both: bird's path is one hop longer, so ExaBGP's ranks first.
    bird.announce(
        &["10.99.0.0/24"],
        &RouteAttrs {
            as_path: vec![65100],
            ..Default::default()
        },
    )?;
    exa.announce(&["10.99.0.0/24"], &RouteAttrs::default())?;
    // A route carrying OTC from an RS-client is a leak (RFC 9234): filtered with a reason.
    exa.command(&format!(
        "announce route 10.66.0.0/24 next-hop {} origin igp as-path [ 65012 ] attribute [ 0x23 0xc0 0x0000fde8 ]",
        e.self_next_hop_v4()
    ))?;
    gobgp.wait_route("10.11.0.0/24", T)?;
    gobgp.wait_route("10.99.0.0/24", T)?;
    gobgp.wait_route("2001:db8:11::/48", T)?;

    // --- our API -----------------------------------------------------------------------
    let st = wait_json(lg, "/api/v1/status", |j| {
        j.at(&["rib", "paths_filtered"]).as_u64() == Some(1)
            && j.at(&["rib", "paths_accepted"]).as_u64() == Some(5)
    })?;
    assert_eq!(st.get("asn").as_u64(), Some(64500));
    assert_eq!(st.get("router_id").as_str(), Some("10.255.255.1"));
    assert_eq!(st.get("neighbours_established").as_u64(), Some(3));
    assert_eq!(st.at(&["rib", "prefixes"]).as_u64(), Some(5));
    assert!(st.get("version").as_str().is_some());
    assert!(st.get("uptime_seconds").as_u64().is_some());

    let ns = ok_json(lg, "/api/v1/neighbours")?;
    let list = ns.get("neighbours").as_array();
    assert_eq!(list.len(), 3);
    for n in list {
        assert_eq!(n.get("state").as_str(), Some("Established"), "{n:?}");
        assert!(n.get("updates_in").as_u64().is_some());
    }
    let n = ok_json(lg, "/api/v1/neighbours/b1")?;
    assert_eq!(n.at(&["neighbour", "asn"]).as_u64(), Some(65011));
    assert_eq!(n.at(&["neighbour", "routes_accepted"]).as_u64(), Some(4));

    let acc = ok_json(lg, "/api/v1/neighbours/b1/routes/accepted")?;
    assert_eq!(
        networks(&acc),
        [
            "10.11.0.0/24",
            "10.11.1.0/24",
            "10.99.0.0/24",
            "2001:db8:11::/48"
        ]
    );
    let r0 = &acc.get("routes").as_array()[0];
    assert_eq!(r0.get("as_path").as_str(), Some("65011"));
    assert_eq!(r0.get("med").as_u64(), Some(7));
    assert_eq!(strs(r0.get("communities")), ["65011:42"]);
    assert_eq!(strs(r0.get("large_communities")), ["65011:1:2"]);
    assert_eq!(r0.get("accepted").as_bool(), Some(true));
    assert_eq!(acc.at(&["pagination", "total"]).as_u64(), Some(4));

    // Paging: two per page.
    let p1 = ok_json(lg, "/api/v1/neighbours/b1/routes/accepted?page=1&limit=2")?;
    assert_eq!(networks(&p1), ["10.99.0.0/24", "2001:db8:11::/48"]);
    assert_eq!(p1.at(&["pagination", "pages"]).as_u64(), Some(2));
    let p9 = ok_json(lg, "/api/v1/neighbours/b1/routes/accepted?page=9&limit=2")?;
    assert!(networks(&p9).is_empty());
    let off = ok_json(lg, "/api/v1/neighbours/b1/routes/received?offset=3")?;
    assert_eq!(networks(&off), ["2001:db8:11::/48"]);

    let filt = ok_json(lg, "/api/v1/neighbours/e1/routes/filtered")?;
    assert_eq!(networks(&filt), ["10.66.0.0/24"]);
    let f0 = &filt.get("routes").as_array()[0];
    assert_eq!(f0.get("accepted").as_bool(), Some(false));
    let reason = &f0.get("reject_reasons").as_array()[0];
    assert_eq!(reason.get("key").as_str(), Some("otc_leak"));
    assert_eq!(reason.get("community").as_str(), Some("64500:1101:65531"));
    let recv = ok_json(lg, "/api/v1/neighbours/e1/routes/received")?;
    assert_eq!(networks(&recv), ["10.66.0.0/24", "10.99.0.0/24"]);

    let exp = ok_json(lg, "/api/v1/neighbours/g1/routes/exported")?;
    assert_eq!(
        networks(&exp),
        [
            "10.11.0.0/24",
            "10.11.1.0/24",
            "10.99.0.0/24",
            "2001:db8:11::/48"
        ]
    );
    let to_b = ok_json(lg, "/api/v1/neighbours/b1/routes/exported")?;
    assert_eq!(networks(&to_b), ["10.99.0.0/24"]);
    assert_eq!(
        to_b.get("routes").as_array()[0].get("peer").as_str(),
        Some("e1")
    );

    // Lookup: longest match by address, exact, and a miss.
    let lk = ok_json(lg, "/api/v1/routes?prefix=10.99.0.77")?;
    assert_eq!(lk.get("matched").as_str(), Some("10.99.0.0/24"));
    let paths = lk.get("routes").as_array();
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0].get("peer").as_str(), Some("e1"));
    assert_eq!(paths[0].get("rank").as_u64(), Some(1));
    assert_eq!(paths[1].get("rank").as_u64(), Some(2));
    let ex = ok_json(lg, "/api/v1/routes?prefix=10.99.0.0/16&exact=true")?;
    assert!(ex.get("matched").is_null());
    let ex = ok_json(lg, "/api/v1/routes?prefix=2001:db8:11::/48&exact")?;
    assert_eq!(ex.get("routes").as_array().len(), 1);

    // Why: a client gets the best allowed path; the others say why not.
    let why = ok_json(lg, "/api/v1/why?prefix=10.99.0.0/24&neighbour=g1")?;
    assert_eq!(why.at(&["receives", "peer"]).as_str(), Some("e1"));
    let wp = why.get("paths").as_array();
    assert_eq!(
        wp[0].at(&["export", "code"]).as_str(),
        Some("best_allowed_path")
    );
    assert_eq!(wp[0].at(&["export", "sent"]).as_bool(), Some(true));
    assert_eq!(
        wp[1].at(&["export", "code"]).as_str(),
        Some("better_allowed_path")
    );
    assert!(wp[1]
        .at(&["export", "reason"])
        .as_str()
        .unwrap()
        .contains("shorter AS path"));
    let why_e = ok_json(lg, "/api/v1/why?prefix=10.99.0.0/24&neighbour=e1")?;
    assert_eq!(why_e.at(&["receives", "peer"]).as_str(), Some("b1"));
    assert_eq!(
        why_e.get("paths").as_array()[0]
            .at(&["export", "code"])
            .as_str(),
        Some("own_path")
    );
    let why_f = ok_json(lg, "/api/v1/why?prefix=10.66.0.1&neighbor=g1")?;
    assert!(why_f.get("receives").is_null());
    let fp = &why_f.get("paths").as_array()[0];
    assert_eq!(
        fp.at(&["export", "code"]).as_str(),
        Some("rejected_on_import")
    );
    assert_eq!(
        fp.get("reject_reasons").as_array()[0].get("code").as_u64(),
        Some(65531)
    );

    // --- birdwatcher -------------------------------------------------------------------
    let bs = ok_json(lg, "/status")?;
    assert_eq!(bs.at(&["api", "result_from_cache"]).as_bool(), Some(false));
    assert!(bs.at(&["api", "Version"]).as_str().is_some());
    assert!(bs
        .at(&["api", "cache_status", "cached_at", "date"])
        .as_str()
        .is_some());
    assert!(bs.get("ttl").as_str().is_some());
    // Valid for the configured cache_ttl (default 5 s) after it was made, so Alice-LG may serve
    // it from its cache until then (both stamps share one fixed format: text order is time order).
    assert_eq!(
        bs.at(&["api", "cache_status", "orig_ttl"]).as_u64(),
        Some(5)
    );
    let made = bs
        .at(&["api", "cache_status", "cached_at", "date"])
        .as_str()
        .unwrap()
        .to_string();
    let ttl = bs.get("ttl").as_str().unwrap();
    assert!(ttl > made.as_str(), "ttl {ttl} is not after {made}");
    assert_eq!(
        bs.at(&["status", "router_id"]).as_str(),
        Some("10.255.255.1")
    );
    assert!(bs.at(&["status", "current_server"]).as_str().is_some());

    let pr = ok_json(lg, "/protocols/bgp")?;
    let b1 = pr.at(&["protocols", "b1"]);
    assert_eq!(b1.get("bird_protocol").as_str(), Some("BGP"));
    assert_eq!(b1.get("state").as_str(), Some("up"));
    assert_eq!(b1.get("neighbor_as").as_u64(), Some(65011));
    assert_eq!(
        b1.get("neighbor_address").as_str(),
        Some(b.local_addr.to_string().as_str())
    );
    assert_eq!(b1.at(&["routes", "imported"]).as_u64(), Some(4));
    assert_eq!(b1.at(&["routes", "exported"]).as_u64(), Some(1));
    assert_eq!(
        pr.at(&["protocols", "e1", "routes", "filtered"]).as_u64(),
        Some(1)
    );
    assert_eq!(
        pr.at(&["protocols", "g1", "routes", "exported"]).as_u64(),
        Some(4)
    );
    let short = ok_json(lg, "/protocols/short?uncached=true")?;
    assert_eq!(short.at(&["protocols", "g1", "state"]).as_str(), Some("up"));
    assert!(!ok_json(lg, "/protocols")?
        .get("protocols")
        .entries()
        .is_empty());

    let rp = ok_json(lg, "/routes/protocol/b1")?;
    assert_eq!(networks(&rp).len(), 4);
    let r = &rp.get("routes").as_array()[0];
    assert_eq!(r.get("from_protocol").as_str(), Some("b1"));
    assert_eq!(
        r.get("gateway").as_str(),
        Some(b.local_addr.to_string().as_str())
    );
    assert_eq!(strs(r.at(&["bgp", "as_path"])), ["65011"]);
    assert_eq!(r.at(&["bgp", "med"]).as_str(), Some("7"));
    assert_eq!(r.at(&["bgp", "local_pref"]).as_str(), Some("100"));
    assert_eq!(
        r.at(&["bgp", "next_hop"]).as_str(),
        Some(b.self_next_hop_v4().to_string().as_str())
    );
    let c = &r.at(&["bgp", "communities"]).as_array()[0];
    assert_eq!(
        (c.as_array()[0].as_u64(), c.as_array()[1].as_u64()),
        (Some(65011), Some(42))
    );
    assert!(r.get("age").as_str().is_some());
    assert!(r.get("metric").as_u64().is_some());

    let rf = ok_json(lg, "/routes/filtered/e1")?;
    assert_eq!(networks(&rf), ["10.66.0.0/24"]);
    let lcs = rf.get("routes").as_array()[0]
        .at(&["bgp", "large_communities"])
        .as_array()
        .to_vec();
    assert!(
        lcs.iter().any(
            |c| c.as_array().iter().map(|x| x.as_u64()).collect::<Vec<_>>()
                == [Some(64500), Some(1101), Some(65531)]
        ),
        "{lcs:?}"
    );
    let ne = ok_json(lg, "/routes/noexport/g1")?;
    assert!(ne.get("routes").as_array().is_empty());
    let rpx = ok_json(lg, "/routes/prefix?prefix=10.99.0.0/24")?;
    let rr = rpx.get("routes").as_array();
    assert_eq!(rr.len(), 2);
    assert_eq!(
        rr.iter()
            .filter(|r| r.get("primary").as_bool() == Some(true))
            .count(),
        1
    );
    assert_eq!(networks(&ok_json(lg, "/routes/table/master")?).len(), 5);
    assert_eq!(
        networks(&ok_json(lg, "/routes/table/master6")?),
        ["2001:db8:11::/48"]
    );
    assert_eq!(
        networks(&ok_json(lg, "/routes/table/master/filtered")?),
        ["10.66.0.0/24"]
    );

    // --- metrics -------------------------------------------------------------------------
    let m = check_metrics(lg)?;
    for line in [
        "peerex_peer_up{peer=\"b1\"",
        "peerex_peer_prefixes_accepted{peer=\"b1\",family=\"ipv4-unicast\"} 3",
        "peerex_peer_prefixes_filtered{peer=\"e1\",family=\"ipv4-unicast\"} 1",
        "peerex_peer_prefixes_exported{peer=\"g1\"} 4",
        "peerex_rib_prefixes{family=\"ipv4-unicast\"} 4",
        "peerex_rib_paths{family=\"ipv4-unicast\"} 5",
        "# TYPE peerex_peer_updates_in_total counter",
        "peerex_process_resident_memory_bytes ",
        "# TYPE peerex_memory_bytes gauge",
    ] {
        assert!(m.contains(line), "{line} missing from\n{m}");
    }
    // Memory by part: every part present; the table's parts and the allocator are not empty.
    let part = |name: &str| -> u64 {
        let head = format!("peerex_memory_bytes{{part=\"{name}\"}} ");
        let line = m.lines().find(|l| l.starts_with(&head));
        let line = line.unwrap_or_else(|| panic!("{head} missing from\n{m}"));
        line[head.len()..].parse().unwrap()
    };
    for name in ["snapshots", "export_state", "out_queues"] {
        part(name);
    }
    let (paths, attrs, alloc) = (part("rib_paths"), part("attribute_sets"), part("allocator"));
    assert!(paths > 0 && attrs > 0, "{m}");
    assert!(alloc > paths + attrs, "{m}");
    let _ = (&bird, &exa, &gobgp);
    Ok(())
}

fn assert_json_error(r: &HttpResponse, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {r:?}");
    assert!(
        r.content_type.starts_with("application/json"),
        "{what}: {r:?}"
    );
    let j = r.json().unwrap();
    assert!(j.get("error").as_str().is_some(), "{what}: {r:?}");
    assert_eq!(j.get("status").as_u64(), Some(u64::from(status)), "{what}");
}

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_serving() -> Result<()> {
    let dir = TempDir::new("lg-bad");
    let a = PeerSpec::new("quiet", 65021);
    let (rs, lg) = start_rs(&dir, &[PeerexPeer::for_spec(&a)], 50)?;
    let long = "1".repeat(10_000);
    let cases: Vec<(String, u16)> = vec![
        ("/api/v1/routes?prefix=10.0.0.1/8".into(), 400),
        ("/api/v1/routes?prefix=banana".into(), 400),
        ("/api/v1/routes?prefix=300.1.1.1".into(), 400),
        ("/api/v1/routes".into(), 400),
        ("/api/v1/routes?prefix=%zz".into(), 400),
        ("/api/v1/routes?prefix=10.0.0.0/8&exact=maybe".into(), 400),
        (
            "/api/v1/routes?prefix=10.0.0.0/8&prefix=10.0.0.0/9".into(),
            400,
        ),
        (format!("/api/v1/routes?prefix={long}"), 400),
        ("/api/v1/neighbours/nobody".into(), 404),
        ("/api/v1/neighbours/nobody/routes/accepted".into(), 404),
        ("/api/v1/neighbours/quiet/routes/sideways".into(), 404),
        (
            "/api/v1/neighbours/quiet/routes/accepted?page=-1".into(),
            400,
        ),
        (
            "/api/v1/neighbours/quiet/routes/accepted?page=abc".into(),
            400,
        ),
        (
            "/api/v1/neighbours/quiet/routes/accepted?limit=0".into(),
            400,
        ),
        (
            "/api/v1/neighbours/quiet/routes/accepted?page=1&offset=2".into(),
            400,
        ),
        (
            format!("/api/v1/neighbours/quiet/routes/accepted?page={}", u64::MAX),
            400,
        ),
        (
            "/api/v1/neighbours/quiet/routes/accepted?sort=asc".into(),
            400,
        ),
        ("/api/v1/status?verbose=1".into(), 400),
        ("/api/v1/why?prefix=10.0.0.0/8".into(), 400),
        ("/api/v1/why?prefix=10.0.0.0/8&neighbour=nobody".into(), 404),
        ("/api/v1/why?neighbour=quiet".into(), 400),
        ("/metrics?x=1".into(), 400),
        ("/routes/protocol/nobody".into(), 404),
        ("/routes/filtered/nobody".into(), 404),
        ("/routes/noexport/nobody".into(), 404),
        ("/routes/prefix".into(), 400),
        ("/routes/prefix?prefix=::g".into(), 400),
        ("/routes/table/nosuch".into(), 404),
        ("/protocols/bgp?all=1".into(), 400),
        ("/nope".into(), 404),
        ("/api/v2/status".into(), 404),
        ("/api/v1/neighbours/%ff".into(), 400),
    ];
    for (target, status) in &cases {
        let r = get(lg, target)?;
        assert_json_error(&r, *status, target);
    }
    let r = request(lg, "POST", "/api/v1/status")?;
    assert_json_error(&r, 405, "POST");
    let r = request(lg, "DELETE", "/routes/protocol/quiet")?;
    assert_json_error(&r, 405, "DELETE");

    // A request head larger than the HTTP layer reads: refused (4xx), nothing else happens.
    let huge = format!("/api/v1/routes?prefix={}", "9".repeat(200_000));
    match get(lg, &huge) {
        Ok(r) => assert!((400..500).contains(&r.status), "{r:?}"),
        // The server may close before reading the whole request: also a refusal.
        Err(e) => eprintln!("huge request refused by closing: {e}"),
    }
    // Garbage that is not HTTP at all.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(lg)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"\x00\x01GARBAGE\r\n\r\n")?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }

    // Many clients at once: all answered.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || -> Result<()> {
                for _ in 0..10 {
                    let r = get(lg, "/api/v1/neighbours")?;
                    assert_eq!(r.status, 200);
                    let r = get(lg, "/routes/protocol/nobody")?;
                    assert_eq!(r.status, 404);
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap()?;
    }

    // Still serving, still the same process, and the empty state is valid too.
    let st = ok_json(lg, "/api/v1/status")?;
    assert_eq!(st.get("max_results").as_u64(), Some(50));
    assert!(rs.running());
    let idx = ok_json(lg, "/")?;
    assert!(!idx.get("endpoints").as_array().is_empty());
    let q = ok_json(lg, "/api/v1/neighbours/quiet/routes/accepted?limit=5000")?;
    assert_eq!(
        q.at(&["pagination", "limit"]).as_u64(),
        Some(50),
        "capped at max_results"
    );
    let m = check_metrics(lg)?;
    assert!(
        m.contains("peerex_peer_up{peer=\"quiet\",address=\""),
        "{m}"
    );
    Ok(())
}
