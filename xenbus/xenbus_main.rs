// SPDX-License-Identifier: GPL-2.0
//! xenbus: the xenstore client and the `xen` bus on which PV frontends find their devices.
//!
//! At load, on Xen: connects to xenstore (`xs.rs`), runs the self-tests if asked
//! (`xenbus.selftest=1`, `selftest.rs`), registers the `xen` bus with a device per
//! `device/<type>/<id>` and hotplug (`bus.rs`), and handles `control/shutdown` and
//! `control/sysrq` (`control.rs`), and offers xenstore to processes as `/dev/xen/xenbus`
//! (`xenbus_dev.rs`, `xenbus_dev.c`). Frontend modules (`xen_blkfront` for `vbd`, `xen_netfront`
//! for `vif`) register through the C ABI of `xen_proto/src/abi_xenbus.rs` (`frontend.rs`: probe,
//! remove, backend-state callbacks, per-device xenstore helpers); at most one driver per device
//! type. Without Xen (as reported by `xen_platform`) xenbus stays idle and refuses registrations
//! with `-ENODEV`.

use kernel::prelude::*;

#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
abi_modules!();
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/hvm.rs"]
mod hvm;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/unplug.rs"]
mod unplug;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xenbus_state.rs"]
mod xenbus_state;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xs_dev.rs"]
mod xs_dev;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/xs_wire.rs"]
mod xs_wire;

mod bus;
mod control;
mod frontend;
mod selftest;
mod suspend;
mod sys;
mod xenbus_dev;
mod xs;

xpv_module! {
    type: Xenbus,
    name: "xenbus",
    description: "Xen bus: xenstore client and PV frontend driver model",
}

/// Everything xenbus runs when Xen is present, torn down in reverse order on drop.
struct Running {
    /// Token of the self-test's Dom0-visible watch.
    test_watch: Option<u64>,
    bus: Option<bus::Bus>,
    control: Option<control::Control>,
    /// `/dev/xen/xenbus`; removed first at unload.
    dev: Option<xenbus_dev::Device>,
    /// Declared last: dropped after everything that uses xenstore.
    conn: xs::Connection,
}

impl Drop for Running {
    fn drop(&mut self) {
        // No file can be open (each holds a module reference); closed ones are torn down
        // here, while xenstore is still connected.
        self.dev = None;
        let xs = self.conn.xs();
        if let Some(c) = self.control.take() {
            c.shutdown(xs);
        }
        if let Some(b) = self.bus.take() {
            b.shutdown(xs);
        }
        if let Some(t) = self.test_watch.take() {
            xs.unwatch(selftest::DOM0_WATCH_PATH, t);
        }
    }
}

/// Whether to run the self-tests: module parameter `selftest`, or `xenbus.selftest=` on the
/// kernel command line (which `modprobe` would pass, but `insmod` does not).
fn want_selftest() -> bool {
    if sys::param_selftest() {
        return true;
    }
    let Ok(mut buf) = KVec::from_elem(0u8, 4096, GFP_KERNEL) else {
        return false;
    };
    if sys::read_cmdline(&mut buf).is_err() {
        return false;
    }
    unplug::cmdline_values(&buf, b"xenbus.selftest")
        .last()
        .flatten()
        .is_some_and(|v| matches!(v, b"1" | b"y" | b"Y"))
}

struct Xenbus {
    running: Option<Running>,
}

impl kernel::Module for Xenbus {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let info = match abi_client::platform_info() {
            Ok(info) => info,
            Err(crate::abi::Errno::ENODEV) => {
                pr_info!("Xen not detected by xen_platform: no xenstore, no devices to bind\n");
                return Ok(Xenbus { running: None });
            }
            Err(e) => return Err(e.into()),
        };
        if info.flags & abi::PLATFORM_EVENTS == 0 {
            // Xen is there but its platform PCI device is not (xl's xen_platform_pci=0): no
            // event channels, so no xenstore and nothing to bind. Loaded, inert, as without Xen.
            pr_info!(
                "Xen {}.{} without the platform device (xen_platform_pci=0?): no event channels, no xenstore, no devices to bind\n",
                info.xen_major,
                info.xen_minor
            );
            return Ok(Xenbus { running: None });
        }
        pr_info!(
            "Xen {}.{}: connecting to xenstore\n",
            info.xen_major,
            info.xen_minor
        );
        let conn = xs::Connection::new().inspect_err(|e| {
            pr_err!("cannot connect to xenstore: errno {}\n", -e.to_errno());
        })?;
        let mut running = Running {
            test_watch: None,
            bus: None,
            control: None,
            dev: None,
            conn,
        };
        let selftest = want_selftest();
        if selftest {
            running.test_watch = selftest::run(running.conn.xs(), info.domid);
        }
        match bus::Bus::new(running.conn.xs()) {
            Ok(b) => running.bus = Some(b),
            Err(e) => pr_err!("cannot register the xen bus: errno {}\n", -e.to_errno()),
        }
        if selftest && running.bus.is_some() {
            selftest::frontend_api();
        }
        running.control = Some(control::Control::new(running.conn.xs()));
        match xenbus_dev::Device::register() {
            Ok(d) => running.dev = Some(d),
            Err(e) => pr_err!("cannot register /dev/xen/xenbus: errno {}\n", -e.to_errno()),
        }
        pr_info!("ready: frontend drivers can register\n");
        Ok(Xenbus {
            running: Some(running),
        })
    }
}

impl Drop for Xenbus {
    fn drop(&mut self) {
        // Frontends depend on our symbols, so they are all unloaded (and unregistered) by now.
        self.running = None;
        pr_info!("unloaded\n");
    }
}
