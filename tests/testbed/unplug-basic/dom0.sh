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
  local pci blk rp=0 rb=0
  pci=$(_qm "info pci") || rp=$?
  blk=$(_qm "info block") || rb=$?
  printf '%s\n--- info block\n%s\n' "$pci" "$blk" > "$OUT/qemu-devices-after.txt"
  if [ -n "$pci" ] && grep -q 'Bus' <<<"$pci" && ! grep -qi 'Ethernet controller' <<<"$pci"; then
    tb_dom0_pass dom0-nic-gone "no Ethernet controller in QEMU's 'info pci' any more"
  else
    tb_dom0_fail dom0-nic-gone "info pci: $(tr '\n' '|' <<<"$pci" | cut -c1-300)"
  fi
  # Only an answer of the monitor counts: both commands succeeded, 'info pci' still lists the
  # IDE controller (the unplug removes the disk, not the controller) and neither says error.
  if ((rp == 0 && rb == 0)) && grep -qi 'IDE controller' <<<"$pci" && ! grep -qi 'error' <<<"$pci$blk" \
      && ! grep -q 'ide0-hd0' <<<"$blk"; then
    tb_dom0_pass dom0-disk-gone "no IDE disk in QEMU's 'info block': $(tr '\n' '|' <<<"$blk" | cut -c1-200)"
  else
    tb_dom0_fail dom0-disk-gone "status $rp/$rb; info block: $(tr '\n' '|' <<<"$blk" | cut -c1-200); info pci: $(tr '\n' '|' <<<"$pci" | cut -c1-200)"
  fi
}
