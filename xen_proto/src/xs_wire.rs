// SPDX-License-Identifier: GPL-2.0
//! The xenstore wire protocol and shared ring, guest side, as defined by Xen's
//! `include/xen/interface/io/xs_wire.h` (`docs/misc/xenstore.txt`, `xenstore-ring.txt`) and used
//! by Linux's `drivers/xen/xenbus/xenbus_comms.c` and `xenbus_xs.c`.
//!
//! Every message is a 16-byte header (`struct xsd_sockmsg`, little-endian `u32`s) followed by
//! `len` bytes of payload, at most [`XENSTORE_PAYLOAD_MAX`]:
//!
//! | offset | field    | meaning                                                      |
//! |--------|----------|--------------------------------------------------------------|
//! | 0      | `type`   | [`XsType`]                                                   |
//! | 4      | `req_id` | chosen by the client, echoed in the reply                    |
//! | 8      | `tx_id`  | transaction id, 0 outside a transaction                      |
//! | 12     | `len`    | payload bytes                                                |
//!
//! Payloads are NUL-terminated strings (paths, tokens, names), except a `XS_WRITE` value and a
//! `XS_READ` reply, which are raw bytes running to the end of the payload.
//!
//! The ring page (`struct xenstore_domain_interface`) holds two 1024-byte byte rings:
//!
//! | offset | field             | written by | meaning                                        |
//! |--------|-------------------|------------|------------------------------------------------|
//! | 0      | `req[1024]`       | guest      | requests to xenstored                          |
//! | 1024   | `rsp[1024]`       | xenstored  | replies and watch events                       |
//! | 2048   | `req_cons`        | xenstored  | free-running `u32` indices; byte `i` at        |
//! | 2052   | `req_prod`        | guest      | `i & 1023` ([`mask_xenstore_idx`])             |
//! | 2056   | `rsp_cons`        | guest      |                                                |
//! | 2060   | `rsp_prod`        | xenstored  |                                                |
//! | 2064   | `server_features` | xenstored  | `XENSTORE_SERVER_FEATURE_*`                    |
//! | 2068   | `connection`      | both       | `XENSTORE_CONNECTED`/`XENSTORE_RECONNECT`      |
//! | 2072   | `error`           | xenstored  | `XENSTORE_ERROR_*`                             |
//!
//! Everything coming from xenstored is untrusted: indices are checked (`prod - cons <= 1024`,
//! else [`XsError::RingIndex`]), lengths are checked against [`XENSTORE_PAYLOAD_MAX`] and the bytes
//! actually present, and strings must be NUL-terminated where the protocol requires it. Decoders
//! return views borrowed from the caller's buffer; nothing allocates.

use core::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};

/// Size of the message header, in bytes.
pub const XSD_SOCKMSG_BYTES: usize = 16;
/// Maximum payload of one message (`XENSTORE_PAYLOAD_MAX`).
pub const XENSTORE_PAYLOAD_MAX: usize = 4096;
/// Maximum absolute path length (`XENSTORE_ABS_PATH_MAX`; longer gets an error reply).
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
/// Maximum relative path length (`XENSTORE_REL_PATH_MAX`).
pub const XENSTORE_REL_PATH_MAX: usize = 2048;
/// Size of each byte ring (`XENSTORE_RING_SIZE`).
pub const XENSTORE_RING_SIZE: u32 = 1024;
/// Server can reconnect the ring (`XENSTORE_SERVER_FEATURE_RECONNECTION`).
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
/// Server fills the `error` field (`XENSTORE_SERVER_FEATURE_ERROR`).
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;
/// `connection`: steady state (`XENSTORE_CONNECTED`).
pub const XENSTORE_CONNECTED: u32 = 0;
/// `connection`: guest initiated a reconnect (`XENSTORE_RECONNECT`).
pub const XENSTORE_RECONNECT: u32 = 1;
/// `error`: none (`XENSTORE_ERROR_NONE`).
pub const XENSTORE_ERROR_NONE: u32 = 0;
/// `error`: communication problem (`XENSTORE_ERROR_COMM`).
pub const XENSTORE_ERROR_COMM: u32 = 1;
/// `error`: invalid ring index (`XENSTORE_ERROR_RINGIDX`).
pub const XENSTORE_ERROR_RINGIDX: u32 = 2;
/// `error`: protocol violation, e.g. payload too long (`XENSTORE_ERROR_PROTO`).
pub const XENSTORE_ERROR_PROTO: u32 = 3;

/// Message types (`enum xsd_sockmsg_type`). Value 20 (`XS_RESTRICT`) was removed.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XsType {
    /// `XS_CONTROL` (alias `XS_DEBUG`).
    Control = 0,
    /// `XS_DIRECTORY`: list children.
    Directory = 1,
    /// `XS_READ`: read a value.
    Read = 2,
    /// `XS_GET_PERMS`.
    GetPerms = 3,
    /// `XS_WATCH`: path NUL token NUL.
    Watch = 4,
    /// `XS_UNWATCH`: path NUL token NUL.
    Unwatch = 5,
    /// `XS_TRANSACTION_START`: reply is the transaction id.
    TransactionStart = 6,
    /// `XS_TRANSACTION_END`: `T` (commit) or `F` (abort).
    TransactionEnd = 7,
    /// `XS_INTRODUCE` (dom0 only).
    Introduce = 8,
    /// `XS_RELEASE` (dom0 only).
    Release = 9,
    /// `XS_GET_DOMAIN_PATH`.
    GetDomainPath = 10,
    /// `XS_WRITE`: path NUL value.
    Write = 11,
    /// `XS_MKDIR`.
    Mkdir = 12,
    /// `XS_RM`.
    Rm = 13,
    /// `XS_SET_PERMS`.
    SetPerms = 14,
    /// `XS_WATCH_EVENT`: asynchronous, path NUL token NUL.
    WatchEvent = 15,
    /// `XS_ERROR`: reply carrying an errno name.
    Error = 16,
    /// `XS_IS_DOMAIN_INTRODUCED`.
    IsDomainIntroduced = 17,
    /// `XS_RESUME`.
    Resume = 18,
    /// `XS_SET_TARGET`.
    SetTarget = 19,
    /// `XS_RESET_WATCHES`: drop all of this connection's watches.
    ResetWatches = 21,
    /// `XS_DIRECTORY_PART`.
    DirectoryPart = 22,
}

/// Number of type values (`XS_TYPE_COUNT`).
pub const XS_TYPE_COUNT: u32 = 23;
/// A type guaranteed to stay invalid (`XS_INVALID`).
pub const XS_INVALID: u32 = 0xffff;

impl XsType {
    /// The type with value `v`, or `None` for unknown values (20, ≥ 23).
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Control,
            1 => Self::Directory,
            2 => Self::Read,
            3 => Self::GetPerms,
            4 => Self::Watch,
            5 => Self::Unwatch,
            6 => Self::TransactionStart,
            7 => Self::TransactionEnd,
            8 => Self::Introduce,
            9 => Self::Release,
            10 => Self::GetDomainPath,
            11 => Self::Write,
            12 => Self::Mkdir,
            13 => Self::Rm,
            14 => Self::SetPerms,
            15 => Self::WatchEvent,
            16 => Self::Error,
            17 => Self::IsDomainIntroduced,
            18 => Self::Resume,
            19 => Self::SetTarget,
            21 => Self::ResetWatches,
            22 => Self::DirectoryPart,
            _ => return None,
        })
    }
}

/// `xsd_errors`: the error names xenstored sends in `XS_ERROR` replies and their (positive) Linux
/// errno values, in the header's order.
pub const XSD_ERRORS: [(&str, i32); 15] = [
    ("EINVAL", 22),
    ("EACCES", 13),
    ("EEXIST", 17),
    ("EISDIR", 21),
    ("ENOENT", 2),
    ("ENOMEM", 12),
    ("ENOSPC", 28),
    ("EIO", 5),
    ("ENOTEMPTY", 39),
    ("ENOSYS", 38),
    ("EROFS", 30),
    ("EBUSY", 16),
    ("EAGAIN", 11),
    ("EISCONN", 106),
    ("E2BIG", 7),
];

/// The errno (positive) of an `XS_ERROR` name (`get_error`): unknown names map to `EINVAL`, as
/// in Linux.
pub fn errno_of(name: &[u8]) -> i32 {
    XSD_ERRORS
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map_or(22, |&(_, e)| e)
}

/// Everything that can go wrong encoding or decoding xenstore traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XsError {
    /// Fewer than 16 bytes: no complete header.
    ShortHeader {
        /// Bytes available.
        available: usize,
    },
    /// The header claims more than [`XENSTORE_PAYLOAD_MAX`] bytes (Linux: `-EINVAL`, and the
    /// connection is out of sync).
    PayloadTooLong {
        /// The claimed length.
        len: u32,
    },
    /// The header claims more payload than the bytes available.
    PayloadTruncated {
        /// The claimed length.
        len: u32,
        /// Payload bytes actually available.
        available: usize,
    },
    /// A type value not in [`XsType`].
    UnknownType(u32),
    /// A reply for another request.
    WrongReqId {
        /// The request's id.
        expected: u32,
        /// The reply's id.
        got: u32,
    },
    /// A reply of another type than the request's (and not `XS_ERROR`).
    UnexpectedType {
        /// The request's type.
        expected: XsType,
        /// The reply's type.
        got: XsType,
    },
    /// xenstored answered `XS_ERROR`; the errno is positive (`ENOENT` = 2, …).
    Xenstore {
        /// Errno from [`errno_of`].
        errno: i32,
    },
    /// A string the protocol requires to be NUL-terminated is not.
    Unterminated,
    /// A watch event is not exactly `path NUL token NUL`.
    BadWatchEvent,
    /// A number (e.g. a transaction id) is not plain decimal or does not fit.
    BadNumber,
    /// A request's path or token contains a NUL byte.
    EmbeddedNul,
    /// A request's payload would exceed [`XENSTORE_PAYLOAD_MAX`].
    RequestTooLarge {
        /// The payload length it would have.
        len: usize,
    },
    /// The caller's buffer is too small for the encoded request.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// Ring indices claim more than 1024 bytes in flight: xenstored is broken or hostile.
    RingIndex {
        /// Consumer index read.
        cons: u32,
        /// Producer index read.
        prod: u32,
    },
}

/// The message header (`struct xsd_sockmsg`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XsdSockmsg {
    /// Raw type ([`XsType`] as `u32`).
    pub ty: u32,
    /// Request id.
    pub req_id: u32,
    /// Transaction id.
    pub tx_id: u32,
    /// Payload length.
    pub len: u32,
}

impl XsdSockmsg {
    /// The 16 header bytes.
    pub fn to_bytes(self) -> [u8; XSD_SOCKMSG_BYTES] {
        let mut b = [0; XSD_SOCKMSG_BYTES];
        for (i, v) in [self.ty, self.req_id, self.tx_id, self.len]
            .iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Decodes 16 header bytes, without validation.
    pub fn from_bytes(b: &[u8; XSD_SOCKMSG_BYTES]) -> Self {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Self {
            ty: w(0),
            req_id: w(4),
            tx_id: w(8),
            len: w(12),
        }
    }

    /// Decodes and validates a header read from xenstored: known type, `len` within
    /// [`XENSTORE_PAYLOAD_MAX`]. Call this as soon as 16 bytes are in, before reading the payload.
    ///
    /// # Errors
    /// [`XsError::PayloadTooLong`], [`XsError::UnknownType`].
    pub fn parse(b: &[u8; XSD_SOCKMSG_BYTES]) -> Result<(Self, XsType), XsError> {
        let h = Self::from_bytes(b);
        if h.len as usize > XENSTORE_PAYLOAD_MAX {
            return Err(XsError::PayloadTooLong { len: h.len });
        }
        let ty = XsType::from_u32(h.ty).ok_or(XsError::UnknownType(h.ty))?;
        Ok((h, ty))
    }
}

/// A request, ready to encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `XS_READ path`.
    Read(&'a [u8]),
    /// `XS_WRITE path NUL value` (the value is raw bytes, not NUL-terminated).
    Write {
        /// Node path.
        path: &'a [u8],
        /// Value.
        value: &'a [u8],
    },
    /// `XS_DIRECTORY path`.
    Directory(&'a [u8]),
    /// `XS_MKDIR path`.
    Mkdir(&'a [u8]),
    /// `XS_RM path`.
    Rm(&'a [u8]),
    /// `XS_GET_PERMS path`.
    GetPerms(&'a [u8]),
    /// `XS_WATCH path NUL token NUL`.
    Watch {
        /// Path to watch (and its subtree).
        path: &'a [u8],
        /// Token echoed in events.
        token: &'a [u8],
    },
    /// `XS_UNWATCH path NUL token NUL`.
    Unwatch {
        /// Watched path.
        path: &'a [u8],
        /// Its token.
        token: &'a [u8],
    },
    /// `XS_TRANSACTION_START` with an empty string.
    TransactionStart,
    /// `XS_TRANSACTION_END` `T` (commit) or `F` (abort).
    TransactionEnd {
        /// Commit (true) or abort.
        commit: bool,
    },
    /// `XS_RESET_WATCHES` with an empty string.
    ResetWatches,
    /// A request of type `ty` whose payload is sent exactly as given (the requests of
    /// `/dev/xen/xenbus`, validated by `xs_dev::check_request`).
    Raw {
        /// Message type.
        ty: XsType,
        /// The whole payload.
        payload: &'a [u8],
    },
}

impl Request<'_> {
    /// The message type.
    pub const fn ty(&self) -> XsType {
        match self {
            Self::Read(_) => XsType::Read,
            Self::Write { .. } => XsType::Write,
            Self::Directory(_) => XsType::Directory,
            Self::Mkdir(_) => XsType::Mkdir,
            Self::Rm(_) => XsType::Rm,
            Self::GetPerms(_) => XsType::GetPerms,
            Self::Watch { .. } => XsType::Watch,
            Self::Unwatch { .. } => XsType::Unwatch,
            Self::TransactionStart => XsType::TransactionStart,
            Self::TransactionEnd { .. } => XsType::TransactionEnd,
            Self::ResetWatches => XsType::ResetWatches,
            Self::Raw { ty, .. } => *ty,
        }
    }

    /// The payload as up to two parts, each with whether a NUL follows it.
    fn parts(&self) -> [(&[u8], bool); 2] {
        const NONE: (&[u8], bool) = (&[], false);
        match *self {
            Self::Read(p)
            | Self::Directory(p)
            | Self::Mkdir(p)
            | Self::Rm(p)
            | Self::GetPerms(p) => [(p, true), NONE],
            Self::Write { path, value } => [(path, true), (value, false)],
            Self::Watch { path, token } | Self::Unwatch { path, token } => {
                [(path, true), (token, true)]
            }
            Self::TransactionStart | Self::ResetWatches => [(&[], true), NONE],
            Self::TransactionEnd { commit } => [(if commit { b"T" } else { b"F" }, true), NONE],
            Self::Raw { payload, .. } => [(payload, false), NONE],
        }
    }

    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.parts()
            .iter()
            .map(|(p, nul)| p.len() + usize::from(*nul))
            .sum()
    }

    /// Encodes header and payload into `buf`; returns the number of bytes written
    /// (16 + payload).
    ///
    /// # Errors
    /// [`XsError::EmbeddedNul`] if a path or token contains NUL (it would split the message),
    /// [`XsError::RequestTooLarge`] beyond [`XENSTORE_PAYLOAD_MAX`],
    /// [`XsError::BufferTooSmall`] if `buf` cannot hold it. `buf` is untouched on error.
    pub fn encode(&self, req_id: u32, tx_id: u32, buf: &mut [u8]) -> Result<usize, XsError> {
        let parts = self.parts();
        if parts.iter().any(|(p, nul)| *nul && p.contains(&0)) {
            return Err(XsError::EmbeddedNul);
        }
        let len = self.payload_len();
        if len > XENSTORE_PAYLOAD_MAX {
            return Err(XsError::RequestTooLarge { len });
        }
        let total = XSD_SOCKMSG_BYTES + len;
        if buf.len() < total {
            return Err(XsError::BufferTooSmall { needed: total });
        }
        let hdr = XsdSockmsg {
            ty: self.ty() as u32,
            req_id,
            tx_id,
            len: len as u32,
        };
        buf[..XSD_SOCKMSG_BYTES].copy_from_slice(&hdr.to_bytes());
        let mut at = XSD_SOCKMSG_BYTES;
        for (p, nul) in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
            if nul {
                buf[at] = 0;
                at += 1;
            }
        }
        Ok(at)
    }
}

/// Size of a buffer that holds any one message (header + [`XENSTORE_PAYLOAD_MAX`]).
pub const XS_MSG_MAX: usize = XSD_SOCKMSG_BYTES + XENSTORE_PAYLOAD_MAX;

/// Reassembly of messages from the response byte stream, which arrives in arbitrary pieces:
/// given the first bytes of a message, the total size it needs. The header is validated as soon
/// as it is complete, before any payload is read, so a hostile length never makes the reader
/// wait for (or copy) more than [`XS_MSG_MAX`] bytes.
///
/// Returns 16 while the header is incomplete, then 16 + `len`. `partial` longer than that is
/// fine (the rest belongs to the next message).
///
/// # Errors
/// As [`XsdSockmsg::parse`]: the stream is out of sync and cannot be resynchronised.
pub fn message_size(partial: &[u8]) -> Result<usize, XsError> {
    let Some(hdr) = partial.get(..XSD_SOCKMSG_BYTES) else {
        return Ok(XSD_SOCKMSG_BYTES);
    };
    let hdr: &[u8; XSD_SOCKMSG_BYTES] = hdr.try_into().map_err(|_| XsError::ShortHeader {
        available: partial.len(),
    })?;
    let (h, _) = XsdSockmsg::parse(hdr)?;
    Ok(XSD_SOCKMSG_BYTES + h.len as usize)
}

/// The reader's reassembly state (used by the kernel module's response reader and fuzzed):
/// how many bytes of the current message are in the caller's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Assembler {
    have: usize,
}

impl Assembler {
    /// Nothing received yet.
    pub const fn new() -> Self {
        Self { have: 0 }
    }

    /// Bytes of the current, incomplete message held in the buffer.
    pub const fn pending(&self) -> usize {
        self.have
    }

    /// Pulls bytes with `read` into `buf` until a message is complete. `read(dst)` copies up to
    /// `dst.len()` bytes and returns how many (0: nothing available now). Never asks for more
    /// than the current message still needs, so bytes of the next message stay in the ring.
    ///
    /// Returns `Ok(Some(n))` when `buf[..n]` holds a complete message (header validated, payload
    /// present; decode it with [`Message::parse`]); the next call starts a new message, so use
    /// it before. `Ok(None)` when the bytes ran out mid-message (call again after the next
    /// event).
    ///
    /// # Errors
    /// As [`message_size`] (the stream is out of sync: stop reading), `read`'s errors, and
    /// [`XsError::BufferTooSmall`] if `buf` is shorter than [`XS_MSG_MAX`] and the message needs
    /// more.
    pub fn poll(
        &mut self,
        buf: &mut [u8],
        mut read: impl FnMut(&mut [u8]) -> Result<usize, XsError>,
    ) -> Result<Option<usize>, XsError> {
        loop {
            let have = self.have.min(buf.len());
            let need = message_size(&buf[..have])?;
            if have >= need {
                self.have = 0;
                return Ok(Some(need));
            }
            let dst = buf
                .get_mut(have..need)
                .ok_or(XsError::BufferTooSmall { needed: need })?;
            let got = read(dst)?;
            if got == 0 {
                return Ok(None);
            }
            self.have = have + got.min(need - have);
        }
    }
}

/// A complete, validated message: header and exactly `len` payload bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: XsdSockmsg,
    /// Its decoded type.
    pub ty: XsType,
    /// The payload (`header.len` bytes).
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// Splits the first message off `buf`. Returns it and the bytes it occupies
    /// (16 + payload); anything after belongs to the next message.
    ///
    /// # Errors
    /// [`XsError::ShortHeader`], [`XsError::PayloadTooLong`], [`XsError::UnknownType`],
    /// [`XsError::PayloadTruncated`].
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize), XsError> {
        let hdr: &[u8; XSD_SOCKMSG_BYTES] = buf
            .get(..XSD_SOCKMSG_BYTES)
            .and_then(|h| h.try_into().ok())
            .ok_or(XsError::ShortHeader {
                available: buf.len(),
            })?;
        let (header, ty) = XsdSockmsg::parse(hdr)?;
        let rest = &buf[XSD_SOCKMSG_BYTES..];
        let payload = rest
            .get(..header.len as usize)
            .ok_or(XsError::PayloadTruncated {
                len: header.len,
                available: rest.len(),
            })?;
        Ok((
            Self {
                header,
                ty,
                payload,
            },
            XSD_SOCKMSG_BYTES + payload.len(),
        ))
    }

    /// Checks that this is the reply to request `req_id` of type `expected`, turning an
    /// `XS_ERROR` reply into its errno.
    ///
    /// # Errors
    /// [`XsError::WrongReqId`], [`XsError::Xenstore`] (with [`XsError::Unterminated`] if the
    /// error name has no NUL), [`XsError::UnexpectedType`].
    pub fn reply_to(&self, req_id: u32, expected: XsType) -> Result<Reply<'a>, XsError> {
        if self.header.req_id != req_id {
            return Err(XsError::WrongReqId {
                expected: req_id,
                got: self.header.req_id,
            });
        }
        if self.ty == XsType::Error {
            let name = first_string(self.payload)?;
            return Err(XsError::Xenstore {
                errno: errno_of(name),
            });
        }
        if self.ty != expected {
            return Err(XsError::UnexpectedType {
                expected,
                got: self.ty,
            });
        }
        Ok(Reply {
            ty: self.ty,
            tx_id: self.header.tx_id,
            payload: self.payload,
        })
    }

    /// Parses an `XS_WATCH_EVENT`.
    ///
    /// # Errors
    /// [`XsError::UnexpectedType`] if this is not one, else as [`WatchEvent::parse`].
    pub fn watch_event(&self) -> Result<WatchEvent<'a>, XsError> {
        if self.ty != XsType::WatchEvent {
            return Err(XsError::UnexpectedType {
                expected: XsType::WatchEvent,
                got: self.ty,
            });
        }
        WatchEvent::parse(self.payload)
    }
}

/// The string before the first NUL.
fn first_string(b: &[u8]) -> Result<&[u8], XsError> {
    let n = b
        .iter()
        .position(|&c| c == 0)
        .ok_or(XsError::Unterminated)?;
    Ok(&b[..n])
}

/// A successful reply of the expected type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// Its type (the request's).
    pub ty: XsType,
    /// Transaction id echoed.
    pub tx_id: u32,
    /// Raw payload.
    pub payload: &'a [u8],
}

impl<'a> Reply<'a> {
    /// The value of an `XS_READ` reply: the raw payload (xenstored sends no NUL; a trailing NUL,
    /// if present, is kept as data).
    pub fn value(&self) -> &'a [u8] {
        self.payload
    }

    /// The children of an `XS_DIRECTORY` reply.
    ///
    /// # Errors
    /// [`XsError::Unterminated`] if the last name lacks its NUL.
    pub fn directory(&self) -> Result<DirEntries<'a>, XsError> {
        DirEntries::new(self.payload)
    }

    /// The transaction id of an `XS_TRANSACTION_START` reply (decimal, NUL-terminated).
    ///
    /// # Errors
    /// [`XsError::Unterminated`], [`XsError::BadNumber`] (empty, non-digit, ≥ 2^32).
    pub fn transaction_id(&self) -> Result<u32, XsError> {
        parse_u32(first_string(self.payload)?)
    }
}

/// A node name or value formatted on the stack (`format_args!("queue-{}/ring-ref{}", q, i)`),
/// at most `N` bytes: the frontends' xenstore writes, as Linux's `xenbus_printf`.
#[derive(Clone, Copy, Debug)]
pub struct FmtBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FmtBuf<N> {
    /// `args` formatted; `None` if the text is longer than `N` bytes.
    pub fn format(args: core::fmt::Arguments<'_>) -> Option<Self> {
        let mut b = Self {
            buf: [0; N],
            len: 0,
        };
        core::fmt::write(&mut b, args).ok()?;
        Some(b)
    }

    /// The formatted bytes (no NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> core::fmt::Write for FmtBuf<N> {
    /// Appends `s`; fails, keeping what was written before, if it does not fit.
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).filter(|&e| e <= N);
        let end = end.ok_or(core::fmt::Error)?;
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Parses a plain decimal `u32` (digits only, no sign or spaces, no overflow).
///
/// # Errors
/// [`XsError::BadNumber`].
pub fn parse_u32(s: &[u8]) -> Result<u32, XsError> {
    if s.is_empty() {
        return Err(XsError::BadNumber);
    }
    s.iter().try_fold(0u32, |acc, &c| {
        if !c.is_ascii_digit() {
            return Err(XsError::BadNumber);
        }
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u32::from(c - b'0')))
            .ok_or(XsError::BadNumber)
    })
}

/// Iterator over the NUL-terminated names of a directory listing.
#[derive(Clone, Debug)]
pub struct DirEntries<'a> {
    rest: &'a [u8],
}

impl<'a> DirEntries<'a> {
    /// Validates a listing: empty, or a sequence of NUL-terminated names.
    ///
    /// # Errors
    /// [`XsError::Unterminated`] if it does not end with NUL.
    pub fn new(payload: &'a [u8]) -> Result<Self, XsError> {
        match payload.last() {
            None | Some(0) => Ok(Self { rest: payload }),
            Some(_) => Err(XsError::Unterminated),
        }
    }
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // `new` guarantees the remainder is empty or ends with NUL.
        let n = self.rest.iter().position(|&c| c == 0)?;
        let name = &self.rest[..n];
        self.rest = &self.rest[n + 1..];
        Some(name)
    }
}

/// An `XS_WATCH_EVENT`: the path that changed and the watch's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchEvent<'a> {
    /// Path of the node that changed (possibly below the watched path).
    pub path: &'a [u8],
    /// The token given to `XS_WATCH`.
    pub token: &'a [u8],
}

impl<'a> WatchEvent<'a> {
    /// Parses `path NUL token NUL` (exactly two strings, as Linux's `xs_watch_msg`; both NULs
    /// required).
    ///
    /// # Errors
    /// [`XsError::Unterminated`] if a NUL is missing, [`XsError::BadWatchEvent`] if anything
    /// follows the token.
    pub fn parse(payload: &'a [u8]) -> Result<Self, XsError> {
        let path = first_string(payload)?;
        let rest = &payload[path.len() + 1..];
        let token = first_string(rest)?;
        if rest.len() != token.len() + 1 {
            return Err(XsError::BadWatchEvent);
        }
        Ok(Self { path, token })
    }
}

// --- the shared ring ---

/// Ring index (`XENSTORE_RING_IDX`): free-running `u32`.
pub type XenstoreRingIdx = u32;

/// Offset of index `idx` in a byte ring (`MASK_XENSTORE_IDX`).
pub const fn mask_xenstore_idx(idx: XenstoreRingIdx) -> usize {
    (idx & (XENSTORE_RING_SIZE - 1)) as usize
}

/// Bytes in flight between `cons` and `prod` (`check_indexes`): `prod - cons`, wrapping.
///
/// # Errors
/// [`XsError::RingIndex`] if that exceeds the ring size: a hostile or broken peer.
pub const fn ring_used(cons: XenstoreRingIdx, prod: XenstoreRingIdx) -> Result<u32, XsError> {
    let used = prod.wrapping_sub(cons);
    if used > XENSTORE_RING_SIZE {
        Err(XsError::RingIndex { cons, prod })
    } else {
        Ok(used)
    }
}

/// Free bytes for the producer.
///
/// # Errors
/// As [`ring_used`].
pub const fn ring_free(cons: XenstoreRingIdx, prod: XenstoreRingIdx) -> Result<u32, XsError> {
    match ring_used(cons, prod) {
        Ok(used) => Ok(XENSTORE_RING_SIZE - used),
        Err(e) => Err(e),
    }
}

/// The contiguous free area the producer may write next (`get_output_chunk`): byte offset in the
/// ring and length, which stops at the end of the ring (wrap) and at the consumer.
///
/// # Errors
/// As [`ring_used`].
pub const fn output_chunk(
    cons: XenstoreRingIdx,
    prod: XenstoreRingIdx,
) -> Result<(usize, usize), XsError> {
    let free = match ring_free(cons, prod) {
        Ok(f) => f as usize,
        Err(e) => return Err(e),
    };
    let off = mask_xenstore_idx(prod);
    let to_end = XENSTORE_RING_SIZE as usize - off;
    Ok((off, if free < to_end { free } else { to_end }))
}

/// The contiguous data the consumer may read next (`get_input_chunk`): byte offset and length.
///
/// # Errors
/// As [`ring_used`].
pub const fn input_chunk(
    cons: XenstoreRingIdx,
    prod: XenstoreRingIdx,
) -> Result<(usize, usize), XsError> {
    let used = match ring_used(cons, prod) {
        Ok(u) => u as usize,
        Err(e) => return Err(e),
    };
    let off = mask_xenstore_idx(cons);
    let to_end = XENSTORE_RING_SIZE as usize - off;
    Ok((off, if used < to_end { used } else { to_end }))
}

/// `struct xenstore_domain_interface`: the xenstore ring page, seen through atomics (the byte
/// rings as `AtomicU8` so that copying from and to them is data-race free on both sides).
#[repr(C)]
#[derive(Debug)]
pub struct XenstoreDomainInterface {
    /// Requests to xenstored.
    pub req: [AtomicU8; XENSTORE_RING_SIZE as usize],
    /// Replies and watch events.
    pub rsp: [AtomicU8; XENSTORE_RING_SIZE as usize],
    /// Request consumer (xenstored).
    pub req_cons: AtomicU32,
    /// Request producer (guest).
    pub req_prod: AtomicU32,
    /// Response consumer (guest).
    pub rsp_cons: AtomicU32,
    /// Response producer (xenstored).
    pub rsp_prod: AtomicU32,
    /// `XENSTORE_SERVER_FEATURE_*`.
    pub server_features: AtomicU32,
    /// `XENSTORE_CONNECTED`/`XENSTORE_RECONNECT`.
    pub connection: AtomicU32,
    /// `XENSTORE_ERROR_*`.
    pub error: AtomicU32,
}

/// Result of one ring transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingIo {
    /// Bytes moved (possibly fewer than asked: ring full or empty).
    pub bytes: usize,
    /// Whether to notify xenstored through the event channel.
    pub notify: bool,
}

impl XenstoreDomainInterface {
    /// A zeroed interface (for tests and simulators; the real one is the page Xen provides).
    pub fn new() -> Self {
        Self {
            req: core::array::from_fn(|_| AtomicU8::new(0)),
            rsp: core::array::from_fn(|_| AtomicU8::new(0)),
            req_cons: AtomicU32::new(0),
            req_prod: AtomicU32::new(0),
            rsp_cons: AtomicU32::new(0),
            rsp_prod: AtomicU32::new(0),
            server_features: AtomicU32::new(0),
            connection: AtomicU32::new(0),
            error: AtomicU32::new(0),
        }
    }

    /// Copies as much of `data` as fits into the request ring and publishes it (`xb_write`).
    /// Notify whenever `bytes > 0`.
    ///
    /// # Errors
    /// [`XsError::RingIndex`] if xenstored's `req_cons` is impossible; nothing is written. (If
    /// it turns impossible after some bytes were written, those are reported and the next call
    /// fails: a result never hides bytes that were published.) Linux then resets both indices
    /// and returns `-EIO`; what to do is the caller's choice.
    pub fn write_requests(&self, data: &[u8]) -> Result<RingIo, XsError> {
        let mut io = RingIo::default();
        while io.bytes < data.len() {
            let cons = self.req_cons.load(Ordering::Acquire);
            let prod = self.req_prod.load(Ordering::Relaxed);
            let (off, avail) = match output_chunk(cons, prod) {
                Ok(c) => c,
                // Report what was written; the bad index shows again on the next call.
                Err(_) if io.bytes > 0 => break,
                Err(e) => return Err(e),
            };
            if avail == 0 {
                break;
            }
            // Data is written only after reading the consumer index (virt_mb).
            fence(Ordering::SeqCst);
            let n = avail.min(data.len() - io.bytes);
            for (slot, &b) in self.req[off..off + n]
                .iter()
                .zip(&data[io.bytes..io.bytes + n])
            {
                slot.store(b, Ordering::Relaxed);
            }
            // The other side must see the data before the new producer (virt_wmb).
            self.req_prod
                .store(prod.wrapping_add(n as u32), Ordering::Release);
            io.bytes += n;
            io.notify = true;
        }
        fence(Ordering::SeqCst);
        Ok(io)
    }

    /// Copies up to `buf.len()` response bytes out of the ring and frees their space (`xb_read`).
    ///
    /// # Errors
    /// [`XsError::RingIndex`] if xenstored's `rsp_prod` is impossible; nothing is consumed. (If
    /// it turns impossible after some bytes were consumed, those are returned and the next call
    /// fails: a result never hides bytes that were consumed.)
    pub fn read_responses(&self, buf: &mut [u8]) -> Result<RingIo, XsError> {
        let mut io = RingIo::default();
        while io.bytes < buf.len() {
            let cons = self.rsp_cons.load(Ordering::Relaxed);
            // Data is read only after the producer index (virt_rmb).
            let prod = self.rsp_prod.load(Ordering::Acquire);
            let (off, avail) = match input_chunk(cons, prod) {
                Ok(c) => c,
                // Report what was consumed; the bad index shows again on the next call.
                Err(_) if io.bytes > 0 => break,
                Err(e) => return Err(e),
            };
            if avail == 0 {
                break;
            }
            let n = avail.min(buf.len() - io.bytes);
            for (b, slot) in buf[io.bytes..io.bytes + n]
                .iter_mut()
                .zip(&self.rsp[off..off + n])
            {
                *b = slot.load(Ordering::Relaxed);
            }
            // The other side must not see free space before the copy is done (virt_mb).
            fence(Ordering::SeqCst);
            self.rsp_cons
                .store(cons.wrapping_add(n as u32), Ordering::Release);
            fence(Ordering::SeqCst);
            io.bytes += n;
            // The ring was full: xenstored may be waiting for space.
            if self.rsp_prod.load(Ordering::Relaxed).wrapping_sub(cons) >= XENSTORE_RING_SIZE {
                io.notify = true;
            }
        }
        Ok(io)
    }

    /// Whether response bytes are waiting (`xb_data_to_read`).
    pub fn has_responses(&self) -> bool {
        self.rsp_cons.load(Ordering::Relaxed) != self.rsp_prod.load(Ordering::Acquire)
    }
}

impl Default for XenstoreDomainInterface {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::mem::{offset_of, size_of};
    use std::vec;
    use std::vec::Vec;

    fn msg(ty: u32, req_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = XsdSockmsg {
            ty,
            req_id,
            tx_id: 0,
            len: payload.len() as u32,
        }
        .to_bytes()
        .to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn fmtbuf_formats_and_refuses_overflow() {
        let b = FmtBuf::<24>::format(format_args!("queue-{}/ring-ref{}", 3, 15)).unwrap();
        assert_eq!(b.as_bytes(), b"queue-3/ring-ref15");
        assert_eq!(
            FmtBuf::<10>::format(format_args!("{}", u32::MAX))
                .unwrap()
                .as_bytes(),
            b"4294967295"
        );
        assert!(FmtBuf::<9>::format(format_args!("{}", u32::MAX)).is_none());
        assert!(FmtBuf::<4>::format(format_args!("ab{}", "cde")).is_none());
        assert_eq!(
            FmtBuf::<4>::format(format_args!("")).unwrap().as_bytes(),
            b""
        );
    }

    #[test]
    fn header_values() {
        assert_eq!(XsType::Directory as u32, 1);
        assert_eq!(XsType::Write as u32, 11);
        assert_eq!(XsType::WatchEvent as u32, 15);
        assert_eq!(XsType::Error as u32, 16);
        assert_eq!(XsType::ResetWatches as u32, 21);
        assert_eq!(XsType::DirectoryPart as u32, 22);
        for v in 0..XS_TYPE_COUNT {
            match XsType::from_u32(v) {
                Some(t) => assert_eq!(t as u32, v),
                None => assert_eq!(v, 20),
            }
        }
        assert_eq!(XsType::from_u32(XS_TYPE_COUNT), None);
        assert_eq!(XsType::from_u32(XS_INVALID), None);
        assert_eq!(errno_of(b"ENOENT"), 2);
        assert_eq!(errno_of(b"EACCES"), 13);
        assert_eq!(errno_of(b"EISCONN"), 106);
        assert_eq!(errno_of(b"E2BIG"), 7);
        assert_eq!(errno_of(b"EWHATEVER"), 22);
        assert_eq!(errno_of(b""), 22);
        assert_eq!(size_of::<XenstoreDomainInterface>(), 2076);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp), 1024);
        assert_eq!(offset_of!(XenstoreDomainInterface, req_cons), 2048);
        assert_eq!(offset_of!(XenstoreDomainInterface, req_prod), 2052);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp_cons), 2056);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp_prod), 2060);
        assert_eq!(offset_of!(XenstoreDomainInterface, server_features), 2064);
        assert_eq!(offset_of!(XenstoreDomainInterface, connection), 2068);
        assert_eq!(offset_of!(XenstoreDomainInterface, error), 2072);
    }

    #[test]
    fn header_is_little_endian() {
        let h = XsdSockmsg {
            ty: 2,
            req_id: 0x0102_0304,
            tx_id: 5,
            len: 6,
        };
        let b = h.to_bytes();
        assert_eq!(b, [2, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0, 6, 0, 0, 0]);
        assert_eq!(XsdSockmsg::from_bytes(&b), h);
    }

    #[test]
    fn encoding_requests() {
        let mut buf = [0xaau8; 64];
        let n = Request::Read(b"device/vbd/768/state")
            .encode(7, 0, &mut buf)
            .unwrap();
        assert_eq!(n, 16 + 21);
        assert_eq!(&buf[..4], &2u32.to_le_bytes());
        assert_eq!(&buf[4..8], &7u32.to_le_bytes());
        assert_eq!(&buf[12..16], &21u32.to_le_bytes());
        assert_eq!(&buf[16..n], b"device/vbd/768/state\0");

        let n = Request::Write {
            path: b"a/state",
            value: b"4",
        }
        .encode(1, 9, &mut buf)
        .unwrap();
        // Value without NUL.
        assert_eq!(&buf[16..n], b"a/state\x004");
        assert_eq!(&buf[8..12], &9u32.to_le_bytes());
        assert_eq!(&buf[0..4], &11u32.to_le_bytes());

        let n = Request::Watch {
            path: b"backend",
            token: b"tok",
        }
        .encode(1, 0, &mut buf)
        .unwrap();
        assert_eq!(&buf[16..n], b"backend\0tok\0");
        let n = Request::TransactionStart.encode(1, 0, &mut buf).unwrap();
        assert_eq!(&buf[16..n], b"\0");
        let n = Request::TransactionEnd { commit: false }
            .encode(1, 3, &mut buf)
            .unwrap();
        assert_eq!(&buf[16..n], b"F\0");
        let n = Request::TransactionEnd { commit: true }
            .encode(1, 3, &mut buf)
            .unwrap();
        assert_eq!(&buf[16..n], b"T\0");
        assert_eq!(Request::ResetWatches.payload_len(), 1);
        // Raw: the payload as given, NULs included, no NUL added.
        let raw = Request::Raw {
            ty: XsType::SetPerms,
            payload: b"data/x\0b0\0r1\0",
        };
        assert_eq!(raw.ty(), XsType::SetPerms);
        let n = raw.encode(5, 2, &mut buf).unwrap();
        assert_eq!(&buf[16..n], b"data/x\0b0\0r1\0");
        assert_eq!(&buf[0..4], &14u32.to_le_bytes());
        assert_eq!(&buf[8..12], &2u32.to_le_bytes());
        assert_eq!(&buf[12..16], &13u32.to_le_bytes());
    }

    #[test]
    fn encoding_errors_leave_the_buffer_alone() {
        let mut buf = [0xaau8; 20];
        assert_eq!(
            Request::Read(b"a\0b").encode(1, 0, &mut buf),
            Err(XsError::EmbeddedNul)
        );
        assert_eq!(
            Request::Watch {
                path: b"a",
                token: b"t\0"
            }
            .encode(1, 0, &mut buf),
            Err(XsError::EmbeddedNul)
        );
        assert_eq!(
            Request::Read(b"abcd").encode(1, 0, &mut buf),
            Err(XsError::BufferTooSmall { needed: 21 })
        );
        assert!(buf.iter().all(|&b| b == 0xaa));
        // A value may hold any byte, NUL included; the size limit still applies.
        let big = vec![0u8; 4096];
        let mut out = vec![0u8; 5000];
        assert_eq!(
            Request::Write {
                path: b"p",
                value: &big
            }
            .encode(1, 0, &mut out),
            Err(XsError::RequestTooLarge { len: 4098 })
        );
        assert_eq!(
            Request::Write {
                path: b"p",
                value: &big[..4094]
            }
            .encode(1, 0, &mut out),
            Ok(16 + 4096)
        );
    }

    #[test]
    fn decoding_replies() {
        let m = msg(XsType::Read as u32, 5, b"4");
        let (parsed, used) = Message::parse(&m).unwrap();
        assert_eq!(used, 17);
        let r = parsed.reply_to(5, XsType::Read).unwrap();
        assert_eq!(r.value(), b"4");
        // Trailing bytes after the message are left for the next one.
        let mut two = m.clone();
        two.extend_from_slice(&msg(XsType::Read as u32, 6, b"x"));
        let (first, used) = Message::parse(&two).unwrap();
        assert_eq!(first.payload, b"4");
        assert_eq!(Message::parse(&two[used..]).unwrap().0.payload, b"x");

        assert_eq!(
            parsed.reply_to(6, XsType::Read),
            Err(XsError::WrongReqId {
                expected: 6,
                got: 5
            })
        );
        assert_eq!(
            parsed.reply_to(5, XsType::Write),
            Err(XsError::UnexpectedType {
                expected: XsType::Write,
                got: XsType::Read
            })
        );
        let e = msg(XsType::Error as u32, 5, b"ENOENT\0");
        assert_eq!(
            Message::parse(&e).unwrap().0.reply_to(5, XsType::Read),
            Err(XsError::Xenstore { errno: 2 })
        );
        let e = msg(XsType::Error as u32, 5, b"ENOENT");
        assert_eq!(
            Message::parse(&e).unwrap().0.reply_to(5, XsType::Read),
            Err(XsError::Unterminated)
        );

        let t = msg(XsType::TransactionStart as u32, 1, b"42\0");
        let r = Message::parse(&t)
            .unwrap()
            .0
            .reply_to(1, XsType::TransactionStart)
            .unwrap();
        assert_eq!(r.transaction_id(), Ok(42));
        for bad in [&b"\0"[..], b"4x\0", b"-1\0", b"4294967296\0", b"42"] {
            let t = msg(XsType::TransactionStart as u32, 1, bad);
            let r = Message::parse(&t)
                .unwrap()
                .0
                .reply_to(1, XsType::TransactionStart)
                .unwrap();
            assert!(r.transaction_id().is_err(), "{bad:?}");
        }
        assert_eq!(parse_u32(b"4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn hostile_headers() {
        assert_eq!(
            Message::parse(&[0; 15]),
            Err(XsError::ShortHeader { available: 15 })
        );
        let mut m = msg(XsType::Read as u32, 1, b"abc");
        m[12..16].copy_from_slice(&4097u32.to_le_bytes());
        assert_eq!(
            Message::parse(&m),
            Err(XsError::PayloadTooLong { len: 4097 })
        );
        m[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Message::parse(&m),
            Err(XsError::PayloadTooLong { len: u32::MAX })
        );
        m[12..16].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(
            Message::parse(&m),
            Err(XsError::PayloadTruncated {
                len: 4,
                available: 3
            })
        );
        for ty in [20, 23, 0xffff, u32::MAX] {
            let m = msg(ty, 1, b"");
            assert_eq!(Message::parse(&m), Err(XsError::UnknownType(ty)));
        }
        // Exactly the maximum is fine.
        let big = vec![b'x'; 4096];
        assert!(Message::parse(&msg(XsType::Read as u32, 1, &big)).is_ok());
    }

    #[test]
    fn reassembly_sizes() {
        let m = msg(XsType::Read as u32, 3, b"value");
        for cut in 0..16 {
            assert_eq!(message_size(&m[..cut]), Ok(16));
        }
        for cut in 16..=m.len() {
            assert_eq!(message_size(&m[..cut]), Ok(m.len()));
        }
        let mut bad = m.clone();
        bad[12..16].copy_from_slice(&4097u32.to_le_bytes());
        assert_eq!(
            message_size(&bad),
            Err(XsError::PayloadTooLong { len: 4097 })
        );
        bad[0] = 20;
        assert!(message_size(&bad).is_err());
        assert!(message_size(&msg(XsType::Read as u32, 1, &[b'x'; 4096])).unwrap() <= XS_MSG_MAX);
    }

    #[test]
    fn assembler_in_pieces() {
        let mut stream = msg(XsType::Read as u32, 1, b"abc");
        stream.extend_from_slice(&msg(XsType::WatchEvent as u32, 0, b"p\0t\0"));
        stream.extend_from_slice(&msg(XsType::Write as u32, 2, b""));
        for piece in 1..40 {
            let mut pos = 0;
            let mut asm = Assembler::new();
            let mut buf = vec![0u8; XS_MSG_MAX];
            let mut got = Vec::new();
            let mut avail = 0;
            while got.len() < 3 {
                avail = (avail + piece).min(stream.len());
                let mut read = |dst: &mut [u8]| {
                    let n = dst.len().min(avail - pos);
                    dst[..n].copy_from_slice(&stream[pos..pos + n]);
                    pos += n;
                    Ok(n)
                };
                while let Some(n) = asm.poll(&mut buf, &mut read).unwrap() {
                    got.push(buf[..n].to_vec());
                }
            }
            assert_eq!(got.concat(), stream);
            assert_eq!(asm.pending(), 0);
        }
        // A hostile length is refused once the header is in, before any payload is read.
        let mut bad = msg(XsType::Read as u32, 1, b"");
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut asm = Assembler::new();
        let mut buf = vec![0u8; XS_MSG_MAX];
        let mut pos = 0;
        let r = asm.poll(&mut buf, |dst| {
            let n = dst.len().min(bad.len() - pos);
            dst[..n].copy_from_slice(&bad[pos..pos + n]);
            pos += n;
            Ok(n)
        });
        assert_eq!(r, Err(XsError::PayloadTooLong { len: u32::MAX }));
        assert_eq!(pos, 16);
        // A short buffer is an error, not an over-run.
        let mut small = [0u8; 20];
        let m = msg(XsType::Read as u32, 1, b"0123456789");
        let mut pos = 0;
        let r = Assembler::new().poll(&mut small, |dst| {
            let n = dst.len().min(m.len() - pos);
            dst[..n].copy_from_slice(&m[pos..pos + n]);
            pos += n;
            Ok(n)
        });
        assert_eq!(r, Err(XsError::BufferTooSmall { needed: 26 }));
    }

    #[test]
    fn directories() {
        let d = DirEntries::new(b"0\x00768\0backend\0").unwrap();
        assert_eq!(d.collect::<Vec<_>>(), [&b"0"[..], b"768", b"backend"]);
        assert_eq!(DirEntries::new(b"").unwrap().count(), 0);
        assert_eq!(DirEntries::new(b"a\0b").unwrap_err(), XsError::Unterminated);
        // Empty names are passed through, not skipped or fatal.
        assert_eq!(DirEntries::new(b"\0\0").unwrap().count(), 2);
    }

    #[test]
    fn watch_events() {
        let m = msg(
            XsType::WatchEvent as u32,
            0,
            b"backend/vbd/1/768/state\0tok\0",
        );
        let ev = Message::parse(&m).unwrap().0.watch_event().unwrap();
        assert_eq!(ev.path, b"backend/vbd/1/768/state");
        assert_eq!(ev.token, b"tok");
        assert_eq!(
            WatchEvent::parse(b"p\0t\0"),
            Ok(WatchEvent {
                path: b"p",
                token: b"t"
            })
        );
        assert_eq!(WatchEvent::parse(b"p\0t"), Err(XsError::Unterminated));
        assert_eq!(WatchEvent::parse(b"p"), Err(XsError::Unterminated));
        assert_eq!(WatchEvent::parse(b""), Err(XsError::Unterminated));
        assert_eq!(WatchEvent::parse(b"p\0t\0x\0"), Err(XsError::BadWatchEvent));
        assert_eq!(WatchEvent::parse(b"p\0t\0\0"), Err(XsError::BadWatchEvent));
        let not_event = msg(XsType::Read as u32, 0, b"p\0t\0");
        assert!(matches!(
            Message::parse(&not_event).unwrap().0.watch_event(),
            Err(XsError::UnexpectedType { .. })
        ));
    }

    #[test]
    fn ring_arithmetic_with_wrap() {
        assert_eq!(mask_xenstore_idx(1024), 0);
        assert_eq!(mask_xenstore_idx(u32::MAX), 1023);
        assert_eq!(ring_used(0, 0), Ok(0));
        assert_eq!(ring_used(0, 1024), Ok(1024));
        assert_eq!(ring_used(u32::MAX - 9, 10), Ok(20));
        assert_eq!(ring_free(u32::MAX - 9, 10), Ok(1004));
        assert_eq!(
            ring_used(0, 1025),
            Err(XsError::RingIndex {
                cons: 0,
                prod: 1025
            })
        );
        // prod behind cons is a huge wrapping difference: refused.
        assert!(ring_used(10, 9).is_err());
        // Output chunk: up to the end of the ring, or to the consumer.
        assert_eq!(output_chunk(0, 0), Ok((0, 1024)));
        assert_eq!(output_chunk(1000, 1020), Ok((1020, 4)));
        assert_eq!(output_chunk(0, 1000), Ok((1000, 24)));
        assert_eq!(output_chunk(0, 1024), Ok((0, 0)));
        assert_eq!(input_chunk(1020, 1030), Ok((1020, 4)));
        assert_eq!(input_chunk(1024, 1030), Ok((0, 6)));
        assert_eq!(input_chunk(5, 5), Ok((5, 0)));
        assert_eq!(input_chunk(u32::MAX, 3), Ok((1023, 1)));
        assert!(input_chunk(0, 2000).is_err());
        assert!(output_chunk(0, 2000).is_err());
    }

    #[test]
    fn ring_round_trip_across_the_wrap() {
        let intf = XenstoreDomainInterface::new();
        // Start both rings near the 32-bit wrap and off the ring's start.
        let start = u32::MAX - 700;
        for i in [
            &intf.req_cons,
            &intf.req_prod,
            &intf.rsp_cons,
            &intf.rsp_prod,
        ] {
            i.store(start, Ordering::SeqCst);
        }
        let mut req = [0u8; 64];
        let n = Request::Read(b"domid").encode(3, 0, &mut req).unwrap();
        let mut sent = Vec::new();
        let mut server_got = Vec::new();
        for _ in 0..100 {
            let io = intf.write_requests(&req[..n]).unwrap();
            assert_eq!(io.bytes, n);
            assert!(io.notify);
            sent.extend_from_slice(&req[..n]);
            // Server: consume the requests, echo them as responses.
            let (c, p) = (
                intf.req_cons.load(Ordering::SeqCst),
                intf.req_prod.load(Ordering::SeqCst),
            );
            for i in 0..p.wrapping_sub(c) {
                let idx = c.wrapping_add(i);
                let b = intf.req[mask_xenstore_idx(idx)].load(Ordering::SeqCst);
                server_got.push(b);
                let rp = intf.rsp_prod.load(Ordering::SeqCst);
                intf.rsp[mask_xenstore_idx(rp)].store(b, Ordering::SeqCst);
                intf.rsp_prod.store(rp.wrapping_add(1), Ordering::SeqCst);
            }
            intf.req_cons.store(p, Ordering::SeqCst);
            assert!(intf.has_responses());
            let mut back = [0u8; 64];
            let io = intf.read_responses(&mut back[..n]).unwrap();
            assert_eq!(&back[..io.bytes], &req[..n]);
            assert!(!intf.has_responses());
        }
        assert_eq!(server_got, sent);
    }

    #[test]
    fn progress_is_never_hidden_by_a_later_bad_index() {
        // Transfers across the ring's end (two chunks) move the index by exactly `bytes`; an
        // error moves nothing.
        let intf = XenstoreDomainInterface::new();
        intf.rsp_cons.store(1020, Ordering::SeqCst);
        intf.rsp_prod.store(1030, Ordering::SeqCst);
        let mut buf = [0u8; 32];
        let io = intf.read_responses(&mut buf).unwrap();
        assert_eq!(io.bytes, 10);
        assert_eq!(intf.rsp_cons.load(Ordering::SeqCst), 1030);
        intf.rsp_prod.store(1030 + 2000, Ordering::SeqCst);
        assert!(intf.read_responses(&mut buf).is_err());
        assert_eq!(intf.rsp_cons.load(Ordering::SeqCst), 1030);
        intf.req_cons.store(1020, Ordering::SeqCst);
        intf.req_prod.store(1020, Ordering::SeqCst);
        let io = intf.write_requests(&[1u8; 10]).unwrap();
        assert_eq!(io.bytes, 10);
        assert_eq!(intf.req_prod.load(Ordering::SeqCst), 1030);
    }

    #[test]
    fn ring_full_and_hostile_indices() {
        let intf = XenstoreDomainInterface::new();
        let data = [7u8; 1500];
        let io = intf.write_requests(&data).unwrap();
        assert_eq!(io.bytes, 1024, "only one ring's worth fits");
        assert_eq!(intf.write_requests(&data).unwrap(), RingIo::default());
        // Hostile consumer index: error, nothing written.
        intf.req_cons.store(5000, Ordering::SeqCst);
        assert_eq!(
            intf.write_requests(&data),
            Err(XsError::RingIndex {
                cons: 5000,
                prod: 1024
            })
        );
        assert_eq!(intf.req_prod.load(Ordering::SeqCst), 1024);
        // Hostile producer index on the response ring.
        intf.rsp_prod.store(1025, Ordering::SeqCst);
        let mut buf = [0u8; 16];
        assert_eq!(
            intf.read_responses(&mut buf),
            Err(XsError::RingIndex {
                cons: 0,
                prod: 1025
            })
        );
        assert_eq!(intf.rsp_cons.load(Ordering::SeqCst), 0);
        // A full response ring: reading frees space and asks for a notification.
        intf.rsp_prod.store(1024, Ordering::SeqCst);
        let io = intf.read_responses(&mut buf).unwrap();
        assert_eq!(
            io,
            RingIo {
                bytes: 16,
                notify: true
            }
        );
        let io = intf.read_responses(&mut buf).unwrap();
        assert_eq!(
            io,
            RingIo {
                bytes: 16,
                notify: false
            }
        );
    }
}
