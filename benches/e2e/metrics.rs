//! peerex's Prometheus /metrics, read once after convergence: the memory breakdown
//! (`peerex_memory_bytes{part="..."}`, every sample found; none yet is fine) and the
//! process's own `peerex_process_resident_memory_bytes`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// A plain HTTP/1.0 GET of `/metrics`; the body.
fn get(ip: Ipv4Addr, port: u16) -> Result<String, String> {
    let addr = SocketAddr::from((ip, port));
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(
        format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP header")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("answered {status:?}"));
    }
    Ok(body.to_string())
}

fn mib(v: &str) -> String {
    v.parse::<f64>().map_or(v.to_string(), |b| {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    })
}

/// The lines to print: every `peerex_memory_bytes` sample, then the process RSS (or why it
/// is not there).
pub fn memory_lines(ip: Ipv4Addr, port: u16) -> Vec<String> {
    let body = match get(ip, port) {
        Ok(b) => b,
        Err(e) => {
            return vec![format!(
                "peerex_process_resident_memory_bytes: not available (GET http://{ip}:{port}/metrics: {e})"
            )]
        }
    };
    let mut out = Vec::new();
    let mut rss = None;
    for l in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = l.rsplit_once(' ') else {
            continue;
        };
        if name.starts_with("peerex_memory_bytes") {
            out.push(format!("{name} {value} ({})", mib(value)));
        } else if name == "peerex_process_resident_memory_bytes" {
            rss = Some(format!("{name} {value} ({})", mib(value)));
        }
    }
    out.push(
        rss.unwrap_or_else(|| "peerex_process_resident_memory_bytes: not in /metrics".to_string()),
    );
    out
}
