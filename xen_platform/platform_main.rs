// SPDX-License-Identifier: GPL-2.0
//! xen_platform: the base of the Xen PV-on-HVM frontends on a kernel built without Xen support.
//!
//! It detects Xen from the CPUID hypervisor leaves (`xen_proto/src/cpuid.rs`), binds the Xen
//! platform PCI device (vendor 0x5853, device 0x0001, the qemu-xen device model's "Xen Platform
//! Device") and provides the services the other modules call through the C ABI of
//! `xen_proto/src/abi.rs`.
//!
//! Without Xen the module loads, says so once and binds nothing: a probe is refused with `-ENODEV`
//! and the exported functions return `-ENODEV`, so `xenbus` and the frontends stay idle too.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

mod sys;

#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi.rs"]
mod abi;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/cpuid.rs"]
mod cpuid;

use sys::{pci_device_id, pci_id, PciDev, PciDriver, PciDriverOps};

module! {
    type: XenPlatform,
    name: "xen_platform",
    author: "xen-pvhvm-rs developers",
    description: "Xen platform PCI device: Xen detection and services for PV frontends",
    license: "GPL",
}

/// Xen platform PCI device ids (`drivers/xen/platform-pci.c`: `PCI_VENDOR_ID_XEN`, 0x0001).
const XEN_PLATFORM_VENDOR: u32 = 0x5853;
const XEN_PLATFORM_DEVICE: u32 = 0x0001;
static PCI_IDS: [pci_device_id; 2] = [
    pci_id(XEN_PLATFORM_VENDOR, XEN_PLATFORM_DEVICE),
    pci_id(0, 0),
];

/// What CPUID found, published once by `init` before the PCI driver (and so any caller of the
/// exported functions, which all depend on this module) can run. `XEN_VERSION` 0 means "no Xen".
static XEN_VERSION: AtomicU32 = AtomicU32::new(0);
static XEN_HVM_FEATURES: AtomicU32 = AtomicU32::new(0);
static XEN_DOMID: AtomicU32 = AtomicU32::new(u32::MAX);

fn xen_detected() -> bool {
    XEN_VERSION.load(Ordering::Acquire) != 0
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
    *info = abi::PlatformInfo {
        abi_version: abi::XPV_ABI_VERSION,
        xen_major: (version >> 16) as u16,
        xen_minor: version as u16,
        hvm_features: XEN_HVM_FEATURES.load(Ordering::Relaxed),
        domid: XEN_DOMID.load(Ordering::Relaxed),
    };
    0
}
const _: abi::PlatformGetInfoFn = xpv_platform_get_info;

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
        dev.enable()?;
        pr_info!(
            "{:?}: Xen platform device {:04x}:{:04x} bound\n",
            dev.name(),
            vendor,
            device
        );
        Ok(())
    }

    fn remove(dev: &PciDev) {
        dev.disable();
        pr_info!("{:?}: Xen platform device unbound\n", dev.name());
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
            XEN_HVM_FEATURES.store(x.hvm_features, Ordering::Relaxed);
            XEN_DOMID.store(x.domid.map_or(u32::MAX, u32::from), Ordering::Relaxed);
            XEN_VERSION.store(
                (u32::from(x.major) << 16) | u32::from(x.minor),
                Ordering::Release,
            );
            pr_info!(
                "Xen {}.{} detected (CPUID base {:#x}, HVM features {:#x}, domid {})\n",
                x.major,
                x.minor,
                x.base,
                x.hvm_features,
                x.domid.map_or(-1, i32::from)
            );
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

impl kernel::Module for XenPlatform {
    fn init(module: &'static ThisModule) -> Result<Self> {
        detect_xen();
        let pci = PciDriver::register::<PlatformPci>(c"xen-platform-pci", &PCI_IDS, module)?;
        Ok(XenPlatform { _pci: pci })
    }
}

impl Drop for XenPlatform {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
