#!/usr/bin/env bash
# build-hook-initramfs.sh OUT KDIR TB_INITRD [MODULE...]
# A guest initramfs made the way a user's system makes it: our four modules installed by DKMS
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
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"
tool=initramfs-tools
[ "${1:-}" != --dracut ] || { tool=dracut; shift; }
(($# >= 3)) || xpv_die "usage: build-hook-initramfs.sh [--dracut] OUT KDIR TB_INITRD [MODULE...]"
out=$1 kdir=$2 tb_initrd=$3; shift 3
case $tool in
  initramfs-tools) command -v mkinitramfs >/dev/null || xpv_die "mkinitramfs missing (scripts/setup.sh installs initramfs-tools-core)" ;;
  dracut) command -v dracut >/dev/null || xpv_die "dracut missing (scripts/setup.sh installs dracut-core)" ;;
esac
kver=$(cat "$kdir/include/config/kernel.release")
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-hookrd.XXXXXX")
trap 'rm -rf "$w"' EXIT
root=$w/root

# 1. Our modules through DKMS, the kernel's own through modules_install, then depmod.
o=$("$XPV_ROOT/scripts/dkms-stage.sh" "$kdir" "$root") || xpv_die "DKMS staging failed: $(grep FAIL <<<"$o" | tr '\n' ' ')"
( cd "$kdir" && make LLVM=1 INSTALL_MOD_PATH="$root" modules_install >/dev/null )
depmod -b "$root" "$kver"
for m in xen_platform xenbus xen_blkfront xen_netfront; do
  [ -n "$(find "$root/lib/modules/$kver/updates/dkms" -name "$m.ko*")" ] || xpv_die "DKMS did not install $m"
done

# 2. Configuration: our packaging files plus the test bed's runner hook.
c=$w/conf
mkdir -p "$c/hooks" "$c/scripts/init-top" "$c/scripts/init-bottom" "$c/conf.d" "$w/modprobe.d" "$w/tb"
install -m 0644 "$XPV_ROOT/packaging/modprobe.d/xen-pvhvm-rs.conf" "$w/modprobe.d/"
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
  cp -a "$XPV_ROOT/packaging/dracut/90xen-pvhvm-rs" "$w/modules.d/"
  mkdir -p "$w/modules.d/99tb-runner"
  install -m 0755 "$TB_DIR/hook/dracut-module-setup.sh" "$w/modules.d/99tb-runner/module-setup.sh"
  install -m 0755 "$TB_DIR/hook/tb-runner.pre-pivot" "$w/modules.d/99tb-runner/tb-runner.sh"
  mkdir -p "$c/dracut.conf.d"
  # shellcheck disable=SC2016  # expanded by the inner shell
  build='mount --bind "$7" /usr/lib/dracut/modules.d
    dracut -q --force --no-hostonly --no-hostonly-cmdline --no-early-microcode --compress gzip \
      --conf /dev/null --confdir "$3/dracut.conf.d" --kver "$5" \
      --modules "base rootfs-block kernel-modules udev-rules xen-pvhvm-rs tb-runner" \
      --add-drivers "$8" "$4.tmp"'
fi

# 3. The tool, against the staged tree (private mount namespace). mkinitramfs reads the kernel's
# config (compression support) from /boot/config-<kver>.
mkdir -p /lib/modules /boot
TB_RUNNER_TREE=$w/tb/tb unshare -m bash -euc '
  mount --bind "$1/lib/modules" /lib/modules
  mount -t tmpfs tmpfs /etc/modprobe.d
  cp "$2"/* /etc/modprobe.d/
  mount -t tmpfs tmpfs /boot
  cp "$6/.config" "/boot/config-$5"
  '"$build" _ "$root" "$w/modprobe.d" "$c" "$out" "$kver" "$kdir" "$w/modules.d" "$*" 2> "$w/build.log" \
  || { cat "$w/build.log" >&2; xpv_die "$tool failed"; }
mv "$out.tmp" "$out"
# What the hook put in (for the log): our modules and the softdeps must be there.
list=$(lsinitramfs "$out" 2>/dev/null)
list=${list:-$(lsinitrd "$out" 2>/dev/null)}
our=scripts/init-top/xen-pvhvm-rs
[ $tool = initramfs-tools ] || our=xen-pvhvm-rs-load.sh
for f in xen_platform.ko xenbus.ko xen_blkfront.ko xen_netfront.ko etc/modprobe.d/xen-pvhvm-rs.conf $our tb/run.sh; do
  grep -q "$f" <<<"$list" || xpv_die "hook-made initramfs lacks $f"
done
xpv_log "hook-made initramfs $out: $(( $(stat -c %s "$out") / 1024 )) KiB ($tool, kernel $kver, modules: $(grep -o '[a-z0-9_]*\.ko' <<<"$list" | sort -u | tr '\n' ' '))"
