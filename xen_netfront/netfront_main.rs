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

module! {
    type: XenNetfront,
    name: "xen_netfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual network device frontend",
    license: "GPL",
}

static DRIVER: abi::XenbusDriver = abi::driver("vif", "vif");

struct XenNetfront {
    _driver: Option<abi_client::DriverRegistration>,
}

impl kernel::Module for XenNetfront {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        match abi_client::platform_info() {
            Ok(_) => {
                let driver = abi_client::DriverRegistration::new(&DRIVER).map_err(Error::from_errno)?;
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
