# shellcheck shell=sh
# Guest side of the bench-net-prof-* scenarios (scripts/bench-net.sh --profile): where the guest's
# CPU goes during iperf3 to and from Dom0. For each test (tx1, rx1, rx4: one 12 s run each), perf
# samples every vCPU (cpu-clock at 499 Hz, kernel and modules resolved through /proc/kallsyms)
# for 8 s of the run, and the heaviest symbols are printed as "PROF <test> <percent> <dso> <symbol>"
# INFO lines, the heaviest shared objects as "PROF-DSO" lines. Figures only: asserts that each test
# produced a profile, nothing about where the time goes.
tb_net_up eth0
tb_info "BENCH driver $(ethtool -i eth0 2>/dev/null | head -n 1) vCPUs $(nproc)"
command -v perf > /dev/null || { tb_fail perf "no perf in the guest image"; exit 0; }
sleep 2
for t in "tx1:-P 1" "rx1:-R -P 1" "rx4:-R -P 4"; do
  n=${t%%:*} a=${t#*:}
  # shellcheck disable=SC2086
  timeout 60 iperf3 -J -c 169.254.0.1 -t 12 -O 1 $a > /tmp/bn.json 2>&1 &
  ip=$!
  sleep 3
  perf record -q -a -F 499 -e cpu-clock -o /tmp/perf.data -- sleep 8 > /tmp/perf.log 2>&1
  wait "$ip"
  m=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[,"]/, ""); printf "%.1f\n", $2 / 1e6; exit }' /tmp/bn.json)
  perf report -i /tmp/perf.data --stdio --sort dso,sym --percent-limit 0.5 2>/dev/null \
    | awk '/^ *[0-9.]+%/ { print }' | head -n 45 > /tmp/prof.txt
  perf report -i /tmp/perf.data --stdio --sort dso --percent-limit 1 2>/dev/null \
    | awk '/^ *[0-9.]+%/ { print }' | head -n 12 > /tmp/dso.txt
  if [ -s /tmp/prof.txt ]; then
    while read -r line; do tb_info "PROF $n $line"; done < /tmp/prof.txt
    while read -r line; do tb_info "PROF-DSO $n $line"; done < /tmp/dso.txt
    tb_pass "prof-$n" "${m:-?} Mbit/s during the profile"
  else
    tb_fail "prof-$n" "no profile: $(tail -n 3 /tmp/perf.log | tr '\n' ' ')"
  fi
done
