# shellcheck shell=bash
# Dom0 side of scale-disks (see scenario.conf).
SC_DIR=/tmp/scale-disks SC_LOOPS=() SC_PID=''
SC_LETTERS=bcdefgh
dom0_before() {
  # The backends offer as many queues as Dom0 has vCPUs unless told otherwise.
  tb_backend_max_queues 4 4
  python3 "$P/tb/tbxfer.py" serve 5001 > "$OUT/tbxfer.log" 2>&1 &
  SC_PID=$!
}
dom0_after() {
  [ -z "$SC_PID" ] || kill "$SC_PID" 2>/dev/null
  for l in "${SC_LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
  rm -rf "$SC_DIR"
}
# Seven 32 MiB disks, xvdb to xvdh, on loop devices.
dom0_event_attach() {
  modprobe loop 2> /dev/null
  rm -rf "$SC_DIR"; mkdir -p "$SC_DIR"
  local i x f l o bad=''
  for ((i = 0; i < ${#SC_LETTERS}; i++)); do
    x=${SC_LETTERS:i:1} f=$SC_DIR/xvd$x.img
    truncate -s 32M "$f"
    l=$(losetup -f --show "$f") || { bad+=" xvd$x: losetup"; continue; }
    SC_LOOPS+=("$l")
    o=$(timeout 60 xl block-attach "$DOM" "format=raw,vdev=xvd$x,access=rw,target=$l" 2>&1) \
      || bad+=" xvd$x: $(echo "$o" | tail -n 1)"
  done
  if [ -z "$bad" ]; then tb_dom0_pass dom0-attach "xvdb..xvdh attached (${SC_LOOPS[*]})"
  else tb_dom0_fail dom0-attach "$bad"; fi
}
# Every vbd and the vif Connected, with the queues the frontends announced in xenstore.
dom0_event_connected() {
  local d s n bad='' got=''
  for d in $(xenstore-list "/local/domain/0/backend/vbd/$DOMID" 2>/dev/null); do
    s=$(tb_backend_state vbd "$d")
    n=$(xenstore-read "/local/domain/$DOMID/device/vbd/$d/multi-queue-num-queues" 2>/dev/null || echo 1)
    got+="$d:$s/$n "
    [ "$s" = 4 ] && [ "$n" = 4 ] || bad+=" vbd $d state $s queues $n"
  done
  [ "$(wc -w <<<"$got")" = 8 ] || bad+=" $(wc -w <<<"$got") vbds (want 8)"
  if [ -z "$bad" ]; then tb_dom0_pass dom0-backends "8 vbds Connected with 4 queues: $got"
  else tb_dom0_fail dom0-backends "${bad# } ($got)"; fi
  s=$(tb_backend_state vif 0)
  n=$(xenstore-read "/local/domain/$DOMID/device/vif/0/multi-queue-num-queues" 2>/dev/null)
  bad=''
  for ((i = 0; i < 4; i++)); do
    xenstore-read "/local/domain/$DOMID/device/vif/0/queue-$i/tx-ring-ref" > /dev/null 2>&1 || bad+=" queue-$i"
  done
  if [ "$s" = 4 ] && [ "$n" = 4 ] && [ -z "$bad" ]; then
    tb_dom0_pass dom0-vif-queues "vif 0 Connected, multi-queue-num-queues 4, queue-0..3 ring refs"
  else
    tb_dom0_fail dom0-vif-queues "vif 0 state $s, queues '$n', missing:${bad:- none}"
  fi
}
# What the guest wrote to each disk (tb_disk_rw's 1 MiB pattern of this run at offset 1 MiB), read
# from the backing files.
dom0_event_verify() {
  local i x f bad='' want
  want=$(tb_pattern | sha256sum | cut -d' ' -f1)
  for ((i = 0; i < ${#SC_LETTERS}; i++)); do
    x=${SC_LETTERS:i:1} f=$SC_DIR/xvd$x.img
    [ "$(dd if="$f" bs=1M skip=1 count=1 status=none | sha256sum | cut -d' ' -f1)" = "$want" ] || bad+=" xvd$x"
  done
  if [ -z "$bad" ]; then tb_dom0_pass dom0-disk-data "xvdb..xvdh each hold this run's 1 MiB pattern at 1 MiB"
  else tb_dom0_fail dom0-disk-data "wrong or missing data on$bad"; fi
}
