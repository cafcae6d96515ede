#!/bin/bash
# Capture BGP messages from GoBGP (Debian gobgpd).
# One gobgpd (AS 4200000002, router id 10.0.0.2, 127.0.0.1, API on :50061)
# with three neighbors, each a listener on its own loopback address:
#   127.0.0.2:17911 gobgp-main  AS4, MP v4+v6, RR, GR       -> OPEN, UPDATEs, packed
#                   UPDATE, IPv6 with link-local next hop, withdrawals, shutdown NOTIFICATION
#   127.0.0.4:17913 gobgp-ap    ADD-PATH receive v4+v6       -> UPDATEs with path ids
#   127.0.0.5:17914 gobgp-as2   no 4-octet AS capability     -> AS4_PATH, AS4_AGGREGATOR,
#                   NOTIFICATION for a bad header length
source "$(dirname "$0")/common.sh"
D=$WORK/gobgp
mkdir -p "$D"
G="gobgp -p 50061"

neighbor() {  # neighbor ADDR PORT [ADD-PATH send-max]
    cat <<EOF
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$1"
    peer-as = 65010
    admin-down = true
  [neighbors.transport.config]
    local-address = "127.0.0.1"
    remote-port = $2
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 90
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    notification-enabled = true
    long-lived-enabled = true
EOF
    local fam
    for fam in ipv4-unicast ipv6-unicast; do
        cat <<EOF
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "$fam"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
    [neighbors.afi-safis.long-lived-graceful-restart.config]
      enabled = true
      restart-time = 3600
    [neighbors.afi-safis.add-paths.config]
      send-max = ${3:-0}
EOF
    done
}

{
    cat <<'EOF'
[global.config]
  as = 4200000002
  router-id = "10.0.0.2"
  port = -1
EOF
    neighbor 127.0.0.2 17911
    neighbor 127.0.0.4 17913 8
    neighbor 127.0.0.5 17914
} >"$D/gobgpd.toml"

# gobgp sends the system host name in its FQDN capability: give it a fixed
# one in a private UTS namespace.
unshare --uts sh -c 'hostname gobgp-test; exec gobgpd -f "$1" --api-hosts 127.0.0.1:50061 -l debug' \
    sh "$D/gobgpd.toml" >"$D/gobgpd.log" 2>&1 &
GPID=$!
PIDS+=("$GPID")
sleep 2

# Routes go into the global RIB before any session comes up, so that gobgp
# sends them in its initial (packed) UPDATEs.
$G global rib add -a ipv4 10.2.0.0/24 origin igp aspath 65002,4200000003,65004 nexthop 127.0.0.1 \
    med 200 community 65000:10,65000:20 large-community 4200000002:5:6 rt 65000:300
$G global rib add -a ipv4 10.2.1.0/24 origin egp aspath 4200000003,65004 aggregator 4200000009:10.0.0.9
$G global rib add -a ipv4 10.2.9.0/24 origin igp community 65000:99
$G global rib add -a ipv6 2001:db8:20::/48 nexthop fe80::1 community 65000:20
$G global rib add -a ipv6 2001:db8:21::/48 nexthop 2001:db8:ffff::2 aspath 65002 med 5
# two paths for one prefix (ADD-PATH)
$G global rib add -a ipv4 10.2.5.0/24 identifier 1 nexthop 127.0.0.1 med 10
$G global rib add -a ipv4 10.2.5.0/24 identifier 2 nexthop 127.0.0.9 med 20
$G global rib add -a ipv6 2001:db8:25::/48 identifier 1 nexthop 2001:db8:ffff::1
$G global rib add -a ipv6 2001:db8:25::/48 identifier 2 nexthop 2001:db8:ffff::9
# 300 prefixes with one attribute set
for i in $(seq 0 299); do
    echo "global rib add -a ipv4 10.$((200 + i / 256)).$((i % 256)).0/24 origin igp community 65000:300"
done | while read -r cmd; do $G $cmd; done

listen gobgp-main --listen 127.0.0.2:17911 --asn 65010 --enhanced-rr --graceful-restart 120 --timeout 60
PMAIN=$LPID; TMAIN=$TPID
listen gobgp-ap --listen 127.0.0.4:17913 --asn 65010 --addpath-v4 --addpath-v6 --graceful-restart 120 \
    --timeout 30 --quiet 3 --cease-on-exit
PAP=$LPID; TAP=$TPID
listen gobgp-as2 --listen 127.0.0.5:17914 --asn 65010 --no-as4 --graceful-restart 120 --timeout 30 --quiet 3 \
    --send 2:bad-length
PAS2=$LPID; TAS2=$TPID

for n in 127.0.0.2 127.0.0.4 127.0.0.5; do $G neighbor $n enable; done
wait_up gobgp-main
sleep 4
$G global rib del -a ipv4 10.2.9.0/24             # withdrawal
$G global rib del -a ipv6 2001:db8:21::/48
sleep 2
$G neighbor 127.0.0.2 >"$D/neighbor-main.txt"
# "shutdown" (deprecated alias of disable) is the one that sends --reason
$G neighbor 127.0.0.2 shutdown --reason "gobgp maintenance window" >/dev/null
for p in $PMAIN $PAP $PAS2; do wait "$p" || true; done
kill "$GPID"; wait "$GPID" || true
stop_captures $TMAIN $TAP $TAS2

S="gobgp"
pick gobgp-open gobgp-main $S "OPEN: My AS = AS_TRANS; one optional parameter with route refresh, FQDN hostname, MP IPv4+IPv6 unicast, 4-octet AS 4200000002, graceful restart (notification bit), long-lived GR, extended next hop" --type open
pick gobgp-update-ipv4 gobgp-main $S "IPv4 UPDATE: 4-hop AS_PATH with 4-octet ASNs, MED, COMMUNITIES, EXTENDED_COMMUNITIES (route target), LARGE_COMMUNITY; NEXT_HOP after the other attributes" \
    --type update --contains "$(nlri4 10.2.0.0/24)"
pick gobgp-update-aggregator gobgp-main $S "IPv4 UPDATE: ORIGIN EGP, AGGREGATOR with a 4-octet AS (4200000009, 10.0.0.9)" \
    --type update --contains "$(nlri4 10.2.1.0/24)"
pick gobgp-update-packed gobgp-main $S "IPv4 UPDATE packing 300 prefixes (10.200.0.0/24..10.201.43.0/24) with one attribute set" \
    --type update --contains "$(nlri4 10.200.0.0/24)" --min-len 1200
pick gobgp-update-ipv6-linklocal gobgp-main $S "IPv6 MP_REACH_NLRI whose next hop is a bare link-local address (16 bytes, fe80::1, as gobgp sends it), COMMUNITIES" \
    --type update --contains 3020010db80020
pick gobgp-withdraw-ipv4 gobgp-main $S "IPv4 withdrawal (classic withdrawn-routes field)" \
    --type update --contains 0004"$(nlri4 10.2.9.0/24)"0000 --max-len 27
pick gobgp-withdraw-ipv6 gobgp-main $S "IPv6 withdrawal in MP_UNREACH_NLRI" --type update --contains 3020010db80021 --max-len 40
pick gobgp-notification-shutdown gobgp-main $S "Cease / Administrative Shutdown with shutdown communication (gobgp neighbor shutdown --reason)" --type notification
pick gobgp-update-addpath-ipv4 gobgp-ap $S "IPv4 UPDATE with an ADD-PATH path identifier (10.2.5.0/24 path 1 of 2)" \
    --type update --contains "$(nlri4 10.2.5.0/24)"
pick gobgp-update-addpath-ipv6 gobgp-ap $S "IPv6 MP_REACH_NLRI UPDATE with an ADD-PATH path identifier (2001:db8:25::/48, one of 2 paths)" \
    --type update --contains 3020010db80025
pick gobgp-update-as4-aggregator gobgp-as2 $S "IPv4 UPDATE to a peer without 4-octet AS: AS_PATH with AS_TRANS, AS4_PATH, AGGREGATOR with AS_TRANS plus AS4_AGGREGATOR" \
    --type update --contains "$(nlri4 10.2.1.0/24)"
pick gobgp-notification-bad-length gobgp-as2 $S "Message Header Error / Bad Message Length, answer to a header whose length field is 18" --type notification
