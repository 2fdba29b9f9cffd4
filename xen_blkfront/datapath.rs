// SPDX-License-Identifier: GPL-2.0
//! The data path: ring slots and their bounce pages, the rings, `queue_rq` (a request into a
//! ring slot and onto the ring), the ring handler (responses copied once, validated, completed)
//! and the blk-mq request timeout. Runs in `queue_rq`, hard interrupt and kblockd context:
//! `queue_rq` and the timeout read the disk's [`DiskData`], each ring handler its [`RingInfo`].

use super::*;

/// Completions handed to blk-mq per batch (outside the ring lock).
pub(crate) const BATCH: usize = 32;

/// A blkif ring in its granted pages (`ring-ref<i>`).
pub(crate) type BlkRing = granted_pages::GrantedRing<Request, Response, RING_PAGES>;

/// Bytes of one ring entry (request/response union).
pub(crate) const ENTRY_BYTES: usize = ring::SharedRing::<Request, Response>::ENTRY_BYTES;

/// One ring slot: the bounce pages of the request using it (granted for the device's life) and
/// what is in flight in it.
pub(crate) struct Slot {
    /// A request is in flight with this id.
    pub(crate) busy: bool,
    /// The operation its response must echo.
    pub(crate) rsp_op: u8,
    /// A read: copy the data back on completion.
    pub(crate) read: bool,
    /// The request, while busy.
    pub(crate) rq: Option<sys::Rq>,
    /// Bounce pages, granted writable (reads land there), and their addresses for the copy
    /// shim.
    pub(crate) pages: KVec<GrantedPage>,
    pub(crate) ptrs: KVec<sys::PagePtr>,
    /// The indirect segment page, with indirect requests.
    pub(crate) ind: Option<GrantedPage>,
    /// Trusted backend: grants of the request's own pages while it is in flight (the first
    /// `ndirect` of `pages.len()` entries), and room for its segment list.
    pub(crate) direct: KVec<Option<Grant>>,
    pub(crate) ndirect: usize,
    pub(crate) dsegs: KVec<sys::DataSeg>,
}

impl Slot {
    /// Revokes the direct grants of a finished request; `false` if the backend still maps one
    /// of those pages (they are the kernel's, which will reuse them: a trusted backend only).
    pub(crate) fn end_direct(&mut self) -> bool {
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

/// What the ring lock protects.
pub(crate) struct RingState {
    pub(crate) ring: BlkRing,
    pub(crate) slots: KVec<Slot>,
    /// The ring's event channel; closed when dropped (replaced after a restore, see
    /// `connect::resetup_rings`).
    pub(crate) port: OwnedPort,
}

/// Most pages of a ring (`2^MAX_RING_PAGE_ORDER`).
pub(crate) const RING_PAGES: usize = 1 << blkif::MAX_RING_PAGE_ORDER;

/// One blkif ring (= one blk-mq hardware queue), shared by its handler's binding
/// (`Ctl::bindings`), the device (`Ctl::rings`) and the disk ([`DiskData`]); freed when the
/// last of them lets go.
pub(crate) struct RingInfo {
    /// The ring (with its pages), its slots (with their bounce pages) and its port: revoked,
    /// freed and closed when dropped, or leaked if the backend still maps them (counted in the
    /// device's `leaks`).
    pub(crate) lock: sys::IrqSpinLock<RingState>,
    /// The device (a reference cycle, broken when `remove` frees the rings).
    pub(crate) dev: Arc<Blkfront>,
}

impl EvtchnTarget for RingInfo {
    fn event(&self, _port: u32) -> u32 {
        ring_event(&self.dev, self)
    }
}

/// What `queue_rq` and the request timeout read, handed to the disk when it is made
/// (`sys::Disk::new`) and fixed for its life: the device, its rings and the negotiated features.
pub(crate) struct DiskData {
    pub(crate) dev: Arc<Blkfront>,
    pub(crate) rings: KVec<Arc<RingInfo>>,
    pub(crate) feat: Features,
}

/// The block layer's calls, through the entry points in `sys.rs`.
impl sys::BlkMqOps for Blkfront {
    /// `queue_rq` of hw queue `hwq` (after `blk_mq_start_request`).
    fn queue_rq(io: sys::DiskIo<'_>, hwq: u32, rq: sys::Rq) -> i32 {
        let d = io.data();
        let info = &*d.dev;
        if info.error.load(Ordering::Acquire) || info.state.load(Ordering::Acquire) != st::CONNECTED
        {
            return sys::sts::IOERR;
        }
        let Some(r) = d.rings.get(hwq as usize) else {
            return sys::sts::IOERR;
        };
        submit(info, &d.feat, r, rq)
    }

    /// blk-mq timeout of a request (default 30 s; kblockd work, process context). While the
    /// backend is `Connected` we wait on, as Linux's blkfront (a slow backend is not a broken
    /// one). A backend that is no longer `Connected` will not answer: the device goes to its
    /// error state and every request in flight fails, so that nothing waits for ever on it
    /// (add_disk's partition read in particular, which holds the xenbus watch thread that would
    /// deliver the backend's `Closing`).
    fn timeout(io: sys::DiskIo<'_>) -> bool {
        let d = io.data();
        let info = &*d.dev;
        if !info.error.load(Ordering::Acquire) {
            let bs = match info.dev.otherend_state() {
                Some(XenbusState::Connected) | None => return false,
                Some(bs) => bs,
            };
            info.set_error(format_args!(
                "backend {} with {} request(s) unanswered",
                bs.name(),
                inflight(&d.rings)
            ));
        }
        for r in d.rings.iter() {
            process_ring(info, r);
        }
        true
    }
}

pub(crate) fn submit(info: &Blkfront, feat: &Features, r: &RingInfo, rq: sys::Rq) -> i32 {
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
    let RingState { ring, slots, port } = &mut *g;
    let port = port.port();
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
                let Some(ipage) = slot.ind.as_mut() else {
                    slot.end_direct();
                    return sys::sts::IOERR;
                };
                // npages <= slot.pages.len() <= 512 = the segments one page holds.
                if !(0..npages).all(|i| ipage.write_volatile(i, seg(i))) {
                    slot.end_direct();
                    return sys::sts::IOERR;
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
        let _ = port.notify();
    }
    sys::sts::OK
}

/// Trusted backend: grants the request's own pages (read-only for writes). Returns the number of
/// segments, or `None` to bounce instead (segments not in 512-byte units, too many, no free
/// grant reference).
pub(crate) fn grant_direct(
    info: &Blkfront,
    slot: &mut Slot,
    rq: &sys::Rq,
    write: bool,
) -> Option<usize> {
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
pub(crate) fn reap(
    info: &Blkfront,
    r: &RingInfo,
    out: &mut [Option<(sys::Rq, i32)>; BATCH],
) -> (usize, bool) {
    let mut g = r.lock.lock();
    let RingState { ring, slots, .. } = &mut *g;
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
pub(crate) fn process_ring(info: &Blkfront, r: &RingInfo) -> bool {
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
/// gets no more of our attention until the device is set up afresh (new ports). Called through
/// the ring's `EvtchnTarget` impl, from the handler its `Binding` installs.
pub(crate) fn ring_event(info: &Blkfront, r: &RingInfo) -> u32 {
    let work = process_ring(info, r);
    if info.error.load(Ordering::Acquire) {
        abi::evtchn_ret::LATE
    } else if work {
        abi::evtchn_ret::EOI
    } else {
        abi::evtchn_ret::SPURIOUS
    }
}

/// Requests in flight over all rings.
pub(crate) fn inflight(rings: &[Arc<RingInfo>]) -> usize {
    rings
        .iter()
        .map(|r| r.lock.lock().slots.iter().filter(|s| s.busy).count())
        .sum()
}
