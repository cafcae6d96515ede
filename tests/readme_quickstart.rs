//! The README's walk-through, as a new user would follow it: the route server on the bundled
//! configuration (`config/peerex.toml`, unchanged), the bird2 configuration printed in the
//! README on 127.0.0.2, a second speaker on 127.0.0.3 that receives 192.0.2.0/24 with the
//! path `64501` and next hop 127.0.0.2, and the looking glass on 127.0.0.1:8080 answering
//! about it. The ports are the bundled file's (1179 and 8080): nothing else may use them
//! while this runs.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::process::Proc;
use common::{http, wait_until, BgpDaemon, Bird, Error, PeerSpec, Peerex, Result, TempDir};

const T: Duration = Duration::from_secs(30);

/// The bird2 configuration in the README's "Trying it with BIRD" section.
fn readme_bird_config() -> Result<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let section = readme
        .split("## Trying it with BIRD")
        .nth(1)
        .ok_or_else(|| Error::new("README has no 'Trying it with BIRD' section"))?;
    let block = section
        .split("```")
        .nth(1)
        .ok_or_else(|| Error::new("no code block in the BIRD section"))?;
    Ok(block
        .trim_start_matches(|c: char| c.is_alphanumeric())
        .to_string())
}

#[test]
fn readme_walkthrough_with_the_bundled_config() -> Result<()> {
    let dir = TempDir::new("readme");
    // The bundled file as it is, next to its socket in a scratch directory.
    let bundled =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/peerex.toml"))?;
    let rs = Peerex::start_with_config(&dir, &bundled, 1179)?;

    // bird2 with the README's configuration on 127.0.0.2.
    let conf = dir.join("readme-bird.conf");
    std::fs::write(&conf, readme_bird_config()?)?;
    let ctl = dir.join("readme-bird.ctl");
    let mut cmd = Command::new("bird");
    cmd.arg("-c").arg(&conf).arg("-s").arg(&ctl).arg("-f");
    let _bird = Proc::spawn("readme-bird", cmd, &dir.join("readme-bird.log"), dir.path())?;
    let established = wait_until(T, || {
        Command::new("birdc")
            .arg("-s")
            .arg(&ctl)
            .args(["show", "protocols", "peerex"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Established"))
    });
    assert!(
        established,
        "the README's bird never got Established:\n{}",
        rs.log_tail(30)
    );

    // A second speaker on 127.0.0.3, AS 64502, as the bundled config knows it.
    let mut spec = PeerSpec::new("example-member", 64502);
    spec.local_addr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    spec.router_id = Ipv4Addr::new(127, 0, 0, 3);
    let member = Bird::start(&dir, rs.target(spec))?;
    member.wait_established(T)?;
    let r = member.wait_route("192.0.2.0/24", T)?;
    assert_eq!(r.as_path, vec![64501], "{r:?}");
    assert_eq!(
        r.next_hop,
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
        "{r:?}"
    );

    // The looking glass of the bundled config answers, and knows the route.
    let lg = SocketAddr::from(([127, 0, 0, 1], 8080));
    let status = http::get(lg, "/api/v1/status")?;
    assert_eq!(status.status, 200, "{status:?}");
    let routes = http::get(lg, "/api/v1/routes?prefix=192.0.2.0/24")?;
    assert_eq!(routes.status, 200, "{routes:?}");
    assert!(routes.body.contains("example-supplier"), "{}", routes.body);
    Ok(())
}
