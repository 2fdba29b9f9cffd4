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
# Root, the scratch disk and eth0 are all PV devices on the xen bus (drivers vbd and vif).
xa=$(tb_driver_of /sys/class/block/xvda/device) xb=$(tb_driver_of /sys/class/block/xvdb/device)
en=$(tb_driver_of /sys/class/net/eth0/device)
if [ "$(cat /tb/rootdev 2>/dev/null)" = /dev/xvda1 ] && [ "$xa" = vbd ] && [ "$xb" = vbd ] && [ "$en" = vif ]; then
  tb_pass pv-devices "root /dev/xvda1 and xvdb by $xa, eth0 by $en"
else
  tb_fail pv-devices "root $(cat /tb/rootdev 2>/dev/null), xvda '$xa', xvdb '$xb', eth0 '$en'"
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
