#!/bin/bash
# dracut module of the TEST BED only ("tb-runner", not installed for users): copies the scenario
# runner tree ($TB_RUNNER_TREE, set by build-hook-initramfs.sh) into the image as /tb and hooks
# tb-runner.sh into pre-pivot (see tb-runner.pre-pivot).
check() { return 255; }
depends() { return 0; }
install() {
    [ -d "${TB_RUNNER_TREE:-}" ] || { derror "tb-runner: no TB_RUNNER_TREE"; return 1; }
    mkdir -p "${initdir}/tb"
    cp -a "$TB_RUNNER_TREE/." "${initdir}/tb/"
    inst_hook pre-pivot 99 "$moddir/tb-runner.sh"
}
