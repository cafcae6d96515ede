#!/usr/bin/env python3
"""Minimal BGP test listener used to capture real BGP messages from daemons.

It accepts one BGP session (or opens one), reads the peer's OPEN, answers with
an OPEN whose capabilities are chosen by flags, keeps the session alive and
writes every message it receives, byte-exact including the 19-byte header,
to OUT/NNNN-<type>.bin in arrival order.  The session context it negotiated
is written to OUT/session.json.

It can also send messages of its own at given times after the session came
up (--send SECONDS:WHAT), e.g. a ROUTE-REFRESH or a malformed message.

Python 3 standard library only.
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
AS_TRANS = 23456


def msg(mtype, body=b""):
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def cap(code, value=b""):
    return struct.pack("!BB", code, len(value)) + value


def build_open(a):
    caps = []
    fams = []
    if "ipv4" in a.mp:
        fams.append((1, 1))
    if "ipv6" in a.mp:
        fams.append((2, 1))
    for afi, safi in fams:
        caps.append(cap(1, struct.pack("!HBB", afi, 0, safi)))
    if a.route_refresh:
        caps.append(cap(2))
    if a.enhanced_rr:
        caps.append(cap(70))
    if a.as4:
        caps.append(cap(65, struct.pack("!I", a.asn)))
    ap = b""
    if a.addpath_v4:
        ap += struct.pack("!HBB", 1, 1, 1)  # IPv4 unicast, receive
    if a.addpath_v6:
        ap += struct.pack("!HBB", 2, 1, 1)  # IPv6 unicast, receive
    if ap:
        caps.append(cap(69, ap))
    if a.ext_msg:
        caps.append(cap(6))
    if a.graceful_restart is not None:
        gr = struct.pack("!H", a.graceful_restart & 0x0FFF)
        for afi, safi in fams:
            gr += struct.pack("!HBB", afi, safi, 0)
        caps.append(cap(64, gr))
    # one optional parameter (type 2) per capability, as RFC 5492 allows
    params = b"".join(struct.pack("!BB", 2, len(c)) + c for c in caps)
    my_as = a.asn if a.asn <= 0xFFFF else AS_TRANS
    body = struct.pack("!BHH4sB", 4, my_as, a.hold, socket.inet_aton(a.bgp_id), len(params))
    return msg(1, body + params)


def parse_open(body):
    """Return (asn, hold, bgp_id, {cap_code: [values]})."""
    ver, my_as, hold, bid, plen = struct.unpack("!BHH4sB", body[:10])
    caps = {}
    p = body[10:10 + plen]
    while len(p) >= 2:
        ptype, pl = p[0], p[1]
        val, p = p[2:2 + pl], p[2 + pl:]
        if ptype != 2:
            continue
        while len(val) >= 2:
            code, cl = val[0], val[1]
            caps.setdefault(code, []).append(val[2:2 + cl])
            val = val[2 + cl:]
    asn = my_as
    if 65 in caps and len(caps[65][0]) == 4:
        asn = struct.unpack("!I", caps[65][0])[0]
    return asn, hold, socket.inet_ntoa(bid), caps


def peer_addpath_send(caps, afi, safi):
    for v in caps.get(69, []):
        for i in range(0, len(v) - 3, 4):
            a, s, sr = struct.unpack("!HBB", v[i:i + 4])
            if (a, s) == (afi, safi) and sr in (2, 3):
                return True
    return False


def build_send(what):
    """Messages the listener can send, selected by name."""
    if what.startswith("route-refresh"):
        # route-refresh=AFI/SAFI[/SUBTYPE]
        parts = (what.split("=", 1)[1] if "=" in what else "1/1").split("/")
        afi, safi = int(parts[0]), int(parts[1])
        sub = int(parts[2]) if len(parts) > 2 else 0
        return msg(5, struct.pack("!HBB", afi, sub, safi))
    if what == "bad-marker":  # KEEPALIVE whose marker is not all ones
        return b"\xff" * 15 + b"\x00" + struct.pack("!HB", 19, 4)
    if what == "bad-type":  # message type 42 does not exist
        return msg(42)
    if what == "bad-length":  # KEEPALIVE claiming length 18
        return MARKER + struct.pack("!HB", 18, 4)
    if what == "cease":  # Cease / Administrative Shutdown
        return msg(3, bytes([6, 2]))
    if what.startswith("hex="):
        return bytes.fromhex(what[4:])
    raise SystemExit("unknown --send action: " + what)


class Session:
    def __init__(self, sock, a):
        self.s = sock
        self.a = a
        self.buf = b""
        self.n = 0
        self.eof = False
        os.makedirs(a.out, exist_ok=True)

    def log(self, text):
        print("[%7.3f] %s" % (time.monotonic() - self.t0, text), flush=True)

    def read_messages(self, timeout):
        """Wait up to timeout seconds for data; return complete messages."""
        r, _, _ = select.select([self.s], [], [], max(0.0, timeout))
        if r:
            data = self.s.recv(65536)
            if not data:
                self.eof = True
            self.buf += data
        out = []
        while len(self.buf) >= 19:
            length = struct.unpack("!H", self.buf[16:18])[0]
            if length < 19:
                self.log("bad length %d in header; giving up" % length)
                self.eof = True
                break
            if len(self.buf) < length:
                break
            m, self.buf = self.buf[:length], self.buf[length:]
            self.save(m)
            out.append(m)
        return out

    def save(self, m):
        self.n += 1
        mtype = m[18]
        name = "%04d-%s.bin" % (self.n, TYPES.get(mtype, "type%d" % mtype))
        with open(os.path.join(self.a.out, name), "wb") as f:
            f.write(m)
        self.log("recv %s (%d bytes)" % (name, len(m)))

    def send(self, data, what):
        self.s.sendall(data)
        self.log("sent %s (%d bytes)" % (what, len(data)))

    def run(self):
        a = self.a
        self.t0 = time.monotonic()
        deadline = self.t0 + a.timeout
        ours = build_open(a)
        # Wait for the peer's OPEN; if it waits for ours, send ours first.
        peer_open = None
        sent_open = False
        while peer_open is None and not self.eof and time.monotonic() < deadline:
            if not sent_open and time.monotonic() - self.t0 > a.open_wait:
                self.send(ours, "OPEN")
                sent_open = True
            for m in self.read_messages(0.2):
                if m[18] == 1:
                    peer_open = m
                else:
                    self.log("unexpected message type %d before OPEN" % m[18])
        if peer_open is None:
            self.log("no OPEN from peer")
            return 1
        asn, hold, bid, caps = parse_open(peer_open[19:])
        self.log("peer OPEN: AS %d hold %d id %s caps %s" % (asn, hold, bid, sorted(caps)))
        if not sent_open:
            self.send(ours, "OPEN")
        self.send(msg(4), "KEEPALIVE")
        ctx = {
            "peer_asn": asn,
            "four_octet_as": a.as4 and 65 in caps,
            "add_path_ipv4": a.addpath_v4 and peer_addpath_send(caps, 1, 1),
            "add_path_ipv6": a.addpath_v6 and peer_addpath_send(caps, 2, 1),
            "extended_message": a.ext_msg and 6 in caps,
            "enhanced_route_refresh": a.enhanced_rr and 70 in caps,
        }
        with open(os.path.join(a.out, "session.json"), "w") as f:
            json.dump(ctx, f, indent=1)
        neg_hold = min(hold, a.hold)
        ka_every = neg_hold / 3.0 if neg_hold else None
        next_ka = time.monotonic() + (ka_every or 0)
        up = time.monotonic()
        sends = sorted(a.send)
        last_interesting = up
        while not self.eof:
            now = time.monotonic()
            if now >= deadline:
                self.log("timeout")
                break
            if a.quiet and now - last_interesting > a.quiet and not sends:
                self.log("quiet for %.1fs" % a.quiet)
                break
            if sends and now - up >= sends[0][0]:
                when, what = sends.pop(0)
                self.send(build_send(what), what)
                continue
            if ka_every and now >= next_ka:
                self.send(msg(4), "KEEPALIVE")
                next_ka = now + ka_every
            wake = [deadline, now + 0.5]
            if sends:
                wake.append(up + sends[0][0])
            if ka_every:
                wake.append(next_ka)
            for m in self.read_messages(min(wake) - now):
                if m[18] != 4:
                    last_interesting = time.monotonic()
        if self.eof:
            self.log("peer closed the connection")
        elif a.cease_on_exit:
            try:
                self.send(build_send("cease"), "NOTIFICATION cease")
            except OSError:
                pass
        return 0


def parse_send(v):
    when, what = v.split(":", 1)
    return (float(when), what)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--listen", metavar="ADDR:PORT", help="wait for the daemon to connect")
    g.add_argument("--connect", metavar="ADDR:PORT", help="connect to the daemon")
    p.add_argument("--source", metavar="ADDR", help="local address for --connect")
    p.add_argument("--out", required=True, help="directory for captured messages")
    p.add_argument("--asn", type=int, default=65010)
    p.add_argument("--bgp-id", default="10.255.0.2")
    p.add_argument("--hold", type=int, default=90)
    p.add_argument("--no-as4", dest="as4", action="store_false", help="do not advertise 4-octet AS (65)")
    p.add_argument("--mp", default="ipv4,ipv6", help="multiprotocol families: ipv4,ipv6 or none")
    p.add_argument("--addpath-v4", action="store_true", help="advertise ADD-PATH receive for IPv4 unicast")
    p.add_argument("--addpath-v6", action="store_true", help="advertise ADD-PATH receive for IPv6 unicast")
    p.add_argument("--no-route-refresh", dest="route_refresh", action="store_false")
    p.add_argument("--enhanced-rr", action="store_true", help="advertise enhanced route refresh (70)")
    p.add_argument("--ext-msg", action="store_true", help="advertise extended message (6)")
    p.add_argument("--graceful-restart", type=int, metavar="SECONDS", help="advertise graceful restart (64)")
    p.add_argument("--send", type=parse_send, action="append", default=[], metavar="SECONDS:WHAT",
                   help="send a message SECONDS after the session is up; WHAT is one of "
                        "route-refresh=AFI/SAFI[/SUBTYPE], bad-marker, bad-type, bad-length, cease, hex=HEX")
    p.add_argument("--timeout", type=float, default=60, help="give up after this many seconds")
    p.add_argument("--quiet", type=float, default=0,
                   help="stop once nothing but KEEPALIVEs arrived for this many seconds")
    p.add_argument("--open-wait", type=float, default=5,
                   help="send our OPEN first if the peer sent none within this many seconds")
    p.add_argument("--cease-on-exit", action="store_true", help="send a Cease NOTIFICATION when stopping")
    a = p.parse_args()
    a.mp = [] if a.mp == "none" else a.mp.split(",")

    if a.listen:
        host, port = a.listen.rsplit(":", 1)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host.strip("[]"), int(port)))
        srv.listen(1)
        srv.settimeout(a.timeout)
        print("listening on %s" % a.listen, flush=True)
        try:
            sock, peer = srv.accept()
        except socket.timeout:
            print("nobody connected", flush=True)
            return 1
        srv.close()
        print("connection from %s" % (peer,), flush=True)
    else:
        host, port = a.connect.rsplit(":", 1)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        if a.source:
            sock.bind((a.source, 0))
        sock.settimeout(10)
        sock.connect((host.strip("[]"), int(port)))
    sock.settimeout(None)
    try:
        return Session(sock, a).run()
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
