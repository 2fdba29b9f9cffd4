# shellcheck shell=sh
# Guest side of balloon-pod (see scenario.conf); root is the Debian disk on /dev/xvda1 by now, our
# balloon has been loaded by the initramfs right after xenbus.
BP_SYS=/sys/devices/system/xen_memory/xen_memory0
BP_MAXMEM=$(echo "$TB_XL_EXTRA" | sed -n 's/.*maxmem *= *\([0-9][0-9]*\).*/\1/p')
BP_WANT=$((TB_MEMORY * 1024))   # KiB Xen backs: memory
_bp_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
_bp_sys() { cat "$BP_SYS/$1" 2>/dev/null; }
_bp_num() { case $1 in ''|*[!0-9]*) return 1 ;; esac; }
_bp_state() { echo "MemTotal $(_bp_kb MemTotal) kB, MemAvailable $(_bp_kb MemAvailable) kB, target_kb $(_bp_sys target_kb), current_kb $(_bp_sys info/current_kb), low_kb $(_bp_sys info/low_kb), high_kb $(_bp_sys info/high_kb)"; }

# The RAM the kernel found at boot is maxmem's (populate-on-demand: the guest sees maxmem, Xen
# backs memory), else this scenario would prove nothing.
l=$($TB_BB dmesg | grep -m 1 -o 'Memory: [0-9]*K/[0-9]*K available')
ram=$(echo "$l" | sed -n 's/.*K\/\([0-9]*\)K available/\1/p')
if _bp_num "$BP_MAXMEM" && _bp_num "$ram" && [ "$ram" -ge $(( (BP_MAXMEM - 16) * 1024 )) ]; then
  tb_pass pod-e820 "the kernel saw ${ram}K of RAM at boot ('$l'): maxmem $BP_MAXMEM MiB, memory $TB_MEMORY MiB"
else
  tb_fail pod-e820 "kernel's '${l:-no Memory: line}', want about maxmem '$BP_MAXMEM' MiB"
fi

# The balloon at its target: MemTotal and target_kb at most memory (and target_kb not far below:
# Linux's target is memory/target less what the guest does not see as RAM), current_kb at
# target_kb; within 60 s.
u0=$(cut -d' ' -f1 /proc/uptime)
end=$(( ${u0%.*} + 60 )) ok=
while :; do
  m=$(_bp_kb MemTotal) tk=$(_bp_sys target_kb) ck=$(_bp_sys info/current_kb)
  if _bp_num "$tk" && _bp_num "$ck" && [ "$m" -le "$BP_WANT" ] && [ "$tk" -le "$BP_WANT" ] \
      && [ "$tk" -ge $((BP_WANT - 24 * 1024)) ] && [ "$ck" -le $((tk + 1024)) ] && [ "$ck" -ge $((tk - 1024)) ]; then
    ok=1; break
  fi
  [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ] || break
  $TB_BB usleep 250000
done
u1=$(cut -d' ' -f1 /proc/uptime)
if [ -n "$ok" ]; then
  tb_pass pod-balloon "at uptime ${u1} s (guest.sh started at ${u0} s): $(_bp_state)"
  tb_info "BALLOON-TIME $TB_KERNEL pod: balloon at its target ($((tk / 1024)) MiB of ${ram:-?}K) by uptime ${u1} s (waited from ${u0} s)"
else
  tb_fail pod-balloon "not at a target <= $BP_WANT kB within 60 s: $(_bp_state)"
fi
tb_event pod_before

# Fill what the guest believes it can use, less 48 MiB, with non-zero data distinct per page
# (nonce + page number; Xen's PoD sweep would reclaim zero pages), hold it 2 s, verify every page.
avail=$(_bp_kb MemAvailable)
fill=$(( ${avail:-0} / 1024 - 48 ))
tb_info "before the fill: $(_bp_state); filling $fill MiB"
if [ "$fill" -lt 64 ]; then
  tb_fail pod-fill "MemAvailable ${avail:-?} kB leaves only $fill MiB to fill"
else
  cat > /tmp/bp-fill.py <<'EOF'
import sys, time
mib, nonce = int(sys.argv[1]), sys.argv[2].encode()
pg, n = 4096, int(sys.argv[1]) << 20
pages = n // pg
def page(i):
    return (b"%s %010d " % (nonce, i)).ljust(64, b"\xa5") * (pg // 64)
t0 = time.time()
buf = bytearray(n)
for i in range(pages):
    buf[i * pg:(i + 1) * pg] = page(i)
t1 = time.time()
time.sleep(2)
bad = [i for i in range(pages) if buf[i * pg:(i + 1) * pg] != page(i)]
t2 = time.time()
print("%s %d %d %d %.1f %.1f %s" % ("OK" if not bad else "BAD", mib, pages, len(bad), t1 - t0, t2 - t1, bad[:4]))
EOF
  o=$(python3 /tmp/bp-fill.py "$fill" "$TB_NONCE" 2>&1)
  st=$?
  # shellcheck disable=SC2046  # the result's words
  set -- $(echo "$o" | tail -n 1)
  if [ $st = 0 ] && [ "${1:-}" = OK ] && [ "${2:-}" = "$fill" ]; then
    tb_pass pod-fill "$2 MiB ($3 pages of non-zero data) written in $5 s, all pages verified after 2 s ($6 s)"
  else
    tb_fail pod-fill "python3 status $st: $(echo "$o" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
  fi
fi
tb_info "after the fill: $(_bp_state)"
tb_event pod_after
$TB_BB dmesg | grep -E 'balloon|Memory:' | sed 's/^\[[^]]*\] //' | tail -n 20 | while read -r l; do tb_info "$l"; done
