# shellcheck shell=sh
# Guest side of blkfront-never (see scenario.conf).
l=$($TB_BB dmesg | grep 'xen_blkfront: xvda: emulated disks not unplugged' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ -n "$l" ]; then tb_pass declined "$l"
else tb_fail declined "no 'xvda: emulated disks not unplugged' line: $($TB_BB dmesg | grep xen_blkfront | tr '\n' '|')"; fi
set -- /sys/block/xvd*
if [ ! -e "$1" ]; then tb_pass no-xvd "block devices: $(ls /sys/block | tr '\n' ' ')"
else tb_fail no-xvd "xvd disks present: $*"; fi
if tb_wait_path /sys/block/sda 30; then tb_pass ide-disk "sda $(( $(cat /sys/block/sda/size) / 2048 )) MiB (emulated IDE)"
else tb_fail ide-disk "no sda: $(ls /sys/block | tr '\n' ' ')"; fi
