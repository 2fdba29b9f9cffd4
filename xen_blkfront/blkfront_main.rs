// SPDX-License-Identifier: GPL-2.0
//! xen_blkfront: Xen virtual block devices (`xvdX`, major 202) over blkif rings
//! (`include/xen/interface/io/blkif.h`).
//!
//! On load it reserves the `xvd` major (202, `XENVBD_MAJOR` in Linux) and registers the `vbd`
//! frontend driver with xenbus. Without Xen it binds nothing and says so.

use kernel::prelude::*;

mod sys;

#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi.rs"]
mod abi;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/abi_client.rs"]
mod abi_client;

module! {
    type: XenBlkfront,
    name: "xen_blkfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual block device frontend (xvd)",
    license: "GPL",
}

/// Block major of Xen virtual disks (`XENVBD_MAJOR`, `xvd`).
const XENVBD_MAJOR: u32 = 202;

static DRIVER: abi::XenbusDriver = abi::driver("vbd", "vbd");

struct XenBlkfront {
    // Field order is drop order: stop taking devices before giving the major back.
    _driver: Option<abi_client::DriverRegistration>,
    _major: Option<sys::BlkdevMajor>,
}

impl kernel::Module for XenBlkfront {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if let Err(e) = abi_client::platform_info() {
            if e == -abi::ENODEV {
                pr_info!("Xen not detected: no xvd disks, not binding\n");
                return Ok(XenBlkfront {
                    _driver: None,
                    _major: None,
                });
            }
            return Err(Error::from_errno(e));
        }
        let major = sys::BlkdevMajor::register(XENVBD_MAJOR, c"xvd")?;
        let driver = abi_client::DriverRegistration::new(&DRIVER).map_err(Error::from_errno)?;
        pr_info!("registered block major {} (xvd) and the vbd driver\n", XENVBD_MAJOR);
        Ok(XenBlkfront {
            _driver: Some(driver),
            _major: Some(major),
        })
    }
}

impl Drop for XenBlkfront {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
