# shellcheck shell=sh
# Guest side of platform-basic: checks on xen_platform's kernel log lines.

# _pf_check CHECK REGEX [LOG]: PASS with the first matching line of LOG (default: dmesg).
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

# Unload and load again: the device is unbound (callback off, handlers dropped, mappings gone)
# and bound again from scratch.
ko=/tb/modules/$(awk '$2 == "xen_platform" { print $1 }' /tb/modules.list)
before=$($TB_BB dmesg | grep -c 'selftest .*: PASS')
if rmmod xen_platform && insmod "$ko" selftest=1; then
  _pf_check reload 'xen_platform: .*Xen platform device unbound'
  after=$($TB_BB dmesg | grep -c 'selftest .*: PASS')
  if [ "$after" -eq $((before + 4)) ]; then
    tb_pass reload-selftest "self-tests passed again after reload ($before -> $after PASS lines)"
  else
    tb_fail reload-selftest "PASS lines $before -> $after: $($TB_BB dmesg | grep 'selftest' | tail -n 4 | tr '\n' '|')"
  fi
else
  tb_fail reload "rmmod/insmod failed"
fi
if rmmod xen_platform; then
  tb_pass rmmod "unloaded: $($TB_BB dmesg | grep 'xen_platform: unloaded' | wc -l) unloads, modules left: '$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')'"
else
  tb_fail rmmod "rmmod xen_platform failed"
fi
