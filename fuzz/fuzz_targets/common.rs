// SPDX-License-Identifier: GPL-2.0
//! Shared by the ring fuzz targets (blkif_rsp, netif_rsp): a reader of the fuzz input and a shared
//! ring in real memory, with a backend's view of the same bytes, so the frontend goes through
//! xen_proto's `SharedRing` exactly as the drivers do while the fuzzer plays the backend.
#![allow(dead_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::Ordering;
use xen_proto::ring::{AnyBitPattern, RingIdx, SharedRing, SringHeader, RING_HEADER_BYTES, XEN_PAGE_SIZE};

/// The fuzz input as a stream of little-endian values; zeros once exhausted.
pub struct Input<'a>(pub &'a [u8]);

impl Input<'_> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        for x in &mut b {
            *x = self.u8();
        }
        b
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    pub fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.bytes())
    }
    /// A ring position a hostile backend writes at: just past `prod` (0 to 3 ahead) or anywhere.
    pub fn ring_position(&mut self, prod: u32) -> u32 {
        if self.bool() {
            prod.wrapping_add(u32::from(self.u8() % 4))
        } else {
            self.u32()
        }
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    /// A hostile `rsp_prod`: near `rsp_cons` (behind it or ahead), just past what is outstanding,
    /// or any value.
    pub fn rsp_prod(&mut self, rsp_cons: RingIdx, outstanding: u32) -> RingIdx {
        match self.u8() % 4 {
            0 => rsp_cons.wrapping_add(self.u8() as i8 as i32 as u32),
            1 => rsp_cons
                .wrapping_add(outstanding)
                .wrapping_add(u32::from(self.u8() % 4)),
            2 => rsp_cons.wrapping_sub(u32::from(self.u8()) + 1),
            _ => self.u32(),
        }
    }
}

/// A shared ring on page-aligned heap memory of `pages` pages, initialised by
/// `SharedRing::init` as the drivers do.
pub struct MemRing<Req: Copy, Rsp: AnyBitPattern> {
    base: *mut u8,
    layout: Layout,
    pub ring: SharedRing<Req, Rsp>,
}

impl<Req: Copy, Rsp: AnyBitPattern> MemRing<Req, Rsp> {
    pub fn new(pages: usize) -> Self {
        let layout = Layout::from_size_align(pages * XEN_PAGE_SIZE, XEN_PAGE_SIZE).unwrap();
        // SAFETY: non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null());
        // SAFETY: `base` is `layout.size()` bytes, owned by this value until drop, used only
        // through the ring and the backend accessors below.
        let ring = unsafe { SharedRing::init(base, layout.size()) }.expect("ring fits");
        Self { base, layout, ring }
    }

    pub fn size(&self) -> u32 {
        self.ring.state().size()
    }

    pub fn hdr(&self) -> &SringHeader {
        // SAFETY: the header is the first bytes of the live, page-aligned area.
        unsafe { &*(self.base as *const SringHeader) }
    }

    fn slot(&self, idx: RingIdx) -> *mut u8 {
        let off = RING_HEADER_BYTES
            + (idx & (self.size() - 1)) as usize * SharedRing::<Req, Rsp>::ENTRY_BYTES;
        assert!(off + SharedRing::<Req, Rsp>::ENTRY_BYTES <= self.layout.size());
        // SAFETY: checked just above to lie inside the area.
        unsafe { self.base.add(off) }
    }

    /// The backend reads the request at ring index `idx`.
    pub fn backend_read(&self, idx: RingIdx) -> Req {
        // SAFETY: an in-area slot, aligned (page base, 64-byte header, ENTRY_BYTES a multiple of
        // the alignment); `Req` is plain data.
        unsafe { core::ptr::read_volatile(self.slot(idx).cast::<Req>()) }
    }

    /// The backend writes a response at ring index `idx` (any index: it is masked as the
    /// backend's macros do).
    pub fn backend_write(&self, idx: RingIdx, rsp: Rsp) {
        // SAFETY: as in `backend_read`.
        unsafe { core::ptr::write_volatile(self.slot(idx).cast::<Rsp>(), rsp) }
    }

    pub fn set_rsp_prod(&self, v: RingIdx) {
        self.hdr().rsp_prod.store(v, Ordering::Release);
    }

    pub fn rsp_prod(&self) -> RingIdx {
        self.hdr().rsp_prod.load(Ordering::Acquire)
    }

    pub fn req_prod(&self) -> RingIdx {
        self.hdr().req_prod.load(Ordering::Acquire)
    }

    pub fn rsp_event(&self) -> RingIdx {
        self.hdr().rsp_event.load(Ordering::Acquire)
    }
}

impl<Req: Copy, Rsp: AnyBitPattern> Drop for MemRing<Req, Rsp> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the ring (a raw pointer) is gone with us.
        unsafe { dealloc(self.base, self.layout) };
    }
}
