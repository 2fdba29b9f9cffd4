// SPDX-License-Identifier: GPL-2.0
//! xen_platform: the base of the Xen PV-on-HVM frontends on a kernel built without Xen support.
//!
//! It detects Xen from the CPUID hypervisor leaves (`xen_proto/src/cpuid.rs`), unplugs QEMU's
//! emulated disks and NICs (`unplug.rs`), binds the Xen platform PCI device (vendor 0x5853,
//! device 0x0001, the qemu-xen device model's "Xen Platform Device", or 0x0002 as XenServer
//! 6.1+ may present it) and on probe:
//!
//! 1. places the shared info page at the first page of the device's MMIO BAR
//!    (`XENMEM_add_to_physmap`, `XENMAPSPACE_shared_info`) and maps it write-back;
//! 2. installs the event channel upcall on the device's interrupt (`request_irq`) and points Xen at
//!    it (`HVM_PARAM_CALLBACK_IRQ`, PCI INTx or GSI) — which also latches the 64-bit shared info
//!    layout, so only then are the event bitmaps touched (`events.rs`);
//! 3. places grant table frames in the following BAR pages (`XENMAPSPACE_grant_table`) and starts
//!    the reference allocator (`gnttab.rs`);
//! 4. registers the `xen` clocksource over the vCPUs' time records in the shared info page
//!    (`clock.rs`), which the kernel then prefers to the emulated HPET.
//!
//! The other modules use these services through the C ABI of `xen_proto/src/abi.rs`.
//!
//! Without Xen the module loads, says so once and binds nothing: a probe is refused with `-ENODEV`
//! and the exported functions return `-ENODEV`, so `xenbus` and the frontends stay idle too (the
//! project's smoke test loads all modules on plain QEMU). A kernel with its own Xen support
//! (`CONFIG_XEN`) or a platform device already bound to another driver makes loading fail.
//!
//! Emulated-device unplug (`xen_emul_unplug=` on the kernel command line, or the module
//! parameter of the same name, which wins) runs at module load, before the PCI driver
//! registers, with Linux's values and default (unplug the IDE disks and NICs, since blkfront
//! and netfront exist). It only helps if no driver has bound those devices yet: Linux does it
//! in early boot, a module can only do it when it is loaded before `ata_piix`/`e1000` (initramfs
//! order, or those drivers as modules). When the default finds an emulated NIC or IDE
//! controller already driven, it leaves that class alone (pulling a disk from under a mounted
//! file system would lose data) and reports `unnecessary` to the frontends; an explicit value is
//! applied as given. The result is `PlatformInfo::unplug`.
//!
//! Per-vCPU upcall vectors (Linux's "callback vector"; `HVMOP_set_evtchn_upcall_vector`, offered
//! by Xen 4.17 with CPUID HVM feature `XEN_HVM_CPUID_UPCALL_VECTOR`): Xen injects the vector
//! straight into the vCPU's local APIC. Linux uses a built-in system vector for it; a module
//! cannot, but it can allocate an interrupt in the x86 vector domain (`x86_vector_domain`,
//! exported) pinned to one CPU, whose chip acknowledges the local APIC, and hand Xen that CPU's
//! vector. After probe's step 2, one such interrupt per online CPU is set up through a CPU
//! hotplug state (`events.rs`); frontends then spread their queues' ports over the CPUs
//! (`xpv_evtchn_spread`). With `no_vector_callback=1`, `xen_no_vector_callback` on the kernel
//! command line, or when Xen lacks the feature, everything stays on the INTx/GSI callback,
//! which serves vCPU 0 only. dmesg says which, in Linux's words ("Xen HVM callback vector for
//! event delivery is enabled").

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::prelude::*;

mod clock;
mod events;
mod gnttab;
mod hypercall;
mod selftest;
mod suspend;
#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
mod sys;

#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi.rs"]
mod abi;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/cpuid.rs"]
mod cpuid;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/evtchn.rs"]
mod evtchn;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/grant.rs"]
mod grant;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/hvm.rs"]
mod hvm;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/unplug.rs"]
mod unplug;

use abi::Errno;
use sys::{pci_device_id, pci_id, PciDev, PciDriver, PciDriverOps};

xpv_module! {
    type: XenPlatform,
    name: "xen_platform",
    description: "Xen platform PCI device: Xen detection and services for PV frontends",
    // The modaliases of `PCI_IDS` in file2alias's form (the 6.12 `module!` has no
    // MODULE_DEVICE_TABLE): udev loads us for the platform device.
    alias: [
        "pci:v00005853d00000001sv*sd*bc*sc*i*",
        "pci:v00005853d00000002sv*sd*bc*sc*i*",
    ],
}

// `softdep=post: xenbus xen_balloon` in `.modinfo` (MODULE_SOFTDEP; the 6.12 `module!` has no
// field for it): loading us by modalias also loads xenbus, whose bus devices (`xen:vbd`,
// `xen:vif`) in turn load the frontends by modalias, and the balloon (no device of its own), early
// enough for a populate-on-demand boot. Both need our symbols, so they cannot be `pre:` of ours.
#[cfg(MODULE)]
#[link_section = ".modinfo"]
#[used]
static SOFTDEP: [u8; 33] = *b"softdep=post: xenbus xen_balloon\0";

/// Xen platform PCI device ids (`drivers/xen/platform-pci.c`: `PCI_VENDOR_ID_XEN`, 0x0001, and
/// `PCI_DEVICE_ID_XEN_PLATFORM_XS61`, 0x0002, the id XenServer 6.1+ may give it).
const XEN_PLATFORM_VENDOR: u32 = 0x5853;
const XEN_PLATFORM_DEVICE: u32 = 0x0001;
const XEN_PLATFORM_DEVICE_XS61: u32 = 0x0002;
static PCI_IDS: [pci_device_id; 3] = [
    pci_id(XEN_PLATFORM_VENDOR, XEN_PLATFORM_DEVICE),
    pci_id(XEN_PLATFORM_VENDOR, XEN_PLATFORM_DEVICE_XS61),
    pci_id(0, 0),
];

/// What CPUID found, published once by `init` before the PCI driver (and so any caller of the
/// exported functions, which all depend on this module) can run. `XEN_VERSION` 0 means "no Xen".
static XEN_VERSION: AtomicU32 = AtomicU32::new(0);
static XEN_HVM_FEATURES: AtomicU32 = AtomicU32::new(0);
/// Xen's CPUID base leaf (0x40000000 + n * 0x100).
static XEN_CPUID_BASE: AtomicU32 = AtomicU32::new(0);
static XEN_DOMID: AtomicU32 = AtomicU32::new(u32::MAX);

static UNPLUG: AtomicU32 = AtomicU32::new(0);
/// The value written to the unplug port at load ([`UNPLUG_WRITTEN_VALID`] set), 0 if none: a
/// restored domain has a new device model, which must be told again (`suspend.rs`).
static UNPLUG_WRITTEN: AtomicU32 = AtomicU32::new(0);
const UNPLUG_WRITTEN_VALID: u32 = 1 << 16;

/// After a resume in a new domain: the emulated devices unplugged at load are unplugged again
/// (the new device model has them back; Linux's `xen_hvm_post_suspend` does the same). Returns
/// the value written, if any.
pub(crate) fn unplug_again() -> Option<u16> {
    let v = UNPLUG_WRITTEN.load(Ordering::Relaxed);
    if v & UNPLUG_WRITTEN_VALID == 0 {
        return None;
    }
    if let Err(e) = unplug::check_platform_magic(&mut Ports) {
        pr_err!(
            "resume: unplug handshake failed ({:?}): emulated devices may be back\n",
            e
        );
        return None;
    }
    let w = v as u16;
    sys::PortIo::outw(unplug::XEN_IOPORT_UNPLUG, w);
    Some(w)
}

pub(crate) fn xen_detected() -> bool {
    XEN_VERSION.load(Ordering::Acquire) != 0
}

/// Fails an exported call unless Xen was found (`-ENODEV`) and the device is bound (`-EAGAIN`).
fn need_xen() -> Result<(), Errno> {
    if !xen_detected() {
        return Err(Errno::ENODEV);
    }
    Ok(())
}

/// The C ABI's return value: 0, or the negative errno.
fn errno(r: Result<(), Errno>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_neg(),
    }
}

/// Exported to the other modules: see `abi::xpv_platform_get_info`.
///
/// # Safety
/// `info` must be valid for reads and writes of a `PlatformInfo`.
#[no_mangle]
pub unsafe extern "C" fn xpv_platform_get_info(info: *mut abi::PlatformInfo) -> i32 {
    // SAFETY: the caller passes a valid, writable `PlatformInfo`.
    let info = unsafe { &mut *info };
    if info.abi_version != abi::XPV_ABI_VERSION {
        pr_err!(
            "caller uses ABI version {}, this module {}: rebuild all modules together\n",
            info.abi_version,
            abi::XPV_ABI_VERSION
        );
        return -abi::EINVAL;
    }
    let version = XEN_VERSION.load(Ordering::Acquire);
    if version == 0 {
        return -abi::ENODEV;
    }
    let mut flags = 0;
    if events::ready() {
        flags |= abi::PLATFORM_EVENTS;
    }
    if gnttab::ready() {
        flags |= abi::PLATFORM_GRANTS;
    }
    *info = abi::PlatformInfo {
        abi_version: abi::XPV_ABI_VERSION,
        xen_major: (version >> 16) as u16,
        xen_minor: version as u16,
        hvm_features: XEN_HVM_FEATURES.load(Ordering::Relaxed),
        domid: XEN_DOMID.load(Ordering::Relaxed),
        unplug: UNPLUG.load(Ordering::Relaxed),
        flags,
    };
    0
}
const _: abi::PlatformGetInfoFn = xpv_platform_get_info;

/// Exported: see `abi::xpv_hvm_get_param`.
///
/// # Safety
/// `value` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn xpv_hvm_get_param(index: u32, value: *mut u64) -> i32 {
    if let Err(e) = need_xen() {
        return e.to_neg();
    }
    if index >= hvm::param::NR_PARAMS {
        return -abi::EINVAL;
    }
    match hypercall::hvm_get_param(index) {
        Ok(v) => {
            // SAFETY: the caller passes a writable u64.
            unsafe { *value = v };
            0
        }
        Err(e) => e.to_neg(),
    }
}
const _: abi::HvmGetParamFn = xpv_hvm_get_param;

/// Exported: see `abi::xpv_evtchn_alloc_unbound`.
///
/// # Safety
/// `port` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn xpv_evtchn_alloc_unbound(remote_dom: u16, port: *mut u32) -> i32 {
    if let Err(e) = need_xen() {
        return e.to_neg();
    }
    match hypercall::evtchn_alloc_unbound(remote_dom) {
        Ok(p) => {
            // SAFETY: the caller passes a writable u32.
            unsafe { *port = p };
            0
        }
        Err(e) => e.to_neg(),
    }
}
const _: abi::EvtchnAllocUnboundFn = xpv_evtchn_alloc_unbound;

/// Exported: see `abi::xpv_evtchn_bind_interdomain`.
///
/// # Safety
/// `local_port` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn xpv_evtchn_bind_interdomain(
    remote_dom: u16,
    remote_port: u32,
    local_port: *mut u32,
) -> i32 {
    if let Err(e) = need_xen() {
        return e.to_neg();
    }
    match hypercall::evtchn_bind_interdomain(remote_dom, remote_port) {
        Ok(p) => {
            // SAFETY: the caller passes a writable u32.
            unsafe { *local_port = p };
            0
        }
        Err(e) => e.to_neg(),
    }
}
const _: abi::EvtchnBindInterdomainFn = xpv_evtchn_bind_interdomain;

/// Exported: see `abi::xpv_evtchn_bind`.
///
/// # Safety
/// `handler` must be callable from hard interrupt context with `data` until
/// `xpv_evtchn_unbind(port)` returns.
#[no_mangle]
pub unsafe extern "C" fn xpv_evtchn_bind(
    port: u32,
    handler: abi::EvtchnHandler,
    data: *mut c_void,
) -> i32 {
    errno(need_xen().and_then(|()| events::bind(port, handler, data)))
}
const _: abi::EvtchnBindFn = xpv_evtchn_bind;

/// Exported: see `abi::xpv_evtchn_unbind`.
#[no_mangle]
pub extern "C" fn xpv_evtchn_unbind(port: u32) -> i32 {
    errno(need_xen().and_then(|()| events::unbind(port)))
}
const _: abi::EvtchnPortFn = xpv_evtchn_unbind;

/// Exported: see `abi::xpv_evtchn_close`.
#[no_mangle]
pub extern "C" fn xpv_evtchn_close(port: u32) -> i32 {
    errno(need_xen().and_then(|()| events::close(port)))
}
const _: abi::EvtchnPortFn = xpv_evtchn_close;

/// Exported: see `abi::xpv_evtchn_notify`.
#[no_mangle]
pub extern "C" fn xpv_evtchn_notify(port: u32) -> i32 {
    errno(need_xen().and_then(|()| events::notify(port)))
}
const _: abi::EvtchnPortFn = xpv_evtchn_notify;

/// Exported: see `abi::xpv_evtchn_eoi`.
#[no_mangle]
pub extern "C" fn xpv_evtchn_eoi(port: u32, spurious: u32) -> i32 {
    errno(need_xen().and_then(|()| events::late_eoi(port, spurious != 0)))
}
const _: abi::EvtchnEoiFn = xpv_evtchn_eoi;

/// Exported: see `abi::xpv_evtchn_spread`.
#[no_mangle]
pub extern "C" fn xpv_evtchn_spread(port: u32, index: u32) -> i32 {
    match need_xen().and_then(|()| events::spread(port, index)) {
        Ok(cpu) => cpu as i32,
        Err(e) => e.to_neg(),
    }
}
const _: abi::EvtchnSpreadFn = xpv_evtchn_spread;

/// Exported: see `abi::xpv_memory_reservation`.
///
/// # Safety
/// `gfns` must point to `count` `u64`s, readable and writable, not used elsewhere during the
/// call.
#[no_mangle]
pub unsafe extern "C" fn xpv_memory_reservation(cmd: u32, gfns: *mut u64, count: u32) -> i32 {
    if let Err(e) = need_xen() {
        return e.to_neg();
    }
    let ok_cmd = matches!(
        cmd,
        hvm::XENMEM_DECREASE_RESERVATION | hvm::XENMEM_POPULATE_PHYSMAP
    );
    if !ok_cmd || gfns.is_null() || count as usize > hvm::RESERVATION_BATCH {
        return -abi::EINVAL;
    }
    // SAFETY: the caller passes `count` exclusive u64s at `gfns` (checked non-null above).
    let gfns = unsafe { core::slice::from_raw_parts_mut(gfns, count as usize) };
    if gfns.is_empty() {
        return 0;
    }
    match hypercall::memory_reservation(cmd, gfns) {
        // At most `count` (<= 512).
        Ok(n) => n.min(u64::from(count)) as i32,
        Err(e) => e.to_neg(),
    }
}
const _: abi::MemoryReservationFn = xpv_memory_reservation;

/// Exported: see `abi::xpv_gnttab_grant_access`.
///
/// # Safety
/// `gref` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn xpv_gnttab_grant_access(
    domid: u16,
    gfn: u64,
    readonly: u32,
    gref: *mut u32,
) -> i32 {
    if let Err(e) = need_xen() {
        return e.to_neg();
    }
    match gnttab::grant(domid, gfn, readonly != 0) {
        Ok(r) => {
            // SAFETY: the caller passes a writable u32.
            unsafe { *gref = r };
            0
        }
        Err(e) => e.to_neg(),
    }
}
const _: abi::GnttabGrantAccessFn = xpv_gnttab_grant_access;

/// Exported: see `abi::xpv_gnttab_end_access`.
#[no_mangle]
pub extern "C" fn xpv_gnttab_end_access(gref: u32) -> i32 {
    errno(need_xen().and_then(|()| gnttab::end(gref)))
}
const _: abi::GnttabEndAccessFn = xpv_gnttab_end_access;

/// What a probe set up; dropped in `remove` (in reverse order of setup).
struct Bound {
    grant_map: Option<sys::MemRemap>,
    /// Per-vCPU upcall vectors (CPU hotplug state), when in use.
    vectors: Option<sys::CpuhpState>,
    irq: sys::Irq,
    shared_map: sys::MemRemap,
}

/// The bound device's resources. Probe and remove of our single device are serialised by the
/// driver core (and `BOUND` refuses a second device), so this needs no lock.
struct BoundCell(core::cell::UnsafeCell<Option<Bound>>);
// SAFETY: only touched from probe/remove of the one bound device, which never run concurrently.
unsafe impl Sync for BoundCell {}
static BOUND_STATE: BoundCell = BoundCell(core::cell::UnsafeCell::new(None));
static BOUND: AtomicBool = AtomicBool::new(false);
/// A unique, non-NULL `dev_id` for our shared interrupt.
static IRQ_COOKIE: u8 = 0;

const DRV_NAME: &core::ffi::CStr = c"xen-platform-pci";

/// Callback "via" text for the log.
fn via_str(v: &hvm::CallbackVia) -> (&'static str, u32) {
    match *v {
        hvm::CallbackVia::Gsi(g) => ("GSI", g),
        hvm::CallbackVia::PciIntx { pin, .. } => ("PCI INTx pin", u32::from(pin)),
    }
}

/// Steps 1–3 of the module doc. On error everything done so far is undone by the drops.
fn setup(dev: &PciDev) -> Result<Bound> {
    let name = dev.name();
    let (io, _) = dev.resource(0);
    let (mmio, mmio_len) = dev.resource(1);
    if io == 0 || mmio == 0 {
        pr_err!(
            "{:?}: no resources found (BAR0 {:#x}, BAR1 {:#x})\n",
            name,
            io,
            mmio
        );
        return Err(ENOENT);
    }
    let (gnt_nr, gnt_max) = hypercall::gnttab_query_size().unwrap_or((0, 0));
    let layout =
        hvm::mmio_layout(mmio, mmio_len, gnt_max.min(gnttab::MAX_FRAMES)).map_err(|_| {
            pr_err!(
                "{:?}: MMIO BAR {:#x}+{:#x} too small\n",
                name,
                mmio,
                mmio_len
            );
            ENOSPC
        })?;

    // 1. Shared info page.
    let mut xatp = hvm::XenAddToPhysmap::shared_info(layout.shared_info_gpfn);
    if let Err(e) = hypercall::add_to_physmap(&mut xatp) {
        pr_err!("XENMEM_add_to_physmap(shared_info) failed: {}\n", e);
        return Err(e.into());
    }
    let shared_map = sys::MemRemap::new(layout.shared_info_gpfn << 12, 4096)?;

    // 2. Upcall interrupt, then the callback parameter.
    let (seg, bus, devfn, pin, irq) = dev.location();
    let via = hvm::CallbackVia::for_device(irq, seg, bus, devfn, pin).map_err(|e| {
        pr_err!(
            "{:?}: no interrupt pin ({}) and IRQ {}: no event callback\n",
            name,
            e.0,
            irq
        );
        ENODEV
    })?;
    // SAFETY: `upcall_irq` only touches the shared info page through `events`, which checks that
    // it is mapped; the cookie is a unique static address.
    let irq_reg = unsafe {
        sys::Irq::request(
            irq,
            events::upcall_irq,
            DRV_NAME,
            core::ptr::from_ref::<u8>(&IRQ_COOKIE) as *mut c_void,
        )
    }?;
    if let Err(e) = sys::irq_set_affinity_cpu(irq, 0) {
        pr_warn!("could not route IRQ {} to CPU 0 ({:?})\n", irq, e);
    }
    // SAFETY: the mapping lives in `Bound` until `remove` has called `events::stop`.
    unsafe { events::prepare(shared_map.as_ptr().cast(), irq_reg.number()) };
    if let Err(e) = hypercall::hvm_set_param(hvm::param::CALLBACK_IRQ, via.param_value()) {
        pr_err!(
            "HVM_PARAM_CALLBACK_IRQ = {:#x} failed: {}\n",
            via.param_value(),
            e
        );
        events::stop();
        return Err(e.into());
    }
    // The 64-bit shared info layout is latched now.
    events::activate();
    suspend::record(layout.shared_info_gpfn, via.param_value());
    let (kind, n) = via_str(&via);
    pr_info!(
        "shared_info mapped at gpfn {:#x}; event callback via {} {} (IRQ {}, param {:#x}), 2-level event channels\n",
        layout.shared_info_gpfn,
        kind,
        n,
        irq,
        via.param_value()
    );

    // 2b. Per-vCPU upcall vectors (Linux's callback vector), unless disabled; else everything
    // keeps arriving through the INTx/GSI callback on vCPU 0.
    let vectors = match no_vector_callback() {
        Some(why) => {
            pr_info!(
                "Xen HVM callback vector for event delivery is disabled ({}): events through {} {} on vCPU 0\n",
                why,
                kind,
                n
            );
            None
        }
        None => match events::start_vectors(
            XEN_CPUID_BASE.load(Ordering::Relaxed),
            XEN_HVM_FEATURES.load(Ordering::Relaxed),
        ) {
            Ok(st) => {
                pr_info!(
                    "Xen HVM callback vector for event delivery is enabled: an upcall vector per vCPU ({} online CPUs)\n",
                    sys::num_online_cpus()
                );
                Some(st)
            }
            Err(why) => {
                pr_info!(
                    "Xen HVM callback vector for event delivery is not available ({}): events through {} {} on vCPU 0\n",
                    why,
                    kind,
                    n
                );
                None
            }
        },
    };

    // 3. Grant table frames, from the highest so that the table grows once (as Linux); room is
    // laid out and mapped for the most frames Xen allows (`gnttab::MAX_FRAMES` at most), into
    // which the table grows when references run out.
    let mut grant_map = None;
    let frames = layout.grant_frames.min(gnttab::INITIAL_FRAMES);
    let mut ok = gnt_max > 0;
    if ok {
        for i in (0..frames).rev() {
            let mut x = hvm::XenAddToPhysmap::grant_frame(i, layout.grant_gpfn + u64::from(i));
            if let Err(e) = hypercall::add_to_physmap(&mut x) {
                pr_err!("XENMEM_add_to_physmap(grant_table, {}) failed: {}\n", i, e);
                ok = false;
                break;
            }
        }
    } else {
        pr_err!("GNTTABOP_query_size failed: no grant table\n");
    }
    if ok {
        let max = layout.grant_frames;
        match sys::MemRemap::new(layout.grant_gpfn << 12, max as usize * 4096) {
            Ok(m) => {
                // SAFETY: the mapping covers `max` frames from `grant_gpfn`, the first `frames`
                // placed above, and lives in `Bound` until `remove` has called `gnttab::stop`.
                let started =
                    unsafe { gnttab::start(m.as_ptr().cast(), layout.grant_gpfn, frames, max) };
                match started {
                    Ok(()) => {
                        pr_info!(
                            "grant table v1: {} frames at gpfn {:#x}, growing up to {} (Xen: {} in use, max {}), {} references\n",
                            frames,
                            layout.grant_gpfn,
                            gnttab::frames().1,
                            gnt_nr,
                            gnt_max,
                            gnttab::free_count()
                        );
                        grant_map = Some(m);
                    }
                    Err(e) => pr_err!(
                        "no memory for the grant reference list ({:?}): no grants\n",
                        e
                    ),
                }
            }
            Err(e) => pr_err!("cannot map the grant table ({:?}): no grants\n", e),
        }
    }
    // 4. The `xen` clocksource, last: nothing after it fails the set-up.
    // SAFETY: the shared info mapping lives in `Bound` until `teardown` has called `clock::stop`.
    unsafe {
        clock::start(
            shared_map.as_ptr().cast(),
            XEN_CPUID_BASE.load(Ordering::Relaxed),
            XEN_HVM_FEATURES.load(Ordering::Relaxed),
        )
    };
    Ok(Bound {
        grant_map,
        vectors,
        irq: irq_reg,
        shared_map,
    })
}

fn teardown(b: Bound) {
    // The kernel's clock off Xen's time records first (it switches to its next best).
    let clock_off = clock::stop();
    // Stop upcalls first, then forget handlers and wait for a running one.
    let _ = hypercall::hvm_set_param(hvm::param::CALLBACK_IRQ, 0);
    events::stop();
    let active = gnttab::stop();
    if active != 0 {
        pr_warn!(
            "{} grants still active at unbind: their pages stay granted\n",
            active
        );
    }
    let Bound {
        grant_map,
        vectors,
        irq,
        shared_map,
    } = b;
    // Frees each CPU's vector interrupt (every port is masked: no upcall follows).
    drop(vectors);
    drop(irq);
    drop(grant_map);
    if clock_off {
        drop(shared_map);
    } else {
        // The clocksource still reads the page: it stays mapped.
        core::mem::forget(shared_map);
    }
}

struct PlatformPci;

impl PciDriverOps for PlatformPci {
    fn probe(dev: &PciDev) -> Result {
        let (vendor, device) = dev.ids();
        if !xen_detected() {
            pr_err!(
                "{:?}: {:04x}:{:04x} present but CPUID shows no Xen: refusing to bind\n",
                dev.name(),
                vendor,
                device
            );
            return Err(ENODEV);
        }
        if BOUND.swap(true, Ordering::AcqRel) {
            pr_err!("{:?}: a platform device is already bound\n", dev.name());
            return Err(EBUSY);
        }
        let r = (|| -> Result {
            dev.enable()?;
            if let Err(e) = dev.request_region(1, DRV_NAME) {
                dev.disable();
                return Err(e);
            }
            if let Err(e) = dev.request_region(0, DRV_NAME) {
                dev.release_region(1);
                dev.disable();
                return Err(e);
            }
            match setup(dev) {
                Ok(b) => {
                    // SAFETY: probe/remove are serialised; nothing else touches the cell.
                    unsafe { *BOUND_STATE.0.get() = Some(b) };
                    Ok(())
                }
                Err(e) => {
                    let _ = hypercall::hvm_set_param(hvm::param::CALLBACK_IRQ, 0);
                    events::stop();
                    gnttab::stop();
                    dev.release_region(0);
                    dev.release_region(1);
                    dev.disable();
                    Err(e)
                }
            }
        })();
        if let Err(e) = r {
            BOUND.store(false, Ordering::Release);
            return Err(e);
        }
        pr_info!(
            "{:?}: Xen platform device {:04x}:{:04x} bound\n",
            dev.name(),
            vendor,
            device
        );
        if want_selftest() {
            selftest::run();
        }
        Ok(())
    }

    fn remove(dev: &PciDev) {
        // SAFETY: probe/remove are serialised; nothing else touches the cell.
        if let Some(b) = unsafe { (*BOUND_STATE.0.get()).take() } {
            // Pages waiting for their grants to be revoked: a last try while the grant table is
            // still mapped (the frontends, which hand them over, are gone by now).
            sys::pages_deferred_shutdown();
            teardown(b);
        }
        dev.release_region(0);
        dev.release_region(1);
        dev.disable();
        BOUND.store(false, Ordering::Release);
        pr_info!(
            "{:?}: Xen platform device unbound ({} stray events)\n",
            dev.name(),
            events::stray_count()
        );
    }
}

struct XenPlatform {
    _pci: PciDriver,
}

fn detect_xen() {
    let cpuid = |leaf: u32| {
        let r = core::arch::x86_64::__cpuid(leaf);
        [r.eax, r.ebx, r.ecx, r.edx]
    };
    match cpuid::detect(cpuid) {
        Ok(x) => {
            let insn = hypercall::init();
            XEN_HVM_FEATURES.store(x.hvm_features, Ordering::Relaxed);
            XEN_CPUID_BASE.store(x.base, Ordering::Relaxed);
            XEN_DOMID.store(x.domid.map_or(u32::MAX, u32::from), Ordering::Relaxed);
            XEN_VERSION.store(
                (u32::from(x.major) << 16) | u32::from(x.minor),
                Ordering::Release,
            );
            pr_info!(
                "Xen {}.{} detected (CPUID base {:#x}, HVM features {:#x}, domid {}, vCPU id {}); hypercalls by {}\n",
                x.major,
                x.minor,
                x.base,
                x.hvm_features,
                x.domid.map_or(-1, i32::from),
                x.vcpu_id.map_or(-1, |v| v as i32),
                match insn {
                    hvm::HypercallInsn::Vmcall => "vmcall",
                    hvm::HypercallInsn::Vmmcall => "vmmcall",
                }
            );
            match hypercall::xen_version() {
                Ok((maj, min)) => pr_info!("XENVER_version: {}.{}\n", maj, min),
                Err(e) => pr_warn!("XENVER_version failed: {}\n", e),
            }
        }
        Err(cpuid::CpuidError::NoHypervisor) => {
            pr_info!("Xen not detected (no hypervisor in CPUID): not binding any device\n");
        }
        Err(cpuid::CpuidError::NotXen { signature }) => {
            let sig = core::str::from_utf8(&signature)
                .unwrap_or("?")
                .trim_end_matches('\0');
            pr_info!(
                "Xen not detected (hypervisor signature {:?}): not binding any device\n",
                sig
            );
        }
    }
}

/// The kernel command line (`/proc/cmdline`), up to 4 KiB; `None` if it cannot be read.
fn read_cmdline() -> Option<KVec<u8>> {
    let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL).ok()?;
    match sys::read_cmdline(&mut buf) {
        // NUL-terminated (and zero-filled): the parsers stop at the NUL.
        Ok(_) => Some(buf),
        Err(e) => {
            pr_warn!("cannot read the kernel command line ({:?})\n", e);
            None
        }
    }
}

/// Whether to run the self-tests: module parameter `selftest`, or `xen_platform.selftest=` on
/// the kernel command line (which `modprobe` would pass, but `insmod` does not).
fn want_selftest() -> bool {
    if sys::param_selftest() {
        return true;
    }
    let Some(c) = read_cmdline() else {
        return false;
    };
    unplug::cmdline_values(&c, b"xen_platform.selftest")
        .last()
        .flatten()
        .is_some_and(|v| matches!(v, b"1" | b"y" | b"Y"))
}

/// Why per-vCPU upcall vectors are not to be used, if they are not: module parameter
/// `no_vector_callback=1`, or `xen_no_vector_callback` on the kernel command line (Linux's
/// parameter, same meaning: keep the INTx/GSI callback).
fn no_vector_callback() -> Option<&'static str> {
    if sys::param_no_vector_callback() {
        return Some("no_vector_callback=1");
    }
    let c = read_cmdline()?;
    // A bare word or with a value ("xen_no_vector_callback" / "=1"), as Linux's early_param.
    let v = unplug::cmdline_values(&c, b"xen_no_vector_callback");
    match v.last() {
        Some(None) | Some(Some(b"1" | b"y" | b"Y")) => Some("xen_no_vector_callback"),
        _ => None,
    }
}

/// Port I/O of the unplug protocol.
struct Ports;

impl unplug::PlatformIo for Ports {
    fn inb(&mut self, port: u16) -> u8 {
        sys::PortIo::inb(port)
    }
    fn inw(&mut self, port: u16) -> u16 {
        sys::PortIo::inw(port)
    }
    fn outw(&mut self, port: u16, value: u16) {
        sys::PortIo::outw(port, value)
    }
    fn outl(&mut self, port: u16, value: u32) {
        sys::PortIo::outl(port, value)
    }
}

fn mask_names(mask: u32) -> ([&'static str; 6], usize) {
    let mut out = [""; 6];
    let mut n = 0;
    for (name, bits) in [
        ("ide-disks", unplug::XEN_UNPLUG_ALL_IDE_DISKS),
        ("nics", unplug::XEN_UNPLUG_ALL_NICS),
        ("aux-ide-disks", unplug::XEN_UNPLUG_AUX_IDE_DISKS),
        ("nvme-disks", unplug::XEN_UNPLUG_NVME_DISKS),
        ("unnecessary", unplug::XEN_UNPLUG_UNNECESSARY),
        ("never", unplug::XEN_UNPLUG_NEVER),
    ] {
        if mask & bits != 0 {
            out[n] = name;
            n += 1;
        }
    }
    (out, n)
}

/// The `xen_emul_unplug` mask: the module parameter if given, else the kernel command line;
/// `(mask, explicit)`. Unknown values: `pr_err` and the default (0).
fn emul_unplug_setting(cmdline: Option<&[u8]>) -> (u32, bool) {
    let param = sys::param_emul_unplug().to_bytes();
    if !param.is_empty() {
        return match unplug::parse_emul_unplug(Some(param)) {
            Ok(m) => (m, true),
            Err(bad) => {
                pr_err!(
                    "xen_emul_unplug={:?}: unknown value {:?}, using the default\n",
                    core::str::from_utf8(param).unwrap_or("?"),
                    core::str::from_utf8(bad.token).unwrap_or("?")
                );
                (0, false)
            }
        };
    }
    let Some(cmdline) = cmdline else {
        return (0, false);
    };
    match unplug::emul_unplug_from_cmdline(cmdline) {
        Ok(Some(m)) => (m, true),
        Ok(None) => (0, false),
        Err(bad) => {
            pr_err!(
                "xen_emul_unplug: unknown value {:?} on the kernel command line, using the default\n",
                core::str::from_utf8(bad.token).unwrap_or("?")
            );
            (0, false)
        }
    }
}

/// Linux's `xen_unplug_emulated_devices()`, at module load.
fn unplug_emulated(cmdline: Option<&[u8]>) {
    let (mask, explicit) = emul_unplug_setting(cmdline);
    let platform = if unplug::should_check_platform(mask) {
        unplug::check_platform_magic(&mut Ports)
    } else {
        Ok(())
    };
    match platform {
        Ok(()) => {}
        Err(unplug::PlatformError::Magic { read }) => {
            pr_warn!(
                "unplug: no platform magic (read {:#x}): emulated devices stay\n",
                read
            )
        }
        Err(unplug::PlatformError::Protocol { version }) => {
            pr_warn!(
                "unplug: unknown protocol version {}: emulated devices stay\n",
                version
            )
        }
        Err(unplug::PlatformError::Blacklisted { read }) => {
            pr_warn!(
                "unplug: this driver is blacklisted by the host ({:#x})\n",
                read
            )
        }
    }
    if platform.is_ok() && unplug::should_check_platform(mask) {
        pr_info!(
            "unplug protocol v{}: announced product {} build {}\n",
            unplug::XEN_UNPLUG_PROTOCOL_VERSION,
            unplug::XEN_IOPORT_LINUX_PRODNUM,
            unplug::XEN_IOPORT_LINUX_DRVVER
        );
    }
    let d = unplug::unplug_decision(mask, platform, true, true);
    let (nic_n, nic_bound) = sys::pci_class_count(0x0200);
    let (ide_n, ide_bound) = sys::pci_class_count(0x0101);
    let bound = unplug::BoundEmulated {
        nics: nic_bound > 0,
        disks: ide_bound > 0,
    };
    let (d, skipped) = unplug::guard_late_unplug(d, explicit, bound);
    if skipped != 0 {
        let (names, n) = mask_names(skipped);
        pr_warn!(
            "unplug: not unplugging {:?}: the emulated device already has a driver (built-in \
             drivers bind before a module loads; pass xen_emul_unplug= to force)\n",
            &names[..n]
        );
    }
    if let Some(w) = d.write {
        if explicit
            && (u32::from(w) & unplug::XEN_UNPLUG_ALL_NICS != 0 && nic_bound > 0
                || u32::from(w)
                    & (unplug::XEN_UNPLUG_ALL_IDE_DISKS | unplug::XEN_UNPLUG_AUX_IDE_DISKS)
                    != 0
                    && ide_bound > 0)
        {
            pr_warn!("unplug: pulling emulated devices from under their driver, as asked\n");
        }
        sys::PortIo::outw(unplug::XEN_IOPORT_UNPLUG, w);
        UNPLUG_WRITTEN.store(UNPLUG_WRITTEN_VALID | u32::from(w), Ordering::Relaxed);
        // QEMU removes the NICs from its bus at once (the disks only lose their drives: the IDE
        // controller stays). Linux enumerated them at boot: drop them as a hot-unplug would, so
        // that a NIC driver loaded later does not probe a device that is gone.
        if u32::from(w) & unplug::XEN_UNPLUG_ALL_NICS != 0 {
            let n = sys::remove_vanished_pci(0x0200);
            if n != 0 {
                pr_info!("unplug: removed {} unplugged NIC(s) from the PCI tree\n", n);
            }
        }
    }
    UNPLUG.store(d.platform_pci_unplug, Ordering::Relaxed);
    let (names, n) = mask_names(u32::from(d.write.unwrap_or(0)));
    let (pnames, pn) = mask_names(d.platform_pci_unplug);
    pr_info!(
        "unplug: xen_emul_unplug {:#x} ({}), wrote {:#x} {:?}; PV devices: {:?} (NICs {}/{} bound, IDE {}/{} bound)\n",
        mask,
        if explicit { "given" } else { "default" },
        d.write.unwrap_or(0),
        &names[..n],
        &pnames[..pn],
        nic_bound,
        nic_n,
        ide_bound,
        ide_n
    );
}

impl kernel::Module for XenPlatform {
    fn init(module: &'static ThisModule) -> Result<Self> {
        if sys::kernel_has_xen() {
            pr_err!("this kernel has its own Xen support (CONFIG_XEN): refusing to load\n");
            return Err(EBUSY);
        }
        let (present, driver) = sys::pci_bound_driver(XEN_PLATFORM_VENDOR, XEN_PLATFORM_DEVICE);
        if let Some(d) = driver {
            pr_err!(
                "the Xen platform device is already driven by {:?}: refusing to load\n",
                d
            );
            return Err(EBUSY);
        }
        detect_xen();
        if xen_detected() {
            if present {
                let cmdline = read_cmdline();
                unplug_emulated(cmdline.as_deref());
            } else {
                pr_warn!("no Xen platform PCI device: no unplug, no PV services\n");
            }
        }
        let pci = PciDriver::register::<PlatformPci>(DRV_NAME, &PCI_IDS, module)?;
        Ok(XenPlatform { _pci: pci })
    }
}

impl Drop for XenPlatform {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
