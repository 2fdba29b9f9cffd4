# shellcheck shell=sh
# Guest side of events-vectors and events-intx (see their scenario.conf).
_ev_dmesg() { $TB_BB dmesg | grep -E "$1" | sed 's/^\[[^]]*\] //'; }
case $(cat /proc/cmdline) in *xen_no_vector_callback*) intx=1 ;; *) intx=0 ;; esac
l=$(_ev_dmesg 'xen_platform: Xen HVM callback vector for event delivery' | tail -n 1)
case $intx:$l in
  0:*"is enabled"*|1:*"is disabled (xen_no_vector_callback)"*) tb_pass delivery-mode "$l" ;;
  *) tb_fail delivery-mode "${l:-no delivery-mode line from xen_platform}" ;;
esac
tb_wait_path /sys/block/xvdb 30
tb_wait_path /sys/class/net/eth0 30
tb_net_up eth0
bq=$(ls -d /sys/block/xvdb/mq/* 2>/dev/null | wc -l)
nq=$(ls -d /sys/class/net/eth0/queues/tx-* 2>/dev/null | wc -l)
if [ "$bq" = 4 ] && [ "$nq" = 4 ]; then tb_pass queues "xvdb: $bq hardware queues, eth0: $nq queues"
else tb_fail queues "xvdb: $bq hardware queues, eth0: $nq queues (want 4 and 4)"; fi
tb_event notify

# fio (4 jobs, crc32c verify) on xvdb and 4 checked transfers at once; vCPU 2 leaves and comes
# back meanwhile.
fio --name=ev --filename=/dev/xvdb --direct=1 --ioengine=psync --rw=randwrite --bs=16k \
    --size=12m --numjobs=4 --offset_increment=14m --verify=crc32c --verify_fatal=1 \
    --group_reporting > /tmp/fio.out 2>&1 &
pf=$!
pids=
for i in 1 2 3 4; do
  python3 /tb/tbxfer.py tx 169.254.0.1 5001 "ev$i-$TB_NONCE" 24 > "/tmp/x$i" 2>&1 &
  pids="$pids $!"
done
sleep 3
if echo 0 > /sys/devices/system/cpu/cpu2/online && [ "$(cat /sys/devices/system/cpu/cpu2/online)" = 0 ]; then
  l=$(_ev_dmesg 'CPU 2 going offline' | tail -n 1)
  # With vectors, CPU 2's queue ports (one of xvdb's, two of eth0's at least) move to CPU 0.
  if [ $intx = 0 ] && [ -z "$l" ]; then tb_fail cpu2-offline "vCPU 2 offline, but no port moved off it"
  else tb_pass cpu2-offline "vCPU 2 offline during I/O; ${l:-callback mode: no port on it}"; fi
else
  tb_fail cpu2-offline "could not take CPU 2 offline"
fi
sleep 3
if echo 1 > /sys/devices/system/cpu/cpu2/online && [ "$(cat /sys/devices/system/cpu/cpu2/online)" = 1 ]; then
  l=$(_ev_dmesg 'CPU 2: vCPU 2 upcalls on vector' | tail -n 1)
  # With vectors, CPU 2 gets a new vector and the ports spread to it come back from CPU 0.
  case $intx:$l in
    0:*", 0 event channel(s) back"|0:) tb_fail cpu2-online "vCPU 2 back, but: '${l:-no new vector}'" ;;
    *) tb_pass cpu2-online "vCPU 2 back; ${l:-callback mode: nothing to move}" ;;
  esac
else
  tb_fail cpu2-online "could not bring CPU 2 back"
fi
bad='' i=0
for p in $pids; do
  i=$((i + 1))
  wait "$p"; r=$?
  # shellcheck disable=SC2046  # the result's words
  set -- $(cat "/tmp/x$i")
  [ $r = 0 ] && [ "${1:-}" = OK ] || bad="$bad stream$i($r: $(tail -n 1 "/tmp/x$i" | cut -c1-80))"
done
if [ -z "$bad" ]; then tb_pass tx-4streams "4 x 24 MiB sent at once, each sha256-checked on both ends"
else tb_fail tx-4streams "$bad"; fi
wait $pf; r=$?
if [ $r = 0 ] && ! grep -q 'verify.*bad\|crc32c.*fail' /tmp/fio.out; then
  tb_pass fio-verify "fio 4 jobs randwrite+verify crc32c: $(grep -m 1 -o 'WRITE: bw=[^,]*' /tmp/fio.out)"
else
  tb_fail fio-verify "fio status $r: $(grep -iE 'error|verify' /tmp/fio.out | head -n 2 | tr '\n' ' ')"
fi
if [ $intx = 0 ]; then
  # One "xen-upcall" line per CPU, each counted on its own CPU; CPU 2's is the one set up when
  # it came back, and counts because its ports came back with it. At least 5 upcalls a CPU
  # (setting a vector raises one upcall by itself).
  u=$(awk '/xen-upcall/ { s = ""; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s = s "/" $i; print $1 s }' /proc/interrupts | tr '\n' ' ')
  cpus=$(awk '/xen-upcall/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) if ($i >= 5) c[i - 2] = 1 } END { for (k in c) n++; print n + 0 }' /proc/interrupts)
  if [ "$cpus" = 4 ]; then tb_pass upcall-irqs "xen-upcall interrupts counted on $cpus CPUs ($u)"
  else tb_fail upcall-irqs "xen-upcall interrupts counted on $cpus CPUs: $(grep xen-upcall /proc/interrupts | tr -s ' ' | tr '\n' '|')"; fi
fi
grep -E 'CPU|xen' /proc/interrupts | tr -s ' ' | while read -r l; do tb_info "$l"; done
_ev_dmesg 'xen_platform: (CPU|Xen HVM)|connected' | while read -r l; do tb_info "$l"; done
