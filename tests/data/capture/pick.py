#!/usr/bin/env python3
"""Copy one message captured by listener.py into the vector directory.

The message is chosen by type, optional byte strings it must (not) contain and
its ordinal among the matching messages.  Next to the copy, a JSON record with
the vector's source, description and the session context (from session.json)
is written to the meta directory, for manifest.py.
"""

import argparse
import glob
import json
import os
import shutil
import sys

TYPES = {"open": 1, "update": 2, "notification": 3, "keepalive": 4, "route-refresh": 5}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("capdir", help="listener output directory")
    p.add_argument("--type", required=True, choices=sorted(TYPES))
    p.add_argument("--contains", action="append", default=[], metavar="HEX")
    p.add_argument("--lacks", action="append", default=[], metavar="HEX")
    p.add_argument("--min-len", type=int, default=0)
    p.add_argument("--max-len", type=int, default=1 << 20)
    p.add_argument("--nth", type=int, default=0, help="index among matches (-1 = last)")
    p.add_argument("--name", required=True, help="vector name, without .bin")
    p.add_argument("--source", required=True, help="daemon: bird, gobgp, exabgp, frr")
    p.add_argument("--desc", required=True)
    p.add_argument("--vectors", required=True)
    p.add_argument("--meta", required=True)
    a = p.parse_args()

    matches = []
    for path in sorted(glob.glob(os.path.join(a.capdir, "[0-9]*.bin"))):
        data = open(path, "rb").read()
        if data[18] != TYPES[a.type] or not a.min_len <= len(data) <= a.max_len:
            continue
        if all(bytes.fromhex(h) in data for h in a.contains) and \
                not any(bytes.fromhex(h) in data for h in a.lacks):
            matches.append(path)
    try:
        src = matches[a.nth]
    except IndexError:
        print("pick: no match for %s in %s (%d candidates)" % (a.name, a.capdir, len(matches)), file=sys.stderr)
        return 1
    os.makedirs(a.vectors, exist_ok=True)
    os.makedirs(a.meta, exist_ok=True)
    dst = os.path.join(a.vectors, a.name + ".bin")
    shutil.copyfile(src, dst)
    with open(os.path.join(a.capdir, "session.json")) as f:
        ctx = json.load(f)
    meta = {"file": a.name + ".bin", "source": a.source, "kind": a.type,
            "description": a.desc, "context": ctx, "capture": os.path.basename(os.path.normpath(a.capdir)),
            "captured_as": os.path.basename(src)}
    with open(os.path.join(a.meta, a.name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("pick: %s <- %s" % (dst, src))
    return 0


if __name__ == "__main__":
    sys.exit(main())
