# shellcheck shell=sh
# Guest side of control-poweroff (see scenario.conf).
l=$($TB_BB dmesg | grep -E 'xenbus: control: watching control/shutdown' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then tb_pass control-watch "$l"; else tb_fail control-watch "xenbus does not watch control/shutdown"; fi

# sysrq: judged by the kernel's own sysrq output (handle_sysrq('h') prints "sysrq: HELP : ..."),
# not by xenbus' line announcing the key.
h0=$($TB_BB dmesg | grep -c 'sysrq: HELP : ')
if tb_event xl_sysrq; then
  n=0
  while [ $n -lt 20 ] && [ "$($TB_BB dmesg | grep -c 'sysrq: HELP : ')" -le "$h0" ]; do usleep 500000; n=$((n + 1)); done
  l=$($TB_BB dmesg | grep 'sysrq: HELP : ' | tail -n 1 | sed 's/^\[[^]]*\] //' | cut -c1-120)
  k=$($TB_BB dmesg | grep "xenbus: control/sysrq: key" | head -n 1 | sed 's/^\[[^]]*\] //')
  if [ "$($TB_BB dmesg | grep -c 'sysrq: HELP : ')" -gt "$h0" ]; then
    tb_pass sysrq "handle_sysrq ran: '$l' (after: $k)"
  else
    tb_fail sysrq "no 'sysrq: HELP' output from the kernel after xl sysrq h (xenbus said: '$k')"
  fi
fi

# halt: control/shutdown=halt runs orderly_poweroff as poweroff does (Linux's manage.c); here the
# poweroff_cmd only records that it ran, so the guest carries on to the poweroff test.
cat > /tmp/tb-halt <<'SCRIPT'
#!/tb/bin/busybox sh
echo ran > /tmp/tb-halt-ran
SCRIPT
chmod +x /tmp/tb-halt
echo /tmp/tb-halt > /proc/sys/kernel/poweroff_cmd
if tb_event halt; then
  tb_wait_path /tmp/tb-halt-ran 20
  l=$($TB_BB dmesg | grep 'xenbus: control/shutdown: halt' | head -n 1 | sed 's/^\[[^]]*\] //')
  if [ -e /tmp/tb-halt-ran ] && [ -n "$l" ]; then
    tb_pass control-halt "poweroff_cmd run by orderly_poweroff after: $l"
  else
    tb_fail control-halt "poweroff_cmd ran: $([ -e /tmp/tb-halt-ran ] && echo yes || echo no); xenbus: '$l'"
  fi
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
