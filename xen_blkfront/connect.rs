// SPDX-License-Identifier: GPL-2.0
//! Connecting and disconnecting (Linux's `talk_to_blkback`, `blkfront_connect`,
//! `blkif_free`): the rings granted and announced in xenstore, the backend's keys read and
//! checked, the disk created, resized and removed, the rings freed. Process context, from the
//! xenbus callbacks in `blkfront_main.rs`, under the device's `ctl` mutex.

use super::*;

/// Most blk-mq tags (= ring slots in use) per disk, over all its rings: each slot holds a
/// granted bounce page per segment, so this bounds a disk's bounce memory and grant references
/// (64 slots of 32 segments: 2112 grants, 8.3 MiB).
pub(crate) const MAX_SLOTS_PER_DISK: u32 = 64;
/// How long a closing device waits for its in-flight requests, in ms.
pub(crate) const DRAIN_MS: u32 = 5000;

pub(crate) fn read_u64(dev: &XenbusDevice, node: &[u8]) -> Option<u64> {
    let mut buf = [0u8; 32];
    let n = dev.read_otherend(node, &mut buf).ok()?;
    blkif::parse_u64(&buf[..n])
}

pub(crate) fn read_u32(dev: &XenbusDevice, node: &[u8]) -> Option<u32> {
    read_u64(dev, node).and_then(|v| u32::try_from(v).ok())
}

/// Allocates and grants one ring with its event channel (not bound yet). On error everything
/// made so far is undone (the pages revoked and freed by their owner, the port closed by `RingInfo`'s drop).
pub(crate) fn alloc_ring(info: &Arc<Blkfront>, order: u32, otherend: u16) -> Result<Arc<RingInfo>> {
    let pages = GrantedPages::new(otherend, order, false, info.leaks)?;
    let ring = BlkRing::new(pages).ok_or(EINVAL)?;
    let port = info.dev.alloc_evtchn()?;
    // From here on the port is closed by `RingState`'s drop (also if `Arc::new` fails).
    let lock = sys::IrqSpinLock::new(RingState {
        ring,
        slots: KVec::new(),
        port,
    })?;
    Ok(Arc::new(
        RingInfo {
            lock,
            dev: info.clone(),
        },
        GFP_KERNEL,
    )?)
}

/// `talk_to_blkback`: rings, event channels, our keys, `Initialised`.
pub(crate) fn setup_rings(info: &Arc<Blkfront>) -> Result {
    let mut l = info.lock();
    free_rings(&mut l);
    let dev = &info.dev;
    let devinfo = dev.info()?;
    let otherend = u16::try_from(devinfo.otherend_id).map_err(|_| EINVAL)?;
    let nr = blkif::negotiate_queues(
        read_u32(dev, b"multi-queue-max-queues"),
        sys::params::max_queues(),
    );
    let order = blkif::negotiate_ring_order(
        read_u32(dev, b"max-ring-page-order"),
        sys::params::max_ring_page_order(),
    );
    // Made apart and installed whole; on an error they drop here, handlers first.
    let mut bindings = KVec::new();
    let mut rings = KVec::new();
    for i in 0..nr {
        let r = alloc_ring(info, order, otherend)?;
        // Queue i's events on CPU i mod n (with per-vCPU upcall vectors; else all stay on
        // vCPU 0), as blk-mq maps queue i to those CPUs.
        let port = r.lock.lock().port.port();
        port.spread(i);
        rings.push(r.clone(), GFP_KERNEL)?;
        bindings.push(Binding::new(port, r)?, GFP_KERNEL)?;
    }
    let persistent = sys::params::feature_persistent();
    abi_xenbus_client::with_transaction(|tx| write_keys(info, &rings, tx, nr, order, persistent))?;
    l.ctl.ring_order = order;
    l.replace_rings(bindings, rings)?;
    dev.switch_state(XenbusState::Initialised)?;
    info.state.store(st::RINGS, Ordering::Release);
    Ok(())
}

pub(crate) fn write_keys(
    info: &Blkfront,
    rings: &[Arc<RingInfo>],
    tx: u32,
    nr: u32,
    order: u32,
    persistent: bool,
) -> Result {
    let dev = &info.dev;
    let w = |node: core::fmt::Arguments<'_>, v: core::fmt::Arguments<'_>| dev.printf(tx, node, v);
    if order > 0 {
        w(format_args!("ring-page-order"), format_args!("{}", order))?;
    }
    if nr > 1 {
        w(
            format_args!("multi-queue-num-queues"),
            format_args!("{}", nr),
        )?;
    }
    for (q, r) in rings.iter().enumerate() {
        let (pages, grefs, port) = {
            let st = r.lock.lock();
            let p = st.ring.pages();
            let mut g = [0u32; RING_PAGES];
            for (i, x) in g.iter_mut().enumerate().take(p.pages()) {
                *x = p.gref(i);
            }
            (p.pages(), g, st.port.port())
        };
        for (i, gref) in grefs.iter().enumerate().take(pages) {
            let gref = format_args!("{}", gref);
            match (nr > 1, order > 0) {
                (false, false) => w(format_args!("ring-ref"), gref)?,
                (false, true) => w(format_args!("ring-ref{}", i), gref)?,
                (true, false) => w(format_args!("queue-{}/ring-ref", q), gref)?,
                (true, true) => w(format_args!("queue-{}/ring-ref{}", q, i), gref)?,
            }
        }
        let port = format_args!("{}", port.0);
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
    )?;
    Ok(())
}

/// Unbinds, revokes and frees every ring with its slots (`RingInfo`'s drop); pages the backend
/// still maps are leaked and counted in the device's `leaks`.
pub(crate) fn free_rings(l: &mut Locked<'_>) {
    let info = l.info;
    let before = info.leaks.get();
    match l.replace_rings(KVec::new(), KVec::new()) {
        // Handlers first, then the rings (ours were the last references).
        Ok((bindings, rings)) => {
            drop(bindings);
            drop(rings);
        }
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
pub(crate) fn alloc_slots(
    info: &Blkfront,
    rings: &[Arc<RingInfo>],
    depth: u32,
    segs: usize,
    indirect: bool,
) -> Result {
    let devinfo = info.dev.info()?;
    let otherend = u16::try_from(devinfo.otherend_id).map_err(|_| EINVAL)?;
    for r in rings.iter() {
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
                let p = GrantedPage::new(otherend, 0, false, info.leaks)?;
                s.ptrs.push(sys::PagePtr::of(&p), GFP_KERNEL)?;
                s.pages.push(p, GFP_KERNEL)?;
            }
            if indirect {
                // Writable: blkback maps persistent grants read-write, even indirect pages.
                let p = GrantedPage::new(otherend, 0, false, info.leaks)?;
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
pub(crate) struct ConnectError(pub(crate) Error, pub(crate) &'static str);

impl From<Error> for ConnectError {
    fn from(e: Error) -> Self {
        ConnectError(e, "creating the disk")
    }
}

impl From<kernel::alloc::AllocError> for ConnectError {
    fn from(e: kernel::alloc::AllocError) -> Self {
        ConnectError(e.into(), "creating the disk")
    }
}

/// `blkfront_connect`: the backend is `Connected`: read the disk, create it, `Connected`.
///
/// # Errors
/// [`ConnectError`] with `EINVAL` for unusable backend keys (each logged with its value), or the
/// error of an allocation or of the block layer.
pub(crate) fn connect(info: &Arc<Blkfront>) -> Result<(), ConnectError> {
    let Negotiated {
        sectors,
        params,
        feat,
        segs,
        indirect,
    } = negotiate(info)?;
    let mut l = info.lock();
    let nr = l.ctl.rings.len() as u32;
    let ring_order = l.ctl.ring_order;
    let ring_slots = ring::ring_size(4096 << ring_order, ENTRY_BYTES);
    let depth = ring_slots.min(MAX_SLOTS_PER_DISK / nr.max(1)).max(1);
    alloc_slots(info, &l.ctl.rings, depth, segs, indirect)?;
    l.ctl.feat = feat;
    l.ctl.sectors = sectors;
    l.ctl.sector_size = params.sector_size;
    l.ctl.depth = depth;
    l.ctl.segs = segs;
    l.ctl.indirect = indirect;
    finish_connect(info, &mut l, depth, ring_slots, params, segs, indirect)
}

/// What the backend offers, read and checked at connect (and again after a restore).
pub(crate) struct Negotiated {
    pub(crate) sectors: u64,
    pub(crate) params: blkif::DiskParams,
    pub(crate) feat: Features,
    pub(crate) segs: usize,
    pub(crate) indirect: bool,
}

/// Reads the backend's disk and features (`blkfront_connect`'s reads).
///
/// # Errors
/// As [`connect`], for the backend's keys.
pub(crate) fn negotiate(info: &Blkfront) -> Result<Negotiated, ConnectError> {
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
    Ok(Negotiated {
        sectors,
        params,
        feat,
        segs,
        indirect,
    })
}

/// The rest of [`connect`], with the slots allocated: the tag set and the disk.
fn finish_connect(
    info: &Arc<Blkfront>,
    l: &mut Locked<'_>,
    depth: u32,
    ring_slots: u32,
    params: blkif::DiskParams,
    segs: usize,
    indirect: bool,
) -> Result<(), ConnectError> {
    let dev = &info.dev;
    let (nr, ring_order, sectors, feat) = (
        l.ctl.rings.len() as u32,
        l.ctl.ring_order,
        l.ctl.sectors,
        l.ctl.feat,
    );
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
    let mut rings = KVec::with_capacity(l.ctl.rings.len(), GFP_KERNEL)?;
    for r in l.ctl.rings.iter() {
        rings.push(r.clone(), GFP_KERNEL)?;
    }
    let data = KBox::new(
        DiskData {
            dev: info.clone(),
            rings,
            feat,
        },
        GFP_KERNEL,
    )?;
    let mut disk = sys::Disk::new(&tags, &lim, data)?;
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
    dev.switch_state(XenbusState::Connected)
        .map_err(Error::from)?;
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
pub(crate) fn check_resize(info: &Blkfront) {
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
pub(crate) fn teardown(info: &Blkfront) {
    if stop(info) {
        let _ = info.dev.switch_state(XenbusState::Closed);
    }
}

/// Connecting failed: stop as [`teardown`], then report the error to the toolstack and go
/// `Closing` (Linux's `xenbus_dev_fatal`); `Closed` follows when the backend closes.
pub(crate) fn fail(info: &Blkfront, err: Error, what: &str) {
    stop(info);
    info.dev.fatal(err.into(), what);
}

/// [`teardown`] without the state switch; `false` if it was already stopped.
pub(crate) fn stop(info: &Blkfront) -> bool {
    let prev = info.state.swap(st::CLOSING, Ordering::AcqRel);
    if prev == st::CLOSED || prev == st::CLOSING {
        info.state.store(prev, Ordering::Release);
        return false;
    }
    let mut l = info.lock();
    // Any submitter that saw CONNECTED holds a ring lock: wait for it by taking each lock.
    for r in l.ctl.rings.iter() {
        drop(r.lock.lock());
    }
    let mut waited = 0;
    while inflight(&l.ctl.rings) > 0 && waited < DRAIN_MS {
        sys::msleep(20);
        waited += 20;
    }
    let left = inflight(&l.ctl.rings);
    if left > 0 {
        pr_warn!(
            "{}: {} request(s) unanswered after {} ms: failing them\n",
            info.name(),
            left,
            DRAIN_MS
        );
        info.error.store(true, Ordering::Release);
        for r in l.ctl.rings.iter() {
            process_ring(info, r);
        }
    }
    if l.ctl.quiesced {
        // Requests held for a resume that will not come: let them fail (state CLOSING) rather
        // than keep del_gendisk waiting for them.
        if let Some(d) = l.ctl.disk.as_ref() {
            d.unquiesce();
        }
        l.ctl.quiesced = false;
        l.ctl.resuming = false;
    }
    if let Some(d) = l.ctl.disk.take() {
        drop(d);
        pr_info!("{}: removed\n", info.name());
    }
    l.ctl.tags = None;
    // No handler after this (each unbinding waits for a running one); the rings stay until
    // `free_rings`, the backend may still map their pages.
    drop(core::mem::replace(&mut l.ctl.bindings, KVec::new()));
    info.state.store(st::CLOSED, Ordering::Release);
    true
}
