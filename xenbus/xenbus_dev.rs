// SPDX-License-Identifier: GPL-2.0
//! `/dev/xen/xenbus`: xenstore for processes in the guest, as Linux's
//! `drivers/xen/xenbus/xenbus_dev_frontend.c` offers it, so that libxenstore (`xenstore-read`,
//! `xenstore-write`, `xenstore-ls`, `xenstore-watch`, guest agents) works unmodified.
//!
//! A process writes `struct xsd_sockmsg` requests (header + payload, possibly over several
//! `write()` calls) and reads the replies, with its own `req_id`, and `XS_WATCH_EVENT` messages
//! carrying its own watch tokens. The file operations are C (`xenbus_dev.c`: misc device
//! "xen/xenbus", mode 0600, owner this module); this file does the rest, with the pure parts
//! (framing, validation, transaction ids, encodings, the read queue) in
//! `xen_proto/src/xs_dev.rs`:
//! - requests of the types in `xs_dev::allowed` go to xenstored with their payload as written
//!   (through [`Xs::request_raw`]); others get an `XS_ERROR` `EINVAL` reply;
//! - a transaction id must be one this open file started (else `XS_ERROR` `ENOENT`), at most
//!   [`MAX_FILE_TRANSACTIONS`] at once; `XS_WATCH` registers a watch of the kernel's client
//!   whose events are queued to this file with the process's token, at most
//!   [`MAX_FILE_WATCHES`] per file and [`MAX_DEV_WATCHES`] in all;
//! - what the process has yet to read is bounded ([`READ_QUEUE_BYTES`]): watch events beyond it
//!   are dropped (with a message), a request is refused (`ENOBUFS`) while its reply might not fit;
//! - on the last close, the file's transactions are aborted (`XS_TRANSACTION_END` `F`) and its
//!   watches removed, in a work item (`xenbus_dev.c`).
//!
//! One request per file is in flight at a time: `write()` returns once its reply is queued
//! (Linux queues the reply asynchronously; libxenstore cannot tell the difference).

use crate::sys;
use crate::xs::{self, Xs};
use crate::xs_dev::{self, ByteFifo, DevRequest, Framer, TxIds, LOCAL_REPLY_MAX};
use crate::xs_wire::{XsType, XsdSockmsg, XSD_SOCKMSG_BYTES, XS_MSG_MAX};
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::alloc::KVVec;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

/// Watches of all `/dev/xen/xenbus` files together (the kernel's client holds up to 192; the
/// rest stays for the bus, its devices and control).
pub(crate) const MAX_DEV_WATCHES: usize = 128;
/// Watches one open file may hold.
const MAX_FILE_WATCHES: usize = 32;
/// Transactions one open file may have open (xenstored's own default quota per domain is 10).
const MAX_FILE_TRANSACTIONS: usize = 16;
/// Bytes of replies and events one open file queues for reading, at most. The last
/// [`XS_MSG_MAX`] bytes are kept for a reply: events are dropped beyond the rest.
const READ_QUEUE_BYTES: usize = 64 * 1024;
/// `ENOBUFS` (no such constant in the `kernel` crate).
const ENOBUFS: i32 = 105;
/// `ETIMEDOUT`.
const ETIMEDOUT: i32 = 110;

/// Watches registered by all files.
static DEV_WATCHES: AtomicUsize = AtomicUsize::new(0);

/// `/dev/xen/xenbus`, registered while it lives.
pub(crate) struct Device(());

impl Device {
    /// Registers the misc device "xen/xenbus" (devtmpfs: `/dev/xen/xenbus`).
    ///
    /// # Errors
    /// `ENOMEM`, or the errno of `misc_register`.
    pub(crate) fn register() -> Result<Self> {
        sys::xbdev_register()?;
        pr_info!("/dev/xen/xenbus registered\n");
        Ok(Self(()))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // No file is open (each holds a module reference); closed ones are torn down here.
        sys::xbdev_deregister();
    }
}

/// A watch registered for a file: the data of its callback, never changed after registration.
struct DevWatch {
    file: *const DevFile,
    path: KVec<u8>,
    /// The process's token, sent back in its events.
    token: KVec<u8>,
}

/// The request being assembled and what the file holds in xenstored.
struct MsgState {
    /// [`XS_MSG_MAX`] bytes.
    buf: KVec<u8>,
    framer: Framer,
    txs: TxIds<MAX_FILE_TRANSACTIONS>,
    /// Registered watches with the kernel client's token.
    watches: [Option<(KBox<DevWatch>, u64)>; MAX_FILE_WATCHES],
}

/// What the process has yet to read.
struct ReadQueue {
    /// [`READ_QUEUE_BYTES`] bytes.
    buf: KVVec<u8>,
    fifo: ByteFifo,
    dropped: u64,
}

/// One open file (the Rust part; `xenbus_dev.c` holds it in `struct xpv_xbdev_file`).
#[pin_data]
struct DevFile {
    /// The C part, for wake-ups.
    cfile: *mut c_void,
    /// Serialises writers, as Linux's `msgbuffer_mutex`.
    #[pin]
    msg: Mutex<MsgState>,
    /// The read queue, as Linux's `reply_mutex` and `read_buffers`.
    #[pin]
    rq: Mutex<ReadQueue>,
    /// Bytes in the read queue, for the lock-free test of `read()`'s wait and `poll()`.
    queued: AtomicUsize,
}

/// The error name of an errno for an `XS_ERROR` reply, or `None` for errors that are ours, not
/// xenstored's (they fail the `write()` instead).
fn reply_name(e: Error) -> Option<&'static str> {
    let errno = -e.to_errno();
    if e == EIO || e == ENOMEM || e == EINTR || errno == ETIMEDOUT {
        return None;
    }
    xs_dev::error_name(errno)
}

impl DevFile {
    fn new(cfile: *mut c_void) -> Result<Pin<KBox<Self>>> {
        let buf = KVec::from_elem(0u8, XS_MSG_MAX, GFP_KERNEL)?;
        let rbuf = KVVec::from_elem(0u8, READ_QUEUE_BYTES, GFP_KERNEL)?;
        KBox::pin_init(
            pin_init!(DevFile {
                cfile,
                msg <- new_mutex!(MsgState {
                    buf,
                    framer: Framer::new(),
                    txs: TxIds::new(),
                    watches: [const { None }; MAX_FILE_WATCHES],
                }),
                rq <- new_mutex!(ReadQueue {
                    buf: rbuf,
                    fifo: ByteFifo::new(),
                    dropped: 0,
                }),
                queued: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues `parts` (one message) for reading if it fits in `room` bytes of queue.
    fn push(&self, room: usize, parts: &[&[u8]]) -> bool {
        let mut rq = self.rq.lock();
        let ReadQueue { buf, fifo, .. } = &mut *rq;
        if !fifo.push(buf, room, parts) {
            return false;
        }
        self.queued.store(fifo.len(), Ordering::Release);
        drop(rq);
        // SAFETY: `cfile` is the C part of this file, which outlives it.
        unsafe { sys::xbdev_wake(self.cfile) };
        true
    }

    /// Queues a reply (room for it was checked before the request, see [`DevFile::execute`]).
    fn push_reply(&self, msg: &[u8]) -> Result {
        if self.push(READ_QUEUE_BYTES, &[msg]) {
            Ok(())
        } else {
            pr_err!("/dev/xen/xenbus: read queue full, reply dropped\n");
            Err(Error::from_errno(-ENOBUFS))
        }
    }

    /// Queues a reply of the device's own (`OK` or an error name) to request `hdr`.
    fn reply_local(&self, hdr: &XsdSockmsg, ty: XsType, body: &str) -> Result {
        let mut out = [0u8; LOCAL_REPLY_MAX];
        let n = xs_dev::local_reply(hdr, ty, body, &mut out);
        self.push_reply(&out[..n])
    }

    /// Queues a watch event with the process's token; dropped (with a message) when the queue
    /// is full.
    fn push_event(&self, path: &[u8], token: &[u8]) {
        let hdr = match xs_dev::watch_event_header(path, token) {
            Ok(h) => h,
            Err(e) => {
                pr_err!("/dev/xen/xenbus: watch event not queued: {:?}\n", e);
                return;
            }
        };
        if !self.push(
            READ_QUEUE_BYTES - XS_MSG_MAX,
            &[&hdr, path, b"\0", token, b"\0"],
        ) {
            let mut rq = self.rq.lock();
            rq.dropped += 1;
            if rq.dropped.is_power_of_two() {
                pr_err!(
                    "/dev/xen/xenbus: read queue of a file full ({} bytes unread): {} watch events dropped\n",
                    rq.fifo.len(),
                    rq.dropped
                );
            }
        }
    }

    /// `read()`: copies queued bytes (across message boundaries, as Linux) without waiting.
    ///
    /// # Errors
    /// `EAGAIN` when nothing is queued (the C side waits), `EFAULT`.
    fn read(&self, ubuf: usize, len: usize) -> Result<usize> {
        if len == 0 {
            return Ok(0);
        }
        let mut rq = self.rq.lock();
        let ReadQueue { buf, fifo, .. } = &mut *rq;
        if fifo.is_empty() {
            return Err(EAGAIN);
        }
        let n = len.min(fifo.len());
        let mut w = crate::kernel_common::user_slice(ubuf, len).writer();
        let (a, b) = fifo.peek(buf);
        let na = n.min(a.len());
        w.write_slice(&a[..na])?;
        let mut done = na;
        if n > na && w.write_slice(&b[..n - na]).is_ok() {
            done = n;
        }
        fifo.consume(buf.len(), done);
        self.queued.store(fifo.len(), Ordering::Release);
        Ok(done)
    }

    /// `write()`: takes bytes up to the end of the current message; a complete message is
    /// validated and carried out before returning.
    ///
    /// # Errors
    /// `E2BIG` for a header claiming more than `XENSTORE_PAYLOAD_MAX` bytes (the partial
    /// message is dropped), `EFAULT`, `ENOBUFS` if the reply might not fit in the read queue,
    /// `ERESTARTSYS` on a signal before the request went out (this write's bytes are not taken),
    /// `EIO`/`ETIMEDOUT`/`ENOMEM` from the xenstore client.
    fn write(&self, ubuf: usize, len: usize) -> Result<usize> {
        let mut guard = self.msg.lock();
        let m = &mut *guard;
        let mut r = crate::kernel_common::user_slice(ubuf, len).reader();
        let mut taken = 0;
        loop {
            let need = match m.framer.need(&m.buf) {
                Ok(n) => n,
                Err(e) => {
                    pr_err!("/dev/xen/xenbus: request refused: {:?}\n", e);
                    m.framer.reset();
                    return Err(E2BIG);
                }
            };
            if need == 0 {
                break;
            }
            if taken == len {
                return Ok(taken);
            }
            let n = need.min(len - taken);
            let at = m.framer.have();
            if let Err(e) = r.read_slice(&mut m.buf[at..at + n]) {
                return if taken > 0 { Ok(taken) } else { Err(e) };
            }
            m.framer.add(n);
            taken += n;
        }
        match self.execute(m) {
            Ok(()) => {
                m.framer.reset();
                Ok(taken)
            }
            Err(e) if e == ERESTARTSYS => {
                m.framer.unadd(taken);
                Err(e)
            }
            Err(e) => {
                m.framer.reset();
                Err(e)
            }
        }
    }

    /// Carries out the complete request in `m.buf`, queueing its reply.
    fn execute(&self, m: &mut MsgState) -> Result {
        let Some(xs) = xs::get() else {
            return Err(EIO);
        };
        let MsgState {
            buf,
            framer,
            txs,
            watches,
        } = m;
        let mut h = [0u8; XSD_SOCKMSG_BYTES];
        h.copy_from_slice(&buf[..XSD_SOCKMSG_BYTES]);
        let hdr = XsdSockmsg::from_bytes(&h);
        let payload = &buf[XSD_SOCKMSG_BYTES..framer.have()];
        {
            let rq = self.rq.lock();
            if rq.fifo.len() + XS_MSG_MAX > READ_QUEUE_BYTES {
                pr_err!(
                    "/dev/xen/xenbus: request refused (ENOBUFS): {} bytes unread\n",
                    rq.fifo.len()
                );
                return Err(Error::from_errno(-ENOBUFS));
            }
        }
        let req = match xs_dev::check_request(&hdr, payload, txs) {
            Ok(r) => r,
            Err(name) => return self.reply_local(&hdr, XsType::Error, name),
        };
        match req {
            DevRequest::Forward(ty) => {
                let reply = forward(xs, &hdr, ty, payload)?;
                self.push_reply(&reply)
            }
            DevRequest::TransactionStart => {
                if txs.is_full() {
                    pr_err!(
                        "/dev/xen/xenbus: a file has {} transactions open, refused another\n",
                        MAX_FILE_TRANSACTIONS
                    );
                    return self.reply_local(&hdr, XsType::Error, "ENOSPC");
                }
                let reply = forward(xs, &hdr, XsType::TransactionStart, payload)?;
                match xs_dev::started_transaction(&reply) {
                    Ok(Some(id)) => {
                        if !txs.insert(id) {
                            pr_err!("/dev/xen/xenbus: xenstored reused transaction id {}\n", id);
                            let _ = xs.transaction_end(id, false);
                            return Err(EIO);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        pr_err!("/dev/xen/xenbus: bad XS_TRANSACTION_START reply: {:?}\n", e);
                        return Err(EIO);
                    }
                }
                self.push_reply(&reply)
            }
            DevRequest::TransactionEnd { .. } => {
                let reply = forward(xs, &hdr, XsType::TransactionEnd, payload)?;
                // Committed, aborted or refused: xenstored has forgotten it either way.
                txs.remove(hdr.tx_id);
                self.push_reply(&reply)
            }
            DevRequest::Watch { path, token } => {
                if watches
                    .iter()
                    .flatten()
                    .any(|(w, _)| w.path.as_slice() == path && w.token.as_slice() == token)
                {
                    return self.reply_local(&hdr, XsType::Error, "EEXIST");
                }
                let Some(slot) = watches.iter_mut().find(|w| w.is_none()) else {
                    pr_err!(
                        "/dev/xen/xenbus: a file has {} watches, refused another\n",
                        MAX_FILE_WATCHES
                    );
                    return self.reply_local(&hdr, XsType::Error, "ENOSPC");
                };
                if DEV_WATCHES.fetch_add(1, Ordering::AcqRel) >= MAX_DEV_WATCHES {
                    DEV_WATCHES.fetch_sub(1, Ordering::AcqRel);
                    pr_err!(
                        "/dev/xen/xenbus: {} watches registered through the device, refused another\n",
                        MAX_DEV_WATCHES
                    );
                    return self.reply_local(&hdr, XsType::Error, "ENOSPC");
                }
                match self.add_watch(xs, path, token) {
                    Ok(w) => {
                        *slot = Some(w);
                        self.reply_local(&hdr, XsType::Watch, "OK")
                    }
                    Err(e) => {
                        DEV_WATCHES.fetch_sub(1, Ordering::AcqRel);
                        match reply_name(e) {
                            Some(name) => self.reply_local(&hdr, XsType::Error, name),
                            None if e == EINTR => Err(ERESTARTSYS),
                            None => Err(e),
                        }
                    }
                }
            }
            DevRequest::Unwatch { path, token } => {
                // As Linux: "OK" whether or not this file had such a watch.
                let found = watches.iter_mut().find(|w| {
                    w.as_ref().is_some_and(|(w, _)| {
                        w.path.as_slice() == path && w.token.as_slice() == token
                    })
                });
                if let Some((w, t)) = found.and_then(|s| s.take()) {
                    xs.unwatch(&w.path, t);
                    drop(w);
                    DEV_WATCHES.fetch_sub(1, Ordering::AcqRel);
                }
                self.reply_local(&hdr, XsType::Unwatch, "OK")
            }
        }
    }

    /// Registers a watch on `path` whose events go to this file with `token`.
    fn add_watch(&self, xs: &Xs, path: &[u8], token: &[u8]) -> Result<(KBox<DevWatch>, u64)> {
        let mut p = KVec::new();
        p.extend_from_slice(path, GFP_KERNEL)?;
        let mut t = KVec::new();
        t.extend_from_slice(token, GFP_KERNEL)?;
        let w = KBox::new(
            DevWatch {
                file: self,
                path: p,
                token: t,
            },
            GFP_KERNEL,
        )?;
        let data = core::ptr::from_ref::<DevWatch>(&*w)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `data` points into the box, which is only dropped after `unwatch` (in
        // `execute` or `release`); the box's contents are not changed while registered, and the
        // file it names outlives its watches. `dev_watch_fired` only queues bytes and wakes.
        let tok = unsafe { xs.watch(&w.path, dev_watch_fired, data) }?;
        Ok((w, tok))
    }

    /// The last close: aborts the file's transactions and removes its watches (in the
    /// `xenbus_dev` work item, where no signal cuts the requests short).
    fn teardown(&self) {
        let mut m = self.msg.lock();
        let txs = m.txs;
        let (mut n_tx, mut n_w) = (0, 0);
        for tx in txs.iter() {
            n_tx += 1;
            if let Some(xs) = xs::get() {
                if let Err(e) = xs.transaction_end(tx, false) {
                    // ENOENT: xenstored already forgot it.
                    if e != ENOENT {
                        pr_warn!(
                            "/dev/xen/xenbus: abort of transaction {} of a closed file failed: errno {}\n",
                            tx,
                            -e.to_errno()
                        );
                    }
                }
            }
            m.txs.remove(tx);
        }
        for slot in m.watches.iter_mut() {
            if let Some((w, t)) = slot.take() {
                n_w += 1;
                if let Some(xs) = xs::get() {
                    xs.unwatch(&w.path, t);
                }
                drop(w);
                DEV_WATCHES.fetch_sub(1, Ordering::AcqRel);
            }
        }
        if n_tx + n_w > 0 {
            pr_info!(
                "/dev/xen/xenbus: closed file: aborted {} transactions, removed {} watches\n",
                n_tx,
                n_w
            );
        }
    }
}

/// Sends the process's request (its payload as written, its transaction) and returns
/// xenstored's reply with the process's `req_id` restored.
fn forward(xs: &Xs, hdr: &XsdSockmsg, ty: XsType, payload: &[u8]) -> Result<KVec<u8>> {
    let mut reply =
        xs.request_raw(hdr.tx_id, ty, payload)
            .map_err(|e| if e == EINTR { ERESTARTSYS } else { e })?;
    xs_dev::restore_reply(&mut reply, ty, hdr.req_id).map_err(|e| {
        pr_err!("/dev/xen/xenbus: bad reply to {:?}: {:?}\n", ty, e);
        EIO
    })?;
    Ok(reply)
}

/// Watch callback of a file's watch (the `xenbus_watch` workqueue).
///
/// # Safety
/// `data` is the `DevWatch` given at registration and `path` is valid for `len` bytes, as
/// `xs.rs` guarantees for watch callbacks.
unsafe extern "C" fn dev_watch_fired(path: *const u8, len: usize, data: *mut c_void) {
    // SAFETY: `data` is a registered `DevWatch`, alive until `unwatch` returns (see `add_watch`).
    let w = unsafe { &*(data as *const DevWatch) };
    // SAFETY: `path` is valid for `len` bytes during this call (the caller's contract).
    let path = unsafe { core::slice::from_raw_parts(path, len) };
    // SAFETY: the file outlives its watches: `teardown` removes them before it is freed.
    let file = unsafe { &*w.file };
    file.push_event(path, &w.token);
}

/// The Rust part of an open file, from the pointer `xenbus_dev.c` keeps.
///
/// # Safety
/// `rs` came from [`xpv_xbdev_open`] and [`xpv_xbdev_release`] has not been called for it.
unsafe fn file<'a>(rs: *mut c_void) -> &'a DevFile {
    // SAFETY: the caller's contract; the file is pinned in its box until release.
    unsafe { &*(rs as *const DevFile) }
}

/// `open()`: a new file for the C part `cfile`; null with `*err` set on failure (`ENOENT`
/// without xenstore, as Linux, or `ENOMEM`).
#[no_mangle]
pub(crate) extern "C" fn xpv_xbdev_open(cfile: *mut c_void, err: *mut i32) -> *mut c_void {
    let r = if xs::get().is_none() {
        Err(ENOENT)
    } else {
        DevFile::new(cfile)
    };
    match r {
        // SAFETY: the box is turned back into one (and dropped in place) by
        // `xpv_xbdev_release` only; nothing moves it in between.
        Ok(b) => KBox::into_raw(unsafe { Pin::into_inner_unchecked(b) }).cast(),
        Err(e) => {
            // SAFETY: `err` is the C caller's local variable.
            unsafe { *err = e.to_errno() };
            null_mut()
        }
    }
}

/// `read()` without waiting: bytes copied, or `-EAGAIN` when nothing is queued, `-EFAULT`.
///
/// # Safety
/// `rs` as for [`file`]; `buf` is a user pointer for `len` bytes (checked by the copy).
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xbdev_read(rs: *mut c_void, buf: *mut u8, len: usize) -> isize {
    // SAFETY: the C caller passes the file's own pointer, while it is open.
    let f = unsafe { file(rs) };
    match f.read(buf as usize, len) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `write()`: bytes taken, or a negative errno (see [`DevFile::write`]).
///
/// # Safety
/// As [`xpv_xbdev_read`].
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xbdev_write(
    rs: *mut c_void,
    buf: *const u8,
    len: usize,
) -> isize {
    // SAFETY: the C caller passes the file's own pointer, while it is open.
    let f = unsafe { file(rs) };
    match f.write(buf as usize, len) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Whether something is queued for reading (lock-free: called as a wait condition).
///
/// # Safety
/// As [`file`].
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xbdev_readable(rs: *mut c_void) -> i32 {
    // SAFETY: the C caller passes the file's own pointer, while it is open.
    let f = unsafe { file(rs) };
    i32::from(f.queued.load(Ordering::Acquire) != 0)
}

/// Tears down and frees a closed file (from the `xenbus_dev` work item).
///
/// # Safety
/// `rs` came from [`xpv_xbdev_open`], the file is closed (no read, write or poll running) and
/// this is called once.
#[no_mangle]
pub(crate) unsafe extern "C" fn xpv_xbdev_release(rs: *mut c_void) {
    // SAFETY: the caller's contract: this is the box `xpv_xbdev_open` gave away, used by nobody
    // else now; it is dropped in place (not moved).
    let b = unsafe { KBox::from_raw(rs.cast::<DevFile>()) };
    b.teardown();
    drop(b);
}
