# shellcheck shell=sh
# Guest side of emulated-baseline.
tb_xen_cpuid
tb_xen_platform_pci
# Only the emulated-device drivers are loaded: no Xen module, no xen bus, no xvd*.
set -- /sys/block/xvd*
others=$(cut -d' ' -f1 /proc/modules | grep -vxE 'ata_piix|e1000' | tr '\n' ' ')
if [ -n "$others" ] || [ -e "$1" ] || [ -d /sys/bus/xen ]; then
  tb_fail no-pv "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ') block: $(ls /sys/block | tr '\n' ' ')"
else
  tb_pass no-pv "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' '); no xen bus, no xvd*"
fi
# sdb must hang off the PCI IDE controller driven by ata_piix.
set -- /sys/bus/pci/drivers/ata_piix/0000:*
piix=; [ -e "$1" ] && piix=${1##*/}
p=$(readlink -f /sys/block/sdb 2>/dev/null)
if [ -n "$piix" ] && [ -b /dev/sdb ] && [ "${p#*/$piix/}" != "$p" ]; then
  tb_pass blk-ide "sdb on $piix (ata_piix)"
else
  tb_fail blk-ide "sdb path '$p', ata_piix devices '$piix'"
fi
n=$(tb_driver_of /sys/class/net/eth0/device)
if [ "$n" = e1000 ]; then tb_pass net-e1000 "eth0 via e1000"; else tb_fail net-e1000 "eth0 driver '$n'"; fi
tb_disk_rw /dev/sdb
tb_net_up eth0
tb_ping4 eth0
tb_ping6 eth0
