#!/usr/bin/env bash
# Network benchmark of the test bed: iperf3 TCP throughput guest→Dom0 (tx) and Dom0→guest (rx),
# 1 and 4 streams, 10 s each, median of 3 runs, for our xen_netfront (bench-net-ours: untrusted backend, the default,
# tx and rx bounced; bench-net-trusted: trusted=1, tx pages granted in place as Linux's default),
# Linux's C xen-netfront on the reference kernel (bench-net-c, trusted by default) and the emulated
# e1000 (bench-net-e1000), all in one test bed run. Prints a table in Mbit/s and the ratios ours/C
# and ours/e1000 (for both of our modes). Figures only: nothing about speed
# is asserted (the test bed is QEMU TCG, so absolute numbers mean little; ratios say more).
#
#   scripts/bench-net.sh [-o DIR]     run the four scenarios (build the modules first: make)
#   scripts/bench-net.sh --from DIR   only print the table of a finished test bed run in DIR (e.g.
#                                     `scripts/testbed run netfront-basic bench-net-ours ...`)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out='' from=''
case ${1:-} in
  -o) out=${2:?-o needs a directory} ;;
  --from) from=${2:?--from needs a directory} ;;
  '') ;;
  *) sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
names=(bench-net-ours bench-net-trusted bench-net-c bench-net-e1000)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -n "$from" ]; then
  echo "testbed: output in $from" > "$log"
elif [ -n "$out" ]; then
  "$root/scripts/testbed" run -o "$out" "${names[@]}" 2>&1 | tee "$log"
else
  "$root/scripts/testbed" run "${names[@]}" 2>&1 | tee "$log"
fi
dir=${from:-${out:-$(sed -n 's/^testbed: output in //p' "$log" | head -n 1)}}
[ -n "$dir" ] && [ -d "$dir" ] || { echo "bench-net: no output directory" >&2; exit 1; }

# fig NAME TEST: the Mbit/s figure (median) of TEST in scenario NAME's guest log
# ("TB: INFO BENCH tx1 123 runs 120 123 130").
fig() {
  grep -ah "BENCH $2 " "$dir/$1/serial.log" 2>/dev/null | tail -n 1 | sed 's/.*BENCH [a-z0-9]* //' | tr -d '\r' | awk '{ print $1 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo
echo "bench-net: iperf3 TCP, Mbit/s (test bed output: $dir)"
fmt='%-24s %8s %8s %10s %8s %8s %10s %8s %10s\n'
# shellcheck disable=SC2059  # one format for the header and the rows
printf "$fmt" test ours trusted C-netfront e1000 ours/C ours/e1000 trusted/C trusted/e1000
for t in tx1 tx4 rx1 rx4; do
  case $t in
    tx1) d="guest->Dom0, 1 stream" ;; tx4) d="guest->Dom0, 4 streams" ;;
    rx1) d="Dom0->guest, 1 stream" ;; rx4) d="Dom0->guest, 4 streams" ;;
  esac
  o=$(fig bench-net-ours $t) tr=$(fig bench-net-trusted $t) c=$(fig bench-net-c $t) e=$(fig bench-net-e1000 $t)
  # shellcheck disable=SC2059
  printf "$fmt" "$d" "${o:--}" "${tr:--}" "${c:--}" "${e:--}" "$(ratio "$o" "$c")" "$(ratio "$o" "$e")" \
    "$(ratio "$tr" "$c")" "$(ratio "$tr" "$e")"
done
echo "runs behind each median (Mbit/s), and iperf3's CPU use in the guest/Dom0 for each run:"
for n in "${names[@]}"; do
  for t in tx1 tx4 rx1 rx4; do
    r=$(grep -ah "BENCH $t " "$dir/$n/serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | sed -n 's/.* runs //p')
    u=$(grep -ah "BENCH-CPU $t " "$dir/$n/serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | sed -n 's/.* CPU //p')
    printf '  %-18s %-4s %-22s %s\n' "$n" "$t" "${r:--}" "${u:--}"
  done
done
for n in "${names[@]}"; do
  printf '%s: %s\n' "$n" "$(cat "$dir/$n/result" 2>/dev/null || echo 'no result')"
done
