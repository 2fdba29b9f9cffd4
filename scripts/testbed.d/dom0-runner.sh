#!/bin/bash
# dom0-runner.sh NAME — runs inside the test bed's Dom0 (called by dom0-main.sh, copied onto the
# payload disk by scripts/testbed): one scenario = one HVM guest. Writes the xl config, wipes the
# scratch disk, runs the scenario's dom0.sh hooks, creates the guest, follows its serial console
# (a pty: Dom0 reads the log and writes acknowledgements of "TB: EVENT" lines back), enforces
# TB_TIMEOUT, collects the logs and writes results/NAME/result: "PASS" or "FAIL <reason>".
#
# Helpers for dom0.sh: tb_dom0_pass NAME DETAIL, tb_dom0_fail NAME REASON, tb_untrusted_early DIR,
# tb_backend_state TYPE DEVID (XenbusState of the backend, e.g. "vbd 51712", "vif 0");
# variables DOM (domain name), DOMID, NONCE, TB_SCRATCH_DEV, TB_ROOTFS_DEV.
# shellcheck disable=SC2317  # helpers and hooks are called indirectly (dom0.sh, handle_event)
set -uo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NAME=$1
P=${TB_PAYLOAD:-/payload}
SCEN=$P/scen/$NAME
OUT=$P/results/$NAME
mkdir -p "$OUT"
log() { echo "TB-DOM0[$(cut -d' ' -f1 /proc/uptime)] $NAME: $*"; }

TB_KERNEL=ours TB_DISKS=scratch TB_NIC='' TB_CMDLINE='' TB_MEMORY=512 TB_VCPUS=1 TB_TIMEOUT=300
TB_VERIFY_SCRATCH=no TB_EXPECT='' TB_XL_EXTRA=''
# shellcheck source=/dev/null
. "$SCEN/scenario.conf"

DOM=tb-$NAME
DOMID=''
NONCE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
CHECKS=$OUT/dom0-checks
RAW=$OUT/serial.raw
: > "$CHECKS"
export DOM NONCE

tb_dom0_pass() { local n=$1; shift; echo "PASS $n $*" >> "$CHECKS"; log "dom0 check PASS $n $*"; }
tb_dom0_fail() { local n=$1; shift; echo "FAIL $n $*" >> "$CHECKS"; log "dom0 check FAIL $n $*"; }
tb_backend_state() {
  xenstore-read "/local/domain/0/backend/$1/$DOMID/$2/state" 2>/dev/null || echo none
}
# tb_untrusted_early FRONTEND_DIR: in the background (wait for $!), write the toolstack's
# trusted=0 into a device's frontend directory as soon as libxl has made it, before the backend can
# be Connected (xl 4.17 has no disk 'untrusted' flag nor vif 'trusted=' option). A write that came
# too late leaves the frontend trusted, which the scenario's check reports; it cannot pass wrongly.
tb_untrusted_early() {
  ( for _ in $(seq 1500); do
      if xenstore-read "$1/state" > /dev/null 2>&1; then xenstore-write "$1/trusted" 0; break; fi
      sleep 0.02
    done ) &
}
# tb_backend_max_queues BLK NET: blkback and netback offer BLK and NET queues to the guest
# (their max_queues parameters, by default Dom0's vCPU count); the runner restores them after the
# scenario (other scenarios share this Dom0). Call from dom0_before.
TB_QUEUES_SAVED=()
tb_backend_max_queues() {
  local m v p
  for m in "xen_blkback $1" "xen_netback $2"; do
    p=/sys/module/${m% *}/parameters/max_queues
    v=$(cat "$p" 2>/dev/null) || { log "no $p"; continue; }
    TB_QUEUES_SAVED+=("$p=$v")
    echo "${m#* }" > "$p" && log "${m% *} max_queues $v -> ${m#* }"
  done
}
tb_backend_queues_restore() {
  local e
  for e in "${TB_QUEUES_SAVED[@]}"; do echo "${e#*=}" > "${e%%=*}"; done
  TB_QUEUES_SAVED=()
}
# The 1 MiB pattern of the guest's tb_disk_rw (scripts/testbed.d/guest/lib.sh), byte for byte.
tb_pattern() {
  awk -v n="$NONCE" 'BEGIN { for (i = 0; i < 16384; i++) printf "TBDATA %s %08d %-30s\n", n, i, "xen-pvhvm-rs" }'
}
snapshot_xenstore() { timeout 20 xenstore-ls -f > "$OUT/xenstore.txt.tmp" 2>&1 && mv "$OUT/xenstore.txt.tmp" "$OUT/xenstore.txt"; }

# --- xl config
disks=()
letters=abcdefghijklmnop
i=0
for d in $TB_DISKS; do
  case $d in
    rootfs) target=${TB_ROOTFS_DEV:-} ;;
    # The disk TB_INITRD=deb made (serial tbdebroot); looked up here, not in the Dom0 image's
    # testbed-boot, so that the cached Dom0 image stays the same.
    debroot) target=''
      for b in /sys/block/vd*; do
        [ "$(cat "$b/serial" 2>/dev/null)" = tbdebroot ] && target=/dev/${b##*/}
      done ;;
    scratch) target=${TB_SCRATCH_DEV:-} ;;
    *) echo "FAIL unknown TB_DISKS entry '$d'" > "$OUT/result"; exit 0 ;;
  esac
  if [ -z "$target" ] || [ ! -b "$target" ]; then
    echo "FAIL the test bed has no $d disk (Dom0 found '${target}')" > "$OUT/result"; exit 0
  fi
  disks+=("'format=raw,vdev=xvd${letters:i:1},access=rw,target=$target'")
  i=$((i + 1))
done
vif=''
[ -z "$TB_NIC" ] || vif="vif = [ 'bridge=xenbr0,mac=00:16:3e:54:42:01,model=$TB_NIC' ]"
kernel=$P/kernels/$TB_KERNEL
[ -f "$kernel" ] || { echo "FAIL no guest kernel '$TB_KERNEL' on the payload" > "$OUT/result"; exit 0; }
# quiet loglevel=5: the guest's console (serial.log) carries the kernel's warnings and worse (WARN,
# Oops, BUG, hung tasks) from boot to power-off, which the verdict below reads; info lines stay in
# dmesg only (each serial line costs about 0.3 s under qemu-xen).
cat > "$OUT/guest.cfg" <<CFG
name = "$DOM"
type = "hvm"
device_model_version = "qemu-xen"
memory = $TB_MEMORY
vcpus = $TB_VCPUS
kernel = "$kernel"
ramdisk = "$SCEN/initrd.gz"
cmdline = "$TB_CMDLINE console=ttyS0,115200 quiet loglevel=5 panic=5 watchdog_thresh=60 tb.nonce=$NONCE"
disk = [ $(IFS=,; echo "${disks[*]}") ]
$vif
$TB_XL_EXTRA
serial = "pty"
vnc = 0
sdl = 0
vga = "none"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
CFG

if [[ " $TB_DISKS " == *" scratch "* ]]; then
  dd if=/dev/zero of="$TB_SCRATCH_DEV" bs=1M count=64 oflag=direct status=none 2>/dev/null \
    || dd if=/dev/zero of="$TB_SCRATCH_DEV" bs=1M count=64 conv=fsync status=none
fi
if [ -f "$SCEN/dom0.sh" ]; then
  # shellcheck source=/dev/null
  . "$SCEN/dom0.sh"
fi
if declare -F dom0_before > /dev/null; then dom0_before; fi

# --- run the guest
xl dmesg -c > /dev/null 2>&1
: > "$RAW"
t0=$(date +%s)
log "xl create (timeout ${TB_TIMEOUT}s, kernel $TB_KERNEL, disks '$TB_DISKS', nic '${TB_NIC:-none}')"
xl create -F "$OUT/guest.cfg" > "$OUT/xl-create.log" 2>&1 < /dev/null &
xlpid=$!
while [ -z "$DOMID" ] && kill -0 "$xlpid" 2>/dev/null && (( $(date +%s) - t0 < 120 )); do
  DOMID=$(xl domid "$DOM" 2>/dev/null) || DOMID=''
  [ -n "$DOMID" ] || sleep 0.5
done
export DOMID
pty='' catpid=''
while [ -n "$DOMID" ] && [ -z "$pty" ] && kill -0 "$xlpid" 2>/dev/null && (( $(date +%s) - t0 < 120 )); do
  pty=$(xenstore-read "/local/domain/$DOMID/serial/0/tty" 2>/dev/null) || pty=''
  if [ -z "$pty" ]; then
    pty=$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\) (label serial0).*/\1/p' \
      "/var/log/xen/qemu-dm-$DOM.log" 2>/dev/null | tail -n 1)
  fi
  [ -n "$pty" ] || sleep 0.5
done
if [ -n "$pty" ]; then
  cat "$pty" >> "$RAW" 2>/dev/null &
  catpid=$!
  stty -F "$pty" raw -echo 2>/dev/null || log "stty on $pty failed"
  log "domain $DOMID, serial console $pty ($(( $(date +%s) - t0 ))s after xl create)"
else
  log "no serial pty for the guest (domid '${DOMID}')"
fi
snapshot_xenstore

handle_event() {
  local ev=$1
  if ! [[ $ev =~ ^[A-Za-z0-9_]+$ ]]; then
    tb_dom0_fail "event" "bad event name '$ev'"
  elif declare -F "dom0_event_$ev" > /dev/null; then
    log "event $ev"
    "dom0_event_$ev"
  else
    tb_dom0_fail "event-$ev" "no hook dom0_event_$ev in $NAME/dom0.sh"
  fi
  snapshot_xenstore
  last_event=$ev
  [ -z "$pty" ] || printf 'TBACK %s\n' "$ev" > "$pty" 2>/dev/null || log "cannot acknowledge event $ev"
}
# ack_again NAME: the guest asks again for the acknowledgement of NAME; if NAME is the event handled
# last, acknowledge it again without running its hook a second time, else handle it now.
last_event=''
ack_again() {
  if [ "$1" = "$last_event" ]; then
    log "event $1: acknowledging again"
    [ -z "$pty" ] || printf 'TBACK %s\n' "$1" > "$pty" 2>/dev/null || log "cannot acknowledge event $1"
  else
    handle_event "$1"
  fi
}
# new_lines: guest lines completed since the last call (echoed to the Dom0 console, and with the
# seconds since xl create in serial.times: where a scenario spends its time), events handled.
seen=0
new_lines() {
  local total l now
  total=$(tr -d '\r' < "$RAW" | wc -l)
  ((total > seen)) || return 0
  printf -v now '%(%s)T' -1
  while IFS= read -r l; do
    echo "[$NAME] $l"
    printf '%4d %s\n' $((now - t0)) "$l" >> "$OUT/serial.times"
    case $l in
      "TB: EVENT "*" again") # the guest missed our acknowledgement of the event just handled
        [ "${1:-}" = noevents ] || ack_again "$(echo "${l#TB: EVENT }" | cut -d' ' -f1)" ;;
      "TB: EVENT "*) [ "${1:-}" = noevents ] || handle_event "$(echo "${l#TB: EVENT }" | cut -d' ' -f1)" ;;
    esac
  done < <(tr -d '\r' < "$RAW" | sed -n "$((seen + 1)),${total}p")
  seen=$total
}

timed_out=0 last_snap=$t0 last_beat=$t0
while kill -0 "$xlpid" 2>/dev/null; do
  new_lines
  now=$(date +%s)
  if ((now - t0 >= TB_TIMEOUT)); then timed_out=1; break; fi
  if ((now - last_snap >= 15)); then snapshot_xenstore; last_snap=$now; fi
  # A heartbeat on the console (the host treats a long-silent console as a stuck machine).
  if ((now - last_beat >= 60)); then log "waiting: $((now - t0))s since xl create, $seen guest lines"; last_beat=$now; fi
  sleep 1
done
t1=$(date +%s)
if ((timed_out)); then
  log "timeout after ${TB_TIMEOUT}s: destroying the guest"
  snapshot_xenstore
  timeout 60 xl destroy "$DOM" > /dev/null 2>&1 || log "xl destroy failed"
fi
for _ in $(seq 1 30); do kill -0 "$xlpid" 2>/dev/null || break; sleep 1; done
kill -9 "$xlpid" 2>/dev/null
wait "$xlpid" 2>/dev/null
# A domain that outlived its xl (e.g. a hook failed and xl was killed) would hold its memory
# through the following scenarios (seen: "xc_dom_boot_mem_init failed: Cannot allocate memory").
if xl domid "$DOM" > /dev/null 2>&1; then
  log "domain $DOM still there after xl ended: destroying it"
  timeout 60 xl destroy "$DOM" > /dev/null 2>&1 || log "xl destroy failed"
fi
sleep 1
if [ -n "$catpid" ]; then kill "$catpid" 2>/dev/null; wait "$catpid" 2>/dev/null; fi
new_lines noevents
log "guest ended $((t1 - t0))s after xl create"
tr -d '\r' < "$RAW" > "$OUT/serial.log" && rm -f "$RAW"

if declare -F dom0_after > /dev/null; then dom0_after; fi
tb_backend_queues_restore
if [ "$TB_VERIFY_SCRATCH" = yes ]; then
  want=$(tb_pattern | md5sum | cut -d' ' -f1)
  blockdev --flushbufs "$TB_SCRATCH_DEV" 2>/dev/null
  got=$(dd if="$TB_SCRATCH_DEV" bs=64k skip=16 count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then
    tb_dom0_pass dom0-data "the guest's 1 MiB pattern (nonce $NONCE) is on $TB_SCRATCH_DEV at 1 MiB"
  else
    tb_dom0_fail dom0-data "$TB_SCRATCH_DEV at 1 MiB: md5 $got, want $want ($(dd if="$TB_SCRATCH_DEV" bs=64k skip=16 count=1 iflag=direct 2>/dev/null | head -c 40 | tr -cd '[:print:]'))"
  fi
fi
xl dmesg > "$OUT/xl-dmesg.log" 2>&1
cp "/var/log/xen/qemu-dm-$DOM.log" "$OUT/qemu-dm.log" 2>/dev/null || : > "$OUT/qemu-dm.log"
cp /var/log/xen/xen-hotplug.log "$OUT/xen-hotplug.log" 2>/dev/null
[ -s "$OUT/xenstore.txt" ] || snapshot_xenstore

# --- verdict (rules: tests/testbed/README.md)
S=$OUT/serial.log
last=$(grep -a -v -e '^[[:space:]]*$' -e '^TBACK ' "$S" | tail -n 1 | cut -c1-160)
mapfile -t fails < <(grep -a '^TB: FAIL ' "$S" | sed 's/^TB: FAIL //'; sed -n 's/^FAIL //p' "$CHECKS")
reason=''
# A fault of the emulated machine, seen now and then under TCG (nested SVM): an interrupt taken
# in user mode, and the guest kernel's entry code faults at its first %gs access, recursing
# into the entry stack's guard page ("BUG: ENTRY_TRAMPOLINE stack guard page was hit", RIP in
# error_entry/exc_page_fault/irqentry_enter). Recognised only when the Oops's trace has no frame
# of our modules; reported as a test bed crash, which the runner retries once in a fresh Xen
# boot (scripts/testbed, run_with_retry).
entry_fault=$(awk '/BUG: ENTRY_TRAMPOLINE stack guard page was hit/ { on = 1 }
  on && /RIP: 0010:(error_entry|exc_page_fault|irqentry_enter)\+/ { rip = 1 }
  on && /\[(xen_platform|xenbus|xen_balloon|xen_blkfront|xen_netfront)\]/ { ours = 1 }
  on && /end trace/ { exit }
  END { if (on && rip && !ours) print "yes" }' "$S")
if [ "$entry_fault" = yes ]; then
  reason="no result: test bed crashed (emulated CPU: guest entry code faulted at a %gs access, ENTRY_TRAMPOLINE stack guard page hit; last guest line: ${last:-none})"
elif ((timed_out)); then
  reason="timeout after ${TB_TIMEOUT}s (last guest line: ${last:-none})"
elif ! grep -aq '^TB: DONE' "$S"; then
  reason="guest stopped after $((t1 - t0))s without TB: DONE (last guest line: ${last:-none})"
  e=$(grep -m 1 'libxl: error' "$OUT/xl-create.log" | cut -c1-160)
  [ -z "$e" ] || reason+="; xl create: $e"
elif ((${#fails[@]})); then
  reason=${fails[0]}
  ((${#fails[@]} == 1)) || reason+=" (+$((${#fails[@]} - 1)) more failed)"
elif k=$(grep -a -m 1 -E 'Kernel panic|Oops|BUG:|WARNING:|general protection fault|blocked for more than' "$S"); then
  reason="guest kernel: $(cut -c1-160 <<<"$k")"
else
  missing=''
  for c in $TB_EXPECT; do
    grep -aqE "^TB: PASS $c( |\$)" "$S" || grep -qE "^PASS $c( |\$)" "$CHECKS" || missing+=" $c"
  done
  [ -z "$missing" ] || reason="expected check(s) not reported PASS:$missing"
fi
if [ -z "$reason" ]; then echo PASS > "$OUT/result"; else echo "FAIL $reason" > "$OUT/result"; fi
sync
exit 0
