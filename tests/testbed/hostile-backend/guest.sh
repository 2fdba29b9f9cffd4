# shellcheck shell=sh
# Guest side of hostile-xenstore (see scenario.conf). For each case: pings over eth0 run while
# Dom0 plays the hostile backend (event hx_NAME); then the device must be gone from the xen bus,
# the expected pr_err must be in dmesg, and xvda (fresh data) and eth0 must still work.
rev="xen_netfront xen_blkfront xen_balloon xenbus xen_platform"
nonce=$TB_NONCE
tb_wait_path /dev/xvda 30 || tb_fail xvda "no /dev/xvda"
tb_net_up eth0 || true
n=0
# hx_case NAME XENBUS_DEVICE DMESG_ERE: one case (an empty ERE: no log line expected).
hx_case() {
  n=$((n + 1))
  $TB_BB ping -c 10 -w 60 -I eth0 "$TB_DOM0_IP4" > /tmp/hx-ping 2>&1 &
  pp=$!
  tb_event "hx_$(echo "$1" | tr - _)" || return 0
  bad=''
  w=200
  while [ -e "/sys/bus/xen/devices/$2" ] && [ $w -gt 0 ]; do $TB_BB usleep 100000; w=$((w - 1)); done
  [ -e "/sys/bus/xen/devices/$2" ] && bad="$bad $2 still on the xen bus 20 s after Dom0 removed it;"
  line=''
  if [ -n "$3" ]; then
    line=$(dmesg | grep -E -m 1 "$3")
    [ -n "$line" ] || bad="$bad no log line matching /$3/;"
  fi
  wait $pp
  grep -q ' 0% packet loss' /tmp/hx-ping || bad="$bad pings during the case: $(grep 'packets transmitted' /tmp/hx-ping);"
  TB_NONCE=$(echo "$nonce case $n" | $TB_BB md5sum | cut -c1-16)
  tb_disk_rw /dev/xvda > /tmp/hx-rw
  grep -q 'TB: PASS' /tmp/hx-rw || bad="$bad xvda: $(cat /tmp/hx-rw);"
  tb_ping4 eth0 > /tmp/hx-ping-after
  grep -q 'TB: PASS' /tmp/hx-ping-after || bad="$bad ping after: $(cat /tmp/hx-ping-after);"
  if [ -z "$bad" ]; then
    tb_pass "xs-$1-guest" "$2 gone; ${line:+log: ${line#\[*\] }; }xvda fresh data read back, pings during and after"
  else
    tb_fail "xs-$1-guest" "$bad"
  fi
}
hx_case sectors-abc vbd-51728 'device/vbd/51728: reading sectors from the backend .*errno 22'
hx_case sectors-zero vbd-51744 'xvdc: unusable disk \(sectors 0, .*ZeroCapacity'
hx_case sector-size-3 vbd-51760 'xvdd: unusable disk \(sectors 131072, sector-size 3\)'
hx_case ring-order-30 vbd-51776 ''
hx_case blk-queues-100000 vbd-51792 ''
hx_case state-flap vbd-51808 ''
hx_case backend-removed vbd-51824 ''
hx_case mac-zz vif-1 'vif device/vif/1: bad mac "zz:zz:zz:zz:zz:zz'
hx_case net-queues-100000 vif-2 'eth1: connected: queues [12],'
# The run's own data last (Dom0 checks it on the backing disk: dom0-data), then every module goes.
TB_NONCE=$nonce
tb_disk_rw /dev/xvda
# shellcheck disable=SC2086  # module names, one word each
if rmmod $rev 2> /tmp/rmmod.err; then
  left=$(awk '$1 ~ /^xen(bus|_)/ { print $1 }' /proc/modules | tr '\n' ' ')
  if [ -z "$left" ]; then tb_pass module-unload "$rev unloaded"; else tb_fail module-unload "still loaded: $left"; fi
else
  tb_fail module-unload "rmmod: $(cat /tmp/rmmod.err)"
fi
