//! What the control socket may change, as a trait: a command to one peer's session, and a
//! reload. Everything else the control socket only reads, from the
//! [`ServerView`](crate::view::ServerView). `main.rs` implements [`Actions`] over the running
//! server and the reloader, so `control` never imports `server`.

use std::fmt;
use std::future::Future;

use crate::config::ConfigErrors;
use crate::reload::ReloadReport;
use crate::session::PeerCmd;

/// The changes a control client may ask for.
pub trait Actions: Send + Sync + 'static {
    /// Hands `cmd` to the session task of the peer called `name`.
    fn peer_command(
        &self,
        name: &str,
        cmd: PeerCmd,
    ) -> impl Future<Output = Result<(), PeerCommandError>> + Send;

    /// Reads the configuration file again and applies it (with `dry_run`, only reports what
    /// would change). An invalid file changes nothing.
    fn reload(
        &self,
        dry_run: bool,
    ) -> impl Future<Output = Result<ReloadReport, ConfigErrors>> + Send;
}

/// Why a peer command was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerCommandError {
    /// No running peer has that name.
    NoSuchPeer(String),
    /// The peer's task has ended and takes no more commands.
    Stopped,
}

impl fmt::Display for PeerCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerCommandError::NoSuchPeer(name) => write!(f, "no peer named {name:?}"),
            PeerCommandError::Stopped => f.write_str("the peer task has stopped"),
        }
    }
}

impl std::error::Error for PeerCommandError {}
