# shellcheck shell=bash
# Dom0 side of the bench-net-* scenarios (scripts/bench-net.sh): an iperf3 server. Dom0 has no
# iperf3, so it is copied (with its libraries) from the guest's Debian root disk before the guest
# starts (mounted read-only at partition 1's offset, unmounted again).
BN_DIR=/tmp/bn-iperf BN_MNT=/tmp/bn-mnt BN_PID=''
dom0_before() {
  local f
  mkdir -p "$BN_DIR" "$BN_MNT"
  if ! mount -o ro,noload,offset=1048576 "$TB_ROOTFS_DEV" "$BN_MNT" 2> "$OUT/bn-mount.log"; then
    tb_dom0_fail iperf3-server "mounting the root disk: $(tr '\n' ' ' < "$OUT/bn-mount.log")"
    return
  fi
  cp "$BN_MNT/usr/bin/iperf3" "$BN_DIR/"
  for f in libiperf.so.0 libsctp.so.1; do cp -L "$BN_MNT/usr/lib/x86_64-linux-gnu/$f" "$BN_DIR/"; done
  umount "$BN_MNT"
  LD_LIBRARY_PATH=$BN_DIR "$BN_DIR/iperf3" -s > "$OUT/iperf3-server.log" 2>&1 &
  BN_PID=$!
  sleep 1
  if kill -0 "$BN_PID" 2> /dev/null; then tb_dom0_pass iperf3-server "pid $BN_PID"
  else tb_dom0_fail iperf3-server "$(tail -n 2 "$OUT/iperf3-server.log" | tr '\n' ' ')"; fi
}
dom0_after() {
  [ -z "$BN_PID" ] || kill "$BN_PID" 2> /dev/null
  rm -rf "$BN_DIR"
}
