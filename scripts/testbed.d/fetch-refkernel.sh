#!/usr/bin/env bash
# Fetch (or reuse) the reference guest kernel: Debian's stock 6.12 cloud kernel from
# bookworm-backports (linux-image-6.12.*-cloud-amd64-unsigned), which has Linux's own C Xen
# drivers (xen-blkfront, xen-netfront as modules). apt-get download + dpkg-deb -x, never installed.
# Cached under $XPV_CACHE/testbed/refkernel/<package>_<version>. Prints a directory holding
# vmlinuz and lib/modules/<kver>/... as its last stdout line.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"

# The newest 6.12 cloud kernel apt can install (a candidate version exists), e.g. from backports.
pick() {
  local p best='' bestv='' v
  for p in $(apt-cache pkgnames linux-image-6.12. | grep -E '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$'); do
    v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
    if [ -z "$v" ] || [ "$v" = "(none)" ]; then continue; fi
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then best=$p bestv=$v; fi
  done
  [ -n "$best" ] && echo "$best $bestv"
}
if ! sel=$(pick); then
  apt-get update -qq >&2 || true
  sel=$(pick) || xpv_die "no linux-image-6.12.*-cloud-amd64-unsigned package (is bookworm-backports in the apt sources? scripts/setup.sh adds it)"
fi
read -r pkg ver <<<"$sel"
dir=$TB_CACHE/refkernel/${pkg}_${ver//[^A-Za-z0-9.+~-]/_}

tb_lock "$TB_CACHE/refkernel.lock"
if [ -f "$dir/.done" ]; then
  xpv_log "reference kernel: cached ($dir)"
  echo "$dir"; exit 0
fi
xpv_log "reference kernel: fetching $pkg $ver"
rm -rf "$dir"; mkdir -p "$dir/deb"
(cd "$dir/deb" && timeout 600 apt-get download "$pkg=$ver" >&2)
dpkg-deb -x "$dir"/deb/*.deb "$dir/x"
kver=$(find "$dir/x/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)
mkdir -p "$dir/lib/modules"
mv "$dir/x/lib/modules/$kver" "$dir/lib/modules/"
mv "$dir/x/boot/vmlinuz-$kver" "$dir/vmlinuz"
mv "$dir/x/boot/config-$kver" "$dir/config"
rm -rf "$dir/x" "$dir/deb"
printf '%s %s %s\n' "$pkg" "$ver" "$kver" > "$dir/info.txt"
touch "$dir/.done"
echo "$dir"
