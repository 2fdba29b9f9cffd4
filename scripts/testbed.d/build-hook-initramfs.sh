#!/usr/bin/env bash
# build-hook-initramfs.sh [--dracut|--udev] OUT KDIR|REFDIR TB_INITRD [MODULE...]
# A guest initramfs made the way a user's system makes it: our five modules installed by DKMS
# (scripts/dkms-stage.sh, contained) next to the guest kernel's own modules (modules_install of
# KDIR), then initramfs-tools' mkinitramfs with OUR packaging/ hook, init-top script and modprobe.d
# softdeps, run against that module tree. MODULE... (e.g. ata_piix e1000: drivers of the emulated
# devices) are listed in initramfs-tools' `modules` file, as a distribution's initramfs has them,
# so the image proves the unplug happens before they bind.
# The test bed's runner (scripts/testbed.d/guest/: run.sh, lib.sh, the scenario) rides along through
# a test-bed-only hook (scripts/testbed.d/hook/): it is copied from TB_INITRD (the busybox image of
# build-initramfs.sh) into the image and, from init-bottom, onto a tmpfs at <root>/tb, so that the
# kernel command line `root=/dev/xvda1 rw init=/tb/run.sh` runs the scenario on the real root.
# mkinitramfs runs in a private mount namespace in which /lib/modules and /etc/modprobe.d are the
# staged ones: the host's own files are neither read nor changed.
# --udev: the distribution's way without any of our packaging: dracut with systemd-udevd and no
# xen-pvhvm-rs dracut module and no modprobe.d file at all; MODULE... are only put in the image
# (--add-drivers), so udev's coldplug loads whatever it loads by modalias alone. The second
# argument may also be the reference kernel (REFDIR of fetch-refkernel.sh: its module tree, with
# Linux's own Xen drivers and no module of ours).
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"
tool=initramfs-tools
case ${1:-} in
  --dracut) tool=dracut; shift ;;
  --udev) tool=udev; shift ;;
esac
(($# >= 3)) || xpv_die "usage: build-hook-initramfs.sh [--dracut|--udev] OUT KDIR|REFDIR TB_INITRD [MODULE...]"
out=$1 kdir=$2 tb_initrd=$3; shift 3
case $tool in
  initramfs-tools) command -v mkinitramfs >/dev/null || xpv_die "mkinitramfs missing (scripts/setup.sh installs initramfs-tools-core)" ;;
  *) command -v dracut >/dev/null || xpv_die "dracut missing (scripts/setup.sh installs dracut-core)" ;;
esac
ref=no
if [ -f "$kdir/info.txt" ]; then
  [ $tool = udev ] || xpv_die "the reference kernel ($kdir) only goes with --udev"
  ref=yes kver=$(awk '{ print $3 }' "$kdir/info.txt") kconfig=$kdir/config
else
  kver=$(cat "$kdir/include/config/kernel.release") kconfig=$kdir/.config
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-hookrd.XXXXXX")
trap 'rm -rf "$w"' EXIT
root=$w/root

# 1. Our modules through DKMS, the kernel's own through modules_install, then depmod (the
# reference kernel: its package's module tree, depmod as its postinst does).
if [ $ref = yes ]; then
  mkdir -p "$root/lib/modules"
  cp -a "$kdir/lib/modules/$kver" "$root/lib/modules/"
  depmod -b "$root" "$kver"
else
  o=$("$XPV_ROOT/scripts/dkms-stage.sh" "$kdir" "$root") || xpv_die "DKMS staging failed: $(grep FAIL <<<"$o" | tr '\n' ' ')"
  ( cd "$kdir" && make LLVM=1 INSTALL_MOD_PATH="$root" modules_install >/dev/null )
  depmod -b "$root" "$kver"
  for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do
    [ -n "$(find "$root/lib/modules/$kver/updates/dkms" -name "$m.ko*")" ] || xpv_die "DKMS did not install $m"
  done
fi

# 2. Configuration: our packaging files plus the test bed's runner hook (--udev: no modprobe.d
# file, no packaging of ours).
c=$w/conf
mkdir -p "$c/hooks" "$c/scripts/init-top" "$c/scripts/init-bottom" "$c/conf.d" "$w/modprobe.d" "$w/tb"
[ $tool = udev ] || install -m 0644 "$XPV_ROOT/packaging/modprobe.d/xen-pvhvm-rs.conf" "$w/modprobe.d/"
( cd "$w/tb" && gzip -dc "$tb_initrd" | cpio -id --quiet )
[ -x "$w/tb/tb/run.sh" ] || xpv_die "$tb_initrd has no /tb/run.sh"
if [ $tool = initramfs-tools ]; then
  cat > "$c/initramfs.conf" <<CONF
MODULES=list
BUSYBOX=auto
KEYMAP=n
COMPRESS=gzip
COMPRESSLEVEL=6
DEVICE=
NFSROOT=auto
RUNSIZE=10%
FSTYPE=ext4
CONF
  printf '%s\n' "$@" > "$c/modules"
  install -m 0755 "$XPV_ROOT/packaging/initramfs-tools/hooks/xen-pvhvm-rs" "$c/hooks/"
  install -m 0755 "$XPV_ROOT/packaging/initramfs-tools/scripts/init-top/xen-pvhvm-rs" "$c/scripts/init-top/"
  install -m 0755 "$TB_DIR/hook/tb-runner.hook" "$c/hooks/tb-runner"
  install -m 0755 "$TB_DIR/hook/tb-runner.init-bottom" "$c/scripts/init-bottom/tb-runner"
  # shellcheck disable=SC2016  # expanded by the inner shell
  build='mkinitramfs -d "$3" -o "$4.tmp" "$5"'
else
  # dracut's module directory as shipped plus ours (packaging/) and the test bed's runner module.
  cp -a /usr/lib/dracut/modules.d "$w/modules.d"
  ours=xen-pvhvm-rs
  if [ $tool = udev ]; then ours=; else cp -a "$XPV_ROOT/packaging/dracut/90xen-pvhvm-rs" "$w/modules.d/"; fi
  mkdir -p "$w/modules.d/99tb-runner"
  install -m 0755 "$TB_DIR/hook/dracut-module-setup.sh" "$w/modules.d/99tb-runner/module-setup.sh"
  install -m 0755 "$TB_DIR/hook/tb-runner.pre-pivot" "$w/modules.d/99tb-runner/tb-runner.sh"
  mkdir -p "$c/dracut.conf.d"
  # shellcheck disable=SC2016  # expanded by the inner shell
  build='mount --bind "$7" /usr/lib/dracut/modules.d
    dracut -q --force --no-hostonly --no-hostonly-cmdline --no-early-microcode --compress gzip \
      --conf /dev/null --confdir "$3/dracut.conf.d" --kver "$5" \
      --modules "base rootfs-block kernel-modules udev-rules $9 tb-runner" \
      --add-drivers "$8" "$4.tmp"'
  # A distribution's udev names interfaces by systemd's default link policy (net_id: `enX0` for
  # a Xen vif whose parent is vif-0 on the xen bus), as the systemd dracut module's image has it.
  # With no softdeps file nothing orders xen_platform before the emulated devices' drivers, and
  # udev's coldplug loads them side by side: an IDE disk that ata_piix bound first is not
  # unplugged (xen_platform says so). The --udev image leaves them out, so that the same device
  # is never seen twice (the packaging's softdeps are what make a user's image safe).
  if [ $tool = udev ]; then
    echo 'install_items+=" /usr/lib/systemd/network/99-default.link "' > "$c/dracut.conf.d/udev-names.conf"
    echo 'omit_drivers+=" ata_piix ata_generic pata_acpi e1000 8139cp 8139too "' >> "$c/dracut.conf.d/udev-names.conf"
  fi
fi

# 3. The tool, against the staged tree (private mount namespace). mkinitramfs reads the kernel's
# config (compression support) from /boot/config-<kver>.
mkdir -p /lib/modules /boot
TB_RUNNER_TREE=$w/tb/tb unshare -m bash -euc '
  mount --bind "$1/lib/modules" /lib/modules
  mount -t tmpfs tmpfs /etc/modprobe.d
  cp "$2"/. /etc/modprobe.d/ -a
  mount -t tmpfs tmpfs /boot
  cp "$6" "/boot/config-$5"
  '"$build" _ "$root" "$w/modprobe.d" "$c" "$out" "$kver" "$kconfig" "$w/modules.d" "$*" "${ours:-}" 2> "$w/build.log" \
  || { cat "$w/build.log" >&2; xpv_die "$tool failed"; }
mv "$out.tmp" "$out"
# What the hook put in (for the log): our modules and the softdeps must be there.
list=$(lsinitramfs "$out" 2>/dev/null)
list=${list:-$(lsinitrd "$out" 2>/dev/null)}
case $tool in
  initramfs-tools) need="xen_platform.ko xenbus.ko xen_balloon.ko xen_blkfront.ko xen_netfront.ko etc/modprobe.d/xen-pvhvm-rs.conf scripts/init-top/xen-pvhvm-rs" ;;
  dracut) need="xen_platform.ko xenbus.ko xen_balloon.ko xen_blkfront.ko xen_netfront.ko etc/modprobe.d/xen-pvhvm-rs.conf xen-pvhvm-rs-load.sh" ;;
  udev) need="systemd-udevd modules.alias"
    for f in xen-pvhvm-rs etc/modprobe.d/.; do
      ! grep -q "$f" <<<"$list" || xpv_die "the --udev image has $f: $(grep "$f" <<<"$list" | head -n 3 | tr '\n' ' ')"
    done
    # What udev matches against: the modaliases depmod found in the modules of the image (or,
    # for xenbus, the softdep of the module that udev loads before it).
    for m in "$@"; do
      grep -q "/$m.ko" <<<"$list" || xpv_die "the --udev image lacks $m"
      grep -q " ${m//-/_}\$" "$root/lib/modules/$kver/modules.alias" \
        || grep -q "post:.* ${m//-/_}\b" "$root/lib/modules/$kver/modules.softdep" \
        || xpv_die "$m has no modalias (modules.alias) and is no softdep of one that has (modules.softdep)"
    done ;;
esac
for f in $need tb/run.sh; do
  grep -q "$f" <<<"$list" || xpv_die "hook-made initramfs lacks $f"
done
xpv_log "hook-made initramfs $out: $(( $(stat -c %s "$out") / 1024 )) KiB ($tool, kernel $kver, modules: $(grep -o '[a-z0-9_]*\.ko' <<<"$list" | sort -u | tr '\n' ' '))"
