// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers over the functions declared in `abi.rs`, for the modules that *call* them.
//!
//! Kept apart from `abi.rs` because a kernel module that includes a wrapper references the wrapped
//! symbol, and the provider of a symbol must not reference symbols of modules loaded after it
//! (`xen_platform` includes `abi.rs` only). Includers must also include `abi.rs` as a sibling.

use super::abi::{
    xpv_platform_get_info, xpv_xenbus_register_driver, xpv_xenbus_unregister_driver, PlatformInfo,
    XenbusDriver, XPV_ABI_VERSION,
};

/// Safe wrapper of [`xpv_platform_get_info`]: the platform's findings, or a negative errno
/// (`-ENODEV` when not on Xen).
pub fn platform_info() -> Result<PlatformInfo, i32> {
    let mut info = PlatformInfo {
        abi_version: XPV_ABI_VERSION,
        ..PlatformInfo::default()
    };
    // SAFETY: `info` is a valid, writable `PlatformInfo`; the symbol is provided by xen_platform,
    // which the calling module depends on.
    match unsafe { xpv_platform_get_info(&mut info) } {
        0 => Ok(info),
        e => Err(e),
    }
}

/// A frontend driver registered with xenbus; dropping it unregisters the driver.
#[derive(Debug)]
pub struct DriverRegistration(&'static XenbusDriver);

impl DriverRegistration {
    /// Registers `drv` (see [`xpv_xenbus_register_driver`] for the errors, as negative errnos).
    pub fn new(drv: &'static XenbusDriver) -> Result<Self, i32> {
        // SAFETY: `drv` is 'static, so it outlives the registration.
        match unsafe { xpv_xenbus_register_driver(drv) } {
            0 => Ok(Self(drv)),
            e => Err(e),
        }
    }
}

impl Drop for DriverRegistration {
    fn drop(&mut self) {
        // SAFETY: `self.0` was registered by `new` and is unregistered exactly once.
        unsafe { xpv_xenbus_unregister_driver(self.0) };
    }
}
