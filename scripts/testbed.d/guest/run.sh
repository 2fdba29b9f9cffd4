#!/tb/bin/busybox sh
# shellcheck shell=sh
# The guest's PID 1 after the initramfs' /init (in the initramfs, or on the Debian root after
# switch_root): runs the scenario's guest.sh (unless --no-script), records a non-zero exit as
# check guest-script, checks the kernel log, prints "TB: DONE" and powers the guest off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/tb/bin
if [ -s /tb/rootdev ]; then
  # On the Debian root: fresh tmpfs for /tmp and /run.
  /tb/bin/busybox mount -t tmpfs tmpfs /tmp
  /tb/bin/busybox mount -t tmpfs tmpfs /run
fi
. /tb/env.sh
cd /
if [ "${1:-}" != --no-script ]; then
  ( . /tb/guest.sh ) < /dev/null
  st=$?
  [ "$st" = 0 ] || tb_fail guest-script "exited with status $st"
fi
bad=$($TB_BB dmesg | grep -E 'Kernel panic|Oops|BUG:|WARNING:|Call Trace|general protection fault' | head -n 3)
if [ -n "$bad" ]; then
  tb_fail kernel-log "$(echo "$bad" | tr '\n' '|' | cut -c1-300)"
else
  tb_pass kernel-log "no panic, oops, BUG or WARNING in dmesg"
fi
echo "TB: DONE"
sync
# Let the last lines leave the emulated UART and reach Dom0 before the device model goes away.
sleep 2
$TB_BB poweroff -f
