# shellcheck shell=bash
# Dom0 side of hostile-xenstore (see scenario.conf): a backend made of xenstore writes alone.
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
