#!/usr/bin/env bash
# The main job, for a new user on a fresh machine: install the toolchain, build (or reuse) the
# guest kernel, build our five modules against it, boot real Xen 4.17 + Dom0 under QEMU and run the
# `demo` scenario there (tests/testbed/demo): an HVM guest loads our modules and shows what it sees
# (Xen detected, the devices and the drivers behind them, disk data verified from Dom0, ping to Dom0).
# Ends with the scenario's "demo: PASS" or "demo: FAIL <reason>" and the runner's summary.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$XPV_ROOT"
scripts/setup.sh
kdir=$(scripts/build-kernel.sh | tail -n 1)
xpv_log "building the modules against $kdir"
make -s KDIR="$kdir" modules
for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do
  printf '  %-13s %s, depends: %s\n' "$m.ko" "$(/sbin/modinfo -F description "$m/$m.ko")" \
    "$(/sbin/modinfo -F depends "$m/$m.ko")"
done
exec scripts/testbed run demo
