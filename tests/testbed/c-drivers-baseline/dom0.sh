# shellcheck shell=bash
# Dom0 side of c-drivers-baseline.
HP_IMG=/tmp/c-drivers-hotplug.img HP_LOOP=''
dom0_before() {
  rm -f "$HP_IMG"; truncate -s 16M "$HP_IMG"
  HP_LOOP=$(losetup -f --show "$HP_IMG")
}
# While the guest runs, blkback and netback must see their frontends connected (XenbusState 4)
# for xvda (51712), xvdb (51728) and vif 0.
dom0_event_pv_connected() {
  local a b v
  a=$(tb_backend_state vbd 51712) b=$(tb_backend_state vbd 51728) v=$(tb_backend_state vif 0)
  if [ "$a" = 4 ] && [ "$b" = 4 ] && [ "$v" = 4 ]; then
    tb_dom0_pass dom0-backends "vbd 51712, vbd 51728, vif 0 Connected"
  else
    tb_dom0_fail dom0-backends "backend states vbd 51712=$a vbd 51728=$b vif 0=$v (want 4)"
  fi
}
dom0_event_attach_xvdc() {
  local o
  if o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=xvdc,access=rw,target=$HP_LOOP" 2>&1); then
    tb_dom0_pass dom0-attach "xl block-attach xvdc -> $HP_LOOP"
  else
    tb_dom0_fail dom0-attach "xl block-attach: $(echo "$o" | tail -n 1)"
  fi
}
dom0_event_detach_xvdc() {
  local o
  if o=$(timeout 60 xl block-detach "$DOM" xvdc 2>&1); then
    tb_dom0_pass dom0-detach "xl block-detach xvdc"
  else
    tb_dom0_fail dom0-detach "xl block-detach: $(echo "$o" | tail -n 1)"
  fi
}
# The marker the guest wrote to xvdc must be on the backing device.
dom0_after() {
  local hdr
  hdr=$(dd if="$HP_LOOP" bs=512 count=1 2>/dev/null | head -n 1 | tr -cd '[:print:]')
  if [ "$hdr" = "TBHOTPLUG $NONCE" ]; then tb_dom0_pass dom0-hotplug-data "marker on $HP_LOOP"
  else tb_dom0_fail dom0-hotplug-data "backing device holds '${hdr:0:40}', want 'TBHOTPLUG $NONCE'"; fi
  losetup -d "$HP_LOOP"; rm -f "$HP_IMG"
}
