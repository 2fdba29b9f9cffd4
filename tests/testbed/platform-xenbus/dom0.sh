# shellcheck shell=bash
# Dom0 hooks of platform-xenbus (see scenario.conf).

dom0_event_dom0_write_watch() {
  if xenstore-write "/local/domain/$DOMID/data/xpv-watch" dom0-wrote-this; then
    log "wrote /local/domain/$DOMID/data/xpv-watch"
  else
    tb_dom0_fail dom0-watch "xenstore-write /local/domain/$DOMID/data/xpv-watch failed"
  fi
  local f
  f=$(xenstore-read "/local/domain/$DOMID/control/feature-poweroff" 2>/dev/null)
  if [ "$f" = 1 ]; then
    tb_dom0_pass dom0-features "control/feature-poweroff=1 feature-reboot=$(xenstore-read "/local/domain/$DOMID/control/feature-reboot" 2>/dev/null)"
  else
    tb_dom0_fail dom0-features "control/feature-poweroff='$f'"
  fi
}

# The disk to hot-plug: Dom0's root-image disk when the test bed attached one (unused by this
# guest), else a loop device over a fresh 16 MiB file (the test bed's block script takes block
# devices only).
XB_LOOP=''
dom0_event_block_attach() {
  local target=${TB_ROOTFS_DEV:-}
  if [ -z "$target" ] || [ ! -b "$target" ]; then
    truncate -s 16M /tmp/xb-hotplug.img
    modprobe loop 2> /dev/null
    if ! XB_LOOP=$(losetup -f --show /tmp/xb-hotplug.img 2> "$OUT/losetup.log"); then
      tb_dom0_fail hotplug-add "no block device to attach: losetup: $(tr '\n' ' ' < "$OUT/losetup.log")"
      return
    fi
    target=$XB_LOOP
  fi
  if timeout 50 xl block-attach "$DOM" "format=raw,vdev=xvdb,access=ro,target=$target" \
      > "$OUT/block-attach.log" 2>&1; then
    log "block-attach xvdb ($target) done; backend state $(tb_backend_state vbd 51728)"
  else
    tb_dom0_fail hotplug-add "xl block-attach of $target failed: $(tail -n 2 "$OUT/block-attach.log" | tr '\n' ' ')"
  fi
}

dom0_event_block_detach() {
  local t0=$SECONDS
  if timeout 50 xl block-detach "$DOM" xvdb > "$OUT/block-detach.log" 2>&1; then
    log "block-detach xvdb done in $((SECONDS - t0)) s"
  else
    tb_dom0_fail hotplug-remove "xl block-detach failed after $((SECONDS - t0)) s: $(tail -n 2 "$OUT/block-detach.log" | tr '\n' ' ')"
  fi
}

dom0_after() {
  [ -z "$XB_LOOP" ] || losetup -d "$XB_LOOP" 2> /dev/null
  rm -f /tmp/xb-hotplug.img
}
