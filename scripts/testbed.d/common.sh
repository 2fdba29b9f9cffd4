# shellcheck shell=bash
# Shared by scripts/testbed and scripts/testbed.d/*.sh (sourced after scripts/env.sh).
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
TB_DIR=$XPV_ROOT/scripts/testbed.d
TB_SCEN_DIR=${TB_SCEN_DIR:-$XPV_ROOT/tests/testbed}
# Where the Debian packages for Dom0, the guest root disk and the reference kernel come from.
TB_MIRROR=${TB_MIRROR:-http://deb.debian.org/debian}
TB_SUITE=bookworm
TB_CACHE=$XPV_CACHE/testbed

# tb_key TEXT FILE...: a 16-hex-digit cache key over TEXT and the contents of FILEs.
tb_key() {
  local text=$1; shift
  { printf '%s\n' "$text"; if (($#)); then sha256sum "$@" | cut -d' ' -f1; fi; } | sha256sum | cut -c1-16
}

# tb_lock FILE: take an exclusive lock on FILE for the rest of the calling script (fd 9).
tb_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -n 9; then
    xpv_log "waiting for lock $1"
    flock 9
  fi
}

# tb_debootstrap DIR PACKAGES(comma list): Debian minbase with PACKAGES into DIR (not cached here).
tb_debootstrap() {
  local dir=$1 pkgs=$2
  rm -rf "$dir"; mkdir -p "$dir"
  timeout 1800 debootstrap --variant=minbase --include="$pkgs" "$TB_SUITE" "$dir" "$TB_MIRROR" \
    > "$dir.debootstrap.log" 2>&1 || { tail -n 30 "$dir.debootstrap.log" >&2; xpv_die "debootstrap into $dir failed"; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/usr/share/info/*
}
