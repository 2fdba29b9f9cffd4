#!/usr/bin/env bash
# Print the path of Debian's linux-source-$KERNEL_SERIES tarball and, on a second line, the
# package's version.
#   KERNEL_SERIES=6.12 (default): bookworm's package, installed by scripts/setup.sh into /usr/src.
#   Any other series (e.g. 7.3): the newest linux-source-<series> of trixie-backports or, until
#   it arrives there, of experimental, fetched with apt-get download through a private apt
#   configuration under $XPV_CACHE/apt-newer (the host's sources and packages are untouched,
#   signatures checked with debian-archive-keyring), unpacked under $XPV_CACHE/kernel-src/<version>.
#   The version is KERNEL_NEWEST_PIN (scripts/env.sh) while it can be had (no network needed once
#   it is unpacked), else the newest; the package index is refreshed at most once a day.
set -euo pipefail
. "$(dirname "$0")/env.sh"

if [ "$KERNEL_SERIES" = "$KERNEL_SERIES_DEFAULT" ]; then
  # Installed by scripts/setup.sh, which scripts/build-kernel.sh runs first.
  echo "/usr/src/linux-source-$KERNEL_SERIES.tar.xz"
  dpkg-query -W -f='${Version}\n' "linux-source-$KERNEL_SERIES"
  exit 0
fi
case $KERNEL_SERIES in
  [0-9]*.[0-9]*) ;;
  *) xpv_die "KERNEL_SERIES=$KERNEL_SERIES: expected a kernel series such as 6.12 or 7.3";;
esac

apt_dir=$XPV_CACHE/apt-newer
src_dir=$XPV_CACHE/kernel-src
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$src_dir"
exec 7>"$src_dir/.lock"
flock 7
cat > "$apt_dir/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian experimental main
LIST
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
      -o Dir::State::status=/dev/null -o APT::Architectures::=amd64 -o Acquire::Languages=none
      -o APT::Sandbox::User=root -qq)
pkg=linux-source-$KERNEL_SERIES
# The version tested last (env.sh's KERNEL_NEWEST_PIN): used as long as it is unpacked here or
# still in the archive, so that runs are repeatable; the newest one otherwise.
pin=''
[ "$KERNEL_SERIES" != "$KERNEL_SERIES_NEWEST" ] || pin=${KERNEL_NEWEST_PIN:-}
if [ -n "$pin" ] && [ -f "$src_dir/$pin/.unpacked" ]; then
  echo "$src_dir/$pin/usr/src/$pkg.tar.xz"
  echo "$pin"
  exit 0
fi
stamp=$apt_dir/.updated
if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
  if apt-get "${opts[@]}" update >&2; then touch "$stamp"
  else xpv_log "apt-get update for $pkg failed: using the newest download, if any"; fi
fi
versions=$(apt-cache "${opts[@]}" show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V || true)
if [ -n "$pin" ] && grep -qxF "$pin" <<<"$versions"; then
  ver=$pin
else
  ver=$(tail -n 1 <<<"$versions")
  [ -z "$pin" ] || [ -z "$ver" ] || xpv_log "$pkg=$pin is no longer in the archive: using $ver"
fi
if [ -z "$ver" ]; then
  ver=$(find "$src_dir" -mindepth 1 -maxdepth 1 -name "$KERNEL_SERIES*" -printf '%f\n' | sort -V | tail -n 1)
  [ -n "$ver" ] || xpv_die "$pkg is in neither trixie-backports nor experimental (supported: $KERNEL_SERIES_DEFAULT and $KERNEL_SERIES_NEWEST)"
fi
out=$src_dir/$ver
tarball=$out/usr/src/$pkg.tar.xz
if [ ! -f "$out/.unpacked" ]; then
  xpv_log "fetching $pkg=$ver (about 160 MB)"
  rm -rf "$out"; mkdir -p "$out"
  (cd "$apt_dir/cache/archives" && apt-get "${opts[@]}" download "$pkg=$ver" >&2)
  deb=$(find "$apt_dir/cache/archives" -maxdepth 1 -name "${pkg}_*.deb" -newer "$src_dir/.lock" | head -n 1)
  [ -n "$deb" ] || deb=$(ls -t "$apt_dir/cache/archives/${pkg}_"*.deb | head -n 1)
  dpkg-deb -x "$deb" "$out"
  [ -f "$tarball" ] || xpv_die "$deb has no $tarball"
  rm -f "$deb"
  touch "$out/.unpacked"
fi
echo "$tarball"
echo "$ver"
