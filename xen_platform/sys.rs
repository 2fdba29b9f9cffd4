// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_platform touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h`) and safe wrappers over it.

use core::ffi::CStr;
use kernel::prelude::*;
use kernel::types::Opaque;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod b {
    use kernel::ffi;
    type __kernel_size_t = usize;
    type __kernel_ssize_t = isize;
    type __kernel_ptrdiff_t = isize;
    include!("bindings_gen.rs");
}

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
        unsafe { CStr::from_ptr(b::xpv_shim_pci_name(self.0).cast()) }
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

unsafe extern "C" fn probe_trampoline<T: PciDriverOps>(
    pdev: *mut pci_dev,
    _id: *const pci_device_id,
) -> kernel::ffi::c_int {
    match T::probe(&PciDev(pdev)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

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
            (*raw).name = name.as_ptr().cast();
            (*raw).id_table = ids.as_ptr();
            (*raw).probe = Some(probe_trampoline::<T>);
            (*raw).remove = Some(remove_trampoline::<T>);
            b::__pci_register_driver(raw, module.as_ptr().cast(), name.as_ptr().cast())
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
