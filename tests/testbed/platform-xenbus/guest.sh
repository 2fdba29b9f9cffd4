# shellcheck shell=sh
# Guest side of platform-xenbus (see scenario.conf): xen_platform's checks, then xenbus's, then
# xen_platform unloaded and loaded again.

# _pf_check CHECK REGEX [LOG]: PASS with the first matching line of LOG (default: dmesg); used
# for xen_platform's and xenbus's log lines alike.
_pf_check() {
  _l=$(printf '%s\n' "${3:-$($TB_BB dmesg)}" | grep -E "$2" | head -n 1 | sed 's/^\[[^]]*\] //')
  if [ -n "$_l" ]; then tb_pass "$1" "$_l"; else tb_fail "$1" "no line matching '$2' in the kernel log"; fi
}

_pf_check xen-detected 'xen_platform: Xen [0-9]+\.[0-9]+ detected .*hypercalls by vm(m)?call'
_pf_check shared-info 'xen_platform: shared_info mapped at gpfn 0x[0-9a-f]+'
_pf_check callback 'xen_platform: .*event callback via (PCI INTx pin|GSI) [0-9]+'
_pf_check grant-frames 'xen_platform: grant table v1: [0-9]+ frames at gpfn'
_pf_check selftest-evtchn 'xen_platform: selftest evtchn: PASS \(64/64\)'
_pf_check selftest-lateeoi 'xen_platform: selftest lateeoi: PASS'
_pf_check selftest-storm 'xen_platform: selftest storm: PASS'
_pf_check selftest-grant 'xen_platform: selftest grant: PASS'

# The upcall interrupt fired (the self-tests' events came through it): the per-vCPU upcall
# vector's interrupt ("xen-upcall"), or the platform device's INTx in callback mode.
irq=$(grep -E 'xen-upcall|xen-platform-pci' /proc/interrupts | tr -s ' ' | tr '\n' ' ')
n=$(grep -E 'xen-upcall|xen-platform-pci' /proc/interrupts | awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }')
if [ -n "$irq" ] && [ "${n:-0}" -ge 64 ]; then
  tb_pass irq-count "$n upcall interrupts: $(echo "$irq" | tr -s ' ')"
else
  tb_fail irq-count "upcall interrupts: '${irq:-no xen-platform-pci line in /proc/interrupts}'"
fi

# The `xen` clocksource (clock.rs) is the kernel's clock and keeps time: Dom0 notes its own
# time at two events about 6 s apart; the guest's uptime just before each event and just after
# its acknowledgement bounds when, in guest time, Dom0 did so. Dom0 judges (a wrong scale, a
# frozen clock or one left on the HPET fail).
cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)
_l=$($TB_BB dmesg | grep -E 'xen_platform: clocksource xen registered' | head -n 1 | sed 's/^\[[^]]*\] //')
if [ "$cs" = xen ] && [ -n "$_l" ]; then tb_pass clocksource "current_clocksource xen; $_l"
else tb_fail clocksource "current_clocksource '$cs', log: '${_l:-no registration line}'"; fi
_up() { cut -d' ' -f1 /proc/uptime; }
a0=$(_up); tb_event clock_a; a1=$(_up)
sleep 6
b0=$(_up); tb_event clock_b; b1=$(_up)
tb_info "CLOCKMONO $a0 $a1 $b0 $b1"
tb_event clock_c

# _xb_wait SECONDS CMD...: run CMD every 0.5 s until it succeeds or SECONDS pass.
_xb_wait() {
  _end=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift
  while :; do
    "$@" && return 0
    [ "$(cut -d. -f1 /proc/uptime)" -lt "$_end" ] || return 1
    usleep 500000
  done
}
_xb_attr() { cat "/sys/bus/xen/devices/$1/$2" 2>/dev/null; }
_xb_devs() { ls /sys/bus/xen/devices 2>/dev/null | tr '\n' ' '; }

_pf_check xenstore-connected 'xenbus: xenstore connected: ring at pfn'
for t in read errno write inflight transaction transaction-eagain watch frontend-api; do
  _pf_check "selftest-$t" "xenbus: selftest $t: PASS"
done
$TB_BB dmesg | grep -E 'xenbus: ' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done

# sysfs: the two devices of the xl config, with Linux's attributes.
_xb_sysfs() { # CHECK DEV NODENAME DEVTYPE
  d=/sys/bus/xen/devices/$2
  if [ ! -e "$d" ]; then
    tb_fail "$1" "no $d (devices: $(_xb_devs))"
    return
  fi
  n=$(_xb_attr "$2" nodename) t=$(_xb_attr "$2" devtype) o=$(_xb_attr "$2" otherend_id)
  s=$(_xb_attr "$2" state) m=$(_xb_attr "$2" modalias) b=$(_xb_attr "$2" otherend)
  if [ "$n" = "$3" ] && [ "$t" = "$4" ] && [ "$o" = 0 ] && [ -n "$s" ] && [ "$m" = "xen:$4" ] \
      && [ -n "$b" ]; then
    tb_pass "$1" "$2: nodename=$n devtype=$t otherend_id=$o state=$s modalias=$m otherend=$b"
  else
    tb_fail "$1" "$2: nodename='$n' devtype='$t' otherend_id='$o' state='$s' modalias='$m' otherend='$b'"
  fi
}
_xb_sysfs sysfs-vbd vbd-51712 device/vbd/51712 vbd
_xb_sysfs sysfs-vif vif-0 device/vif/0 vif
tb_info "xen bus devices: $(_xb_devs); bus dir: $(ls /sys/bus/xen 2>/dev/null | tr '\n' ' ')"
ue=$(cat /sys/bus/xen/devices/vbd-51712/uevent 2>/dev/null | tr '\n' ' ')
case $ue in
  *XENBUS_TYPE=vbd*XENBUS_PATH=device/vbd/51712*|*XENBUS_PATH=device/vbd/51712*XENBUS_TYPE=vbd*)
    tb_pass uevent "vbd-51712/uevent: $ue" ;;
  *) tb_fail uevent "vbd-51712/uevent: '$ue'" ;;
esac

# A watch that fires when Dom0 writes the key.
if tb_event dom0_write_watch; then
  _xb_has_dom0() { $TB_BB dmesg | grep -q 'xenbus: watch data/xpv-watch = dom0-wrote-this'; }
  if _xb_wait 30 _xb_has_dom0; then
    tb_pass dom0-watch "$($TB_BB dmesg | grep 'xenbus: watch data/xpv-watch = dom0' | head -n 1 | sed 's/^\[[^]]*\] //')"
  else
    tb_fail dom0-watch "no 'watch data/xpv-watch = dom0-wrote-this' line; watch lines: $($TB_BB dmesg | grep 'xenbus: watch' | tr '\n' '|')"
  fi
fi

# Hotplug: attach a second disk (xvdb = 51728), then detach it.
if tb_event block_attach; then
  _xb_has_new() { [ -e /sys/bus/xen/devices/vbd-51728 ]; }
  if _xb_wait 60 _xb_has_new; then
    tb_pass hotplug-add "vbd-51728 appeared: nodename=$(_xb_attr vbd-51728 nodename) state=$(_xb_attr vbd-51728 state) otherend=$(_xb_attr vbd-51728 otherend)"
  else
    tb_fail hotplug-add "no vbd-51728 within 60 s (devices: $(_xb_devs))"
  fi
fi
# The removal is checked even if Dom0's acknowledgement got lost (tb_event records that itself).
tb_event block_detach
_xb_gone() { [ ! -e /sys/bus/xen/devices/vbd-51728 ]; }
if _xb_wait 60 _xb_gone; then
  tb_pass hotplug-remove "vbd-51728 removed (devices: $(_xb_devs))"
else
  tb_fail hotplug-remove "vbd-51728 still there after 60 s, state $(_xb_attr vbd-51728 state)"
fi
$TB_BB dmesg | grep -E 'xenbus: (device|vbd-51728)' | sed 's/^\[[^]]*\] //' | while read -r l; do tb_info "$l"; done

# /dev/xen/xenbus held open with a transaction started in it (XS_TRANSACTION_START written in
# one printf): xenbus cannot be unloaded (the file's owner is the module); closing the file
# aborts the transaction (xenbus_dev.rs), and then it can.
if [ -c /dev/xen/xenbus ]; then
  exec 3<> /dev/xen/xenbus
  printf '\006\000\000\000\001\000\000\000\000\000\000\000\001\000\000\000\000' >&3
  if rmmod xenbus 2> /tmp/rmmod.err; then
    tb_fail dev-busy "rmmod xenbus succeeded with /dev/xen/xenbus open"
  else
    exec 3>&-
    _xb_torn() { $TB_BB dmesg | grep -q 'closed file: aborted 1 transactions, removed 0 watches'; }
    if _xb_wait 10 _xb_torn; then
      tb_pass dev-busy "rmmod refused while open ($(cat /tmp/rmmod.err)); on close: $($TB_BB dmesg | grep -m 1 'closed file: aborted' | sed 's/^\[[^]]*\] //')"
    else
      tb_fail dev-busy "no teardown line after closing /dev/xen/xenbus"
    fi
  fi
  exec 3>&- 2> /dev/null
else
  tb_fail dev-busy "no /dev/xen/xenbus"
fi

# Unload and load again: watches reset, devices enumerated again, /dev/xen/xenbus removed and back.
ko=/tb/modules/$(awk '$2 == "xenbus" { print $1 }' /tb/modules.list)
if rmmod xenbus && [ ! -e /sys/bus/xen ] && [ ! -e /dev/xen/xenbus ] && insmod "$ko" \
    && [ -e /sys/bus/xen/devices/vbd-51712 ] && [ -e /sys/bus/xen/devices/vif-0 ] \
    && [ -c /dev/xen/xenbus ]; then
  tb_pass reload "rmmod + insmod: devices $(_xb_devs), /dev/xen/xenbus removed and back"
else
  tb_fail reload "rmmod/insmod: devices '$(_xb_devs)', modules '$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')'"
fi
rmmod xenbus || tb_fail rmmod "rmmod xenbus failed"

# xenbus is gone: unload xen_platform and load it again. The device is unbound (callback off,
# handlers dropped, mappings gone) and bound again from scratch.
ko=/tb/modules/$(awk '$2 == "xen_platform" { print $1 }' /tb/modules.list)
before=$($TB_BB dmesg | grep -c 'selftest .*: PASS')
if rmmod xen_platform && insmod "$ko" selftest=1; then
  _pf_check platform-reload 'xen_platform: .*Xen platform device unbound'
  after=$($TB_BB dmesg | grep -c 'selftest .*: PASS')
  if [ "$after" -eq $((before + 4)) ]; then
    tb_pass platform-reload-selftest "self-tests passed again after reload ($before -> $after PASS lines)"
  else
    tb_fail platform-reload-selftest "PASS lines $before -> $after: $($TB_BB dmesg | grep 'selftest' | tail -n 4 | tr '\n' '|')"
  fi
else
  tb_fail platform-reload "rmmod/insmod xen_platform failed"
fi
if rmmod xen_platform; then
  tb_pass platform-rmmod "unloaded: $($TB_BB dmesg | grep 'xen_platform: unloaded' | wc -l) unloads, modules left: '$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')'"
else
  tb_fail platform-rmmod "rmmod xen_platform failed"
fi
