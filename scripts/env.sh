# shellcheck shell=bash
# Common environment for every project script: toolchain pins, PATH, cache location.
# Sourced, never executed. Values can be overridden from the environment.

# Rust toolchain the guest kernel is built with; out-of-tree Rust modules must use the
# very same rustc (else E0514/E0461). Keep in sync with rust-toolchain.toml.
export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-1.95.0}
# bindgen-cli from crates.io (Debian's 0.60 is older than the kernel's minimum).
BINDGEN_VERSION=${BINDGEN_VERSION:-0.73.2}
# LLVM matching rustc 1.95's LLVM 22.
LLVM_VERSION=${LLVM_VERSION:-22}
# Debian's linux-source package for the guest kernel: 6.12 LTS (bookworm, the default) or the
# newest series (trixie-backports or experimental, scripts/kernel-source.sh).
KERNEL_SERIES_DEFAULT=6.12
KERNEL_SERIES_NEWEST=7.3
# The linux-source-7.3 package version tested last (taken while the archive has it).
KERNEL_NEWEST_PIN=${KERNEL_NEWEST_PIN:-7.3.4-1~bpo13+1}
KERNEL_SERIES=${KERNEL_SERIES:-$KERNEL_SERIES_DEFAULT}

XPV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Heavy artefacts (kernel tree, Dom0 image, tools) live outside the clone.
XPV_CACHE=${XPV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-pvhvm-rs}
XPV_TOOLS=$XPV_CACHE/tools

export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
export PATH=$XPV_TOOLS/bin:/usr/lib/llvm-$LLVM_VERSION/bin:$HOME/.cargo/bin:$PATH

xpv_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
xpv_die() { printf 'error: %s\n' "$*" >&2; exit 1; }
