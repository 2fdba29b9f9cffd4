# shellcheck shell=sh
tb_pass selftest-ran "the guest reports PASS only"
