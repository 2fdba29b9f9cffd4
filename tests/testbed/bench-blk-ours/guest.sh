# shellcheck shell=sh
# Guest side of the bench-blk-* scenarios (the others link here): dd with O_DIRECT on the
# scratch disk (the second vbd: xvdb through a PV driver, sdb through the emulated IDE
# controller): sequential 1 MiB reads and writes (3 x 48 MiB, MiB/s) and 4 KiB reads and writes
# at queue depth 1 (16 MiB, IOPS). fio would give random 4 KiB IOPS at higher queue depths but
# cannot run on our guest kernel (no CONFIG_SYSVIPC); dd is used everywhere for the same
# measurement. Prints "TB: INFO BENCH <disk> <job> <value> <unit>" lines that
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
  tb_pass bench "dd O_DIRECT on $disk"
fi
