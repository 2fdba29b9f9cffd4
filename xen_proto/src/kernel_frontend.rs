// SPDX-License-Identifier: GPL-2.0
//! Kernel-only code shared by the frontends (xen_blkfront, xen_netfront): the typed frontend
//! driver ([`Frontend`], its device table and the C adapters xenbus calls) and the module
//! parameters from the kernel command line. Not part of the host crate: it names the `kernel`
//! crate. A frontend's crate root includes it, with its sibling
//! `unplug` (the command-line parser):
//!
//! ```ignore
//! #[path = "../xen_proto/src/kernel_frontend.rs"]
//! mod kernel_frontend;
//! ```

use super::abi_client::{EvtchnBinding, Port, Work};
use super::abi_xenbus::{self, XenbusDevHandle, XenbusFrontendDriver};
use super::abi_xenbus_client::XenbusDevice;
use super::grant::LeakCount;
use super::granted_pages::{GrantedPages, HoldsPages};
use super::xenbus_state::XenbusState;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Applies `<module>.<param>=<value>` options of the kernel command line, as `modprobe` would
/// pass them (busybox `insmod` in an initramfs does not). `names` are the full option names
/// (`b"xen_blkfront.max_queues"`); `read_cmdline` fills a buffer with `/proc/cmdline` and returns
/// its length in bytes; `set(i, v)` sets the parameter `names[i]` to `v`. The last occurrence
/// of an option wins, as for built-in parameters. A value that is not a number (or `y`/`n`) is
/// reported with `pr_err` and the parameter keeps its value; a command line that cannot be
/// read leaves every parameter as it is.
pub(crate) fn params_from_cmdline(
    names: &[&[u8]],
    read_cmdline: impl FnOnce(&mut [u8]) -> Result<usize>,
    mut set: impl FnMut(usize, u32),
) {
    let Ok(mut buf) = KVec::from_elem(0u8, 4096, GFP_KERNEL) else {
        return;
    };
    let Ok(n) = read_cmdline(&mut buf) else {
        return;
    };
    let line = &buf[..n.min(buf.len())];
    for (which, name) in names.iter().enumerate() {
        let Some(Some(v)) = super::unplug::cmdline_values(line, name).last() else {
            continue;
        };
        let name = core::str::from_utf8(name).unwrap_or("?");
        match super::unplug::module_param_value(v) {
            Some(x) => {
                set(which, x);
                pr_info!("{}={} (kernel command line)\n", name, x);
            }
            None => pr_err!("ignoring {}: bad value on the kernel command line\n", name),
        }
    }
}

/// Most devices one frontend driver binds at a time (`vbd`s or `vif`s); a further probe fails
/// with `-ENOSPC`.
pub(crate) const MAX_DEVICES: usize = 64;

/// A xenbus frontend driver, typed (as the kernel's `#[vtable]` driver traits): the implementing
/// type is one device's state, held by [`Devices`] from a successful [`Frontend::probe`] until
/// [`Frontend::remove`] has returned, when its reference is dropped. The state is reference
/// counted (`Arc`) so that what the device makes (ring handlers, disks) can hold it; `remove`
/// drops those, so the state is freed with the table's reference. xenbus calls the three of
/// one device one at a time (`include/xen/xenbus.h` `struct xenbus_driver`'s probe, otherend_changed,
/// remove); the C ABI and its `unsafe` are here, in [`driver`]'s adapters.
pub(crate) trait Frontend: Sized + Send + Sync + 'static {
    /// The table of this driver's bound devices (a `static` of the driver:
    /// `static DEVICES: Devices<Blkfront> = Devices::new();`).
    fn devices() -> &'static Devices<Self>;

    /// A new device (`dev` valid until `remove` has returned): its state, or the errno with
    /// which xenbus declines it (`ENODEV`: not ours to bind). `bound` shows the devices bound
    /// already and gives the new one's leak counter and violation reporter.
    fn probe(dev: XenbusDevice, bound: Bound<'_, Self>) -> Result<Arc<Self>>;

    /// The backend's `state` node changed (Unknown if it could not be read), and once right after
    /// a successful probe with its current value.
    fn otherend_changed(this: &Arc<Self>, state: XenbusState);

    /// The device goes (hot-unplug, unbind or unload): release what needs the device's xenstore
    /// nodes or a wait; the state is dropped when this returns.
    fn remove(&self);

    /// The domain is about to be saved, checkpointed or migrated (`abi_xenbus::FrontendSuspendFn`):
    /// stop putting work on the rings, keeping requests in flight for [`Frontend::resume`].
    /// An error refuses the suspend.
    fn suspend(this: &Arc<Self>) -> Result;

    /// After [`Frontend::suspend`] (`abi_xenbus::FrontendResumeFn`): `cancelled`, the same
    /// domain and backend go on; else a new domain, a new backend from InitWait, every port and
    /// grant of the old domain gone: drop them and reconnect through `otherend_changed`.
    fn resume(this: &Arc<Self>, cancelled: bool);

    /// Process context, after a [`Reporter::queue`] from any context (an interrupt handler that
    /// found a protocol violation): report it to the toolstack (xenstore writes sleep). Not
    /// called any more once [`Frontend::remove`] has returned.
    fn report_violation(&self);
}

/// One bound device: its xenbus handle and its state, and what outlives the state (static).
struct DeviceSlot<T> {
    h: AtomicPtr<XenbusDevHandle>,
    d: AtomicPtr<T>,
    /// The device's leaked pages (reset when a device takes the slot).
    leaks: LeakCount,
    /// The device's report work item ([`Reporter`]): set by `probe_c` before `live`, taken by
    /// `remove_c` after `live` is cleared and `users` has drained.
    work: UnsafeCell<Option<Work>>,
    /// `work` may be queued.
    live: AtomicBool,
    /// [`Reporter::queue`] calls in progress.
    users: AtomicU32,
}

/// The devices a [`Frontend`] has bound, by xenbus handle ([`MAX_DEVICES`] at most).
pub(crate) struct Devices<T> {
    slots: [DeviceSlot<T>; MAX_DEVICES],
}

impl<T: Frontend> Devices<T> {
    /// An empty table, for a `static`.
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const {
                DeviceSlot {
                    h: AtomicPtr::new(core::ptr::null_mut()),
                    d: AtomicPtr::new(core::ptr::null_mut()),
                    leaks: LeakCount::new(),
                    work: UnsafeCell::new(None),
                    live: AtomicBool::new(false),
                    users: AtomicU32::new(0),
                }
            }; MAX_DEVICES],
        }
    }

    fn slot(&self, h: *mut XenbusDevHandle) -> Option<&DeviceSlot<T>> {
        self.slots.iter().find(|s| s.h.load(Ordering::Acquire) == h)
    }
}

// SAFETY: the table hands out `&T` only (T: Sync); its slots are atomics, an atomic counter and
// `work`, which is written only while no reference to it exists (see `DeviceSlot::work`) and
// otherwise used through `Work`'s `&self` methods (`Work` is `Sync`).
unsafe impl<T: Frontend> Sync for Devices<T> {}

/// A device's way to have [`Frontend::report_violation`] called in process context, from any
/// context. Copied freely: it names the device's place in the static [`Devices`] table, so a
/// copy kept past the device's removal queues nothing (or the next device's report, which finds
/// no violation of its own and does nothing).
pub(crate) struct Reporter<T: 'static>(&'static DeviceSlot<T>);

impl<T> Clone for Reporter<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Reporter<T> {}

// SAFETY: a reference to a static slot whose shared use (`Reporter::queue`) is atomics and
// `Work::queue` (`Work` is `Sync`); see `Devices`' `Sync`.
unsafe impl<T: Frontend> Send for Reporter<T> {}
// SAFETY: as Send.
unsafe impl<T: Frontend> Sync for Reporter<T> {}

impl<T: Frontend> Reporter<T> {
    /// Queues the device's report (a no-op if it is already queued or the device is gone). Any
    /// context; never sleeps.
    pub(crate) fn queue(&self) {
        let s = self.0;
        // SeqCst pairs with `remove_c`: it clears `live`, then waits for `users` to drain;
        // either it sees our count or we see `live` cleared.
        s.users.fetch_add(1, Ordering::SeqCst);
        if s.live.load(Ordering::SeqCst) {
            // SAFETY: `live` and our count keep `remove_c` from taking the work meanwhile.
            if let Some(w) = unsafe { &*s.work.get() } {
                w.queue();
            }
        }
        s.users.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The devices a driver has bound, as its [`Frontend::probe`] sees them, and the new device's
/// place among them. xenbus probes and removes devices one at a time, under its device list lock
/// (`xenbus/bus.rs`, `Bus::sync` and `shutdown`, and driver registration), so none of them is
/// freed while a probe looks.
pub(crate) struct Bound<'a, T: 'static> {
    devices: &'a Devices<T>,
    slot: &'static DeviceSlot<T>,
}

impl<T: Frontend> Bound<'_, T> {
    /// Calls `f` with each bound device and returns the first `Some` it gives (a probe checking
    /// its new device against the others: blkfront's minors).
    // Not every frontend looks (xen_netfront does not).
    #[allow(dead_code)]
    pub(crate) fn find_map<R>(&self, mut f: impl FnMut(&T) -> Option<R>) -> Option<R> {
        self.devices.slots.iter().find_map(|s| {
            let p = s.d.load(Ordering::Acquire);
            // SAFETY: a published state is freed only by `remove_c`, after unpublishing it, and
            // no `remove_c` runs while a probe does (see the type).
            unsafe { p.as_ref() }.and_then(&mut f)
        })
    }

    /// The new device's leaked-page counter, for the pages it grants (`GrantedPages::new`),
    /// zero at probe; it outlives the device (static).
    pub(crate) fn leaks(&self) -> &'static LeakCount {
        &self.slot.leaks
    }

    /// The new device's [`Reporter`].
    pub(crate) fn reporter(&self) -> Reporter<T> {
        Reporter(self.slot)
    }
}

/// The driver descriptor of frontend `T` for devices of type `devicetype` (`vbd`, `vif`) under
/// driver name `name`, for a `static` registered with
/// [`FrontendRegistration`](super::abi_xenbus_client::FrontendRegistration).
pub(crate) const fn driver<T: Frontend>(devicetype: &str, name: &str) -> XenbusFrontendDriver {
    abi_xenbus::frontend_driver(
        devicetype,
        name,
        probe_c::<T>,
        Some(remove_c::<T>),
        Some(otherend_changed_c::<T>),
        Some(suspend_c::<T>),
        Some(resume_c::<T>),
    )
}

/// The device's state, borrowed from the table's reference (`None` if not published).
///
/// # Safety
/// Called from one of xenbus's callbacks of the device `h`, which xenbus serialises with
/// `remove_c` (the only one that drops the table's reference).
unsafe fn borrow<T: Frontend>(h: *mut XenbusDevHandle) -> Option<ManuallyDrop<Arc<T>>> {
    let slot = T::devices().slot(h)?;
    let p = slot.d.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: from `Arc::into_raw` in `probe_c`, alive per the contract; `ManuallyDrop`: we
    // borrow the table's reference, we do not take it.
    Some(ManuallyDrop::new(unsafe { Arc::from_raw(p) }))
}

/// # Safety
/// Called by xenbus with a live device handle, serialised with probe and remove of the device.
unsafe extern "C" fn suspend_c<T: Frontend>(h: *mut XenbusDevHandle, _ctx: *mut c_void) -> i32 {
    // SAFETY: the contract of `borrow` is ours.
    match unsafe { borrow::<T>(h) } {
        Some(d) => match T::suspend(&d) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        None => 0,
    }
}

/// # Safety
/// As `suspend_c`.
unsafe extern "C" fn resume_c<T: Frontend>(
    h: *mut XenbusDevHandle,
    cancelled: u32,
    _ctx: *mut c_void,
) {
    // SAFETY: the contract of `borrow` is ours.
    if let Some(d) = unsafe { borrow::<T>(h) } {
        T::resume(&d, cancelled != 0);
    }
}

/// # Safety
/// Called by xenbus with a live device handle, valid until our `remove` returns.
unsafe extern "C" fn probe_c<T: Frontend>(h: *mut XenbusDevHandle, _ctx: *mut c_void) -> i32 {
    let devices = T::devices();
    let Some(slot) = devices.slots.iter().find(|s| {
        s.h.compare_exchange(
            core::ptr::null_mut(),
            h,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
    }) else {
        return ENOSPC.to_errno();
    };
    slot.leaks.reset();
    let data = core::ptr::from_ref::<DeviceSlot<T>>(slot)
        .cast_mut()
        .cast::<c_void>();
    // SAFETY: `data` is a static slot; `report_c` reaches the state only while it is published,
    // and `remove_c` cancels the work (waiting for a running call) before freeing the state.
    let work = match unsafe { Work::new(report_c::<T>, data) } {
        Ok(w) => w,
        Err(e) => {
            slot.h.store(core::ptr::null_mut(), Ordering::Release);
            return e.to_neg();
        }
    };
    // SAFETY: not live: no `Reporter::queue` looks at `work`; xenbus serialises this device's
    // callbacks, so no `remove_c` runs either.
    unsafe { *slot.work.get() = Some(work) };
    slot.live.store(true, Ordering::SeqCst);
    // SAFETY: `h` is live until `remove_c` returns, which drops the state (and so `dev`) first.
    let dev = unsafe { XenbusDevice::from_raw(h) };
    let bound = Bound { devices, slot };
    match T::probe(dev, bound) {
        Ok(d) => {
            slot.d.store(Arc::into_raw(d).cast_mut(), Ordering::Release);
            0
        }
        Err(e) => {
            retire_work(slot);
            slot.h.store(core::ptr::null_mut(), Ordering::Release);
            e.to_errno()
        }
    }
}

/// Stops the slot's report work: no new queueing (`live` cleared, `users` drained), then the
/// work cancelled, waited for and freed. May sleep.
fn retire_work<T>(slot: &DeviceSlot<T>) {
    slot.live.store(false, Ordering::SeqCst);
    while slot.users.load(Ordering::SeqCst) != 0 {
        core::hint::spin_loop();
    }
    // SAFETY: not live and no `Reporter::queue` in progress: nothing else references `work`.
    drop(unsafe { (*slot.work.get()).take() });
}

/// The report work's function (process context).
///
/// # Safety
/// `data` is a `DeviceSlot<T>` of `T::devices()` (static), from `probe_c`.
unsafe extern "C" fn report_c<T: Frontend>(data: *mut c_void) {
    // SAFETY: per the contract, a static slot.
    let slot = unsafe { &*(data as *const DeviceSlot<T>) };
    // SAFETY: published by `probe_c`; `remove_c` cancels this work (waiting for us) before it
    // frees the state.
    if let Some(d) = unsafe { slot.d.load(Ordering::Acquire).as_ref() } {
        d.report_violation();
    }
}

/// # Safety
/// Called by xenbus with a live device handle, serialised with probe and remove of the device.
unsafe extern "C" fn otherend_changed_c<T: Frontend>(
    h: *mut XenbusDevHandle,
    state: u32,
    _ctx: *mut c_void,
) {
    // SAFETY: xenbus does not run `remove_c` concurrently with this device's other callbacks.
    let Some(d) = (unsafe { borrow::<T>(h) }) else {
        return;
    };
    T::otherend_changed(
        &d,
        XenbusState::from_u32(state).unwrap_or(XenbusState::Unknown),
    );
}

/// # Safety
/// Called by xenbus with a live device handle, after which it is invalid.
unsafe extern "C" fn remove_c<T: Frontend>(h: *mut XenbusDevHandle, _ctx: *mut c_void) {
    let Some(slot) = T::devices().slot(h) else {
        return;
    };
    let p = slot.d.load(Ordering::Acquire);
    // SAFETY: from `Arc::into_raw` in `probe_c`, alive until dropped below (xenbus runs no other
    // callback of this device meanwhile).
    if let Some(d) = unsafe { p.as_ref() } {
        d.remove();
    }
    retire_work(slot);
    slot.d.store(core::ptr::null_mut(), Ordering::Release);
    slot.h.store(core::ptr::null_mut(), Ordering::Release);
    if !p.is_null() {
        // SAFETY: from `Arc::into_raw` in `probe_c`; unpublished, no callback can reach it: the
        // table's reference, dropped once.
        drop(unsafe { Arc::from_raw(p) });
    }
}

// SAFETY: the `Arc` keeps the pages allocated (their memory never moves) until its last
// reference drops; it gives out `&GrantedPages` only.
unsafe impl<const N: usize> HoldsPages<N> for Arc<GrantedPages<N>> {
    fn granted(&self) -> &GrantedPages<N> {
        self
    }
}

/// What the events of a port are for (a ring, a queue): [`EvtchnTarget::event`] runs in hard
/// interrupt context with the port masked, so it must not sleep (spinlocks with interrupts off,
/// atomics, NAPI scheduling).
pub(crate) trait EvtchnTarget: Send + Sync + 'static {
    /// An event on `port`; returns an `abi::evtchn_ret` value (EOI now, later, or spurious).
    fn event(&self, port: u32) -> u32;
}

/// A handler installed on a port for `T` (`abi_client::EvtchnBinding`), holding a reference
/// to its target. Dropping it removes the handler, waiting for a running call, and then drops
/// the reference; the port stays open.
pub(crate) struct Binding<T: EvtchnTarget> {
    // Field order is drop order: the handler is gone before the target can be.
    _binding: EvtchnBinding,
    _target: Arc<T>,
}

impl<T: EvtchnTarget> Binding<T> {
    /// Installs `target`'s handler on `port` and unmasks it.
    ///
    /// # Errors
    /// The errno of `xpv_evtchn_bind` (`EINVAL` for a bad port, `EBUSY` if it has a handler).
    pub(crate) fn new(port: Port, target: Arc<T>) -> Result<Self> {
        let data = core::ptr::from_ref::<T>(&*target)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `data` is the target, which `target` keeps alive until after the binding is
        // dropped (field order); `event_c::<T>` only calls `T::event` with it, which the trait
        // requires to be safe in hard interrupt context.
        let binding = unsafe { EvtchnBinding::new(port, event_c::<T>, data) }?;
        Ok(Self {
            _binding: binding,
            _target: target,
        })
    }
}

/// The handler [`Binding`] installs.
///
/// # Safety
/// `data` is the `T` of a live [`Binding`] (see `Binding::new`).
unsafe extern "C" fn event_c<T: EvtchnTarget>(port: u32, data: *mut c_void) -> u32 {
    // SAFETY: per the contract.
    T::event(unsafe { &*(data as *const T) }, port)
}
