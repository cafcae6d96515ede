//! The source tree keeps the shape DESIGN.md and the README describe: no file in src/ over
//! 800 lines of code (blank and comment lines not counted), and no import between top-level
//! modules that runs back up (the looking glass, the control socket and reload never reach
//! into the server's wiring; the server never imports them).

use std::path::{Path, PathBuf};

const MAX_CODE_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Lines that are neither blank nor only a comment (`//`, `///`, `//!`, or inside `/* */`).
fn code_lines(text: &str) -> usize {
    let mut in_block = false;
    let mut n = 0;
    for line in text.lines() {
        let t = line.trim();
        if in_block {
            if t.contains("*/") {
                in_block = false;
            }
            continue;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        if t.starts_with("/*") {
            in_block = !t.contains("*/");
            continue;
        }
        n += 1;
    }
    n
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_source_file_is_over_800_lines_of_code() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let over: Vec<String> = files
        .iter()
        .map(|f| (f, code_lines(&std::fs::read_to_string(f).unwrap())))
        .filter(|(_, n)| *n > MAX_CODE_LINES)
        .map(|(f, n)| format!("{}: {n}", f.display()))
        .collect();
    assert!(
        over.is_empty(),
        "over {MAX_CODE_LINES} lines of code: {over:?}"
    );
}

#[test]
fn counting_skips_comments_and_blank_lines() {
    let text = "//! doc\n\nfn a() {}\n/* one\n two */\n    // note\nlet x = 1; // tail\n";
    assert_eq!(code_lines(text), 2);
}

/// Files of a top-level module: `src/NAME.rs` or everything under `src/NAME/`.
fn module_files(name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let dir = src().join(name);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    let file = src().join(format!("{name}.rs"));
    if file.is_file() {
        files.push(file);
    }
    assert!(!files.is_empty(), "no module {name}");
    files
}

#[test]
fn no_top_level_import_runs_back_up() {
    let rules: [(&str, &[&str]); 6] = [
        ("lg", &["server"]),
        ("control", &["server"]),
        ("reload", &["server"]),
        ("bmp", &["server", "lg", "control", "reload"]),
        ("server", &["lg", "reload", "bmp"]),
        ("view", &["server", "lg", "control", "reload", "bmp"]),
    ];
    let mut found = Vec::new();
    for (module, forbidden) in rules {
        for f in module_files(module) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for up in forbidden {
                    if line.contains(&format!("crate::{up}::"))
                        || line.contains(&format!("crate::{up};"))
                        || line.contains(&format!("crate::{{{up}"))
                    {
                        found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "imports that run back up: {found:#?}");
}
