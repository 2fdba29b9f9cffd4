# shellcheck shell=sh
# Guest side of balloon-memset and balloon-memset-ref (see their scenario.conf); root is the
# Debian disk on /dev/xvda1 by now. Dom0's first `xl mem-set` lowers memory/target by exactly
# TB_MEMORY/2 MiB (dom0.sh computes it from the domain's own starting values), the second one
# restores it.
BM_SYS=/sys/devices/system/xen_memory/xen_memory0
BM_DMIB=$((TB_MEMORY / 2))        # MiB taken away by the first xl mem-set (dom0.sh: the same)
BM_DK=$((BM_DMIB * 1024))
BM_KMIB=32                        # MiB of the guest's own target_kb step (dom0.sh: the same)
BM_KB=$((BM_KMIB * 1024))
BM_LIMIT=${BM_LIMIT:-30}          # s for each step (scenario.conf)
_bm_dmesg() { $TB_BB dmesg | grep -E "$1" | sed 's/^\[[^]]*\] //'; }
_bm_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
_bm_free() { $TB_BB free -k 2>/dev/null | awk '$1 == "Mem:" { print $2 }'; }
_bm_sys() { cat "$BM_SYS/$1" 2>/dev/null; }
_bm_num() { case $1 in ''|*[!0-9]*) return 1 ;; esac; }
_bm_abs() { if [ "$1" -lt 0 ]; then echo $((-$1)); else echo "$1"; fi; }
# centiseconds since boot, and centiseconds as "S.d"
_bm_cs() { _u=$(cut -d' ' -f1 /proc/uptime); echo $(( ${_u%.*} * 100 + 1${_u#*.} - 100 )); }
_bm_secs() { echo "$(($1 / 100)).$(($1 % 100 / 10))"; }
# _bm_poll le|ge KIB SECS: MemTotal every 0.25 s until it is <= (le) or >= (ge) KIB, at most SECS;
# prints "ok|timeout CENTISECONDS MEMTOTAL".
_bm_poll() {
  _p0=$(_bm_cs)
  while :; do
    _pm=$(_bm_kb MemTotal)
    _pt=$(( $(_bm_cs) - _p0 ))
    if { [ "$1" = le ] && [ "$_pm" -le "$2" ]; } || { [ "$1" = ge ] && [ "$_pm" -ge "$2" ]; }; then
      echo "ok $_pt $_pm"; return 0
    fi
    if [ "$_pt" -ge $(($3 * 100)) ]; then echo "timeout $_pt $_pm"; return 0; fi
    $TB_BB usleep 250000
  done
}
# bm_start EVENT le|ge KIB: poll MemTotal in the background until it passes KIB, at most BM_LIMIT
# + 2 s (the event's round trip to Dom0); started just before the change is asked for.
bm_start() { _bm_poll "$2" "$3" $((BM_LIMIT + 2)) > "/tmp/bm-$1" & _pp=$!; }
# bm_end EVENT CHECK le|ge KIB WHAT: the event (Dom0 changes the target and waits for xl list in its
# hook), then the poll's result; FAIL CHECK if MemTotal did not pass KIB. Sets BM_CS (centiseconds).
bm_end() {
  tb_event "$1"
  wait "$_pp"
  read -r _st BM_CS _m < "/tmp/bm-$1"
  if [ "$_st" = ok ]; then
    tb_info "BALLOON-TIME $TB_KERNEL $1: guest MemTotal $5 in $(_bm_secs "$BM_CS") s (polled every 0.25 s from the request, the event's round trip to Dom0 included)"
    return 0
  fi
  tb_fail "$2" "$5: MemTotal still $_m kB after $(_bm_secs "$BM_CS") s (want $3 $4 kB)"
  return 1
}
# bm_memtotal CHECK WANT_KB WHAT: MemTotal and free's total at WANT_KB (±2 MiB) now that Dom0
# saw xl list at the target.
bm_memtotal() {
  _m=$(_bm_kb MemTotal) _f=$(_bm_free)
  if [ "$(_bm_abs $((_m - $2)))" -le 2048 ] && _bm_num "$_f" && [ "$(_bm_abs $((_f - _m)))" -le 1024 ]; then
    tb_pass "$1" "$3: MemTotal $_m kB (want $2 ±2048; free: total $_f kB), 90% of the way in $(_bm_secs "$BM_CS") s"
  else
    tb_fail "$1" "$3: MemTotal $_m kB, free's total '$_f' kB, want $2 kB (±2048)"
  fi
}
# bm_sysfs CHECK WANT_TARGET_KB WANT_BALLOON_KB: Linux's xen_memory0 semantics: target_kb as
# wanted (±1 MiB), target = target_kb * 1024, info/current_kb at target_kb (±1 MiB), and
# info/low_kb + info/high_kb (pages in the balloon) as wanted (±2 MiB).
bm_sysfs() {
  _tk=$(_bm_sys target_kb) _tb=$(_bm_sys target) _ck=$(_bm_sys info/current_kb)
  _lo=$(_bm_sys info/low_kb) _hi=$(_bm_sys info/high_kb)
  _v="target_kb $_tk, target $_tb, current_kb $_ck, low_kb $_lo, high_kb $_hi"
  if ! { _bm_num "$_tk" && _bm_num "$_tb" && _bm_num "$_ck" && _bm_num "$_lo" && _bm_num "$_hi"; }; then
    tb_fail "$1" "$BM_SYS: $_v"; return 1
  fi
  _bad=
  [ "$(_bm_abs $((_tk - $2)))" -le 1024 ] || _bad="$_bad target_kb not $2;"
  [ "$_tb" = $((_tk * 1024)) ] || _bad="$_bad target not target_kb*1024;"
  [ "$(_bm_abs $((_ck - _tk)))" -le 1024 ] || _bad="$_bad current_kb not at target_kb;"
  [ "$(_bm_abs $((_lo + _hi - $3)))" -le 2048 ] || _bad="$_bad low_kb+high_kb not $3;"
  if [ -z "$_bad" ]; then tb_pass "$1" "$_v"; else tb_fail "$1" "$_v:$_bad"; fi
}
# bm_fio CHECK OFFSET_MIB: 16 MiB of random writes with crc32c verification on xvdb.
bm_fio() {
  if _o=$(fio --name=bm --filename=/dev/xvdb --offset="$2"m --size=16m --rw=randwrite --bs=16k \
      --direct=1 --ioengine=libaio --iodepth=8 --verify=crc32c --verify_fatal=1 2>&1); then
    tb_pass "$1" "16 MiB randwrite+verify crc32c on xvdb at $2 MiB, MemTotal $(_bm_kb MemTotal) kB: $(echo "$_o" | grep -o 'write: IOPS=[^,]*, BW=[^ ]*' | head -n 1)"
  else
    tb_fail "$1" "fio status $?: $(echo "$_o" | grep -iE 'error|verify|bad' | head -n 2 | tr '\n' ' ' | cut -c1-160)"
  fi
}

tb_wait_path /sys/block/xvdb 30
tb_wait_path /sys/class/net/eth0 30
tb_net_up eth0

# The balloon's sysfs at the start: idle (current_kb at target_kb), MemTotal (managed pages) below
# target_kb (Linux: the RAM pages the guest sees, less what memory/target leaves out at boot, e.g.
# video RAM; the balloon holds that from the start, b0).
m0=$(_bm_kb MemTotal)
tk0=$(_bm_sys target_kb) tb0=$(_bm_sys target) ck0=$(_bm_sys info/current_kb)
b0=$(( $(_bm_sys info/low_kb || echo 0) + $(_bm_sys info/high_kb || echo 0) ))
miss=
for f in target_kb target info/current_kb info/low_kb info/high_kb; do [ -r "$BM_SYS/$f" ] || miss="$miss $f"; done
if [ -n "$miss" ] || ! _bm_num "$tk0" || ! _bm_num "$ck0"; then
  tb_fail balloon-sysfs "$BM_SYS: missing:${miss:- none}; target_kb '$tk0', current_kb '$ck0'"
elif [ "$tb0" = $((tk0 * 1024)) ] && [ "$(_bm_abs $((ck0 - tk0)))" -le 1024 ] && [ "$m0" -le "$tk0" ]; then
  tb_pass balloon-sysfs "$BM_SYS: target_kb $tk0, target $tb0, current_kb $ck0, low+high_kb $b0; MemTotal $m0 kB"
else
  tb_fail balloon-sysfs "$BM_SYS: target_kb $tk0, target $tb0, current_kb $ck0, low+high_kb $b0; MemTotal $m0 kB (want target = target_kb*1024, current_kb = target_kb, MemTotal <= target_kb)"
fi
_bm_num "$tk0" || tk0=0
tb_info "start ($TB_KERNEL, $(uname -r)): MemTotal $m0 kB, free: $($TB_BB free -k | awk '$1 == "Mem:"' | tr -s ' ')"

# Down by half: xl mem-set (Dom0).
bm_start half le $((m0 - BM_DK * 9 / 10))
if bm_end half memtotal-down le $((m0 - BM_DK * 9 / 10)) "down by 90% of $BM_DMIB MiB"; then
  bm_memtotal memtotal-down $((m0 - BM_DK)) "down by $BM_DMIB MiB"
fi
bm_sysfs sysfs-down $((tk0 - BM_DK)) $((b0 + BM_DK))
tb_info "after xl mem-set down: free: $($TB_BB free -k | awk '$1 == "Mem:"' | tr -s ' ')"
bm_fio fio-down 0
tb_ping4 eth0

# Back up: xl mem-set to the starting value.
bm_start full ge $((m0 - BM_DK / 10))
if bm_end full memtotal-up ge $((m0 - BM_DK / 10)) "back up by 90% of $BM_DMIB MiB"; then
  bm_memtotal memtotal-up "$m0" "back up by $BM_DMIB MiB"
fi
bm_sysfs sysfs-up "$tk0" "$b0"
bm_fio fio-up 24
tb_ping4 eth0

# The guest's own target (Linux: a write to target_kb sets the balloon's target directly, not
# memory/target): BM_KMIB MiB down through target_kb, Dom0's xl list must follow; back through target
# (bytes).
m1=$(_bm_kb MemTotal)
kt=$((tk0 - BM_KB))
bm_start kb_down le $((m1 - BM_KB * 9 / 10))
if echo "$kt" > "$BM_SYS/target_kb" && [ "$(_bm_sys target_kb)" = "$kt" ]; then
  tb_pass kb-write "target_kb $tk0 -> $kt written, reads back $kt (target $(_bm_sys target))"
else
  tb_fail kb-write "wrote $kt to target_kb, reads '$(_bm_sys target_kb)'"
fi
if bm_end kb_down memtotal-kb-down le $((m1 - BM_KB * 9 / 10)) "down by 90% of $BM_KMIB MiB (target_kb)"; then
  bm_memtotal memtotal-kb-down $((m1 - BM_KB)) "down by $BM_KMIB MiB (target_kb)"
fi
bm_start kb_up ge $((m1 - BM_KB / 10))
if echo $((tk0 * 1024)) > "$BM_SYS/target" && [ "$(_bm_sys target_kb)" = "$tk0" ]; then
  tb_pass bytes-write "target $((tk0 * 1024)) written, target_kb reads back $tk0"
else
  tb_fail bytes-write "wrote $((tk0 * 1024)) to target, target_kb reads '$(_bm_sys target_kb)'"
fi
if bm_end kb_up memtotal-kb-up ge $((m1 - BM_KB / 10)) "back up by 90% of $BM_KMIB MiB (target)"; then
  bm_memtotal memtotal-kb-up "$m1" "back up by $BM_KMIB MiB (target)"
fi
tb_info "end: $(_bm_sys target_kb) target_kb, $(_bm_sys info/current_kb) current_kb, MemTotal $(_bm_kb MemTotal) kB"
_bm_dmesg 'balloon' | tail -n 20 | while read -r l; do tb_info "$l"; done
