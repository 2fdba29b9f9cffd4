# shellcheck shell=sh
# Guest side of initramfs-tools-root: runs on the real root (init=/tb/run.sh), after the
# hook-made initramfs loaded the modules and mounted /dev/xvda1.
rootdev=$(cat /tb/rootdev 2>/dev/null)
mnt=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
# xvd disks have no parent device in sysfs: tell them by their major, 202, registered as "xvd".
maj=$(cut -d: -f1 /sys/block/xvda/dev 2>/dev/null)
drv=$(awk -v m="$maj" '/^Block devices:/ { b = 1 } b && $1 == m { print $2 }' /proc/devices)
if [ "$rootdev" = /dev/xvda1 ] && [ "$mnt" = /dev/xvda1 ] && [ "$maj" = 202 ] && [ "$drv" = xvd ]; then
  tb_pass root-xvda "/ is $mnt (root=$rootdev), xvda on major $maj ($drv)"
else
  tb_fail root-xvda "root=$rootdev, / mounted from '$mnt', xvda major '$maj' ($drv); block devices: $(ls /sys/block | tr '\n' ' ')"
fi
p=$(awk '$1 == 202 && $2 == 1 { print $4 }' /proc/partitions)
if [ "$p" = xvda1 ]; then
  tb_pass partitions-202 "$(awk '$1 == 202 { printf "%s(%s:%s) ", $4, $1, $2 }' /proc/partitions)"
else
  tb_fail partitions-202 "no 202:1 xvda1 in /proc/partitions: $(tr '\n' '|' < /proc/partitions)"
fi
# Loaded by the initramfs (recorded by the test bed's init-bottom script before run-init).
m=$(awk '{ print $1 }' /tb/initramfs-modules 2>/dev/null | sort | tr '\n' ' ')
miss=
for x in xen_platform xenbus xen_balloon xen_blkfront; do
  case " $m " in *" $x "*) ;; *) miss="$miss $x" ;; esac
done
if [ -z "$miss" ]; then
  tb_pass initramfs-modules "loaded in the initramfs: $m"
else
  tb_fail initramfs-modules "not loaded in the initramfs:$miss (loaded: ${m:-none})"
fi
l=$($TB_BB dmesg | grep -E 'xen_platform: unplug: ' | tail -n 1 | sed 's/^\[[^]]*\] //')
case $l in
  *"xen_emul_unplug 0x1 (given), wrote 0x1 "*) tb_pass cmdline-unplug "$l" ;;
  *) tb_fail cmdline-unplug "${l:-no unplug line from xen_platform}" ;;
esac
sd=$(ls /sys/block | grep '^sd' | tr '\n' ' ')
if [ -z "$sd" ]; then
  tb_pass no-ide-disk "no sd disk: $(ls /sys/block | tr '\n' ' ')"
else
  tb_fail no-ide-disk "emulated disks still there: $sd"
fi
nic=
for n in /sys/class/net/*; do
  [ "$(tb_driver_of "$n/device")" = e1000 ] && nic=${n##*/}
done
if [ -n "$nic" ]; then
  tb_pass emulated-nic-stays "$nic is driven by e1000 (only IDE disks were unplugged)"
else
  tb_fail emulated-nic-stays "no e1000 interface: $(ls /sys/class/net | tr '\n' ' ')"
fi
$TB_BB dmesg | grep -E 'xen_platform|xenbus|xen_blkfront|xvda|EXT4' | sed 's/^\[[^]]*\] //' | head -n 30 | while read -r l; do tb_info "$l"; done
