# shellcheck shell=sh
# Guest side of demo.
tb_xen_cpuid
tb_xen_platform_pci
tb_info "our modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
devs=
for b in /sys/block/*; do
  case ${b##*/} in loop*|ram*) continue ;; esac
  devs="$devs ${b##*/}($(tb_driver_of "$b/device"))"
done
for i in /sys/class/net/*; do
  [ -e "$i/device" ] && devs="$devs ${i##*/}($(tb_driver_of "$i/device"))"
done
tb_info "devices:$devs"
tb_info "partitions: $(awk 'NR > 2 { printf "%s(%s:%s) ", $4, $1, $2 }' /proc/partitions)"
# Root, the scratch disk and eth0 are PV devices: xvd disks on major 202 (registered by
# xen_blkfront as "xvd"), children of their xen bus devices as with Linux's blkfront, and eth0
# the child of vif-0 (ethtool: driver "vif", bus-info "vif-0", as Linux's netfront).
blk_drv() { [ "$(cut -d: -f1 "/sys/block/$1/dev" 2>/dev/null)" = 202 ] && awk '/^Block devices:/ { b = 1 } b && $1 == 202 { print $2 }' /proc/devices; }
xa=$(blk_drv xvda) xb=$(blk_drv xvdb)
pa=$($TB_BB readlink -f /sys/block/xvda/device) pb=$($TB_BB readlink -f /sys/block/xvdb/device)
en=$(ethtool -i eth0 2>/dev/null | sed -n 's/^driver: //p')
eb=$(ethtool -i eth0 2>/dev/null | sed -n 's/^bus-info: //p')
if [ "$(cat /tb/rootdev 2>/dev/null)" = /dev/xvda1 ] && [ "$xa" = xvd ] && [ "$xb" = xvd ] \
    && [ "$pa" = /sys/devices/vbd-51712 ] && [ "$pb" = /sys/devices/vbd-51728 ] \
    && [ "$en" = vif ] && [ "$eb" = vif-0 ] && grep -q '^xen_netfront ' /proc/modules; then
  tb_pass pv-devices "root /dev/xvda1 and xvdb on major 202 ($xa), parents $pa $pb; eth0 by $en ($eb)"
else
  tb_fail pv-devices "root $(cat /tb/rootdev 2>/dev/null), xvda '$xa' ($pa), xvdb '$xb' ($pb), eth0 '$en' ($eb)"
fi
sd=$(ls /sys/block | grep '^sd' | tr '\n' ' ')
e1k=
for i in /sys/class/net/*; do [ "$(tb_driver_of "$i/device")" = e1000 ] && e1k="$e1k ${i##*/}"; done
if [ -z "$sd$e1k" ]; then
  tb_pass unplugged "no emulated disk or NIC left: $($TB_BB dmesg | grep -m 1 'xen_platform: unplug: xen_emul_unplug' | sed 's/^\[[^]]*\] //')"
else
  tb_fail unplugged "emulated devices still there: $sd$e1k"
fi
tb_disk_rw /dev/xvdb
tb_net_up eth0
tb_ping4 eth0
tb_ping6 eth0

# /dev/xen/xenbus (xenbus_dev.rs): Debian's unmodified libxenstore tools (xenstore-utils) talk to
# xenstore through it; Dom0 checks what they wrote (dom0.sh).
xd=/dev/xen/xenbus
if [ "$(stat -c '%F %a %U' $xd 2>&1)" = "character special file 600 root" ]; then
  tb_pass xenbus-dev "$xd: $(stat -c '%F %a %U:%G' $xd)"
else
  tb_fail xenbus-dev "$xd: $(stat -c '%F %a %U' $xd 2>&1)"
fi
xn=$(xenstore-read name 2>&1)
# The name Dom0 gave the domain (tb-demo, or tb-demo-7.3 on the 7.3 kernel), from our command line.
want_name=$(sed -n 's/.*tb\.name=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$want_name" ] && [ "$xn" = "$want_name" ]; then tb_pass xs-read-name "xenstore-read name: $xn"; else tb_fail xs-read-name "xenstore-read name: '$xn'"; fi
xenstore-write data/xs-name "$xn" || tb_fail xs-read-name "xenstore-write data/xs-name failed"
if xenstore-write data/x "$TB_NONCE" && [ "$(xenstore-read data/x 2>&1)" = "$TB_NONCE" ]; then
  tb_pass xs-write "xenstore-write data/x $TB_NONCE, read back"
else
  tb_fail xs-write "xenstore-write/read data/x: '$(xenstore-read data/x 2>&1)'"
fi
ls_dev=$(xenstore-ls device 2>&1)
if echo "$ls_dev" | grep -q '^vbd = ' && echo "$ls_dev" | grep -q '^vif = ' \
    && echo "$ls_dev" | grep -q '^ 51712 = ' && echo "$ls_dev" | grep -q '^  backend = '; then
  tb_pass xs-ls "xenstore-ls device: $(echo "$ls_dev" | grep -c .) lines, vbd/51712, vif/0"
else
  tb_fail xs-ls "xenstore-ls device: $(echo "$ls_dev" | head -n 5 | tr '\n' '|')"
fi
# What guest agents (xe-guest-utilities) write: addresses under attr/, the OS under data/.
os_name=$(. /etc/os-release && echo "$PRETTY_NAME")
if xenstore-write attr/vif/0/ipv4/0 "$TB_GUEST_IP4" data/os_name "$os_name" \
    data/os_uname "$(uname -r)" data/os_distro debian; then
  tb_pass xs-agent "attr/vif/0/ipv4/0=$TB_GUEST_IP4 data/os_name='$os_name' written"
else
  tb_fail xs-agent "xenstore-write of the guest agent keys failed"
fi
# A watch: fires once when registered, then when Dom0 writes data/w.
xenstore-watch -n 2 data/w > /tmp/xs-watch.out 2>&1 &
wpid=$!
n=0; while [ "$(grep -c . /tmp/xs-watch.out)" -lt 1 ] && [ $n -lt 100 ]; do $TB_BB usleep 100000; n=$((n + 1)); done
tb_event dom0_xs_watch
n=0; while kill -0 $wpid 2>/dev/null && [ $n -lt 200 ]; do $TB_BB usleep 100000; n=$((n + 1)); done
if ! kill -0 $wpid 2>/dev/null && [ "$(grep -c '^data/w$' /tmp/xs-watch.out)" = 2 ] \
    && [ "$(xenstore-read data/w 2>&1)" = "dom0-$TB_NONCE" ]; then
  tb_pass xs-watch "xenstore-watch -n 2 data/w saw the registration and Dom0's write"
else
  kill $wpid 2>/dev/null
  tb_fail xs-watch "xenstore-watch: '$(tr '\n' '|' < /tmp/xs-watch.out)', data/w '$(xenstore-read data/w 2>&1)'"
fi
# Several processes at once: 6 writers/readers and 2 watchers, each on its own open file.
rm -rf /tmp/xs-par; mkdir -p /tmp/xs-par
xenstore-watch -n 31 data/par > /tmp/xs-par/watch1 2>&1 &
w1=$!
xenstore-watch -n 31 data/par > /tmp/xs-par/watch2 2>&1 &
w2=$!
n=0; while { [ "$(grep -c . /tmp/xs-par/watch1)" -lt 1 ] || [ "$(grep -c . /tmp/xs-par/watch2)" -lt 1 ]; } && [ $n -lt 100 ]; do $TB_BB usleep 100000; n=$((n + 1)); done
for i in 1 2 3 4 5 6; do
  (
    j=0
    while [ $j -lt 5 ]; do
      xenstore-write "data/par/p$i" "$i-$j" || exit 1
      [ "$(xenstore-read "data/par/p$i")" = "$i-$j" ] || exit 1
      j=$((j + 1))
    done
    echo ok > "/tmp/xs-par/ok$i"
  ) &
done
wait_n=0
while [ "$(cat /tmp/xs-par/ok* 2>/dev/null | grep -c ok)" -lt 6 ] && [ $wait_n -lt 600 ]; do $TB_BB usleep 100000; wait_n=$((wait_n + 1)); done
n=0; while { kill -0 $w1 2>/dev/null || kill -0 $w2 2>/dev/null; } && [ $n -lt 100 ]; do $TB_BB usleep 100000; n=$((n + 1)); done
ev1=$(grep -c '^data/par' /tmp/xs-par/watch1) ev2=$(grep -c '^data/par' /tmp/xs-par/watch2)
kill $w1 $w2 2>/dev/null
if [ "$(cat /tmp/xs-par/ok* 2>/dev/null | grep -c ok)" = 6 ] && [ "$ev1" = 31 ] && [ "$ev2" = 31 ]; then
  tb_pass xs-parallel "6 processes x 5 write+read, 2 watchers saw 31 events each"
else
  tb_fail xs-parallel "writers ok: $(cat /tmp/xs-par/ok* 2>/dev/null | grep -c ok)/6, watch events $ev1 $ev2 (want 31)"
fi
# The raw protocol (python3): requests written in pieces, refused types and transaction ids, and
# 12 processes killed (SIGKILL) mid-transaction with a watch registered, more than xenstored's
# 10 transactions per domain: each close must abort the transaction and remove the watch, so a
# transaction afterwards commits. Then xenstored must not have the killed ones' writes.
cat > /tmp/xsdev.py <<'PYEOF'
import os, re, struct, sys, time
# The domain's name as Dom0 created it (tb.name= on the kernel command line).
NAME = re.search(rb"tb\.name=(\S+)", open("/proc/cmdline", "rb").read()).group(1)
DEV = "/dev/xen/xenbus"
def rd(fd, n):
    b = b""
    while len(b) < n:
        c = os.read(fd, n - len(b))
        if not c:
            raise EOFError("end of file")
        b += c
    return b
def req(fd, ty, tx, payload, rid=7, pieces=True):
    h = struct.pack("<IIII", ty, rid, tx, len(payload))
    if pieces:  # header in two writes, then the payload: Linux accepts partial messages
        os.write(fd, h[:5]); os.write(fd, h[5:])
        if payload:
            os.write(fd, payload)
    else:
        os.write(fd, h + payload)
    while True:  # skip watch events
        t, r, x, n = struct.unpack("<IIII", rd(fd, 16))
        body = rd(fd, n)
        if t != 15:
            return t, r, x, body
def tx_start(fd):
    for _ in range(100):
        t, r, x, b = req(fd, 6, 0, b"\0")
        if t == 6:
            return int(b.rstrip(b"\0"))
        if b.rstrip(b"\0") not in (b"EAGAIN", b"ENOSPC", b"EQUOTA"):
            raise Exception("XS_TRANSACTION_START: %r" % b)
        time.sleep(0.2)  # closed files are torn down asynchronously
    raise Exception("XS_TRANSACTION_START refused for 20 s: %r" % b)
mode = sys.argv[1]
fd = os.open(DEV, os.O_RDWR)
if mode == "validate":
    out = []
    t, r, x, b = req(fd, 2, 0, b"name\0", rid=0x1234abcd)
    out.append("read name -> type %d req_id %#x %r" % (t, r, b))
    assert t == 2 and r == 0x1234abcd and b == NAME, out
    t, r, x, b = req(fd, 21, 0, b"\0")  # XS_RESET_WATCHES: not allowed
    assert (t, b) == (16, b"EINVAL\0"), (t, b); out.append("RESET_WATCHES -> EINVAL")
    t, r, x, b = req(fd, 2, 12345, b"name\0")  # a transaction this file did not start
    assert (t, b) == (16, b"ENOENT\0"), (t, b); out.append("foreign tx -> ENOENT")
    t, r, x, b = req(fd, 2, 0, b"data/none\0")
    assert (t, b) == (16, b"ENOENT\0"), (t, b); out.append("missing key -> ENOENT")
    try:
        os.write(fd, struct.pack("<IIII", 2, 1, 0, 4097))
        raise Exception("header with len 4097 accepted")
    except OSError as e:
        assert e.errno == 7, e; out.append("len 4097 -> E2BIG")
    t, r, x, b = req(fd, 2, 0, b"name\0", pieces=False)
    assert b == NAME, b; out.append("in sync after E2BIG")
    print("; ".join(out))
elif mode == "kill":
    import signal
    for i in range(int(sys.argv[2])):
        rp, wp = os.pipe()
        pid = os.fork()
        if pid == 0:  # its own open file: a transaction with a write in it, a watch, then wait
            try:
                cfd = os.open(DEV, os.O_RDWR)
                tx = tx_start(cfd)
                t, r, x, b = req(cfd, 11, tx, b"data/txk\0killed-" + str(os.getpid()).encode())
                assert t == 11, b
                t, r, x, b = req(cfd, 4, 0, b"data/kw\0tok\0")
                assert (t, b) == (4, b"OK\0"), (t, b)
                os.write(wp, b"tx %d" % tx)
            except Exception as e:
                os.write(wp, repr(e).encode())
            time.sleep(600)
        os.close(wp)
        line = os.read(rp, 100)
        os.close(rp)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if not line.startswith(b"tx "):
            raise Exception("child %d: %r" % (i, line))
    tx = tx_start(fd)
    t, r, x, b = req(fd, 11, tx, b"data/txc\0" + sys.argv[3].encode())
    assert t == 11, b
    t, r, x, b = req(fd, 7, tx, b"T\0")
    assert (t, b) == (7, b"OK\0"), (t, b)
    t, r, x, b = req(fd, 2, 0, b"data/txk\0")
    assert (t, b) == (16, b"ENOENT\0"), ("data/txk", t, b)
    print("%s children killed in a transaction; a transaction after them committed" % sys.argv[2])
PYEOF
if out=$(python3 /tmp/xsdev.py validate 2>&1); then tb_pass xs-validate "$out"; else tb_fail xs-validate "$(echo "$out" | tail -n 3 | tr '\n' '|')"; fi
if out=$(timeout 300 python3 /tmp/xsdev.py kill 12 "$TB_NONCE" 2>&1); then
  n=0; while [ "$($TB_BB dmesg | grep -c 'closed file: aborted 1 transactions, removed 1 watches')" -lt 12 ] && [ $n -lt 100 ]; do $TB_BB usleep 100000; n=$((n + 1)); done
  nk=$($TB_BB dmesg | grep -c 'closed file: aborted 1 transactions, removed 1 watches')
  if [ "$nk" = 12 ] && [ "$(xenstore-read data/txc 2>&1)" = "$TB_NONCE" ] && ! xenstore-read data/txk > /dev/null 2>&1; then
    tb_pass xs-killed-tx "$out; the kernel aborted $nk transactions and removed $nk watches"
  else
    tb_fail xs-killed-tx "$out; teardown lines $nk/12, data/txc '$(xenstore-read data/txc 2>&1)', data/txk '$(xenstore-read data/txk 2>&1)'"
  fi
else
  tb_fail xs-killed-tx "$(echo "$out" | tail -n 3 | tr '\n' '|')"
fi
tb_event dom0_xs_check
bl=/sys/devices/system/xen_memory/xen_memory0
tb_info "balloon: target $(cat $bl/target_kb 2>/dev/null) KiB, current $(cat $bl/info/current_kb 2>/dev/null) KiB, MemTotal $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) KiB"
