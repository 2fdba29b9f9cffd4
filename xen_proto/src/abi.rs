// SPDX-License-Identifier: GPL-2.0
//! The C-ABI surface between our kernel modules, declared once and compiled into both sides.
//!
//! Chain: `xen_platform` → `xenbus` → `xen_blkfront` / `xen_netfront`. A provider defines each
//! function with `#[no_mangle] pub unsafe extern "C" fn` and checks it against the `*Fn` type alias
//! here (`const _: abi::XFn = x;`), its C file exports it with `EXPORT_SYMBOL_GPL`, and consumers call
//! the declaration in the `extern "C"` block below through a safe wrapper. Structs are `#[repr(C)]`
//! with fixed-width fields and start with an ABI version, checked by the callee: a module built from
//! another revision fails cleanly with `-EINVAL` instead of misreading memory.
//!
//! Only plain data and function pointers cross the boundary; errors are negative errnos.

/// Version of every struct and function in this file; bump on any incompatible change.
pub const XPV_ABI_VERSION: u32 = 3;

/// `-ENODEV`: returned when the platform did not find Xen.
pub const ENODEV: i32 = 19;
/// `-EINVAL`: bad argument, e.g. an ABI version mismatch.
pub const EINVAL: i32 = 22;
/// `-EBUSY`: resource already in use (e.g. a driver registered twice).
pub const EBUSY: i32 = 16;
/// `-ENOSPC`: a fixed-size table is full.
pub const ENOSPC: i32 = 28;
/// `-ENOENT`: no such object (e.g. no handler bound to a port).
pub const ENOENT: i32 = 2;
/// `-EAGAIN`: try again later (e.g. the platform device is not bound yet).
pub const EAGAIN: i32 = 11;
/// `-ENOMEM`: out of memory.
pub const ENOMEM: i32 = 12;
/// `-EOPNOTSUPP`: not in this mode (e.g. moving a port between vCPUs without per-vCPU vectors).
pub const EOPNOTSUPP: i32 = 95;

/// The error of a call across this ABI: a negative errno (Linux's
/// `include/uapi/asm-generic/errno-base.h` numbering, the one Xen's `include/xen/interface/errno.h`
/// shares), as the C side returns it. The one error type of the wrappers in `abi_client.rs` and
/// `abi_xenbus_client.rs`; a kernel module turns it into `kernel::error::Error` with `?` (the
/// `From` impl in `kernel_common.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(i32);

impl Errno {
    /// `-ENODEV`.
    pub const ENODEV: Self = Self(-ENODEV);
    /// `-ENOENT`.
    pub const ENOENT: Self = Self(-ENOENT);
    /// `-EAGAIN`.
    pub const EAGAIN: Self = Self(-EAGAIN);
    /// `-ENOMEM`.
    pub const ENOMEM: Self = Self(-ENOMEM);
    /// `-EBUSY`.
    pub const EBUSY: Self = Self(-EBUSY);
    /// `-EINVAL`.
    pub const EINVAL: Self = Self(-EINVAL);
    /// `-ENOSPC`.
    pub const ENOSPC: Self = Self(-ENOSPC);
    /// `-EOPNOTSUPP`.
    pub const EOPNOTSUPP: Self = Self(-EOPNOTSUPP);
    /// `-EIO`: what a C return value that is no errno at all becomes.
    pub const EIO: Self = Self(-5);

    /// A C function's failed return value: a negative errno (-4095..=-1, Linux's `MAX_ERRNO`)
    /// as it is; anything else (a positive count or status where an error was expected) is a
    /// broken callee and becomes [`Errno::EIO`].
    pub const fn from_ret(ret: i32) -> Self {
        if ret < 0 && ret >= -4095 {
            Self(ret)
        } else {
            Self::EIO
        }
    }

    /// `Ok(())` for a C return value of 0, else the errno ([`Errno::from_ret`]).
    pub const fn check(ret: i32) -> Result<(), Self> {
        if ret == 0 {
            Ok(())
        } else {
            Err(Self::from_ret(ret))
        }
    }

    /// The negative errno, as the C side and the xenstore error node (`xenbus_dev_fatal`) take it.
    pub const fn to_neg(self) -> i32 {
        self.0
    }
}

/// Prints the negative errno (`-22`), as the log lines did when errors were plain `i32`s.
impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What `xen_platform` found about the hypervisor (from CPUID, see `cpuid.rs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlatformInfo {
    /// Set by the caller to [`XPV_ABI_VERSION`].
    pub abi_version: u32,
    /// Xen major version.
    pub xen_major: u16,
    /// Xen minor version.
    pub xen_minor: u16,
    /// HVM feature flags of CPUID leaf base+4 (`XEN_HVM_CPUID_*`).
    pub hvm_features: u32,
    /// This domain's id, or `u32::MAX` when Xen did not report it.
    pub domid: u32,
    /// `xen_platform_pci_unplug` after the emulated-device unplug (`unplug.rs`): the mask that
    /// was applied (`XEN_UNPLUG_*`), 0 if the PV drivers must not bind (see
    /// `unplug::has_pv_disk_devices` and friends).
    pub unplug: u32,
    /// [`PLATFORM_EVENTS`], [`PLATFORM_GRANTS`]: which services are ready.
    pub flags: u32,
}

/// [`PlatformInfo::flags`]: event channels work (shared info mapped, callback installed).
pub const PLATFORM_EVENTS: u32 = 1 << 0;
/// [`PlatformInfo::flags`]: the grant table is mapped.
pub const PLATFORM_GRANTS: u32 = 1 << 1;

/// What an event channel handler asks for when it returns (late EOI, XSA-391). The port is
/// masked while its handler runs; it is unmasked according to this value.
///
/// A port whose other end is a (possibly hostile) backend should use [`evtchn_ret::LATE`] and
/// EOI from the code that consumes the work (thread, NAPI poll), telling whether there was any
/// (`spurious`): then a flood costs at most one upcall per EOI, and spurious ones are throttled.
/// [`evtchn_ret::EOI`] from the handler re-arms the port at once, so a flood of events that each
/// look like work keeps re-raising the upcall.
pub mod evtchn_ret {
    /// Work was done: unmask (EOI) now.
    pub const EOI: u32 = 0;
    /// Nothing to do (spurious event): unmask, but after repeated spurious events only after a
    /// growing delay (up to 1 s), so a flooding backend cannot keep a CPU busy.
    pub const SPURIOUS: u32 = 1;
    /// Keep the port masked: the driver calls `xpv_evtchn_eoi` when it has processed the work
    /// (e.g. from a thread or NAPI poll).
    pub const LATE: u32 = 2;
}

/// An event channel handler: called in hard interrupt context, with the port masked, as
/// `handler(port, data)`; returns one of [`evtchn_ret`]. Must not sleep.
pub type EvtchnHandler = unsafe extern "C" fn(port: u32, data: *mut core::ffi::c_void) -> u32;

/// Length of the NUL-padded name fields of the frontend driver ABI (`abi_xenbus.rs`), in bytes.
pub const XENBUS_NAME_LEN: usize = 32;

/// Signature of `xpv_platform_get_info`.
pub type PlatformGetInfoFn = unsafe extern "C" fn(info: *mut PlatformInfo) -> i32;
/// Signature of `xpv_hvm_get_param`.
pub type HvmGetParamFn = unsafe extern "C" fn(index: u32, value: *mut u64) -> i32;
/// Signature of `xpv_evtchn_alloc_unbound`.
pub type EvtchnAllocUnboundFn = unsafe extern "C" fn(remote_dom: u16, port: *mut u32) -> i32;
/// Signature of `xpv_evtchn_bind_interdomain`.
pub type EvtchnBindInterdomainFn =
    unsafe extern "C" fn(remote_dom: u16, remote_port: u32, local_port: *mut u32) -> i32;
/// Signature of `xpv_evtchn_bind`.
pub type EvtchnBindFn =
    unsafe extern "C" fn(port: u32, handler: EvtchnHandler, data: *mut core::ffi::c_void) -> i32;
/// Signature of `xpv_evtchn_unbind`, `xpv_evtchn_close`, `xpv_evtchn_notify`.
pub type EvtchnPortFn = unsafe extern "C" fn(port: u32) -> i32;
/// Signature of `xpv_evtchn_eoi`.
pub type EvtchnEoiFn = unsafe extern "C" fn(port: u32, spurious: u32) -> i32;
/// Signature of `xpv_evtchn_spread`.
pub type EvtchnSpreadFn = unsafe extern "C" fn(port: u32, index: u32) -> i32;
/// Signature of `xpv_memory_reservation`.
pub type MemoryReservationFn = unsafe extern "C" fn(cmd: u32, gfns: *mut u64, count: u32) -> i32;
/// Signature of `xpv_gnttab_grant_access`.
pub type GnttabGrantAccessFn =
    unsafe extern "C" fn(domid: u16, gfn: u64, readonly: u32, gref: *mut u32) -> i32;
/// Signature of `xpv_gnttab_end_access`.
pub type GnttabEndAccessFn = unsafe extern "C" fn(gref: u32) -> i32;
/// Signature of `xpv_pages_alloc`.
pub type PagesAllocFn = unsafe extern "C" fn(order: u32, gfn: *mut u64) -> *mut core::ffi::c_void;
/// Signature of `xpv_pages_free`.
pub type PagesFreeFn = unsafe extern "C" fn(va: *mut core::ffi::c_void, order: u32);

/// [`xpv_platform_suspend`]: the domain was restored or migrated (a new domain).
pub const SUSPEND_RESUMED: i32 = 0;
/// [`xpv_platform_suspend`]: the suspend was cancelled (checkpoint); the same domain goes on.
pub const SUSPEND_CANCELLED: i32 = 1;

/// Largest `order` [`xpv_pages_alloc`] accepts: 16 pages, the largest blkif ring
/// (`max-ring-page-order` 4, `include/xen/interface/io/blkif.h`).
pub const PAGES_MAX_ORDER: u32 = 4;

extern "C" {
    /// Fills `*info` (whose `abi_version` the caller set) when running on Xen.
    ///
    /// Returns 0, `-ENODEV` when not on Xen, `-EINVAL` on an ABI version mismatch.
    /// Provided by `xen_platform`; `info` must be valid for writes.
    pub fn xpv_platform_get_info(info: *mut PlatformInfo) -> i32;

    /// Reads HVM parameter `index` (`HVM_PARAM_*`, e.g. `STORE_PFN`, `STORE_EVTCHN`) of this
    /// domain into `*value` (`HVMOP_get_param`). Returns 0, `-ENODEV`, `-EINVAL` for an index
    /// out of range, or Xen's negative errno. Provided by `xen_platform`.
    pub fn xpv_hvm_get_param(index: u32, value: *mut u64) -> i32;

    /// `EVTCHNOP_alloc_unbound`: a new local port that `remote_dom` may bind, written to `*port`.
    /// The port starts masked and without handler. Returns 0 or a negative errno.
    pub fn xpv_evtchn_alloc_unbound(remote_dom: u16, port: *mut u32) -> i32;

    /// `EVTCHNOP_bind_interdomain`: connects to `remote_port` of `remote_dom` (which must have
    /// allocated it for us), the new local port is written to `*local_port`, masked and without
    /// handler. Returns 0 or a negative errno.
    pub fn xpv_evtchn_bind_interdomain(
        remote_dom: u16,
        remote_port: u32,
        local_port: *mut u32,
    ) -> i32;

    /// Installs `handler(port, data)` for local `port` and unmasks the port. Returns 0,
    /// `-EINVAL` for an invalid port, `-EBUSY` if the port already has a handler, `-ENODEV`
    /// without Xen, `-EAGAIN` before the platform device is bound. `data` must stay valid until
    /// `xpv_evtchn_unbind` returns.
    pub fn xpv_evtchn_bind(port: u32, handler: EvtchnHandler, data: *mut core::ffi::c_void) -> i32;

    /// Masks `port` and removes its handler; when it returns, the handler is not running and will
    /// not be called again. Does not close the port. May sleep. Returns 0 or `-ENOENT`.
    pub fn xpv_evtchn_unbind(port: u32) -> i32;

    /// `EVTCHNOP_close` (unbinds the handler first if there is one). May sleep. Returns 0 or a
    /// negative errno.
    pub fn xpv_evtchn_close(port: u32) -> i32;

    /// `EVTCHNOP_send`: notifies the other end of `port`. Any context. Returns 0 or a negative
    /// errno.
    pub fn xpv_evtchn_notify(port: u32) -> i32;

    /// Late EOI of a port whose handler returned `evtchn_ret::LATE`: unmasks it, after a delay if
    /// `spurious` is non-zero and the port keeps getting spurious events. Any context.
    pub fn xpv_evtchn_eoi(port: u32, spurious: u32) -> i32;

    /// Delivers `port`'s events to the `index`-th online CPU (modulo their number), as frontends
    /// spread their queues (queue i on CPU i mod n): `EVTCHNOP_bind_vcpu` to that CPU's vCPU.
    /// Returns the CPU (>= 0), `-EOPNOTSUPP` when events arrive through the INTx/GSI callback
    /// (which serves vCPU 0 only: the port stays there), `-EINVAL`, `-EAGAIN`, or Xen's errno.
    /// Process context.
    pub fn xpv_evtchn_spread(port: u32, index: u32) -> i32;

    /// `XENMEM_decrease_reservation` (`cmd` 1: the frames go back to Xen; the caller owns their
    /// pages and keeps them out of use) or `XENMEM_populate_physmap` (`cmd` 6: Xen backs them
    /// again) of the `count` guest frame numbers at `gfns` (order 0, this domain; at most
    /// `RESERVATION_BATCH` = 512, `xen_proto/src/hvm.rs`). Returns how many frames Xen processed,
    /// in order from the first (fewer than `count` when it refused the rest: no memory left, or
    /// a frame not ours), or `-EINVAL` (other `cmd`, bad count), `-ENODEV`. Process context.
    pub fn xpv_memory_reservation(cmd: u32, gfns: *mut u64, count: u32) -> i32;

    /// Grants `domid` access to our guest frame `gfn` (read-only if `readonly` is non-zero); the
    /// reference is written to `*gref`. Any context. Returns 0, `-ENOSPC` when no reference is
    /// free, `-EINVAL` for a frame beyond the v1 limit, `-ENODEV`/`-EAGAIN` as `xpv_evtchn_bind`.
    pub fn xpv_gnttab_grant_access(domid: u16, gfn: u64, readonly: u32, gref: *mut u32) -> i32;

    /// Revokes grant `gref` (XSA-396 semantics): 0 if revoked (the reference is freed and the
    /// page may be reused), `-EBUSY` if the other domain still maps it: then nothing changed, the
    /// page must be neither freed nor reused, and the caller retries later or leaks the page.
    /// `-EINVAL` for a reference not currently granted. Any context.
    pub fn xpv_gnttab_end_access(gref: u32) -> i32;

    /// `2^order` physically contiguous pages of ours, zeroed (`__get_free_pages(GFP_KERNEL |
    /// __GFP_ZERO)`, so nothing of the kernel's reaches a domain they are granted to, XSA-403).
    /// The guest frame number of the first page is written to `*gfn` (the others follow it).
    /// Returns the kernel virtual address, or NULL without memory or for `order` above
    /// [`PAGES_MAX_ORDER`]. May sleep. Provided by `xen_platform` (in C, helpers.c).
    pub fn xpv_pages_alloc(order: u32, gfn: *mut u64) -> *mut core::ffi::c_void;

    /// Frees pages from [`xpv_pages_alloc`] with the same `order`. Every grant of them must have
    /// been revoked (`xpv_gnttab_end_access` returned 0): a page another domain may still map is
    /// never freed (XSA-396). May be called from any context.
    pub fn xpv_pages_free(va: *mut core::ffi::c_void, order: u32);

    /// Hands pages that a backend still maps to deferred reclaim (Linux's deferred grant
    /// list): `va`/`order` from [`xpv_pages_alloc`], `grefs` (`n` at most 16) the references of
    /// them not yet revoked. `xen_platform` retries revoking them every second and frees the pages
    /// once all are revoked; until then nothing else uses them (XSA-396). Returns 0, or
    /// `-ENOMEM`/`-EINVAL` (then the caller keeps the pages: leaked). Any context.
    pub fn xpv_pages_defer(
        va: *mut core::ffi::c_void,
        order: u32,
        grefs: *const u32,
        n: u32,
    ) -> i32;

    /// Suspends the domain for save, checkpoint or migration (Linux's `xen_suspend`, after
    /// `drivers/xen/manage.c`): on CPU 0 with every other CPU stopped (`stop_machine`) and
    /// interrupts off, `SCHEDOP_shutdown(SHUTDOWN_suspend)`
    /// (`include/xen/interface/sched.h`), then, in a new domain (restore, migration), the
    /// shared info page, the event callback (INTx/GSI and per-vCPU vectors) and the grant table
    /// frames set up again, every event channel forgotten (all ports are gone: the epoch of
    /// [`xpv_evtchn_epoch`] moves on); afterwards the emulated devices are
    /// unplugged again and the wall clock is set from Xen's (`shared_info` `wc_*` plus vCPU 0's
    /// system time). The caller must have quiesced every user of event channels and grants.
    /// Process context, may sleep. Returns [`SUSPEND_RESUMED`] (a new domain), [`SUSPEND_CANCELLED`]
    /// (`xl save -c`, or the toolstack failed: the same domain goes on, nothing was reset), or a
    /// negative errno when nothing was done (`-ENODEV`, `-EAGAIN` before the device is bound,
    /// `stop_machine`'s error).
    pub fn xpv_platform_suspend() -> i32;

    /// The event channel epoch: it changes when the domain resumes as a new domain, whose ports
    /// are all new. A port allocated or bound in an earlier epoch is gone: it must not be
    /// unbound or closed any more (its number may now be someone else's). Any context.
    pub fn xpv_evtchn_epoch() -> u32;

    /// A work item on the system workqueue that will call `f(data)` in process context
    /// (`INIT_WORK`); NULL without memory. May sleep. Provided by `xen_platform` (helpers.c).
    pub fn xpv_work_new(
        f: Option<unsafe extern "C" fn(data: *mut core::ffi::c_void)>,
        data: *mut core::ffi::c_void,
    ) -> *mut XpvWork;

    /// Queues `w` (`schedule_work`: a no-op if already queued). Any context.
    pub fn xpv_work_queue(w: *mut XpvWork);

    /// Cancels `w` if queued and waits for a running call (`cancel_work_sync`), then frees it.
    /// May sleep.
    pub fn xpv_work_free(w: *mut XpvWork);
}

/// Opaque work item of [`xpv_work_new`] (`struct xpv_work` in `xen_platform/helpers.c`).
#[repr(C)]
pub struct XpvWork {
    _private: [u8; 0],
}

/// Copies `s` into a NUL-padded name field. Returns `None` if it does not fit with a terminating
/// NUL or contains a NUL.
pub const fn name_field(s: &str) -> Option<[u8; XENBUS_NAME_LEN]> {
    let b = s.as_bytes();
    if b.len() >= XENBUS_NAME_LEN {
        return None;
    }
    let mut out = [0u8; XENBUS_NAME_LEN];
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0 {
            return None;
        }
        out[i] = b[i];
        i += 1;
    }
    Some(out)
}

/// The text of a NUL-padded name field up to its first NUL; `None` if there is no NUL or the bytes
/// are not UTF-8 (a descriptor from a broken caller).
pub fn name_str(field: &[u8; XENBUS_NAME_LEN]) -> Option<&str> {
    let end = field.iter().position(|&c| c == 0)?;
    core::str::from_utf8(&field[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_keeps_errnos_and_turns_the_rest_into_eio() {
        assert_eq!(Errno::from_ret(-EINVAL), Errno::EINVAL);
        assert_eq!(Errno::from_ret(-4095).to_neg(), -4095);
        // Not an errno: a positive count, 0, or below -MAX_ERRNO.
        assert_eq!(Errno::from_ret(3), Errno::EIO);
        assert_eq!(Errno::from_ret(0), Errno::EIO);
        assert_eq!(Errno::from_ret(-4096), Errno::EIO);
        assert_eq!(Errno::from_ret(i32::MIN), Errno::EIO);
        assert_eq!(Errno::check(0), Ok(()));
        assert_eq!(Errno::check(-ENOSPC), Err(Errno::ENOSPC));
        assert_eq!(Errno::check(1), Err(Errno::EIO));
    }

    #[test]
    fn names_round_trip_and_reject_bad_input() {
        let f = name_field("vbd").unwrap();
        assert_eq!(name_str(&f), Some("vbd"));
        assert!(name_field("a\0b").is_none());
        assert!(name_field(core::str::from_utf8(&[b'x'; 32]).unwrap()).is_none());
        assert_eq!(name_str(&[b'x'; 32]), None);
        let mut bad = [0u8; 32];
        bad[0] = 0xff;
        assert_eq!(name_str(&bad), None);
    }

    #[test]
    fn layouts_are_fixed() {
        assert_eq!(core::mem::size_of::<PlatformInfo>(), 24);
    }
}
