#!/bin/bash
# Capture BGP messages from BIRD 2 (Debian bird2).
# One bird instance (AS 4200000001, router id 10.0.0.1, 127.0.0.1) runs four
# BGP sessions, each to its own listener on 127.0.0.2:
#   l_main 17901  AS4, MP v4+v6, RR, enhanced RR, GR          -> classic UPDATEs,
#                 withdrawals, EoR, BoRR/EoRR, ROUTE-REFRESH, shutdown NOTIFICATION
#   l_ap   17902  as l_main + ADD-PATH receive v4+v6          -> UPDATEs with path ids
#   l_as2  17904  no 4-octet AS capability                    -> AS_TRANS + AS4_PATH,
#                 NOTIFICATION for a bad message type
source "$(dirname "$0")/common.sh"
B=$WORK/bird
mkdir -p "$B"
BIRDC="birdc -s $B/bird.ctl"

{
cat <<'EOF'
router id 10.0.0.1;
hostname "bird-test";           # sent in the FQDN capability
log stderr all;
protocol device { }

# Routes with a rich attribute set, announced on l_main and l_as2.
protocol static s_main4 {
  ipv4;
  route 10.1.0.0/24 blackhole {
    bgp_path.prepend(65003); bgp_path.prepend(4200000002); bgp_path.prepend(65002);
    bgp_community.add((65000,1)); bgp_community.add((65000,2));
    bgp_ext_community.add((rt, 65000, 100)); bgp_ext_community.add((ro, 4200000001, 7));
    bgp_large_community.add((4200000001, 1, 2)); bgp_large_community.add((4200000001, 3, 4));
  };
  route 10.1.1.0/24 blackhole {
    bgp_path.prepend(65003); bgp_path.prepend(4200000002); bgp_path.prepend(65002);
    bgp_community.add((65000,1)); bgp_community.add((65000,2));
    bgp_ext_community.add((rt, 65000, 100)); bgp_ext_community.add((ro, 4200000001, 7));
    bgp_large_community.add((4200000001, 1, 2)); bgp_large_community.add((4200000001, 3, 4));
  };
}
protocol static s_main6 {
  ipv6;
  route 2001:db8:1::/48 blackhole {
    bgp_path.prepend(65005); bgp_community.add((65000,6));
    bgp_large_community.add((4200000001, 6, 6));
  };
  route 2001:db8:2::/64 blackhole {
    bgp_path.prepend(65005); bgp_community.add((65000,6));
    bgp_large_community.add((4200000001, 6, 6));
  };
}
# Routes withdrawn later by disabling these protocols.
protocol static s_wd4 {
  ipv4;
  route 10.9.0.0/24 blackhole;
  route 10.9.1.0/24 blackhole;
}
protocol static s_wd6 {
  ipv6;
  route 2001:db8:9::/48 blackhole;
  route 2001:db8:9:1::/64 blackhole;
}
# Two routes for the same prefixes for ADD-PATH (IPv6: different MED).
# IPv4: identical attributes, so both paths can share one UPDATE.
protocol static s_ap4a { ipv4; route 10.50.0.0/24 blackhole; route 10.50.1.0/24 blackhole; }
protocol static s_ap4b { ipv4; route 10.50.0.0/24 blackhole; }
protocol static s_ap6a { ipv6; route 2001:db8:50::/48 blackhole { bgp_med = 10; }; }
protocol static s_ap6b { ipv6; route 2001:db8:50::/48 blackhole { bgp_med = 20; }; }
EOF
cat <<'EOF'

# bird drops a MED set by a static protocol on eBGP export; set it here.
filter ex_main {
  if proto = "s_main4" then { bgp_med = 100; accept; }
  if proto = "s_main6" then { bgp_med = 50; accept; }
  if proto = "s_wd4" || proto = "s_wd6" then accept;
  reject;
}

template bgp L {
  local 127.0.0.1 port 11790 as 4200000001;
  multihop;                       # loopback neighbors are not "direct" for bird
  connect delay time 1;
  hold time 90;
  enable route refresh yes;       # enhanced route refresh is on by default in 2.0.12
  enable as4 yes;
  enable extended messages yes;
  advertise hostname yes;
  graceful restart yes;
  graceful restart time 120;
  long lived graceful restart yes;
  long lived stale time 3600;
  local role rs_server;
}

protocol bgp l_main from L {
  neighbor 127.0.0.2 port 17901 as 65010;
  ipv4 { import all; export filter ex_main; };
  ipv6 { import all; export filter ex_main;
         next hop address 2001:db8:ffff::1; };
}
protocol bgp l_ap from L {
  neighbor 127.0.0.2 port 17902 as 65010;
  ipv4 { import none; add paths tx; export where proto ~ "s_ap4?"; };
  ipv6 { import none; add paths tx; export where proto ~ "s_ap6?";
         next hop address 2001:db8:ffff::1; };
}
protocol bgp l_as2 from L {
  neighbor 127.0.0.2 port 17904 as 65010;
  ipv4 { import none; export filter { if proto = "s_main4" then { bgp_med = 100; accept; } reject; }; };
  ipv6 { import none; export none; next hop address 2001:db8:ffff::1; };
}
EOF
} >"$B/bird.conf"

LOPTS=(--asn 65010 --bgp-id 10.255.0.2 --enhanced-rr --graceful-restart 120)
listen bird-main --listen 127.0.0.2:17901 "${LOPTS[@]}" --timeout 60 --send 3:route-refresh=1/1
PMAIN=$LPID; TMAIN=$TPID
listen bird-ap --listen 127.0.0.2:17902 "${LOPTS[@]}" --addpath-v4 --addpath-v6 --ext-msg --timeout 30 --quiet 4 --cease-on-exit
PAP=$LPID; TAP=$TPID
listen bird-as2 --listen 127.0.0.2:17904 "${LOPTS[@]}" --no-as4 --timeout 30 --send 5:bad-type
PAS2=$LPID; TAS2=$TPID

bird -c "$B/bird.conf" -s "$B/bird.ctl" -P "$B/bird.pid" -f >"$B/bird.log" 2>&1 &
BPID=$!
PIDS+=("$BPID")

wait_up bird-main
sleep 6                         # initial UPDATEs, EoRs; the listener's ROUTE-REFRESH at +3s
$BIRDC disable s_wd4            # withdraw 10.9.0.0/24, 10.9.1.0/24
$BIRDC disable s_wd6            # withdraw 2001:db8:9::/48, 2001:db8:9:1::/64
sleep 2
$BIRDC reload in l_main         # bird sends ROUTE-REFRESH for IPv4 and IPv6
sleep 2
$BIRDC show protocols all l_main >"$B/l_main.txt"
$BIRDC disable l_main '"maintenance: moving to new hardware"'
for p in $PMAIN $PAP $PAS2; do wait "$p" || true; done
$BIRDC show protocols all >"$B/protocols.txt" || true
$BIRDC down >/dev/null || true
wait "$BPID" || true
stop_captures $TMAIN $TAP $TAS2

S="bird"
pick bird-open bird-main $S "OPEN: My AS = AS_TRANS; one optional parameter with MP IPv4+IPv6 unicast, route refresh, extended message, BGP role (rs_server), graceful restart, 4-octet AS 4200000001, enhanced route refresh, long-lived GR, FQDN hostname" --type open
pick bird-keepalive bird-main $S "KEEPALIVE" --type keepalive
pick bird-update-ipv4 bird-main $S "IPv4 UPDATE, classic NLRI, 4-hop AS_PATH with 4-octet ASNs, MED, COMMUNITIES, EXTENDED_COMMUNITIES (2-octet and 4-octet AS specific), LARGE_COMMUNITY, OTC (35) added by the rs_server role" \
    --type update --contains "$(nlri4 10.1.0.0/24)"
pick bird-update-ipv6 bird-main $S "IPv6 UPDATE in MP_REACH_NLRI (global next hop only: no link-local address on loopback), MED, COMMUNITIES, LARGE_COMMUNITY, OTC" \
    --type update --contains 3020010db80001
pick bird-withdraw-ipv4 bird-main $S "IPv4 withdrawal in the classic withdrawn-routes field" \
    --type update --contains 0008"$(nlri4 10.9.0.0/24)$(nlri4 10.9.1.0/24)"0000
pick bird-withdraw-ipv6 bird-main $S "IPv6 withdrawal in MP_UNREACH_NLRI (extended-length attribute flag)" \
    --type update --contains 900f --contains 3020010db80009
pick bird-eor-ipv4 bird-main $S "End-of-RIB marker for IPv4 unicast (empty UPDATE)" --type update --max-len 23
pick bird-eor-ipv6 bird-main $S "End-of-RIB marker for IPv6 unicast (empty MP_UNREACH_NLRI)" --type update --max-len 29 --contains 0f03000201
pick bird-borr-ipv4 bird-main $S "Enhanced route refresh BoRR (subtype 1) for IPv4 unicast, sent in answer to the listener's ROUTE-REFRESH" \
    --type route-refresh --contains 00010101
pick bird-eorr-ipv4 bird-main $S "Enhanced route refresh EoRR (subtype 2) for IPv4 unicast" --type route-refresh --contains 00010201
pick bird-route-refresh-ipv4 bird-main $S "ROUTE-REFRESH request for IPv4 unicast (birdc reload in)" --type route-refresh --contains 00010001
pick bird-route-refresh-ipv6 bird-main $S "ROUTE-REFRESH request for IPv6 unicast (birdc reload in)" --type route-refresh --contains 00020001
pick bird-notification-shutdown bird-main $S "Cease / Administrative Shutdown with shutdown communication (birdc disable)" --type notification --contains 0602
pick bird-update-addpath-ipv4 bird-ap $S "IPv4 UPDATE with ADD-PATH path identifiers: 10.50.0.0/24 twice (two paths) and 10.50.1.0/24" \
    --type update --contains "$(nlri4 10.50.0.0/24)"
pick bird-update-addpath-ipv6 bird-ap $S "IPv6 MP_REACH_NLRI UPDATE with an ADD-PATH path identifier (first of two paths for 2001:db8:50::/48)" \
    --type update --contains 3020010db80050
pick bird-update-as-trans bird-as2 $S "IPv4 UPDATE to a peer without 4-octet AS: AS_PATH with AS_TRANS (23456) plus AS4_PATH, MED, communities, extended and large communities, OTC" \
    --type update --contains "$(nlri4 10.1.0.0/24)"
pick bird-notification-bad-type bird-as2 $S "Message Header Error / Bad Message Type (data: the bad type 42), answer to the listener's message of type 42" --type notification
