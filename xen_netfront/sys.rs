// SPDX-License-Identifier: GPL-2.0
//! The one place where xen_netfront touches raw kernel bindings: our bindgen output
//! (`bindings_gen.rs`, from `bindings.h` over the shims in `helpers.c`) and safe wrappers over it:
//! the net_device ([`NetDevBox`], handles [`NetDev`]), owned skbs for tx ([`TxSkb`]) and rx ([`RxSkb`]), the
//! rtnl lock ([`Rtnl`]), and a queue's transmit and receive state reachable only with its tx
//! lock held ([`TxLocked`]) or from its NAPI poll ([`PollOwned`], [`NapiPoll`]). Pages granted to the backend are owned by `GrantedPage`
//! (`xen_proto/src/granted_pages.rs`, shared with xen_blkfront).

use crate::abi::Errno;
use crate::abi_client::Grant;
use crate::grant::LeakCount;
use crate::netif;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

bindgen_module!();

pub(crate) use b::sk_buff as RawSkb;

/// Queues per device the C side has room for (`XPV_NF_MAX_QUEUES`).
pub(crate) const MAX_QUEUES: usize = b::XPV_NF_MAX_QUEUES as usize;
/// Feature bits of [`NetDev::set_features`] (`XPV_NF_F_*`, NETIF_F_* equivalents).
pub(crate) const F_SG: u32 = b::XPV_NF_F_SG;
/// IPv4 TCP/UDP checksum offload.
pub(crate) const F_IPV4_CSUM: u32 = b::XPV_NF_F_IPV4_CSUM;
/// IPv6 TCP/UDP checksum offload.
pub(crate) const F_IPV6_CSUM: u32 = b::XPV_NF_F_IPV6_CSUM;
/// TCPv4 segmentation offload.
pub(crate) const F_TSO: u32 = b::XPV_NF_F_TSO;
/// TCPv6 segmentation offload.
pub(crate) const F_TSO6: u32 = b::XPV_NF_F_TSO6;

/// The `max_queues` module parameter (0: default).
pub(crate) fn param_max_queues() -> u32 {
    // SAFETY: reads a module parameter; no preconditions.
    unsafe { b::xpv_nf_param_max_queues() }
}

/// The `trusted` module parameter.
pub(crate) fn param_trusted() -> bool {
    // SAFETY: reads a module parameter; no preconditions.
    unsafe { b::xpv_nf_param_trusted() != 0 }
}

/// Module parameters settable by [`param_set`], by index.
pub(crate) const PARAM_NAMES: [&[u8]; 2] = [b"xen_netfront.max_queues", b"xen_netfront.trusted"];

/// Sets module parameter `which` (an index of [`PARAM_NAMES`]) to `value`.
pub(crate) fn param_set(which: usize, value: u32) {
    // SAFETY: plain integers; unknown indices are ignored by C.
    unsafe { b::xpv_nf_param_set(which as u32, value) }
}

/// Number of online CPUs.
pub(crate) fn num_online_cpus() -> u32 {
    // SAFETY: no preconditions.
    unsafe { b::xpv_nf_num_online_cpus() }
}

/// Reads the kernel command line into `buf` (NUL-terminated); returns its length.
///
/// # Errors
/// The errno of reading `/proc/cmdline`.
pub(crate) fn read_cmdline(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes; the function writes at most that many.
    let n = unsafe { b::xpv_shim_read_cmdline(buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    Ok(n as usize)
}

/// The driver's net_device, owned: allocated by [`NetDevBox::alloc`], freed when dropped
/// (unregistered first if it still is). While registered its operations call the device it was
/// registered for (`crate::Device`), of which it holds a reference until unregistered.
pub(crate) struct NetDevBox {
    p: NonNull<b::net_device>,
    /// The device the operations call (`Arc::into_raw`), while registered; else null.
    reg: AtomicPtr<crate::Device>,
}

// SAFETY: the kernel's net_device functions wrapped here may be called from any thread; `reg`
// is an atomic.
unsafe impl Send for NetDevBox {}
// SAFETY: as above.
unsafe impl Sync for NetDevBox {}

impl NetDevBox {
    /// Allocates "eth%d" with room for [`MAX_QUEUES`] queues (one in use) and MAC `mac`; not
    /// registered.
    pub(crate) fn alloc(mac: &[u8; 6]) -> Result<Self> {
        // SAFETY: `mac` is 6 readable bytes.
        let p = unsafe { b::xpv_nf_alloc(mac.as_ptr()) };
        let p = NonNull::new(p).ok_or(ENOMEM)?;
        Ok(Self {
            p,
            reg: AtomicPtr::new(core::ptr::null_mut()),
        })
    }

    /// A handle for the net_device's other calls, for as long as this is borrowed.
    pub(crate) fn get(&self) -> NetDev<'_> {
        NetDev(self.p, PhantomData)
    }

    /// `SET_NETDEV_DEV(dev, parent)` then `register_netdev`, with `dev` as the device its
    /// operations call (a reference is kept until [`Self::unregister`]). `parent` is the xen
    /// bus device (`XenbusDevice::device_ptr`), which outlives the net_device (unregistered in
    /// `remove`). `EBUSY` if registered already.
    pub(crate) fn register(&self, dev: &Arc<crate::Device>, parent: *mut c_void) -> Result {
        let rs = Arc::into_raw(dev.clone()).cast_mut();
        if self
            .reg
            .compare_exchange(
                core::ptr::null_mut(),
                rs,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: from `Arc::into_raw` just above, not handed out.
            drop(unsafe { Arc::from_raw(rs) });
            return Err(EBUSY);
        }
        // SAFETY: a live, unregistered device; `parent` a live struct device or null; `rs` stays
        // valid while registered (the reference in `reg`).
        match unsafe { b::xpv_nf_register(self.p.as_ptr(), parent, rs.cast()) } {
            0 => Ok(()),
            e => {
                self.reg.store(core::ptr::null_mut(), Ordering::Release);
                // SAFETY: from `Arc::into_raw` above; registration failed, C forgot it.
                drop(unsafe { Arc::from_raw(rs) });
                Err(Error::from_errno(e))
            }
        }
    }

    /// `unregister_netdev` (closes the device first and waits for its callbacks; takes rtnl, so
    /// not with [`Rtnl`] held nor from one of its operations), every NAPI context disabled, then
    /// the device's reference dropped. Nothing if not registered.
    pub(crate) fn unregister(&self) {
        let rs = self.reg.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if rs.is_null() {
            return;
        }
        // SAFETY: a registered device (we held `rs`, which only registration sets).
        unsafe { b::xpv_nf_unregister(self.p.as_ptr()) };
        // SAFETY: from `Arc::into_raw` in `register`; no operation runs or comes any more.
        drop(unsafe { Arc::from_raw(rs) });
    }
}

impl Drop for NetDevBox {
    fn drop(&mut self) {
        self.unregister();
        // SAFETY: ours, unregistered (or never registered): no callback runs; no handle
        // (`NetDev<'_>` borrows us) is left.
        unsafe { b::xpv_nf_free(self.p.as_ptr()) }
    }
}

/// A handle of a [`NetDevBox`], for as long as it is borrowed (copyable).
#[derive(Clone, Copy)]
pub(crate) struct NetDev<'a>(NonNull<b::net_device>, PhantomData<&'a NetDevBox>);

impl<'a> NetDev<'a> {
    /// The net_device's address, as an identity (never dereferenced).
    fn ident(&self) -> NonNull<b::net_device> {
        self.0
    }

    /// The interface name ("eth0").
    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: dev->name is a NUL-terminated array inside the live device.
        unsafe { CStr::from_char_ptr(b::xpv_nf_name(self.0.as_ptr())) }
    }

    /// `netif_running`.
    pub(crate) fn running(&self) -> bool {
        // SAFETY: live device.
        unsafe { b::xpv_nf_running(self.0.as_ptr()) != 0 }
    }

    /// Records the features the backend offers (`F_*`) and updates the active set. Needs rtnl.
    pub(crate) fn set_features(&self, _rtnl: &Rtnl, feats: u32) {
        // SAFETY: live device; rtnl held (witness).
        unsafe { b::xpv_nf_set_features(self.0.as_ptr(), feats) }
    }

    /// Sets the number of queues in use (1..=[`MAX_QUEUES`]). Needs rtnl.
    pub(crate) fn set_queues(&self, _rtnl: &Rtnl, nq: u32) -> Result {
        // SAFETY: live device; rtnl held (witness).
        match unsafe { b::xpv_nf_set_queues(self.0.as_ptr(), nq) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// The features currently enabled (`F_*`).
    pub(crate) fn active_features(&self) -> u32 {
        // SAFETY: live device.
        unsafe { b::xpv_nf_active_features(self.0.as_ptr()) }
    }

    /// Carrier on or off; nothing once [`Self::unregister`] has run (a link-watch event queued
    /// then would outlive the device: `free_netdev` does not wait for it).
    pub(crate) fn carrier(&self, on: bool) {
        // SAFETY: live device.
        unsafe { b::xpv_nf_carrier(self.0.as_ptr(), i32::from(on)) }
    }

    /// `netif_tx_disable`: stops every queue and waits for running transmits (the core calls
    /// `ndo_start_xmit` with the queue's xmit lock held, which this takes).
    pub(crate) fn tx_disable(&self) {
        // SAFETY: live device.
        unsafe { b::xpv_nf_tx_disable(self.0.as_ptr()) }
    }

    /// Stops the data path: transmit disabled ([`Self::tx_disable`]), then every NAPI context
    /// disabled (each waits for its running poll). May sleep. Until the proof is dropped or
    /// [`Stopped::start`]ed, nothing can start them again: starting takes the proof, and the
    /// only other way, [`Self::txq_wake`], needs a poll in progress.
    pub(crate) fn stop_data_path<'r>(&self, rtnl: &'r mut Rtnl) -> Stopped<'r>
    where
        'a: 'r,
    {
        self.tx_disable();
        // SAFETY: live device; process context (the caller holds rtnl, a mutex).
        unsafe { b::xpv_nf_napi_disable_all(self.0.as_ptr()) };
        Stopped {
            net: self.0,
            rtnl,
            _dev: PhantomData,
        }
    }

    /// Stops tx queue `q`.
    pub(crate) fn txq_stop(&self, q: u32) {
        // SAFETY: live device; q < the allocated queue count (callers' queues).
        unsafe { b::xpv_nf_txq_stop(self.0.as_ptr(), q) }
    }

    /// Wakes tx queue `q`, from a poll of this device (`napi`: so not while its data path is
    /// [`Stopped`]); nothing if `napi` is another device's.
    pub(crate) fn txq_wake(&self, q: u32, napi: &NapiPoll) {
        if napi.net != self.0 {
            return;
        }
        // SAFETY: as `txq_stop`.
        unsafe { b::xpv_nf_txq_wake(self.0.as_ptr(), q) }
    }

    /// Whether tx queue `q` is stopped.
    pub(crate) fn txq_stopped(&self, q: u32) -> bool {
        // SAFETY: as `txq_stop`.
        unsafe { b::xpv_nf_txq_stopped(self.0.as_ptr(), q) != 0 }
    }

    /// Takes queue `q`'s tx spinlock (bottom halves disabled) until the guard drops.
    pub(crate) fn tx_lock(&self, q: u32) -> TxLockGuard<'a> {
        // SAFETY: live device, q in range; released by the guard.
        unsafe { b::xpv_nf_tx_lock(self.0.as_ptr(), q) };
        TxLockGuard {
            dev: self.0,
            q,
            _not_send: PhantomData,
        }
    }

    /// `napi_schedule` of queue `q`; any context.
    pub(crate) fn napi_schedule(&self, q: u32) {
        // SAFETY: live device, q in range.
        unsafe { b::xpv_nf_napi_schedule(self.0.as_ptr(), q) }
    }

    /// A new rx skb for queue `q` (from its poll), `None` without memory.
    pub(crate) fn rx_alloc(&self, q: u32) -> Option<RxSkb> {
        // SAFETY: live device; called from queue q's poll.
        NonNull::new(unsafe { b::xpv_nf_rx_alloc(self.0.as_ptr(), q) }).map(RxSkb)
    }

    /// Hands a complete packet to the stack (GRO) with its checksum state and GSO info
    /// (segment size in bytes, `netif::GSO_TYPE_*`, marked `SKB_GSO_DODGY`: the backend is not
    /// trusted to have set it right, so the stack checks the headers before segmenting).
    ///
    /// # Errors
    /// `EINVAL` if the stack's checks (length, checksum offsets) refused it, or the GSO type is
    /// not one the receive path accepts; it is freed.
    pub(crate) fn rx_deliver(
        &self,
        q: u32,
        skb: RxSkb,
        csum: netif::RxChecksum,
        gso: Option<(u16, u8)>,
    ) -> Result {
        let (size, ty) = match gso {
            None => (0, 0),
            Some((mss, netif::GSO_TYPE_TCPV4)) => (
                mss,
                crate::kernel_common::skb_gso::TCPV4 | crate::kernel_common::skb_gso::DODGY,
            ),
            Some((mss, netif::GSO_TYPE_TCPV6)) => (
                mss,
                crate::kernel_common::skb_gso::TCPV6 | crate::kernel_common::skb_gso::DODGY,
            ),
            // `netif::RxAssembler` accepts only the two above; drop anything else.
            Some(_) => return Err(EINVAL),
        };
        let (ip_summed, recalc) = match csum {
            netif::RxChecksum::None => (bindings::CHECKSUM_NONE, false),
            netif::RxChecksum::Unnecessary => (bindings::CHECKSUM_UNNECESSARY, false),
            netif::RxChecksum::Partial { recalc } => (bindings::CHECKSUM_PARTIAL, recalc),
        };
        let p = skb.0.as_ptr();
        core::mem::forget(skb);
        // SAFETY: we own the skb (forgotten above, so not freed twice); called from q's poll;
        // the CHECKSUM_* value fits a u8 (0..=3).
        match unsafe {
            b::xpv_nf_rx_deliver(
                self.0.as_ptr(),
                q,
                p,
                ip_summed as u8,
                u8::from(recalc),
                size,
                ty,
            )
        } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }
}

/// A net_device's address as an identity, or for a call made while it is known to live (a
/// callback of it, a lock of it held).
type Ident = NonNull<b::net_device>;

/// Holds a tx queue's spinlock (on this thread: not `Send`), while the net_device is borrowed.
pub(crate) struct TxLockGuard<'a> {
    dev: Ident,
    q: u32,
    _not_send: PhantomData<(*mut (), &'a NetDevBox)>,
}

/// Proof of exclusive access to one queue's state for as long as it is borrowed mutably: the
/// queue's tx lock held ([`TxLockGuard`]), or the queue's NAPI poll in progress ([`NapiPoll`]).
/// Made only in this file, and implemented only here (sealed).
pub(crate) trait QueueKey: sealed::Sealed {
    /// Which state it opens ([`TxKind`], [`PollKind`]).
    type Kind;
    /// The net_device and queue it is for.
    fn key(&self) -> (Ident, u32);
}

/// Keeps [`QueueKey`] to this file's types: other files cannot name `Sealed`.
mod sealed {
    pub(crate) trait Sealed {}
    impl Sealed for super::TxLockGuard<'_> {}
    impl Sealed for super::NapiPoll {}
}

/// The kind of [`TxLockGuard`].
pub(crate) struct TxKind;
/// The kind of [`NapiPoll`].
pub(crate) struct PollKind;

impl QueueKey for TxLockGuard<'_> {
    type Kind = TxKind;
    fn key(&self) -> (Ident, u32) {
        (self.dev, self.q)
    }
}

impl QueueKey for NapiPoll {
    type Kind = PollKind;
    fn key(&self) -> (Ident, u32) {
        (self.net, self.q)
    }
}

/// State of a net_device's queue reached only with a key of kind `K` ([`QueueKey`]):
/// [`TxLocked`] with the tx lock, [`PollOwned`] from the NAPI poll.
pub(crate) struct QueueCell<T, K> {
    net: Ident,
    q: u32,
    v: UnsafeCell<T>,
    _key: PhantomData<fn(&mut K)>,
}

/// Queue `q`'s transmit state: reached only with its tx lock held ([`NetDev::tx_lock`]).
pub(crate) type TxLocked<T> = QueueCell<T, TxKind>;
/// Queue `q`'s receive state: reached only from its NAPI poll ([`NapiPoll`]).
pub(crate) type PollOwned<T> = QueueCell<T, PollKind>;

// SAFETY: the value is reached only through `get`, by the one holder of the queue's key (its tx
// lock, or its poll in progress); `net` is only compared.
unsafe impl<T: Send, K> Send for QueueCell<T, K> {}
// SAFETY: as Send.
unsafe impl<T: Send, K> Sync for QueueCell<T, K> {}

impl<T, K> QueueCell<T, K> {
    /// `v` as the state of `net`'s queue `q`.
    pub(crate) fn new(net: NetDev<'_>, q: u32, v: T) -> Self {
        Self {
            net: net.ident(),
            q,
            v: UnsafeCell::new(v),
            _key: PhantomData,
        }
    }

    /// The state, for as long as `key` is borrowed; `None` if `key` is another queue's.
    pub(crate) fn get<'a, Q: QueueKey<Kind = K>>(&'a self, key: &'a mut Q) -> Option<&'a mut T> {
        let (net, q) = key.key();
        if net != self.net || q != self.q {
            return None;
        }
        // SAFETY: one key of the queue exists at a time (its tx spinlock, or NAPI's one poll of
        // it), and `key` is borrowed mutably for the reference's life: no other reference exists.
        Some(unsafe { &mut *self.v.get() })
    }
}

/// Proof that a net_device's data path is stopped, held with rtnl
/// ([`NetDev::stop_data_path`]): no `ndo_start_xmit` or NAPI poll of it runs or can start, so
/// its [`DataPathCell`] may be replaced.
pub(crate) struct Stopped<'r> {
    net: Ident,
    rtnl: &'r mut Rtnl,
    _dev: PhantomData<&'r NetDevBox>,
}

impl Stopped<'_> {
    /// The rtnl lock held.
    pub(crate) fn rtnl(&self) -> &Rtnl {
        self.rtnl
    }

    /// Starts the data path again: NAPI of queues `0..nq` enabled and scheduled, then, if `tx`,
    /// every transmit queue started.
    pub(crate) fn start(self, nq: u32, tx: bool) {
        let p = self.net.as_ptr();
        for q in 0..nq.min(MAX_QUEUES as u32) {
            // SAFETY: live device, q in range; process context (rtnl held).
            unsafe { b::xpv_nf_napi_enable(p, q) };
            // SAFETY: as above; any context.
            unsafe { b::xpv_nf_napi_schedule(p, q) };
        }
        if tx {
            // SAFETY: live device.
            unsafe { b::xpv_nf_tx_start_all(p) };
        }
    }
}

/// A device's data path (its queues): read without a lock by `ndo_start_xmit` ([`Xmit`]) and
/// NAPI polls ([`NapiPoll`]) of its net_device, and under rtnl; replaced only with the
/// net_device's data path [`Stopped`], so never under a reader.
pub(crate) struct DataPathCell<T> {
    net: Ident,
    v: UnsafeCell<T>,
}

// SAFETY: shared reads from any thread (`T: Sync`); the one write (`replace`) excludes every
// reader (see the type), and moves values in and out (`T: Send`).
unsafe impl<T: Send + Sync> Sync for DataPathCell<T> {}
// SAFETY: as Sync.
unsafe impl<T: Send + Sync> Send for DataPathCell<T> {}

impl<T> DataPathCell<T> {
    /// `v` as the data path of `net`.
    pub(crate) fn new(net: NetDev<'_>, v: T) -> Self {
        Self {
            net: net.ident(),
            v: UnsafeCell::new(v),
        }
    }

    fn ours(&self, net: Ident) -> bool {
        self.net == net
    }

    /// Read under rtnl.
    pub(crate) fn get<'a>(&'a self, _rtnl: &'a Rtnl) -> &'a T {
        // SAFETY: `replace` needs a `Stopped`, which holds rtnl mutably: not while this borrow of
        // it lives (and no other thread holds rtnl meanwhile).
        unsafe { &*self.v.get() }
    }

    /// Read from `ndo_start_xmit` of our net_device (`None` for another's).
    pub(crate) fn in_xmit<'a>(&'a self, x: &'a Xmit) -> Option<&'a T> {
        // SAFETY: a `Stopped` (needed to replace) exists only while no transmit runs.
        self.ours(x.net).then(|| unsafe { &*self.v.get() })
    }

    /// Read from a NAPI poll of our net_device (`None` for another's).
    pub(crate) fn in_poll<'a>(&'a self, p: &'a NapiPoll) -> Option<&'a T> {
        // SAFETY: a `Stopped` (needed to replace) exists only while no poll runs.
        self.ours(p.net).then(|| unsafe { &*self.v.get() })
    }

    /// Installs `new` and returns the old value; `Err(new)` if `s` stops another net_device.
    pub(crate) fn replace(&self, s: &mut Stopped<'_>, new: T) -> Result<T, T> {
        if !self.ours(s.net) {
            return Err(new);
        }
        // SAFETY: our net_device's data path is stopped (no transmit or poll reads), and `s`
        // borrows rtnl mutably (no rtnl reader either).
        Ok(core::mem::replace(unsafe { &mut *self.v.get() }, new))
    }
}

/// An `ndo_start_xmit` call in progress on one transmit queue, made by its entry point.
pub(crate) struct Xmit {
    net: Ident,
    q: u32,
    _not_send: PhantomData<*mut ()>,
}

impl Xmit {
    /// The transmit queue.
    pub(crate) fn queue(&self) -> u32 {
        self.q
    }
}

/// A NAPI poll of one queue in progress, handed to [`NetDevOps::poll`] by its entry point and
/// ended by [`NapiPoll::complete`] (or by returning the whole budget). NAPI runs one poll of a
/// queue at a time, until it completes, so its holder is the queue's only poller.
pub(crate) struct NapiPoll {
    net: Ident,
    q: u32,
    _not_send: PhantomData<*mut ()>,
}

impl NapiPoll {
    /// The queue polled.
    pub(crate) fn queue(&self) -> u32 {
        self.q
    }

    /// `napi_complete_done`: `true` if the poll ended (the driver re-arms its events), `false`
    /// if an event came during the poll (NAPI's missed state): NAPI then polls again. Either
    /// way this poll is over.
    pub(crate) fn complete(self, work: i32) -> bool {
        // SAFETY: called from queue q's poll (this value), once (it is consumed).
        unsafe { b::xpv_nf_napi_complete(self.net.as_ptr(), self.q, work) != 0 }
    }
}

impl Drop for TxLockGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: taken in `NetDev::tx_lock`.
        unsafe { b::xpv_nf_tx_unlock(self.dev.as_ptr(), self.q) }
    }
}

/// The operations of our net_device, typed: helpers.c's `net_device_ops` and `ethtool_ops` call
/// the `xpv_nf_rs_*` entry points below, which turn their raw arguments into these calls on the
/// driver's device (`crate::Device`, the `rs` pointer given to [`NetDevBox::register`]).
pub(crate) trait NetDevOps {
    /// `ndo_open`, rtnl held.
    fn open(&self, rtnl: &mut Rtnl);
    /// `ndo_stop`, rtnl held.
    fn stop(&self, rtnl: &mut Rtnl);
    /// `ndo_start_xmit` `x` (the driver's tx lock not held): the skb is the driver's now.
    fn xmit(&self, skb: TxSkb, x: &Xmit);
    /// NAPI poll `napi` of its queue: at most `budget` packets; the work done.
    fn poll(&self, napi: NapiPoll, budget: i32) -> i32;
    /// `ndo_get_stats64`: the device's `NSTATS` counters summed over its queues into `out`.
    fn stats(&self, out: &mut [u64]);
    /// `ethtool -S`: the number of counters.
    fn stat_count(&self) -> u32;
    /// `ethtool -S`: the name of counter `i`, NUL-terminated in `out` (`ETH_GSTRING_LEN`).
    fn stat_name(i: u32, out: &mut [u8]);
    /// `ethtool -S`: the value of counter `i`.
    fn stat_value(&self, i: u32) -> u64;
}

/// The device behind helpers.c's `rs` pointer.
///
/// # Safety
/// `rs` is the device given to [`NetDevBox::register`], which holds a reference to it until
/// its operations have ended ([`NetDevBox::unregister`]), so it is alive during any of them.
unsafe fn device<'a>(rs: *mut c_void) -> &'a crate::Device {
    // SAFETY: per the contract.
    unsafe { &*(rs as *const crate::Device) }
}

// The entry points of helpers.c's operations tables (declared there). Each is called only by
// those tables, with `rs` as in [`device`] and the other arguments as the kernel passed them to
// that operation: an owned skb, `ETH_GSTRING_LEN`-byte name buffers, the stats array of
// `NSTATS` counters.

/// `ndo_open` (rtnl held).
///
/// # Safety
/// See above.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_open(rs: *mut c_void) -> i32 {
    // SAFETY: the core calls ndo_open with rtnl held.
    let mut rtnl = unsafe { Rtnl::assume_held() };
    // SAFETY: see above.
    NetDevOps::open(unsafe { device(rs) }, &mut rtnl);
    0
}

/// `ndo_stop` (rtnl held).
///
/// # Safety
/// See above.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stop(rs: *mut c_void) {
    // SAFETY: the core calls ndo_stop with rtnl held.
    let mut rtnl = unsafe { Rtnl::assume_held() };
    // SAFETY: see above.
    NetDevOps::stop(unsafe { device(rs) }, &mut rtnl);
}

/// `ndo_start_xmit`; always consumes the skb.
///
/// # Safety
/// See above; `skb` is this call's packet, ours now.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_xmit(rs: *mut c_void, skb: *mut RawSkb, q: u32) -> i32 {
    // SAFETY: the skb of this ndo_start_xmit call, ours now.
    if let Some(skb) = unsafe { TxSkb::from_raw(skb) } {
        // SAFETY: see above.
        let dev = unsafe { device(rs) };
        let x = Xmit {
            net: dev.net.get().ident(),
            q,
            _not_send: PhantomData,
        };
        NetDevOps::xmit(dev, skb, &x);
    }
    0
}

/// NAPI poll.
///
/// # Safety
/// See above.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_poll(rs: *mut c_void, q: u32, budget: i32) -> i32 {
    // SAFETY: see above.
    let dev = unsafe { device(rs) };
    let napi = NapiPoll {
        net: dev.net.get().ident(),
        q,
        _not_send: PhantomData,
    };
    NetDevOps::poll(dev, napi, budget)
}

/// `ndo_get_stats64`.
///
/// # Safety
/// See above; `out` holds `NSTATS` counters.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stats(rs: *mut c_void, out: *mut u64) {
    if out.is_null() {
        return;
    }
    // SAFETY: C passes an array of NSTATS u64.
    let out = unsafe { core::slice::from_raw_parts_mut(out, crate::NSTATS) };
    // SAFETY: see above.
    NetDevOps::stats(unsafe { device(rs) }, out);
}

/// `ethtool -S`: number of counters.
///
/// # Safety
/// See above.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_count(rs: *mut c_void) -> i32 {
    // SAFETY: see above.
    NetDevOps::stat_count(unsafe { device(rs) }) as i32
}

/// `ethtool -S`: name of counter `i`.
///
/// # Safety
/// See above; `buf` is writable for `len` bytes.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_name(_rs: *mut c_void, i: i32, buf: *mut u8, len: u32) {
    let Ok(i) = u32::try_from(i) else { return };
    if buf.is_null() || len == 0 {
        return;
    }
    // SAFETY: C passes a writable buffer of `len` bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, len as usize) };
    <crate::Device as NetDevOps>::stat_name(i, out);
}

/// `ethtool -S`: value of counter `i`.
///
/// # Safety
/// See above.
#[no_mangle]
unsafe extern "C" fn xpv_nf_rs_stat_value(rs: *mut c_void, i: i32) -> u64 {
    // SAFETY: see above.
    NetDevOps::stat_value(unsafe { device(rs) }, u32::try_from(i).unwrap_or(0))
}

/// The rtnl lock, held until dropped.
pub(crate) struct Rtnl(());

impl Rtnl {
    /// `rtnl_lock`. May sleep.
    pub(crate) fn lock() -> Self {
        // SAFETY: no preconditions; process context.
        unsafe { b::xpv_nf_rtnl_lock() };
        Self(())
    }

    /// A witness for code running in a net_device operation, which the core calls with rtnl held.
    ///
    /// # Safety
    /// rtnl must be held by the caller for the lifetime of the value; dropping it does not unlock.
    pub(crate) unsafe fn assume_held() -> core::mem::ManuallyDrop<Self> {
        core::mem::ManuallyDrop::new(Self(()))
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: locked in `lock`.
        unsafe { b::xpv_nf_rtnl_unlock() }
    }
}

/// What xmit needs to know about an skb.
pub(crate) struct SkbInfo {
    /// Bytes in the packet.
    pub(crate) len: usize,
    /// GSO: MSS and `netif::GSO_TYPE_*`; `None` if not GSO.
    pub(crate) gso: Option<(u16, u8)>,
    /// GSO of a type the backend cannot segment.
    pub(crate) gso_other: bool,
    /// `CHECKSUM_PARTIAL`: the checksum is left for the backend to fill in.
    pub(crate) csum_partial: bool,
}

/// One piece of a packet inside one 4 KiB page (`struct xpv_nf_chunk`): the page frame number
/// (our gfn), the offset in the page and the length, in bytes.
pub(crate) type Chunk = b::xpv_nf_chunk;

/// A reference to an skb handed to `ndo_start_xmit`: we own it and free it (consume or drop)
/// exactly once. [`TxSkb::get`] makes more references to the same packet.
pub(crate) struct TxSkb(NonNull<b::sk_buff>);

// SAFETY: a reference to an skb we own, which may be freed or kept on any CPU (completions run
// in NAPI on whichever CPU polls).
unsafe impl Send for TxSkb {}

impl TxSkb {
    /// Takes ownership of the skb passed to `ndo_start_xmit`.
    ///
    /// # Safety
    /// `p` must be the skb of an `ndo_start_xmit` call, owned by the driver from now on.
    pub(crate) unsafe fn from_raw(p: *mut b::sk_buff) -> Option<Self> {
        NonNull::new(p).map(Self)
    }

    /// Length, GSO and checksum state.
    pub(crate) fn info(&self) -> SkbInfo {
        let mut i = b::xpv_nf_skb_info::default();
        // SAFETY: we own the skb; `i` is writable.
        unsafe { b::xpv_nf_skb_info(self.0.as_ptr(), &mut i) };
        // The kernel's SKB_GSO_* bits to netif.h's XEN_NETIF_GSO_TYPE_* (TCP only, as Linux's
        // xennet_start_xmit; other GSO types are refused by the caller).
        let ty = if i.gso_type & crate::kernel_common::skb_gso::TCPV4 != 0 {
            Some(netif::GSO_TYPE_TCPV4)
        } else if i.gso_type & crate::kernel_common::skb_gso::TCPV6 != 0 {
            Some(netif::GSO_TYPE_TCPV6)
        } else {
            None
        };
        let is_gso = i.gso_size != 0;
        SkbInfo {
            len: i.len as usize,
            gso: ty.filter(|_| is_gso).map(|t| (i.gso_size, t)),
            gso_other: is_gso && ty.is_none(),
            csum_partial: u32::from(i.ip_summed) == bindings::CHECKSUM_PARTIAL,
        }
    }

    /// Copies `dst.len()` bytes from offset `off` of the packet (`skb_copy_bits`).
    pub(crate) fn copy_to(&self, off: usize, dst: &mut [u8]) -> Result {
        // SAFETY: we own the skb; `dst` is writable for its length.
        let r = unsafe {
            b::xpv_nf_skb_copy(
                self.0.as_ptr(),
                off as u32,
                dst.as_mut_ptr().cast(),
                dst.len() as u32,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(r))
        }
    }

    /// The packet as pieces that each lie in one page, in order, into `out`; how many.
    ///
    /// # Errors
    /// `E2BIG` if it needs more than `out.len()` pieces (or has a frag_list), `EINVAL` if the
    /// pieces do not add up to its length.
    pub(crate) fn chunks(&self, out: &mut [Chunk]) -> Result<usize> {
        // SAFETY: we own the skb; `out` is writable for `out.len()` chunks.
        let n =
            unsafe { b::xpv_nf_skb_chunks(self.0.as_ptr(), out.as_mut_ptr(), out.len() as u32) };
        if n < 0 {
            return Err(Error::from_errno(n));
        }
        Ok(n as usize)
    }

    /// Detaches the packet from its socket (`skb_orphan`: the socket's send-buffer accounting
    /// is released now, not when the packet is freed), for a packet held until the backend
    /// answers, as virtio_net does without tx NAPI: TCP small queues would otherwise throttle a
    /// stream by our completion latency. The ring bounds what is held.
    pub(crate) fn orphan(&self) {
        // SAFETY: we own a reference, so the skb is live; called before any other reference
        // is taken (xmit), as `skb_orphan` requires of the skb's owner.
        unsafe { b::xpv_nf_skb_orphan(self.0.as_ptr()) };
    }

    /// One more reference to the same packet (`skb_get`); the packet is freed with the last one.
    pub(crate) fn get(&self) -> Self {
        // SAFETY: we own a reference, so the skb is live; the new one is freed on its own.
        unsafe { b::xpv_nf_skb_get(self.0.as_ptr()) };
        Self(self.0)
    }

    /// Frees a packet that was sent.
    pub(crate) fn consume(self) {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        // SAFETY: owned, freed once (forgotten above).
        unsafe { b::xpv_nf_skb_consume(p) }
    }
}

impl Drop for TxSkb {
    /// A packet dropped without being sent.
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { b::xpv_nf_skb_drop(self.0.as_ptr()) }
    }
}

/// An rx skb being filled; dropping it frees it.
pub(crate) struct RxSkb(NonNull<b::sk_buff>);

// SAFETY: an skb we own may be handled on any CPU.
unsafe impl Send for RxSkb {}

impl RxSkb {
    /// Attaches `len` bytes at `off` of `page` to the packet: copied into the linear area while
    /// it has room (the headers, at most `XPV_NF_RX_COPY` bytes), the rest as a page fragment
    /// that takes the page over. Returns the page if every byte was copied (it is still ours,
    /// to reuse).
    ///
    /// # Errors
    /// `EINVAL` if the range is outside the page, `E2BIG` if the packet has no fragment left;
    /// the page is handed back with the error.
    pub(crate) fn attach(
        &mut self,
        page: RxPage,
        off: usize,
        len: usize,
    ) -> Result<Option<RxPage>, (Error, RxPage)> {
        if !matches!(off.checked_add(len), Some(end) if end <= PAGE_BYTES) {
            return Err((EINVAL, page));
        }
        // SAFETY: owned skb, our page (its grant is ended: no other domain can write it any
        // more, so C reads each byte once, after the backend is done); the range is inside it.
        let r = unsafe {
            b::xpv_nf_rx_attach(self.0.as_ptr(), page.0.as_ptr(), off as u32, len as u32)
        };
        match r {
            0 => Ok(Some(page)),
            1 => {
                // The skb holds our reference now.
                core::mem::forget(page);
                Ok(None)
            }
            e => Err((Error::from_errno(e), page)),
        }
    }
}

/// Bytes per page (x86's and Xen's 4 KiB).
const PAGE_BYTES: usize = crate::granted_pages::PAGE_BYTES;

/// A page of ours for an rx ring slot that no other domain can access (never granted, or its
/// grant ended): zeroed when new (XSA-403), afterwards holding only what the backend wrote into
/// it. Dropping it frees it.
pub(crate) struct RxPage(NonNull<b::page>, u64);

// SAFETY: a page we own outright may be handled on any CPU.
unsafe impl Send for RxPage {}

impl RxPage {
    /// A zeroed page; `may_sleep` in process context, else an atomic allocation (NAPI poll).
    /// `None` without memory.
    pub(crate) fn alloc(may_sleep: bool) -> Option<Self> {
        let mut gfn = 0u64;
        // SAFETY: `gfn` is a valid, writable u64.
        let p = unsafe { b::xpv_nf_rx_page_alloc(u32::from(may_sleep), &mut gfn) };
        NonNull::new(p).map(|p| Self(p, gfn))
    }

    /// Grants the backend `domid` write access to the page (`GTF_permit_access`), for an rx
    /// request; leaks found when the result is dropped are counted in `leaks`.
    ///
    /// # Errors
    /// The grant's errno (e.g. `ENOSPC` without free grant references); the page is freed.
    pub(crate) fn grant(self, domid: u16, leaks: &'static LeakCount) -> Result<RxBuf, Errno> {
        let grant = Grant::new(domid, self.1, false)?;
        Ok(RxBuf {
            page: ManuallyDrop::new(self),
            grant: Some(grant),
            leaks,
        })
    }
}

impl Drop for RxPage {
    fn drop(&mut self) {
        // SAFETY: our page (allocated by `xpv_nf_rx_page_alloc`, no grant of it active), freed
        // once.
        unsafe { b::xpv_nf_rx_page_free(self.0.as_ptr()) }
    }
}

/// An rx ring slot's page while it is granted to the backend (posted in an rx request). Ending
/// the grant ([`RxBuf::end`]) gives the page back; dropping it revokes the grant and frees the
/// page, or hands a page the backend still maps to deferred reclaim (counted as leaked,
/// XSA-396).
pub(crate) struct RxBuf {
    page: ManuallyDrop<RxPage>,
    /// Always `Some` until `end`/`drop` take it.
    grant: Option<Grant>,
    leaks: &'static LeakCount,
}

impl RxBuf {
    /// The grant reference to put in the rx request (`netif_rx_request_t.gref`).
    pub(crate) fn gref(&self) -> u32 {
        self.grant.as_ref().map_or(0, Grant::gref)
    }

    /// Revokes the grant: the page is ours alone again. `None` if the backend still maps it:
    /// the page then goes to deferred reclaim and counts as leaked (it is never reused).
    pub(crate) fn end(mut self) -> Option<RxPage> {
        let g = self.grant.take()?;
        match g.end() {
            Ok(()) => {
                // SAFETY: taken once; `self` is forgotten below, so its `Drop` does not see
                // the page again.
                let page = unsafe { ManuallyDrop::take(&mut self.page) };
                core::mem::forget(self);
                Some(page)
            }
            Err((g, _)) => {
                self.grant = Some(g);
                None
            }
        }
    }
}

impl Drop for RxBuf {
    fn drop(&mut self) {
        if let Some(g) = self.grant.take() {
            match g.end() {
                Ok(()) => {}
                Err((g, _)) => {
                    self.leaks.add(1);
                    let gref = g.gref();
                    // SAFETY: the page is ours, of order 0, its one grant `gref` still active;
                    // xen_platform frees it (`free_pages` of its address, as `__free_page`)
                    // once the grant is revoked. On error it stays allocated: leaked.
                    let _ = unsafe {
                        crate::abi::xpv_pages_defer(
                            b::xpv_nf_rx_page_va(self.page.0.as_ptr()),
                            0,
                            &gref,
                            1,
                        )
                    };
                    return;
                }
            }
        }
        // SAFETY: no grant of the page is active (revoked above, or by `end`, which forgets
        // `self` and so never gets here); dropped once.
        unsafe { ManuallyDrop::drop(&mut self.page) }
    }
}

impl Drop for RxSkb {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { b::xpv_nf_skb_drop(self.0.as_ptr()) }
    }
}
