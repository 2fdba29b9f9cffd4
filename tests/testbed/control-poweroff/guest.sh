# shellcheck shell=sh
# Guest side of control-poweroff (see scenario.conf).
l=$($TB_BB dmesg | grep -E 'xenbus: control: watching control/shutdown' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then tb_pass control-watch "$l"; else tb_fail control-watch "xenbus does not watch control/shutdown"; fi

if tb_event xl_sysrq; then
  n=0
  while [ $n -lt 20 ] && ! $TB_BB dmesg | grep -q "xenbus: control/sysrq: key 'h'"; do usleep 500000; n=$((n + 1)); done
  l=$($TB_BB dmesg | grep "xenbus: control/sysrq: key" | head -n 1 | sed 's/^\[[^]]*\] //')
  case $l in *"'h'"*) tb_pass sysrq "$l" ;; *) tb_fail sysrq "no control/sysrq line: '$l'" ;; esac
fi

# What orderly_poweroff() runs: report, check the log as run.sh would, end the test, power off.
cat > /tmp/tb-poweroff <<'SCRIPT'
#!/tb/bin/busybox sh
exec > /dev/console 2>&1
. /tb/env.sh
l=$($TB_BB dmesg | grep 'xenbus: control/shutdown: poweroff' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then
  tb_pass control-poweroff "poweroff_cmd run by orderly_poweroff after: $l"
else
  tb_fail control-poweroff "poweroff_cmd ran without xenbus' control/shutdown line"
fi
bad=$($TB_BB dmesg | grep -E 'Kernel panic|Oops|BUG:|WARNING:|Call Trace|general protection fault' | head -n 3)
if [ -n "$bad" ]; then tb_fail kernel-log "$(echo "$bad" | tr '\n' '|' | cut -c1-300)"; else tb_pass kernel-log "no panic, oops, BUG or WARNING in dmesg"; fi
echo "TB: DONE"
sync
sleep 2
$TB_BB poweroff -f
SCRIPT
chmod +x /tmp/tb-poweroff
echo /tmp/tb-poweroff > /proc/sys/kernel/poweroff_cmd
tb_info "poweroff_cmd: $(cat /proc/sys/kernel/poweroff_cmd)"
tb_event xl_shutdown
# The poweroff script ends the test; getting here means it did not run.
sleep 120
tb_fail control-poweroff "still running 120 s after xl shutdown: $($TB_BB dmesg | grep 'xenbus: control' | tr '\n' '|')"
