# shellcheck shell=sh
# Guest side of demo.
tb_xen_cpuid
tb_xen_platform_pci
tb_info "our modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
devs=
for b in /sys/block/*; do
  case ${b##*/} in loop*|ram*) continue ;; esac
  devs="$devs ${b##*/}($(tb_driver_of "$b/device"))"
done
for i in /sys/class/net/*; do
  [ -e "$i/device" ] && devs="$devs ${i##*/}($(tb_driver_of "$i/device"))"
done
tb_info "devices:$devs"
tb_info "partitions: $(awk 'NR > 2 { printf "%s(%s:%s) ", $4, $1, $2 }' /proc/partitions)"
# Root, the scratch disk and eth0 are PV devices: xvd disks on major 202 (registered by
# xen_blkfront as "xvd"), children of their xen bus devices as with Linux's blkfront, and eth0
# the child of vif-0 (ethtool: driver "vif", bus-info "vif-0", as Linux's netfront).
blk_drv() { [ "$(cut -d: -f1 "/sys/block/$1/dev" 2>/dev/null)" = 202 ] && awk '/^Block devices:/ { b = 1 } b && $1 == 202 { print $2 }' /proc/devices; }
xa=$(blk_drv xvda) xb=$(blk_drv xvdb)
pa=$($TB_BB readlink -f /sys/block/xvda/device) pb=$($TB_BB readlink -f /sys/block/xvdb/device)
en=$(ethtool -i eth0 2>/dev/null | sed -n 's/^driver: //p')
eb=$(ethtool -i eth0 2>/dev/null | sed -n 's/^bus-info: //p')
if [ "$(cat /tb/rootdev 2>/dev/null)" = /dev/xvda1 ] && [ "$xa" = xvd ] && [ "$xb" = xvd ] \
    && [ "$pa" = /sys/devices/vbd-51712 ] && [ "$pb" = /sys/devices/vbd-51728 ] \
    && [ "$en" = vif ] && [ "$eb" = vif-0 ] && grep -q '^xen_netfront ' /proc/modules; then
  tb_pass pv-devices "root /dev/xvda1 and xvdb on major 202 ($xa), parents $pa $pb; eth0 by $en ($eb)"
else
  tb_fail pv-devices "root $(cat /tb/rootdev 2>/dev/null), xvda '$xa' ($pa), xvdb '$xb' ($pb), eth0 '$en' ($eb)"
fi
sd=$(ls /sys/block | grep '^sd' | tr '\n' ' ')
e1k=
for i in /sys/class/net/*; do [ "$(tb_driver_of "$i/device")" = e1000 ] && e1k="$e1k ${i##*/}"; done
if [ -z "$sd$e1k" ]; then
  tb_pass unplugged "no emulated disk or NIC left: $($TB_BB dmesg | grep -m 1 'xen_platform: unplug: xen_emul_unplug' | sed 's/^\[[^]]*\] //')"
else
  tb_fail unplugged "emulated devices still there: $sd$e1k"
fi
tb_disk_rw /dev/xvdb
tb_net_up eth0
tb_ping4 eth0
tb_ping6 eth0
