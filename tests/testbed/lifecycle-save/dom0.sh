# shellcheck shell=bash
# Dom0 side of lifecycle-save and lifecycle-save-ref (see their scenario.conf): the operations on
# the guest (the runner's tb_xl_save_restore, tb_xl_checkpoint, tb_xl_migrate) and the checks of
# each round, made at the next event (the next round's, or "end"): the round's pattern on the
# scratch disk, the emulated disks and NIC still unplugged in the device model (QMP), the backends
# Connected.
LC_XF_PID=''
declare -A LC_PAUSED=()

dom0_before() {
  # The echoed streams (tbxfer.py echo) wait for the guest while it is away: no 60 s limit.
  TBXFER_TIMEOUT=900 python3 "$P/tb/tbxfer.py" serve 5001 > "$OUT/tbxfer.log" 2>&1 &
  LC_XF_PID=$!
  log "tbxfer server pid $LC_XF_PID; room for save files: $(df -m --output=avail /var/lib/xen | tail -n 1) MiB; $(free -m | awk '$1 == "Mem:" { print "Dom0 memory: " $2 " MiB, " $7 " MiB available" }')"
}

# lc_pattern ROUND: the guest's 256 KiB pattern of ROUND (guest.sh: the same).
lc_pattern() {
  awk -v n="$NONCE" -v r="$1" 'BEGIN { for (i = 0; i < 4096; i++) printf "TBLC %s %-10s %08d %-21s\n", n, r, i, "xen-pvhvm-rs" }'
}

# lc_devices: the device model's PCI devices (slot.fn=vendor:device/class) and block backends with
# a medium, one line each ("pci: ...", "block: ...").
lc_devices() {
  tb_qmp query-pci query-block | python3 -c '
import json, sys
pci, blk = json.loads(sys.stdin.readline()), json.loads(sys.stdin.readline())
print("pci: " + " ".join("%02x.%d=%04x:%04x/%04x" % (d["slot"], d["function"], d["id"]["vendor"],
      d["id"]["device"], d["class_info"]["class"]) for b in pci for d in b["devices"]))
print("block: " + " ".join("%s:%s" % (b.get("device") or b.get("qdev", "?"), b["inserted"]["file"])
      for b in blk if "inserted" in b))
'
}
# lc_emulated DEVICES: the emulated NICs (PCI class 0200) and IDE disks with a medium in the
# output of lc_devices; empty if none.
lc_emulated() {
  local nic ide
  nic=$(sed -n 's/^pci: //p' <<< "$1" | tr ' ' '\n' | grep '/0200$' | tr '\n' ' ')
  ide=$(sed -n 's/^block: //p' <<< "$1" | tr ' ' '\n' | grep '^ide' | tr '\n' ' ')
  echo "${nic:+NIC $nic}${ide:+IDE $ide}"
}
# lc_check_devices CHECK WHAT [PAUSED]: no emulated disk or NIC left in the device model, and the
# vbds and the vif Connected on the backend side (PAUSED: what the device model had before the
# guest ran again).
lc_check_devices() {
  local d e a b v p=${3:-}
  if ! d=$(lc_devices 2>&1); then tb_dom0_fail "$1" "$2: QMP: $(tail -n 1 <<< "$d" | cut -c1-160)"; return; fi
  log "$2: device model of domain $DOMID: $(tr '\n' ';' <<< "$d")"
  e=$(lc_emulated "$d")
  a=$(tb_backend_state vbd 51712) b=$(tb_backend_state vbd 51728) v=$(tb_backend_state vif 0)
  if [ -n "$e" ]; then
    tb_dom0_fail "$1" "$2: emulated devices back in the device model of domain $DOMID: $e"
  elif [ "$a" != 4 ] || [ "$b" != 4 ] || [ "$v" != 4 ]; then
    tb_dom0_fail "$1" "$2: backend states vbd 51712=$a vbd 51728=$b vif 0=$v (want 4)"
  else
    tb_dom0_pass "$1" "$2: domain $DOMID's device model has no emulated NIC or IDE disk (QMP query-pci, query-block)${p:+; before the guest ran again it had: $p}; vbd 51712, 51728, vif 0 Connected"
  fi
}

dom0_event_start() { lc_check_devices devices-start "at the start"; }

# While the restored or migrated domain is paused: what its new device model has before the guest
# runs again (the emulated devices a fresh qemu-xen has, which the guest must unplug again).
dom0_lc_paused() {
  local d e
  d=$(lc_devices 2>&1) || { LC_PAUSED[$LC_CUR]="QMP failed: $(tail -n 1 <<< "$d")"; return; }
  e=$(lc_emulated "$d")
  LC_PAUSED[$LC_CUR]=${e:-none}
  log "paused domain $DOMID: device model $(tr '\n' ';' <<< "$d")"
}

# lc_op ROUND: the checks of the round before, then ROUND's operation.
LC_CUR='' LC_PREV=''
lc_op() {
  [ -z "$LC_PREV" ] || lc_after "$LC_PREV"
  LC_CUR=$1 LC_PREV=$1
  case $1 in
    save*) tb_xl_save_restore "$1-xl" ;;
    checkpoint*) tb_xl_checkpoint "$1-xl" ;;
    migrate*) tb_xl_migrate "$1-xl" ;;
    *) tb_dom0_fail "$1-xl" "no operation for round $1" ;;
  esac
}

lc_after() {
  local r=$1 i=0 x want got
  for x in $LC_ROUNDS; do [ "$x" = "$r" ] && break; i=$((i + 1)); done
  want=$(lc_pattern "$r" | md5sum | cut -d' ' -f1)
  got=$(dd if="$TB_SCRATCH_DEV" bs=64k skip=$(((24 + i) * 16)) count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
  if [ "$got" = "$want" ]; then
    tb_dom0_pass "$r-data" "round $r's 256 KiB pattern is on $TB_SCRATCH_DEV at $((24 + i)) MiB"
  else
    tb_dom0_fail "$r-data" "$TB_SCRATCH_DEV at $((24 + i)) MiB: md5 $got, want $want ($(dd if="$TB_SCRATCH_DEV" bs=64k skip=$(((24 + i) * 16)) count=1 iflag=direct 2>/dev/null | head -c 48 | tr -cd '[:print:]'))"
  fi
  lc_check_devices "$r-devices" "after $r" "${LC_PAUSED[$r]:-}"
}

for lc_r in $LC_ROUNDS; do
  eval "dom0_event_$lc_r() { lc_op $lc_r; }"
done
dom0_event_end() {
  if [ -n "$LC_PREV" ]; then lc_after "$LC_PREV"; else tb_dom0_fail lifecycle-end "no round ran"; fi
}

dom0_after() {
  [ -z "$LC_XF_PID" ] || kill "$LC_XF_PID" 2> /dev/null
  # One line per operation: Dom0's durations and the guest's time away.
  local r gap
  for r in $LC_ROUNDS; do
    gap=$(sed -n "s/^TB: PASS $r-probe .*LC-DOWNTIME [^ ]* $r: the guest's I\\/O stopped for \\([0-9.]*\\) s.*/\\1/p" "$OUT/serial.log" | head -n 1)
    log "LC-TIMES $TB_KERNEL $r: $(grep -m 1 "^$r-xl " "$OUT/lifecycle.txt" 2>/dev/null | cut -d' ' -f2-); guest I/O gap ${gap:-?} s"
  done | tee -a "$OUT/lifecycle-summary.txt"
}
