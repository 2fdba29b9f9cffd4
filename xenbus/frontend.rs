// SPDX-License-Identifier: GPL-2.0
//! The frontend driver API (`xen_proto/src/abi_xenbus.rs`): driver registration with
//! probe/remove/otherend_changed callbacks, and the per-device xenstore helpers, exported to
//! `xen_blkfront`/`xen_netfront` (behaviour after Linux's `drivers/xen/xenbus/xenbus_probe.c`,
//! `xenbus_client.c`).
//!
//! A device's driver reference is held under the device's `drv` lock while any callback runs, so
//! `remove` never overlaps `probe` or `otherend_changed`; unregistering a driver unbinds its
//! devices (calling `remove`) before it returns.

use crate::abi;
use crate::abi_xenbus::{
    fill_field, XenbusDevHandle, XenbusDevInfo, XenbusFrontendDriver, E2BIG, ETIMEDOUT,
    XPV_XENBUS_ABI_VERSION,
};
use crate::bus::{join, read_state, wait_state, Dev, BUS};
#[allow(unused_imports)]
use crate::kernel_common::CStrCompat as _;
use crate::sys::BusDriver;
use crate::xenbus_state::XenbusState;
use crate::xs;
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};
// `fmt!` (`format_args!` with the kernel's formatting traits): in 7.x's prelude.
#[cfg(not(xpv_linux7))]
use kernel::fmt;
use kernel::prelude::*;
use kernel::str::{BStr, CString};

/// Registered frontend drivers (at most one per device type). Slot `i` is claimed by a
/// compare-exchange on `BUS_DRIVERS[i]` (the driver core's view of the driver, a leaked
/// `KBox<BusDriver>`), and then published in `FRONTENDS[i]`, so that a driver found in
/// `FRONTENDS` always has its `BusDriver`.
const MAX_FRONTENDS: usize = 8;
static FRONTENDS: [AtomicPtr<XenbusFrontendDriver>; MAX_FRONTENDS] =
    [const { AtomicPtr::new(null_mut()) }; MAX_FRONTENDS];
static BUS_DRIVERS: [AtomicPtr<BusDriver>; MAX_FRONTENDS] =
    [const { AtomicPtr::new(null_mut()) }; MAX_FRONTENDS];

/// The driver bound to a device (null: none).
pub(crate) struct DrvRef(*const XenbusFrontendDriver);

// SAFETY: a registered descriptor is immutable and shared by design (see `XenbusFrontendDriver`).
unsafe impl Send for DrvRef {}

impl DrvRef {
    /// No driver.
    pub(crate) const fn none() -> Self {
        Self(core::ptr::null())
    }

    /// The driver, if bound.
    pub(crate) fn get(&self) -> Option<&XenbusFrontendDriver> {
        // SAFETY: non-null only while the driver is registered: unregistering clears every
        // `DrvRef` pointing to it (under the device's lock) before returning.
        unsafe { self.0.as_ref() }
    }
}

/// The handle given to drivers for `d`.
pub(crate) fn handle(d: &Dev) -> *mut XenbusDevHandle {
    core::ptr::from_ref::<Dev>(d).cast_mut().cast()
}

/// The device behind a handle a driver passed back.
///
/// # Safety
/// `h` must be a handle given to that driver's callbacks whose `remove` has not returned.
unsafe fn dev_of<'a>(h: *mut XenbusDevHandle) -> Option<&'a Dev> {
    // SAFETY: the caller's contract: the `Dev` lives until after its `remove` returns.
    unsafe { h.cast::<Dev>().cast_const().as_ref() }
}

fn name_of(d: &XenbusFrontendDriver) -> &str {
    crate::abi_xenbus::field_str(&d.name).unwrap_or("?")
}

fn type_of(d: &XenbusFrontendDriver) -> Option<&[u8]> {
    let t = crate::abi_xenbus::field_str(&d.devicetype)?;
    (!t.is_empty()).then_some(t.as_bytes())
}

/// The registered driver of `devtype` and its `BusDriver`.
fn driver_for(devtype: &[u8]) -> Option<(&'static XenbusFrontendDriver, &'static BusDriver)> {
    FRONTENDS
        .iter()
        .zip(BUS_DRIVERS.iter())
        .find_map(|(slot, bd)| {
            // SAFETY: registered descriptors stay valid until unregistered, and unregistering removes
            // them from the table first.
            let d = unsafe { slot.load(Ordering::Acquire).as_ref() }?;
            // SAFETY: published before `slot` (Release/Acquire on `slot`), freed only after `slot` is
            // cleared and the driver's devices are unbound under their locks.
            let bd = unsafe { bd.load(Ordering::Acquire).as_ref() }?;
            (type_of(d) == Some(devtype)).then_some((d, bd))
        })
}

/// Probes `d` with `drv`; on success binds it and, if `initial_state` (a device that existed
/// before the driver: its backend-state watch fired long ago), reports the backend's current
/// state to `otherend_changed`, as Linux's probe does by registering the otherend watch.
fn bind(d: &Dev, drv: &XenbusFrontendDriver, bd: &BusDriver, initial_state: bool) {
    let mut g = d.drv.lock();
    if !g.0.is_null() {
        return;
    }
    let Some(probe) = drv.probe else { return };
    // SAFETY: the handle is valid until `remove`; `ctx` is the driver's.
    let r = unsafe { probe(handle(d), drv.ctx) };
    if r == 0 {
        *g = DrvRef(drv);
        // Only sysfs's view: the frontend works without it, so a failure is reported, not fatal.
        if let Err(e) = d.dev.bind(bd) {
            pr_err!(
                "{}: driver core binding to {} failed: {:?}\n",
                d.nodename.to_str().unwrap_or("?"),
                name_of(drv),
                e
            );
        }
        pr_info!(
            "{}: bound to driver {}\n",
            d.nodename.to_str().unwrap_or("?"),
            name_of(drv)
        );
        if let (true, Some(cb), Some(xs)) = (initial_state, drv.otherend_changed, xs::get()) {
            if let Ok(p) = d.otherend_path(b"state") {
                let st = read_state(xs, &p);
                // SAFETY: bound just now, under the device's lock, as in the watch callback.
                unsafe { cb(handle(d), st as u32, drv.ctx) };
            }
        }
    } else {
        pr_err!(
            "{}: probe by driver {} failed: errno {}\n",
            d.nodename.to_str().unwrap_or("?"),
            name_of(drv),
            -r
        );
    }
}

/// Binds a new device to the registered driver of its type, if any.
pub(crate) fn probe_new(d: &Dev) {
    if let Some((drv, bd)) = driver_for(d.devtype.to_bytes()) {
        // The backend-state watch is registered right after: it reports the first state.
        bind(d, drv, bd, false);
    }
}

/// Calls the bound driver's `remove` and unbinds it.
pub(crate) fn unbind(d: &Dev) {
    let mut g = d.drv.lock();
    if let Some(drv) = g.get() {
        if let Some(rm) = drv.remove {
            // SAFETY: the handle is valid until this returns.
            unsafe { rm(handle(d), drv.ctx) };
        }
        // After `remove`: the frontend's gendisk/net_device (our children) are gone.
        d.dev.unbind();
    }
    *g = DrvRef::none();
}

/// Exported: see `abi_xenbus::xpv_xenbus_register_frontend`.
///
/// # Safety
/// `drv` must point to a valid descriptor that stays valid until unregistered.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_register_frontend(
    drv: *const XenbusFrontendDriver,
) -> i32 {
    if xs::get().is_none() {
        return -abi::ENODEV;
    }
    // SAFETY: the caller passes a valid descriptor.
    let Some(d) = (unsafe { drv.as_ref() }) else {
        return -abi::EINVAL;
    };
    if d.abi_version != XPV_XENBUS_ABI_VERSION {
        pr_err!(
            "frontend driver uses xenbus ABI {}, xenbus {}: rebuild all modules together\n",
            d.abi_version,
            XPV_XENBUS_ABI_VERSION
        );
        return -abi::EINVAL;
    }
    let Some(ty) = type_of(d) else {
        pr_err!("refusing a frontend driver with a bad device type\n");
        return -abi::EINVAL;
    };
    if d.probe.is_none() {
        pr_err!(
            "refusing frontend driver {}: no probe callback\n",
            name_of(d)
        );
        return -abi::EINVAL;
    }
    if driver_for(ty).is_some() {
        pr_err!(
            "frontend driver {}: that device type already has a driver\n",
            name_of(d)
        );
        return -abi::EBUSY;
    }
    // The driver core's driver, named by device type as Linux's ("vbd", "vif").
    let bd = match CString::try_from_fmt(fmt!("{}", BStr::from_bytes(ty)))
        .map_err(|_| ENOMEM)
        .and_then(|name| BusDriver::add(&name))
        .and_then(|bd| Ok(KBox::new(bd, GFP_KERNEL)?))
    {
        Ok(b) => KBox::into_raw(b),
        Err(e) => {
            pr_err!(
                "frontend driver {}: registering it on the xen bus failed: {:?}\n",
                name_of(d),
                e
            );
            return e.to_errno();
        }
    };
    let Some(i) = BUS_DRIVERS.iter().position(|slot| {
        slot.compare_exchange(null_mut(), bd, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }) else {
        // SAFETY: `bd` came from `KBox::into_raw` above and was published nowhere.
        drop(unsafe { KBox::from_raw(bd) });
        return -abi::ENOSPC;
    };
    FRONTENDS[i].store(drv.cast_mut(), Ordering::Release);
    pr_info!("registered frontend driver {}\n", name_of(d));
    // SAFETY: BUS is null or the live bus; frontends are unregistered before xenbus unloads.
    if let Some(inner) = unsafe { BUS.load(Ordering::Acquire).as_ref() } {
        let devs = inner.devs.lock();
        for dev in devs.iter().flatten() {
            if dev.devtype.to_bytes() == ty {
                // SAFETY: `bd` stays valid until this driver is unregistered.
                bind(dev, d, unsafe { &*bd }, true);
            }
        }
    }
    0
}
const _: crate::abi_xenbus::RegisterFrontendFn = xpv_xenbus_register_frontend;

/// Exported: see `abi_xenbus::xpv_xenbus_unregister_frontend`.
///
/// # Safety
/// `drv` is compared, and used only if registered.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_unregister_frontend(drv: *const XenbusFrontendDriver) {
    let Some(i) = FRONTENDS.iter().position(|slot| {
        slot.compare_exchange(
            drv.cast_mut(),
            null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
    }) else {
        return;
    };
    // SAFETY: as in register.
    if let Some(inner) = unsafe { BUS.load(Ordering::Acquire).as_ref() } {
        let devs = inner.devs.lock();
        for dev in devs.iter().flatten() {
            if dev.drv.lock().0 == drv {
                unbind(dev);
            }
        }
    }
    // No device refers to it any more (unbound above; `driver_for` no longer finds the slot).
    let bd = BUS_DRIVERS[i].swap(null_mut(), Ordering::AcqRel);
    if !bd.is_null() {
        // SAFETY: from `KBox::into_raw` in register, taken out of the table exactly once.
        drop(unsafe { KBox::from_raw(bd) });
    }
}
const _: crate::abi_xenbus::UnregisterFrontendFn = xpv_xenbus_unregister_frontend;

/// Exported: see `abi_xenbus::xpv_xenbus_dev_info`.
///
/// # Safety
/// `dev` a live handle, `info` valid for writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_dev_info(
    dev: *mut XenbusDevHandle,
    info: *mut XenbusDevInfo,
) -> i32 {
    // SAFETY: caller's contract.
    let (Some(d), Some(out)) = (unsafe { dev_of(dev) }, unsafe { info.as_mut() }) else {
        return -abi::EINVAL;
    };
    if out.abi_version != XPV_XENBUS_ABI_VERSION {
        return -abi::EINVAL;
    }
    out.otherend_id = d.otherend_id;
    fill_field(&mut out.devtype, d.devtype.to_bytes());
    fill_field(&mut out.nodename, d.nodename.to_bytes());
    fill_field(&mut out.otherend, d.otherend.lock().to_bytes());
    0
}
const _: crate::abi_xenbus::DevInfoFn = xpv_xenbus_dev_info;

/// Exported: see `abi_xenbus::xpv_xenbus_dev_device`.
///
/// # Safety
/// `dev` a live handle or null.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_dev_device(dev: *mut XenbusDevHandle) -> *mut c_void {
    // SAFETY: caller's contract.
    match unsafe { dev_of(dev) } {
        Some(d) => d.dev.device_ptr(),
        None => null_mut(),
    }
}
const _: crate::abi_xenbus::DevDeviceFn = xpv_xenbus_dev_device;

fn errno(e: Error) -> i32 {
    e.to_errno()
}

/// Exported: see `abi_xenbus::xpv_xenbus_dev_read`.
///
/// # Safety
/// `dev` a live handle; `node` valid for `node_len` bytes, `buf` for `buf_len`, `out_len`
/// writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_dev_read(
    dev: *mut XenbusDevHandle,
    otherend: u32,
    node: *const u8,
    node_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> i32 {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { dev_of(dev) }) else {
        return -abi::EINVAL;
    };
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    if node.is_null() || (buf.is_null() && buf_len != 0) || out_len.is_null() {
        return -abi::EINVAL;
    }
    // SAFETY: caller's contract.
    let node = unsafe { core::slice::from_raw_parts(node, node_len) };
    let path = if otherend != 0 {
        d.otherend_path(node)
    } else {
        join(d.nodename.to_bytes(), node)
    };
    let path = match path {
        Ok(p) => p,
        Err(e) => return errno(e),
    };
    // SAFETY: caller's contract.
    unsafe { read_out(xs, &path, buf, buf_len, out_len) }
}
const _: crate::abi_xenbus::DevReadFn = xpv_xenbus_dev_read;

/// Reads `path` into the caller's `buf` (`*out_len` = the value's length): 0, `-E2BIG`, or the
/// read's errno.
///
/// # Safety
/// `buf` valid for writes of `buf_len` bytes (or `buf_len` 0), `out_len` writable.
unsafe fn read_out(
    xs: &xs::Xs,
    path: &[u8],
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> i32 {
    let r = match xs.read(0, path) {
        Ok(r) => r,
        Err(e) => return errno(e),
    };
    let v = r.payload();
    // SAFETY: caller's contract.
    unsafe { *out_len = v.len() };
    if v.len() > buf_len {
        return -E2BIG;
    }
    // SAFETY: `buf` is valid for `buf_len` ≥ `v.len()` bytes and does not overlap our reply.
    unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len()) };
    0
}

/// Exported: see `abi_xenbus::xpv_xenbus_read`.
///
/// # Safety
/// `path` valid for `path_len` bytes, `buf` for `buf_len`, `out_len` writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_read(
    path: *const u8,
    path_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> i32 {
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    if path.is_null() || path_len == 0 || (buf.is_null() && buf_len != 0) || out_len.is_null() {
        return -abi::EINVAL;
    }
    // SAFETY: caller's contract.
    let path = unsafe { core::slice::from_raw_parts(path, path_len) };
    // SAFETY: caller's contract.
    unsafe { read_out(xs, path, buf, buf_len, out_len) }
}
const _: crate::abi_xenbus::ReadFn = xpv_xenbus_read;

/// Exported: see `abi_xenbus::xpv_xenbus_watch`.
///
/// # Safety
/// `path` valid for `path_len` bytes, `token` writable; `cb`/`data` as documented there.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_watch(
    path: *const u8,
    path_len: usize,
    cb: Option<crate::abi_xenbus::WatchFn>,
    data: *mut c_void,
    token: *mut u64,
) -> i32 {
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    let Some(cb) = cb else {
        return -abi::EINVAL;
    };
    if path.is_null() || path_len == 0 || token.is_null() {
        return -abi::EINVAL;
    }
    // SAFETY: caller's contract.
    let path = unsafe { core::slice::from_raw_parts(path, path_len) };
    // SAFETY: the caller keeps `data` valid for `cb` until `xpv_xenbus_unwatch` returns.
    match unsafe { xs.watch(path, cb, data) } {
        Ok(t) => {
            // SAFETY: caller's contract.
            unsafe { *token = t };
            0
        }
        Err(e) => errno(e),
    }
}
const _: crate::abi_xenbus::WatchRegisterFn = xpv_xenbus_watch;

/// Exported: see `abi_xenbus::xpv_xenbus_unwatch`.
///
/// # Safety
/// `path` valid for `path_len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_unwatch(path: *const u8, path_len: usize, token: u64) {
    let Some(xs) = xs::get() else { return };
    if path.is_null() {
        return;
    }
    // SAFETY: caller's contract.
    let path = unsafe { core::slice::from_raw_parts(path, path_len) };
    xs.unwatch(path, token);
}
const _: crate::abi_xenbus::UnwatchFn = xpv_xenbus_unwatch;

/// Exported: see `abi_xenbus::xpv_xenbus_dev_write`.
///
/// # Safety
/// `dev` a live handle; `node` and `value` valid for their lengths.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_dev_write(
    dev: *mut XenbusDevHandle,
    tx: u32,
    node: *const u8,
    node_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { dev_of(dev) }) else {
        return -abi::EINVAL;
    };
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    if node.is_null() || (value.is_null() && value_len != 0) {
        return -abi::EINVAL;
    }
    // SAFETY: caller's contract.
    let node = unsafe { core::slice::from_raw_parts(node, node_len) };
    let value: &[u8] = if value_len == 0 {
        &[]
    } else {
        // SAFETY: caller's contract.
        unsafe { core::slice::from_raw_parts(value, value_len) }
    };
    match join(d.nodename.to_bytes(), node).and_then(|p| xs.write(tx, &p, value)) {
        Ok(()) => 0,
        Err(e) => errno(e),
    }
}
const _: crate::abi_xenbus::DevWriteFn = xpv_xenbus_dev_write;

/// Exported: see `abi_xenbus::xpv_xenbus_switch_state`.
///
/// # Safety
/// `dev` a live handle.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_switch_state(
    dev: *mut XenbusDevHandle,
    state: u32,
) -> i32 {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { dev_of(dev) }) else {
        return -abi::EINVAL;
    };
    let Ok(st) = XenbusState::from_u32(state) else {
        return -abi::EINVAL;
    };
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    if d.state.load(Ordering::Acquire) == state {
        return 0;
    }
    let r = join(d.nodename.to_bytes(), b"state")
        .and_then(|p| xs.write(0, &p, st.as_xenstore_str().as_bytes()));
    match r {
        Ok(()) => {
            d.state.store(state, Ordering::Release);
            d.dev.set_state(state);
            0
        }
        Err(e) => {
            pr_err!(
                "{}: cannot switch to {}: errno {}\n",
                d.nodename.to_str().unwrap_or("?"),
                st.name(),
                -e.to_errno()
            );
            errno(e)
        }
    }
}
const _: crate::abi_xenbus::SwitchStateFn = xpv_xenbus_switch_state;

/// Longest message [`xpv_xenbus_dev_fatal`] writes, in bytes.
const FATAL_MSG_MAX: usize = 256;

/// Exported: see `abi_xenbus::xpv_xenbus_dev_fatal`.
///
/// # Safety
/// `dev` a live handle; `msg` valid for `msg_len` bytes (or null).
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_dev_fatal(
    dev: *mut XenbusDevHandle,
    err: i32,
    msg: *const u8,
    msg_len: usize,
) {
    // SAFETY: caller's contract.
    let Some(d) = (unsafe { dev_of(dev) }) else {
        return;
    };
    let msg: &[u8] = if msg.is_null() {
        &[]
    } else {
        // SAFETY: caller's contract; we read at most `msg_len` bytes.
        unsafe { core::slice::from_raw_parts(msg, msg_len.min(FATAL_MSG_MAX)) }
    };
    let msg = BStr::from_bytes(msg);
    let node = d.nodename.to_str().unwrap_or("?");
    pr_err!("{}: {} (errno {})\n", node, msg, -err);
    if let Some(xs) = xs::get() {
        // As Linux's `xenbus_va_dev_error`: "<errno> <message>" in error/<nodename>/error.
        let r = join(b"error", d.nodename.to_bytes())
            .and_then(|p| join(&p, b"error"))
            .and_then(|p| {
                let v = CString::try_from_fmt(fmt!("{} {}", -err, msg))?;
                xs.write(0, &p, v.to_bytes())
            });
        if let Err(e) = r {
            pr_err!(
                "{}: cannot write error/{}/error: errno {}\n",
                node,
                node,
                -e.to_errno()
            );
        }
    }
    // SAFETY: `dev` is live (caller's contract).
    let _ = unsafe { xpv_xenbus_switch_state(dev, XenbusState::Closing as u32) };
}
const _: crate::abi_xenbus::DevFatalFn = xpv_xenbus_dev_fatal;

/// Exported: see `abi_xenbus::xpv_xenbus_wait_otherend`.
///
/// # Safety
/// `dev` a live handle, `state` writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_wait_otherend(
    dev: *mut XenbusDevHandle,
    mask: u32,
    timeout_ms: u32,
    state: *mut u32,
) -> i32 {
    // SAFETY: caller's contract.
    let (Some(d), Some(out)) = (unsafe { dev_of(dev) }, unsafe { state.as_mut() }) else {
        return -abi::EINVAL;
    };
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    let Ok(path) = d.otherend_path(b"state") else {
        return -12;
    };
    match wait_state(xs, &path, timeout_ms, |s| {
        crate::abi_xenbus::state_bit(s as u32) & mask != 0
    }) {
        Ok(s) => {
            *out = s as u32;
            0
        }
        Err(s) => {
            *out = s as u32;
            pr_err!(
                "{}: backend still {} after {} ms\n",
                d.nodename.to_str().unwrap_or("?"),
                s.name(),
                timeout_ms
            );
            -ETIMEDOUT
        }
    }
}
const _: crate::abi_xenbus::WaitOtherendFn = xpv_xenbus_wait_otherend;

/// Exported: see `abi_xenbus::xpv_xenbus_transaction_start`.
///
/// # Safety
/// `tx` writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xenbus_transaction_start(tx: *mut u32) -> i32 {
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    // SAFETY: caller's contract.
    let Some(out) = (unsafe { tx.as_mut() }) else {
        return -abi::EINVAL;
    };
    match xs.transaction_start() {
        Ok(id) => {
            *out = id;
            0
        }
        Err(e) => errno(e),
    }
}
const _: crate::abi_xenbus::TransactionStartFn = xpv_xenbus_transaction_start;

/// Exported: see `abi_xenbus::xpv_xenbus_transaction_end`.
#[no_mangle]
pub(crate) extern "C" fn xpv_xenbus_transaction_end(tx: u32, commit: u32) -> i32 {
    let Some(xs) = xs::get() else {
        return -abi::ENODEV;
    };
    match xs.transaction_end(tx, commit != 0) {
        Ok(()) => 0,
        Err(e) => errno(e),
    }
}
