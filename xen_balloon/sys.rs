// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_balloon touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h` over the shims in `helpers.c`) and safe wrappers over it.

use kernel::prelude::*;

bindgen_module!();

pub(crate) use b::{
    XPV_BL_CURRENT_KB, XPV_BL_HIGH_KB, XPV_BL_LOW_KB, XPV_BL_MAX_SCHEDULE_DELAY,
    XPV_BL_RETRY_COUNT, XPV_BL_SCHEDULE_DELAY, XPV_BL_TARGET, XPV_BL_TARGET_KB,
};

/// A page allocated for the balloon (zeroed when `scrub_pages` is set), by guest frame number.
///
/// # Errors
/// `ENOMEM` when the allocator has no page to spare without reclaim pressure.
pub(crate) fn page_alloc() -> Result<u64> {
    let mut gfn = 0u64;
    // SAFETY: `gfn` is writable.
    match unsafe { b::xpv_bl_page_alloc(&mut gfn) } {
        0 => Ok(gfn),
        _ => Err(ENOMEM),
    }
}

/// Frees a page of [`page_alloc`] that Xen did not take.
///
/// # Safety
/// `gfn` came from [`page_alloc`], is still populated, and is freed once.
pub(crate) unsafe fn page_free(gfn: u64) {
    // SAFETY: caller's contract.
    unsafe { b::xpv_bl_page_free(gfn) }
}

/// Accounts a page Xen took: out of MemTotal, PageOffline. It stays allocated (ours).
///
/// # Safety
/// `gfn` came from [`page_alloc`] and `XENMEM_decrease_reservation` released it.
pub(crate) unsafe fn page_out(gfn: u64) {
    // SAFETY: caller's contract.
    unsafe { b::xpv_bl_page_out(gfn) }
}

/// Returns a ballooned page to the kernel once Xen backs it again.
///
/// # Safety
/// `gfn` went through [`page_out`] and `XENMEM_populate_physmap` repopulated it; once.
pub(crate) unsafe fn page_in(gfn: u64) {
    // SAFETY: caller's contract.
    unsafe { b::xpv_bl_page_in(gfn) }
}

/// The pages of RAM the kernel found at boot (`get_num_physpages()`).
pub(crate) fn num_physpages() -> u64 {
    // SAFETY: reads zone counters; no preconditions.
    unsafe { b::xpv_bl_num_physpages() }
}

/// `cond_resched()`. Process context.
pub(crate) fn cond_resched() {
    // SAFETY: called from process context (the work item, module init).
    unsafe { b::xpv_bl_cond_resched() }
}

/// The balloon's delayed work item (`helpers.c`), prepared at creation, stopped on drop: after
/// the drop no `xpv_bl_rs_work` runs.
pub(crate) struct Work(());

impl Work {
    /// Initialises the (static) work item. Only one `Work` exists at a time (module init).
    pub(crate) fn new() -> Self {
        // SAFETY: initialises the static delayed work; not queued yet.
        unsafe { b::xpv_bl_work_init() };
        Work(())
    }
}

/// Runs the work item as soon as possible (again, if it is running). Only while a [`Work`]
/// exists; after it was dropped this does nothing.
pub(crate) fn kick_work() {
    // SAFETY: the shim ignores the kick once the work is stopped; callers run only while the
    // `Work` exists (it is created before any source of kicks).
    unsafe { b::xpv_bl_kick() }
}

impl Drop for Work {
    fn drop(&mut self) {
        // SAFETY: initialised by `new`; waits for a running instance, prevents re-queueing.
        unsafe { b::xpv_bl_work_stop() }
    }
}

/// `/sys/devices/system/xen_memory/xen_memory0`; removed on drop (no attribute callback runs
/// after that).
pub(crate) struct Sysfs(());

impl Sysfs {
    /// Registers the `xen_memory` subsystem and its device.
    ///
    /// # Errors
    /// The driver core's errno (`EEXIST` if another balloon driver has it).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: registers static objects once (one `Sysfs` at a time, module init).
        match unsafe { b::xpv_bl_sysfs_add() } {
            0 => Ok(Sysfs(())),
            e => Err(Error::from_errno(e)),
        }
    }
}

impl Drop for Sysfs {
    fn drop(&mut self) {
        // SAFETY: registered by `new`.
        unsafe { b::xpv_bl_sysfs_del() }
    }
}

/// Shortens `v` to `len` elements.
pub(crate) fn truncate(v: &mut KVec<u64>, len: usize) {
    crate::kernel_common::kvec_truncate(v, len)
}
