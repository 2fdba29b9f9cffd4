# shellcheck shell=sh
# Helpers for the scenarios' guest.sh (sourced by the guest's init and stage 2, busybox sh).
# Output protocol on the serial console, read by Dom0 (scripts/testbed.d/dom0-runner.sh):
#   TB: PASS <check> <detail>   TB: FAIL <check> <reason>   TB: INFO <text>
#   TB: EVENT <name>            (Dom0 runs dom0_event_<name>, then writes "TBACK <name>" back;
#                               "TB: EVENT <name> again" only asks for the acknowledgement again)
#   TB: DONE
TB_BB=/tb/bin/busybox
TB_DOM0_IP4=169.254.0.1
TB_DOM0_IP6=fe80::1
TB_GUEST_IP4=169.254.0.2
TB_GUEST_IP6=fe80::2

tb_pass() { echo "TB: PASS $*"; }
tb_fail() { echo "TB: FAIL $*"; }
tb_info() { echo "TB: INFO $*"; }
tb_uptime() { cut -d' ' -f1 /proc/uptime; }

# tb_event NAME: tell Dom0, then wait (bounded, TB_EVENT_TIMEOUT s, default 180) until Dom0 has run
# its hook and acknowledged with a line "TBACK NAME" on our serial port (Dom0 writes to the pty
# behind it). Works without any PV driver in the guest. Returns 1 (and records FAIL event-NAME)
# if no acknowledgement came. An acknowledgement can get lost on the emulated serial line (seen once
# in CI: Dom0 ran the hook and wrote TBACK, the guest never read it), so every 20 s without one the
# guest says "TB: EVENT NAME again"; Dom0 acknowledges that again without running the hook twice.
tb_event() {
  echo "TB: EVENT $1"
  _now=$(cut -d. -f1 /proc/uptime)
  _end=$((_now + ${TB_EVENT_TIMEOUT:-180})) _again=$((_now + 20))
  while [ "$_now" -lt "$_end" ]; do
    if IFS= read -r -t 5 _line < /dev/console; then
      case $_line in *"TBACK $1"*) return 0 ;; esac
    fi
    _now=$(cut -d. -f1 /proc/uptime)
    if [ "$_now" -ge "$_again" ]; then echo "TB: EVENT $1 again"; _again=$((_now + 20)); fi
  done
  tb_fail "event-$1" "no acknowledgement from Dom0 within ${TB_EVENT_TIMEOUT:-180} s"
  return 1
}

# tb_driver_of SYSFS_DEVICE_PATH: name of the driver bound to that device (empty if none).
tb_driver_of() {
  _d=$($TB_BB readlink -f "$1/driver" 2>/dev/null) || return 0
  [ -n "$_d" ] && [ -e "$_d" ] && echo "${_d##*/}"
  return 0
}

# tb_wait_path PATH SECONDS: wait until PATH exists; status 1 on timeout.
tb_wait_path() {
  _n=$(( $2 * 10 ))
  while [ ! -e "$1" ]; do
    [ "$_n" -gt 0 ] || return 1
    $TB_BB usleep 100000; _n=$((_n - 1))
  done
  return 0
}

# tb_pattern: the 1 MiB data pattern (16384 lines of 64 bytes) naming this run's nonce; Dom0's
# dom0-runner.sh generates the very same bytes to verify the backing device (check dom0-data).
tb_pattern() {
  $TB_BB awk -v n="$TB_NONCE" 'BEGIN { for (i = 0; i < 16384; i++) printf "TBDATA %s %08d %-30s\n", n, i, "xen-pvhvm-rs" }'
}

# tb_disk_rw DEV: write the pattern at 1 MiB, flush, drop the page cache, read it back and compare.
tb_disk_rw() {
  _f=/tmp/tb-pattern
  tb_pattern > "$_f"
  _want=$($TB_BB md5sum < "$_f" | cut -d' ' -f1)
  _t0=$(tb_uptime)
  if ! $TB_BB dd if="$_f" of="$1" bs=64k seek=16 conv=fsync 2>/tmp/tb-dd.err; then
    tb_fail disk-rw "write to $1: $(tail -n 1 /tmp/tb-dd.err)"; return 1
  fi
  _t1=$(tb_uptime)
  sync; echo 3 > /proc/sys/vm/drop_caches
  _got=$($TB_BB dd if="$1" bs=64k skip=16 count=16 2>/dev/null | $TB_BB md5sum | cut -d' ' -f1)
  _t2=$(tb_uptime)
  rm -f "$_f"
  if [ "$_got" = "$_want" ]; then
    tb_pass disk-rw "1 MiB at offset 1 MiB of $1 written (${_t0}-${_t1}s) and read back after drop_caches (${_t2}s), md5 $_want"
  else
    tb_fail disk-rw "read back from $1: md5 $_got, wrote $_want"; return 1
  fi
}

# tb_net_up IF: bring IF up with the link-local addresses 169.254.0.2/16 and fe80::2/64.
tb_net_up() {
  $TB_BB ip link set lo up
  echo 0 > "/proc/sys/net/ipv6/conf/$1/accept_dad" 2>/dev/null
  if ! $TB_BB ip link set "$1" up; then tb_fail "net-up" "ip link set $1 up failed"; return 1; fi
  _n=200
  while [ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" != 1 ] && [ $_n -gt 0 ]; do
    $TB_BB usleep 100000; _n=$((_n - 1))
  done
  $TB_BB ip addr add "$TB_GUEST_IP4/16" dev "$1" 2>/dev/null
  $TB_BB ip addr add "$TB_GUEST_IP6/64" dev "$1" 2>/dev/null
  if [ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" != 1 ]; then
    tb_fail net-up "$1 has no carrier after 20 s"; return 1
  fi
  return 0
}

# _tb_ping CHECK ARGS...: 5 pings, bounded; PASS only without loss. tb_ping4/tb_ping6 send them
# 0.2 s apart (a reply takes 10-40 ms here): a lost one still fails, in 1 s instead of 4.
_tb_ping() {
  _c=$1; shift
  _o=$($TB_BB timeout 40 $TB_BB "$@" 2>&1)
  _s=$(echo "$_o" | grep 'packets transmitted')
  _r=$(echo "$_o" | grep 'round-trip')
  case $_s in
    *" 5 packets received, 0% packet loss"*) tb_pass "$_c" "$* : ${_r#round-trip }" ;;
    *) tb_fail "$_c" "$* : ${_s:-$(echo "$_o" | tail -n 1)}"; return 1 ;;
  esac
}
tb_ping4() { _tb_ping ping4 ping -c 5 -i 0.2 -w 30 -I "$1" "$TB_DOM0_IP4"; }
tb_ping6() { _tb_ping ping6 ping6 -c 5 -i 0.2 -w 30 -I "$1" "$TB_DOM0_IP6"; }

# tb_xen_cpuid: check xen-cpuid — the hypervisor CPUID leaves carry Xen's signature.
tb_xen_cpuid() {
  _o=$(/tb/bin/tbcpuid 2>&1)
  case $_o in
    *sig=XenVMMXenVMM*) tb_pass xen-cpuid "$(echo "$_o" | grep XenVMMXenVMM | head -n 1)" ;;
    *) tb_fail xen-cpuid "no XenVMMXenVMM signature in CPUID 0x4000xx00: ${_o:-no hypervisor leaves}"; return 1 ;;
  esac
}

# tb_xen_platform_pci: check xen-platform-pci — the Xen platform PCI device 5853:0001 is present.
tb_xen_platform_pci() {
  for _p in /sys/bus/pci/devices/*; do
    if [ "$(cat "$_p/vendor" 2>/dev/null)" = 0x5853 ] && [ "$(cat "$_p/device" 2>/dev/null)" = 0x0001 ]; then
      tb_pass xen-platform-pci "${_p##*/} 5853:0001 driver '$(tb_driver_of "$_p")'"
      return 0
    fi
  done
  tb_fail xen-platform-pci "no PCI device 5853:0001 in /sys/bus/pci/devices"
  return 1
}
