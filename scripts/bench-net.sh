#!/usr/bin/env bash
# Network benchmark of the test bed: iperf3 TCP throughput guest→Dom0 (tx) and Dom0→guest (rx),
# 1 and 4 streams, 10 s each, 5 runs each, for our xen_netfront (bench-net-ours: untrusted
# backend, the default: tx bounced, rx pages granted per slot; bench-net-trusted: trusted=1, tx
# pages granted in place as Linux's default), Linux's C xen-netfront on the reference kernel
# (bench-net-c, trusted by default) and the emulated e1000 (bench-net-e1000), all in one test bed
# run. Prints the median and spread in Mbit/s with the ratios ours/C, trusted/C and ours/e1000,
# then the guest's busy CPUs and CPUs per Gbit/s. Figures only: nothing about speed is asserted
# (the test bed is QEMU TCG, so absolute numbers mean little; ratios within one run say more).
#
#   scripts/bench-net.sh [-o DIR]     run the four scenarios (build the modules first: make)
#   scripts/bench-net.sh --from DIR   only print the table of a finished test bed run in DIR (e.g.
#                                     `scripts/testbed run netfront-basic bench-net-ours ...`)
#   scripts/bench-net.sh --profile [-o DIR]   where the guest's CPU goes instead: perf in the guest
#                                     during tx1, rx1 and rx4, ours and C (bench-net-prof-*, ~5 min)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out='' from='' profile=no
[ "${1:-}" = --profile ] && { profile=yes; shift; }
case ${1:-} in
  -o) out=${2:?-o needs a directory} ;;
  --from) from=${2:?--from needs a directory} ;;
  '') ;;
  *) sed -n '2,15s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
names=(bench-net-ours bench-net-trusted bench-net-c bench-net-e1000)
[ $profile = no ] || names=(bench-net-prof-ours bench-net-prof-c)
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

if [ $profile = yes ]; then
  # The guest's "TB: INFO PROF <test> <percent> <dso> <symbol>" lines, heaviest first.
  for t in tx1 rx1 rx4; do
    for n in "${names[@]}"; do
      echo
      echo "$n $t: $(grep -ah "prof-$t" "$dir/$n/serial.log" 2>/dev/null | tr -d '\r' | sed -n 's/.*TB: PASS //p')"
      grep -ah "TB: INFO PROF-DSO $t " "$dir/$n/serial.log" 2>/dev/null | tr -d '\r' | sed 's/.*PROF-DSO [a-z0-9]* /  dso /'
      grep -ah "TB: INFO PROF $t " "$dir/$n/serial.log" 2>/dev/null | tr -d '\r' | sed 's/.*PROF [a-z0-9]* /  /' | head -n 15
    done
  done
  exit 0
fi

# runs NAME TEST: the Mbit/s figures of each run of TEST in scenario NAME's guest log
# ("TB: INFO BENCH tx1 123 runs 120 123 130 ..."); gcpu NAME TEST: the guest's busy CPUs of each
# run ("TB: INFO BENCH-GCPU tx1 0.95 0.97 ...").
runs() { grep -ah "BENCH $2 " "$dir/$1/serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | sed -n 's/.* runs //p'; }
gcpu() { grep -ah "BENCH-GCPU $2 " "$dir/$1/serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | sed -n "s/.*BENCH-GCPU $2 //p"; }
# med: the median of the numbers on stdin's one line (the upper one of an even count); spread:
# "MIN-MAX" of them ("" if none).
med() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
spread() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%s-%s", v[1], v[NR] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
# per NAME TEST: guest CPUs per Gbit/s (median busy CPUs over median Gbit/s).
per() {
  local m c
  m=$(runs "$1" "$2" | med) c=$(gcpu "$1" "$2" | med)
  awk -v m="$m" -v c="$c" 'BEGIN { if (m != "" && c != "" && m > 0) printf "%.2f", c / (m / 1000); else printf "-" }'
}
tests=(tx1 tx4 rx1 rx4)
desc() {
  case $1 in
    tx1) echo "guest->Dom0, 1 stream" ;; tx4) echo "guest->Dom0, 4 streams" ;;
    rx1) echo "Dom0->guest, 1 stream" ;; rx4) echo "Dom0->guest, 4 streams" ;;
  esac
}

# One pass over the tests fills both tables' rows: throughput (median [min-max] and ratios), then
# the guest's busy CPUs and CPUs per Gbit/s.
fmt1='%-24s %-19s %-19s %-19s %-19s %7s %9s %10s\n'
fmt2='%-24s %6s %6s %6s %6s   %8s %8s %8s %8s %7s %9s\n'
rows1=() rows2=()
for t in "${tests[@]}"; do
  cells=() meds=() cs=() ps=()
  for n in "${names[@]}"; do
    m=$(runs "$n" "$t" | med) c=$(gcpu "$n" "$t" | med)
    meds+=("$m") cs+=("${c:--}") ps+=("$(per "$n" "$t")")
    cells+=("${m:--} [$(runs "$n" "$t" | spread)]")
  done
  # shellcheck disable=SC2059  # one format for the header and the rows
  rows1+=("$(printf "$fmt1" "$(desc "$t")" "${cells[@]}" "$(ratio "${meds[0]}" "${meds[2]}")" \
    "$(ratio "${meds[1]}" "${meds[2]}")" "$(ratio "${meds[0]}" "${meds[3]}")")")
  # shellcheck disable=SC2059
  rows2+=("$(printf "$fmt2" "$(desc "$t")" "${cs[@]}" "${ps[@]}" "$(ratio "${ps[0]}" "${ps[2]}")" \
    "$(ratio "${ps[1]}" "${ps[2]}")")")
done
echo
echo "bench-net: iperf3 TCP, Mbit/s, median of the runs [min-max] (test bed output: $dir)"
# shellcheck disable=SC2059
printf "$fmt1" test ours trusted C-netfront e1000 ours/C trusted/C ours/e1000
printf '%s\n' "${rows1[@]}"
echo
echo "guest CPU: busy vCPUs during the runs (median, /proc/stat: all but idle and iowait), and per Gbit/s"
echo "(lower is better; ours/C < 1 means less guest CPU per bit than C)"
# shellcheck disable=SC2059
printf "$fmt2" test ours trusted C e1000 ours/Gb trust/Gb C/Gb e1000/Gb ours/C trusted/C
printf '%s\n' "${rows2[@]}"
echo
echo "runs behind each median (Mbit/s), the guest's busy CPUs and iperf3's CPU use (guest/Dom0) of each run:"
for n in "${names[@]}"; do
  for t in "${tests[@]}"; do
    u=$(grep -ah "BENCH-CPU $t " "$dir/$n/serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | sed -n 's/.* CPU //p')
    r=$(runs "$n" "$t")
    g=$(gcpu "$n" "$t")
    printf '  %-18s %-4s %-32s cpus %-26s iperf3 %s\n' "$n" "$t" "${r:--}" "${g:--}" "${u:--}"
  done
done
echo
echo "events the guest sent to netback over the whole run (Dom0's /proc/interrupts of the vif):"
grep -ah "BENCH-STATS Dom0 interrupts" "$dir/console.log" 2>/dev/null | sed 's/^TB-DOM0\[[^]]*\] /  /'
for n in "${names[@]}"; do
  printf '%s: %s\n' "$n" "$(cat "$dir/$n/result" 2>/dev/null || echo 'no result')"
done
