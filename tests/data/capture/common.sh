# Shared helpers for the capture scripts; sourced, not run.
# Everything runs on loopback: listeners on 127.0.0.2, daemons on 127.0.0.1.
set -euo pipefail

CAPDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VECTORS=$(cd "$CAPDIR/.." && pwd)/vectors
# WORK holds generated configs, daemon logs, raw captures and pcaps.
WORK=${WORK:-$(mktemp -d /tmp/peerex-capture.XXXXXX)}
META=$WORK/meta
mkdir -p "$VECTORS" "$META"
LISTENER="python3 $CAPDIR/listener.py"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# listen NAME [listener options...]: start a listener writing to $WORK/NAME,
# with a pcap of its port in $WORK/NAME.pcap.  Sets LPID.
listen() {
    local name=$1; shift
    local port
    port=$(printf '%s\n' "$@" | sed -n 's/^127\.[0-9.]*:\([0-9]*\)$/\1/p')
    rm -rf "${WORK:?}/$name"
    tcpdump -q -i lo -s 0 -U --immediate-mode -w "$WORK/$name.pcap" "tcp port $port" >"$WORK/$name.tcpdump.log" 2>&1 &
    TPID=$!
    PIDS+=("$TPID")
    sleep 1
    $LISTENER --out "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 &
    LPID=$!
    PIDS+=("$LPID")
    sleep 0.5
}

# wait_up NAME [SECONDS]: wait until listener NAME has an established session.
wait_up() {
    local i
    for i in $(seq 1 $((${2:-30} * 10))); do
        [ -f "$WORK/$1/session.json" ] && return 0
        sleep 0.1
    done
    echo "session $1 did not come up" >&2
    cat "$WORK/$1.log" >&2
    return 1
}

# stop_captures TPID...: give tcpdump time to write the last packets, stop it.
stop_captures() {
    local t
    sleep 1
    for t in "$@"; do
        kill "$t" 2>/dev/null || true
        wait "$t" 2>/dev/null || true
    done
}

# pick NAME CAPTURE SOURCE DESCRIPTION [pick.py options...]
pick() {
    local name=$1 cap=$2 src=$3 desc=$4; shift 4
    python3 "$CAPDIR/pick.py" "$WORK/$cap" --name "$name" --source "$src" \
        --desc "$desc" --vectors "$VECTORS" --meta "$META" "$@"
}

# hex helpers for pick.py --contains: an IPv4 prefix as NLRI bytes
nlri4() { python3 -c 'import ipaddress,sys
n=ipaddress.ip_network(sys.argv[1]); l=n.prefixlen
print("%02x" % l + n.network_address.packed[:(l+7)//8].hex())' "$1"; }
