# shellcheck shell=sh
# Guest side of the bench-net-* scenarios: iperf3 TCP throughput to and from Dom0 (1 and 4
# streams, 10 s each after a 1 s warm-up, 3 runs of each), printed as
# "BENCH <test> <median Mbit/s> runs <a> <b> <c>" INFO lines for scripts/bench-net.sh (the test bed
# under TCG varies a lot from run to run: the median of three is what the table shows).
# Asserts only that each run produced a figure, nothing about speed.
tb_net_up eth0
tb_info "BENCH driver $(ethtool -i eth0 2>/dev/null | head -n 1)"
sleep 2
for t in "tx1:-P 1" "tx4:-P 4" "rx1:-R -P 1" "rx4:-R -P 4"; do
  n=${t%%:*} a=${t#*:} runs='' bad=''
  for r in 1 2 3; do
    # shellcheck disable=SC2086
    o=$(timeout 60 iperf3 -c 169.254.0.1 -t 10 -O 1 -f m $a 2>&1)
    m=$(echo "$o" | grep -E 'receiver' | tail -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
    if [ -n "$m" ]; then runs="$runs $m"; else bad="$bad run $r: $(echo "$o" | tail -n 1)"; fi
  done
  if [ -z "$bad" ]; then
    med=$(echo "$runs" | tr ' ' '\n' | grep . | sort -n | sed -n 2p)
    tb_info "BENCH $n $med runs$runs"
    tb_pass "iperf3-$n" "median $med Mbit/s (runs$runs)"
  else
    tb_fail "iperf3-$n" "$bad"
  fi
done
