# shellcheck shell=sh
# Guest side of c-drivers-baseline (root is the Debian disk on /dev/xvda1 by now).
if dmesg | grep -q 'Hypervisor detected: Xen HVM' && [ "$(cat /sys/hypervisor/type 2>/dev/null)" = xen ]; then
  tb_pass xen-detected "dmesg + /sys/hypervisor/type"
else
  tb_fail xen-detected "no 'Hypervisor detected: Xen HVM' or /sys/hypervisor/type"
fi
tb_xen_cpuid
# PV block devices, bound to blkfront (driver "vbd"); the emulated IDE disks must be unplugged.
a=$(tb_driver_of /sys/block/xvda/device) b=$(tb_driver_of /sys/block/xvdb/device)
set -- /sys/block/sd*
if [ "$a" = vbd ] && [ "$b" = vbd ] && [ ! -e "$1" ]; then
  tb_pass blk-pv "xvda xvdb via vbd, no emulated disks"
else
  tb_fail blk-pv "xvda=$a xvdb=$b block devices: $(ls /sys/block | tr '\n' ' ')"
fi
n=$(tb_driver_of /sys/class/net/eth0/device)
set -- /sys/class/net/eth*
if [ "$n" = vif ] && [ $# = 1 ]; then
  tb_pass net-pv "eth0 via vif"
else
  tb_fail net-pv "eth0 driver '$n', interfaces: $(ls /sys/class/net | tr '\n' ' ')"
fi
tb_event pv_connected
tb_disk_rw /dev/xvdb
tb_net_up eth0
tb_ping4 eth0
tb_ping6 eth0
# A tool from the Debian root disk: 2 MiB random writes with verification, direct I/O via libaio.
if o=$(fio --name=tb --filename=/dev/xvdb --offset=8m --size=2m --rw=randwrite --bs=4k --direct=1 \
         --ioengine=libaio --iodepth=8 --verify=crc32c --thread 2>&1); then
  tb_pass fio "2 MiB randwrite+verify on xvdb: $(echo "$o" | grep -o 'write: IOPS=[^,]*, BW=[^ ]*' | head -n 1)"
else
  tb_fail fio "$(echo "$o" | tail -n 1 | cut -c1-120)"
fi
# Hotplug: Dom0 attaches a third vbd (xvdc) while we run (xl block-attach), we write a marker that
# Dom0 checks afterwards on its backing device, then Dom0 detaches it again (xl block-detach).
tb_event attach_xvdc
if tb_wait_path /sys/block/xvdc 60 && [ "$(tb_driver_of /sys/block/xvdc/device)" = vbd ]; then
  tb_pass blk-attach "xvdc $(( $(cat /sys/block/xvdc/size) / 2048 )) MiB via vbd"
  printf 'TBHOTPLUG %s\n' "$TB_NONCE" | dd of=/dev/xvdc bs=512 count=1 conv=sync,fsync 2>/dev/null
  tb_event detach_xvdc
  n=600
  while [ -e /sys/block/xvdc ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
  if [ -e /sys/block/xvdc ]; then tb_fail blk-detach "xvdc still present 60 s after the detach request"
  else tb_pass blk-detach "xvdc removed"; fi
else
  tb_fail blk-attach "xvdc did not appear within 60 s"
fi
