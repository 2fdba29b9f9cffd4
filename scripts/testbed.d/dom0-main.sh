#!/bin/bash
# dom0-main.sh — runs inside the test bed's Dom0 (started by /usr/local/sbin/testbed-boot from the
# payload disk, copied there by scripts/testbed): records xl info and Xen's boot log, then runs the
# scenarios of tb/plan one after another with dom0-runner.sh, each bounded by its TB_TIMEOUT plus a
# margin, and prints "TBRESULT NAME PASS|FAIL ..." on the console for each.
set -uo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
P=${TB_PAYLOAD:-/payload}
R=$P/results
mkdir -p "$R"
log() { echo "TB-DOM0[$(cut -d' ' -f1 /proc/uptime)] $*"; }
# Fast hotplug scripts (also used by the scenarios' xl block-attach).
install -m 0755 "$P/tb/hotplug-block" /etc/xen/scripts/block
install -m 0755 "$P/tb/hotplug-vif" /etc/xen/scripts/vif-bridge
timeout 60 xl info > "$R/xl-info.txt" 2>&1
timeout 60 xl dmesg -c > "$R/xl-dmesg-boot.log" 2>&1
grep -E '^(xen_version|virt_caps|nr_cpus|free_memory)' "$R/xl-info.txt"
sync
while read -r name; do
  [ -n "$name" ] || continue
  # shellcheck source=/dev/null
  t=$( (TB_TIMEOUT=300; . "$P/scen/$name/scenario.conf" > /dev/null 2>&1; echo "$TB_TIMEOUT") )
  limit=$((t + 75))
  rm -rf "${R:?}/$name"; mkdir -p "$R/$name"
  log "scenario $name (limit ${limit}s)"
  rc=0 t0=$(date +%s)
  timeout -k 10 "$limit" "$P/tb/dom0-runner.sh" "$name" || rc=$?
  echo $(( $(date +%s) - t0 )) > "$R/$name/seconds"
  if [ ! -s "$R/$name/result" ]; then
    if ((rc == 124 || rc == 137)); then
      echo "FAIL Dom0 runner did not finish within ${limit}s (last guest line: $(tr -d '\r' < "$R/$name/serial.raw" 2>/dev/null | grep -av '^[[:space:]]*$' | tail -n 1 | cut -c1-160))" > "$R/$name/result"
    else
      echo "FAIL Dom0 runner exited with status $rc and no result" > "$R/$name/result"
    fi
    timeout 60 xl destroy "tb-$name" > /dev/null 2>&1
    [ -f "$R/$name/serial.raw" ] && tr -d '\r' < "$R/$name/serial.raw" > "$R/$name/serial.log"
    timeout 30 xl dmesg > "$R/$name/xl-dmesg.log" 2>&1
  fi
  echo "TBRESULT $name $(head -n 1 "$R/$name/result")"
  sync
done < "$P/tb/plan"
log "all scenarios done"
sync
