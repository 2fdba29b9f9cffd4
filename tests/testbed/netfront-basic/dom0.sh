# shellcheck shell=bash
# Dom0 hooks of netfront-basic (see scenario.conf).

# Checked bulk transfers: scripts/testbed.d/tbxfer.py serves them on port 5001 (IPv4 and IPv6);
# each transfer carries its own digests and verdict on its one connection.
NF_PID=''
dom0_before() {
  python3 "$P/tb/tbxfer.py" serve 5001 > "$OUT/tbxfer.log" 2>&1 &
  NF_PID=$!
  log "tbxfer server pid $NF_PID"
}

dom0_event_backend() {
  local s fe k v bad=''
  s=$(tb_backend_state vif 0)
  if [ "$s" = 4 ]; then tb_dom0_pass dom0-backend "vif 0 backend Connected"
  else tb_dom0_fail dom0-backend "vif 0 backend state '$s' (want 4)"; fi
  fe=$(xenstore-read "/local/domain/0/backend/vif/$DOMID/0/frontend" 2>/dev/null)
  for k in multi-queue-num-queues queue-0/tx-ring-ref queue-0/rx-ring-ref queue-0/event-channel-tx \
      queue-0/event-channel-rx queue-1/tx-ring-ref queue-1/rx-ring-ref queue-1/event-channel-tx \
      queue-1/event-channel-rx request-rx-copy feature-sg feature-gso-tcpv4 feature-gso-tcpv6 \
      feature-ipv6-csum-offload feature-rx-notify; do
    v=$(xenstore-read "$fe/$k" 2>/dev/null) || v=missing
    [ "$v" != missing ] && [ "$v" != 0 ] || bad="$bad $k=$v"
  done
  if [ -z "$bad" ]; then
    tb_dom0_pass dom0-keys "$fe: $(for k in multi-queue-num-queues queue-0/tx-ring-ref queue-0/event-channel-tx queue-0/event-channel-rx queue-1/tx-ring-ref request-rx-copy feature-sg feature-gso-tcpv4 feature-gso-tcpv6; do printf '%s=%s ' "$k" "$(xenstore-read "$fe/$k")"; done)"
  else
    tb_dom0_fail dom0-keys "$fe:$bad"
  fi
}

dom0_event_mtumax() {
  local vif=vif$DOMID.0
  ip link set "$vif" mtu 65521 && ip link set xenbr0 mtu 65521
  log "mtu: $(ip -o link show "$vif" | grep -o 'mtu [0-9]*'), xenbr0 $(ip -o link show xenbr0 | grep -o 'mtu [0-9]*')"
}

dom0_event_mtu1500() {
  ip link set xenbr0 mtu 1500; ip link set "vif$DOMID.0" mtu 1500
}

# eth1 with the toolstack's trusted=0: xl 4.17 has no vif 'trusted' option, so Dom0 writes the
# key a toolstack writes into the new frontend directory as soon as libxl has made it, before the
# backend reaches InitWait (netfront reads it at connect; a late write fails untrusted-key, it
# cannot make it pass).
dom0_event_attach() {
  local o fe=/local/domain/$DOMID/device/vif/1 t
  tb_untrusted_early "$fe"
  local w=$!
  if o=$(timeout 60 xl network-attach "$DOM" type=vif bridge=xenbr0 mac=00:16:3e:54:42:02 2>&1); then
    log "network-attach done: $o"
  else
    tb_dom0_fail attach-eth1 "xl network-attach: $(echo "$o" | tail -n 1)"
  fi
  wait "$w"
  t=$(xenstore-read "$fe/trusted" 2>/dev/null)
  [ "$t" = 0 ] || tb_dom0_fail untrusted-key "$fe/trusted='$t', not 0"
}

dom0_event_detach() {
  local o t0=$SECONDS
  if o=$(timeout 60 xl network-detach "$DOM" 1 2>&1); then
    log "network-detach done in $((SECONDS - t0)) s"
  else
    tb_dom0_fail detach-eth1 "xl network-detach after $((SECONDS - t0)) s: $(echo "$o" | tail -n 1)"
  fi
}

# Backend restarts: netback unbound from vif 0 and bound again (what a Dom0 admin or a driver
# reload does), then what libxl's hotplug script does for the new vif (the test bed's vif-bridge:
# bridge port up, hotplug-status connected). With "closed", the backend is left Closed while
# unbound (online stays 1), as a backend without re-bind support or a restarted driver domain
# leaves it, and netback is bound only once the frontend has gone to Initialising.
nf_restart() {
  local dev=vif-$DOMID-0 drv=/sys/bus/xen-backend/drivers/vif
  local be=/local/domain/0/backend/vif/$DOMID/0 fe i check=dom0-$1
  fe=$(xenstore-read "$be/frontend")
  if ! echo "$dev" > "$drv/unbind"; then
    tb_dom0_fail "$check" "unbind $dev from netback failed"; return
  fi
  log "unbound $dev: backend state $(xenstore-read "$be/state"), online $(xenstore-read "$be/online")"
  if [ "$1" = restart ]; then
    xenstore-write "$be/state" 6
    for i in $(seq 100); do [ "$(xenstore-read "$fe/state")" = 1 ] && break; sleep 0.2; done
    log "backend set Closed; frontend state $(xenstore-read "$fe/state") after $((i / 5)) s"
  else
    sleep 3
  fi
  if ! echo "$dev" > "$drv/bind"; then
    tb_dom0_fail "$check" "bind $dev to netback failed"; return
  fi
  for i in $(seq 50); do ip link show "vif$DOMID.0" > /dev/null 2>&1 && break; sleep 0.2; done
  if ! vif=vif$DOMID.0 XENBUS_PATH=$be /etc/xen/scripts/vif-bridge online; then
    tb_dom0_fail "$check" "vif$DOMID.0 not added to the bridge: $(ip -o link show "vif$DOMID.0" 2>&1)"
  fi
  log "bound $dev again: backend state $(xenstore-read "$be/state"), frontend $(xenstore-read "$fe/state")"
}
dom0_event_rebind() { nf_restart rebind; }
dom0_event_restart() { nf_restart restart; }

dom0_event_restarted() {
  local s
  s=$(tb_backend_state vif 0)
  if [ "$s" = 4 ]; then tb_dom0_pass dom0-restart "vif 0 backend Connected again after netback unbind/bind"
  else tb_dom0_fail dom0-restart "vif 0 backend state '$s' after the restart (want 4)"; fi
}

dom0_after() {
  [ -z "$NF_PID" ] || kill "$NF_PID" 2> /dev/null
}
