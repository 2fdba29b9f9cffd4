# shellcheck shell=bash
# Dom0 side of balloon-memset and balloon-memset-ref (see their scenario.conf). The domain's own
# starting values are read when the guest asks for the first step: xl list's Mem (MiB: the pages
# Xen counts for the domain), memory/target and memory/videoram (KiB; `xl mem-set M` writes
# memory/target = M - videoram). The first step lowers memory/target by TB_MEMORY/2 MiB (the guest
# computes the same), the second restores it; each time xl list's Mem must follow.
BM_DMIB=$((TB_MEMORY / 2))
BM_KMIB=32                 # MiB of the guest's own target_kb step (guest.sh: the same)
BM_LIMIT=${BM_LIMIT:-30}   # s for each step (scenario.conf)
BM_M0='' BM_T0='' BM_V='' BM_MFULL=''
bm_mem() { xl list "$DOMID" 2>/dev/null | awk 'NR == 2 { print $3 }'; }
bm_xs() { xenstore-read "/local/domain/$DOMID/memory/$1" 2>/dev/null; }
bm_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# bm_follow CHECK WHAT FROM_MIB WANT_MIB T0_MS: xl list's Mem every second until it is within
# 2 MiB of WANT_MIB, at most BM_LIMIT s after T0_MS (when the change was made); 2 s later it must
# still be within 4 MiB (no overshoot, no drift back).
bm_follow() {
  local check=$1 what=$2 from=$3 want=$4 t0=$5 m ms st
  while :; do
    m=$(bm_mem)
    ms=$(( $(bm_ms) - t0 ))
    if [[ $m =~ ^[0-9]+$ ]] && ((m >= want - 2 && m <= want + 2)); then break; fi
    if ((ms >= BM_LIMIT * 1000)); then
      tb_dom0_fail "$check" "$what: xl list Mem of domain $DOMID is '${m:-none}' MiB after $((ms / 1000)) s, want $want (±2), was $from"
      return 1
    fi
    sleep 1
  done
  sleep 2
  st=$(bm_mem)
  if [[ $st =~ ^[0-9]+$ ]] && ((st >= want - 4 && st <= want + 4)); then
    tb_dom0_pass "$check" "BALLOON-TIME $TB_KERNEL $what: xl list Mem $from -> $m MiB (want $want) within $((ms / 1000)).$((ms % 1000 / 100)) s (polled every second), $st MiB 2 s later"
  else
    tb_dom0_fail "$check" "$what: xl list Mem $from -> $m MiB (want $want) in $((ms / 1000)) s, but $st MiB 2 s later"
  fi
}
# bm_memset CHECK WHAT KIB WANT_MIB: xl mem-set the domain to KIB, then follow xl list.
bm_memset() {
  local check=$1 what=$2 kb=$3 want=$4 from o t0
  from=$(bm_mem)
  t0=$(bm_ms)
  if ! o=$(timeout 60 xl mem-set "$DOMID" "${kb}k" 2>&1); then
    tb_dom0_fail "$check" "xl mem-set $DOMID ${kb}k: $(echo "$o" | tail -n 1)"
    return 1
  fi
  log "xl mem-set $DOMID ${kb}k ($what) returned after $(( $(bm_ms) - t0 )) ms: memory/target $(bm_xs target) KiB"
  bm_follow "$check" "$what (xl mem-set ${kb}k)" "$from" "$want" "$t0"
  log "after $what: $(xl list "$DOMID" 2>/dev/null | tail -n 1), maxmem $(xl list -l "$DOMID" 2>/dev/null | grep -m 1 -o '"max_memkb": [0-9]*')"
}

dom0_event_half() {
  BM_M0=$(bm_mem) BM_T0=$(bm_xs target) BM_V=$(bm_xs videoram)
  BM_V=${BM_V:-0}
  log "start: xl list Mem ${BM_M0} MiB, memory/target ${BM_T0} KiB, static-max $(bm_xs static-max) KiB, videoram ${BM_V} KiB; $(xl list "$DOMID" 2>/dev/null | tail -n 1)"
  if ! [[ $BM_M0 =~ ^[0-9]+$ && $BM_T0 =~ ^[0-9]+$ && $BM_V =~ ^[0-9]+$ ]] || ((BM_M0 <= BM_DMIB)); then
    tb_dom0_fail dom0-xl-down "starting values: xl list Mem '$BM_M0' MiB, memory/target '$BM_T0' KiB, videoram '$BM_V' KiB"
    return
  fi
  bm_memset dom0-xl-down "down by $BM_DMIB MiB" $((BM_T0 + BM_V - BM_DMIB * 1024)) $((BM_M0 - BM_DMIB))
  local t
  t=$(bm_xs target)
  [ "$t" = $((BM_T0 - BM_DMIB * 1024)) ] || tb_dom0_fail dom0-xl-down "memory/target is '$t' KiB after xl mem-set, want $((BM_T0 - BM_DMIB * 1024))"
}

dom0_event_full() {
  if [ -z "$BM_T0" ]; then tb_dom0_fail dom0-xl-up "no starting values (event half)"; return; fi
  bm_memset dom0-xl-up "back up by $BM_DMIB MiB" $((BM_T0 + BM_V)) "$BM_M0"
  BM_MFULL=$(bm_mem)
  local t
  t=$(bm_xs target)
  [ "$t" = "$BM_T0" ] || tb_dom0_fail dom0-xl-up "memory/target is '$t' KiB after xl mem-set, want $BM_T0"
}

# The guest wrote target_kb BM_KMIB MiB lower just before it asked: the time counts from here (a lower
# bound). memory/target stays the toolstack's (Linux's sysfs target is the guest's own).
dom0_event_kb_down() {
  local m=${BM_MFULL:-$BM_M0} t
  [[ $m =~ ^[0-9]+$ ]] || { tb_dom0_fail dom0-kb-down "no xl list Mem from the steps before"; return; }
  bm_follow dom0-kb-down "guest's target_kb down by $BM_KMIB MiB (from the event)" "$m" $((m - BM_KMIB)) "$(bm_ms)"
  t=$(bm_xs target)
  [ "$t" = "$BM_T0" ] || tb_dom0_fail dom0-kb-down "memory/target changed to '$t' KiB (was $BM_T0)"
}

dom0_event_kb_up() {
  local m=${BM_MFULL:-$BM_M0}
  [[ $m =~ ^[0-9]+$ ]] || { tb_dom0_fail dom0-kb-up "no xl list Mem from the steps before"; return; }
  bm_follow dom0-kb-up "guest's target back up by $BM_KMIB MiB (from the event)" $((m - BM_KMIB)) "$m" "$(bm_ms)"
}
