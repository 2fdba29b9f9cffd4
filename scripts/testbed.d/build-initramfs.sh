#!/usr/bin/env bash
# build-initramfs.sh OUT GUEST_SH [MODULE.ko[.xz|.zst]...]
# The guest's initramfs (gzip'd newc cpio, ~1 MB): busybox-static, the init scripts of
# scripts/testbed.d/guest/, a tiny static CPUID helper, the scenario (scenario.conf and guest.sh
# from GUEST_SH's directory) and the given modules in load order. Modules from a kernel's
# kernel tree bring their dependencies (modinfo depends) along, loaded first; compressed
# modules are decompressed here (busybox insmod loads only plain .ko files).
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../env.sh"
# shellcheck source=scripts/testbed.d/common.sh
. "$(dirname "$0")/common.sh"
(($# >= 2)) || xpv_die "usage: build-initramfs.sh OUT GUEST_SH [MODULE.ko...]"
out=$1 guest_sh=$2; shift 2
scen=$(dirname "$guest_sh")
{ [ -f "$guest_sh" ] && [ -f "$scen/scenario.conf" ]; } || xpv_die "no guest.sh/scenario.conf in $scen"
busybox=/bin/busybox
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
  || xpv_die "$busybox is not static (apt-get install busybox-static)"

# The CPUID helper, cached by the hash of its source.
src=$TB_DIR/guest/tbcpuid.c
cpuid=$TB_CACHE/tbcpuid/$(tb_key tbcpuid-v1 "$src")
if [ ! -x "$cpuid" ]; then
  mkdir -p "$(dirname "$cpuid")"
  gcc -static -nostdlib -Os -s -fno-pie -no-pie -fno-stack-protector -Wall -Wextra -o "$cpuid.tmp" "$src"
  mv "$cpuid.tmp" "$cpuid"
fi

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,newroot,tb/bin,tb/modules}
mknod -m 600 "$w/dev/console" c 5 1   # the kernel opens it for init before devtmpfs is mounted
mknod -m 666 "$w/dev/null" c 1 3
install -m 0755 "$busybox" "$w/tb/bin/busybox"
install -m 0755 "$cpuid" "$w/tb/bin/tbcpuid"
install -m 0755 "$TB_DIR/guest/init" "$w/init"
install -m 0755 "$TB_DIR/guest/run.sh" "$w/tb/run.sh"
install -m 0644 "$TB_DIR/guest/env.sh" "$TB_DIR/guest/lib.sh" "$w/tb/"
install -m 0755 "$TB_DIR/tbxfer.py" "$w/tb/tbxfer.py"   # checked transfers (python3 of the Debian root)
install -m 0644 "$scen/scenario.conf" "$w/tb/scenario.conf"
install -m 0644 "$guest_sh" "$w/tb/guest.sh"

# Modules in load order, each once (keyed by module name, '-' = '_'), each after its dependencies
# (modinfo depends): a dependency given on the command line is moved before its user, others are
# taken from the module's kernel tree (the nearest directory above it with a modules.order).
declare -A added=() given=()
for m in "$@"; do b=$(basename "$m"); b=${b%%.ko*}; given[${b//-/_}]=$m; done
idx=0
: > "$w/tb/modules.list"
add_module() {
  local ko=$1 name key tree dep d dst
  name=$(basename "$ko"); name=${name%%.ko*}; key=${name//-/_}
  [ -z "${added[$key]:-}" ] || return 0
  added[$key]=1
  # The kernel's module tree: the top of a build tree or /lib/modules/<release> (modules.builtin
  # is only there: kbuild writes a modules.order into every subdirectory, and a dependency such as
  # mii lives outside the directory of 8139cp); else, out of tree, the module's own directory.
  tree=$(dirname "$ko")
  while [ "$tree" != / ] && [ ! -f "$tree/modules.builtin" ]; do tree=$(dirname "$tree"); done
  if [ "$tree" = / ]; then
    tree=$(dirname "$ko")
    while [ "$tree" != / ] && [ ! -f "$tree/modules.order" ]; do tree=$(dirname "$tree"); done
  fi
  for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
    d=${given[${dep//-/_}]:-}
    if [ -z "$d" ] && [ "$tree" != / ]; then
      d=$(find "$tree" \( -name "$dep.ko*" -o -name "${dep//_/-}.ko*" -o -name "${dep//-/_}.ko*" \) | head -n 1)
    fi
    if [ -n "$d" ]; then add_module "$d"; else xpv_log "warning: $name: dependency $dep not found"; fi
  done
  dst=$(printf '%02d-%s.ko' "$idx" "$name"); idx=$((idx + 1))
  case $ko in
    *.ko) cp "$ko" "$w/tb/modules/$dst" ;;
    *.ko.xz) xz -dc "$ko" > "$w/tb/modules/$dst" ;;
    *.ko.zst) zstd -qdc "$ko" > "$w/tb/modules/$dst" ;;
    *.ko.gz) gzip -dc "$ko" > "$w/tb/modules/$dst" ;;
    *) xpv_die "not a kernel module: $ko" ;;
  esac
  printf '%s %s\n' "$dst" "$name" >> "$w/tb/modules.list"
}
for m in "$@"; do add_module "$m"; done

mkdir -p "$(dirname "$out")"
(cd "$w" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$out.tmp"
mv "$out.tmp" "$out"
xpv_log "initramfs $out: $(( $(stat -c %s "$out") / 1024 )) KiB, modules: $(cut -d' ' -f2 "$w/tb/modules.list" | tr '\n' ' ')"
