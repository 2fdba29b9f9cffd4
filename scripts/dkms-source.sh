#!/usr/bin/env bash
# dkms-source.sh DEST: stage the DKMS source tree (what dkms.conf builds) into DEST, normally
# /usr/src/xen-pvhvm-rs-<version>: sources only, no build artefacts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: dkms-source.sh DEST}
paths=(dkms.conf Kbuild Makefile scripts/env.sh scripts/dkms-make.sh scripts/check-toolchain.sh
       scripts/Kbuild.bindgen xen_proto/src xen_platform xenbus xen_balloon xen_blkfront xen_netfront)
rm -rf "$dest"; mkdir -p "$dest"
cd "$root"
find "${paths[@]}" -type f ! -name '*.o' ! -name '*.ko' ! -name '*.mod' ! -name '*.mod.c' \
  ! -name '.*.cmd' ! -name '*_gen.rs' ! -name 'Module.symvers' ! -name 'modules.order' ! -name '*.d' \
  -exec cp --parents {} "$dest/" \;
