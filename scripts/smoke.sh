#!/usr/bin/env bash
# Smoke boot without Xen: our guest kernel under plain QEMU (TCG, no Xen platform device) with a
# busybox initramfs that loads the five modules in dependency order, shows that each one noticed
# there is no Xen and bound nothing, and unloads them again in reverse order.
#
#   scripts/smoke.sh [KDIR [MODDIR]]   KDIR: the guest kernel tree (default: scripts/build-kernel.sh's);
#                                      MODDIR: where <module>/<module>.ko are (default: the clone)
#
# Prints one "smoke-<check>: PASS" or "smoke-<check>: FAIL <reason>" line per check and exits 1 if
# any failed. The guest's serial log is kept in $XPV_CACHE/smoke/serial.log. Expects the modules to
# be built (make KDIR=...) already.
set -euo pipefail
. "$(dirname "$0")/env.sh"

MODULES=(xen_platform xenbus xen_balloon xen_blkfront xen_netfront)
kdir=${1:-$("$XPV_ROOT/scripts/build-kernel.sh" | tail -n 1)}
# The modules, as <moddir>/<module>/<module>.ko: the clone's own, or scripts/build-modules.sh's.
moddir=${2:-$XPV_ROOT}
out=$XPV_CACHE/smoke
rm -rf "$out"; mkdir -p "$out/root"/{bin,dev,proc,sys,lib/modules}
log=$out/serial.log

fails=0
pass() { echo "smoke-$1: PASS${2:+ ($2)}"; }
fail() { echo "smoke-$1: FAIL $2"; fails=$((fails + 1)); }

for m in "${MODULES[@]}"; do
  ko=$moddir/$m/$m.ko
  [ -f "$ko" ] || { fail "build-$m" "$ko not built (make KDIR=$kdir)"; continue; }
  cp "$ko" "$out/root/lib/modules/"
done
if ((fails)); then echo "smoke: modules missing, not booting"; exit 1; fi

cp /bin/busybox "$out/root/bin/busybox"
! ldd /bin/busybox >/dev/null 2>&1 \
  || xpv_die "/bin/busybox is not the static build (apt-get install busybox-static)"
# PID 1: load, report, unload, dump the kernel log between markers, power off.
cat > "$out/root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES[*]}; do
  insmod /lib/modules/\$m.ko; echo "SMOKE: insmod \$m rc=\$?"
done
echo "SMOKE: loaded \$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
for m in $(printf '%s\n' "${MODULES[@]}" | tac | tr '\n' ' '); do
  rmmod \$m; echo "SMOKE: rmmod \$m rc=\$?"
done
echo "SMOKE: left \$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
echo "SMOKE: DMESG-BEGIN"
dmesg
echo "SMOKE: DMESG-END"
echo "SMOKE: DONE"
poweroff -f
EOF
chmod 0755 "$out/root/init"
(cd "$out/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"

# No Xen here: TCG, no accelerator, no platform device, no network. loglevel=4: only errors and
# worse reach the console, where a kernel line could land in the middle of a "SMOKE:" line (seen
# once: "insmod status '0[    0.840926] xen_balloon: ...'"); the whole kernel log is read from the
# dmesg dump between the markers, and an Oops still shows on the console.
rc=0
timeout -k 5 "${SMOKE_TIMEOUT:-180}" qemu-system-x86_64 -machine pc -accel tcg -cpu max -m 512 \
  -display none -vga none -monitor none -serial "file:$log" -no-reboot -nic none \
  -kernel "$kdir/arch/x86/boot/bzImage" -initrd "$out/initrd.gz" \
  -append "console=ttyS0 panic=-1 loglevel=4" </dev/null >"$out/qemu.log" 2>&1 || rc=$?
tr -d '\r' < "$log" > "$log.txt"; mv "$log.txt" "$log"

if grep -q '^SMOKE: DONE' "$log"; then pass boot "powered off after the checks"
else fail boot "no 'SMOKE: DONE' (QEMU status $rc$([ $rc = 124 ] && echo ', timeout')); see $log"; fi
kmsg=$(sed -n '/^SMOKE: DMESG-BEGIN/,/^SMOKE: DMESG-END/p' "$log")
for m in "${MODULES[@]}"; do
  r=$(sed -n "s/^SMOKE: insmod $m rc=//p" "$log")
  if [ "$r" = 0 ]; then pass "load-$m"; else fail "load-$m" "insmod status '${r:-none}'"; fi
  # Each module must say, under its own name, that it found no Xen and binds nothing.
  line=$(grep -E "\] $m: .*(Xen not detected|not on Xen|no Xen)" <<<"$kmsg" | head -n 1 | sed 's/^\[[^]]*\] //')
  if [ -n "$line" ]; then pass "no-xen-$m" "$line"
  else fail "no-xen-$m" "no '$m: ... Xen not detected' message in the kernel log"; fi
  r=$(sed -n "s/^SMOKE: rmmod $m rc=//p" "$log")
  if [ "$r" = 0 ]; then pass "unload-$m"; else fail "unload-$m" "rmmod status '${r:-none}'"; fi
done
left=$(sed -n 's/^SMOKE: left //p' "$log" | xargs)
if grep -q '^SMOKE: left' "$log" && [ -z "$left" ]; then pass all-unloaded
else fail all-unloaded "modules still loaded: '${left:-?}'"; fi
bad=$(grep -E 'Oops|BUG:|WARNING:|Call Trace|Kernel panic|general protection|RIP:' "$log" | head -n 3 || true)
if [ -z "$bad" ] && grep -q '^SMOKE: DMESG-END' "$log"; then pass clean-log "no Oops/BUG/WARNING"
else fail clean-log "${bad:-kernel log not captured}"; fi
((fails == 0))
