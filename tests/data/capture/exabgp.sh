#!/bin/bash
# Capture BGP messages from ExaBGP (Debian exabgp).
# One exabgp (AS 4200000003, router id 10.0.0.3, 127.0.0.1) with three
# neighbors, each a listener on its own loopback address:
#   127.0.0.2:17921 exa-main   AS4, MP v4+v6, RR, GR, extended message -> OPEN,
#                   ATOMIC_AGGREGATE/AGGREGATOR, unknown attribute, UPDATE > 4096 bytes
#   127.0.0.3:17922 exa-as2    no 4-octet AS capability -> AS4_PATH + AS4_AGGREGATOR
#   127.0.0.4:17923 exa-ibgp   iBGP (listener in AS 4200000003) -> LOCAL_PREF,
#                   ORIGINATOR_ID, CLUSTER_LIST
source "$(dirname "$0")/common.sh"
D=$WORK/exabgp
mkdir -p "$D"

neighbor() {  # neighbor ADDR PORT PEER_AS ROUTES...
    local addr=$1 port=$2 peer_as=$3; shift 3
    cat <<EOF
neighbor $addr {
  router-id 10.0.0.3;
  local-address 127.0.0.1;
  local-as 4200000003;
  peer-as $peer_as;
  hold-time 90;
  connect $port;
  passive false;
  host-name exabgp-test;
  domain-name example.net;
  capability {
    asn4 enable;
    route-refresh enable;
    graceful-restart 120;
    add-path send;
    extended-message enable;
  }
  family {
    ipv4 unicast;
    ipv6 unicast;
  }
  static {
EOF
    local r
    for r in "$@"; do echo "    route $r;"; done
    echo "  }"
    echo "}"
}

{
    neighbor 127.0.0.2 17921 65010 \
        "10.3.0.0/24 next-hop 127.0.0.1 origin igp as-path [ 4200000003 65006 ] med 30 atomic-aggregate aggregator ( 65009:10.0.0.9 ) community [ 65000:30 no-export ] extended-community [ target:65000:1 origin:4200000003:2 ]" \
        "10.3.1.0/24 next-hop 127.0.0.1 origin igp as-path [ 4200000003 ] attribute [ 0x7f 0xc0 0x0102030405 ]" \
        "10.64.0.0/13 next-hop 127.0.0.1 origin igp as-path [ 4200000003 ] community [ 65000:64 ] split /24" \
        "2001:db8:30::/48 next-hop 2001:db8:ffff::3 origin igp as-path [ 4200000003 ] large-community [ 4200000003:30:30 ]"
    neighbor 127.0.0.3 17922 65010 \
        "10.3.5.0/24 next-hop 127.0.0.1 origin igp as-path [ 4200000003 65006 4200000007 ] atomic-aggregate aggregator ( 4200000009:10.0.0.9 )"
    neighbor 127.0.0.4 17923 4200000003 \
        "10.3.9.0/24 next-hop 127.0.0.1 origin igp as-path [ 65007 ] local-preference 200 originator-id 10.0.0.99 cluster-list [ 10.0.0.1 10.0.0.2 ]"
} >"$D/exabgp.conf"

listen exa-main --listen 127.0.0.2:17921 --asn 65010 --graceful-restart 120 --ext-msg --timeout 30 --quiet 3 --cease-on-exit
PMAIN=$LPID; TMAIN=$TPID
listen exa-as2 --listen 127.0.0.3:17922 --asn 65010 --no-as4 --timeout 30 --quiet 3 --cease-on-exit
PAS2=$LPID; TAS2=$TPID
listen exa-ibgp --listen 127.0.0.4:17923 --asn 4200000003 --timeout 30 --quiet 3 --cease-on-exit
PIBGP=$LPID; TIBGP=$TPID

env exabgp.daemon.user=root exabgp.daemon.daemonize=false exabgp.api.cli=false \
    exabgp.log.destination=stdout exabgp.tcp.bind= exabgp.daemon.pid="$D/exabgp.pid" \
    exabgp "$D/exabgp.conf" >"$D/exabgp.log" 2>&1 &
EPID=$!
PIDS+=("$EPID")

for p in $PMAIN $PAS2 $PIBGP; do wait "$p" || true; done
kill "$EPID"; wait "$EPID" || true
stop_captures $TMAIN $TAS2 $TIBGP

S="exabgp"
pick exabgp-open exa-main $S "OPEN: one optional parameter per capability; MP IPv4+IPv6 unicast, 4-octet AS 4200000003, ADD-PATH send v4+v6, graceful restart (R and F bits), route refresh, enhanced route refresh, extended message" --type open
pick exabgp-update-atomic-aggregate exa-main $S "IPv4 UPDATE: MED, ATOMIC_AGGREGATE, AGGREGATOR (65009, 10.0.0.9) in 4-octet form, COMMUNITIES incl. NO_EXPORT, EXTENDED_COMMUNITIES" \
    --type update --contains "$(nlri4 10.3.0.0/24)"
pick exabgp-update-unknown-attr exa-main $S "IPv4 UPDATE carrying an unknown optional transitive attribute (type 127, flags 0xc0, value 0102030405)" \
    --type update --contains "$(nlri4 10.3.1.0/24)"
pick exabgp-update-extended-message exa-main $S "IPv4 UPDATE longer than 4096 bytes (extended message negotiated): 2048 /24s of 10.64.0.0/13 with one attribute set" \
    --type update --contains "$(nlri4 10.64.0.0/24)" --min-len 4097
pick exabgp-update-ipv6 exa-main $S "IPv6 UPDATE: MP_REACH_NLRI after ORIGIN/AS_PATH/LARGE_COMMUNITY" --type update --contains 3020010db80030
pick exabgp-eor-ipv6 exa-main $S "End-of-RIB for IPv6 unicast, MP_UNREACH_NLRI with the extended-length flag" \
    --type update --contains 900f0003000201 --max-len 30
pick exabgp-update-as4-aggregator exa-as2 $S "IPv4 UPDATE to a peer without 4-octet AS: AS_PATH with AS_TRANS, AS4_PATH, ATOMIC_AGGREGATE, AGGREGATOR with AS_TRANS plus AS4_AGGREGATOR" \
    --type update --contains "$(nlri4 10.3.5.0/24)"
pick exabgp-update-ibgp exa-ibgp $S "iBGP IPv4 UPDATE: LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST" --type update --contains "$(nlri4 10.3.9.0/24)"
