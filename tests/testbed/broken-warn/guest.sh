# shellcheck shell=sh
# A kernel-log line at KERN_WARNING with the shape of WARN()'s first line, then the ring buffer
# cleared: only the console still has it.
echo "<4>WARNING: CPU: 0 PID: 1 at tb-selftest (deliberate, runner self-test)" > /dev/kmsg
$TB_BB dmesg -c > /dev/null
tb_pass selftest-ran "WARNING written to the console, ring buffer cleared"
