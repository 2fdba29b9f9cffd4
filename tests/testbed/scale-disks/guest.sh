# shellcheck shell=sh
# Guest side of scale-disks (see scenario.conf): runs on the Debian root (xvda1).
_sc_dmesg() { $TB_BB dmesg | grep -E "$1" | sed 's/^\[[^]]*\] //'; }
tb_event attach
n=0
for x in b c d e f g h; do tb_wait_path "/sys/block/xvd$x" 120 && n=$((n + 1)); done
if [ $n = 7 ]; then tb_pass disks-present "xvdb..xvdh appeared: $(ls /sys/block | tr '\n' ' ')"
else tb_fail disks-present "$n of 7 hot-attached disks appeared: $(ls /sys/block | tr '\n' ' ')"; fi
tb_wait_path /sys/class/net/eth0 60
tb_net_up eth0
# Let every device finish connecting (each logs its connect line), then let Dom0 look.
i=0
while [ "$(_sc_dmesg 'xen_blkfront: xvd[a-h]: [0-9]+ sectors' | wc -l)" -lt 8 ] && [ $i -lt 300 ]; do
  usleep 200000; i=$((i + 1))
done
tb_event connected
bq=$(for x in a b c d e f g h; do ls -d /sys/block/xvd$x/mq/* 2>/dev/null | wc -l; done | tr '\n' ' ')
if [ "$bq" = "4 4 4 4 4 4 4 4 " ]; then tb_pass queues-blk "blk-mq hardware queues per disk: $bq"
else tb_fail queues-blk "blk-mq hardware queues per disk: $bq (want 4 each)"; fi
nq=$(ls -d /sys/class/net/eth0/queues/tx-* 2>/dev/null | wc -l)
if [ "$nq" = 4 ]; then tb_pass queues-net "eth0 has $nq tx queues"
else tb_fail queues-net "eth0 has $nq tx queues (want 4)"; fi

# All disks at once: 8 MiB of fresh random data at 4 MiB on each (read back after drop_caches),
# and this run's 1 MiB pattern at 1 MiB that Dom0 reads from the backing files; meanwhile
# checked transfers each way over eth0.
$TB_BB dd if=/dev/urandom of=/tmp/rnd bs=1M count=8 2>/dev/null
want=$($TB_BB md5sum < /tmp/rnd | cut -d' ' -f1)
tb_pattern > /tmp/pat
python3 /tb/tbxfer.py tx 169.254.0.1 5001 "tx-$TB_NONCE" 64 > /tmp/xtx 2>&1 &
ptx=$!
python3 /tb/tbxfer.py rx 169.254.0.1 5001 "rx-$TB_NONCE" 64 > /tmp/xrx 2>&1 &
prx=$!
pids=
for x in b c d e f g h; do
  ( $TB_BB dd if=/tmp/rnd of=/dev/xvd$x bs=64k seek=64 conv=fsync 2>/dev/null \
    && $TB_BB dd if=/tmp/pat of=/dev/xvd$x bs=64k seek=16 conv=fsync 2>/dev/null ) &
  pids="$pids $!"
done
$TB_BB dd if=/tmp/rnd of=/tb-scale.bin bs=64k conv=fsync 2>/dev/null &
pids="$pids $!"
wait_bad=0
for p in $pids; do wait "$p" || wait_bad=$((wait_bad + 1)); done
sync; echo 3 > /proc/sys/vm/drop_caches
bad=
for x in b c d e f g h; do
  g=$($TB_BB dd if=/dev/xvd$x bs=64k skip=64 count=128 2>/dev/null | $TB_BB md5sum | cut -d' ' -f1)
  [ "$g" = "$want" ] || bad="$bad xvd$x"
done
g=$($TB_BB md5sum < /tb-scale.bin | cut -d' ' -f1); rm -f /tb-scale.bin
[ "$g" = "$want" ] || bad="$bad xvda(root file)"
if [ -z "$bad" ] && [ $wait_bad = 0 ]; then tb_pass disk-io "8 MiB written to xvdb..xvdh and a file on xvda at once, read back identical (md5 $want)"
else tb_fail disk-io "wrong data on:${bad:- none}; $wait_bad writers failed"; fi
for d in tx rx; do
  if [ $d = tx ]; then wait $ptx; else wait $prx; fi
  r=$?
  # shellcheck disable=SC2046  # the result's words
  set -- $(cat /tmp/x$d)
  if [ $r = 0 ] && [ "${1:-}" = OK ]; then tb_pass $d "64 MiB $d over eth0 ($nq queues) in ${3}s, sha256 $(echo "$4" | cut -c1-16) on both ends"
  else tb_fail $d "status $r: $(tail -n 1 /tmp/x$d | cut -c1-200)"; fi
done
tb_event verify

# The table grew past the 32 frames mapped at load (each growth is logged by xen_platform).
l=$(_sc_dmesg 'xen_platform: grant table grew to' | tail -n 1)
f=$(echo "$l" | sed -n 's/.*grew to \([0-9]*\) frames.*/\1/p')
if [ -n "$f" ] && [ "$f" -gt 32 ]; then tb_pass grant-growth "$l"
else tb_fail grant-growth "no growth past 32 frames: '${l:-none}'"; fi
e=$(_sc_dmesg 'grant table full|ENOSPC|-28|grant.*failed' | head -n 3 | tr '\n' '|')
if [ -z "$e" ]; then tb_pass no-grant-errors "no grant failure in dmesg"
else tb_fail no-grant-errors "$e"; fi
_sc_dmesg 'xen_blkfront: xvd[a-h]: [0-9]+ sectors|xen_netfront: eth0: connected|grant table' | while read -r l; do tb_info "$l"; done
