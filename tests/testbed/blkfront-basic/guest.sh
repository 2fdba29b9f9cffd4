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
# _bf_pio DEV OFFSET_MIB JOBS MIB: JOBS processes at once each write MIB MiB of random data into
# their own region of DEV as 4 KiB O_DIRECT writes in shuffled order, then every region is read
# back (O_DIRECT) and compared (plain dd, independent of fio).
_bf_pio() {
  _dev=$1 _off=$2 _jobs=$3 _mib=$4 _pids='' _st=0 _j=0
  while [ $_j -lt "$_jobs" ]; do
    head -c $((_mib * 1048576)) /dev/urandom > "/tmp/bf-pio.$_j"
    (
      _base=$(( (_off + _j * _mib) * 256 ))
      for _b in $(seq 0 $((_mib * 256 - 1)) | shuf); do
        dd if="/tmp/bf-pio.$_j" of="$_dev" bs=4096 skip="$_b" seek=$((_base + _b)) count=1 \
           oflag=direct conv=notrunc 2>/dev/null || exit 1
      done
    ) &
    _pids="$_pids $!"; _j=$((_j + 1))
  done
  for _p in $_pids; do wait "$_p" || _st=1; done
  _j=0
  while [ $_j -lt "$_jobs" ]; do
    [ "$(dd if="$_dev" bs=1M skip=$((_off + _j * _mib)) count="$_mib" iflag=direct 2>/dev/null | md5sum)" \
      = "$(md5sum < "/tmp/bf-pio.$_j")" ] || _st=2
    _j=$((_j + 1))
  done
  return $_st
}

# _bf_pat DEV: this run's 1 MiB pattern (tb_pattern, naming the nonce) written with O_DIRECT at
# offset 1 MiB of DEV and read back; Dom0 checks the backing file on its own (dom0_event_*).
_bf_pat() {
  tb_pattern > /tmp/bf-pat
  dd if=/tmp/bf-pat of="$1" bs=64k seek=16 oflag=direct 2>/dev/null \
    && [ "$(dd if="$1" bs=64k skip=16 count=16 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-pat)" ]
}

# Root and the disks on major 202.
p=$(awk '$1 == 202 { printf "%s(%s) ", $4, $3 }' /proc/partitions)
case $p in
  *"xvda("*"xvda1("*"xvdb("*) tb_pass partitions "/proc/partitions major 202: $p" ;;
  *) tb_fail partitions "major 202 in /proc/partitions: '$p'" ;;
esac

# Negotiated features: dmesg line and sysfs.
l=$(_bf_log 'xen_blkfront: xvdb: ')
case $l in
  *"2 queue(s), ring order 1 (64 slots"*"32 segments (indirect), persistent grants yes, bounce buffers, flush flush-cache"*)
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
# fio: 4 jobs of random writes (4-64 KiB, libaio, depth 8) in their own 4 MiB regions, each
# block checked with crc32c when read back.
if fio --name=verify --filename=/dev/xvdb --direct=1 --ioengine=libaio --iodepth=8 \
     --rw=randwrite --bsrange=4k-64k --offset=8M --size=4M --offset_increment=4M --numjobs=4 \
     --verify=crc32c --verify_fatal=1 --group_reporting > /tmp/bf-fio.log 2>&1 \
   && grep -q 'err= 0' /tmp/bf-fio.log && ! grep -q 'verify:.*bad' /tmp/bf-fio.log; then
  tb_pass fio-verify "fio verify=crc32c, 4 jobs x 4 MiB of random 4-64 KiB libaio writes read back: $(grep -E '^ +(WRITE|READ):' /tmp/bf-fio.log | sed 's/^ *//; s/,.*//' | tr '\n' ' ')"
else
  tb_fail fio-verify "$(grep -m 3 -iE 'err=|verify|error' /tmp/bf-fio.log | tr '\n' ' ' | cut -c1-300)"
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
echo flush-test | dd of=/dev/xvdb bs=512 seek=100000 conv=fsync,sync 2>/dev/null
f1=$(awk '{ print $16 }' /sys/block/xvdb/stat)
if [ -n "$f0" ] && [ "$f1" -gt "$f0" ]; then tb_pass flush "xvdb flushes completed: $f0 -> $f1"
else tb_fail flush "xvdb flush counter '$f0' -> '$f1'"; fi
tb_event flush_after

# Hotplug: xvdc (rw, loop over a sparse file in Dom0) and xvdd (read-only), connected with
# trusted=1 and feature_persistent=0 (request pages granted directly, no bounce; the toolstack's
# 'trusted' key is 1).
echo 1 > /sys/module/xen_blkfront/parameters/trusted
echo 0 > /sys/module/xen_blkfront/parameters/feature_persistent
tb_event attach
if tb_wait_path /sys/block/xvdc 60 && tb_wait_path /sys/block/xvdd 60 && tb_wait_path /dev/xvdc 10; then
  tb_pass attach "xvdc $(( $(cat /sys/block/xvdc/size) / 2048 )) MiB, xvdd ro=$(cat /sys/block/xvdd/ro): $(_bf_log 'xen_blkfront: xvdc: ')"
else
  tb_fail attach "xvdc/xvdd did not appear; block devices: $(ls /sys/block | tr '\n' ' ')"
fi
echo 0 > /sys/module/xen_blkfront/parameters/trusted
echo 1 > /sys/module/xen_blkfront/parameters/feature_persistent
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
if _bf_pio /dev/xvdc 32 2 1 \
   && dd if=/tmp/bf-big of=/dev/xvdc bs=1M seek=48 oflag=direct 2>/dev/null \
   && [ "$(dd if=/dev/xvdc bs=1M skip=48 count=4 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-big)" ]; then
  tb_pass trusted "direct grants on xvdc: 2 processes x 1 MiB of shuffled 4 KiB O_DIRECT writes and 4 MiB of 1 MiB O_DIRECT I/O read back identically"
else
  tb_fail trusted "xvdc (direct grants): data written and read back differs or I/O failed"
fi
# The same through Dom0's eyes: the pattern written through direct grants is on the backing file.
_bf_pat /dev/xvdc || tb_fail trusted "pattern write/read back on xvdc failed"
tb_event check_trusted

# Read-only: the raw device refuses write opens, and the ext4 file system Dom0 put on xvdd mounts
# read-only only: its file reads back, and writing into it fails with EROFS.
if o=$(echo x | dd of=/dev/xvdd bs=512 count=1 conv=sync,fsync 2>&1); then
  tb_fail read-only "write to xvdd succeeded"
else
  ro=$(cat /sys/block/xvdd/ro) raw=$(echo "$o" | head -n 1)
  mkdir -p /mnt/ro
  mount -t ext4 -o rw /dev/xvdd /mnt/ro > /tmp/bf-ro.log 2>&1
  mopt=$(awk '$1 == "/dev/xvdd" { print $4 }' /proc/mounts | cut -d, -f1)
  f=$(cat /mnt/ro/hello 2>/dev/null)
  if w=$(echo x 2>&1 > /mnt/ro/new); then w="write succeeded"; fi
  umount /mnt/ro 2>/dev/null
  case "$ro|$mopt|$f|$w" in
    "1|ro|blkfront-ro|"*"Read-only file system"*)
      tb_pass read-only "ro=1; raw write: $raw; mount rw gave a ro mount ($(head -n 1 /tmp/bf-ro.log)); file read back; write: $w" ;;
    *) tb_fail read-only "ro='$ro' mount='$mopt' file='$f' write='$w' raw='$raw' mount log: $(head -n 2 /tmp/bf-ro.log | tr '\n' ' ')" ;;
  esac
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
# fio keeps requests in flight (4 jobs, libaio depth 8, random 4-64 KiB reads and writes) until the
# disk goes: it must stop with errors, nothing may hang.
fio --name=busy --filename=/dev/xvdc --direct=1 --ioengine=libaio --iodepth=8 --rw=randrw \
    --bsrange=4k-64k --size=32M --numjobs=4 --time_based --runtime=600 > /tmp/bf-busy.log 2>&1 &
fpid=$!
sleep 5
r0=$(awk '{ print $1 + $5 }' /sys/block/xvdc/stat 2>/dev/null)
sleep 1
r1=$(awk '{ print $1 + $5 }' /sys/block/xvdc/stat 2>/dev/null)
tb_event detach_xvdc
if ! [ "${r1:-0}" -gt "${r0:-0}" ]; then
  tb_fail detach-busy "fio was not doing I/O on xvdc before the detach (requests '$r0' -> '$r1'): $(tail -n 2 /tmp/bf-busy.log | tr '\n' ' ')"
  kill "$fpid" 2>/dev/null
elif _bf_wait 60 test ! -e /sys/block/xvdc && _bf_wait 60 sh -c "! kill -0 $fpid 2>/dev/null"; then
  wait "$fpid"; frc=$?
  tb_pass detach-busy "xvdc removed while fio ran (completed requests $r0 -> $r1 in the last second before); fio exit status $frc: $(grep -m 1 -E 'error|err=' /tmp/bf-busy.log | sed 's/^ *//' | cut -c1-160)"
else
  tb_fail detach-busy "xvdc present=$([ -e /sys/block/xvdc ] && echo yes || echo no), fio running=$(kill -0 "$fpid" 2>/dev/null && echo yes || echo no), states: $(ps -o stat=,wchan=,args= -C fio 2>/dev/null | head -n 4 | tr '\n' '|')"
  kill "$fpid" 2>/dev/null
fi

# Disks named the other ways a toolstack may name them, hot-attached with trusted=1 and no
# persistent grants: hdc (IDE major 22 → xvdc, 202:32), sde (SCSI major 8 → xvde, 202:64) and
# xvdaa (the extended encoding, 1 << 28 | 26 << 8 → 202:6656), the last with the toolstack's
# trusted=0 (written by Dom0 into its frontend directory), which must override the module
# parameter. Each gets the pattern through its own mode; Dom0 checks every backing file. sdb
# (→ the minors of xvdb, in use) must be refused cleanly, as Linux refuses it.
echo 1 > /sys/module/xen_blkfront/parameters/trusted
echo 0 > /sys/module/xen_blkfront/parameters/feature_persistent
tb_event attach_names
for d in xvdc xvde xvdaa; do tb_wait_path "/sys/block/$d" 60 && tb_wait_path "/dev/$d" 10; done
echo 0 > /sys/module/xen_blkfront/parameters/trusted
echo 1 > /sys/module/xen_blkfront/parameters/feature_persistent
got="xvdc=$(cat /sys/block/xvdc/dev 2>/dev/null) xvde=$(cat /sys/block/xvde/dev 2>/dev/null) xvdaa=$(cat /sys/block/xvdaa/dev 2>/dev/null)"
if [ "$got" = "xvdc=202:32 xvde=202:64 xvdaa=202:6656" ]; then
  tb_pass vdev-names "hdc, sde, xvdaa attached as $got"
else
  tb_fail vdev-names "want xvdc=202:32 xvde=202:64 xvdaa=202:6656, got $got; block devices: $(ls /sys/block | tr '\n' ' ')"
fi
l=$(_bf_log 'xen_blkfront: vbd 2064: ')
case $l in
  *"would take the minors of xvdb"*"refused"*) tb_pass vdev-conflict "$l; xvdb still $(cat /sys/block/xvdb/dev)" ;;
  *) tb_fail vdev-conflict "sdb (vdev 2064) not refused: '$l'" ;;
esac
mc=$(_bf_log 'xen_blkfront: xvdc: ') ma=$(_bf_log 'xen_blkfront: xvdaa: ')
case "$mc|$ma" in
  *"trusted: direct grants"*"|"*"bounce buffers"*) tb_pass untrusted-key "module parameter trusted=1; xvdc (toolstack default): direct grants; xvdaa (toolstack trusted=0): bounce buffers" ;;
  *) tb_fail untrusted-key "xvdc: '$mc'; xvdaa: '$ma'" ;;
esac
bad=''
for d in xvdc xvde xvdaa; do _bf_pat "/dev/$d" || bad="$bad $d"; done
if [ -z "$bad" ]; then tb_pass names-rw "pattern written and read back (O_DIRECT) on xvdc, xvde, xvdaa"
else tb_fail names-rw "pattern write/read back failed on:$bad"; fi
tb_event check_names
tb_event detach_names
if _bf_wait 60 sh -c '! ls /sys/block | grep -qE "^(xvdc|xvde|xvdaa)$"'; then
  tb_pass detach-names "xvdc, xvde, xvdaa removed"
else
  tb_fail detach-names "still present: $(ls /sys/block | tr '\n' ' ')"
fi

# Backend restart: Dom0 unbinds blkback from xvdb and binds it again (a new backend instance, which
# maps our rings again); xvdb keeps working: 1 MiB written before reads back, 1 MiB written after
# reads back (at 40 and 41 MiB, clear of the earlier checks).
head -c 1048576 /dev/urandom > /tmp/bf-old
head -c 1048576 /dev/urandom > /tmp/bf-new
dd if=/tmp/bf-old of=/dev/xvdb bs=64k seek=640 oflag=direct 2>/dev/null || tb_fail reconnect "write before the restart failed"
tb_event restart_backend
if [ -e /sys/block/xvdb ] \
   && [ "$(dd if=/dev/xvdb bs=64k skip=640 count=16 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-old)" ] \
   && dd if=/tmp/bf-new of=/dev/xvdb bs=64k seek=656 oflag=direct 2>/dev/null \
   && [ "$(dd if=/dev/xvdb bs=64k skip=656 count=16 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/bf-new)" ]; then
  tb_pass reconnect "xvdb after blkback was unbound and bound again: 1 MiB written before and 1 MiB written after read back identically"
else
  tb_fail reconnect "xvdb present=$([ -e /sys/block/xvdb ] && echo yes || echo no), I/O after the backend restart failed or differs; $(dmesg | grep xen_blkfront | tail -n 3 | sed 's/^\[[^]]*\] //' | tr '\n' '|')"
fi
dmesg | grep 'xen_blkfront' | tail -n 8 | sed 's/^\[[^]]*\] //' | while read -r x; do tb_info "$x"; done
# No request left unanswered, no page leaked and no protocol violation in the whole run (busy
# detach and backend restart included).
lk=$(dmesg | grep -E 'xen_blkfront: .*(leaked|unanswered|protocol violation|still maps)' | tail -n 2 | sed 's/^\[[^]]*\] //')
if [ -z "$lk" ]; then tb_pass no-leaks "no leak, unanswered-request or protocol-violation line from xen_blkfront"
else tb_fail no-leaks "$(echo "$lk" | tr '\n' '|')"; fi
