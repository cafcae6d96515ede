//! `peerex check` against a corpus of broken configurations (tests/data/bad-configs): each
//! file says in a leading comment where its error is and a fragment of the message:
//!
//! ```text
//! # expect: LINE:COLUMN FRAGMENT
//! # expect-file: prefixes/x.txt   (optional: the error is in that file, not the config)
//! ```
//!
//! Every file must be refused (non-zero exit) with `FILE:LINE:COLUMN: …FRAGMENT…` on stderr.
//! The bundled configurations must pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-configs")
}

struct Expect {
    file: PathBuf,
    line: usize,
    column: usize,
    fragment: String,
}

fn expectation(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let mut file = path.to_path_buf();
    let mut found = None;
    for l in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(f) = l.strip_prefix("# expect-file: ") {
            file = path.parent().unwrap().join(f.trim());
        } else if let Some(e) = l.strip_prefix("# expect: ") {
            let (pos, fragment) = e.split_once(' ').unwrap_or((e, ""));
            let (line, column) = pos
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: expect LINE:COLUMN", path.display()));
            found = Some((line.parse().unwrap(), column.parse().unwrap(), fragment));
        }
    }
    let (line, column, fragment) =
        found.unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
    assert!(
        !fragment.trim().is_empty(),
        "{}: empty fragment",
        path.display()
    );
    Expect {
        file,
        line,
        column,
        fragment: fragment.trim().to_string(),
    }
}

fn check(config: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peerex"))
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_broken_config_is_refused_at_the_right_place() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 24, "only {} broken configs", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let want = expectation(path);
        let (ok, _, stderr) = check(path);
        let at = format!("{}:{}:{}: ", want.file.display(), want.line, want.column);
        let matched = stderr
            .lines()
            .any(|l| l.contains(&at) && l.contains(&want.fragment));
        if ok || !matched {
            failures.push(format!(
                "{}: exit ok={ok}; want a line with {at:?} and {:?}; stderr:\n{stderr}",
                path.display(),
                want.fragment
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bundled_configs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("config/peerex.toml")];
    for e in std::fs::read_dir(root.join("config/examples")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            files.push(p);
        }
    }
    assert!(files.len() >= 2);
    for f in files {
        let (ok, stdout, stderr) = check(&f);
        assert!(ok, "{}: {stderr}", f.display());
        assert!(stdout.contains(": ok ("), "{}: {stdout}", f.display());
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = corpus_dir().join("no-such-config.toml");
    let (ok, _, stderr) = check(&path);
    assert!(!ok);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}
