//! The `peerex` command line. Wiring only: every piece of logic lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use peerex::config::Config;
use peerex::server::Server;
use peerex::wire::{header, Family, FamilySet, Message, ParseCtx};

/// mimalloc: the RIB allocates and frees many small objects from several threads; glibc's
/// allocator spent a quarter of the update path in its own bookkeeping (benches/rib.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run the route server.
    Run {
        #[arg(long, short, default_value = "config/peerex.toml")]
        config: PathBuf,
        /// Log filter (tracing-subscriber syntax), e.g. "info" or "peerex=debug".
        #[arg(long, default_value = "info", env = "PEEREX_LOG")]
        log_level: String,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
    },
    /// Validate a configuration file without starting anything.
    Check {
        #[arg(long, short, default_value = "config/peerex.toml")]
        config: PathBuf,
    },
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

fn init_logs(filter: &str, json: bool) -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("log filter: {e}"))?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let r = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    r.map_err(|e| format!("logging: {e}"))
}

fn run(config: PathBuf, log_level: &str, log_json: bool) -> Result<(), String> {
    init_logs(log_level, log_json)?;
    let cfg = Config::load(&config).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("peerex-io")
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let server = Server::start(cfg).await.map_err(|e| format!("cannot start: {e}"))?;
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => tracing::warn!("SIGHUP: configuration reload is not available in this version; restart to apply changes"),
            }
        }
        server.shutdown("route server shutting down").await;
        Ok(())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            log_level,
            log_json,
        } => run(config, &log_level, log_json),
        Command::Check { config } => match Config::load(&config) {
            Ok(c) => {
                println!("{}: ok ({} peers)", config.display(), c.peers.len());
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
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
