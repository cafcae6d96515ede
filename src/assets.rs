//! Generated documentation assets for packaging: the man pages (`peerex.1` and one page per
//! subcommand) and the bash, zsh and fish completions, written from the clap definition of
//! the command line that `main.rs` hands over (`peerex generate-assets --out DIR`, run by
//! `packaging/build-deb`). Knows nothing of the route server; a leaf of the top level.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Writes `DIR/man/*.1` and `DIR/completions/{peerex.bash,_peerex,peerex.fish}` for `cmd`
/// and returns the files written.
pub fn write_all(cmd: clap::Command, out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let name = cmd.get_name().to_string();
    // Unbuilt: generate_to disables the `help` subcommand before it builds (building first
    // would add a page per `help` pseudo-subcommand); hidden subcommands get no page.
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let mut cmd = cmd;
    let mut written = Vec::new();
    for e in std::fs::read_dir(&man)? {
        written.push(e?.path());
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut cmd,
            &name,
            &completions,
        )?);
    }
    written.sort();
    Ok(written)
}
