//! The `peerex` command line. Wiring only: every piece of logic lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use peerex::wire::{header, Family, FamilySet, Message, ParseCtx};

#[derive(Parser)]
#[command(
    name = "peerex",
    version,
    about = "A BGP route server for peering exchanges"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode files of raw BGP messages (header included, back to back) and print them.
    Decode {
        /// The session did not negotiate 4-octet AS numbers (AS_PATH holds 2-octet ASNs).
        #[arg(long)]
        two_octet_as: bool,
        /// ADD-PATH path identifiers are present (IPv4 and IPv6 unicast).
        #[arg(long)]
        add_path: bool,
        /// Extended messages (RFC 8654) were negotiated.
        #[arg(long)]
        extended_message: bool,
        /// The messages came from an internal peer.
        #[arg(long)]
        ibgp: bool,
        files: Vec<PathBuf>,
    },
}

fn decode(ctx: &ParseCtx, files: &[PathBuf]) -> Result<(), String> {
    for path in files {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rest = Bytes::from(data);
        let mut n = 0;
        while !rest.is_empty() {
            n += 1;
            let hdr = header::check(&rest, ctx.max_len())
                .map_err(|e| format!("{}: message {n}: {e}", path.display()))?
                .filter(|h| h.len <= rest.len())
                .ok_or_else(|| format!("{}: message {n} is truncated", path.display()))?;
            let frame = rest.split_to(hdr.len);
            match Message::decode(frame, ctx) {
                Ok(m) => println!("{}: {m}", path.display()),
                Err(e) => println!("{}: message {n}: {e}", path.display()),
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode {
            two_octet_as,
            add_path,
            extended_message,
            ibgp,
            files,
        } => {
            let ctx = ParseCtx {
                four_octet_as: !two_octet_as,
                add_path: if add_path {
                    FamilySet::EMPTY
                        .with(Family::Ipv4Unicast)
                        .with(Family::Ipv6Unicast)
                } else {
                    FamilySet::EMPTY
                },
                extended_message,
                ebgp: !ibgp,
            };
            decode(&ctx, &files)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerex: {e}");
            ExitCode::FAILURE
        }
    }
}
