// SPDX-License-Identifier: GPL-2.0
//! Event channels, 2-level ABI, for the whole guest: the per-port handler registry, the upcall
//! demultiplexer run from the platform device's interrupt, and late-EOI throttling.
//!
//! Delivery: Xen raises the upcall through the platform device's INTx line (or GSI), which it
//! asserts while vCPU 0's `evtchn_upcall_pending` is set; all ports are bound to vCPU 0 (the
//! default, and the only vCPU that callback mode serves). The interrupt handler runs on one CPU
//! at a time (one IRQ line), so the scan cursor needs no lock; the bitmaps are shared with Xen
//! and with other CPUs (EOIs) and are only touched atomically (`xen_proto/src/evtchn.rs`).
//!
//! Handling of a port (Linux's lateeoi chip, XSA-391): the scan clears the pending bit, the port
//! is masked, the handler runs and says when to unmask ([`abi::evtchn_ret`]). A backend sending
//! events faster than the driver EOIs them gets one upcall per EOI; spurious events (no work)
//! delay the EOI up to 1 s ([`evtchn::lateeoi_step`]), through a timer.

use core::ffi::c_void;
use core::ptr::{addr_of, null_mut};
use core::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

use kernel::prelude::*;

use crate::abi;
use crate::evtchn::{self, Bitmaps, ScanCursor, SharedInfo, UnmaskAction, VcpuInfo};
use crate::hypercall;
use crate::sys;

const NR_PORTS: usize = evtchn::EVTCHN_2L_NR_CHANNELS as usize;
/// Scans per interrupt before returning (the level-triggered line re-raises leftover work).
const MAX_SCANS_PER_IRQ: u32 = 64;
/// Slot handler value while a `bind` is filling the slot.
const BINDING: usize = 1;

/// One port of the registry.
struct Slot {
    /// `abi::EvtchnHandler` as usize; 0: none, [`BINDING`]: being installed.
    handler: AtomicUsize,
    /// The handler's argument; only changed while no handler can run.
    data: AtomicPtr<c_void>,
    /// Consecutive spurious events (late-EOI throttling).
    spurious: AtomicU8,
    /// Jiffies at which a delayed EOI is due; 0: none.
    eoi_at: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            handler: AtomicUsize::new(0),
            data: AtomicPtr::new(null_mut()),
            spurious: AtomicU8::new(0),
            eoi_at: AtomicU64::new(0),
        }
    }
}

static SLOTS: [Slot; NR_PORTS] = [const { Slot::new() }; NR_PORTS];

/// The shared info page while the platform device is bound; null otherwise.
static SHARED: AtomicPtr<SharedInfo> = AtomicPtr::new(null_mut());
/// Set once the callback is installed and the ports masked ([`activate`]).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The callback IRQ number (for `synchronize_irq`); `u32::MAX` when none.
static IRQ: AtomicU32 = AtomicU32::new(u32::MAX);
/// Events dispatched to no handler (masked and dropped), for diagnostics.
static STRAY: AtomicU32 = AtomicU32::new(0);

/// vCPU 0's scan cursor: only used by the interrupt handler, which never runs concurrently
/// with itself.
struct CursorCell(core::cell::UnsafeCell<ScanCursor>);
// SAFETY: only accessed from the (non-reentrant) upcall interrupt handler.
unsafe impl Sync for CursorCell {}
static CURSOR: CursorCell = CursorCell(core::cell::UnsafeCell::new(ScanCursor { word: 0, bit: 0 }));

/// The mapping, once event handling is active.
fn shared() -> Option<*mut SharedInfo> {
    if !ACTIVE.load(Ordering::Acquire) {
        return None;
    }
    let p = SHARED.load(Ordering::Acquire);
    (!p.is_null()).then_some(p)
}

/// The bitmaps and vCPU 0's info of the mapped shared info page.
///
/// # Safety
/// `p` must be the live shared info mapping (it stays mapped while the device is bound; users
/// run only while it is, see [`stop`]).
unsafe fn views<'a>(p: *mut SharedInfo) -> (Bitmaps<'a>, &'a VcpuInfo) {
    // SAFETY: references only to the atomic fields of the mapped page (never the whole struct,
    // whose other fields Xen writes non-atomically).
    unsafe {
        (
            Bitmaps {
                pending: &*addr_of!((*p).evtchn_pending),
                mask: &*addr_of!((*p).evtchn_mask),
            },
            &*addr_of!((*p).vcpu_info[0]),
        )
    }
}

/// Makes the shared info mapping known to the interrupt handler, before the callback is set.
/// Until [`activate`] the handler only acknowledges the upcall (clears vCPU 0's
/// `evtchn_upcall_pending`, the first byte of the page in both the 32- and 64-bit layouts) so
/// that the level-triggered line drops; it reads nothing that depends on the layout.
///
/// # Safety
/// `p` is the shared info mapping, valid until [`stop`] returns.
pub(crate) unsafe fn prepare(p: *mut SharedInfo, irq: u32) {
    IRQ.store(irq, Ordering::Relaxed);
    SHARED.store(p, Ordering::Release);
}

/// Starts event handling once `HVM_PARAM_CALLBACK_IRQ` has latched the 64-bit shared info
/// layout: masks every port, as Linux does at boot (`xen_evtchn_2l` init), and lets the handler
/// scan.
pub(crate) fn activate() {
    let p = SHARED.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is the live mapping (`prepare`'s caller).
    let (maps, _) = unsafe { views(p) };
    for w in maps.mask.iter() {
        w.store(!0, Ordering::SeqCst);
    }
    sys::eoi_timer::init();
    ACTIVE.store(true, Ordering::Release);
}

/// Stops event handling before the mapping goes away: masks all ports, forgets every handler,
/// waits for a running interrupt handler and stops the EOI timer. May sleep.
pub(crate) fn stop() {
    let p = SHARED.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    let was_active = ACTIVE.swap(false, Ordering::AcqRel);
    if was_active {
        // SAFETY: still mapped (the caller unmaps after we return); the layout is latched.
        let (maps, _) = unsafe { views(p) };
        for w in maps.mask.iter() {
            w.store(!0, Ordering::SeqCst);
        }
    }
    for (port, s) in SLOTS.iter().enumerate() {
        if s.handler.swap(0, Ordering::AcqRel) > BINDING {
            pr_warn!(
                "event channel {} still bound at unload: handler dropped\n",
                port
            );
        }
    }
    SHARED.store(null_mut(), Ordering::Release);
    sys::synchronize_irq(IRQ.load(Ordering::Relaxed));
    if was_active {
        sys::eoi_timer::stop();
    }
    for s in SLOTS.iter() {
        s.data.store(null_mut(), Ordering::Relaxed);
        s.eoi_at.store(0, Ordering::Relaxed);
        s.spurious.store(0, Ordering::Relaxed);
    }
}

/// Whether event channels are usable.
pub(crate) fn ready() -> bool {
    shared().is_some()
}

fn check_port(port: u32) -> Result<usize, i32> {
    match evtchn::check_port(u64::from(port)) {
        Ok(p) => Ok(p as usize),
        Err(_) => Err(-abi::EINVAL),
    }
}

/// Unmasks `port` (EOI), re-raising it through Xen if it became pending meanwhile.
fn unmask(port: u32) {
    let Some(p) = shared() else { return };
    // SAFETY: mapped while `SHARED` is set.
    let (maps, v0) = unsafe { views(p) };
    if maps.unmask_local(port, v0, true) == UnmaskAction::Hypercall {
        if let Err(e) = hypercall::evtchn_unmask(port) {
            pr_warn_ratelimited_port(port, e);
        }
    }
}

fn pr_warn_ratelimited_port(port: u32, e: i32) {
    // Rare (a port closed under us); not worth a ratelimit state.
    pr_warn!("EVTCHNOP_unmask({}) failed: {}\n", port, e);
}

/// Unmask now or after the late-EOI delay.
fn eoi(port: usize, spurious: bool) {
    let slot = &SLOTS[port];
    let (cnt, delay) =
        evtchn::lateeoi_step(slot.spurious.load(Ordering::Relaxed), spurious, sys::hz());
    slot.spurious.store(cnt, Ordering::Relaxed);
    if delay == 0 {
        unmask(port as u32);
        return;
    }
    // 0 means "none": never store it as a due time.
    let due = sys::jiffies().wrapping_add(u64::from(delay)).max(1);
    slot.eoi_at.store(due, Ordering::Release);
    sys::eoi_timer::arm(due);
}

/// Timer callback (from helpers.c): unmasks the ports whose delayed EOI is due; returns the
/// jiffies of the next one, 0 if none.
#[no_mangle]
pub(crate) extern "C" fn xpv_eoi_timer_fired() -> kernel::ffi::c_ulong {
    let now = sys::jiffies();
    let mut next = 0u64;
    for (port, s) in SLOTS.iter().enumerate() {
        let due = s.eoi_at.load(Ordering::Acquire);
        if due == 0 {
            continue;
        }
        // Wrapping comparison, as time_after_eq().
        if (now.wrapping_sub(due) as i64) >= 0 {
            if s.eoi_at
                .compare_exchange(due, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                unmask(port as u32);
            }
        } else if next == 0 || (due.wrapping_sub(next) as i64) < 0 {
            next = due;
        }
    }
    next as _
}

fn dispatch(port: u32) {
    let slot = &SLOTS[port as usize];
    let h = slot.handler.load(Ordering::Acquire);
    if h <= BINDING {
        // No handler: the port stays masked until someone binds it.
        STRAY.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: `h` was stored by `bind` from a valid `abi::EvtchnHandler`.
    let handler: abi::EvtchnHandler =
        unsafe { core::mem::transmute::<usize, abi::EvtchnHandler>(h) };
    let data = slot.data.load(Ordering::Relaxed);
    // SAFETY: the binder guarantees `data` stays valid until `unbind` returns, and `unbind`
    // waits for this interrupt handler (synchronize_irq) before returning.
    match unsafe { handler(port, data) } {
        abi::evtchn_ret::LATE => {}
        abi::evtchn_ret::SPURIOUS => eoi(port as usize, true),
        _ => eoi(port as usize, false),
    }
}

/// The upcall: the platform device's interrupt handler (Linux's `__xen_evtchn_do_upcall` with
/// the 2-level scan of `evtchn_2l_handle_events`).
///
/// # Safety
/// Called by the kernel's interrupt core only (registered with `request_irq` in probe).
pub(crate) unsafe extern "C" fn upcall_irq(
    _irq: kernel::ffi::c_int,
    _dev: *mut c_void,
) -> sys::IrqReturn {
    let Some(p) = shared() else {
        let raw = SHARED.load(Ordering::Acquire);
        if raw.is_null() {
            return sys::IRQ_NONE;
        }
        // Not active yet: acknowledge only. `evtchn_upcall_pending` is byte 0 of the page in
        // either layout.
        // SAFETY: mapped while `SHARED` is set; an atomic byte access.
        unsafe { (*addr_of!((*raw).vcpu_info[0])).take_upcall_pending() };
        return sys::IRQ_HANDLED;
    };
    // SAFETY: mapped while `SHARED` is set; `stop` clears it and synchronises with us.
    let (maps, v0) = unsafe { views(p) };
    // SAFETY: only this (non-reentrant) interrupt handler uses the cursor.
    let cursor = unsafe { &mut *CURSOR.0.get() };
    let mut scans = 0;
    while scans < MAX_SCANS_PER_IRQ && v0.take_upcall_pending() {
        scans += 1;
        for port in maps.scan(v0, None, cursor) {
            // Mask before handling: a new event for the port waits for the EOI.
            maps.mask(port);
            dispatch(port);
        }
    }
    // Always "handled": the line may be seen asserted once more before Xen notices that
    // evtchn_upcall_pending was cleared (as Linux's platform-pci handler).
    sys::IRQ_HANDLED
}

/// Installs `handler(port, data)` and unmasks the port.
pub(crate) fn bind(port: u32, handler: abi::EvtchnHandler, data: *mut c_void) -> Result<(), i32> {
    if !ready() {
        return Err(-abi::EAGAIN);
    }
    let i = check_port(port)?;
    let slot = &SLOTS[i];
    if slot
        .handler
        .compare_exchange(0, BINDING, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return Err(-abi::EBUSY);
    }
    slot.data.store(data, Ordering::Relaxed);
    slot.spurious.store(0, Ordering::Relaxed);
    slot.eoi_at.store(0, Ordering::Relaxed);
    slot.handler.store(handler as usize, Ordering::Release);
    unmask(port);
    Ok(())
}

/// Masks the port and removes its handler, waiting for a running one. May sleep.
pub(crate) fn unbind(port: u32) -> Result<(), i32> {
    let i = check_port(port)?;
    let slot = &SLOTS[i];
    if let Some(p) = shared() {
        // SAFETY: mapped while `SHARED` is set.
        let (maps, _) = unsafe { views(p) };
        maps.mask(port);
    }
    let old = slot.handler.swap(0, Ordering::AcqRel);
    slot.eoi_at.store(0, Ordering::Relaxed);
    if old <= BINDING {
        if old == BINDING {
            // A concurrent bind is filling the slot: give it back.
            slot.handler.store(BINDING, Ordering::Relaxed);
        }
        return Err(-abi::ENOENT);
    }
    sys::synchronize_irq(IRQ.load(Ordering::Relaxed));
    slot.data.store(null_mut(), Ordering::Relaxed);
    Ok(())
}

/// Late EOI from a driver.
pub(crate) fn late_eoi(port: u32, spurious: bool) -> Result<(), i32> {
    let i = check_port(port)?;
    if !ready() {
        return Err(-abi::EAGAIN);
    }
    if SLOTS[i].handler.load(Ordering::Acquire) <= BINDING {
        return Err(-abi::ENOENT);
    }
    eoi(i, spurious);
    Ok(())
}

/// Closes a port, removing its handler first.
pub(crate) fn close(port: u32) -> Result<(), i32> {
    check_port(port)?;
    let _ = unbind(port);
    hypercall::evtchn_close(port).map(|_| ())
}

/// Sends an event on `port`.
pub(crate) fn notify(port: u32) -> Result<(), i32> {
    check_port(port)?;
    hypercall::evtchn_send(port).map(|_| ())
}

/// Events that arrived on ports without handler since load.
pub(crate) fn stray_count() -> u32 {
    STRAY.load(Ordering::Relaxed)
}
