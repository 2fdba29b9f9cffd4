// SPDX-License-Identifier: GPL-2.0
//! The one place where xenbus touches raw kernel bindings: our bindgen output (`bindings_gen.rs`,
//! from `bindings.h` over the shims in `helpers.c`) and safe wrappers over it.

use core::ffi::c_void;
use kernel::prelude::*;
use kernel::str::CStr;

bindgen_module!();

/// Whether the module parameter `selftest` is non-zero.
pub(crate) fn param_selftest() -> bool {
    // SAFETY: reads an int module parameter; no preconditions.
    unsafe { b::xpv_shim_param_selftest() != 0 }
}

/// Reads the kernel command line into `buf` (NUL-terminated); returns its length.
///
/// # Errors
/// The errno of opening or reading `/proc/cmdline`.
pub(crate) fn read_cmdline(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes; the shim writes at most that many.
    let n = unsafe { b::xpv_shim_read_cmdline(buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

/// A write-back mapping of guest-physical memory (`memremap(.., MEMREMAP_WB)`), unmapped on drop.
pub(crate) struct MemRemap {
    addr: *mut c_void,
    len: usize,
}

// SAFETY: the mapping is plain memory usable from any thread; it is only unmapped in `drop`.
unsafe impl Send for MemRemap {}
// SAFETY: `MemRemap` hands out only a raw address; accesses through it are the user's concern.
unsafe impl Sync for MemRemap {}

impl MemRemap {
    /// Maps `len` bytes at guest-physical address `phys`.
    ///
    /// # Errors
    /// `ENOMEM` if the mapping fails.
    pub(crate) fn new(phys: u64, len: usize) -> Result<Self> {
        // SAFETY: plain arguments; memremap validates the range.
        let addr = unsafe { b::xpv_shim_memremap_wb(phys, len) };
        if addr.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self { addr, len })
    }

    /// Start of the mapping, valid for `len` bytes while `self` lives.
    pub(crate) fn addr(&self) -> *mut c_void {
        self.addr
    }

    /// Length in bytes.
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for MemRemap {
    fn drop(&mut self) {
        // SAFETY: `addr` came from memremap and is unmapped once.
        unsafe { b::xpv_shim_memunmap(self.addr) };
    }
}

/// Creates the reader and watch workqueues (see `helpers.c`).
///
/// # Errors
/// `ENOMEM`.
pub(crate) fn wq_init() -> Result {
    // SAFETY: no preconditions; paired with `wq_destroy`.
    match unsafe { b::xpv_shim_wq_init() } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// Queues the xenstore reader work (`xpv_xenbus_rx_work`). Any context, including hard IRQ.
pub(crate) fn rx_kick() {
    // SAFETY: queue_work on a static work item; a no-op when the queue is gone.
    unsafe { b::xpv_shim_rx_kick() };
}

/// Queues the watch dispatcher work (`xpv_xenbus_watch_work`). Any context.
pub(crate) fn watch_kick() {
    // SAFETY: as `rx_kick`.
    unsafe { b::xpv_shim_watch_kick() };
}

/// Flushes and destroys both workqueues. May sleep; call after the event handler is unbound.
pub(crate) fn wq_destroy() {
    // SAFETY: destroy_workqueue drains the queues; later kicks are no-ops.
    unsafe { b::xpv_shim_wq_destroy() };
}

/// The current `jiffies`.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: reads a kernel variable.
    unsafe { b::xpv_shim_jiffies() as u64 }
}

/// Milliseconds to jiffies, rounded up.
pub(crate) fn ms_to_jiffies(ms: u64) -> u64 {
    // SAFETY: returns a constant.
    let hz = u64::from(unsafe { b::xpv_shim_hz() });
    (ms * hz).div_ceil(1000)
}

/// Registers the `xen` bus type.
///
/// # Errors
/// The errno of `bus_register`.
pub(crate) fn bus_register() -> Result {
    // SAFETY: registers a static bus type; paired with `bus_unregister`.
    match unsafe { b::xpv_shim_bus_register() } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// Unregisters the `xen` bus type (all devices must be gone).
pub(crate) fn bus_unregister() {
    // SAFETY: called once after a successful `bus_register`.
    unsafe { b::xpv_shim_bus_unregister() };
}

/// A device on the `xen` bus; dropping it unregisters it (and removes it from sysfs).
pub(crate) struct BusDevice(*mut c_void);

// SAFETY: the handle is only used through the driver core, which does its own locking.
unsafe impl Send for BusDevice {}
// SAFETY: `set_state` is a single WRITE_ONCE; nothing else is shared.
unsafe impl Sync for BusDevice {}

impl BusDevice {
    /// Registers device `<devtype>-<id>` with its sysfs attributes.
    ///
    /// # Errors
    /// `ENOMEM`, or the errno of `device_add` (e.g. `EEXIST`).
    pub(crate) fn add(
        devtype: &CStr,
        id: &CStr,
        nodename: &CStr,
        otherend: &CStr,
        otherend_id: i32,
    ) -> Result<Self> {
        let mut err = 0i32;
        // SAFETY: all strings are NUL-terminated and copied by the shim; `err` is writable.
        let d = unsafe {
            b::xpv_shim_dev_add(
                devtype.as_char_ptr(),
                id.as_char_ptr(),
                nodename.as_char_ptr(),
                otherend.as_char_ptr(),
                otherend_id,
                &mut err,
            )
        };
        if d.is_null() {
            return Err(Error::from_errno(if err < 0 { err } else { -12 }));
        }
        Ok(Self(d))
    }

    /// Sets the `state` attribute (an `enum xenbus_state` value).
    pub(crate) fn set_state(&self, state: u32) {
        // SAFETY: `self.0` is a registered device until drop.
        unsafe { b::xpv_shim_dev_set_state(self.0, state as i32) };
    }

    /// The `struct device *`, valid until drop: the parent frontends give their gendisk or
    /// net_device.
    pub(crate) fn device_ptr(&self) -> *mut c_void {
        // SAFETY: `self.0` is a registered device until drop.
        unsafe { b::xpv_shim_dev_device(self.0) }
    }

    /// Records in the driver core that `drv` drives this device (`device_bind_driver`).
    ///
    /// # Errors
    /// The errno of `device_bind_driver` (sysfs links could not be made).
    pub(crate) fn bind(&self, drv: &BusDriver) -> Result {
        // SAFETY: both are registered until their drop; the caller unbinds before either drops.
        let r = unsafe { b::xpv_shim_dev_bind(self.0, drv.0) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// Undoes [`Self::bind`] (`device_release_driver`); a no-op if not bound.
    pub(crate) fn unbind(&self) {
        // SAFETY: `self.0` is a registered device until drop.
        unsafe { b::xpv_shim_dev_unbind(self.0) };
    }
}

/// A `struct device_driver` on the `xen` bus, named by device type ("vbd") as Linux's frontend
/// drivers are, with no `bind`/`unbind` files; unregistered on drop.
pub(crate) struct BusDriver(*mut c_void);

// SAFETY: the handle is only used through the driver core, which does its own locking.
unsafe impl Send for BusDriver {}
// SAFETY: as above; `&BusDriver` only passes the handle to the driver core.
unsafe impl Sync for BusDriver {}

impl BusDriver {
    /// Registers driver `name` on the bus.
    ///
    /// # Errors
    /// `ENOMEM`, or the errno of `driver_register` (e.g. `EBUSY` for a name already taken).
    pub(crate) fn add(name: &CStr) -> Result<Self> {
        let mut err = 0i32;
        // SAFETY: `name` is NUL-terminated and copied by the shim; `err` is writable.
        let d = unsafe { b::xpv_shim_driver_add(name.as_char_ptr(), &mut err) };
        if d.is_null() {
            return Err(Error::from_errno(if err < 0 { err } else { -12 }));
        }
        Ok(Self(d))
    }
}

impl Drop for BusDriver {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `xpv_shim_driver_add` and is unregistered once.
        unsafe { b::xpv_shim_driver_del(self.0) };
    }
}

impl Drop for BusDevice {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `xpv_shim_dev_add` and is unregistered once.
        unsafe { b::xpv_shim_dev_del(self.0) };
    }
}

/// `orderly_poweroff(false)`: runs the poweroff command (`/proc/sys/kernel/poweroff_cmd`).
pub(crate) fn poweroff() {
    // SAFETY: no preconditions.
    unsafe { b::xpv_shim_poweroff() };
}

/// `orderly_reboot()`: runs the reboot command.
pub(crate) fn reboot() {
    // SAFETY: no preconditions.
    unsafe { b::xpv_shim_reboot() };
}

/// `handle_sysrq(key)`; false if the kernel has no magic SysRq.
pub(crate) fn sysrq(key: u8) -> bool {
    // SAFETY: handle_sysrq accepts any key.
    unsafe { b::xpv_shim_sysrq(i32::from(key)) != 0 }
}

/// Sleeps for about `ms` milliseconds (`msleep`). Process context only.
pub(crate) fn msleep(ms: u32) {
    // SAFETY: process context is the caller's contract (all callers are init or work items).
    unsafe { b::xpv_shim_msleep(ms) };
}

/// Registers `/dev/xen/xenbus` (misc device "xen/xenbus", mode 0600) and its teardown
/// workqueue; its file operations call `xenbus_dev.rs`.
///
/// # Errors
/// `ENOMEM`, or the errno of `misc_register`.
pub(crate) fn xbdev_register() -> Result {
    // SAFETY: registers static objects of xenbus_dev.c; paired with `xbdev_deregister`.
    match unsafe { b::xpv_shim_xbdev_register() } {
        0 => Ok(()),
        e => Err(Error::from_errno(e)),
    }
}

/// Removes `/dev/xen/xenbus`, then waits until every closed file is torn down. No file is open
/// (each holds a reference on this module).
pub(crate) fn xbdev_deregister() {
    // SAFETY: called once after a successful `xbdev_register`.
    unsafe { b::xpv_shim_xbdev_deregister() };
}

/// Wakes the readers and pollers of an open `/dev/xen/xenbus` file.
///
/// # Safety
/// `cfile` is the C part of a file that is open or still being torn down.
pub(crate) unsafe fn xbdev_wake(cfile: *mut c_void) {
    // SAFETY: `cfile` is live (the caller's contract); wake_up takes the wait queue's own lock.
    unsafe { b::xpv_shim_xbdev_wake(cfile) };
}
