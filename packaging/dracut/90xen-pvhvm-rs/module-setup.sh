#!/bin/bash
# dracut module of xen-pvhvm-rs: include our modules and softdeps; load them before udev so the
# emulated devices are unplugged before their drivers bind and /dev/xvdX is there for root.
check() { return 0; }
depends() { return 0; }
installkernel() {
    hostonly='' instmods xen_platform xenbus xen_balloon xen_blkfront xen_netfront
}
install() {
    [ ! -f /etc/modprobe.d/xen-pvhvm-rs.conf ] || inst_simple /etc/modprobe.d/xen-pvhvm-rs.conf
    inst_hook pre-udev 10 "$moddir/xen-pvhvm-rs-load.sh"
}
