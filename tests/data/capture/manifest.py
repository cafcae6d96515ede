#!/usr/bin/env python3
"""Write tests/data/vectors/MANIFEST.toml from the picked vectors.

The decoded facts come from Wireshark's dissector, not from listener.py:
each vector is wrapped into a one-packet pcap (text2pcap, TCP port 179)
and decoded with `tshark -T pdml`, with the AS number length set from the
session context.  tshark 4.0 cannot decode messages longer than 4096 bytes
(RFC 8654); those are decoded with `exabgp --decode` instead.

Each vector is also looked up, byte for byte, in the TCP stream of the pcap
recorded on lo during its capture (WORK/<capture>.pcap).

usage: manifest.py WORK VECTORS_DIR   (writes VECTORS_DIR/MANIFEST.toml)
"""

import glob
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

MAX_LISTED = 512  # longer prefix lists are summarised (count, first, last)
ORIGINS = {0: "igp", 1: "egp", 2: "incomplete"}
PACKAGES = {"bird": "bird2", "gobgp": "gobgpd", "exabgp": "exabgp", "frr": "frr"}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def version(pkg):
    v = run(["dpkg-query", "-W", "-f", "${Version}", pkg])
    return v.split(":")[-1].split("-")[0]


def tshark_pdml(data, four_octet):
    with tempfile.TemporaryDirectory() as t:
        hexdump = "".join("%06x %s\n" % (i, " ".join("%02x" % b for b in data[i:i + 16]))
                          for i in range(0, len(data), 16))
        with open(os.path.join(t, "hex"), "w") as f:
            f.write(hexdump)
        run(["text2pcap", "-q", "-T", "40000,179", os.path.join(t, "hex"), os.path.join(t, "p.pcap")])
        asn = "4 octet" if four_octet else "2 octet"
        xml = run(["tshark", "-r", os.path.join(t, "p.pcap"), "-o", "bgp.asn_len:" + asn, "-T", "pdml"])
    root = ET.fromstring(xml)
    bgp = [p for p in root.iter("proto") if p.get("name") == "bgp"]
    if len(bgp) != 1:
        raise SystemExit("tshark did not see exactly one BGP message")
    base = int(next(f for f in bgp[0].iter("field") if f.get("name") == "bgp.marker").get("pos"))
    return bgp[0], base


def fields(elem, name):
    return [f for f in elem.iter("field") if f.get("name") == name]


def show(elem, name):
    f = fields(elem, name)
    return f[0].get("show") if f else None


def raw(elem, data, base):
    pos, size = int(elem.get("pos")), int(elem.get("size"))
    return data[pos - base:pos - base + size]


def prefixes(container):
    """(prefix strings, path ids) of a withdrawn/NLRI/MP container, in order."""
    out, ids, plen, pid = [], [], None, None
    for f in container.iter("field"):
        n = f.get("name")
        if n == "bgp.nlri_path_id":
            pid = int(f.get("show"))
        elif n == "bgp.prefix_length":
            plen = int(f.get("show"))
        elif n.endswith("prefix") and plen is not None:
            out.append("%s/%d" % (ipaddress.ip_address(f.get("show")), plen))
            if pid is not None:
                ids.append(pid)
            plen = pid = None
    return out, ids


def as_segments(attr):
    segs = []
    for s in fields(attr, "bgp.update.path_attribute.as_path_segment"):
        asns = [int(f.get("show")) for f in s.iter("field")
                if f.get("name") in ("bgp.update.path_attribute.as_path_segment.as2",
                                     "bgp.update.path_attribute.as_path_segment.as4")]
        segs.append((int(show(s, "bgp.update.path_attribute.as_path_segment.type")), asns))
    return segs


def flat(segs):
    if any(t != 2 for t, _ in segs):
        raise SystemExit("AS_SET/confederation segments are not expected here")
    return [a for _, asns in segs for a in asns]


def put_prefixes(facts, key, pfx):
    if len(pfx) > MAX_LISTED:
        facts[key + "_count"] = len(pfx)
        facts[key + "_first"] = pfx[0]
        facts[key + "_last"] = pfx[-1]
    elif pfx:
        facts[key] = pfx


def decode_update(bgp, data, base, ctx):
    facts = {}
    wd, wd_ids = [], []
    for c in fields(bgp, "bgp.update.withdrawn_routes"):
        wd, wd_ids = prefixes(c)
    nlri, ids = [], []
    for c in fields(bgp, "bgp.update.nlri"):
        nlri, ids = prefixes(c)
    types, attrs = [], {}
    for a in fields(bgp, "bgp.update.path_attribute"):
        code = int(show(a, "bgp.update.path_attribute.type_code"))
        types.append(code)
        attrs[code] = a
    facts["attr_types"] = types
    as_path = as4_path = None
    agg = agg4 = None
    for code, a in attrs.items():
        if code == 1:
            facts["origin"] = ORIGINS[int(show(a, "bgp.update.path_attribute.origin"))]
        elif code == 2:
            as_path = flat(as_segments(a))
        elif code == 3:
            facts["next_hop"] = show(a, "bgp.update.path_attribute.next_hop")
        elif code == 4:
            facts["med"] = int(show(a, "bgp.update.path_attribute.multi_exit_disc"))
        elif code == 5:
            facts["local_pref"] = int(show(a, "bgp.update.path_attribute.local_pref"))
        elif code == 6:
            facts["atomic_aggregate"] = True
        elif code in (7, 18):
            v = (int(show(a, "bgp.update.path_attribute.aggregator_as")),
                 show(a, "bgp.update.path_attribute.aggregator_origin"))
            if code == 7:
                agg = v
            else:
                agg4 = v
        elif code == 8:
            # tshark shows AS:value pairs, and well-known ones as one field
            facts["communities"] = []
            hi = None
            for c in a.iter("field"):
                n = c.get("name")
                if n == "bgp.update.path_attribute.community_as":
                    hi = int(c.get("show"))
                elif n == "bgp.update.path_attribute.community_value":
                    facts["communities"].append("%d:%s" % (hi, c.get("show")))
                elif n == "bgp.update.path_attribute.community_wellknown":
                    b = int(c.get("show"), 16)
                    facts["communities"].append("%d:%d" % (b >> 16, b & 0xFFFF))
        elif code == 9:
            facts["originator_id"] = show(a, "bgp.update.path_attribute.originator_id")
        elif code == 10:
            facts["cluster_list"] = [f.get("show") for f in fields(a, "bgp.path_attribute.cluster_id")]
        elif code == 14:
            facts["afi"] = int(show(a, "bgp.update.path_attribute.mp_reach_nlri.afi"))
            facts["safi"] = int(show(a, "bgp.update.path_attribute.mp_reach_nlri.safi"))
            nh = show(a, "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6")
            ll = show(a, "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local")
            facts["next_hop"] = nh
            if ll:
                facts["next_hop_link_local"] = ll
            nlri, ids = prefixes(a)
        elif code == 15:
            facts["afi"] = int(show(a, "bgp.update.path_attribute.mp_unreach_nlri.afi"))
            facts["safi"] = int(show(a, "bgp.update.path_attribute.mp_unreach_nlri.safi"))
            wd, wd_ids = prefixes(a)
            if not wd:
                facts["eor"] = {1: "ipv4", 2: "ipv6"}[facts["afi"]] + "-unicast"
        elif code == 16:
            facts["ext_communities"] = [raw(c, data, base).hex() for c in fields(a, "bgp.ext_community")]
        elif code == 17:
            as4_path = flat(as_segments(a))
        elif code == 32:
            facts["large_communities"] = ["%d:%d:%d" % (
                int(show(c, "bgp.large_communities.ga")), int(show(c, "bgp.large_communities.ldp1")),
                int(show(c, "bgp.large_communities.ldp2"))) for c in fields(a, "bgp.large_communities")]
        else:
            # unknown to this tshark: keep the whole attribute, as sent
            facts.setdefault("unknown_attributes", []).append(raw(a, data, base).hex())
            if code == 35:  # OTC (RFC 9234): a 4-byte AS number
                facts["otc"] = int.from_bytes(raw(a, data, base)[-4:], "big")
    if as_path is not None:
        if as4_path is not None and len(as4_path) <= len(as_path):
            facts["as_path"] = as_path[:len(as_path) - len(as4_path)] + as4_path  # RFC 6793 4.2.3
            facts["as_path_wire"] = as_path
            facts["as4_path"] = as4_path
        else:
            facts["as_path"] = as_path
    if agg is not None:
        merged = agg4 if (agg4 is not None and agg[0] == 23456) else agg
        facts["aggregator"] = "%d:%s" % merged
        if agg4 is not None:
            facts["aggregator_wire"] = "%d:%s" % agg
    if not types and not wd and not nlri:
        facts["eor"] = "ipv4-unicast"
    put_prefixes(facts, "prefixes", nlri)
    put_prefixes(facts, "withdrawn", wd)
    if ids:
        facts["path_ids"] = ids
    if wd_ids:
        facts["withdrawn_path_ids"] = wd_ids
    return facts


def decode(data, ctx):
    bgp, base = tshark_pdml(data, ctx["four_octet_as"])
    kind = int(show(bgp, "bgp.type"))
    if kind == 1:
        caps = [int(f.get("show")) for f in fields(bgp, "bgp.cap.type")]
        my_as = int(show(bgp, "bgp.open.myas"))
        asn4 = show(bgp, "bgp.cap.4as")
        facts = {"asn": int(asn4) if asn4 else my_as, "my_as": my_as,
                 "hold_time": int(show(bgp, "bgp.open.holdtime")),
                 "bgp_id": show(bgp, "bgp.open.identifier"),
                 "capability_codes": caps,
                 "optional_parameters": len(fields(bgp, "bgp.open.opt.param"))}
        host = show(bgp, "bgp.cap.orf.fqdn.hostname")
        if host is not None:
            facts["hostname"] = host
        return facts
    if kind == 2:
        return decode_update(bgp, data, base, ctx)
    if kind == 3:
        code = int(show(bgp, "bgp.notify.major_error"))
        sub = next(int(f.get("show")) for f in bgp.iter("field")
                   if f.get("name", "").startswith("bgp.notify.minor_error"))
        facts = {"code": code, "subcode": sub}
        msg = show(bgp, "bgp.notify.communication")
        if msg is not None:
            facts["shutdown_message"] = msg
        elif len(data) > 21:
            facts["data"] = data[21:].hex()
        return facts
    if kind == 4:
        return {}
    if kind == 5:
        return {"afi": int(show(bgp, "bgp.route_refresh.afi")),
                "safi": int(show(bgp, "bgp.route_refresh.safi")),
                "subtype": int(show(bgp, "bgp.route_refresh.subtype"))}
    raise SystemExit("unexpected message type %d" % kind)


def decode_exabgp(data, ctx):
    """Decode a long UPDATE with exabgp (tshark 4.0 stops at 4096 bytes)."""
    conf = """neighbor 127.0.0.2 {
  router-id 10.0.0.3; local-address 127.0.0.1; local-as 4200000003; peer-as 65010;
  capability { asn4 %s; extended-message enable; }
  family { ipv4 unicast; ipv6 unicast; }
}
""" % ("enable" if ctx["four_octet_as"] else "disable")
    if ctx["add_path_ipv4"] or ctx["add_path_ipv6"]:
        raise SystemExit("exabgp fallback does not handle ADD-PATH")
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(conf)
        f.flush()
        out = run(["exabgp", "--decode", data.hex(), f.name],
                  env=dict(os.environ, **{"exabgp.log.destination": "stdout"}))
    m = re.search(r"update json (\{.*\})", out)
    upd = json.loads(m.group(1))["neighbor"]["message"]["update"]
    a = upd["attribute"]
    ((fam, by_nh),) = upd["announce"].items()
    ((nh, lst),) = by_nh.items()
    facts = {"origin": a["origin"], "as_path": a["as-path"], "next_hop": nh}
    if "community" in a:
        facts["communities"] = ["%d:%d" % tuple(c) for c in a["community"]]
    put_prefixes(facts, "prefixes", [p["nlri"] for p in lst])
    return facts


def in_pcap(data, pcap):
    want = data.hex()
    streams = set(run(["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.stream"]).split())
    for s in sorted(streams):
        out = run(["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,%s" % s])
        sides = ["", ""]
        for line in out.splitlines():
            m = re.fullmatch(r"(\t?)([0-9a-f]+)", line)
            if m:
                sides[1 if m.group(1) else 0] += m.group(2)
        if any(want in side for side in sides):
            return True
    return False


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string here
    if isinstance(v, list):
        items = [toml_value(x) for x in v]
        if len(items) <= 12:
            return "[" + ", ".join(items) + "]"
        rows = [", ".join(items[i:i + 6]) for i in range(0, len(items), 6)]
        return "[\n    " + ",\n    ".join(rows) + ",\n]"
    raise TypeError(v)


def main():
    work, vectors = sys.argv[1], sys.argv[2]
    versions = {k: version(p) for k, p in PACKAGES.items()}
    tshark = run(["tshark", "--version"]).split("\n")[0].split()[2]
    out = ["# Generated by tests/data/capture/manifest.py; see tests/data/README.md.",
           "# Decoded facts come from tshark (Wireshark's dissector), not from listener.py.",
           "# The decoding context (four_octet_as, add_path_*, extended_message) is what the",
           "# capture listener negotiated with the daemon on that session.", ""]
    metas = sorted(glob.glob(os.path.join(work, "meta", "*.json")))
    for path in metas:
        meta = json.load(open(path))
        data = open(os.path.join(vectors, meta["file"]), "rb").read()
        ctx = meta["context"]
        pcap = os.path.join(work, meta["capture"] + ".pcap")
        if not in_pcap(data, pcap):
            raise SystemExit("%s: bytes not found in %s" % (meta["file"], pcap))
        if len(data) > 4096:
            facts, tool = decode_exabgp(data, ctx), "exabgp " + versions["exabgp"]
        else:
            facts, tool = decode(data, ctx), "tshark " + tshark
        if meta["kind"] == "update" and "eor" not in facts:
            fam = "ipv6" if facts.get("afi") == 2 else "ipv4"
            if ctx["add_path_" + fam] != bool(facts.get("path_ids") or facts.get("withdrawn_path_ids")):
                raise SystemExit("%s: ADD-PATH context and decoded path ids disagree" % meta["file"])
        rec = {"file": meta["file"], "source": "%s %s" % (meta["source"], versions[meta["source"]]),
               "kind": meta["kind"], "length": len(data),
               "four_octet_as": ctx["four_octet_as"], "add_path_ipv4": ctx["add_path_ipv4"],
               "add_path_ipv6": ctx["add_path_ipv6"], "extended_message": ctx["extended_message"],
               "description": meta["description"], "decoded_with": tool}
        rec.update(facts)
        out.append("[[vector]]")
        out.extend("%s = %s" % (k, toml_value(v)) for k, v in rec.items())
        out.append("")
    text = "\n".join(out)
    import tomllib
    n = len(tomllib.loads(text)["vector"])
    with open(os.path.join(vectors, "MANIFEST.toml"), "w") as f:
        f.write(text)
    print("manifest: %d vectors" % n)


if __name__ == "__main__":
    main()
