#!/usr/bin/env bash
# Install everything a fresh Debian 12 machine needs to build the guest kernel, the modules and
# run the tests: Debian packages (LLVM, kernel build deps, QEMU from bookworm-backports, debootstrap),
# the pinned Rust toolchain with rust-src, and bindgen-cli from crates.io.
# Idempotent: a second run only checks and returns in seconds.
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p "$XPV_CACHE"
exec 8>"$XPV_CACHE/.setup.lock"
flock 8

need_apt=()
pkgs=(linux-source-$KERNEL_SERIES_DEFAULT clang-$LLVM_VERSION lld-$LLVM_VERSION llvm-$LLVM_VERSION
      libclang-$LLVM_VERSION-dev flex bison bc libelf-dev libssl-dev cpio kmod pahole make gcc
      busybox-static debootstrap e2fsprogs xz-utils zstd perl fdisk libxen-dev rsync)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null; then qemu_ok=1; fi
if ((${#need_apt[@]})) || ((!qemu_ok)); then
  export DEBIAN_FRONTEND=noninteractive
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    xpv_log "adding bookworm-backports (qemu-system-x86 10.x matches the preinstalled qemu-utils)"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' \
      > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  xpv_log "apt-get install ${need_apt[*]} ${qemu_ok:+}"
  apt-get update -qq
  if ((${#need_apt[@]})); then apt-get install -y -qq "${need_apt[@]}" >/dev/null; fi
  if ((!qemu_ok)); then apt-get install -y -qq -t bookworm-backports qemu-system-x86 >/dev/null; fi
fi

# Without Recommends (dkms's would pull in the host's kernel headers): dkms for the packaging test,
# initramfs-tools-core (mkinitramfs, with udev and klibc-utils) and dracut-core for the test bed's
# hook-made initramfs images.
norec=()
for p in dkms initramfs-tools-core dracut-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || norec+=("$p")
done
if ((${#norec[@]})); then
  xpv_log "apt-get install --no-install-recommends ${norec[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${norec[@]}" >/dev/null
fi

command -v rustup >/dev/null || xpv_die "rustup not found: install rustup first (https://rustup.rs)"
if ! rustup run "$RUSTUP_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  xpv_log "rustup toolchain install $RUSTUP_TOOLCHAIN"
  rustup toolchain install "$RUSTUP_TOOLCHAIN" --profile minimal
fi
comps=$(rustup component list --installed --toolchain "$RUSTUP_TOOLCHAIN")
for c in rust-src rustfmt clippy; do
  grep -q "^$c" <<<"$comps" || rustup component add --toolchain "$RUSTUP_TOOLCHAIN" "$c"
done

if ! bindgen --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
  xpv_log "cargo install bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
  mkdir -p "$XPV_TOOLS"
  cargo install --locked --root "$XPV_TOOLS" --version "$BINDGEN_VERSION" bindgen-cli
fi
xpv_log "toolchain: $(rustc --version), $(bindgen --version), $(clang --version | head -1)"
