#!/bin/bash
# Regenerate tests/data/vectors/*.bin and MANIFEST.toml (run as root: tcpdump).
# Needs the Debian packages bird2, gobgpd, exabgp, frr, tcpdump, tshark.
# Configs, daemon logs, raw captures and pcaps are kept in $WORK (printed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VECTORS=$(cd "$HERE/.." && pwd)/vectors
export WORK=${WORK:-$(mktemp -d /tmp/peerex-capture.XXXXXX)}
echo "work directory: $WORK"
rm -f "$VECTORS"/*.bin "$VECTORS/MANIFEST.toml"
for s in bird gobgp exabgp frr; do
    echo "== $s"
    bash "$HERE/$s.sh"
done
python3 "$HERE/manifest.py" "$WORK" "$VECTORS"
