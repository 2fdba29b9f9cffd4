// SPDX-License-Identifier: GPL-2.0
//! Safe wrappers over `abi_xenbus.rs` for frontend drivers. Includers also include `abi.rs`,
//! `abi_client.rs`, `abi_xenbus.rs` and `xenbus_state.rs` as siblings (kept apart from
//! `abi_xenbus.rs` because including a wrapper references `xenbus`'s symbols).

use super::abi::Errno;
use super::abi_client::{OwnedPort, Port};
use super::abi_xenbus::{
    state_bit, xpv_xenbus_dev_device, xpv_xenbus_dev_fatal, xpv_xenbus_dev_info,
    xpv_xenbus_dev_read, xpv_xenbus_dev_write, xpv_xenbus_read, xpv_xenbus_register_frontend,
    xpv_xenbus_switch_state, xpv_xenbus_transaction_end, xpv_xenbus_transaction_start,
    xpv_xenbus_unregister_frontend, xpv_xenbus_unwatch, xpv_xenbus_wait_otherend, xpv_xenbus_watch,
    WatchFn, XenbusDevHandle, XenbusDevInfo, XenbusFrontendDriver,
};
use super::xenbus_state::XenbusState;
use super::xs_wire::FmtBuf;
use core::ffi::c_void;

/// A registered frontend driver; dropping it removes its devices and unregisters it.
#[derive(Debug)]
pub struct FrontendRegistration(&'static XenbusFrontendDriver);

impl FrontendRegistration {
    /// Registers `drv` and probes the devices of its type (errors: see
    /// `xpv_xenbus_register_frontend`, as negative errnos).
    pub fn new(drv: &'static XenbusFrontendDriver) -> Result<Self, Errno> {
        // SAFETY: `drv` is 'static, so it outlives the registration.
        Errno::check(unsafe { xpv_xenbus_register_frontend(drv) })?;
        Ok(Self(drv))
    }
}

impl Drop for FrontendRegistration {
    fn drop(&mut self) {
        // SAFETY: registered by `new`, unregistered once.
        unsafe { xpv_xenbus_unregister_frontend(self.0) };
    }
}

/// A device handed to a driver callback: valid from `probe` until `remove` returns (the driver
/// keeps it no longer than that).
#[derive(Debug, Clone, Copy)]
pub struct XenbusDevice(*mut XenbusDevHandle);

// SAFETY: a handle of a kernel device; the calls made through it (xenstore, state switches,
// event channel allocation) take their own locks and may come from any thread.
unsafe impl Send for XenbusDevice {}
// SAFETY: as Send; every method takes `&self` and the handle is never changed.
unsafe impl Sync for XenbusDevice {}

impl XenbusDevice {
    /// Wraps the handle a callback received.
    ///
    /// # Safety
    /// `h` must be a handle passed to a callback, and the wrapper used only until the device's
    /// `remove` callback returns.
    pub unsafe fn from_raw(h: *mut XenbusDevHandle) -> Self {
        Self(h)
    }

    /// Our node, the backend's, its domain id, the device type.
    pub fn info(&self) -> Result<XenbusDevInfo, Errno> {
        let mut info = XenbusDevInfo::default();
        // SAFETY: valid handle (constructor contract), `info` writable.
        Errno::check(unsafe { xpv_xenbus_dev_info(self.0, &mut info) })?;
        Ok(info)
    }

    /// The device's `struct device *` (see `xpv_xenbus_dev_device`): the parent to give the
    /// frontend's gendisk or net_device, valid until `remove` returns.
    pub fn device_ptr(&self) -> *mut core::ffi::c_void {
        // SAFETY: valid handle (constructor contract).
        unsafe { xpv_xenbus_dev_device(self.0) }
    }

    fn read(&self, otherend: bool, node: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
        let mut n = 0usize;
        // SAFETY: valid handle; `node` and `buf` are valid for their lengths; `n` writable.
        let r = unsafe {
            xpv_xenbus_dev_read(
                self.0,
                u32::from(otherend),
                node.as_ptr(),
                node.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
            )
        };
        Errno::check(r)?;
        Ok(n.min(buf.len()))
    }

    /// Reads backend node `node` (a feature, `sectors`, ...) into `buf`; returns its length.
    /// `-ENOENT` if absent, `-E2BIG` if `buf` is too small.
    pub fn read_otherend(&self, node: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
        self.read(true, node, buf)
    }

    /// Reads one of our own nodes into `buf`; returns its length.
    pub fn read_own(&self, node: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
        self.read(false, node, buf)
    }

    /// Reads a backend node as a decimal `u32` (`-EINVAL` if it is not one).
    pub fn read_otherend_u32(&self, node: &[u8]) -> Result<u32, Errno> {
        let mut buf = [0u8; 24];
        let n = self.read_otherend(node, &mut buf)?;
        let v = buf[..n].strip_suffix(&[0]).unwrap_or(&buf[..n]);
        super::xs_wire::parse_u32(v).map_err(|_| Errno::EINVAL)
    }

    /// The backend's `state` node as read now (`io/xenbus.h` `enum xenbus_state`): `Some(Unknown)`
    /// if it is absent, too long or not a state (the backend is gone or talks nonsense), `None` if
    /// it could not be read (`-EIO`, `-ETIMEDOUT`: say nothing, ask again later).
    pub fn otherend_state(&self) -> Option<XenbusState> {
        let mut buf = [0u8; 16];
        match self.read_otherend(b"state", &mut buf) {
            Ok(n) => Some(XenbusState::parse(&buf[..n]).unwrap_or(XenbusState::Unknown)),
            Err(e) if e == Errno::ENOENT || e == Errno::from_ret(-super::abi_xenbus::E2BIG) => {
                Some(XenbusState::Unknown)
            }
            Err(_) => None,
        }
    }

    /// Whether backend feature `node` is present and non-zero (`feature-persistent`, ...): a
    /// missing or unreadable node is `false`, as Linux's `xenbus_read_unsigned(.., 0)`.
    pub fn otherend_feature(&self, node: &[u8]) -> bool {
        self.read_otherend_u32(node).is_ok_and(|v| v != 0)
    }

    /// One of our own nodes as a flag (a decimal number, non-zero is true), `default` if it is
    /// absent or not a number: the toolstack's `trusted` key, as Linux's
    /// `xenbus_read_unsigned(dev->nodename, "trusted", 1)`.
    pub fn own_flag(&self, node: &[u8], default: bool) -> bool {
        let mut buf = [0u8; 24];
        match self.read_own(node, &mut buf) {
            Ok(n) => {
                let v = buf[..n].strip_suffix(&[0]).unwrap_or(&buf[..n]);
                super::xs_wire::parse_u32(v).map_or(default, |v| v != 0)
            }
            Err(_) => default,
        }
    }

    /// Writes our node named by `node` with the value `value`, both formatted (as Linux's
    /// `xenbus_printf`): `printf(tx, format_args!("queue-{}/event-channel", q), format_args!("{}",
    /// port))`. Names up to 64 bytes, values up to 32 (ample for the numbers and keywords a
    /// frontend writes).
    ///
    /// # Errors
    /// `-EINVAL` if either does not fit, else as [`Self::write`].
    pub fn printf(
        &self,
        tx: u32,
        node: core::fmt::Arguments<'_>,
        value: core::fmt::Arguments<'_>,
    ) -> Result<(), Errno> {
        let n = FmtBuf::<64>::format(node).ok_or(Errno::EINVAL)?;
        let v = FmtBuf::<32>::format(value).ok_or(Errno::EINVAL)?;
        self.write(tx, n.as_bytes(), v.as_bytes())
    }

    /// Writes our node `node` (in transaction `tx`, 0 for none).
    pub fn write(&self, tx: u32, node: &[u8], value: &[u8]) -> Result<(), Errno> {
        // SAFETY: valid handle; slices valid for their lengths.
        Errno::check(unsafe {
            xpv_xenbus_dev_write(
                self.0,
                tx,
                node.as_ptr(),
                node.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    /// Switches our state (`xenbus_switch_state`).
    pub fn switch_state(&self, s: XenbusState) -> Result<(), Errno> {
        // SAFETY: valid handle.
        Errno::check(unsafe { xpv_xenbus_switch_state(self.0, s as u32) })?;
        Ok(())
    }

    /// Reports a fatal error to the toolstack and goes `Closing` (Linux's `xenbus_dev_fatal`):
    /// `err` what failed, `msg` what went wrong (see `xpv_xenbus_dev_fatal`).
    pub fn fatal(&self, err: Errno, msg: &str) {
        // SAFETY: valid handle; `msg` valid for its length.
        unsafe { xpv_xenbus_dev_fatal(self.0, err.to_neg(), msg.as_ptr(), msg.len()) }
    }

    /// Waits up to `timeout_ms` for the backend to be in one of `states`; returns the state.
    /// `Err((-ETIMEDOUT, last_state))` when it did not get there in time.
    pub fn wait_otherend(
        &self,
        states: &[XenbusState],
        timeout_ms: u32,
    ) -> Result<XenbusState, (Errno, XenbusState)> {
        let mask = states.iter().fold(0u32, |m, &s| m | state_bit(s as u32));
        let mut st = 0u32;
        // SAFETY: valid handle; `st` writable.
        let r = unsafe { xpv_xenbus_wait_otherend(self.0, mask, timeout_ms, &mut st) };
        let s = XenbusState::from_u32(st).unwrap_or(XenbusState::Unknown);
        match r {
            0 => Ok(s),
            e => Err((Errno::from_ret(e), s)),
        }
    }

    /// Allocates an unbound event channel the backend can bind (`xenbus_alloc_evtchn`), closed
    /// when the returned owner drops (unless the domain was restored since).
    pub fn alloc_evtchn(&self) -> Result<OwnedPort, Errno> {
        let info = self.info()?;
        let dom = u16::try_from(info.otherend_id).map_err(|_| Errno::EINVAL)?;
        Port::alloc_unbound(dom).map(OwnedPort::new)
    }
}

/// Starts a transaction; returns its id.
pub fn transaction_start() -> Result<u32, Errno> {
    let mut tx = 0u32;
    // SAFETY: `tx` writable.
    Errno::check(unsafe { xpv_xenbus_transaction_start(&mut tx) })?;
    Ok(tx)
}

/// Ends a transaction (`-EAGAIN`: redo it).
pub fn transaction_end(tx: u32, commit: bool) -> Result<(), Errno> {
    // SAFETY: plain integers.
    Errno::check(unsafe { xpv_xenbus_transaction_end(tx, u32::from(commit)) })?;
    Ok(())
}

/// Attempts [`with_transaction`] makes before giving up on a transaction that keeps conflicting
/// with other writers (`-EAGAIN` at commit): a backend rewriting its nodes in a loop must not
/// keep a frontend's xenbus callback spinning forever.
pub const TRANSACTION_TRIES: u32 = 10;

/// Runs `body(tx)` in a xenstore transaction and commits it if `body` succeeded, or aborts it.
/// A commit that fails with `-EAGAIN` (a concurrent change) redoes the whole transaction, at most
/// [`TRANSACTION_TRIES`] times.
///
/// # Errors
/// The error of `body` (the transaction is aborted), the [`Errno`] of starting or ending the
/// transaction, or `Errno::EAGAIN` after [`TRANSACTION_TRIES`] conflicting attempts, as `E`.
pub fn with_transaction<E: From<Errno>>(
    mut body: impl FnMut(u32) -> Result<(), E>,
) -> Result<(), E> {
    for _ in 0..TRANSACTION_TRIES {
        let tx = transaction_start()?;
        if let Err(e) = body(tx) {
            let _ = transaction_end(tx, false);
            return Err(e);
        }
        match transaction_end(tx, true) {
            Ok(()) => return Ok(()),
            Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Errno::EAGAIN.into())
}

/// Reads xenstore node `path` (absolute, or relative to this domain's home) into `buf`; returns
/// the value's length (errors: see `xpv_xenbus_read`, `-E2BIG` when `buf` is too small).
pub fn read(path: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let mut len = 0usize;
    // SAFETY: `path` and `buf` are valid for their lengths, `len` writable.
    Errno::check(unsafe {
        xpv_xenbus_read(
            path.as_ptr(),
            path.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        )
    })?;
    Ok(len.min(buf.len()))
}

/// A registered xenstore watch; dropping it unregisters it and waits for a running callback.
#[derive(Debug)]
pub struct Watch {
    path: &'static [u8],
    token: u64,
}

impl Watch {
    /// Watches `path` (see `xpv_xenbus_watch`): `cb(path, len, data)` runs soon after, then at
    /// every change, until the returned value is dropped.
    ///
    /// # Safety
    /// `data` must stay valid for `cb` until the `Watch` is dropped, and the `Watch` must not be
    /// dropped from `cb`.
    pub unsafe fn new(path: &'static [u8], cb: WatchFn, data: *mut c_void) -> Result<Self, Errno> {
        let mut token = 0u64;
        // SAFETY: `path` is 'static; the caller guarantees `data`; `token` writable.
        Errno::check(unsafe {
            xpv_xenbus_watch(path.as_ptr(), path.len(), Some(cb), data, &mut token)
        })?;
        Ok(Self { path, token })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: registered by `new` with this path and token, removed once.
        unsafe { xpv_xenbus_unwatch(self.path.as_ptr(), self.path.len(), self.token) };
    }
}
