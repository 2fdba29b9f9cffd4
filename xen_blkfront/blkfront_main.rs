// SPDX-License-Identifier: GPL-2.0
//! xen_blkfront: Xen virtual block devices (`xvdX`, major 202) over blkif rings
//! (`include/xen/interface/io/blkif.h`).
//!
//! On load it reserves the `xvd` major (202, `XENVBD_MAJOR` in Linux) and registers the `vbd`
//! frontend driver with xenbus. Without Xen it binds nothing and says so.
//!
//! Per device: one blkif ring per blk-mq hardware queue (`multi-queue-num-queues`), each of
//! `2^ring-page-order` granted pages with its own event channel. The blk-mq tag of a request is
//! its ring slot and its blkif id. The backend is untrusted: every request's data is bounced
//! through zeroed pages of ours, granted once per ring slot when the device connects and kept
//! (so blkback can map them persistently, `feature-persistent`), never through the guest's own
//! pages (XSA-403). Each response is copied once from the ring and validated (id, operation,
//! status); a protocol violation puts the device into an error state in which all its I/O fails
//! and its ring ports stay masked. Every page we grant (rings, bounce and indirect pages) is owned
//! by a `GrantedPages` (`xen_proto/src/granted_pages.rs`, shared with xen_netfront): zeroed before
//! it is granted, and on drop (any path) its grants are revoked and it is freed, or, if the backend
//! still maps it, leaked (XSA-396) and counted; a device that has leaked more than
//! `grant::MAX_LEAKED_PAGES_PER_DEVICE` pages is not connected again.
//!
//! With `trusted=1` (and the toolstack's `trusted` key, default 1) and without persistent grants
//! (`feature_persistent=0` or a backend without them) the request's own pages are granted
//! directly for the time of the request instead (as Linux); a page still mapped when the
//! response came puts the device into its error state.
//!
//! Module parameters (Linux's names): `max_queues` (default 4, at most the number of CPUs),
//! `max_ring_page_order` (0), `max_indirect_segments` (32, at most 512 here),
//! `feature_persistent` (1), `trusted` (0, unlike Linux). Also taken from the kernel command line
//! as `xen_blkfront.<name>=` (busybox `insmod` does not pass those on). At most 64 ring slots per
//! disk over all its rings (bounce memory and grant references: 64 x 33 pages with 32 segments).
//!
//! Files: this one holds the device's state ([`Blkfront`]), the xenbus side (probe, the
//! backend's state machine, remove) and the module; `connect.rs` connecting and disconnecting;
//! `datapath.rs` the rings, `queue_rq`, the ring handler and the request timeout; `sys.rs` the
//! kernel bindings (block layer, locks) and their safe wrappers.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, Guard};
use kernel::sync::{new_mutex, Mutex};

#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
frontend_modules!();
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/blkif.rs"]
mod blkif;
mod connect;
mod datapath;
mod resume;
mod sys;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/vdev.rs"]
mod vdev;
kernel_display!(vdev::DiskName);

use abi::Errno;
use abi_client::{Grant, OwnedPort};
use abi_xenbus_client::XenbusDevice;
use blkif::{Request, Response};
use connect::*;
use datapath::*;
use granted_pages::{GrantedPage, GrantedPages};
use kernel::sync::Arc;
use kernel_frontend::{Binding, Bound, EvtchnTarget, Frontend, Reporter};
use xenbus_state::XenbusState;

xpv_module! {
    type: XenBlkfront,
    name: "xen_blkfront",
    description: "Xen virtual block device frontend (xvd)",
    // The xen bus device's MODALIAS (`xen:<type>`, as Linux's xenbus): udev loads us for it.
    alias: ["xen:vbd"],
}

/// Block major of Xen virtual disks (`XENVBD_MAJOR`, `xvd`).
const XENVBD_MAJOR: u32 = 202;

/// Device life cycle ([`Blkfront::state`]).
mod st {
    /// Probed, no rings.
    pub(crate) const INIT: u32 = 0;
    /// Rings granted and announced (`Initialised`), waiting for the backend's `Connected`.
    pub(crate) const RINGS: u32 = 1;
    /// Disk live: I/O flows.
    pub(crate) const CONNECTED: u32 = 2;
    /// Going away: new I/O fails.
    pub(crate) const CLOSING: u32 = 3;
    /// Disk removed, we are `Closed`; rings freed at `remove` or before a reconnect.
    pub(crate) const CLOSED: u32 = 4;
}

/// Negotiated with the backend at connect.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Features {
    flush_op: Option<u8>,
    fua: bool,
    discard: bool,
    secure: bool,
    granularity: u32,
    alignment: u32,
    persistent: bool,
    read_only: bool,
    /// `trusted` parameter and the toolstack's `trusted` key: grant request pages directly.
    trusted: bool,
}

/// A bound `vbd` device.
struct Blkfront {
    dev: XenbusDevice,
    vdev: vdev::Vdev,
    /// blkif `handle`: the device id (`virtual-device`), truncated as Linux's `blkif_vdev_t`.
    handle: u16,
    /// The backend's domain.
    otherend: u16,
    state: AtomicU32,
    /// A protocol violation was seen: all I/O fails, the ring ports stay masked.
    error: AtomicBool,
    /// Reports a violation seen in interrupt context to the toolstack ([`report_violation`]).
    reporter: Reporter<Blkfront>,
    /// Pages of ours the backend still mapped when we revoked their grants (leaked, XSA-396),
    /// over the device's life; bounded by `grant::MAX_LEAKED_PAGES_PER_DEVICE` at (re)connect.
    leaks: &'static grant::LeakCount,
    /// The xenbus callbacks' state, behind a mutex ([`Blkfront::lock`]). The I/O paths do not
    /// read it: `queue_rq` and the timeout have their disk's [`DiskData`], each ring handler
    /// its [`RingInfo`].
    ctl: Pin<KBox<Mutex<Ctl>>>,
}

/// What only the xenbus callbacks use (process context).
struct Ctl {
    ring_order: u32,
    sectors: u64,
    /// Logical sector size in bytes (`sector-size`, read at connect).
    sector_size: u32,
    /// Negotiated at connect.
    feat: Features,
    // Drop order: disk before tag set, handlers before rings.
    disk: Option<sys::Disk>,
    tags: Option<sys::TagSet>,
    /// One per ring, in ring order; dropped when the device stops (no handler runs after).
    bindings: KVec<Binding<RingInfo>>,
    /// The rings, from `setup_rings` to `free_rings` (the backend may map their pages until it
    /// has closed).
    rings: KVec<Arc<RingInfo>>,
    /// The disk's queue is quiesced for a suspend (`resume.rs`).
    quiesced: bool,
    /// Resumed in a new domain with the disk live: the next connect sets the same rings up
    /// again and re-issues the requests that were in flight (`resume.rs`).
    resuming: bool,
    /// Slots per ring, segments per request and whether they are indirect, as the disk was
    /// made with (its tag set and queue limits): what a resumed connect must provide again.
    depth: u32,
    segs: usize,
    indirect: bool,
}

/// A device's ring handlers and rings, as `Ctl` keeps them.
type Rings = (KVec<Binding<RingInfo>>, KVec<Arc<RingInfo>>);

/// The xenbus callbacks' hold on a device: its `ctl` locked.
struct Locked<'a> {
    info: &'a Blkfront,
    ctl: Guard<'a, Ctl, MutexBackend>,
}

impl Locked<'_> {
    /// Installs new rings and their handlers, `EBUSY` (dropping them) while a disk or its tag
    /// set exists (it uses the current rings). Returns the old ones, for the caller to drop.
    fn replace_rings(
        &mut self,
        bindings: KVec<Binding<RingInfo>>,
        rings: KVec<Arc<RingInfo>>,
    ) -> Result<Rings> {
        if self.ctl.disk.is_some() || self.ctl.tags.is_some() {
            return Err(EBUSY);
        }
        Ok((
            core::mem::replace(&mut self.ctl.bindings, bindings),
            core::mem::replace(&mut self.ctl.rings, rings),
        ))
    }
}

impl Blkfront {
    /// Locks the xenbus callbacks' state (process context; may sleep).
    fn lock(&self) -> Locked<'_> {
        Locked {
            info: self,
            ctl: self.ctl.lock(),
        }
    }

    fn name(&self) -> vdev::DiskName {
        self.vdev.name()
    }

    fn set_error(&self, why: core::fmt::Arguments<'_>) {
        if !self.error.swap(true, Ordering::AcqRel)
            && self.state.load(Ordering::Acquire) != st::CLOSING
        {
            pr_err!(
                "{}: backend protocol violation ({}): device in error state, its I/O fails\n",
                self.name(),
                why
            );
            self.reporter.queue();
        }
    }
}

/// Work item of a device in its error state: reports the violation to the toolstack as Linux's
/// `xenbus_dev_fatal` (error node, `Closing`), which the interrupt handler that found it cannot
/// do (xenstore writes sleep). The backend's `Closing` then tears the device down.
fn report_violation(info: &Blkfront) {
    if info.error.load(Ordering::Acquire) && info.state.load(Ordering::Acquire) == st::CONNECTED {
        info.dev.fatal(EIO.into(), "backend protocol violation");
    }
}

/// The bound devices.
static DEVICES: kernel_frontend::Devices<Blkfront> = kernel_frontend::Devices::new();

/// `probe`: decode the vdev, decline what Linux declines; the device's state.
fn probe_dev(dev: XenbusDevice, bound: Bound<'_, Blkfront>) -> Result<Arc<Blkfront>> {
    let mut buf = [0u8; 24];
    let raw = match dev.read_own(b"virtual-device", &mut buf) {
        Ok(n) => blkif::parse_u64(&buf[..n]),
        Err(_) => dev
            .read_own(b"virtual-device-ext", &mut buf)
            .ok()
            .and_then(|n| blkif::parse_u64(&buf[..n])),
    };
    let Some(raw) = raw.and_then(|v| u32::try_from(v).ok()) else {
        pr_err!("vbd: no usable virtual-device\n");
        return Err(ENODEV);
    };
    let vdev = vdev::Vdev::decode(raw).map_err(|e| {
        pr_err!("vbd {}: refused: {:?}\n", raw, e);
        ENODEV
    })?;
    let unplug_mask = abi_client::platform_info().map(|p| p.unplug).unwrap_or(0);
    if !unplug::has_pv_disk_devices(unplug_mask) {
        pr_info!(
            "{}: emulated disks not unplugged (mask {:#x}): not binding\n",
            vdev.name(),
            unplug_mask
        );
        return Err(ENODEV);
    }
    if unplug::has_pv_and_legacy_disk_devices(unplug_mask) && !vdev.is_pv_only() {
        pr_info!(
            "{}: vdev {:#x} is an emulated disk too (xen_emul_unplug=unnecessary): not binding\n",
            vdev.name(),
            raw
        );
        return Err(ENODEV);
    }
    let mut t = [0u8; 16];
    if let Ok(n) = dev.read_own(b"device-type", &mut t) {
        if t[..n].starts_with(b"cdrom") {
            pr_info!(
                "{}: emulated CD-ROM in an HVM guest: not binding\n",
                vdev.name()
            );
            return Err(ENODEV);
        }
    }
    // As Linux's xlbd_reserve_minors: a disk whose minors another disk already has (sdb and
    // xvdb, hdc and xvdc, ...) is refused. Devices are probed one at a time (see `Bound`), so
    // the check and the insertion do not race.
    if let Some(other) = bound.find_map(|o| o.vdev.minors_overlap(&vdev).then_some(o.vdev)) {
        pr_err!(
            "vbd {}: {} (minors {}..{}) would take the minors of {} (vdev {}): refused\n",
            raw,
            vdev.name(),
            vdev.minor,
            vdev.minor + vdev.nr_minors(),
            other.name(),
            other.raw
        );
        return Err(EBUSY);
    }
    let otherend = dev
        .info()
        .ok()
        .and_then(|i| u16::try_from(i.otherend_id).ok())
        .ok_or(ENODEV)?;
    let b = Arc::new(
        Blkfront {
            dev,
            vdev,
            handle: raw as u16,
            otherend,
            state: AtomicU32::new(st::INIT),
            error: AtomicBool::new(false),
            reporter: bound.reporter(),
            leaks: bound.leaks(),
            ctl: KBox::pin_init(
                new_mutex!(Ctl {
                    ring_order: 0,
                    sectors: 0,
                    sector_size: 512,
                    feat: Features::default(),
                    disk: None,
                    tags: None,
                    bindings: KVec::new(),
                    rings: KVec::new(),
                    quiesced: false,
                    resuming: false,
                    depth: 0,
                    segs: 0,
                    indirect: false,
                }),
                GFP_KERNEL,
            )?,
        },
        GFP_KERNEL,
    )?;
    Ok(b)
}

impl Frontend for Blkfront {
    fn devices() -> &'static kernel_frontend::Devices<Self> {
        &DEVICES
    }

    fn probe(dev: XenbusDevice, bound: Bound<'_, Self>) -> Result<Arc<Self>> {
        probe_dev(dev, bound)
    }

    fn otherend_changed(this: &Arc<Self>, bs: XenbusState) {
        otherend_changed(this, bs)
    }

    fn remove(&self) {
        remove(self)
    }

    fn report_violation(&self) {
        report_violation(self)
    }

    fn suspend(this: &Arc<Self>) -> Result {
        resume::suspend(this);
        Ok(())
    }

    fn resume(this: &Arc<Self>, cancelled: bool) {
        resume::resume(this, cancelled)
    }
}

/// `otherend_changed`: the backend's state machine (`blkback_changed`).
fn otherend_changed(info: &Arc<Blkfront>, bs: XenbusState) {
    let state = info.state.load(Ordering::Acquire);
    match bs {
        XenbusState::InitWait => {
            if state == st::INIT && info.lock().ctl.resuming {
                if let Err(e) = resume::resetup_rings(info) {
                    pr_err!(
                        "{}: cannot set the rings up again after restore: {:?}\n",
                        info.name(),
                        e
                    );
                    resume::give_up(info);
                    info.dev
                        .fatal(e.into(), "setting up the rings after restore");
                }
            } else if state == st::INIT || state == st::CLOSED {
                if let Err(e) = info.leaks.check(grant::MAX_LEAKED_PAGES_PER_DEVICE) {
                    // A backend that keeps our pages mapped across reconnects would make us
                    // leak a ring's worth each time: stop here.
                    pr_err!(
                        "{}: backend kept {} of our pages mapped (more than {}): not connecting again\n",
                        info.name(),
                        e.leaked,
                        e.limit
                    );
                    if state == st::INIT {
                        info.state.store(st::CLOSED, Ordering::Release);
                    }
                    let _ = info.dev.switch_state(XenbusState::Closed);
                    return;
                }
                info.error.store(false, Ordering::Release);
                if let Err(e) = setup_rings(info) {
                    pr_err!("{}: cannot set up rings: {:?}\n", info.name(), e);
                    free_rings(&mut info.lock());
                    info.state.store(st::CLOSED, Ordering::Release);
                    info.dev.fatal(e.into(), "setting up the rings");
                }
            }
        }
        XenbusState::Connected => match state {
            st::RINGS if info.lock().ctl.resuming => {
                if let Err(e) = resume::reconnect(info) {
                    pr_err!("{}: cannot reconnect after restore: {:?}\n", info.name(), e);
                    resume::give_up(info);
                    info.dev.fatal(e.into(), "reconnecting after restore");
                }
            }
            st::RINGS => {
                if let Err(ConnectError(e, what)) = connect(info) {
                    pr_err!("{}: cannot connect: {:?}\n", info.name(), e);
                    fail(info, e, what);
                }
            }
            st::CONNECTED => check_resize(info),
            _ => {}
        },
        XenbusState::Closing | XenbusState::Closed => {
            if state != st::CLOSED {
                teardown(info);
            } else {
                // After a fatal error we wait in `Closing` for the backend (no-op when Closed).
                let _ = info.dev.switch_state(XenbusState::Closed);
            }
        }
        _ => {}
    }
}

/// `remove`: the device goes (hot-unplug or unload); its state is freed after this.
fn remove(info: &Blkfront) {
    teardown(info);
    // Give the backend a moment to unmap our pages (it does on our Closed) before revoking.
    let has_rings = !info.lock().ctl.rings.is_empty();
    if has_rings {
        let _ = info.dev.wait_otherend(
            &[
                XenbusState::Closed,
                XenbusState::Unknown,
                XenbusState::InitWait,
            ],
            2000,
        );
    }
    free_rings(&mut info.lock());
}

/// Module parameters the kernel command line may set (`xen_blkfront.<param>=<value>`), by the
/// index [`sys::params::set`] takes.
const CMDLINE_PARAMS: [&[u8]; 5] = [
    b"xen_blkfront.max_queues",
    b"xen_blkfront.max_ring_page_order",
    b"xen_blkfront.max_indirect_segments",
    b"xen_blkfront.feature_persistent",
    b"xen_blkfront.trusted",
];

static DRIVER: abi_xenbus::XenbusFrontendDriver = kernel_frontend::driver::<Blkfront>("vbd", "vbd");

struct XenBlkfront {
    // Field order is drop order: stop taking devices before giving the major back.
    _driver: Option<abi_xenbus_client::FrontendRegistration>,
    _major: Option<sys::BlkdevMajor>,
}

impl kernel::Module for XenBlkfront {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if let Err(e) = abi_client::platform_info() {
            if e == Errno::ENODEV {
                pr_info!("Xen not detected: no xvd disks, not binding\n");
                return Ok(XenBlkfront {
                    _driver: None,
                    _major: None,
                });
            }
            return Err(e.into());
        }
        kernel_frontend::params_from_cmdline(&CMDLINE_PARAMS, sys::read_cmdline, |i, v| {
            sys::params::set(i as u32, v)
        });
        let major = sys::BlkdevMajor::register(XENVBD_MAJOR, c"xvd")?;
        let driver = match abi_xenbus_client::FrontendRegistration::new(&DRIVER) {
            Ok(d) => d,
            // Xen without its platform device (xen_platform_pci=0): xenbus has no xenstore.
            Err(Errno::ENODEV) => {
                pr_info!(
                    "xenbus has no xenstore (no Xen platform device): no xvd disks, not binding\n"
                );
                return Ok(XenBlkfront {
                    _driver: None,
                    _major: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
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
