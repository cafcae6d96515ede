//! Human-readable tables of control answers, for `peerex ctl` without `--json`.

use serde_json::Value;

use super::protocol::Request;

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(x) => x.clone(),
        Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// Lays out rows with a header, columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push('\n');
        out.push_str(&line(r));
    }
    out
}

fn uptime(v: &Value) -> String {
    match v.as_u64() {
        None => "-".into(),
        Some(t) => {
            let (d, h, m, sec) = (t / 86400, t / 3600 % 24, t / 60 % 60, t % 60);
            if d > 0 {
                format!("{d}d{h:02}h{m:02}m")
            } else {
                format!("{h:02}:{m:02}:{sec:02}")
            }
        }
    }
}

fn routes(v: &Value) -> String {
    let empty = Vec::new();
    let list = v.get("routes").and_then(|r| r.as_array()).unwrap_or(&empty);
    let rows = list
        .iter()
        .map(|r| {
            let status = if r["accepted"].as_bool() == Some(true) {
                let mut t = match r["rank"].as_u64() {
                    Some(1) => "best".to_string(),
                    Some(n) => format!("#{n}"),
                    None => "ok".into(),
                };
                if r["llgr_stale"].as_bool() == Some(true) {
                    t.push_str(" llgr-stale");
                } else if r["stale"].as_bool() == Some(true) {
                    t.push_str(" stale");
                }
                t
            } else {
                format!(
                    "filtered: {}",
                    r["reasons"].as_array().map_or(String::new(), |a| a
                        .iter()
                        .map(s)
                        .collect::<Vec<_>>()
                        .join(", "))
                )
            };
            vec![
                s(&r["prefix"]),
                s(&r["peer"]),
                s(&r["next_hop"]),
                s(&r["as_path"]),
                s(&r["med"]),
                s(&r["communities"]),
                s(&r["large_communities"]),
                s(&r["aspa"]),
                status,
            ]
        })
        .collect();
    let mut out = table(
        &[
            "PREFIX",
            "FROM",
            "NEXT HOP",
            "AS PATH",
            "MED",
            "COMMUNITIES",
            "LARGE",
            "ASPA",
            "STATUS",
        ],
        rows,
    );
    if let Some(total) = v.get("total").and_then(|t| t.as_u64()) {
        if total as usize > list.len() {
            let off = v.get("offset").and_then(|o| o.as_u64()).unwrap_or(0);
            out.push_str(&format!("\n({} of {total} from offset {off})", list.len()));
        }
    }
    out
}

/// A peer's long-lived graceful restart: "-" when not negotiated, "yes", or the seconds
/// left of its long-lived stale routes after a loss.
fn llgr(p: &Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let until = p["llgr_stale_until"].as_array().and_then(|a| {
        a.iter()
            .filter_map(|e| e.get(1).and_then(Value::as_u64))
            .filter(|t| *t > now)
            .max()
    });
    match (until, p["llgr"].as_bool()) {
        (Some(t), _) if p["state"].as_str() != Some("Established") => {
            format!("stale {}s", t - now)
        }
        (_, Some(true)) => "yes".into(),
        _ => "-".into(),
    }
}

fn names(v: &Value) -> String {
    match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().map(s).collect::<Vec<_>>().join(", "),
        _ => "-".into(),
    }
}

fn reload(v: &Value) -> String {
    let mut out = vec![if v["dry_run"].as_bool() == Some(true) {
        format!("dry run, nothing applied ({}):", s(&v["config"]))
    } else {
        format!("reloaded {}:", s(&v["config"]))
    }];
    let resets = v["reset"].as_array().map_or(String::new(), |a| {
        a.iter()
            .map(|r| format!("{} ({})", s(&r["peer"]), names(&r["changed"])))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let lines = [
        ("start", names(&v["start"])),
        ("stop (peer de-configured)", names(&v["stop"])),
        (
            "reset (other configuration change)",
            if resets.is_empty() {
                "-".into()
            } else {
                resets
            },
        ),
        ("policy only, sessions kept", names(&v["policy"])),
        ("server-wide policy", names(&v["policy_server_wide"])),
        ("enable", names(&v["enable"])),
        ("disable", names(&v["disable"])),
        ("new description", names(&v["description"])),
        ("unchanged peers", s(&v["unchanged"])),
        ("BMP collectors", names(&v["bmp"])),
    ];
    for (k, x) in lines {
        out.push(format!("  {k:<36} {x}"));
    }
    if v["not_applied"].as_array().is_some_and(|a| !a.is_empty()) {
        out.push(format!(
            "  {:<36} {}",
            "not applied (restart needed)",
            names(&v["not_applied"])
        ));
    }
    if v["not_started"].as_array().is_some_and(|a| !a.is_empty()) {
        out.push(format!(
            "  {:<36} {}",
            "NOT STARTED (no peer id left)",
            names(&v["not_started"])
        ));
    }
    if let Some(rows) = v["route_impact"].as_array() {
        out.push(String::new());
        out.push("route impact (".to_string() + &s(&v["route_impact_note"]) + "):");
        if rows.is_empty() {
            out.push("  no peer's routes change".into());
        } else {
            let rows = rows
                .iter()
                .map(|r| {
                    vec![
                        s(&r["peer"]),
                        s(&r["newly_accepted"]),
                        s(&r["newly_rejected"]),
                        s(&r["newly_received"]),
                        s(&r["lost"]),
                    ]
                })
                .collect();
            out.push(table(
                &[
                    "PEER",
                    "NEWLY ACCEPTED",
                    "NEWLY REJECTED",
                    "NEWLY RECEIVED",
                    "LOST",
                ],
                rows,
            ));
        }
    }
    out.join("\n")
}

/// The memory breakdown of `status`, in MiB.
fn memory(v: &Value) -> String {
    let mib = |k: &str| match v[k].as_u64() {
        Some(b) => format!("{:.1} MiB", b as f64 / 1_048_576.0),
        None => "-".into(),
    };
    let mut out = vec!["memory".to_string()];
    for k in crate::rib::memory::PARTS {
        let note = if k == "allocator" {
            format!(" ({})", s(&v["allocator_source"]))
        } else {
            String::new()
        };
        out.push(format!("  {k:<16} {:>12}{note}", mib(k)));
    }
    out.join("\n")
}

/// Renders the answer to `req`.
pub fn render(req: &Request, v: &Value) -> String {
    match req {
        Request::Status => {
            let keys = [
                "version",
                "asn",
                "router_id",
                "config",
                "peers",
                "peers_established",
                "prefixes",
                "paths_accepted",
                "paths_filtered",
                "rib_shards",
            ];
            let mut out: Vec<String> = keys
                .iter()
                .map(|k| format!("{k:<18} {}", s(&v[*k])))
                .collect();
            out.insert(
                4,
                format!("{:<18} {}", "uptime", uptime(&v["uptime_seconds"])),
            );
            out.push(memory(&v["memory"]));
            if let Some(list) = v["bmp_collectors"].as_array().filter(|l| !l.is_empty()) {
                out.push("BMP collectors:".to_string());
                for c in list {
                    out.push(format!(
                        "  {:<16} {:<22} {:<10} sessions {} messages {} bytes {} resyncs {}{}",
                        s(&c["name"]),
                        s(&c["address"]),
                        s(&c["state"]),
                        s(&c["sessions"]),
                        s(&c["messages"]),
                        s(&c["bytes"]),
                        s(&c["resyncs"]),
                        match c["last_error"].as_str() {
                            Some(e) if !e.is_empty() => format!("  last error: {e}"),
                            _ => String::new(),
                        }
                    ));
                }
            }
            out.join("\n")
        }
        Request::Peers => {
            let empty = Vec::new();
            let rows = v
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|p| {
                    vec![
                        s(&p["name"]),
                        s(&p["address"]),
                        s(&p["asn"]),
                        s(&p["state"]),
                        uptime(&p["uptime_seconds"]),
                        s(&p["routes_accepted"]),
                        s(&p["routes_filtered"]),
                        s(&p["last_end_reason"]),
                        llgr(p),
                    ]
                })
                .collect();
            table(
                &[
                    "NAME", "ADDRESS", "ASN", "STATE", "UPTIME", "ACCEPTED", "FILTERED",
                    "LAST END", "LLGR",
                ],
                rows,
            )
        }
        Request::Peer { .. } => {
            let mut out = Vec::new();
            if let Some(o) = v.as_object() {
                for (k, x) in o {
                    let text = if k == "uptime_seconds" {
                        uptime(x)
                    } else {
                        s(x)
                    };
                    out.push(format!("{k:<24} {text}"));
                }
            }
            out.join("\n")
        }
        Request::Routes { .. } => routes(v),
        Request::PeerAction { name, action, .. } => format!("{name}: {action:?} requested"),
        Request::DumpMrt { .. } => format!(
            "wrote {} ({} prefixes, {} paths)",
            s(&v["file"]),
            s(&v["prefixes"]),
            s(&v["paths"])
        ),
        Request::Reload { .. } => reload(v),
    }
}
