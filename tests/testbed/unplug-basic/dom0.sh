# shellcheck shell=bash
# Dom0 side of unplug-basic: what qemu-xen itself has, through its monitor.
_qm() { timeout 30 xl qemu-monitor-command "$DOM" "$1" 2>&1; }
dom0_event_before() {
  local pci blk
  pci=$(_qm "info pci") blk=$(_qm "info block")
  printf '%s\n--- info block\n%s\n' "$pci" "$blk" > "$OUT/qemu-devices-before.txt"
  if grep -qi 'Ethernet controller' <<<"$pci" && grep -q 'ide0-hd0\|ide.*hd' <<<"$blk"; then
    tb_dom0_pass dom0-devices-before "QEMU has the e1000 and the IDE disk: $(grep -o 'ide[^ :]*' <<<"$blk" | head -n 1)"
  else
    tb_dom0_fail dom0-devices-before "info pci/info block: $(tr '\n' '|' <<<"$pci$blk" | cut -c1-300)"
  fi
}
dom0_event_after() {
  local pci blk
  pci=$(_qm "info pci") blk=$(_qm "info block")
  printf '%s\n--- info block\n%s\n' "$pci" "$blk" > "$OUT/qemu-devices-after.txt"
  if [ -n "$pci" ] && grep -q 'Bus' <<<"$pci" && ! grep -qi 'Ethernet controller' <<<"$pci"; then
    tb_dom0_pass dom0-nic-gone "no Ethernet controller in QEMU's 'info pci' any more"
  else
    tb_dom0_fail dom0-nic-gone "info pci: $(tr '\n' '|' <<<"$pci" | cut -c1-300)"
  fi
  if ! grep -q 'ide0-hd0' <<<"$blk"; then
    tb_dom0_pass dom0-disk-gone "no IDE disk in QEMU's 'info block': $(tr '\n' '|' <<<"$blk" | cut -c1-200)"
  else
    tb_dom0_fail dom0-disk-gone "info block still lists it: $(tr '\n' '|' <<<"$blk" | cut -c1-300)"
  fi
}
