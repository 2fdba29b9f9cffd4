# shellcheck shell=sh
tb_pass selftest-ran "reported; selftest-never-reported is not"
