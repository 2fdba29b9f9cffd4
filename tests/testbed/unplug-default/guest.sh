# shellcheck shell=sh
# Guest side of unplug-default, and of unplug-all (same checks; its guest.sh links here): without
# xen_emul_unplug= the default applies (check default-unplug), with xen_emul_unplug=all the three
# bits of XEN_UNPLUG_ALL are given (check all-unplug); either way IDE disks and NICs must go.
_ud_line() { $TB_BB dmesg | grep -E "$1" | tail -n 1 | sed 's/^\[[^]]*\] //'; }
case " $(cat /proc/cmdline) " in
  *" xen_emul_unplug=all "*) _ud_check=all-unplug _ud_want='xen_emul_unplug 0x7 \(given\), wrote 0x[37] ' ;;
  *) _ud_check=default-unplug _ud_want='xen_emul_unplug 0x0 \(default\), wrote 0x3 ' ;;
esac
l=$(_ud_line "xen_platform: unplug: $_ud_want")
if [ -n "$l" ]; then tb_pass $_ud_check "$l"; else tb_fail $_ud_check "no '$_ud_want' line: $(_ud_line 'xen_platform: unplug')"; fi
l=$(_ud_line 'xen_platform: unplug: removed 1 unplugged NIC')
if [ -n "$l" ]; then tb_pass nic-removed "$l"; else tb_fail nic-removed "no 'removed 1 unplugged NIC' line"; fi
set -- /sys/block/sd*
ide=
for p in /sys/bus/pci/devices/*; do case $(cat "$p/class") in 0x0101*) ide=${p##*/} ;; esac; done
if [ ! -e "$1" ]; then
  tb_pass no-emulated-disk "no sd* disk; IDE controller $ide driven by '$(tb_driver_of /sys/bus/pci/devices/$ide)'"
else
  tb_fail no-emulated-disk "emulated disks present: $(ls /sys/block | tr '\n' ' ')"
fi
eth=
for p in /sys/bus/pci/devices/*; do case $(cat "$p/class") in 0x0200*) eth="$eth ${p##*/}" ;; esac; done
nets=$(ls /sys/class/net | tr '\n' ' ')
if [ -z "$eth" ] && [ ! -e /sys/class/net/eth0 ]; then
  tb_pass no-emulated-nic "no Ethernet PCI device, interfaces: $nets"
else
  tb_fail no-emulated-nic "Ethernet PCI devices:${eth:- none}, interfaces: $nets"
fi
$TB_BB dmesg | grep -E 'xen_platform|e1000|ata[0-9]|scsi' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done
