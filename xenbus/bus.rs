// SPDX-License-Identifier: GPL-2.0
//! The `xen` bus: one device per frontend node `device/<type>/<id>` of this domain, named
//! `<type>-<id>` (`/sys/bus/xen/devices/vbd-51712`), with the attributes of Linux's frontend bus
//! (`drivers/xen/xenbus/xenbus_probe.c`, `xenbus_probe_frontend.c`): `nodename`, `devtype`,
//! `modalias`, `state` (our state, `xenbus_strstate` names), `otherend_id`, `otherend`, and
//! uevents with `MODALIAS=xen:<type>`, `XENBUS_TYPE`, `XENBUS_PATH`. Devices have no parent
//! (`/sys/devices/vbd-51712`, as Linux's); a frontend bound to one shows in the driver core as
//! driver `<type>` (`/sys/bus/xen/drivers/vbd`, see `frontend.rs`), and its gendisk or
//! net_device is the device's child.
//!
//! Devices are enumerated at load and re-scanned on every event of a watch on `device`
//! (hotplug: `xl block-attach` adds nodes, `xl block-detach` removes them). Each device watches
//! its backend's `state` (`include/xen/interface/io/xenbus.h`); while no frontend driver drives
//! it, a backend that starts closing is answered with our state `Closed`, so that the toolstack's
//! detach completes at once instead of after its timeout. A device found at load that an earlier
//! xenbus left Connected or Closed (modules unloaded and loaded again) is first walked back to
//! the start of the handshake, as Linux's `xenbus_reset_state`, so that its frontend can connect.
//!
//! All names and values come from xenstore, i.e. from other domains: type and id must be short
//! `[A-Za-z0-9_-]` names, the backend path a printable path shorter than 128 bytes, the backend
//! id a number below 32768, else the device is skipped with a `pr_err`.

use crate::frontend;
#[allow(unused_imports)]
use crate::kernel_common::CStrCompat as _;
use crate::sys::BusDevice;
use crate::xenbus_state::XenbusState;
use crate::xs::{self, trim, Xs};
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
// `fmt!` (`format_args!` with the kernel's formatting traits): in 7.x's prelude.
#[cfg(not(xpv_linux7))]
use kernel::fmt;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Mutex;

/// Longest accepted device type or id, in bytes.
const NAME_MAX: usize = 31;
/// Longest accepted node or backend path, in bytes (the C side stores 128 with the NUL).
const PATH_MAX: usize = 127;
/// Devices at once.
const MAX_DEVICES: usize = 64;

/// A device; its address is the `XenbusDevHandle` given to frontend drivers.
#[pin_data]
pub(crate) struct Dev {
    pub(crate) devtype: CString,
    id: CString,
    pub(crate) nodename: CString,
    /// The backend's directory (`<nodename>/backend`); read again after a restore, whose
    /// backend is a new one ([`resume_otherend`]).
    #[pin]
    pub(crate) otherend: Mutex<CString>,
    pub(crate) otherend_id: u32,
    pub(crate) dev: BusDevice,
    /// Token of the watch on `<otherend>/state` (0: none).
    watch: AtomicU64,
    /// Our state as last written or read (`enum xenbus_state`).
    pub(crate) state: AtomicU32,
    /// The frontend driver bound to this device; held while its callbacks run.
    #[pin]
    pub(crate) drv: Mutex<frontend::DrvRef>,
}

/// The live bus (null when not registered), for the frontend driver API.
pub(crate) static BUS: AtomicPtr<Inner> = AtomicPtr::new(null_mut());

#[pin_data]
pub(crate) struct Inner {
    #[pin]
    pub(crate) devs: Mutex<KVec<Option<Pin<KBox<Dev>>>>>,
}

/// The registered bus and its devices; dropping it removes them and unregisters the bus.
pub(crate) struct Bus {
    inner: Pin<KBox<Inner>>,
    watch: Option<u64>,
}

fn valid_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= NAME_MAX
        && n.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fn valid_path(p: &[u8]) -> bool {
    !p.is_empty() && p.len() <= PATH_MAX && p.iter().all(|&c| c.is_ascii_graphic())
}

fn s(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("?")
}

fn cstring(b: &[u8]) -> Result<CString> {
    CString::try_from_fmt(fmt!("{}", s(b)))
}

/// Reads a state node; a missing or malformed node counts as `Unknown` (as Linux's
/// `xenbus_read_driver_state`), malformed ones with a message.
pub(crate) fn read_state(xs: &Xs, path: &[u8]) -> XenbusState {
    match xs.read(0, path) {
        Ok(r) => XenbusState::parse(trim(r.payload())).unwrap_or_else(|e| {
            pr_err!("{}: bad state value: {:?}\n", s(path), e);
            XenbusState::Unknown
        }),
        Err(_) => XenbusState::Unknown,
    }
}

/// Polls state node `path` every 20 ms until `want` accepts it, at most `timeout_ms` ms.
///
/// # Errors
/// `Err(last)` with the last state read when the time ran out.
pub(crate) fn wait_state(
    xs: &Xs,
    path: &[u8],
    timeout_ms: u32,
    want: impl Fn(XenbusState) -> bool,
) -> Result<XenbusState, XenbusState> {
    let mut waited = 0u32;
    loop {
        let st = read_state(xs, path);
        if want(st) {
            return Ok(st);
        }
        if waited >= timeout_ms {
            return Err(st);
        }
        crate::sys::msleep(20);
        waited = waited.saturating_add(20);
    }
}

pub(crate) fn join(a: &[u8], b: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(a.len() + 1 + b.len(), GFP_KERNEL)?;
    v.extend_from_slice(a, GFP_KERNEL)?;
    v.push(b'/', GFP_KERNEL)?;
    v.extend_from_slice(b, GFP_KERNEL)?;
    Ok(v)
}

/// Backend state watch: keep the `state` attribute current and close driverless devices whose
/// backend closes. Every backend state is handled.
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn otherend_cb(_path: *const u8, _len: usize, data: *mut c_void) {
    // SAFETY: `data` is the boxed `Dev` registered with this watch; it is freed only after
    // `unwatch` returned, which waits for this callback.
    let dev = unsafe { &*(data as *const Dev) };
    let Some(xs) = xs::get() else { return };
    let (Ok(ours_path), Ok(other_path)) = (
        join(dev.nodename.to_bytes(), b"state"),
        dev.otherend_path(b"state"),
    ) else {
        return;
    };
    let other = read_state(xs, &other_path);
    // A bound driver with an otherend_changed callback decides (every state, in order).
    {
        let drv = dev.drv.lock();
        if let Some(d) = drv.get() {
            if let Some(cb) = d.otherend_changed {
                // SAFETY: the driver stays registered while bound (unregistering unbinds under
                // this lock first); the handle is valid until its `remove`, also under this lock.
                unsafe { cb(frontend::handle(dev), other as u32, d.ctx) };
                return;
            }
        }
    }
    let mut ours = read_state(xs, &ours_path);
    use XenbusState as S;
    let close = match other {
        S::Closing | S::Closed => ours != S::Closed,
        S::Unknown
        | S::Initialising
        | S::InitWait
        | S::Initialised
        | S::Connected
        | S::Reconfiguring
        | S::Reconfigured => false,
    };
    if close {
        match xs.write(0, &ours_path, S::Closed.as_xenstore_str().as_bytes()) {
            Ok(()) => ours = S::Closed,
            Err(e) => pr_err!(
                "{}-{}: cannot switch to Closed: errno {}\n",
                dev.devtype.to_str().unwrap_or("?"),
                dev.id.to_str().unwrap_or("?"),
                -e.to_errno()
            ),
        }
    }
    dev.state.store(ours as u32, Ordering::Release);
    dev.dev.set_state(ours as u32);
    pr_info!(
        "{}-{}: backend {}, frontend {}\n",
        dev.devtype.to_str().unwrap_or("?"),
        dev.id.to_str().unwrap_or("?"),
        other.name(),
        ours.name()
    );
}

/// `device` watch: re-scan for hotplug.
///
/// # Safety
/// Called by the watch dispatcher only (a [`crate::xs::WatchCb`]): `path` valid for `len` bytes,
/// `data` as registered.
unsafe extern "C" fn device_cb(_path: *const u8, _len: usize, data: *mut c_void) {
    // SAFETY: `data` is the pinned `Inner` of the `Bus`, which unwatches before it is freed.
    let inner = unsafe { &*(data as *const Inner) };
    if let Some(xs) = xs::get() {
        inner.scan(xs, false);
    }
}

impl Inner {
    /// Brings the device list in line with `device/*/*`. `initial`: the scan at load, whose
    /// devices may have been left behind by an earlier xenbus (see [`reset_device`]).
    fn scan(&self, xs: &Xs, initial: bool) {
        let mut present: KVec<(KVec<u8>, KVec<u8>)> = KVec::new();
        let types = match xs.directory(0, b"device") {
            Ok(r) => r,
            Err(e) if e == ENOENT => return self.sync(xs, &present, initial),
            Err(e) => {
                pr_err!("cannot list device/: errno {}\n", -e.to_errno());
                return;
            }
        };
        let Ok(types_it) = types.entries() else {
            return;
        };
        for t in types_it {
            // device/suspend/event-channel is the suspend event channel of the toolstack's
            // suspend protocol, not a device (Linux's frontend bus finds no backend there either).
            if t == b"suspend" {
                continue;
            }
            if !valid_name(t) {
                pr_err!("ignoring device type {:?}: not a short plain name\n", s(t));
                continue;
            }
            let Ok(dir) = join(b"device", t) else { return };
            let Ok(ids) = xs.directory(0, &dir) else {
                continue;
            };
            let Ok(ids_it) = ids.entries() else { continue };
            for id in ids_it {
                if !valid_name(id) {
                    pr_err!(
                        "ignoring device {}/{:?}: not a short plain name\n",
                        s(t),
                        s(id)
                    );
                    continue;
                }
                let mut tv = KVec::new();
                let mut iv = KVec::new();
                if tv.extend_from_slice(t, GFP_KERNEL).is_err()
                    || iv.extend_from_slice(id, GFP_KERNEL).is_err()
                    || present.push((tv, iv), GFP_KERNEL).is_err()
                {
                    return;
                }
            }
        }
        self.sync(xs, &present, initial);
    }

    fn sync(&self, xs: &Xs, present: &[(KVec<u8>, KVec<u8>)], initial: bool) {
        let mut devs = self.devs.lock();
        // Removals.
        for slot in devs.iter_mut() {
            let gone = slot.as_ref().is_some_and(|d| {
                !present.iter().any(|(t, i)| {
                    t.as_slice() == d.devtype.to_bytes() && i.as_slice() == d.id.to_bytes()
                })
            });
            if gone {
                if let Some(d) = slot.take() {
                    remove(xs, d);
                }
            }
        }
        // Additions.
        for (t, i) in present {
            let known = devs
                .iter()
                .flatten()
                .any(|d| t.as_slice() == d.devtype.to_bytes() && i.as_slice() == d.id.to_bytes());
            if known {
                continue;
            }
            // A free slot first, so that a device once added is never dropped unwatched.
            let idx = match devs.iter().position(|s| s.is_none()) {
                Some(i) => i,
                None if devs.len() < MAX_DEVICES => {
                    if devs.push(None, GFP_KERNEL).is_err() {
                        pr_err!("out of memory for the device list\n");
                        return;
                    }
                    devs.len() - 1
                }
                None => {
                    pr_err!(
                        "more than {} xen devices: {}-{} ignored\n",
                        MAX_DEVICES,
                        s(t),
                        s(i)
                    );
                    continue;
                }
            };
            devs[idx] = add(xs, t, i, initial);
        }
        // Our own state may have changed (it is under device/ too).
        for d in devs.iter().flatten() {
            if let Ok(p) = join(d.nodename.to_bytes(), b"state") {
                let st = read_state(xs, &p) as u32;
                d.state.store(st, Ordering::Release);
                d.dev.set_state(st);
            }
        }
    }
}

/// How long [`reset_device`] waits for each backend step (Linux: 5 s), in ms.
const RESET_WAIT_MS: u32 = 5000;

/// A device found at load whose frontend state is Connected, Closing or Closed was used by an
/// earlier xenbus and its frontends (the modules unloaded and loaded again, kexec): its backend
/// has closed, or is still connected, and waits for nothing. As Linux's `xenbus_reset_state`,
/// walk the backend back to InitWait (`xenbus_state::reset_steps`), so that a frontend driver can
/// connect as to a new device; only while the backend's `online` is 1 (0: the toolstack is
/// removing the device). Each step waits up to [`RESET_WAIT_MS`] for the backend.
fn reset_device(xs: &Xs, node: &[u8], backend: &[u8]) {
    let (Ok(fe_path), Ok(be_path), Ok(online_path)) = (
        join(node, b"state"),
        join(backend, b"state"),
        join(backend, b"online"),
    ) else {
        return;
    };
    let fe = read_state(xs, &fe_path);
    let be = read_state(xs, &be_path);
    let steps = crate::xenbus_state::reset_steps(fe, be);
    if steps.is_empty() {
        return;
    }
    let online = xs
        .read(0, &online_path)
        .is_ok_and(|r| trim(r.payload()) == b"1");
    if !online {
        pr_info!(
            "{}: left {} by an earlier driver, backend {} and not online: not reset\n",
            s(node),
            fe.name(),
            be.name()
        );
        return;
    }
    pr_info!(
        "{}: left {} by an earlier driver (backend {}): resetting for a new connection\n",
        s(node),
        fe.name(),
        be.name()
    );
    for &(write, wait) in steps {
        if let Err(e) = xs.write(0, &fe_path, write.as_xenstore_str().as_bytes()) {
            pr_err!(
                "{}: reset: cannot write state {}: errno {}\n",
                s(node),
                write.name(),
                -e.to_errno()
            );
            return;
        }
        if wait_state(xs, &be_path, RESET_WAIT_MS, |st| st == wait).is_err() {
            pr_info!(
                "{}: reset: backend not {} after {} ms, going on\n",
                s(node),
                wait.name(),
                RESET_WAIT_MS
            );
        }
    }
}

fn add(xs: &Xs, t: &[u8], id: &[u8], initial: bool) -> Option<Pin<KBox<Dev>>> {
    let node = join(b"device", t).and_then(|d| join(&d, id)).ok()?;
    let backend = match join(&node, b"backend").and_then(|p| xs.read(0, &p)) {
        Ok(r) => r,
        Err(e) => {
            // Not complete yet (or being removed): a later event brings it.
            pr_warn!(
                "{}: no backend node (errno {}), not added yet\n",
                s(&node),
                -e.to_errno()
            );
            return None;
        }
    };
    let backend = trim(backend.payload());
    if !valid_path(backend) {
        pr_err!("{}: refusing backend path {:?}\n", s(&node), s(backend));
        return None;
    }
    let backend_id = match join(&node, b"backend-id").and_then(|p| xs.read_u32(0, &p)) {
        Ok(v) if v < 0x7ff0 => v,
        Ok(v) => {
            pr_err!("{}: refusing backend-id {}\n", s(&node), v);
            return None;
        }
        Err(e) => {
            pr_warn!(
                "{}: no backend-id (errno {}), not added yet\n",
                s(&node),
                -e.to_errno()
            );
            return None;
        }
    };
    let (devtype, idc, nodename, otherend) =
        match (cstring(t), cstring(id), cstring(&node), cstring(backend)) {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            _ => return None,
        };
    let dev = match BusDevice::add(&devtype, &idc, &nodename, &otherend, backend_id as i32) {
        Ok(d) => d,
        Err(e) => {
            pr_err!("{}: device_add failed: errno {}\n", s(&node), -e.to_errno());
            return None;
        }
    };
    if initial {
        reset_device(xs, &node, backend);
    }
    let state_path = join(&node, b"state").ok()?;
    let st = read_state(xs, &state_path) as u32;
    dev.set_state(st);
    let d = KBox::pin_init(
        pin_init!(Dev {
            devtype,
            id: idc,
            nodename,
            otherend <- new_mutex!(otherend),
            otherend_id: backend_id,
            dev,
            watch: AtomicU64::new(0),
            state: AtomicU32::new(st),
            drv <- new_mutex!(frontend::DrvRef::none()),
        }),
        GFP_KERNEL,
    )
    .ok()?;
    pr_info!(
        "device {}-{} added: {} (backend {} in domain {})\n",
        s(t),
        s(id),
        s(&node),
        s(backend),
        backend_id
    );
    // Bind a registered driver first, so that it sees the backend's state from the start.
    frontend::probe_new(&d);
    if let Ok(p) = join(backend, b"state") {
        let data = core::ptr::from_ref::<Dev>(&*d).cast_mut().cast::<c_void>();
        // SAFETY: `data` is the pinned `Dev`, which `remove` unwatches before freeing; the
        // callback only reads it and issues xenstore requests (fine on the watch workqueue).
        match unsafe { xs.watch(&p, otherend_cb, data) } {
            Ok(tok) => d.watch.store(tok, Ordering::Release),
            Err(e) => pr_err!(
                "{}: cannot watch the backend state: errno {}\n",
                s(&node),
                -e.to_errno()
            ),
        }
    }
    Some(d)
}

impl Dev {
    /// `<otherend>/<leaf>`.
    pub(crate) fn otherend_path(&self, leaf: &[u8]) -> Result<KVec<u8>> {
        join(self.otherend.lock().to_bytes(), leaf)
    }
}

/// After a resume in a new domain (Linux's `talk_to_otherend` in `xenbus_dev_resume`): the
/// backend is a new one, in the new domain's directory (`backend/vbd/<new domid>/...`): its path
/// is read again from `<nodename>/backend`, and the backend-state watch moves to it (it fires
/// once, so the bound frontend sees the new backend's state). A backend in another domain than
/// before is refused with a `pr_err` (frontends granted their pages to the old one); the
/// device then keeps its old path and never connects.
pub(crate) fn resume_otherend(xs: &Xs, d: &Dev) {
    let node = d.nodename.to_bytes();
    let backend = match join(node, b"backend").and_then(|p| xs.read(0, &p)) {
        Ok(r) => r,
        Err(e) => {
            pr_err!(
                "{}: no backend node after restore (errno {})\n",
                s(node),
                -e.to_errno()
            );
            return;
        }
    };
    let backend = trim(backend.payload());
    if !valid_path(backend) {
        pr_err!("{}: refusing backend path {:?}\n", s(node), s(backend));
        return;
    }
    match join(node, b"backend-id").and_then(|p| xs.read_u32(0, &p)) {
        Ok(v) if v == d.otherend_id => {}
        r => {
            pr_err!(
                "{}: backend domain after restore is {:?}, was {}: not supported\n",
                s(node),
                r.ok(),
                d.otherend_id
            );
            return;
        }
    }
    let Ok(new) = cstring(backend) else { return };
    let old = {
        let mut o = d.otherend.lock();
        if o.to_bytes() == backend {
            None
        } else {
            Some(core::mem::replace(&mut *o, new))
        }
    };
    let Some(old) = old else { return };
    let tok = d.watch.swap(0, Ordering::AcqRel);
    if tok != 0 {
        if let Ok(p) = join(old.to_bytes(), b"state") {
            xs.unwatch(&p, tok);
        }
    }
    if let Ok(p) = join(backend, b"state") {
        let data = core::ptr::from_ref::<Dev>(d).cast_mut().cast::<c_void>();
        // SAFETY: as in `add`: `data` is the pinned `Dev`, unwatched before it is freed.
        match unsafe { xs.watch(&p, otherend_cb, data) } {
            Ok(tok) => d.watch.store(tok, Ordering::Release),
            Err(e) => pr_err!(
                "{}: cannot watch the backend state: errno {}\n",
                s(node),
                -e.to_errno()
            ),
        }
    }
    pr_info!(
        "{}: backend after restore: {} (was {})\n",
        s(node),
        s(backend),
        old.to_str().unwrap_or("?")
    );
}

fn remove(xs: &Xs, d: Pin<KBox<Dev>>) {
    let tok = d.watch.swap(0, Ordering::AcqRel);
    if tok != 0 {
        if let Ok(p) = d.otherend_path(b"state") {
            xs.unwatch(&p, tok);
        }
    }
    frontend::unbind(&d);
    pr_info!(
        "device {}-{} removed\n",
        d.devtype.to_str().unwrap_or("?"),
        d.id.to_str().unwrap_or("?")
    );
    drop(d);
}

impl Bus {
    /// Registers the `xen` bus, adds the devices present and watches `device` for hotplug.
    ///
    /// # Errors
    /// The errno of `bus_register`, `ENOMEM`.
    pub(crate) fn new(xs: &Xs) -> Result<Self> {
        crate::sys::bus_register()?;
        let inner = match KBox::pin_init(
            pin_init!(Inner { devs <- new_mutex!(KVec::new()) }),
            GFP_KERNEL,
        ) {
            Ok(i) => i,
            Err(e) => {
                crate::sys::bus_unregister();
                return Err(e);
            }
        };
        let mut bus = Bus { inner, watch: None };
        BUS.store(
            core::ptr::from_ref::<Inner>(&*bus.inner).cast_mut(),
            Ordering::Release,
        );
        bus.inner.scan(xs, true);
        let data = core::ptr::from_ref::<Inner>(&*bus.inner)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `data` is the pinned `Inner`, unwatched in `Bus::shutdown` before it is freed.
        match unsafe { xs.watch(b"device", device_cb, data) } {
            Ok(t) => bus.watch = Some(t),
            Err(e) => pr_err!(
                "cannot watch device/ (no hotplug): errno {}\n",
                -e.to_errno()
            ),
        }
        Ok(bus)
    }

    /// Stops hotplug, removes every device and unregisters the bus.
    pub(crate) fn shutdown(mut self, xs: &Xs) {
        if let Some(t) = self.watch.take() {
            xs.unwatch(b"device", t);
        }
        let mut devs = self.inner.devs.lock();
        for slot in devs.iter_mut() {
            if let Some(d) = slot.take() {
                remove(xs, d);
            }
        }
        BUS.store(null_mut(), Ordering::Release);
        drop(devs);
        crate::sys::bus_unregister();
    }
}
