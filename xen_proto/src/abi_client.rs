// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers over the functions declared in `abi.rs`, for the modules that *call* them.
//!
//! Kept apart from `abi.rs` because a kernel module that includes a wrapper references the wrapped
//! symbol, and the provider of a symbol must not reference symbols of modules loaded after it
//! (`xen_platform` includes `abi.rs` only). Includers must also include `abi.rs` as a sibling.

use super::abi::{
    xpv_evtchn_alloc_unbound, xpv_evtchn_bind, xpv_evtchn_bind_interdomain, xpv_evtchn_close,
    xpv_evtchn_eoi, xpv_evtchn_epoch, xpv_evtchn_notify, xpv_evtchn_spread, xpv_evtchn_unbind,
    xpv_gnttab_end_access, xpv_gnttab_grant_access, xpv_hvm_get_param, xpv_memory_reservation,
    xpv_platform_get_info, xpv_platform_suspend, xpv_work_free, xpv_work_new, xpv_work_queue,
    Errno, EvtchnHandler, PlatformInfo, XpvWork, SUSPEND_RESUMED, XPV_ABI_VERSION,
};
use core::ffi::c_void;

/// Safe wrapper of [`xpv_platform_get_info`]: the platform's findings, or a negative errno
/// (`-ENODEV` when not on Xen).
pub fn platform_info() -> Result<PlatformInfo, Errno> {
    let mut info = PlatformInfo {
        abi_version: XPV_ABI_VERSION,
        ..PlatformInfo::default()
    };
    // SAFETY: `info` is a valid, writable `PlatformInfo`; the symbol is provided by xen_platform,
    // which the calling module depends on.
    Errno::check(unsafe { xpv_platform_get_info(&mut info) })?;
    Ok(info)
}

/// Suspends the domain (`xpv_platform_suspend`: the caller quiesced every user of event
/// channels and grants first): `Ok(true)` when it resumed in a new domain (restore, migration),
/// `Ok(false)` when the suspend was cancelled (checkpoint: the same domain goes on), or the
/// errno when nothing was done. Process context.
pub fn platform_suspend() -> Result<bool, Errno> {
    // SAFETY: no arguments; provided by xen_platform.
    match unsafe { xpv_platform_suspend() } {
        SUSPEND_RESUMED => Ok(true),
        r if r > 0 => Ok(false),
        r => Err(Errno::from_ret(r)),
    }
}

/// Reads HVM parameter `index` (`hvm::param::*`) of this domain, or a negative errno.
pub fn hvm_get_param(index: u32) -> Result<u64, Errno> {
    let mut v = 0u64;
    // SAFETY: `v` is a valid, writable u64; the symbol comes from xen_platform.
    Errno::check(unsafe { xpv_hvm_get_param(index, &mut v) })?;
    Ok(v)
}

/// `XENMEM_decrease_reservation` or `XENMEM_populate_physmap` (`cmd`, `hvm::XENMEM_*`) of the
/// guest frames `gfns` (at most `hvm::RESERVATION_BATCH`): how many Xen processed, in order from
/// the first, or a negative errno (see `xpv_memory_reservation`). Process context.
pub fn memory_reservation(cmd: u32, gfns: &mut [u64]) -> Result<usize, Errno> {
    let n = u32::try_from(gfns.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `gfns` is `n` exclusive u64s for the duration of the call.
    match unsafe { xpv_memory_reservation(cmd, gfns.as_mut_ptr(), n) } {
        e if e < 0 => Err(Errno::from_ret(e)),
        done => Ok((done as usize).min(gfns.len())),
    }
}

/// A local event channel port; [`Port::close`] or dropping an [`EvtchnBinding`] ends its use.
/// Plain value: closing is explicit because some ports (xenstore's) are not ours to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub u32);

impl Port {
    /// `EVTCHNOP_alloc_unbound` for `remote_dom` (the backend's domain id).
    pub fn alloc_unbound(remote_dom: u16) -> Result<Self, Errno> {
        let mut p = 0u32;
        // SAFETY: `p` is a valid, writable u32.
        Errno::check(unsafe { xpv_evtchn_alloc_unbound(remote_dom, &mut p) })?;
        Ok(Self(p))
    }

    /// `EVTCHNOP_bind_interdomain` to `remote_port` of `remote_dom`.
    pub fn bind_interdomain(remote_dom: u16, remote_port: u32) -> Result<Self, Errno> {
        let mut p = 0u32;
        // SAFETY: `p` is a valid, writable u32.
        Errno::check(unsafe { xpv_evtchn_bind_interdomain(remote_dom, remote_port, &mut p) })?;
        Ok(Self(p))
    }

    /// Notifies the other end (`EVTCHNOP_send`). Any context.
    pub fn notify(self) -> Result<(), Errno> {
        // SAFETY: plain integer argument.
        Errno::check(unsafe { xpv_evtchn_notify(self.0) })?;
        Ok(())
    }

    /// Late EOI after a handler returned `evtchn_ret::LATE`. Any context.
    pub fn eoi(self, spurious: bool) -> Result<(), Errno> {
        // SAFETY: plain integer arguments.
        Errno::check(unsafe { xpv_evtchn_eoi(self.0, u32::from(spurious)) })?;
        Ok(())
    }

    /// Moves the port's events to the `index`-th online CPU (see `xpv_evtchn_spread`); the CPU
    /// chosen, or `None` when they stay where they are (callback mode, or an error, which is
    /// harmless: the port keeps working on vCPU 0). Process context.
    pub fn spread(self, index: u32) -> Option<u32> {
        // SAFETY: plain integer arguments.
        let r = unsafe { xpv_evtchn_spread(self.0, index) };
        u32::try_from(r).ok()
    }

    /// `EVTCHNOP_close` (removes a handler first). May sleep.
    pub fn close(self) -> Result<(), Errno> {
        // SAFETY: plain integer argument.
        Errno::check(unsafe { xpv_evtchn_close(self.0) })?;
        Ok(())
    }
}

/// The current event channel epoch (`xpv_evtchn_epoch`): it moves on when the domain resumes
/// as a new domain, in which every port of the old one is gone.
pub fn evtchn_epoch() -> u32 {
    // SAFETY: no arguments.
    unsafe { xpv_evtchn_epoch() }
}

/// A port we allocated, closed when dropped, unless it belongs to an earlier epoch (the domain
/// was restored or migrated since: the port is gone, and its number may now be someone else's).
#[derive(Debug)]
pub struct OwnedPort {
    port: Port,
    epoch: u32,
}

impl OwnedPort {
    /// Takes ownership of `port`, allocated in the current epoch.
    pub fn new(port: Port) -> Self {
        Self {
            port,
            epoch: evtchn_epoch(),
        }
    }

    /// The port.
    pub fn port(&self) -> Port {
        self.port
    }

    /// Whether the port still exists (no resume in a new domain since it was allocated).
    pub fn is_current(&self) -> bool {
        self.epoch == evtchn_epoch()
    }
}

impl Drop for OwnedPort {
    fn drop(&mut self) {
        if self.is_current() {
            let _ = self.port.close();
        }
    }
}

/// A handler installed on a port; dropping it removes the handler (waiting for a running one to
/// finish) but does not close the port. A binding of an earlier epoch is not unbound: the
/// platform forgot every handler when the domain resumed as a new one.
#[derive(Debug)]
pub struct EvtchnBinding {
    port: Port,
    epoch: u32,
}

impl EvtchnBinding {
    /// Installs `handler(port, data)` on `port` and unmasks it.
    ///
    /// # Safety
    /// `data` must stay valid for `handler` until the binding is dropped, and `handler` must be
    /// safe to call from hard interrupt context with it.
    pub unsafe fn new(
        port: Port,
        handler: EvtchnHandler,
        data: *mut c_void,
    ) -> Result<Self, Errno> {
        let epoch = evtchn_epoch();
        // SAFETY: the caller guarantees `data`'s lifetime and the handler's context rules.
        Errno::check(unsafe { xpv_evtchn_bind(port.0, handler, data) })?;
        Ok(Self { port, epoch })
    }

    /// The bound port.
    pub fn port(&self) -> Port {
        self.port
    }
}

impl Drop for EvtchnBinding {
    fn drop(&mut self) {
        if self.epoch != evtchn_epoch() {
            return;
        }
        // SAFETY: plain integer argument; the handler was installed by `new`.
        unsafe { xpv_evtchn_unbind(self.port.0) };
    }
}

/// An active grant of one of our frames to another domain. Revoking is explicit
/// ([`Grant::end`]): if the other domain still maps the frame the grant is handed back and the
/// frame must not be freed or reused (XSA-396). Dropping a `Grant` without ending it leaks the
/// reference, never the safety.
#[derive(Debug)]
#[must_use = "a grant must be ended with Grant::end before its page is reused"]
pub struct Grant {
    gref: u32,
}

impl Grant {
    /// Grants `domid` access to our guest frame `gfn` (read-only if `readonly`).
    pub fn new(domid: u16, gfn: u64, readonly: bool) -> Result<Self, Errno> {
        let mut gref = 0u32;
        // SAFETY: `gref` is a valid, writable u32.
        Errno::check(unsafe {
            xpv_gnttab_grant_access(domid, gfn, u32::from(readonly), &mut gref)
        })?;
        Ok(Self { gref })
    }

    /// The grant reference to hand to the other domain (e.g. through xenstore or a ring).
    pub fn gref(&self) -> u32 {
        self.gref
    }

    /// Revokes the grant. `Err((self, Errno::EBUSY))` while the other domain still maps the
    /// frame: keep the page, retry later or leak it.
    pub fn end(self) -> Result<(), (Self, Errno)> {
        // SAFETY: plain integer argument; `self.gref` is ours.
        match unsafe { xpv_gnttab_end_access(self.gref) } {
            0 => Ok(()),
            e => Err((self, Errno::from_ret(e))),
        }
    }
}

/// A work item on the system workqueue calling `f(data)` in process context, for work that an
/// interrupt handler finds and cannot do itself (xenstore writes sleep). Dropping it cancels it
/// and waits for a running call (`cancel_work_sync`) before freeing it.
#[derive(Debug)]
pub struct Work(*mut XpvWork);

// SAFETY: a kernel work item, queued and cancelled from any thread.
unsafe impl Send for Work {}
// SAFETY: as Send; `queue` and `cancel` may run concurrently.
unsafe impl Sync for Work {}

impl Work {
    /// A work item that calls `f(data)`; `Err(Errno::ENOMEM)` without memory. May sleep.
    ///
    /// # Safety
    /// `data` must stay valid for `f` until the item is dropped (which cancels it and waits for a
    /// running call).
    pub unsafe fn new(
        f: unsafe extern "C" fn(*mut c_void),
        data: *mut c_void,
    ) -> Result<Self, Errno> {
        // SAFETY: plain allocation; `f` and `data` per the caller's contract.
        let p = unsafe { xpv_work_new(Some(f), data) };
        if p.is_null() {
            return Err(Errno::ENOMEM);
        }
        Ok(Self(p))
    }

    /// Queues it (a no-op if already queued). Any context.
    pub fn queue(&self) {
        // SAFETY: from `xpv_work_new`, freed only by drop.
        unsafe { xpv_work_queue(self.0) };
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        // SAFETY: from `xpv_work_new`; cancelled and waited for, then freed once.
        unsafe { xpv_work_free(self.0) };
    }
}
