#!/bin/bash
# Capture BGP messages from FRRouting bgpd (Debian frr), run standalone
# (no zebra, not listening, vty only on a socket in $WORK/frr).
# AS 4200000004, router id 10.0.0.4, one neighbor: listener 127.0.0.2:17931
# (AS4, MP v4+v6, RR, enhanced RR, GR, extended message)
#   -> OPEN, IPv6 UPDATE with global + link-local next hop (set by an outbound
#      route-map), BoRR/EoRR, ROUTE-REFRESH, shutdown NOTIFICATION
source "$(dirname "$0")/common.sh"
D=$WORK/frr
mkdir -p "$D/vty"
VTYSH="vtysh --vty_socket $D/vty -d bgpd"

cat >"$D/bgpd.conf" <<'EOF'
hostname frr-test
frr defaults traditional
log stdout informational
!
router bgp 4200000004
 bgp router-id 10.0.0.4
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 bgp long-lived-graceful-restart stale-time 3600
 neighbor 127.0.0.2 remote-as 65010
 neighbor 127.0.0.2 port 17931
 neighbor 127.0.0.2 update-source 127.0.0.1
 neighbor 127.0.0.2 timers connect 1
 neighbor 127.0.0.2 local-role rs-server
 neighbor 127.0.0.2 capability extended-nexthop
 address-family ipv4 unicast
  network 10.4.0.0/24 route-map ATTR4
  neighbor 127.0.0.2 activate
  neighbor 127.0.0.2 addpath-tx-all-paths
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:40::/48
  neighbor 127.0.0.2 activate
  neighbor 127.0.0.2 route-map NH6 out
 exit-address-family
!
route-map ATTR4 permit 10
 set as-path prepend 4200000044 65044
 set community 65000:40 65000:41
 set large-community 4200000004:40:41
 set extcommunity rt 65000:40
!
route-map NH6 permit 10
 set ipv6 next-hop global 2001:db8:ffff::4
 set ipv6 next-hop local fe80::4
!
EOF

listen frr-main --listen 127.0.0.2:17931 --asn 65010 --enhanced-rr --ext-msg --graceful-restart 120 \
    --timeout 40 --send 7:route-refresh=2/1
PMAIN=$LPID; TMAIN=$TPID

/usr/lib/frr/bgpd -f "$D/bgpd.conf" -i "$D/bgpd.pid" -Z -S -p 0 --vty_socket "$D/vty" -P 0 \
    --log stdout >"$D/bgpd.log" 2>&1 &
FPID=$!
PIDS+=("$FPID")

wait_up frr-main
sleep 9                         # initial UPDATEs (MRAI), listener's ROUTE-REFRESH at +7s
$VTYSH -c 'clear bgp ipv4 unicast 127.0.0.2 soft in'      # ROUTE-REFRESH
sleep 2
$VTYSH -c 'show bgp neighbors 127.0.0.2' >"$D/neighbor.txt"
$VTYSH -c 'configure terminal' -c 'router bgp 4200000004' \
    -c 'neighbor 127.0.0.2 shutdown message frr: planned maintenance'
wait "$PMAIN" || true
kill "$FPID"; wait "$FPID" || true
stop_captures $TMAIN

S="frr"
pick frr-open frr-main $S "OPEN: one optional parameter per capability; MP IPv4+IPv6, Cisco route refresh (128), route refresh, enhanced route refresh, 4-octet AS 4200000004, extended message, BGP role rs-server, ADD-PATH both v4+v6, FQDN hostname, graceful restart (R and N bits), long-lived GR" --type open
pick frr-update-ipv4 frr-main $S "IPv4 UPDATE: prepended AS_PATH, MED 0, COMMUNITIES, EXTENDED_COMMUNITIES, LARGE_COMMUNITY, OTC (35)" \
    --type update --contains "$(nlri4 10.4.0.0/24)"
pick frr-update-ipv6-linklocal frr-main $S "IPv6 MP_REACH_NLRI with a 32-byte next hop: global 2001:db8:ffff::4 + link-local fe80::4" \
    --type update --contains 3020010db80040 --contains fe800000000000000000000000000004
pick frr-borr-ipv6 frr-main $S "Enhanced route refresh BoRR (subtype 1) for IPv6 unicast" --type route-refresh --contains 00020101
pick frr-eorr-ipv6 frr-main $S "Enhanced route refresh EoRR (subtype 2) for IPv6 unicast" --type route-refresh --contains 00020201
pick frr-route-refresh-ipv4 frr-main $S "ROUTE-REFRESH request for IPv4 unicast (clear bgp ... soft in)" --type route-refresh --contains 00010001
pick frr-notification-shutdown frr-main $S "Cease / Administrative Shutdown with shutdown communication (neighbor shutdown message)" --type notification
