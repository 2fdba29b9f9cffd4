# shellcheck shell=bash
# Dom0 side of hostile-backend (see scenario.conf): a backend made of xenstore writes alone.
# Each dom0_event_hx_NAME creates one fresh device, plays the case, records check xs-NAME from
# the frontend's nodes and removes the device again (frontend directory, backend directory,
# error node), so that the guest can check it went.
HX=/local/domain/0/backend/tb-hostile
hx_fe() { echo "/local/domain/$DOMID/device/$1/$2"; }
hx_be() { echo "$HX/$1/$DOMID/$2"; }
hx_err() { echo "/local/domain/$DOMID/error/device/$1/$2/error"; }
xr() { xenstore-read "$1" 2> /dev/null; }

# hx_wait PATH "V1 V2" SECS: wait until node PATH reads one of the values; prints the last value
# read ("none" if the node is missing), status 1 on timeout.
hx_wait() {
  local n=$(($3 * 10)) v=''
  while ((n-- > 0)); do
    v=$(xr "$1")
    [[ " $2 " == *" $v "* ]] && { echo "$v"; return 0; }
    sleep 0.1
  done
  echo "${v:-none}"
  return 1
}

# hx_create TYPE ID [KEY=VALUE ...]: the backend directory (state Initialising, online, the KEYs),
# readable by the guest, then the frontend directory as the toolstack makes it: owned by the guest,
# with backend and backend-id written last (the guest's xen bus adds the device when they appear).
# HX_MAC: a vif's mac.
hx_create() {
  local t=$1 id=$2 fe be a
  shift 2
  fe=$(hx_fe "$t" "$id") be=$(hx_be "$t" "$id")
  local kv=("$be/frontend" "$fe" "$be/frontend-id" "$DOMID" "$be/online" 1 "$be/state" 1)
  for a in "$@"; do kv+=("$be/${a%%=*}" "${a#*=}"); done
  xenstore-write "${kv[@]}"
  xenstore-chmod -r "$be" n0 "r$DOMID"
  xenstore-write "$fe/state" 1
  xenstore-chmod -r "$fe" "n$DOMID" r0
  case $t in
    vbd) xenstore-write "$fe/virtual-device" "$id" "$fe/device-type" disk ;;
    vif) xenstore-write "$fe/handle" "$id" "$fe/mac" "${HX_MAC:-00:16:3e:5a:00:0$id}" ;;
  esac
  xenstore-write "$fe/backend-id" 0 "$fe/backend" "$be"
}

# hx_close TYPE ID: the backend detaches as the toolstack's (online 0, Closing, Closed); prints
# the frontend's state 20 s later at most (6 expected).
hx_close() {
  local fe be
  fe=$(hx_fe "$1" "$2") be=$(hx_be "$1" "$2")
  xenstore-write "$be/online" 0 "$be/state" 5
  sleep 0.5
  xenstore-write "$be/state" 6
  hx_wait "$fe/state" 6 20
}

# hx_remove TYPE ID: the device's nodes go (the guest's xen bus removes the device).
hx_remove() {
  xenstore-rm "$(hx_fe "$1" "$2")" 2> /dev/null
  xenstore-rm "$(hx_be "$1" "$2")" 2> /dev/null
  xenstore-rm "/local/domain/$DOMID/error/device/$1/$2" 2> /dev/null
}

# hx_refused NAME ID KEY=VALUE...: a vbd whose backend announces Connected with these keys
# (sectors 131072, sector-size 512, info 0 unless given): the frontend must refuse it as
# xenbus_dev_fatal does, "22 ..." in its error node and Closing, then Closed after the backend.
hx_refused() {
  local name=$1 id=$2 fe be st err fin a
  shift 2
  fe=$(hx_fe vbd "$id") be=$(hx_be vbd "$id")
  hx_create vbd "$id"
  xenstore-write "$be/state" 2
  if ! st=$(hx_wait "$fe/state" 3 30); then
    tb_dom0_fail "xs-$name" "frontend never Initialised after the backend's InitWait (state $st)"
    hx_remove vbd "$id"
    return
  fi
  local kv=("$be/sectors" 131072 "$be/sector-size" 512 "$be/info" 0)
  for a in "$@"; do kv+=("$be/${a%%=*}" "${a#*=}"); done
  xenstore-write "${kv[@]}" "$be/state" 4
  st=$(hx_wait "$fe/state" 5 30)
  err=$(xr "$(hx_err vbd "$id")")
  fin=$(hx_close vbd "$id")
  hx_remove vbd "$id"
  if [ "$st" = 5 ] && [[ $err == "22 "* ]] && [ "$fin" = 6 ]; then
    tb_dom0_pass "xs-$name" "$*: frontend Closing with error node '$err', Closed after the backend"
  else
    tb_dom0_fail "xs-$name" "$*: frontend state $st (want 5), error node '${err:-none}' (want '22 ...'), state after the backend closed $fin (want 6)"
  fi
}

dom0_event_hx_sectors_abc() { hx_refused sectors-abc 51728 sectors=abc; }
dom0_event_hx_sectors_zero() { hx_refused sectors-zero 51744 sectors=0; }
dom0_event_hx_sector_size_3() { hx_refused sector-size-3 51760 sector-size=3; }

# hx_rings FE: the frontend's blkif ring keys as "queues order refs" (refs: ring-ref* nodes in all).
hx_rings() {
  local fe=$1 nq order refs=0 q d
  nq=$(xr "$fe/multi-queue-num-queues") || nq=1
  order=$(xr "$fe/ring-page-order") || order=0
  for ((q = 0; q < nq && q < 64; q++)); do
    d=$fe
    ((nq > 1)) && d=$fe/queue-$q
    refs=$((refs + $(xenstore-list "$d" 2> /dev/null | grep -c '^ring-ref')))
  done
  echo "$nq $order $refs"
}

# hx_bounded NAME ID KEY=VALUE CHECK: the backend offers an absurd limit at InitWait; once the
# frontend is Initialised its ring keys are checked with CHECK (an arithmetic test on nq, order,
# refs), and one ring-ref per page of every queue; then the backend closes.
hx_bounded() {
  local name=$1 id=$2 key=$3 check=$4 fe be st nq order refs fin
  fe=$(hx_fe vbd "$id") be=$(hx_be vbd "$id")
  hx_create vbd "$id" "$key"
  xenstore-write "$be/state" 2
  st=$(hx_wait "$fe/state" 3 30)
  read -r nq order refs < <(hx_rings "$fe")
  fin=$(hx_close vbd "$id")
  hx_remove vbd "$id"
  if [ "$st" = 3 ] && [[ $nq =~ ^[0-9]+$ && $order =~ ^[0-9]+$ ]] && (("$check")) &&
    ((refs == nq * (1 << order))) && [ "$fin" = 6 ]; then
    tb_dom0_pass "xs-$name" "$key: $nq queue(s), ring-page-order $order, $refs ring-ref(s); Closed after the backend"
  else
    tb_dom0_fail "xs-$name" "$key: state $st (want 3), queues $nq, ring-page-order $order, $refs ring-ref(s) (want $check and one per page), state after close $fin"
  fi
}

# Our max_ring_page_order is 4 (the guest's command line) and Xen's limit is 4: exactly 4.
dom0_event_hx_ring_order_30() { hx_bounded ring-order-30 51776 max-ring-page-order=30 'order == 4'; }
# TB_VCPUS=2: at most 2 queues, whatever the backend offers (our max_queues default is 4).
dom0_event_hx_blk_queues_100000() { hx_bounded blk-queues-100000 51792 multi-queue-max-queues=100000 'nq >= 1 && nq <= 2'; }

# Backend state 1 -> 4 -> 6 -> 2 -> 4 in quick succession (no sectors: any connect must fail).
dom0_event_hx_state_flap() {
  local id=51808 be fin mid
  be=$(hx_be vbd $id)
  hx_create vbd $id
  sleep 1
  for s in 4 6 2 4; do xenstore-write "$be/state" $s; done
  sleep 3
  mid=$(xr "$(hx_fe vbd $id)/state")
  fin=$(hx_close vbd $id)
  hx_remove vbd $id
  if [ "$fin" = 6 ]; then
    tb_dom0_pass xs-state-flap "backend 1 4 6 2 4: frontend state $mid 3 s later, Closed after the backend closed"
  else
    tb_dom0_fail xs-state-flap "backend 1 4 6 2 4: frontend state $mid, then $fin after the backend closed (want 6)"
  fi
}

# The backend directory vanishes while the frontend is Initialised.
dom0_event_hx_backend_removed() {
  local id=51824 fe be st after
  fe=$(hx_fe vbd $id) be=$(hx_be vbd $id)
  hx_create vbd $id
  xenstore-write "$be/state" 2
  st=$(hx_wait "$fe/state" 3 30)
  xenstore-rm "$be"
  sleep 3
  after=$(xr "$fe/state")
  hx_remove vbd $id
  if [ "$st" = 3 ] && [[ $after =~ ^[356]$ ]]; then
    tb_dom0_pass xs-backend-removed "frontend Initialised, backend directory removed: frontend state $after 3 s later"
  else
    tb_dom0_fail xs-backend-removed "frontend state $st (want 3), then '$after' after the backend directory went"
  fi
}

dom0_event_hx_mac_zz() {
  local id=1 fe st err fin
  fe=$(hx_fe vif $id)
  HX_MAC=zz:zz:zz:zz:zz:zz hx_create vif $id feature-rx-copy=1
  xenstore-write "$(hx_be vif $id)/state" 2
  st=$(hx_wait "$fe/state" 5 30)
  err=$(xr "$(hx_err vif $id)")
  fin=$(hx_close vif $id)
  hx_remove vif $id
  if [ "$st" = 5 ] && [[ $err == "22 "* ]] && [ "$fin" = 6 ]; then
    tb_dom0_pass xs-mac-zz "frontend Closing with error node '$err', Closed after the backend"
  else
    tb_dom0_fail xs-mac-zz "frontend state $st (want 5), error node '${err:-none}' (want '22 ...'), after close $fin (want 6)"
  fi
}

# netfront: at most one queue per vCPU (2), and every queue's keys written before Connected.
dom0_event_hx_net_queues_100000() {
  local id=2 fe st nq q d miss='' k fin
  fe=$(hx_fe vif $id)
  hx_create vif $id feature-rx-copy=1 multi-queue-max-queues=100000
  xenstore-write "$(hx_be vif $id)/state" 2
  st=$(hx_wait "$fe/state" 4 30)
  nq=$(xr "$fe/multi-queue-num-queues") || nq=1
  if [[ $nq =~ ^[0-9]+$ ]] && ((nq >= 1 && nq <= 2)); then
    for ((q = 0; q < nq; q++)); do
      d=$fe
      ((nq > 1)) && d=$fe/queue-$q
      for k in tx-ring-ref rx-ring-ref event-channel; do
        xr "$d/$k" > /dev/null || miss+=" ${d#"$fe"/}/$k"
      done
    done
  fi
  fin=$(hx_close vif $id)
  hx_remove vif $id
  if [ "$st" = 4 ] && [[ $nq =~ ^[12]$ ]] && [ -z "$miss" ] && [ "$fin" = 6 ]; then
    tb_dom0_pass xs-net-queues-100000 "multi-queue-max-queues=100000: $nq queue(s), all keys written, Connected; Closed after the backend"
  else
    tb_dom0_fail xs-net-queues-100000 "state $st (want 4), queues '$nq' (want 1-2), missing:${miss:- none}, after close $fin (want 6)"
  fi
}

# --- Ring cases: hostile-blkback (hostile-blkback.c, built by scripts/testbed against Debian's
# Xen libraries) maps the ring and answers as the case says; xenstore is played from here.

# hx_ring NAME ID CASE WANT [KEY=VALUE...]: a vbd that connects (sectors 131072 and the KEYs)
# with hostile-blkback CASE on
# its ring. WANT=fatal: the frontend, which reads the partition table while connecting, must
# find the violation and report it (error node "5 ...", state Closing), then go Closed after
# the backend. WANT=connected: the frontend must stay Connected, without an error node.
# hx_blk_connect ID CASE LOG SECONDS [KEY=VALUE...]: a new vbd; once its frontend is
# Initialised, hostile-blkback CASE (for SECONDS, output in LOG) takes its ring, and the backend
# announces Connected with sectors 131072 and the KEYs. Sets HX_PID (the program) and HX_ST (the
# frontend's state after InitWait: 3 expected).
hx_blk_connect() {
  local id=$1 cs=$2 log=$3 secs=$4 fe be a
  shift 4
  fe=$(hx_fe vbd "$id") be=$(hx_be vbd "$id") HX_PID=''
  hx_create vbd "$id"
  xenstore-write "$be/state" 2
  HX_ST=$(hx_wait "$fe/state" 3 30) || return 1
  "$SCEN/hostile-blkback" "$DOMID" "$(xr "$fe/ring-ref")" "$(xr "$fe/event-channel")" "$cs" "$secs" \
    > "$log" 2>&1 &
  HX_PID=$!
  sleep 1
  local kv=("$be/sectors" 131072 "$be/sector-size" 512 "$be/info" 0)
  for a in "$@"; do kv+=("$be/${a%%=*}" "${a#*=}"); done
  xenstore-write "${kv[@]}" "$be/state" 4
}

hx_ring() {
  local name=$1 id=$2 cs=$3 want=$4 fe st pid err fin log ok=''
  fe=$(hx_fe vbd "$id") log=$OUT/hostile-blkback-$name.log
  if ! hx_blk_connect "$id" "$cs" "$log" 90 "${@:5}"; then
    tb_dom0_fail "ring-$name" "frontend never Initialised (state $HX_ST)"
    hx_remove vbd "$id"
    return
  fi
  pid=$HX_PID
  if [ "$want" = fatal ]; then
    st=$(hx_wait "$fe/state" 5 60)
  else
    st=$(hx_wait "$fe/state" 4 60)
    # Connected a while: the guest reads from the disk meanwhile.
    sleep 8
    st=$(xr "$fe/state")
  fi
  err=$(xr "$(hx_err vbd "$id")")
  kill "$pid" 2> /dev/null
  wait "$pid"
  fin=$(hx_close vbd "$id")
  hx_remove vbd "$id"
  local seen acts
  seen=$(grep -c '^req ' "$log") acts=$(grep '^act ' "$log" | head -n 2 | tr '\n' ' ')
  if ! grep -q '^mapped ring-ref' "$log"; then
    tb_dom0_fail "ring-$name" "hostile-blkback did not map the ring: $(tail -n 2 "$log" | tr '\n' ' ')"
    return
  fi
  if [ "$want" = fatal ]; then
    [ "$st" = 5 ] && [[ $err == "5 "* ]] && [ "$fin" = 6 ] && ok=1
  else
    [ "$st" = 4 ] && [ -z "$err" ] && [ "$fin" = 6 ] && ok=1
  fi
  if [ -n "$ok" ]; then
    tb_dom0_pass "ring-$name" "$cs: $seen request(s) seen, ${acts:-no action}; frontend state $st, error node '${err:-none}', Closed after the backend"
  else
    tb_dom0_fail "ring-$name" "$cs ($want): $seen request(s), ${acts:-no action}; frontend state $st, error node '${err:-none}', after close $fin"
  fi
}

dom0_event_hr_id_range() { hx_ring id-range 51840 id-range fatal; }
dom0_event_hr_id_twice() { hx_ring id-twice 51856 id-twice fatal; }
dom0_event_hr_id_never() { hx_ring id-never 51872 id-never fatal; }
dom0_event_hr_wrong_op() { hx_ring wrong-op 51888 wrong-op fatal; }
dom0_event_hr_bad_status() { hx_ring bad-status 51904 bad-status fatal; }
dom0_event_hr_prod_ahead() { hx_ring prod-ahead 51920 prod-ahead fatal; }
dom0_event_hr_prod_back() { hx_ring prod-back 51936 prod-back fatal; }
# Also feature-max-indirect-segments=4294967295: the frontend must bound it (32, its default).
dom0_event_hr_storm() { hx_ring storm 51952 storm connected feature-max-indirect-segments=4294967295; }

# No answer at all, then the backend detaches (hostile-blkback gone, online 0, Closing, Closed):
# the frontend's add_disk waits on its partition read until blk-mq's timeout (30 s) finds the
# backend no longer Connected and fails it; then the frontend must go Closed.
dom0_event_hr_silent() {
  local id=51728 fe be st fin log seen
  fe=$(hx_fe vbd $id) be=$(hx_be vbd $id) log=$OUT/hostile-blkback-silent.log
  hx_blk_connect $id silent "$log" 90
  st=$(hx_wait "$fe/state" 4 30)
  sleep 3
  if [ -n "$HX_PID" ]; then
    kill "$HX_PID" 2> /dev/null
    wait "$HX_PID"
  fi
  seen=$(grep -c '^req ' "$log")
  xenstore-write "$be/online" 0 "$be/state" 5
  sleep 0.5
  xenstore-write "$be/state" 6
  fin=$(hx_wait "$fe/state" 6 60)
  hx_remove vbd $id
  if [ "$st" = 4 ] && ((seen > 0)) && [ "$fin" = 6 ]; then
    tb_dom0_pass ring-silent "$seen request(s) never answered, backend detached: frontend Closed"
  else
    tb_dom0_fail ring-silent "frontend state $st (want 4), $seen request(s) seen (want > 0), $fin 60 s after the detach (want 6)"
  fi
}

# The backend keeps the ring page mapped after the frontend closed and was removed: the frontend
# cannot revoke that grant and must leak the page (never free it for other use). hostile-blkback
# snapshots the page before the close and compares it every 100 ms until hr_keep_check, which
# the guest sends after churning its memory.
HX_KEEP_PID=''
dom0_event_hr_keep() {
  local id=51744 fe st
  fe=$(hx_fe vbd $id)
  hx_blk_connect $id keep "$OUT/hostile-blkback-keep.log" 400
  HX_KEEP_PID=$HX_PID
  st=$(hx_wait "$fe/state" 4 30)
  sleep 3
  [ -z "$HX_KEEP_PID" ] || kill -USR1 "$HX_KEEP_PID"
  sleep 0.5
  HX_KEEP_CLOSE=$(hx_close vbd $id)
  hx_remove vbd $id
  HX_KEEP_ST=$st
}
dom0_event_hr_keep_check() {
  local log=$OUT/hostile-blkback-keep.log res
  [ -n "$HX_KEEP_PID" ] && kill "$HX_KEEP_PID" 2> /dev/null && wait "$HX_KEEP_PID"
  res=$(grep '^keep: ' "$log")
  if [ "${HX_KEEP_ST:-}" = 4 ] && [ "${HX_KEEP_CLOSE:-}" = 6 ] && [[ $res == "keep: unchanged over "* ]] &&
    (($(echo "$res" | awk '{ print $4 }') >= 50)); then
    tb_dom0_pass ring-keep "ring page kept mapped after the frontend closed and went: ${res#keep: }"
  else
    tb_dom0_fail ring-keep "frontend state ${HX_KEEP_ST:-?} (want 4), after close ${HX_KEEP_CLOSE:-?} (want 6), ${res:-no verdict: $(tail -n 2 "$log" | tr '\n' ' ')}"
  fi
}

# --- netif ring cases: hostile-netback (hostile-netback.c) maps a one-queue vif's rings once the
# frontend is Connected and the backend says Connected too (the guest brings the interface up),
# and sends one bad response. The frontend must stop the device, report "5 backend protocol
# violation" (error node, Closing) and go Closed after the backend.
hx_net_ring() {
  local name=$1 id=$2 cs=$3 fe be st tx rx port pid err fin log ok=''
  fe=$(hx_fe vif "$id") be=$(hx_be vif "$id") log=$OUT/hostile-netback-$name.log
  hx_create vif "$id" feature-rx-copy=1
  xenstore-write "$be/state" 2
  if ! st=$(hx_wait "$fe/state" 4 30); then
    tb_dom0_fail "ring-$name" "frontend never Connected (state $st)"
    hx_remove vif "$id"
    return
  fi
  tx=$(xr "$fe/tx-ring-ref") rx=$(xr "$fe/rx-ring-ref") port=$(xr "$fe/event-channel")
  xenstore-write "$be/state" 4
  sleep 3
  "$SCEN/hostile-netback" "$DOMID" "$tx" "$rx" "$port" "$cs" 90 > "$log" 2>&1 &
  pid=$!
  st=$(hx_wait "$fe/state" 5 60)
  err=$(xr "$(hx_err vif "$id")")
  kill "$pid" 2> /dev/null
  wait "$pid"
  fin=$(hx_close vif "$id")
  hx_remove vif "$id"
  local acts
  acts=$(grep '^act ' "$log" | head -n 1)
  [ "$st" = 5 ] && [[ $err == "5 "* ]] && [ "$fin" = 6 ] && [ -n "$acts" ] && ok=1
  if [ -n "$ok" ]; then
    tb_dom0_pass "ring-$name" "$cs: ${acts#act }; frontend Closing with error node '$err', Closed after the backend"
  else
    tb_dom0_fail "ring-$name" "$cs: ${acts:-no action: $(tail -n 2 "$log" | tr '\n' ' ')}; frontend state $st (want 5), error node '${err:-none}', after close $fin (want 6)"
  fi
}
dom0_event_hn_rx_size() { hx_net_ring rx-size 3 rx-size; }
dom0_event_hn_rx_offset() { hx_net_ring rx-offset 4 rx-offset; }
dom0_event_hn_rx_extras() { hx_net_ring rx-extras 5 rx-extras; }
dom0_event_hn_tx_never() { hx_net_ring tx-never 6 tx-never; }
dom0_event_hn_rx_mapped() { hx_net_ring rx-mapped 7 rx-mapped; }
