// SPDX-License-Identifier: GPL-2.0
//! A queue: its tx and rx rings with their granted pages and event channel(s), receive (rx
//! pages ended and attached to packets, checksum/GSO flags, refill) and the completion of transmits, and
//! the event channel handler that schedules the queue's NAPI poll. Runs in hard interrupt and
//! NAPI context and under the queue's tx lock.

use super::*;

/// A ring in one granted page, which the queue shares (its event handler peeks at `rsp_prod`).
pub(crate) type QueueRing<Req, Rsp> = GrantedRing<Req, Rsp, 1, Arc<GrantedPage>>;

/// Transmit side of a queue; protected by the queue's tx spinlock.
pub(crate) struct TxQ {
    pub(crate) ring: QueueRing<TxRequest, TxResponse>,
    /// One read-only granted page per slot id.
    pub(crate) pages: KVec<GrantedPage>,
    /// Trusted backend: packets are granted in place, unless they need more slots than a
    /// backend accepts (then they are copied into `pages`).
    pub(crate) direct: bool,
    /// Direct mode: the grant of the piece of a packet that slot id `i` carries, and a reference
    /// to that packet, both released when the slot is answered.
    pub(crate) grants: [Option<Grant>; RING],
    pub(crate) skbs: [Option<TxSkb>; RING],
    /// Free slot ids: `free[..nfree]`.
    pub(crate) free: [u16; RING],
    pub(crate) nfree: usize,
    /// Slot ids with a request the backend has not answered.
    pub(crate) inflight: [bool; RING],
}

/// Receive side of a queue; used by its NAPI poll only (or with NAPI disabled).
///
/// Every posted rx request carries a page of its own, zeroed when new and granted writable to
/// the backend (`bufs`, slot id = ring index modulo [`RING`], as `netif::RxAssembler` checks).
/// When its response comes the grant is ended first; the page then either goes to the packet
/// as a fragment, with no copy (Linux's `xennet_get_responses` + `xennet_fill_frags`), or, when
/// it carried only headers (copied into the linear area) or nothing, back to `spare`. Before a
/// page is given to a packet, a replacement is in `spare` (or the packet is dropped and the page
/// kept), so every slot answered can be posted again at once: memory pressure drops packets,
/// it never empties the ring.
pub(crate) struct RxQ {
    pub(crate) ring: QueueRing<RxRequest, RxResponse>,
    /// The granted page of each slot with a posted request.
    pub(crate) bufs: KVec<Option<sys::RxBuf>>,
    /// Pages no other domain can access, for the next requests: `spare[..nspare]` (6.12's
    /// `KVec` has no `pop`; a fixed stack of [`RING`] entries never allocates in the poll).
    pub(crate) spare: KVec<Option<sys::RxPage>>,
    pub(crate) nspare: usize,
    /// The backend's domid, for the grants.
    pub(crate) domid: u16,
    pub(crate) leaks: &'static grant::LeakCount,
    pub(crate) asm: RxAssembler,
    /// The packet being assembled, and whether it must be dropped (no memory).
    pub(crate) cur: Option<sys::RxSkb>,
    pub(crate) cur_bad: bool,
}

/// One tx/rx ring pair with its event channel and NAPI context.
pub(crate) struct Queue {
    pub(crate) idx: u32,
    /// The device (a reference cycle, broken when `disconnect` frees the queues).
    pub(crate) dev: Arc<Device>,
    /// Set by the event channel handler of the tx (or only) port, cleared by the poll that EOIs.
    pub(crate) eoi_tx: AtomicBool,
    /// The same for the rx port (split event channels).
    pub(crate) eoi_rx: AtomicBool,
    /// Mirrors of the rings' `rsp_cons` (written by the poll after consuming), so the event
    /// handler can tell an event that brings responses from a spurious one.
    pub(crate) tx_cons: AtomicU32,
    pub(crate) rx_cons: AtomicU32,
    /// Boxed apart (several KiB each), so that the queue is built on the heap, not the stack.
    pub(crate) tx: sys::TxLocked<KBox<TxQ>>,
    pub(crate) rx: sys::PollOwned<KBox<RxQ>>,
    /// The event channel (`event-channel`), or the tx one with split channels
    /// (`event-channel-tx`).
    pub(crate) port: OwnedPort,
    /// With `feature-split-event-channels`: the rx port (`event-channel-rx`).
    pub(crate) rx_port: Option<OwnedPort>,
    /// The rings' pages, shared with the rings in `tx` and `rx` (for the handler's peek).
    pub(crate) tx_ring_page: Arc<GrantedPage>,
    pub(crate) rx_ring_page: Arc<GrantedPage>,
}

/// Event channel handler (hard IRQ, port masked): schedule the poll, EOI there (late EOI).
///
/// An event that brings no unconsumed response on its ring(s) is spurious and EOIed as such at
/// once (a flooding backend gets throttled, XSA-391), as Linux's `xennet_handle_rx/tx`. The
/// handler the queue's bindings install (`kernel_frontend::Binding`).
impl EvtchnTarget for Queue {
    fn event(&self, port: u32) -> u32 {
        evtchn_handler(self, port)
    }
}

fn evtchn_handler(q: &Queue, port: u32) -> u32 {
    let is_rx = q.rx_port.as_ref().is_some_and(|p| p.port().0 == port);
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
    q.net().napi_schedule(q.idx);
    abi::evtchn_ret::LATE
}

/// The backend's `rsp_prod` of the shared ring in `page` (an atomic read of shared memory).
pub(crate) fn rsp_prod(page: &GrantedPage) -> u32 {
    page.sring_header().rsp_prod.load(Ordering::Acquire)
}

impl Queue {
    /// The port the backend's rx notifications come on and ours go to.
    pub(crate) fn rxp(&self) -> Port {
        self.rx_port.as_ref().map_or(self.port.port(), |p| p.port())
    }

    pub(crate) fn dev(&self) -> &Device {
        &self.dev
    }

    /// The device's net_device.
    pub(crate) fn net(&self) -> NetDev<'_> {
        self.dev.net()
    }

    pub(crate) fn stats(&self) -> &QStats {
        &self.dev().stats[self.idx as usize]
    }

    /// Frees the slots of answered tx requests; wakes the queue if there is room again.
    pub(crate) fn tx_gc(&self, napi: &sys::NapiPoll) -> Result<u32, netif::NetifError> {
        let net = self.net();
        let mut g = net.tx_lock(self.idx);
        let tx: &mut TxQ = self
            .tx
            .get(&mut g)
            .ok_or(netif::NetifError::BadTxId(u16::MAX))?;
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
            && net.txq_stopped(self.idx)
            && tx_has_room(tx)
        {
            net.txq_wake(self.idx, napi);
        }
        Ok(done)
    }

    /// Receives up to `budget` packets.
    pub(crate) fn rx_poll(
        &self,
        napi: &mut sys::NapiPoll,
        budget: i32,
    ) -> Result<i32, netif::NetifError> {
        let rx: &mut RxQ = self.rx.get(napi).ok_or(netif::NetifError::RxTooLong)?;
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
                    rx.cur = self.net().rx_alloc(self.idx);
                    rx.cur_bad = rx.cur.is_none();
                }
                let slot = step.slot as usize;
                // The response's page, ours alone once its grant is ended; a page the backend
                // still maps is never touched again (deferred reclaim, counted as leaked).
                let Some(buf) = rx.bufs.get_mut(slot).and_then(Option::take) else {
                    err = Some(netif::NetifError::RxSlotNotPosted(step.slot));
                    break;
                };
                let Some(page) = buf.end() else {
                    err = Some(netif::NetifError::RxGrantInUse(step.slot));
                    break;
                };
                let mut back = Some(page);
                let wanted = step.data.is_some() && rx.cur.is_some() && !rx.cur_bad;
                // A replacement first: without one the packet is dropped and its pages are
                // posted again.
                if wanted && rx.nspare == 0 {
                    match sys::RxPage::alloc(false) {
                        Some(p) => rx.put_spare(p),
                        None => rx.cur_bad = true,
                    }
                }
                if let (Some((off, len)), Some(skb), false) =
                    (step.data, rx.cur.as_mut(), rx.cur_bad)
                {
                    if let Some(p) = back.take() {
                        match skb.attach(p, off as usize, len as usize) {
                            Ok(kept) => back = kept,
                            Err((_, p)) => {
                                rx.cur_bad = true;
                                back = Some(p);
                            }
                        }
                    }
                }
                if let Some(p) = back {
                    rx.put_spare(p);
                }
                if rx.refill() {
                    posted = true;
                }
                if let Some(p) = step.done {
                    let skb = rx.cur.take();
                    let st = self.stats();
                    if p.error {
                        st.add(RX_ERRORS, 1);
                    } else if let (false, Some(skb)) = (rx.cur_bad, skb) {
                        let csum = netif::RxChecksum::from_rx(p.flags, p.gso.is_some());
                        match self.net().rx_deliver(self.idx, skb, csum, p.gso) {
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
        // Entries left unposted by an earlier failure (no grant reference free).
        if rx.refill() {
            posted = true;
        }
        if posted && rx.ring.push_requests() {
            let _ = self.rxp().notify();
        }
        res.map(|()| work)
    }
}

impl RxQ {
    /// Posts a request for every free ring entry whose slot has no page granted, taking pages
    /// from `spare` (privately: `push_requests` publishes them). Stops early when `spare` is
    /// empty or a grant fails (no free reference); those entries are posted by a later call.
    /// Returns whether it queued any request.
    pub(crate) fn refill(&mut self) -> bool {
        let mut any = false;
        while self.ring.state().free_requests() != 0 {
            let id = (self.ring.state().req_prod_pvt() % RING as u32) as usize;
            if self.bufs[id].is_some() {
                // Not answered yet (cannot happen with a free entry); never overwrite it.
                break;
            }
            let Some(page) = self.take_spare() else {
                break;
            };
            let Ok(buf) = page.grant(self.domid, self.leaks) else {
                break;
            };
            let req = RxRequest {
                id: id as u16,
                pad: 0,
                gref: buf.gref(),
            };
            if self.ring.put_request(req).is_none() {
                // Dropping `buf` revokes the grant and frees the page.
                break;
            }
            self.bufs[id] = Some(buf);
            any = true;
        }
        any
    }

    /// Keeps `p` for a later request; frees it if `RING` pages are kept already (at most
    /// `RING` rx pages are ours, so that does not happen).
    pub(crate) fn put_spare(&mut self, p: sys::RxPage) {
        if let Some(e) = self.spare.get_mut(self.nspare) {
            *e = Some(p);
            self.nspare += 1;
        }
    }

    /// The page kept last, if any.
    pub(crate) fn take_spare(&mut self) -> Option<sys::RxPage> {
        self.nspare = self.nspare.checked_sub(1)?;
        self.spare.get_mut(self.nspare).and_then(Option::take)
    }
}

impl TxQ {
    pub(crate) fn pop_free(&mut self) -> Option<u16> {
        self.nfree = self.nfree.checked_sub(1)?;
        Some(self.free[self.nfree])
    }

    pub(crate) fn push_free(&mut self, id: u16) {
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

pub(crate) fn tx_has_room(tx: &TxQ) -> bool {
    tx.nfree >= netif::MAX_TX_SLOTS
        && tx.ring.state().free_requests() as usize > netif::MAX_TX_SLOTS
}

/// Builds queue `idx`: ring pages, slot pages, event channel; all rx requests posted. With
/// `direct` (trusted backend) tx packets are granted in place when they fit.
pub(crate) fn new_queue(
    dev: &Arc<Device>,
    net: NetDev<'_>,
    idx: u32,
    split: bool,
    direct: bool,
) -> Result<Arc<Queue>> {
    let dom = dev.backend;
    // A zeroed page granted to the backend (read-only: tx data), revoked and freed (or leaked
    // and counted in `dev.leaks` if still mapped) when dropped, on every path.
    let page = |readonly: bool| GrantedPage::new(dom, 0, readonly, dev.leaks);
    let tx_ring_page = Arc::new(page(false)?, GFP_KERNEL)?;
    let rx_ring_page = Arc::new(page(false)?, GFP_KERNEL)?;
    let tx_ring = QueueRing::new(tx_ring_page.clone()).ok_or(EINVAL)?;
    let rx_ring: QueueRing<RxRequest, RxResponse> =
        QueueRing::new(rx_ring_page.clone()).ok_or(EINVAL)?;
    let mut txp = KVec::with_capacity(RING, GFP_KERNEL)?;
    let mut free = [0u16; RING];
    for (i, f) in free.iter_mut().enumerate() {
        txp.push(page(true)?, GFP_KERNEL)?;
        *f = (RING - 1 - i) as u16;
    }
    let mut bufs = KVec::with_capacity(RING, GFP_KERNEL)?;
    let mut spare = KVec::with_capacity(RING, GFP_KERNEL)?;
    for _ in 0..RING {
        bufs.push(None, GFP_KERNEL)?;
        spare.push(Some(sys::RxPage::alloc(true).ok_or(ENOMEM)?), GFP_KERNEL)?;
    }
    let mut rxq = RxQ {
        ring: rx_ring,
        bufs,
        spare,
        nspare: RING,
        domid: dom,
        leaks: dev.leaks,
        asm: RxAssembler::new(true),
        cur: None,
        cur_bad: false,
    };
    rxq.refill();
    if rxq.ring.state().free_requests() != 0 {
        return Err(ENOSPC);
    }
    rxq.ring.push_requests();
    let port = dev.xdev.alloc_evtchn()?;
    let rx_port = if split {
        Some(dev.xdev.alloc_evtchn()?)
    } else {
        None
    };
    Ok(Arc::new(
        Queue {
            idx,
            dev: dev.clone(),
            eoi_tx: AtomicBool::new(false),
            eoi_rx: AtomicBool::new(false),
            tx_cons: AtomicU32::new(0),
            rx_cons: AtomicU32::new(0),
            tx: sys::TxLocked::new(
                net,
                idx,
                KBox::new(
                    TxQ {
                        ring: tx_ring,
                        pages: txp,
                        direct,
                        grants: [const { None }; RING],
                        skbs: [const { None }; RING],
                        free,
                        nfree: RING,
                        inflight: [false; RING],
                    },
                    GFP_KERNEL,
                )?,
            ),
            rx: sys::PollOwned::new(net, idx, KBox::new(rxq, GFP_KERNEL)?),
            port,
            rx_port,
            tx_ring_page,
            rx_ring_page,
        },
        GFP_KERNEL,
    )?)
}
