// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_blkfront touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h`) and safe wrappers over it. The block-layer objects
//! (tag set, gendisk, request) stay opaque pointers; helpers.c does what needs their fields.

use core::cell::UnsafeCell;
use core::ffi::{c_void, CStr};
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use kernel::prelude::*;

bindgen_module!(pub(crate));

pub(crate) use b::request as RawRequest;
pub(crate) use b::xpv_disk_limits as DiskLimits;
pub(crate) use b::xpv_seg as DataSeg;

/// What a request asks for (`enum xpv_rq_op` of bindings.h).
pub(crate) mod rq_op {
    /// `REQ_OP_READ`.
    pub(crate) const READ: u32 = super::b::xpv_rq_op_XPV_RQ_READ;
    /// `REQ_OP_WRITE`.
    pub(crate) const WRITE: u32 = super::b::xpv_rq_op_XPV_RQ_WRITE;
    /// `REQ_OP_FLUSH`.
    pub(crate) const FLUSH: u32 = super::b::xpv_rq_op_XPV_RQ_FLUSH;
    /// `REQ_OP_DISCARD`.
    pub(crate) const DISCARD: u32 = super::b::xpv_rq_op_XPV_RQ_DISCARD;
    /// `REQ_OP_SECURE_ERASE`.
    pub(crate) const SECURE_ERASE: u32 = super::b::xpv_rq_op_XPV_RQ_SECURE_ERASE;
}

/// Completion statuses (`enum xpv_status` of bindings.h, mapped to `blk_status_t` in C).
pub(crate) mod sts {
    /// `BLK_STS_OK`.
    pub(crate) const OK: i32 = super::b::xpv_status_XPV_STS_OK as i32;
    /// `BLK_STS_IOERR`.
    pub(crate) const IOERR: i32 = super::b::xpv_status_XPV_STS_IOERR as i32;
    /// `BLK_STS_DEV_RESOURCE`: blk-mq retries the request later.
    pub(crate) const RESOURCE: i32 = super::b::xpv_status_XPV_STS_RESOURCE as i32;
    /// `BLK_STS_NOTSUPP`.
    pub(crate) const NOTSUPP: i32 = super::b::xpv_status_XPV_STS_NOTSUPP as i32;
}

/// A block device major number reserved with `__register_blkdev`; released on drop.
pub(crate) struct BlkdevMajor {
    major: u32,
    name: &'static CStr,
}

impl BlkdevMajor {
    /// Reserves `major` under `name` (shown in `/proc/devices`).
    pub(crate) fn register(major: u32, name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a 'static NUL-terminated string; no probe callback is passed.
        let ret =
            unsafe { b::__register_blkdev(major, crate::kernel_common::c_ptr(name).cast(), None) };
        if ret < 0 {
            pr_err!(
                "cannot reserve block major {} ({:?}): error {}\n",
                major,
                name,
                ret
            );
            return Err(Error::from_errno(ret));
        }
        Ok(Self { major, name })
    }
}

impl Drop for BlkdevMajor {
    fn drop(&mut self) {
        // SAFETY: `self.major` was registered under `self.name` by `register`.
        unsafe { b::unregister_blkdev(self.major, crate::kernel_common::c_ptr(self.name).cast()) };
    }
}

/// A spinlock taken with interrupts disabled (`spin_lock_irqsave`), protecting a `T` that is
/// shared between process context (`queue_rq`) and the event channel handler (hard IRQ).
pub(crate) struct IrqSpinLock<T> {
    lock: *mut c_void,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which holds the lock.
unsafe impl<T: Send> Sync for IrqSpinLock<T> {}
// SAFETY: the lock is a heap object usable from any thread.
unsafe impl<T: Send> Send for IrqSpinLock<T> {}

impl<T> IrqSpinLock<T> {
    /// A new unlocked lock around `data`.
    pub(crate) fn new(data: T) -> Result<Self> {
        // SAFETY: plain allocation.
        let lock = unsafe { b::xpv_shim_lock_new() };
        if lock.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self {
            lock,
            data: UnsafeCell::new(data),
        })
    }

    /// Takes the lock (interrupts off until the guard is dropped).
    pub(crate) fn lock(&self) -> IrqGuard<'_, T> {
        // SAFETY: `self.lock` is an initialised spinlock that lives as long as `self`.
        let flags = unsafe { b::xpv_shim_lock(self.lock) };
        IrqGuard {
            l: self,
            flags,
            _not_send: PhantomData,
        }
    }
}

impl<T> Drop for IrqSpinLock<T> {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`, not held (we have `&mut self`), freed once.
        unsafe { b::xpv_shim_lock_free(self.lock) };
    }
}

/// The held lock of an [`IrqSpinLock`]. Not `Send`: it must be released on the CPU that took it
/// (with interrupts off there), as `spin_unlock_irqrestore` requires.
pub(crate) struct IrqGuard<'a, T> {
    l: &'a IrqSpinLock<T>,
    flags: usize,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for IrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held, so no other reference to the data exists.
        unsafe { &*self.l.data.get() }
    }
}

impl<T> DerefMut for IrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.l.data.get() }
    }
}

impl<T> Drop for IrqGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken by `lock` with these flags.
        unsafe { b::xpv_shim_unlock(self.l.lock, self.flags) };
    }
}

/// A blk-mq tag set (`blk_mq_alloc_tag_set`) whose ops call `xpv_blkfront_queue_rq`.
pub(crate) struct TagSet(*mut b::blk_mq_tag_set);

// SAFETY: the tag set is a kernel object usable from any thread.
unsafe impl Send for TagSet {}
// SAFETY: as Send; we only pass the pointer to the block layer.
unsafe impl Sync for TagSet {}

impl TagSet {
    /// `nr_hw_queues` queues of `depth` tags each.
    pub(crate) fn new(nr_hw_queues: u32, depth: u32) -> Result<Self> {
        let mut err = 0;
        // SAFETY: `err` is writable.
        let p = unsafe { b::xpv_shim_tag_set_new(nr_hw_queues, depth, &mut err) };
        if p.is_null() {
            return Err(Error::from_errno(if err < 0 { err } else { -12 }));
        }
        Ok(Self(p))
    }
}

impl Drop for TagSet {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`; the disks using it are gone (owner's drop order).
        unsafe { b::xpv_shim_tag_set_free(self.0) };
    }
}

/// A gendisk allocated on a [`TagSet`], owning the [`crate::DiskData`] its block layer calls
/// read (its queuedata). Dropping an added disk removes it (`del_gendisk`, which fails new I/O
/// and waits for what is in flight) and releases our reference; the data goes last.
pub(crate) struct Disk {
    gd: *mut b::gendisk,
    added: bool,
    /// From `KBox::into_raw`; freed by our drop, after the disk.
    data: *mut crate::DiskData,
}

// SAFETY: a kernel object usable from any thread.
unsafe impl Send for Disk {}
// SAFETY: as Send.
unsafe impl Sync for Disk {}

impl Disk {
    /// Allocates the disk and its queue with limits `lim`; `data` is what its block layer
    /// calls ([`BlkMqOps`]) see, through a [`DiskIo`].
    pub(crate) fn new(set: &TagSet, lim: &DiskLimits, data: KBox<crate::DiskData>) -> Result<Self> {
        let data = KBox::into_raw(data);
        let mut err = 0;
        // SAFETY: `set` is a live tag set, `lim` readable, `err` writable; `data` stays valid
        // until the disk is gone (our drop frees it last).
        let gd = unsafe { b::xpv_shim_alloc_disk(set.0, lim, data.cast(), &mut err) };
        if gd.is_null() {
            // SAFETY: from `KBox::into_raw` above, not handed out.
            drop(unsafe { KBox::from_raw(data) });
            return Err(Error::from_errno(if err < 0 { err } else { -12 }));
        }
        Ok(Self {
            gd,
            added: false,
            data,
        })
    }

    /// Major, minors and name (`name` NUL-terminated), removable/CD-ROM flags.
    pub(crate) fn setup(
        &self,
        major: u32,
        first_minor: u32,
        minors: u32,
        name: &[u8],
        removable: bool,
        cdrom: bool,
    ) {
        // SAFETY: a live, not yet added gendisk; `name` is NUL-terminated (the caller passes
        // `DiskName::as_bytes_with_nul`) and copied with strscpy.
        unsafe {
            b::xpv_shim_disk_setup(
                self.gd,
                major,
                first_minor,
                minors,
                name.as_ptr().cast(),
                u32::from(removable),
                u32::from(cdrom),
            )
        };
    }

    /// `set_capacity` (before adding) or `set_capacity_and_notify` (`notify`), 512-byte sectors.
    pub(crate) fn set_capacity(&self, sectors: u64, notify: bool) {
        // SAFETY: a live gendisk.
        unsafe { b::xpv_shim_set_capacity(self.gd, sectors, i32::from(notify)) };
    }

    /// `get_capacity`.
    pub(crate) fn capacity(&self) -> u64 {
        // SAFETY: a live gendisk.
        unsafe { b::xpv_shim_get_capacity(self.gd) }
    }

    /// `blk_mq_quiesce_queue`: when it returns no `queue_rq` runs, and none starts until
    /// [`Disk::unquiesce`] (requests wait in blk-mq). Process context.
    pub(crate) fn quiesce(&self) {
        // SAFETY: a live gendisk with its queue.
        unsafe { b::xpv_shim_disk_quiesce(self.gd) };
    }

    /// Ends [`Disk::quiesce`] and runs the requeue list (`blk_mq_unquiesce_queue`,
    /// `blk_mq_kick_requeue_list`).
    pub(crate) fn unquiesce(&self) {
        // SAFETY: a live gendisk, quiesced by `quiesce`.
        unsafe { b::xpv_shim_disk_unquiesce(self.gd) };
    }

    /// `set_disk_ro`.
    pub(crate) fn set_ro(&self, ro: bool) {
        // SAFETY: a live gendisk.
        unsafe { b::xpv_shim_set_ro(self.gd, i32::from(ro)) };
    }

    /// `device_add_disk(parent, ...)` (partitions are scanned): `parent` is the xen bus device
    /// (`XenbusDevice::device_ptr`), which outlives the disk (removed in the driver's `remove`).
    pub(crate) fn add(&mut self, parent: *mut c_void) -> Result {
        // SAFETY: a live gendisk, set up, not yet added; `parent` a live struct device or null.
        let r = unsafe { b::xpv_shim_add_disk(parent, self.gd) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        self.added = true;
        Ok(())
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if self.added {
            // SAFETY: an added disk, removed once.
            unsafe { b::xpv_shim_remove_disk(self.gd) };
        } else {
            // SAFETY: allocated, never added: drop our reference.
            unsafe { b::xpv_shim_put_disk(self.gd) };
        }
        // SAFETY: from `KBox::into_raw` in `new`; the disk is removed (no block layer call runs
        // or comes), freed once.
        drop(unsafe { KBox::from_raw(self.data) });
    }
}

/// The block layer's calls into one of our disks, typed: helpers.c's `blk_mq_ops` call the
/// entry points below with the disk's queuedata (its [`crate::DiskData`], which the disk owns),
/// and they make these calls with a [`DiskIo`] of it.
pub(crate) trait BlkMqOps {
    /// `queue_rq` of hardware queue `hwq` with a started request; returns a `sts::*` status
    /// (anything but `OK` and `RESOURCE` fails the request).
    fn queue_rq(io: DiskIo<'_>, hwq: u32, rq: Rq) -> i32;
    /// A request timed out: `true` to end it (it was completed or failed), `false` to wait on.
    fn timeout(io: DiskIo<'_>) -> bool;
}

/// A block layer call into one of a device's disks (`queue_rq`, a request timeout), and
/// through it the disk's data. Made only by the entry points below, for the duration of the
/// call (while it runs the disk, and so its data, exists).
pub(crate) struct DiskIo<'a>(&'a crate::DiskData);

impl<'a> DiskIo<'a> {
    /// The disk's data: its device, rings and features.
    pub(crate) fn data(&self) -> &'a crate::DiskData {
        self.0
    }
}

/// `queue_rq` (helpers.c, after `blk_mq_start_request`).
///
/// # Safety
/// `data` is the queuedata of one of our disks (its `DiskData`), `rq` a started request.
#[no_mangle]
unsafe extern "C" fn xpv_blkfront_queue_rq(
    data: *mut c_void,
    hwq: u32,
    rq: *mut RawRequest,
) -> i32 {
    // SAFETY: the disk's queuedata, which the disk frees only after it is removed.
    let info = unsafe { &*(data as *const crate::DiskData) };
    // SAFETY: a started request, ours until completed.
    let rq = unsafe { Rq::from_raw(rq) };
    <crate::Blkfront as BlkMqOps>::queue_rq(DiskIo(info), hwq, rq)
}

/// The request timeout (helpers.c's `.timeout`): nonzero to end the request.
///
/// # Safety
/// `data` is the queuedata of one of our disks (its `DiskData`).
#[no_mangle]
unsafe extern "C" fn xpv_blkfront_rq_timeout(data: *mut c_void) -> i32 {
    // SAFETY: the disk's queuedata, which the disk frees only after it is removed.
    let info = unsafe { &*(data as *const crate::DiskData) };
    i32::from(<crate::Blkfront as BlkMqOps>::timeout(DiskIo(info)))
}

/// The kernel address of a bounce page of ours, for [`Rq::copy`].
#[repr(transparent)]
pub(crate) struct PagePtr(*mut c_void);

// SAFETY: a plain address of a page its holder (a ring slot) owns.
unsafe impl Send for PagePtr {}

impl PagePtr {
    /// The address of `p`'s page.
    pub(crate) fn of(p: &crate::GrantedPage) -> Self {
        Self(p.as_ptr().cast())
    }
}

/// A started blk-mq request handed to `queue_rq`, until it is completed. Neither `Clone` nor
/// `Copy`: [`Rq::complete`] consumes it, so a request is completed at most once.
pub(crate) struct Rq(*mut RawRequest);

// SAFETY: requests may be completed from any context.
unsafe impl Send for Rq {}

impl Rq {
    /// Wraps the request `queue_rq` received.
    ///
    /// # Safety
    /// `rq` must be a started request that is not completed before the last use of the wrapper.
    pub(crate) unsafe fn from_raw(rq: *mut RawRequest) -> Self {
        Self(rq)
    }

    /// The operation (`rq_op::*`) and whether REQ_FUA is set.
    pub(crate) fn op(&self) -> (u32, bool) {
        let mut fua = 0;
        // SAFETY: a live request; `fua` writable.
        let op = unsafe { b::xpv_shim_rq_op(self.0, &mut fua) };
        (op, fua != 0)
    }

    /// The tag (unique among the in-flight requests of its hw queue, below the queue depth).
    pub(crate) fn tag(&self) -> i32 {
        // SAFETY: a live request.
        unsafe { b::xpv_shim_rq_tag(self.0) }
    }

    /// First sector (512 bytes).
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: a live request.
        unsafe { b::xpv_shim_rq_pos(self.0) }
    }

    /// Bytes to transfer (discard: bytes to discard).
    pub(crate) fn bytes(&self) -> u32 {
        // SAFETY: a live request.
        unsafe { b::xpv_shim_rq_bytes(self.0) }
    }

    /// Copies the data into (`to_pages`) or out of the bounce pages `pages` (page-sized,
    /// kernel addresses we own), packed linearly. `Err` if it does not fit.
    pub(crate) fn copy(&self, pages: &[PagePtr], to_pages: bool) -> Result {
        // SAFETY: a live request; `pages` are `pages.len()` valid pages of ours (`PagePtr` is a
        // transparent `*mut c_void`).
        let r = unsafe {
            b::xpv_shim_rq_copy(
                self.0,
                pages.as_ptr().cast(),
                pages.len() as u32,
                i32::from(to_pages),
            )
        };
        if r < 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The data segments (single-page pieces) into `out`; their number, or `None` if more than
    /// `out.len()`.
    pub(crate) fn segments(&self, out: &mut [DataSeg]) -> Option<usize> {
        // SAFETY: a live request; `out` is writable for `out.len()` entries.
        let n = unsafe { b::xpv_shim_rq_segments(self.0, out.as_mut_ptr(), out.len() as u32) };
        usize::try_from(n).ok()
    }

    /// Gives the request back to blk-mq to dispatch again (`blk_mq_requeue_request(rq, false)`),
    /// as Linux's `blkif_recover` does with the requests of a ring that is gone; consumed, as
    /// [`Rq::complete`]. The data is transferred anew: nothing of the first try counts.
    pub(crate) fn requeue(self) {
        // SAFETY: a started request, not completed, given up by the caller.
        unsafe { b::xpv_shim_rq_requeue(self.0) };
    }

    /// Completes the request with `status` (`sts::*`, `blk_mq_complete_request`). Any context.
    pub(crate) fn complete(self, status: i32) {
        // SAFETY: a started request, completed once (the caller gives up the wrapper).
        unsafe { b::xpv_shim_complete(self.0, status) };
    }
}

/// `msleep`.
pub(crate) fn msleep(ms: u32) {
    // SAFETY: sleeps; process context callers only.
    unsafe { b::xpv_shim_msleep(ms) };
}

/// Reads `/proc/cmdline` (xen_platform's exported reader) into `buf`; returns its length.
pub(crate) fn read_cmdline(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes; the reader writes at most that many.
    let n = unsafe { b::xpv_shim_read_cmdline(buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

/// Module parameters (helpers.c, Linux's names).
pub(crate) mod params {
    use super::b;
    /// Sets parameter `which` (0 `max_queues`, 1 `max_ring_page_order`,
    /// 2 `max_indirect_segments`, 3 `feature_persistent`, 4 `trusted`).
    pub(crate) fn set(which: u32, value: u32) {
        // SAFETY: writes a module parameter (module init, before any device).
        unsafe { b::xpv_shim_param_set(which, value) }
    }
    /// `max_queues`.
    pub(crate) fn max_queues() -> u32 {
        // SAFETY: reads a module parameter.
        unsafe { b::xpv_shim_param_max_queues() }
    }
    /// `max_ring_page_order`.
    pub(crate) fn max_ring_page_order() -> u32 {
        // SAFETY: reads a module parameter.
        unsafe { b::xpv_shim_param_max_ring_page_order() }
    }
    /// `max_indirect_segments`.
    pub(crate) fn max_indirect_segments() -> u32 {
        // SAFETY: reads a module parameter.
        unsafe { b::xpv_shim_param_max_indirect_segments() }
    }
    /// `feature_persistent`.
    pub(crate) fn feature_persistent() -> bool {
        // SAFETY: reads a module parameter.
        unsafe { b::xpv_shim_param_feature_persistent() != 0 }
    }
    /// `trusted`.
    pub(crate) fn trusted() -> bool {
        // SAFETY: reads a module parameter.
        unsafe { b::xpv_shim_param_trusted() != 0 }
    }
}
