// SPDX-License-Identifier: GPL-2.0
//! xen_netfront: Xen virtual network interfaces over netif rings
//! (`include/xen/interface/io/netif.h`).
//!
//! On load it registers the `vif` frontend driver with xenbus. Without Xen it binds nothing and
//! says so.

use kernel::prelude::*;

#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi.rs"]
mod abi;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi_client.rs"]
mod abi_client;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi_xenbus.rs"]
mod abi_xenbus;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi_xenbus_client.rs"]
mod abi_xenbus_client;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xenbus_state.rs"]
mod xenbus_state;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xs_wire.rs"]
mod xs_wire;

module! {
    type: XenNetfront,
    name: "xen_netfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual network device frontend",
    license: "GPL",
}

/// `probe` of the `vif` frontend driver: the data path does not exist yet (issue 7), so
/// every device is declined (`-ENODEV`) and stays with xenbus unbound, the emulated NIC (if not unplugged) serving the guest.
///
/// # Safety
/// Called by xenbus with a live device handle; the handle is not used.
unsafe extern "C" fn probe(
    _dev: *mut abi_xenbus::XenbusDevHandle,
    _ctx: *mut core::ffi::c_void,
) -> i32 {
    pr_info!("vif device: no data path yet, not binding\n");
    -abi::ENODEV
}

static DRIVER: abi_xenbus::XenbusFrontendDriver =
    abi_xenbus::frontend_driver("vif", "vif", probe, None, None);

struct XenNetfront {
    _driver: Option<abi_xenbus_client::FrontendRegistration>,
}

impl kernel::Module for XenNetfront {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        match abi_client::platform_info() {
            Ok(_) => {
                let driver = abi_xenbus_client::FrontendRegistration::new(&DRIVER)
                    .map_err(Error::from_errno)?;
                pr_info!("registered the vif driver\n");
                Ok(XenNetfront {
                    _driver: Some(driver),
                })
            }
            Err(e) if e == -abi::ENODEV => {
                pr_info!("Xen not detected: no vif interfaces, not binding\n");
                Ok(XenNetfront { _driver: None })
            }
            Err(e) => Err(Error::from_errno(e)),
        }
    }
}

impl Drop for XenNetfront {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
