#!/bin/sh
# dracut pre-udev hook of xen-pvhvm-rs (see module-setup.sh).
modprobe -q xen_platform || :
modprobe -q xen_balloon || :
modprobe -q xen_blkfront || :
modprobe -q xen_netfront || :
