#!/usr/bin/env bash
# Event delivery benchmark (issue 18): the block and network benchmarks of scripts/bench-blk.sh
# and scripts/bench-net.sh with 4 vCPUs and 4 queues per device (Dom0's backends told to offer
# 4), for our drivers with per-vCPU upcall vectors (the default), our drivers with the INTx
# callback forced (xen_no_vector_callback), and Linux's C drivers on Debian's kernel, all in one
# test bed run. The scenarios are made from bench-blk-ours/-ref and bench-net-ours/-c in a
# temporary scenario directory. Figures only: nothing about speed is asserted.
#   scripts/bench-events.sh [-o DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${XDG_CACHE_HOME:-$HOME/.cache}/xen-pvhvm-rs/bench-events-$(date +%Y%m%d-%H%M%S)
[ "${1:-}" != -o ] || out=$2
mkdir -p "$out"
scen=$(mktemp -d)
trap 'rm -rf "$scen"' EXIT
# mk NEW FROM [CMDLINE]: scenario NEW = FROM with 4 vCPUs, 4 backend queues, and CMDLINE added.
mk() {
  mkdir -p "$scen/$1"
  cp -L "$root/tests/testbed/$2"/* "$scen/$1/"
  # shellcheck disable=SC2016  # written literally into the scenario
  printf 'TB_VCPUS=4\nTB_CMDLINE="${TB_CMDLINE:-} %s"\n' "${3:-}" >> "$scen/$1/scenario.conf"
  if [ -f "$scen/$1/dom0.sh" ]; then
    # The original dom0_before runs after the queue settings.
    # shellcheck disable=SC2016  # written literally into the scenario
    printf '%s\n' 'eval "$(declare -f dom0_before | sed "1s/dom0_before/be_orig_before/")"' \
      'dom0_before() { tb_backend_max_queues 4 4; be_orig_before; }' >> "$scen/$1/dom0.sh"
  else
    printf '%s\n' '# shellcheck shell=bash' 'dom0_before() { tb_backend_max_queues 4 4; }' > "$scen/$1/dom0.sh"
  fi
}
mk ev-blk-vec bench-blk-ours
mk ev-blk-intx bench-blk-ours xen_no_vector_callback
mk ev-blk-c bench-blk-ref
mk ev-net-vec bench-net-ours
mk ev-net-intx bench-net-ours xen_no_vector_callback
mk ev-net-c bench-net-c
names=(ev-blk-vec ev-blk-intx ev-blk-c ev-net-vec ev-net-intx ev-net-c)
TB_SCEN_DIR=$scen "$root/scripts/testbed" run -o "$out" "${names[@]}" > "$out/testbed.log" 2>&1 || true
grep -E '^ev-[a-z-]+: ' "$out/testbed.log" || true
blk() { sed -n "s/^TB: INFO BENCH [a-z]* $2 \([0-9]*\) .*/\1/p" "$out/$1/serial.log" 2>/dev/null | tail -n 1; }
net() { grep -ah "BENCH $2 " "$out/$1/serial.log" 2>/dev/null | tail -n 1 | sed 's/.*BENCH [a-z0-9]* //' | tr -d '\r' | awk '{ print $1 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
fmt='%-18s %-7s %9s %9s %9s %10s %8s\n'
# shellcheck disable=SC2059  # one format for header and rows
printf "$fmt" job unit vectors intx C vec/intx vec/C
for j in seq-write-1m seq-read-1m write-4k-qd1 read-4k-qd1 randwrite-4k-qd16 randread-4k-qd16; do
  case $j in seq-*) u=MiB/s ;; *) u=IOPS ;; esac
  v=$(blk ev-blk-vec $j) i=$(blk ev-blk-intx $j) c=$(blk ev-blk-c $j)
  # shellcheck disable=SC2059
  printf "$fmt" "$j" "$u" "${v:--}" "${i:--}" "${c:--}" "$(ratio "$v" "$i")" "$(ratio "$v" "$c")"
done
for t in tx1 tx4 rx1 rx4; do
  v=$(net ev-net-vec $t) i=$(net ev-net-intx $t) c=$(net ev-net-c $t)
  # shellcheck disable=SC2059
  printf "$fmt" "iperf3-$t" Mbit/s "${v:--}" "${i:--}" "${c:--}" "$(ratio "$v" "$i")" "$(ratio "$v" "$c")"
done
echo "logs: $out"
