//! BMP export end to end (issue 13): peerex with one `[[bmp]]` collector, pmacct's `pmbmpd`
//! (Debian), reached through a recording TCP relay, and real peers: bird2, announcing IPv4 and
//! IPv6 prefixes of which one is a bogon its import policy rejects, and gobgpd, announcing its
//! own prefix and receiving bird's. pmbmpd's JSON log is checked field by field: Initiation
//! (sysName, sysDescr), the Loc-RIB and each peer's Peer Up, pre-policy Route Monitoring of
//! every announced path (the rejected one with its Euro-IX reject code `RS:1101:N`, the code
//! `peerex ctl` gives), post-policy of the accepted ones only, the Loc-RIB's best paths, each
//! client's Adj-RIB-Out as that client received it, Statistics Reports; then a withdrawal in
//! every view, a peer killed (Peer Down, reason 4) and a peer shutting its session down
//! (reason 3, with the NOTIFICATION), and Termination when peerex stops. Every byte peerex
//! sent is then split into BMP messages by peerex's own decoder, written into a pcap file and
//! dissected by tshark (Debian) with no malformed-packet or error report.
//!
//! pmbmpd, tshark, bird2 and gobgpd must be installed (`.ci/install-deps`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use bytes::Bytes;
use common::json::Json;
use common::peerex::{LAB_DEFAULTS, RS_ASN};
use common::pmbmpd::Pmbmpd;
use common::relay::Relay;
use common::{
    expect_exactly, trace, tshark, BgpDaemon, Bird, Error, GoBgp, PeerSpec, Peerex, PeerexPeer,
    ReceivedRoute, Result, RouteAttrs, TempDir,
};
use peerex::bmp::msg::{self, Message, PeerType};

/// Generous: changes reach the collector once per second, on a machine shared with others.
const T: Duration = Duration::from_secs(60);

const BIRD_AS: u32 = 206_041;
const GOBGP_AS: u32 = 206_042;
const RS_ID: &str = "10.255.255.1";

/// bird's prefixes: the first with a large community of its own, the last a bogon.
const B1: &str = "80.81.1.0/24";
const B2: &str = "80.81.2.0/24";
const B3: &str = "80.81.3.0/24";
const B6: &str = "2a0a:81:1::/48";
const REJECTED: &str = "192.168.81.0/24";
const ACCEPTED: [&str; 4] = [B1, B2, B3, B6];
/// gobgpd's own prefix.
const G1: &str = "80.82.1.0/24";

/// The view a logged Route Monitoring message belongs to, from pmbmpd's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    /// Adj-RIB-In pre-policy: `is_post` 0, `is_in` 1.
    Pre,
    /// Adj-RIB-In post-policy: `is_post` 1, `is_in` 1.
    Post,
    /// Adj-RIB-Out post-policy (RFC 8671): `is_post` 1, `is_out` 1.
    Out,
    /// Loc-RIB (RFC 9069): `is_loc` 1.
    Loc,
    /// Anything else (e.g. Adj-RIB-Out pre-policy, which peerex does not send).
    Other,
}

fn view(e: &Json) -> View {
    let f = |k| e.get(k).as_u32();
    match (f("is_loc"), f("is_out"), f("is_post")) {
        (Some(1), None, _) => View::Loc,
        (None, Some(1), Some(1)) => View::Out,
        (None, None, Some(1)) => View::Post,
        (None, None, Some(0)) => View::Pre,
        _ => View::Other,
    }
}

fn text<'a>(e: &'a Json, k: &str) -> &'a str {
    e.get(k).as_str().unwrap_or_default()
}

fn of_type<'a>(ev: &'a [Json], kind: &str) -> Vec<&'a Json> {
    ev.iter()
        .filter(|e| text(e, "bmp_msg_type") == kind)
        .collect()
}

/// Route Monitoring events of `view` about `peer` (the Loc-RIB's is 0.0.0.0) with `log_type`
/// ("update" or "withdraw").
fn routes<'a>(ev: &'a [Json], v: View, peer: &str, log_type: &str) -> Vec<&'a Json> {
    of_type(ev, "route_monitor")
        .into_iter()
        .filter(|e| view(e) == v && text(e, "peer_ip") == peer && text(e, "log_type") == log_type)
        .collect()
}

/// The prefixes of [`routes`].
fn prefixes(ev: &[Json], v: View, peer: &str, log_type: &str) -> BTreeSet<String> {
    routes(ev, v, peer, log_type)
        .iter()
        .map(|e| text(e, "ip_prefix").to_string())
        .collect()
}

/// Whether every one of `want` is among [`prefixes`].
fn has_all(ev: &[Json], v: View, peer: &str, log_type: &str, want: &[&str]) -> bool {
    let got = prefixes(ev, v, peer, log_type);
    want.iter().all(|p| got.contains(*p))
}

/// The last update of `prefix` in `view` about `peer`.
fn last_update<'a>(ev: &'a [Json], v: View, peer: &str, prefix: &str) -> Option<&'a Json> {
    routes(ev, v, peer, "update")
        .into_iter()
        .rfind(|e| text(e, "ip_prefix") == prefix)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// pmbmpd's `lcomms` ("A:B:C A:B:C", absent when none) as a set.
fn lcomms(e: &Json) -> BTreeSet<String> {
    text(e, "lcomms")
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn lcomm_text(c: &[(u32, u32, u32)]) -> BTreeSet<String> {
    c.iter().map(|(a, b, c)| format!("{a}:{b}:{c}")).collect()
}

/// Attributes of a path as pmbmpd shows them: (AS path, next hop, large communities).
type Shown = (String, Option<IpAddr>, BTreeSet<String>);

fn shown(e: &Json) -> Shown {
    (
        text(e, "as_path").to_string(),
        text(e, "bgp_nexthop").parse().ok(),
        lcomms(e),
    )
}

/// The same of a route a client daemon received.
fn received(r: &ReceivedRoute) -> Shown {
    let path: Vec<String> = r.as_path.iter().map(u32::to_string).collect();
    (path.join(" "), r.next_hop, lcomm_text(&r.large_communities))
}

/// One statistic of a Statistics Report as pmbmpd logs it: (type, AFI/SAFI, value). pmbmpd
/// prints the types it knows as numbers (per-AFI ones with `afi`/`safi`, except type 17) and
/// the others (18-21) as the value's octets in hex ("00-00-..-05"; per-AFI: AFI, SAFI, value).
type StatLine = (u32, Option<(u16, u8)>, u64);

fn stat_line(e: &Json) -> Option<StatLine> {
    let kind = e.get("counter_type").as_u32()?;
    let v = e.get("counter_value");
    if let Some(n) = v.as_u64() {
        let fam = match (e.get("afi").as_u32(), e.get("safi").as_u32()) {
            (Some(a), Some(s)) => Some((a as u16, s as u8)),
            _ => None,
        };
        return Some((kind, fam, n));
    }
    let octets: Vec<u8> = v
        .as_str()?
        .split('-')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let num = |b: &[u8]| b.iter().fold(0u64, |n, o| n << 8 | u64::from(*o));
    match octets.len() {
        4 | 8 => Some((kind, None, num(&octets))),
        11 => Some((
            kind,
            Some((num(&octets[..2]) as u16, octets[2])),
            num(&octets[3..]),
        )),
        _ => None,
    }
}

/// The latest Statistics Report logged about `peer` (pmbmpd stamps every counter of one
/// message with the same arrival time).
fn last_report(ev: &[Json], peer: &str) -> Vec<StatLine> {
    let stats: Vec<&Json> = of_type(ev, "stats")
        .into_iter()
        .filter(|e| text(e, "peer_ip") == peer)
        .collect();
    let Some(last) = stats.last() else {
        return Vec::new();
    };
    let at = text(last, "timestamp_arrival");
    stats
        .iter()
        .filter(|e| text(e, "timestamp_arrival") == at)
        .filter_map(|e| stat_line(e))
        .collect()
}

/// The value of a whole-peer statistic in a report.
fn stat(report: &[StatLine], kind: u32) -> Option<u64> {
    report
        .iter()
        .find(|(k, f, _)| *k == kind && f.is_none())
        .map(|(_, _, v)| *v)
}

/// The per-AFI values of a statistic in a report, AFI/SAFI → value.
fn per_family(report: &[StatLine], kind: u32) -> BTreeMap<(u16, u8), u64> {
    report
        .iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, f, v)| (f.unwrap_or((0, 0)), *v))
        .collect()
}

/// Whether the latest report about `peer` has every (type, value) of `want`, and per AFI
/// every (type, AFI, value) of `want_afi`.
fn report_has(ev: &[Json], peer: &str, want: &[(u32, u64)], want_afi: &[(u32, u16, u64)]) -> bool {
    let r = last_report(ev, peer);
    want.iter().all(|(k, v)| stat(&r, *k) == Some(*v))
        && want_afi
            .iter()
            .all(|(k, afi, v)| per_family(&r, *k).get(&(*afi, 1)) == Some(v))
}

/// The Adj-RIB-Out statistics of the clients (type 15, and type 17 per AFI adding up to it),
/// each `(peer, routes it is sent)`: awaited, and a miss noted in `missed` rather than failing
/// at once, so that the rest of the test still runs and reports.
fn adj_rib_out_stats(c: &Pmbmpd, want: &[(&str, u64)], missed: &mut Vec<String>) {
    let ok = |ev: &[Json], ip: &str, v: u64| {
        let r = last_report(ev, ip);
        // pmbmpd logs type 17 without its AFI: its lines (one per family) are summed as
        // they come, not keyed by family.
        stat(&r, 15) == Some(v)
            && r.iter()
                .filter(|(k, _, _)| *k == 17)
                .map(|(_, _, n)| n)
                .sum::<u64>()
                == v
    };
    // Reports come every second: this is many of them.
    let t = Duration::from_secs(20);
    if c.wait_for(t, |ev| want.iter().all(|(ip, v)| ok(ev, ip, *v)))
        .is_err()
    {
        let ev = c.events();
        for (ip, v) in want {
            if !ok(&ev, ip, *v) {
                missed.push(format!(
                    "{ip}: no Adj-RIB-Out statistics of {v} routes (type 15, and type 17 per \
                     AFI adding up to it) within {t:?}; latest report {:?}",
                    last_report(&ev, ip)
                ));
            }
        }
    }
}

/// The `RS:1101:N` codes `peerex ctl` gives for `prefix` filtered from `peer`.
fn reject_codes(rs: &Peerex, peer: &str, prefix: &str) -> Result<Vec<u32>> {
    let v = rs.ctl_json(&["routes", "--peer", peer, "--filtered"])?;
    Ok(v.get("routes")
        .as_array()
        .iter()
        .filter(|r| r.get("prefix").as_str() == Some(prefix))
        .flat_map(|r| {
            r.get("reason_codes")
                .as_array()
                .iter()
                .filter_map(Json::as_u32)
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Every BMP message in `stream`, and what follows the last whole one.
fn split(stream: &[u8]) -> std::result::Result<(Vec<Bytes>, usize), msg::DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(len) = msg::frame_len(&stream[at..])? {
        if stream.len() - at < len {
            break;
        }
        out.push(Bytes::copy_from_slice(&stream[at..at + len]));
        at += len;
    }
    Ok((out, stream.len() - at))
}

/// Waits until pmbmpd's events satisfy `done`; on a timeout, the error says what was awaited,
/// how many connections the relay saw and how peerex's log ends.
fn wait(
    c: &Pmbmpd,
    relay: &Relay,
    rs: &Peerex,
    what: &str,
    done: impl FnMut(&[Json]) -> bool,
) -> Result<Vec<Json>> {
    let ev = c.wait_for(T, done).map_err(|e| {
        Error(format!(
            "waiting for {what}: {e}\nthe relay saw {} BMP connection(s) from peerex\n\
             --- peerex log tail ---\n{}",
            relay.connections().len(),
            rs.log_tail(40)
        ))
    })?;
    trace(format_args!("pmbmpd logged {what}"));
    Ok(ev)
}

#[test]
fn bmp_to_pmbmpd_with_bird_and_gobgp() -> Result<()> {
    let dir = TempDir::new("bmp");
    let collector = Pmbmpd::start(&dir)?;
    let relay = Relay::start(collector.addr)?;
    // pmbmpd's logs for a failure message (without the statistics: one line per counter).
    let dump = || {
        let log = std::fs::read_to_string(&collector.log).unwrap_or_default();
        let (stats, rest): (Vec<&str>, Vec<&str>) = log
            .lines()
            .partition(|l| l.contains("\"bmp_msg_type\": \"stats\""));
        format!(
            "\n--- pmbmpd JSON log ({} statistics lines left out) ---\n{}\n--- pmbmpd log ---\n{}",
            stats.len(),
            rest.join("\n"),
            std::fs::read_to_string(&collector.daemon_log).unwrap_or_default()
        )
    };

    let bird_spec = PeerSpec::new("bird", BIRD_AS);
    let gobgp_spec = PeerSpec::new("gobgp", GOBGP_AS);
    let bird_ip = bird_spec.local_addr.to_string();
    let gobgp_ip = gobgp_spec.local_addr.to_string();
    // Bogon prefixes are rejected (RS:1101:3), unlike in the other tests' lab defaults.
    let defaults = format!(
        "{}\n[[bmp]]\nname = \"pmbmpd\"\naddress = \"{}\"\nport = {}\n\
         views = [\"pre-policy\", \"post-policy\", \"loc-rib\", \"adj-rib-out\"]\n\
         stats_interval = 1\nretry = 1\n",
        LAB_DEFAULTS.replace(
            "reject_bogon_prefixes = false",
            "reject_bogon_prefixes = true"
        ),
        relay.addr.ip(),
        relay.addr.port()
    );
    let rs = Peerex::start_with_defaults(
        &dir,
        &[
            PeerexPeer::allowing_own_next_hops(&bird_spec),
            PeerexPeer::allowing_own_next_hops(&gobgp_spec),
        ],
        "",
        &defaults,
    )?;

    // Initiation, as soon as peerex is connected.
    let ev = wait(&collector, &relay, &rs, "Initiation", |ev| {
        !of_type(ev, "init").is_empty()
    })?;
    let init = of_type(&ev, "init");
    assert_eq!(init.len(), 1, "{}", dump());
    assert_eq!(
        text(init[0], "bmp_init_info_sysname"),
        format!("peerex AS{RS_ASN} {RS_ID}"),
        "{}",
        dump()
    );
    let descr = text(init[0], "bmp_init_info_sysdescr");
    assert!(
        descr.starts_with("peerex ") && descr.contains(env!("CARGO_PKG_VERSION")),
        "sysDescr {descr:?}{}",
        dump()
    );

    // The peers and their routes.
    let bird = Bird::start(&dir, rs.target(bird_spec.clone()))?;
    let gobgp = GoBgp::start(&dir, rs.target(gobgp_spec.clone()))?;
    bird.wait_established(T)?;
    gobgp.wait_established(T)?;
    let b1_attrs = RouteAttrs {
        large_communities: vec![(BIRD_AS, 1, 1)],
        ..RouteAttrs::default()
    };
    let rejected_attrs = RouteAttrs {
        large_communities: vec![(BIRD_AS, 1, 2)],
        ..RouteAttrs::default()
    };
    bird.announce(&[B1], &b1_attrs)?;
    bird.announce(&[B2, B3, B6], &RouteAttrs::default())?;
    bird.announce(&[REJECTED], &rejected_attrs)?;
    gobgp.announce(&[G1], &RouteAttrs::default())?;
    let at_gobgp = expect_exactly(&gobgp, &ACCEPTED, T)?;
    let at_bird = expect_exactly(&bird, &[G1], T)?;
    let codes = reject_codes(&rs, "bird", REJECTED)?;
    assert_eq!(codes, vec![3], "the bogon's reject code in `peerex ctl`");

    let ev = wait(&collector, &relay, &rs, "every view", |ev| {
        let ups = of_type(ev, "peer_up");
        let up = |ip: &str| ups.iter().any(|e| text(e, "peer_ip") == ip);
        up(&bird_ip)
            && up(&gobgp_ip)
            && has_all(
                ev,
                View::Pre,
                &bird_ip,
                "update",
                &[B1, B2, B3, B6, REJECTED],
            )
            && has_all(ev, View::Pre, &gobgp_ip, "update", &[G1])
            && has_all(ev, View::Post, &bird_ip, "update", &ACCEPTED)
            && has_all(ev, View::Post, &gobgp_ip, "update", &[G1])
            && has_all(ev, View::Loc, "0.0.0.0", "update", &[B1, B2, B3, B6, G1])
            && has_all(ev, View::Out, &gobgp_ip, "update", &ACCEPTED)
            && has_all(ev, View::Out, &bird_ip, "update", &[G1])
    })?;

    // The Loc-RIB's Peer Up (RFC 9069): once, the route server itself.
    let loc_up: Vec<&Json> = of_type(&ev, "peer_up")
        .into_iter()
        .filter(|e| e.get("peer_type").as_u32() == Some(3))
        .collect();
    assert_eq!(loc_up.len(), 1, "{}", dump());
    assert_eq!(text(loc_up[0], "peer_ip"), "0.0.0.0", "{}", dump());
    assert_eq!(
        loc_up[0].get("peer_asn").as_u32(),
        Some(RS_ASN),
        "{}",
        dump()
    );
    assert_eq!(text(loc_up[0], "bgp_id"), RS_ID, "{}", dump());

    // Peer Up of each peer: who it is, and the session's addresses and ports.
    for spec in [&bird_spec, &gobgp_spec] {
        let ip = spec.local_addr.to_string();
        let ups: Vec<&Json> = of_type(&ev, "peer_up")
            .into_iter()
            .filter(|e| text(e, "peer_ip") == ip)
            .collect();
        assert_eq!(ups.len(), 1, "one Peer Up of {}{}", spec.name, dump());
        let up = ups[0];
        assert_eq!(up.get("peer_type").as_u32(), Some(0), "{}", dump());
        assert_eq!(
            up.get("peer_asn").as_u32(),
            Some(spec.local_asn),
            "{}",
            dump()
        );
        assert_eq!(text(up, "bgp_id"), spec.router_id.to_string(), "{}", dump());
        // The daemons connect to peerex (it cannot reach them on port 179).
        assert_eq!(text(up, "local_ip"), "127.0.0.1", "{}", dump());
        assert_eq!(
            up.get("local_port").as_u32(),
            Some(u32::from(rs.port)),
            "{}",
            dump()
        );
        assert!(
            up.get("remote_port").as_u32().is_some_and(|p| p != 0),
            "{}",
            dump()
        );
        let ts = text(up, "timestamp");
        assert!(
            !ts.starts_with("0000") && !ts.starts_with("1970"),
            "Peer Up timestamp {ts:?}{}",
            dump()
        );
    }
    let up_time = |ip: &str| {
        of_type(&ev, "peer_up")
            .iter()
            .find(|e| text(e, "peer_ip") == ip)
            .map(|e| text(e, "timestamp").to_string())
            .unwrap_or_default()
    };

    // What each peer sent: bird's paths with its own next hops and large communities.
    let nh = |spec: &PeerSpec, p: &str| -> IpAddr {
        if p.contains(':') {
            spec.self_next_hop_v6().into()
        } else {
            spec.self_next_hop_v4().into()
        }
    };
    let sent = |p: &str| -> (String, Shown) {
        let (spec, own) = match p {
            G1 => (&gobgp_spec, vec![]),
            B1 => (&bird_spec, vec![(BIRD_AS, 1, 1)]),
            REJECTED => (&bird_spec, vec![(BIRD_AS, 1, 2)]),
            _ => (&bird_spec, vec![]),
        };
        (
            spec.local_addr.to_string(),
            (
                spec.local_asn.to_string(),
                Some(nh(spec, p)),
                lcomm_text(&own),
            ),
        )
    };

    // Pre-policy: every path as sent, the rejected one with its reject code appended.
    assert_eq!(
        prefixes(&ev, View::Pre, &bird_ip, "update"),
        set(&[B1, B2, B3, B6, REJECTED]),
        "{}",
        dump()
    );
    assert_eq!(prefixes(&ev, View::Pre, &gobgp_ip, "update"), set(&[G1]));
    for p in [B1, B2, B3, B6, REJECTED, G1] {
        let (peer, mut want) = sent(p);
        if p == REJECTED {
            want.2
                .extend(codes.iter().map(|c| format!("{RS_ASN}:1101:{c}")));
        }
        let e = last_update(&ev, View::Pre, &peer, p).expect("waited for");
        assert_eq!(shown(e), want, "pre-policy {p}{}", dump());
        assert_eq!(text(e, "origin"), "i", "{}", dump());
        let afi = if p.contains(':') { 2 } else { 1 };
        assert_eq!(e.get("afi").as_u32(), Some(afi), "{}", dump());
        assert_eq!(e.get("safi").as_u32(), Some(1), "{}", dump());
        // When it was received: after the session came up (paths are stamped to the second).
        let secs = |t: &str| t.get(..19).unwrap_or_default().to_string();
        assert!(
            secs(text(e, "timestamp")) >= secs(&up_time(&peer)),
            "pre-policy {p} stamped before its Peer Up{}",
            dump()
        );
    }

    // Post-policy: the accepted paths only, exactly as sent.
    assert_eq!(
        prefixes(&ev, View::Post, &bird_ip, "update"),
        set(&ACCEPTED),
        "{}",
        dump()
    );
    assert_eq!(prefixes(&ev, View::Post, &gobgp_ip, "update"), set(&[G1]));
    for p in [B1, B2, B3, B6, G1] {
        let (peer, want) = sent(p);
        let e = last_update(&ev, View::Post, &peer, p).expect("waited for");
        assert_eq!(shown(e), want, "post-policy {p}{}", dump());
    }

    // Loc-RIB: the best path of every prefix (each has one), as its peer sent it.
    assert_eq!(
        prefixes(&ev, View::Loc, "0.0.0.0", "update"),
        set(&[B1, B2, B3, B6, G1]),
        "{}",
        dump()
    );
    for p in [B1, B2, B3, B6, G1] {
        let (_, want) = sent(p);
        let e = last_update(&ev, View::Loc, "0.0.0.0", p).expect("waited for");
        assert_eq!(shown(e), want, "Loc-RIB {p}{}", dump());
    }

    // Adj-RIB-Out: per client, what that client received.
    for (client, got, want) in [
        (&gobgp_ip, &at_gobgp, set(&ACCEPTED)),
        (&bird_ip, &at_bird, set(&[G1])),
    ] {
        assert_eq!(
            prefixes(&ev, View::Out, client, "update"),
            want,
            "Adj-RIB-Out of {client}{}",
            dump()
        );
        for (p, r) in got {
            let e = last_update(&ev, View::Out, client, p).expect("waited for");
            assert_eq!(
                shown(e),
                received(r),
                "Adj-RIB-Out of {client}: {p}{}",
                dump()
            );
        }
    }

    // The rejected path is in no view but pre-policy, for nobody.
    let elsewhere: Vec<&Json> = of_type(&ev, "route_monitor")
        .into_iter()
        .filter(|e| text(e, "ip_prefix") == REJECTED && view(e) != View::Pre)
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}{}", dump());
    let other: Vec<&Json> = of_type(&ev, "route_monitor")
        .into_iter()
        .filter(|e| view(e) == View::Other)
        .collect();
    assert!(other.is_empty(), "views peerex does not send: {other:?}");

    // Statistics: bird holds 5 paths (one rejected), 4 accepted (3 IPv4, 1 IPv6), and is sent
    // gobgpd's; gobgpd holds 1 and is sent bird's 4.
    let bird_stats = [(0, 1), (7, 5), (18, 5), (20, 4), (11, 0), (12, 0)];
    let bird_afi = [
        (9, 1, 4),
        (9, 2, 1),
        (19, 1, 4),
        (19, 2, 1),
        (21, 1, 3),
        (21, 2, 1),
    ];
    let gobgp_stats = [(0, 0), (7, 1), (18, 1), (20, 1), (11, 0), (12, 0)];
    let gobgp_afi = [(9, 1, 1), (19, 1, 1), (21, 1, 1)];
    let ev = collector
        .wait_for(T, |ev| {
            report_has(ev, &bird_ip, &bird_stats, &bird_afi)
                && report_has(ev, &gobgp_ip, &gobgp_stats, &gobgp_afi)
        })
        .map_err(|e| {
            Error(format!(
                "latest statistics: bird {:?}, gobgp {:?}\n{e}",
                last_report(&collector.events(), &bird_ip),
                last_report(&collector.events(), &gobgp_ip)
            ))
        })?;
    for ip in [&bird_ip, &gobgp_ip] {
        let r = last_report(&ev, ip);
        // Duplicate advertisements are counted (a value, whatever bird re-sent).
        assert!(stat(&r, 1).is_some(), "no type 1 for {ip}: {r:?}");
    }
    let mut missed = Vec::new();
    adj_rib_out_stats(&collector, &[(&bird_ip, 1), (&gobgp_ip, 4)], &mut missed);
    trace("statistics checked");

    // A withdrawal: bird withdraws an IPv4 and the IPv6 prefix, and the rejected one.
    bird.withdraw(&[B3, B6, REJECTED])?;
    expect_exactly(&gobgp, &[B1, B2], T)?;
    let ev = wait(&collector, &relay, &rs, "the withdrawals", |ev| {
        has_all(ev, View::Pre, &bird_ip, "withdraw", &[B3, B6, REJECTED])
            && has_all(ev, View::Post, &bird_ip, "withdraw", &[B3, B6])
            && has_all(ev, View::Loc, "0.0.0.0", "withdraw", &[B3, B6])
            && has_all(ev, View::Out, &gobgp_ip, "withdraw", &[B3, B6])
    })?;
    for (v, peer) in [
        (View::Pre, &bird_ip),
        (View::Post, &bird_ip),
        (View::Loc, &"0.0.0.0".to_string()),
        (View::Out, &gobgp_ip),
    ] {
        for e in routes(&ev, v, peer, "withdraw") {
            let p = text(e, "ip_prefix");
            assert_eq!(
                e.get("afi").as_u32(),
                Some(if p.contains(':') { 2 } else { 1 }),
                "{}",
                dump()
            );
        }
        // Nothing else was withdrawn.
        let gone = prefixes(&ev, v, peer, "withdraw");
        assert!(
            gone.iter()
                .all(|p| [B3, B6, REJECTED].contains(&p.as_str())),
            "{v:?} of {peer} withdrew {gone:?}{}",
            dump()
        );
    }
    collector
        .wait_for(T, |ev| {
            report_has(
                ev,
                &bird_ip,
                &[(0, 0), (7, 2), (18, 2), (20, 2)],
                &[(9, 1, 2), (21, 1, 2)],
            )
        })
        .map_err(|e| {
            Error(format!(
                "latest statistics after the withdrawal: bird {:?}, gobgp {:?}\n{e}",
                last_report(&collector.events(), &bird_ip),
                last_report(&collector.events(), &gobgp_ip)
            ))
        })?;
    adj_rib_out_stats(&collector, &[(&gobgp_ip, 2)], &mut missed);
    trace("withdrawal checked");

    // gobgpd dies: Peer Down reason 4 (closed without a NOTIFICATION); its route leaves the
    // Loc-RIB and bird's Adj-RIB-Out.
    gobgp.kill();
    expect_exactly(&bird, &[], T)?;
    let ev = wait(&collector, &relay, &rs, "gobgpd's Peer Down", |ev| {
        of_type(ev, "peer_down")
            .iter()
            .any(|e| text(e, "peer_ip") == gobgp_ip)
            && has_all(ev, View::Loc, "0.0.0.0", "withdraw", &[G1])
            && has_all(ev, View::Out, &bird_ip, "withdraw", &[G1])
    })?;
    let down: Vec<&Json> = of_type(&ev, "peer_down")
        .into_iter()
        .filter(|e| text(e, "peer_ip") == gobgp_ip)
        .collect();
    assert_eq!(down.len(), 1, "{}", dump());
    assert_eq!(down[0].get("reason_type").as_u32(), Some(4), "{}", dump());
    assert_eq!(
        down[0].get("peer_asn").as_u32(),
        Some(GOBGP_AS),
        "{}",
        dump()
    );

    // bird shuts its session down: reason 3 (the peer's NOTIFICATION); its routes leave the
    // Loc-RIB.
    bird.shutdown_session(Some("bmp test"))?;
    let ev = wait(&collector, &relay, &rs, "bird's Peer Down", |ev| {
        of_type(ev, "peer_down")
            .iter()
            .any(|e| text(e, "peer_ip") == bird_ip)
            && has_all(ev, View::Loc, "0.0.0.0", "withdraw", &[B1, B2])
    })?;
    let down: Vec<&Json> = of_type(&ev, "peer_down")
        .into_iter()
        .filter(|e| text(e, "peer_ip") == bird_ip)
        .collect();
    assert_eq!(down.len(), 1, "{}", dump());
    assert_eq!(down[0].get("reason_type").as_u32(), Some(3), "{}", dump());
    assert_eq!(
        down[0].get("peer_asn").as_u32(),
        Some(BIRD_AS),
        "{}",
        dump()
    );
    trace("peer downs checked");

    // peerex stops: Termination, and the connection closes.
    rs.stop();
    let ev = wait(&collector, &relay, &rs, "Termination", |ev| {
        !of_type(ev, "term").is_empty()
    })?;
    let term = of_type(&ev, "term");
    assert_eq!(term.len(), 1, "{}", dump());
    // Reason 0 (RFC 7854 §4.5).
    assert_eq!(
        text(term[0], "bmp_term_info_reason"),
        "Session administratively closed",
        "{}",
        dump()
    );
    assert!(
        relay.wait_all_closed(T),
        "peerex did not close its BMP connection"
    );
    let discarded: Vec<String> = std::fs::read_to_string(&collector.daemon_log)?
        .lines()
        .filter(|l| l.contains("discarded") || l.contains("malformed"))
        .map(String::from)
        .collect();
    assert!(discarded.is_empty(), "pmbmpd: {discarded:?}{}", dump());

    // Every byte peerex sent: whole BMP messages, one connection, decoded by peerex's decoder
    // and by tshark.
    let conns = relay.connections();
    assert_eq!(conns.len(), 1, "peerex reconnected: {conns:?}");
    let (messages, rest) = split(&conns[0].sent)
        .map_err(|e| Error(format!("the BMP stream does not frame: {e:?}")))?;
    assert_eq!(rest, 0, "a partial message at the end of the stream");
    let mut kinds = Vec::new();
    let mut downs = Vec::new();
    for m in &messages {
        let (decoded, _) = Message::decode(m)
            .map_err(|e| Error(format!("peerex's decoder: {e:?} in {m:?}")))?
            .ok_or_else(|| Error::new("a message split in two"))?;
        let header = match &decoded {
            Message::RouteMonitoring { peer, .. }
            | Message::StatisticsReport { peer, .. }
            | Message::PeerDown { peer, .. }
            | Message::PeerUp { peer, .. } => Some(peer),
            _ => None,
        };
        if let Some(h) = header {
            assert_eq!(
                h.flags & msg::flags::LEGACY_AS_PATH,
                0,
                "4-octet AS paths: {decoded:?}"
            );
            assert!(h.address.is_ipv4(), "{decoded:?}");
            assert_eq!(h.flags & msg::flags::IPV6, 0, "V flag: {decoded:?}");
            let who = match h.peer_type {
                PeerType::LocRib => Some((IpAddr::from([0, 0, 0, 0]), RS_ASN, RS_ID.to_string())),
                PeerType::Global => [&bird_spec, &gobgp_spec]
                    .iter()
                    .find(|s| s.local_addr == h.address)
                    .map(|s| (s.local_addr, s.local_asn, s.router_id.to_string())),
                _ => None,
            };
            assert_eq!(
                Some((h.address, h.asn, h.bgp_id.to_string())),
                who,
                "per-peer header: {decoded:?}"
            );
        }
        if let Message::PeerUp { peer, body } = &decoded {
            if peer.peer_type == PeerType::Global {
                let sent = peerex::wire::Open::decode(&body.sent_open)
                    .map_err(|e| Error(format!("sent OPEN: {e:?}")))?;
                let got = peerex::wire::Open::decode(&body.received_open)
                    .map_err(|e| Error(format!("received OPEN: {e:?}")))?;
                assert_eq!(sent.bgp_id.to_string(), RS_ID);
                assert_eq!(u32::from(sent.my_as), RS_ASN);
                assert_eq!(got.bgp_id, peer.bgp_id, "{decoded:?}");
            }
        }
        if let Message::PeerDown { peer, reason } = &decoded {
            if peer.peer_type == PeerType::Global {
                downs.push((peer.address, reason.clone()));
            }
        }
        kinds.push(m[5]);
    }
    assert_eq!(kinds.first(), Some(&4), "Initiation first");
    // The Peer Downs in full: gobgpd's without data, bird's with the NOTIFICATION it sent.
    assert_eq!(downs.len(), 2, "{downs:?}");
    assert_eq!(
        downs[0],
        (gobgp_spec.local_addr, msg::PeerDownReason::RemoteNoData)
    );
    assert_eq!(downs[1].0, bird_spec.local_addr);
    let msg::PeerDownReason::RemoteNotification(pdu) = &downs[1].1 else {
        return Err(Error(format!("bird's Peer Down: {downs:?}")));
    };
    match peerex::wire::Message::decode(pdu.clone(), &peerex::wire::ParseCtx::default()) {
        Ok(peerex::wire::Message::Notification(n)) => {
            assert_eq!(n.code.parts(), (6, 2), "{n}");
            assert_eq!(n.shutdown_message(), Some("bmp test"), "{n}");
        }
        other => return Err(Error(format!("bird's Peer Down carries {other:?}"))),
    }
    assert_eq!(kinds.last(), Some(&5), "Termination last");
    trace(format_args!("{} BMP messages recorded", messages.len()));

    let file = dir.join("bmp.pcap");
    let IpAddr::V4(from) = conns[0].from.ip() else {
        return Err(Error::new("peerex connected over IPv6"));
    };
    let SocketAddr::V4(to) = relay.addr else {
        return Err(Error::new("the relay is not on IPv4"));
    };
    std::fs::write(
        &file,
        tshark::pcap(&[tshark::Flow {
            from: SocketAddrV4::new(from, conns[0].from.port()),
            to,
            segments: messages.iter().map(|m| m.to_vec()).collect(),
        }]),
    )?;
    let port = relay.addr.port();
    let verbose = tshark::tshark(&file, port, "bmp", &["-V"])?;
    let problems = tshark::problems(&verbose);
    assert!(
        problems.is_empty(),
        "tshark reports {problems:?} in {}",
        file.display()
    );
    let fields = tshark::tshark(&file, port, "bmp", &["-T", "fields", "-e", "bmp.type"])?;
    let seen: Vec<u8> = fields
        .lines()
        .flat_map(|l| l.split(','))
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    assert_eq!(seen, kinds, "the BMP messages tshark reads");
    assert!(missed.is_empty(), "{}", missed.join("\n"));
    Ok(())
}

/// BMP collectors come and go with `peerex ctl reload`, against the real binary, a bird2 peer
/// and pmacct's pmbmpd: adding a `[[bmp]]` table connects and dumps, changing it restarts
/// that collector (Termination, then a new Initiation and dump with the new views), removing
/// it sends Termination; `ctl status` and the looking glass show the collector; the BGP
/// session is never touched.
mod reload {
    use std::fmt::Write as _;
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::common::json::Json;
    use super::common::pmbmpd::Pmbmpd;
    use super::common::{
        BgpDaemon, Bird, PeerSpec, Peerex, PeerexPeer, Result, RouteAttrs, TempDir,
    };

    const T: Duration = Duration::from_secs(60);

    fn config(dir: &TempDir, port: u16, lg: u16, peer: &PeerexPeer, bmp: &str) -> String {
        let mut cfg = format!(
            "[server]\nasn = {}\nrouter_id = \"10.255.255.1\"\nlisten = [\"127.0.0.1:{port}\"]\n\n\
             [control]\nsocket = \"{}\"\n\n[looking_glass]\nlisten = \"127.0.0.1:{lg}\"\n\n\
             [defaults]\n{}",
            super::common::peerex::RS_ASN,
            dir.join("peerex.sock").display(),
            super::common::peerex::LAB_DEFAULTS
        );
        let _ = write!(
            cfg,
            "\n[[peer]]\nname = \"{}\"\nasn = {}\naddress = \"{}\"\n{}\n{bmp}",
            peer.name, peer.asn, peer.address, peer.extra
        );
        cfg
    }

    fn collector(at: SocketAddr, views: &str) -> String {
        format!(
            "[[bmp]]\nname = \"pm\"\naddress = \"{}\"\nport = {}\nviews = [{views}]\nstats_interval = 0\nretry = 1\n",
            at.ip(),
            at.port()
        )
    }

    fn reload(rs: &Peerex) -> Result<Json> {
        rs.ctl_json(&["reload"])
    }

    fn strings(v: &Json) -> Vec<String> {
        v.as_array()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    fn count(events: &[Json], kind: &str) -> usize {
        events
            .iter()
            .filter(|e| e.get("bmp_msg_type").as_str() == Some(kind))
            .count()
    }

    /// The neighbour's Established transitions, from the looking glass.
    fn transitions(lg: SocketAddr, name: &str) -> Result<u64> {
        let r = super::common::http::get(lg, &format!("/api/v1/neighbours/{name}"))?;
        let v = Json::parse(&r.body).map_err(super::common::Error)?;
        v.at(&["neighbour", "established_transitions"])
            .as_u64()
            .or_else(|| v.get("established_transitions").as_u64())
            .ok_or_else(|| {
                super::common::Error(format!("no established_transitions in {}", r.body))
            })
    }

    #[test]
    fn reload_adds_changes_and_removes_a_collector_without_touching_sessions() -> Result<()> {
        let dir = TempDir::new("bmp-reload");
        let pm = Pmbmpd::start(&dir)?;
        let spec = PeerSpec::new("supplier", 64501);
        let peer = PeerexPeer::for_spec(&spec);
        let (port, lg_port) = (super::common::unique_port(), super::common::unique_port());
        let lg = SocketAddr::from(([127, 0, 0, 1], lg_port));
        let rs = Peerex::start_with_config(&dir, &config(&dir, port, lg_port, &peer, ""), port)?;
        let bird = Bird::start(&dir, rs.target(spec))?;
        bird.wait_established(T)?;
        bird.announce(&["10.31.0.0/24"], &RouteAttrs::default())?;
        assert!(super::common::wait_until(T, || rs
            .ctl(&["routes", "--peer", "supplier"])
            .is_ok_and(|(_, out, _)| out.contains("10.31.0.0/24"))));
        let before = transitions(lg, "supplier")?;

        // Added: it connects and gets the dump (Peer Up, then the route pre-policy).
        let set = |bmp: &str| -> Result<Json> {
            std::fs::write(&rs.config, config(&dir, port, lg_port, &peer, bmp))?;
            reload(&rs)
        };
        let r = set(&collector(pm.addr, "\"pre-policy\""))?;
        assert_eq!(
            strings(r.get("bmp")),
            vec!["pm (added)".to_string()],
            "{r:?}"
        );
        let ev = pm.wait_for(T, |ev| {
            ev.iter().any(|e| {
                e.get("bmp_msg_type").as_str() == Some("route_monitor")
                    && e.get("ip_prefix").as_str() == Some("10.31.0.0/24")
            })
        })?;
        assert_eq!(count(&ev, "init"), 1);
        assert_eq!(count(&ev, "peer_up"), 1, "one Peer Up: the bird peer");
        assert!(
            !ev.iter().any(|e| e.get("is_loc").as_u64() == Some(1)),
            "no Loc-RIB without the view"
        );
        // ctl status and the looking glass show it.
        assert!(super::common::wait_until(T, || rs
            .ctl_json(&["status"])
            .is_ok_and(|s| {
                let c = &s
                    .get("bmp_collectors")
                    .as_array()
                    .first()
                    .cloned()
                    .unwrap_or(Json::Null);
                c.get("name").as_str() == Some("pm")
                    && c.get("state").as_str() == Some("up")
                    && c.get("messages").as_u64().is_some_and(|m| m >= 3)
            })));
        let (_, text, _) = rs.ctl(&["status"])?;
        assert!(
            text.contains("BMP collectors:") && text.contains("pm"),
            "{text}"
        );
        let st = Json::parse(&super::common::http::get(lg, "/api/v1/status")?.body)
            .map_err(super::common::Error)?;
        let c = st
            .get("bmp_collectors")
            .as_array()
            .first()
            .cloned()
            .unwrap_or(Json::Null);
        assert_eq!(c.get("name").as_str(), Some("pm"));
        assert_eq!(
            c.get("address").as_str(),
            Some(pm.addr.to_string().as_str())
        );
        let page = super::common::http::request_accept(lg, "GET", "/", "text/html")?.body;
        assert!(
            page.contains("<h2>BMP collectors</h2>")
                && page.contains("<td>pre-policy</td><td>up</td>"),
            "{page}"
        );
        let metrics = super::common::http::get(lg, "/metrics")?.body;
        assert!(
            metrics.contains("peerex_bmp_state{collector=\"pm\",state=\"up\"} 1"),
            "{metrics}"
        );

        // Changed (a view added): Termination, a new session, and the Loc-RIB this time.
        let r = set(&collector(pm.addr, "\"pre-policy\", \"loc-rib\""))?;
        assert_eq!(
            strings(r.get("bmp")),
            vec!["pm (changed)".to_string()],
            "{r:?}"
        );
        let ev = pm.wait_for(T, |ev| {
            ev.iter().any(|e| {
                e.get("is_loc").as_u64() == Some(1)
                    && e.get("bmp_msg_type").as_str() == Some("route_monitor")
                    && e.get("ip_prefix").as_str() == Some("10.31.0.0/24")
            })
        })?;
        assert_eq!(
            count(&ev, "term"),
            1,
            "the first session was closed with Termination"
        );
        assert_eq!(count(&ev, "init"), 2);

        // Unchanged on a reload that touches nothing BMP: no new session.
        let r = reload(&rs)?;
        assert!(strings(r.get("bmp")).is_empty(), "{r:?}");

        // Removed: Termination.
        let r = set("")?;
        assert_eq!(
            strings(r.get("bmp")),
            vec!["pm (removed)".to_string()],
            "{r:?}"
        );
        let ev = pm.wait_for(T, |ev| count(ev, "term") == 2)?;
        assert_eq!(count(&ev, "init"), 2, "no session after the removal");
        assert!(super::common::wait_until(T, || rs
            .ctl_json(&["status"])
            .is_ok_and(|s| s.get("bmp_collectors").as_array().is_empty())));

        // The BGP session was never touched.
        assert_eq!(transitions(lg, "supplier")?, before);
        assert_eq!(
            bird.session_state()?,
            super::common::SessionState::Established
        );
        rs.stop();
        Ok(())
    }
}
