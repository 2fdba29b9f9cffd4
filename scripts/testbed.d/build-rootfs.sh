#!/usr/bin/env bash
# Build (or reuse) the guests' Debian bookworm root disk: msdos partition table, ext4 (label tbroot)
# in partition 1, with fio, iperf3, ethtool, iproute2, iputils-ping, busybox, kmod, util-linux,
# xenstore-utils (libxenstore's tools over /dev/xen/xenbus) and linux-perf (scripts/bench-net.sh --profile).
# No loop mount: the file system is made from a directory with mkfs.ext4 -d into a partition image
# that is spliced into the disk image after an sfdisk-written partition table.
# Cached under $XPV_CACHE/testbed/rootfs/<key> (key: package list + this script); QEMU attaches it
# with snapshot=on, so guests never change the cached image. Prints the image path last.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"

pkgs=fio,iperf3,ethtool,iproute2,iputils-ping,busybox,kmod,util-linux,procps,udev,xenstore-utils,linux-perf
key=$(tb_key "rootfs-v1 $TB_SUITE $pkgs" "$0")
dir=$TB_CACHE/rootfs/$key
img=$dir/rootfs.img

tb_lock "$TB_CACHE/rootfs.lock"
if [ -f "$dir/.done" ]; then
  xpv_log "testbed guest rootfs: cached ($img)"
  echo "$img"; exit 0
fi
xpv_log "testbed guest rootfs: building $img (about 2 min)"
t0=$(date +%s)
rm -rf "$dir"; mkdir -p "$dir"
r=$dir/root
tb_debootstrap "$r" "$pkgs"
mkdir -p "$r/tb"                      # the guest's init puts its scripts here (tmpfs) before switch_root
printf 'tb-guest\n' > "$r/etc/hostname"
printf '/dev/root / ext4 rw 0 0\n' > "$r/etc/fstab"
mb=$(( $(du -sm "$r" | cut -f1) * 13 / 10 + 64 ))
mkfs.ext4 -q -F -L tbroot -d "$r" "$dir/part.img" "${mb}M" >&2
# Partition 1 from 1 MiB to the end; then the file system goes in at that offset.
truncate -s "$(( mb + 1 ))M" "$img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$img"
dd if="$dir/part.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -rf "$r" "$dir/part.img"
touch "$dir/.done"
for old in "$TB_CACHE"/rootfs/*/; do [ "${old%/}" = "$dir" ] || rm -rf "$old"; done
xpv_log "testbed guest rootfs: ${mb} MiB, built in $(( $(date +%s) - t0 )) s"
echo "$img"
