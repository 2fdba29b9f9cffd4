// SPDX-License-Identifier: GPL-2.0
//! Grant table v1, granting side: the table frames (placed by `XENMAPSPACE_grant_table` into
//! the platform BAR and mapped write-back), the reference allocator and grant/revoke with
//! XSA-396 semantics (`xen_proto/src/grant.rs`): a grant the other domain still maps is never
//! revoked by force, its reference stays allocated and the caller keeps the page.

use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use crate::abi;
use crate::grant::{
    GrantEntryV1, GrantEntryValue, GrantError, GrantRefAllocator, GREFS_PER_GRANT_FRAME_V1,
};
use crate::sys::GnttabLockGuard;

/// Most grant frames we map (each holds 512 references): 32 frames, 16384 references.
pub(crate) const MAX_FRAMES: u32 = 32;
const MAX_REFS: usize = (MAX_FRAMES * GREFS_PER_GRANT_FRAME_V1) as usize;

/// The mapped table (an array of `NR_REFS` entries); null while not mapped.
static TABLE: AtomicPtr<GrantEntryV1> = AtomicPtr::new(null_mut());
static NR_REFS: AtomicU32 = AtomicU32::new(0);

/// Allocator state, only touched under the grant lock (helpers.c, IRQ-safe).
struct Locked {
    storage: [u32; MAX_REFS],
    alloc: Option<GrantRefAllocator<'static>>,
}
struct LockedCell(UnsafeCell<Locked>);
// SAFETY: every access goes through `with_alloc`, under the grant spinlock.
unsafe impl Sync for LockedCell {}
static LOCKED: LockedCell = LockedCell(UnsafeCell::new(Locked {
    storage: [0; MAX_REFS],
    alloc: None,
}));

fn with_alloc<R>(f: impl FnOnce(&mut Option<GrantRefAllocator<'static>>) -> R) -> R {
    let _guard = GnttabLockGuard::lock();
    // SAFETY: the grant lock serialises all access to `LOCKED`; only the `alloc` field is
    // borrowed here (`start` borrows `storage` for the allocator it stores in `alloc`).
    let alloc = unsafe { &mut *core::ptr::addr_of_mut!((*LOCKED.0.get()).alloc) };
    f(alloc)
}

/// Starts granting from the mapped table at `table` with `frames` frames.
///
/// # Safety
/// `table` maps `frames` grant frames and stays mapped until [`stop`] returns.
pub(crate) unsafe fn start(table: *mut GrantEntryV1, frames: u32) {
    let frames = frames.min(MAX_FRAMES);
    let n = (frames * GREFS_PER_GRANT_FRAME_V1) as usize;
    with_alloc(|a| {
        // SAFETY: under the grant lock; `storage` is only reachable through `LOCKED`, and the
        // allocator borrowing it is dropped (in `stop`) before the storage is borrowed again.
        let storage: &'static mut [u32; MAX_REFS] =
            unsafe { &mut *core::ptr::addr_of_mut!((*LOCKED.0.get()).storage) };
        *a = GrantRefAllocator::new(&mut storage[..n]);
    });
    NR_REFS.store(n as u32, Ordering::Relaxed);
    TABLE.store(table, Ordering::Release);
}

/// Stops granting. Returns the number of grants still active (never revoked by their owner),
/// which stay in the table: their pages remain accessible to the other domain, so their owners
/// must not free them (and a module that still holds grants cannot be unloaded).
pub(crate) fn stop() -> u32 {
    TABLE.store(null_mut(), Ordering::Release);
    with_alloc(|a| {
        let active = a.as_ref().map_or(0, |a| {
            a.len() - crate::grant::GNTTAB_NR_RESERVED_ENTRIES.min(a.len()) - a.free_count()
        });
        *a = None;
        active
    })
}

/// Whether grants can be made.
pub(crate) fn ready() -> bool {
    !TABLE.load(Ordering::Acquire).is_null()
}

fn entry(r: u32) -> Option<&'static GrantEntryV1> {
    let t = TABLE.load(Ordering::Acquire);
    if t.is_null() || r >= NR_REFS.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: `r` is within the mapped table, which stays mapped while `TABLE` is set (users
    // hold references only for the duration of a call, and `stop` runs after all users: the
    // dependent modules are unloaded first).
    Some(unsafe { &*t.add(r as usize) })
}

/// Grants `domid` access to frame `gfn`.
pub(crate) fn grant(domid: u16, gfn: u64, readonly: bool) -> Result<u32, i32> {
    if !ready() {
        return Err(-abi::EAGAIN);
    }
    let value = GrantEntryValue::permit_access(domid, gfn, readonly).map_err(|_| -abi::EINVAL)?;
    let r = with_alloc(|a| a.as_mut().map(|a| a.alloc()))
        .ok_or(-abi::EAGAIN)?
        .map_err(|_| -abi::ENOSPC)?;
    match entry(r) {
        Some(e) => {
            e.publish(value);
            Ok(r)
        }
        None => {
            let _ = with_alloc(|a| a.as_mut().map(|a| a.free(r)));
            Err(-abi::EAGAIN)
        }
    }
}

/// Revokes grant `r`: 0, or `-EBUSY` if still mapped (nothing changed), `-EINVAL` if `r` is not
/// granted.
pub(crate) fn end(r: u32) -> Result<(), i32> {
    let e = entry(r).ok_or(-abi::EINVAL)?;
    with_alloc(|a| {
        let a = a.as_mut().ok_or(-abi::EINVAL)?;
        if !a.is_allocated(r) {
            return Err(-abi::EINVAL);
        }
        match e.try_end_foreign_access() {
            Ok(()) => a.free(r).map_err(|_| -abi::EINVAL),
            Err(GrantError::InUse { .. }) => Err(-abi::EBUSY),
            Err(_) => Err(-abi::EINVAL),
        }
    })
}

/// A snapshot of entry `r`, for the self-test.
pub(crate) fn peek(r: u32) -> Option<GrantEntryValue> {
    entry(r).map(GrantEntryV1::load)
}

/// Free references left.
pub(crate) fn free_count() -> u32 {
    with_alloc(|a| a.as_ref().map_or(0, |a| a.free_count()))
}
