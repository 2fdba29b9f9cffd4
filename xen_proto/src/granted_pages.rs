// SPDX-License-Identifier: GPL-2.0
//! The one owner of pages we grant to a backend, shared by the frontends (`xen_blkfront`,
//! `xen_netfront`): [`GrantedPages`] allocates zeroed pages (XSA-403), grants them, and when it
//! is dropped (on any path, early returns included) revokes every grant and frees the pages, or,
//! if the backend still maps one of them, leaks them (never freed, never reused: XSA-396) and
//! counts them in the device's [`LeakCount`].
//!
//! Linux's counterpart is `gnttab_end_foreign_access(ref, page)` in `drivers/xen/grant-table.c`,
//! which puts a page still mapped on a deferred list and retries from a timer. So do we: pages
//! still mapped at drop go to `xen_platform`'s deferred list (`xpv_pages_defer`), which frees
//! them once the backend has unmapped them; they still count in the device's [`LeakCount`], so
//! the per-device bound `grant::MAX_LEAKED_PAGES_PER_DEVICE` still stops reconnect loops.
//!
//! [`GrantedRing`] is a shared ring (`ring.rs`) in such pages, owning them.
//!
//! Includers must also include `abi.rs`, `abi_client.rs`, `grant.rs` and `ring.rs` as siblings. The pages come
//! from `xen_platform` (`xpv_pages_alloc`/`xpv_pages_free`, see `abi.rs`).

use super::abi::{xpv_pages_alloc, xpv_pages_defer, xpv_pages_free, Errno, PAGES_MAX_ORDER};
use super::abi_client::Grant;
use super::grant::LeakCount;
use super::ring::{AnyBitPattern, SharedRing, SringHeader};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// Bytes per page (Xen's and x86's 4 KiB).
pub const PAGE_BYTES: usize = 4096;

/// `2^order` (at most `N`) physically contiguous zeroed pages of ours, each granted to one
/// backend domain (`include/xen/interface/grant_table.h`, `GTF_permit_access`).
///
/// Dropping it revokes each grant (`xpv_gnttab_end_access`) and frees the pages; if any grant is
/// still mapped by the backend the whole allocation is leaked instead and its page count added to
/// the device's [`LeakCount`].
pub struct GrantedPages<const N: usize> {
    va: NonNull<u8>,
    order: u32,
    readonly: bool,
    /// Grant of page `i`; `None` for pages not granted (a failed constructor).
    grants: [Option<Grant>; N],
    /// The device's leak counter (kept in its driver's static device table).
    leaks: &'static LeakCount,
}

/// One granted page: the common case (bounce pages, single-page rings).
pub type GrantedPage = GrantedPages<1>;

// SAFETY: the pages are plain kernel memory owned by this value; `leaks` is an atomic counter
// (`Sync`). Access to the page contents is synchronised by the owner.
unsafe impl<const N: usize> Send for GrantedPages<N> {}
// SAFETY: through `&self` the contents are only read as atomics (`sring_header`); writes need
// `&mut self` (or a raw pointer from `as_ptr`, whose user answers for it).
unsafe impl<const N: usize> Sync for GrantedPages<N> {}

impl<const N: usize> GrantedPages<N> {
    /// Allocates `2^order` zeroed pages (may sleep) and grants each to `domid`, read-only if
    /// `readonly`. Leaks found when it is dropped are counted in `leaks`.
    ///
    /// # Errors
    /// `-EINVAL` if `2^order` exceeds `N` (or `abi::PAGES_MAX_ORDER`), `-ENOMEM`, or the errno of
    /// `xpv_gnttab_grant_access` (e.g. `-ENOSPC` without free grant references). Nothing is left
    /// granted or allocated on error.
    pub fn new(
        domid: u16,
        order: u32,
        readonly: bool,
        leaks: &'static LeakCount,
    ) -> Result<Self, Errno> {
        let pages = 1usize.checked_shl(order).unwrap_or(usize::MAX);
        if pages > N || order > PAGES_MAX_ORDER {
            return Err(Errno::EINVAL);
        }
        let mut gfn = 0u64;
        // SAFETY: `gfn` is a valid, writable u64; the symbol is provided by xen_platform, which the
        // calling module depends on. Process context (the caller's contract: may sleep).
        let va = unsafe { xpv_pages_alloc(order, &mut gfn) };
        let va = NonNull::new(va.cast::<u8>()).ok_or(Errno::ENOMEM)?;
        let mut p = Self {
            va,
            order,
            readonly,
            grants: [const { None }; N],
            leaks,
        };
        // The pages were zeroed by the allocator before any grant exists (XSA-403). If a grant
        // fails, dropping `p` revokes the ones made so far and frees the pages.
        for i in 0..pages {
            p.grants[i] = Some(Grant::new(domid, gfn + i as u64, readonly)?);
        }
        Ok(p)
    }

    /// Number of pages.
    pub fn pages(&self) -> usize {
        1 << self.order
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        PAGE_BYTES << self.order
    }

    /// Kernel virtual address of the first byte (the pages are contiguous). The backend may access
    /// the memory at any time: use volatile or atomic accesses, or copy it once.
    pub fn as_ptr(&self) -> *mut u8 {
        self.va.as_ptr()
    }

    /// Stores `v` as the `i`-th `T` of the pages, with a volatile write (the backend may read
    /// them at any time): e.g. the segment descriptors of a blkif indirect page (`io/blkif.h`,
    /// `BLKIF_OP_INDIRECT`). Returns `false`, writing nothing, if that `T` does not lie wholly
    /// inside the pages. `T` is plain data (`Copy`) with an alignment of at most a page.
    pub fn write_volatile<T: Copy>(&mut self, i: usize, v: T) -> bool {
        let size = core::mem::size_of::<T>();
        let fits = match i.checked_add(1).and_then(|n| n.checked_mul(size)) {
            Some(end) => end <= self.bytes(),
            None => false,
        };
        if size == 0 || core::mem::align_of::<T>() > PAGE_BYTES || !fits {
            return false;
        }
        // SAFETY: inside our live allocation (checked above); aligned, as the pages start on a
        // page boundary and `i * size_of::<T>()` is a multiple of `align_of::<T>()`. No Rust
        // reference to the contents exists (`&mut self`).
        unsafe { core::ptr::write_volatile(self.va.as_ptr().cast::<T>().add(i), v) };
        true
    }

    /// The first page viewed as a shared ring's header (`io/ring.h`: `req_prod`, `req_event`,
    /// `rsp_prod`, `rsp_event`), read atomically: an event handler peeking at the backend's
    /// `rsp_prod` while the ring's owner uses the ring ([`GrantedRing`] writes the header only
    /// atomically).
    pub fn sring_header(&self) -> &SringHeader {
        // SAFETY: the pages are page-aligned and larger than the header (16 bytes of four
        // `AtomicU32`); every access to them through `&self` is atomic (see `Sync`), so this
        // shared view races with no non-atomic access of ours.
        unsafe { &*self.va.as_ptr().cast::<SringHeader>() }
    }

    /// The grant reference of page `i`, to hand to the backend (0 for a page out of range).
    pub fn gref(&self, i: usize) -> u32 {
        self.grants
            .get(i)
            .and_then(Option::as_ref)
            .map_or(0, Grant::gref)
    }

    /// The pages as a mutable buffer, only if they are granted read-only (the backend cannot
    /// write them, so we are their only writer); `None` for writable grants.
    pub fn buf_mut(&mut self) -> Option<&mut [u8]> {
        if !self.readonly {
            return None;
        }
        // SAFETY: `bytes()` bytes of our live allocation; `&mut self` excludes other Rust
        // references, and the backend only has read access (it reads what we publish).
        Some(unsafe { core::slice::from_raw_parts_mut(self.va.as_ptr(), self.bytes()) })
    }
}

impl<const N: usize> Drop for GrantedPages<N> {
    fn drop(&mut self) {
        let mut still = [0u32; N];
        let mut n = 0;
        for g in self.grants.iter_mut() {
            if let Some(g) = g.take() {
                // A grant that cannot be revoked stays granted, and so must the page be.
                if let Err((g, _)) = g.end() {
                    still[n] = g.gref();
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.leaks.add(self.pages() as u32);
            // SAFETY: our allocation of this order; `still` holds `n` references of it that
            // remain granted; `xen_platform` frees the pages only after revoking them all. On
            // error the pages stay ours and are leaked.
            let _ = unsafe {
                xpv_pages_defer(
                    self.va.as_ptr().cast(),
                    self.order,
                    still.as_ptr(),
                    n as u32,
                )
            };
            return;
        }
        // SAFETY: allocated by `xpv_pages_alloc` with this order, no grant of it left, freed once.
        unsafe { xpv_pages_free(self.va.as_ptr().cast(), self.order) };
    }
}

/// What keeps granted pages allocated and in place while it exists: the pages themselves, or a
/// shared reference to them (the kernel's `Arc<GrantedPages<N>>`, in `kernel_frontend.rs`), so
/// that a [`GrantedRing`] can share its pages with a handler that peeks at the header.
///
/// # Safety
/// [`HoldsPages::granted`] returns the same pages for the life of the value, and they stay
/// allocated (not revoked or freed) as long as it lives, wherever it is moved.
pub unsafe trait HoldsPages<const N: usize> {
    /// The pages held.
    fn granted(&self) -> &GrantedPages<N>;
}

// SAFETY: the pages' memory does not move with the value, and is freed only by its drop.
unsafe impl<const N: usize> HoldsPages<N> for GrantedPages<N> {
    fn granted(&self) -> &GrantedPages<N> {
        self
    }
}

/// A shared ring (`io/ring.h`, `SHARED_RING_INIT`/`FRONT_RING_INIT`) in `2^order` pages of
/// ours granted to the backend (`ring-ref`), held by `P` (the pages, or a shared reference to
/// them): the ring is used through `Deref`/`DerefMut` to its [`SharedRing`], the grants read
/// through [`Self::pages`]. The ring view goes before `P` (field order); the pages are revoked
/// and freed (or leaked if still mapped) when their last holder drops them.
pub struct GrantedRing<Req: Copy, Rsp: AnyBitPattern, const N: usize, P = GrantedPages<N>>
where
    P: HoldsPages<N>,
{
    // Field order is drop order: the view before the memory it points into.
    ring: SharedRing<Req, Rsp>,
    pages: P,
}

// SAFETY: the ring's raw pointer is into the pages `pages` holds (which are `Send`, and whose
// other holders only read the header atomically); the ring is used only through this value.
unsafe impl<Req: Copy, Rsp: AnyBitPattern, const N: usize, P: HoldsPages<N> + Send> Send
    for GrantedRing<Req, Rsp, N, P>
{
}

impl<Req: Copy, Rsp: AnyBitPattern, const N: usize, P: HoldsPages<N>> GrantedRing<Req, Rsp, N, P> {
    /// Initialises a ring over all of the pages `pages` holds (zeroed again, indices reset)
    /// and keeps `pages`. `None` (`pages` dropped) if not even one entry fits.
    pub fn new(pages: P) -> Option<Self> {
        // Other holders reach the pages through `&GrantedPages` only, which reads nothing but
        // the header, atomically (`sring_header`); writes need `&mut GrantedPages`.
        let g = pages.granted();
        // SAFETY: `bytes()` writable page-aligned bytes, kept allocated by `pages`, which we keep
        // and drop after the ring (field order); shared only as said above.
        let ring = unsafe { SharedRing::init(g.as_ptr(), g.bytes()) }?;
        Some(Self { ring, pages })
    }

    /// The ring's pages (for their grant references).
    pub fn pages(&self) -> &GrantedPages<N> {
        self.pages.granted()
    }
}

impl<Req: Copy, Rsp: AnyBitPattern, const N: usize, P: HoldsPages<N>> Deref
    for GrantedRing<Req, Rsp, N, P>
{
    type Target = SharedRing<Req, Rsp>;

    fn deref(&self) -> &Self::Target {
        &self.ring
    }
}

impl<Req: Copy, Rsp: AnyBitPattern, const N: usize, P: HoldsPages<N>> DerefMut
    for GrantedRing<Req, Rsp, N, P>
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.ring
    }
}
