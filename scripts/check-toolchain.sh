#!/usr/bin/env bash
# check-toolchain.sh KDIR: can our Rust modules be built against the kernel tree KDIR with the
# rustc and bindgen on PATH? Out-of-tree Rust modules must be compiled by the very rustc the
# kernel was built with (else rustc fails with E0514/E0461 "found crate `kernel` compiled by an
# incompatible version of rustc") and bindgen output must match the kernel's. This says so in
# plain words instead.
#
# When RUSTUP_TOOLCHAIN is unset and rustup has a toolchain named after the kernel's rustc version
# (e.g. 1.95.0), it is selected: with --print-env the script prints `export RUSTUP_TOOLCHAIN=...`
# for the caller to eval. Exit status 0 if all matches, 1 with a message on stderr otherwise.
set -euo pipefail
kdir=${1:?usage: check-toolchain.sh KDIR [--print-env]}
print_env=${2:-}
conf=$kdir/include/config/auto.conf
err() { echo "xen-pvhvm-rs: $*" >&2; exit 1; }
[ -f "$conf" ] || err "$kdir is not a configured kernel build tree (no include/config/auto.conf): install the kernel headers or pass KDIR=..."
val() { sed -n "s/^$1=//p" "$conf" | sed 's/^"\(.*\)"$/\1/'; }
[ "$(val CONFIG_RUST)" = y ] || err "kernel $(cat "$kdir/include/config/kernel.release" 2>/dev/null) has no Rust support (CONFIG_RUST is not set): these modules need a kernel built with CONFIG_RUST=y"
if [ "$(val CONFIG_XEN_PVHVM)" = y ]; then
  err "kernel $(cat "$kdir/include/config/kernel.release" 2>/dev/null) already has Xen PV-on-HVM support built in (CONFIG_XEN_PVHVM=y): use its own drivers (xen-blkfront, xen-netfront); these modules are for kernels without it"
fi
# The kernels we build and test against (scripts/env.sh); others get a warning, and the build is
# tried: the Rust and C APIs our modules use change from release to release.
krel=$(cat "$kdir/include/config/kernel.release" 2>/dev/null || echo unknown)
supported="${KERNEL_SERIES_DEFAULT:-6.12} ${KERNEL_SERIES_NEWEST:-7.3}"
kser=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$krel")
if [[ " $supported " != *" $kser "* ]]; then
  echo "xen-pvhvm-rs: warning: kernel $krel is not one this release is built and tested against (Linux ${supported// / and }); trying anyway: if the build fails on the kernel's Rust or C API, use a supported kernel or report the error with the kernel version" >&2
fi
want_rustc=$(val CONFIG_RUSTC_VERSION_TEXT)
want_bindgen=$(val CONFIG_BINDGEN_VERSION_TEXT)

# Pick the matching rustup toolchain when the caller did not choose one.
if [ -z "${RUSTUP_TOOLCHAIN:-}" ] && command -v rustup >/dev/null 2>&1; then
  ver=$(awk '{print $2}' <<<"$want_rustc")
  if [ -n "$ver" ] && [ "$(rustup run "$ver" rustc --version 2>/dev/null)" = "$want_rustc" ]; then
    export RUSTUP_TOOLCHAIN=$ver
  fi
fi
have_rustc=$(rustc --version 2>/dev/null || echo "no rustc on PATH")
if [ "$have_rustc" != "$want_rustc" ]; then
  ver=$(awk '{print $2}' <<<"$want_rustc")
  err "toolchain mismatch: the kernel in $kdir was built with '$want_rustc' but the rustc on PATH is '$have_rustc'${RUSTUP_TOOLCHAIN:+ (RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN)}. Out-of-tree Rust modules must use the kernel's rustc: run 'rustup toolchain install $ver --component rust-src' (and unset RUSTUP_TOOLCHAIN or set it to $ver), or put that rustc first on PATH."
fi
if [ -n "$want_bindgen" ]; then
  have_bindgen=$(bindgen --version 2>/dev/null || echo "no bindgen on PATH")
  if [ "$have_bindgen" != "$want_bindgen" ]; then
    err "toolchain mismatch: the kernel in $kdir was built with '$want_bindgen' but the bindgen on PATH is '$have_bindgen': install it with 'cargo install --locked bindgen-cli --version ${want_bindgen#bindgen }' and put it first on PATH."
  fi
fi
[ "$print_env" != --print-env ] || { [ -z "${RUSTUP_TOOLCHAIN:-}" ] || echo "export RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN"; }
exit 0
