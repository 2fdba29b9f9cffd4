// SPDX-License-Identifier: GPL-2.0
//! Event channels, 2-level ABI, for the whole guest: the per-port handler registry, the upcall
//! demultiplexer run from the platform device's interrupt, and late-EOI throttling.
//!
//! Delivery, two modes:
//! - callback (INTx/GSI): Xen asserts the platform device's interrupt line while vCPU 0's
//!   `evtchn_upcall_pending` is set; every port is bound to vCPU 0 (the default, and the only
//!   vCPU that callback mode serves).
//! - per-vCPU vectors (Linux's "callback vector", here `HVMOP_set_evtchn_upcall_vector` for each
//!   vCPU, `hvm/hvm_op.h`): each online CPU gets an interrupt of the x86 vector domain pinned to
//!   it (`sys::UpcallIrq`, set up by the CPU hotplug callbacks below), and Xen injects that
//!   vector on the vCPU whose port fired. Ports start on vCPU 0; [`bind_to_cpu`] moves one
//!   (`EVTCHNOP_bind_vcpu`), and each CPU's scan only takes the ports bound to it (its `local`
//!   bitmap, Linux's `cpu_evtchn_mask`). A CPU going offline hands its ports to CPU 0.
//!
//! A CPU's scan cursor is only used by that CPU's upcall handlers (hard IRQ context, which does
//! not nest); the bitmaps are shared with Xen and with other CPUs (EOIs) and are only touched
//! atomically (`xen_proto/src/evtchn.rs`).
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
use crate::abi::Errno;
use crate::evtchn::{
    self, Bitmaps, ScanCursor, SharedInfo, UnmaskAction, VcpuInfo, EVTCHN_2L_WORDS, MAX_VIRT_CPUS,
};
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

/// CPUs that can have an upcall vector of their own: those whose `vcpu_info` is in the shared
/// info page (`XEN_LEGACY_MAX_VCPUS`; beyond, `VCPUOP_register_vcpu_info` would be needed).
pub(crate) const MAX_VECTOR_CPUS: usize = MAX_VIRT_CPUS;

/// Per-CPU delivery state (index: Linux CPU number).
struct PerCpu {
    /// Xen's id of this CPU's vCPU (CPUID leaf base+4), `u32::MAX` until known.
    vcpu: AtomicU32,
    /// Xen delivers this vCPU's events by the vector of `irq` (vector mode only).
    vector_on: AtomicBool,
    /// The CPU's upcall interrupt: a leaked `KBox<UpcallIrq>`, null when none.
    irq: AtomicPtr<sys::UpcallIrq>,
    /// Its IRQ number (`u32::MAX`: none), for `synchronize_irq` without touching `irq`.
    irq_nr: AtomicU32,
    /// Ports bound to this vCPU (vector mode), bit per port.
    local: [AtomicU64; EVTCHN_2L_WORDS],
    /// Where this CPU's next scan starts; only touched by this CPU's upcall handlers.
    cursor: core::cell::UnsafeCell<ScanCursor>,
}

// SAFETY: all fields are atomics but `cursor`, which only the CPU's own (non-nesting) hard IRQ
// handlers touch (`scan_vcpu`'s contract).
unsafe impl Sync for PerCpu {}

impl PerCpu {
    const fn new() -> Self {
        Self {
            vcpu: AtomicU32::new(u32::MAX),
            vector_on: AtomicBool::new(false),
            irq: AtomicPtr::new(null_mut()),
            irq_nr: AtomicU32::new(u32::MAX),
            local: [const { AtomicU64::new(0) }; EVTCHN_2L_WORDS],
            cursor: core::cell::UnsafeCell::new(ScanCursor { word: 0, bit: 0 }),
        }
    }
}

static PERCPU: [PerCpu; MAX_VECTOR_CPUS] = [const { PerCpu::new() }; MAX_VECTOR_CPUS];
/// The CPU each port is bound to (vector mode); ports start on CPU 0 (Xen's vCPU 0).
static PORT_CPU: [AtomicU8; NR_PORTS] = [const { AtomicU8::new(0) }; NR_PORTS];
/// The CPU a frontend asked for each port ([`spread`]): a port moved to CPU 0 while its CPU was
/// offline goes back when the CPU returns.
static PORT_HOME: [AtomicU8; NR_PORTS] = [const { AtomicU8::new(0) }; NR_PORTS];
/// Per-vCPU vectors are in use (set once vCPU 0 switched to its vector).
static VECTOR_MODE: AtomicBool = AtomicBool::new(false);
/// Vector set-up finished: CPUs coming online later switch to their vector at once.
static VECTOR_SETUP_DONE: AtomicBool = AtomicBool::new(false);
/// Xen's CPUID base leaf (0x40000000 + n * 0x100), for the vCPU id leaf.
static CPUID_BASE: AtomicU32 = AtomicU32::new(0);
/// Held (a spin flag) while a port moves between vCPUs, so Xen's binding and ours agree.
static REBIND: AtomicBool = AtomicBool::new(false);

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
    // SAFETY: the caller's contract; vCPU 0 is in range.
    unsafe { views_of(p, 0) }
}

/// The bitmaps and vCPU `vcpu`'s info (`vcpu < MAX_VIRT_CPUS`).
///
/// # Safety
/// As [`views`].
unsafe fn views_of<'a>(p: *mut SharedInfo, vcpu: usize) -> (Bitmaps<'a>, &'a VcpuInfo) {
    let vcpu = vcpu.min(MAX_VIRT_CPUS - 1);
    // SAFETY: references only to the atomic fields of the mapped page (never the whole struct,
    // whose other fields Xen writes non-atomically).
    unsafe {
        (
            Bitmaps {
                pending: &*addr_of!((*p).evtchn_pending),
                mask: &*addr_of!((*p).evtchn_mask),
            },
            &*addr_of!((*p).vcpu_info[vcpu]),
        )
    }
}

/// Waits for every upcall handler (INTx and per-CPU vectors) that may be running.
fn synchronize_upcalls() {
    sys::synchronize_irq(IRQ.load(Ordering::Relaxed));
    for pc in PERCPU.iter() {
        // A number freed meanwhile (CPU going offline) is harmless: free_irq synchronised.
        let nr = pc.irq_nr.load(Ordering::Acquire);
        if nr != u32::MAX {
            sys::synchronize_irq(nr);
        }
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
    VECTOR_MODE.store(false, Ordering::Release);
    VECTOR_SETUP_DONE.store(false, Ordering::Release);
    SHARED.store(null_mut(), Ordering::Release);
    synchronize_upcalls();
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

fn check_port(port: u32) -> Result<usize, Errno> {
    match evtchn::check_port(u64::from(port)) {
        Ok(p) => Ok(p as usize),
        Err(_) => Err(Errno::EINVAL),
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

fn pr_warn_ratelimited_port(port: u32, e: Errno) {
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
    next as usize
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
    if VECTOR_MODE.load(Ordering::Acquire) {
        // Xen delivers vCPU 0's events by its vector now; the line is shared.
        return sys::IRQ_NONE;
    }
    // SAFETY: mapped while `SHARED` is set; the INTx handler runs on CPU 0 (its affinity), as
    // does CPU 0's vector handler, and hard IRQ handlers do not nest.
    unsafe { scan_vcpu(p, 0, 0) };
    // Always "handled": the line may be seen asserted once more before Xen notices that
    // evtchn_upcall_pending was cleared (as Linux's platform-pci handler).
    sys::IRQ_HANDLED
}

/// Handles vCPU `vcpu`'s pending events on CPU `cpu` (Linux's `__xen_evtchn_do_upcall` with the
/// 2-level scan of `evtchn_2l_handle_events`): in vector mode only the ports bound to `cpu`.
///
/// # Safety
/// `p` is the live mapping; called in hard IRQ context on `cpu` itself (the cursor's owner).
unsafe fn scan_vcpu(p: *mut SharedInfo, cpu: usize, vcpu: usize) {
    let Some(pc) = PERCPU.get(cpu) else { return };
    // SAFETY: the caller's contract.
    let (maps, vi) = unsafe { views_of(p, vcpu) };
    let local = VECTOR_MODE.load(Ordering::Acquire).then_some(&pc.local);
    // SAFETY: only this CPU's hard IRQ handlers use its cursor, and they do not nest.
    let cursor = unsafe { &mut *pc.cursor.get() };
    let mut scans = 0;
    while scans < MAX_SCANS_PER_IRQ && vi.take_upcall_pending() {
        scans += 1;
        for port in maps.scan(vi, local, cursor) {
            // Mask before handling: a new event for the port waits for the EOI.
            maps.mask(port);
            dispatch(port);
        }
    }
}

/// A CPU's upcall vector handler (`dev`: the CPU number).
///
/// # Safety
/// Called by the kernel's interrupt core only (registered by `xpv_upcall_cpu_online`).
unsafe extern "C" fn upcall_vector(_irq: kernel::ffi::c_int, dev: *mut c_void) -> sys::IrqReturn {
    let cpu = dev as usize;
    if cpu != sys::smp_processor_id() as usize || cpu >= MAX_VECTOR_CPUS {
        return sys::IRQ_NONE;
    }
    let pc = &PERCPU[cpu];
    let vcpu = pc.vcpu.load(Ordering::Acquire);
    let Some(p) = shared() else {
        return sys::IRQ_HANDLED;
    };
    if vcpu as usize >= MAX_VIRT_CPUS {
        return sys::IRQ_HANDLED;
    }
    if !VECTOR_MODE.load(Ordering::Acquire) && cpu != 0 {
        // Set-up window: no port is bound to this vCPU yet; just acknowledge.
        // SAFETY: mapped while `SHARED` is set.
        let (_, vi) = unsafe { views_of(p, vcpu as usize) };
        vi.take_upcall_pending();
        return sys::IRQ_HANDLED;
    }
    // SAFETY: mapped while `SHARED` is set (`stop` synchronises with us); we run on `cpu`.
    unsafe { scan_vcpu(p, cpu, vcpu as usize) };
    sys::IRQ_HANDLED
}

/// Records that `port` is delivered to `cpu` (our side of `EVTCHNOP_bind_vcpu`).
fn set_port_cpu(port: usize, cpu: usize) {
    let (w, b) = (port / 64, 1u64 << (port % 64));
    let old = PORT_CPU[port].swap(cpu as u8, Ordering::AcqRel) as usize;
    if let Some(o) = PERCPU.get(old) {
        o.local[w].fetch_and(!b, Ordering::SeqCst);
    }
    PERCPU[cpu].local[w].fetch_or(b, Ordering::SeqCst);
}

struct RebindGuard;

impl RebindGuard {
    fn lock() -> Self {
        while REBIND
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        Self
    }
}

impl Drop for RebindGuard {
    fn drop(&mut self) {
        REBIND.store(false, Ordering::Release);
    }
}

/// Moves `port`'s events to CPU `cpu` (`EVTCHNOP_bind_vcpu` to its vCPU), as Linux's
/// `xen_rebind_evtchn_to_cpu`: masked meanwhile, unmasked after unless it was masked (a handler
/// or a late EOI owns it then).
///
/// # Errors
/// `-EOPNOTSUPP` in callback mode (only vCPU 0 is served), `-EINVAL` for a bad port or a CPU
/// without vector, `-EAGAIN` before event channels work, or the hypercall's errno.
pub(crate) fn bind_to_cpu(port: u32, cpu: u32) -> Result<(), Errno> {
    if !VECTOR_MODE.load(Ordering::Acquire) {
        return Err(Errno::EOPNOTSUPP);
    }
    let i = check_port(port)?;
    let pc = PERCPU.get(cpu as usize).ok_or(Errno::EINVAL)?;
    let p = shared().ok_or(Errno::EAGAIN)?;
    let _g = RebindGuard::lock();
    let vcpu = pc.vcpu.load(Ordering::Acquire);
    if !pc.vector_on.load(Ordering::Acquire) || vcpu == u32::MAX {
        return Err(Errno::EINVAL);
    }
    if u32::from(PORT_CPU[i].load(Ordering::Acquire)) == cpu {
        return Ok(());
    }
    // SAFETY: mapped while `SHARED` is set.
    let (maps, _) = unsafe { views(p) };
    let was_masked = maps.test_and_set_mask(port);
    let r = hypercall::evtchn_bind_vcpu(port, vcpu).map(|_| ());
    if r.is_ok() {
        set_port_cpu(i, cpu as usize);
    }
    if !was_masked {
        unmask(port);
    }
    r
}

/// Binds `port` to the `index`-th online CPU (modulo their number) that has a vector, as
/// frontends spread their queues (queue i on CPU i mod n). Returns the CPU.
pub(crate) fn spread(port: u32, index: u32) -> Result<u32, Errno> {
    let n = sys::num_online_cpus().max(1);
    let cpu = sys::nth_online_cpu(index % n).ok_or(Errno::EINVAL)?;
    bind_to_cpu(port, cpu)?;
    PORT_HOME[check_port(port)?].store(cpu as u8, Ordering::Release);
    Ok(cpu)
}

/// Starts per-vCPU vector delivery: a vector on every online CPU (CPU hotplug state), then
/// vCPU 0 switched last, so that a failure leaves callback mode serving everything.
///
/// # Errors
/// Why not (Xen lacks the feature, a CPU's set-up failed): event delivery stays in callback mode.
pub(crate) fn start_vectors(
    cpuid_base: u32,
    hvm_features: u32,
) -> Result<sys::CpuhpState, &'static str> {
    use crate::cpuid::hvm_flags;
    if hvm_features & hvm_flags::UPCALL_VECTOR == 0 {
        return Err("Xen does not offer HVMOP_set_evtchn_upcall_vector (CPUID)");
    }
    if hvm_features & hvm_flags::VCPU_ID_PRESENT == 0 {
        return Err("Xen does not report vCPU ids (CPUID)");
    }
    if shared().is_none() {
        return Err("event channels not active");
    }
    CPUID_BASE.store(cpuid_base, Ordering::Relaxed);
    for w in PERCPU[0].local.iter() {
        w.store(!0, Ordering::SeqCst);
    }
    for pc in PERCPU.iter().skip(1) {
        for w in pc.local.iter() {
            w.store(0, Ordering::SeqCst);
        }
    }
    for c in Iterator::chain(PORT_CPU.iter(), PORT_HOME.iter()) {
        c.store(0, Ordering::Relaxed);
    }
    let st = sys::CpuhpState::setup().map_err(|_| "setting up a vector on a CPU failed")?;
    let pc = &PERCPU[0];
    // SAFETY: a live `UpcallIrq` (CPU 0 is online and was set up).
    let Some(irq) = (unsafe { pc.irq.load(Ordering::Acquire).as_ref() }) else {
        return Err("no vector on CPU 0");
    };
    let vcpu = pc.vcpu.load(Ordering::Acquire);
    if hypercall::hvm_set_evtchn_upcall_vector(vcpu, irq.vector()).is_err() {
        return Err("HVMOP_set_evtchn_upcall_vector failed for vCPU 0");
    }
    pc.vector_on.store(true, Ordering::Release);
    VECTOR_SETUP_DONE.store(true, Ordering::Release);
    VECTOR_MODE.store(true, Ordering::Release);
    Ok(st)
}

/// CPU hotplug, on `cpu` coming online (and for each online CPU at set-up): its vector
/// interrupt, its vCPU id, and (but for CPU 0 during set-up) `HVMOP_set_evtchn_upcall_vector`.
/// CPUs beyond [`MAX_VECTOR_CPUS`] get no vector (and no ports). Returns 0 or a negative errno.
#[no_mangle]
pub(crate) extern "C" fn xpv_upcall_cpu_online(cpu: kernel::ffi::c_uint) -> kernel::ffi::c_int {
    let Some(pc) = PERCPU.get(cpu as usize) else {
        return 0;
    };
    let leaf = CPUID_BASE.load(Ordering::Relaxed) + 4;
    let vcpu = match sys::cpuid_on(cpu, leaf) {
        Ok(r) if r[0] & crate::cpuid::hvm_flags::VCPU_ID_PRESENT != 0 => r[1],
        Ok(_) => return -abi::ENODEV,
        Err(e) => return e.to_errno(),
    };
    if vcpu as usize >= MAX_VIRT_CPUS {
        pr_warn!(
            "CPU {}: vCPU id {} has no vcpu_info in shared info: no vector\n",
            cpu,
            vcpu
        );
        return 0;
    }
    // SAFETY: `upcall_vector` runs in hard IRQ context; its cookie is the CPU number.
    let irq = match unsafe {
        sys::UpcallIrq::alloc(
            cpu,
            upcall_vector,
            c"xen-upcall",
            cpu as usize as *mut c_void,
        )
    } {
        Ok(i) => i,
        Err(e) => {
            pr_err!("CPU {}: no upcall vector: {:?}\n", cpu, e);
            return e.to_errno();
        }
    };
    let vector = irq.vector();
    let nr = irq.number();
    let Ok(b) = KBox::new(irq, GFP_KERNEL) else {
        return -abi::ENOMEM;
    };
    pc.vcpu.store(vcpu, Ordering::Release);
    pc.irq_nr.store(nr, Ordering::Release);
    let old = pc.irq.swap(KBox::into_raw(b), Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: a previous registration of this CPU, no longer reachable.
        drop(unsafe { KBox::from_raw(old) });
    }
    if cpu != 0 || VECTOR_SETUP_DONE.load(Ordering::Acquire) {
        if let Err(e) = hypercall::hvm_set_evtchn_upcall_vector(vcpu, vector) {
            pr_err!(
                "CPU {}: HVMOP_set_evtchn_upcall_vector(vCPU {}, {:#x}) failed: {}\n",
                cpu,
                vcpu,
                vector,
                e
            );
            return e.to_neg();
        }
        pc.vector_on.store(true, Ordering::Release);
    }
    // Ports spread to this CPU that its last offlining moved to CPU 0 come back.
    let mut back = 0;
    if VECTOR_MODE.load(Ordering::Acquire) {
        for (port, home) in PORT_HOME.iter().enumerate() {
            if u32::from(home.load(Ordering::Acquire)) == cpu
                && u32::from(PORT_CPU[port].load(Ordering::Acquire)) != cpu
                && bind_to_cpu(port as u32, cpu).is_ok()
            {
                back += 1;
            }
        }
    }
    pr_info!(
        "CPU {}: vCPU {} upcalls on vector {:#x} (IRQ {}), {} event channel(s) back\n",
        cpu,
        vcpu,
        vector,
        nr,
        back
    );
    0
}

/// CPU hotplug, on `cpu` going offline (and for each CPU when the module stops): its ports move
/// to CPU 0, then its vector interrupt is freed.
#[no_mangle]
pub(crate) extern "C" fn xpv_upcall_cpu_offline(cpu: kernel::ffi::c_uint) -> kernel::ffi::c_int {
    let Some(pc) = PERCPU.get(cpu as usize) else {
        return 0;
    };
    if cpu != 0 && VECTOR_MODE.load(Ordering::Acquire) {
        let mut moved = 0;
        for (w, word) in pc.local.iter().enumerate() {
            let mut bits = word.load(Ordering::Acquire);
            while bits != 0 {
                let port = (w * 64) as u32 + bits.trailing_zeros();
                bits &= bits - 1;
                if bind_to_cpu(port, 0).is_ok() {
                    moved += 1;
                }
            }
        }
        if moved > 0 {
            pr_info!(
                "CPU {} going offline: {} event channel(s) moved to CPU 0\n",
                cpu,
                moved
            );
        }
    }
    pc.vector_on.store(false, Ordering::Release);
    pc.irq_nr.store(u32::MAX, Ordering::Release);
    let old = pc.irq.swap(null_mut(), Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: from `KBox::into_raw` in the online callback, taken out once; frees the IRQ
        // (free_irq waits for a running handler).
        drop(unsafe { KBox::from_raw(old) });
    }
    0
}

/// Installs `handler(port, data)` and unmasks the port.
pub(crate) fn bind(port: u32, handler: abi::EvtchnHandler, data: *mut c_void) -> Result<(), Errno> {
    if !ready() {
        return Err(Errno::EAGAIN);
    }
    let i = check_port(port)?;
    let slot = &SLOTS[i];
    if slot
        .handler
        .compare_exchange(0, BINDING, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return Err(Errno::EBUSY);
    }
    slot.data.store(data, Ordering::Relaxed);
    slot.spurious.store(0, Ordering::Relaxed);
    slot.eoi_at.store(0, Ordering::Relaxed);
    slot.handler.store(handler as usize, Ordering::Release);
    unmask(port);
    Ok(())
}

/// Masks the port and removes its handler, waiting for a running one. May sleep.
pub(crate) fn unbind(port: u32) -> Result<(), Errno> {
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
        return Err(Errno::ENOENT);
    }
    synchronize_upcalls();
    slot.data.store(null_mut(), Ordering::Relaxed);
    Ok(())
}

/// Late EOI from a driver.
pub(crate) fn late_eoi(port: u32, spurious: bool) -> Result<(), Errno> {
    let i = check_port(port)?;
    if !ready() {
        return Err(Errno::EAGAIN);
    }
    if SLOTS[i].handler.load(Ordering::Acquire) <= BINDING {
        return Err(Errno::ENOENT);
    }
    eoi(i, spurious);
    Ok(())
}

/// Closes a port, removing its handler first.
pub(crate) fn close(port: u32) -> Result<(), Errno> {
    let i = check_port(port)?;
    let _ = unbind(port);
    let r = hypercall::evtchn_close(port).map(|_| ());
    // A freed port notifies vCPU 0 again when reused (Xen's evtchn_free).
    if VECTOR_MODE.load(Ordering::Acquire) {
        let _g = RebindGuard::lock();
        set_port_cpu(i, 0);
        PORT_HOME[i].store(0, Ordering::Release);
    }
    r
}

/// Sends an event on `port`.
pub(crate) fn notify(port: u32) -> Result<(), Errno> {
    check_port(port)?;
    hypercall::evtchn_send(port).map(|_| ())
}

/// Events that arrived on ports without handler since load.
pub(crate) fn stray_count() -> u32 {
    STRAY.load(Ordering::Relaxed)
}

/// The event channel epoch (see `abi::xpv_evtchn_epoch`): moves on when the domain resumes as a
/// new domain.
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The current epoch.
pub(crate) fn epoch() -> u32 {
    EPOCH.load(Ordering::Acquire)
}

/// After `SHUTDOWN_suspend` returned in a new domain, on CPU 0 with the other CPUs stopped and
/// interrupts off (so no handler runs and nobody binds): every port of the old domain is gone
/// (Linux's `xen_irq_resume`), so every handler is forgotten, every port masked in the new shared
/// info page, every port's delivery back on vCPU 0 (Xen binds new ports there), and the
/// per-vCPU upcall vectors registered again. The old ports' owners find out through
/// [`epoch`], which moves on, and must not unbind or close them. Returns how many handlers
/// were dropped.
pub(crate) fn resume_new_domain() -> u32 {
    let Some(p) = shared() else { return 0 };
    // SAFETY: the live mapping (the device is bound while a suspend runs).
    let (maps, _) = unsafe { views(p) };
    for w in maps.mask.iter() {
        w.store(!0, Ordering::SeqCst);
    }
    for w in maps.pending.iter() {
        w.store(0, Ordering::SeqCst);
    }
    let mut dropped = 0;
    for s in SLOTS.iter() {
        if s.handler.swap(0, Ordering::AcqRel) > BINDING {
            dropped += 1;
        }
        s.data.store(null_mut(), Ordering::Relaxed);
        s.eoi_at.store(0, Ordering::Relaxed);
        s.spurious.store(0, Ordering::Relaxed);
    }
    for c in Iterator::chain(PORT_CPU.iter(), PORT_HOME.iter()) {
        c.store(0, Ordering::Relaxed);
    }
    for (cpu, pc) in PERCPU.iter().enumerate() {
        for w in pc.local.iter() {
            w.store(if cpu == 0 { !0 } else { 0 }, Ordering::SeqCst);
        }
    }
    if VECTOR_MODE.load(Ordering::Acquire) {
        for pc in PERCPU.iter() {
            if !pc.vector_on.load(Ordering::Acquire) {
                continue;
            }
            // SAFETY: a live `UpcallIrq` (freed only by the offline callback, which cannot run
            // while the machine is stopped).
            let Some(irq) = (unsafe { pc.irq.load(Ordering::Acquire).as_ref() }) else {
                continue;
            };
            let vcpu = pc.vcpu.load(Ordering::Acquire);
            if hypercall::hvm_set_evtchn_upcall_vector(vcpu, irq.vector()).is_err() {
                // Logged by the caller after the machine restarts (no printk here).
                pc.vector_on.store(false, Ordering::Release);
                VECTOR_FAILED.store(true, Ordering::Release);
            }
        }
    }
    EPOCH.fetch_add(1, Ordering::AcqRel);
    dropped
}

/// A vCPU's upcall vector could not be registered again after a resume.
pub(crate) static VECTOR_FAILED: AtomicBool = AtomicBool::new(false);

/// `xpv_evtchn_epoch` of `abi.rs`.
#[no_mangle]
pub(crate) extern "C" fn xpv_evtchn_epoch() -> u32 {
    epoch()
}

/// Xen's wall clock now, `(seconds, nanoseconds)` since the Unix epoch: the shared info page's
/// `wc_*` (wall time at domain system time 0) plus vCPU 0's system time scaled from the TSC
/// (`xen.h`, `struct shared_info`, `struct vcpu_time_info`; both read under their version
/// protocol, retried while Xen updates them). `None` when event handling is not active.
pub(crate) fn xen_wallclock() -> Option<(i64, u32)> {
    let p = shared()?;
    for _ in 0..100 {
        // SAFETY: the live mapping; the fields are read with volatile loads (Xen writes them
        // concurrently, and the version protocol tells whether the copy is consistent).
        let (wv0, wc, tv0, time) = unsafe {
            let wcp = addr_of!((*p).wc);
            let tp = addr_of!((*p).vcpu_info[0].time);
            let wv0 = core::ptr::read_volatile(wcp.cast::<u32>());
            let tv0 = core::ptr::read_volatile(tp.cast::<u32>());
            core::sync::atomic::fence(Ordering::Acquire);
            (
                wv0,
                core::ptr::read_volatile(wcp),
                tv0,
                core::ptr::read_volatile(tp),
            )
        };
        let tsc = sys::suspend::rdtsc();
        core::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: as above.
        let (wv1, tv1) = unsafe {
            (
                core::ptr::read_volatile(addr_of!((*p).wc).cast::<u32>()),
                core::ptr::read_volatile(addr_of!((*p).vcpu_info[0].time).cast::<u32>()),
            )
        };
        if wv0 != wv1 || wv0 & 1 != 0 || tv0 != tv1 || tv0 & 1 != 0 {
            continue;
        }
        if wv0 == 0 || tv0 == 0 {
            // Never written by Xen (vCPU 0's record is written when it is scheduled).
            return None;
        }
        let t = crate::hvm::VcpuTime::from_words(&time);
        return Some(crate::hvm::wallclock(
            wc[1],
            wc[2],
            wc[3],
            t.system_time_at(tsc),
        ));
    }
    None
}
