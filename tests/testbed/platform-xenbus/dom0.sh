# shellcheck shell=bash
# Dom0 hooks of platform-xenbus (see scenario.conf).

# The guest's clock against Dom0's: Dom0's time at events clock_a and clock_b; at clock_c the
# guest's uptimes around them ("TB: INFO CLOCKMONO a0 a1 b0 b1", from the console log: before
# each event and after its acknowledgement) bound the guest's time between Dom0's two notes to
# [b0 - a1, b1 - a0]. Dom0's interval must fall in it (+-0.2 s), the bounds no wider than 6 s
# (seen: 2.9-3.0 s, mostly the runner's latency in acknowledging an event).
CK_D0='' CK_D1=''
dom0_event_clock_a() { CK_D0=$(date +%s.%N); }
dom0_event_clock_b() { CK_D1=$(date +%s.%N); }
dom0_event_clock_c() {
  local g v
  g=$(tr -d '\r' < "$RAW" | grep -a 'TB: INFO CLOCKMONO ' | tail -n 1 | sed 's/.*CLOCKMONO //')
  v=$(echo "$g" | awk -v d0="$CK_D0" -v d1="$CK_D1" '{
    if (d0 == "" || d1 == "" || NF != 4) { print "FAIL missing figures (guest: " $0 ")"; exit }
    dd = d1 - d0; lo = $3 - $2; hi = $4 - $1
    ok = dd >= lo - 0.2 && dd <= hi + 0.2 && hi - lo <= 6 && lo >= 4
    printf "%s Dom0 %.2f s, guest %.2f-%.2f s\n", ok ? "PASS" : "FAIL", dd, lo, hi }')
  case $v in
    PASS*) tb_dom0_pass clock-rate "${v#PASS }" ;;
    *) tb_dom0_fail clock-rate "${v#FAIL }" ;;
  esac
}

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
