# shellcheck shell=bash
# Dom0 hooks of control-poweroff (see scenario.conf).
dom0_event_xl_sysrq() {
  xl sysrq "$DOM" h > "$OUT/xl-sysrq.log" 2>&1 || tb_dom0_fail sysrq "xl sysrq failed: $(tail -n 1 "$OUT/xl-sysrq.log")"
}
dom0_event_xl_shutdown() {
  if xl shutdown "$DOM" > "$OUT/xl-shutdown.log" 2>&1; then
    log "xl shutdown: $(tr '\n' ' ' < "$OUT/xl-shutdown.log")"
  else
    tb_dom0_fail control-via-xenbus "xl shutdown failed: $(tail -n 2 "$OUT/xl-shutdown.log" | tr '\n' ' ')"
  fi
}
dom0_after() {
  if grep -aq 'xenbus: control/shutdown: poweroff' "$OUT/serial.log"; then
    tb_dom0_pass control-via-xenbus "xl shutdown: $(tr '\n' ' ' < "$OUT/xl-shutdown.log" 2>/dev/null); the guest's xenbus handled control/shutdown=poweroff"
  else
    tb_dom0_fail control-via-xenbus "no 'xenbus: control/shutdown: poweroff' in the guest's log"
  fi
}
