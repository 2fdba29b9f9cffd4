# shellcheck shell=sh
# Guest side of lifecycle-save and lifecycle-save-ref (see their scenario.conf). Root is the Debian
# disk on /dev/xvda1 by now, xvdb the scratch disk, eth0 the PV vif.
#
# From the start to the end, a probe writes and reads back 4 KiB O_DIRECT on xvdb every 50 ms,
# fio runs (randwrite, verify=crc32c, O_DIRECT) follow one another on xvdb, and paced TCP streams
# to Dom0, echoed back, follow one another on eth0 (tbxfer.py echo: one per round). Each round R
# of LC_ROUNDS: R's pattern is written through the page cache, and `tb_event R` has Dom0 check the
# round before (its pattern on the backing disk, the device model) and then save/restore,
# checkpoint or migrate the guest (dom0.sh). Then the fio run that the operation caught must end
# verified, the probe's largest gap since the round before is the time the guest's I/O stood
# still (LC-DOWNTIME), the round's stream ends (the next one starts) and must have come back
# intact, the guest's wall clock is compared with Dom0's over the network (tbxfer.py's CLOCK
# lines: NTP-like, the quickest of 5 round trips; the serial line's acknowledgement comes up to
# 2 s late), and the pattern is synced. `tb_event end` has Dom0 check the last round.
# xvdb: tb_disk_rw's 1 MiB at 1 MiB (the end, dom0-data), fio at 8 MiB (1 MiB), the probe's 256
# 4 KiB slots at 16 MiB, round i's pattern (256 KiB) at 24 + i MiB.
LC_DEV=/dev/xvdb
LC_D=/tmp/lc
LC_KIBPS=512          # the echoed stream's pace (KiB/s)
mkdir -p "$LC_D"

# The probe, until the file stop exists: one 4 KiB O_DIRECT write and read-back every 50 ms, timed
# by the wall clock (what the guest sees of the time it was away: a Linux guest on Xen is told on
# resume) and CLOCK_MONOTONIC. On SIGUSR1 it prints "SEG N GAP FROM TO MONOGAP" for the probes
# since the last one: how many, the largest wall-clock gap between two completed probes and where
# it lay, the largest monotonic gap; "ERROR ..." (and exit) at the first failed one.
cat > "$LC_D/probe.py" << 'EOF'
import mmap, os, signal, sys, time
dev, off, stop, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
wbuf, rbuf = mmap.mmap(-1, 4096), mmap.mmap(-1, 4096)
seg = {"ask": False}
signal.signal(signal.SIGUSR1, lambda s, f: seg.update(ask=True))
n, k, last, lastm, gap, frm, to, mgap = 0, 0, None, None, 0.0, 0.0, 0.0, 0.0
try:
    while not os.path.exists(stop):
        rec = ("TBLCPROBE %s %010d %.6f\n" % (tag, n, time.time())).encode().ljust(4096, b".")
        wbuf.seek(0)
        wbuf.write(rec)
        pos = off + (n % 256) * 4096
        if os.pwrite(fd, wbuf, pos) != 4096:
            raise OSError("short write at %d" % pos)
        if os.preadv(fd, [rbuf], pos) != 4096 or rbuf[:] != rec:
            raise OSError("probe %d at %d read back differs: %r" % (n, pos, rbuf[:48]))
        now, mono = time.time(), time.monotonic()
        if last is not None:
            if now - last > gap:
                gap, frm, to = now - last, last, now
            mgap = max(mgap, mono - lastm)
        last, lastm, n, k = now, mono, n + 1, k + 1
        if seg["ask"]:
            print("SEG %d %.3f %.3f %.3f %.3f" % (k, gap, frm, to, mgap), flush=True)
            seg["ask"], k, gap, frm, to, mgap = False, 0, 0.0, 0.0, 0.0, 0.0
        time.sleep(0.05)
except Exception as e:
    print("ERROR after %d probes: %s" % (n, e), flush=True)
    sys.exit(1)
EOF

# The wall clock with nanoseconds (busybox's date, which the guest's shell prefers, has none).
lc_now() { /usr/bin/date +%s.%N; }
# lc_pattern ROUND: 256 KiB, 4096 lines of 64 bytes naming this run and ROUND (dom0.sh: the same).
lc_pattern() {
  awk -v n="$TB_NONCE" -v r="$1" 'BEGIN { for (i = 0; i < 4096; i++) printf "TBLC %s %-10s %08d %-21s\n", n, r, i, "xen-pvhvm-rs" }'
}
# lc_fio_loop: fio runs one after another until the file stop exists; a line "START END STATUS"
# (wall clock) each in the file fio, the output of a failed run in fio.fail.
lc_fio_loop() {
  while [ ! -e "$LC_D/stop" ]; do
    _s=$(lc_now)
    fio --name=lc --filename="$LC_DEV" --offset=8m --size=1m --rw=randwrite --bs=16k --direct=1 \
      --ioengine=libaio --iodepth=4 --verify=crc32c --verify_fatal=1 > "$LC_D/fio.out" 2>&1
    _st=$?
    echo "$_s $(lc_now) $_st" >> "$LC_D/fio"
    [ "$_st" = 0 ] || cp "$LC_D/fio.out" "$LC_D/fio.fail"
  done
}
# lc_wait PID SECS: wait for PID, at most SECS s (then kill it); status 1 if it had to be killed.
lc_wait() {
  _n=$(($2 * 5))
  while kill -0 "$1" 2>/dev/null; do
    if [ "$_n" -le 0 ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 1; fi
    usleep 200000; _n=$((_n - 1))
  done
  wait "$1" 2>/dev/null
  return 0
}
# lc_until SECS CMD...: until CMD succeeds, at most SECS s; status 1 on timeout.
lc_until() {
  _n=$(($1 * 5)); shift
  while ! "$@"; do
    [ "$_n" -gt 0 ] || return 1
    usleep 200000; _n=$((_n - 1))
  done
}
_lc_started() { [ "$(grep -c STARTED "$LC_D/xfer.err")" -gt "$_i" ] || ! kill -0 "$LC_XP" 2>/dev/null; }
_lc_xfer_done() { [ "$(grep -c '^CLOCK' "$LC_D/xfer")" -gt "$((_i + 1))" ] || ! kill -0 "$LC_XP" 2>/dev/null; }
_lc_clock0() { grep -q '^CLOCK' "$LC_D/xfer" || ! kill -0 "$LC_XP" 2>/dev/null; }
_lc_fio_after() { awk -v t="$_e1" '$2 >= t { f = 1 } END { exit !f }' "$LC_D/fio" 2>/dev/null || ! kill -0 "$LC_FP" 2>/dev/null; }
_lc_seg() { [ "$(grep -c '^SEG\|^ERROR' "$LC_D/probe")" -gt "$_ns" ] || ! kill -0 "$LC_PP" 2>/dev/null; }

# lc_clock CHECK WHAT N: the guest's wall clock within 2 s of Dom0's, from the Nth CLOCK line of
# tbxfer.py echo ("CLOCK OFFSET RTT", OFFSET = guest - Dom0).
lc_clock() {
  _c=$(grep '^CLOCK' "$LC_D/xfer" | sed -n "$3p")
  # shellcheck disable=SC2086  # the line's words
  set -- "$1" "$2" $_c
  if [ "${3:-}" != CLOCK ] || [ "${4:-ERROR}" = ERROR ]; then
    tb_fail "$1" "$2: no clock comparison with Dom0: '${_c:-none}' $(tail -n 1 "$LC_D/xfer.err")"
  elif awk -v x="$4" 'BEGIN { exit !(x <= 2 && x >= -2) }'; then
    tb_pass "$1" "$2: date is Dom0's $4 s (compared over eth0, round trip $5 s)"
  else
    tb_fail "$1" "$2: the guest's clock is $4 s off Dom0's (compared over eth0, round trip $5 s)"
  fi
}

lc_round() {
  _r=$1 _i=$2
  _rs=$(lc_now)
  # The round's pattern, through the page cache (synced only after the operation).
  lc_pattern "$_r" | dd of="$LC_DEV" bs=64k seek=$(((24 + _i) * 16)) 2>/dev/null
  lc_until 30 _lc_started
  _ns=$(grep -c '^SEG\|^ERROR' "$LC_D/probe")
  _e0=$(lc_now)
  tb_event "$_r"
  _e1=$(lc_now)
  # The fio run the operation caught ends; the probe's largest gap since the last round.
  lc_until 60 _lc_fio_after
  _tf=$(lc_now)
  kill -USR1 "$LC_PP" "$LC_XP" 2>/dev/null
  lc_until 10 _lc_seg
  # shellcheck disable=SC2046  # the probe's words
  set -- $(grep '^SEG\|^ERROR' "$LC_D/probe" | tail -n 1)
  _gf='' _gt=''
  if [ "${1:-}" = SEG ] && kill -0 "$LC_PP" 2>/dev/null; then
    _gf=$4 _gt=$5
    echo "$_r $3" >> "$LC_D/downtime"
    tb_pass "$_r-probe" "$2 O_DIRECT 4 KiB writes+reads on xvdb read back intact; LC-DOWNTIME $TB_KERNEL $_r: the guest's I/O stopped for $3 s (largest gap between completed probes, wall clock; CLOCK_MONOTONIC: $6 s)"
  else
    tb_fail "$_r-probe" "$(tail -n 2 "$LC_D/probe" | tr '\n' ' ' | cut -c1-200)"
  fi
  # The round's echoed stream ended with the signal above (the next one starts): every byte back;
  # sent, echoed and Dom0-received data have one digest.
  lc_until 90 _lc_xfer_done
  _tx=$(lc_now)
  lc_clock "$_r-clock" "after $_r" $((_i + 2))
  _x=$(grep '^OK\|^ERROR' "$LC_D/xfer" | sed -n "$((_i + 1))p")
  # shellcheck disable=SC2086  # the transfer's words
  set -- $_x
  if [ "${1:-}" = OK ]; then
    tb_pass "$_r-xfer" "$2 bytes at $LC_KIBPS KiB/s over eth0 to Dom0 and back in ${3}s across the event, sha256 $(echo "$4" | cut -c1-16) sent = echoed = Dom0's"
  else
    tb_fail "$_r-xfer" "${_x:-no result from tbxfer.py echo: $(tail -n 1 "$LC_D/xfer.err")}"
  fi
  # fio: the runs of this round passed their verification, and the loop ran on across the time the
  # guest was away (the probe's gap; without one, the event): one run across it, or (the guest
  # frozen between two runs, as it happens: a run in I/O holds up the freezer) a run that ended at
  # most 2 s before it and one that began once the guest ran again, at most 5 s after the gap.
  _re=$(lc_now)
  awk -v s="$_rs" -v e="$_re" '$2 > s && $1 < e' "$LC_D/fio" > "$LC_D/fio-$_r"
  _n=$(wc -l < "$LC_D/fio-$_r")
  _bad=$(awk '$3 != 0' "$LC_D/fio-$_r" | head -n 1)
  _span=$(awk -v f="${_gf:-$_e0}" -v t="${_gt:-$_e1}" '
    $1 < f && $2 > f { print "one across the guest'"'"'s time away"; exit }
    $2 <= f && $2 >= f - 2 { b = f - $2 }
    $1 >= f && $1 <= t + 5 && a == "" { a = $1 - t }
    END { if (b != "" && a != "") printf "the guest stopped between two runs (one ended %.2f s before the gap, the next began at %+.2f s from its end)\n", b, a }' "$LC_D/fio-$_r" | head -n 1)
  if [ -n "$_bad" ]; then
    tb_fail "$_r-fio" "fio run failed ($_bad): $(grep -iE 'error|verify|bad' "$LC_D/fio.fail" 2>/dev/null | head -n 2 | tr '\n' ' ' | cut -c1-160)"
  elif [ -z "$_span" ]; then
    tb_fail "$_r-fio" "$_n fio runs passed, but the loop did not run on across the gap $_gf-$_gt: $(tr '\n' ';' < "$LC_D/fio-$_r" | cut -c1-200)"
  else
    tb_pass "$_r-fio" "$_n fio runs (1 MiB randwrite, verify=crc32c, O_DIRECT) passed, $_span"
  fi
  # The round's pattern reaches the disk now (Dom0 checks it at the next event).
  sync
  # Where the round's time went (one INFO line at the end).
  awk -v r="$_r" -v rs="$_rs" -v e0="$_e0" -v e1="$_e1" -v tf="$_tf" -v tx="$_tx" -v t="$(lc_now)" \
    'BEGIN { printf "%s %.1f+%.1f+%.1f+%.1f+%.1f ", r, e0 - rs, e1 - e0, tf - e1, tx - tf, t - tx }' >> "$LC_D/phases"
}

tb_wait_path /sys/block/xvdb 30
tb_wait_path /sys/class/net/eth0 30
tb_net_up eth0
tb_ping4 eth0
tb_info "$TB_KERNEL $(uname -r), $(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) kB, block devices: $(cd /sys/block && echo *)"
python3 "$LC_D/probe.py" "$LC_DEV" $((16 << 20)) "$LC_D/stop" "$TB_NONCE" > "$LC_D/probe" 2>&1 &
LC_PP=$!
lc_fio_loop &
LC_FP=$!
python3 /tb/tbxfer.py echo "$TB_DOM0_IP4" 5001 "lc-$TB_NONCE" "$LC_KIBPS" "$LC_D/stop" \
  > "$LC_D/xfer" 2> "$LC_D/xfer.err" &
LC_XP=$!
# Dom0 looks at the device model before the first round; the clock at the start.
tb_event start
lc_until 30 _lc_clock0
lc_clock clock-start "at the start" 1
i=0
for r in $LC_ROUNDS; do
  lc_round "$r" "$i"
  i=$((i + 1))
done
tb_info "LC-DOWNTIME $TB_KERNEL (the largest gap between the probe's completed O_DIRECT writes+reads, s): $(awk '{ printf "%s %s  ", $1, $2 }' "$LC_D/downtime" 2>/dev/null)"
tb_info "LC-PHASES $TB_KERNEL (s: before the event, the event, until the caught fio run ended, probe and stream results, the rest): $(cat "$LC_D/phases")"
# Our platform driver's account of each resume (the reference kernel has no such lines).
$TB_BB dmesg | grep -E 'xen_platform: suspend [0-9]+: ' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "LC-RESUME $l"; done
tb_event end
touch "$LC_D/stop"
lc_wait "$LC_PP" 30
lc_wait "$LC_FP" 60
lc_wait "$LC_XP" 60
# The stream after the last round has no check of its own; it must not have failed either.
grep '^ERROR' "$LC_D/xfer" | while read -r l; do tb_fail xfer "$l"; done
tb_ping4 eth0
tb_disk_rw "$LC_DEV"
