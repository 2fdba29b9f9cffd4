# shellcheck shell=bash
# Dom0 side of lifecycle-reload: after the last round, both ends of the vbd and of the vif are
# Connected (4).
dom0_event_connected() {
  local fe=/local/domain/$DOMID/device be k s v got='' bad=''
  for k in vbd/51712 vif/0; do
    be=$(xenstore-read "$fe/$k/backend" 2>/dev/null)
    for s in "$fe/$k/state" "$be/state"; do
      v=$(xenstore-read "$s" 2>/dev/null)
      got+="$s=$v "
      [ "$v" = 4 ] || bad+=" $s=$v"
    done
  done
  if [ -z "$bad" ]; then tb_dom0_pass dom0-connected "$got"
  else tb_dom0_fail dom0-connected "not Connected:$bad"; fi
}
