# shellcheck shell=bash
# Dom0 side of distro-udev and distro-udev-ref: xvdc is a 16 MiB file starting with this run's
# nonce, attached while the guest's udev runs, then detached.
DU_IMG=/tmp/du-xvdc.img DU_LOOP=''
dom0_event_attach() {
  modprobe loop 2> /dev/null
  rm -f "$DU_IMG"
  truncate -s 16M "$DU_IMG"
  printf '%s' "$NONCE" | dd of="$DU_IMG" conv=notrunc,fsync status=none
  DU_LOOP=$(losetup -f --show "$DU_IMG")
  local o
  if o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=xvdc,access=rw,target=$DU_LOOP" 2>&1); then
    tb_dom0_pass dom0-attach "xvdc ($DU_LOOP) attached"
  else
    tb_dom0_fail dom0-attach "xl block-attach xvdc: $(echo "$o" | tail -n 1)"
  fi
}
dom0_event_detach() {
  local o
  if o=$(timeout 60 xl block-detach "$DOM" xvdc 2>&1); then
    tb_dom0_pass dom0-detach "xvdc detached"
  else
    tb_dom0_fail dom0-detach "xl block-detach xvdc: $(echo "$o" | tail -n 1)"
  fi
}
dom0_after() { [ -z "$DU_LOOP" ] || losetup -d "$DU_LOOP" 2>/dev/null; rm -f "$DU_IMG"; }
