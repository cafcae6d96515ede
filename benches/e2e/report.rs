//! What one run produced ([`Outcome`]), the medians over the repetitions of one (scenario,
//! server) pair ([`Summary`]), and the markdown report: the medians, the ratios computed
//! from them against the targets, then every run's own figures and notes.

use std::fmt::Write as _;
use std::time::Duration;

use crate::scenario::{self, Scenario};
use crate::servers::Kind;

/// peerex converges at least this many times faster than BIRD.
const SPEED_TARGET: f64 = 5.0;
/// peerex's peak RSS at most this fraction of BIRD's.
const MEMORY_TARGET: f64 = 0.5;
/// peerex's CPU seconds at most this fraction of BIRD's.
const CPU_TARGET: f64 = 0.5;
/// Where senders share prefixes (scenario `c`): announcements delivered to the clients at
/// most this many times the routes they must end up with (little churn before the best
/// path is known).
const DELIVERED_TARGET: f64 = 1.5;

/// One run of one scenario against one server.
pub struct Outcome {
    pub scenario: String,
    pub server: Kind,
    /// Repetition, from 1.
    pub run: usize,
    /// The server ran in the network namespace (veth) instead of on loopback.
    pub netns: bool,
    /// Time to full convergence.
    pub converge: Option<Duration>,
    /// Time until the server had read everything the senders wrote.
    pub ingest: Option<Duration>,
    pub sent: u64,
    pub expected_routes: u64,
    pub delivered: u64,
    pub peak_rss_kib: u64,
    pub cpu_secs: f64,
    pub error: Option<String>,
    pub notes: Vec<String>,
    /// The sessions through the run, once the sessions were up.
    pub sessions: Option<Sessions>,
}

/// How the sessions fared (every run; the report has a table of them for scenarios with a
/// stress, see `Scenario::stress`, or when `E2E_HOLD` is set).
pub struct Sessions {
    /// Shown in the report's sessions table.
    pub stressed: bool,
    /// The negotiated hold time, seconds.
    pub hold: u16,
    /// Sessions still up at the end of the run (after the settle time), of all.
    pub up: usize,
    pub of: usize,
    /// `neighbours_established` in peerex's /api/v1/status at the end (peerex builds).
    pub server_says: Option<u64>,
    /// The longest silence of the server at any client (between two messages of any type,
    /// from the OPEN exchange to the end), and that client.
    pub max_gap: Duration,
    pub max_gap_peer: usize,
    /// The longest time between two KEEPALIVEs the generator wrote on any session.
    pub ka_sent_gap: Duration,
    pub lg: Option<LgFigures>,
}

/// The looking-glass flood of one run.
pub struct LgFigures {
    pub threads: usize,
    /// Requests answered (200) from the first UPDATE written to convergence, and that time.
    pub during_load: u64,
    pub load_secs: f64,
    /// Requests answered and failed over the whole flood (from before the load to the end
    /// of the settle time), and its length.
    pub answered: u64,
    pub failed: u64,
    pub secs: f64,
    /// The longest request of the flood (connect to the end of the answer), and its target.
    pub slowest: Duration,
    pub slowest_target: &'static str,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.error.is_none() && self.converge.is_some()
    }
    fn in_rate(&self) -> Option<f64> {
        self.ingest.map(|t| self.sent as f64 / t.as_secs_f64())
    }
    fn out_rate(&self) -> Option<f64> {
        self.converge
            .map(|t| self.delivered as f64 / t.as_secs_f64())
    }
}

/// The medians over the runs of one (scenario, server) that converged; failed runs only
/// count in `runs`.
struct Summary {
    scenario: String,
    server: Kind,
    netns: bool,
    runs: usize,
    ok: usize,
    expected_routes: u64,
    /// Seconds.
    converge: Option<f64>,
    rss_kib: Option<f64>,
    cpu_secs: Option<f64>,
    delivered: Option<f64>,
}

impl Summary {
    fn of(sc: &Scenario, server: Kind, outcomes: &[Outcome]) -> Option<Summary> {
        let mine: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.scenario == sc.name && o.server == server)
            .collect();
        let first = mine.first()?;
        let ok: Vec<&Outcome> = mine.iter().copied().filter(|o| o.ok()).collect();
        let med = |f: &dyn Fn(&Outcome) -> f64| median(ok.iter().map(|o| f(o)).collect());
        Some(Summary {
            scenario: sc.name.to_string(),
            server,
            netns: first.netns,
            runs: mine.len(),
            ok: ok.len(),
            expected_routes: sc.expected_routes(),
            converge: med(&|o| o.converge.map_or(0.0, |d| d.as_secs_f64())),
            rss_kib: med(&|o| o.peak_rss_kib as f64),
            cpu_secs: med(&|o| o.cpu_secs),
            delivered: med(&|o| o.delivered as f64),
        })
    }

    fn delivered_per_route(&self) -> Option<f64> {
        let d = self.delivered?;
        (self.expected_routes > 0).then(|| d / self.expected_routes as f64)
    }
}

/// The median (the mean of the middle two for an even count); `None` for no values.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `a / b`, where both are known and `b` is not zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

pub fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| seconds(d.as_secs_f64()))
}

/// Milliseconds matter for the small scenarios, not for the large ones.
fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.2} s")
    }
}

fn rate(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(r) if r >= 1e6 => format!("{:.2} M/s", r / 1e6),
        Some(r) => format!("{:.0} k/s", r / 1e3),
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("-".into(), f)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn transport(netns: bool) -> &'static str {
    if netns {
        "veth"
    } else {
        "lo"
    }
}

/// The whole markdown report; `servers` in the order they ran.
pub fn report(
    scenarios: &[std::sync::Arc<Scenario>],
    servers: &[Kind],
    runs: usize,
    outcomes: &[Outcome],
    bird_import_table: bool,
) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# peerex vs BIRD 2: end-to-end convergence\n");
    let _ = writeln!(
        r,
        "Machine: {} CPUs; transport: `lo` = loopback (127.64.x.y to 127.0.0.1), `veth` = into \
         network namespace e2e-rs (10.77.0.0/16); BIRD `import table {}`; same import checks on \
         all servers; generator and server share the machine. {runs} run(s) per (scenario, \
         server), the servers alternating within each run ({}).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if bird_import_table { "on" } else { "off" },
        servers
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let summaries: Vec<(&Scenario, Vec<Summary>)> = scenarios
        .iter()
        .map(|sc| {
            let v = servers
                .iter()
                .filter_map(|&k| Summary::of(sc, k, outcomes))
                .collect();
            (sc.as_ref(), v)
        })
        .collect();

    let _ = writeln!(r, "## Medians\n");
    let _ = writeln!(
        r,
        "Median over the runs that converged (failed runs are left out and counted in `ok`). \
         `delivered`: prefix announcements the clients received until convergence; `final \
         routes`: what they must hold at the end. Target for peerex where senders share \
         prefixes (scenario c): delivered / final ≤ {DELIVERED_TARGET}.\n"
    );
    let _ = writeln!(
        r,
        "| scenario | server | ok | converge | peak RSS | CPU | delivered | final routes | delivered / final |"
    );
    let _ = writeln!(
        r,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (sc, sums) in &summaries {
        for s in sums {
            let dpr = s.delivered_per_route();
            let target = if sc.kind == scenario::Kind::SamePrefixes && s.server.is_peerex() {
                dpr.map_or(String::new(), |d| {
                    format!(" (≤ {DELIVERED_TARGET}: {})", met(d <= DELIVERED_TARGET))
                })
            } else {
                String::new()
            };
            let _ = writeln!(
                r,
                "| {} {} | {} ({}) | {}/{} | {} | {} | {} | {} | {} | {}{target} |",
                s.scenario,
                sc.description,
                s.server.name(),
                transport(s.netns),
                s.ok,
                s.runs,
                opt(s.converge, seconds),
                opt(s.rss_kib, |v| mib(v as u64)),
                opt(s.cpu_secs, |v| format!("{v:.2} s")),
                opt(s.delivered, |v| format!("{v:.0}")),
                s.expected_routes,
                opt(dpr, |v| format!("{v:.2}")),
            );
        }
    }

    let _ = writeln!(r, "\n## Ratios (from the medians)\n");
    let _ = writeln!(
        r,
        "peerex's median divided by the other server's. Targets against BIRD: converge ≤ {:.2} \
         (speed-up ≥ {SPEED_TARGET}), peak RSS ≤ {MEMORY_TARGET}, CPU ≤ {CPU_TARGET}; none \
         against peerex-base (another peerex build).\n",
        1.0 / SPEED_TARGET
    );
    let _ = writeln!(
        r,
        "| scenario | peerex / | converge | speed-up (other / peerex) | peak RSS | CPU | delivered | verdict |"
    );
    let _ = writeln!(r, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for (sc, sums) in &summaries {
        let Some(p) = sums.iter().find(|s| s.server == Kind::Peerex) else {
            continue;
        };
        for other in [Kind::BirdSingle, Kind::BirdPipes, Kind::PeerexBase] {
            let Some(b) = sums.iter().find(|s| s.server == other) else {
                continue;
            };
            let time = ratio(p.converge, b.converge);
            let mem = ratio(p.rss_kib, b.rss_kib);
            let cpu = ratio(p.cpu_secs, b.cpu_secs);
            let delivered = ratio(p.delivered, b.delivered);
            let mut verdict = match (other, time, mem, cpu) {
                (Kind::PeerexBase, ..) => "no target (baseline)".to_string(),
                (_, Some(t), Some(m), Some(c)) => format!(
                    "speed {}, memory {}, CPU {}",
                    met(t * SPEED_TARGET <= 1.0),
                    met(m <= MEMORY_TARGET),
                    met(c <= CPU_TARGET)
                ),
                _ => "no comparison (no run converged)".to_string(),
            };
            if p.ok < p.runs || b.ok < b.runs {
                verdict.push_str("; some runs failed");
            }
            let _ = writeln!(
                r,
                "| {} | {} | {} | {} | {} | {} | {} | {verdict} |",
                sc.name,
                other.name(),
                opt(time, |v| format!("{v:.3}")),
                opt(time, |v| format!("{:.2}×", 1.0 / v)),
                opt(mem, |v| format!("{v:.2}")),
                opt(cpu, |v| format!("{v:.2}")),
                opt(delivered, |v| format!("{v:.2}")),
            );
        }
    }

    let _ = writeln!(r, "\n## Every run\n");
    let _ = writeln!(
        r,
        "| scenario | server | run | converge | in (server reads) | out (to clients) | delivered / routes | peak RSS | CPU |"
    );
    let _ = writeln!(
        r,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for o in outcomes {
        let _ = writeln!(
            r,
            "| {} | {} ({}) | {} | {} | {} | {} | {} / {} | {} | {:.2} s |",
            o.scenario,
            o.server.name(),
            transport(o.netns),
            o.run,
            if o.error.is_some() {
                "FAILED".into()
            } else {
                secs(o.converge)
            },
            rate(o.in_rate()),
            rate(o.out_rate()),
            o.delivered,
            o.expected_routes,
            mib(o.peak_rss_kib),
            o.cpu_secs,
        );
    }
    sessions_table(&mut r, outcomes);
    let notes: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.error.is_some() || !o.notes.is_empty())
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(r, "\nNotes:\n");
        for o in notes {
            let who = format!("{} / {} / run {}", o.scenario, o.server.name(), o.run);
            for n in &o.notes {
                let _ = writeln!(r, "- {who}: {n}");
            }
            if let Some(e) = &o.error {
                let _ = writeln!(r, "- {who}: FAILED: {}", e.replace('\n', "\n  "));
            }
        }
    }
    r
}

/// Per run of a scenario with a stress (scenario `h`, or `E2E_HOLD`): the sessions, their
/// keepalives and the looking-glass flood.
fn sessions_table(r: &mut String, outcomes: &[Outcome]) {
    let rows: Vec<(&Outcome, &Sessions)> = outcomes
        .iter()
        .filter_map(|o| o.sessions.as_ref().filter(|s| s.stressed).map(|s| (o, s)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(r, "\n## Sessions under load\n");
    let _ = writeln!(
        r,
        "A run fails when any session ends (a NOTIFICATION or a close from the server, or the \
         client's own hold timer: nothing from the server for the negotiated hold time). \
         `silence`: the longest time between two messages from the server at any client, as \
         the generator's reader saw them (an upper bound: it includes the generator's own \
         delays); `own keepalives`: the longest gap between two KEEPALIVEs the generator \
         wrote (it waits for the sender's chunk in flight). LG: looking-glass requests \
         answered while the table loaded (first UPDATE to convergence), answered / failed \
         over the whole flood, and its longest request.\n"
    );
    let _ = writeln!(
        r,
        "| scenario | server | run | hold | converge | peak RSS | CPU | sessions up at the end | silence (peer) | own keepalives | LG answered during the load | LG answered / failed in all | LG longest request |"
    );
    let _ = writeln!(
        r,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for (o, s) in rows {
        let lg = s.lg.as_ref();
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} s | {} | {} | {:.2} s | {}/{}{} | {:.2} s (p{}) | {:.2} s | {} | {} | {} |",
            o.scenario,
            o.server.name(),
            o.run,
            s.hold,
            if o.error.is_some() {
                "FAILED".into()
            } else {
                secs(o.converge)
            },
            mib(o.peak_rss_kib),
            o.cpu_secs,
            s.up,
            s.of,
            s.server_says
                .map_or(String::new(), |n| format!(" (server: {n})")),
            s.max_gap.as_secs_f64(),
            s.max_gap_peer,
            s.ka_sent_gap.as_secs_f64(),
            lg.map_or("no flood".into(), |l| format!(
                "{} in {:.1} s ({:.0}/s, {} threads)",
                l.during_load,
                l.load_secs,
                l.during_load as f64 / l.load_secs.max(1e-9),
                l.threads
            )),
            lg.map_or("-".into(), |l| format!(
                "{} / {} in {:.1} s",
                l.answered, l.failed, l.secs
            )),
            lg.map_or("-".into(), |l| format!(
                "{:.2} s (`{}`)",
                l.slowest.as_secs_f64(),
                l.slowest_target
            )),
        );
    }
}
