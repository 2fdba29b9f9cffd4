// SPDX-License-Identifier: GPL-2.0
//! Suspend and resume around `xl save`, `xl save -c` and `xl migrate` (xenbus's `suspend.rs`
//! calls them), after Linux's `blkfront_resume` and `blkif_recover`
//! (`drivers/block/xen-blkfront.c`):
//!
//! - suspend: the disk's queue is quiesced (`blk_mq_quiesce_queue`): no new request reaches a
//!   ring; those in flight stay in their slots.
//! - resume, cancelled (checkpoint): the same rings and backend go on; the queue runs again and
//!   the rings are looked at for responses that came while the domain was paused.
//! - resume in a new domain: the rings, their grants and ports belong to a domain that is gone.
//!   The requests in flight go back to blk-mq (`blk_mq_requeue_request`), to be sent again on
//!   the new rings; the handlers are dropped (the platform forgot them). When the new backend is
//!   in InitWait, each ring (the same `RingInfo`, which the disk's `DiskData` holds) gets new
//!   pages, a new port and a new handler ([`resetup_rings`]); when it is Connected, new slots
//!   with new bounce pages are granted, the disk's size is checked, and the queue runs again
//!   ([`reconnect`]). The disk, its tag set and queue limits stay: a backend that offers less
//!   than the disk was made with (fewer queues or segments, other features, another sector
//!   size) is refused with a `pr_err`, and the device fails as on any connect error.

use super::*;

/// Quiesces the disk's queue (if there is a disk) for a suspend. Process context.
pub(crate) fn suspend(info: &Blkfront) {
    let mut l = info.lock();
    if l.ctl.quiesced {
        return;
    }
    if let Some(d) = l.ctl.disk.as_ref() {
        d.quiesce();
        l.ctl.quiesced = true;
    }
}

/// Ends a suspend; see the module doc. Process context.
pub(crate) fn resume(info: &Arc<Blkfront>, cancelled: bool) {
    let mut l = info.lock();
    if cancelled {
        if l.ctl.quiesced {
            if let Some(d) = l.ctl.disk.as_ref() {
                d.unquiesce();
            }
            l.ctl.quiesced = false;
        }
        for r in l.ctl.rings.iter() {
            process_ring(info, r);
        }
        return;
    }
    // The platform forgot the old handlers: dropping the bindings unbinds nothing.
    drop(core::mem::take(&mut l.ctl.bindings));
    info.error.store(false, Ordering::Release);
    if l.ctl.disk.is_none() {
        // Not connected: start over when the new backend is in InitWait. The old rings' grants
        // and ports are of the old domain: ending them cannot block, closing is skipped.
        l.ctl.tags = None;
        free_rings(&mut l);
        let state = info.state.load(Ordering::Acquire);
        if state != st::CLOSED {
            info.state.store(st::INIT, Ordering::Release);
        }
        return;
    }
    let mut back = 0u32;
    for r in l.ctl.rings.iter() {
        let mut g = r.lock.lock();
        for s in g.slots.iter_mut() {
            if !s.busy {
                continue;
            }
            s.busy = false;
            // The old domain's grants: the new grant table has none, ending them succeeds.
            let _ = s.end_direct();
            if let Some(rq) = s.rq.take() {
                // Dispatched again once the queue is unquiesced after the reconnect.
                rq.requeue();
                back += 1;
            }
        }
    }
    l.ctl.resuming = true;
    info.state.store(st::INIT, Ordering::Release);
    pr_info!(
        "{}: restored in a new domain: {} request(s) to send again once the backend is back\n",
        info.name(),
        back
    );
}

/// `InitWait` after a restore with the disk live: the same rings get new pages, ports and
/// handlers, our keys are written again, `Initialised`.
///
/// # Errors
/// `EINVAL` when the new backend offers fewer queues than the disk has; an allocation's,
/// grant's, port's or xenstore's error.
pub(crate) fn resetup_rings(info: &Arc<Blkfront>) -> Result {
    let mut l = info.lock();
    let dev = &info.dev;
    let devinfo = dev.info()?;
    let otherend = u16::try_from(devinfo.otherend_id).map_err(|_| EINVAL)?;
    let nr = l.ctl.rings.len() as u32;
    let max = read_u32(dev, b"multi-queue-max-queues").unwrap_or(1);
    if nr > 1 && max < nr {
        pr_err!(
            "{}: the backend after restore offers {} queue(s), the disk has {}\n",
            info.name(),
            max,
            nr
        );
        return Err(EINVAL);
    }
    let order = blkif::negotiate_ring_order(
        read_u32(dev, b"max-ring-page-order"),
        sys::params::max_ring_page_order(),
    );
    let mut bindings = KVec::new();
    for (i, r) in l.ctl.rings.iter().enumerate() {
        let pages = GrantedPages::new(otherend, order, false, info.leaks)?;
        let ring = BlkRing::new(pages).ok_or(EINVAL)?;
        let port = dev.alloc_evtchn()?;
        let p = port.port();
        let old = {
            let mut g = r.lock.lock();
            (
                core::mem::replace(&mut g.ring, ring),
                core::mem::replace(&mut g.port, port),
                core::mem::take(&mut g.slots),
            )
        };
        // Outside the ring lock: pages revoked (at once: the old domain's grants) and freed;
        // the old port is of the old domain, not closed.
        drop(old);
        p.spread(i as u32);
        bindings.push(Binding::new(p, r.clone())?, GFP_KERNEL)?;
    }
    let persistent = sys::params::feature_persistent();
    abi_xenbus_client::with_transaction(|tx| {
        write_keys(info, &l.ctl.rings, tx, nr, order, persistent)
    })?;
    l.ctl.ring_order = order;
    l.ctl.bindings = bindings;
    dev.switch_state(XenbusState::Initialised)?;
    info.state.store(st::RINGS, Ordering::Release);
    Ok(())
}

/// `Connected` after a restore with the disk live: new slots, the size checked, `Connected`,
/// and the requests held since the suspend sent again.
///
/// # Errors
/// `EINVAL` when the backend offers other features than the disk was made with; the errors of
/// [`negotiate`], of the slots' allocation and of the state switch.
pub(crate) fn reconnect(info: &Arc<Blkfront>) -> Result {
    let n = negotiate(info).map_err(|ConnectError(e, _)| e)?;
    let mut l = info.lock();
    if n.feat != l.ctl.feat
        || n.segs < l.ctl.segs
        || n.indirect != l.ctl.indirect
        || n.params.sector_size != l.ctl.sector_size
    {
        pr_err!(
            "{}: the backend after restore differs (features, {} segments{}, sector size {}) from the one the disk was made for ({} segments{}, sector size {})\n",
            info.name(),
            n.segs,
            if n.indirect { " indirect" } else { "" },
            n.params.sector_size,
            l.ctl.segs,
            if l.ctl.indirect { " indirect" } else { "" },
            l.ctl.sector_size
        );
        return Err(EINVAL);
    }
    let (depth, segs, indirect) = (l.ctl.depth, l.ctl.segs, l.ctl.indirect);
    alloc_slots(info, &l.ctl.rings, depth, segs, indirect)?;
    if n.sectors != l.ctl.sectors {
        if let Some(d) = l.ctl.disk.as_ref() {
            pr_info!(
                "{}: capacity {} -> {} sectors after restore\n",
                info.name(),
                l.ctl.sectors,
                n.sectors
            );
            d.set_capacity(n.sectors, true);
        }
        l.ctl.sectors = n.sectors;
    }
    info.state.store(st::CONNECTED, Ordering::Release);
    info.dev.switch_state(XenbusState::Connected)?;
    l.ctl.resuming = false;
    if l.ctl.quiesced {
        if let Some(d) = l.ctl.disk.as_ref() {
            d.unquiesce();
        }
        l.ctl.quiesced = false;
    }
    pr_info!(
        "{}: reconnected after restore ({} queue(s), ring order {})\n",
        info.name(),
        l.ctl.rings.len(),
        l.ctl.ring_order
    );
    Ok(())
}

/// A resume that cannot finish: the device goes to its error state, and the held requests fail
/// instead of waiting for a backend that will not take them. The caller reports to the
/// toolstack (`fatal`), whose Closing/Closed then remove the disk.
pub(crate) fn give_up(info: &Blkfront) {
    info.error.store(true, Ordering::Release);
    let mut l = info.lock();
    l.ctl.resuming = false;
    if l.ctl.quiesced {
        if let Some(d) = l.ctl.disk.as_ref() {
            d.unquiesce();
        }
        l.ctl.quiesced = false;
    }
}
