//! ASPA path verification through the real binary with real bird2 and gobgp peers: ASPAs
//! from a JSON file (rpki-client's `aspas`) and over RTR version 2 from the `rpki` crate's
//! own RTR server, started in-process. A valley (provider → customer → provider) is rejected
//! from an `aspa = "reject"` peer with its reason and passes tagged from a `tag` peer; a
//! valid path passes; a changed ASPA set turns a valid path invalid and the member loses it
//! with no session reset. And Debian's stayrtr, whose ASPA PDUs follow an earlier draft,
//! keeps its RTR session and its VRPs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::http;
use common::json::Json;
use common::peerex::RS_ASN;
use common::process::Proc;
use common::{
    unique_port, wait_until, BgpDaemon, Bird, Error, GoBgp, PeerSpec, Peerex, PeerexPeer,
    ReceivedRoute, Result, RouteAttrs, SessionState, TempDir,
};

const T: Duration = Duration::from_secs(30);

/// The peers: a strict and a lax RS-client, and a member that receives.
const STRICT: u32 = 206_031;
const LAX: u32 = 206_032;
const MEMBER: u32 = 207_031;
/// An origin whose ASPA names both clients as providers: its routes are valid.
const O1: u32 = 206_101;
/// The valley: origin O's provider is P; P's own provider is elsewhere; C is P's customer
/// (and a customer of both clients). C taking P's route up to a client is a leak.
const C: u32 = 206_201;
const P: u32 = 206_202;
const O: u32 = 206_203;
/// An origin without an ASPA: its paths are "unknown".
const NOBODY: u32 = 206_301;

/// The ASPAs of the scenario; `o1_providers` are O1's.
fn scenario(o1_providers: &[u32]) -> Vec<(u32, Vec<u32>)> {
    vec![
        (O1, o1_providers.to_vec()),
        (O, vec![P]),
        (P, vec![206_999]),
        (C, vec![STRICT, LAX, P]),
    ]
}

/// `peerex ctl --json ARGS`: the `result` of the answer.
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
        return Err(Error(format!("peerex ctl {args:?} failed: {text}")));
    }
    let v = Json::parse(&text).map_err(|e| Error(format!("{e}: {text}")))?;
    Ok(v.get("result").clone())
}

/// The filtered routes of `peer`: prefix → (reasons in words, ASPA outcome).
fn filtered(rs: &Peerex, peer: &str) -> Result<BTreeMap<String, (BTreeSet<String>, String)>> {
    let v = ctl(rs, &["routes", "--peer", peer, "--filtered"])?;
    let mut out = BTreeMap::new();
    for r in v.get("routes").as_array() {
        let reasons = r
            .get("reasons")
            .as_array()
            .iter()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        let aspa = r.get("aspa").as_str().unwrap_or_default().to_string();
        out.insert(
            r.get("prefix").as_str().unwrap_or_default().to_string(),
            (reasons, aspa),
        );
    }
    Ok(out)
}

fn expect_exactly(d: &dyn BgpDaemon, want: &[&str]) -> Result<BTreeMap<String, ReceivedRoute>> {
    common::expect_exactly(d, want, T)
}

/// The `RS:1001:N` ASPA tag values of a received route.
fn aspa_tag(r: &ReceivedRoute) -> Vec<u32> {
    r.large_communities
        .iter()
        .filter(|(g, f, _)| *g == RS_ASN && *f == 1001)
        .map(|(_, _, v)| *v)
        .collect()
}

fn sessions_established(rs: &Peerex) -> usize {
    std::fs::read_to_string(&rs.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("session established"))
        .count()
}

struct Lab {
    rs: Peerex,
    strict: Bird,
    lax: Bird,
    member: GoBgp,
    lg: std::net::SocketAddr,
}

/// peerex with the three peers (ASPA reject, tag, and a member) and `rpki_section` as its
/// `[rpki]` body; RPKI tags on export; the looking glass on.
fn lab(dir: &TempDir, rpki_section: &str) -> Result<Lab> {
    let strict = PeerSpec::new("strict", STRICT);
    let lax = PeerSpec::new("lax", LAX);
    let m = PeerSpec::new("member", MEMBER);
    let lg: std::net::SocketAddr = format!("127.0.0.1:{}", unique_port())
        .parse()
        .map_err(|e| Error(format!("{e}")))?;
    let rs = Peerex::start_with_defaults(
        dir,
        &[
            PeerexPeer::allowing_own_next_hops(&strict).with("aspa = \"reject\""),
            PeerexPeer::allowing_own_next_hops(&lax).with("aspa = \"tag\""),
            PeerexPeer::allowing_own_next_hops(&m),
        ],
        "",
        &format!(
            "\n[policy]\nrpki_communities = true\n\n[rpki]\n{rpki_section}\n\n[looking_glass]\nlisten = \"{lg}\"\n"
        ),
    )?;
    let strict = Bird::start(dir, rs.target(strict))?;
    let lax = Bird::start(dir, rs.target(lax))?;
    let member = GoBgp::start(dir, rs.target(m))?;
    for d in [&strict as &dyn BgpDaemon, &lax, &member] {
        d.wait_established(T)?;
    }
    Ok(Lab {
        rs,
        strict,
        lax,
        member,
        lg,
    })
}

/// The shared scenario once ASPAs are loaded: strict sends a valid path (`base`.1), a
/// valley (`base`.2) and an unknown path (`base`.3), lax the valley (`lax_base`.2). Then
/// `flip` turns O1's ASPA against the clients and the valid route must go.
fn run_scenario(
    lab: &Lab,
    base: &str,
    lax_base: &str,
    flip: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let p = |b: &str, n: u8| format!("{b}.{n}.0/24");
    let (valid, valley, unknown, lax_valley) = (p(base, 1), p(base, 2), p(base, 3), p(lax_base, 2));
    lab.strict.announce(&[&valid], &RouteAttrs::path(&[O1]))?;
    lab.strict
        .announce(&[&valley], &RouteAttrs::path(&[C, P, O]))?;
    lab.strict
        .announce(&[&unknown], &RouteAttrs::path(&[NOBODY]))?;
    lab.lax
        .announce(&[&lax_valley], &RouteAttrs::path(&[C, P, O]))?;
    let got = expect_exactly(&lab.member, &[&valid, &unknown, &lax_valley])?;
    assert_eq!(aspa_tag(&got[&valid]), vec![1], "valid");
    assert_eq!(
        aspa_tag(&got[&unknown]),
        vec![2],
        "unknown: no ASPA for the origin"
    );
    assert_eq!(
        aspa_tag(&got[&lax_valley]),
        vec![4],
        "invalid, tagged from a `tag` peer"
    );
    let f = filtered(&lab.rs, "strict")?;
    let (reasons, state) = f.get(&valley).cloned().unwrap_or_default();
    assert_eq!(
        reasons,
        BTreeSet::from(["ASPA invalid".to_string()]),
        "{f:?}"
    );
    assert_eq!(state, "invalid");
    // The looking glass: why the member does not get the valley, with its RS:1101:N code.
    let why = http::get(
        lab.lg,
        &format!(
            "/api/v1/why?prefix={}&neighbour=member&exact=1",
            valley.replace('/', "%2F")
        ),
    )?
    .json()?;
    let paths = why.get("paths").as_array();
    let first = paths
        .first()
        .ok_or_else(|| Error::new("why lists no path"))?;
    assert_eq!(first.get("aspa").as_str(), Some("invalid"), "{why:?}");
    let codes: Vec<&str> = first
        .get("reject_reasons")
        .as_array()
        .iter()
        .filter_map(|r| r.get("community").as_str())
        .collect();
    assert_eq!(
        codes,
        vec![format!("{RS_ASN}:1101:65530").as_str()],
        "{why:?}"
    );
    let metrics = http::get(lab.lg, "/metrics")?.body;
    for line in [
        "peerex_aspa_customers 4",
        "peerex_rib_paths_aspa{state=\"invalid\"} 2",
        "peerex_rib_paths_aspa{state=\"valid\"} 1",
        "peerex_rib_paths_aspa{state=\"unknown\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in:\n{metrics}"
        );
    }

    let established = sessions_established(&lab.rs);
    flip()?;
    expect_exactly(&lab.member, &[&unknown, &lax_valley])?;
    let f = filtered(&lab.rs, "strict")?;
    assert_eq!(
        f.get(&valid).map(|(r, s)| (r.len(), s.as_str())),
        Some((1, "invalid")),
        "{f:?}"
    );
    for d in [&lab.strict as &dyn BgpDaemon, &lab.lax, &lab.member] {
        assert_eq!(d.session_state()?, SessionState::Established);
    }
    assert_eq!(
        sessions_established(&lab.rs),
        established,
        "no session went down"
    );
    Ok(())
}

fn write_file(path: &std::path::Path, roas: &[(&str, u32)], aspas: &str) -> Result<()> {
    let roas: Vec<String> = roas
        .iter()
        .map(|(p, a)| format!(r#"{{"prefix":"{p}","maxLength":24,"asn":"AS{a}"}}"#))
        .collect();
    let text = format!(
        r#"{{"metadata":{{"buildtime":"2026-01-01T00:00:00Z"}},"roas":[{}],{aspas}}}"#,
        roas.join(",")
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// rpki-client's `aspas` member; providers as numbers and as "AS" strings.
fn rpki_client_aspas(aspas: &[(u32, Vec<u32>)]) -> String {
    let items: Vec<String> = aspas
        .iter()
        .enumerate()
        .map(|(i, (c, p))| {
            let p: Vec<String> = p
                .iter()
                .map(|a| {
                    if i % 2 == 0 {
                        a.to_string()
                    } else {
                        format!("\"AS{a}\"")
                    }
                })
                .collect();
            format!(
                r#"{{"customer_asid":{c},"expires":1900000000,"providers":[{}]}}"#,
                p.join(",")
            )
        })
        .collect();
    format!(r#""aspas":[{}]"#, items.join(","))
}

#[test]
fn aspa_from_a_json_file() -> Result<()> {
    let dir = TempDir::new("aspa-json");
    let file = dir.join("rpki.json");
    write_file(&file, &[], &rpki_client_aspas(&scenario(&[STRICT, LAX])))?;
    let lab = lab(
        &dir,
        &format!("vrp_files = [\"{}\"]\nfile_refresh = 1", file.display()),
    )?;
    run_scenario(&lab, "80.92", "80.93", || {
        std::thread::sleep(Duration::from_millis(1100));
        write_file(&file, &[], &rpki_client_aspas(&scenario(&[206_999])))
    })?;

    // A change of policy: lax goes from "tag" to "reject". The dry run counts its valley as
    // newly rejected and the member as losing it; the reload applies it without a reset.
    let cfg = std::fs::read_to_string(&lab.rs.config)?;
    let next = cfg.replacen("aspa = \"tag\"", "aspa = \"reject\"", 1);
    assert_ne!(cfg, next);
    std::fs::write(&lab.rs.config, &next)?;
    let dry = lab.rs.ctl_json(&["reload", "--dry-run"])?;
    let impact = |peer: &str, key: &str| {
        dry.get("route_impact")
            .as_array()
            .iter()
            .find(|r| r.get("peer").as_str() == Some(peer))
            .and_then(|r| r.get(key).as_u32())
    };
    assert_eq!(impact("lax", "newly_rejected"), Some(1), "{dry:?}");
    assert_eq!(impact("member", "lost"), Some(1), "{dry:?}");
    let established = sessions_established(&lab.rs);
    lab.rs.ctl_json(&["reload"])?;
    expect_exactly(&lab.member, &["80.92.3.0/24"])?;
    assert_eq!(
        sessions_established(&lab.rs),
        established,
        "no session went down"
    );
    Ok(())
}

/// An RTR cache from the `rpki` crate (`rpki::rtr::server`): full sets, and diffs from any
/// serial it has published, announcing changes with Serial Notify.
mod cache {
    use super::*;
    use rpki::resources::Asn;
    use rpki::rtr::payload::{Aspa, Payload, PayloadRef, Timing};
    use rpki::rtr::pdu::ProviderAsns;
    use rpki::rtr::server::{NotifySender, PayloadDiff, PayloadSet, PayloadSource, Server};
    use rpki::rtr::{Action, State};

    type Aspas = BTreeMap<u32, Vec<u32>>;

    #[derive(Clone, Default)]
    pub struct Source(Arc<Mutex<(State, Vec<Aspas>)>>);

    fn payload(c: u32, p: &[u32]) -> Payload {
        let providers = ProviderAsns::try_from_iter(p.iter().map(|a| Asn::from_u32(*a)))
            .unwrap_or_else(|_| ProviderAsns::empty());
        Payload::Aspa(Aspa::new(Asn::from_u32(c), providers))
    }

    pub struct Items(Vec<(Payload, Action)>, usize);

    impl Items {
        fn step(&mut self) -> Option<&(Payload, Action)> {
            let i = self.1;
            self.1 += 1;
            self.0.get(i)
        }
    }

    impl PayloadSet for Items {
        fn next(&mut self) -> Option<PayloadRef<'_>> {
            self.step().map(|(p, _)| p.as_ref())
        }
    }

    impl PayloadDiff for Items {
        fn next(&mut self) -> Option<(PayloadRef<'_>, Action)> {
            self.step().map(|(p, a)| (p.as_ref(), *a))
        }
    }

    impl Source {
        pub fn publish(&self, aspas: &[(u32, Vec<u32>)]) {
            if let Ok(mut g) = self.0.lock() {
                if !g.1.is_empty() {
                    g.0.inc();
                }
                g.1.push(aspas.iter().cloned().collect());
            }
        }
    }

    impl PayloadSource for Source {
        type Set = Items;
        type Diff = Items;

        fn ready(&self) -> bool {
            self.0.lock().map(|g| !g.1.is_empty()).unwrap_or(false)
        }

        fn notify(&self) -> State {
            self.0.lock().map(|g| g.0).unwrap_or_default()
        }

        fn full(&self) -> (State, Items) {
            let g = self.0.lock().unwrap();
            let all = g.1.last().cloned().unwrap_or_default();
            let items = all
                .iter()
                .map(|(c, p)| (payload(*c, p), Action::Announce))
                .collect();
            (g.0, Items(items, 0))
        }

        fn diff(&self, state: State) -> Option<(State, Items)> {
            let g = self.0.lock().unwrap();
            if state.session() != g.0.session() {
                return None;
            }
            // Serial n is the n-th publication (0-based).
            let back = g.0.serial().0.checked_sub(state.serial().0)? as usize;
            let old = g.1.len().checked_sub(back + 1).and_then(|i| g.1.get(i))?;
            let new = g.1.last()?;
            let mut items = Vec::new();
            for (c, p) in new {
                if old.get(c) != Some(p) {
                    // An announcement replaces the customer's provider set.
                    items.push((payload(*c, p), Action::Announce));
                }
            }
            for (c, p) in old {
                if !new.contains_key(c) {
                    items.push((payload(*c, p), Action::Withdraw));
                }
            }
            Some((g.0, Items(items, 0)))
        }

        fn timing(&self) -> Timing {
            Timing {
                refresh: 1,
                retry: 1,
                expire: 600,
            }
        }
    }

    /// Accepted connections as the stream the server takes.
    pub struct Accept(pub tokio::net::TcpListener);

    impl futures_util::Stream for Accept {
        type Item = std::io::Result<tokio::net::TcpStream>;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.0.poll_accept(cx).map(|r| Some(r.map(|(s, _)| s)))
        }
    }

    /// Starts the server on `port` in its own runtime; returns the runtime (dropping it
    /// stops the server) and the notifier.
    pub fn start(port: u16, source: Source) -> Result<(tokio::runtime::Runtime, NotifySender)> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))?;
        let notify = NotifySender::new();
        let server = Server::new(Accept(listener), notify.clone(), source);
        rt.spawn(server.run());
        Ok((rt, notify))
    }
}

#[test]
fn aspa_over_rtr_v2_from_the_rpki_crate_cache() -> Result<()> {
    let dir = TempDir::new("aspa-rtr");
    let port = unique_port();
    let source = cache::Source::default();
    source.publish(&scenario(&[STRICT, LAX]));
    let (_rt, mut notify) = cache::start(port, source.clone())?;
    let lab = lab(
        &dir,
        &format!("rtr = [\"127.0.0.1:{port}\"]\nrtr_retry = 1"),
    )?;
    run_scenario(&lab, "80.94", "80.95", || {
        source.publish(&scenario(&[206_999]));
        notify.notify();
        Ok(())
    })
}

/// Debian's stayrtr 0.5.1 serving ROAs and ASPAs in its (earlier draft) format: peerex keeps
/// the session, falls back to RTR version 1 once, and validates with the VRPs.
#[test]
fn stayrtr_with_old_format_aspas_keeps_session_and_vrps() -> Result<()> {
    if Command::new("stayrtr").arg("-version").output().is_err() {
        return Err(Error::new("stayrtr is not installed (.ci/install-deps)"));
    }
    let dir = TempDir::new("aspa-stayrtr");
    let file = dir.join("stayrtr.json");
    let old_aspas = format!(
        r#""provider_authorizations":{{"ipv4":[{{"customer_asid":{O1},"providers":[{STRICT}]}}],"ipv6":[{{"customer_asid":{O1},"providers":[{STRICT}]}}]}}"#
    );
    write_file(
        &file,
        &[("80.96.1.0/24", O1), ("80.96.2.0/24", 206_999)],
        &old_aspas,
    )?;
    let port = unique_port();
    let mut cmd = Command::new("stayrtr");
    cmd.arg("-cache")
        .arg(&file)
        .arg("-bind")
        .arg(format!("127.0.0.1:{port}"))
        .args(["-checktime=false", "-refresh", "1"])
        .arg("-metrics.addr")
        .arg(format!("127.0.0.1:{}", unique_port()));
    let _cache = Proc::spawn("stayrtr", cmd, &dir.join("stayrtr.log"), dir.path())?;
    if !wait_until(T, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }) {
        return Err(Error::new("stayrtr did not start listening"));
    }
    let strict = PeerSpec::new("strict", STRICT);
    let m = PeerSpec::new("member", MEMBER);
    let rs = Peerex::start_with_defaults(
        &dir,
        &[
            PeerexPeer::allowing_own_next_hops(&strict).with("rpki = \"reject\""),
            PeerexPeer::allowing_own_next_hops(&m),
        ],
        "",
        &format!("\n[rpki]\nrtr = [\"127.0.0.1:{port}\"]\nrtr_retry = 1\n"),
    )?;
    let ds = Bird::start(&dir, rs.target(strict))?;
    let dm = GoBgp::start(&dir, rs.target(m))?;
    for d in [&ds as &dyn BgpDaemon, &dm] {
        d.wait_established(T)?;
    }
    ds.announce(&["80.96.1.0/24", "80.96.2.0/24"], &RouteAttrs::path(&[O1]))?;
    // 80.96.2.0/24 belongs to another AS: RPKI invalid, so the VRPs are in use.
    expect_exactly(&dm, &["80.96.1.0/24"])?;
    let v = ctl(&rs, &["routes", "--peer", "strict", "--filtered"])?;
    let codes: Vec<(String, Vec<u32>)> = v
        .get("routes")
        .as_array()
        .iter()
        .map(|r| {
            (
                r.get("prefix").as_str().unwrap_or_default().to_string(),
                r.get("reason_codes")
                    .as_array()
                    .iter()
                    .filter_map(|c| c.as_u32())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(codes, vec![("80.96.2.0/24".to_string(), vec![13])]);
    let log = std::fs::read_to_string(&rs.log)?;
    let fallbacks = log
        .lines()
        .filter(|l| l.contains("using RTR version 1"))
        .count();
    assert_eq!(
        fallbacks,
        1,
        "the fallback is logged once:\n{}",
        rs.log_tail(40)
    );
    // The session to the cache stays up: one session, no failures after the fallback.
    std::thread::sleep(Duration::from_secs(3));
    let log = std::fs::read_to_string(&rs.log)?;
    let after: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("using RTR version 1"))
        .filter(|l| l.contains("RTR session failed") || l.contains("RTR cache closed"))
        .collect();
    assert!(after.is_empty(), "{after:?}");
    Ok(())
}
