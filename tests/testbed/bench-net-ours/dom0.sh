# shellcheck shell=bash
# Dom0 side of the bench-net-* scenarios (scripts/bench-net.sh): an iperf3 server (Dom0's image has
# Debian's iperf3, scripts/testbed.d/build-dom0.sh).
BN_PID=''
dom0_before() {
  iperf3 -s > "$OUT/iperf3-server.log" 2>&1 &
  BN_PID=$!
  sleep 1
  if kill -0 "$BN_PID" 2> /dev/null; then tb_dom0_pass iperf3-server "pid $BN_PID"
  else tb_dom0_fail iperf3-server "$(tail -n 2 "$OUT/iperf3-server.log" | tr '\n' ' ')"; fi
}
dom0_event_stats() {
  log "BENCH-STATS Dom0 vif$DOMID.0: $(ip -s -s link show "vif$DOMID.0" 2>&1 | tr -s ' \n' ' ')"
  # Events the guest's driver sent to netback over the whole run (its notifications).
  log "BENCH-STATS Dom0 interrupts: $(grep -E "vif$DOMID\\.0" /proc/interrupts | awk '{ s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print $NF ": " s }' | tr '\n' ' ')"
}
dom0_after() {
  [ -z "$BN_PID" ] || kill "$BN_PID" 2> /dev/null
  return 0
}
