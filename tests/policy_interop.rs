//! Import and export policy through the real binary with real peers: every import check
//! rejecting what it must with its Euro-IX reason (visible through `peerex ctl` as filtered),
//! the route server's control communities taking effect at the receiving peers, RPKI with a
//! real RTR cache (stayrtr) flipping a route without touching the session, and the
//! marketplace (who takes routes from whom).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use common::json::Json;
use common::peerex::RS_ASN;
use common::process::Proc;
use common::{
    unique_port, wait_until, BgpDaemon, Bird, Error, GoBgp, PeerSpec, Peerex, PeerexPeer,
    ReceivedRoute, Result, RouteAttrs, SessionState, TempDir,
};

const T: Duration = Duration::from_secs(30);

/// `peerex ctl --json ARGS` against `rs`; the `result` of the answer.
fn ctl(rs: &Peerex, args: &[&str]) -> Result<Json> {
    let out = Command::new(env!("CARGO_BIN_EXE_peerex"))
        .arg("ctl")
        .arg("--config")
        .arg(&rs.config)
        .arg("--json")
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(Error(format!(
            "peerex ctl {args:?} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v = Json::parse(&text).map_err(|e| Error(format!("{e}: {text}")))?;
    Ok(v.get("result").clone())
}

/// The filtered routes of `peer` as prefix → Euro-IX reason codes.
fn filtered(rs: &Peerex, peer: &str) -> Result<BTreeMap<String, BTreeSet<u32>>> {
    let v = ctl(
        rs,
        &["routes", "--peer", peer, "--filtered", "--limit", "1000"],
    )?;
    let mut out = BTreeMap::new();
    for r in v.get("routes").as_array() {
        let prefix = r.get("prefix").as_str().unwrap_or_default().to_string();
        let codes: BTreeSet<u32> = r
            .get("reason_codes")
            .as_array()
            .iter()
            .filter_map(|c| c.as_u32())
            .collect();
        assert_eq!(r.get("accepted").as_bool(), Some(false), "{r:?}");
        out.insert(prefix, codes);
    }
    Ok(out)
}

fn expect_exactly(d: &dyn BgpDaemon, want: &[&str]) -> Result<BTreeMap<String, ReceivedRoute>> {
    common::expect_exactly(d, want, T)
}

fn large(r: &ReceivedRoute) -> Vec<(u32, u32, u32)> {
    r.large_communities.clone()
}

/// Each import check rejects with its reason and the route is listed as filtered; accepted
/// routes reach the members with the RPKI tag and without the server's control
/// communities; control communities steer export per member; a blackhole reaches only the
/// member that takes blackholes, with NO_EXPORT.
#[test]
fn import_checks_and_control_communities() -> Result<()> {
    let dir = TempDir::new("policy-checks");
    let sup = PeerSpec::new("sup", 206_001);
    let m1 = PeerSpec::new("m1", 207_001);
    let m2 = PeerSpec::new("m2", 207_002);
    let rs = Peerex::start_with_defaults(
        &dir,
        &[
            PeerexPeer::allowing_own_next_hops(&sup)
                .with("role = \"supplier\"")
                .with("receive_from = [\"all\"]")
                .with("prefixes = [\"80.81.0.0/16 le 24\", \"2a0c:1000::/32 le 48\"]")
                .with("origin_asns = [206101]")
                .with("max_path_length = 6")
                .with("allow_blackhole = true"),
            PeerexPeer::allowing_own_next_hops(&m1),
            PeerexPeer::allowing_own_next_hops(&m2).with("accept_blackholes = false"),
        ],
        "",
        "rpki = \"off\"\n\n[policy]\nrpki_communities = true\n",
    )?;
    let s = Bird::start(&dir, rs.target(sup.clone()))?;
    let g1 = GoBgp::start(&dir, rs.target(m1.clone()))?;
    let b2 = Bird::start(&dir, rs.target(m2.clone()))?;
    for d in [&s as &dyn BgpDaemon, &g1, &b2] {
        d.wait_established(T)?;
    }

    // Rejected, each with the reason it must show (others may apply too).
    let rejected: Vec<(&str, RouteAttrs, &[u32])> = vec![
        ("80.81.2.0/25", RouteAttrs::path(&[206_101]), &[1]),
        ("10.20.0.0/16", RouteAttrs::path(&[206_101]), &[3, 9]),
        ("81.82.0.0/24", RouteAttrs::path(&[206_101]), &[9]),
        ("80.81.3.0/24", RouteAttrs::path(&[206_999]), &[10]),
        ("80.81.4.0/24", RouteAttrs::path(&[64_512, 206_101]), &[4]),
        (
            "80.81.5.0/24",
            RouteAttrs {
                next_hop: Some("127.0.0.99".parse().map_err(|_| Error::new("ip"))?),
                ..RouteAttrs::path(&[206_101])
            },
            &[8],
        ),
        ("80.81.6.0/24", RouteAttrs::path(&[174, 206_101]), &[14]),
        (
            "80.81.7.0/24",
            RouteAttrs::path(&[3_333, 3_333, 3_333, 3_333, 3_333, 206_101]),
            &[5],
        ),
    ];
    for (p, a, _) in &rejected {
        s.announce(&[p], a)?;
    }
    // Accepted: plain (with a foreign and an RS community: the latter is removed), and one
    // per control action.
    let plain = RouteAttrs {
        communities: vec![(65_000, 1), (RS_ASN as u16, 7)],
        large_communities: vec![(RS_ASN, 1000, 1), (4_200_000_001, 5, 5)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.1.0/24", "2a0c:1000:1::/48"], &plain)?;
    let not_m1 = RouteAttrs {
        large_communities: vec![(RS_ASN, 0, 207_001)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.10.0/24"], &not_m1)?;
    let only_m2 = RouteAttrs {
        communities: vec![(0, RS_ASN as u16)],
        large_communities: vec![(RS_ASN, 1, 207_002)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.11.0/24"], &only_m2)?;
    let prepend_m2 = RouteAttrs {
        large_communities: vec![(RS_ASN, 102, 207_002)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.12.0/24"], &prepend_m2)?;
    let prepend_all = RouteAttrs {
        communities: vec![(65_501, RS_ASN as u16)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.13.0/24"], &prepend_all)?;
    let blackhole = RouteAttrs {
        communities: vec![(65_535, 666)],
        ..RouteAttrs::path(&[206_101])
    };
    s.announce(&["80.81.1.128/32"], &blackhole)?;

    let got1 = expect_exactly(
        &g1,
        &[
            "80.81.1.0/24",
            "2a0c:1000:1::/48",
            "80.81.12.0/24",
            "80.81.13.0/24",
            "80.81.1.128/32",
        ],
    )?;
    let got2 = expect_exactly(
        &b2,
        &[
            "80.81.1.0/24",
            "2a0c:1000:1::/48",
            "80.81.10.0/24",
            "80.81.11.0/24",
            "80.81.12.0/24",
            "80.81.13.0/24",
        ],
    )?;

    // Transparent but for the server's own communities; the RPKI tag is "not checked" (3).
    for got in [&got1, &got2] {
        let r = &got["80.81.1.0/24"];
        assert_eq!(r.as_path, vec![206_001, 206_101], "{r:?}");
        assert_eq!(r.communities, vec![(65_000, 1)], "{r:?}");
        assert_eq!(
            large(r),
            vec![(RS_ASN, 1000, 3), (4_200_000_001, 5, 5)],
            "{r:?}"
        );
        assert_eq!(
            got["80.81.13.0/24"].as_path,
            vec![206_001, 206_001, 206_101]
        );
    }
    assert_eq!(got1["80.81.12.0/24"].as_path, vec![206_001, 206_101]);
    assert_eq!(
        got2["80.81.12.0/24"].as_path,
        vec![206_001, 206_001, 206_001, 206_101]
    );
    assert!(got2["80.81.11.0/24"].communities.is_empty());
    let bh = &got1["80.81.1.128/32"];
    assert!(bh.communities.contains(&(65_535, 666)), "{bh:?}");
    assert!(bh.communities.contains(&(65_535, 65_281)), "{bh:?}");

    // Every rejected route is held as filtered with its reasons.
    let f = filtered(&rs, "sup")?;
    for (p, _, codes) in &rejected {
        let have = f
            .get(*p)
            .ok_or_else(|| Error(format!("{p} not listed as filtered: {f:?}")))?;
        for c in *codes {
            assert!(have.contains(c), "{p}: want RS:1101:{c}, has {have:?}");
        }
    }
    assert_eq!(f.len(), rejected.len(), "{f:?}");
    Ok(())
}

/// Three suppliers, two members choosing suppliers, one service: each peer receives exactly
/// what its policy entitles it to.
#[test]
fn marketplace_delivers_what_each_peer_buys() -> Result<()> {
    let dir = TempDir::new("policy-market");
    let names = ["s1", "s2", "s3", "m1", "m2", "svc"];
    let specs: Vec<PeerSpec> = names
        .iter()
        .enumerate()
        .map(|(i, n)| PeerSpec::new(n, 206_010 + i as u32))
        .collect();
    let extra = [
        "role = \"supplier\"",
        "role = \"supplier\"",
        "role = \"supplier\"\nsend_to = [\"role:member\"]",
        "receive_from = [\"s1\", \"s2\", \"role:service\"]",
        "receive_from = [\"s3\", \"role:service\"]",
        "role = \"service\"",
    ];
    let peers: Vec<PeerexPeer> = specs
        .iter()
        .zip(extra)
        .map(|(s, e)| PeerexPeer::allowing_own_next_hops(s).with(e))
        .collect();
    let rs = Peerex::start_with_defaults(&dir, &peers, "", "")?;
    let mut daemons = Vec::new();
    for s in &specs {
        daemons.push(Bird::start(&dir, rs.target(s.clone()))?);
    }
    for d in &daemons {
        d.wait_established(T)?;
    }
    let prefix = |i: usize| format!("85.{}.0.0/24", 10 + i);
    for (i, d) in daemons.iter().enumerate() {
        d.announce(&[&prefix(i)], &RouteAttrs::default())?;
    }
    // What each receives, by index into `names`.
    let entitled: [&[usize]; 6] = [
        &[3, 4, 5],    // s1: members and services (the supplier default)
        &[3, 4, 5],    // s2
        &[3, 4, 5],    // s3
        &[0, 1, 5],    // m1: s1, s2 and the service
        &[2, 5],       // m2: s3 and the service
        &[0, 1, 3, 4], // svc: everyone, but s3 sells to members only
    ];
    for (i, d) in daemons.iter().enumerate() {
        let want: Vec<String> = entitled[i].iter().map(|j| prefix(*j)).collect();
        let refs: Vec<&str> = want.iter().map(|s| s.as_str()).collect();
        expect_exactly(d, &refs)?;
    }
    Ok(())
}

fn write_vrps(path: &std::path::Path, roas: &[(&str, u8, u32)]) -> Result<()> {
    let body: Vec<String> = roas
        .iter()
        .map(|(p, m, a)| format!(r#"{{"prefix":"{p}","maxLength":{m},"asn":"AS{a}"}}"#))
        .collect();
    let text = format!(
        r#"{{"metadata":{{"buildtime":"2026-01-01T00:00:00Z"}},"roas":[{}]}}"#,
        body.join(",")
    );
    // Write and rename, as validators do: the cache never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// stayrtr serving `file` (re-read every second) on a fresh port; stopped when dropped.
fn start_stayrtr(dir: &TempDir, file: &std::path::Path) -> Result<(Proc, u16)> {
    let port = unique_port();
    let metrics = unique_port();
    let mut cmd = Command::new("stayrtr");
    cmd.arg("-cache")
        .arg(file)
        .arg("-bind")
        .arg(format!("127.0.0.1:{port}"))
        .args(["-checktime=false", "-refresh", "1"])
        .arg("-metrics.addr")
        .arg(format!("127.0.0.1:{metrics}"));
    let p = Proc::spawn("stayrtr", cmd, &dir.join("stayrtr.log"), dir.path())?;
    if !wait_until(T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }) {
        return Err(Error::new("stayrtr did not start listening"));
    }
    Ok((p, port))
}

/// RPKI origin validation with VRPs from stayrtr: valid and not-found routes pass with their
/// tag, an invalid one is rejected (reason 13) from a `reject` peer and passes tagged from a
/// `tag` peer; editing the VRP file turns a valid route invalid and the members lose it,
/// with no session reset.
#[test]
fn rpki_from_stayrtr_flips_routes_without_a_reset() -> Result<()> {
    let dir = TempDir::new("policy-rpki");
    let file = dir.join("vrps.json");
    write_vrps(
        &file,
        &[
            ("80.90.20.0/24", 24, 206_101),
            ("80.90.21.0/24", 24, 206_999),
            ("80.91.21.0/24", 24, 206_999),
        ],
    )?;
    let (_cache, port) = start_stayrtr(&dir, &file)?;
    let strict = PeerSpec::new("strict", 206_021);
    let lax = PeerSpec::new("lax", 206_022);
    let m = PeerSpec::new("member", 207_021);
    let rs = Peerex::start_with_defaults(
        &dir,
        &[
            PeerexPeer::allowing_own_next_hops(&strict).with("rpki = \"reject\""),
            PeerexPeer::allowing_own_next_hops(&lax).with("rpki = \"tag\""),
            PeerexPeer::allowing_own_next_hops(&m),
        ],
        "",
        &format!(
            "\n[policy]\nrpki_communities = true\n\n[rpki]\nrtr = [\"127.0.0.1:{port}\"]\nrtr_retry = 1\n"
        ),
    )?;
    let ds = Bird::start(&dir, rs.target(strict.clone()))?;
    let dl = Bird::start(&dir, rs.target(lax.clone()))?;
    let dm = GoBgp::start(&dir, rs.target(m.clone()))?;
    for d in [&ds as &dyn BgpDaemon, &dl, &dm] {
        d.wait_established(T)?;
    }
    let origin = RouteAttrs::path(&[206_101]);
    ds.announce(
        &["80.90.20.0/24", "80.90.21.0/24", "80.90.22.0/24"],
        &origin,
    )?;
    dl.announce(&["80.91.21.0/24"], &origin)?;
    let got = expect_exactly(&dm, &["80.90.20.0/24", "80.90.22.0/24", "80.91.21.0/24"])?;
    let tag = |p: &str| {
        large(&got[p])
            .into_iter()
            .filter(|(g, l1, _)| *g == RS_ASN && *l1 == 1000)
            .map(|(_, _, v)| v)
            .collect::<Vec<_>>()
    };
    assert_eq!(tag("80.90.20.0/24"), vec![1], "valid");
    assert_eq!(tag("80.90.22.0/24"), vec![2], "not found");
    assert_eq!(
        tag("80.91.21.0/24"),
        vec![4],
        "invalid, tagged by a `tag` peer"
    );
    let f = filtered(&rs, "strict")?;
    assert_eq!(
        f.get("80.90.21.0/24").cloned(),
        Some(BTreeSet::from([13])),
        "{f:?}"
    );
    let ups = |rs: &Peerex| {
        std::fs::read_to_string(&rs.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("session established"))
            .count()
    };
    let established = ups(&rs);

    // The ROA of the valid route moves to another AS: the route turns invalid and goes.
    write_vrps(
        &file,
        &[
            ("80.90.20.0/24", 24, 206_555),
            ("80.90.21.0/24", 24, 206_999),
            ("80.91.21.0/24", 24, 206_999),
        ],
    )?;
    expect_exactly(&dm, &["80.90.22.0/24", "80.91.21.0/24"])?;
    let f = filtered(&rs, "strict")?;
    assert_eq!(
        f.get("80.90.20.0/24").cloned(),
        Some(BTreeSet::from([13])),
        "{f:?}"
    );
    for d in [&ds as &dyn BgpDaemon, &dl, &dm] {
        assert_eq!(d.session_state()?, SessionState::Established);
    }
    assert_eq!(ups(&rs), established, "no session went down and up again");
    Ok(())
}
