#!/usr/bin/env bash
# deb-test.sh [KDIR]: the Debian package end to end. Builds xen-pvhvm-rs-dkms_<version>_all.deb
# (scripts/build-deb.sh), checks its contents (Depends: dkms, the DKMS source, the modprobe.d
# conffile, the initramfs-tools and dracut files, the update-initramfs trigger), runs lintian
# (tags reported, only errors fail), then installs it with apt into a copy of a Debian bookworm
# chroot (scripts/deb-chroot.sh, cached) in which the guest kernel of KDIR is installed (its
# modules_install, /boot/config and vmlinuz, an initramfs made by update-initramfs, and
# /lib/modules/<kver>/build pointing at KDIR): the package's postinst (dh_dkms) must compile the
# five modules with DKMS for that kernel, the update-initramfs trigger must put them into its
# initramfs; then `apt-get remove` and `purge` must take everything away again.
# The toolchain the build needs comes from the host, bind-mounted where dkms-make.sh looks when
# PATH has only the system directories (as under apt): /usr/lib/llvm-N, /root/.cargo/bin and
# rustup's /root/.rustup, $XPV_TOOLS (bindgen); shared libraries they need that the chroot lacks are
# copied into the (throwaway) chroot. Everything runs in a private mount namespace on a temporary
# copy: the host and the cached chroot are not changed.
# Prints deb-<check>: PASS|FAIL lines; exits non-zero when one failed.
#
# For the test bed (TB_INITRD=deb): DEB_TEST_KEEP=DIR DEB_TEST_RUNNER=TREE keeps the installed
# system instead of removing the package: the test bed's runner hook (scripts/testbed.d/hook/, with
# TREE as its runner) is added to the chroot's /etc/initramfs-tools as an administrator's hook before
# the package is installed, so that the initramfs the package's trigger makes carries the runner;
# DIR gets that initramfs (initrd.img) and the installed tree as a disk image (debroot.img: msdos
# label, ext4 "tbroot" in partition 1, as scripts/testbed.d/build-rootfs.sh makes the guests').
set -uo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
fails=0
res() { if [ "$2" = 0 ]; then echo "deb-$1: PASS${3:+ ($3)}"; else echo "deb-$1: FAIL $3"; fails=$((fails + 1)); fi; }
# In the chroot, as root with a plain environment (what `sudo apt install` gives).
inch() { env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
  ${DEB_TEST_RUNNER:+TB_RUNNER_TREE=/tmp/tb-runner} chroot "$r" "$@"; }

if [ "${1:-}" = --in-ns ]; then
  # Inside the private mount namespace: W KDIR KVER VER DEB.
  w=$2 kdir=$3 kver=$4 ver=$5 deb=$6 r=$2/root
  ro() { mkdir -p "$r$2"; mount --bind "$1" "$r$2" && mount -o remount,bind,ro "$r$2"; }
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  ro "$kdir" "$kdir"
  ro "/usr/lib/llvm-$LLVM_VERSION" "/usr/lib/llvm-$LLVM_VERSION"
  ro "${RUSTUP_HOME:-$HOME/.rustup}" /root/.rustup
  ro "${CARGO_HOME:-$HOME/.cargo}" /root/.cargo
  ro "$XPV_TOOLS" /root/.cache/xen-pvhvm-rs/tools
  # Shared libraries of the host's toolchain (and of the kernel tree's host programs) that the
  # chroot does not have: copied in where the host has them.
  tc=$(rustup which rustc 2>/dev/null)
  bins=("/usr/lib/llvm-$LLVM_VERSION"/bin/* "$XPV_TOOLS/bin/bindgen" "$tc" "$(readlink -f "/usr/lib/llvm-$LLVM_VERSION/lib/libclang.so")")
  while IFS= read -r f; do bins+=("$f"); done < <(find "$kdir/scripts" "$kdir/tools/objtool" -maxdepth 2 -type f -perm -u+x 2>/dev/null)
  libs=$(for b in "${bins[@]}"; do [ -f "$b" ] && ldd "$b" 2>/dev/null; done | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p' | sort -u)
  libs+=$'\n'$(readlink -f "/usr/lib/llvm-$LLVM_VERSION/lib/libclang.so")
  n=0
  for l in $libs; do
    inch test -e "$l" && continue
    t=$(readlink -f "$l"); mkdir -p "$r$(dirname "$t")"; cp "$t" "$r$t"; n=$((n + 1))
    inch test -e "$l" || { mkdir -p "$r$(dirname "$l")"; ln -sfn "$t" "$r$l"; }
  done
  echo "$n host libraries copied into the chroot" >> "$w/chroot.log"
  inch ldconfig
  # The kernel as a kernel package would leave it: initramfs made before our package exists.
  inch update-initramfs -c -k "$kver" >> "$w/chroot.log" 2>&1
  before=$(inch lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null | grep -c 'xen_platform\.ko')
  [ -f "$r/boot/initrd.img-$kver" ] && [ "$before" = 0 ]
  res chroot-kernel $? "kernel $kver, initramfs without our modules: $([ -f "$r/boot/initrd.img-$kver" ] && echo yes || echo missing)"

  cp "$deb" "$r/tmp/"
  t0=$(date +%s)
  inch apt-get install -y --no-install-recommends "/tmp/$(basename "$deb")" > "$w/apt-install.log" 2>&1; rc=$?
  dt=$(( $(date +%s) - t0 ))
  st=$(inch dkms status -m xen-pvhvm-rs -v "$ver" -k "$kver" 2>/dev/null)
  [ $rc = 0 ] && grep -q ': installed' <<<"$st"
  res apt-install $? "$( ((rc)) && { grep -E 'E:|error|FAIL' "$w/apt-install.log" | head -n 3; \
    tail -n 5 "$r/var/lib/dkms/xen-pvhvm-rs/$ver/build/make.log" 2>/dev/null; } | tr '\n' ' ')${st:-no dkms status} in ${dt}s"
  dep=$(inch dpkg-query -W -f="\${Status}" dkms 2>/dev/null)
  [ "$dep" = "install ok installed" ]; res depends-dkms $? "dkms pulled in by apt: ${dep:-not installed}"
  kos=$(find "$r/lib/modules/$kver/updates/dkms" -name '*.ko*' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ')
  [ "$kos" = "xen_balloon.ko xen_blkfront.ko xen_netfront.ko xen_platform.ko xenbus.ko " ]
  res modules $? "updates/dkms: ${kos:-none}"
  # modprobe --show-depends in the chroot: the insmod lines, softdeps expanded (a module can be
  # named more than once; its first line is where it loads), all from updates/dkms.
  order() { inch modprobe -S "$kver" --show-depends "$1" 2>&1 | sed -n 's#^insmod \(.*\)\.ko.*#\1#p' | awk '!seen[$0]++'; }
  o=$(order xen_blkfront)
  short=$(awk -F/ '{ print $NF }' <<<"$o" | tr '\n' ' ')
  [[ $short == "xen_platform xenbus "*xen_blkfront* ]] && ! grep -qv '/updates/dkms/' <<<"$o"
  res modprobe $? "xen_blkfront: $short(all in /lib/modules/$kver/updates/dkms)"
  o=$(order e1000 | sed 's#.*/##' | tr '\n' ' ')
  [[ $o == xen_platform*e1000* ]]; res modprobe-softdeps $? "e1000: $o"
  list=$(inch lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null)
  miss=''
  for f in xen_platform.ko xenbus.ko xen_balloon.ko xen_blkfront.ko xen_netfront.ko etc/modprobe.d/xen-pvhvm-rs.conf scripts/init-top/xen-pvhvm-rs; do
    grep -q "$f" <<<"$list" || miss+=" $f"
  done
  [ -z "$miss" ]; res initramfs $? "${miss:+missing:$miss}$([ -z "$miss" ] && echo "update-initramfs trigger: our 5 modules, softdeps, init-top script in initrd.img-$kver")"
  # For the test bed: the installed system is kept (the image is made outside the namespace).
  if [ -n "${DEB_TEST_KEEP:-}" ]; then
    mkdir -p "$DEB_TEST_KEEP"; cp "$r/boot/initrd.img-$kver" "$DEB_TEST_KEEP/initrd.img"
    exit 0
  fi

  inch apt-get remove -y xen-pvhvm-rs-dkms > "$w/apt-remove.log" 2>&1; rc=$?
  left=''
  [ -z "$(find "$r/lib/modules/$kver" -name 'xen_platform.ko*' -o -name 'xen_blkfront.ko*' 2>/dev/null)" ] || left+=" modules"
  [ ! -e "$r/var/lib/dkms/xen-pvhvm-rs" ] || left+=" /var/lib/dkms/xen-pvhvm-rs"
  [ ! -e "$r/usr/src/xen-pvhvm-rs-$ver" ] || left+=" /usr/src/xen-pvhvm-rs-$ver"
  [ ! -e "$r/usr/share/initramfs-tools/hooks/xen-pvhvm-rs" ] || left+=" initramfs hook"
  ! inch lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null | grep -q 'xen_platform\.ko' || left+=" modules-in-initramfs"
  ! inch modprobe -S "$kver" --show-depends xen_platform >/dev/null 2>&1 || left+=" modprobe-finds-xen_platform"
  [ -e "$r/etc/modprobe.d/xen-pvhvm-rs.conf" ] || left+=" (conffile already gone before purge)"
  # The kept conffile's softdeps name a module that is gone: the emulated NIC's driver still loads.
  inch modprobe -S "$kver" --show-depends e1000 2>&1 | grep -q '^insmod .*/e1000\.ko' || left+=" e1000-no-longer-resolves"
  [ $rc = 0 ] && [ -z "$left" ]
  res apt-remove $? "$( ((rc)) && tail -n 3 "$w/apt-remove.log" | tr '\n' ' ')${left:+left behind:$left}$([ -z "$left" ] && echo "modules, dkms tree, source, initramfs entries gone; conffile kept until purge, e1000 still loads")"
  inch apt-get purge -y xen-pvhvm-rs-dkms > "$w/apt-purge.log" 2>&1; rc=$?
  st=$(inch dpkg-query -W -f="\${Status}" xen-pvhvm-rs-dkms 2>/dev/null)
  left=''
  [ ! -e "$r/etc/modprobe.d/xen-pvhvm-rs.conf" ] || left+=" /etc/modprobe.d/xen-pvhvm-rs.conf"
  [ -z "$st" ] || [ "$st" = "unknown ok not-installed" ] || left+=" dpkg status '$st'"
  [ $rc = 0 ] && [ -z "$left" ]
  res apt-purge $? "${left:+left behind:$left}$( ((rc)) && tail -n 3 "$w/apt-purge.log" | tr '\n' ' ')"
  exit 0
fi

kdir=${1:-$("$XPV_ROOT/scripts/build-kernel.sh" | tail -n 1)}
kver=$(cat "$kdir/include/config/kernel.release")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$XPV_ROOT/dkms.conf")
w=$(mktemp -d "${TMPDIR:-/tmp}/xpv-debtest.XXXXXX"); trap 'rm -rf "$w"' EXIT

# 1. Build.
deb=$("$XPV_ROOT/scripts/build-deb.sh" "$w/out" 2> "$w/build.log" | tail -n 1)
name=xen-pvhvm-rs-dkms_${ver}_all.deb
[ "$(basename "${deb:-none}")" = "$name" ] && [ -f "$deb" ]; ok=$?
if [ -f "$deb" ]; then d="$name, $(( $(stat -c %s "$deb") / 1024 )) KiB"; else d=$(tail -n 3 "$w/build.log" | tr '\n' ' '); fi
res build $ok "$d"
[ -f "$deb" ] || exit 1

# 2. Contents.
depends=$(dpkg-deb -f "$deb" Depends)
grep -qE '(^|, )dkms( |,|$)' <<<"$depends"; res control-depends $? "Depends: $depends"
files=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's#^\./#/#')
src=/usr/src/xen-pvhvm-rs-$ver
miss=''
for f in "$src/dkms.conf" "$src/Kbuild" "$src/scripts/dkms-make.sh" "$src/scripts/check-toolchain.sh" "$src/xen_proto/src/lib.rs" \
    "$src/xen_platform/Kbuild" "$src/xenbus/Kbuild" "$src/xen_balloon/Kbuild" "$src/xen_blkfront/Kbuild" "$src/xen_netfront/Kbuild" \
    /etc/modprobe.d/xen-pvhvm-rs.conf /usr/share/initramfs-tools/hooks/xen-pvhvm-rs \
    /usr/share/initramfs-tools/scripts/init-top/xen-pvhvm-rs /usr/lib/dracut/modules.d/90xen-pvhvm-rs/module-setup.sh; do
  grep -qxF "$f" <<<"$files" || miss+=" $f"
done
junk=$(grep -E '\.(ko|o|mod|cmd)$|_gen\.rs$|Module\.symvers' <<<"$files" | head -n 3 | tr '\n' ' ')
[ -z "$miss$junk" ]; res contents $? "${miss:+missing:$miss }${junk:+build artefacts: $junk}$([ -z "$miss$junk" ] && echo "$(grep -c "^$src/.*[^/]$" <<<"$files") files in $src, modprobe.d, initramfs-tools hook + init-top, dracut module")"
ctl=$w/control; mkdir -p "$ctl"; dpkg-deb -e "$deb" "$ctl"
grep -qxF /etc/modprobe.d/xen-pvhvm-rs.conf "$ctl/conffiles" 2>/dev/null; res conffile $? "$(tr '\n' ' ' < "$ctl/conffiles" 2>/dev/null)"
grep -q 'dkms' "$ctl/postinst" 2>/dev/null && grep -q 'dkms remove' "$ctl/prerm" 2>/dev/null && grep -qx 'activate-noawait update-initramfs' "$ctl/triggers" 2>/dev/null
res maintscripts $? "postinst dkms (dh_dkms), prerm dkms remove, trigger update-initramfs"

# 3. lintian (installed when missing); tags are reported, errors fail.
if ! command -v lintian >/dev/null; then
  apt-get install -y -qq --no-install-recommends lintian > /dev/null 2>&1
fi
if command -v lintian >/dev/null; then
  lt=$(lintian "$deb" 2>&1 | grep -E '^[EWIPX]: ')
  errs=$(grep -c '^E: ' <<<"$lt")
  d="no tags"; [ -z "$lt" ] || d=$(head -n 5 <<<"$lt" | tr '\n' ';')
  [ "$errs" = 0 ]; res lintian $? "$d"
else
  res lintian 1 "lintian not installable"
fi

# 4. apt install / remove / purge in a chroot with the guest kernel installed.
base=$("$XPV_ROOT/scripts/deb-chroot.sh" 2> "$w/chroot.log" | tail -n 1)
if [ ! -d "$base" ]; then res chroot 1 "$(tail -n 3 "$w/chroot.log" | tr '\n' ' ')"; exit 1; fi
r=$w/root
cp -a "$base" "$r"
# The kernel's files as its package would install them; build -> the kernel tree (bind-mounted).
make -s -C "$kdir" LLVM=1 INSTALL_MOD_PATH="$r" modules_install >> "$w/chroot.log" 2>&1
ln -sfn "$kdir" "$r/lib/modules/$kver/build"
cp "$kdir/.config" "$r/boot/config-$kver"
cp "$kdir/arch/x86/boot/bzImage" "$r/boot/vmlinuz-$kver"
cp "$kdir/System.map" "$r/boot/System.map-$kver"
if [ -n "${DEB_TEST_RUNNER:-}" ]; then
  mkdir -p "$r/tmp/tb-runner" "$r/etc/initramfs-tools/scripts/init-bottom" "$r/tb"
  cp -a "$DEB_TEST_RUNNER/." "$r/tmp/tb-runner/"
  install -m 0755 "$XPV_ROOT/scripts/testbed.d/hook/tb-runner.hook" "$r/etc/initramfs-tools/hooks/tb-runner"
  install -m 0755 "$XPV_ROOT/scripts/testbed.d/hook/tb-runner.init-bottom" "$r/etc/initramfs-tools/scripts/init-bottom/tb-runner"
fi
o=$(unshare -m --propagation private "$0" --in-ns "$w" "$kdir" "$kver" "$ver" "$deb" 2>> "$w/chroot.log"); echo "$o"
if [ -n "${DEB_TEST_KEEP:-}" ]; then
  # The installed system as the guest's root disk (as build-rootfs.sh makes it, no loop mount).
  rm -rf "$r/tmp/tb-runner" "$r/tmp/"*.deb
  printf 'tb-guest\n' > "$r/etc/hostname"
  printf '/dev/root / ext4 rw 0 0\n' > "$r/etc/fstab"
  mb=$(( $(du -sm "$r" | cut -f1) * 13 / 10 + 64 ))
  img=$DEB_TEST_KEEP/debroot.img
  rm -f "$img"
  if mkfs.ext4 -q -F -L tbroot -d "$r" "$w/part.img" "${mb}M" >> "$w/chroot.log" 2>&1 \
     && truncate -s "$(( mb + 1 ))M" "$img" \
     && printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$img" \
     && dd if="$w/part.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none; then
    res image 0 "$img, ${mb} MiB"
  else
    res image 1 "$(tail -n 3 "$w/chroot.log" | tr '\n' ' ')"
  fi
  ((fails == 0)) && ! grep -q ': FAIL' <<<"$o"; exit
fi
grep -q '^deb-apt-purge: ' <<<"$o" || res chroot 1 "the chroot test stopped early: $(tail -n 3 "$w/chroot.log" | tr '\n' ' ')"
# DEB_TEST_LOGS=DIR: keep the logs (build, chroot, apt install/remove/purge).
if [ -n "${DEB_TEST_LOGS:-}" ]; then mkdir -p "$DEB_TEST_LOGS"; cp "$w"/*.log "$DEB_TEST_LOGS/" 2>/dev/null; fi
((fails == 0)) && ! grep -q ': FAIL' <<<"$o"
