# shellcheck shell=sh
# Guest side of platform-absent (see scenario.conf). Stays in the initramfs.
tb_xen_cpuid
found=
for p in /sys/bus/pci/devices/*; do
  [ "$(cat "$p/vendor")" = 0x5853 ] && found="$found ${p##*/}"
done
if [ -z "$found" ]; then tb_pass no-platform-pci "no PCI device of vendor 5853"
else tb_fail no-platform-pci "Xen platform device(s) present:$found"; fi
l=$($TB_BB dmesg | grep 'xenbus: .*without the platform device' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then tb_pass xenbus-inert "$l"; else tb_fail xenbus-inert "no such line: $($TB_BB dmesg | grep -E 'xenbus|xen_platform' | tail -n 3 | tr '\n' '|')"; fi
$TB_BB dmesg | grep -E 'xen_platform|xenbus|xen_blkfront|xen_netfront' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done
devs=$(ls /sys/bus/xen/devices 2>/dev/null | tr '\n' ' ')
xvd=$(for b in /sys/block/xvd*; do [ -e "$b" ] && printf '%s ' "${b##*/}"; done)
if [ -z "$devs" ] && [ -z "$xvd" ]; then tb_pass no-pv "no xen bus device, no xvd disk; block: $(ls /sys/block | tr '\n' ' ')"
else tb_fail no-pv "xen bus: '$devs', xvd: '$xvd'"; fi
# The scratch disk is the emulated IDE disk: sda.
if [ -b /dev/sda ]; then tb_disk_rw /dev/sda; else tb_fail disk-rw "no /dev/sda: $(ls /sys/block | tr '\n' ' ')"; fi
if rmmod xen_netfront xen_blkfront xenbus xen_platform; then
  tb_pass rmmod "all four unloaded"
else
  tb_fail rmmod "rmmod failed: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
fi
