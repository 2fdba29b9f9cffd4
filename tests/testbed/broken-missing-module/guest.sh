# shellcheck shell=sh
tb_fail selftest "this guest must never boot"
