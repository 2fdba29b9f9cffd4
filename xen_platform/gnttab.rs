// SPDX-License-Identifier: GPL-2.0
//! Grant table v1, granting side: the table frames (placed by `XENMAPSPACE_grant_table` into
//! the platform BAR and mapped write-back), the reference allocator and grant/revoke with
//! XSA-396 semantics (`xen_proto/src/grant.rs`): a grant the other domain still maps is never
//! revoked by force, its reference stays allocated and the caller keeps the page.

use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use crate::abi::Errno;
use crate::grant::{
    GrantEntryV1, GrantEntryValue, GrantError, GrantRefAllocator, GREFS_PER_GRANT_FRAME_V1,
};
use crate::sys::GnttabLockGuard;
use crate::{hvm, hypercall};
use kernel::alloc::KVVec;
use kernel::prelude::*;

/// Grant frames mapped at probe (16384 references); the table grows a frame at a time past them
/// when references run out (`gnttab_expand`), up to [`MAX_FRAMES`] or what Xen allows.
pub(crate) const INITIAL_FRAMES: u32 = 32;
/// Most grant frames we ever use (Xen 4.17's default `max_grant_frames` is 64): 1024 frames,
/// 524288 references, 2 MiB of allocator storage at most.
pub(crate) const MAX_FRAMES: u32 = 1024;

/// The mapped table (an array of `NR_REFS` entries); null while not mapped.
static TABLE: AtomicPtr<GrantEntryV1> = AtomicPtr::new(null_mut());
/// References in the table now (grows with it).
static NR_REFS: AtomicU32 = AtomicU32::new(0);
/// The table could not grow any more: said once.
static FULL_SAID: AtomicBool = AtomicBool::new(false);

/// Allocator state, only touched under the grant lock (helpers.c, IRQ-safe).
struct Locked {
    /// Over `storage` (leaked from a `KVVec` by `start`, given back by `stop`).
    alloc: Option<GrantRefAllocator<'static>>,
    storage: (*mut u32, usize, usize),
    /// Frames in the table and the most it may have; guest frame of table frame 0.
    frames: u32,
    max_frames: u32,
    gpfn: u64,
}
struct LockedCell(UnsafeCell<Locked>);
// SAFETY: every access goes through `with_state`, under the grant spinlock.
unsafe impl Sync for LockedCell {}
static LOCKED: LockedCell = LockedCell(UnsafeCell::new(Locked {
    alloc: None,
    storage: (null_mut(), 0, 0),
    frames: 0,
    max_frames: 0,
    gpfn: 0,
}));

fn with_state<R>(f: impl FnOnce(&mut Locked) -> R) -> R {
    let _guard = GnttabLockGuard::lock();
    // SAFETY: the grant lock serialises all access to `LOCKED`.
    f(unsafe { &mut *LOCKED.0.get() })
}

fn with_alloc<R>(f: impl FnOnce(&mut Option<GrantRefAllocator<'static>>) -> R) -> R {
    with_state(|st| f(&mut st.alloc))
}

/// Starts granting from the mapped table at `table` with `frames` frames placed at guest frames
/// `gpfn..`; the table may grow to `max_frames` frames there (capped at [`MAX_FRAMES`]).
///
/// # Errors
/// `ENOMEM` for the allocator's storage (4 bytes per reference of `max_frames` frames).
///
/// # Safety
/// `table` maps `max_frames` frames' worth of guest frames from `gpfn` (the first `frames`
/// already hold the grant table) and stays mapped until [`stop`] returns.
pub(crate) unsafe fn start(
    table: *mut GrantEntryV1,
    gpfn: u64,
    frames: u32,
    max_frames: u32,
) -> Result {
    let max_frames = max_frames.clamp(1, MAX_FRAMES);
    let frames = frames.clamp(1, max_frames);
    let cap = (max_frames * GREFS_PER_GRANT_FRAME_V1) as usize;
    let n = (frames * GREFS_PER_GRANT_FRAME_V1) as usize;
    let mut v = KVVec::<u32>::with_capacity(cap, GFP_KERNEL)?;
    v.extend_with(cap, 0, GFP_KERNEL)?;
    let (ptr, len, capacity) = v.into_raw_parts();
    // SAFETY: `ptr` holds `len` initialised `u32`s that nothing else references; `stop` rebuilds
    // and frees the vector only after dropping the allocator borrowing this slice.
    let slice: &'static mut [u32] = unsafe { core::slice::from_raw_parts_mut(ptr, len) };
    with_state(|st| {
        st.alloc = GrantRefAllocator::with_len(slice, n);
        st.storage = (ptr, len, capacity);
        st.frames = frames;
        st.max_frames = max_frames;
        st.gpfn = gpfn;
    });
    FULL_SAID.store(false, Ordering::Relaxed);
    NR_REFS.store(n as u32, Ordering::Release);
    TABLE.store(table, Ordering::Release);
    Ok(())
}

/// Stops granting. Returns the number of grants still active (never revoked by their owner),
/// which stay in the table: their pages remain accessible to the other domain, so their owners
/// must not free them (and a module that still holds grants cannot be unloaded).
pub(crate) fn stop() -> u32 {
    TABLE.store(null_mut(), Ordering::Release);
    let (active, (ptr, len, cap)) = with_state(|st| {
        let active = st.alloc.as_ref().map_or(0, |a| {
            a.len() - crate::grant::GNTTAB_NR_RESERVED_ENTRIES.min(a.len()) - a.free_count()
        });
        st.alloc = None;
        (
            active,
            core::mem::replace(&mut st.storage, (null_mut(), 0, 0)),
        )
    });
    if !ptr.is_null() {
        // SAFETY: from `into_raw_parts` in `start`; its only borrower, the allocator, is gone.
        // Freed outside the spinlock (kvfree may sleep).
        drop(unsafe { KVVec::from_raw_parts(ptr, len, cap) });
    }
    active
}

/// Frames in the table now and the most it may have (for the log and the self-test).
pub(crate) fn frames() -> (u32, u32) {
    with_state(|st| (st.frames, st.max_frames))
}

/// Under the grant lock, out of references: places the next grant frame in the BAR
/// (`XENMEM_add_to_physmap`, `XENMAPSPACE_grant_table`; Xen grows its table to match) and adds
/// its 512 references to the allocator. Runs with interrupts off, as Linux's `gnttab_expand`.
fn expand(st: &mut Locked) -> Result<(), Errno> {
    if st.frames >= st.max_frames {
        return Err(Errno::ENOSPC);
    }
    let i = st.frames;
    let mut x = hvm::XenAddToPhysmap::grant_frame(i, st.gpfn + u64::from(i));
    hypercall::add_to_physmap(&mut x)?;
    let n = ((i + 1) * GREFS_PER_GRANT_FRAME_V1) as usize;
    st.alloc
        .as_mut()
        .and_then(|a| a.grow(n))
        .ok_or(Errno::EINVAL)?;
    st.frames = i + 1;
    NR_REFS.store(n as u32, Ordering::Release);
    Ok(())
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
pub(crate) fn grant(domid: u16, gfn: u64, readonly: bool) -> Result<u32, Errno> {
    if !ready() {
        return Err(Errno::EAGAIN);
    }
    let value = GrantEntryValue::permit_access(domid, gfn, readonly).map_err(|_| Errno::EINVAL)?;
    let mut grown = None;
    let r = with_state(|st| {
        let a = st.alloc.as_mut().ok_or(Errno::EAGAIN)?;
        match a.alloc() {
            Ok(r) => Ok(r),
            Err(_) => {
                let e = expand(st);
                grown = Some((e, st.frames, st.max_frames));
                e?;
                st.alloc
                    .as_mut()
                    .ok_or(Errno::EAGAIN)?
                    .alloc()
                    .map_err(|_| Errno::ENOSPC)
            }
        }
    });
    // Said outside the lock (printk under an IRQ-off spinlock is allowed but slow).
    match grown {
        Some((Ok(()), f, max)) => pr_info!("grant table grew to {} frames (max {})\n", f, max),
        Some((Err(e), f, max)) if !FULL_SAID.swap(true, Ordering::Relaxed) => {
            let why = if e == Errno::ENOSPC {
                "Xen's max_grant_frames or ours"
            } else {
                "XENMEM_add_to_physmap failed"
            };
            pr_err!(
                "grant table full: {} frames, max {} ({}): grant requests fail with ENOSPC\n",
                f,
                max,
                why
            )
        }
        _ => {}
    }
    let r = r?;
    match entry(r) {
        Some(e) => {
            e.publish(value);
            Ok(r)
        }
        None => {
            let _ = with_alloc(|a| a.as_mut().map(|a| a.free(r)));
            Err(Errno::EAGAIN)
        }
    }
}

/// Revokes grant `r`: 0, or `-EBUSY` if still mapped (nothing changed), `-EINVAL` if `r` is not
/// granted.
pub(crate) fn end(r: u32) -> Result<(), Errno> {
    let e = entry(r).ok_or(Errno::EINVAL)?;
    with_alloc(|a| {
        let a = a.as_mut().ok_or(Errno::EINVAL)?;
        if !a.is_allocated(r) {
            return Err(Errno::EINVAL);
        }
        match e.try_end_foreign_access() {
            Ok(()) => a.free(r).map_err(|_| Errno::EINVAL),
            Err(GrantError::InUse { .. }) => Err(Errno::EBUSY),
            Err(_) => Err(Errno::EINVAL),
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

/// After `SHUTDOWN_suspend` returned in a new domain (CPU 0, the other CPUs stopped,
/// interrupts off): the new domain's grant table is empty and not in our physmap, so its frames
/// are placed again at the same guest frames (Linux's `gnttab_resume`). References our users
/// still hold now read as free entries: ending them succeeds at once, which is right, since no
/// other domain maps pages of the new domain yet. Returns the frames placed, or Xen's error.
pub(crate) fn resume_new_domain() -> Result<u32, Errno> {
    if !ready() {
        return Ok(0);
    }
    with_state(|st| {
        for i in (0..st.frames).rev() {
            let mut x = hvm::XenAddToPhysmap::grant_frame(i, st.gpfn + u64::from(i));
            hypercall::add_to_physmap(&mut x)?;
        }
        Ok(st.frames)
    })
}
