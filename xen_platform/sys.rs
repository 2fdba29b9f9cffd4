// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_platform touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h`) and safe wrappers over it.

use core::ffi::{c_void, CStr};
use kernel::prelude::*;
use kernel::types::Opaque;

bindgen_module!();

pub(crate) use b::{pci_dev, pci_device_id};

/// `PCI_ANY_ID`: wildcard for sub-vendor/sub-device matches.
const PCI_ANY_ID: u32 = !0;

/// An entry of a PCI id table matching `vendor:device` with any subsystem ids
/// (`PCI_DEVICE(vendor, device)`); `pci_id(0, 0)` is the table terminator.
pub(crate) const fn pci_id(vendor: u32, device: u32) -> pci_device_id {
    let mut id = pci_device_id {
        vendor,
        device,
        subvendor: PCI_ANY_ID,
        subdevice: PCI_ANY_ID,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    if vendor == 0 {
        id.subvendor = 0;
        id.subdevice = 0;
    }
    id
}

/// A PCI device handed to a probe or remove callback. Valid only during that callback.
pub(crate) struct PciDev(*mut pci_dev);

impl PciDev {
    /// The device's name on the PCI bus (`0000:00:03.0`).
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: `self.0` is a live device during the callback; `pci_name` returns the device's
        // NUL-terminated name, which lives as long as the device.
        unsafe { crate::kernel_common::cstr_from_ptr(b::xpv_shim_pci_name(self.0).cast()) }
    }

    /// Vendor and device id.
    pub(crate) fn ids(&self) -> (u16, u16) {
        // SAFETY: `self.0` is a live device during the callback.
        unsafe { ((*self.0).vendor, (*self.0).device) }
    }

    /// `pci_enable_device`.
    pub(crate) fn enable(&self) -> Result {
        // SAFETY: `self.0` is a live device during the callback.
        let ret = unsafe { b::pci_enable_device(self.0) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Start and length of BAR `bar`, in bytes (`pci_resource_start`/`pci_resource_len`).
    pub(crate) fn resource(&self, bar: i32) -> (u64, u64) {
        // SAFETY: `self.0` is a live device during the callback.
        unsafe {
            (
                b::xpv_shim_pci_resource_start(self.0, bar),
                b::xpv_shim_pci_resource_len(self.0, bar),
            )
        }
    }

    /// Segment, bus, devfn, interrupt pin (1 = INTA, 0 = none) and Linux IRQ number.
    pub(crate) fn location(&self) -> (u16, u8, u8, u8, u32) {
        let (mut seg, mut bus, mut devfn, mut pin, mut irq) = (0u16, 0u8, 0u8, 0u8, 0u32);
        // SAFETY: `self.0` is a live device during the callback; the out-pointers are valid.
        unsafe {
            b::xpv_shim_pci_location(self.0, &mut seg, &mut bus, &mut devfn, &mut pin, &mut irq)
        };
        (seg, bus, devfn, pin, irq)
    }

    /// `pci_request_region(dev, bar, name)`: claims BAR `bar` for this driver.
    pub(crate) fn request_region(&self, bar: i32, name: &'static CStr) -> Result {
        // SAFETY: `self.0` is live; `name` is 'static (the resource keeps the pointer).
        let ret =
            unsafe { b::pci_request_region(self.0, bar, crate::kernel_common::c_ptr(name).cast()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// `pci_release_region`, undoing a successful [`Self::request_region`].
    pub(crate) fn release_region(&self, bar: i32) {
        // SAFETY: `self.0` is live and the region was requested by us.
        unsafe { b::pci_release_region(self.0, bar) };
    }

    /// `pci_disable_device`, undoing a successful [`Self::enable`].
    pub(crate) fn disable(&self) {
        // SAFETY: `self.0` is a live device during the callback and was enabled in probe.
        unsafe { b::pci_disable_device(self.0) };
    }
}

/// Callbacks of a PCI driver: plain functions, as the driver has no per-device state yet.
pub(crate) trait PciDriverOps {
    /// Called for each matching device; an error leaves the device unbound.
    fn probe(dev: &PciDev) -> Result;
    /// Called when a bound device goes away or the driver is unregistered.
    fn remove(dev: &PciDev);
}

/// `probe` of our `pci_driver`.
///
/// # Safety
/// Called by the PCI core with a live device.
unsafe extern "C" fn probe_trampoline<T: PciDriverOps>(
    pdev: *mut pci_dev,
    _id: *const pci_device_id,
) -> kernel::ffi::c_int {
    match T::probe(&PciDev(pdev)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `remove` of our `pci_driver`.
///
/// # Safety
/// Called by the PCI core with a live, bound device.
unsafe extern "C" fn remove_trampoline<T: PciDriverOps>(pdev: *mut pci_dev) {
    T::remove(&PciDev(pdev));
}

/// A registered PCI driver (`__pci_register_driver`); unregistered on drop.
pub(crate) struct PciDriver {
    drv: Pin<KBox<Opaque<b::pci_driver>>>,
}

// SAFETY: after registration the `pci_driver` is only accessed by the PCI core, which serialises
// its own accesses; we only pass its address to `pci_unregister_driver`.
unsafe impl Send for PciDriver {}
// SAFETY: as above, `&PciDriver` gives no access to the inner struct.
unsafe impl Sync for PciDriver {}

impl PciDriver {
    /// Registers driver `name` for the devices in `ids` (terminated by `pci_id(0, 0)`).
    pub(crate) fn register<T: PciDriverOps>(
        name: &'static CStr,
        ids: &'static [pci_device_id],
        module: &'static ThisModule,
    ) -> Result<Self> {
        if ids.last().map(|id| id.vendor) != Some(0) {
            return Err(EINVAL);
        }
        let drv = KBox::pin(Opaque::new(b::pci_driver::default()), GFP_KERNEL)?;
        let raw = drv.get();
        // SAFETY: `raw` points to our freshly allocated, not yet registered driver struct; the
        // name and id table are 'static; the box is pinned and outlives the registration
        // (unregistered in `drop` before being freed).
        let ret = unsafe {
            (*raw).name = crate::kernel_common::c_ptr(name).cast();
            (*raw).id_table = ids.as_ptr();
            (*raw).probe = Some(probe_trampoline::<T>);
            (*raw).remove = Some(remove_trampoline::<T>);
            b::__pci_register_driver(
                raw,
                module.as_ptr().cast(),
                crate::kernel_common::c_ptr(name).cast(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(Self { drv })
    }
}

impl Drop for PciDriver {
    fn drop(&mut self) {
        // SAFETY: the driver was registered in `register` and is unregistered exactly once here;
        // this unbinds (calls `remove` for) every bound device first.
        unsafe { b::pci_unregister_driver(self.drv.get()) };
    }
}

/// Name of the driver bound to a present `vendor:device`: `(present, Some(driver))`.
pub(crate) fn pci_bound_driver(vendor: u32, device: u32) -> (bool, Option<&'static CStr>) {
    let mut present = 0;
    // SAFETY: `present` is a valid out-pointer; the returned name, if any, belongs to a
    // registered driver (static storage of the driver's module).
    let name = unsafe { b::xpv_shim_pci_bound_driver(vendor, device, &mut present) };
    let name = if name.is_null() {
        None
    } else {
        // SAFETY: non-NULL, NUL-terminated driver name.
        Some(unsafe { crate::kernel_common::cstr_from_ptr(name.cast()) })
    };
    (present != 0, name)
}

/// Number of PCI devices of class `class16` (`base << 8 | sub`, e.g. 0x0200 Ethernet) and how many
/// of them have a driver bound.
pub(crate) fn pci_class_count(class16: u32) -> (u32, u32) {
    let mut bound = 0;
    // SAFETY: `bound` is a valid out-pointer.
    let n = unsafe { b::xpv_shim_pci_class_count(class16, &mut bound) };
    (n.max(0) as u32, bound.max(0) as u32)
}

/// Removes from Linux's PCI tree the devices of class `class16` that QEMU dropped (vendor id
/// reads 0xffff), as a hot-unplug would; returns how many. May sleep.
pub(crate) fn remove_vanished_pci(class16: u32) -> u32 {
    // SAFETY: plain argument; process context.
    let n = unsafe { b::xpv_shim_remove_vanished_pci(class16) };
    n.max(0) as u32
}

/// An interrupt handler's return value (`irqreturn_t`).
pub(crate) type IrqReturn = b::irqreturn;
/// `IRQ_HANDLED`.
pub(crate) const IRQ_HANDLED: IrqReturn = b::irqreturn_IRQ_HANDLED;
/// `IRQ_NONE`.
pub(crate) const IRQ_NONE: IrqReturn = b::irqreturn_IRQ_NONE;
/// A hard interrupt handler, `handler(irq, dev_id)`.
pub(crate) type IrqHandler = unsafe extern "C" fn(kernel::ffi::c_int, *mut c_void) -> IrqReturn;

/// A registered interrupt handler (`request_irq`); freed on drop (`free_irq`, which waits for a
/// running handler).
pub(crate) struct Irq {
    irq: u32,
    dev_id: *mut c_void,
}

// SAFETY: `Irq` only holds the numbers needed to free the registration.
unsafe impl Send for Irq {}
// SAFETY: as above.
unsafe impl Sync for Irq {}

impl Irq {
    /// `request_irq(irq, handler, IRQF_SHARED | IRQF_NOBALANCING, name, dev_id)`.
    ///
    /// # Safety
    /// `handler` must be callable in hard interrupt context with `dev_id` until the `Irq` is
    /// dropped; `dev_id` must be unique to this registration (the line is shared).
    pub(crate) unsafe fn request(
        irq: u32,
        handler: IrqHandler,
        name: &'static CStr,
        dev_id: *mut c_void,
    ) -> Result<Self> {
        let flags = (b::IRQF_SHARED | b::IRQF_NOBALANCING) as usize;
        // SAFETY: the caller guarantees handler and dev_id validity; `name` is 'static.
        let ret = unsafe {
            b::request_threaded_irq(
                irq,
                Some(handler),
                None,
                flags,
                crate::kernel_common::c_ptr(name).cast(),
                dev_id,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(Self { irq, dev_id })
    }

    /// The IRQ number.
    pub(crate) fn number(&self) -> u32 {
        self.irq
    }
}

impl Drop for Irq {
    fn drop(&mut self) {
        // SAFETY: registered in `request` with this dev_id; freed exactly once.
        unsafe { b::free_irq(self.irq, self.dev_id) };
    }
}

/// `synchronize_irq`: waits until no handler of `irq` is running. May sleep.
pub(crate) fn synchronize_irq(irq: u32) {
    // SAFETY: any IRQ number is accepted.
    unsafe { b::synchronize_irq(irq) };
}

/// A per-vCPU upcall interrupt: allocated in the x86 vector domain on one CPU, requested with a
/// handler; freed (`free_irq`, `irq_dispose_mapping`) on drop.
pub(crate) struct UpcallIrq {
    irq: u32,
    dev: *mut c_void,
    vector: u8,
}

// SAFETY: only numbers and the opaque `dev` cookie, needed to free the registration.
unsafe impl Send for UpcallIrq {}
// SAFETY: as above.
unsafe impl Sync for UpcallIrq {}

impl UpcallIrq {
    /// An interrupt on `cpu` (online) only, handled by `handler(irq, dev)`.
    ///
    /// # Errors
    /// `EINVAL` (CPU not online), `ENOSPC`/`ENOMEM` (no vector), `EIO` (the vector did not land
    /// on `cpu`), or the errno of `request_irq`.
    ///
    /// # Safety
    /// `handler` must be callable in hard interrupt context with `dev` until the value is dropped.
    pub(crate) unsafe fn alloc(
        cpu: u32,
        handler: IrqHandler,
        name: &'static CStr,
        dev: *mut c_void,
    ) -> Result<Self> {
        let mut vector = 0u32;
        // SAFETY: the caller vouches for handler and dev; `name` is 'static; `vector` writable.
        let irq = unsafe {
            b::xpv_shim_upcall_irq_alloc(
                cpu,
                Some(handler),
                crate::kernel_common::c_ptr(name).cast(),
                dev,
                &mut vector,
            )
        };
        if irq < 0 {
            return Err(Error::from_errno(irq));
        }
        let vector = u8::try_from(vector).map_err(|_| EIO)?;
        Ok(Self {
            irq: irq as u32,
            dev,
            vector,
        })
    }

    /// The Linux IRQ number.
    pub(crate) fn number(&self) -> u32 {
        self.irq
    }

    /// The IDT vector on its CPU.
    pub(crate) fn vector(&self) -> u8 {
        self.vector
    }
}

impl Drop for UpcallIrq {
    fn drop(&mut self) {
        // SAFETY: allocated by `alloc` with this cookie, freed once.
        unsafe { b::xpv_shim_upcall_irq_free(self.irq, self.dev) };
    }
}

/// The CPU we run on (`raw_smp_processor_id`: callers are pinned, e.g. in hard IRQ context).
pub(crate) fn smp_processor_id() -> u32 {
    // SAFETY: no preconditions.
    unsafe { b::xpv_shim_smp_processor_id() }
}

/// CPUID `leaf` run on `cpu` (eax, ebx, ecx, edx). Process context.
pub(crate) fn cpuid_on(cpu: u32, leaf: u32) -> Result<[u32; 4]> {
    let mut r = [0u32; 4];
    // SAFETY: `r` holds the 4 registers the shim writes.
    let ret = unsafe { b::xpv_shim_cpuid_on(cpu, leaf, r.as_mut_ptr()) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(r)
}

/// The n-th online CPU, if any.
pub(crate) fn nth_online_cpu(n: u32) -> Option<u32> {
    // SAFETY: no preconditions.
    let c = unsafe { b::xpv_shim_nth_online_cpu(n) };
    (c != u32::MAX).then_some(c)
}

/// CPUs online now.
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: no preconditions.
    unsafe { b::xpv_shim_num_online_cpus() }
}

/// Our CPU hotplug state (`xpv_upcall_cpu_online`/`_offline` in `events.rs`): set up with the
/// online callback run on every online CPU; dropping it runs the offline callback on each.
pub(crate) struct CpuhpState(i32);

impl CpuhpState {
    /// `cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, ...)`. Process context, may sleep.
    ///
    /// # Errors
    /// The first callback error (the CPUs done are rolled back) or the state allocation's.
    pub(crate) fn setup() -> Result<Self> {
        // SAFETY: no preconditions; the callbacks are `extern "C"` functions of this module.
        let r = unsafe { b::xpv_shim_cpuhp_setup() };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Self(r))
    }
}

impl Drop for CpuhpState {
    fn drop(&mut self) {
        // SAFETY: the state from `setup`, removed once.
        unsafe { b::xpv_shim_cpuhp_remove(self.0) };
    }
}

/// Routes `irq` to `cpu` (`irq_set_affinity`).
pub(crate) fn irq_set_affinity_cpu(irq: u32, cpu: u32) -> Result {
    // SAFETY: plain numbers.
    let ret = unsafe { b::xpv_shim_irq_affinity_cpu(irq, cpu) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// A write-back mapping of guest-physical memory that is not ordinary RAM for Linux (our BAR
/// pages that Xen backed with the shared info page or grant frames): `memremap(MEMREMAP_WB)`,
/// unmapped on drop.
pub(crate) struct MemRemap {
    ptr: *mut c_void,
}

// SAFETY: the mapping is plain memory; users synchronise through atomics.
unsafe impl Send for MemRemap {}
// SAFETY: as above.
unsafe impl Sync for MemRemap {}

impl MemRemap {
    /// Maps `len` bytes at guest-physical address `phys`.
    pub(crate) fn new(phys: u64, len: usize) -> Result<Self> {
        // SAFETY: memremap validates the range; failure returns NULL.
        let ptr = unsafe { b::memremap(phys, len, b::MEMREMAP_WB as usize) };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self { ptr })
    }

    /// Start of the mapping.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for MemRemap {
    fn drop(&mut self) {
        // SAFETY: mapped by `new`, unmapped once.
        unsafe { b::memunmap(self.ptr) };
    }
}

/// Port I/O on the fixed ports of the Xen platform device (`inb`/`inw`/`outw`/`outl`).
pub(crate) struct PortIo;

impl PortIo {
    /// Reads one byte.
    pub(crate) fn inb(port: u16) -> u8 {
        // SAFETY: port reads have no memory-safety effect; the ports are the platform device's.
        unsafe { b::xpv_shim_inb(port) }
    }
    /// Reads two bytes.
    pub(crate) fn inw(port: u16) -> u16 {
        // SAFETY: as `inb`.
        unsafe { b::xpv_shim_inw(port) }
    }
    /// Writes two bytes.
    pub(crate) fn outw(port: u16, v: u16) {
        // SAFETY: as `inb`.
        unsafe { b::xpv_shim_outw(v, port) }
    }
    /// Writes four bytes.
    pub(crate) fn outl(port: u16, v: u32) {
        // SAFETY: as `inb`.
        unsafe { b::xpv_shim_outl(v, port) }
    }
}

/// A zeroed page of kernel memory (`get_zeroed_page`), freed on drop. To keep a page that may
/// still be granted to another domain, `core::mem::forget` it (XSA-396).
pub(crate) struct ZeroedPage {
    addr: usize,
}

impl ZeroedPage {
    /// Allocates one page (GFP_KERNEL, may sleep).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain allocation.
        let addr = unsafe { b::xpv_shim_get_zeroed_page() } as usize;
        if addr == 0 {
            return Err(ENOMEM);
        }
        Ok(Self { addr })
    }

    /// The page's bytes.
    pub(crate) fn bytes(&mut self) -> &mut [u8; 4096] {
        // SAFETY: we own the page, 4096 bytes, page aligned.
        unsafe { &mut *(self.addr as *mut [u8; 4096]) }
    }

    /// Guest frame number (in an HVM guest, the page frame number).
    pub(crate) fn gfn(&self) -> u64 {
        // SAFETY: a direct-map address of a page we own.
        unsafe { b::xpv_shim_virt_to_pfn(self.addr) }
    }
}

impl Drop for ZeroedPage {
    fn drop(&mut self) {
        // SAFETY: allocated by `new`, freed once.
        unsafe { b::xpv_shim_free_page(self.addr) };
    }
}

/// `jiffies`.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: reads a kernel variable.
    unsafe { b::xpv_shim_jiffies() as u64 }
}

/// `HZ`: jiffies per second.
pub(crate) fn hz() -> u32 {
    // SAFETY: returns a constant.
    unsafe { b::xpv_shim_hz() }
}

/// `msleep`. May sleep (process context only).
pub(crate) fn msleep(ms: u32) {
    // SAFETY: plain argument; callers are in process context.
    unsafe { b::msleep(ms) };
}

/// The deferred-EOI timer (one per module, in helpers.c): its callback is `xpv_eoi_timer_fired`.
pub(crate) mod eoi_timer {
    use super::b;

    /// Initialises the timer (once, before arming).
    pub(crate) fn init() {
        // SAFETY: initialises the static timer, before any use.
        unsafe { b::xpv_shim_eoi_timer_init() };
    }

    /// Arms the timer to fire at `expires` (jiffies) unless it is armed earlier.
    pub(crate) fn arm(expires: u64) {
        // SAFETY: the timer was initialised by `init`.
        unsafe { b::xpv_shim_eoi_timer_arm(expires as usize) };
    }

    /// Stops the timer and waits for a running callback; it cannot be re-armed afterwards.
    pub(crate) fn stop() {
        // SAFETY: the timer was initialised by `init`.
        unsafe { b::xpv_shim_eoi_timer_stop() };
    }
}

/// Holds the grant allocator's IRQ-safe spinlock (in helpers.c) while alive.
pub(crate) struct GnttabLockGuard {
    flags: kernel::ffi::c_ulong,
}

impl GnttabLockGuard {
    /// `spin_lock_irqsave`.
    pub(crate) fn lock() -> Self {
        // SAFETY: the lock is statically initialised; released by `drop`.
        let flags = unsafe { b::xpv_shim_gnttab_lock() };
        Self { flags }
    }
}

impl Drop for GnttabLockGuard {
    fn drop(&mut self) {
        // SAFETY: taken by `lock` with these flags.
        unsafe { b::xpv_shim_gnttab_unlock(self.flags) };
    }
}

/// Module parameter `no_vector_callback`.
pub(crate) fn param_no_vector_callback() -> bool {
    // SAFETY: reads a module parameter.
    unsafe { b::xpv_shim_param_no_vector_callback() != 0 }
}

/// Module parameter `selftest`.
pub(crate) fn param_selftest() -> bool {
    // SAFETY: reads an int module parameter.
    unsafe { b::xpv_shim_param_selftest() != 0 }
}

/// Module parameter `xen_emul_unplug` (empty when not given).
pub(crate) fn param_emul_unplug() -> &'static CStr {
    // SAFETY: a NUL-terminated static buffer, only written by the module loader before init.
    unsafe { crate::kernel_common::cstr_from_ptr(b::xpv_shim_param_emul_unplug().cast()) }
}

/// Reads the kernel command line into `buf`; returns the bytes read (without NUL).
pub(crate) fn read_cmdline(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let n = unsafe { b::xpv_shim_read_cmdline(buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

/// Whether this kernel was built with its own Xen support (`CONFIG_XEN`).
pub(crate) fn kernel_has_xen() -> bool {
    // SAFETY: returns a constant.
    unsafe { b::xpv_shim_kernel_has_xen() != 0 }
}

/// Deferred reclaim before the grant table goes (`xpv_shim_pages_deferred_shutdown`, helpers.c):
/// the pages a backend still maps get up to 10 s to be unmapped (retried every 100 ms) and are
/// then revoked and freed; those still mapped after that are leaked. Process context, sleeps.
pub(crate) fn pages_deferred_shutdown() {
    // SAFETY: no arguments; may sleep (we are in process context).
    unsafe { b::xpv_shim_pages_deferred_shutdown() };
}

/// Suspend support (manage.c's `xen_suspend`): the machine stopped around the hypercall.
pub(crate) mod suspend {
    use super::b;
    use kernel::prelude::*;

    /// Runs `xpv_suspend_on_cpu0(data)` (`suspend.rs`) on CPU 0 with every other online CPU
    /// spinning with interrupts off (`stop_machine`), and returns its result. Process context.
    pub(crate) fn stop_machine_cpu0<T: Sync>(data: &T) -> i32 {
        // SAFETY: `data` outlives the call (stop_machine returns after the callback ran); the
        // callback only reads it through the type it was given as (`suspend.rs`).
        unsafe {
            b::xpv_shim_stop_machine_cpu0(core::ptr::from_ref::<T>(data) as *mut core::ffi::c_void)
        }
    }

    /// The TSC (`rdtsc_ordered`).
    pub(crate) fn rdtsc() -> u64 {
        // SAFETY: reads the time stamp counter.
        unsafe { b::xpv_shim_rdtsc() }
    }

    /// `do_settimeofday64`. Process context.
    pub(crate) fn set_wall_clock(sec: i64, nsec: u32) -> Result {
        // SAFETY: plain values; the shim builds the timespec64.
        let r = unsafe { b::xpv_shim_settime(sec, nsec as isize) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    /// `ktime_get_real_ts64`: the kernel's wall clock, `(seconds, nanoseconds)`.
    pub(crate) fn wall_clock() -> (i64, i64) {
        let (mut s, mut ns) = (0i64, 0 as kernel::ffi::c_long);
        // SAFETY: both pointers are valid for writes.
        unsafe { b::xpv_shim_ktime_real(&mut s, &mut ns) };
        (s, ns as i64)
    }
}

/// The `xen` clocksource's C side (helpers.c), see `clock.rs`: CPU `cpu` reads the time record
/// at `pvti` (a `struct vcpu_time_info` in the shared info page; null: vCPU 0's). The record
/// must stay mapped while the clocksource is registered.
pub(crate) fn clock_set_cpu(cpu: u32, pvti: *mut c_void) {
    // SAFETY: stores a pointer for the read callback; the caller keeps it mapped (clock.rs).
    unsafe { b::xpv_shim_clock_set_cpu(cpu, pvti) }
}

/// Registers the `xen` clocksource with vCPU 0's record `pvti0` and `rating`.
pub(crate) fn clock_register(pvti0: *mut c_void, rating: u32) -> Result {
    // SAFETY: `pvti0` is vCPU 0's record in the shared info mapping, which clock.rs keeps until
    // `clock_unregister` succeeded.
    let r = unsafe { b::xpv_shim_clock_register(pvti0, rating) };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// Unregisters the `xen` clocksource (`EBUSY`: the kernel had nothing to switch to).
pub(crate) fn clock_unregister() -> Result {
    // SAFETY: no preconditions (a clocksource never registered is refused by the kernel).
    let r = unsafe { b::xpv_shim_clock_unregister() };
    if r < 0 {
        return Err(Error::from_errno(r));
    }
    Ok(())
}

/// At resume in a new domain (CPU 0, the machine stopped): the `xen` clocksource goes on from
/// its last value; returns how far Xen's record had moved from it (ns), 0 if not registered.
pub(crate) fn clock_resume() -> i64 {
    // SAFETY: the records are mapped while registered, and the shared info page is placed again
    // before this is called (suspend.rs).
    unsafe { b::xpv_shim_clock_resume() }
}

/// The TSC is invariant (constant and nonstop) and not marked unstable.
pub(crate) fn tsc_invariant() -> bool {
    // SAFETY: no preconditions.
    unsafe { b::xpv_shim_tsc_invariant() != 0 }
}
