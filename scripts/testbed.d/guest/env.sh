# shellcheck shell=sh
# Sourced by the guest's init and run.sh: scenario settings, this run's nonce, helpers.
. /tb/scenario.conf
TB_NONCE=
for _a in $(cat /proc/cmdline); do
  case $_a in tb.nonce=*) TB_NONCE=${_a#tb.nonce=} ;; esac
done
. /tb/lib.sh
