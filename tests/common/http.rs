//! A tiny HTTP/1.1 client over std `TcpStream` for the looking-glass tests: one request per
//! connection (`Connection: close`), `Content-Length` or read-to-end bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::json::Json;
use super::{Error, Result};

/// An answer: status code, `content-type`, body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Every header, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json(&self) -> Result<Json> {
        Json::parse(&self.body).map_err(|e| {
            Error(format!(
                "not JSON ({e}): status {} body {:?}",
                self.status,
                self.body.chars().take(500).collect::<String>()
            ))
        })
    }
}

/// Sends `method target` (target = path and query, sent as given) and reads the answer.
pub fn request(addr: SocketAddr, method: &str, target: &str) -> Result<HttpResponse> {
    request_accept(addr, method, target, "*/*")
}

/// Like [`request`], with `accept` as the `Accept` header (a browser's asks for HTML).
pub fn request_accept(
    addr: SocketAddr,
    method: &str,
    target: &str,
    accept: &str,
) -> Result<HttpResponse> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error(format!("no HTTP head in {text:?}")))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error(format!("bad status line {status_line:?}")))?;
    let mut content_type = String::new();
    let mut length = None;
    let mut headers = Vec::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = v.trim().to_string(),
                "content-length" => length = v.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    let mut body = body.to_string();
    if let Some(n) = length {
        body.truncate(n);
    }
    Ok(HttpResponse {
        status,
        content_type,
        body,
        headers,
    })
}

/// `GET target`.
pub fn get(addr: SocketAddr, target: &str) -> Result<HttpResponse> {
    request(addr, "GET", target)
}
