# shellcheck shell=bash
# Dom0 hooks of control-reboot (see scenario.conf).
dom0_event_xl_reboot() {
  if xl reboot "$DOM" > "$OUT/xl-reboot.log" 2>&1; then
    log "xl reboot: $(tr '\n' ' ' < "$OUT/xl-reboot.log")"
  else
    tb_dom0_fail control-via-xenbus "xl reboot failed: $(tail -n 2 "$OUT/xl-reboot.log" | tr '\n' ' ')"
  fi
}
dom0_after() {
  if grep -aq 'xenbus: control/shutdown: reboot' "$OUT/serial.log"; then
    tb_dom0_pass control-via-xenbus "xl reboot: $(tr '\n' ' ' < "$OUT/xl-reboot.log" 2>/dev/null); the guest's xenbus handled control/shutdown=reboot"
  else
    tb_dom0_fail control-via-xenbus "no 'xenbus: control/shutdown: reboot' in the guest's log"
  fi
}
