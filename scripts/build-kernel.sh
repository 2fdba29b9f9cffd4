#!/usr/bin/env bash
# Build (or reuse) the guest kernel: Debian's linux-source-$KERNEL_SERIES (6.12 by default, or
# KERNEL_SERIES=7.3: scripts/kernel-source.sh), tinyconfig + kernel/guest.config, LLVM=1,
# CONFIG_RUST=y, CONFIG_XEN=n. The built tree is cached outside the clone under
# $XPV_CACHE/kernel/<key>, keyed by the kernel package version, the config fragment, rustc, bindgen
# and clang versions; a warm run only checks the stamp.
# Prints the tree's path (usable as KDIR) on stdout as its last line.
set -euo pipefail
. "$(dirname "$0")/env.sh"
base_fragment=$XPV_ROOT/kernel/guest.config
series_fragment=$XPV_ROOT/kernel/guest-$KERNEL_SERIES.config

"$XPV_ROOT/scripts/setup.sh" >&2
# One builder at a time: a second caller waits for the first and then reuses its tree.
mkdir -p "$XPV_CACHE/kernel"
exec 9>"$XPV_CACHE/kernel/.lock"
flock 9
{ read -r tarball; read -r kpkg; } < <("$XPV_ROOT/scripts/kernel-source.sh")
[ -n "$kpkg" ] && [ -f "$tarball" ] || xpv_die "no linux-source-$KERNEL_SERIES tarball"
# The fragment: kernel/guest.config, with kernel/guest-<series>.config's changes if there is one.
fragment=$(mktemp); trap 'rm -f "$fragment"' EXIT
if [ -f "$series_fragment" ]; then
  gone=$(sed -n 's/^# gone: \(CONFIG_[A-Za-z0-9_]*\)$/\1/p' "$series_fragment")
  grep -vE "^(# )?($(paste -sd'|' <<<"${gone:-CONFIG_NONE_GONE}"))[= ]" "$base_fragment" > "$fragment" || true
  grep -v '^# gone: ' "$series_fragment" >> "$fragment"
else
  cp "$base_fragment" "$fragment"
fi
key_src="linux-source-$KERNEL_SERIES=$kpkg
$(sha256sum "$fragment" | cut -d' ' -f1)
$(rustc --version)
$(bindgen --version)
$(clang --version | head -1)
build-kernel-v1"
key=$(sha256sum <<<"$key_src" | cut -c1-16)
dir=$XPV_CACHE/kernel/$key
ksrc=$dir/linux-source-$KERNEL_SERIES
if [ -f "$dir/.built" ]; then
  xpv_log "guest kernel: cached ($dir)"
  echo "$ksrc"; exit 0
fi

xpv_log "guest kernel: building into $dir (cold build, ~15 min on 2 cores)"
rm -rf "$dir"; mkdir -p "$dir"
printf '%s\n' "$key_src" > "$dir/key.txt"
tar -C "$dir" -xf "$tarball"
cd "$ksrc"
make LLVM=1 tinyconfig >/dev/null
args=()
while IFS= read -r line; do
  case $line in
    CONFIG_*=y) n=${line%%=*}; args+=(-e "${n#CONFIG_}");;
    CONFIG_*=m) n=${line%%=*}; args+=(-m "${n#CONFIG_}");;
    CONFIG_*=[0-9]*) n=${line%%=*}; args+=(--set-val "${n#CONFIG_}" "${line#*=}");;
    "# CONFIG_"*" is not set") n=${line#\# CONFIG_}; args+=(-d "${n% is not set}");;
    ""|"#"*) ;;
    *) xpv_die "kernel/guest.config or guest-$KERNEL_SERIES.config: cannot parse line: $line";;
  esac
done < "$fragment"
cp "$fragment" "$dir/guest.config"
./scripts/config --file .config "${args[@]}"
make LLVM=1 olddefconfig >/dev/null
# Every option of the fragment must have survived dependency resolution.
bad=0
while IFS= read -r line; do
  case $line in
    CONFIG_*=[ym0-9]*) grep -qx "$line" .config || { xpv_log "config: $line did not survive"; bad=1; };;
    "# CONFIG_"*" is not set") n=${line#\# }; n=${n% is not set}
      grep -q "^$n=[ym]" .config && { xpv_log "config: $n should be off"; bad=1; };;
  esac
done < "$fragment"
((bad == 0)) || xpv_die "kernel config does not match kernel/guest.config (+ guest-$KERNEL_SERIES.config)"
make LLVM=1 rustavailable >&2
start=$(date +%s)
make LLVM=1 -j"$(nproc)" bzImage modules >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log" >&2; xpv_die "kernel build failed (log: $dir/build.log)"; }
xpv_log "guest kernel built in $(( $(date +%s) - start )) s"
touch "$dir/.built"
echo "$ksrc"
