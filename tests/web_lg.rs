//! The web looking glass in a real browser: peerex with two bird2 peers (a supplier whose
//! routes are accepted or filtered for eight different reasons, and a member that receives
//! the accepted ones), every view rendered by Debian's chromium in headless mode (the DOM it
//! built checked for the real routes, every reason in words with its `RS:1101:N`, the `why`
//! answer for an exported and for a refused route) with a screenshot of each written to
//! the output directory (`$WEB_LG_OUT`, else `web-lg/` beside cargo's `target/tmp`); every
//! link of every page followed and answered 200; every page's HTML validated by Debian's
//! `tidy`. chromium and tidy must be installed (`.ci/install-deps` does): a missing one
//! fails the test.

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::http::{get, request_accept, HttpResponse};
use common::process::run;
use common::{
    unique_port, wait_until, BgpDaemon, Bird, Error, PeerSpec, Peerex, PeerexPeer, Result,
    RouteAttrs, TempDir,
};

const T: Duration = Duration::from_secs(40);
/// What chromium sends.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// Page size of the test's server (`max_results`), small enough that the listings page.
const PAGE: usize = 5;

/// A tool the test needs; its absence is a failure, not a skip.
fn require(tool: &str, version_arg: &str) -> Result<()> {
    match Command::new(tool).arg(version_arg).output() {
        Ok(_) => Ok(()),
        Err(e) => Err(Error(format!(
            "{tool} is not installed ({e}): apt-get install chromium tidy, as \
             .ci/install-deps does. The web looking glass cannot be tested without it."
        ))),
    }
}

fn out_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("WEB_LG_OUT") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .join("web-lg"),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `GET target` as a browser asks for it: must be 200 and HTML.
fn page(lg: SocketAddr, target: &str) -> Result<HttpResponse> {
    let r = request_accept(lg, "GET", target, BROWSER_ACCEPT)?;
    if r.status != 200 {
        return Err(Error(format!("GET {target}: {} {}", r.status, r.body)));
    }
    if !r.content_type.starts_with("text/html") {
        return Err(Error(format!(
            "GET {target}: content type {}",
            r.content_type
        )));
    }
    Ok(r)
}

/// `tidy -q -e` on `html`: no errors and no warnings.
fn tidy_clean(target: &str, html: &str, dir: &Path) -> Result<()> {
    let file = dir.join("tidy-input.html");
    std::fs::write(&file, html)?;
    let (_, out, err) = run(
        Command::new("tidy").args(["-q", "-e", "-utf8"]).arg(&file),
        Duration::from_secs(30),
    )?;
    let report: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if !report.is_empty() {
        return Err(Error(format!(
            "tidy finds problems in {target}:\n{}",
            report.join("\n")
        )));
    }
    Ok(())
}

/// The `href`s of a page (attribute values, `&amp;` decoded).
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

/// Follows every link from `/`, breadth first: each must be a local path answering 200
/// with HTML that tidy accepts and that loads nothing from elsewhere. Returns the pages.
fn crawl(lg: SocketAddr, work: &Path) -> Result<Vec<(String, String)>> {
    let mut seen = BTreeSet::from(["/".to_string()]);
    let mut queue = VecDeque::from(["/".to_string()]);
    let mut pages = Vec::new();
    while let Some(target) = queue.pop_front() {
        if pages.len() > 400 {
            return Err(Error("more than 400 pages: a link loop?".into()));
        }
        let r = page(lg, &target)?;
        tidy_clean(&target, &r.body, work)?;
        let csp = r
            .headers
            .iter()
            .find(|(k, _)| k == "content-security-policy")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            csp,
            Some("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
            "{target}"
        );
        for bad in [
            "<script", "<link", "<img", "<iframe", "src=", "url(", "@import",
        ] {
            assert!(!r.body.contains(bad), "{target} holds {bad:?}");
        }
        for h in hrefs(&r.body) {
            if !h.starts_with('/') || h.starts_with("//") {
                return Err(Error(format!("{target} links outside the server: {h}")));
            }
            if seen.insert(h.clone()) {
                queue.push_back(h);
            }
        }
        pages.push((target, r.body));
    }
    Ok(pages)
}

/// Renders `target` in headless chromium: writes `<name>.png` into `out` and returns the
/// DOM chromium built.
fn render(lg: SocketAddr, target: &str, name: &str, out: &Path, work: &Path) -> Result<String> {
    let url = format!("http://{lg}{target}");
    let profile = work.join("chromium-profile");
    let base = |cmd: &mut Command| {
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    };
    let png = out.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let mut shot = Command::new("chromium");
    base(&mut shot);
    shot.arg(format!("--screenshot={}", png.display()))
        .arg(&url);
    let (ok, so, se) = run(&mut shot, Duration::from_secs(120))?;
    let bytes = std::fs::read(&png).unwrap_or_default();
    if !ok || !bytes.starts_with(b"\x89PNG") || bytes.len() < 2000 {
        return Err(Error(format!(
            "chromium wrote no screenshot of {url} ({} bytes): {so}{se}",
            bytes.len()
        )));
    }
    let mut dump = Command::new("chromium");
    base(&mut dump);
    dump.arg("--dump-dom").arg(&url);
    let (ok, dom, se) = run(&mut dump, Duration::from_secs(120))?;
    if !ok || !dom.contains("</html>") {
        return Err(Error(format!("chromium --dump-dom {url} failed: {se}")));
    }
    eprintln!("rendered {url} → {}", png.display());
    Ok(dom)
}

fn has_all(what: &str, dom: &str, want: &[&str]) {
    let missing: Vec<&&str> = want.iter().filter(|w| !dom.contains(**w)).collect();
    assert!(missing.is_empty(), "{what}: missing {missing:?} in\n{dom}");
}

/// The routes of the supplier that import policy rejects, and what the page must show for
/// each: its reasons in words and their `RS:1101:N` codes (others may apply too).
/// A rejected route: prefix, attributes, and each reason in words with its code.
type Rejected = (&'static str, RouteAttrs, Vec<(&'static str, u32)>);

fn rejected() -> Vec<Rejected> {
    vec![
        (
            "80.81.2.0/25",
            RouteAttrs::path(&[206_101]),
            vec![("prefix too long", 1)],
        ),
        (
            "10.20.0.0/16",
            RouteAttrs::path(&[206_101]),
            vec![("bogon prefix", 3), ("prefix not allowed", 9)],
        ),
        (
            "80.81.3.0/24",
            RouteAttrs::path(&[206_999]),
            vec![("origin AS not allowed", 10)],
        ),
        (
            "80.81.4.0/24",
            RouteAttrs::path(&[64_512, 206_101]),
            vec![("bogon ASN in path", 4)],
        ),
        (
            "80.81.5.0/24",
            RouteAttrs {
                next_hop: "127.0.0.99".parse().ok(),
                ..RouteAttrs::path(&[206_101])
            },
            vec![("next hop is not the peer", 8)],
        ),
        (
            "80.81.6.0/24",
            RouteAttrs::path(&[174, 206_101]),
            vec![("transit-free AS in path", 14)],
        ),
        (
            "80.81.7.0/24",
            RouteAttrs::path(&[3_333, 3_333, 3_333, 3_333, 3_333, 206_101]),
            vec![("AS path too long", 5)],
        ),
    ]
}

const ACCEPTED: [&str; 7] = [
    "80.81.1.0/24",
    "80.81.20.0/24",
    "80.81.21.0/24",
    "80.81.22.0/24",
    "80.81.23.0/24",
    "80.81.24.0/24",
    "2a0c:1000:1::/48",
];

#[test]
fn web_looking_glass_in_chromium_with_bird_peers() -> Result<()> {
    require("chromium", "--version")?;
    require("tidy", "-v")?;
    let out = out_dir()?;
    eprintln!("screenshots go to {}", out.display());
    let dir = TempDir::new("web-lg");
    let sup = PeerSpec::new("sup", 206_001);
    let m1 = PeerSpec::new("m1", 207_001);
    let lg = SocketAddr::from((Ipv4Addr::LOCALHOST, unique_port()));
    let rs = Peerex::start_with_defaults(
        &dir,
        &[
            PeerexPeer::allowing_own_next_hops(&sup)
                .with("role = \"supplier\"")
                .with("prefixes = [\"80.81.0.0/16 le 24\", \"2a0c:1000::/32 le 48\"]")
                .with("origin_asns = [206101]")
                .with("max_path_length = 6")
                .with("description = \"Supplier <A> & 'B' \\\"transit\\\"\""),
            PeerexPeer::allowing_own_next_hops(&m1).with("description = \"Member one\""),
        ],
        &format!("\n[looking_glass]\nlisten = \"{lg}\"\nmax_results = {PAGE}\n"),
        "rpki = \"off\"\n",
    )?;
    let s = Bird::start(&dir, rs.target(sup.clone()))?;
    let b1 = Bird::start(&dir, rs.target(m1.clone()))?;
    s.wait_established(T)?;
    b1.wait_established(T)?;

    let rejected = rejected();
    for (p, a, _) in &rejected {
        s.announce(&[p], a)?;
    }
    s.announce(
        &["80.81.1.0/24"],
        &RouteAttrs {
            communities: vec![(65_000, 1)],
            large_communities: vec![(4_200_000_001, 5, 5)],
            med: Some(20),
            ..RouteAttrs::path(&[206_101])
        },
    )?;
    s.announce(&ACCEPTED[1..], &RouteAttrs::path(&[206_101]))?;
    let got = wait_until(T, || {
        b1.received_routes()
            .is_ok_and(|r| r.len() == ACCEPTED.len())
    });
    if !got {
        return Err(Error(format!(
            "m1 does not get the {} accepted routes: {:?}",
            ACCEPTED.len(),
            b1.received_routes()
        )));
    }
    // The snapshot the looking glass reads holds every path.
    let settled = wait_until(T, || {
        get(lg, "/api/v1/status")
            .and_then(|r| r.json())
            .is_ok_and(|j| {
                j.at(&["rib", "paths_filtered"]).as_u64() == Some(rejected.len() as u64)
                    && j.at(&["rib", "paths_accepted"]).as_u64() == Some(ACCEPTED.len() as u64)
            })
    });
    assert!(settled, "the looking glass never shows every path");
    // The counters run ahead of the snapshot (published every 100 ms) the pages read.
    for (which, n) in [("accepted", ACCEPTED.len()), ("filtered", rejected.len())] {
        let target = format!("/api/v1/neighbours/sup/routes/{which}");
        let listed = wait_until(T, || {
            get(lg, &target)
                .and_then(|r| r.json())
                .is_ok_and(|j| j.at(&["pagination", "total"]).as_u64() == Some(n as u64))
        });
        assert!(listed, "{target} never lists {n} routes");
    }

    // The JSON API is unchanged for clients that do not ask for HTML.
    for target in [
        "/",
        "/api/v1/neighbours",
        "/api/v1/why?prefix=80.81.1.0/24&neighbour=m1",
    ] {
        let r = get(lg, target)?;
        assert!(r.content_type.starts_with("application/json"), "{target}");
    }
    let r = request_accept(lg, "GET", "/api/v1/neighbours/nobody", BROWSER_ACCEPT)?;
    assert_eq!(r.status, 404);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    let r = request_accept(
        lg,
        "GET",
        "/api/v1/routes?prefix=80.81.1.1/24",
        BROWSER_ACCEPT,
    )?;
    assert_eq!(r.status, 400, "a bad prefix is a 400 page");
    assert!(r.body.contains("bad prefix"), "{}", r.body);

    // Every link of every page answers 200 with valid HTML.
    let work = dir.path().to_path_buf();
    let pages = crawl(lg, &work)?;
    eprintln!("followed {} links, all 200 and tidy-clean", pages.len());
    let crawled: BTreeSet<&str> = pages.iter().map(|(t, _)| t.as_str()).collect();
    for must in [
        "/api/v1/neighbours/sup/routes/filtered?page=1",
        "/api/v1/neighbours/sup/routes/accepted?page=1",
        "/api/v1/neighbours/m1/routes/exported",
        "/api/v1/why?prefix=80.81.1.0%2F24&neighbour=m1&exact=1",
    ] {
        if !crawled.contains(must) {
            let from = must.split('?').next().unwrap_or(must);
            let body = pages
                .iter()
                .find(|(t, _)| t == from)
                .map(|(_, b)| b.as_str());
            panic!("no link leads to {must}: {crawled:#?}\n{from}:\n{body:?}");
        }
    }
    // Escaped where a name could break the page.
    let (_, overview_html) = &pages[0];
    assert!(
        overview_html.contains("Supplier &lt;A&gt; &amp; &#39;B&#39; &quot;transit&quot;"),
        "description not escaped"
    );

    // Each view in the browser.
    let dom = render(lg, "/", "overview", &out, &work)?;
    has_all(
        "overview",
        &dom,
        &[
            "sup",
            "m1",
            "Established",
            "Supplier &lt;A&gt;",
            "Member one",
        ],
    );
    let counts = format!("routes/filtered\">{}</a>", rejected.len());
    has_all(
        "overview counts",
        &dom,
        &[&counts, "routes/exported\">7</a>"],
    );

    let dom = render(lg, "/api/v1/neighbours/sup", "neighbour", &out, &work)?;
    has_all(
        "neighbour",
        &dom,
        &["Neighbour sup", "206001", "Established", "ipv4-unicast"],
    );

    let dom = render(
        lg,
        "/api/v1/neighbours/sup/routes/received",
        "received",
        &out,
        &work,
    )?;
    has_all("received", &dom, &["rows 1–5 of 14, page 1 of 3", "next ›"]);

    let mut accepted_dom = render(
        lg,
        "/api/v1/neighbours/sup/routes/accepted",
        "accepted",
        &out,
        &work,
    )?;
    accepted_dom += &render(
        lg,
        "/api/v1/neighbours/sup/routes/accepted?page=1",
        "accepted-2",
        &out,
        &work,
    )?;
    has_all("accepted", &accepted_dom, &ACCEPTED);
    has_all(
        "accepted attributes",
        &accepted_dom,
        &[
            "206001 206101",
            "65000:1",
            "4200000001:5:5",
            "accepted, rank 1",
        ],
    );

    let mut filtered_dom = render(
        lg,
        "/api/v1/neighbours/sup/routes/filtered",
        "filtered",
        &out,
        &work,
    )?;
    filtered_dom += &render(
        lg,
        "/api/v1/neighbours/sup/routes/filtered?page=1",
        "filtered-2",
        &out,
        &work,
    )?;
    for (p, _, reasons) in &rejected {
        assert!(filtered_dom.contains(p), "{p} not on the filtered pages");
        for (words, code) in reasons {
            let both = format!("{words} <code>64500:1101:{code}</code>");
            assert!(
                filtered_dom.contains(&both),
                "{p}: no {both:?} on the filtered pages"
            );
        }
    }

    let mut dom = render(
        lg,
        "/api/v1/neighbours/m1/routes/exported",
        "exported",
        &out,
        &work,
    )?;
    dom += &render(
        lg,
        "/api/v1/neighbours/m1/routes/exported?page=1",
        "exported-2",
        &out,
        &work,
    )?;
    has_all("exported", &dom, &ACCEPTED);
    has_all(
        "exported",
        &dom,
        &["neighbour=m1", "rows 1–5 of 7", "rows 6–7 of 7", "sup"],
    );

    let dom = render(lg, "/api/v1/routes?prefix=80.81.1.7", "search", &out, &work)?;
    has_all(
        "search",
        &dom,
        &[
            "80.81.1.0/24",
            "the most specific prefix covering 80.81.1.7/32",
            "accepted, rank 1",
        ],
    );
    let dom = render(lg, "/api/v1/routes", "search-form", &out, &work)?;
    has_all(
        "search form",
        &dom,
        &[
            "method=\"get\" action=\"/api/v1/routes\"",
            "name=\"prefix\"",
        ],
    );

    let dom = render(
        lg,
        "/api/v1/why?prefix=80.81.1.0/24&neighbour=m1",
        "why-exported",
        &out,
        &work,
    )?;
    has_all(
        "why exported",
        &dom,
        &[
            "m1 receives the path from sup (rank 1)",
            "best_allowed_path",
        ],
    );
    let dom = render(
        lg,
        "/api/v1/why?prefix=80.81.3.0/24&neighbour=m1",
        "why-refused",
        &out,
        &work,
    )?;
    has_all(
        "why refused",
        &dom,
        &[
            "m1 receives no path for 80.81.3.0/24",
            "rejected_on_import",
            "origin AS not allowed <code>64500:1101:10</code>",
        ],
    );
    let dom = render(lg, "/api/v1/why", "why-form", &out, &work)?;
    has_all(
        "why form",
        &dom,
        &[
            "method=\"get\" action=\"/api/v1/why\"",
            "<option value=\"m1\">m1</option>",
        ],
    );
    eprintln!("screenshots of every view are in {}", out.display());
    drop(rs);
    Ok(())
}
