# shellcheck shell=sh
# Guest side of blkfront-basic (root is the Debian disk on /dev/xvda1 by now).
_bf_log() { dmesg | grep -E "$1" | head -n 1 | sed 's/^\[[^]]*\] //'; }
_bf_wait() { # SECONDS CMD...: run CMD every 0.5 s until it succeeds or SECONDS pass
  _end=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift
  while :; do
    "$@" && return 0
    [ "$(cut -d. -f1 /proc/uptime)" -lt "$_end" ] || return 1
    sleep 0.5
  done
}
_bf_q() { cat "/sys/block/$1/queue/$2" 2>/dev/null; }

# Root and the disks on major 202.
p=$(awk '$1 == 202 { printf "%s(%s) ", $4, $3 }' /proc/partitions)
case $p in
  *"xvda("*"xvda1("*"xvdb("*) tb_pass partitions "/proc/partitions major 202: $p" ;;
  *) tb_fail partitions "major 202 in /proc/partitions: '$p'" ;;
esac

# Negotiated features: dmesg line and sysfs.
l=$(_bf_log 'xen_blkfront: xvdb: ')
case $l in
  *"2 queue(s), ring order 1 (64 slots"*"32 segments (indirect), persistent grants yes, flush flush-cache"*)
    tb_pass features "$l" ;;
  *) tb_fail features "xvdb: '$l'" ;;
esac
dmesg | grep 'xen_blkfront' | sed 's/^\[[^]]*\] //' | while read -r x; do tb_info "$x"; done
nq=$(ls /sys/block/xvdb/mq 2>/dev/null | wc -l)
lim="mq=$nq lbs=$(_bf_q xvdb logical_block_size) pbs=$(_bf_q xvdb physical_block_size) max_segments=$(_bf_q xvdb max_segments) max_hw_sectors_kb=$(_bf_q xvdb max_hw_sectors_kb) write_cache=$(_bf_q xvdb write_cache) fua=$(_bf_q xvdb fua) discard_max_hw_bytes=$(_bf_q xvdb discard_max_hw_bytes)"
case $lim in
  "mq=2 lbs=512 pbs="*" max_segments=32 max_hw_sectors_kb=128 write_cache=write back fua=0 "*) tb_pass sysfs-limits "$lim" ;;
  *) tb_fail sysfs-limits "$lim" ;;
esac

# Data integrity on the scratch disk (Dom0 verifies the backing device: dom0-data).
tb_disk_rw /dev/xvdb
if o=$(fio --name=v --filename=/dev/xvdb --offset=8m --size=8m --offset_increment=8m --numjobs=4 \
         --rw=randwrite --bs=4k --direct=1 --ioengine=libaio --iodepth=16 --verify=crc32c \
         --group_reporting --thread 2>&1); then
  tb_pass fio-verify "4 jobs x 8 MiB randwrite+crc32c verify: $(echo "$o" | grep -o 'write: IOPS=[^,]*, BW=[^ ]*' | head -n 1)"
else
  tb_fail fio-verify "$(echo "$o" | grep -iE 'verify|error|bad' | head -n 3 | tr '\n' '|' | cut -c1-200)"
fi
# 1 MiB direct I/O: requests of up to 128 KiB (indirect, 32 segments).
head -c 4194304 /dev/urandom > /tmp/bf-big
if dd if=/tmp/bf-big of=/dev/xvdb bs=1M seek=48 oflag=direct 2>/dev/null \
    && [ "$(dd if=/dev/xvdb bs=1M skip=48 count=4 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-big)" ]; then
  tb_pass big-io "4 MiB with 1 MiB direct writes/reads read back identically"
else
  tb_fail big-io "4 MiB direct write/read back differs"
fi

# fsync sends flushes: stat fields 16 (flush requests completed) and Dom0's f_req.
tb_event flush_before
f0=$(awk '{ print $16 }' /sys/block/xvdb/stat)
echo flush-test | dd of=/dev/xvdb bs=512 seek=200000 conv=fsync,sync 2>/dev/null
f1=$(awk '{ print $16 }' /sys/block/xvdb/stat)
if [ -n "$f0" ] && [ "$f1" -gt "$f0" ]; then tb_pass flush "xvdb flushes completed: $f0 -> $f1"
else tb_fail flush "xvdb flush counter '$f0' -> '$f1'"; fi
tb_event flush_after

# Hotplug: xvdc (rw, loop over a sparse file in Dom0) and xvdd (read-only), connected with
# trusted=1 (request pages granted directly, no bounce; the toolstack's 'trusted' key is 1).
echo 1 > /sys/module/xen_blkfront/parameters/trusted
tb_event attach
if tb_wait_path /sys/block/xvdc 60 && tb_wait_path /sys/block/xvdd 60 && tb_wait_path /dev/xvdc 10; then
  tb_pass attach "xvdc $(( $(cat /sys/block/xvdc/size) / 2048 )) MiB, xvdd ro=$(cat /sys/block/xvdd/ro): $(_bf_log 'xen_blkfront: xvdc: ')"
else
  tb_fail attach "xvdc/xvdd did not appear; block devices: $(ls /sys/block | tr '\n' ' ')"
fi
echo 0 > /sys/module/xen_blkfront/parameters/trusted
case $(_bf_log 'xen_blkfront: xvdc: ') in
  *"trusted: direct grants"*) ;;
  *) tb_fail trusted "xvdc not connected in trusted mode: $(_bf_log 'xen_blkfront: xvdc: ')" ;;
esac
d="discard_max_bytes=$(_bf_q xvdc discard_max_bytes) discard_granularity=$(_bf_q xvdc discard_granularity)"
case $d in
  "discard_max_bytes=0 "*|"discard_max_bytes= "*) tb_fail discard-sysfs "$d" ;;
  *) tb_pass discard-sysfs "$d" ;;
esac
if o=$(blkdiscard -o 0 -l 16777216 /dev/xvdc 2>&1); then
  tb_pass discard "blkdiscard of 16 MiB of xvdc"
else
  tb_fail discard "blkdiscard: $o"
fi
tb_event check_discard
# Data integrity through direct grants (after the discard check, which counts allocated blocks).
if o=$(fio --name=t --filename=/dev/xvdc --offset=32m --size=8m --offset_increment=8m --numjobs=2 \
         --rw=randwrite --bs=4k --direct=1 --ioengine=libaio --iodepth=16 --verify=crc32c \
         --group_reporting --thread 2>&1) \
   && dd if=/tmp/bf-big of=/dev/xvdc bs=1M seek=48 oflag=direct 2>/dev/null \
   && [ "$(dd if=/dev/xvdc bs=1M skip=48 count=4 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-big)" ]; then
  tb_pass trusted "direct grants on xvdc: fio crc32c verify (2 jobs) and 4 MiB of 1 MiB direct I/O read back: $(echo "$o" | grep -o 'write: IOPS=[^,]*' | head -n 1)"
else
  tb_fail trusted "xvdc (direct grants): $(echo "$o" | grep -iE 'verify|error|bad' | head -n 2 | tr '\n' '|' | cut -c1-200)"
fi

# Read-only: writes are refused.
if o=$(echo x | dd of=/dev/xvdd bs=512 count=1 conv=sync,fsync 2>&1); then
  tb_fail read-only "write to xvdd succeeded"
else
  ro=$(cat /sys/block/xvdd/ro)
  if [ "$ro" = 1 ]; then tb_pass read-only "ro=1, write refused: $(echo "$o" | head -n 1)"
  else tb_fail read-only "ro='$ro', write failed: $(echo "$o" | head -n 1)"; fi
fi

# Resize: Dom0 grows the backing file; blkback notices on the next I/O and re-announces.
s0=$(cat /sys/block/xvdc/size)
tb_event resize
_bf_grown() {
  dd if=/dev/xvdc of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null
  [ "$(cat /sys/block/xvdc/size)" != "$s0" ]
}
if _bf_wait 30 _bf_grown; then
  tb_pass resize "xvdc $s0 -> $(cat /sys/block/xvdc/size) sectors: $(_bf_log 'xen_blkfront: xvdc: capacity')"
else
  tb_fail resize "xvdc still $(cat /sys/block/xvdc/size) sectors 30 s after the resize"
fi

# Detach idle (xvdd), then xvdc with fio running on it.
tb_event detach_xvdd
if _bf_wait 30 test ! -e /sys/block/xvdd; then tb_pass detach-idle "xvdd removed"
else tb_fail detach-idle "xvdd still present 30 s after xl block-detach"; fi
fio --name=busy --filename=/dev/xvdc --rw=randrw --bs=4k --direct=1 --ioengine=libaio \
    --iodepth=16 --time_based --runtime=120 --size=32m --thread > /tmp/bf-fio.log 2>&1 &
fpid=$!
sleep 3
tb_event detach_xvdc
_bf_fio_done() { ! kill -0 "$fpid" 2>/dev/null; }
if _bf_wait 60 test ! -e /sys/block/xvdc && _bf_wait 60 _bf_fio_done; then
  wait "$fpid"; st=$?
  tb_pass detach-busy "xvdc removed with fio running; fio exit status $st: $(grep -iE 'error|err=' /tmp/bf-fio.log | head -n 1 | cut -c1-120)"
else
  tb_fail detach-busy "xvdc present=$([ -e /sys/block/xvdc ] && echo yes || echo no), fio still running=$(kill -0 "$fpid" 2>/dev/null && echo yes || echo no)"
  kill "$fpid" 2>/dev/null
fi
dmesg | grep 'xen_blkfront' | tail -n 8 | sed 's/^\[[^]]*\] //' | while read -r x; do tb_info "$x"; done
