# shellcheck shell=bash
# Dom0 hooks of netfront-basic (see scenario.conf).

# A TCP server for checksummed bulk transfers (python3 is in Dom0): port 5001 swallows what it is
# sent and records its sha256 and length; port 5003 sends SIZE bytes (a random 4 MiB block
# repeated) and records what it sent; port 5002 answers "<last rx sha> <len> <last tx sha> <len>".
NF_PY=/tmp/nf-server.py NF_PID=''
cat > "$NF_PY" <<'PY'
import hashlib, os, socket, sys, threading
state = {"rx": "none 0", "tx": "none 0"}
lock = threading.Lock()
block = os.urandom(4 << 20)
def serve(port, fn):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(4)
    while True:
        c, _ = s.accept()
        try:
            fn(c)
        except Exception as e:
            print("nf-server", port, "error", e, flush=True)
        finally:
            c.close()
def sink(c):
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b); n += len(b)
    with lock:
        state["rx"] = "%s %d" % (h.hexdigest(), n)
    print("nf-server rx", state["rx"], flush=True)
def source(c):
    size = int(c.recv(64).decode().strip() or "0")
    h, n = hashlib.sha256(), 0
    while n < size:
        b = block[: min(len(block), size - n)]
        c.sendall(b); h.update(b); n += len(b)
    with lock:
        state["tx"] = "%s %d" % (h.hexdigest(), n)
    c.shutdown(socket.SHUT_WR)
    print("nf-server tx", state["tx"], flush=True)
def report(c):
    with lock:
        c.sendall(("%s %s\n" % (state["rx"], state["tx"])).encode())
for p, f in ((5001, sink), (5003, source), (5002, report)):
    threading.Thread(target=serve, args=(p, f), daemon=True).start()
threading.Event().wait()
PY

dom0_before() {
  python3 "$NF_PY" > "$OUT/nf-server.log" 2>&1 &
  NF_PID=$!
  log "nf-server pid $NF_PID"
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

dom0_event_mtu9000() {
  local vif=vif$DOMID.0
  ip link set "$vif" mtu 9000 && ip link set xenbr0 mtu 9000
  log "mtu: $(ip -o link show "$vif" | grep -o 'mtu [0-9]*'), xenbr0 $(ip -o link show xenbr0 | grep -o 'mtu [0-9]*')"
}

dom0_event_mtu1500() {
  ip link set xenbr0 mtu 1500; ip link set "vif$DOMID.0" mtu 1500
}

dom0_event_attach() {
  local o
  if o=$(timeout 60 xl network-attach "$DOM" type=vif bridge=xenbr0 mac=00:16:3e:54:42:02 2>&1); then
    log "network-attach done: $o"
  else
    tb_dom0_fail attach-eth1 "xl network-attach: $(echo "$o" | tail -n 1)"
  fi
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
  rm -f "$NF_PY"
}
