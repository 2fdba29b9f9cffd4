# shellcheck shell=sh
# Guest side of distro-udev and distro-udev-ref (see their scenario.conf): runs on the real root
# (init=/tb/run.sh) after dracut's udev loaded the drivers by modalias and mounted /dev/xvda1.
case $(uname -r) in
  *-cloud-*) want="xen_blkfront xen_netfront" ;;                 # Linux's C drivers
  *) want="xen_platform xenbus xen_balloon xen_blkfront xen_netfront" ;;  # ours
esac
rootdev=$(cat /tb/rootdev 2>/dev/null)
mnt=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
if [ "$rootdev" = /dev/xvda1 ] && [ "$mnt" = /dev/xvda1 ]; then
  tb_pass root-xvda "/ is $mnt (root=$rootdev) on $(uname -r)"
else
  tb_fail root-xvda "root=$rootdev, / mounted from '$mnt'"
fi
m=$(awk '{ print $1 }' /tb/initramfs-modules 2>/dev/null | sort | tr '\n' ' ')
miss=
for x in $want; do case " $m " in *" $x "*) ;; *) miss="$miss $x" ;; esac; done
if [ -z "$miss" ]; then
  tb_pass initramfs-modules "loaded by udev in the initramfs: $want (all: $m)"
else
  tb_fail initramfs-modules "not loaded in the initramfs:$miss (loaded: ${m:-none})"
fi
c=$(tr '\n' ' ' < /tb/initramfs-modprobe.d 2>/dev/null)
if [ -f /tb/initramfs-modprobe.d ] && [ -z "$c" ]; then
  tb_pass no-modprobe-conf "the initramfs had an empty /etc/modprobe.d: no softdep or alias file"
else
  tb_fail no-modprobe-conf "the initramfs' /etc/modprobe.d: '${c:-not recorded}'"
fi

# sysfs: disks and NICs are children of their xen bus devices, bound to drivers vbd and vif.
_du_link() { $TB_BB readlink -f "$1" 2>/dev/null; }
pa=$(_du_link /sys/block/xvda/device) da=$(tb_driver_of /sys/block/xvda/device)
if [ "$pa" = /sys/devices/vbd-51712 ] && [ "$da" = vbd ] && [ "$(_du_link /sys/bus/xen/drivers/vbd/vbd-51712)" = "$pa" ]; then
  tb_pass sysfs-block "/sys/block/xvda/device -> $pa, driver $da"
else
  tb_fail sysfs-block "/sys/block/xvda/device -> '$pa', driver '$da'"
fi
ifn=
for i in /sys/class/net/*; do [ "$(_du_link "$i/device")" = /sys/devices/vif-0 ] && ifn=${i##*/}; done
ei=$(ethtool -i "${ifn:-none}" 2>/dev/null | grep -E '^(driver|bus-info):' | tr '\n' ' ')
if [ -n "$ifn" ] && [ "$(tb_driver_of "/sys/class/net/$ifn/device")" = vif ] && [ "$ei" = "driver: vif bus-info: vif-0 " ]; then
  tb_pass sysfs-net "/sys/class/net/$ifn/device -> /sys/devices/vif-0; ethtool -i: $ei"
else
  tb_fail sysfs-net "interface of vif-0: '$ifn' (interfaces: $(ls /sys/class/net | tr '\n' ' ')); ethtool -i: '$ei'"
fi
# Named by udev's net_id in the initramfs (99-default.link: the slot name of a Xen vif is enX<N>).
if [ "$ifn" = enX0 ]; then
  tb_pass ifname "vif-0 is $ifn (name_assign_type $(cat "/sys/class/net/$ifn/name_assign_type" 2>/dev/null))"
else
  tb_fail ifname "vif-0 is '$ifn', not enX0"
fi
# udev's /dev/disk links to the xvd disks, as "<kind>:<target>": the same set as with Linux's
# drivers (by-path: none, as systemd 252's path_id gives no block device on the xen bus a path).
_du_links() {
  for l in /dev/disk/by-*/*; do
    t=$($TB_BB readlink -f "$l" 2>/dev/null)
    case $t in /dev/xvd*) k=${l#/dev/disk/}; echo "${k%%/*}:${t#/dev/}" ;; esac
  done | sort | tr '\n' ' '
}
dl=$(_du_links)
if [ "$dl" = "by-diskseq:xvda by-label:xvda1 by-partuuid:xvda1 by-uuid:xvda1 " ]; then
  tb_pass disk-links "/dev/disk links to xvd disks: $dl"
else
  tb_fail disk-links "/dev/disk links to xvd disks: '$dl'"
fi

# The root's own udev, as a booted distribution runs it: a hot-attached disk appears, gets its
# by-path link, and loads no module (its driver is the one already loaded).
udevd=/lib/systemd/systemd-udevd
[ -x "$udevd" ] || udevd=/usr/lib/systemd/systemd-udevd
if "$udevd" --daemon && udevadm trigger --action=add && udevadm settle --timeout=60; then
  tb_pass udevd "$udevd running, coldplug settled"
else
  tb_fail udevd "$udevd did not start or settle"
fi
m0=$(awk '{ print $1 }' /proc/modules | sort | tr '\n' ' ')
tb_event attach
if tb_wait_path /sys/block/xvdc 60 && udevadm settle --timeout=60; then
  n=$($TB_BB dd if=/dev/xvdc bs=64 count=1 2>/dev/null | tr -d '\0')
  if [ "$n" = "$TB_NONCE" ] && [ "$(_du_link /sys/block/xvdc/device)" = /sys/devices/vbd-51744 ]; then
    tb_pass blk-hotplug "xvdc (child of vbd-51744) holds Dom0's nonce"
  else
    tb_fail blk-hotplug "xvdc: read '$n', parent '$(_du_link /sys/block/xvdc/device)'"
  fi
else
  tb_fail blk-hotplug "no xvdc within 60 s"
fi
dl=$(_du_links)
case " $dl" in
  *" by-diskseq:xvdc "*) tb_pass hotplug-links "the root's udev linked xvdc: $dl" ;;
  *) tb_fail hotplug-links "no /dev/disk link to xvdc: '$dl'" ;;
esac
m1=$(awk '{ print $1 }' /proc/modules | sort | tr '\n' ' ')
if [ "$m0" = "$m1" ]; then
  tb_pass hotplug-no-module "modules before and after: $m1"
else
  tb_fail hotplug-no-module "modules before: $m0; after: $m1"
fi
tb_event detach
i=0
while [ -e /sys/block/xvdc ] && [ $i -lt 300 ]; do usleep 200000; i=$((i + 1)); done
if [ ! -e /sys/block/xvdc ] && udevadm settle --timeout=60; then
  case " $(_du_links)" in
    *":xvdc "*) tb_fail blk-unplug "xvdc gone but its links stay: $(_du_links)" ;;
    *) tb_pass blk-unplug "xvdc and its /dev/disk links gone" ;;
  esac
else
  tb_fail blk-unplug "xvdc still there: $(ls /sys/block | tr '\n' ' ')"
fi
udevadm control --exit 2>/dev/null || true
$TB_BB dmesg | grep -E 'xen|xvd|enX|vif|renamed' | sed 's/^\[[^]]*\] //' | head -n 30 | while read -r l; do tb_info "$l"; done
