# shellcheck shell=bash
# Dom0 hooks of demo: what the guest's libxenstore tools wrote through /dev/xen/xenbus.

dom0_event_dom0_xs_watch() {
  xenstore-write "/local/domain/$DOMID/data/w" "dom0-$NONCE" \
    || tb_dom0_fail dom0-xs-watch "xenstore-write /local/domain/$DOMID/data/w failed"
}

dom0_event_dom0_xs_check() {
  local d=/local/domain/$DOMID v
  v=$(xenstore-read "$d/data/xs-name" 2>&1)
  if [ "$v" = "$DOM" ] && [ "$(xenstore-read "$d/name")" = "$DOM" ]; then
    tb_dom0_pass dom0-xs-name "the guest's xenstore-read name gave '$v' = the domain's name"
  else
    tb_dom0_fail dom0-xs-name "guest read '$v', domain $DOM"
  fi
  v=$(xenstore-read "$d/data/x" 2>&1)
  if [ "$v" = "$NONCE" ]; then tb_dom0_pass dom0-xs-write "$d/data/x = $v"
  else tb_dom0_fail dom0-xs-write "$d/data/x = '$v', want $NONCE"; fi
  local ip os
  ip=$(xenstore-read "$d/attr/vif/0/ipv4/0" 2>&1) os=$(xenstore-read "$d/data/os_name" 2>&1)
  if [ "$ip" = 169.254.0.2 ] && [[ $os == Debian* ]] && [ "$(xenstore-read "$d/data/os_distro")" = debian ]; then
    tb_dom0_pass dom0-xs-agent "attr/vif/0/ipv4/0=$ip data/os_name='$os' data/os_uname=$(xenstore-read "$d/data/os_uname")"
  else
    tb_dom0_fail dom0-xs-agent "attr/vif/0/ipv4/0='$ip' data/os_name='$os'"
  fi
  local par
  par=$(xenstore-ls "$d/data/par" 2>&1 | tr '\n' ' ')
  if [ "$(xenstore-ls "$d/data/par" 2>/dev/null | grep -cE '^p[1-6] = "[1-6]-4"$')" = 6 ]; then
    tb_dom0_pass dom0-xs-parallel "$par"
  else
    tb_dom0_fail dom0-xs-parallel "$par"
  fi
  # xenstored's own view after the killed transactions: their write (data/txk) never committed,
  # the later transaction did; its per-domain quota use, where xenstore-control can tell.
  local q
  q=$(timeout 10 xenstore-control quota "$DOMID" 2>&1 | tr '\n' ' ')
  log "xenstore-control quota $DOMID: $q"
  if ! xenstore-read "$d/data/txk" > /dev/null 2>&1 && [ "$(xenstore-read "$d/data/txc" 2>&1)" = "$NONCE" ]; then
    tb_dom0_pass dom0-xs-killed-tx "data/txk absent, data/txc = nonce; quota: ${q:0:200}"
  else
    tb_dom0_fail dom0-xs-killed-tx "data/txk '$(xenstore-read "$d/data/txk" 2>&1)', data/txc '$(xenstore-read "$d/data/txc" 2>&1)'"
  fi
}
