#!/usr/bin/env bash
# dkms-make.sh [--clean] KERNELVER KDIR: what dkms.conf's MAKE runs in DKMS's build directory.
# Puts the usual places of clang/LLVM, cargo-installed bindgen and rustup on PATH (DKMS may run
# with a minimal environment, e.g. from a kernel postinst hook), checks the toolchain against the
# kernel (scripts/check-toolchain.sh: a mismatch stops here with a clear message instead of
# rustc's E0514), then builds the five modules in one Kbuild pass (top-level Kbuild).
set -euo pipefail
clean=no
[ "${1:-}" != --clean ] || { clean=yes; shift; }
kver=${1:?usage: dkms-make.sh [--clean] KERNELVER KDIR} kdir=${2:?usage: dkms-make.sh [--clean] KERNELVER KDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
conf=$kdir/include/config/auto.conf
llvm=()
if grep -q '^CONFIG_CC_IS_CLANG=y' "$conf" 2>/dev/null; then
  llvm=(LLVM=1)
  # Debian installs versioned LLVMs under /usr/lib/llvm-N: take the kernel's major version.
  major=$(sed -n 's/^CONFIG_CLANG_VERSION=//p' "$conf"); major=$((major / 10000))
  [ ! -d "/usr/lib/llvm-$major/bin" ] || PATH=/usr/lib/llvm-$major/bin:$PATH
  [ ! -d "/usr/lib/llvm-$major/lib" ] || export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-$major/lib}
fi
# Fallbacks after the caller's PATH (whose own rustc/bindgen choice is respected, and checked).
home=${HOME:-/root}
export PATH=$PATH:$home/.cargo/bin:${XDG_CACHE_HOME:-$home/.cache}/xen-pvhvm-rs/tools/bin
if [ $clean = yes ]; then
  exec make -C "$kdir" M="$here" "${llvm[@]}" clean
fi
echo "xen-pvhvm-rs: building for kernel $kver in $kdir"
env_line=$("$here/scripts/check-toolchain.sh" "$kdir" --print-env)
eval "$env_line"
exec make -C "$kdir" M="$here" "${llvm[@]}" modules
