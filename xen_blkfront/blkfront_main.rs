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
    type: XenBlkfront,
    name: "xen_blkfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual block device frontend (xvd)",
    license: "GPL",
}

/// Block major of Xen virtual disks (`XENVBD_MAJOR`, `xvd`).
const XENVBD_MAJOR: u32 = 202;

/// `probe` of the `vbd` frontend driver: the data path does not exist yet (issue 6), so
/// every device is declined (`-ENODEV`) and stays with xenbus unbound, the emulated disk (if not unplugged) serving the guest.
///
/// # Safety
/// Called by xenbus with a live device handle; the handle is not used.
unsafe extern "C" fn probe(
    _dev: *mut abi_xenbus::XenbusDevHandle,
    _ctx: *mut core::ffi::c_void,
) -> i32 {
    pr_info!("vbd device: no data path yet, not binding\n");
    -abi::ENODEV
}

static DRIVER: abi_xenbus::XenbusFrontendDriver =
    abi_xenbus::frontend_driver("vbd", "vbd", probe, None, None);

struct XenBlkfront {
    // Field order is drop order: stop taking devices before giving the major back.
    _driver: Option<abi_xenbus_client::FrontendRegistration>,
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
        let driver =
            abi_xenbus_client::FrontendRegistration::new(&DRIVER).map_err(Error::from_errno)?;
        pr_info!(
            "registered block major {} (xvd) and the vbd driver\n",
            XENVBD_MAJOR
        );
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
