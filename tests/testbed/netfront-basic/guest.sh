# shellcheck shell=sh
# Guest side of netfront-basic (see scenario.conf). Root is the Debian disk (sda1) by now.
D4=169.254.0.1
_nf_dmesg() { $TB_BB dmesg | grep -E "$1" | sed 's/^\[[^]]*\] //'; }
_nf_wait() { # SECONDS CMD...
  _e=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift
  while ! "$@"; do [ "$(cut -d. -f1 /proc/uptime)" -lt "$_e" ] || return 1; usleep 200000; done
}

# eth0 is ours, with the MAC of the xl config.
tb_wait_path /sys/class/net/eth0 30
drv=$(tb_driver_of /sys/class/net/eth0/device)
ifs=$(ls /sys/class/net | tr '\n' ' ')
if _nf_dmesg 'xen_netfront: eth0: vif device/vif/0' | grep -q .; then
  tb_pass net-pv "eth0 from xen_netfront (interfaces: $ifs)"
else
  tb_fail net-pv "no eth0 bound by xen_netfront (interfaces: $ifs, driver '$drv')"
fi
mac=$(cat /sys/class/net/eth0/address 2>/dev/null)
if [ "$mac" = 00:16:3e:54:42:01 ]; then tb_pass mac "eth0 $mac"; else tb_fail mac "eth0 address '$mac'"; fi
tb_net_up eth0
# As Linux's netfront: no get_drvinfo of its own, so ethtool reports the parent device's driver
# ("vif", our xen bus driver) and name ("vif-0").
o=$(ethtool -i eth0 2>&1 | grep -E '^(driver|bus-info):' | tr '\n' ' ')
case $o in "driver: vif bus-info: vif-0 ") tb_pass ethtool-i "$o" ;; *) tb_fail ethtool-i "$o" ;; esac
k=$(ethtool -k eth0 2>&1)
want="scatter-gather: on|tcp-segmentation-offload: on|tx-checksum-ipv4: on|tx-checksum-ipv6: on|tx-tcp-segmentation: on|tx-tcp6-segmentation: on"
miss=$(echo "$want" | tr '|' '\n' | while read -r w; do echo "$k" | grep -q "$w" || printf '[%s] ' "$w"; done)
if [ -z "$miss" ]; then tb_pass ethtool-k "$(echo "$want" | tr '|' ',')"; else tb_fail ethtool-k "missing $miss"; fi
_nf_dmesg 'xen_netfront' | while read -r l; do tb_info "$l"; done
l=$(_nf_dmesg 'xen_netfront: eth0: connected: ' | tail -n 1)
nq=$(ls -d /sys/class/net/eth0/queues/tx-* 2>/dev/null | wc -l)
case $l in
  *"queues 2, split-evtchn 1,"*) [ "$nq" = 2 ] && tb_pass queues "$nq tx queues; $l" || tb_fail queues "$nq tx queues; $l" ;;
  *) tb_fail queues "want 2 queues with split event channels: '$l'" ;;
esac
tb_event backend
tb_ping4 eth0
tb_ping6 eth0

# xfer CHECK DIR MIB [HOST]: MIB MiB of fresh random data over TCP (to or from Dom0's tbxfer.py
# server on port 5001, IPv4 by default), SHA-256 compared on both ends within the one connection
# (scripts/testbed.d/tbxfer.py); PASS only on "OK" and exit status 0.
XF_N=0
xfer() {
  _c=$1 _d=$2 _mib=$3 _h=${4:-$D4}
  XF_N=$((XF_N + 1))
  _o=$(timeout 600 python3 /tb/tbxfer.py "$_d" "$_h" 5001 "$_c-$TB_NONCE-$XF_N" "$_mib" 2>&1)
  _r=$?
  set -- $_o
  if [ "$_r" = 0 ] && [ "${1:-}" = OK ]; then
    _mbit=$(awk -v b="$2" -v s="$3" 'BEGIN { if (s > 0) printf "%.0f", b * 8 / s / 1e6 }')
    tb_pass "$_c" "$_mib MiB $_d via $_h in ${3}s (${_mbit} Mbit/s), sha256 $(echo "$4" | cut -c1-16) on both ends"
  else
    tb_fail "$_c" "$_mib MiB $_d via $_h: status $_r: $(echo "$_o" | tail -n 1 | cut -c1-200)"
  fi
}
# 96 MiB each way over IPv4 and 48 MiB over IPv6 go round the 256-slot rings dozens of times
# (a ring's slots hold at most 1 MiB; a TSO packet takes up to 17 slots), with TSO/GSO and
# checksum offload, then 64/32 MiB without offloads (linear packets, checksums in the guest).
xfer tx-offload tx 96
xfer rx-offload rx 96
xfer tx6-offload tx 48 fe80::1%eth0
xfer rx6-offload rx 48 fe80::1%eth0
ethtool -K eth0 tso off sg off tx off 2>/dev/null
tb_info "offloads off: $(ethtool -k eth0 | grep -E '^(scatter-gather|tcp-segmentation-offload|tx-checksumming):' | tr '\n' ' ')"
xfer tx-nooffload tx 64
xfer rx-nooffload rx 64
xfer tx6-nooffload tx 32 fe80::1%eth0
ethtool -K eth0 tso on sg on tx on 2>/dev/null
tb_info "offloads on: $(ethtool -k eth0 | grep -E '^(scatter-gather|tcp-segmentation-offload|tx-checksumming):' | tr '\n' ' ')"

# The largest MTU end to end: 65521 (0xffff - ETH_HLEN, netfront's max_mtu with SG; every packet
# spans up to 17 slots). Unfragmentable pings of the full size both ways, then transfers.
MAXMTU=65521
tb_event mtumax
if ip link set eth0 mtu $MAXMTU && /usr/bin/ping -M "do" -s $((MAXMTU - 28)) -c 3 -w 20 $D4 > /tmp/p9 2>&1 \
    && /usr/bin/ping -6 -M "do" -s $((MAXMTU - 48)) -c 3 -w 20 -I eth0 fe80::1 >> /tmp/p9 2>&1; then
  tb_pass mtu-max "eth0 mtu $(cat /sys/class/net/eth0/mtu): $((MAXMTU - 28))-byte IPv4 and $((MAXMTU - 48))-byte IPv6 pings, DF: $(grep -c 'bytes from' /tmp/p9) replies"
else
  tb_fail mtu-max "mtu $(cat /sys/class/net/eth0/mtu): $(tail -n 3 /tmp/p9 | tr '\n' ' ')"
fi
xfer tx-mtu-max tx 32
xfer rx-mtu-max rx 32
ip link set eth0 mtu 1500
tb_event mtu1500

# ethtool -S: per-queue counters that moved.
s=$(ethtool -S eth0 2>&1)
sum() { echo "$s" | awk -v k="$1" '$1 ~ "^queue[0-9]+_" k ":$" { n += $2 } END { print n + 0 }'; }
rxp=$(sum rx_packets) txp=$(sum tx_packets)
q1=$(echo "$s" | awk '$1 == "queue1_rx_packets:" || $1 == "queue1_tx_packets:" { n += $2 } END { print n + 0 }')
if [ "$rxp" -gt 1000 ] && [ "$txp" -gt 1000 ] && [ "$q1" -gt 0 ]; then
  tb_pass ethtool-S "$(echo "$s" | tail -n +2 | tr -s ' \n' ' ')"
else
  tb_fail ethtool-S "$s"
fi

# Backend restarts. 1. Rebind: Dom0 unbinds netback from vif 0 and binds it again; netback
# (Linux 5.6+) re-attaches to the rings the frontend still offers, so eth0 keeps its rings and
# sees the backend Connected again.
nlink=$(_nf_dmesg 'xen_netfront: eth0: backend connected, link up' | wc -l)
nconn=$(_nf_dmesg 'xen_netfront: eth0: connected: ' | wc -l)
tb_event rebind
_rb() {
  [ "$(_nf_dmesg 'xen_netfront: eth0: backend connected, link up' | wc -l)" -gt "$nlink" ] \
    && [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]
}
if _nf_wait 90 _rb && _tb_ping ping4-rebind ping -c 5 -w 30 -I eth0 "$TB_DOM0_IP4"; then
  tb_pass rebind "backend Connected again on the same rings ($(( $(_nf_dmesg 'xen_netfront: eth0: connected: ' | wc -l) - nconn )) new connects), IPv4 works"
else
  tb_fail rebind "after netback unbind/bind: $(_nf_dmesg 'xen_netfront' | tail -n 3 | tr '\n' ' ')"
fi

# 2. Restart through Closed, into trusted mode: with trusted=1 (read at connect) Dom0 unbinds
# netback and leaves the backend Closed with `online` still 1 (what a backend without re-bind
# support or a restarted driver domain shows), then binds netback again. eth0 must tear its rings
# down, go to Initialising, connect to the new backend instance with fresh rings and tx pages
# granted in place, and carry traffic again: checksummed transfers with SG/TSO (packets in page
# fragments) and without (linear packets).
echo 1 > /sys/module/xen_netfront/parameters/trusted
nconn=$(_nf_dmesg 'xen_netfront: eth0: connected: ' | wc -l)
tb_event restart
_rc() {
  [ "$(_nf_dmesg 'xen_netfront: eth0: connected: ' | wc -l)" -gt "$nconn" ] \
    && [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]
}
if _nf_wait 90 _rc; then
  l=$(_nf_dmesg 'xen_netfront: eth0: connected: ' | tail -n 1)
  w=$(_nf_dmesg 'xen_netfront: eth0: backend closed but still online' | tail -n 1)
  lk=$(_nf_dmesg 'leaked' | tail -n 1)
  case $l in
    *"trusted: tx pages granted in place"*)
      if [ -z "$lk" ]; then tb_pass restart "$w; then $l"; else tb_fail restart "$lk"; fi ;;
    *) tb_fail restart "reconnected, but not in trusted mode: $l" ;;
  esac
else
  tb_fail restart "eth0 not connected again within 90 s: $(_nf_dmesg 'xen_netfront' | tail -n 3 | tr '\n' ' ')"
fi
tb_event restarted
_tb_ping ping4-restart ping -c 5 -w 30 -I eth0 "$TB_DOM0_IP4"
_tb_ping ping6-restart ping6 -c 5 -w 30 -I eth0 "$TB_DOM0_IP6"
xfer tx-trusted tx 32
xfer rx-trusted rx 32
ethtool -K eth0 tso off sg off > /dev/null 2>&1
xfer tx-trusted-linear tx 16
ethtool -K eth0 tso on sg on > /dev/null 2>&1

# Hot attach of a second vif with the toolstack's trusted=0 (it must override our module
# parameter, still 1 from the restart test; Dom0 writes it, see dom0.sh), traffic on it, detach
# while a transfer runs.
tb_event attach
if tb_wait_path /sys/class/net/eth1 60; then
  tb_pass attach-eth1 "eth1 $(cat /sys/class/net/eth1/address) appeared"
  echo 0 > /proc/sys/net/ipv6/conf/eth1/accept_dad
  ip link set eth1 up && ip addr add fe80::3/64 dev eth1
  _c() { [ "$(cat /sys/class/net/eth1/carrier 2>/dev/null)" = 1 ]; }
  _nf_wait 20 _c
  l=$(_nf_dmesg 'xen_netfront: eth1: connected: ' | tail -n 1)
  case "$(cat /sys/module/xen_netfront/parameters/trusted)|$l" in
    *"trusted: tx pages granted in place"*) tb_fail untrusted-key "eth1 connected trusted despite the toolstack's trusted=0: $l" ;;
    [1Y]\|*"untrusted: tx and rx bounced"*) tb_pass untrusted-key "module parameter trusted=1, toolstack trusted=0: $l" ;;
    *) tb_fail untrusted-key "parameter $(cat /sys/module/xen_netfront/parameters/trusted), eth1: '$l'" ;;
  esac
  if o=$(ping -6 -c 5 -w 30 -I eth1 fe80::1 2>&1) && echo "$o" | grep -q ' 0% packet loss'; then
    tb_pass ping6-eth1 "$(echo "$o" | grep 'packet loss')"
  else
    tb_fail ping6-eth1 "$(echo "$o" | tail -n 2 | tr '\n' ' ')"
  fi
  # Traffic on eth1 while Dom0 detaches it: a transfer to Dom0 over eth1's link-local address,
  # seen moving (eth1's tx bytes in the last second) just before the detach.
  timeout 120 python3 /tb/tbxfer.py tx fe80::1%eth1 5001 "detach-$TB_NONCE" 512 > /tmp/x-eth1 2>&1 &
  ping -6 -i 0.2 -w 60 -I eth1 fe80::1 > /tmp/p-eth1 2>&1 &
  sleep 5
  b0=$(cat /sys/class/net/eth1/statistics/tx_bytes 2>/dev/null)
  sleep 1
  b1=$(cat /sys/class/net/eth1/statistics/tx_bytes 2>/dev/null)
  tb_event detach
  _g() { [ ! -e /sys/class/net/eth1 ]; }
  if ! [ "${b1:-0}" -gt "$((${b0:-0} + 65536))" ]; then
    tb_fail detach-eth1 "no traffic on eth1 before the detach (tx bytes '$b0' -> '$b1' in 1 s): $(cat /tmp/x-eth1)"
  elif _nf_wait 60 _g; then
    tb_pass detach-eth1 "eth1 removed while a transfer ran (tx bytes $b0 -> $b1 in the last second before; $(grep -c 'bytes from' /tmp/p-eth1) pings answered before)"
  else
    tb_fail detach-eth1 "eth1 still there 60 s after xl network-detach"
  fi
  kill %1 %2 2>/dev/null
else
  tb_fail attach-eth1 "no eth1 within 60 s: $(ls /sys/class/net | tr '\n' ' ')"
fi
lk=$(_nf_dmesg 'xen_netfront: .*(leaked|protocol violation|still mapped)' | tail -n 2)
if [ -z "$lk" ]; then tb_pass no-leaks "no leak or protocol-violation line from xen_netfront"
else tb_fail no-leaks "$(echo "$lk" | tr '\n' '|')"; fi
_nf_dmesg 'xen_netfront' | tail -n 8 | while read -r l; do tb_info "$l"; done
