# shellcheck shell=sh
# Guest side of control-reboot (see scenario.conf).
rm -f /sbin/reboot
cat > /sbin/reboot <<'SCRIPT'
#!/tb/bin/busybox sh
exec > /dev/console 2>&1
. /tb/env.sh
l=$($TB_BB dmesg | grep 'xenbus: control/shutdown: reboot' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then
  tb_pass control-reboot "reboot_cmd run by orderly_reboot after: $l"
else
  tb_fail control-reboot "/sbin/reboot ran without xenbus' control/shutdown line"
fi
bad=$($TB_BB dmesg | grep -E 'Kernel panic|Oops|BUG:|WARNING:|Call Trace|general protection fault' | head -n 3)
if [ -n "$bad" ]; then tb_fail kernel-log "$(echo "$bad" | tr '\n' '|' | cut -c1-300)"; else tb_pass kernel-log "no panic, oops, BUG or WARNING in dmesg"; fi
echo "TB: DONE"
sync
sleep 2
$TB_BB reboot -f
SCRIPT
chmod +x /sbin/reboot
tb_event xl_reboot
sleep 120
tb_fail control-reboot "still running 120 s after xl reboot: $($TB_BB dmesg | grep 'xenbus: control' | tr '\n' '|')"
