# shellcheck shell=sh
# Guest side of demo.
tb_xen_cpuid
tb_xen_platform_pci
mods=$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')
tb_info "our modules loaded: ${mods:-none}"
tb_info "root: $(cat /tb/rootdev 2>/dev/null) ($(tb_driver_of "/sys/class/block/$(basename "$(cat /tb/rootdev)")/../device" 2>/dev/null))"
# The scratch disk is the second vbd: xvdb when a PV block driver serves it, else emulated sdb.
disk=
for d in xvdb sdb; do [ -b /dev/$d ] && { disk=$d; break; }; done
devs=
for b in /sys/block/*; do
  case ${b##*/} in loop*|ram*) continue ;; esac
  devs="$devs ${b##*/}($(tb_driver_of "$b/device"))"
done
for i in /sys/class/net/*; do
  [ -e "$i/device" ] && devs="$devs ${i##*/}($(tb_driver_of "$i/device"))"
done
if [ -n "$disk" ] && [ -e /sys/class/net/eth0 ]; then
  tb_pass devices "$devs"
else
  tb_fail devices "no scratch disk or no eth0:$devs"
fi
[ -z "$disk" ] || tb_disk_rw /dev/$disk
tb_net_up eth0
tb_ping4 eth0
tb_ping6 eth0
