# shellcheck shell=sh
tb_pass selftest-ran "powering off before TB: DONE"
sync
$TB_BB poweroff -f
