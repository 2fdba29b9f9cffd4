# shellcheck shell=bash
# Dom0 side of blkfront-basic (see scenario.conf).
BF_DISC=/tmp/bf-discard.img BF_RO=/tmp/bf-ro.img BF_DLOOP='' BF_RLOOP='' BF_ALLOC0='' BF_FREQ0=''

# KiB allocated to a file (its blocks, not its size).
bf_alloc() { du -k "$1" | cut -f1; }
# Flush requests blkback received from the guest's xvdb (51728).
bf_freq() { cat "/sys/bus/xen-backend/devices/vbd-$DOMID-51728/statistics/f_req" 2>/dev/null || echo none; }

# What the frontend of xvdb negotiated, read from xenstore (not from the guest's log): 2 queues,
# ring order 1 (two ring-ref-N per queue), persistent grants, each queue with its event channel.
bf_keys() {
  local fe=/local/domain/$DOMID/device/vbd/51728 k v bad='' got=''
  for k in multi-queue-num-queues=2 ring-page-order=1 feature-persistent=1; do
    v=$(xenstore-read "$fe/${k%%=*}" 2>/dev/null) || v=missing
    got+="${k%%=*}=$v "
    [ "$v" = "${k#*=}" ] || bad+=" ${k%%=*}=$v"
  done
  for q in 0 1; do
    for k in ring-ref0 ring-ref1 event-channel; do
      v=$(xenstore-read "$fe/queue-$q/$k" 2>/dev/null) || v=missing
      [[ $v =~ ^[0-9]+$ ]] || bad+=" queue-$q/$k=$v"
    done
  done
  v=$(xenstore-read "$fe/queue-2/ring-ref0" 2>/dev/null) && bad+=" queue-2/ring-ref0=$v (a third queue)"
  if [ -z "$bad" ]; then tb_dom0_pass dom0-keys "$fe: ${got}queue-0,1/{ring-ref0,ring-ref1,event-channel}"
  else tb_dom0_fail dom0-keys "$fe:$bad"; fi
}
dom0_event_flush_before() { BF_FREQ0=$(bf_freq); log "xvdb f_req before: $BF_FREQ0"; bf_keys; }
dom0_event_flush_after() {
  local f; f=$(bf_freq)
  if [[ $BF_FREQ0 =~ ^[0-9]+$ && $f =~ ^[0-9]+$ ]] && ((f > BF_FREQ0)); then
    tb_dom0_pass dom0-flush "blkback vbd-$DOMID-51728 f_req $BF_FREQ0 -> $f"
  else
    tb_dom0_fail dom0-flush "blkback vbd-$DOMID-51728 f_req '$BF_FREQ0' -> '$f'"
  fi
}

# xvdc: 64 MiB sparse file, first 32 MiB written (allocated), loop device, attached rw.
# xvdd: 16 MiB, attached read-only.
dom0_event_attach() {
  modprobe loop 2> /dev/null
  rm -rf "$BF_DISC" "$BF_RO" /tmp/bf-ro.d
  truncate -s 64M "$BF_DISC"
  dd if=/dev/urandom of="$BF_DISC" bs=1M count=32 conv=notrunc,fsync status=none
  truncate -s 16M "$BF_RO"
  mkdir -p /tmp/bf-ro.d && echo blkfront-ro > /tmp/bf-ro.d/hello
  mkfs.ext4 -q -F -d /tmp/bf-ro.d "$BF_RO" || tb_dom0_fail dom0-attach "mkfs.ext4 $BF_RO failed"
  BF_DLOOP=$(losetup -f --show "$BF_DISC") BF_RLOOP=$(losetup -f --show "$BF_RO")
  BF_ALLOC0=$(bf_alloc "$BF_DISC")
  log "xvdc: $BF_DLOOP over $BF_DISC (${BF_ALLOC0} KiB allocated); xvdd: $BF_RLOOP"
  local o
  if ! o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=xvdc,access=rw,target=$BF_DLOOP" 2>&1); then
    tb_dom0_fail dom0-attach "xl block-attach xvdc: $(echo "$o" | tail -n 1)"
  fi
  if ! o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=xvdd,access=ro,target=$BF_RLOOP" 2>&1); then
    tb_dom0_fail dom0-attach "xl block-attach xvdd: $(echo "$o" | tail -n 1)"
  fi
}

dom0_event_check_discard() {
  sync
  local a; a=$(bf_alloc "$BF_DISC")
  if [[ $a =~ ^[0-9]+$ ]] && ((a + 8192 <= BF_ALLOC0)); then
    tb_dom0_pass dom0-discard "$BF_DISC: $BF_ALLOC0 KiB -> $a KiB allocated after the guest's blkdiscard"
  else
    tb_dom0_fail dom0-discard "$BF_DISC: $BF_ALLOC0 KiB -> $a KiB allocated (want at least 8 MiB less)"
  fi
}

# bf_pat_on CHECK FILE...: the guest's 1 MiB pattern (this run's nonce) at 1 MiB of each file.
bf_pat_on() {
  local c=$1 f want got bad=''; shift
  want=$(tb_pattern | md5sum | cut -d' ' -f1)
  for f in "$@"; do
    # Files in Dom0's /tmp (tmpfs: no O_DIRECT); the loop devices write through its page cache.
    got=$(dd if="$f" bs=64k skip=16 count=16 2>/dev/null | md5sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || bad+=" $f:$got"
  done
  if [ -z "$bad" ]; then tb_dom0_pass "$c" "the guest's pattern (nonce $NONCE) is at 1 MiB of $*"
  else tb_dom0_fail "$c" "want md5 $want:$bad"; fi
}
dom0_event_check_trusted() { sync; bf_pat_on dom0-trusted-data "$BF_DISC"; }

# Disks named hdc, sde and xvdaa (16 MiB each, loop devices over files in /tmp), and sdb, whose
# minors are xvdb's. xl 4.17's disk syntax has no 'untrusted' flag, so Dom0 writes the trusted=0
# that a toolstack writes into xvdaa's frontend directory as soon as libxl has made it, before the
# backend can be Connected (the frontend reads it at connect; if the write came late, the check
# untrusted-key fails, it cannot pass wrongly).
BF_NLOOPS=()
bf_attach_file() { # VDEV
  local f=/tmp/bf-$1.img l o
  rm -f "$f"; truncate -s 16M "$f"
  l=$(losetup -f --show "$f") || { tb_dom0_fail dom0-attach-names "losetup $f failed"; return; }
  BF_NLOOPS+=("$l")
  if ! o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=$1,access=rw,target=$l" 2>&1); then
    tb_dom0_fail dom0-attach-names "xl block-attach $1: $(echo "$o" | tail -n 1)"
  fi
}
dom0_event_attach_names() {
  local fe=/local/domain/$DOMID/device/vbd/268442112 v
  tb_untrusted_early "$fe"
  local w=$!
  bf_attach_file xvdaa
  wait "$w"
  v=$(xenstore-read "$fe/trusted" 2>/dev/null)
  [ "$v" = 0 ] || tb_dom0_fail dom0-attach-names "$fe/trusted='$v', not 0"
  bf_attach_file hdc
  bf_attach_file sde
  bf_attach_file sdb
}
dom0_event_check_names() {
  sync; bf_pat_on dom0-names-data /tmp/bf-hdc.img /tmp/bf-sde.img /tmp/bf-xvdaa.img
  # sdb (vdev 2064) was refused: its frontend never reached Connected, whatever the guest logs.
  local s; s=$(xenstore-read "/local/domain/$DOMID/device/vbd/2064/state" 2>/dev/null || echo none)
  if [ "$s" != 4 ] && [ "$s" != none ]; then tb_dom0_pass dom0-vdev-conflict "vbd 2064 (sdb) frontend state $s, not Connected"
  else tb_dom0_fail dom0-vdev-conflict "vbd 2064 (sdb) frontend state '$s'"; fi
}
dom0_event_detach_names() { bf_detach hdc; bf_detach sde; bf_detach xvdaa; bf_detach sdb; }

dom0_event_resize() {
  truncate -s 96M "$BF_DISC"
  if losetup -c "$BF_DLOOP"; then
    log "xvdc backing file grown to 96 MiB, $BF_DLOOP now $(blockdev --getsize64 "$BF_DLOOP") bytes"
  else
    tb_dom0_fail dom0-resize "losetup -c $BF_DLOOP failed"
  fi
}

bf_detach() {
  local t0=$SECONDS o
  if o=$(timeout 60 xl block-detach "$DOM" "$1" 2>&1); then
    log "xl block-detach $1 done in $((SECONDS - t0)) s"
  else
    tb_dom0_fail "dom0-detach-$1" "xl block-detach $1 failed after $((SECONDS - t0)) s: $(echo "$o" | tail -n 1)"
  fi
}
dom0_event_detach_xvdd() { bf_detach xvdd; }
dom0_event_detach_xvdc() { bf_detach xvdc; }

# Backend restart of xvdb: blkback is unbound from the device (its instance goes, unmapping our
# rings and grants) and bound again; the new instance starts over in InitWait, maps the rings the
# frontend still offers and goes Connected (Linux's blkback supports this since 5.6).
dom0_event_restart_backend() {
  local dev=vbd-$DOMID-51728 be=/local/domain/0/backend/vbd/$DOMID/51728/state i s=''
  echo "$dev" > /sys/bus/xen-backend/drivers/vbd/unbind || tb_dom0_fail dom0-restart "unbind $dev failed"
  log "blkback unbound from $dev: backend state $(xenstore-read "$be" 2>/dev/null)"
  sleep 2
  echo "$dev" > /sys/bus/xen-backend/drivers/vbd/bind || tb_dom0_fail dom0-restart "bind $dev failed"
  for i in $(seq 60); do
    s=$(xenstore-read "$be" 2>/dev/null); [ "$s" = 4 ] && break; sleep 0.5
  done
  log "blkback bound to $dev again: backend state $s"
  [ "$s" = 4 ] || tb_dom0_fail dom0-restart "backend state '$s', not Connected (4), 30 s after the bind"
}

dom0_after() {
  [ -z "$BF_DLOOP" ] || losetup -d "$BF_DLOOP" 2> /dev/null
  [ -z "$BF_RLOOP" ] || losetup -d "$BF_RLOOP" 2> /dev/null
  local l
  for l in "${BF_NLOOPS[@]}"; do losetup -d "$l" 2> /dev/null; done
  rm -rf "$BF_DISC" "$BF_RO" /tmp/bf-ro.d /tmp/bf-hdc.img /tmp/bf-sde.img /tmp/bf-sdb.img /tmp/bf-xvdaa.img
}
