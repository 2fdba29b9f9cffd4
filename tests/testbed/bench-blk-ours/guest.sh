# shellcheck shell=sh
# Guest side of the bench-blk-* scenarios (the others link here): fio with O_DIRECT (libaio) on
# the scratch disk (the second vbd: xvdb through a PV driver, sdb through the emulated IDE
# controller): sequential 1 MiB writes and reads (MiB/s) and 4 KiB writes and reads at queue
# depth 1 (IOPS), 10 s each over the first 48 MiB, then random 4 KiB reads and writes at queue
# depth 16 (IOPS), 15 s each over the first 64 MiB. Every job is sized by time, not by count, so
# a slow disk (the emulated IDE at some 20 IOPS) fits the scenario's limit as a fast one does.
# Prints "TB: INFO BENCH <disk> <job> <value> <unit>" lines that scripts/bench-blk.sh turns into
# a table. Asserts nothing about speed.
disk=
for d in xvdb sdb; do [ -b "/dev/$d" ] && { disk=$d; break; }; done
if [ -n "$disk" ]; then
  tb_pass bench-disk "$disk ($(tb_driver_of "/sys/block/$disk/device"))"
else
  tb_fail bench-disk "no scratch disk (block devices: $(ls /sys/block | tr '\n' ' '))"
fi
# _fio JOB RW BS DEPTH SIZE SECONDS: one time-based fio job on the disk; prints its figure, in
# MiB/s for 1 MiB blocks and in IOPS otherwise. fio --minimal (terse v3): fields 7 and 8 are the
# read bandwidth (KiB/s) and IOPS, 48 and 49 the write ones.
_fio() {
  _job=$1 _rw=$2 _bs=$3 _qd=$4 _size=$5 _sec=$6
  case $_rw in *read) _f=8 _bw=7 ;; *) _f=49 _bw=48 ;; esac
  _unit=IOPS
  [ "$_bs" = 1M ] && _f=$_bw _unit=MiB/s
  _v=$(fio --name=b --filename="/dev/$disk" --direct=1 --ioengine=libaio --iodepth="$_qd" \
         --rw="$_rw" --bs="$_bs" --size="$_size" --runtime="$_sec" --time_based --minimal 2>/dev/null \
       | awk -F';' -v f="$_f" -v mib="$([ "$_unit" = MiB/s ] && echo 1 || echo 0)" \
           'NF > 49 { v = $f; if (mib) v = v / 1024; printf "%d", v; exit }')
  if [ -n "$_v" ]; then tb_info "BENCH $disk $_job $_v $_unit"
  else tb_fail bench "fio $_job on $disk printed no figure"; return 1; fi
}
if [ -n "$disk" ]; then
  _fio seq-write-1m write 1M 1 48M 10 &&
    _fio seq-read-1m read 1M 1 48M 10 &&
    _fio write-4k-qd1 write 4k 1 48M 10 &&
    _fio read-4k-qd1 read 4k 1 48M 10 &&
    _fio randread-4k-qd16 randread 4k 16 64M 15 &&
    _fio randwrite-4k-qd16 randwrite 4k 16 64M 15 &&
    tb_pass bench "fio O_DIRECT on $disk, every job time-based"
fi
