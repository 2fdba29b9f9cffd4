#!/usr/bin/env bash
# Build (or reuse) the test bed's Dom0: a debootstrapped Debian bookworm with the Xen 4.17 toolstack,
# qemu-system-xen and Debian's 6.1 kernel (blkback, netback), as an ext4 image labelled dom0root
# (built with mkfs.ext4 -d, no loop mount), plus the boot files QEMU needs: xen (gunzipped multiboot
# ELF), vmlinuz and a small initrd.img. Cached under $XPV_CACHE/testbed/dom0/<key>, the key covering
# the package list, this script and the files baked into the image; the debootstrapped tree is cached
# on its own (keyed by the package list) so changing testbed-boot only re-makes the image (~15 s).
# Prints the directory holding dom0.img, xen, vmlinuz and initrd.img as its last stdout line.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"

pkgs=linux-image-amd64,xen-system-amd64,iperf3,xen-utils-4.17,xen-hypervisor-4.17-amd64,xenstore-utils,qemu-system-xen,iproute2,bridge-utils,busybox,kmod,procps,util-linux,e2fsprogs,iputils-ping,initramfs-tools,coreutils,mawk
boot_init=$TB_DIR/dom0/testbed-boot
tree_key=$(tb_key "dom0-tree-v1 $TB_SUITE $pkgs")
key=$(tb_key "dom0-image-v1 $tree_key" "$0" "$boot_init")
tree=$TB_CACHE/dom0-tree/$tree_key
dir=$TB_CACHE/dom0/$key

tb_lock "$TB_CACHE/dom0.lock"
if [ -f "$dir/.done" ]; then
  xpv_log "testbed Dom0: cached ($dir)"
  echo "$dir"; exit 0
fi

if [ ! -f "$tree/.done" ]; then
  xpv_log "testbed Dom0: debootstrap $TB_SUITE into $tree (about 2-3 min)"
  t0=$(date +%s)
  tb_debootstrap "$tree/root" "$pkgs"
  r=$tree/root
  # A small Dom0 initrd: only what mounting the virtio root disk needs (35 -> ~6 MB, faster boot).
  sed -i 's/^MODULES=.*/MODULES=list/' "$r/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' virtio_pci virtio_blk ext4 >> "$r/etc/initramfs-tools/modules"
  mount -t proc proc "$r/proc"
  rc=0; chroot "$r" update-initramfs -u -k all > "$tree/update-initramfs.log" 2>&1 || rc=$?
  umount "$r/proc"
  ((rc == 0)) || { tail -n 20 "$tree/update-initramfs.log" >&2; xpv_die "update-initramfs failed"; }
  # xl runs the vif/block hotplug scripts itself; keep the toolstack quiet and predictable.
  printf 'autoballoon="off"\n' >> "$r/etc/xen/xl.conf"
  touch "$tree/.done"
  xpv_log "testbed Dom0: tree ready in $(( $(date +%s) - t0 )) s"
fi

xpv_log "testbed Dom0: making image $dir"
rm -rf "$dir"; mkdir -p "$dir"
r=$tree/root
install -D -m 0755 "$boot_init" "$r/usr/local/sbin/testbed-boot"
mkdir -p "$r/payload"
kver=$(find "$r/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
xen_gz=$(find "$r/boot" -name 'xen-4.17*-amd64.gz' | sort -V | tail -n 1)
# QEMU's -kernel does multiboot only for an uncompressed ELF.
zcat "$xen_gz" > "$dir/xen"
cp "$r/boot/vmlinuz-$kver" "$dir/vmlinuz"
cp "$r/boot/initrd.img-$kver" "$dir/initrd.img"
mkfs.ext4 -q -F -L dom0root -d "$r" "$dir/dom0.img" 2G >&2
printf 'tree %s\nkernel %s\nxen %s\npackages %s\n' "$tree_key" "$kver" "$(basename "$xen_gz")" "$pkgs" > "$dir/info.txt"
touch "$dir/.done"
# Older images are never used again (their key no longer matches).
for old in "$TB_CACHE"/dom0/*/; do [ "${old%/}" = "$dir" ] || rm -rf "$old"; done
echo "$dir"
