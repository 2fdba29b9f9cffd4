#!/usr/bin/env bash
# Block benchmark in the Xen test bed, one run (one Xen boot, three guests): fio O_DIRECT sequential
# 1 MiB writes/reads (MiB/s), 4 KiB writes/reads at queue depth 1 (IOPS) and random 4 KiB
# reads/writes at queue depth 16 (IOPS), each job 10-15 s by the clock, on the scratch disk,
# through our xen_blkfront (bench-blk-ours), Linux's C xen-blkfront on the reference kernel
# (bench-blk-ref) and the emulated IDE disk (bench-blk-ide). Prints a table with ratios; asserts
# nothing about speed (the test bed is QEMU TCG: absolute numbers mean little, ratios more).
#   scripts/bench-blk.sh [-o DIR]    run the three scenarios, logs in DIR
#   scripts/bench-blk.sh -r DIR      only print the table of an earlier run's DIR (scripts/testbed
#                                    run -o DIR bench-blk-ours bench-blk-ref bench-blk-ide ...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${XDG_CACHE_HOME:-$HOME/.cache}/xen-pvhvm-rs/bench-blk-$(date +%Y%m%d-%H%M%S)
run=yes
case ${1:-} in
  -o) out=$2 ;;
  -r) out=$2 run=no ;;
esac
mkdir -p "$out"
scen=(bench-blk-ours bench-blk-ref bench-blk-ide)
if [ $run = yes ]; then
  "$root/scripts/testbed" run -o "$out" "${scen[@]}" > "$out/testbed.log" 2>&1 || true
  grep -E '^bench-blk-[a-z]+: ' "$out/testbed.log" || true
fi
# value SCENARIO JOB: the figure the guest printed ("TB: INFO BENCH <disk> <job> <value> <unit>").
value() { sed -n "s/^TB: INFO BENCH [a-z]* $2 \([0-9]*\) .*/\1/p" "$out/$1/serial.log" 2>/dev/null | tail -n 1; }
ratio() { if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo -; fi; }
printf '%-18s %-6s %10s %10s %10s %12s %12s\n' job unit ours C-blkfront IDE ours/C ours/IDE
for job in seq-write-1m seq-read-1m write-4k-qd1 read-4k-qd1 randwrite-4k-qd16 randread-4k-qd16; do
  case $job in seq-*) unit=MiB/s ;; *) unit=IOPS ;; esac
  o=$(value bench-blk-ours $job) c=$(value bench-blk-ref $job) i=$(value bench-blk-ide $job)
  printf '%-18s %-6s %10s %10s %10s %12s %12s\n' "$job" "$unit" "${o:--}" "${c:--}" "${i:--}" \
    "$(ratio "$o" "$c")" "$(ratio "$o" "$i")"
done
echo "logs: $out"
