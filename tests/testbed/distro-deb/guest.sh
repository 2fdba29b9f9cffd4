# shellcheck shell=sh
# Guest side of distro-deb: runs on the root disk the package was installed on (init=/tb/run.sh),
# after the initramfs made by the package's update-initramfs trigger loaded our modules and mounted
# /dev/xvda1.
kver=$(uname -r)
rootdev=$(cat /tb/rootdev 2>/dev/null)
mnt=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
maj=$(cut -d: -f1 /sys/block/xvda/dev 2>/dev/null)
drv=$(awk -v m="$maj" '/^Block devices:/ { b = 1 } b && $1 == m { print $2 }' /proc/devices)
if [ "$rootdev" = /dev/xvda1 ] && [ "$mnt" = /dev/xvda1 ] && [ "$maj" = 202 ] && [ "$drv" = xvd ]; then
  tb_pass root-xvda "/ is $mnt (root=$rootdev), xvda on major $maj ($drv)"
else
  tb_fail root-xvda "root=$rootdev, / mounted from '$mnt', xvda major '$maj' ($drv); block devices: $(ls /sys/block | tr '\n' ' ')"
fi
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
st=$(dpkg-query -W -f='${Status} ${Version}' xen-pvhvm-rs-dkms 2>&1)
dk=$(dkms status -m xen-pvhvm-rs -k "$kver" 2>&1 | tr '\n' ' ')
kos=$(ls /lib/modules/"$kver"/updates/dkms 2>/dev/null | tr '\n' ' ')
case "$st|$dk|$kos" in
  "install ok installed "*"|"*": installed"*"|"*xen_blkfront.ko*)
    tb_pass deb-installed "dpkg: $st; dkms: $dk; updates/dkms: $kos" ;;
  *) tb_fail deb-installed "dpkg: '$st'; dkms: '$dk'; updates/dkms: '$kos'" ;;
esac
list=$(lsinitramfs "/boot/initrd.img-$kver" 2>&1)
miss=
for f in xen_platform.ko xen_blkfront.ko etc/modprobe.d/xen-pvhvm-rs.conf scripts/init-top/xen-pvhvm-rs; do
  echo "$list" | grep -q "$f" || miss="$miss $f"
done
if [ -z "$miss" ]; then
  tb_pass initramfs-from-package "/boot/initrd.img-$kver (the image this guest booted, made by the package's trigger) has our modules, softdeps and init-top script; sha256 $(sha256sum "/boot/initrd.img-$kver" | cut -c1-16)"
else
  tb_fail initramfs-from-package "/boot/initrd.img-$kver lacks:$miss"
fi
# apt-get remove on the running system: DKMS removes the modules, the trigger rebuilds the initramfs.
# The test bed's own initramfs hooks (the runner, added by deb-test.sh) are not the package's: they
# go first, so that the rebuilt image is what the package alone leaves.
rm -f /etc/initramfs-tools/hooks/tb-runner /etc/initramfs-tools/scripts/init-bottom/tb-runner
t0=$(date +%s)
out=$(DEBIAN_FRONTEND=noninteractive apt-get remove -y xen-pvhvm-rs-dkms 2>&1); rc=$?
dt=$(( $(date +%s) - t0 ))
left=
[ -z "$(ls /lib/modules/"$kver"/updates/dkms 2>/dev/null)" ] || left="$left modules:$(ls /lib/modules/"$kver"/updates/dkms | tr '\n' ' ')"
[ ! -e /var/lib/dkms/xen-pvhvm-rs ] || left="$left /var/lib/dkms/xen-pvhvm-rs"
! lsinitramfs "/boot/initrd.img-$kver" 2>/dev/null | grep -q xen_platform.ko || left="$left initramfs-still-has-xen_platform"
if [ $rc = 0 ] && [ -z "$left" ]; then
  tb_pass apt-remove "apt-get remove in ${dt}s: modules, DKMS tree and initramfs entries gone"
else
  tb_fail apt-remove "status $rc, left:$left; $(echo "$out" | tail -n 3 | tr '\n' ' ')"
fi
