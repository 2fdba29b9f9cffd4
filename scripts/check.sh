#!/usr/bin/env bash
# All of the project's tests, in order (what `make check` and CI run):
#   1. host: cargo fmt --check, cargo clippy -D warnings, cargo test over the shared protocol core
#      (each #[test] counts as one result)
#   1b. fuzz: the xenstore codec and blkif/netif response fuzzers (scripts/fuzz.sh, FUZZ_SECONDS
#       per target, default 30)
#   2. the guest kernel (cached) and our five modules built against it (through clippy: no
#      warning allowed; rustfmt of the modules' sources is checked in step 1); modinfo dependencies;
#      the same for the newest kernel series (7.3: kernel-7.3, build-modules-7.3, ...), whose
#      modules go to build/linux-7.3 (scripts/build-modules.sh)
#   3. smoke boot without Xen (scripts/smoke.sh); DKMS add/build/install against the guest kernel
#      in a contained tree, and the toolchain-mismatch message (scripts/dkms-test.sh); both on
#      6.12 and 7.3
#   3b. deb: the Debian package (scripts/build-deb.sh) built, its contents and lintian checked,
#       installed with apt into a bookworm chroot with the guest kernel (the postinst's DKMS build,
#       the update-initramfs trigger), then removed and purged (scripts/deb-test.sh)
#   4. the Xen test bed: every default scenario on real Xen (and demo-7.3, initramfs-tools-root-7.3
#      on the 7.3 kernel), then the runner's self-test (broken scenarios must be reported FAIL
#      with their logs), in one Xen boot (scripts/testbed check)
# Each result is a "NAME: PASS" / "NAME: FAIL <reason>" line; the last line is "N passed, N failed".
# Exit status 1 if anything failed. A step that cannot run is a failure.
#
#   scripts/check.sh [STEP...]   STEP: host fuzz modules smoke dkms deb testbed selftest (default: all, as CI);
#                                steps not named are not run and are listed as "not run" on stderr
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$XPV_ROOT"

passed=0 failed=0
t_start=$(date +%s)
results=$(mktemp); trap 'rm -f "$results"' EXIT
# count FILE: add the PASS/FAIL lines of FILE (already printed) to the totals.
count() {
  local p f
  p=$(grep -cE '^[A-Za-z0-9_.:-]+: PASS' "$1" || true)
  f=$(grep -cE '^[A-Za-z0-9_.:-]+: FAIL' "$1" || true)
  passed=$((passed + p)); failed=$((failed + f))
}
result() { # NAME STATUS DETAIL
  if [ "$2" = 0 ]; then echo "$1: PASS${3:+ ($3)}"; passed=$((passed + 1))
  else echo "$1: FAIL ${3:-exit status $2}"; failed=$((failed + 1)); fi
}
# testbed_complete FILE: the runner's summary line is not a result of its own; every default
# scenario must have reported in FILE (a run that printed fewer results, or none, fails).
testbed_complete() {
  local want_n got_n
  want_n=$(scripts/testbed list | wc -l)
  got_n=$(grep -cE '^[A-Za-z0-9_.-]+: (PASS|FAIL)' "$1" || true)
  if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$1"; then result testbed-run 1 "runner printed no summary"
  elif ((want_n == 0 || got_n != want_n)); then result testbed-run 1 "$got_n results for $want_n default scenarios"; fi
}
step() { xpv_log "check: $* ($(( $(date +%s) - t_start ))s elapsed)"; }
all_steps=(host fuzz modules smoke dkms deb testbed selftest)
steps=("$@"); ((${#steps[@]})) || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  [[ " ${all_steps[*]} " == *" $s "* ]] || { echo "unknown step '$s' (steps: ${all_steps[*]})" >&2; exit 2; }
done
want() { [[ " ${steps[*]} " == *" $1 "* ]]; }
notrun=(); for s in "${all_steps[@]}"; do want "$s" || notrun+=("$s"); done
((${#notrun[@]} == 0)) || xpv_log "check: not run (not asked for): ${notrun[*]}"

step "setup"
if ! scripts/setup.sh; then
  result setup 1 "scripts/setup.sh failed"; echo "$passed passed, $failed failed"; exit 1
fi

# The test bed's disk images (Dom0, the guests' root disk; each cached by its inputs and locked)
# are made in the background meanwhile: on an empty cache that is 3 minutes of downloads and dpkg
# beside the host steps and the kernel builds. The test bed step waits for their locks (and makes
# them itself if this failed: its log is below).
img_pid=''
if want testbed || want selftest; then
  ( scripts/testbed.d/build-dom0.sh && scripts/testbed.d/build-rootfs.sh ) > "$XPV_CACHE/check-images.log" 2>&1 &
  img_pid=$!
fi

if want host; then
step "host: fmt, clippy, tests"
out=$(cargo fmt --all -- --check 2>&1); rc=$?
result host-fmt $rc "$( ((rc)) && echo "$out" | head -n 5 | tr '\n' ' ')"
# The modules' own sources (built by Kbuild, not cargo) under the same rustfmt rules.
mods_rs=$(git ls-files 'xen_platform/*.rs' 'xenbus/*.rs' 'xen_balloon/*.rs' 'xen_blkfront/*.rs' 'xen_netfront/*.rs' \
  'xen_proto/src/kernel_*.rs')
# shellcheck disable=SC2086  # file names, one word each
out=$(rustfmt --edition 2021 --check $mods_rs 2>&1); rc=$?
result modules-fmt $rc "$( ((rc)) && echo "$out" | grep -m 3 '^Diff in' | tr '\n' ' ')"
out=$(cargo clippy --all-targets --quiet -- -D warnings 2>&1); rc=$?
result host-clippy $rc "$( ((rc)) && echo "$out" | grep -m 3 -E '^(error|warning)' | tr '\n' ' ')"
# One result per #[test]: the harness prints "test NAME ... ok|FAILED" for each.
cargo test --no-fail-fast -- --test-threads="$(nproc)" > "$results" 2>&1; rc=$?
n_ok=$(grep -cE '^test .* \.\.\. ok$' "$results" || true)
n_fail=$(grep -cE '^test .* \.\.\. FAILED$' "$results" || true)
grep -E '^test .* \.\.\. FAILED$' "$results" | sed -E 's/^test (.*) \.\.\. FAILED$/host-test-\1: FAIL see cargo test/'
echo "host-tests: $n_ok passed, $n_fail failed (cargo test)"
passed=$((passed + n_ok)); failed=$((failed + n_fail))
if ((rc != 0 && n_fail == 0)); then result host-tests-build "$rc" "cargo test failed: $(grep -m 1 '^error' "$results")"; fi

fi

if want fuzz; then
step "fuzz: xenstore codec, blkif and netif responses (${FUZZ_SECONDS:-30}s per target)"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}" | tee "$results"; count "$results"
grep -qE '^fuzz-[A-Za-z0-9_]+: (PASS|FAIL)' "$results" || result fuzz 1 "scripts/fuzz.sh printed no result"

fi

step "guest kernel"
kdir=$(scripts/build-kernel.sh | tail -n 1); rc=$?
result kernel "$rc" "$kdir"
if ((rc)); then echo "$passed passed, $failed failed"; exit 1; fi
# The newest kernel series too (issue 22): its kernel, the modules built for it, the smoke boot
# and DKMS here, and the test bed scenarios with TB_ALSO_SERIES (demo-7.3, ...). Results carry
# the series in their names (kernel-7.3, build-modules-7.3, smoke-load-7.3, dkms-depmod-7.3, ...).
new=$KERNEL_SERIES_NEWEST
suffix() { sed -E "s/^([A-Za-z0-9_.-]+): (PASS|FAIL)/\1-$new: \2/"; }
step "guest kernel $new"
kdir_new=$(KERNEL_SERIES=$new scripts/build-kernel.sh | tail -n 1); rc=$?
result "kernel-$new" "$rc" "$kdir_new"
new_ok=$((rc == 0))

modules_ok=1
if want modules || want smoke || want dkms || want deb || want testbed || want selftest; then
step "modules"
# No .ko of an earlier build may stand in for one this build failed to make, and every object is
# compiled again, so that the lints below see all of the code.
for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do rm -f "$m/$m.ko" "$m"/*.o; done
# CLIPPY=1: Kbuild compiles through clippy-driver, so the one build also lints the modules.
make -s KDIR="$kdir" CLIPPY=1 modules > "$results" 2>&1; rc=$?
result build-modules "$rc" "$( ((rc)) && grep -m 3 -E 'error|undefined' "$results" | tr '\n' ' ')"
((rc == 0)) || modules_ok=0
n=$(grep -cE '^(warning|error)(\[|:)' "$results" || true)
result modules-clippy "$((n > 0))" "$( ((n)) && grep -m 3 -E '^(warning|error)' "$results" | tr '\n' ' ')"
deps=() expect_deps=("xen_platform:" "xenbus:xen_platform" "xen_balloon:xen_platform,xenbus" "xen_blkfront:xen_platform,xenbus" "xen_netfront:xen_platform,xenbus")
for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do
  d=$(/sbin/modinfo -F depends "$m/$m.ko" 2>/dev/null | tr ',' '\n' | sort | paste -sd, -)
  deps+=("$m:$d")
done
[ "${deps[*]}" = "${expect_deps[*]}" ]; result modinfo-depends $? "${deps[*]}"
# What udev loads us by (issue 23): the platform device's PCI ids, the xen bus devices' types,
# and xenbus and xen_balloon through xen_platform's softdep.
al=$( { /sbin/modinfo -F alias xen_platform/xen_platform.ko; /sbin/modinfo -F softdep xen_platform/xen_platform.ko
  /sbin/modinfo -F alias xen_blkfront/xen_blkfront.ko; /sbin/modinfo -F alias xen_netfront/xen_netfront.ko; } 2>/dev/null | tr '\n' ' ')
[ "$al" = "pci:v00005853d00000001sv*sd*bc*sc*i* pci:v00005853d00000002sv*sd*bc*sc*i* post: xenbus xen_balloon xen:vbd xen:vif " ]
result modinfo-aliases $? "$al"

step "modules for $new"
moddir_new=build/linux-$new
if ((new_ok)); then
  # From scratch, as above: every object compiled (and linted) again.
  rm -rf "$moddir_new"
  scripts/build-modules.sh "$new" > "$results" 2>&1; rc=$?
  result "build-modules-$new" "$rc" "$( ((rc)) && grep -m 3 -E 'error|undefined' "$results" | tr '\n' ' ')"
  n=$(grep -cE '^(warning|error)(\[|:)' "$results" || true)
  result "modules-clippy-$new" "$((n > 0))" "$( ((n)) && grep -m 3 -E '^(warning|error)' "$results" | tr '\n' ' ')"
  # Built for that kernel, not copies of the default kernel's.
  krel=$(cat "$kdir_new/include/config/kernel.release") vm=''
  for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do
    vm+="$m:$(/sbin/modinfo -F vermagic "$moddir_new/$m/$m.ko" 2>/dev/null | cut -d' ' -f1) "
  done
  [ "$vm" = "$(for m in xen_platform xenbus xen_balloon xen_blkfront xen_netfront; do printf '%s:%s ' "$m" "$krel"; done)" ]
  result "modinfo-vermagic-$new" $? "$vm"
  ((rc == 0)) || new_ok=0
else
  result "build-modules-$new" 1 "not run: the $new kernel build failed"
fi

fi

if want smoke && ((!modules_ok)); then
  result smoke 1 "not run: the module build failed"
elif want smoke; then
step "smoke boot without Xen"
scripts/smoke.sh "$kdir" | tee "$results"; count "$results"
if ((new_ok)); then
  scripts/smoke.sh "$kdir_new" "$moddir_new" | suffix | tee "$results"; count "$results"
else
  result "smoke-$new" 1 "not run: the $new kernel or module build failed"
fi

fi

if want dkms && ((!modules_ok)); then
  result dkms 1 "not run: the module build failed"
elif want dkms; then
step "DKMS packaging"
scripts/dkms-test.sh "$kdir" | tee "$results"; count "$results"
grep -q '^dkms-install: ' "$results" || result dkms 1 "scripts/dkms-test.sh printed no install result"
if ((new_ok)); then
  scripts/dkms-test.sh "$kdir_new" | suffix | tee "$results"; count "$results"
  grep -q "^dkms-install-$new: " "$results" || result "dkms-$new" 1 "scripts/dkms-test.sh printed no install result"
else
  result "dkms-$new" 1 "not run: the $new kernel or module build failed"
fi
fi

if want deb && ((!modules_ok)); then
  result deb 1 "not run: the module build failed"
elif want deb; then
step "Debian package"
scripts/deb-test.sh "$kdir" | tee "$results"; count "$results"
grep -q '^deb-apt-purge: ' "$results" || result deb 1 "scripts/deb-test.sh did not get to apt-get purge"
fi

if [ -n "$img_pid" ] && ! wait "$img_pid"; then
  xpv_log "check: the background image build failed ($XPV_CACHE/check-images.log); the test bed makes them"
fi
if want testbed && want selftest && ((modules_ok)); then
# Both in one Xen boot: the default scenarios, then the broken-* ones of the self-test.
step "Xen test bed and its self-test"
scripts/testbed check | tee "$results"
# The self-test's own verdict line is counted once, as testbed-selftest below.
grep -v '^selftest: ' "$results" > "$results.tb"; count "$results.tb"
testbed_complete "$results.tb"; rm -f "$results.tb"
st=$(grep -E '^selftest: (PASS|FAIL)' "$results" | tail -n 1)
[[ $st == "selftest: PASS"* ]]; result testbed-selftest $? "${st:-no self-test verdict}"
elif want testbed && ((!modules_ok)); then
  result testbed 1 "not run: the module build failed"
elif want testbed; then
step "Xen test bed"
scripts/testbed run | tee "$results"; count "$results"
testbed_complete "$results"

fi

if want selftest && ((!modules_ok)); then
  result selftest 1 "not run: the module build failed"
elif want selftest && ! want testbed; then
step "Xen test bed self-test"
scripts/testbed selftest > "$results" 2>&1; rc=$?
result testbed-selftest "$rc" "$(grep -E '^selftest' "$results" | tail -n 1)"

fi

xpv_log "check: done in $(( $(date +%s) - t_start ))s"
echo "$passed passed, $failed failed"
((failed == 0))
