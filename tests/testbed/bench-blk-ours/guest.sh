# shellcheck shell=sh
# Guest side of the bench-blk-* scenarios (the others link here): dd with O_DIRECT on the
# scratch disk (the second vbd: xvdb through a PV driver, sdb through the emulated IDE
# controller): sequential 1 MiB reads and writes (3 x 48 MiB, MiB/s) and 4 KiB reads and writes
# at queue depth 1 (16 MiB, IOPS), then fio random 4 KiB reads and writes at queue depth 16 (libaio,
# 15 s each, IOPS over the first 64 MiB). Prints "TB: INFO BENCH <disk> <job> <value> <unit>" lines that
# scripts/bench-blk.sh turns into a table. Asserts nothing about speed.
disk=
for d in xvdb sdb; do [ -b "/dev/$d" ] && { disk=$d; break; }; done
if [ -n "$disk" ]; then
  tb_pass bench-disk "$disk ($(tb_driver_of "/sys/block/$disk/device"))"
else
  tb_fail bench-disk "no scratch disk (block devices: $(ls /sys/block | tr '\n' ' '))"
fi
# Seconds since boot, with the 10 ms resolution of /proc/uptime.
_now() { cut -d' ' -f1 /proc/uptime; }
# _bench NAME UNIT BS COUNT PASSES DD-ARGS...: PASSES runs of dd; blocks per second over all of
# them (1 MiB blocks: MiB/s; 4 KiB blocks: IOPS).
_bench() {
  _name=$1 _unit=$2 _bs=$3 _count=$4 _passes=$5; shift 5
  _t0=$(_now) _i=0
  while [ $_i -lt "$_passes" ]; do
    dd bs="$_bs" count="$_count" "$@" 2>/dev/null || { tb_fail bench "$_name: dd failed"; return 1; }
    _i=$((_i + 1))
  done
  _v=$(awk -v n=$((_count * _passes)) -v a="$_t0" -v b="$(_now)" \
         'BEGIN { t = b - a; if (t < 0.01) t = 0.01; printf "%d", n / t }')
  tb_info "BENCH $disk $_name $_v $_unit"
}
if [ -n "$disk" ]; then
  _bench seq-write-1m MiB/s 1M 48 3 if=/dev/zero of="/dev/$disk" oflag=direct
  _bench seq-read-1m MiB/s 1M 48 3 if="/dev/$disk" of=/dev/null iflag=direct
  _bench write-4k-qd1 IOPS 4k 4096 1 if=/dev/zero of="/dev/$disk" oflag=direct
  _bench read-4k-qd1 IOPS 4k 4096 1 if="/dev/$disk" of=/dev/null iflag=direct
  # fio --minimal (terse v3): field 8 is the read IOPS, field 49 the write IOPS.
  for _rw in randread randwrite; do
    _v=$(fio --name=b --filename="/dev/$disk" --direct=1 --ioengine=libaio --iodepth=16 --rw=$_rw \
           --bs=4k --size=64M --runtime=15 --time_based --minimal 2>/dev/null \
         | awk -F';' -v f=$([ $_rw = randread ] && echo 8 || echo 49) 'NF > 49 { print $f; exit }')
    if [ -n "$_v" ]; then tb_info "BENCH $disk $_rw-4k-qd16 $_v IOPS"
    else tb_fail bench "fio $_rw on $disk printed no figure"; fi
  done
  tb_pass bench "dd and fio O_DIRECT on $disk"
fi
