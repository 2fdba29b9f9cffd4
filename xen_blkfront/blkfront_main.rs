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

use core::ffi::c_void;
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
mod sys;
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/vdev.rs"]
mod vdev;

use abi_client::{EvtchnBinding, Grant, Port};
use abi_xenbus_client::XenbusDevice;
use blkif::{Request, Response};
use granted_pages::{GrantedPage, GrantedPages};
use kernel_frontend::{Bound, Frontend};
use xenbus_state::XenbusState;

module! {
    type: XenBlkfront,
    name: "xen_blkfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual block device frontend (xvd)",
    license: "GPL",
    // The xen bus device's MODALIAS (`xen:<type>`, as Linux's xenbus): udev loads us for it.
    alias: ["xen:vbd"],
}

/// Block major of Xen virtual disks (`XENVBD_MAJOR`, `xvd`).
const XENVBD_MAJOR: u32 = 202;
/// Most blk-mq tags (= ring slots in use) per disk, over all its rings: each slot holds a
/// granted bounce page per segment, so this bounds a disk's bounce memory and grant references
/// (64 slots of 32 segments: 2112 grants, 8.3 MiB).
const MAX_SLOTS_PER_DISK: u32 = 64;
/// Completions handed to blk-mq per batch (outside the ring lock).
const BATCH: usize = 32;
/// How long a closing device waits for its in-flight requests, in ms.
const DRAIN_MS: u32 = 5000;

type BlkRing = ring::SharedRing<Request, Response>;

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

/// One ring slot: the bounce pages of the request using it (granted for the device's life) and
/// what is in flight in it.
struct Slot {
    /// A request is in flight with this id.
    busy: bool,
    /// The operation its response must echo.
    rsp_op: u8,
    /// A read: copy the data back on completion.
    read: bool,
    /// The request, while busy.
    rq: Option<sys::Rq>,
    /// Bounce pages, granted writable (reads land there), and their addresses for the copy
    /// shim.
    pages: KVec<GrantedPage>,
    ptrs: KVec<*mut c_void>,
    /// The indirect segment page, with indirect requests.
    ind: Option<GrantedPage>,
    /// Trusted backend: grants of the request's own pages while it is in flight (the first
    /// `ndirect` of `pages.len()` entries), and room for its segment list.
    direct: KVec<Option<Grant>>,
    ndirect: usize,
    dsegs: KVec<sys::DataSeg>,
}

impl Slot {
    /// Revokes the direct grants of a finished request; `false` if the backend still maps one
    /// of those pages (they are the kernel's, which will reuse them: a trusted backend only).
    fn end_direct(&mut self) -> bool {
        let mut ok = true;
        for d in self.direct.iter_mut().take(self.ndirect) {
            if let Some(g) = d.take() {
                ok &= g.end().is_ok();
            }
        }
        self.ndirect = 0;
        ok
    }
}

// SAFETY: the raw pointers are addresses of pages the slot owns.
unsafe impl Send for Slot {}

/// What the ring lock protects.
struct RingState {
    ring: BlkRing,
    slots: KVec<Slot>,
}

/// Most pages of a ring (`2^MAX_RING_PAGE_ORDER`).
const RING_PAGES: usize = 1 << blkif::MAX_RING_PAGE_ORDER;

/// One blkif ring (= one blk-mq hardware queue); its handler's binding is kept apart, in
/// [`DataPath::bindings`], which drops first. Field order is drop order: the lock with the slots
/// and their pages, then the ring pages (which the ring in `lock` points into).
struct RingInfo {
    lock: sys::IrqSpinLock<RingState>,
    /// Closed on drop (the binding is gone by then).
    port: Port,
    /// The ring's pages and their grants (`ring-ref<i>`).
    pages: GrantedPages<RING_PAGES>,
    /// Back pointer to the device (the device outlives its rings).
    dev: *const Blkfront,
}

impl Drop for RingInfo {
    /// Closes the port; the fields then drop in order: slot pages and ring pages revoked and
    /// freed, or leaked if the backend still maps them (counted in the device's `leaks`).
    fn drop(&mut self) {
        let _ = self.port.close();
    }
}

/// What the I/O paths read: the rings, the bindings of their handlers and the negotiated
/// features. Field order is drop order: the bindings first (each handler reads its ring).
#[derive(Default)]
struct DataPath {
    /// One per ring, in ring order, each pointing at its boxed [`RingInfo`]; empty once stopped.
    bindings: KVec<EvtchnBinding>,
    rings: KVec<KBox<RingInfo>>,
    feat: Features,
}

/// Negotiated with the backend at connect.
#[derive(Clone, Copy, Default)]
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
    /// Reports a violation seen in interrupt context to the toolstack ([`report_violation`]);
    /// set at probe, cancelled by `remove` before the device is freed.
    report: Option<abi_client::Work>,
    /// Pages of ours the backend still mapped when we revoked their grants (leaked, XSA-396),
    /// over the device's life; bounded by `grant::MAX_LEAKED_PAGES_PER_DEVICE` at (re)connect.
    leaks: grant::LeakCount,
    /// Read by the xenbus callbacks (holding `ctl`) and by `queue_rq` and the request timeout
    /// (which run only while the disk exists); changed only through [`Locked::dp_mut`], which
    /// holds `ctl` and refuses while the disk or its tag set exists. The ring handlers read their
    /// own [`RingInfo`], never this.
    dp: core::cell::UnsafeCell<DataPath>,
    /// The xenbus callbacks' state, behind a mutex ([`Blkfront::lock`]).
    ctl: Pin<KBox<Mutex<Ctl>>>,
}

/// What only the xenbus callbacks use (process context).
struct Ctl {
    ring_order: u32,
    sectors: u64,
    /// Logical sector size in bytes (`sector-size`, read at connect).
    sector_size: u32,
    // Drop order: disk before tag set.
    disk: Option<sys::Disk>,
    tags: Option<sys::TagSet>,
}

// SAFETY: `dp` follows the discipline documented on it; the rest is atomics, locks and plain data.
unsafe impl Sync for Blkfront {}
// SAFETY: as Sync.
unsafe impl Send for Blkfront {}

/// The xenbus callbacks' hold on a device: its `ctl` locked, and through it the data path.
struct Locked<'a> {
    info: &'a Blkfront,
    ctl: Guard<'a, Ctl, MutexBackend>,
}

impl Locked<'_> {
    /// The data path, for reading (alongside `queue_rq` and the timeout, which only read it).
    fn dp(&self) -> &DataPath {
        // SAFETY: changed only through `dp_mut`, which needs this lock exclusively.
        unsafe { &*self.info.dp.get() }
    }

    /// The data path, for changing: `EBUSY` while the disk or its tag set exists (`queue_rq`
    /// and the timeout may then be reading it). Taken with the lock held exclusively, so no
    /// other callback holds a reference from [`Self::dp`].
    fn dp_mut(&mut self) -> Result<&mut DataPath> {
        if self.ctl.disk.is_some() || self.ctl.tags.is_some() {
            return Err(EBUSY);
        }
        // SAFETY: no disk and no tag set, so no `queue_rq` or timeout runs (they end before the
        // disk and the tag set are gone); the ring handlers never read `dp`; every other
        // reader holds this lock, which we hold exclusively.
        Ok(unsafe { &mut *self.info.dp.get() })
    }

    /// Replaces the data path (refused as [`Self::dp_mut`]); returns the old one.
    fn replace_dp(&mut self, new: DataPath) -> Result<DataPath> {
        Ok(core::mem::replace(self.dp_mut()?, new))
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

    /// The data path as `queue_rq` and the request timeout read it.
    ///
    /// # Safety
    /// Only from the block layer's callbacks of this device's disk: while one runs, the disk
    /// and its tag set exist, so the data path is not changed ([`Locked::dp_mut`]).
    unsafe fn dp_io(&self) -> &DataPath {
        // SAFETY: per the contract.
        unsafe { &*self.dp.get() }
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
            if let Some(w) = &self.report {
                w.queue();
            }
        }
    }
}

/// Work item of a device in its error state: reports the violation to the toolstack as Linux's
/// `xenbus_dev_fatal` (error node, `Closing`), which the interrupt handler that found it cannot
/// do (xenstore writes sleep). The backend's `Closing` then tears the device down.
///
/// # Safety
/// `data` is the device, which cancels this work before it is freed.
unsafe extern "C" fn report_violation(data: *mut c_void) {
    // SAFETY: per the contract.
    let info = unsafe { &*(data as *const Blkfront) };
    if info.error.load(Ordering::Acquire) && info.state.load(Ordering::Acquire) == st::CONNECTED {
        info.dev.fatal(EIO.to_errno(), "backend protocol violation");
    }
}

/// The bound devices.
static DEVICES: kernel_frontend::Devices<Blkfront> = kernel_frontend::Devices::new();

// ---- data path -------------------------------------------------------------------------------

/// `queue_rq` of hw queue `hwq` (called by helpers.c after `blk_mq_start_request`).
///
/// # Safety
/// `data` is the queuedata of one of our disks (a live [`Blkfront`]), `rq` a started request.
#[no_mangle]
pub unsafe extern "C" fn xpv_blkfront_queue_rq(
    data: *mut c_void,
    hwq: u32,
    rq: *mut sys::RawRequest,
) -> i32 {
    // SAFETY: the disk's queuedata is its device, which outlives the disk.
    let info = unsafe { &*(data as *const Blkfront) };
    // SAFETY: a started request, ours until completed.
    let rq = unsafe { sys::Rq::from_raw(rq) };
    if info.error.load(Ordering::Acquire) || info.state.load(Ordering::Acquire) != st::CONNECTED {
        return sys::sts::IOERR;
    }
    // SAFETY: the block layer's `queue_rq` of this device's disk.
    let dp = unsafe { info.dp_io() };
    let Some(r) = dp.rings.get(hwq as usize) else {
        return sys::sts::IOERR;
    };
    submit(info, &dp.feat, r, rq)
}

fn submit(info: &Blkfront, feat: &Features, r: &RingInfo, rq: sys::Rq) -> i32 {
    let (op, fua) = rq.op();
    let tag = rq.tag();
    let mut g = r.lock.lock();
    // Re-checked under the lock: teardown takes every ring lock after setting CLOSING.
    if info.state.load(Ordering::Acquire) != st::CONNECTED || info.error.load(Ordering::Acquire) {
        return sys::sts::IOERR;
    }
    if g.ring.state().is_full() {
        return sys::sts::RESOURCE;
    }
    let handle = info.handle;
    let RingState { ring, slots } = &mut *g;
    let Some(slot) = usize::try_from(tag).ok().and_then(|t| slots.get_mut(t)) else {
        pr_err!("{}: request tag {} out of range\n", info.name(), tag);
        return sys::sts::IOERR;
    };
    if slot.busy {
        pr_err!("{}: request tag {} already in flight\n", info.name(), tag);
        return sys::sts::IOERR;
    }
    let id = tag as u64;
    let pos = rq.pos();
    let (req, rsp_op, read) = match op {
        sys::rq_op::FLUSH => {
            let Some(fop) = feat.flush_op else {
                return sys::sts::NOTSUPP;
            };
            match Request::rw(fop, handle, id, pos, &[]) {
                Some(q) => (q, fop, false),
                None => return sys::sts::IOERR,
            }
        }
        sys::rq_op::DISCARD | sys::rq_op::SECURE_ERASE => {
            if !feat.discard {
                return sys::sts::NOTSUPP;
            }
            let secure = op == sys::rq_op::SECURE_ERASE;
            if secure && !feat.secure {
                return sys::sts::NOTSUPP;
            }
            let n = u64::from(rq.bytes()) / blkif::SECTOR_BYTES as u64;
            (
                Request::discard(id, pos, n, secure),
                blkif::OP_DISCARD,
                false,
            )
        }
        sys::rq_op::READ | sys::rq_op::WRITE => {
            let write = op == sys::rq_op::WRITE;
            if write && feat.read_only {
                return sys::sts::IOERR;
            }
            let bytes = rq.bytes() as usize;
            let npages = blkif::pages_for(bytes);
            if npages == 0 || npages > slot.pages.len() || bytes % blkif::SECTOR_BYTES != 0 {
                pr_err!("{}: request of {} bytes does not fit\n", info.name(), bytes);
                return sys::sts::IOERR;
            }
            let nseg = if feat.trusted {
                grant_direct(info, slot, &rq, write)
            } else {
                None
            };
            let direct = nseg.is_some();
            let nseg = nseg.unwrap_or(npages);
            if !direct && write && rq.copy(&slot.ptrs[..npages], true).is_err() {
                return sys::sts::IOERR;
            }
            let bop = if !write {
                blkif::OP_READ
            } else if fua && feat.fua {
                feat.flush_op.unwrap_or(blkif::OP_WRITE)
            } else {
                blkif::OP_WRITE
            };
            let seg = |i: usize| {
                if direct {
                    let d = &slot.dsegs[i];
                    return blkif::Segment {
                        gref: slot.direct[i].as_ref().map_or(0, |g| g.gref()),
                        first_sect: (d.offset / 512) as u8,
                        last_sect: ((d.offset + d.len) / 512 - 1) as u8,
                        _pad: 0,
                    };
                }
                let (first_sect, last_sect) = blkif::linear_segment(bytes, i).unwrap_or((0, 7));
                blkif::Segment {
                    gref: slot.pages[i].gref(0),
                    first_sect,
                    last_sect,
                    _pad: 0,
                }
            };
            let npages = nseg;
            if npages <= blkif::MAX_SEGMENTS_PER_REQUEST {
                let mut segs = [blkif::Segment::default(); blkif::MAX_SEGMENTS_PER_REQUEST];
                for (i, s) in segs.iter_mut().enumerate().take(npages) {
                    *s = seg(i);
                }
                match Request::rw(bop, handle, id, pos, &segs[..npages]) {
                    Some(q) => (q, bop, !write && !direct),
                    None => {
                        slot.end_direct();
                        return sys::sts::IOERR;
                    }
                }
            } else {
                let Some(ipage) = slot.ind.as_ref() else {
                    slot.end_direct();
                    return sys::sts::IOERR;
                };
                let base = ipage.as_ptr().cast::<blkif::Segment>();
                for i in 0..npages {
                    // SAFETY: the indirect page is ours, 4096 bytes = 512 segments, and
                    // npages <= slot.pages.len() <= 512; volatile: the backend may map it.
                    unsafe { core::ptr::write_volatile(base.add(i), seg(i)) };
                }
                let inner_op = if write {
                    blkif::OP_WRITE
                } else {
                    blkif::OP_READ
                };
                match Request::indirect(inner_op, handle, id, pos, npages as u16, &[ipage.gref(0)])
                {
                    Some(q) => (q, inner_op, !write && !direct),
                    None => {
                        slot.end_direct();
                        return sys::sts::IOERR;
                    }
                }
            }
        }
        _ => return sys::sts::NOTSUPP,
    };
    if ring.put_request(req).is_none() {
        slot.end_direct();
        return sys::sts::RESOURCE;
    }
    slot.busy = true;
    slot.rsp_op = rsp_op;
    slot.read = read;
    slot.rq = Some(rq);
    if ring.push_requests() {
        let _ = r.port.notify();
    }
    sys::sts::OK
}

/// Trusted backend: grants the request's own pages (read-only for writes). Returns the number of
/// segments, or `None` to bounce instead (segments not in 512-byte units, too many, no free
/// grant reference).
fn grant_direct(info: &Blkfront, slot: &mut Slot, rq: &sys::Rq, write: bool) -> Option<usize> {
    let n = rq.segments(&mut slot.dsegs)?;
    if n == 0 {
        return None;
    }
    for d in slot.dsegs.iter().take(n) {
        if d.len == 0 || d.offset % 512 != 0 || d.len % 512 != 0 || d.offset + d.len > 4096 {
            return None;
        }
    }
    if n > slot.direct.len() {
        return None;
    }
    for i in 0..n {
        match Grant::new(info.otherend, slot.dsegs[i].gfn, write) {
            Ok(g) => {
                slot.direct[i] = Some(g);
                slot.ndirect = i + 1;
            }
            Err(_) => {
                slot.end_direct();
                return None;
            }
        }
    }
    Some(n)
}

/// Takes up to [`BATCH`] responses off the ring into `out` (data of reads already copied back).
/// Returns how many, and whether the ring may hold more.
fn reap(info: &Blkfront, r: &RingInfo, out: &mut [Option<(sys::Rq, i32)>; BATCH]) -> (usize, bool) {
    let mut g = r.lock.lock();
    let RingState { ring, slots } = &mut *g;
    let mut n = 0;
    loop {
        if info.error.load(Ordering::Acquire) {
            // Fail whatever is still in flight, then nothing more from this ring.
            for s in slots.iter_mut() {
                if n == BATCH {
                    return (n, true);
                }
                if s.busy {
                    s.busy = false;
                    if !s.end_direct() {
                        pr_err!("backend still maps a request page of a failed request\n");
                    }
                    if let Some(rq) = s.rq.take() {
                        out[n] = Some((rq, sys::sts::IOERR));
                        n += 1;
                    }
                }
            }
            return (n, false);
        }
        let avail = match ring.final_check_for_responses() {
            Ok(a) => a,
            Err(e) => {
                info.set_error(format_args!("ring index: {:?}", e));
                continue;
            }
        };
        if avail == 0 {
            return (n, false);
        }
        if n == BATCH {
            return (n, true);
        }
        let Some(rsp) = ring.take_response() else {
            return (n, false);
        };
        let nr = slots.len() as u32;
        let checked = blkif::check_response(&rsp, nr, |id| {
            let s = &slots[id as usize];
            s.busy.then_some(s.rsp_op)
        });
        match checked {
            Err(e) => {
                info.set_error(format_args!("{:?}", e));
            }
            Ok((id, status)) => {
                let s = &mut slots[id as usize];
                s.busy = false;
                if !s.end_direct() {
                    info.set_error(format_args!(
                        "request {} answered but its pages are still mapped",
                        id
                    ));
                    if let Some(rq) = s.rq.take() {
                        out[n] = Some((rq, sys::sts::IOERR));
                        n += 1;
                    }
                    continue;
                }
                let Some(rq) = s.rq.take() else { continue };
                let code = match status {
                    blkif::RspStatus::Okay => {
                        if s.read && rq.copy(&s.ptrs, false).is_err() {
                            sys::sts::IOERR
                        } else {
                            sys::sts::OK
                        }
                    }
                    blkif::RspStatus::NotSupported => sys::sts::NOTSUPP,
                    blkif::RspStatus::Error => sys::sts::IOERR,
                };
                out[n] = Some((rq, code));
                n += 1;
            }
        }
    }
}

/// Processes a ring's responses and completes their requests. Any context.
fn process_ring(info: &Blkfront, r: &RingInfo) -> bool {
    let mut any = false;
    loop {
        let mut out: [Option<(sys::Rq, i32)>; BATCH] = [const { None }; BATCH];
        let (n, more) = reap(info, r, &mut out);
        for (rq, code) in out.iter_mut().take(n).filter_map(Option::take) {
            rq.complete(code);
        }
        any |= n > 0;
        if !more {
            return any;
        }
    }
}

/// Event channel handler of a ring (hard IRQ, port masked). The work is done here, so the EOI
/// is given on return: `SPURIOUS` (throttled by xen_platform) when there was nothing to do.
/// Once the device is in its error state (a protocol violation) the port is left masked and
/// unacknowledged (`LATE` without a later EOI), as Linux's `blkif_interrupt` does: the backend
/// gets no more of our attention until the device is set up afresh (new ports).
///
/// # Safety
/// `data` is the [`RingInfo`] registered with the binding, alive until the binding is dropped.
unsafe extern "C" fn ring_event(_port: u32, data: *mut c_void) -> u32 {
    // SAFETY: per the binding's contract.
    let r = unsafe { &*(data as *const RingInfo) };
    // SAFETY: the device outlives its rings.
    let info = unsafe { &*r.dev };
    let work = process_ring(info, r);
    if info.error.load(Ordering::Acquire) {
        abi::evtchn_ret::LATE
    } else if work {
        abi::evtchn_ret::EOI
    } else {
        abi::evtchn_ret::SPURIOUS
    }
}

/// blk-mq timeout of a request (default 30 s; kblockd work, process context). While the
/// backend is `Connected` we wait on, as Linux's blkfront (a slow backend is not a broken one).
/// A backend that is no longer `Connected` will not answer: the device goes to its error state
/// and every request in flight fails, so that nothing waits for ever on it (add_disk's
/// partition read in particular, which holds the xenbus watch thread that would deliver the
/// backend's `Closing`).
///
/// # Safety
/// `data` is the queuedata of one of our disks (a live [`Blkfront`]).
#[no_mangle]
pub unsafe extern "C" fn xpv_blkfront_rq_timeout(data: *mut c_void) -> i32 {
    // SAFETY: the disk's queuedata is its device, which outlives the disk.
    let info = unsafe { &*(data as *const Blkfront) };
    if !info.error.load(Ordering::Acquire) {
        let bs = match info.dev.otherend_state() {
            Some(XenbusState::Connected) | None => return 0,
            Some(bs) => bs,
        };
        info.set_error(format_args!(
            "backend {} with {} request(s) unanswered",
            bs.name(),
            // SAFETY: the block layer's timeout callback of this device's disk.
            inflight(unsafe { info.dp_io() })
        ));
    }
    // SAFETY: as above.
    for r in unsafe { info.dp_io() }.rings.iter() {
        process_ring(info, r);
    }
    1
}

/// Requests in flight over all rings.
fn inflight(dp: &DataPath) -> usize {
    dp.rings
        .iter()
        .map(|r| r.lock.lock().slots.iter().filter(|s| s.busy).count())
        .sum()
}

// ---- xenbus side -----------------------------------------------------------------------------

fn kerr(e: i32) -> Error {
    Error::from_errno(if e < 0 { e } else { -5 })
}

fn read_u64(dev: &XenbusDevice, node: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = dev.read_otherend(node, &mut buf).ok()?;
    blkif::parse_u64(&buf[..n])
}

fn read_u32(dev: &XenbusDevice, node: &[u8]) -> Option<u32> {
    read_u64(dev, node).and_then(|v| u32::try_from(v).ok())
}

/// Allocates and grants one ring with its event channel (not bound yet). On error everything
/// made so far is undone (the pages revoked and freed by their owner, the port closed by `RingInfo`'s drop).
fn alloc_ring(info: &Blkfront, order: u32, otherend: u16) -> Result<KBox<RingInfo>> {
    // SAFETY: the device (and so its leak counter) outlives its rings: they are freed by
    // `free_rings` before `remove` frees the device.
    let pages = unsafe { GrantedPages::new(otherend, order, false, &info.leaks) }.map_err(kerr)?;
    // SAFETY: the pages are ours, zeroed, `pages.bytes()` long, and only the ring uses them; the
    // ring lives in the same `RingInfo`, which drops it before the pages.
    let ring = unsafe { BlkRing::init(pages.as_ptr(), pages.bytes()) }.ok_or(EINVAL)?;
    let lock = sys::IrqSpinLock::new(RingState {
        ring,
        slots: KVec::new(),
    })?;
    let port = info.dev.alloc_evtchn().map_err(kerr)?;
    // From here on the port is closed by `RingInfo`'s drop (also if `KBox::new` fails).
    Ok(KBox::new(
        RingInfo {
            lock,
            port,
            pages,
            dev: info as *const Blkfront,
        },
        GFP_KERNEL,
    )?)
}

/// `talk_to_blkback`: rings, event channels, our keys, `Initialised`.
fn setup_rings(info: &Blkfront) -> Result {
    let mut l = info.lock();
    free_rings(&mut l);
    let dev = &info.dev;
    let devinfo = dev.info().map_err(kerr)?;
    let otherend = u16::try_from(devinfo.otherend_id).map_err(|_| EINVAL)?;
    let nr = blkif::negotiate_queues(
        read_u32(dev, b"multi-queue-max-queues"),
        sys::params::max_queues(),
    );
    let order = blkif::negotiate_ring_order(
        read_u32(dev, b"max-ring-page-order"),
        sys::params::max_ring_page_order(),
    );
    // Made apart and installed whole; on an error it drops here, bindings first.
    let mut dp = DataPath::default();
    for i in 0..nr {
        let r = alloc_ring(info, order, otherend)?;
        // Queue i's events on CPU i mod n (with per-vCPU upcall vectors; else all stay on
        // vCPU 0), as blk-mq maps queue i to those CPUs.
        r.port.spread(i);
        let (port, data) = (r.port, (&*r as *const RingInfo).cast_mut().cast::<c_void>());
        dp.rings.push(r, GFP_KERNEL)?;
        // SAFETY: the RingInfo is boxed (stable address) and `dp.bindings` drops before
        // `dp.rings`; `ring_event` is IRQ-safe (spinlock with IRQs off, no sleeping).
        let b = unsafe { EvtchnBinding::new(port, ring_event, data) }.map_err(kerr)?;
        dp.bindings.push(b, GFP_KERNEL)?;
    }
    let persistent = sys::params::feature_persistent();
    abi_xenbus_client::with_transaction(|tx| {
        write_keys(info, &dp, tx, nr, order, persistent).map_err(|e| e.to_errno())
    })
    .map_err(kerr)?;
    l.ctl.ring_order = order;
    l.replace_dp(dp)?;
    dev.switch_state(XenbusState::Initialised).map_err(kerr)?;
    info.state.store(st::RINGS, Ordering::Release);
    Ok(())
}

fn write_keys(
    info: &Blkfront,
    dp: &DataPath,
    tx: u32,
    nr: u32,
    order: u32,
    persistent: bool,
) -> Result {
    let dev = &info.dev;
    let w = |node: core::fmt::Arguments<'_>, v: core::fmt::Arguments<'_>| {
        dev.printf(tx, node, v).map_err(kerr)
    };
    if order > 0 {
        w(format_args!("ring-page-order"), format_args!("{}", order))?;
    }
    if nr > 1 {
        w(
            format_args!("multi-queue-num-queues"),
            format_args!("{}", nr),
        )?;
    }
    for (q, r) in dp.rings.iter().enumerate() {
        for i in 0..r.pages.pages() {
            let gref = format_args!("{}", r.pages.gref(i));
            match (nr > 1, order > 0) {
                (false, false) => w(format_args!("ring-ref"), gref)?,
                (false, true) => w(format_args!("ring-ref{}", i), gref)?,
                (true, false) => w(format_args!("queue-{}/ring-ref", q), gref)?,
                (true, true) => w(format_args!("queue-{}/ring-ref{}", q, i), gref)?,
            }
        }
        let port = format_args!("{}", r.port.0);
        if nr > 1 {
            w(format_args!("queue-{}/event-channel", q), port)?;
        } else {
            w(format_args!("event-channel"), port)?;
        }
    }
    w(format_args!("protocol"), format_args!("x86_64-abi"))?;
    w(
        format_args!("feature-persistent"),
        format_args!("{}", u32::from(persistent)),
    )
}

/// Unbinds, revokes and frees every ring with its slots (`RingInfo`'s drop); pages the backend
/// still maps are leaked and counted in the device's `leaks`.
fn free_rings(l: &mut Locked<'_>) {
    let info = l.info;
    let before = info.leaks.get();
    match l.replace_dp(DataPath::default()) {
        Ok(dp) => drop(dp),
        // Not reached: every caller has stopped the device (no disk) first.
        Err(_) => pr_err!("{}: rings still used by the disk: not freed\n", info.name()),
    }
    let leaked = info.leaks.get().saturating_sub(before);
    if leaked > 0 {
        pr_warn!(
            "{}: backend still maps {} of our pages: not reused, freed once it unmaps them ({} by this device)\n",
            info.name(),
            leaked,
            info.leaks.get()
        );
    }
}

/// Grants the bounce pages of every slot (persistently, for the device's life).
fn alloc_slots(info: &Blkfront, dp: &DataPath, depth: u32, segs: usize, indirect: bool) -> Result {
    let devinfo = info.dev.info().map_err(kerr)?;
    let otherend = u16::try_from(devinfo.otherend_id).map_err(|_| EINVAL)?;
    for r in dp.rings.iter() {
        let mut slots = KVec::new();
        for _ in 0..depth {
            let mut s = Slot {
                busy: false,
                rsp_op: 0,
                read: false,
                rq: None,
                pages: KVec::new(),
                ptrs: KVec::new(),
                ind: None,
                direct: KVec::with_capacity(segs, GFP_KERNEL)?,
                ndirect: 0,
                dsegs: KVec::from_elem(sys::DataSeg::default(), segs, GFP_KERNEL)?,
            };
            for _ in 0..segs {
                s.direct.push(None, GFP_KERNEL)?;
            }
            for _ in 0..segs {
                // SAFETY: the device outlives its slots (see `alloc_ring`).
                let p =
                    unsafe { GrantedPage::new(otherend, 0, false, &info.leaks) }.map_err(kerr)?;
                s.ptrs.push(p.as_ptr().cast::<c_void>(), GFP_KERNEL)?;
                s.pages.push(p, GFP_KERNEL)?;
            }
            if indirect {
                // Writable: blkback maps persistent grants read-write, even indirect pages.
                // SAFETY: as above.
                let p =
                    unsafe { GrantedPage::new(otherend, 0, false, &info.leaks) }.map_err(kerr)?;
                s.ind = Some(p);
            }
            slots.push(s, GFP_KERNEL)?;
        }
        r.lock.lock().slots = slots;
    }
    Ok(())
}

/// Why [`connect`] failed: the errno and what went wrong, for the toolstack's
/// `error/<nodename>/error` node (see [`XenbusDevice::fatal`]).
struct ConnectError(Error, &'static str);

impl From<Error> for ConnectError {
    fn from(e: Error) -> Self {
        ConnectError(e, "creating the disk")
    }
}

/// `blkfront_connect`: the backend is `Connected`: read the disk, create it, `Connected`.
///
/// # Errors
/// [`ConnectError`] with `EINVAL` for unusable backend keys (each logged with its value), or the
/// error of an allocation or of the block layer.
fn connect(info: &Blkfront) -> Result<(), ConnectError> {
    let dev = &info.dev;
    let Some(sectors) = read_u64(dev, b"sectors") else {
        pr_err!(
            "{}: backend's sectors missing or not a number\n",
            info.name()
        );
        return Err(ConnectError(EINVAL, "reading sectors from the backend"));
    };
    let info_bits = read_u32(dev, b"info").unwrap_or(0);
    let ss = read_u32(dev, b"sector-size").unwrap_or(512);
    let params = blkif::DiskParams::new(
        sectors,
        ss,
        read_u32(dev, b"physical-sector-size"),
        info_bits,
    )
    .map_err(|e| {
        pr_err!(
            "{}: unusable disk (sectors {}, sector-size {}): {:?}\n",
            info.name(),
            sectors,
            ss,
            e
        );
        ConnectError(EINVAL, "unusable disk parameters from the backend")
    })?;
    let flush = blkif::FlushMode::negotiate(
        dev.otherend_feature(b"feature-barrier"),
        dev.otherend_feature(b"feature-flush-cache"),
    );
    let (segs, indirect) = blkif::negotiate_segments(
        read_u32(dev, b"feature-max-indirect-segments"),
        sys::params::max_indirect_segments().min(blkif::SEGMENTS_PER_INDIRECT_FRAME as u32),
    );
    let discard = dev.otherend_feature(b"feature-discard");
    let feat = Features {
        flush_op: flush.op,
        // FUA only with barriers and direct requests (indirect ones carry no barrier).
        fua: flush.fua && !indirect,
        discard,
        secure: discard && dev.otherend_feature(b"discard-secure"),
        granularity: if discard {
            read_u32(dev, b"discard-granularity").unwrap_or(0)
        } else {
            0
        },
        alignment: if discard {
            read_u32(dev, b"discard-alignment").unwrap_or(0)
        } else {
            0
        },
        persistent: sys::params::feature_persistent()
            && dev.otherend_feature(b"feature-persistent"),
        read_only: params.read_only(),
        trusted: false,
    };
    // As Linux: request pages are granted directly only to a trusted backend (our parameter
    // and the toolstack's key) that does not use persistent grants, since blkback keeps
    // persistently granted pages mapped and they could then never be revoked.
    let feat = Features {
        trusted: sys::params::trusted() && dev.own_flag(b"trusted", true) && !feat.persistent,
        ..feat
    };
    let mut l = info.lock();
    let nr = l.dp().rings.len() as u32;
    let ring_order = l.ctl.ring_order;
    let ring_slots = ring::ring_size(4096 << ring_order, BlkRing::ENTRY_BYTES);
    let depth = ring_slots.min(MAX_SLOTS_PER_DISK / nr.max(1)).max(1);
    alloc_slots(info, l.dp(), depth, segs, indirect)?;
    // No disk yet: nothing reads the data path.
    l.dp_mut()?.feat = feat;
    l.ctl.sectors = sectors;
    l.ctl.sector_size = params.sector_size;
    let tags = sys::TagSet::new(nr, depth)?;
    let gran = if feat.granularity.is_power_of_two() && feat.granularity >= params.sector_size {
        feat.granularity
    } else {
        0
    };
    let lim = sys::DiskLimits {
        logical_block_size: params.sector_size,
        physical_block_size: params.physical_sector_size,
        max_hw_sectors: (segs * blkif::SECTORS_PER_PAGE) as u32,
        max_segments: segs as u32,
        write_cache: u32::from(feat.flush_op.is_some()),
        fua: u32::from(feat.fua),
        discard: u32::from(feat.discard),
        secure_erase: u32::from(feat.secure),
        discard_granularity: gran,
        discard_alignment: if gran != 0 { feat.alignment % gran } else { 0 },
        rotational: 0,
    };
    let qd = (info as *const Blkfront).cast_mut().cast::<c_void>();
    // SAFETY: the device outlives its disk (the disk is dropped in `teardown`/`remove` first).
    let mut disk = unsafe { sys::Disk::new(&tags, &lim, qd) }?;
    let name = info.name();
    disk.setup(
        XENVBD_MAJOR,
        info.vdev.minor,
        info.vdev.nr_minors(),
        name.as_bytes_with_nul(),
        params.removable(),
        params.cdrom(),
    );
    disk.set_capacity(sectors, false);
    disk.set_ro(params.read_only());
    l.ctl.tags = Some(tags);
    info.state.store(st::CONNECTED, Ordering::Release);
    dev.switch_state(XenbusState::Connected).map_err(kerr)?;
    pr_info!(
        "{}: {} sectors ({} MiB), sector size {}/{}, {} queue(s), ring order {} ({} slots, depth {}), {} segments{}, persistent grants {}, {}, flush {}, fua {}, discard {} (secure {}), ro {}\n",
        name,
        sectors,
        sectors >> 11,
        params.sector_size,
        params.physical_sector_size,
        nr,
        ring_order,
        ring_slots,
        depth,
        segs,
        if indirect { " (indirect)" } else { "" },
        if feat.persistent { "yes" } else { "no" },
        if feat.trusted {
            "trusted: direct grants"
        } else {
            "bounce buffers"
        },
        match feat.flush_op {
            Some(blkif::OP_FLUSH_DISKCACHE) => "flush-cache",
            Some(_) => "barrier",
            None => "none",
        },
        if feat.fua { "yes" } else { "no" },
        if feat.discard { "yes" } else { "no" },
        if feat.secure { "yes" } else { "no" },
        if params.read_only() { "yes" } else { "no" },
    );
    // Child of the xen bus device, as Linux's blkfront (`/sys/block/xvda/device` -> vbd-51712).
    let r = disk.add(dev.device_ptr());
    l.ctl.disk = Some(disk);
    if let Err(e) = r {
        pr_err!("{}: add_disk failed: {:?}\n", name, e);
        return Err(ConnectError(e, "adding the disk"));
    }
    // add_disk read the partition table: a violation in those answers (the I/O failed, the
    // port is left masked) is reported from here, where xenstore can be written.
    if info.error.load(Ordering::Acquire) {
        return Err(ConnectError(EIO, "backend protocol violation"));
    }
    Ok(())
}

/// The backend re-announced `Connected` while we are connected: a resize (`sectors` changed).
/// A capacity whose size in bytes does not fit in an `i64` is refused; the disk keeps its size.
fn check_resize(info: &Blkfront) {
    let Some(sectors) = read_u64(&info.dev, b"sectors") else {
        return;
    };
    let mut l = info.lock();
    let ctl = &mut *l.ctl;
    if sectors == ctl.sectors {
        return;
    }
    if let Err(e) = blkif::check_capacity(sectors, ctl.sector_size) {
        pr_err!(
            "{}: resize to {} sectors refused ({:?}): keeping {} sectors\n",
            info.name(),
            sectors,
            e,
            ctl.sectors
        );
        return;
    }
    if let Some(d) = ctl.disk.as_ref() {
        pr_info!(
            "{}: capacity {} -> {} sectors\n",
            info.name(),
            d.capacity(),
            sectors
        );
        d.set_capacity(sectors, true);
    }
    ctl.sectors = sectors;
}

/// The backend is going (`Closing`/`Closed`) or we are removed: stop I/O, remove the disk,
/// `Closed`. Rings stay until [`free_rings`] (the backend may still map their pages).
fn teardown(info: &Blkfront) {
    if stop(info) {
        let _ = info.dev.switch_state(XenbusState::Closed);
    }
}

/// Connecting failed: stop as [`teardown`], then report the error to the toolstack and go
/// `Closing` (Linux's `xenbus_dev_fatal`); `Closed` follows when the backend closes.
fn fail(info: &Blkfront, err: Error, what: &str) {
    stop(info);
    info.dev.fatal(err.to_errno(), what);
}

/// [`teardown`] without the state switch; `false` if it was already stopped.
fn stop(info: &Blkfront) -> bool {
    let prev = info.state.swap(st::CLOSING, Ordering::AcqRel);
    if prev == st::CLOSED || prev == st::CLOSING {
        info.state.store(prev, Ordering::Release);
        return false;
    }
    let mut l = info.lock();
    // Any submitter that saw CONNECTED holds a ring lock: wait for it by taking each lock.
    for r in l.dp().rings.iter() {
        drop(r.lock.lock());
    }
    let mut waited = 0;
    while inflight(l.dp()) > 0 && waited < DRAIN_MS {
        sys::msleep(20);
        waited += 20;
    }
    let left = inflight(l.dp());
    if left > 0 {
        pr_warn!(
            "{}: {} request(s) unanswered after {} ms: failing them\n",
            info.name(),
            left,
            DRAIN_MS
        );
        info.error.store(true, Ordering::Release);
        for r in l.dp().rings.iter() {
            process_ring(info, r);
        }
    }
    if let Some(d) = l.ctl.disk.take() {
        drop(d);
        pr_info!("{}: removed\n", info.name());
    }
    l.ctl.tags = None;
    // No handler after this (each unbinding waits for a running one); the rings stay until
    // `free_rings`, the backend may still map their pages.
    if let Ok(dp) = l.dp_mut() {
        drop(core::mem::take(&mut dp.bindings));
    }
    info.state.store(st::CLOSED, Ordering::Release);
    true
}

/// `probe`: decode the vdev, decline what Linux declines; the device's state.
fn probe_dev(dev: XenbusDevice, bound: Bound<'_, Blkfront>) -> Result<KBox<Blkfront>> {
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
    let mut b = KBox::new(
        Blkfront {
            dev,
            vdev,
            handle: raw as u16,
            otherend,
            state: AtomicU32::new(st::INIT),
            error: AtomicBool::new(false),
            report: None,
            leaks: grant::LeakCount::new(),
            dp: core::cell::UnsafeCell::new(DataPath::default()),
            ctl: KBox::pin_init(
                new_mutex!(Ctl {
                    ring_order: 0,
                    sectors: 0,
                    sector_size: 512,
                    disk: None,
                    tags: None,
                }),
                GFP_KERNEL,
            )?,
        },
        GFP_KERNEL,
    )?;
    let data = (&*b as *const Blkfront).cast_mut().cast::<c_void>();
    // SAFETY: the boxed device (stable address) cancels and drops the work before it is freed
    // (`remove`, or the drop below).
    b.report = Some(unsafe { abi_client::Work::new(report_violation, data) }.map_err(kerr)?);
    Ok(b)
}

impl Frontend for Blkfront {
    fn devices() -> &'static kernel_frontend::Devices<Self> {
        &DEVICES
    }

    fn probe(dev: XenbusDevice, bound: Bound<'_, Self>) -> Result<KBox<Self>> {
        probe_dev(dev, bound)
    }

    fn otherend_changed(&self, bs: XenbusState) {
        otherend_changed(self, bs)
    }

    fn remove(&self) {
        remove(self)
    }
}

/// `otherend_changed`: the backend's state machine (`blkback_changed`).
fn otherend_changed(info: &Blkfront, bs: XenbusState) {
    let state = info.state.load(Ordering::Acquire);
    match bs {
        XenbusState::InitWait => {
            if state == st::INIT || state == st::CLOSED {
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
                    info.dev.fatal(e.to_errno(), "setting up the rings");
                }
            }
        }
        XenbusState::Connected => match state {
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
    let has_rings = !info.lock().dp().rings.is_empty();
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
    // No interrupt handler or request is left to queue the report: wait for a running one.
    if let Some(w) = &info.report {
        w.cancel();
    }
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
            if e == -abi::ENODEV {
                pr_info!("Xen not detected: no xvd disks, not binding\n");
                return Ok(XenBlkfront {
                    _driver: None,
                    _major: None,
                });
            }
            return Err(Error::from_errno(e));
        }
        kernel_frontend::params_from_cmdline(&CMDLINE_PARAMS, sys::read_cmdline, |i, v| {
            sys::params::set(i as u32, v)
        });
        let major = sys::BlkdevMajor::register(XENVBD_MAJOR, c"xvd")?;
        let driver = match abi_xenbus_client::FrontendRegistration::new(&DRIVER) {
            Ok(d) => d,
            // Xen without its platform device (xen_platform_pci=0): xenbus has no xenstore.
            Err(e) if e == -abi::ENODEV => {
                pr_info!(
                    "xenbus has no xenstore (no Xen platform device): no xvd disks, not binding\n"
                );
                return Ok(XenBlkfront {
                    _driver: None,
                    _major: None,
                });
            }
            Err(e) => return Err(Error::from_errno(e)),
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
