# shellcheck shell=sh
# Guest side of the bench-net-* scenarios: iperf3 TCP throughput to and from Dom0 (1 and 4
# streams, 10 s each after a 1 s warm-up, $BN_RUNS runs of each, 5 by default), printed as
# "BENCH <test> <median Mbit/s> runs <a> <b> ..." INFO lines for scripts/bench-net.sh (the test
# bed under TCG varies a lot from run to run: the table shows the median and the spread), the
# guest's whole CPU use during each run from /proc/stat (busy time of all vCPUs over wall time,
# in CPUs: softirq and the driver's work included, which iperf3's own figure misses) as
# "BENCH-GCPU <test> <cpus> ..." lines, and iperf3's CPU utilisation of the guest and of Dom0 as
# "BENCH-CPU <test> ..." lines. Asserts only that each test produced a figure, nothing about speed.
BN_RUNS=5
tb_net_up eth0
tb_info "BENCH driver $(ethtool -i eth0 2>/dev/null | head -n 1) vCPUs $(nproc) queues $(ls -d /sys/class/net/eth0/queues/rx-* 2>/dev/null | wc -l)"
sleep 2
# _busy: "busy total" jiffies of all CPUs: busy is all but idle and iowait, steal included (the
# reference kernel has Xen's runstate accounting and reports time Xen ran others as steal; ours
# cannot tell it apart, so for both it counts as busy); total is every field up to steal.
_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }
for t in "tx1:-P 1" "tx4:-P 4" "rx1:-R -P 1" "rx4:-R -P 4"; do
  n=${t%%:*} a=${t#*:} runs='' bad='' cpu='' gcpu=''
  r=0
  while [ "$r" -lt "$BN_RUNS" ]; do
    r=$((r + 1))
    b0=$(_busy)
    # shellcheck disable=SC2086
    timeout 60 iperf3 -J -c 169.254.0.1 -t 10 -O 1 $a > /tmp/bn.json 2>&1
    b1=$(_busy)
    # The receiver's rate (end.sum_received) in Mbit/s, and iperf3's CPU utilisation of the
    # guest (host_total) and Dom0 (remote_total).
    m=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[,"]/, ""); printf "%.1f\n", $2 / 1e6; exit }' /tmp/bn.json)
    if [ -n "$m" ]; then
      runs="$runs $m"
      # Busy CPUs (all vCPUs' busy jiffies over the elapsed jiffies of one CPU).
      gcpu="$gcpu $(echo "$b0 $b1 $(nproc)" | awk '{ e = ($4 - $2) / $5; if (e > 0) printf "%.2f", ($3 - $1) / e; else printf "-" }')"
    else
      bad="$bad run $r: $(grep -m 1 '"error"' /tmp/bn.json)"
    fi
    cpu="$cpu $(awk '/"host_total"/ { gsub(/[,"]/, ""); h = $2 } /"remote_total"/ { gsub(/[,"]/, ""); r = $2 } END { if (h != "") printf "%.0f%%/%.0f%%", h, r }' /tmp/bn.json)"
  done
  # The emulated e1000 sometimes breaks a connection under load: the median of the runs that
  # completed, as long as one did (the failed ones are reported).
  k=$(echo "$runs" | wc -w)
  [ -z "$bad" ] || tb_info "BENCH-FAILED $n$bad"
  if [ "$k" -gt 0 ]; then
    med=$(echo "$runs" | tr ' ' '\n' | grep . | sort -n | sed -n "$(( (k + 1) / 2 ))p")
    tb_info "BENCH $n $med runs$runs"
    tb_info "BENCH-GCPU $n$gcpu"
    tb_info "BENCH-CPU $n guest/Dom0 iperf3 CPU$cpu"
    tb_pass "iperf3-$n" "median $med Mbit/s (runs$runs)"
  else
    tb_fail "iperf3-$n" "$bad"
  fi
done
# Where packets went missing, if they did: the guest's counters and Dom0's view of the vif.
tb_info "BENCH-STATS guest $(ethtool -S eth0 2>/dev/null | tr -s ' \n' ' ')"
tb_event stats
