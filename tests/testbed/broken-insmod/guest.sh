# shellcheck shell=sh
tb_info "xenbus was loaded without xen_platform"
