# shellcheck shell=bash
# Dom0 side of events-vectors and events-intx (see their scenario.conf).
EV_PID=''
dom0_before() {
  tb_backend_max_queues 4 4
  python3 "$P/tb/tbxfer.py" serve 5001 > "$OUT/tbxfer.log" 2>&1 &
  EV_PID=$!
}
dom0_after() { [ -z "$EV_PID" ] || kill "$EV_PID" 2>/dev/null; }
# Which vCPU Xen notifies for each queue port of xvdb (51728) and of vif 0: Xen's own event
# channel dump ('e' debug key: "PORT [p/m/s]: s=STATE n=VCPU ..."), for this domain.
dom0_event_notify() {
  local fe=/local/domain/$DOMID/device q p k want got='' bad=''
  xl dmesg -c > /dev/null 2>&1
  xl debug-keys e
  sleep 1
  xl dmesg > "$OUT/evtchn-dump.txt" 2>&1
  # port -> notify vCPU, from this domain's section of the dump
  # ("(XEN) [  114.03] PORT [p/m/s]: s=STATE n=VCPU x=.. d=.. p=..").
  declare -A n=()
  while read -r p v; do n[$p]=$v; done < <(awk -v d="$DOMID" '
    /Event channel information for domain/ { sec = ($NF == d ":"); next }
    sec && / s=[0-9]+ n=[0-9]+/ {
      line = $0
      sub(/^\(XEN\) /, "", line)
      sub(/^\[[^]]*\] */, "", line)
      split(line, f, " ")
      v = ""
      for (i = 2; i <= 8; i++) if (f[i] ~ /^n=[0-9]+$/) { v = substr(f[i], 3); break }
      if (f[1] ~ /^[0-9]+$/ && v != "") print f[1], v
    }' "$OUT/evtchn-dump.txt")
  if [ "${#n[@]}" = 0 ]; then
    tb_dom0_fail dom0-notify-vcpus "no event channel of domain $DOMID in Xen's dump ($(grep -c . "$OUT/evtchn-dump.txt") lines)"
    return
  fi
  for q in 0 1 2 3; do
    for k in "vbd/51728/queue-$q/event-channel" "vif/0/queue-$q/event-channel-tx" "vif/0/queue-$q/event-channel-rx"; do
      p=$(xenstore-read "$fe/$k" 2>/dev/null) || { bad+=" $k: missing"; continue; }
      v=${n[$p]:-?}
      got+="$k=$p@v$v "
      case $TB_CMDLINE in
        *xen_no_vector_callback*) want=0 ;;
        *) want=$q ;;
      esac
      [ "$v" = "$want" ] || bad+=" $k (port $p) notifies vCPU $v, want $want"
    done
  done
  if [ -z "$bad" ]; then tb_dom0_pass dom0-notify-vcpus "Xen notifies: $got"
  else tb_dom0_fail dom0-notify-vcpus "${bad# }"; fi
}
