# shellcheck shell=bash
# Dom0 side of unplug-nics: QEMU was started with an rtl8139 and no longer has it.
dom0_event_nic_gone() {
  local args pci rc=0
  # The device model of this domain (its command name is cut to 15 characters: match the args).
  args=$(ps -eo args= | grep -- "-xen-domid $DOMID " | grep -v grep | head -n 1)
  pci=$(timeout 30 xl qemu-monitor-command "$DOM" "info pci" 2>&1) || rc=$?
  printf '%s\n--- info pci\n%s\n' "$args" "$pci" > "$OUT/qemu-after.txt"
  if [[ $args == *rtl8139* ]] && ((rc == 0)) && grep -q 'Bus' <<<"$pci" && ! grep -qi 'Ethernet controller' <<<"$pci"; then
    tb_dom0_pass dom0-nic-gone "QEMU started with an rtl8139; no Ethernet controller in its 'info pci' now"
  else
    tb_dom0_fail dom0-nic-gone "rtl8139 in QEMU's args: $([[ $args == *rtl8139* ]] && echo yes || echo no); info pci (status $rc): $(tr '\n' '|' <<<"$pci" | cut -c1-250)"
  fi
}
