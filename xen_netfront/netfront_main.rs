// SPDX-License-Identifier: GPL-2.0
//! xen_netfront: Xen virtual network interfaces over netif rings
//! (`include/xen/interface/io/netif.h`).
//!
//! On load it registers the `vif` frontend driver with xenbus. Each `vif` device becomes an
//! Ethernet net_device ("eth%d", MAC from our `mac` node) with one tx and one rx ring per queue
//! (`tx-ring-ref`, `rx-ring-ref`) and one event channel per queue (two when split), each queue
//! served by its NAPI context.
//!
//! The backend is not trusted: every ring slot owns a zeroed page of ours, granted once (tx pages
//! read-only) and kept for the life of the connection. Transmit copies the packet into the slot
//! pages (`skb_copy_bits`), receive copies out of them into a fresh skb, so the backend never
//! sees other kernel memory (XSA-403) and each byte it wrote is read once. Each response is
//! copied once out of the ring and validated (`netif.rs`); a violation stops the device with an
//! error (port left masked). Grants are revoked when the backend has closed; a page it still
//! maps is leaked, never reused (XSA-396), and counted (`GrantedPages`, shared with
//! xen_blkfront); a device that has leaked more than `grant::MAX_LEAKED_PAGES_PER_DEVICE` pages is
//! not connected again. The rx ring is refilled from the same pages as soon
//! as a response is consumed, so memory pressure can drop packets (skb allocation) but never
//! stall the ring.
//!
//! With `trusted=1` (module parameter, default 0 unlike Linux's default 1; also
//! `xen_netfront.trusted=` on the kernel command line) and the toolstack's `trusted` key (our
//! node, default 1), transmit grants the packet's own pages read-only instead: one grant per
//! piece of the packet inside a page (a packet that would take more than the 18 slots a backend
//! accepts is copied as in untrusted mode rather than linearised), a reference to the skb per
//! slot, each grant revoked when its slot is answered (a grant the backend still maps stops the
//! device and leaks the packet, as Linux). Receive is the same in both modes, the persistent
//! zeroed pages above (Linux's `trusted` changes only transmit too).
//!
//! When the backend closes while the toolstack still wants the device (its `online` node is 1,
//! e.g. netback unbound and bound again in Dom0), the frontend tears the rings down, keeps its
//! net_device and announces Initialising; the new backend instance's InitWait connects it again.
//!
//! Negotiated: `request-rx-copy`, `feature-sg`, `feature-gso-tcpv4/6`, checksum offload
//! (`feature-no-csum-offload`, `feature-ipv6-csum-offload`), `feature-rx-notify`,
//! `feature-split-event-channels`, `multi-queue-max-queues` (up to the `max_queues` parameter and
//! the number of online CPUs).

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

#[macro_use]
#[path = "../xen_proto/src/kernel_common.rs"]
mod kernel_common;
frontend_modules!();
#[allow(unreachable_pub, dead_code)]
#[path = "../xen_proto/src/netif.rs"]
mod netif;
mod sys;

use abi_client::{EvtchnBinding, Grant, Port};
use abi_xenbus_client::XenbusDevice;
use granted_pages::GrantedPage;
use kernel_frontend::{Bound, Frontend};
use netif::{Features, RxAssembler, RxRequest, RxResponse, TxRequest, TxResponse};
use ring::SharedRing;
use sys::{NetDev, Rtnl, TxSkb};
use xenbus_state::XenbusState;

module! {
    type: XenNetfront,
    name: "xen_netfront",
    author: "xen-pvhvm-rs developers",
    description: "Xen virtual network device frontend",
    license: "GPL",
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

/// An event channel port we allocated; closed on drop (which also removes a handler).
struct OwnedPort(Port);

impl Drop for OwnedPort {
    fn drop(&mut self) {
        let _ = self.0.close();
    }
}

/// Transmit side of a queue; protected by the queue's tx spinlock.
struct TxQ {
    ring: SharedRing<TxRequest, TxResponse>,
    /// One read-only granted page per slot id.
    pages: KVec<GrantedPage>,
    /// Trusted backend: packets are granted in place, unless they need more slots than a
    /// backend accepts (then they are copied into `pages`).
    direct: bool,
    /// Direct mode: the grant of the piece of a packet that slot id `i` carries, and a reference
    /// to that packet, both released when the slot is answered.
    grants: [Option<Grant>; RING],
    skbs: [Option<TxSkb>; RING],
    /// Free slot ids: `free[..nfree]`.
    free: [u16; RING],
    nfree: usize,
    /// Slot ids with a request the backend has not answered.
    inflight: [bool; RING],
}

/// Receive side of a queue; used by its NAPI poll only (or with NAPI disabled).
struct RxQ {
    ring: SharedRing<RxRequest, RxResponse>,
    /// One writable granted page per slot id (request `i` uses slot `i % RING`).
    pages: KVec<GrantedPage>,
    asm: RxAssembler,
    /// The packet being assembled, and whether it must be dropped (no memory).
    cur: Option<sys::RxSkb>,
    cur_bad: bool,
}

/// One tx/rx ring pair with its event channel and NAPI context.
struct Queue {
    idx: u32,
    net: NetDev,
    dev: *const Device,
    /// Set by the event channel handler of the tx (or only) port, cleared by the poll that EOIs.
    eoi_tx: AtomicBool,
    /// The same for the rx port (split event channels).
    eoi_rx: AtomicBool,
    /// Mirrors of the rings' `rsp_cons` (written by the poll after consuming), so the event
    /// handler can tell an event that brings responses from a spurious one.
    tx_cons: AtomicU32,
    rx_cons: AtomicU32,
    tx: UnsafeCell<TxQ>,
    rx: UnsafeCell<RxQ>,
    /// The event channel (`event-channel`), or the tx one with split channels
    /// (`event-channel-tx`).
    port: OwnedPort,
    /// With `feature-split-event-channels`: the rx port (`event-channel-rx`).
    rx_port: Option<OwnedPort>,
    // The ring pages last: the rings above point into them.
    tx_ring_page: GrantedPage,
    rx_ring_page: GrantedPage,
}

// SAFETY: `tx` is only accessed under the queue's tx spinlock, `rx` only from the queue's NAPI
// poll or while NAPI is disabled (connect/teardown under rtnl); the rest is atomics and handles.
unsafe impl Sync for Queue {}
// SAFETY: as above; the raw pointers are plain addresses of objects that outlive the queue.
unsafe impl Send for Queue {}

/// What connect/disconnect/open/stop change; protected by rtnl. The data path never touches it.
#[derive(Default)]
struct Ctl {
    napi_on: bool,
    feats: Features,
    /// Our xenbus state (what we last switched to).
    state: u32,
}

/// The queues of a connection with the event channel bindings that point into them. The data
/// path (xmit, NAPI poll) reads it through [`Device::queue`]; it is replaced only by
/// [`Device::replace_data_path`], whose callers have stopped the data path first.
#[derive(Default)]
struct DataPath {
    /// Handlers first: dropped (unbound) before the queues they point to. Held for that drop.
    _bindings: KVec<EvtchnBinding>,
    queues: KVec<KBox<Queue>>,
}

/// A bound `vif` device.
struct Device {
    xdev: XenbusDevice,
    net: Option<NetDev>,
    backend: u16,
    ctl: UnsafeCell<Ctl>,
    /// Kept apart from `ctl` so that no `&mut Ctl` aliases the data path's shared reads.
    dp: UnsafeCell<DataPath>,
    /// The data path may transmit (backend connected, not closing).
    connected: AtomicBool,
    /// A protocol violation stopped the device.
    broken: AtomicBool,
    /// Reports a violation to the toolstack ([`report_violation`]); set at probe, cancelled by
    /// `remove` before the device is freed.
    report: Option<abi_client::Work>,
    /// Pages of ours the backend still mapped when we revoked their grants (leaked, XSA-396),
    /// over the device's life; bounded by `grant::MAX_LEAKED_PAGES_PER_DEVICE` at connect.
    leaks: grant::LeakCount,
    /// Queues in use (for ethtool -S).
    nq: AtomicU32,
    stats: [QStats; sys::MAX_QUEUES],
}

// SAFETY: `ctl` is accessed with rtnl held only (see `Device::ctl`), `dp` is read shared and
// replaced only while nothing reads it (see `Device::replace_data_path`); the rest is atomics and
// handles usable from any thread.
unsafe impl Sync for Device {}
// SAFETY: as above.
unsafe impl Send for Device {}

impl Device {
    fn net(&self) -> Option<NetDev> {
        self.net
    }

    /// The rtnl-protected state.
    #[allow(clippy::mut_from_ref)]
    fn ctl(&self, _rtnl: &Rtnl) -> &mut Ctl {
        // SAFETY: the witness proves rtnl is held, which serialises every access to `ctl`; the
        // data path (xmit, poll) never touches `ctl`.
        unsafe { &mut *self.ctl.get() }
    }

    /// The queues of the current connection (empty when disconnected).
    fn queues(&self) -> &[KBox<Queue>] {
        // SAFETY: shared reads; `dp` is only written by `replace_data_path`, whose contract
        // excludes every reader.
        unsafe { &(*self.dp.get()).queues }
    }

    /// Queue `q`, for the data path: valid while `connected` or NAPI runs (teardown first stops
    /// both, under rtnl, before replacing the queues).
    fn queue(&self, q: u32) -> Option<&Queue> {
        self.queues().get(q as usize).map(|b| &**b)
    }

    /// Installs `new` as the data path and returns the old one, for the caller to drop (its
    /// bindings go first, then its queues: revoked and freed).
    ///
    /// # Safety
    /// Nothing reads `dp` meanwhile: rtnl is held (open, stop, ethtool and the other rtnl users
    /// wait) and the data path is stopped (`connected` false and the tx queues disabled, so no
    /// xmit; NAPI disabled, so no poll), and no reference from [`Self::queues`] is live.
    unsafe fn replace_data_path(&self, _rtnl: &Rtnl, new: DataPath) -> DataPath {
        // SAFETY: per the contract, no other reference to `dp` exists.
        core::mem::replace(unsafe { &mut *self.dp.get() }, new)
    }

    /// A protocol violation: stop the data path, keep the port masked.
    fn fail(&self, q: u32, what: netif::NetifError) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            let net = self.net();
            let name = net
                .as_ref()
                .and_then(|n| n.name().to_str().ok())
                .unwrap_or("vif");
            pr_err!(
                "{} queue {}: protocol violation by the backend: {:?}; device stopped\n",
                name,
                q,
                what
            );
            self.connected.store(false, Ordering::Release);
            if let Some(n) = self.net() {
                n.carrier(false);
            }
            if let Some(w) = &self.report {
                w.queue();
            }
        }
    }
}

/// Work item of a stopped device: reports the violation to the toolstack as Linux's
/// `xenbus_dev_fatal` (error node, `Closing`), which the NAPI poll or transmit path that found
/// it cannot do (xenstore writes sleep). The backend's `Closing` then closes the device.
///
/// # Safety
/// `data` is the device, which cancels this work before it is freed.
unsafe extern "C" fn report_violation(data: *mut c_void) {
    // SAFETY: per the contract.
    let dev = unsafe { &*(data as *const Device) };
    if !dev.broken.load(Ordering::Acquire) {
        return;
    }
    let rtnl = Rtnl::lock();
    let ctl = dev.ctl(&rtnl);
    if ctl.state == XenbusState::Connected as u32 {
        dev.xdev.fatal(EIO.to_errno(), "backend protocol violation");
        ctl.state = XenbusState::Closing as u32;
    }
}

/// The bound devices.
static DEVICES: kernel_frontend::Devices<Device> = kernel_frontend::Devices::new();

/// Event channel handler (hard IRQ, port masked): schedule the poll, EOI there (late EOI).
///
/// An event that brings no unconsumed response on its ring(s) is spurious and EOIed as such at
/// once (a flooding backend gets throttled, XSA-391), as Linux's `xennet_handle_rx/tx`.
///
/// # Safety
/// `data` is the [`Queue`] registered with the binding, alive until the binding is dropped.
unsafe extern "C" fn evtchn_handler(port: u32, data: *mut c_void) -> u32 {
    // SAFETY: `data` is the queue, which outlives its bindings (dropped first in teardown).
    let q = unsafe { &*(data as *const Queue) };
    let is_rx = q.rx_port.as_ref().is_some_and(|p| p.0 .0 == port);
    let split = q.rx_port.is_some();
    let tx_work =
        (!split || !is_rx) && rsp_prod(&q.tx_ring_page) != q.tx_cons.load(Ordering::Acquire);
    let rx_work =
        (!split || is_rx) && rsp_prod(&q.rx_ring_page) != q.rx_cons.load(Ordering::Acquire);
    if !tx_work && !rx_work {
        return abi::evtchn_ret::SPURIOUS;
    }
    if is_rx {
        q.eoi_rx.store(true, Ordering::Release);
    } else {
        q.eoi_tx.store(true, Ordering::Release);
    }
    q.net.napi_schedule(q.idx);
    abi::evtchn_ret::LATE
}

/// The backend's `rsp_prod` of the shared ring in `page` (an atomic read of shared memory).
fn rsp_prod(page: &GrantedPage) -> u32 {
    // SAFETY: the page holds a shared ring whose header (`ring::SringHeader`, 4-byte aligned
    // atomics) starts at offset 0; it lives as long as `page`; the field is only accessed
    // atomically on our side.
    let h = unsafe { &*(page.as_ptr() as *const ring::SringHeader) };
    h.rsp_prod.load(Ordering::Acquire)
}

impl Queue {
    /// The port the backend's rx notifications come on and ours go to.
    fn rxp(&self) -> Port {
        self.rx_port.as_ref().map_or(self.port.0, |p| p.0)
    }

    fn dev(&self) -> &Device {
        // SAFETY: the device outlives its queues (they are freed in its teardown).
        unsafe { &*self.dev }
    }

    fn stats(&self) -> &QStats {
        &self.dev().stats[self.idx as usize]
    }

    /// Frees the slots of answered tx requests; wakes the queue if there is room again.
    fn tx_gc(&self) -> Result<u32, netif::NetifError> {
        let _g = self.net.tx_lock(self.idx);
        // SAFETY: tx spinlock held.
        let tx = unsafe { &mut *self.tx.get() };
        let mut done = 0u32;
        loop {
            let mut n = tx
                .ring
                .responses_ready()
                .map_err(|_| netif::NetifError::BadTxId(u16::MAX))?;
            if n == 0 {
                n = tx
                    .ring
                    .final_check_for_responses()
                    .map_err(|_| netif::NetifError::BadTxId(u16::MAX))?;
                if n == 0 {
                    break;
                }
            }
            for _ in 0..n {
                let Some(r) = tx.ring.take_response() else {
                    break;
                };
                let inflight = &tx.inflight;
                match netif::check_tx_response(r, |id| inflight[id as usize])? {
                    netif::TxDone::Null => {}
                    netif::TxDone::Slot { id, ok } => {
                        tx.inflight[id as usize] = false;
                        if let Some(g) = tx.grants[id as usize].take() {
                            if g.end().is_err() {
                                // The backend still maps a page of the packet: the reference
                                // stays granted (a `Grant` dropped unended is leaked) and the
                                // packet is never freed.
                                core::mem::forget(tx.skbs[id as usize].take());
                                return Err(netif::NetifError::TxGrantInUse(id));
                            }
                        }
                        if let Some(skb) = tx.skbs[id as usize].take() {
                            skb.consume();
                        }
                        // At most RING ids exist, each in flight or free once.
                        tx.push_free(id);
                        if !ok {
                            self.stats().add(TX_ERRORS, 1);
                        }
                        done += 1;
                    }
                }
            }
        }
        self.tx_cons
            .store(tx.ring.state().rsp_cons(), Ordering::Release);
        if self.dev().connected.load(Ordering::Acquire)
            && self.net.txq_stopped(self.idx)
            && tx_has_room(tx)
        {
            self.net.txq_wake(self.idx);
        }
        Ok(done)
    }

    /// Receives up to `budget` packets.
    fn rx_poll(&self, budget: i32) -> Result<i32, netif::NetifError> {
        // SAFETY: only this queue's NAPI poll (serialised by NAPI) gets here.
        let rx = unsafe { &mut *self.rx.get() };
        let mut work = 0i32;
        let mut posted = false;
        let res = loop {
            if work >= budget {
                break Ok(());
            }
            let n = match rx.ring.responses_ready() {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(_) => break Err(netif::NetifError::RxTooLong),
            };
            let mut err = None;
            for _ in 0..n {
                let idx = rx.ring.state().rsp_cons();
                let Some(rsp) = rx.ring.take_response() else {
                    break;
                };
                let step = match rx.asm.feed(idx, rsp) {
                    Ok(s) => s,
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                };
                if step.first {
                    rx.cur = self.net.rx_alloc(self.idx);
                    rx.cur_bad = rx.cur.is_none();
                }
                let slot = step.slot as usize;
                if let (Some((off, len)), Some(skb)) = (step.data, rx.cur.as_mut()) {
                    if skb
                        .append_page(&rx.pages[slot], off as usize, len as usize)
                        .is_err()
                    {
                        rx.cur_bad = true;
                    }
                }
                // Recycle the slot: the next request lands in the same ring position.
                let id = (rx.ring.state().req_prod_pvt() % RING as u32) as usize;
                if id == slot {
                    let req = RxRequest {
                        id: id as u16,
                        pad: 0,
                        gref: rx.pages[id].gref(0),
                    };
                    if rx.ring.put_request(req).is_some() {
                        posted = true;
                    }
                }
                if let Some(p) = step.done {
                    let skb = rx.cur.take();
                    let st = self.stats();
                    if p.error {
                        st.add(RX_ERRORS, 1);
                    } else if let (false, Some(skb)) = (rx.cur_bad, skb) {
                        let csum = netif::RxChecksum::from_rx(p.flags, p.gso.is_some());
                        match self.net.rx_deliver(self.idx, skb, csum, p.gso) {
                            Ok(()) => {
                                st.add(RX_PACKETS, 1);
                                st.add(RX_BYTES, u64::from(p.len));
                            }
                            Err(_) => st.add(RX_ERRORS, 1),
                        }
                    } else {
                        st.add(RX_DROPPED, 1);
                    }
                    work += 1;
                    if work >= budget {
                        break;
                    }
                }
            }
            if let Some(e) = err {
                break Err(e);
            }
        };
        self.rx_cons
            .store(rx.ring.state().rsp_cons(), Ordering::Release);
        if posted && rx.ring.push_requests() {
            let _ = self.rxp().notify();
        }
        res.map(|()| work)
    }
}

impl TxQ {
    fn pop_free(&mut self) -> Option<u16> {
        self.nfree = self.nfree.checked_sub(1)?;
        Some(self.free[self.nfree])
    }

    fn push_free(&mut self, id: u16) {
        if self.nfree < RING {
            self.free[self.nfree] = id;
            self.nfree += 1;
        }
    }
}

impl Drop for TxQ {
    /// Revokes the grants of packets never answered (the backend has closed, or never opened);
    /// a packet whose page the backend still maps is leaked, never freed (XSA-396).
    fn drop(&mut self) {
        let mut leaked = 0u32;
        for (g, skb) in self.grants.iter_mut().zip(self.skbs.iter_mut()) {
            if let Some(g) = g.take() {
                if g.end().is_err() {
                    // Still mapped: reference and packet leaked.
                    core::mem::forget(skb.take());
                    leaked += 1;
                }
            }
        }
        if leaked != 0 {
            pr_warn!("{} packets still mapped by a backend were leaked\n", leaked);
        }
    }
}

fn tx_has_room(tx: &TxQ) -> bool {
    tx.nfree >= netif::MAX_TX_SLOTS
        && tx.ring.state().free_requests() as usize > netif::MAX_TX_SLOTS
}

/// Builds queue `idx`: ring pages, slot pages, event channel; all rx requests posted. With
/// `direct` (trusted backend) tx packets are granted in place when they fit.
fn new_queue(
    dev: &Device,
    net: NetDev,
    idx: u32,
    split: bool,
    direct: bool,
) -> Result<KBox<Queue>> {
    let dom = dev.backend;
    // A zeroed page granted to the backend (read-only: tx data), revoked and freed (or leaked
    // and counted in `dev.leaks` if still mapped) when dropped, on every path.
    let page = |readonly: bool| {
        // SAFETY: the device (and its leak counter) outlives its queues: `remove` disconnects
        // (dropping the queues) before it frees the device.
        unsafe { GrantedPage::new(dom, 0, readonly, &dev.leaks) }.map_err(Error::from_errno)
    };
    let tx_ring_page = page(false)?;
    let rx_ring_page = page(false)?;
    // SAFETY: the ring pages are ours, 4096 bytes, page-aligned, and live as long as the queue
    // (fields dropped after the rings); only the rings access them on our side.
    let tx_ring = unsafe { SharedRing::init(tx_ring_page.as_ptr(), 4096) }.ok_or(EINVAL)?;
    // SAFETY: as above.
    let mut rx_ring: SharedRing<RxRequest, RxResponse> =
        unsafe { SharedRing::init(rx_ring_page.as_ptr(), 4096) }.ok_or(EINVAL)?;
    let mut txp = KVec::with_capacity(RING, GFP_KERNEL)?;
    let mut rxp = KVec::with_capacity(RING, GFP_KERNEL)?;
    let mut free = [0u16; RING];
    for (i, f) in free.iter_mut().enumerate() {
        txp.push(page(true)?, GFP_KERNEL)?;
        rxp.push(page(false)?, GFP_KERNEL)?;
        *f = (RING - 1 - i) as u16;
    }
    for (i, p) in rxp.iter().enumerate() {
        let req = RxRequest {
            id: i as u16,
            pad: 0,
            gref: p.gref(0),
        };
        rx_ring.put_request(req).ok_or(EINVAL)?;
    }
    rx_ring.push_requests();
    let port = OwnedPort(dev.xdev.alloc_evtchn().map_err(Error::from_errno)?);
    let rx_port = if split {
        Some(OwnedPort(
            dev.xdev.alloc_evtchn().map_err(Error::from_errno)?,
        ))
    } else {
        None
    };
    Ok(KBox::new(
        Queue {
            idx,
            net,
            dev,
            eoi_tx: AtomicBool::new(false),
            eoi_rx: AtomicBool::new(false),
            tx_cons: AtomicU32::new(0),
            rx_cons: AtomicU32::new(0),
            tx: UnsafeCell::new(TxQ {
                ring: tx_ring,
                pages: txp,
                direct,
                grants: [const { None }; RING],
                skbs: [const { None }; RING],
                free,
                nfree: RING,
                inflight: [false; RING],
            }),
            rx: UnsafeCell::new(RxQ {
                ring: rx_ring,
                pages: rxp,
                asm: RxAssembler::new(true),
                cur: None,
                cur_bad: false,
            }),
            port,
            rx_port,
            tx_ring_page,
            rx_ring_page,
        },
        GFP_KERNEL,
    )?)
}

/// Writes the keys of our queues (`tx-ring-ref`, `rx-ring-ref`, `event-channel[-tx|-rx]`; under
/// `queue-N/` with several queues, plus `multi-queue-num-queues`) and the features we offer, in
/// one transaction (netif.h "Multi-queue", "Split event channels").
fn write_keys(dev: &Device, queues: &[KBox<Queue>]) -> core::result::Result<(), i32> {
    let x = dev.xdev;
    abi_xenbus_client::with_transaction(|tx| {
        let multi = queues.len() > 1;
        if multi {
            x.printf(
                tx,
                format_args!("multi-queue-num-queues"),
                format_args!("{}", queues.len()),
            )?;
        }
        for q in queues {
            // Under `queue-N/` with several queues (netif.h "Multi-queue").
            let w = |key: &str, v: u32| {
                if multi {
                    x.printf(
                        tx,
                        format_args!("queue-{}/{}", q.idx, key),
                        format_args!("{}", v),
                    )
                } else {
                    x.printf(tx, format_args!("{}", key), format_args!("{}", v))
                }
            };
            w("tx-ring-ref", q.tx_ring_page.gref(0))?;
            w("rx-ring-ref", q.rx_ring_page.gref(0))?;
            match &q.rx_port {
                None => w("event-channel", q.port.0 .0)?,
                Some(rp) => {
                    w("event-channel-tx", q.port.0 .0)?;
                    w("event-channel-rx", rp.0 .0)?;
                }
            }
        }
        for k in [
            &b"request-rx-copy"[..],
            b"feature-rx-notify",
            b"feature-sg",
            b"feature-gso-tcpv4",
            b"feature-gso-tcpv6",
            b"feature-ipv6-csum-offload",
        ] {
            x.write(tx, k, b"1")?;
        }
        Ok(())
    })
}

/// Backend in InitWait: read its features, build the rings, publish them, go Connected.
fn connect(dev: &Device) -> Result {
    let net = dev.net().ok_or(EINVAL)?;
    if let Err(e) = dev.leaks.check(grant::MAX_LEAKED_PAGES_PER_DEVICE) {
        // A backend that keeps our pages mapped across reconnects would make us leak a set of
        // rings each time: stop here.
        pr_err!(
            "{}: backend kept {} of our pages mapped (more than {}): not connecting again\n",
            net.name(),
            e.leaked,
            e.limit
        );
        return Err(EBUSY);
    }
    let x = dev.xdev;
    let feats = Features::from_backend(|k| x.otherend_feature(k), |k| x.read_otherend_u32(k).ok());
    if !feats.rx_copy {
        pr_err!("{}: backend lacks feature-rx-copy\n", net.name());
        return Err(ENODEV);
    }
    // At most one queue per online CPU, whatever the backend offers or `max_queues` asks for
    // (as blkfront and Linux's netfront).
    let cpus = sys::num_online_cpus().clamp(1, sys::MAX_QUEUES as u32);
    let nq = feats.queues(max_queues(), cpus);
    // As Linux's `bounce = !xennet_trusted || !xenbus_read_unsigned(nodename, "trusted", 1)`.
    let direct = sys::param_trusted() && dev.xdev.own_flag(b"trusted", true);
    let mut queues = KVec::with_capacity(nq as usize, GFP_KERNEL)?;
    for i in 0..nq {
        queues.push(
            new_queue(dev, net, i, feats.split_evtchn, direct)?,
            GFP_KERNEL,
        )?;
    }
    // Every queue's keys are written (each write checked) or the connect fails here.
    write_keys(dev, &queues).map_err(|e| {
        pr_err!("{}: writing the ring keys failed: {}\n", net.name(), e);
        Error::from_errno(e)
    })?;
    let rtnl = Rtnl::lock();
    let ctl = dev.ctl(&rtnl);
    let mut bindings = KVec::new();
    // The bindings point into `queues`: on any error they go before the queues do.
    let bound = (|| -> Result {
        for (i, q) in queues.iter().enumerate() {
            let data = &**q as *const Queue as *mut c_void;
            let ports = [Some(q.port.0), q.rx_port.as_ref().map(|p| p.0)];
            for port in ports.into_iter().flatten() {
                // Queue i's events (tx and rx) on CPU i mod n, with per-vCPU upcall vectors.
                port.spread(i as u32);
                // The handler only schedules NAPI, fine in hard IRQ context.
                // SAFETY: the queue is boxed (stable address) and outlives the binding: `bindings`
                // is emptied before the queues, below on error and by `DataPath`'s field order.
                let b = unsafe { EvtchnBinding::new(port, evtchn_handler, data) }
                    .map_err(Error::from_errno)?;
                bindings.push(b, GFP_KERNEL)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = bound {
        drop(bindings);
        return Err(e);
    }
    // SAFETY: rtnl is held; the data path is stopped: a device is connected only from
    // disconnected (`connect` runs after `disconnect` or at first), which left `connected` false,
    // the tx queues disabled and NAPI off, and `start_data_path` runs below.
    let old = unsafe {
        dev.replace_data_path(
            &rtnl,
            DataPath {
                _bindings: bindings,
                queues,
            },
        )
    };
    drop(old);
    ctl.feats = feats;
    net.set_queues(&rtnl, nq)?;
    dev.nq.store(nq, Ordering::Relaxed);
    let mut nf = 0;
    if feats.sg {
        nf |= sys::F_SG;
    }
    if feats.ipv4_csum {
        nf |= sys::F_IPV4_CSUM;
    }
    if feats.ipv6_csum {
        nf |= sys::F_IPV6_CSUM;
    }
    if feats.gso_tcpv4 {
        nf |= sys::F_TSO;
    }
    if feats.gso_tcpv6 {
        nf |= sys::F_TSO6;
    }
    net.set_features(&rtnl, nf);
    dev.broken.store(false, Ordering::Release);
    dev.connected.store(true, Ordering::Release);
    if let Err(e) = dev.xdev.switch_state(XenbusState::Connected) {
        pr_err!("{}: cannot announce Connected: {}\n", net.name(), e);
        dev.connected.store(false, Ordering::Release);
        return Err(Error::from_errno(e));
    }
    ctl.state = XenbusState::Connected as u32;
    if net.running() {
        start_data_path(dev, ctl);
    }
    for q in dev.queues() {
        let _ = q.rxp().notify();
    }
    pr_info!(
        "{}: connected: queues {}, split-evtchn {}, rx-copy, sg {}, gso-tcpv4 {}, gso-tcpv6 {}, ipv4-csum {}, ipv6-csum {}, backend rx-notify {}, active features 0x{:x}, {}\n",
        net.name(),
        nq,
        u8::from(feats.split_evtchn),
        u8::from(feats.sg),
        u8::from(feats.gso_tcpv4),
        u8::from(feats.gso_tcpv6),
        u8::from(feats.ipv4_csum),
        u8::from(feats.ipv6_csum),
        u8::from(feats.rx_notify),
        net.active_features(),
        if direct {
            "trusted: tx pages granted in place"
        } else {
            "untrusted: tx and rx bounced"
        }
    );
    Ok(())
}

/// The `max_queues` parameter (as Linux's: 0 = min(8, online CPUs)).
fn max_queues() -> u32 {
    let mut v = sys::param_max_queues();
    if v == 0 {
        v = sys::num_online_cpus().min(sys::MAX_QUEUES as u32);
    }
    v.clamp(1, sys::MAX_QUEUES as u32)
}

fn start_data_path(dev: &Device, ctl: &mut Ctl) {
    let Some(net) = dev.net() else { return };
    if !ctl.napi_on && !dev.queues().is_empty() {
        for q in dev.queues() {
            net.napi_enable(q.idx);
        }
        ctl.napi_on = true;
        for q in dev.queues() {
            net.napi_schedule(q.idx);
        }
    }
    if dev.connected.load(Ordering::Acquire) {
        net.tx_start_all();
    }
}

fn stop_data_path(dev: &Device, ctl: &mut Ctl) {
    let Some(net) = dev.net() else { return };
    net.tx_disable();
    if ctl.napi_on {
        for q in dev.queues() {
            net.napi_disable(q.idx);
        }
        ctl.napi_on = false;
    }
}

/// Tears the rings down (backend closed, or device going away): data path stopped first, then
/// handlers unbound, then grants revoked and pages freed (or leaked if still mapped).
fn disconnect(dev: &Device) {
    let rtnl = Rtnl::lock();
    let ctl = dev.ctl(&rtnl);
    dev.connected.store(false, Ordering::Release);
    if let Some(n) = dev.net() {
        n.carrier(false);
    }
    stop_data_path(dev, ctl);
    let before = dev.leaks.get();
    // SAFETY: rtnl is held and the data path was stopped just above (`connected` false, tx
    // disabled, NAPI off); no `queues()` reference is live here.
    drop(unsafe { dev.replace_data_path(&rtnl, DataPath::default()) });
    drop(rtnl);
    let leaked = dev.leaks.get().saturating_sub(before);
    if leaked != 0 {
        if let Some(n) = dev.net() {
            pr_warn!(
                "{}: {} pages still mapped by the backend: not reused, freed once it unmaps them ({} by this device)\n",
                n.name(),
                leaked,
                dev.leaks.get()
            );
        }
    }
}

fn set_state(dev: &Device, s: XenbusState) {
    let _ = dev.xdev.switch_state(s);
    let rtnl = Rtnl::lock();
    dev.ctl(&rtnl).state = s as u32;
}

impl Frontend for Device {
    fn devices() -> &'static kernel_frontend::Devices<Self> {
        &DEVICES
    }

    fn probe(xdev: XenbusDevice, _bound: Bound<'_, Self>) -> Result<KBox<Self>> {
        probe(xdev)
    }

    fn otherend_changed(&self, state: XenbusState) {
        otherend_changed(self, state)
    }

    fn remove(&self) {
        remove(self)
    }
}

/// `probe`: a new `vif` device; its state.
fn probe(xdev: XenbusDevice) -> Result<KBox<Device>> {
    let pi = abi_client::platform_info().map_err(Error::from_errno)?;
    if !unplug::has_pv_nic_devices(pi.unplug) {
        pr_info!(
            "vif: PV NICs disabled by the platform (unplug 0x{:x}), not binding\n",
            pi.unplug
        );
        return Err(ENODEV);
    }
    let info = xdev.info().map_err(Error::from_errno)?;
    let backend = u16::try_from(info.otherend_id).map_err(|_| EINVAL)?;
    let mut buf = [0u8; 32];
    let n = xdev.read_own(b"mac", &mut buf).map_err(Error::from_errno)?;
    let Some(mac) = netif::parse_mac(&buf[..n]) else {
        // As Linux's `xennet_probe`: "parsing <nodename>/mac", fatal for the device.
        pr_err!(
            "vif {}: bad mac {:?}\n",
            abi_xenbus::field_str(&info.nodename).unwrap_or("?"),
            kernel::str::BStr::from_bytes(&buf[..n])
        );
        xdev.fatal(EINVAL.to_errno(), "parsing mac");
        return Err(EINVAL);
    };
    let dev = {
        let mut dev = KBox::new(
            Device {
                xdev,
                net: None,
                backend,
                ctl: UnsafeCell::new(Ctl::default()),
                dp: UnsafeCell::new(DataPath::default()),
                connected: AtomicBool::new(false),
                broken: AtomicBool::new(false),
                report: None,
                leaks: grant::LeakCount::new(),
                nq: AtomicU32::new(1),
                stats: Default::default(),
            },
            GFP_KERNEL,
        )?;
        let rs = &mut *dev as *mut Device as *mut c_void;
        // SAFETY: the boxed device (stable address) cancels and drops the work before it is
        // freed (`remove`, or the box's drop on an error below).
        dev.report = Some(
            unsafe { abi_client::Work::new(report_violation, rs) }.map_err(Error::from_errno)?,
        );
        // SAFETY: `rs` is the boxed device, which is freed only after the net_device.
        let net = unsafe { NetDev::alloc(rs, &mac) }?;
        dev.net = Some(net);
        // Child of the xen bus device, as Linux's netfront (`SET_NETDEV_DEV`): the
        // `/sys/class/net/X/device` link, ethtool's bus-info `vif-0`, udev's `enX0` name.
        if let Err(e) = net.register(xdev.device_ptr()) {
            // SAFETY: never registered; no callback can run.
            unsafe { net.free() };
            return Err(e);
        }
        dev
    };
    if let Some(n) = dev.net {
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
fn otherend_changed(dev: &Device, state: XenbusState) {
    let ours = {
        let rtnl = Rtnl::lock();
        dev.ctl(&rtnl).state
    };
    let has_rings = {
        // Under rtnl: not while connect or disconnect replaces the queues.
        let _rtnl = Rtnl::lock();
        !dev.queues().is_empty()
    };
    match state {
        XenbusState::InitWait if !has_rings => {
            if let Err(e) = connect(dev) {
                pr_err!("vif: connecting failed: {:?}\n", e);
                disconnect(dev);
                // Reported to the toolstack, `Closing`; `Closed` follows the backend's close.
                dev.xdev.fatal(e.to_errno(), "connecting to the backend");
                let rtnl = Rtnl::lock();
                dev.ctl(&rtnl).state = XenbusState::Closing as u32;
            }
        }
        // Link up only once our keys are all written and we announced Connected (`ours`).
        XenbusState::Connected if has_rings && ours == XenbusState::Connected as u32 => {
            if let Some(n) = dev.net() {
                if !dev.broken.load(Ordering::Acquire) && dev.connected.load(Ordering::Acquire) {
                    n.carrier(true);
                    pr_info!("{}: backend connected, link up\n", n.name());
                }
            }
        }
        XenbusState::Closing => {
            // Stop sending; the rings go once the backend has unmapped them (Closed).
            dev.connected.store(false, Ordering::Release);
            if let Some(n) = dev.net() {
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
                if let Some(n) = dev.net() {
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
        let _rtnl = Rtnl::lock();
        !dev.queues().is_empty()
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
    if let Some(n) = dev.net() {
        // As Linux's `xennet_remove`: the carrier goes off while the device is still registered
        // (unregistering then waits for the link-watch event that this queues).
        n.carrier(false);
        n.unregister();
    }
    disconnect(dev);
    // Nothing can find a violation any more: wait for a report still running.
    if let Some(w) = &dev.report {
        w.cancel();
    }
    if let Some(n) = dev.net() {
        pr_info!("vif device removed\n");
        // SAFETY: unregistered, queues and handlers gone: no callback can run any more.
        unsafe { n.free() };
    }
}

/// `ndo_open` (rtnl held).
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_open(rs: *mut c_void) -> i32 {
    // SAFETY: `rs` is the device given to `NetDev::alloc`, live while the net_device is.
    let dev = unsafe { &*(rs as *const Device) };
    // SAFETY: the core calls ndo_open with rtnl held.
    let rtnl = unsafe { Rtnl::assume_held() };
    start_data_path(dev, dev.ctl(&rtnl));
    0
}

/// `ndo_stop` (rtnl held).
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stop(rs: *mut c_void) {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    // SAFETY: the core calls ndo_stop with rtnl held.
    let rtnl = unsafe { Rtnl::assume_held() };
    stop_data_path(dev, dev.ctl(&rtnl));
}

/// `ndo_start_xmit`: copies the packet into slot pages and posts it. Always consumes the skb.
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_xmit(rs: *mut c_void, skb: *mut sys::RawSkb, q: u32) -> i32 {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    // SAFETY: the skb of this ndo_start_xmit call, ours now.
    let Some(skb) = (unsafe { TxSkb::from_raw(skb) }) else {
        return 0;
    };
    let st = &dev.stats[(q as usize).min(sys::MAX_QUEUES - 1)];
    if !dev.connected.load(Ordering::Acquire) {
        st.add(TX_DROPPED, 1);
        return 0;
    }
    let Some(queue) = dev.queue(q) else {
        st.add(TX_DROPPED, 1);
        return 0;
    };
    let info = skb.info();
    if info.len == 0 || info.len > netif::MAX_TX_SIZE || info.gso_other {
        st.add(TX_DROPPED, 1);
        return 0;
    }
    let _g = queue.net.tx_lock(q);
    // SAFETY: tx spinlock held.
    let tx = unsafe { &mut *queue.tx.get() };
    let mut ch = [sys::Chunk::default(); netif::MAX_TX_SLOTS];
    // Trusted: in place if the packet fits in the slots a backend accepts, else copied.
    let posted = match tx.direct.then(|| skb.chunks(&mut ch)) {
        Some(Ok(n)) if (1..=ch.len()).contains(&n) => xmit_direct(queue, tx, skb, &info, &ch[..n]),
        _ => xmit_bounce(queue, tx, skb, &info),
    };
    match posted {
        Ok(()) => {
            st.add(TX_PACKETS, 1);
            st.add(TX_BYTES, info.len as u64);
        }
        Err(TxDrop::Full) => {
            queue.net.txq_stop(q);
            st.add(TX_DROPPED, 1);
        }
        Err(TxDrop::Error) => st.add(TX_ERRORS, 1),
    }
    if !tx_has_room(tx) {
        queue.net.txq_stop(q);
    }
    0
}

/// Why a packet was not sent (it is freed, or leaked if the backend could map it).
enum TxDrop {
    /// No room on the ring or no free slot id (the queue is stopped).
    Full,
    /// It could not be copied or granted.
    Error,
}

/// One data slot of a tx packet: slot id, grant reference, offset and length in the page (bytes).
#[derive(Clone, Copy, Default)]
struct TxSlot {
    id: u16,
    gref: u32,
    off: u16,
    len: u16,
}

/// Bounce mode: copies the packet into the slot pages of free ids, posts it, frees the skb.
fn xmit_bounce(
    queue: &Queue,
    tx: &mut TxQ,
    skb: TxSkb,
    info: &sys::SkbInfo,
) -> core::result::Result<(), TxDrop> {
    let n = netif::tx_slots_for(info.len);
    if tx.nfree < n
        || (tx.ring.state().free_requests() as usize) < n + usize::from(info.gso.is_some())
    {
        return Err(TxDrop::Full);
    }
    // Copy first (ids taken from the free list), then publish: a failed copy posts nothing.
    let mut slots = [TxSlot::default(); netif::MAX_TX_SLOTS];
    let mut off = 0usize;
    for i in 0..n {
        let Some(id) = tx.pop_free() else {
            undo_ids(tx, &slots[..i]);
            return Err(TxDrop::Full);
        };
        let chunk = (info.len - off).min(netif::PAGE_SIZE);
        slots[i] = TxSlot {
            id,
            gref: tx.pages[id as usize].gref(0),
            off: 0,
            len: chunk as u16,
        };
        // Tx pages are granted read-only, so `buf_mut` gives them; chunk <= PAGE_SIZE.
        let copied = tx.pages[id as usize]
            .buf_mut()
            .map_or(Err(EINVAL), |b| skb.copy_to(off, &mut b[..chunk]));
        if copied.is_err() {
            undo_ids(tx, &slots[..=i]);
            return Err(TxDrop::Error);
        }
        off += chunk;
    }
    post_packet(queue, tx, &slots[..n], info);
    skb.consume();
    Ok(())
}

/// Trusted backend: grants the packet's own pages read-only, one slot per piece `ch` inside a
/// page (at most [`netif::MAX_TX_SLOTS`], at least one); each slot keeps its grant and a
/// reference to the skb until it is answered (`Queue::tx_gc`).
fn xmit_direct(
    queue: &Queue,
    tx: &mut TxQ,
    skb: TxSkb,
    info: &sys::SkbInfo,
    ch: &[sys::Chunk],
) -> core::result::Result<(), TxDrop> {
    let n = ch.len();
    if tx.nfree < n
        || (tx.ring.state().free_requests() as usize) < n + usize::from(info.gso.is_some())
    {
        return Err(TxDrop::Full);
    }
    let backend = queue.dev().backend;
    let mut slots = [TxSlot::default(); netif::MAX_TX_SLOTS];
    for i in 0..n {
        let Some(id) = tx.pop_free() else {
            return undo_direct(tx, &slots[..i], skb, TxDrop::Full);
        };
        slots[i].id = id;
        match Grant::new(backend, ch[i].pfn, true) {
            Ok(g) => {
                slots[i] = TxSlot {
                    id,
                    gref: g.gref(),
                    // Each chunk lies inside one 4 KiB page (C splits them).
                    off: ch[i].off as u16,
                    len: ch[i].len as u16,
                };
                tx.grants[id as usize] = Some(g);
            }
            Err(_) => return undo_direct(tx, &slots[..=i], skb, TxDrop::Error),
        }
    }
    // One reference to the packet per slot; the last slot takes ours.
    for s in &slots[..n - 1] {
        tx.skbs[s.id as usize] = Some(skb.get());
    }
    tx.skbs[slots[n - 1].id as usize] = Some(skb);
    post_packet(queue, tx, &slots[..n], info);
    Ok(())
}

/// Gives unposted slot ids back to the free list.
fn undo_ids(tx: &mut TxQ, slots: &[TxSlot]) {
    for s in slots {
        tx.push_free(s.id);
    }
}

/// Revokes the grants of a packet that was never posted and frees its slot ids. The backend
/// cannot know those references, but if it mapped one anyway the packet is leaked, never freed.
fn undo_direct(
    tx: &mut TxQ,
    slots: &[TxSlot],
    skb: TxSkb,
    why: TxDrop,
) -> core::result::Result<(), TxDrop> {
    let mut mapped = false;
    for s in slots {
        if let Some(g) = tx.grants[s.id as usize].take() {
            if g.end().is_err() {
                // Still mapped: the reference stays granted (leaked).
                mapped = true;
            }
        }
    }
    undo_ids(tx, slots);
    if mapped {
        core::mem::forget(skb);
    }
    Err(why)
}

/// Puts a packet's requests on the ring (the first carries the packet's length and flags, with
/// the GSO extra slot behind it) and notifies the backend if it asked (netif.h "Guest
/// transmit").
fn post_packet(queue: &Queue, tx: &mut TxQ, slots: &[TxSlot], info: &sys::SkbInfo) {
    let mut flags = 0u16;
    if info.csum_partial {
        flags |= netif::txf::CSUM_BLANK | netif::txf::DATA_VALIDATED;
    }
    for (i, s) in slots.iter().enumerate() {
        let mut f = if i == 0 { flags } else { 0 };
        if i + 1 < slots.len() {
            f |= netif::txf::MORE_DATA;
        }
        if i == 0 && info.gso.is_some() {
            f |= netif::txf::EXTRA_INFO;
        }
        let req = TxRequest {
            gref: s.gref,
            offset: s.off,
            flags: f,
            id: s.id,
            // The first slot's size is the whole packet's (at most MAX_TX_SIZE, 0xffff).
            size: if i == 0 { info.len as u16 } else { s.len },
        };
        tx.inflight[s.id as usize] = true;
        let _ = tx.ring.put_request(req);
        if i == 0 {
            if let Some((mss, ty)) = info.gso {
                let _ = tx
                    .ring
                    .put_request(netif::ExtraInfo::gso(mss, ty).to_tx_request());
            }
        }
    }
    if tx.ring.push_requests() {
        let _ = queue.port.0.notify();
    }
}

/// NAPI poll of queue `q`: tx completions, then up to `budget` rx packets; late EOI when idle.
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_poll(rs: *mut c_void, q: u32, budget: i32) -> i32 {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    let Some(queue) = dev.queue(q) else {
        if let Some(n) = dev.net() {
            n.napi_complete(q, 0);
        }
        return 0;
    };
    if dev.broken.load(Ordering::Acquire) {
        queue.net.napi_complete(q, 0);
        return 0;
    }
    let r = queue
        .tx_gc()
        .and_then(|t| queue.rx_poll(budget).map(|w| (t, w)));
    let (_txd, work) = match r {
        Ok(v) => v,
        Err(e) => {
            dev.fail(q, e);
            queue.net.napi_complete(q, 0);
            return 0;
        }
    };
    if work < budget && queue.net.napi_complete(q, work) {
        // SAFETY: NAPI is complete, but a new poll cannot start before we reschedule it or the
        // handler does after EOI; until then only we touch `rx`.
        let rx = unsafe { &mut *queue.rx.get() };
        let more_rx = rx.ring.final_check_for_responses().unwrap_or(1) != 0;
        if more_rx {
            queue.net.napi_schedule(q);
        } else {
            // The handler already sorted out spurious events: these had responses.
            if queue.eoi_tx.swap(false, Ordering::AcqRel) {
                let _ = queue.port.0.eoi(false);
            }
            if queue.eoi_rx.swap(false, Ordering::AcqRel) {
                let _ = queue.rxp().eoi(false);
            }
        }
    }
    work
}

/// `ndo_get_stats64`: sums over the queues.
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stats(rs: *mut c_void, out: *mut u64) {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    // SAFETY: C passes an array of NSTATS u64.
    let out = unsafe { core::slice::from_raw_parts_mut(out, NSTATS) };
    for (i, o) in out.iter_mut().enumerate() {
        *o = dev
            .stats
            .iter()
            .map(|s| s.v[i].load(Ordering::Relaxed))
            .sum();
    }
}

/// ethtool -S: number of counters (per queue in use).
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_count(rs: *mut c_void) -> i32 {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    let nq = (dev.nq.load(Ordering::Relaxed) as usize).clamp(1, sys::MAX_QUEUES);
    (nq * NSTATS) as i32
}

/// ethtool -S: name of counter `i` ("queue0_rx_packets").
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_name(_rs: *mut c_void, i: i32, buf: *mut u8, len: u32) {
    if buf.is_null() || len == 0 || i < 0 {
        return;
    }
    // SAFETY: C passes a writable buffer of `len` bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, len as usize) };
    out.fill(0);
    let (q, s) = (i as usize / NSTATS, i as usize % NSTATS);
    let mut w = 0usize;
    let mut put = |b: &[u8]| {
        for &c in b {
            if w + 1 < out.len() {
                out[w] = c;
                w += 1;
            }
        }
    };
    match xs_wire::FmtBuf::<32>::format(format_args!("queue{}_{}", q, STAT_NAMES[s])) {
        Some(name) => put(name.as_bytes()),
        None => put(STAT_NAMES[s].as_bytes()),
    }
}

/// ethtool -S: value of counter `i`.
///
/// # Safety
/// Called only by helpers.c (the net_device and ethtool operations), with `rs` the [`Device`]
/// given to `NetDev::alloc`, alive until the net_device is freed, and the other pointers as the
/// kernel passed them to that operation (an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the
/// stats array of `NSTATS` counters).
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_value(rs: *mut c_void, i: i32) -> u64 {
    // SAFETY: as in `xpv_nf_rs_open`.
    let dev = unsafe { &*(rs as *const Device) };
    let (q, s) = ((i.max(0) as usize) / NSTATS, (i.max(0) as usize) % NSTATS);
    dev.stats
        .get(q)
        .map_or(0, |st| st.v[s].load(Ordering::Relaxed))
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
                    Err(e) if e == -abi::ENODEV => {
                        pr_info!("xenbus has no xenstore (no Xen platform device): no vif interfaces, not binding\n");
                        Ok(XenNetfront { _driver: None })
                    }
                    Err(e) => Err(Error::from_errno(e)),
                }
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
