#!/usr/bin/env bash
# deb-chroot.sh: build (or reuse) the Debian bookworm tree into which scripts/deb-test.sh installs
# the package with apt: minbase with initramfs-tools and busybox (what a system with a kernel has:
# busybox is initramfs-tools' Recommends, so its initramfs has cp, sed, ...), apt's
# package lists, and the .debs of dkms and its dependencies already downloaded into
# /var/cache/apt/archives (not installed: the package's Depends pulls them in through apt, from
# this cache, with no network at test time). Cached under $XPV_CACHE/deb-chroot/<key> (key: suite,
# package list, this script); the test works on a copy, never on this tree. Prints its path last.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$XPV_ROOT/scripts/testbed.d/common.sh"
pkgs=initramfs-tools,busybox,kmod
pre=dkms
key=$(tb_key "deb-chroot-v1 $TB_SUITE $TB_MIRROR $pkgs $pre" "$0")
dir=$XPV_CACHE/deb-chroot/$key
tb_lock "$XPV_CACHE/deb-chroot.lock"
if [ -f "$dir/.done" ]; then
  xpv_log "deb test chroot: cached ($dir/root)"
  echo "$dir/root"; exit 0
fi
xpv_log "deb test chroot: building $dir/root (debootstrap, about 2 min)"
t0=$(date +%s)
rm -rf "$dir"; mkdir -p "$dir"
r=$dir/root
tb_debootstrap "$r" "$pkgs"
printf 'deb %s %s main\n' "$TB_MIRROR" "$TB_SUITE" > "$r/etc/apt/sources.list"
# apt-get update and the downloads, in a private mount namespace (the host's resolv.conf and
# /proc are mounted for the chroot only).
cp /etc/resolv.conf "$dir/resolv.conf"
# shellcheck disable=SC2016  # expanded by the inner shell
unshare -m --propagation private bash -euc '
  mount --bind "$2" "$1/etc/resolv.conf" 2>/dev/null || { touch "$1/etc/resolv.conf"; mount --bind "$2" "$1/etc/resolv.conf"; }
  mount -t proc proc "$1/proc"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get update -qq
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive \
    chroot "$1" apt-get install -y -qq --download-only --no-install-recommends $3
' _ "$r" "$dir/resolv.conf" "${pre//,/ }" > "$dir/apt.log" 2>&1 || { tail -n 20 "$dir/apt.log" >&2; xpv_die "apt in the deb test chroot failed"; }
rm -f "$dir/resolv.conf"
touch "$dir/.done"
for old in "$XPV_CACHE"/deb-chroot/*/; do [ "${old%/}" = "$dir" ] || rm -rf "$old"; done
xpv_log "deb test chroot: $(du -sm "$r" | cut -f1) MiB, built in $(( $(date +%s) - t0 )) s"
echo "$r"
