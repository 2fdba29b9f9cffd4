# shellcheck shell=sh
# Guest side of lifecycle-reload (see scenario.conf).
mods="xen_platform xenbus xen_balloon xen_blkfront xen_netfront"
rev="xen_netfront xen_blkfront xen_balloon xenbus xen_platform"
ko() { echo "/tb/modules/$(awk -v m="$1" '$2 == m { print $1 }' /tb/modules.list)"; }
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
bad='' log='' nonce=$TB_NONCE
r=1
while [ $r -le 20 ]; do
  # shellcheck disable=SC2086  # module names, one word each
  if ! rmmod $rev 2> /tmp/rmmod.err; then bad="round $r: rmmod: $(cat /tmp/rmmod.err)"; break; fi
  left=$(awk '$1 ~ /^xen(bus|_)/ { print $1 }' /proc/modules | tr '\n' ' ')
  if [ -n "$left" ]; then bad="round $r: still loaded after rmmod: $left"; break; fi
  for m in $mods; do
    if ! insmod "$(ko "$m")" 2> /tmp/insmod.err; then bad="round $r: insmod $m: $(cat /tmp/insmod.err)"; break 2; fi
  done
  if ! tb_wait_path /dev/xvda 30; then bad="round $r: no /dev/xvda 30 s after the reload"; break; fi
  if ! tb_wait_path /sys/class/net/eth0 30; then bad="round $r: no eth0 30 s after the reload"; break; fi
  # Fresh data per round (the pattern names the nonce; tb_pattern's lines make 1 MiB with a
  # 16-character nonce, so a round's is 16 hex digits too); the last round writes the run's own
  # nonce, which Dom0 checks on the backing disk (dom0-data).
  if [ $r -lt 20 ]; then
    TB_NONCE=$(echo "$nonce round $r" | $TB_BB md5sum | cut -c1-16)
  else
    TB_NONCE=$nonce
  fi
  if ! tb_disk_rw /dev/xvda > /tmp/rw.out; then bad="round $r: $(cat /tmp/rw.out)"; break; fi
  if ! tb_net_up eth0 > /tmp/net.out || ! tb_ping4 eth0 > /tmp/ping.out; then
    bad="round $r: network: $(cat /tmp/net.out /tmp/ping.out | tr '\n' ' ')"; break
  fi
  sync; echo 3 > /proc/sys/vm/drop_caches
  log="$log r$r:free=$(meminfo MemFree),slab=$(meminfo Slab)"
  [ $r = 2 ] && { free2=$(meminfo MemFree); slab2=$(meminfo Slab); }
  r=$((r + 1))
done
if [ -z "$bad" ]; then
  tb_pass rounds "20 rounds of rmmod/insmod of $mods, xvda and eth0 back each time"
  cat /tmp/rw.out; cat /tmp/ping.out
else
  tb_fail rounds "$bad"
fi
tb_info "memory per round (KiB):$log"
# The xenbus reset at work (pr_info, not on the console): devices found left by the earlier load.
tb_info "xenbus resets: $(dmesg | grep -c 'vbd/51712: left .* resetting') of vbd/51712, $(dmesg | grep -c 'vif/0: left .* resetting') of vif/0"
if [ -z "$bad" ]; then
  free20=$(meminfo MemFree) slab20=$(meminfo Slab)
  if [ $((slab20 - slab2)) -le 1024 ] && [ $((free2 - free20)) -le 4096 ]; then
    tb_pass memory-flat "round 2 -> 20: Slab $slab2 -> $slab20 KiB, MemFree $free2 -> $free20 KiB"
  else
    tb_fail memory-flat "round 2 -> 20: Slab $slab2 -> $slab20 KiB (+1024 allowed), MemFree $free2 -> $free20 KiB (-4096 allowed)"
  fi
fi
tb_event connected
