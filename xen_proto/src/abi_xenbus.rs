// SPDX-License-Identifier: GPL-2.0
//! The C-ABI surface `xenbus` exports to frontend drivers (`xen_blkfront`, `xen_netfront`): the
//! ABI form of Linux's `struct xenbus_driver` and of the `xenbus_*` helpers a frontend uses
//! (`include/xen/xenbus.h`): register a driver for a device type, get `probe`/`remove` and
//! backend-state (`otherend_changed`) callbacks, switch our state, read backend features, write
//! our nodes, wait for a backend state with a timeout, transactions.
//!
//! Same conventions as `abi.rs`: `#[repr(C)]` structs starting with a version checked by the
//! callee, plain data and function pointers only, errors as negative errnos. Kept apart from
//! `abi.rs` (owned by `xen_platform`'s side) so both can change independently; includers include
//! `abi.rs` and `xenbus_state.rs` as siblings. Safe wrappers for callers:
//! `abi_xenbus_client.rs`.
//!
//! Paths and node names are passed as (pointer, length) byte strings without NUL; relative paths
//! are under this domain's home (`/local/domain/<domid>`). xenstore errors keep their errno
//! (`-ENOENT`, `-EACCES`, `-EAGAIN` for a conflicting transaction, ...); a connection that broke
//! or a backend that sent garbage gives `-EIO`; every wait is bounded (`-ETIMEDOUT`).
//!
//! Rings and event channels are granted/allocated through `xen_platform`'s ABI for the backend's
//! domain ([`XenbusDevInfo::otherend_id`]); the client wrappers do that.

use core::ffi::c_void;

/// Version of every struct and function in this file; bump on any incompatible change.
pub const XPV_XENBUS_ABI_VERSION: u32 = 2;
/// Length of the NUL-padded path fields of [`XenbusDevInfo`], in bytes.
pub const XENBUS_PATH_LEN: usize = 128;
/// Length of the NUL-padded name fields, in bytes (as `abi::XENBUS_NAME_LEN`).
pub const XENBUS_TYPE_LEN: usize = 32;

/// `-ETIMEDOUT`: a bounded wait expired.
pub const ETIMEDOUT: i32 = 110;
/// `-E2BIG`: a value does not fit the caller's buffer.
pub const E2BIG: i32 = 7;

/// A device on the `xen` bus, as handed to a driver's callbacks. Opaque; valid from `probe`
/// until `remove` returns.
#[repr(C)]
pub struct XenbusDevHandle {
    _private: [u8; 0],
}

/// What a driver learns about its device ([`xpv_xenbus_dev_info`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct XenbusDevInfo {
    /// Set by the caller to [`XPV_XENBUS_ABI_VERSION`].
    pub abi_version: u32,
    /// The backend's domain id (for grants and event channels).
    pub otherend_id: u32,
    /// Device type, NUL-padded (`"vbd"`).
    pub devtype: [u8; XENBUS_TYPE_LEN],
    /// Our xenstore directory, NUL-padded (`"device/vbd/51712"`).
    pub nodename: [u8; XENBUS_PATH_LEN],
    /// The backend's directory, NUL-padded (`"/local/domain/0/backend/vbd/5/51712"`).
    pub otherend: [u8; XENBUS_PATH_LEN],
}

impl Default for XenbusDevInfo {
    fn default() -> Self {
        Self {
            abi_version: XPV_XENBUS_ABI_VERSION,
            otherend_id: 0,
            devtype: [0; XENBUS_TYPE_LEN],
            nodename: [0; XENBUS_PATH_LEN],
            otherend: [0; XENBUS_PATH_LEN],
        }
    }
}

/// `probe(dev, ctx)`: a device of the driver's type exists (at registration or hotplug).
/// Process context, may sleep and use the xenstore functions. Returns 0 to bind, or a negative
/// errno (the device then stays unbound).
pub type FrontendProbeFn = unsafe extern "C" fn(dev: *mut XenbusDevHandle, ctx: *mut c_void) -> i32;
/// `remove(dev, ctx)`: the device goes away (hot-unplug, driver unregistration, xenbus unload).
/// After it returns the handle is invalid. Process context.
pub type FrontendRemoveFn = unsafe extern "C" fn(dev: *mut XenbusDevHandle, ctx: *mut c_void);
/// `otherend_changed(dev, backend_state, ctx)`: the backend's `state` node changed (or could not
/// be read: then `backend_state` is 0, Unknown). Called once right after a successful `probe`
/// with the current state, then for every change, in order, from the xenbus watch workqueue or
/// the registering thread (process context, never concurrently with `probe`/`remove` of that
/// device); may issue xenstore requests and switch state, must not unregister the driver.
/// `backend_state` is any `enum xenbus_state` value 0..=8.
pub type FrontendOtherendChangedFn =
    unsafe extern "C" fn(dev: *mut XenbusDevHandle, backend_state: u32, ctx: *mut c_void);
/// `suspend(dev, ctx)`: the domain is about to be saved, checkpointed or migrated (Linux's
/// `xenbus_dev_suspend`): stop putting work on the rings (keep requests in flight for `resume`,
/// do not fail them). Process context, from the watch workqueue (no watch callback runs until
/// `resume`); xenstore is still usable. Returns 0, or a negative errno to refuse the suspend
/// (then every device already suspended gets `resume` with `cancelled` 1).
pub type FrontendSuspendFn =
    unsafe extern "C" fn(dev: *mut XenbusDevHandle, ctx: *mut c_void) -> i32;
/// `resume(dev, cancelled, ctx)`: after `suspend`. `cancelled` 1: the same domain goes on with
/// the same backend, rings, grants and ports (checkpoint, refused or failed suspend): carry on.
/// `cancelled` 0 (Linux's `xenbus_dev_resume`): a new domain: every event channel and grant of
/// the old one is gone (drop them without closing or waiting: `abi_client::OwnedPort` and
/// `EvtchnBinding` know), the backend is a new one starting from InitWait, our state is
/// Initialising; set up again through `otherend_changed`, which follows (the backend-state watch
/// fires once after the resume), and re-issue the requests that were in flight. Process
/// context, as `suspend`.
pub type FrontendResumeFn =
    unsafe extern "C" fn(dev: *mut XenbusDevHandle, cancelled: u32, ctx: *mut c_void);

/// A frontend driver (the ABI form of Linux's `struct xenbus_driver`). Registration does not copy
/// it: it stays at the same address until unregistered.
#[repr(C)]
#[derive(Debug)]
pub struct XenbusFrontendDriver {
    /// [`XPV_XENBUS_ABI_VERSION`].
    pub abi_version: u32,
    /// Device type handled, NUL-padded (`"vbd"`, `"vif"`).
    pub devicetype: [u8; XENBUS_TYPE_LEN],
    /// Driver name, NUL-padded.
    pub name: [u8; XENBUS_TYPE_LEN],
    /// Required.
    pub probe: Option<FrontendProbeFn>,
    /// Optional.
    pub remove: Option<FrontendRemoveFn>,
    /// Optional; without it, a backend that closes is answered with our state Closed.
    pub otherend_changed: Option<FrontendOtherendChangedFn>,
    /// Optional with `resume`: without both, a bound device makes xenbus refuse a suspend.
    pub suspend: Option<FrontendSuspendFn>,
    /// See `suspend`.
    pub resume: Option<FrontendResumeFn>,
    /// Passed to every callback.
    pub ctx: *mut c_void,
}

// SAFETY: the descriptor is immutable after registration; `ctx` is the driver's, which must
// make it usable from any thread (documented on the callbacks).
unsafe impl Sync for XenbusFrontendDriver {}

/// Bit of state `s` in a state mask ([`xpv_xenbus_wait_otherend`]).
pub const fn state_bit(s: u32) -> u32 {
    if s < 32 {
        1 << s
    } else {
        0
    }
}

/// Signature of `xpv_xenbus_register_frontend`.
pub type RegisterFrontendFn = unsafe extern "C" fn(drv: *const XenbusFrontendDriver) -> i32;
/// Signature of `xpv_xenbus_unregister_frontend`.
pub type UnregisterFrontendFn = unsafe extern "C" fn(drv: *const XenbusFrontendDriver);
/// Signature of `xpv_xenbus_dev_info`.
pub type DevInfoFn =
    unsafe extern "C" fn(dev: *mut XenbusDevHandle, info: *mut XenbusDevInfo) -> i32;
/// Signature of `xpv_xenbus_dev_device`.
pub type DevDeviceFn = unsafe extern "C" fn(dev: *mut XenbusDevHandle) -> *mut c_void;
/// Signature of `xpv_xenbus_dev_read`.
pub type DevReadFn = unsafe extern "C" fn(
    dev: *mut XenbusDevHandle,
    otherend: u32,
    node: *const u8,
    node_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> i32;
/// Signature of `xpv_xenbus_dev_write`.
pub type DevWriteFn = unsafe extern "C" fn(
    dev: *mut XenbusDevHandle,
    tx: u32,
    node: *const u8,
    node_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32;
/// Signature of `xpv_xenbus_switch_state`.
pub type SwitchStateFn = unsafe extern "C" fn(dev: *mut XenbusDevHandle, state: u32) -> i32;
/// Signature of `xpv_xenbus_dev_fatal`.
pub type DevFatalFn =
    unsafe extern "C" fn(dev: *mut XenbusDevHandle, err: i32, msg: *const u8, msg_len: usize);
/// Signature of `xpv_xenbus_wait_otherend`.
pub type WaitOtherendFn = unsafe extern "C" fn(
    dev: *mut XenbusDevHandle,
    mask: u32,
    timeout_ms: u32,
    state: *mut u32,
) -> i32;
/// Signature of `xpv_xenbus_read`.
pub type ReadFn = unsafe extern "C" fn(
    path: *const u8,
    path_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> i32;
/// A xenstore watch callback: `cb(path, path_len, data)` with the path that fired (not
/// NUL-terminated), from the xenbus watch workqueue (process context, one at a time); may issue
/// xenstore requests, must not unregister its own watch.
pub type WatchFn = unsafe extern "C" fn(path: *const u8, path_len: usize, data: *mut c_void);
/// Signature of `xpv_xenbus_watch`.
pub type WatchRegisterFn = unsafe extern "C" fn(
    path: *const u8,
    path_len: usize,
    cb: Option<WatchFn>,
    data: *mut c_void,
    token: *mut u64,
) -> i32;
/// Signature of `xpv_xenbus_unwatch`.
pub type UnwatchFn = unsafe extern "C" fn(path: *const u8, path_len: usize, token: u64);
/// Signature of `xpv_xenbus_transaction_start`.
pub type TransactionStartFn = unsafe extern "C" fn(tx: *mut u32) -> i32;
/// Signature of `xpv_xenbus_transaction_end`.
pub type TransactionEndFn = unsafe extern "C" fn(tx: u32, commit: u32) -> i32;

extern "C" {
    /// Registers a frontend driver and probes the existing devices of its type. Returns 0,
    /// `-ENODEV` without xenstore, `-EINVAL` for a bad descriptor (version, names, no probe),
    /// `-EBUSY` if the type has a driver, `-ENOSPC` if the table is full. Process context.
    pub fn xpv_xenbus_register_frontend(drv: *const XenbusFrontendDriver) -> i32;

    /// Calls `remove` for every bound device and unregisters the driver; unknown pointers are
    /// ignored. Not from a callback of that driver. Process context.
    pub fn xpv_xenbus_unregister_frontend(drv: *const XenbusFrontendDriver);

    /// Fills `*info` (whose `abi_version` the caller set). Returns 0 or `-EINVAL`.
    pub fn xpv_xenbus_dev_info(dev: *mut XenbusDevHandle, info: *mut XenbusDevInfo) -> i32;

    /// The device's `struct device *` on the `xen` bus (`/sys/devices/vbd-51712`), valid until the
    /// driver's `remove` returns: the parent of the frontend's gendisk (`device_add_disk`) or
    /// net_device (`SET_NETDEV_DEV`), as Linux's frontends make it. Null for a null handle.
    pub fn xpv_xenbus_dev_device(dev: *mut XenbusDevHandle) -> *mut c_void;

    /// Reads node `node` of our directory (`otherend == 0`) or of the backend's (`otherend != 0`,
    /// e.g. `feature-persistent`, `sectors`) into `buf`; `*out_len` gets the value's length.
    /// Returns 0, `-E2BIG` if it does not fit (`*out_len` = length needed), xenstore's errno
    /// (`-ENOENT` for a missing node), `-EIO`, `-ETIMEDOUT`. Process context.
    pub fn xpv_xenbus_dev_read(
        dev: *mut XenbusDevHandle,
        otherend: u32,
        node: *const u8,
        node_len: usize,
        buf: *mut u8,
        buf_len: usize,
        out_len: *mut usize,
    ) -> i32;

    /// Writes `value` to node `node` of our directory (inside transaction `tx`, 0 for none),
    /// e.g. `ring-ref`, `event-channel`. Returns 0 or a negative errno. Process context.
    pub fn xpv_xenbus_dev_write(
        dev: *mut XenbusDevHandle,
        tx: u32,
        node: *const u8,
        node_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> i32;

    /// Switches our state (`xenbus_switch_state`): writes `<nodename>/state` (unless it already
    /// has that value) and updates the sysfs attribute. Returns 0, `-EINVAL` for a value > 8, or
    /// the write's errno. Process context.
    pub fn xpv_xenbus_switch_state(dev: *mut XenbusDevHandle, state: u32) -> i32;

    /// Reports a fatal error of the device to the toolstack, as Linux's `xenbus_dev_fatal`
    /// (`drivers/xen/xenbus/xenbus_client.c`): logs `<nodename>: <msg> (errno <-err>)` with
    /// `pr_err`, writes `"<-err> <msg>"` to `error/<nodename>/error` of our domain (the node
    /// libxl and xenstore tools read), and switches our state to `Closing`. `err` is a negative
    /// errno; `msg` (at most 256 bytes are used) is valid for `msg_len` bytes. Failures to write
    /// are logged, not returned. Process context.
    pub fn xpv_xenbus_dev_fatal(
        dev: *mut XenbusDevHandle,
        err: i32,
        msg: *const u8,
        msg_len: usize,
    );

    /// Waits until the backend's state is one whose [`state_bit`] is in `mask`, at most
    /// `timeout_ms` ms; the state is written to `*state`. Returns 0, `-ETIMEDOUT` (with the last
    /// state seen in `*state`), `-EIO`. Process context, not from `otherend_changed` (the
    /// state cannot change under it there: it would just time out).
    pub fn xpv_xenbus_wait_otherend(
        dev: *mut XenbusDevHandle,
        mask: u32,
        timeout_ms: u32,
        state: *mut u32,
    ) -> i32;

    /// `XS_TRANSACTION_START`: the new id in `*tx`. Returns 0 or a negative errno.
    pub fn xpv_xenbus_transaction_start(tx: *mut u32) -> i32;

    /// Reads xenstore node `path`, absolute or relative to this domain's home
    /// (`/local/domain/<domid>/`, e.g. `memory/target`), into `buf`; `*out_len` gets the value's
    /// length. Returns 0, `-E2BIG` if it does not fit (`*out_len` = length needed), xenstore's
    /// errno (`-ENOENT` for a missing node), `-EIO`, `-ETIMEDOUT`, `-ENODEV`. Process context.
    pub fn xpv_xenbus_read(
        path: *const u8,
        path_len: usize,
        buf: *mut u8,
        buf_len: usize,
        out_len: *mut usize,
    ) -> i32;

    /// Watches `path` (absolute or relative, as [`xpv_xenbus_read`]) and its subtree: `cb` is
    /// called once soon after registration, then at every change. `*token` identifies the watch
    /// for [`xpv_xenbus_unwatch`]. `data` must stay valid until that returns. Returns 0,
    /// `-ENOSPC` when xenbus's watch table is full, `-EINVAL`, `-ENODEV` or xenstore's errno.
    /// Process context.
    pub fn xpv_xenbus_watch(
        path: *const u8,
        path_len: usize,
        cb: Option<WatchFn>,
        data: *mut c_void,
        token: *mut u64,
    ) -> i32;

    /// Removes a watch of [`xpv_xenbus_watch`] (same `path`): when this returns, its callback is
    /// not running and will not run again. Not from that callback. Process context.
    pub fn xpv_xenbus_unwatch(path: *const u8, path_len: usize, token: u64);

    /// `XS_TRANSACTION_END`: commit (`commit != 0`) or abort. `-EAGAIN`: redo the transaction.
    pub fn xpv_xenbus_transaction_end(tx: u32, commit: u32) -> i32;
}

/// A driver descriptor for a `static`.
///
/// # Panics
/// At compile time (in a `static` initialiser) if a name is too long or contains a NUL.
pub const fn frontend_driver(
    devicetype: &str,
    name: &str,
    probe: FrontendProbeFn,
    remove: Option<FrontendRemoveFn>,
    otherend_changed: Option<FrontendOtherendChangedFn>,
    suspend: Option<FrontendSuspendFn>,
    resume: Option<FrontendResumeFn>,
) -> XenbusFrontendDriver {
    let (Some(devicetype), Some(name)) = (
        super::abi::name_field(devicetype),
        super::abi::name_field(name),
    ) else {
        panic!("xenbus driver name too long or containing NUL");
    };
    XenbusFrontendDriver {
        abi_version: XPV_XENBUS_ABI_VERSION,
        devicetype,
        name,
        probe: Some(probe),
        remove,
        otherend_changed,
        suspend,
        resume,
        ctx: core::ptr::null_mut(),
    }
}

/// The text of a NUL-padded field up to its first NUL (`None`: no NUL or not UTF-8).
pub fn field_str(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&c| c == 0)?;
    core::str::from_utf8(&field[..end]).ok()
}

/// Copies `s` into a NUL-padded field, truncating to leave room for the NUL.
pub fn fill_field(field: &mut [u8], s: &[u8]) {
    field.fill(0);
    let n = s.len().min(field.len().saturating_sub(1));
    field[..n].copy_from_slice(&s[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn probe(_d: *mut XenbusDevHandle, _c: *mut c_void) -> i32 {
        0
    }

    #[test]
    fn descriptor_and_fields() {
        static D: XenbusFrontendDriver =
            frontend_driver("vbd", "vbd", probe, None, None, None, None);
        assert_eq!(field_str(&D.devicetype), Some("vbd"));
        assert_eq!(D.abi_version, XPV_XENBUS_ABI_VERSION);
        let mut f = [0xffu8; 8];
        fill_field(&mut f, b"0123456789");
        assert_eq!(field_str(&f), Some("0123456"));
        fill_field(&mut f, b"ab");
        assert_eq!(&f, b"ab\0\0\0\0\0\0");
        assert_eq!(field_str(&[b'x'; 4]), None);
        let mut empty: [u8; 0] = [];
        fill_field(&mut empty, b"x");
    }

    #[test]
    fn state_bits() {
        assert_eq!(state_bit(0), 1);
        assert_eq!(state_bit(4), 16);
        assert_eq!(state_bit(31), 1 << 31);
        assert_eq!(state_bit(32), 0);
        assert_eq!(state_bit(u32::MAX), 0);
    }

    #[test]
    fn layouts_are_fixed() {
        assert_eq!(core::mem::size_of::<XenbusDevInfo>(), 8 + 32 + 256);
        assert_eq!(core::mem::offset_of!(XenbusFrontendDriver, probe), 72);
        assert_eq!(
            core::mem::offset_of!(XenbusFrontendDriver, suspend),
            72 + 3 * 8
        );
        assert_eq!(core::mem::size_of::<XenbusFrontendDriver>(), 72 + 6 * 8);
    }
}
