# shellcheck shell=sh
# Guest side of the bench-blk-* scenarios (the same file in each): fio on the scratch disk (the
# second vbd: xvdb through a PV driver, sdb through the emulated IDE controller), each job for a
# fixed time, direct I/O; prints "TB: INFO BENCH <disk> <job> <value> <unit>" lines that
# scripts/bench-blk.sh turns into a table. Asserts nothing about speed.
disk=
for d in xvdb sdb; do [ -b "/dev/$d" ] && { disk=$d; break; }; done
if [ -n "$disk" ]; then
  tb_pass bench-disk "$disk ($(tb_driver_of "/sys/block/$disk/device"))"
else
  tb_fail bench-disk "no scratch disk (block devices: $(ls /sys/block | tr '\n' ' '))"
fi
_bench() { # NAME RW BS IODEPTH
  o=$(fio --name="$1" --filename="/dev/$disk" --rw="$2" --bs="$3" --iodepth="$4" --direct=1 \
        --ioengine=libaio --size=48m --time_based --runtime=15 \
        --output-format=terse --terse-version=3 --thread 2>&1 | tail -n 1)
  # terse v3: field 7 read bw KiB/s, 8 read IOPS; 48 write bw KiB/s, 49 write IOPS.
  case $2 in
    *read) bw=$(echo "$o" | cut -d';' -f7) iops=$(echo "$o" | cut -d';' -f8) ;;
    *) bw=$(echo "$o" | cut -d';' -f48) iops=$(echo "$o" | cut -d';' -f49) ;;
  esac
  case $3 in
    1m) tb_info "BENCH $disk $1 $(( ${bw:-0} / 1024 )) MiB/s" ;;
    *) tb_info "BENCH $disk $1 ${iops:-0} IOPS" ;;
  esac
}
if [ -n "$disk" ]; then
  _bench seq-read-1m read 1m 4
  _bench seq-write-1m write 1m 4
  _bench rand-read-4k randread 4k 16
  _bench rand-write-4k randwrite 4k 16
  tb_pass bench "4 fio jobs of 15 s on $disk"
fi
