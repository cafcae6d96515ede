//! The `peerex` command line. Wiring only: every piece of logic lives in the library.
//!
//! This is where the top-level modules meet: `server` runs the route server, `reload` and
//! `control` act on it through the traits implemented here ([`reload::Target`],
//! [`control::Actions`]) by plain delegation, and `lg` and `control` read it through its
//! [`ServerView`](peerex::view::ServerView). None of them imports another above it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::{CommandFactory, Parser, Subcommand};
use peerex::bmp::manager::Collectors;
use peerex::config::{Config, ConfigErrors, PeerConfig, ServerConfig};
use peerex::control::{self, PeerCommandError};
use peerex::policy::PeerId;
use peerex::reload::{self, ReloadReport, Reloader};
use peerex::rib::ExportPolicy;
use peerex::server::{Server, Shared};
use peerex::session::{PeerCmd, PeerHandle};
use peerex::systemd::{self, Notifier};
use peerex::view::ServerView;
use peerex::wire::{header, Family, FamilySet, Message, ParseCtx};

/// mimalloc: the RIB allocates and frees many small objects from several threads; glibc's
/// allocator spent a quarter of the update path in its own bookkeeping (benches/rib.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bytes mimalloc has committed (`commit_current` of its statistics: read/write memory it
/// holds from the OS, whether in use or cached), for `peerex_memory_bytes{part="allocator"}`.
fn mimalloc_committed() -> Option<u64> {
    let json = mimalloc::MiMalloc::stats_json().ok()?;
    let v: serde_json::Value = serde_json::from_slice(json.to_bytes()).ok()?;
    v.get("process")?.get("commit_current")?.as_u64()
}

/// The running server as reload sees it, with its BMP collectors (a reload applies
/// `[[bmp]]` when it publishes the new configuration).
struct Running(Arc<Shared>, Arc<Collectors>);

impl reload::Target for Running {
    fn view(&self) -> ServerView {
        self.0.view()
    }

    fn peer(&self, name: &str) -> Option<Arc<PeerHandle>> {
        self.0.handle(name)
    }

    fn unlist_peer(&self, name: &str) -> Option<Arc<PeerHandle>> {
        self.0.unlist_peer(name)
    }

    fn start_peer(&self, id: PeerId, cfg: &PeerConfig, server: &ServerConfig) {
        self.0.start_peer(id, cfg, server);
    }

    fn new_peer_id(&self) -> Option<PeerId> {
        self.0.new_peer_id()
    }

    fn retire_peer_id(&self, id: PeerId) {
        self.0.retire_peer_id(id);
    }

    fn set_listener_md5(&self, peer: &PeerConfig, key: Option<&[u8]>) {
        self.0.set_listener_md5(peer, key);
    }

    fn export_policy(&self, config: &Config, ids: &[PeerId]) -> ExportPolicy {
        self.0.export_policy_for(config, ids)
    }

    async fn apply_policy(&self, config: &Config, ids: &[PeerId]) {
        self.0.apply_policy(config, ids).await;
    }

    async fn forget_routes(&self, id: PeerId) {
        self.0.forget_routes(id).await;
    }

    async fn publish(&self, config: Config) {
        let bmp = config.bmp.clone();
        self.0.publish(config).await;
        self.1.apply(&bmp);
    }
}

/// What the control socket may change: peer commands go to the server, reloads to the
/// reloader (one at a time, shared with SIGHUP).
struct ControlActions {
    server: Arc<Shared>,
    reloader: Arc<Reloader<Running>>,
    notify: Arc<Notifier>,
}

/// A reload as systemd sees it: RELOADING=1 before, READY=1 after, whatever the outcome (an
/// invalid file leaves the running configuration in force). A dry run says nothing.
async fn reload_notified(
    reloader: &Reloader<Running>,
    notify: &Notifier,
    dry_run: bool,
) -> Result<ReloadReport, ConfigErrors> {
    if dry_run {
        return reloader.reload(true).await;
    }
    // SIGHUP and `ctl reload` may come at once: each pair of notifications is sent under
    // this lock, so systemd never sees READY=1 while another reload is still under way.
    static PAIRED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _paired = PAIRED.lock().await;
    notify.reloading();
    let r = reloader.reload(false).await;
    notify.ready(match &r {
        Ok(_) => "running; configuration reloaded",
        Err(_) => "running; reload refused (invalid configuration), the previous one stays",
    });
    r
}

impl control::Actions for ControlActions {
    async fn peer_command(&self, name: &str, cmd: PeerCmd) -> Result<(), PeerCommandError> {
        let h = self
            .server
            .handle(name)
            .ok_or_else(|| PeerCommandError::NoSuchPeer(name.to_string()))?;
        h.cmd.send(cmd).await.map_err(|_| PeerCommandError::Stopped)
    }

    async fn reload(&self, dry_run: bool) -> Result<ReloadReport, ConfigErrors> {
        reload_notified(&self.reloader, &self.notify, dry_run).await
    }
}

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
        /// Log filter (tracing-subscriber syntax), e.g. "info" or "peerex=debug"; overrides
        /// the configuration's [log] level.
        #[arg(long, env = "PEEREX_LOG")]
        log_level: Option<String>,
        /// Log as JSON lines instead of text (or set [log] format = "json").
        #[arg(long)]
        log_json: bool,
        /// The control socket (overrides the configuration's [control] socket).
        #[arg(long)]
        control_socket: Option<PathBuf>,
    },
    /// Talk to a running server through its control socket.
    Ctl {
        /// The control socket (default: the one in --config, else /run/peerex/peerex.sock).
        #[arg(long, short, env = "PEEREX_SOCKET")]
        socket: Option<PathBuf>,
        /// Read the control socket path from this configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the raw JSON answer (may follow the subcommand: `ctl peer NAME --json`).
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: CtlCommand,
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
    /// Write the man pages and shell completions into a directory (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Server facts and totals.
    Status,
    /// Every peer with its state and counters.
    Peers,
    /// One peer's details, or an action on it.
    Peer {
        name: String,
        #[arg(value_enum)]
        action: Option<CtlPeerAction>,
        /// Shutdown communication sent with disable/reset (RFC 9003).
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Routes: of a prefix (longest match, or --exact), from a peer (--peer, --filtered for
    /// rejected ones with reasons), or what a client receives (--to).
    Routes {
        prefix: Option<String>,
        #[arg(long)]
        exact: bool,
        #[arg(long)]
        peer: Option<String>,
        #[arg(long)]
        filtered: bool,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Read the configuration file again and apply what changed.
    Reload {
        /// Apply nothing; show what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Dump the table.
    Dump {
        #[command(subcommand)]
        what: DumpWhat,
    },
}

#[derive(Subcommand)]
enum DumpWhat {
    /// An MRT TABLE_DUMP_V2 file (RFC 6396), readable by bgpdump.
    Mrt { file: PathBuf },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CtlPeerAction {
    Disable,
    Enable,
    Reset,
    Refresh,
}

fn ctl(
    socket: Option<PathBuf>,
    config: Option<PathBuf>,
    json: bool,
    what: CtlCommand,
) -> Result<(), String> {
    let socket = match (socket, config) {
        (Some(s), _) => s,
        (None, Some(c)) => Config::control_socket_of(&c).map_err(|e| e.to_string())?,
        (None, None) => PathBuf::from(peerex::config::DEFAULT_CONTROL_SOCKET),
    };
    use peerex::control::{PeerAction, Request};
    let req = match what {
        CtlCommand::Status => Request::Status,
        CtlCommand::Peers => Request::Peers,
        CtlCommand::Peer {
            name, action: None, ..
        } => Request::Peer { name },
        CtlCommand::Peer {
            name,
            action: Some(a),
            message,
        } => Request::PeerAction {
            name,
            action: match a {
                CtlPeerAction::Disable => PeerAction::Disable,
                CtlPeerAction::Enable => PeerAction::Enable,
                CtlPeerAction::Reset => PeerAction::Reset,
                CtlPeerAction::Refresh => PeerAction::Refresh,
            },
            message,
        },
        CtlCommand::Routes {
            prefix,
            exact,
            peer,
            filtered,
            to,
            offset,
            limit,
        } => Request::Routes {
            prefix,
            exact,
            peer,
            filtered,
            to,
            offset,
            limit,
        },
        CtlCommand::Reload { dry_run } => Request::Reload { dry_run },
        CtlCommand::Dump {
            what: DumpWhat::Mrt { file },
        } => {
            // The server writes the file: make a relative path the caller's.
            let file = std::env::current_dir()
                .map(|d| d.join(&file))
                .unwrap_or(file);
            Request::DumpMrt {
                file: file.display().to_string(),
            }
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let resp = rt.block_on(peerex::control::client::request(&socket, &req))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp).map_err(|e| e.to_string())?
        );
    } else if let Some(v) = &resp.result {
        println!("{}", peerex::control::render::render(&req, v));
    }
    match resp.error {
        Some(e) if !resp.ok => Err(e),
        _ => Ok(()),
    }
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

fn run(
    config: PathBuf,
    log_level: Option<String>,
    log_json: bool,
    control: Option<PathBuf>,
) -> Result<(), String> {
    let cfg = Config::load(&config).map_err(|e| e.to_string())?;
    init_logs(
        log_level.as_deref().unwrap_or(&cfg.log.level),
        log_json || cfg.log.json,
    )?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        // The RIB shards run one thread per core; the sessions' decoding and socket work is
        // lighter, and as many I/O threads again only made them preempt each other.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        rt.worker_threads((cores / 2).max(1));
    }
    let rt = rt
        .enable_all()
        .thread_name("peerex-io")
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let socket = control.unwrap_or_else(|| cfg.control.socket.clone());
        let (mode, group) = (cfg.control.mode, cfg.control.group);
        let lg = cfg.looking_glass.clone();
        let notify = Arc::new(Notifier::from_env());
        let status = format!(
            "running: {} peers, BGP on {:?}",
            cfg.peers.len(),
            cfg.server.listen
        );
        // The control socket exists before the BGP listeners accept anything, so whoever
        // sees the route server answer on its BGP port can also reach its control socket.
        let listener = peerex::control::socket::bind(&socket, mode, group)
            .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
        let server = match Server::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&socket);
                return Err(format!("cannot start: {e}"));
            }
        };
        let view = server.shared.view();
        let collectors = {
            let shared = server.shared.clone();
            Arc::new(Collectors::new(view.clone(), move |c| shared.set_collectors(c)))
        };
        collectors.apply(&view.config().bmp);
        let reloader = Arc::new(Reloader::new(Running(
            server.shared.clone(),
            collectors.clone(),
        )));
        let actions = Arc::new(ControlActions {
            server: server.shared.clone(),
            reloader: reloader.clone(),
            notify: notify.clone(),
        });
        let lg_task = match lg.listen {
            Some(addr) => Some(
                peerex::lg::http::start(addr, view.clone(), lg.max_results)
                    .await
                    .map_err(|e| format!("looking glass {addr}: {e}"))?,
            ),
            None => None,
        };
        let control_task = tokio::spawn(peerex::control::socket::serve(listener, view, actions));
        // Signals are handled from here on (before READY: systemd may stop or reload us at once).
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        // The BGP listeners and the control socket are bound and listening (connections
        // queue until accepted): tell systemd, then keep its watchdog fed while the RIB
        // shards make progress.
        notify.ready(&status);
        let watchdog = systemd::watchdog_interval()
            .filter(|_| notify.enabled())
            .map(|every| {
                tracing::info!(interval = ?every, "systemd watchdog: pinging while the RIB shards make progress");
                let shared = server.shared.clone();
                tokio::spawn(systemd::watchdog(notify.clone(), every, move || {
                    shared.shard_progress()
                }))
            });
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    let (reloader, notify) = (reloader.clone(), notify.clone());
                    tokio::spawn(async move {
                        match reload_notified(&reloader, &notify, false).await {
                            Ok(r) => tracing::info!(summary = %r.summary(), "SIGHUP: configuration reloaded"),
                            Err(e) => tracing::error!(error = %e, "SIGHUP: configuration not reloaded; the running one stays"),
                        }
                    });
                }
            }
        }
        notify.stopping();
        if let Some(w) = watchdog {
            w.abort();
        }
        control_task.abort();
        if let Some(t) = lg_task {
            t.abort();
        }
        let _ = std::fs::remove_file(&socket);
        // Collectors get Termination while the sessions are still up.
        collectors
            .shutdown(std::time::Duration::from_secs(2))
            .await;
        server.shutdown("route server shutting down").await;
        Ok(())
    })
}

fn main() -> ExitCode {
    peerex::rib::memory::set_allocator_probe(mimalloc_committed, "mimalloc_committed");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            log_level,
            log_json,
            control_socket,
        } => run(config, log_level, log_json, control_socket),
        Command::Ctl {
            socket,
            config,
            json,
            what,
        } => ctl(socket, config, json, what),
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
        Command::GenerateAssets { out } => peerex::assets::write_all(Cli::command(), &out)
            .map(|files| {
                for f in files {
                    println!("{}", f.display());
                }
            })
            .map_err(|e| format!("{}: {e}", out.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peerex: {e}");
            ExitCode::FAILURE
        }
    }
}
