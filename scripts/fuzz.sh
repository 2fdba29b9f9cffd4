#!/usr/bin/env bash
# Fuzz xen_proto (fuzz/) for a bounded time: the xenstore codec (targets xs_reply, xs_ring,
# xs_stream) and the block/net ring response handling (blkif_rsp, netif_rsp).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, all targets)
# Installs what it needs on a fresh machine: a nightly toolchain (rustup) and cargo-fuzz into
# $XPV_TOOLS. Prints one "fuzz-<target>: PASS" or "fuzz-<target>: FAIL <reason>" line per target and
# exits non-zero if any failed. Crash inputs are kept in fuzz/artifacts/<target>/.
set -euo pipefail
. "$(dirname "$0")/env.sh"

SECONDS_PER_TARGET=${1:-60}
shift || true
[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || xpv_die "SECONDS must be a number, got '$SECONDS_PER_TARGET'"
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(xs_reply xs_ring xs_stream blkif_rsp netif_rsp)
FUZZ_TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
# Optional exact cargo-fuzz version (empty: the latest release).
CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-}

command -v rustup >/dev/null || xpv_die "rustup not found: install rustup first (https://rustup.rs)"
if ! rustup run "$FUZZ_TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  xpv_log "rustup toolchain install $FUZZ_TOOLCHAIN (cargo-fuzz needs -Z flags)"
  rustup toolchain install "$FUZZ_TOOLCHAIN" --profile minimal
fi
# libfuzzer-sys builds libFuzzer's C++ sources.
command -v c++ >/dev/null || command -v clang++ >/dev/null \
  || xpv_die "no C++ compiler found (apt-get install g++)"

mkdir -p "$XPV_TOOLS"
if ! "$XPV_TOOLS/bin/cargo-fuzz" --version 2>/dev/null | grep -qF -- "$CARGO_FUZZ_VERSION"; then
  xpv_log "cargo install --locked cargo-fuzz${CARGO_FUZZ_VERSION:+@$CARGO_FUZZ_VERSION} into $XPV_TOOLS (a few minutes)"
  # cargo-fuzz itself builds with the pinned stable toolchain; only the targets need nightly.
  cargo install --locked --root "$XPV_TOOLS" "cargo-fuzz${CARGO_FUZZ_VERSION:+@$CARGO_FUZZ_VERSION}"
fi

cd "$XPV_ROOT/fuzz"
# The repository pins 1.95.0 (rust-toolchain.toml, env.sh); the fuzzers need nightly.
export RUSTUP_TOOLCHAIN=$FUZZ_TOOLCHAIN
# Every target built first (one cargo run, in order: a build failure is that target's FAIL), then
# the fuzzers run side by side, as many at a time as there are CPUs (libFuzzer uses one each), so
# each still gets its SECONDS_PER_TARGET of a whole CPU; results are printed in target order.
status=0
res=$(mktemp -d); trap 'rm -rf "$res"' EXIT
runnable=()
for t in "${TARGETS[@]}"; do
  log="$XPV_ROOT/fuzz/artifacts/$t.log"
  mkdir -p "$XPV_ROOT/fuzz/artifacts/$t" "$XPV_ROOT/fuzz/corpus/$t"
  if cargo fuzz build --release "$t" >"$log" 2>&1; then runnable+=("$t")
  else echo "fuzz-$t: FAIL build failed (see $log)" > "$res/$t"; fi
done
# fuzz_one TARGET: one bounded run; its result line in $res/TARGET.
fuzz_one() {
  local t=$1 log="$XPV_ROOT/fuzz/artifacts/$1.log" rc execs reason crash
  # -max_total_time bounds the run; timeout is a safety net against a wedged fuzzer.
  if timeout --kill-after=30 $((SECONDS_PER_TARGET + 120)) \
      cargo fuzz run --release "$t" -- -max_total_time="$SECONDS_PER_TARGET" \
      -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >>"$log" 2>&1; then
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
    echo "fuzz-$t: PASS${execs:+ ($execs execs in ${SECONDS_PER_TARGET}s)}" > "$res/$t"
  else
    rc=$?
    reason=$(grep -m1 -E 'panicked at|ERROR: libFuzzer|SUMMARY:' "$log" || true)
    crash=$(grep -Eo "artifacts/$t/[a-z]+-[0-9a-f]+" "$log" | tail -1 || true)
    [[ $rc == 124 || $rc == 137 ]] && reason="timed out"
    echo "fuzz-$t: FAIL ${reason:-exit $rc}${crash:+ (input: fuzz/$crash)} (log: $log)" > "$res/$t"
  fi
}
jobs_max=$(nproc)
for t in "${runnable[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  xpv_log "fuzzing $t for ${SECONDS_PER_TARGET}s"
  fuzz_one "$t" &
done
wait
for t in "${TARGETS[@]}"; do
  if [ -s "$res/$t" ]; then cat "$res/$t"; else echo "fuzz-$t: FAIL no result"; fi
  grep -q ': PASS' "$res/$t" 2>/dev/null || status=1
done
exit $status
