//! TCP streams written into a pcap file and read back by Wireshark's dissectors (Debian's
//! `tshark`): what a test recorded on the wire (or encoded itself) is dissected as the
//! protocol a port is decoded as, and any malformed-packet or error report is a failure.

use std::net::SocketAddrV4;
use std::path::Path;
use std::process::Command;

use super::{Error, Result};

/// One direction of a TCP connection: the payload of each segment, in order.
pub struct Flow {
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    pub segments: Vec<Vec<u8>>,
}

/// Largest payload of one packet: an IPv4 packet's length field is 16 bits.
pub const MAX_SEGMENT: usize = 65_535 - 40;

/// A classic pcap file (raw IPv4 link type) of `flows`, one after the other, one packet per
/// segment (longer segments are cut at [`MAX_SEGMENT`]; tshark reassembles them).
pub fn pcap(flows: &[Flow]) -> Vec<u8> {
    let mut f = Vec::new();
    for w in [
        0xa1b2_c3d4u32.to_le_bytes().to_vec(),
        2u16.to_le_bytes().to_vec(),
        4u16.to_le_bytes().to_vec(),
        0i32.to_le_bytes().to_vec(),
        0u32.to_le_bytes().to_vec(),
        65_535u32.to_le_bytes().to_vec(),
        101u32.to_le_bytes().to_vec(),
    ] {
        f.extend(w);
    }
    let mut n: u32 = 0;
    for flow in flows {
        let mut seq: u32 = 1000;
        for p in flow.segments.iter().flat_map(|s| s.chunks(MAX_SEGMENT)) {
            let total = 40 + p.len();
            let mut pkt = Vec::with_capacity(total);
            // IPv4 header
            pkt.extend([0x45, 0]);
            pkt.extend((total as u16).to_be_bytes());
            pkt.extend((n as u16).to_be_bytes());
            pkt.extend([0x40, 0, 64, 6, 0, 0]);
            pkt.extend(flow.from.ip().octets());
            pkt.extend(flow.to.ip().octets());
            let sum = checksum(&pkt);
            pkt[10..12].copy_from_slice(&sum.to_be_bytes());
            // TCP header: ports, seq, ack, offset 5, PSH|ACK, window, checksum 0, urgent 0
            pkt.extend(flow.from.port().to_be_bytes());
            pkt.extend(flow.to.port().to_be_bytes());
            pkt.extend(seq.to_be_bytes());
            pkt.extend(1u32.to_be_bytes());
            pkt.extend([0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
            pkt.extend_from_slice(p);
            seq = seq.wrapping_add(p.len() as u32);
            n += 1;
            f.extend(n.to_le_bytes());
            f.extend(0u32.to_le_bytes());
            f.extend((pkt.len() as u32).to_le_bytes());
            f.extend((pkt.len() as u32).to_le_bytes());
            f.extend(pkt);
        }
    }
    f
}

fn checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// `tshark -n -r FILE -d tcp.port==PORT,PROTO EXTRA...`: its standard output.
pub fn tshark(file: &Path, port: u16, proto: &str, extra: &[&str]) -> Result<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-d", &format!("tcp.port=={port},{proto}")])
        .args(extra)
        .output()
        .map_err(|e| {
            Error(format!(
                "tshark is not installed ({e}): apt-get install tshark, as .ci/install-deps does"
            ))
        })?;
    if !out.status.success() {
        return Err(Error(format!(
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What tshark's verbose output (`-V`) reports as wrong: malformed packets, error and warning
/// expert infos, dissector bugs (each with the line it is on).
pub fn problems(verbose: &str) -> Vec<String> {
    const BAD: [&str; 4] = [
        "Malformed",
        "Expert Info (Error",
        "Expert Info (Warning",
        "[Dissector bug",
    ];
    verbose
        .lines()
        .filter(|l| BAD.iter().any(|b| l.contains(b)))
        .map(|l| l.trim().to_string())
        .collect()
}
