#!/usr/bin/env bash
# build-modules.sh [SERIES]: build the five modules for the guest kernel of SERIES (default
# $KERNEL_SERIES, i.e. 6.12) with CLIPPY=1, and print the directory holding <module>/<module>.ko.
#   The default series builds in place (the clone's own xen_platform/xen_platform.ko, ...).
#   Another series (7.3) builds a copy of the DKMS source tree (scripts/dkms-source.sh) in
#   build/linux-<series>/ of the clone, so both kernels' modules exist side by side; the test bed
#   takes them from there for NAME-<series> scenarios (demo-7.3).
# The build's output (warnings included) goes to stderr; exit status is make's.
set -euo pipefail
. "$(dirname "$0")/env.sh"
series=${1:-$KERNEL_SERIES}
kdir=$(KERNEL_SERIES=$series "$XPV_ROOT/scripts/build-kernel.sh" | tail -n 1)
if [ "$series" = "$KERNEL_SERIES_DEFAULT" ]; then
  dir=$XPV_ROOT
else
  dir=$XPV_ROOT/build/linux-$series
  "$XPV_ROOT/scripts/dkms-source.sh" "$dir.new"
  # Keep the earlier build's objects when the sources are the same (make decides what to redo).
  mkdir -p "$dir"
  rsync -a --checksum --delete --exclude '*.o' --exclude '*.ko' --exclude '*.mod' --exclude '*.mod.c' \
    --exclude '.*.cmd' --exclude '*_gen.rs' --exclude Module.symvers --exclude modules.order \
    --exclude '*.d' "$dir.new/" "$dir/"
  rm -rf "$dir.new"
fi
make -s -C "$dir" KDIR="$kdir" CLIPPY=1 modules >&2
echo "$dir"
