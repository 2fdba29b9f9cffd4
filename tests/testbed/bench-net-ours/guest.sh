# shellcheck shell=sh
# Guest side of the bench-net-* scenarios: iperf3 TCP throughput to and from Dom0 (10 s each,
# 1 and 4 streams), printed as "BENCH <test> <Mbit/s>" INFO lines for scripts/bench-net.sh.
# Asserts only that each run produced a figure, nothing about speed.
tb_net_up eth0
tb_info "BENCH driver $(ethtool -i eth0 2>/dev/null | head -n 1)"
sleep 2
for t in "tx1:-P 1" "tx4:-P 4" "rx1:-R -P 1" "rx4:-R -P 4"; do
  n=${t%%:*} a=${t#*:}
  # shellcheck disable=SC2086
  o=$(timeout 60 iperf3 -c 169.254.0.1 -t 10 -f m $a 2>&1)
  m=$(echo "$o" | grep -E 'receiver' | tail -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
  if [ -n "$m" ]; then
    tb_info "BENCH $n $m"
    tb_pass "iperf3-$n" "$m Mbit/s"
  else
    tb_fail "iperf3-$n" "$(echo "$o" | tail -n 2 | tr '\n' ' ')"
  fi
done
