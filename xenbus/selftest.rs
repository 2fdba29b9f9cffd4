// SPDX-License-Identifier: GPL-2.0
//! Load-time xenstore self-tests (module parameter `selftest=1`), each printing one line
//! `xenbus: selftest <name>: PASS|FAIL <details>`:
//! - `read`: `name` and `domid` of this domain (relative paths, under `/local/domain/<domid>`);
//! - `errno`: reading a missing node gives `ENOENT` (an `XS_ERROR` reply mapped to the errno);
//! - `write`: write, read back and remove `data/xpv-selftest`, then `mkdir`/`directory`;
//! - `inflight`: 32 reads of 32 keys with distinct values, submitted before any reply is awaited;
//!   each reply must carry its own key's value (replies matched to waiters by `req_id`);
//! - `transaction`: increment a counter and write a second node in one transaction, then check
//!   both outside it; an aborted transaction leaves no trace;
//! - `transaction-eagain`: a write outside a transaction to a node it read makes xenstored refuse
//!   the commit with `EAGAIN`; `Xs::transaction` runs it again and the retry commits;
//! - `watch`: a watch on `data/xpv-watchtest` fires at registration and again when we write it.
//!
//! Afterwards (also only with `selftest=1`) a watch on `data/xpv-watch` stays registered until
//! unload and logs `xenbus: watch data/xpv-watch = <value>` at every change, so that a write from
//! Dom0 (`xenstore-write /local/domain/<domid>/data/xpv-watch ...`) can be observed in the log.

use crate::sys;
use crate::xs::{trim, Xs};
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

fn report(name: &str, r: Result<(), &str>, detail: core::fmt::Arguments<'_>) {
    match r {
        Ok(()) => pr_info!("selftest {}: PASS {}\n", name, detail),
        Err(why) => pr_err!("selftest {}: FAIL {} {}\n", name, why, detail),
    }
}

fn s(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<not utf-8>")
}

fn errno(e: Error) -> i32 {
    -e.to_errno()
}

static WATCH_FIRED: AtomicU32 = AtomicU32::new(0);
static WATCH_MINE: AtomicU32 = AtomicU32::new(0);

/// Counts events of the `watch` self-test.
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn test_watch_cb(path: *const u8, len: usize, _data: *mut c_void) {
    // SAFETY: the dispatcher passes a valid path of `len` bytes for the call.
    let p = unsafe { core::slice::from_raw_parts(path, len) };
    WATCH_FIRED.fetch_add(1, Ordering::AcqRel);
    if p == b"data/xpv-watchtest" {
        WATCH_MINE.fetch_add(1, Ordering::AcqRel);
    }
}

/// Logs the value of `data/xpv-watch` whenever it changes (the Dom0-visible watch).
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn log_watch_cb(path: *const u8, len: usize, _data: *mut c_void) {
    // SAFETY: as `test_watch_cb`.
    let p = unsafe { core::slice::from_raw_parts(path, len) };
    let Some(xs) = crate::xs::get() else { return };
    match xs.read(0, p) {
        Ok(r) => pr_info!("watch {} = {}\n", s(p), s(trim(r.payload()))),
        Err(e) => pr_info!("watch {}: unreadable (errno {})\n", s(p), errno(e)),
    }
}

fn wait_for(counter: &AtomicU32, at_least: u32, ms: u32) -> bool {
    let mut waited = 0;
    while counter.load(Ordering::Acquire) < at_least {
        if waited >= ms {
            return false;
        }
        sys::msleep(20);
        waited += 20;
    }
    true
}

/// Path of the watch left registered for Dom0 (see the module docs).
pub(crate) const DOM0_WATCH_PATH: &[u8] = b"data/xpv-watch";

/// Runs all self-tests; returns the token of the Dom0-visible watch, if registered.
pub(crate) fn run(xs: &Xs, domid: u32) -> Option<u64> {
    // read
    match (xs.read(0, b"name"), xs.read_u32(0, b"domid")) {
        (Ok(name), Ok(id)) => {
            let ok = if domid == u32::MAX || id == domid {
                Ok(())
            } else {
                Err("domid differs from the platform's")
            };
            report(
                "read",
                ok,
                format_args!("name={} domid={}", s(trim(name.payload())), id),
            );
        }
        (n, d) => report(
            "read",
            Err("read failed"),
            format_args!(
                "name: {:?}, domid: {:?}",
                n.err().map(errno),
                d.err().map(errno)
            ),
        ),
    }

    // errno mapping
    match xs.read(0, b"data/xpv-does-not-exist") {
        Err(e) if e == ENOENT => report("errno", Ok(()), format_args!("missing node: ENOENT")),
        Err(e) => report("errno", Err("wrong errno"), format_args!("{}", errno(e))),
        Ok(_) => report(
            "errno",
            Err("read of a missing node succeeded"),
            format_args!(""),
        ),
    }

    // write / read back / rm / mkdir / directory
    let value = b"hello from xen-pvhvm-rs";
    let r = (|| -> Result<(), &'static str> {
        xs.write(0, b"data/xpv-selftest", value)
            .map_err(|_| "write failed")?;
        let back = xs
            .read(0, b"data/xpv-selftest")
            .map_err(|_| "read back failed")?;
        if back.payload() != value {
            return Err("read back a different value");
        }
        xs.rm(0, b"data/xpv-selftest").map_err(|_| "rm failed")?;
        match xs.read(0, b"data/xpv-selftest") {
            Err(e) if e == ENOENT => {}
            _ => return Err("node still there after rm"),
        }
        xs.mkdir(0, b"data/xpv-dir").map_err(|_| "mkdir failed")?;
        xs.write(0, b"data/xpv-dir/a", b"1")
            .map_err(|_| "write a failed")?;
        xs.write(0, b"data/xpv-dir/b", b"2")
            .map_err(|_| "write b failed")?;
        let d = xs
            .directory(0, b"data/xpv-dir")
            .map_err(|_| "directory failed")?;
        let names = d.entries().map_err(|_| "bad listing")?;
        let mut seen = 0;
        for n in names {
            if n == b"a" || n == b"b" {
                seen += 1;
            }
        }
        xs.rm(0, b"data/xpv-dir").map_err(|_| "rm dir failed")?;
        if seen != 2 {
            return Err("directory does not list a and b");
        }
        Ok(())
    })();
    report("write", r, format_args!("data/xpv-selftest, data/xpv-dir"));

    // many requests in flight: 32 keys with 32 different values, all read before any reply is
    // awaited; each reply must carry its own key's value, so a reply handed to the wrong waiter
    // (a `req_id` mix-up) is caught.
    let r = (|| -> Result<(), &'static str> {
        let mut path = [0u8; 40];
        let mut val = [0u8; 24];
        for i in 0..INFLIGHT {
            let p = inflight_path(i, &mut path);
            let v = inflight_value(i, &mut val);
            xs.write(0, p, v).map_err(|_| "write of a key failed")?;
        }
        let mut pend = KVec::new();
        for i in 0..INFLIGHT {
            let p = inflight_path(i, &mut path);
            let h = xs.submit(0, xs_wire_read(p)).map_err(|_| "submit failed")?;
            pend.push(h, GFP_KERNEL).map_err(|_| "out of memory")?;
        }
        let mut bad = 0u32;
        for (i, h) in pend.into_iter().enumerate() {
            let want = inflight_value(i as u32, &mut val);
            match xs.wait(h) {
                Ok(r) if trim(r.payload()) == want => {}
                _ => bad += 1,
            }
        }
        let _ = xs.rm(0, b"data/xpv-inflight");
        if bad != 0 {
            Err("a reply was missing or carried another key's value")
        } else {
            Ok(())
        }
    })();
    report(
        "inflight",
        r,
        format_args!(
            "{} concurrent reads of distinct keys, each reply its own value",
            INFLIGHT
        ),
    );

    // transaction
    let r = (|| -> Result<u32, &'static str> {
        let before = xs.read_u32(0, b"data/xpv-tx-counter").unwrap_or(0);
        xs.transaction(|tx| {
            let n = match xs.read_u32(tx, b"data/xpv-tx-counter") {
                Ok(n) => n,
                Err(e) if e == ENOENT => 0,
                Err(e) => return Err(e),
            };
            let mut buf = [0u8; 12];
            let v = fmt_u32(n.wrapping_add(1), &mut buf);
            xs.write(tx, b"data/xpv-tx-counter", v)?;
            xs.write(tx, b"data/xpv-tx-other", v)
        })
        .map_err(|_| "transaction failed")?;
        let after = xs
            .read_u32(0, b"data/xpv-tx-counter")
            .map_err(|_| "read after failed")?;
        let other = xs
            .read_u32(0, b"data/xpv-tx-other")
            .map_err(|_| "read other failed")?;
        if after != before.wrapping_add(1) || other != after {
            return Err("values after commit are wrong");
        }
        // An aborted transaction leaves no trace.
        let tx = xs.transaction_start().map_err(|_| "start failed")?;
        xs.write(tx, b"data/xpv-tx-counter", b"999999")
            .map_err(|_| "write in tx failed")?;
        xs.transaction_end(tx, false).map_err(|_| "abort failed")?;
        if xs.read_u32(0, b"data/xpv-tx-counter") != Ok(after) {
            return Err("aborted write is visible");
        }
        Ok(after)
    })();
    match r {
        Ok(n) => report(
            "transaction",
            Ok(()),
            format_args!("counter now {}, abort discarded", n),
        ),
        Err(why) => report("transaction", Err(why), format_args!("")),
    }

    // transaction retry: the first attempt reads a node, then the node is written outside the
    // transaction before the commit; xenstored must refuse that commit with EAGAIN and
    // `Xs::transaction` must run the whole transaction again, which then sees the new value.
    let r = (|| -> Result<(u32, u32), &'static str> {
        xs.write(0, b"data/xpv-tx-conflict", b"1")
            .map_err(|_| "setup write failed")?;
        let mut attempts = 0u32;
        xs.transaction(|tx| {
            attempts += 1;
            let n = xs.read_u32(tx, b"data/xpv-tx-conflict")?;
            if attempts == 1 {
                // A conflicting writer: the same node, outside the transaction.
                xs.write(0, b"data/xpv-tx-conflict", b"100")?;
            }
            let mut buf = [0u8; 12];
            xs.write(
                tx,
                b"data/xpv-tx-conflict",
                fmt_u32(n.wrapping_add(1), &mut buf),
            )
        })
        .map_err(|_| "transaction failed")?;
        let v = xs
            .read_u32(0, b"data/xpv-tx-conflict")
            .map_err(|_| "read after failed")?;
        let _ = xs.rm(0, b"data/xpv-tx-conflict");
        Ok((attempts, v))
    })();
    match r {
        Ok((2, 101)) => report(
            "transaction-eagain",
            Ok(()),
            format_args!(
                "conflicting write refused the first commit (EAGAIN), retry committed 101"
            ),
        ),
        Ok((a, v)) => report(
            "transaction-eagain",
            Err("want 2 attempts and 101"),
            format_args!("{} attempt(s), value {}", a, v),
        ),
        Err(why) => report("transaction-eagain", Err(why), format_args!("")),
    }

    // watch
    WATCH_FIRED.store(0, Ordering::Release);
    WATCH_MINE.store(0, Ordering::Release);
    // SAFETY: the callback uses no data and only statics.
    let r = match unsafe { xs.watch(b"data/xpv-watchtest", test_watch_cb, core::ptr::null_mut()) } {
        Ok(token) => {
            let initial = wait_for(&WATCH_MINE, 1, 5000);
            let wrote = xs.write(0, b"data/xpv-watchtest", b"changed").is_ok();
            let fired = wrote && wait_for(&WATCH_MINE, 2, 5000);
            xs.unwatch(b"data/xpv-watchtest", token);
            let _ = xs.rm(0, b"data/xpv-watchtest");
            match (initial, fired) {
                (true, true) => Ok(()),
                (false, _) => Err("no initial event"),
                (true, false) => Err("no event after the write"),
            }
        }
        Err(_) => Err("XS_WATCH failed"),
    };
    report(
        "watch",
        r,
        format_args!("{} events", WATCH_FIRED.load(Ordering::Acquire)),
    );

    // SAFETY: the callback uses no data; it reads through the live connection.
    match unsafe { xs.watch(DOM0_WATCH_PATH, log_watch_cb, core::ptr::null_mut()) } {
        Ok(t) => {
            pr_info!("selftest: watching data/xpv-watch for writes from Dom0\n");
            Some(t)
        }
        Err(e) => {
            pr_err!("selftest: cannot watch data/xpv-watch: {}\n", errno(e));
            None
        }
    }
}

/// Keys of the `inflight` self-test.
const INFLIGHT: u32 = 32;

/// `data/xpv-inflight/<i>` in `buf`.
fn inflight_path(i: u32, buf: &mut [u8; 40]) -> &[u8] {
    let prefix = b"data/xpv-inflight/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut d = [0u8; 12];
    let digits = fmt_u32(i, &mut d);
    let end = prefix.len() + digits.len();
    buf[prefix.len()..end].copy_from_slice(digits);
    &buf[..end]
}

/// The value of key `i` of the `inflight` self-test: `v<1000 + 7 * i>`, distinct per key.
fn inflight_value(i: u32, buf: &mut [u8; 24]) -> &[u8] {
    buf[0] = b'v';
    let mut d = [0u8; 12];
    let digits = fmt_u32(1000 + 7 * i, &mut d);
    buf[1..1 + digits.len()].copy_from_slice(digits);
    &buf[..1 + digits.len()]
}

fn xs_wire_read(p: &[u8]) -> crate::xs_wire::Request<'_> {
    crate::xs_wire::Request::Read(p)
}

/// Decimal digits of `v` in `buf`.
pub(crate) fn fmt_u32(v: u32, buf: &mut [u8; 12]) -> &[u8] {
    let mut n = 0;
    let mut t = v;
    let mut tmp = [0u8; 10];
    loop {
        tmp[n] = b'0' + (t % 10) as u8;
        n += 1;
        t /= 10;
        if t == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[i] = tmp[n - 1 - i];
    }
    &buf[..n]
}

// --- the frontend driver API, exercised on this domain's vbd devices

static FE_PROBED: AtomicU32 = AtomicU32::new(0);
static FE_REMOVED: AtomicU32 = AtomicU32::new(0);
static FE_CHANGED: AtomicU32 = AtomicU32::new(0);
/// `state_bit` of every backend state reported to `otherend_changed`.
static FE_STATES: AtomicU32 = AtomicU32::new(0);
/// Probe found what it expected (info and a backend read).
static FE_PROBE_OK: AtomicU32 = AtomicU32::new(0);
static FE_HANDLE: core::sync::atomic::AtomicPtr<crate::abi_xenbus::XenbusDevHandle> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// Self-test driver: probe.
///
/// # Safety
/// Called by xenbus with a live device handle.
unsafe extern "C" fn fe_probe(
    dev: *mut crate::abi_xenbus::XenbusDevHandle,
    _ctx: *mut c_void,
) -> i32 {
    FE_PROBED.fetch_add(1, Ordering::AcqRel);
    let mut info = crate::abi_xenbus::XenbusDevInfo::default();
    // SAFETY: live handle, `info` writable.
    let r = unsafe { crate::frontend::xpv_xenbus_dev_info(dev, &mut info) };
    let node = crate::abi_xenbus::field_str(&info.nodename).unwrap_or("");
    let mut buf = [0u8; 8];
    let mut n = 0usize;
    // SAFETY: live handle; the node name and `buf` are valid for their lengths.
    let rr = unsafe {
        crate::frontend::xpv_xenbus_dev_read(
            dev,
            1,
            b"state".as_ptr(),
            5,
            buf.as_mut_ptr(),
            8,
            &mut n,
        )
    };
    if r == 0 && node.starts_with("device/vbd/") && info.otherend_id == 0 && rr == 0 && n > 0 {
        FE_PROBE_OK.fetch_add(1, Ordering::AcqRel);
    }
    if node == "device/vbd/51712" {
        FE_HANDLE.store(dev, Ordering::Release);
    }
    0
}

/// Self-test driver: remove.
///
/// # Safety
/// Called by xenbus with a live device handle.
unsafe extern "C" fn fe_remove(dev: *mut crate::abi_xenbus::XenbusDevHandle, _ctx: *mut c_void) {
    FE_REMOVED.fetch_add(1, Ordering::AcqRel);
    let _ = FE_HANDLE.compare_exchange(
        dev,
        core::ptr::null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

/// Self-test driver: otherend_changed.
///
/// # Safety
/// Called by xenbus with a live device handle.
unsafe extern "C" fn fe_changed(
    _dev: *mut crate::abi_xenbus::XenbusDevHandle,
    state: u32,
    _ctx: *mut c_void,
) {
    FE_CHANGED.fetch_add(1, Ordering::AcqRel);
    FE_STATES.fetch_or(crate::abi_xenbus::state_bit(state), Ordering::AcqRel);
}

static FE_DRIVER: crate::abi_xenbus::XenbusFrontendDriver = crate::abi_xenbus::frontend_driver(
    "vbd",
    "xpv-selftest",
    fe_probe,
    Some(fe_remove),
    Some(fe_changed),
    None,
    None,
);

/// `frontend-api`: registers a test driver for `vbd` through the exported C ABI (the devices
/// exist already, so each is probed and gets its backend's current state), then on vbd-51712:
/// a bounded wait for a state the backend is in (InitWait/Connected) succeeds, one for a state
/// it never reaches times out with `-ETIMEDOUT`, a read into a too small buffer gives `-E2BIG`,
/// (with the length needed), a missing node `-ENOENT`; unregistering calls `remove` for each device. Nothing is written.
pub(crate) fn frontend_api() {
    use crate::frontend as fe;
    use crate::xenbus_state::XenbusState as S;
    // SAFETY: `FE_DRIVER` is 'static.
    let r = unsafe { fe::xpv_xenbus_register_frontend(&FE_DRIVER) };
    if r != 0 {
        report(
            "frontend-api",
            Err("register failed"),
            format_args!("errno {}", -r),
        );
        return;
    }
    let probed = FE_PROBED.load(Ordering::Acquire);
    let h = FE_HANDLE.load(Ordering::Acquire);
    let mut why: Result<(), &str> = Ok(());
    let (mut st, mut st2) = (0u32, 0u32);
    let (mut w1, mut w2, mut small, mut missing) = (0, 0, 0, 0);
    let short_len: usize;
    if h.is_null() || FE_PROBE_OK.load(Ordering::Acquire) != probed || probed == 0 {
        why = Err("probe did not see vbd-51712 as expected");
    } else {
        let mask = crate::abi_xenbus::state_bit(S::InitWait as u32)
            | crate::abi_xenbus::state_bit(S::Connected as u32);
        // SAFETY: `h` stays valid until our `remove`, which runs in the unregister below.
        unsafe {
            w1 = fe::xpv_xenbus_wait_otherend(h, mask, 5000, &mut st);
            w2 = fe::xpv_xenbus_wait_otherend(h, crate::abi_xenbus::state_bit(8), 200, &mut st2);
            let mut buf = [0u8; 1];
            let mut n = 0usize;
            small =
                fe::xpv_xenbus_dev_read(h, 1, b"state".as_ptr(), 5, buf.as_mut_ptr(), 0, &mut n);
            short_len = n;
            missing =
                fe::xpv_xenbus_dev_read(h, 0, b"xpv-none".as_ptr(), 8, buf.as_mut_ptr(), 1, &mut n);
        }
        let changed_ok = FE_CHANGED.load(Ordering::Acquire) >= probed
            && FE_STATES.load(Ordering::Acquire) & mask != 0;
        if w1 != 0 {
            why = Err("wait for InitWait/Connected failed");
        } else if w2 != -crate::abi_xenbus::ETIMEDOUT {
            why = Err("wait for Reconfigured did not time out");
        } else if small != -crate::abi_xenbus::E2BIG || short_len != 1 {
            why = Err("short buffer not refused with E2BIG and the needed length");
        } else if missing != ENOENT.to_errno() {
            why = Err("missing node not ENOENT");
        } else if !changed_ok {
            why = Err("otherend_changed not called with the backend state after probe");
        }
    }
    // SAFETY: registered above.
    unsafe { fe::xpv_xenbus_unregister_frontend(&FE_DRIVER) };
    if FE_REMOVED.load(Ordering::Acquire) != probed {
        why = why.and(Err("remove not called for every probed device"));
    }
    report(
        "frontend-api",
        why,
        format_args!(
            "probed {}, otherend_changed {} (states {:#x}), wait {} (state {}), timeout {} (state {}), short read {}, missing {}, removed {}",
            probed,
            FE_CHANGED.load(Ordering::Acquire),
            FE_STATES.load(Ordering::Acquire),
            w1,
            st,
            w2,
            st2,
            small,
            missing,
            FE_REMOVED.load(Ordering::Acquire)
        ),
    );
}
