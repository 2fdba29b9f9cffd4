# shellcheck shell=sh
tb_pass selftest-ran
exit 3
