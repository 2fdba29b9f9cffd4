// SPDX-License-Identifier: GPL-2.0
//! Shared I/O rings, frontend side, as defined by Xen's `include/xen/interface/io/ring.h`.
//!
//! A shared ring is one or more granted pages (`ring-ref`, `ring-page-order`) laid out as
//! (all fields little-endian `u32`, offsets in bytes):
//!
//! | offset | field       | written by | meaning                                            |
//! |--------|-------------|------------|----------------------------------------------------|
//! | 0      | `req_prod`  | frontend   | requests published so far (free-running)           |
//! | 4      | `req_event` | backend    | "notify me when `req_prod` passes this"            |
//! | 8      | `rsp_prod`  | backend    | responses published so far (free-running)          |
//! | 12     | `rsp_event` | frontend   | "notify me when `rsp_prod` passes this"            |
//! | 16     | `pad[48]`   | —          | (`__pad`/private area, zeroed by the frontend)     |
//! | 64     | entries     | both       | `RING_SIZE` slots of `union { req; rsp; }`         |
//!
//! Indices are free-running 32-bit counters; slot `i` lives at `i & (RING_SIZE - 1)`. All arithmetic
//! on them is wrapping, so the ring keeps working after 2^32 requests.
//!
//! Split of responsibilities:
//! - [`FrontRing`]: the frontend's private state (`req_prod_pvt`, `rsp_cons`) and every computation
//!   on indices (`RING_FREE_REQUESTS`, `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`,
//!   `RING_FINAL_CHECK_FOR_RESPONSES`, `RING_RESPONSE_PROD_OVERFLOW`). Pure values, no memory access.
//! - [`SharedRing`]: access to the shared page(s), with the barriers `ring.h` prescribes expressed as
//!   atomics and fences. Entries are copied with volatile accesses: the backend is another domain
//!   that may change them at any time, so a response is copied once into a local value and only the
//!   copy is looked at.
//!
//! Everything read from the backend (`rsp_prod`, `req_event`, response contents) is untrusted:
//! [`FrontRing::responses_to_consume`] refuses a `rsp_prod` that claims more responses than there
//! are requests outstanding, which is a stricter form of Linux's `RING_RESPONSE_PROD_OVERFLOW`.

use core::sync::atomic::{fence, AtomicU32, Ordering};

/// Free-running ring index (`RING_IDX` in `ring.h`).
pub type RingIdx = u32;

/// Bytes before the first entry: four `u32` indices and `__pad[48]` (`ring.h`, `DEFINE_RING_TYPES`).
pub const RING_HEADER_BYTES: usize = 64;

/// Page size of the Xen ABI, in bytes (`XEN_PAGE_SIZE`).
pub const XEN_PAGE_SIZE: usize = 4096;

/// Number of entries in a ring of `ring_bytes` bytes whose entries are `entry_bytes` bytes
/// (`__CONST_RING_SIZE`/`__RING_SIZE` in `ring.h`): the largest power of two that fits.
///
/// `entry_bytes` is the size of the request/response union, i.e. the larger of the two.
/// Returns 0 when not even one entry fits (or `entry_bytes` is 0).
pub const fn ring_size(ring_bytes: usize, entry_bytes: usize) -> u32 {
    if entry_bytes == 0 || ring_bytes <= RING_HEADER_BYTES {
        return 0;
    }
    let n = (ring_bytes - RING_HEADER_BYTES) / entry_bytes;
    if n == 0 {
        return 0;
    }
    // Round down to a power of two; ring slots are addressed by masking.
    let p = 1usize << (usize::BITS - 1 - n.leading_zeros());
    if p > u32::MAX as usize / 2 {
        // Indices are 32-bit: a ring can never hold more than 2^31 entries.
        1 << 31
    } else {
        p as u32
    }
}

/// A protocol violation seen on a ring. Every one of these means the backend is broken or hostile:
/// the device must go to an error state, never panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// `rsp_prod` claims `claimed` unconsumed responses, but only `outstanding` requests are in
    /// flight (`RING_RESPONSE_PROD_OVERFLOW` and stricter).
    ResponseOverflow {
        /// `rsp_prod - rsp_cons` as read from the shared page.
        claimed: u32,
        /// `req_prod_pvt - rsp_cons`: requests the frontend has produced and not seen answered.
        outstanding: u32,
    },
}

/// Frontend-private ring state (`struct <name>_front_ring` minus the `sring` pointer).
///
/// Invariant: `req_prod_pvt - rsp_cons <= size` (wrapping), i.e. never more requests outstanding
/// than slots; `size` is a non-zero power of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontRing {
    req_prod_pvt: RingIdx,
    rsp_cons: RingIdx,
    size: u32,
}

impl FrontRing {
    /// A fresh ring of `size` entries (`FRONT_RING_INIT`: both indices 0).
    ///
    /// Returns `None` unless `size` is a non-zero power of two (a ring from [`ring_size`]).
    pub const fn new(size: u32) -> Option<Self> {
        Self::with_start(size, 0)
    }

    /// A ring of `size` entries whose indices start at `start` (`FRONT_RING_ATTACH`-style; tests use
    /// it to start near the 32-bit wrap).
    pub const fn with_start(size: u32, start: RingIdx) -> Option<Self> {
        if size == 0 || !size.is_power_of_two() {
            return None;
        }
        Some(Self {
            req_prod_pvt: start,
            rsp_cons: start,
            size,
        })
    }

    /// Number of entries (`RING_SIZE`).
    pub const fn size(&self) -> u32 {
        self.size
    }

    /// Next request index to produce (private, not yet published).
    pub const fn req_prod_pvt(&self) -> RingIdx {
        self.req_prod_pvt
    }

    /// Next response index to consume.
    pub const fn rsp_cons(&self) -> RingIdx {
        self.rsp_cons
    }

    /// Requests produced (published or not) and not yet answered.
    pub const fn outstanding(&self) -> u32 {
        self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Free request slots (`RING_FREE_REQUESTS`).
    pub const fn free_requests(&self) -> u32 {
        self.size - self.outstanding()
    }

    /// No free request slot (`RING_FULL`).
    pub const fn is_full(&self) -> bool {
        self.free_requests() == 0
    }

    /// Slot number of index `idx` (`RING_GET_REQUEST`/`RING_GET_RESPONSE` masking).
    pub const fn slot(&self, idx: RingIdx) -> usize {
        (idx & (self.size - 1)) as usize
    }

    /// Claims the next request slot: returns its index and advances `req_prod_pvt`
    /// (the `RING_GET_REQUEST(r, r->req_prod_pvt++)` idiom). `None` when the ring is full.
    pub fn next_request(&mut self) -> Option<RingIdx> {
        if self.is_full() {
            return None;
        }
        let idx = self.req_prod_pvt;
        self.req_prod_pvt = idx.wrapping_add(1);
        Some(idx)
    }

    /// Whether the backend must be notified after publishing requests up to `req_prod_pvt`
    /// (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`): `old_req_prod` is the shared `req_prod` before
    /// publishing, `req_event` the backend's value read after the full barrier.
    pub const fn push_needs_notify(&self, old_req_prod: RingIdx, req_event: RingIdx) -> bool {
        let new = self.req_prod_pvt;
        new.wrapping_sub(req_event) < new.wrapping_sub(old_req_prod)
    }

    /// Validates the backend's `rsp_prod` and returns how many responses may be consumed
    /// (`RING_HAS_UNCONSUMED_RESPONSES` with the `RING_RESPONSE_PROD_OVERFLOW` check).
    ///
    /// # Errors
    /// [`RingError::ResponseOverflow`] if `rsp_prod` claims more responses than requests
    /// outstanding (which also covers more than `RING_SIZE`).
    pub const fn responses_to_consume(&self, rsp_prod: RingIdx) -> Result<u32, RingError> {
        let claimed = rsp_prod.wrapping_sub(self.rsp_cons);
        let outstanding = self.outstanding();
        if claimed > outstanding {
            return Err(RingError::ResponseOverflow {
                claimed,
                outstanding,
            });
        }
        Ok(claimed)
    }

    /// Marks the response at `rsp_cons` consumed and returns its index. `None` if nothing is
    /// outstanding (a caller bug; the ring state is left unchanged).
    pub fn consume_response(&mut self) -> Option<RingIdx> {
        if self.outstanding() == 0 {
            return None;
        }
        let idx = self.rsp_cons;
        self.rsp_cons = idx.wrapping_add(1);
        Some(idx)
    }

    /// Value to store in the shared `rsp_event` before the final re-check
    /// (`RING_FINAL_CHECK_FOR_RESPONSES`: "notify me at the next response").
    pub const fn rsp_event_for_final_check(&self) -> RingIdx {
        self.rsp_cons.wrapping_add(1)
    }
}

/// The index header at the start of a shared ring page (`struct <name>_sring` up to `__pad`).
#[repr(C)]
pub struct SringHeader {
    /// Requests published by the frontend.
    pub req_prod: AtomicU32,
    /// Backend's request notification threshold.
    pub req_event: AtomicU32,
    /// Responses published by the backend.
    pub rsp_prod: AtomicU32,
    /// Frontend's response notification threshold.
    pub rsp_event: AtomicU32,
}

/// Types that may be copied out of memory a backend writes: every bit pattern of their size is a
/// valid value (as the kernel's `FromBytes`): `#[repr(C)]` aggregates of integers, no `bool`,
/// `enum`, `char`, reference or pointer. [`SharedRing::take_response`] copies responses with one
/// volatile read of whatever the backend left there, so its response type must be one.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid `Self`.
pub unsafe trait AnyBitPattern: Copy {}

/// A view of a shared ring in memory: header plus `size` slots of `entry_bytes` bytes each, holding
/// requests of type `Req` and responses of type `Rsp` (the `union` of `DEFINE_RING_TYPES`).
///
/// Borrowing the memory is the caller's business (the kernel glue keeps the page alive for as long
/// as the ring exists and revokes the grant before freeing it).
pub struct SharedRing<Req: Copy, Rsp: AnyBitPattern> {
    base: *mut u8,
    ring: FrontRing,
    entry_bytes: usize,
    _types: core::marker::PhantomData<(Req, Rsp)>,
}

impl<Req: Copy, Rsp: AnyBitPattern> SharedRing<Req, Rsp> {
    /// Entry size of this ring type: the size of the request/response union, in bytes.
    pub const ENTRY_BYTES: usize = {
        let (a, b) = (core::mem::size_of::<Req>(), core::mem::size_of::<Rsp>());
        let size = if a > b { a } else { b };
        let (x, y) = (core::mem::align_of::<Req>(), core::mem::align_of::<Rsp>());
        let align = if x > y { x } else { y };
        size.div_ceil(align) * align
    };

    /// Initialises the shared area (`SHARED_RING_INIT`: indices 0, event thresholds 1, everything
    /// else zeroed so no stale kernel data is shared: XSA-403) and returns the frontend's view.
    ///
    /// Returns `None` if fewer than one entry fits in `bytes` or `base` is not aligned for the
    /// header and both entry types.
    ///
    /// # Safety
    /// `base` must point to `bytes` writable bytes that stay valid, and are accessed only through
    /// this ring (and by the backend), for as long as the returned value exists; except the
    /// header's indices ([`SringHeader`]), which others may access atomically (a handler
    /// peeking at `rsp_prod`). The header is written only atomically, here too.
    pub unsafe fn init(base: *mut u8, bytes: usize) -> Option<Self> {
        let ring = FrontRing::new(ring_size(bytes, Self::ENTRY_BYTES))?;
        let align = core::mem::align_of::<SringHeader>()
            .max(core::mem::align_of::<Req>())
            .max(core::mem::align_of::<Rsp>());
        // `align` is a power of two (an alignment).
        if (base as usize) & (align - 1) != 0 {
            return None;
        }
        let indices = core::mem::size_of::<SringHeader>();
        // SAFETY: the caller guarantees `bytes` writable bytes at `base`, more than the header
        // (`FrontRing::new` found room for an entry after it); past the indices only we access
        // them.
        unsafe { core::ptr::write_bytes(base.add(indices), 0, bytes - indices) };
        let this = Self {
            base,
            ring,
            entry_bytes: Self::ENTRY_BYTES,
            _types: core::marker::PhantomData,
        };
        let h = this.header();
        h.req_prod.store(0, Ordering::Relaxed);
        h.rsp_prod.store(0, Ordering::Relaxed);
        h.req_event.store(1, Ordering::Relaxed);
        h.rsp_event.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        Some(this)
    }

    fn header(&self) -> &SringHeader {
        // SAFETY: `init` checked alignment and size (>= 64 bytes); the header is only accessed
        // through atomics, so sharing it with the backend is sound.
        unsafe { &*(self.base as *const SringHeader) }
    }

    fn slot_ptr(&self, idx: RingIdx) -> *mut u8 {
        let off = RING_HEADER_BYTES + self.ring.slot(idx) * self.entry_bytes;
        // SAFETY: `slot < size` and `64 + size * entry_bytes <= bytes` by `ring_size`.
        unsafe { self.base.add(off) }
    }

    /// The frontend's index state.
    pub fn state(&self) -> &FrontRing {
        &self.ring
    }

    /// Writes `req` into the next free slot (not yet visible to the backend: see
    /// [`Self::push_requests`]). Returns the slot's index, or `None` when the ring is full.
    pub fn put_request(&mut self, req: Req) -> Option<RingIdx> {
        let idx = self.ring.next_request()?;
        // SAFETY: the slot is inside the ring and aligned for `Req` (`init` checked the base's
        // alignment, the header is 64 bytes and `ENTRY_BYTES` is a multiple of the alignment).
        // Volatile: the memory is shared with another domain.
        unsafe { core::ptr::write_volatile(self.slot_ptr(idx).cast::<Req>(), req) };
        Some(idx)
    }

    /// Publishes produced requests and tells whether the backend must be notified
    /// (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: write barrier, update `req_prod`, full barrier,
    /// read `req_event`).
    pub fn push_requests(&mut self) -> bool {
        let h = self.header();
        let old = h.req_prod.load(Ordering::Relaxed);
        // Release: the request entries are visible before the new `req_prod` (virt_wmb).
        h.req_prod
            .store(self.ring.req_prod_pvt(), Ordering::Release);
        // Full barrier: `req_prod` is visible before `req_event` is read (virt_mb).
        fence(Ordering::SeqCst);
        let event = h.req_event.load(Ordering::Relaxed);
        self.ring.push_needs_notify(old, event)
    }

    /// Reads and validates the backend's `rsp_prod`: the number of responses ready to consume.
    ///
    /// # Errors
    /// [`RingError::ResponseOverflow`] if the backend claims more responses than were requested.
    pub fn responses_ready(&self) -> Result<u32, RingError> {
        // Acquire: response entries are read only after `rsp_prod` (virt_rmb).
        let prod = self.header().rsp_prod.load(Ordering::Acquire);
        self.ring.responses_to_consume(prod)
    }

    /// Copies the next response out of the ring (exactly once) and consumes it. Call only after
    /// [`Self::responses_ready`] returned a non-zero count; returns `None` if nothing is
    /// outstanding.
    pub fn take_response(&mut self) -> Option<Rsp> {
        let idx = self.ring.consume_response()?;
        // SAFETY: as in `put_request`; the volatile read copies the backend's bytes once.
        Some(unsafe { core::ptr::read_volatile(self.slot_ptr(idx).cast::<Rsp>()) })
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: after draining, asks to be notified at the next response
    /// and re-checks, closing the race with a backend that published in between.
    ///
    /// # Errors
    /// As [`Self::responses_ready`].
    pub fn final_check_for_responses(&mut self) -> Result<u32, RingError> {
        let n = self.responses_ready()?;
        if n != 0 {
            return Ok(n);
        }
        let h = self.header();
        h.rsp_event
            .store(self.ring.rsp_event_for_final_check(), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.responses_ready()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    #[test]
    fn sizes_match_the_abi() {
        // blkif: 112-byte requests (struct blkif_request, 11 segments) → 32 slots per page.
        assert_eq!(ring_size(XEN_PAGE_SIZE, 112), 32);
        // netif tx: 12-byte requests, 4-byte responses → 336 fit, rounded down to 256.
        assert_eq!(ring_size(XEN_PAGE_SIZE, 12), 256);
        // netif rx: 8-byte requests/responses → 504 fit → 256.
        assert_eq!(ring_size(XEN_PAGE_SIZE, 8), 256);
        // Multi-page rings (ring-page-order 2 → 4 pages).
        assert_eq!(ring_size(4 * XEN_PAGE_SIZE, 112), 128);
        assert_eq!(ring_size(64, 8), 0);
        assert_eq!(ring_size(65, 0), 0);
        assert_eq!(ring_size(100, 64), 0);
    }

    #[test]
    fn only_powers_of_two() {
        assert!(FrontRing::new(0).is_none());
        assert!(FrontRing::new(3).is_none());
        assert_eq!(FrontRing::new(32).unwrap().size(), 32);
    }

    #[test]
    fn fill_and_drain_across_the_32bit_wrap() {
        for start in [0, u32::MAX - 5, u32::MAX, u32::MAX - 31, 1 << 31] {
            let mut r = FrontRing::with_start(32, start).unwrap();
            for i in 0..32 {
                assert_eq!(r.next_request(), Some(start.wrapping_add(i)));
            }
            assert!(r.is_full());
            assert_eq!(r.next_request(), None);
            assert_eq!(r.free_requests(), 0);
            let prod = start.wrapping_add(32);
            assert_eq!(r.responses_to_consume(prod), Ok(32));
            for i in 0..32 {
                assert_eq!(r.consume_response(), Some(start.wrapping_add(i)));
            }
            assert_eq!(r.consume_response(), None);
            assert_eq!(r.free_requests(), 32);
            assert_eq!(r.responses_to_consume(prod), Ok(0));
        }
    }

    #[test]
    fn slots_wrap_with_the_mask() {
        let r = FrontRing::new(8).unwrap();
        assert_eq!(r.slot(7), 7);
        assert_eq!(r.slot(8), 0);
        assert_eq!(r.slot(u32::MAX), 7);
    }

    #[test]
    fn response_overflow_is_refused() {
        let mut r = FrontRing::with_start(32, u32::MAX - 2).unwrap();
        for _ in 0..4 {
            r.next_request().unwrap();
        }
        let cons = r.rsp_cons();
        assert_eq!(r.responses_to_consume(cons.wrapping_add(4)), Ok(4));
        // One more than outstanding, far more than the ring, and "behind" rsp_cons.
        for bad in [5u32, 33, 1 << 31, u32::MAX] {
            assert_eq!(
                r.responses_to_consume(cons.wrapping_add(bad)),
                Err(RingError::ResponseOverflow {
                    claimed: bad,
                    outstanding: 4
                })
            );
        }
    }

    #[test]
    fn notify_only_when_req_event_is_crossed() {
        let mut r = FrontRing::with_start(32, u32::MAX - 1).unwrap();
        let old = r.req_prod_pvt();
        for _ in 0..3 {
            r.next_request().unwrap();
        }
        // Backend waits for old+1: crossed by this push → notify.
        assert!(r.push_needs_notify(old, old.wrapping_add(1)));
        // Backend waits for old+3 (last of the three): crossed.
        assert!(r.push_needs_notify(old, old.wrapping_add(3)));
        // Backend waits beyond what we pushed, or already passed earlier: no notify.
        assert!(!r.push_needs_notify(old, old.wrapping_add(4)));
        assert!(!r.push_needs_notify(old, old));
        // Nothing new published: never notify.
        assert!(!r.push_needs_notify(r.req_prod_pvt(), r.req_prod_pvt()));
    }

    #[repr(C, align(4096))]
    struct Page([u8; XEN_PAGE_SIZE]);

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    struct Req {
        id: u64,
        payload: [u32; 2],
    }
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(C)]
    struct Rsp {
        id: u64,
        status: i16,
    }
    // SAFETY: integers only.
    unsafe impl AnyBitPattern for Rsp {}

    /// A minimal backend over the same memory, as `ring.h`'s back-ring macros do it.
    struct Backend {
        base: *mut u8,
        req_cons: u32,
        rsp_prod_pvt: u32,
        size: u32,
    }

    impl Backend {
        fn hdr(&self) -> &SringHeader {
            // SAFETY: `base` is the test's page-aligned, live page; the header is its first bytes.
            unsafe { &*(self.base as *const SringHeader) }
        }
        fn slot(&self, idx: u32) -> *mut u8 {
            let eb = SharedRing::<Req, Rsp>::ENTRY_BYTES;
            // SAFETY: the index is masked to the ring size, so the slot lies inside the page.
            unsafe {
                self.base
                    .add(RING_HEADER_BYTES + (idx & (self.size - 1)) as usize * eb)
            }
        }
        /// Answers every published request; returns true if the frontend asked to be notified.
        fn serve(&mut self) -> bool {
            let prod = self.hdr().req_prod.load(Ordering::Acquire);
            while self.req_cons != prod {
                // SAFETY: an in-page slot (see `slot`); `Req` is plain data.
                let req: Req = unsafe { core::ptr::read_volatile(self.slot(self.req_cons).cast()) };
                self.req_cons = self.req_cons.wrapping_add(1);
                let rsp = Rsp {
                    id: req.id,
                    status: 0,
                };
                // SAFETY: as above, for the response slot.
                unsafe { core::ptr::write_volatile(self.slot(self.rsp_prod_pvt).cast(), rsp) };
                self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
            }
            let old = self.hdr().rsp_prod.load(Ordering::Relaxed);
            let new = self.rsp_prod_pvt;
            self.hdr().rsp_prod.store(new, Ordering::Release);
            fence(Ordering::SeqCst);
            let ev = self.hdr().rsp_event.load(Ordering::Relaxed);
            new.wrapping_sub(ev) < new.wrapping_sub(old)
        }
    }

    #[test]
    fn round_trip_through_shared_memory() {
        let mut page = Box::new(Page([0xAA; XEN_PAGE_SIZE]));
        let base = page.0.as_mut_ptr();
        // SAFETY: `base` is a live, page-aligned page owned by the test for the ring's lifetime.
        let mut ring = unsafe { SharedRing::<Req, Rsp>::init(base, XEN_PAGE_SIZE) }.unwrap();
        assert_eq!(SharedRing::<Req, Rsp>::ENTRY_BYTES, 16);
        assert_eq!(ring.state().size(), 128);
        // XSA-403: nothing but the event thresholds is non-zero after init; the header (written
        // atomically) holds req_prod 0, req_event 1, rsp_prod 0, rsp_event 1 over the 0xAA fill.
        assert!(page.0[16..].iter().all(|&b| b == 0));
        let word = |i: usize| u32::from_ne_bytes(page.0[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!((word(0), word(1), word(2), word(3)), (0, 1, 0, 1));
        let mut be = Backend {
            base,
            req_cons: 0,
            rsp_prod_pvt: 0,
            size: 128,
        };
        // The backend initially asked to be told about request 1: the first push notifies.
        assert!(ring
            .put_request(Req {
                id: 7,
                payload: [1, 2]
            })
            .is_some());
        assert!(ring.push_requests());
        assert!(be.serve());
        assert_eq!(ring.responses_ready(), Ok(1));
        assert_eq!(ring.take_response(), Some(Rsp { id: 7, status: 0 }));
        assert_eq!(ring.final_check_for_responses(), Ok(0));
        // Many rounds: the ring keeps going well past its size.
        let mut seen = Vec::new();
        for round in 0..100u64 {
            while ring.state().free_requests() > 0 {
                let id = round * 1000 + u64::from(ring.state().outstanding());
                ring.put_request(Req {
                    id,
                    payload: [0; 2],
                })
                .unwrap();
            }
            ring.push_requests();
            be.serve();
            let n = ring.responses_ready().unwrap();
            assert_eq!(n, 128);
            for _ in 0..n {
                seen.push(ring.take_response().unwrap().id);
            }
            assert_eq!(ring.final_check_for_responses(), Ok(0));
        }
        assert_eq!(seen.len(), 100 * 128);
        assert_eq!((seen[0], seen[127], seen[128]), (0, 127, 1000));
        assert_eq!(seen[100 * 128 - 1], 99_127);
    }

    #[test]
    fn hostile_rsp_prod_is_reported_not_trusted() {
        let mut page = Box::new(Page([0; XEN_PAGE_SIZE]));
        let base = page.0.as_mut_ptr();
        // SAFETY: `base` is a live, page-aligned page owned by the test for the ring's lifetime.
        let mut ring = unsafe { SharedRing::<Req, Rsp>::init(base, XEN_PAGE_SIZE) }.unwrap();
        ring.put_request(Req {
            id: 1,
            payload: [0; 2],
        })
        .unwrap();
        ring.push_requests();
        // SAFETY: `base` is the live test page; the header is its first bytes.
        let hdr = unsafe { &*(base as *const SringHeader) };
        hdr.rsp_prod.store(200, Ordering::Release);
        assert_eq!(
            ring.responses_ready(),
            Err(RingError::ResponseOverflow {
                claimed: 200,
                outstanding: 1
            })
        );
        assert_eq!(
            ring.final_check_for_responses(),
            Err(RingError::ResponseOverflow {
                claimed: 200,
                outstanding: 1
            })
        );
    }

    #[test]
    fn init_rejects_tiny_or_misaligned_areas() {
        let mut page = Box::new(Page([0; XEN_PAGE_SIZE]));
        let base = page.0.as_mut_ptr();
        // SAFETY: both areas lie inside the live test page; init must refuse them.
        assert!(unsafe { SharedRing::<Req, Rsp>::init(base, 64) }.is_none());
        assert!(unsafe { SharedRing::<Req, Rsp>::init(base.add(2), 1024) }.is_none());
    }
}
