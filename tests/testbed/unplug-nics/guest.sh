# shellcheck shell=sh
# Guest side of unplug-nics.
_un_line() { $TB_BB dmesg | grep -E "$1" | tail -n 1 | sed 's/^\[[^]]*\] //'; }
l=$(_un_line 'xen_platform: unplug: xen_emul_unplug 0x2 \(given\), wrote 0x2 ')
if [ -n "$l" ]; then tb_pass nics-unplug "$l"; else tb_fail nics-unplug "$(_un_line 'xen_platform: unplug')"; fi
eth=
for p in /sys/bus/pci/devices/*; do case $(cat "$p/class") in 0x0200*) eth="$eth ${p##*/}" ;; esac; done
if [ -z "$eth" ] && [ ! -e /sys/class/net/eth0 ]; then
  tb_pass no-emulated-nic "no Ethernet PCI device, interfaces: $(ls /sys/class/net | tr '\n' ' ')"
else
  tb_fail no-emulated-nic "Ethernet PCI devices:${eth:- none}"
fi
ide=
for p in /sys/bus/pci/devices/*; do case $(cat "$p/class") in 0x0101*) ide=${p##*/} ;; esac; done
if tb_wait_path /sys/block/sda 30; then
  p=$(readlink -f /sys/block/sda)
  case $p in
    *"/$ide/"*) tb_pass ide-disk-stays "sda ($(cat /sys/block/sda/size) sectors) on $ide, driver '$(tb_driver_of "/sys/bus/pci/devices/$ide")'" ;;
    *) tb_fail ide-disk-stays "sda at $p, not on the IDE controller '$ide'" ;;
  esac
  tb_disk_rw /dev/sda
else
  tb_fail ide-disk-stays "no sda: $(ls /sys/block | tr '\n' ' ')"
fi
tb_event nic_gone
$TB_BB dmesg | grep -E 'xen_platform|8139|ata[0-9]|scsi' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done
