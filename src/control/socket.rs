//! Serving the control socket: a Unix socket with the configured mode (0600 by default) and
//! group, any number of concurrent clients, one JSON request per line, bounded lengths.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, info, warn};

use super::commands;
use super::protocol::{Request, Response, MAX_REQUEST};
use super::Actions;
use crate::stall::Stall;
use crate::view::ServerView;

/// Binds the socket (replacing a stale one) and applies `mode` and `group`.
pub fn bind(path: &Path, mode: u32, group: Option<u32>) -> std::io::Result<UnixListener> {
    if path.exists() {
        // A socket left by a previous run: refuse to steal it from a live server.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by a running server", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Bind under a temporary name and move it into place once mode and group are set:
    // nobody can connect through `path` while the socket still has the umask's mode.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.new", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let l = UnixListener::bind(&tmp)?;
    let prepared = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .and_then(|()| match group {
            Some(gid) => std::os::unix::fs::chown(&tmp, None, Some(gid)),
            None => Ok(()),
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = prepared {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(l)
}

/// Most clients served at once; one more gets an error answer and is closed.
pub const MAX_CLIENTS: usize = 64;

/// Accepts clients until the task is dropped; each reads through `view` and changes things
/// through `actions`.
pub async fn serve<A: Actions>(listener: UnixListener, view: ServerView, actions: Arc<A>) {
    info!("control socket ready");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        match listener.accept().await {
            Ok((s, _)) => match slots.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (view, actions) = (view.clone(), actions.clone());
                    tokio::spawn(async move {
                        client(s, view, actions).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    warn!("control socket: {MAX_CLIENTS} clients connected, refusing another");
                    let idle = view.config().control.idle_timeout;
                    tokio::spawn(async move {
                        let (_, wr) = s.into_split();
                        let mut wr = Stall::new(wr, idle);
                        let msg = format!("too many control clients (at most {MAX_CLIENTS})");
                        let _ = reply(&mut wr, &Response::err(msg)).await;
                    });
                }
            },
            Err(e) => {
                warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// The writing half of a client: a client that reads none of its answers for
/// `[control] idle_timeout` is given up, so it cannot hold one of the `MAX_CLIENTS` slots for
/// ever (a silent one is, by the read timeout in [`client`]).
type Writer = Stall<tokio::net::unix::OwnedWriteHalf>;

async fn reply(w: &mut Writer, r: &Response) -> bool {
    let mut line =
        serde_json::to_string(r).unwrap_or_else(|_| r#"{"ok":false,"error":"internal"}"#.into());
    line.push('\n');
    w.write_all(line.as_bytes()).await.is_ok()
}

async fn client<A: Actions>(s: UnixStream, view: ServerView, actions: Arc<A>) {
    let (rd, wr) = s.into_split();
    let mut wr = Stall::new(wr, view.config().control.idle_timeout);
    let mut rd = BufReader::new(rd.take(u64::MAX));
    loop {
        let mut buf = Vec::new();
        // Read one line, at most MAX_REQUEST octets.
        let mut limited = (&mut rd).take(MAX_REQUEST as u64 + 1);
        let read = limited.read_until(b'\n', &mut buf);
        // A client silent for `[control] idle_timeout` is disconnected, so that forgotten
        // connections cannot hold the MAX_CLIENTS slots.
        let idle = view.config().control.idle_timeout;
        let n = match tokio::time::timeout(idle, read).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return,
            Err(_) => {
                debug!("control client idle, disconnecting");
                let _ = reply(&mut wr, &Response::err("idle for too long")).await;
                return;
            }
        };
        if n == 0 {
            return;
        }
        if buf.last() != Some(&b'\n') {
            let msg = if buf.len() > MAX_REQUEST {
                format!("request longer than {MAX_REQUEST} octets")
            } else {
                "request not terminated by a newline".into()
            };
            let _ = reply(&mut wr, &Response::err(msg)).await;
            return;
        }
        let resp = match serde_json::from_slice::<Request>(&buf) {
            Ok(req) => {
                debug!(?req, "control request");
                commands::handle(req, &view, &*actions).await
            }
            Err(e) => Response::err(format!("malformed request: {e}")),
        };
        if !reply(&mut wr, &resp).await {
            return;
        }
    }
}
