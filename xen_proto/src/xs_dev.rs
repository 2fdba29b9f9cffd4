// SPDX-License-Identifier: GPL-2.0
//! The protocol of the guest's `/dev/xen/xenbus` character device, as Linux's
//! `drivers/xen/xenbus/xenbus_dev_frontend.c` offers it to libxenstore: a process writes
//! `struct xsd_sockmsg` requests (header + payload, [`super::xs_wire`]) and reads replies and
//! `XS_WATCH_EVENT` messages. This file holds the parts that need no kernel: framing of the byte
//! stream a process writes, the validation of its requests, the bookkeeping of its transaction
//! ids, the encoding of the replies and events the device makes itself, and the byte queue of
//! what the process has yet to read. The kernel side is `xenbus/xenbus_dev.rs`.
//!
//! Everything a process writes is untrusted: a header claiming more than
//! [`XENSTORE_PAYLOAD_MAX`] bytes is refused (`E2BIG`, as Linux), only the request types of
//! [`allowed`] reach xenstored, a transaction id must be one this open file started, and the
//! bytes queued for reading are bounded by the caller's buffer ([`ByteFifo`]).

use super::xs_wire::{
    Message, WatchEvent, XsError, XsType, XsdSockmsg, XENSTORE_PAYLOAD_MAX, XSD_ERRORS,
    XSD_SOCKMSG_BYTES,
};

/// Whether a process may send a request of type `ty` through the device: the types Linux's
/// device accepted before it forwarded everything (`xenbus_file_write` of Linux 2.6.x–4.x:
/// `XS_WATCH`, `XS_UNWATCH`, `XS_TRANSACTION_START`, `XS_TRANSACTION_END`, `XS_DIRECTORY`,
/// `XS_READ`, `XS_GET_PERMS`, `XS_RELEASE`, `XS_GET_DOMAIN_PATH`, `XS_WRITE`, `XS_MKDIR`, `XS_RM`,
/// `XS_SET_PERMS`) plus `XS_DIRECTORY_PART`, which libxenstore's `xs_directory` falls back to for
/// a listing larger than one message. Not allowed: `XS_RESET_WATCHES` (it would drop the kernel's
/// own watches), `XS_CONTROL`, `XS_INTRODUCE`, `XS_RESUME`, `XS_SET_TARGET`,
/// `XS_IS_DOMAIN_INTRODUCED` (toolstack operations), `XS_WATCH_EVENT` and `XS_ERROR` (not
/// requests).
pub const fn allowed(ty: XsType) -> bool {
    matches!(
        ty,
        XsType::Watch
            | XsType::Unwatch
            | XsType::TransactionStart
            | XsType::TransactionEnd
            | XsType::Directory
            | XsType::DirectoryPart
            | XsType::Read
            | XsType::GetPerms
            | XsType::Release
            | XsType::GetDomainPath
            | XsType::Write
            | XsType::Mkdir
            | XsType::Rm
            | XsType::SetPerms
    )
}

/// Framing of the bytes a process writes into messages. The caller owns a buffer of
/// [`super::xs_wire::XS_MSG_MAX`] bytes; `have` of them hold the message being assembled. A
/// message may arrive in any number of `write()` calls (libxenstore writes the header and the
/// payload separately); a `write()` is only taken up to the end of the current message, so two
/// messages in one `write()` make a short write and the caller writes the rest again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framer {
    have: usize,
}

impl Framer {
    /// An empty framer.
    pub const fn new() -> Self {
        Self { have: 0 }
    }

    /// Bytes of the current message in the buffer.
    pub const fn have(&self) -> usize {
        self.have
    }

    /// Bytes still needed to complete the current message (0: `buf[..have]` is one complete
    /// message). `buf` is the caller's buffer.
    ///
    /// # Errors
    /// [`XsError::PayloadTooLong`] once the header claims more than [`XENSTORE_PAYLOAD_MAX`]
    /// bytes: the caller refuses the write with `E2BIG` and calls [`Framer::reset`], as Linux.
    pub fn need(&self, buf: &[u8]) -> Result<usize, XsError> {
        if self.have < XSD_SOCKMSG_BYTES {
            return Ok(XSD_SOCKMSG_BYTES - self.have);
        }
        let len = header(buf).len;
        if len as usize > XENSTORE_PAYLOAD_MAX {
            return Err(XsError::PayloadTooLong { len });
        }
        Ok(XSD_SOCKMSG_BYTES + len as usize - self.have)
    }

    /// Records `n` more bytes copied to `buf[have..have + n]` (at most [`Framer::need`]).
    pub fn add(&mut self, n: usize) {
        self.have += n;
    }

    /// Drops `n` bytes from the end again (a `write()` that must be retried, e.g. after a
    /// signal before the request went out).
    pub fn unadd(&mut self, n: usize) {
        self.have -= n.min(self.have);
    }

    /// Forgets the current message (consumed, or refused).
    pub fn reset(&mut self) {
        self.have = 0;
    }
}

/// The header at the start of `buf` (which holds at least 16 bytes).
fn header(buf: &[u8]) -> XsdSockmsg {
    let mut h = [0u8; XSD_SOCKMSG_BYTES];
    h.copy_from_slice(&buf[..XSD_SOCKMSG_BYTES]);
    XsdSockmsg::from_bytes(&h)
}

/// Transaction ids a process started on one open file (at most `N`; 0 is never an id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxIds<const N: usize> {
    ids: [u32; N],
}

impl<const N: usize> Default for TxIds<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TxIds<N> {
    /// None yet.
    pub const fn new() -> Self {
        Self { ids: [0; N] }
    }

    /// Whether `id` (non-zero) was started here and not ended.
    pub fn contains(&self, id: u32) -> bool {
        id != 0 && self.ids.contains(&id)
    }

    /// Whether `N` transactions are open.
    pub fn is_full(&self) -> bool {
        !self.ids.contains(&0)
    }

    /// Records a started transaction. Returns false if `id` is 0, already recorded, or there is
    /// no room.
    pub fn insert(&mut self, id: u32) -> bool {
        if id == 0 || self.contains(id) {
            return false;
        }
        match self.ids.iter_mut().find(|i| **i == 0) {
            Some(slot) => {
                *slot = id;
                true
            }
            None => false,
        }
    }

    /// Forgets `id`; returns whether it was there.
    pub fn remove(&mut self, id: u32) -> bool {
        match self.ids.iter_mut().find(|i| id != 0 && **i == id) {
            Some(slot) => {
                *slot = 0;
                true
            }
            None => false,
        }
    }

    /// The open transactions.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().copied().filter(|&i| i != 0)
    }
}

/// What to do with a validated request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevRequest<'a> {
    /// Forward to xenstored as it is (payload unchanged), return its reply.
    Forward(XsType),
    /// `XS_TRANSACTION_START`: forward; a successful reply's id becomes one of this file's.
    TransactionStart,
    /// `XS_TRANSACTION_END` of one of this file's transactions: forward, then forget the id.
    TransactionEnd {
        /// `T` (true) or `F`.
        commit: bool,
    },
    /// `XS_WATCH`: the device registers a watch of its own and sends the events with the
    /// process's token.
    Watch {
        /// Path to watch.
        path: &'a [u8],
        /// The process's token.
        token: &'a [u8],
    },
    /// `XS_UNWATCH` of a watch this file registered.
    Unwatch {
        /// Watched path.
        path: &'a [u8],
        /// The process's token.
        token: &'a [u8],
    },
}

/// Validates a complete request (`hdr` and its `hdr.len` payload bytes) from a process that
/// started the transactions `txs`. On refusal returns the `XS_ERROR` name to answer with, as
/// Linux's device does: `EINVAL` for a type not [`allowed`] (or unknown), a malformed
/// `XS_WATCH`/`XS_UNWATCH` (not `path NUL token NUL`) or an `XS_TRANSACTION_END` that is not
/// `T`/`F` or names no transaction; `ENOENT` for a transaction id this file did not start.
///
/// # Errors
/// The error name, for [`local_reply`].
pub fn check_request<'a, const N: usize>(
    hdr: &XsdSockmsg,
    payload: &'a [u8],
    txs: &TxIds<N>,
) -> Result<DevRequest<'a>, &'static str> {
    let ty = match XsType::from_u32(hdr.ty) {
        Some(ty) if allowed(ty) => ty,
        _ => return Err("EINVAL"),
    };
    if hdr.tx_id != 0 && !txs.contains(hdr.tx_id) {
        return Err("ENOENT");
    }
    match ty {
        XsType::Watch | XsType::Unwatch => {
            let ev = WatchEvent::parse(payload).map_err(|_| "EINVAL")?;
            if ev.path.is_empty() {
                return Err("EINVAL");
            }
            Ok(if ty == XsType::Watch {
                DevRequest::Watch {
                    path: ev.path,
                    token: ev.token,
                }
            } else {
                DevRequest::Unwatch {
                    path: ev.path,
                    token: ev.token,
                }
            })
        }
        XsType::TransactionStart => Ok(DevRequest::TransactionStart),
        XsType::TransactionEnd => match (hdr.tx_id, payload) {
            (0, _) => Err("EINVAL"),
            (_, b"T\0") => Ok(DevRequest::TransactionEnd { commit: true }),
            (_, b"F\0") => Ok(DevRequest::TransactionEnd { commit: false }),
            _ => Err("EINVAL"),
        },
        ty => Ok(DevRequest::Forward(ty)),
    }
}

/// The `XS_ERROR` name of a (positive) errno, if the protocol has one.
pub fn error_name(errno: i32) -> Option<&'static str> {
    XSD_ERRORS
        .iter()
        .find(|&&(_, e)| e == errno)
        .map(|&(n, _)| n)
}

/// Size of a buffer for any [`local_reply`]: header and the longest error name or "OK".
pub const LOCAL_REPLY_MAX: usize = XSD_SOCKMSG_BYTES + 16;

/// Encodes a reply the device makes itself (Linux's `xenbus_command_reply`): the request's header
/// with type `ty` and payload `body` NUL. Returns the bytes used in `out`.
pub fn local_reply(
    req: &XsdSockmsg,
    ty: XsType,
    body: &str,
    out: &mut [u8; LOCAL_REPLY_MAX],
) -> usize {
    let body = &body.as_bytes()[..body.len().min(LOCAL_REPLY_MAX - XSD_SOCKMSG_BYTES - 1)];
    let hdr = XsdSockmsg {
        ty: ty as u32,
        req_id: req.req_id,
        tx_id: req.tx_id,
        len: body.len() as u32 + 1,
    };
    out[..XSD_SOCKMSG_BYTES].copy_from_slice(&hdr.to_bytes());
    out[XSD_SOCKMSG_BYTES..XSD_SOCKMSG_BYTES + body.len()].copy_from_slice(body);
    out[XSD_SOCKMSG_BYTES + body.len()] = 0;
    XSD_SOCKMSG_BYTES + body.len() + 1
}

/// Checks xenstored's reply `msg` (a whole message) to a forwarded request of type `ty` and puts
/// the process's `req_id` back in its header (the device sends its own ids to xenstored).
///
/// # Errors
/// As [`Message::parse`]; [`XsError::UnexpectedType`] unless the reply has type `ty` or is an
/// `XS_ERROR`.
pub fn restore_reply(msg: &mut [u8], ty: XsType, req_id: u32) -> Result<(), XsError> {
    let (m, _) = Message::parse(msg)?;
    if m.ty != ty && m.ty != XsType::Error {
        return Err(XsError::UnexpectedType {
            expected: ty,
            got: m.ty,
        });
    }
    msg[4..8].copy_from_slice(&req_id.to_le_bytes());
    Ok(())
}

/// The transaction id of a reply to `XS_TRANSACTION_START`: `Ok(None)` for an `XS_ERROR` reply.
///
/// # Errors
/// As [`Message::parse`]; [`XsError::BadNumber`] for an id that is not a non-zero decimal.
pub fn started_transaction(msg: &[u8]) -> Result<Option<u32>, XsError> {
    let (m, _) = Message::parse(msg)?;
    match m.reply_to(m.header.req_id, XsType::TransactionStart) {
        Ok(r) => match r.transaction_id()? {
            0 => Err(XsError::BadNumber),
            id => Ok(Some(id)),
        },
        Err(XsError::Xenstore { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The header of an `XS_WATCH_EVENT` for the process (`req_id` and `tx_id` 0), followed by
/// `path NUL token NUL`: the caller queues `[header, path, "\0", token, "\0"]`.
///
/// # Errors
/// [`XsError::EmbeddedNul`] if `path` or `token` contains NUL, [`XsError::RequestTooLarge`] if
/// the payload would exceed [`XENSTORE_PAYLOAD_MAX`].
pub fn watch_event_header(path: &[u8], token: &[u8]) -> Result<[u8; XSD_SOCKMSG_BYTES], XsError> {
    if path.contains(&0) || token.contains(&0) {
        return Err(XsError::EmbeddedNul);
    }
    let len = path.len() + token.len() + 2;
    if len > XENSTORE_PAYLOAD_MAX {
        return Err(XsError::RequestTooLarge { len });
    }
    Ok(XsdSockmsg {
        ty: XsType::WatchEvent as u32,
        req_id: 0,
        tx_id: 0,
        len: len as u32,
    }
    .to_bytes())
}

/// A FIFO of bytes over a caller-provided buffer (the open file's read queue): whole messages
/// go in at once or not at all, the reader takes any number of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteFifo {
    head: usize,
    len: usize,
}

impl ByteFifo {
    /// Empty.
    pub const fn new() -> Self {
        Self { head: 0, len: 0 }
    }

    /// Bytes queued.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the concatenation of `parts` to the queue in `buf` if all of it fits in `room`
    /// bytes of queue (at most `buf.len()`); returns false (and queues nothing) otherwise.
    pub fn push(&mut self, buf: &mut [u8], room: usize, parts: &[&[u8]]) -> bool {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let cap = buf.len();
        if self.len + total > room.min(cap) {
            return false;
        }
        let mut at = (self.head + self.len) % cap.max(1);
        for p in parts {
            let mut p: &[u8] = p;
            while !p.is_empty() {
                let n = p.len().min(cap - at);
                buf[at..at + n].copy_from_slice(&p[..n]);
                p = &p[n..];
                at = (at + n) % cap;
            }
        }
        self.len += total;
        true
    }

    /// The queued bytes in order, as two slices (the second non-empty when they wrap).
    pub fn peek<'b>(&self, buf: &'b [u8]) -> (&'b [u8], &'b [u8]) {
        let cap = buf.len();
        let first = self.len.min(cap - self.head);
        (&buf[self.head..self.head + first], &buf[..self.len - first])
    }

    /// Drops the first `n` bytes (at most [`ByteFifo::len`]) after the reader copied them.
    pub fn consume(&mut self, cap: usize, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % cap
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::xs_wire::XS_MSG_MAX;
    use std::vec;
    use std::vec::Vec;

    fn hdr(ty: u32, req_id: u32, tx_id: u32, len: u32) -> XsdSockmsg {
        XsdSockmsg {
            ty,
            req_id,
            tx_id,
            len,
        }
    }

    fn msg(ty: u32, req_id: u32, tx_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = hdr(ty, req_id, tx_id, payload.len() as u32)
            .to_bytes()
            .to_vec();
        v.extend_from_slice(payload);
        v
    }

    /// Feeds `data` in writes of `chunk` bytes; returns the complete messages.
    fn frame_all(data: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, XsError> {
        let mut buf = vec![0u8; XS_MSG_MAX];
        let mut f = Framer::new();
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let mut w = &rest[..chunk.min(rest.len())];
            // One write() call: taken up to the end of the current message.
            let mut taken = 0;
            loop {
                let need = f.need(&buf)?;
                if need == 0 {
                    out.push(buf[..f.have()].to_vec());
                    f.reset();
                    break;
                }
                if w.is_empty() {
                    break;
                }
                let n = need.min(w.len());
                buf[f.have()..f.have() + n].copy_from_slice(&w[..n]);
                f.add(n);
                w = &w[n..];
                taken += n;
            }
            rest = &rest[taken..];
        }
        Ok(out)
    }

    #[test]
    fn framing_in_pieces_and_short_writes() {
        let a = msg(2, 7, 0, b"name\0");
        let b = msg(11, 8, 0, b"data/x\0value");
        let c = msg(6, 9, 0, b"");
        let mut all = a.clone();
        all.extend_from_slice(&b);
        all.extend_from_slice(&c);
        for chunk in [1, 3, 16, 17, 21, 100, 10_000] {
            let got = frame_all(&all, chunk).unwrap();
            assert_eq!(got, vec![a.clone(), b.clone(), c.clone()], "chunk {chunk}");
        }
    }

    #[test]
    fn framing_refuses_a_long_header() {
        let bad = hdr(2, 1, 0, XENSTORE_PAYLOAD_MAX as u32 + 1).to_bytes();
        assert_eq!(
            frame_all(&bad, 16),
            Err(XsError::PayloadTooLong {
                len: XENSTORE_PAYLOAD_MAX as u32 + 1
            })
        );
        // The largest payload is fine.
        let big = msg(11, 1, 0, &vec![b'a'; XENSTORE_PAYLOAD_MAX]);
        assert_eq!(frame_all(&big, 4000).unwrap(), vec![big.clone()]);
        let mut f = Framer::new();
        f.add(10);
        f.unadd(4);
        assert_eq!(f.have(), 6);
        f.unadd(100);
        assert_eq!(f.have(), 0);
    }

    #[test]
    fn allowed_types() {
        for v in 0..30 {
            let Some(t) = XsType::from_u32(v) else {
                continue;
            };
            let want = !matches!(
                t,
                XsType::Control
                    | XsType::Introduce
                    | XsType::WatchEvent
                    | XsType::Error
                    | XsType::IsDomainIntroduced
                    | XsType::Resume
                    | XsType::SetTarget
                    | XsType::ResetWatches
            );
            assert_eq!(allowed(t), want, "{t:?}");
        }
        let txs = TxIds::<4>::new();
        for ty in [0, 8, 15, 16, 18, 19, 20, 21, 23, 0xffff] {
            assert_eq!(check_request(&hdr(ty, 1, 0, 0), b"", &txs), Err("EINVAL"));
        }
        assert_eq!(
            check_request(&hdr(2, 1, 0, 5), b"name\0", &txs),
            Ok(DevRequest::Forward(XsType::Read))
        );
    }

    #[test]
    fn transaction_ids_are_per_file() {
        let mut txs = TxIds::<2>::new();
        let rd = |tx, txs: &TxIds<2>| check_request(&hdr(2, 1, tx, 2), b"a\0", txs);
        assert_eq!(rd(5, &txs), Err("ENOENT"));
        assert!(txs.insert(5));
        assert!(!txs.insert(5));
        assert!(!txs.insert(0));
        assert_eq!(rd(5, &txs), Ok(DevRequest::Forward(XsType::Read)));
        assert_eq!(rd(6, &txs), Err("ENOENT"));
        assert!(txs.insert(6));
        assert!(txs.is_full());
        assert!(!txs.insert(7));
        assert_eq!(txs.iter().collect::<Vec<_>>(), vec![5, 6]);
        let end = |tx, p: &'static [u8], txs: &TxIds<2>| {
            check_request(&hdr(7, 1, tx, p.len() as u32), p, txs)
        };
        assert_eq!(
            end(5, b"T\0", &txs),
            Ok(DevRequest::TransactionEnd { commit: true })
        );
        assert_eq!(
            end(6, b"F\0", &txs),
            Ok(DevRequest::TransactionEnd { commit: false })
        );
        assert_eq!(end(6, b"T", &txs), Err("EINVAL"));
        assert_eq!(end(6, b"X\0", &txs), Err("EINVAL"));
        assert_eq!(end(6, b"T\0\0", &txs), Err("EINVAL"));
        assert_eq!(end(0, b"T\0", &txs), Err("EINVAL"));
        assert_eq!(end(9, b"T\0", &txs), Err("ENOENT"));
        assert!(txs.remove(5));
        assert!(!txs.remove(5));
        assert!(!txs.remove(0));
        assert_eq!(rd(5, &txs), Err("ENOENT"));
        assert_eq!(
            check_request(&hdr(6, 1, 0, 1), b"\0", &txs),
            Ok(DevRequest::TransactionStart)
        );
    }

    #[test]
    fn watch_requests() {
        let txs = TxIds::<1>::new();
        let w = |ty, p: &'static [u8]| check_request(&hdr(ty, 1, 0, p.len() as u32), p, &txs);
        assert_eq!(
            w(4, b"data\0tok\0"),
            Ok(DevRequest::Watch {
                path: b"data",
                token: b"tok"
            })
        );
        assert_eq!(
            w(5, b"data\0tok\0"),
            Ok(DevRequest::Unwatch {
                path: b"data",
                token: b"tok"
            })
        );
        for bad in [&b"data"[..], b"data\0tok", b"data\0tok\0x", b"\0tok\0", b""] {
            let h = hdr(4, 1, 0, bad.len() as u32);
            assert_eq!(check_request(&h, bad, &txs), Err("EINVAL"), "{bad:?}");
        }
    }

    #[test]
    fn replies() {
        let mut out = [0u8; LOCAL_REPLY_MAX];
        let n = local_reply(&hdr(4, 77, 3, 9), XsType::Watch, "OK", &mut out);
        assert_eq!(&out[..n], &msg(4, 77, 3, b"OK\0")[..]);
        for (name, e) in XSD_ERRORS {
            assert_eq!(error_name(e), Some(name));
            let n = local_reply(&hdr(2, 1, 0, 0), XsType::Error, name, &mut out);
            let (m, _) = Message::parse(&out[..n]).unwrap();
            assert_eq!(
                m.reply_to(1, XsType::Read),
                Err(XsError::Xenstore { errno: e })
            );
        }
        assert_eq!(error_name(110), None);

        let mut r = msg(2, 1234, 0, b"value");
        restore_reply(&mut r, XsType::Read, 9).unwrap();
        assert_eq!(r, msg(2, 9, 0, b"value"));
        let mut e = msg(16, 1234, 0, b"ENOENT\0");
        restore_reply(&mut e, XsType::Read, 9).unwrap();
        assert_eq!(e, msg(16, 9, 0, b"ENOENT\0"));
        let mut wrong = msg(11, 1, 0, b"OK\0");
        assert!(restore_reply(&mut wrong, XsType::Read, 9).is_err());
        let mut short = msg(2, 1, 0, b"value");
        short.pop();
        assert!(restore_reply(&mut short, XsType::Read, 9).is_err());

        assert_eq!(started_transaction(&msg(6, 1, 0, b"42\0")), Ok(Some(42)));
        assert_eq!(started_transaction(&msg(16, 1, 0, b"ENOSPC\0")), Ok(None));
        assert!(started_transaction(&msg(6, 1, 0, b"0\0")).is_err());
        assert!(started_transaction(&msg(6, 1, 0, b"x\0")).is_err());
        assert!(started_transaction(&msg(2, 1, 0, b"42\0")).is_err());

        let h = watch_event_header(b"/local/domain/1/data", b"tok").unwrap();
        assert_eq!(XsdSockmsg::from_bytes(&h), hdr(15, 0, 0, 20 + 3 + 2));
        assert!(watch_event_header(b"a\0b", b"t").is_err());
        assert!(watch_event_header(&vec![b'a'; XENSTORE_PAYLOAD_MAX], b"t").is_err());
    }

    #[test]
    fn fifo_wraps_and_bounds() {
        let mut buf = vec![0u8; 10];
        let mut f = ByteFifo::new();
        assert!(f.push(&mut buf, 10, &[b"abc", b"def"]));
        assert!(!f.push(&mut buf, 10, &[b"12345"]));
        assert!(!f.push(&mut buf, 8, &[b"ab", b"c"]));
        assert_eq!(f.len(), 6);
        assert_eq!(f.peek(&buf), (&b"abcdef"[..], &b""[..]));
        f.consume(10, 4);
        assert!(f.push(&mut buf, 10, &[b"ghijkl"]));
        assert_eq!(f.len(), 8);
        let (a, b) = f.peek(&buf);
        assert_eq!([a, b].concat(), b"efghijkl");
        assert_eq!((a.len(), b.len()), (6, 2));
        f.consume(10, 100);
        assert!(f.is_empty());
        assert_eq!(f.peek(&buf), (&b""[..], &b""[..]));
        assert!(f.push(&mut buf, 10, &[b"0123456789"]));
        assert!(!f.push(&mut buf, 10, &[b"x"]));
        assert!(f.push(&mut buf, 10, &[b""]));
    }
}
