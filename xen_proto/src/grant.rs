// SPDX-License-Identifier: GPL-2.0
//! Grant table v1, granting side, as defined by Xen's `include/xen/interface/grant_table.h` and
//! used by Linux's `drivers/xen/grant-table.c`.
//!
//! The grant table is an array of 8-byte entries in frames shared with Xen; entry `ref` lets
//! domain `domid` map or copy our frame `frame` (`struct grant_entry_v1`, little-endian):
//!
//! | offset | field   | type  | written by     | meaning                                        |
//! |--------|---------|-------|----------------|------------------------------------------------|
//! | 0      | `flags` | `u16` | guest and Xen  | `GTF_*`: type (bits 0–1), readonly, and Xen's `GTF_reading`/`GTF_writing` while mapped |
//! | 2      | `domid` | `u16` | guest          | the domain being granted access                |
//! | 4      | `frame` | `u32` | guest          | our guest frame number (GFN)                   |
//!
//! 512 entries fit in a 4 KiB frame. References 0..[`GNTTAB_NR_RESERVED_ENTRIES`] are reserved
//! (0: console, 1: xenstore) and never handed out by [`GrantRefAllocator`].
//!
//! Granting writes `domid` and `frame`, then (release barrier) `flags`. Revoking must not race
//! with a mapping by the other domain: [`try_end_foreign_access`] clears `flags` with a
//! compare-exchange only while Xen has neither `GTF_reading` nor `GTF_writing` set, exactly like
//! `gnttab_end_foreign_access_ref_v1`. If the grant is still in use the page must not be freed or
//! reused (XSA-396): the caller retries later.

use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

/// A grant reference: index into the grant table (`grant_ref_t`).
pub type GrantRef = u32;
/// A domain id (`domid_t`).
pub type DomId = u16;

/// Number of reserved references at the start of the table (`GNTTAB_NR_RESERVED_ENTRIES`).
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
/// Reserved reference of the console ring (`GNTTAB_RESERVED_CONSOLE`).
pub const GNTTAB_RESERVED_CONSOLE: GrantRef = 0;
/// Reserved reference of the xenstore ring (`GNTTAB_RESERVED_XENSTORE`).
pub const GNTTAB_RESERVED_XENSTORE: GrantRef = 1;
/// Size of one v1 entry, in bytes.
pub const GRANT_ENTRY_V1_BYTES: usize = 8;
/// v1 entries per 4 KiB grant frame.
pub const GREFS_PER_GRANT_FRAME_V1: u32 = 4096 / GRANT_ENTRY_V1_BYTES as u32;

/// Entry unused (`GTF_invalid`).
pub const GTF_INVALID: u16 = 0;
/// `domid` may map/access `frame` (`GTF_permit_access`).
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// `domid` may transfer a frame into this entry (`GTF_accept_transfer`).
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
/// Transitive grant (`GTF_transitive`, v2 only).
pub const GTF_TRANSITIVE: u16 = 3;
/// Mask of the type bits (`GTF_type_mask`).
pub const GTF_TYPE_MASK: u16 = 3;
/// Read-only access (`GTF_readonly`).
pub const GTF_READONLY: u16 = 1 << 2;
/// Set by Xen while the grant is mapped/used for reading (`GTF_reading`).
pub const GTF_READING: u16 = 1 << 3;
/// Set by Xen while the grant is mapped/used for writing (`GTF_writing`).
pub const GTF_WRITING: u16 = 1 << 4;
/// Cache attribute: write-through (`GTF_PWT`).
pub const GTF_PWT: u16 = 1 << 5;
/// Cache attribute: cache disable (`GTF_PCD`).
pub const GTF_PCD: u16 = 1 << 6;
/// Cache attribute: PAT (`GTF_PAT`).
pub const GTF_PAT: u16 = 1 << 7;
/// Sub-page grant (`GTF_sub_page`, v2 only).
pub const GTF_SUB_PAGE: u16 = 1 << 8;
/// Transfer committed (`GTF_transfer_committed`, accept-transfer entries).
pub const GTF_TRANSFER_COMMITTED: u16 = 1 << 2;
/// Transfer completed (`GTF_transfer_completed`, accept-transfer entries).
pub const GTF_TRANSFER_COMPLETED: u16 = 1 << 3;

/// `GNTTABOP_*` hypercall sub-operations (`HYPERVISOR_grant_table_op`).
pub mod op {
    /// Map a foreign grant.
    pub const MAP_GRANT_REF: u32 = 0;
    /// Unmap a foreign grant.
    pub const UNMAP_GRANT_REF: u32 = 1;
    /// Set up the grant table (PV).
    pub const SETUP_TABLE: u32 = 2;
    /// Dump the table to Xen's console.
    pub const DUMP_TABLE: u32 = 3;
    /// Page transfer.
    pub const TRANSFER: u32 = 4;
    /// Grant copy.
    pub const COPY: u32 = 5;
    /// Current and maximum table size.
    pub const QUERY_SIZE: u32 = 6;
    /// Unmap and replace.
    pub const UNMAP_AND_REPLACE: u32 = 7;
    /// Select the table version.
    pub const SET_VERSION: u32 = 8;
    /// v2 status frames.
    pub const GET_STATUS_FRAMES: u32 = 9;
    /// Current table version.
    pub const GET_VERSION: u32 = 10;
    /// Swap two grant entries.
    pub const SWAP_GRANT_REF: u32 = 11;
    /// Cache flush.
    pub const CACHE_FLUSH: u32 = 12;
}

/// `GNTST_*` status codes returned in the `status` field of grant table operations.
pub mod status {
    /// Normal return.
    pub const OKAY: i16 = 0;
    /// General undefined error.
    pub const GENERAL_ERROR: i16 = -1;
    /// Unrecognised domain id.
    pub const BAD_DOMAIN: i16 = -2;
    /// Unrecognised or inappropriate grant reference.
    pub const BAD_GNTREF: i16 = -3;
    /// Unrecognised or inappropriate handle.
    pub const BAD_HANDLE: i16 = -4;
    /// Inappropriate virtual address to map.
    pub const BAD_VIRT_ADDR: i16 = -5;
    /// Inappropriate device address to unmap.
    pub const BAD_DEV_ADDR: i16 = -6;
    /// Out of space in I/O MMU.
    pub const NO_DEVICE_SPACE: i16 = -7;
    /// Not enough privilege for operation.
    pub const PERMISSION_DENIED: i16 = -8;
    /// Specified page was invalid for the operation.
    pub const BAD_PAGE: i16 = -9;
    /// Copy arguments cross a page boundary.
    pub const BAD_COPY_ARG: i16 = -10;
    /// Transfer page address too large.
    pub const ADDRESS_TOO_BIG: i16 = -11;
    /// Operation not done; try again.
    pub const EAGAIN: i16 = -12;
    /// Out of space (handles etc.).
    pub const NO_SPACE: i16 = -13;
}

/// `struct gnttab_query_size` (`GNTTABOP_query_size`): 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabQuerySize {
    /// IN: domain, normally `DOMID_SELF` (0x7ff0).
    pub dom: DomId,
    /// OUT: frames currently in the table.
    pub nr_frames: u32,
    /// OUT: maximum frames.
    pub max_nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// `GNTCOPY_source_gref`: the copy source is a grant reference of `source.domid`.
pub const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
/// `GNTCOPY_dest_gref`: the copy destination is a grant reference of `dest.domid`.
pub const GNTCOPY_DEST_GREF: u16 = 1 << 1;

/// One side of a grant copy (`struct gnttab_copy`'s `source`/`dest`, x86_64: 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabCopyPtr {
    /// A grant reference (with the matching `GNTCOPY_*_gref` flag) or a frame number of ours.
    pub ref_or_gmfn: u64,
    /// The domain owning the reference, or `DOMID_SELF` for a frame.
    pub domid: DomId,
    /// Byte offset in the page.
    pub offset: u16,
}

/// `struct gnttab_copy` (`GNTTABOP_copy`, x86_64: 40 bytes): copy `len` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabCopy {
    /// IN: source.
    pub source: GnttabCopyPtr,
    /// IN: destination.
    pub dest: GnttabCopyPtr,
    /// IN: bytes to copy; source and destination must each stay within one page.
    pub len: u16,
    /// IN: `GNTCOPY_*`.
    pub flags: u16,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// Grant table errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// The other domain still has the grant mapped (`GTF_reading`/`GTF_writing` set): the entry
    /// was left untouched and the page must not be reused yet.
    InUse {
        /// The flags seen.
        flags: u16,
    },
    /// A v1 entry holds a 32-bit frame number; this one does not fit.
    FrameTooLarge {
        /// The frame number asked for.
        frame: u64,
    },
    /// No free reference left (`-ENOSPC`).
    NoSpace,
    /// The reference is one of the reserved ones (0..8).
    Reserved(GrantRef),
    /// The reference is beyond the allocator's table.
    OutOfRange(GrantRef),
    /// Freeing a reference that is not allocated.
    DoubleFree(GrantRef),
}

/// The flags of a permit-access grant (`GTF_permit_access | (readonly ? GTF_readonly : 0)`).
pub const fn permit_access_flags(readonly: bool) -> u16 {
    if readonly {
        GTF_PERMIT_ACCESS | GTF_READONLY
    } else {
        GTF_PERMIT_ACCESS
    }
}

/// A grant entry as values (for building and inspecting; the shared one is [`GrantEntryV1`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantEntryValue {
    /// `GTF_*`.
    pub flags: u16,
    /// Domain granted access.
    pub domid: DomId,
    /// Granted frame.
    pub frame: u32,
}

impl GrantEntryValue {
    /// The entry that lets `domid` access `frame` (`gnttab_grant_foreign_access_ref`).
    ///
    /// # Errors
    /// [`GrantError::FrameTooLarge`] if `frame` does not fit in 32 bits (v1 limit, 16 TiB).
    pub const fn permit_access(
        domid: DomId,
        frame: u64,
        readonly: bool,
    ) -> Result<Self, GrantError> {
        if frame > u32::MAX as u64 {
            return Err(GrantError::FrameTooLarge { frame });
        }
        Ok(Self {
            flags: permit_access_flags(readonly),
            domid,
            frame: frame as u32,
        })
    }

    /// The 8 bytes of the entry, little-endian.
    pub const fn to_bytes(self) -> [u8; 8] {
        let f = self.flags.to_le_bytes();
        let d = self.domid.to_le_bytes();
        let r = self.frame.to_le_bytes();
        [f[0], f[1], d[0], d[1], r[0], r[1], r[2], r[3]]
    }

    /// Decodes 8 little-endian bytes.
    pub const fn from_bytes(b: [u8; 8]) -> Self {
        Self {
            flags: u16::from_le_bytes([b[0], b[1]]),
            domid: u16::from_le_bytes([b[2], b[3]]),
            frame: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A `struct grant_entry_v1` in the shared grant table, seen through atomics (Xen updates `flags`
/// concurrently). A grant table frame is an array of these.
#[repr(C)]
#[derive(Debug, Default)]
pub struct GrantEntryV1 {
    /// `GTF_*`.
    pub flags: AtomicU16,
    /// Domain granted access.
    pub domid: AtomicU16,
    /// Granted frame.
    pub frame: AtomicU32,
}

impl GrantEntryV1 {
    /// Publishes `value` (`gnttab_update_entry_v1`): `domid` and `frame` first, then `flags` with
    /// release ordering (the `wmb()`), so Xen never sees a valid type with stale contents.
    ///
    /// The entry must be free (flags 0): the caller owns `ref` from [`GrantRefAllocator`].
    pub fn publish(&self, value: GrantEntryValue) {
        self.domid.store(value.domid, Ordering::Relaxed);
        self.frame.store(value.frame, Ordering::Relaxed);
        self.flags.store(value.flags, Ordering::Release);
    }

    /// Revokes the grant if the other side is not using it; see [`try_end_foreign_access`].
    ///
    /// # Errors
    /// [`GrantError::InUse`] as [`try_end_foreign_access`].
    pub fn try_end_foreign_access(&self) -> Result<(), GrantError> {
        try_end_foreign_access(&self.flags)
    }

    /// A snapshot of the entry.
    pub fn load(&self) -> GrantEntryValue {
        GrantEntryValue {
            flags: self.flags.load(Ordering::Acquire),
            domid: self.domid.load(Ordering::Relaxed),
            frame: self.frame.load(Ordering::Relaxed),
        }
    }
}

/// `gnttab_end_foreign_access_ref_v1`: clears the entry's `flags` to 0 with a compare-exchange,
/// but only while neither `GTF_reading` nor `GTF_writing` is set. On success the other domain can
/// no longer map the frame, and any mapping it had is gone; the page may be reused.
///
/// # Errors
/// [`GrantError::InUse`] with the flags seen if the grant is still mapped; the entry is left
/// unchanged. Retry later (Linux defers the free and retries from a timer).
pub fn try_end_foreign_access(flags: &AtomicU16) -> Result<(), GrantError> {
    let mut cur = flags.load(Ordering::Relaxed);
    loop {
        if cur & (GTF_READING | GTF_WRITING) != 0 {
            return Err(GrantError::InUse { flags: cur });
        }
        // SeqCst: the page contents must not be touched before the revoke is visible, and Xen's
        // concurrent setting of GTF_reading/writing must be seen (sync_try_cmpxchg is a full
        // barrier).
        match flags.compare_exchange_weak(cur, 0, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(seen) => cur = seen,
        }
    }
}

/// The same revoke on a 32-bit view of the first half of the entry (`flags` in the low 16 bits,
/// `domid` in the high 16 bits, little-endian), for callers without 16-bit atomics. Only `flags`
/// is cleared; `domid` is kept.
///
/// # Errors
/// [`GrantError::InUse`] as [`try_end_foreign_access`].
pub fn try_end_foreign_access_u32(flags_domid: &AtomicU32) -> Result<(), GrantError> {
    let busy = u32::from(GTF_READING | GTF_WRITING);
    let mut cur = flags_domid.load(Ordering::Relaxed);
    loop {
        if cur & busy != 0 {
            return Err(GrantError::InUse { flags: cur as u16 });
        }
        match flags_domid.compare_exchange_weak(
            cur,
            cur & 0xffff_0000,
            Ordering::SeqCst,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Ok(()),
            Err(seen) => cur = seen,
        }
    }
}

/// Marks an allocated reference in the allocator's storage.
const ALLOCATED: u32 = 0xffff_fffe;
/// Marks a reserved reference (0..8).
const RESERVED: u32 = 0xffff_fffd;
/// End of the free list (`GNTTAB_LIST_END`).
const LIST_END: u32 = 0xffff_ffff;

/// Grant reference allocator over caller-provided storage (`gnttab_list` in Linux): one `u32`
/// per reference, holding the next free reference for free ones (a LIFO free list, like Linux's
/// `gnttab_free_head`), or a marker for allocated and reserved ones. O(1) allocate and free,
/// no allocation; a double free is detected, not silently corrupting the list.
///
/// References `0..GNTTAB_NR_RESERVED_ENTRIES` are never handed out.
#[derive(Debug)]
pub struct GrantRefAllocator<'a> {
    /// One slot per reference the table can ever hold; only `..len` are in use.
    next: &'a mut [u32],
    /// References in the table now (the grant table grows: [`Self::grow`]).
    len: u32,
    head: u32,
    free: u32,
}

impl<'a> GrantRefAllocator<'a> {
    /// An allocator for references `0..storage.len()`, all free but the reserved ones.
    /// A table of `n` grant frames needs `n * 512` entries.
    ///
    /// Returns `None` if `storage` has more than `0xffff_fff0` entries (markers would collide).
    pub fn new(storage: &'a mut [u32]) -> Option<Self> {
        let len = storage.len();
        Self::with_len(storage, len)
    }

    /// An allocator for references `0..len` of a table that may grow up to `storage.len()`
    /// references ([`Self::grow`]), all free but the reserved ones.
    ///
    /// Returns `None` if `len > storage.len()` or `storage` has more than `0xffff_fff0` entries
    /// (markers would collide).
    pub fn with_len(storage: &'a mut [u32], len: usize) -> Option<Self> {
        if u32::try_from(storage.len()).ok()? > 0xffff_fff0 || len > storage.len() {
            return None;
        }
        let mut a = Self {
            next: storage,
            len: 0,
            head: LIST_END,
            free: 0,
        };
        a.grow(len)?;
        Some(a)
    }

    /// Adds references `self.len()..new_len` (new grant frames mapped: `gnttab_expand`) to the
    /// free list, so that the lowest new one is handed out first.
    ///
    /// Returns `None` (nothing changed) if `new_len` is below the current length or beyond the
    /// storage.
    pub fn grow(&mut self, new_len: usize) -> Option<()> {
        let old = self.len as usize;
        if new_len < old || new_len > self.next.len() {
            return None;
        }
        let reserved = GNTTAB_NR_RESERVED_ENTRIES as usize;
        let mut head = self.head;
        for i in (old..new_len).rev() {
            if i < reserved {
                self.next[i] = RESERVED;
            } else {
                self.next[i] = head;
                head = i as u32;
                self.free += 1;
            }
        }
        self.head = head;
        self.len = new_len as u32;
        Some(())
    }

    /// Total references managed, reserved ones included.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Most references the storage can hold ([`Self::grow`]'s limit).
    pub fn capacity(&self) -> usize {
        self.next.len()
    }

    /// Whether the table has no references at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free references left.
    pub fn free_count(&self) -> u32 {
        self.free
    }

    /// Takes a free reference (`get_free_entries(1)`).
    ///
    /// # Errors
    /// [`GrantError::NoSpace`] when none is left.
    pub fn alloc(&mut self) -> Result<GrantRef, GrantError> {
        if self.head == LIST_END {
            return Err(GrantError::NoSpace);
        }
        let r = self.head;
        self.head = self.next[r as usize];
        self.next[r as usize] = ALLOCATED;
        self.free -= 1;
        Ok(r)
    }

    /// Returns `r` to the free list (`put_free_entry`). Only free a reference whose grant was
    /// revoked ([`try_end_foreign_access`] succeeded) or never published.
    ///
    /// # Errors
    /// [`GrantError::Reserved`], [`GrantError::OutOfRange`], or [`GrantError::DoubleFree`] if `r`
    /// is not currently allocated; the allocator is unchanged.
    pub fn free(&mut self, r: GrantRef) -> Result<(), GrantError> {
        if r < GNTTAB_NR_RESERVED_ENTRIES {
            return Err(GrantError::Reserved(r));
        }
        if r >= self.len {
            return Err(GrantError::OutOfRange(r));
        }
        let slot = &mut self.next[r as usize];
        if *slot != ALLOCATED {
            return Err(GrantError::DoubleFree(r));
        }
        *slot = self.head;
        self.head = r;
        self.free += 1;
        Ok(())
    }

    /// Whether `r` is currently allocated.
    pub fn is_allocated(&self, r: GrantRef) -> bool {
        r < self.len && self.next[r as usize] == ALLOCATED
    }
}

/// Most pages one device may have leaked (pages its backend still mapped when we revoked their
/// grants, which are never freed, XSA-396) before the frontend refuses to connect it again:
/// 4096 pages, 16 MiB. A backend that keeps our pages mapped across reconnect loops could
/// otherwise exhaust guest memory; one connection of ours grants at most about 2100 (blkfront)
/// or 4100 (netfront, 8 queues) pages, so a device can leak at most this bound plus one
/// connection's worth.
pub const MAX_LEAKED_PAGES_PER_DEVICE: u32 = 4096;

/// Pages one device has leaked, in 4 KiB pages. Only grows (a leaked page is never reclaimed:
/// see the grant owner in `abi_client.rs`); safe to update from any context.
#[derive(Debug, Default)]
pub struct LeakCount(AtomicU32);

/// A device leaked more pages than allowed ([`LeakCount::check`]): it must not be connected again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyLeaks {
    /// Pages the device has leaked.
    pub leaked: u32,
    /// The bound it exceeded.
    pub limit: u32,
}

impl LeakCount {
    /// No page leaked yet.
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Records `pages` more leaked pages (saturating at `u32::MAX`).
    pub fn add(&self, pages: u32) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(pages))
            });
    }

    /// Back to no page leaked (a new device in the same place).
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// Pages leaked so far.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether the device may (re)connect: `Err` once it has leaked more than `limit` pages
    /// (normally [`MAX_LEAKED_PAGES_PER_DEVICE`]).
    ///
    /// # Errors
    /// [`TooManyLeaks`] with the count and the bound.
    pub fn check(&self, limit: u32) -> Result<(), TooManyLeaks> {
        let leaked = self.get();
        if leaked > limit {
            return Err(TooManyLeaks { leaked, limit });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn leak_count_caps_reconnects() {
        let c = LeakCount::new();
        assert_eq!(c.get(), 0);
        assert_eq!(c.check(MAX_LEAKED_PAGES_PER_DEVICE), Ok(()));
        c.add(MAX_LEAKED_PAGES_PER_DEVICE);
        // At the bound: still allowed; one more page: refused.
        assert_eq!(c.check(MAX_LEAKED_PAGES_PER_DEVICE), Ok(()));
        c.add(1);
        assert_eq!(
            c.check(MAX_LEAKED_PAGES_PER_DEVICE),
            Err(TooManyLeaks {
                leaked: MAX_LEAKED_PAGES_PER_DEVICE + 1,
                limit: MAX_LEAKED_PAGES_PER_DEVICE
            })
        );
        c.add(u32::MAX);
        assert_eq!(c.get(), u32::MAX);
        assert!(c.check(u32::MAX).is_ok());
        assert!(c.check(0).is_err());
    }

    #[test]
    fn header_values() {
        assert_eq!(core::mem::size_of::<GrantEntryV1>(), 8);
        assert_eq!(core::mem::offset_of!(GrantEntryV1, domid), 2);
        assert_eq!(core::mem::offset_of!(GrantEntryV1, frame), 4);
        assert_eq!(core::mem::size_of::<GnttabQuerySize>(), 16);
        assert_eq!(core::mem::size_of::<GnttabCopy>(), 40);
        assert_eq!(core::mem::offset_of!(GnttabCopy, dest), 16);
        assert_eq!(core::mem::offset_of!(GnttabCopy, len), 32);
        assert_eq!(core::mem::offset_of!(GnttabCopy, status), 36);
        assert_eq!(core::mem::offset_of!(GnttabCopyPtr, offset), 10);
        assert_eq!(core::mem::offset_of!(GnttabQuerySize, status), 12);
        assert_eq!(GREFS_PER_GRANT_FRAME_V1, 512);
        assert_eq!(GNTTAB_NR_RESERVED_ENTRIES, 8);
        assert_eq!((GTF_READONLY, GTF_READING, GTF_WRITING), (4, 8, 16));
        assert_eq!(
            (GTF_PWT, GTF_PCD, GTF_PAT, GTF_SUB_PAGE),
            (32, 64, 128, 256)
        );
        assert_eq!(op::QUERY_SIZE, 6);
        assert_eq!(op::SET_VERSION, 8);
        assert_eq!(status::EAGAIN, -12);
    }

    #[test]
    fn building_entries() {
        let rw = GrantEntryValue::permit_access(0, 0x1234_5678, false).unwrap();
        assert_eq!(rw.flags, GTF_PERMIT_ACCESS);
        assert_eq!(rw.to_bytes(), [1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12]);
        let ro = GrantEntryValue::permit_access(7, 1, true).unwrap();
        assert_eq!(ro.flags, GTF_PERMIT_ACCESS | GTF_READONLY);
        assert_eq!(ro.to_bytes(), [5, 0, 7, 0, 1, 0, 0, 0]);
        assert_eq!(GrantEntryValue::from_bytes(ro.to_bytes()), ro);
        assert_eq!(
            GrantEntryValue::permit_access(0, 1 << 32, false),
            Err(GrantError::FrameTooLarge { frame: 1 << 32 })
        );
        assert!(GrantEntryValue::permit_access(0, u64::from(u32::MAX), false).is_ok());
    }

    #[test]
    fn publish_and_revoke() {
        let e = GrantEntryV1::default();
        e.publish(GrantEntryValue::permit_access(0, 42, false).unwrap());
        assert_eq!(
            e.load(),
            GrantEntryValue {
                flags: 1,
                domid: 0,
                frame: 42
            }
        );
        // Xen maps it for writing: the revoke must refuse and leave the entry alone.
        e.flags.fetch_or(GTF_WRITING, Ordering::SeqCst);
        assert_eq!(
            e.try_end_foreign_access(),
            Err(GrantError::InUse {
                flags: GTF_PERMIT_ACCESS | GTF_WRITING
            })
        );
        assert_eq!(
            e.flags.load(Ordering::SeqCst),
            GTF_PERMIT_ACCESS | GTF_WRITING
        );
        e.flags.fetch_and(!GTF_WRITING, Ordering::SeqCst);
        e.flags.fetch_or(GTF_READING, Ordering::SeqCst);
        assert!(matches!(
            e.try_end_foreign_access(),
            Err(GrantError::InUse { .. })
        ));
        e.flags.fetch_and(!GTF_READING, Ordering::SeqCst);
        // Unmapped: revoked, flags 0.
        assert_eq!(e.try_end_foreign_access(), Ok(()));
        assert_eq!(e.flags.load(Ordering::SeqCst), 0);
        // Revoking an already-invalid entry is fine.
        assert_eq!(try_end_foreign_access(&e.flags), Ok(()));
    }

    #[test]
    fn revoke_through_a_32bit_view() {
        let w = AtomicU32::new(u32::from(GTF_PERMIT_ACCESS | GTF_READONLY) | (5 << 16));
        assert_eq!(try_end_foreign_access_u32(&w), Ok(()));
        assert_eq!(w.load(Ordering::SeqCst), 5 << 16);
        let w = AtomicU32::new(u32::from(GTF_PERMIT_ACCESS | GTF_READING) | (5 << 16));
        assert_eq!(
            try_end_foreign_access_u32(&w),
            Err(GrantError::InUse {
                flags: GTF_PERMIT_ACCESS | GTF_READING
            })
        );
        // domid bits that look like GTF_writing (bit 4 of the high half) are not flags.
        let w = AtomicU32::new(u32::from(GTF_PERMIT_ACCESS) | (0x10 << 16));
        assert_eq!(try_end_foreign_access_u32(&w), Ok(()));
    }

    #[test]
    fn revoke_races_with_a_mapper() {
        // A "hypervisor" thread keeps mapping and unmapping; every successful revoke must
        // happen while unmapped, after which the mapper can no longer map.
        use std::sync::Arc;
        for _ in 0..50 {
            let flags = Arc::new(AtomicU16::new(GTF_PERMIT_ACCESS));
            let f2 = flags.clone();
            let mapper = std::thread::spawn(move || {
                let mut maps = 0;
                for _ in 0..1000 {
                    // Xen's map: set GTF_writing only on a valid permit-access entry.
                    let cur = f2.load(Ordering::SeqCst);
                    if cur & GTF_TYPE_MASK != GTF_PERMIT_ACCESS {
                        break;
                    }
                    if f2
                        .compare_exchange(
                            cur,
                            cur | GTF_WRITING,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        )
                        .is_ok()
                    {
                        maps += 1;
                        f2.fetch_and(!GTF_WRITING, Ordering::SeqCst);
                    }
                }
                maps
            });
            loop {
                match try_end_foreign_access(&flags) {
                    Ok(()) => break,
                    Err(GrantError::InUse { flags: f }) => assert_ne!(f & GTF_WRITING, 0),
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(flags.load(Ordering::SeqCst), 0);
            mapper.join().unwrap();
            assert_eq!(flags.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn allocator_never_hands_out_reserved_refs() {
        let mut store = vec![0u32; 512];
        let mut a = GrantRefAllocator::new(&mut store).unwrap();
        assert_eq!(a.len(), 512);
        assert_eq!(a.free_count(), 504);
        let mut got = Vec::new();
        while let Ok(r) = a.alloc() {
            got.push(r);
        }
        assert_eq!(got.len(), 504);
        assert!(got.iter().all(|&r| (8..512).contains(&r)));
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 504);
        assert_eq!(a.alloc(), Err(GrantError::NoSpace));
        assert_eq!(a.free_count(), 0);
        // LIFO reuse, like Linux's put_free_entry.
        a.free(100).unwrap();
        a.free(9).unwrap();
        assert_eq!(a.alloc(), Ok(9));
        assert_eq!(a.alloc(), Ok(100));
    }

    #[test]
    fn allocator_rejects_bad_frees() {
        let mut store = [0u32; 16];
        let mut a = GrantRefAllocator::new(&mut store).unwrap();
        let r = a.alloc().unwrap();
        assert_eq!(r, 8);
        assert!(a.is_allocated(r));
        assert_eq!(a.free(r), Ok(()));
        assert!(!a.is_allocated(r));
        assert_eq!(a.free(r), Err(GrantError::DoubleFree(r)));
        assert_eq!(a.free(12), Err(GrantError::DoubleFree(12)));
        for reserved in [0, GNTTAB_RESERVED_XENSTORE, 7] {
            assert_eq!(a.free(reserved), Err(GrantError::Reserved(reserved)));
        }
        assert_eq!(a.free(16), Err(GrantError::OutOfRange(16)));
        assert_eq!(a.free(u32::MAX), Err(GrantError::OutOfRange(u32::MAX)));
        // The failed frees did not corrupt the list: exactly 8 refs, each once.
        let mut got: Vec<_> = core::iter::from_fn(|| a.alloc().ok()).collect();
        got.sort_unstable();
        assert_eq!(got, (8..16).collect::<Vec<_>>());
    }

    #[test]
    fn allocator_grows_with_the_table() {
        let mut store = vec![0u32; 3 * 512];
        let mut a = GrantRefAllocator::with_len(&mut store, 512).unwrap();
        assert_eq!((a.len(), a.capacity(), a.free_count()), (512, 1536, 504));
        let mut got: Vec<_> = core::iter::from_fn(|| a.alloc().ok()).collect();
        assert_eq!(got.len(), 504);
        assert_eq!(a.alloc(), Err(GrantError::NoSpace));
        // Out of the table as it is now, even though the storage has room.
        assert_eq!(a.free(600), Err(GrantError::OutOfRange(600)));
        assert!(!a.is_allocated(600));
        assert_eq!(a.grow(1024), Some(()));
        assert_eq!((a.len(), a.free_count()), (1024, 512));
        // The new frame's references come first, lowest first, then a freed old one.
        assert_eq!(a.alloc(), Ok(512));
        a.free(100).unwrap();
        got.retain(|&r| r != 100);
        assert_eq!(a.alloc(), Ok(100));
        assert_eq!(a.alloc(), Ok(513));
        // Never shrinks, never beyond the storage.
        assert_eq!(a.grow(1000), None);
        assert_eq!(a.grow(1537), None);
        assert_eq!(a.len(), 1024);
        got.extend(core::iter::from_fn(|| a.alloc().ok()));
        assert_eq!(a.grow(1536), Some(()));
        got.extend(core::iter::from_fn(|| a.alloc().ok()));
        got.extend([512, 100, 513]);
        got.sort_unstable();
        assert!(got == (8..1536).collect::<Vec<_>>(), "every reference once");
        assert_eq!(a.free_count(), 0);
    }

    #[test]
    fn allocator_with_len_bounds() {
        let mut store = vec![0u32; 16];
        assert!(GrantRefAllocator::with_len(&mut store, 17).is_none());
        let mut a = GrantRefAllocator::with_len(&mut store, 4).unwrap();
        assert_eq!((a.len(), a.free_count()), (4, 0));
        assert_eq!(a.grow(16), Some(()));
        assert_eq!(a.alloc(), Ok(8));
        assert_eq!(a.free(3), Err(GrantError::Reserved(3)));
    }

    #[test]
    fn tiny_tables() {
        let mut store = [0u32; 8];
        let mut a = GrantRefAllocator::new(&mut store).unwrap();
        assert_eq!(a.free_count(), 0);
        assert_eq!(a.alloc(), Err(GrantError::NoSpace));
        let mut none: [u32; 0] = [];
        let mut a = GrantRefAllocator::new(&mut none).unwrap();
        assert!(a.is_empty());
        assert_eq!(a.alloc(), Err(GrantError::NoSpace));
        let mut nine = [0u32; 9];
        let mut a = GrantRefAllocator::new(&mut nine).unwrap();
        assert_eq!(a.alloc(), Ok(8));
        assert_eq!(a.alloc(), Err(GrantError::NoSpace));
    }
}
