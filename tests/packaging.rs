//! The Debian packaging stays consistent with the code: the installed configuration
//! (packaging/peerex.toml) is the bundled one with the control socket moved into the unit's
//! runtime directory and passes `peerex check`; the unit (packaging/peerex.service) has the
//! settings the issue asks for, each with a comment saying why; and `peerex generate-assets`
//! writes the man pages and completions the package ships (packaging/check-deb checks the
//! built .deb itself, in CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TempDir;
use peerex::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unit() -> String {
    std::fs::read_to_string(root().join("packaging/peerex.service")).unwrap()
}

/// The value of `key=` in the unit (the first one).
fn setting(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

#[test]
fn installed_config_is_the_bundled_one_with_the_socket_in_the_runtime_directory() {
    let bundled = Config::load(&root().join("config/peerex.toml")).unwrap();
    let mut installed = Config::load(&root().join("packaging/peerex.toml")).unwrap();
    let runtime = setting(&unit(), "RuntimeDirectory").unwrap();
    assert_eq!(
        installed.control.socket.parent(),
        Some(Path::new("/run").join(&runtime).as_path()),
        "the installed control socket must be in the unit's RuntimeDirectory"
    );
    assert_eq!(
        installed.control.socket,
        Path::new(peerex::config::DEFAULT_CONTROL_SOCKET),
        "a plain `peerex ctl` finds the installed server"
    );
    installed.control.socket = bundled.control.socket.clone();
    installed.source = bundled.source.clone();
    assert_eq!(installed, bundled);
    let out = Command::new(env!("CARGO_BIN_EXE_peerex"))
        .args(["check", "--config"])
        .arg(root().join("packaging/peerex.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn unit_has_the_required_settings_each_with_a_reason() {
    let unit = unit();
    let config = "/etc/peerex/peerex.toml";
    for (key, want) in [
        ("Type", "notify".to_string()),
        (
            "ExecStartPre",
            format!("/usr/bin/peerex check --config {config}"),
        ),
        (
            "ExecStart",
            format!("/usr/bin/peerex run --config {config}"),
        ),
        (
            "ExecReload",
            format!("/usr/bin/peerex ctl --config {config} reload"),
        ),
        ("User", "peerex".to_string()),
        ("RuntimeDirectory", "peerex".to_string()),
        ("AmbientCapabilities", "CAP_NET_BIND_SERVICE".to_string()),
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE".to_string()),
        ("NoNewPrivileges", "yes".to_string()),
        ("ProtectSystem", "strict".to_string()),
        ("ProtectHome", "yes".to_string()),
        ("PrivateTmp", "yes".to_string()),
        ("PrivateDevices", "yes".to_string()),
        ("ProtectKernelTunables", "yes".to_string()),
        ("SystemCallFilter", "@system-service".to_string()),
    ] {
        assert_eq!(setting(&unit, key).as_deref(), Some(want.as_str()), "{key}");
    }
    let watchdog: u64 = setting(&unit, "WatchdogSec").unwrap().parse().unwrap();
    assert!(watchdog >= 10, "WatchdogSec={watchdog}");
    let families = setting(&unit, "RestrictAddressFamilies").unwrap();
    for f in ["AF_INET", "AF_INET6", "AF_UNIX"] {
        assert!(families.split_whitespace().any(|x| x == f), "{families}");
    }
    let mut prev = "";
    for line in unit.lines() {
        let directive = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        assert!(
            !directive || prev.starts_with('#'),
            "no comment says why: {line}"
        );
        prev = line;
    }
}

#[test]
fn generate_assets_writes_man_pages_and_completions() {
    let dir = TempDir::new("assets");
    let out = Command::new(env!("CARGO_BIN_EXE_peerex"))
        .args(["generate-assets", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let read =
        |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let man = read("man/peerex.1");
    assert!(man.contains(".TH peerex"), "{man}");
    for sub in ["run", "ctl", "check", "decode"] {
        assert!(man.contains(sub), "peerex.1 does not mention {sub}");
        read(&format!("man/peerex-{sub}.1"));
    }
    assert!(
        !man.contains("generate-assets"),
        "the hidden packaging command is in the man page"
    );
    assert!(read("man/peerex-ctl.1").contains("reload"));
    for (file, marker) in [
        ("completions/peerex.bash", "complete"),
        ("completions/_peerex", "#compdef peerex"),
        ("completions/peerex.fish", "complete -c peerex"),
    ] {
        let text = read(file);
        assert!(text.contains(marker), "{file} lacks {marker}");
        assert!(
            text.contains("reload"),
            "{file} does not complete ctl reload"
        );
    }
}
