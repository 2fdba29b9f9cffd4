// SPDX-License-Identifier: GPL-2.0
//! The net_device side, called by helpers.c's operations tables: open and stop, transmit
//! (bounced into granted pages, or granted in place for a trusted backend), the NAPI poll and the
//! statistics (ndo_get_stats64, ethtool -S).

use super::*;

/// The operations helpers.c's tables call, through the entry points in `sys.rs`.
impl sys::NetDevOps for Device {
    fn open(&self, rtnl: &mut Rtnl) {
        let _ctl = self.ctl(rtnl);
        start_data_path(self, rtnl);
    }

    fn stop(&self, rtnl: &mut Rtnl) {
        let _ctl = self.ctl(rtnl);
        stop_data_path(self, rtnl);
    }

    fn xmit(&self, skb: TxSkb, x: &sys::Xmit) {
        xmit(self, skb, x)
    }

    fn poll(&self, napi: sys::NapiPoll, budget: i32) -> i32 {
        poll(self, napi, budget)
    }

    fn stats(&self, out: &mut [u64]) {
        for (i, o) in out.iter_mut().enumerate().take(NSTATS) {
            *o = self
                .stats
                .iter()
                .map(|s| s.v[i].load(Ordering::Relaxed))
                .sum();
        }
    }

    fn stat_count(&self) -> u32 {
        let nq = (self.nq.load(Ordering::Relaxed) as usize).clamp(1, sys::MAX_QUEUES);
        (nq * NSTATS) as u32
    }

    fn stat_name(i: u32, out: &mut [u8]) {
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

    fn stat_value(&self, i: u32) -> u64 {
        let (q, s) = (i as usize / NSTATS, i as usize % NSTATS);
        self.stats
            .get(q)
            .map_or(0, |st| st.v[s].load(Ordering::Relaxed))
    }
}

/// `ndo_start_xmit`: copies the packet into slot pages (or grants it in place) and posts it.
/// Always consumes the skb.
fn xmit(dev: &Device, skb: TxSkb, x: &sys::Xmit) {
    let q = x.queue();
    let st = &dev.stats[(q as usize).min(sys::MAX_QUEUES - 1)];
    if !dev.connected.load(Ordering::Acquire) {
        st.add(TX_DROPPED, 1);
        return;
    }
    let Some(queue) = dev.dp.in_xmit(x).and_then(|d| d.queues.get(q as usize)) else {
        st.add(TX_DROPPED, 1);
        return;
    };
    let info = skb.info();
    if info.len == 0 || info.len > netif::MAX_TX_SIZE || info.gso_other {
        st.add(TX_DROPPED, 1);
        return;
    }
    let mut g = queue.net().tx_lock(q);
    let Some(tx) = queue.tx.get(&mut g).map(|t| &mut **t) else {
        st.add(TX_DROPPED, 1);
        return;
    };
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
            queue.net().txq_stop(q);
            st.add(TX_DROPPED, 1);
        }
        Err(TxDrop::Error) => st.add(TX_ERRORS, 1),
    }
    if !tx_has_room(tx) {
        queue.net().txq_stop(q);
    }
}

/// Why a packet was not sent (it is freed, or leaked if the backend could map it).
pub(crate) enum TxDrop {
    /// No room on the ring or no free slot id (the queue is stopped).
    Full,
    /// It could not be copied or granted.
    Error,
}

/// One data slot of a tx packet: slot id, grant reference, offset and length in the page (bytes).
#[derive(Clone, Copy, Default)]
pub(crate) struct TxSlot {
    pub(crate) id: u16,
    pub(crate) gref: u32,
    pub(crate) off: u16,
    pub(crate) len: u16,
}

/// Bounce mode: copies the packet into the slot pages of free ids, posts it, frees the skb.
pub(crate) fn xmit_bounce(
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
/// reference to the skb until it is answered (`Queue::tx_gc`), the skb detached from its socket
/// meanwhile ([`sys::TxSkb::orphan`]).
pub(crate) fn xmit_direct(
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
    // Held until answered: not counted against its socket meanwhile.
    skb.orphan();
    // One reference to the packet per slot; the last slot takes ours.
    for s in &slots[..n - 1] {
        tx.skbs[s.id as usize] = Some(skb.get());
    }
    tx.skbs[slots[n - 1].id as usize] = Some(skb);
    post_packet(queue, tx, &slots[..n], info);
    Ok(())
}

/// Gives unposted slot ids back to the free list.
pub(crate) fn undo_ids(tx: &mut TxQ, slots: &[TxSlot]) {
    for s in slots {
        tx.push_free(s.id);
    }
}

/// Revokes the grants of a packet that was never posted and frees its slot ids. The backend
/// cannot know those references, but if it mapped one anyway the packet is leaked, never freed.
pub(crate) fn undo_direct(
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
pub(crate) fn post_packet(queue: &Queue, tx: &mut TxQ, slots: &[TxSlot], info: &sys::SkbInfo) {
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
        let _ = queue.port.port().notify();
    }
}

/// NAPI poll of a queue: tx completions, then up to `budget` rx packets; late EOI when idle.
///
/// The last look for responses and the EOIs come before `napi_complete_done`, while the poll is
/// still ours: an event after them makes NAPI poll again (its missed state) instead of racing a
/// new poll on another CPU with this one.
fn poll(dev: &Device, mut napi: sys::NapiPoll, budget: i32) -> i32 {
    let q = napi.queue();
    let queue = dev
        .dp
        .in_poll(&napi)
        .and_then(|d| d.queues.get(q as usize).cloned());
    let Some(queue) = queue else {
        napi.complete(0);
        return 0;
    };
    if dev.broken.load(Ordering::Acquire) {
        napi.complete(0);
        return 0;
    }
    let r = queue
        .tx_gc(&napi)
        .and_then(|t| queue.rx_poll(&mut napi, budget).map(|w| (t, w)));
    let (_txd, work) = match r {
        Ok(v) => v,
        Err(e) => {
            dev.fail(q, e);
            napi.complete(0);
            return 0;
        }
    };
    if work >= budget {
        return work;
    }
    let more_rx = queue
        .rx
        .get(&mut napi)
        .map_or(0, |rx| rx.ring.final_check_for_responses().unwrap_or(1))
        != 0;
    if more_rx {
        // Responses came meanwhile: stay scheduled, NAPI polls again.
        return budget;
    }
    // The handler already sorted out spurious events: these had responses.
    if queue.eoi_tx.swap(false, Ordering::AcqRel) {
        let _ = queue.port.port().eoi(false);
    }
    if queue.eoi_rx.swap(false, Ordering::AcqRel) {
        let _ = queue.rxp().eoi(false);
    }
    napi.complete(work);
    work
}
