# shellcheck shell=sh
# Guest side of hostile-backend (see scenario.conf). For each case: pings over eth0 run while
# Dom0 plays the hostile backend (event hx_NAME or hr_NAME); then the device must be gone from the
# xen bus, the expected pr_err must be in dmesg, and xvda (fresh data) and eth0 must still work.
rev="xen_netfront xen_blkfront xen_balloon xenbus xen_platform"
nonce=$TB_NONCE
tb_wait_path /dev/xvda 30 || tb_fail xvda "no /dev/xvda"
tb_net_up eth0 || true
n=0
# hx_case NAME XENBUS_DEVICE DMESG_ERE [KIND]: one case (an empty ERE: no log line expected);
# KIND xs (xenstore, event hx_NAME, check xs-NAME-guest), ring (event hr_NAME, ring-NAME-guest)
# or net (event hn_NAME, ring-NAME-guest; eth1 brought up when it appears).
hx_case() {
  n=$((n + 1))
  kind=${4:-xs}
  # 24 pings 0.25 s apart: 6 s, about as long as Dom0's part of a case.
  $TB_BB ping -c 24 -i 0.25 -w 60 -I eth0 "$TB_DOM0_IP4" > /tmp/hx-ping 2>&1 &
  pp=$!
  ev=hx
  [ "$kind" = ring ] && ev=hr
  if [ "$kind" = net ]; then
    ev=hn kind=ring
    # The new vif's interface up, so that its NAPI runs (and takes the backend's responses), and
    # packets to send (all-nodes pings; without DAD the link-local address is there at once).
    ( tb_wait_path /sys/class/net/eth1 60 &&
      echo 0 > /proc/sys/net/ipv6/conf/eth1/accept_dad &&
      $TB_BB ip link set eth1 up &&
      $TB_BB ping6 -c 40 -w 40 -I eth1 ff02::1 ) > /tmp/hn-up.log 2>&1 &
  fi
  tb_event "${ev}_$(echo "$1" | tr - _)" || return 0
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
  [ -z "$bad" ] || [ "$ev" != hn ] || bad="$bad eth1: $(tail -n 2 /tmp/hn-up.log | tr '\n' ' ');"
  if [ -z "$bad" ]; then
    tb_pass "$kind-$1-guest" "$2 gone; ${line:+log: ${line#\[*\] }; }xvda fresh data read back, pings during and after"
  else
    tb_fail "$kind-$1-guest" "$bad"
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
# Ring cases: the violation is found in the answers to the partition-table read of add_disk.
hx_case id-range vbd-51840 'xvdi: backend protocol violation \(IdOutOfRange' ring
# One request in flight answered twice: two responses for one request (the ring's check).
hx_case id-twice vbd-51856 'xvdj: backend protocol violation \((NotInFlight|ring index: ResponseOverflow)' ring
hx_case id-never vbd-51872 'xvdk: backend protocol violation \(NotInFlight' ring
hx_case wrong-op vbd-51888 'xvdl: backend protocol violation \(WrongOperation' ring
hx_case bad-status vbd-51904 'xvdm: backend protocol violation \(BadStatus' ring
hx_case prod-ahead vbd-51920 'xvdn: backend protocol violation \(ring index: ResponseOverflow' ring
hx_case prod-back vbd-51936 'xvdo: backend protocol violation \(ring index: ResponseOverflow' ring
# After 100000 notifications the disk works: 1 MiB read (readahead: indirect requests) while
# Dom0 keeps it Connected.
rm -f /tmp/hr-read
( tb_wait_path /dev/xvdp 90 && $TB_BB dd if=/dev/xvdp of=/dev/null bs=64k count=16 2> /tmp/hr-read.err &&
  echo ok > /tmp/hr-read ) &
# The backend also offered feature-max-indirect-segments=4294967295: 32 segments (our default).
hx_case storm vbd-51952 'xvdp: 131072 sectors .*, 32 segments \(indirect\)' ring
hx_case silent vbd-51728 'xvdb: backend protocol violation \(backend (Closing|Closed|Unknown) with [0-9]+ request' ring
# netif ring cases (vif/3..6, eth1 each time): one bad response each.
hx_case rx-size vif-3 'eth1 queue 0: protocol violation by the backend: BadRxRange \{ offset: 0, size: 5000' net
hx_case rx-offset vif-4 'eth1 queue 0: protocol violation by the backend: BadRxRange \{ offset: 4000, size: 200' net
hx_case rx-extras vif-5 'eth1 queue 0: protocol violation by the backend: RxTooLong' net
# An id not in flight (255 down); 65535 if no packet was in flight (the ring's count was wrong).
hx_case tx-never vif-6 'eth1 queue 0: protocol violation by the backend: BadTxId\((2[0-9][0-9]|65535)\)' net
# The backend maps an rx page and answers it while it still maps it: the frontend must refuse the
# page (the violation names the slot), and xen_platform's deferred reclaim must free it once
# hostile-netback has unmapped it (when the case ends).
freed0=$(dmesg | grep -c 'deferred page(s) revoked and freed')
hx_case rx-mapped vif-7 'eth1 queue 0: protocol violation by the backend: RxGrantInUse\(0\)' net
w=100
while [ "$(dmesg | grep -c 'deferred page(s) revoked and freed')" = "$freed0" ] && [ $w -gt 0 ]; do
  $TB_BB usleep 100000; w=$((w - 1))
done
if [ $w -gt 0 ]; then
  tb_pass ring-rx-mapped-reclaimed "$(dmesg | grep 'deferred page(s) revoked and freed' | tail -n 1 | sed 's/^\[[^]]*\] //')"
else
  tb_fail ring-rx-mapped-reclaimed "no deferred page freed 10 s after the backend unmapped the rx page"
fi
# Dom0 keeps the ring page mapped after the frontend closed: the frontend must not reuse it; the
# guest then churns its memory (64 MiB in tmpfs) before Dom0 compares the page once more, unmaps
# it, and the page must then be freed by the deferred reclaim.
hx_case keep vbd-51744 'xvdc: backend still maps 1 of our pages: not reused, freed once it unmaps them' ring
$TB_BB dd if=/dev/urandom of=/tmp/churn bs=1M count=64 2> /dev/null
sync; echo 3 > /proc/sys/vm/drop_caches; rm -f /tmp/churn
freed0=$(dmesg | grep -c 'deferred page(s) revoked and freed')
tb_event hr_keep_check
# Dom0 unmapped the page at hr_keep_check: the deferred reclaim (every second) must free it.
w=100
while [ "$(dmesg | grep -c 'deferred page(s) revoked and freed')" = "$freed0" ] && [ $w -gt 0 ]; do
  $TB_BB usleep 100000; w=$((w - 1))
done
if [ $w -gt 0 ]; then
  tb_pass ring-keep-reclaimed "$(dmesg | grep 'deferred page(s) revoked and freed' | tail -n 1 | sed 's/^\[[^]]*\] //')"
else
  tb_fail ring-keep-reclaimed "no deferred page freed 10 s after the backend unmapped it"
fi
if [ -s /tmp/hr-read ]; then
  tb_pass ring-storm-read "1 MiB read from xvdp after the notification storm"
else
  tb_fail ring-storm-read "no read from xvdp: $(cat /tmp/hr-read.err 2> /dev/null)"
fi
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
