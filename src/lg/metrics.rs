//! `/metrics`: Prometheus text exposition (format 0.0.4) of peers, the RIB and the process.
//! Every family has HELP and TYPE; counters end in `_total`; label values are escaped.
//! RPKI: the merged VRP table's size and how often it was replaced, and the configured
//! sources; per-cache RTR session state is not exported.

use std::fmt::Write as _;

use super::api::Ctx;
use super::stats::TableStats;
use crate::session::status::Counters as C;
use crate::session::State;
use crate::wire::Family;

/// A label value with `\`, `"` and newlines escaped.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// VmRSS and VmHWM of this process, in bytes.
fn memory() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some((kib("VmRSS:")?, kib("VmHWM:")?))
}

fn state_code(s: State) -> u64 {
    s as u64
}

/// The whole exposition.
pub fn render(ctx: &Ctx) -> String {
    let view = &ctx.view;
    let cfg = view.config();
    let dir = view.directory();
    let snap = view.snapshot();
    let counters = view.counters();
    let stats = TableStats::compute(&snap, &dir);
    let mut o = Out(String::with_capacity(4096));

    o.family(
        "peerex_build_info",
        "gauge",
        "Version, ASN and router id of this route server (always 1).",
    );
    let asn = cfg.server.asn.0.to_string();
    let rid = cfg.server.router_id.to_string();
    o.sample(
        "peerex_build_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("asn", &asn),
            ("router_id", &rid),
        ],
        1,
    );
    o.family(
        "peerex_uptime_seconds",
        "gauge",
        "Seconds since the route server started.",
    );
    o.sample("peerex_uptime_seconds", &[], view.uptime().as_secs());

    let (vrps, generation) = view.rpki_status();
    o.family(
        "peerex_rpki_vrps",
        "gauge",
        "VRPs in the table import policy validates against (every source merged).",
    );
    o.sample("peerex_rpki_vrps", &[], vrps as u64);
    o.family(
        "peerex_rpki_table_updates_total",
        "counter",
        "Times a new VRP table was published since start (each revalidates the routes it affects).",
    );
    o.sample("peerex_rpki_table_updates_total", &[], generation);
    o.family(
        "peerex_rpki_sources",
        "gauge",
        "Configured VRP sources, by kind.",
    );
    o.sample(
        "peerex_rpki_sources",
        &[("kind", "rtr")],
        cfg.rpki.rtr.len() as u64,
    );
    o.sample(
        "peerex_rpki_sources",
        &[("kind", "json_file")],
        cfg.rpki.vrp_files.len() as u64,
    );

    let collectors = view.collectors();
    o.family(
        "peerex_bmp_state",
        "gauge",
        "Each BMP collector's connection state (1 for the state it is in).",
    );
    for c in collectors.iter() {
        let now = c.stats.state();
        for st in crate::bmp::collector::CollectorState::ALL {
            o.sample(
                "peerex_bmp_state",
                &[("collector", &c.config.name), ("state", st.name())],
                u64::from(st == now),
            );
        }
    }
    for (name, help, get) in [
        (
            "peerex_bmp_sessions_total",
            "Connections established to each BMP collector.",
            (|s: &crate::bmp::collector::CollectorStats| s.sessions.load(std::sync::atomic::Ordering::Relaxed)) as fn(&crate::bmp::collector::CollectorStats) -> u64,
        ),
        (
            "peerex_bmp_messages_total",
            "BMP messages written to each collector.",
            |s| s.messages.load(std::sync::atomic::Ordering::Relaxed),
        ),
        (
            "peerex_bmp_bytes_total",
            "Bytes written to each BMP collector.",
            |s| s.bytes.load(std::sync::atomic::Ordering::Relaxed),
        ),
        (
            "peerex_bmp_resyncs_total",
            "Times a BMP collector was disconnected for not reading (it gets a full dump when it reconnects).",
            |s| s.resyncs.load(std::sync::atomic::Ordering::Relaxed),
        ),
    ] {
        o.family(name, "counter", help);
        for c in collectors.iter() {
            o.sample(name, &[("collector", &c.config.name)], get(&c.stats));
        }
    }

    o.family(
        "peerex_aspa_customers",
        "gauge",
        "Customer ASes with an ASPA in the set import policy verifies paths against.",
    );
    o.sample("peerex_aspa_customers", &[], view.aspa_customers() as u64);
    o.family(
        "peerex_rib_paths_aspa",
        "gauge",
        "Paths in the RIB (accepted and filtered) by ASPA verification outcome.",
    );
    for (i, s) in ["valid", "unknown", "not_checked", "invalid"]
        .iter()
        .enumerate()
    {
        let n = stats.aspa.get(i).copied().unwrap_or(0);
        o.sample("peerex_rib_paths_aspa", &[("state", s)], n);
    }

    o.family(
        "peerex_rib_prefixes",
        "gauge",
        "Prefixes in the RIB, by address family.",
    );
    for (i, f) in Family::ALL.iter().enumerate() {
        let fam = f.to_string();
        o.sample(
            "peerex_rib_prefixes",
            &[("family", &fam)],
            stats.prefixes.get(i).copied().unwrap_or(0),
        );
    }
    o.family(
        "peerex_rib_paths",
        "gauge",
        "Paths in the RIB (accepted and filtered), by address family.",
    );
    for (i, f) in Family::ALL.iter().enumerate() {
        let fam = f.to_string();
        o.sample(
            "peerex_rib_paths",
            &[("family", &fam)],
            stats.paths.get(i).copied().unwrap_or(0),
        );
    }

    let peers: Vec<_> = dir.iter().collect();
    let labels = |p: &crate::directory::PeerEntry| {
        (
            p.config.name.clone(),
            p.config.address.to_string(),
            p.config.asn.0.to_string(),
        )
    };

    o.family(
        "peerex_peer_up",
        "gauge",
        "1 when the BGP session is Established, else 0.",
    );
    for p in &peers {
        let (n, a, s) = labels(p);
        let up = u64::from(p.status.state() == State::Established);
        o.sample(
            "peerex_peer_up",
            &[("peer", &n), ("address", &a), ("asn", &s)],
            up,
        );
    }
    o.family(
        "peerex_peer_state",
        "gauge",
        "BGP FSM state: 0 Idle, 1 Connect, 2 Active, 3 OpenSent, 4 OpenConfirm, 5 Established, 6 Disabled.",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        o.sample(
            "peerex_peer_state",
            &[("peer", &n)],
            state_code(p.status.state()),
        );
    }
    o.family(
        "peerex_peer_uptime_seconds",
        "gauge",
        "Seconds the session has been Established (0 when not).",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        o.sample(
            "peerex_peer_uptime_seconds",
            &[("peer", &n)],
            p.status.uptime().unwrap_or(0),
        );
    }
    for (metric, help, pick) in [
        (
            "peerex_peer_prefixes_received",
            "Paths held from the peer (accepted and filtered), by family.",
            0u8,
        ),
        (
            "peerex_peer_prefixes_accepted",
            "Paths from the peer accepted by import policy, by family.",
            1,
        ),
        (
            "peerex_peer_prefixes_filtered",
            "Paths from the peer rejected by import policy, by family.",
            2,
        ),
    ] {
        o.family(metric, "gauge", help);
        for p in &peers {
            let (n, _, _) = labels(p);
            for f in Family::ALL {
                let (a, r) = counters.paths(p.id, f);
                let v = match pick {
                    0 => a + r,
                    1 => a,
                    _ => r,
                };
                let fam = f.to_string();
                o.sample(metric, &[("peer", &n), ("family", &fam)], v);
            }
        }
    }
    o.family(
        "peerex_peer_prefixes_exported",
        "gauge",
        "Prefixes the peer is sent (0 while its session is not Established).",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        o.sample(
            "peerex_peer_prefixes_exported",
            &[("peer", &n)],
            stats.exported_of(p.id.index()),
        );
    }
    o.family(
        "peerex_peer_prefixes_preferred",
        "gauge",
        "Prefixes for which the peer's path is ranked first.",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        o.sample(
            "peerex_peer_prefixes_preferred",
            &[("peer", &n)],
            stats.preferred_of(p.id.index()),
        );
    }
    o.family(
        "peerex_peer_routes_too_big_total",
        "counter",
        "Routes withdrawn from (or not sent to) the peer because their UPDATE does not fit its \
         maximum message length, without extended messages (RFC 8654).",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        o.sample(
            "peerex_peer_routes_too_big_total",
            &[("peer", &n)],
            counters.routes_too_big(p.id),
        );
    }
    type Pick = fn(&crate::session::status::Counters) -> &std::sync::atomic::AtomicU64;
    let counter_families: [(&str, &str, Pick); 9] = [
        (
            "peerex_peer_updates_in_total",
            "UPDATE messages received.",
            |c| &c.updates_in,
        ),
        (
            "peerex_peer_updates_out_total",
            "UPDATE messages sent.",
            |c| &c.updates_out,
        ),
        (
            "peerex_peer_messages_in_total",
            "BGP messages received.",
            |c| &c.messages_in,
        ),
        (
            "peerex_peer_messages_out_total",
            "BGP messages sent.",
            |c| &c.messages_out,
        ),
        (
            "peerex_peer_prefixes_announced_in_total",
            "Prefixes announced by the peer.",
            |c| &c.prefixes_announced_in,
        ),
        (
            "peerex_peer_prefixes_withdrawn_in_total",
            "Prefixes withdrawn by the peer.",
            |c| &c.prefixes_withdrawn_in,
        ),
        (
            "peerex_peer_notifications_in_total",
            "NOTIFICATION messages received.",
            |c| &c.notifications_in,
        ),
        (
            "peerex_peer_notifications_out_total",
            "NOTIFICATION messages sent.",
            |c| &c.notifications_out,
        ),
        (
            "peerex_peer_established_transitions_total",
            "Times the session reached Established.",
            |c| &c.established_transitions,
        ),
    ];
    for (metric, help, pick) in counter_families {
        o.family(metric, "counter", help);
        for p in &peers {
            let (n, _, _) = labels(p);
            o.sample(metric, &[("peer", &n)], C::get(pick(&p.status.counters)));
        }
    }
    o.family(
        "peerex_peer_session_ends_total",
        "counter",
        "Sessions (and connection attempts) that ended, by reason (see docs/lg.md).",
    );
    for p in &peers {
        let (n, _, _) = labels(p);
        let ends = p.status.counters.ends.iter();
        for (reason, count) in crate::session::EndReason::LABELS.iter().zip(ends) {
            let v = C::get(count);
            if v > 0 {
                o.sample(
                    "peerex_peer_session_ends_total",
                    &[("peer", &n), ("reason", reason)],
                    v,
                );
            }
        }
    }

    let mem = counters.memory();
    o.family(
        "peerex_memory_bytes",
        "gauge",
        "Bytes held, by part: rib_paths (prefix entries, path vectors, map nodes; grows with \
         prefixes and paths), attribute_sets (interned attribute sets and what they own; grows \
         with distinct attribute sets), snapshots (estimated: entries changed in the last \
         publish interval that the published snapshot keeps beside the live table; grows with \
         churn), export_state (change journals, pending prefixes and update groups, a cursor and feed \
         position per client; grows with churn and clients, not with the table), out_queues \
         (encoded UPDATEs waiting: the shards' feeds, shared by every live client, and each \
         peer's own catch-up queue; grows with how far the slowest clients are behind), \
         allocator (mimalloc's committed bytes, or the process RSS where it cannot be read; \
         the total the others are part of).",
    );
    for (part, bytes) in mem.parts() {
        o.sample("peerex_memory_bytes", &[("part", part)], bytes);
    }

    if let Some((rss, hwm)) = memory() {
        o.family(
            "peerex_process_resident_memory_bytes",
            "gauge",
            "Resident set size (VmRSS).",
        );
        o.sample("peerex_process_resident_memory_bytes", &[], rss);
        o.family(
            "peerex_process_resident_memory_peak_bytes",
            "gauge",
            "Peak resident set size (VmHWM).",
        );
        o.sample("peerex_process_resident_memory_peak_bytes", &[], hwm);
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }
}
