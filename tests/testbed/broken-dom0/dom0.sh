# shellcheck shell=bash
dom0_after() { tb_dom0_fail dom0-selftest "deliberate Dom0 failure (runner self-test)"; }
