// SPDX-License-Identifier: GPL-2.0
//! xen_netfront: Xen virtual network interfaces over netif rings
//! (`include/xen/interface/io/netif.h`).
//!
//! On load it registers the `vif` frontend driver with xenbus. Each `vif` device becomes an
//! Ethernet net_device ("eth%d", MAC from our `mac` node) with one tx and one rx ring per queue
//! (`tx-ring-ref`, `rx-ring-ref`) and one event channel per queue (two when split), each queue
//! served by its NAPI context.
//!
//! The backend is not trusted. Every tx slot owns a zeroed page of ours, granted read-only once
//! and kept for the life of the connection: transmit copies the packet into the slot pages
//! (`skb_copy_bits`), so the backend never sees other kernel memory (XSA-403). Every rx request
//! carries a page of its own, zeroed when new and granted writable; when its response comes the
//! grant is ended first (a page the backend still maps stops the device and is never touched
//! again: deferred reclaim frees it once unmapped, XSA-396), then the page goes to the packet as
//! a fragment with no copy (the headers, up to 256 bytes, are copied into the linear area, and a
//! page that carried only those is posted again), as Linux's netfront. Each response is copied
//! once out of the ring and validated (`netif.rs`); a violation stops the device with an error
//! (port left masked). Grants are revoked when the backend has closed; a page it still maps is
//! leaked, never reused, and counted (`GrantedPages`, shared with xen_blkfront); a device that
//! has leaked more than `grant::MAX_LEAKED_PAGES_PER_DEVICE` pages is not connected again. An rx
//! page goes to a packet only when a replacement is at hand, so memory pressure drops packets
//! but never empties the rx ring.
//!
//! With `trusted=1` (module parameter, default 0 unlike Linux's default 1; also
//! `xen_netfront.trusted=` on the kernel command line) and the toolstack's `trusted` key (our
//! node, default 1), transmit grants the packet's own pages read-only instead: one grant per
//! piece of the packet inside a page (a packet that would take more than the 18 slots a backend
//! accepts is copied as in untrusted mode rather than linearised), a reference to the skb per
//! slot, each grant revoked when its slot is answered (a grant the backend still maps stops the
//! device and leaks the packet, as Linux). The packet is detached from its socket while held
//! (`skb_orphan`, as virtio_net without tx NAPI), so that TCP small queues do not throttle a
//! stream by how late the backend answers. Receive is the same in both modes (Linux's
//! `trusted` changes only transmit too).
//!
//! When the backend closes while the toolstack still wants the device (its `online` node is 1,
//! e.g. netback unbound and bound again in Dom0), the frontend tears the rings down, keeps its
//! net_device and announces Initialising; the new backend instance's InitWait connects it again.
//!
//! Negotiated: `request-rx-copy`, `feature-sg`, `feature-gso-tcpv4/6`, checksum offload
//! (`feature-no-csum-offload`, `feature-ipv6-csum-offload`), `feature-rx-notify`,
//! `feature-split-event-channels`, `multi-queue-max-queues` (up to the `max_queues` parameter and
//! the number of online CPUs).
//!
//! Files: this one holds the device's state ([`Device`]), the xenbus side (probe, the
//! backend's state machine, remove) and the module; `queue.rs` the queues (rings, receive,
//! transmit completion, the event handler); `connect.rs` connecting and disconnecting;
//! `netdev.rs` the net_device operations (open, stop, transmit, NAPI poll, statistics);
//! `sys.rs` the kernel bindings and their safe wrappers.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{new_mutex, Arc, Mutex};

#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
frontend_modules!();
mod connect;
mod netdev;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/netif.rs"]
mod netif;
mod queue;
mod sys;

use abi::Errno;
use abi_client::{Grant, OwnedPort, Port};
use abi_xenbus_client::XenbusDevice;
use connect::*;
use granted_pages::{GrantedPage, GrantedRing};
use kernel_frontend::{Binding, Bound, EvtchnTarget, Frontend, Reporter};
use netif::{Features, RxAssembler, RxRequest, RxResponse, TxRequest, TxResponse};
use queue::*;
use sys::{NetDev, Rtnl, TxSkb};
use xenbus_state::XenbusState;

xpv_module! {
    type: XenNetfront,
    name: "xen_netfront",
    description: "Xen virtual network device frontend",
    // The xen bus device's MODALIAS (`xen:<type>`, as Linux's xenbus): udev loads us for it.
    alias: ["xen:vif"],
}

const RING: usize = netif::RING_ENTRIES as usize;

/// Per-queue counters (ethtool -S, ndo_get_stats64); packets and bytes.
#[derive(Default)]
struct QStats {
    v: [AtomicU64; NSTATS],
}

const NSTATS: usize = 8;
const STAT_NAMES: [&str; NSTATS] = [
    "rx_packets",
    "rx_bytes",
    "tx_packets",
    "tx_bytes",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
];
const RX_PACKETS: usize = 0;
const RX_BYTES: usize = 1;
const TX_PACKETS: usize = 2;
const TX_BYTES: usize = 3;
const RX_ERRORS: usize = 4;
const TX_ERRORS: usize = 5;
const RX_DROPPED: usize = 6;
const TX_DROPPED: usize = 7;

impl QStats {
    fn add(&self, i: usize, n: u64) {
        self.v[i].fetch_add(n, Ordering::Relaxed);
    }
}

/// What connect/disconnect/open/stop change, under rtnl and then this mutex (always in that
/// order: see [`Device::ctl`]). The data path never touches it.
#[derive(Default)]
struct Ctl {
    feats: Features,
    /// Our xenbus state (what we last switched to).
    state: u32,
}

/// The queues of a connection with the event channel bindings that hold them. The data path
/// (xmit, NAPI poll) reads it through `Device::dp` with its key; it is replaced only with the
/// data path stopped (`sys::Stopped`).
#[derive(Default)]
struct DataPath {
    /// Handlers first: dropped (unbound) before the queues they point to. Held for that drop.
    _bindings: KVec<Binding<Queue>>,
    queues: KVec<Arc<Queue>>,
}

/// A bound `vif` device.
struct Device {
    xdev: XenbusDevice,
    /// Registered for this device from probe until `remove`; freed with it.
    net: sys::NetDevBox,
    backend: u16,
    ctl: Pin<KBox<Mutex<Ctl>>>,
    /// Kept apart from `ctl`: read without a lock by the data path.
    dp: sys::DataPathCell<DataPath>,
    /// The data path may transmit (backend connected, not closing).
    connected: AtomicBool,
    /// A protocol violation stopped the device.
    broken: AtomicBool,
    /// Reports a violation to the toolstack ([`report_violation`]).
    reporter: Reporter<Device>,
    /// Pages of ours the backend still mapped when we revoked their grants (leaked, XSA-396),
    /// over the device's life; bounded by `grant::MAX_LEAKED_PAGES_PER_DEVICE` at connect.
    leaks: &'static grant::LeakCount,
    /// Queues in use (for ethtool -S).
    nq: AtomicU32,
    stats: [QStats; sys::MAX_QUEUES],
}

impl Device {
    fn net(&self) -> NetDev<'_> {
        self.net.get()
    }

    /// The control state, locked. Taken with rtnl held (the witness), so the lock order is
    /// always rtnl then `ctl`; nothing called with it held takes rtnl or calls back into
    /// `ndo_open`/`ndo_stop` (the two net_device operations that take it).
    fn ctl(&self, _rtnl: &Rtnl) -> Guard<'_, Ctl, MutexBackend> {
        self.ctl.lock()
    }

    /// The queues of the current connection (empty when disconnected), under rtnl.
    fn queues<'a>(&'a self, rtnl: &'a Rtnl) -> &'a [Arc<Queue>] {
        &self.dp.get(rtnl).queues
    }

    /// A protocol violation: stop the data path, keep the port masked.
    fn fail(&self, q: u32, what: netif::NetifError) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            let net = self.net();
            let name = net.name().to_str().unwrap_or("vif");
            pr_err!(
                "{} queue {}: protocol violation by the backend: {:?}; device stopped\n",
                name,
                q,
                what
            );
            self.connected.store(false, Ordering::Release);
            net.carrier(false);
            self.reporter.queue();
        }
    }
}

/// Work item of a stopped device: reports the violation to the toolstack as Linux's
/// `xenbus_dev_fatal` (error node, `Closing`), which the NAPI poll or transmit path that found
/// it cannot do (xenstore writes sleep). The backend's `Closing` then closes the device.
fn report_violation(dev: &Device) {
    if !dev.broken.load(Ordering::Acquire) {
        return;
    }
    let rtnl = Rtnl::lock();
    let mut ctl = dev.ctl(&rtnl);
    if ctl.state == XenbusState::Connected as u32 {
        dev.xdev.fatal(EIO.into(), "backend protocol violation");
        ctl.state = XenbusState::Closing as u32;
    }
}

/// The bound devices.
static DEVICES: kernel_frontend::Devices<Device> = kernel_frontend::Devices::new();

impl Frontend for Device {
    fn devices() -> &'static kernel_frontend::Devices<Self> {
        &DEVICES
    }

    fn probe(xdev: XenbusDevice, bound: Bound<'_, Self>) -> Result<Arc<Self>> {
        probe(xdev, bound)
    }

    fn otherend_changed(this: &Arc<Self>, state: XenbusState) {
        otherend_changed(this, state)
    }

    fn remove(&self) {
        remove(self)
    }

    fn report_violation(&self) {
        report_violation(self)
    }

    fn suspend(this: &Arc<Self>) -> Result {
        suspend(this);
        Ok(())
    }

    fn resume(this: &Arc<Self>, cancelled: bool) {
        resume(this, cancelled)
    }
}

/// Suspend (save, checkpoint, migration; xenbus's `suspend.rs`): the data path stopped (transmit
/// disabled, every NAPI context disabled), the queues kept. The link stays up (a checkpoint
/// must not flap it); frames the stack sends meanwhile wait in the qdisc.
fn suspend(dev: &Device) {
    let mut rtnl = Rtnl::lock();
    let _stopped = dev.net().stop_data_path(&mut rtnl);
    // Dropped without `start`: stays stopped until `resume`.
}

/// After [`suspend`]. Cancelled (checkpoint): the same queues and backend go on, the data path
/// starts again (each queue's NAPI polled once, for what came while paused). In a new domain
/// (Linux's `netfront_resume`, `xennet_disconnect_backend`): the queues, their grants and ports
/// are of the old domain: dropped (ending those grants cannot block, the ports are not
/// closed), packets in flight are lost (TCP resends); our state is Initialising, and the new
/// backend's InitWait connects as at probe, keeping the net_device (same name and MAC).
fn resume(dev: &Device, cancelled: bool) {
    if cancelled {
        let mut rtnl = Rtnl::lock();
        let n = dev.net();
        let connected = dev.connected.load(Ordering::Acquire);
        let running = n.running();
        let stopped = n.stop_data_path(&mut rtnl);
        if connected && running {
            stopped.start(dev.nq.load(Ordering::Relaxed), true);
        }
        return;
    }
    disconnect(dev);
    let rtnl = Rtnl::lock();
    dev.ctl(&rtnl).state = XenbusState::Initialising as u32;
    let n = dev.net();
    pr_info!(
        "{}: restored in a new domain: reconnecting to the backend\n",
        n.name()
    );
}

/// `probe`: a new `vif` device; its state.
fn probe(xdev: XenbusDevice, bound: Bound<'_, Device>) -> Result<Arc<Device>> {
    let pi = abi_client::platform_info()?;
    if !unplug::has_pv_nic_devices(pi.unplug) {
        pr_info!(
            "vif: PV NICs disabled by the platform (unplug 0x{:x}), not binding\n",
            pi.unplug
        );
        return Err(ENODEV);
    }
    let info = xdev.info()?;
    let backend = u16::try_from(info.otherend_id).map_err(|_| EINVAL)?;
    let mut buf = [0u8; 32];
    let n = xdev.read_own(b"mac", &mut buf)?;
    let Some(mac) = netif::parse_mac(&buf[..n]) else {
        // As Linux's `xennet_probe`: "parsing <nodename>/mac", fatal for the device.
        pr_err!(
            "vif {}: bad mac {:?}\n",
            abi_xenbus::field_str(&info.nodename).unwrap_or("?"),
            kernel::str::BStr::from_bytes(&buf[..n])
        );
        xdev.fatal(EINVAL.into(), "parsing mac");
        return Err(EINVAL);
    };
    let net = sys::NetDevBox::alloc(&mac)?;
    let dp = sys::DataPathCell::new(net.get(), DataPath::default());
    let dev = {
        let dev = Arc::new(
            Device {
                xdev,
                net,
                backend,
                ctl: KBox::pin_init(new_mutex!(Ctl::default()), GFP_KERNEL)?,
                dp,
                connected: AtomicBool::new(false),
                broken: AtomicBool::new(false),
                reporter: bound.reporter(),
                leaks: bound.leaks(),
                nq: AtomicU32::new(1),
                stats: Default::default(),
            },
            GFP_KERNEL,
        )?;
        // Child of the xen bus device, as Linux's netfront (`SET_NETDEV_DEV`): the
        // `/sys/class/net/X/device` link, ethtool's bus-info `vif-0`, udev's `enX0` name. On
        // an error the device (and its net_device, never registered) is freed here.
        dev.net.register(&dev, xdev.device_ptr())?;
        dev
    };
    {
        let n = dev.net();
        pr_info!(
            "{}: vif {} mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, backend domain {}\n",
            n.name(),
            abi_xenbus::field_str(&info.nodename).unwrap_or("?"),
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5],
            backend
        );
    }
    Ok(dev)
}

/// `otherend_changed`: the backend's state machine (`netback_changed`).
fn otherend_changed(dev: &Arc<Device>, state: XenbusState) {
    let ours = {
        let rtnl = Rtnl::lock();
        dev.ctl(&rtnl).state
    };
    let has_rings = {
        // Under rtnl: not while connect or disconnect replaces the queues.
        let rtnl = Rtnl::lock();
        !dev.queues(&rtnl).is_empty()
    };
    match state {
        XenbusState::InitWait if !has_rings => {
            if let Err(e) = connect(dev) {
                pr_err!("vif: connecting failed: {:?}\n", e);
                disconnect(dev);
                // Reported to the toolstack, `Closing`; `Closed` follows the backend's close.
                dev.xdev.fatal(e.into(), "connecting to the backend");
                let rtnl = Rtnl::lock();
                dev.ctl(&rtnl).state = XenbusState::Closing as u32;
            }
        }
        // Link up only once our keys are all written and we announced Connected (`ours`).
        XenbusState::Connected if has_rings && ours == XenbusState::Connected as u32 => {
            let n = dev.net();
            if !dev.broken.load(Ordering::Acquire) && dev.connected.load(Ordering::Acquire) {
                n.carrier(true);
                pr_info!("{}: backend connected, link up\n", n.name());
            }
        }
        XenbusState::Closing => {
            // Stop sending; the rings go once the backend has unmapped them (Closed).
            dev.connected.store(false, Ordering::Release);
            {
                let n = dev.net();
                n.carrier(false);
                n.tx_disable();
            }
            if ours != XenbusState::Closed as u32 {
                set_state(dev, XenbusState::Closing);
                set_state(dev, XenbusState::Closed);
            }
        }
        XenbusState::Unknown => {
            // The backend's node is gone (device being removed): no writes, our nodes may be
            // gone too.
            disconnect(dev);
        }
        XenbusState::Closed => {
            disconnect(dev);
            if ours != XenbusState::Closed as u32 {
                set_state(dev, XenbusState::Closed);
            }
            // While the toolstack still wants the device the backend is restarting: announce
            // Initialising so that its new instance goes to InitWait, where we connect again.
            let online = dev.xdev.read_otherend_u32(b"online").is_ok_and(|v| v == 1);
            let next = xenbus_state::state_after_backend_closed(online);
            if next != XenbusState::Closed {
                {
                    let n = dev.net();
                    pr_info!(
                        "{}: backend closed but still online: waiting for it to restart\n",
                        n.name()
                    );
                }
                set_state(dev, next);
            }
        }
        _ => {}
    }
}

/// `remove`: the device goes (hot-unplug or unload); its state is freed after this.
fn remove(dev: &Device) {
    let has_rings = {
        // Under rtnl: not while connect or disconnect replaces the queues.
        let rtnl = Rtnl::lock();
        !dev.queues(&rtnl).is_empty()
    };
    if has_rings {
        // Ask the backend to close and give it a moment to unmap our pages.
        let _ = dev.xdev.switch_state(XenbusState::Closing);
        let _ = dev.xdev.wait_otherend(
            &[
                XenbusState::Closing,
                XenbusState::Closed,
                XenbusState::Unknown,
            ],
            5000,
        );
        let _ = dev.xdev.switch_state(XenbusState::Closed);
        let _ = dev
            .xdev
            .wait_otherend(&[XenbusState::Closed, XenbusState::Unknown], 5000);
    }
    // As Linux's `xennet_remove`: the carrier goes off while the device is still registered
    // (unregistering then waits for the link-watch event that this queues).
    dev.net().carrier(false);
    dev.net.unregister();
    disconnect(dev);
    // The net_device is freed with the device, once the adapter lets go of it.
    pr_info!("vif device removed\n");
}

static DRIVER: abi_xenbus::XenbusFrontendDriver = kernel_frontend::driver::<Device>("vif", "vif");

struct XenNetfront {
    _driver: Option<abi_xenbus_client::FrontendRegistration>,
}

impl kernel::Module for XenNetfront {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        match abi_client::platform_info() {
            Ok(_) => {
                kernel_frontend::params_from_cmdline(
                    &sys::PARAM_NAMES,
                    sys::read_cmdline,
                    sys::param_set,
                );
                match abi_xenbus_client::FrontendRegistration::new(&DRIVER) {
                    Ok(driver) => {
                        pr_info!("registered the vif driver\n");
                        Ok(XenNetfront {
                            _driver: Some(driver),
                        })
                    }
                    // Xen without its platform device (xen_platform_pci=0): no xenstore.
                    Err(Errno::ENODEV) => {
                        pr_info!("xenbus has no xenstore (no Xen platform device): no vif interfaces, not binding\n");
                        Ok(XenNetfront { _driver: None })
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(Errno::ENODEV) => {
                pr_info!("Xen not detected: no vif interfaces, not binding\n");
                Ok(XenNetfront { _driver: None })
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for XenNetfront {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
