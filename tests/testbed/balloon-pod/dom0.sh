# shellcheck shell=bash
# Dom0 side of balloon-pod (see scenario.conf). Xen's console is kept in $OUT/xl-dmesg-balloon.log
# (each 'q' dump first saves and clears it, so that the dump is read whole).
bp_keep() { xl dmesg -c >> "$OUT/xl-dmesg-balloon.log" 2>&1; }
# bp_pod TAG: "ENTRIES CACHESIZE" of this domain from Xen's 'q' dump (p2m_pod_dump_data's
# "    PoD entries=N cachesize=N" in the part "Memory pages belonging to domain N:"), in pages.
bp_pod() {
  bp_keep
  xl debug-keys q
  sleep 2
  xl dmesg > "$OUT/xl-q-$1.txt" 2>&1
  awk -v d="$DOMID" '
    /Memory pages belonging to domain/ { sec = ($NF == d ":"); next }
    sec && /PoD entries=/ { l = $0; sub(/.*PoD entries=/, "", l); split(l, a, /[ =]+/); r = a[1] " " a[3]; sec = 0 }
    END { print r }' "$OUT/xl-q-$1.txt"
}
# bp_crashes: Xen's lines about this domain running out of PoD memory or being crashed.
bp_crashes() {
  { cat "$OUT/xl-dmesg-balloon.log" 2>/dev/null; xl dmesg 2>/dev/null; } \
    | grep -E "Dom$DOMID out of PoD memory|out of populate-on-demand memory|domain_crash called|Domain $DOMID \(vcpu#[0-9]+\) crashed|Domain $DOMID reported crashed|d${DOMID}v[0-9]+ .*[Cc]rash" \
    | sort -u | head -n 3
}
# bp_check CHECK TAG: the domain is alive and not crashed, xl list's Mem near memory, its PoD
# entries covered by its PoD cache (else touching them all would crash it), no crash line.
bp_check() {
  local check=$1 line mem state e c k bad=''
  line=$(xl list "$DOMID" 2>/dev/null | awk 'NR == 2')
  mem=$(awk '{ print $3 }' <<< "$line") state=$(awk '{ print $5 }' <<< "$line")
  if [ -z "$line" ]; then bad+=" domain $DOMID not in xl list;"
  elif [[ $state == *c* ]]; then bad+=" state $state (crashed);"; fi
  if ! [[ $mem =~ ^[0-9]+$ ]] || ((mem < TB_MEMORY - 16 || mem > TB_MEMORY + 2)); then
    bad+=" xl list Mem '$mem' MiB, want $((TB_MEMORY - 16))..$((TB_MEMORY + 2));"
  fi
  read -r e c <<< "$(bp_pod "$2")"
  if ! [[ $e =~ ^[0-9]+$ && $c =~ ^[0-9]+$ ]]; then
    bad+=" no PoD line for domain $DOMID in Xen's 'q' dump;"
  elif ((e > c + 512)); then
    bad+=" PoD entries $e > cachesize $c (+512): the guest can touch $(( (e - c) / 256 )) MiB more than Xen backs;"
  fi
  k=$(bp_crashes)
  [ -z "$k" ] || bad+=" xl dmesg: $(tr '\n' '|' <<< "$k" | cut -c1-200);"
  log "$2: $line; PoD entries=$e cachesize=$c; memory/target $(xenstore-read "/local/domain/$DOMID/memory/target" 2>/dev/null) KiB, static-max $(xenstore-read "/local/domain/$DOMID/memory/static-max" 2>/dev/null) KiB"
  if [ -z "$bad" ]; then
    tb_dom0_pass "$check" "$2: domain $DOMID state $state, xl list Mem $mem MiB, PoD entries $e <= cachesize $c pages, no PoD or crash line in xl dmesg"
  else
    tb_dom0_fail "$check" "$2:${bad%;}"
  fi
}
dom0_before() { log "xl info: $(xl info 2>/dev/null | grep -E '^(total|free)_memory' | tr -s ' ' | tr '\n' ' ')"; }
dom0_event_pod_before() { bp_check dom0-pod-before before-fill; }
dom0_event_pod_after() { bp_check dom0-pod-after after-fill; }
dom0_after() {
  local k
  k=$(bp_crashes)
  if [ -z "$k" ]; then
    tb_dom0_pass dom0-pod-dmesg "no 'out of PoD memory' or domain_crash line for domain $DOMID in xl dmesg (whole run)"
  else
    tb_dom0_fail dom0-pod-dmesg "xl dmesg: $(tr '\n' '|' <<< "$k" | cut -c1-200)"
  fi
}
