// SPDX-License-Identifier: GPL-2.0
//! The xenstore client: the shared ring page and event channel of an HVM guest
//! (`HVM_PARAM_STORE_PFN`, `HVM_PARAM_STORE_EVTCHN`, as Linux's `xenbus_probe.c` finds them),
//! requests matched to replies by `req_id` with many in flight, and watches.
//!
//! Wire format and ring arithmetic: `xen_proto/src/xs_wire.rs` (host-tested, fuzzed), after
//! `include/xen/interface/io/xs_wire.h`. Behaviour after Linux's `drivers/xen/xenbus/xenbus_comms.c`
//! and `xenbus_xs.c`:
//! - the event channel handler (hard IRQ) only queues the reader work (`xenbus_rx` workqueue) and
//!   wakes writers waiting for ring space;
//! - the reader assembles messages from the response ring, hands replies to their waiter by
//!   `req_id` and queues watch events for the dispatcher (`xenbus_watch` workqueue, ordered), which
//!   calls watch callbacks in process context so they may issue xenstore requests themselves;
//! - a reply with a bad length or unknown type, or impossible ring indices, means the connection
//!   can no longer be trusted: it is marked broken, every waiter gets `EIO`, later requests fail
//!   with `EIO` (a clear `pr_err` says why). Replies with an unknown `req_id` (e.g. after a waiter
//!   timed out) and malformed watch events are dropped with a message.
//!
//! Every wait is bounded ([`REQUEST_TIMEOUT_MS`]): a xenstored that does not answer gives
//! `ETIMEDOUT`, never an endless wait. A signal interrupts a request only before it is on the
//! ring (`EINTR`): once sent, the request is waited for (polling every 10 ms while a signal is
//! pending), so a signal neither leaves half a message on the ring nor orphans a reply (an
//! orphaned `XS_TRANSACTION_START` or `XS_WATCH` would leave state behind in xenstored).

use crate::abi;
use crate::abi_client::{EvtchnBinding, Port};
use crate::sys;
use crate::xs_wire::{
    self, Assembler, DirEntries, Message, Request, XenstoreDomainInterface, XsError, XsType,
    XENSTORE_PAYLOAD_MAX, XSD_SOCKMSG_BYTES, XS_MSG_MAX,
};
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use kernel::new_condvar;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{CondVar, CondVarTimeoutResult, Mutex};

/// How long a request may wait for ring space and for its reply, in milliseconds.
pub(crate) const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Requests in flight at once (further callers get `EBUSY`... no: they wait for a free slot).
const MAX_PENDING: usize = 64;
/// Watches registered at once: the kernel's own (the bus, its devices' backends, control) and,
/// within [`crate::xenbus_dev::MAX_DEV_WATCHES`] of them, those of `/dev/xen/xenbus` users.
const MAX_WATCHES: usize = 192;
/// Watch events queued before the dispatcher runs; beyond this, events are dropped (a flooding
/// xenstored must not exhaust memory).
const MAX_QUEUED_EVENTS: usize = 1024;
/// `ETIMEDOUT`.
const ETIMEDOUT: i32 = 110;

/// A watch callback: `cb(path, path_len, data)`, in process context (the `xenbus_watch`
/// workqueue); `path` (not NUL-terminated) is valid during the call only. It may issue xenstore
/// requests and register or unregister *other* watches.
pub(crate) type WatchCb = unsafe extern "C" fn(path: *const u8, len: usize, data: *mut c_void);

struct Slot {
    req_id: u32,
    /// The whole reply message (header + payload), once the reader delivered it.
    reply: Option<KVec<u8>>,
}

struct State {
    next_id: u32,
    slots: [Option<Slot>; MAX_PENDING],
    /// Set when the connection cannot be trusted any more (see the module docs).
    broken: bool,
    /// Set while the domain suspends ([`Xs::suspend`]): new requests wait.
    suspended: bool,
    /// Resumes in a new domain so far: a transaction started before one is gone.
    generation: u32,
}

/// The reader's partial message: header and payload bytes received so far.
struct Rx {
    /// [`XS_MSG_MAX`] bytes.
    buf: KVec<u8>,
    asm: Assembler,
}

struct WatchEntry {
    token: u64,
    cb: WatchCb,
    data: *mut c_void,
    /// The watched path, to register the watch again after a restore.
    path: KVec<u8>,
}

struct Watches {
    next_token: u64,
    list: [Option<WatchEntry>; MAX_WATCHES],
    /// Queued `(token, path)` events, oldest first.
    queue: KVec<(u64, KVec<u8>)>,
    /// Token whose callback is running (0: none).
    running: u64,
    dropped: u64,
}

// SAFETY: `data` pointers are only passed back to their callbacks, whose registrants guarantee
// they may be used from the watch workqueue.
unsafe impl Send for Watches {}

/// The xenstore connection. One instance, pinned in the module; reached from the work items and
/// the event handler through [`XS`].
#[pin_data]
pub(crate) struct Xs {
    page: sys::MemRemap,
    /// The xenstore event channel port (`HVM_PARAM_STORE_EVTCHN`; new after a restore).
    port: AtomicU32,
    /// The handler on `port`; replaced after a restore, dropped by [`Connection`]'s drop.
    #[pin]
    binding: Mutex<Option<EvtchnBinding>>,
    #[pin]
    st: Mutex<State>,
    #[pin]
    cv: CondVar,
    /// Serialises writers so messages are not interleaved on the ring.
    #[pin]
    wlock: Mutex<()>,
    #[pin]
    rx: Mutex<Rx>,
    #[pin]
    watches: Mutex<Watches>,
}

/// The live connection, for the work items and exported functions (null when not connected).
static XS: AtomicPtr<Xs> = AtomicPtr::new(null_mut());

/// The connection, if there is one. Valid while the module is loaded and connected: it is cleared
/// before the connection is torn down, after which no work item runs.
pub(crate) fn get() -> Option<&'static Xs> {
    let p = XS.load(Ordering::Acquire);
    // SAFETY: `p` is null or points to the pinned `Xs` of a `Connection`, which clears `XS`, unbinds
    // the event channel and drains the workqueues before freeing it.
    unsafe { p.as_ref() }
}

fn xs_err(e: XsError) -> Error {
    match e {
        XsError::Xenstore { errno } if errno > 0 && errno < 4096 => Error::from_errno(-errno),
        XsError::EmbeddedNul | XsError::BadNumber => EINVAL,
        XsError::RequestTooLarge { .. } | XsError::BufferTooSmall { .. } => E2BIG,
        _ => EIO,
    }
}

/// A reply: the whole message (validated by [`Xs::wait`]); [`Reply::payload`] is its body.
pub(crate) struct Reply {
    buf: KVec<u8>,
}

impl Reply {
    /// The payload bytes (an `XS_READ` value, a directory listing, ...).
    pub(crate) fn payload(&self) -> &[u8] {
        &self.buf[XSD_SOCKMSG_BYTES..]
    }

    /// The names of an `XS_DIRECTORY` reply.
    ///
    /// # Errors
    /// `EIO` if the listing is not NUL-terminated.
    pub(crate) fn entries(&self) -> Result<DirEntries<'_>> {
        DirEntries::new(self.payload()).map_err(|e| {
            pr_err!("xenstore directory listing refused: {:?}\n", e);
            EIO
        })
    }
}

/// A request sent and not yet answered (the async half of [`Xs::request`]).
#[must_use = "a pending request must be waited for (Xs::wait), or its slot stays in use until the reply"]
pub(crate) struct Pending {
    req_id: u32,
    ty: XsType,
}

impl Xs {
    fn intf(&self) -> &XenstoreDomainInterface {
        // SAFETY: the mapping is a whole page (4096 bytes ≥ size_of::<XenstoreDomainInterface>() =
        // 2076), page-aligned, and lives as long as `self`; the interface consists of atomics only,
        // so shared access with xenstored is data-race free.
        unsafe { &*(self.page.addr() as *const XenstoreDomainInterface) }
    }

    fn notify(&self) {
        let port = Port(self.port.load(Ordering::Acquire));
        if let Err(e) = port.notify() {
            pr_err!("xenstore: notify on port {} failed: {}\n", port.0, e);
        }
    }

    fn mark_broken(&self, why: core::fmt::Arguments<'_>) {
        pr_err!(
            "xenstore connection broken: {}; all requests now fail with EIO\n",
            why
        );
        let mut st = self.st.lock();
        st.broken = true;
        drop(st);
        self.cv.notify_all();
    }

    /// Sends `req` (inside transaction `tx`, 0 for none) and returns without waiting for the reply.
    ///
    /// # Errors
    /// `EINVAL` for a path with a NUL byte, `E2BIG` beyond [`XENSTORE_PAYLOAD_MAX`], `EIO` if the
    /// connection is broken, `ETIMEDOUT` if no request slot or ring space frees up in time.
    pub(crate) fn submit(&self, tx: u32, req: Request<'_>) -> Result<Pending> {
        let len = XSD_SOCKMSG_BYTES + req.payload_len();
        if len > XSD_SOCKMSG_BYTES + XENSTORE_PAYLOAD_MAX {
            return Err(E2BIG);
        }
        let mut msg = KVec::from_elem(0u8, len, GFP_KERNEL)?;
        // Claim a slot and an id.
        let mut deadline = sys::jiffies() + sys::ms_to_jiffies(REQUEST_TIMEOUT_MS);
        let req_id = {
            let mut st = self.st.lock();
            loop {
                if st.broken {
                    return Err(EIO);
                }
                if st.suspended {
                    // The domain is being saved: wait, however long that takes (the time
                    // does not count against the request's).
                    let short = sys::jiffies() + sys::ms_to_jiffies(100);
                    self.wait_until(&mut st, short)?;
                    deadline = sys::jiffies() + sys::ms_to_jiffies(REQUEST_TIMEOUT_MS);
                    continue;
                }
                if let Some(i) = st.slots.iter().position(|s| s.is_none()) {
                    let mut id = st.next_id;
                    while st.slots.iter().flatten().any(|s| s.req_id == id) {
                        id = id.wrapping_add(1);
                    }
                    st.next_id = id.wrapping_add(1);
                    st.slots[i] = Some(Slot {
                        req_id: id,
                        reply: None,
                    });
                    break id;
                }
                if self.wait_until(&mut st, deadline)? {
                    return Err(Error::from_errno(-ETIMEDOUT));
                }
            }
        };
        let pending = Pending {
            req_id,
            ty: req.ty(),
        };
        let res = req
            .encode(req_id, tx, &mut msg)
            .map_err(xs_err)
            .and_then(|_| self.send(&msg, deadline));
        if let Err(e) = res {
            self.release(req_id);
            return Err(e);
        }
        Ok(pending)
    }

    /// Waits on `cv` until notified or `deadline` (jiffies). Returns `Ok(true)` on timeout.
    fn wait_until<T>(
        &self,
        g: &mut kernel::sync::lock::Guard<'_, T, kernel::sync::lock::mutex::MutexBackend>,
        deadline: u64,
    ) -> Result<bool> {
        let now = sys::jiffies();
        if now >= deadline {
            return Ok(true);
        }
        match self
            .cv
            .wait_interruptible_timeout(g, (deadline - now) as kernel::time::Jiffies)
        {
            CondVarTimeoutResult::Timeout => Ok(true),
            CondVarTimeoutResult::Woken { .. } => Ok(false),
            CondVarTimeoutResult::Signal { .. } => Err(EINTR),
        }
    }

    fn release(&self, req_id: u32) {
        let mut st = self.st.lock();
        for s in st.slots.iter_mut() {
            if s.as_ref().is_some_and(|s| s.req_id == req_id) {
                *s = None;
            }
        }
        drop(st);
        // Someone may be waiting for a free slot.
        self.cv.notify_all();
    }

    /// Writes a whole message to the request ring, waiting for space (bounded by `deadline`).
    fn send(&self, msg: &[u8], deadline: u64) -> Result {
        let _w = self.wlock.lock();
        let mut off = 0;
        while off < msg.len() {
            let io = self.intf().write_requests(&msg[off..]).map_err(|e| {
                self.mark_broken(format_args!("request ring indices: {:?}", e));
                EIO
            })?;
            if io.notify {
                self.notify();
            }
            off += io.bytes;
            if off < msg.len() {
                // Ring full: xenstored notifies when it consumed requests. Poll as well, in
                // case that notification raced with us.
                let mut st = self.st.lock();
                if st.broken {
                    return Err(EIO);
                }
                let short = (sys::jiffies() + sys::ms_to_jiffies(10)).min(deadline);
                if self.wait_until(&mut st, short).is_err() {
                    // A signal: part of the message may be on the ring already, so finish it.
                    drop(st);
                    sys::msleep(10);
                    st = self.st.lock();
                }
                if sys::jiffies() >= deadline {
                    pr_err!(
                        "xenstore: request ring full for {} ms\n",
                        REQUEST_TIMEOUT_MS
                    );
                    // A partial message is on the ring: the stream is out of sync.
                    drop(st);
                    self.mark_broken(format_args!("request ring stuck"));
                    return Err(Error::from_errno(-ETIMEDOUT));
                }
            }
        }
        Ok(())
    }

    /// Waits for the reply to `p` and validates it (id, type, `XS_ERROR` → errno).
    ///
    /// # Errors
    /// The errno xenstored sent (`ENOENT`, `EACCES`, `EAGAIN` for a conflicting transaction, ...,
    /// see `xs_wire::XSD_ERRORS`), `EIO` for a broken connection or a malformed reply,
    /// `ETIMEDOUT` after [`REQUEST_TIMEOUT_MS`].
    pub(crate) fn wait(&self, p: Pending) -> Result<Reply> {
        let buf = self.wait_buf(&p)?;
        let (msg, _) = Message::parse(&buf).map_err(xs_err)?;
        match msg.reply_to(p.req_id, p.ty) {
            Ok(_) => Ok(Reply { buf }),
            Err(e @ XsError::Xenstore { .. }) => Err(xs_err(e)),
            Err(e) => {
                pr_err!(
                    "xenstore: bad reply to {:?} request {}: {:?}\n",
                    p.ty,
                    p.req_id,
                    e
                );
                Err(EIO)
            }
        }
    }

    /// Waits for the reply to `p` (a signal does not end the wait, see the module docs) and
    /// returns the whole message as the reader delivered it (header checked, `req_id` matching).
    ///
    /// # Errors
    /// `EIO` for a broken connection, `ETIMEDOUT` after [`REQUEST_TIMEOUT_MS`].
    fn wait_buf(&self, p: &Pending) -> Result<KVec<u8>> {
        let deadline = sys::jiffies() + sys::ms_to_jiffies(REQUEST_TIMEOUT_MS);
        let buf = {
            let mut st = self.st.lock();
            loop {
                let slot = st.slots.iter_mut().flatten().find(|s| s.req_id == p.req_id);
                match slot {
                    Some(s) if s.reply.is_some() => break s.reply.take(),
                    Some(_) => {}
                    None => break None,
                }
                if st.broken {
                    break None;
                }
                match self.wait_until(&mut st, deadline) {
                    Ok(false) => {}
                    Ok(true) => {
                        drop(st);
                        self.release(p.req_id);
                        pr_err!(
                            "xenstore: no reply to request {} ({:?}) within {} ms\n",
                            p.req_id,
                            p.ty,
                            REQUEST_TIMEOUT_MS
                        );
                        return Err(Error::from_errno(-ETIMEDOUT));
                    }
                    Err(_) => {
                        // A signal: the request is out, its reply is coming.
                        drop(st);
                        sys::msleep(10);
                        st = self.st.lock();
                    }
                }
            }
        };
        self.release(p.req_id);
        buf.ok_or(EIO)
    }

    /// Sends a request of type `ty` with `payload` exactly as given (inside transaction `tx`)
    /// and returns xenstored's whole reply message (header + payload), which is of type `ty` or
    /// `XS_ERROR` and carries our `req_id`: the path of `/dev/xen/xenbus` (`xenbus_dev.rs`).
    ///
    /// # Errors
    /// As [`Xs::submit`] and [`Xs::wait`], except that an `XS_ERROR` reply is returned, not
    /// turned into an errno; `EIO` for a reply of another type.
    pub(crate) fn request_raw(&self, tx: u32, ty: XsType, payload: &[u8]) -> Result<KVec<u8>> {
        let p = self.submit(tx, Request::Raw { ty, payload })?;
        let buf = self.wait_buf(&p)?;
        let (msg, _) = Message::parse(&buf).map_err(xs_err)?;
        if msg.ty != ty && msg.ty != XsType::Error {
            pr_err!(
                "xenstore: bad reply to {:?} request {}: type {:?}\n",
                ty,
                p.req_id,
                msg.ty
            );
            return Err(EIO);
        }
        Ok(buf)
    }

    /// Sends `req` and waits for its reply (see [`Xs::submit`] and [`Xs::wait`] for errors).
    pub(crate) fn request(&self, tx: u32, req: Request<'_>) -> Result<Reply> {
        let p = self.submit(tx, req)?;
        self.wait(p)
    }

    /// `XS_READ`: the value of `path` (relative paths are under this domain's home,
    /// `/local/domain/<domid>`).
    pub(crate) fn read(&self, tx: u32, path: &[u8]) -> Result<Reply> {
        self.request(tx, Request::Read(path))
    }

    /// Reads `path` as a decimal `u32` (surrounding whitespace or a trailing NUL ignored).
    ///
    /// # Errors
    /// As [`Xs::read`], `EINVAL` if the value is not a number.
    pub(crate) fn read_u32(&self, tx: u32, path: &[u8]) -> Result<u32> {
        let r = self.read(tx, path)?;
        let v = trim(r.payload());
        xs_wire::parse_u32(v).map_err(|_| EINVAL)
    }

    /// `XS_WRITE`: sets `path` to `value` (creating parents).
    pub(crate) fn write(&self, tx: u32, path: &[u8], value: &[u8]) -> Result {
        self.request(tx, Request::Write { path, value }).map(drop)
    }

    /// `XS_MKDIR`.
    pub(crate) fn mkdir(&self, tx: u32, path: &[u8]) -> Result {
        self.request(tx, Request::Mkdir(path)).map(drop)
    }

    /// `XS_RM`: removes `path` and its subtree.
    pub(crate) fn rm(&self, tx: u32, path: &[u8]) -> Result {
        self.request(tx, Request::Rm(path)).map(drop)
    }

    /// `XS_DIRECTORY`: the children of `path` (iterate with [`Reply::entries`]).
    pub(crate) fn directory(&self, tx: u32, path: &[u8]) -> Result<Reply> {
        self.request(tx, Request::Directory(path))
    }

    /// `XS_TRANSACTION_START`: a new transaction id.
    ///
    /// # Errors
    /// As [`Xs::request`]; `EIO` if the id is not a number.
    pub(crate) fn transaction_start(&self) -> Result<u32> {
        let r = self.request(0, Request::TransactionStart)?;
        let (msg, _) = Message::parse(&r.buf).map_err(xs_err)?;
        let id = msg
            .reply_to(msg.header.req_id, XsType::TransactionStart)
            .and_then(|r| r.transaction_id())
            .map_err(|e| {
                pr_err!("xenstore: bad transaction id: {:?}\n", e);
                EIO
            })?;
        if id == 0 {
            pr_err!("xenstore: transaction id 0 refused\n");
            return Err(EIO);
        }
        Ok(id)
    }

    /// `XS_TRANSACTION_END`: commits (or aborts) `tx`.
    ///
    /// # Errors
    /// `EAGAIN` if a commit conflicted with another writer: redo the whole transaction.
    pub(crate) fn transaction_end(&self, tx: u32, commit: bool) -> Result {
        self.request(tx, Request::TransactionEnd { commit })
            .map(drop)
    }

    /// Runs `f(tx)` in a transaction and commits it, retrying the whole transaction up to 10
    /// times when the commit (or a request in it) fails with `EAGAIN`. `f`'s error aborts.
    pub(crate) fn transaction<T>(&self, mut f: impl FnMut(u32) -> Result<T>) -> Result<T> {
        let mut tries = 0;
        loop {
            tries += 1;
            let generation = self.st.lock().generation;
            let tx = self.transaction_start()?;
            let r = match f(tx) {
                Ok(v) => self.transaction_end(tx, true).map(|()| v),
                Err(e) => {
                    let _ = self.transaction_end(tx, false);
                    Err(e)
                }
            };
            // A transaction that spanned a restore is gone from the new xenstored: redo it.
            let restored = r.is_err() && self.st.lock().generation != generation;
            match r {
                Err(e) if (e == EAGAIN || restored) && tries < 10 => continue,
                r => return r,
            }
        }
    }

    /// Registers a watch on `path` (and its subtree). xenstored fires it once at once, then at
    /// every change. Returns the token, for [`Xs::unwatch`].
    ///
    /// # Errors
    /// `ENOSPC` when [`MAX_WATCHES`] are registered, else as [`Xs::request`].
    ///
    /// # Safety
    /// `data` must stay valid for `cb` until `unwatch` returns, and `cb` must be callable from the
    /// watch workqueue with it.
    pub(crate) unsafe fn watch(&self, path: &[u8], cb: WatchCb, data: *mut c_void) -> Result<u64> {
        let mut copy = KVec::new();
        copy.extend_from_slice(path, GFP_KERNEL)?;
        let token = {
            let mut w = self.watches.lock();
            let Some(i) = w.list.iter().position(|e| e.is_none()) else {
                return Err(ENOSPC);
            };
            w.next_token += 1;
            let token = w.next_token;
            w.list[i] = Some(WatchEntry {
                token,
                cb,
                data,
                path: copy,
            });
            token
        };
        let mut tok = [0u8; 24];
        let t = fmt_token(token, &mut tok);
        if let Err(e) = self.request(0, Request::Watch { path, token: t }) {
            self.forget_watch(token);
            return Err(e);
        }
        Ok(token)
    }

    fn forget_watch(&self, token: u64) {
        let mut w = self.watches.lock();
        for e in w.list.iter_mut() {
            if e.as_ref().is_some_and(|e| e.token == token) {
                *e = None;
            }
        }
    }

    /// Removes a watch: after this returns its callback is not running and will not be called
    /// again. Must not be called from that watch's own callback (it would wait for itself, and
    /// gives up after [`REQUEST_TIMEOUT_MS`] with a message).
    pub(crate) fn unwatch(&self, path: &[u8], token: u64) {
        self.forget_watch(token);
        let mut tok = [0u8; 24];
        let t = fmt_token(token, &mut tok);
        if let Err(e) = self.request(0, Request::Unwatch { path, token: t }) {
            // Events for an unknown token are dropped by the dispatcher: harmless.
            pr_warn!("xenstore: unwatch failed: {}\n", e.to_errno());
        }
        let deadline = sys::jiffies() + sys::ms_to_jiffies(REQUEST_TIMEOUT_MS);
        let mut w = self.watches.lock();
        while w.running == token {
            match self.wait_until(&mut w, deadline) {
                Ok(false) => {}
                _ => {
                    pr_err!("xenstore: watch callback still running after unwatch\n");
                    break;
                }
            }
        }
    }

    /// `XS_RESET_WATCHES`: drops every watch this domain has (e.g. left by a previous load).
    pub(crate) fn reset_watches(&self) -> Result {
        self.request(0, Request::ResetWatches).map(drop)
    }

    /// The reader: moves complete messages off the response ring (reassembly:
    /// `xs_wire::Assembler`). Runs in the `xenbus_rx` work.
    fn rx(&self) {
        let mut guard = self.rx.lock();
        let rx = &mut *guard;
        loop {
            if self.st.lock().broken {
                return;
            }
            let mut notify = false;
            let r = rx.asm.poll(&mut rx.buf, |dst| {
                let io = self.intf().read_responses(dst)?;
                notify |= io.notify;
                Ok(io.bytes)
            });
            if notify {
                self.notify();
            }
            match r {
                Ok(Some(n)) => self.deliver(&rx.buf[..n]),
                // Nothing more for now; the next event queues us again.
                Ok(None) => return,
                Err(e) => {
                    self.mark_broken(format_args!("bad data from xenstored: {:?}", e));
                    return;
                }
            }
        }
    }

    fn deliver(&self, m: &[u8]) {
        let (msg, _) = match Message::parse(m) {
            Ok(v) => v,
            Err(e) => {
                pr_err!("xenstore: dropping malformed message: {:?}\n", e);
                return;
            }
        };
        if msg.ty == XsType::WatchEvent {
            self.queue_event(&msg);
            return;
        }
        let Ok(copy) = KVec::from_elem(0u8, m.len(), GFP_KERNEL).map(|mut v| {
            v.copy_from_slice(m);
            v
        }) else {
            pr_err!("xenstore: out of memory for a reply; its waiter will time out\n");
            return;
        };
        let mut st = self.st.lock();
        let slot = st
            .slots
            .iter_mut()
            .flatten()
            .find(|s| s.req_id == msg.header.req_id && s.reply.is_none());
        match slot {
            Some(s) => {
                s.reply = Some(copy);
                drop(st);
                self.cv.notify_all();
            }
            None => {
                drop(st);
                pr_warn!(
                    "xenstore: dropping a {:?} reply with unknown req_id {} (no waiter)\n",
                    msg.ty,
                    msg.header.req_id
                );
            }
        }
    }

    fn queue_event(&self, msg: &Message<'_>) {
        let ev = match msg.watch_event() {
            Ok(ev) => ev,
            Err(e) => {
                pr_err!("xenstore: dropping malformed watch event: {:?}\n", e);
                return;
            }
        };
        let Some(token) = parse_token(ev.token) else {
            // Not one of ours (e.g. left by a previous instance before XS_RESET_WATCHES).
            return;
        };
        let mut path = KVec::new();
        if path.extend_from_slice(ev.path, GFP_KERNEL).is_err() {
            pr_err!("xenstore: out of memory, watch event dropped\n");
            return;
        }
        let mut w = self.watches.lock();
        if w.queue.len() >= MAX_QUEUED_EVENTS {
            w.dropped += 1;
            if w.dropped.is_power_of_two() {
                pr_err!(
                    "xenstore: watch event queue full, {} events dropped\n",
                    w.dropped
                );
            }
            return;
        }
        if w.queue.push((token, path), GFP_KERNEL).is_err() {
            pr_err!("xenstore: out of memory, watch event dropped\n");
            return;
        }
        drop(w);
        sys::watch_kick();
    }

    /// The dispatcher: calls the callbacks of queued events, in order. Runs in the
    /// `xenbus_watch` work.
    fn dispatch(&self) {
        loop {
            let batch = core::mem::replace(&mut self.watches.lock().queue, KVec::new());
            if batch.is_empty() {
                return;
            }
            for (token, path) in batch {
                let entry = {
                    let mut w = self.watches.lock();
                    let e = w
                        .list
                        .iter()
                        .flatten()
                        .find(|e| e.token == token)
                        .map(|e| (e.cb, e.data));
                    if e.is_some() {
                        w.running = token;
                    }
                    e
                };
                let Some((cb, data)) = entry else { continue };
                // SAFETY: the registrant of the watch guaranteed `data` stays valid for `cb` until
                // `unwatch` returns, and `unwatch` waits while `running` is this token.
                unsafe { cb(path.as_ptr(), path.len(), data) };
                self.watches.lock().running = 0;
                self.cv.notify_all();
            }
        }
    }
}

impl Xs {
    /// Quiesces xenstore for a suspend (Linux's `xs_suspend`): new requests wait from now on,
    /// and this returns once every request in flight has its reply. The caller (the control
    /// watch) holds the watch dispatcher, so no other watch callback runs until [`Xs::resume`].
    ///
    /// # Errors
    /// `EBUSY` when requests are still unanswered after 5 s: the gate is opened again and the
    /// suspend must be refused.
    pub(crate) fn suspend(&self) -> Result {
        let mut st = self.st.lock();
        st.suspended = true;
        let deadline = sys::jiffies() + sys::ms_to_jiffies(5000);
        while st.slots.iter().any(|s| s.is_some()) {
            if !matches!(self.wait_until(&mut st, deadline), Ok(false)) {
                st.suspended = false;
                drop(st);
                self.cv.notify_all();
                return Err(EBUSY);
            }
        }
        Ok(())
    }

    /// Drops the responses nobody waits for (xenstored's `rsp_prod` ahead of our `rsp_cons`, in
    /// bytes of `xs_wire.h`'s response ring) and warns if the request ring is not drained, as
    /// Linux's `xb_init_comms`. `why` names where the stale bytes come from, for the log. Called
    /// with no request in flight (at connect, or with the connection suspended).
    fn discard_stale(&self, why: &str) {
        let intf = self.intf();
        let (rc, rp) = (
            intf.rsp_cons.load(Ordering::Acquire),
            intf.rsp_prod.load(Ordering::Acquire),
        );
        if rc != rp {
            pr_warn!(
                "xenstore: {} bytes of responses {}: discarded\n",
                rp.wrapping_sub(rc),
                why
            );
            intf.rsp_cons.store(rp, Ordering::Release);
        }
        let (qc, qp) = (
            intf.req_cons.load(Ordering::Acquire),
            intf.req_prod.load(Ordering::Acquire),
        );
        if qc != qp {
            pr_warn!(
                "xenstore request ring not quiescent ({} bytes pending)\n",
                qp.wrapping_sub(qc)
            );
        }
    }

    /// Ends a suspend (Linux's `xs_resume` / `xs_suspend_cancel`). After a resume in a new
    /// domain (`new_domain`): the response ring's stale bytes are discarded and the reader's
    /// partial message dropped (as `xb_init_comms`), the event channel is read again from
    /// `HVM_PARAM_STORE_EVTCHN` and bound (the old port is gone), transactions begun before are
    /// redone by [`Xs::transaction`], and every watch is registered again with its token (the
    /// new xenstored knows none; each fires once at once, so watchers read the new state).
    /// Then waiting requests go.
    pub(crate) fn resume(&self, new_domain: bool) {
        if new_domain {
            {
                let mut rx = self.rx.lock();
                rx.asm = Assembler::new();
                self.discard_stale("from before the save");
            }
            match crate::abi_client::hvm_get_param(crate::hvm::param::STORE_EVTCHN) {
                Ok(p) if p != 0 && p <= u64::from(u32::MAX) => {
                    self.port.store(p as u32, Ordering::Release);
                    let data = core::ptr::from_ref::<Xs>(self).cast_mut().cast::<c_void>();
                    let mut b = self.binding.lock();
                    // The old binding is of the old domain: dropping it unbinds nothing.
                    *b = None;
                    // SAFETY: `self` is the pinned `Xs` of the `Connection`, whose drop clears the
                    // binding before freeing it; the handler only queues work and wakes waiters.
                    match unsafe { EvtchnBinding::new(Port(p as u32), xs_event, data) } {
                        Ok(nb) => *b = Some(nb),
                        Err(e) => {
                            drop(b);
                            self.mark_broken(format_args!(
                                "cannot bind event channel {} after restore: {}",
                                p, e
                            ));
                        }
                    }
                }
                r => self.mark_broken(format_args!(
                    "no xenstore event channel after restore ({:?})",
                    r
                )),
            }
        }
        {
            let mut st = self.st.lock();
            st.suspended = false;
            if new_domain {
                st.generation = st.generation.wrapping_add(1);
            }
        }
        self.cv.notify_all();
        sys::rx_kick();
        if !new_domain {
            return;
        }
        // Register every watch again. Collected first: the requests must not hold the lock.
        let mut todo: KVec<(u64, KVec<u8>)> = KVec::new();
        {
            let w = self.watches.lock();
            for e in w.list.iter().flatten() {
                let mut p = KVec::new();
                if p.extend_from_slice(&e.path, GFP_KERNEL).is_err()
                    || todo.push((e.token, p), GFP_KERNEL).is_err()
                {
                    pr_err!("xenstore: out of memory: a watch is not registered again\n");
                }
            }
        }
        let mut failed = 0;
        for (token, path) in todo.iter() {
            let mut tok = [0u8; 24];
            let t = fmt_token(*token, &mut tok);
            if self.request(0, Request::Watch { path, token: t }).is_err() {
                failed += 1;
            }
        }
        if failed != 0 {
            pr_err!(
                "xenstore: {} of {} watches could not be registered again after restore\n",
                failed,
                todo.len()
            );
        } else {
            pr_info!(
                "xenstore: reconnected, {} watches registered again\n",
                todo.len()
            );
        }
    }
}

/// Strips ASCII whitespace and NULs around a value.
pub(crate) fn trim(mut v: &[u8]) -> &[u8] {
    while let [rest @ .., last] = v {
        if last.is_ascii_whitespace() || *last == 0 {
            v = rest;
        } else {
            break;
        }
    }
    while let [first, rest @ ..] = v {
        if first.is_ascii_whitespace() {
            v = rest;
        } else {
            break;
        }
    }
    v
}

/// Our watch tokens: `xpv<decimal>`.
fn fmt_token(token: u64, buf: &mut [u8; 24]) -> &[u8] {
    buf[..3].copy_from_slice(b"xpv");
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut t = token;
    loop {
        digits[n] = b'0' + (t % 10) as u8;
        n += 1;
        t /= 10;
        if t == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[3 + i] = digits[n - 1 - i];
    }
    &buf[..3 + n]
}

fn parse_token(t: &[u8]) -> Option<u64> {
    let d = t.strip_prefix(b"xpv")?;
    if d.is_empty() || d.len() > 19 {
        return None;
    }
    d.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// Event channel handler (hard IRQ, port masked): queue the reader, wake writers waiting for
/// ring space.
///
/// # Safety
/// Called by xen_platform's event dispatch only, with the `data` given at binding (the `Xs`).
unsafe extern "C" fn xs_event(_port: u32, data: *mut c_void) -> u32 {
    sys::rx_kick();
    // SAFETY: `data` is the pinned `Xs`, valid until the binding is dropped (before it is freed).
    let xs = unsafe { &*(data as *const Xs) };
    xs.cv.notify_all();
    abi::evtchn_ret::EOI
}

/// Called from `helpers.c`'s reader work item.
#[no_mangle]
pub(crate) extern "C" fn xpv_xenbus_rx_work() {
    if let Some(xs) = get() {
        xs.rx();
    }
}

/// Called from `helpers.c`'s watch work item.
#[no_mangle]
pub(crate) extern "C" fn xpv_xenbus_watch_work() {
    if let Some(xs) = get() {
        xs.dispatch();
    }
}

/// The connection and everything that keeps it alive; dropping it disconnects (unbinds the event
/// channel, drains the workqueues, unmaps the page). The xenstore port is Xen's: never closed.
pub(crate) struct Connection {
    xs: Pin<KBox<Xs>>,
}

impl Connection {
    /// Connects to xenstore: maps the ring page of `HVM_PARAM_STORE_PFN`, binds
    /// `HVM_PARAM_STORE_EVTCHN`, discards stale responses, and sends `XS_RESET_WATCHES`.
    ///
    /// # Errors
    /// The errno of the HVM parameter reads, `ENODEV` for a zero pfn or port, `ENOMEM`, the
    /// binding's errno, or that of the first request.
    pub(crate) fn new() -> Result<Self> {
        let pfn = crate::abi_client::hvm_get_param(crate::hvm::param::STORE_PFN)?;
        let evtchn = crate::abi_client::hvm_get_param(crate::hvm::param::STORE_EVTCHN)?;
        if pfn == 0 || evtchn == 0 || evtchn > u64::from(u32::MAX) || pfn >= (1u64 << 52) {
            pr_err!(
                "no usable xenstore: store pfn {:#x}, event channel {}\n",
                pfn,
                evtchn
            );
            return Err(ENODEV);
        }
        let page = sys::MemRemap::new(pfn << 12, 4096)?;
        sys::wq_init()?;
        let xs = match KBox::pin_init(
            pin_init!(Xs {
                page,
                port: AtomicU32::new(evtchn as u32),
                binding <- new_mutex!(None),
                st <- new_mutex!(State {
                    next_id: 1,
                    slots: [const { None }; MAX_PENDING],
                    broken: false,
                    suspended: false,
                    generation: 0,
                }),
                cv <- new_condvar!(),
                wlock <- new_mutex!(()),
                rx <- new_mutex!(Rx { buf: KVec::new(), asm: Assembler::new() }),
                watches <- new_mutex!(Watches {
                    next_token: 0,
                    list: [const { None }; MAX_WATCHES],
                    queue: KVec::new(),
                    running: 0,
                    dropped: 0,
                }),
            }),
            GFP_KERNEL,
        ) {
            Ok(x) => x,
            Err(e) => {
                sys::wq_destroy();
                return Err(e);
            }
        };
        let conn = Connection { xs };
        {
            let mut rx = conn.xs.rx.lock();
            rx.buf = KVec::from_elem(0u8, XS_MSG_MAX, GFP_KERNEL)?;
        }
        // As xb_init_comms: a previous user (e.g. an earlier load of this module) may have left
        // replies nobody waits for.
        conn.xs.discard_stale("left by an earlier user");
        let data = core::ptr::from_ref::<Xs>(&*conn.xs)
            .cast_mut()
            .cast::<c_void>();
        XS.store(data.cast(), Ordering::Release);
        // SAFETY: `data` points to the pinned `Xs`, which outlives the binding (dropped first in
        // `Drop`); the handler only queues work and wakes waiters, both fine in hard IRQ context.
        let binding = unsafe { EvtchnBinding::new(Port(evtchn as u32), xs_event, data) }?;
        *conn.xs.binding.lock() = Some(binding);
        // Watches of an earlier load of this module would fire into nothing (their tokens are
        // ignored anyway); a xenstored without XS_RESET_WATCHES is not fatal.
        if let Err(e) = conn.xs.reset_watches() {
            if e == EIO || e.to_errno() == -ETIMEDOUT {
                pr_err!(
                    "xenstore does not answer (XS_RESET_WATCHES): errno {}\n",
                    -e.to_errno()
                );
                return Err(e);
            }
            pr_warn!(
                "XS_RESET_WATCHES refused (errno {}), continuing\n",
                -e.to_errno()
            );
        }
        pr_info!(
            "xenstore connected: ring at pfn {:#x}, event channel {}\n",
            pfn,
            evtchn
        );
        Ok(conn)
    }

    /// The client.
    pub(crate) fn xs(&self) -> &Xs {
        &self.xs
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // No new events, then no running work items, then nobody can reach `xs`.
        *self.xs.binding.lock() = None;
        sys::wq_destroy();
        XS.store(null_mut(), Ordering::Release);
    }
}
