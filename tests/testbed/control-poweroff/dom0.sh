# shellcheck shell=bash
# Dom0 hooks of control-poweroff (see scenario.conf).
dom0_event_xl_sysrq() {
  xl sysrq "$DOM" h > "$OUT/xl-sysrq.log" 2>&1 || tb_dom0_fail sysrq "xl sysrq failed: $(tail -n 1 "$OUT/xl-sysrq.log")"
}
# cp_acked CHECK VALUE: the guest acknowledges a control/shutdown request by clearing the node
# (Linux's manage.c); Dom0 sees that in xenstore, independent of anything the guest prints.
CP_ACK=''
cp_acked() {
  local node=/local/domain/$DOMID/control/shutdown v i
  for i in $(seq 40); do
    v=$(xenstore-read "$node" 2>/dev/null) || v='<gone>'
    [ "$v" != "$2" ] && break
    sleep 0.25
  done
  if [ -z "$v" ]; then
    tb_dom0_pass "$1" "control/shutdown '$2' cleared by the guest after $((i / 4)) s"; CP_ACK+=" $2"
  else
    tb_dom0_fail "$1" "control/shutdown still '$v' 10 s after writing '$2'"
  fi
}
dom0_event_halt() {
  xenstore-write "/local/domain/$DOMID/control/shutdown" halt || tb_dom0_fail dom0-halt-ack "xenstore-write control/shutdown halt failed"
  cp_acked dom0-halt-ack halt
}
dom0_event_xl_shutdown() {
  if xl shutdown "$DOM" > "$OUT/xl-shutdown.log" 2>&1; then
    log "xl shutdown: $(tr '\n' ' ' < "$OUT/xl-shutdown.log")"
    cp_acked dom0-poweroff-ack poweroff
  else
    tb_dom0_fail control-via-xenbus "xl shutdown failed: $(tail -n 2 "$OUT/xl-shutdown.log" | tr '\n' ' ')"
  fi
}
# The request went through xenstore (acknowledged by the guest) and the domain then shut down
# with reason poweroff (code 0), as xl create -F reports it.
dom0_after() {
  local why
  why=$(grep -m 1 'has shut down, reason code' "$OUT/xl-create.log")
  if [[ $CP_ACK == *poweroff* && $why == *"reason code 0 "* ]]; then
    tb_dom0_pass control-via-xenbus "xl shutdown acknowledged in xenstore; xl: $why"
  else
    tb_dom0_fail control-via-xenbus "acknowledged:${CP_ACK:- none}; xl: '${why:-no shutdown line}'"
  fi
}
