# shellcheck shell=sh
# Guest side of unplug-basic.

# _up_check CHECK REGEX: PASS with the last kernel log line matching REGEX.
_up_check() {
  _l=$($TB_BB dmesg | grep -E "$2" | tail -n 1 | sed 's/^\[[^]]*\] //')
  if [ -n "$_l" ]; then tb_pass "$1" "$_l"; else tb_fail "$1" "no line matching '$2' in the kernel log"; fi
}

# The emulated NIC: the PCI device of class 0x0200xx; its vendor id read from config space.
nic=
for p in /sys/bus/pci/devices/*; do
  case $(cat "$p/class") in 0x0200*) nic=$p; break ;; esac
done
nic_vendor() { $TB_BB od -An -tx2 -N2 "$nic/config" 2>/dev/null | tr -d ' '; }

_up_check never-honoured 'xen_platform: unplug: xen_emul_unplug 0x20000 \(given\), wrote 0x0'
if [ -n "$nic" ] && [ "$(nic_vendor)" = 8086 ]; then
  tb_pass nic-present "${nic##*/} vendor $(nic_vendor) after xen_emul_unplug=never"
else
  tb_fail nic-present "emulated NIC '${nic##*/}' vendor '$(nic_vendor)'"
fi
tb_event before

ko=/tb/modules/$(awk '$2 == "xen_platform" { print $1 }' /tb/modules.list)
if rmmod xen_platform && insmod "$ko" xen_emul_unplug=bogus; then
  tb_pass reload "insmod xen_platform xen_emul_unplug=bogus"
else
  tb_fail reload "rmmod/insmod failed"
fi
_up_check bogus-rejected 'xen_platform: xen_emul_unplug="bogus": unknown value "bogus", using the default'
_up_check default-unplug 'xen_platform: unplug: xen_emul_unplug 0x0 \(default\), wrote 0x3 \["ide-disks", "nics"\]'
v=$(nic_vendor)
if [ ! -e "$nic" ] || [ "$v" = ffff ]; then
  tb_pass nic-gone "${nic##*/}: $([ -e "$nic" ] && echo "config space reads vendor $v" || echo "removed from the PCI tree"): QEMU dropped the e1000"
else
  tb_fail nic-gone "${nic##*/}: vendor '$v' after the unplug"
fi
tb_event after
$TB_BB dmesg | grep -E 'xen_platform: ' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done
if rmmod xen_platform; then
  tb_pass rmmod "xen_platform unloaded after the unplug"
else
  tb_fail rmmod "rmmod xen_platform failed"
fi
