#!/usr/bin/env bash
# DKMS packaging test, contained in a temporary tree (DKMS's --sourcetree, --dkmstree and
# --installtree): `dkms add`, `dkms build` and `dkms install` of dkms.conf against the project's
# cached guest kernel tree must produce the five modules; a build with another rustc first on PATH
# must stop with our toolchain-mismatch message. Also `make install` (the non-DKMS path) into a
# staging tree, checked with modprobe --show-depends. Prints dkms-<check>: PASS|FAIL lines.
set -uo pipefail
. "$(dirname "$0")/env.sh"
command -v dkms >/dev/null || xpv_die "dkms not installed (scripts/setup.sh installs it)"
kdir=${1:-$("$XPV_ROOT/scripts/build-kernel.sh" | tail -n 1)}
kver=$(cat "$kdir/include/config/kernel.release")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$XPV_ROOT/dkms.conf")
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-dkms.XXXXXX"); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/src" "$w/dkms"
fails=0
res() { if [ "$2" = 0 ]; then echo "dkms-$1: PASS${3:+ ($3)}"; else echo "dkms-$1: FAIL $3"; fails=$((fails + 1)); fi; }

# add, build and install into the contained tree $w/root (one PASS/FAIL line each).
o=$("$XPV_ROOT/scripts/dkms-stage.sh" "$kdir" "$w/root"); echo "$o"
fails=$(grep -c ': FAIL' <<<"$o")
# DKMS's own environment: no RUSTUP_TOOLCHAIN pin, as from a kernel postinst hook.
unset RUSTUP_TOOLCHAIN
trees=(--sourcetree "$w/src" --dkmstree "$w/dkms" --installtree "$w/root/lib/modules" --no-depmod)
log=$w/dkms/xen-pvhvm-rs/$ver/build/make.log
# depmod over the installed tree must see the dependency chain of the five modules.
depmod -b "$w/root" "$kver" 2>/dev/null
dep=$(grep -E '^updates/dkms/(xenbus|xen_balloon|xen_blkfront|xen_netfront)\.ko' "$w/root/lib/modules/$kver/modules.dep" 2>/dev/null | sed 's#updates/dkms/##g; s#\.ko##g' | sort | tr '\n' ';')
[ "$dep" = "xen_balloon: xenbus xen_platform;xen_blkfront: xenbus xen_platform;xen_netfront: xenbus xen_platform;xenbus: xen_platform;" ]
res depmod $? "${dep:-no modules.dep}"
for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do
  ko=$(find "$w/root/lib/modules/$kver" -name "$m.ko*" | head -n 1)
  v=$( [ -n "$ko" ] && /sbin/modinfo -F vermagic "$ko" | cut -d' ' -f1)
  [ "$v" = "$kver" ]; res "module-$m" $? "vermagic ${v:-none}"
done

# The non-DKMS path: `make install` into a staging tree (INSTALL_MOD_PATH, DESTDIR), next to the
# guest kernel's own modules; modprobe (kmod) over that tree must load our chain in order and put
# xen_platform before every emulated-device driver it unplugs (the modprobe.d softdeps).
# It builds in a copy of the sources, so that the clone's own modules (those of the default
# kernel, which the test bed loads) stay as they are whatever KDIR is.
inst=$w/inst
"$XPV_ROOT/scripts/dkms-source.sh" "$w/tree" && cp -r "$XPV_ROOT/packaging" "$w/tree/"
if make -s -C "$w/tree" install KDIR="$kdir" INSTALL_MOD_PATH="$inst" DESTDIR="$inst" > "$w/install.log" 2>&1 \
   && make -s -C "$kdir" LLVM=1 modules_install INSTALL_MOD_PATH="$inst" >> "$w/install.log" 2>&1 \
   && depmod -b "$inst" "$kver" >> "$w/install.log" 2>&1; then
  miss=''
  for f in lib/modules/$kver/updates/xen_platform.ko lib/modules/$kver/updates/xenbus.ko \
      lib/modules/$kver/updates/xen_balloon.ko lib/modules/$kver/updates/xen_blkfront.ko lib/modules/$kver/updates/xen_netfront.ko \
      etc/modprobe.d/xen-pvhvm-rs.conf etc/initramfs-tools/hooks/xen-pvhvm-rs \
      etc/initramfs-tools/scripts/init-top/xen-pvhvm-rs usr/lib/dracut/modules.d/90xen-pvhvm-rs/module-setup.sh; do
    [ -e "$inst/$f" ] || miss+=" $f"
  done
  [ -z "$miss" ]; res make-install $? "${miss:+missing:$miss}"
  # modprobe --show-depends: the insmod lines modprobe would run, softdeps included (pre and post,
  # expanded recursively, so a module can be named more than once: its first line is where it loads).
  order() { modprobe -d "$inst" -S "$kver" -C "$inst/etc/modprobe.d" --show-depends "$1" 2>&1 \
    | sed -n 's#^insmod .*/\([^/]*\)\.ko.*#\1#p' | awk '!seen[$0]++' | tr '\n' ' '; }
  # before A B LIST: A loads before B in LIST (both present).
  before() { awk -v a="$1" -v b="$2" '{ for (i = 1; i <= NF; i++) { if ($i == a && !pa) pa = i; if ($i == b && !pb) pb = i } }
    END { exit !(pa && pb && pa < pb) }' <<<"$3"; }
  o=$(order xen_blkfront)
  before xen_platform xenbus "$o" && before xenbus xen_balloon "$o" && before xen_balloon xen_blkfront "$o"; res modprobe-chain $? "xen_blkfront: $o"
  bad='' ok=''
  for m in ata_piix e1000 8139cp 8139too; do
    o=$(order "$m")
    if before xen_platform "$m" "$o"; then ok+="$m: $o; "; else bad+=" $m: '$o'"; fi
  done
  [ -z "$bad" ]; res modprobe-softdeps $? "${bad:-xen_platform before each: $ok}"
else
  res make-install 1 "$(tail -n 2 "$w/install.log" | tr '\n' ' ')"
fi

# Another rustc first on PATH: the build must stop with our message, not with rustc's E0514.
mkdir -p "$w/bin"
printf '#!/bin/sh\necho "rustc 1.0.0 (00000000 2015-05-15)"\n' > "$w/bin/rustc"; chmod +x "$w/bin/rustc"
"$XPV_ROOT/scripts/dkms-source.sh" "$w/src/xen-pvhvm-rs-$ver"
dkms add -m xen-pvhvm-rs -v "$ver" "${trees[@]}" >/dev/null 2>&1
o=$(PATH=$w/bin:$PATH dkms build -m xen-pvhvm-rs -v "$ver" -k "$kver" --kernelsourcedir "$kdir" "${trees[@]}" 2>&1); rc=$?
msg=$(grep -h -m 1 'xen-pvhvm-rs: toolchain mismatch' "$log" <<<"$o" 2>/dev/null)
[ $rc != 0 ] && [ -n "$msg" ] && ! grep -q E0514 "$log"
res toolchain-mismatch $? "$(cut -c1-160 <<<"${msg:-build status $rc, no mismatch message}")"
((fails == 0))
