#!/usr/bin/env bash
# dkms-stage.sh KDIR ROOT: `dkms add`, `dkms build` and `dkms install` of this tree's dkms.conf for
# the kernel in KDIR, contained in a temporary DKMS tree (--sourcetree, --dkmstree; --installtree
# ROOT/lib/modules, --no-depmod): nothing outside ROOT changes. The five modules end up in
# ROOT/lib/modules/<kver>/updates/dkms/. Prints one line per step, `dkms-add|build|install: PASS`
# or `...: FAIL <reason>`; exits non-zero when a step failed. Used by scripts/dkms-test.sh and by
# the test bed's hook-made initramfs (scripts/testbed.d/build-hook-initramfs.sh).
set -uo pipefail
. "$(dirname "$0")/env.sh"
command -v dkms >/dev/null || xpv_die "dkms not installed (scripts/setup.sh installs it)"
kdir=${1:?usage: dkms-stage.sh KDIR ROOT} root=${2:?usage: dkms-stage.sh KDIR ROOT}
kver=$(cat "$kdir/include/config/kernel.release")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$XPV_ROOT/dkms.conf")
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-dkms-stage.XXXXXX"); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/src" "$w/dkms" "$root/lib/modules/$kver"
# DKMS's own environment: no RUSTUP_TOOLCHAIN pin, as from a kernel postinst hook.
unset RUSTUP_TOOLCHAIN
trees=(--sourcetree "$w/src" --dkmstree "$w/dkms" --installtree "$root/lib/modules" --no-depmod)
fails=0
res() { if [ "$2" = 0 ]; then echo "dkms-$1: PASS${3:+ ($3)}"; else echo "dkms-$1: FAIL $3"; fails=$((fails + 1)); fi; }

"$XPV_ROOT/scripts/dkms-source.sh" "$w/src/xen-pvhvm-rs-$ver"
o=$(dkms add -m xen-pvhvm-rs -v "$ver" "${trees[@]}" 2>&1); rc=$?
res add $rc "$(tail -n 1 <<<"$o")"
o=$(dkms build -m xen-pvhvm-rs -v "$ver" -k "$kver" --kernelsourcedir "$kdir" "${trees[@]}" 2>&1); rc=$?
log=$w/dkms/xen-pvhvm-rs/$ver/build/make.log
res build $rc "$( ((rc)) && { tail -n 3 <<<"$o"; grep -m 3 -E 'error|xen-pvhvm-rs:' "$log" 2>/dev/null; } | tr '\n' ' ')"
o=$(dkms install -m xen-pvhvm-rs -v "$ver" -k "$kver" --kernelsourcedir "$kdir" "${trees[@]}" 2>&1); rc=$?
found=$(cd "$root/lib/modules/$kver" 2>/dev/null && find . -name '*.ko*' -path '*updates/dkms*' | sort | tr '\n' ' ')
n=$(wc -w <<<"$found") want=$(grep -c '^BUILT_MODULE_NAME\[' "$XPV_ROOT/dkms.conf")
[ $rc = 0 ] && [ "$n" = "$want" ]; res install $? "${found:-$(tail -n 2 <<<"$o" | tr '\n' ' ')}"
((fails == 0))
