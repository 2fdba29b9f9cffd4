#!/usr/bin/env bash
# build-deb.sh [OUTDIR]: build xen-pvhvm-rs-dkms_<version>_all.deb (default OUTDIR: the current
# directory) with Debian's tooling (debhelper, dh_dkms from dh-dkms), in a temporary build
# directory: the clone is only read. The build directory holds the DKMS source tree as
# scripts/dkms-source.sh stages it (src/), the packaging/ files and packaging/debian/ as debian/,
# with a debian/changelog written here from dkms.conf's PACKAGE_VERSION, the one place the
# version is kept. Installs debhelper, dh-dkms and dpkg-dev when missing. Prints the .deb's path last.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
need=()
for p in debhelper dh-dkms dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  xpv_log "apt-get install --no-install-recommends ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$XPV_ROOT/dkms.conf")
[ -n "$ver" ] || xpv_die "no PACKAGE_VERSION in $XPV_ROOT/dkms.conf"
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-deb.XXXXXX"); trap 'rm -rf "$w"' EXIT
b=$w/xen-pvhvm-rs-$ver
"$XPV_ROOT/scripts/dkms-source.sh" "$b/src"
mkdir -p "$b/packaging"
cp -a "$XPV_ROOT/packaging/modprobe.d" "$XPV_ROOT/packaging/initramfs-tools" "$XPV_ROOT/packaging/dracut" "$b/packaging/"
cp -a "$XPV_ROOT/packaging/debian" "$b/debian"
# Which tree the package was made from, and a date that does not change between builds of it.
rev=$(git -C "$XPV_ROOT" describe --always --dirty 2>/dev/null || echo unknown)
when=$(git -C "$XPV_ROOT" log -1 --format=%aD 2>/dev/null || date -R)
maint=$(sed -n 's/^Maintainer: //p' "$b/debian/control")
cat > "$b/debian/changelog" <<CL
xen-pvhvm-rs ($ver) bookworm; urgency=medium

  * Built from git $rev (version: dkms.conf's PACKAGE_VERSION).

 -- $maint  $when
CL
xpv_log "dpkg-buildpackage: xen-pvhvm-rs-dkms $ver (git $rev)"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -d "$when" +%s)}
( cd "$b" && dpkg-buildpackage -us -uc -b ) > "$w/build.log" 2>&1 \
  || { tail -n 30 "$w/build.log" >&2; xpv_die "dpkg-buildpackage failed"; }
deb=xen-pvhvm-rs-dkms_${ver}_all.deb
[ -f "$w/$deb" ] || { tail -n 30 "$w/build.log" >&2; xpv_die "dpkg-buildpackage made no $deb"; }
cp "$w/$deb" "$out/"
echo "$out/$deb"
