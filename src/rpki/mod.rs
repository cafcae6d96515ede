//! `rpki`: the VRP and ASPA sources and their transport. The task that keeps the VRP table current:
//! one task per source (a JSON file it reads again periodically, an RTR cache it holds a TCP
//! session with, RFC 8210: `rtr.rs`), and a merger that unions the sources' VRPs, builds a
//! new [`VrpTable`] when they change, works out which VRP prefixes changed, and publishes
//! both through a `tokio::sync::watch` channel. ASPAs come from the same sources (the
//! `aspas` member of a JSON file, ASPA PDUs of RTR version 2) and are published in the same
//! table.
//!
//! Owns the files and sockets of RPKI; the table itself and validation are `policy::rpki`'s
//! (pure data, no I/O). Depends on `config`, `policy` and `wire`; never on `rib`, `session`
//! or anything above; `policy` does not import it.

mod rtr;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::RpkiConfig;
use crate::policy::rpki::{parse_rpki_json, Aspa, AspaSet, Vrp, VrpChanges, VrpTable};

/// What one source holds.
#[derive(Debug, Default)]
struct SourceData {
    vrps: Vec<Vrp>,
    aspas: Vec<Aspa>,
}

/// A source's new data (`None`: the source has none any more).
type SourceMsg = (usize, Option<Arc<SourceData>>);

/// One publication of the VRP table.
#[derive(Clone, Debug)]
pub struct RpkiUpdate {
    pub table: Arc<VrpTable>,
    /// What changed since the previous publication (generation - 1). A reader that missed
    /// generations (the watch channel keeps only the latest) must use
    /// `table.changes_since(&the_table_it_last_used)` instead.
    pub changes: Arc<VrpChanges>,
    /// 0 for the initial empty table, then +1 per publication.
    pub generation: u64,
}

impl RpkiUpdate {
    /// The changes relative to a table the reader last used, using the precomputed ones when
    /// the reader is exactly one generation behind.
    pub fn changes_for(&self, last_generation: u64, last_table: &VrpTable) -> Arc<VrpChanges> {
        if last_generation + 1 == self.generation {
            self.changes.clone()
        } else {
            Arc::new(self.table.changes_since(last_table))
        }
    }
}

/// The running RPKI sources. Dropping it stops them.
pub struct RpkiFeed {
    rx: watch::Receiver<RpkiUpdate>,
    /// Kept so receivers never see a closed channel when there is no source.
    _tx: Option<watch::Sender<RpkiUpdate>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RpkiFeed {
    /// Starts a task per configured source (needs a tokio runtime). With no source, the
    /// table stays empty and every route is "not checked".
    pub fn start(cfg: &RpkiConfig) -> RpkiFeed {
        let initial = RpkiUpdate {
            table: Arc::new(VrpTable::empty()),
            changes: Arc::new(VrpChanges::default()),
            generation: 0,
        };
        let (wtx, wrx) = watch::channel(initial);
        if cfg.is_empty() {
            return RpkiFeed {
                rx: wrx,
                _tx: Some(wtx),
                tasks: Vec::new(),
            };
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let mut n = 0;
        for path in &cfg.vrp_files {
            tasks.push(tokio::spawn(run_file(
                path.clone(),
                n,
                cfg.file_refresh,
                tx.clone(),
            )));
            n += 1;
        }
        for addr in &cfg.rtr {
            tasks.push(tokio::spawn(rtr::run(
                addr.clone(),
                n,
                cfg.rtr_retry,
                tx.clone(),
            )));
            n += 1;
        }
        drop(tx);
        tasks.push(tokio::spawn(merge(n, rx, wtx)));
        RpkiFeed {
            rx: wrx,
            _tx: None,
            tasks,
        }
    }

    /// A receiver of every publication (the latest is always readable with `borrow`).
    pub fn subscribe(&self) -> watch::Receiver<RpkiUpdate> {
        self.rx.clone()
    }

    /// The current table.
    pub fn current(&self) -> Arc<VrpTable> {
        self.rx.borrow().table.clone()
    }

    /// (VRPs in the current table, publications since start).
    pub fn status(&self) -> (usize, u64) {
        let u = self.rx.borrow();
        (u.table.len(), u.generation)
    }
}

impl Drop for RpkiFeed {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Re-reads a VRP file whenever its modification time or size changes.
async fn run_file(
    path: PathBuf,
    source: usize,
    every: Duration,
    out: mpsc::UnboundedSender<SourceMsg>,
) {
    let mut seen: Option<(Option<SystemTime>, u64)> = None;
    let mut warned = false;
    loop {
        match tokio::fs::metadata(&path).await {
            Ok(m) => {
                warned = false;
                let sig = (m.modified().ok(), m.len());
                if seen != Some(sig) {
                    seen = Some(sig);
                    let p = path.clone();
                    let parsed = tokio::task::spawn_blocking(move || {
                        std::fs::read_to_string(&p)
                            .map_err(|e| e.to_string())
                            .and_then(|t| parse_rpki_json(&t).map_err(|e| e.to_string()))
                    })
                    .await;
                    match parsed {
                        Ok(Ok(f)) => {
                            info!(
                                file = %path.display(),
                                vrps = f.vrps.len(),
                                aspas = f.aspas.len(),
                                "VRP file loaded"
                            );
                            if f.skipped_aspas > 0 {
                                warn!(
                                    file = %path.display(),
                                    skipped = f.skipped_aspas,
                                    "ASPA entries without a \"providers\" list (an older format) skipped"
                                );
                            }
                            let data = SourceData {
                                vrps: f.vrps,
                                aspas: f.aspas,
                            };
                            let _ = out.send((source, Some(Arc::new(data))));
                        }
                        Ok(Err(e)) => {
                            warn!(file = %path.display(), error = %e, "VRP file refused; keeping the previous data")
                        }
                        Err(e) => {
                            warn!(file = %path.display(), error = %e, "VRP file reader failed")
                        }
                    }
                }
            }
            Err(e) => {
                if !warned {
                    warn!(file = %path.display(), error = %e, "cannot read VRP file");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Unions the sources and publishes a new table when the union changes.
async fn merge(
    sources: usize,
    mut rx: mpsc::UnboundedReceiver<SourceMsg>,
    out: watch::Sender<RpkiUpdate>,
) {
    let mut slots: Vec<Option<Arc<SourceData>>> = vec![None; sources];
    let mut current = Arc::new(VrpTable::empty());
    let mut generation = 0u64;
    while let Some(first) = rx.recv().await {
        let mut msg = Some(first);
        // Take everything already queued: one rebuild for a burst of updates.
        while let Some((i, data)) = msg {
            if let Some(s) = slots.get_mut(i) {
                *s = data;
            }
            msg = rx.try_recv().ok();
        }
        let snapshot = slots.clone();
        let old = current.clone();
        let built = tokio::task::spawn_blocking(move || {
            let table = if snapshot.iter().any(Option::is_some) {
                let data = || snapshot.iter().flatten();
                VrpTable::new(data().flat_map(|d| d.vrps.iter().copied()))
                    .with_aspas(AspaSet::new(data().flat_map(|d| d.aspas.iter().cloned())))
            } else {
                VrpTable::empty()
            };
            let changes = table.changes_since(&old);
            (table, changes)
        })
        .await;
        let Ok((table, changes)) = built else {
            warn!("VRP table build failed");
            continue;
        };
        if changes.is_empty() {
            continue;
        }
        generation += 1;
        info!(
            vrps = table.len(),
            aspas = table.aspas().len(),
            changed_prefixes = changes.prefixes().len(),
            changed_aspas = changes.aspa_customers().len(),
            everything = changes.is_everything(),
            generation,
            "RPKI table updated"
        );
        current = Arc::new(table);
        out.send_replace(RpkiUpdate {
            table: current.clone(),
            changes: Arc::new(changes),
            generation,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rpki::RpkiState;
    use crate::wire::{Asn, Prefix};
    use std::process::{Child, Command, Stdio};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "peerex-rpki-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write_vrps(path: &std::path::Path, roas: &[(&str, u8, u32)]) {
        let body: Vec<String> = roas
            .iter()
            .map(|(p, m, a)| format!(r#"{{"prefix":"{p}","maxLength":{m},"asn":"AS{a}"}}"#))
            .collect();
        let text = format!(
            r#"{{"metadata":{{"buildtime":"2024-01-01T00:00:00Z"}},"roas":[{}]}}"#,
            body.join(",")
        );
        // Write then rename, as validators do, so readers never see half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    async fn next_update(
        rx: &mut watch::Receiver<RpkiUpdate>,
        what: &str,
        ok: impl Fn(&RpkiUpdate) -> bool,
    ) -> RpkiUpdate {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            {
                let u = rx.borrow_and_update();
                if ok(&u) {
                    return u.clone();
                }
            }
            tokio::time::timeout_at(deadline, rx.changed())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap();
        }
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn no_source_means_not_checked() {
        let feed = RpkiFeed::start(&RpkiConfig {
            vrp_files: Vec::new(),
            file_refresh: Duration::from_secs(1),
            rtr: Vec::new(),
            rtr_retry: Duration::from_secs(1),
        });
        assert!(!feed.current().is_loaded());
        assert_eq!(
            feed.current().validate(&p("192.0.2.0/24"), Some(Asn(1))),
            RpkiState::NotChecked
        );
        assert!(feed.subscribe().has_changed().is_ok());
    }

    #[tokio::test]
    async fn file_source_follows_edits() {
        let dir = temp_dir("file");
        let file = dir.join("vrps.json");
        write_vrps(&file, &[("192.0.2.0/24", 24, 64496)]);
        let feed = RpkiFeed::start(&RpkiConfig {
            vrp_files: vec![file.clone()],
            file_refresh: Duration::from_millis(50),
            rtr: Vec::new(),
            rtr_retry: Duration::from_secs(1),
        });
        let mut rx = feed.subscribe();
        let u = next_update(&mut rx, "first load", |u| u.table.len() == 1).await;
        assert_eq!(u.generation, 1);
        assert!(u.changes.is_everything());
        std::thread::sleep(Duration::from_millis(20));
        write_vrps(
            &file,
            &[("192.0.2.0/24", 24, 64497), ("198.51.100.0/24", 24, 1)],
        );
        let u = next_update(&mut rx, "edit", |u| u.table.len() == 2).await;
        assert_eq!(u.generation, 2);
        assert_eq!(
            u.changes.prefixes(),
            &[p("192.0.2.0/24"), p("198.51.100.0/24")]
        );
        assert_eq!(
            u.table.validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::Invalid
        );
        // A broken file keeps the previous data.
        std::fs::write(&file, "{ not json").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(feed.current().len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    struct Stayrtr(Child);

    impl Drop for Stayrtr {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn spawn_stayrtr(file: &std::path::Path, port: u16) -> Child {
        Command::new("stayrtr")
            .arg("-cache")
            .arg(file)
            .arg("-bind")
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "-checktime=false",
                "-refresh",
                "1",
                "-metrics.addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Debian's stayrtr 0.5.1 sends ASPA PDUs of an earlier draft, which the crate's client
    /// cannot read: the client falls back to RTR version 1 and the VRPs arrive all the same.
    #[tokio::test]
    async fn stayrtr_with_old_aspas_still_delivers_vrps() {
        if Command::new("stayrtr").arg("-version").output().is_err() {
            eprintln!("stayrtr is not installed: skipping (apt-get install stayrtr)");
            return;
        }
        let dir = temp_dir("rtr-aspa");
        let file = dir.join("vrps.json");
        let text = r#"{"metadata":{"buildtime":"2024-01-01T00:00:00Z"},
          "roas":[{"prefix":"192.0.2.0/24","maxLength":24,"asn":"AS64496"}],
          "provider_authorizations":{
            "ipv4":[{"customer_asid":64496,"providers":[64497,64498]}],
            "ipv6":[{"customer_asid":64496,"providers":[64497]}]}}"#;
        std::fs::write(&file, text).unwrap();
        let port = free_port();
        let _guard = Stayrtr(spawn_stayrtr(&file, port));
        let feed = RpkiFeed::start(&RpkiConfig {
            vrp_files: Vec::new(),
            file_refresh: Duration::from_secs(1),
            rtr: vec![format!("127.0.0.1:{port}")],
            rtr_retry: Duration::from_millis(200),
        });
        let mut rx = feed.subscribe();
        let u = next_update(&mut rx, "VRPs from stayrtr", |u| u.table.len() == 1).await;
        assert_eq!(
            u.table.validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::Valid
        );
        assert!(u.table.aspas().is_empty(), "old-format ASPAs are not used");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// RTR against a real cache: Debian's stayrtr serving a JSON file it re-reads every
    /// second (`-refresh 1`) and announcing changes with Serial Notify.
    #[tokio::test]
    async fn rtr_client_against_stayrtr() {
        if Command::new("stayrtr").arg("-version").output().is_err() {
            eprintln!("stayrtr is not installed: skipping (apt-get install stayrtr)");
            return;
        }
        let dir = temp_dir("rtr");
        let file = dir.join("vrps.json");
        write_vrps(
            &file,
            &[("192.0.2.0/24", 24, 64496), ("2001:db8::/32", 48, 64497)],
        );
        let port = free_port();
        let child = spawn_stayrtr(&file, port);
        let _guard = Stayrtr(child);
        let feed = RpkiFeed::start(&RpkiConfig {
            vrp_files: Vec::new(),
            file_refresh: Duration::from_secs(1),
            rtr: vec![format!("127.0.0.1:{port}")],
            rtr_retry: Duration::from_millis(200),
        });
        let mut rx = feed.subscribe();
        let u = next_update(&mut rx, "initial RTR data", |u| u.table.len() == 2).await;
        assert_eq!(
            u.table.validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::Valid
        );
        assert_eq!(
            u.table.validate(&p("2001:db8:1::/48"), Some(Asn(64497))),
            RpkiState::Valid
        );
        let (g, old) = (u.generation, u.table.clone());
        // The ROA moves to another AS and a new one appears: the route turns invalid.
        write_vrps(
            &file,
            &[
                ("192.0.2.0/24", 24, 64511),
                ("2001:db8::/32", 48, 64497),
                ("203.0.113.0/24", 24, 64500),
            ],
        );
        let u = next_update(&mut rx, "RTR update after the file changed", |u| {
            u.table.len() == 3
        })
        .await;
        assert_eq!(
            u.table.validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::Invalid
        );
        let changes = u.changes_for(g, &old);
        assert!(changes.affects(&p("192.0.2.0/24")));
        assert!(changes.affects(&p("203.0.113.0/24")));
        assert!(!changes.affects(&p("2001:db8:1::/48")));
        // The cache restarts (a new RTR session): the client reconnects, resets and keeps
        // serving the old data until the new arrives.
        drop(_guard);
        write_vrps(&file, &[("192.0.2.0/24", 24, 64496)]);
        assert_eq!(feed.current().len(), 3);
        let _guard = Stayrtr(spawn_stayrtr(&file, port));
        let u = next_update(&mut rx, "RTR data after the cache restarted", |u| {
            u.table.len() == 1
        })
        .await;
        assert_eq!(
            u.table.validate(&p("192.0.2.0/24"), Some(Asn(64496))),
            RpkiState::Valid
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
