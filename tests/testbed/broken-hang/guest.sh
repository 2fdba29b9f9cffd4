# shellcheck shell=sh
tb_info "hanging on purpose"
while :; do sleep 1000; done
