// SPDX-License-Identifier: GPL-2.0
//! Block I/O ring protocol (`blkif`), frontend side, as defined by Xen's
//! `include/xen/interface/io/blkif.h`: request and response layouts, the checks a frontend applies
//! to every response of an untrusted backend, the mapping of a request's bytes onto granted pages,
//! and the parsing/negotiation of the backend's xenstore keys.
//!
//! Layouts (x86-64, all little-endian, offsets in bytes):
//!
//! | request kind                    | 0  | 1           | 2..4              | 8  | 16            | 24..                        |
//! |---------------------------------|----|-------------|-------------------|----|---------------|-----------------------------|
//! | read/write/flush/barrier (`rw`) | op | nr_segments | handle            | id | sector_number | `seg[11]`, 8 bytes each     |
//! | discard                         | op | flag        | —                 | id | sector_number | nr_sectors (u64)            |
//! | indirect                        | op | indirect_op | nr_segments (u16) | id | sector_number | handle (u16), pad, `indirect_grefs[8]` at 28 |
//!
//! A request slot is 112 bytes (`sizeof(struct blkif_request)`), a response 16 bytes
//! (`id` u64 at 0, `operation` u8 at 8, `status` i16 at 10): 32 slots per ring page.
//!
//! Everything here is plain data; the kernel glue (`xen_blkfront`) owns pages and grants.

/// `BLKIF_OP_READ`: read from the disk into the granted pages.
pub const OP_READ: u8 = 0;
/// `BLKIF_OP_WRITE`: write the granted pages to the disk.
pub const OP_WRITE: u8 = 1;
/// `BLKIF_OP_WRITE_BARRIER` (backend key `feature-barrier`): an ordered write that is also a
/// flush (used for flush and FUA when the backend only offers barriers).
pub const OP_WRITE_BARRIER: u8 = 2;
/// `BLKIF_OP_FLUSH_DISKCACHE` (backend key `feature-flush-cache`): flush the disk's write cache
/// (may carry data: written after the flush).
pub const OP_FLUSH_DISKCACHE: u8 = 3;
/// `BLKIF_OP_DISCARD` (backend key `feature-discard`): discard `nr_sectors` sectors.
pub const OP_DISCARD: u8 = 5;
/// `BLKIF_OP_INDIRECT` (backend key `feature-max-indirect-segments`): the segments are in
/// granted pages listed in `indirect_grefs`.
pub const OP_INDIRECT: u8 = 6;

/// `BLKIF_MAX_SEGMENTS_PER_REQUEST`: segments in a direct request.
pub const MAX_SEGMENTS_PER_REQUEST: usize = 11;
/// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`: indirect segment pages per indirect request.
pub const MAX_INDIRECT_PAGES_PER_REQUEST: usize = 8;
/// Size of `struct blkif_request_segment`, in bytes.
pub const SEGMENT_BYTES: usize = 8;
/// Segments per indirect page (`XEN_PAGE_SIZE / sizeof(struct blkif_request_segment)`).
pub const SEGMENTS_PER_INDIRECT_FRAME: usize = PAGE_BYTES / SEGMENT_BYTES;
/// Most segments an indirect request can describe (8 pages of 512).
pub const MAX_INDIRECT_SEGMENTS: usize =
    MAX_INDIRECT_PAGES_PER_REQUEST * SEGMENTS_PER_INDIRECT_FRAME;
/// Bytes of a request slot (`sizeof(struct blkif_request)`).
pub const REQUEST_BYTES: usize = 112;
/// Bytes of a response slot (`sizeof(struct blkif_response)`).
pub const RESPONSE_BYTES: usize = 16;
/// Xen page size, in bytes: the unit of a granted frame.
pub const PAGE_BYTES: usize = 4096;
/// blkif sectors are always 512 bytes, whatever the disk's `sector-size`.
pub const SECTOR_BYTES: usize = 512;
/// Sectors per granted page.
pub const SECTORS_PER_PAGE: usize = PAGE_BYTES / SECTOR_BYTES;

/// `BLKIF_DISCARD_SECURE`: flag of a discard request (backend key `discard-secure`).
pub const DISCARD_SECURE: u8 = 1;

/// `BLKIF_RSP_OKAY`.
pub const RSP_OKAY: i16 = 0;
/// `BLKIF_RSP_ERROR`.
pub const RSP_ERROR: i16 = -1;
/// `BLKIF_RSP_EOPNOTSUPP`: the backend does not support the operation.
pub const RSP_EOPNOTSUPP: i16 = -2;

/// `VDISK_CDROM` bit of the backend's `info` key.
pub const VDISK_CDROM: u32 = 0x1;
/// `VDISK_REMOVABLE` bit of the backend's `info` key.
pub const VDISK_REMOVABLE: u32 = 0x2;
/// `VDISK_READONLY` bit of the backend's `info` key.
pub const VDISK_READONLY: u32 = 0x4;

/// Largest `ring-page-order` a frontend may ask for (`XENBUS_MAX_RING_GRANT_ORDER`: 16 pages).
pub const MAX_RING_PAGE_ORDER: u32 = 4;

/// One `struct blkif_request_segment`: a granted frame and the inclusive sector range in it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Grant reference of the frame.
    pub gref: u32,
    /// First 512-byte sector of the frame to transfer (0..=7).
    pub first_sect: u8,
    /// Last 512-byte sector of the frame to transfer (inclusive, `first_sect..=7`).
    pub last_sect: u8,
    /// Padding (zero).
    pub _pad: u16,
}

/// A request slot (`struct blkif_request`, 112 bytes) built from one of the constructors.
/// Kept as bytes because the C type is a packed union; the constructors write each field at its
/// offset, unused bytes stay zero.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request(pub [u8; REQUEST_BYTES]);

impl Request {
    fn zeroed(op: u8, id: u64, sector: u64) -> Self {
        let mut r = Self([0; REQUEST_BYTES]);
        r.0[0] = op;
        r.0[8..16].copy_from_slice(&id.to_le_bytes());
        r.0[16..24].copy_from_slice(&sector.to_le_bytes());
        r
    }

    /// A read/write/flush/barrier request with up to 11 direct segments (`u.rw`). Returns `None`
    /// for more than [`MAX_SEGMENTS_PER_REQUEST`] segments.
    pub fn rw(op: u8, handle: u16, id: u64, sector: u64, segs: &[Segment]) -> Option<Self> {
        if segs.len() > MAX_SEGMENTS_PER_REQUEST {
            return None;
        }
        let mut r = Self::zeroed(op, id, sector);
        r.0[1] = segs.len() as u8;
        r.0[2..4].copy_from_slice(&handle.to_le_bytes());
        for (i, s) in segs.iter().enumerate() {
            let o = 24 + i * SEGMENT_BYTES;
            r.0[o..o + 4].copy_from_slice(&s.gref.to_le_bytes());
            r.0[o + 4] = s.first_sect;
            r.0[o + 5] = s.last_sect;
        }
        Some(r)
    }

    /// A discard request (`u.discard`), secure if `secure`.
    pub fn discard(id: u64, sector: u64, nr_sectors: u64, secure: bool) -> Self {
        let mut r = Self::zeroed(OP_DISCARD, id, sector);
        r.0[1] = if secure { DISCARD_SECURE } else { 0 };
        r.0[24..32].copy_from_slice(&nr_sectors.to_le_bytes());
        r
    }

    /// An indirect request (`u.indirect`) for `inner_op` (read or write) of `nr_segments`
    /// segments listed in the pages `indirect_grefs`. Returns `None` if the page count does not
    /// match the segment count or is above [`MAX_INDIRECT_PAGES_PER_REQUEST`].
    pub fn indirect(
        inner_op: u8,
        handle: u16,
        id: u64,
        sector: u64,
        nr_segments: u16,
        indirect_grefs: &[u32],
    ) -> Option<Self> {
        if indirect_grefs.len() != indirect_pages(nr_segments as usize)
            || indirect_grefs.len() > MAX_INDIRECT_PAGES_PER_REQUEST
        {
            return None;
        }
        let mut r = Self::zeroed(OP_INDIRECT, id, sector);
        r.0[1] = inner_op;
        r.0[2..4].copy_from_slice(&nr_segments.to_le_bytes());
        r.0[24..26].copy_from_slice(&handle.to_le_bytes());
        for (i, g) in indirect_grefs.iter().enumerate() {
            let o = 28 + i * 4;
            r.0[o..o + 4].copy_from_slice(&g.to_le_bytes());
        }
        Some(r)
    }

    /// The operation byte.
    pub fn operation(&self) -> u8 {
        self.0[0]
    }

    /// The id echoed in the response.
    pub fn id(&self) -> u64 {
        u64::from_le_bytes(self.0[8..16].try_into().unwrap_or([0; 8]))
    }
}

/// Indirect pages needed for `nr_segments` segments.
pub const fn indirect_pages(nr_segments: usize) -> usize {
    nr_segments.div_ceil(SEGMENTS_PER_INDIRECT_FRAME)
}

/// A response slot (`struct blkif_response`). Every bit pattern is a value, so the frontend reads
/// it with one volatile copy and then validates that copy ([`check_response`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The request's id, echoed.
    pub id: u64,
    /// The request's operation, echoed (for indirect requests: the inner operation).
    pub operation: u8,
    /// Padding.
    pub _pad: u8,
    /// `BLKIF_RSP_*`.
    pub status: i16,
    /// Padding to the 8-byte alignment.
    pub _pad2: u32,
}

// SAFETY: `repr(C)` integers only: any bit pattern is a `Response`.
unsafe impl crate::ring::AnyBitPattern for Response {}

/// The outcome a valid response reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RspStatus {
    /// `BLKIF_RSP_OKAY`.
    Okay,
    /// `BLKIF_RSP_ERROR`: the I/O failed.
    Error,
    /// `BLKIF_RSP_EOPNOTSUPP`: the backend does not support the operation.
    NotSupported,
}

/// A response that breaks the protocol: the device goes into its error state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RspError {
    /// The id is not one of ours (at or above the number of request ids).
    IdOutOfRange(u64),
    /// The id is ours but no request with it is in flight (duplicate or invented response).
    NotInFlight(u32),
    /// The echoed operation is not the one we sent.
    WrongOperation {
        /// Request id.
        id: u32,
        /// Operation we sent (inner operation for indirect requests).
        sent: u8,
        /// Operation echoed.
        got: u8,
    },
    /// A status that is none of the `BLKIF_RSP_*` values.
    BadStatus {
        /// Request id.
        id: u32,
        /// The status.
        status: i16,
    },
}

/// The operation a response to `req` must echo: the request's, or for an indirect request the
/// inner one (blkback's `pending_req->operation`).
pub fn expected_response_op(req_op: u8, inner_op: u8) -> u8 {
    if req_op == OP_INDIRECT {
        inner_op
    } else {
        req_op
    }
}

/// Validates a response copied from the ring: `nr_ids` is the number of request ids in use on
/// this ring (ids are `0..nr_ids`) and `in_flight(id)` the operation the response must echo for
/// the request with that id, `None` if none is in flight. Returns the id and outcome.
///
/// # Errors
/// [`RspError`] when the backend broke the protocol.
pub fn check_response(
    rsp: &Response,
    nr_ids: u32,
    in_flight: impl FnOnce(u32) -> Option<u8>,
) -> Result<(u32, RspStatus), RspError> {
    if rsp.id >= u64::from(nr_ids) {
        return Err(RspError::IdOutOfRange(rsp.id));
    }
    let id = rsp.id as u32;
    let Some(op) = in_flight(id) else {
        return Err(RspError::NotInFlight(id));
    };
    if rsp.operation != op {
        return Err(RspError::WrongOperation {
            id,
            sent: op,
            got: rsp.operation,
        });
    }
    let status = match rsp.status {
        RSP_OKAY => RspStatus::Okay,
        RSP_ERROR => RspStatus::Error,
        RSP_EOPNOTSUPP => RspStatus::NotSupported,
        status => return Err(RspError::BadStatus { id, status }),
    };
    Ok((id, status))
}

/// The segments of a transfer of `bytes` bytes packed linearly into consecutive pages (page `i`
/// holds bytes `i * 4096 ..`): `(first_sect, last_sect)` of page `i`, or `None` past the end.
/// The frontend bounces data through its own pages, so every segment starts at sector 0.
pub fn linear_segment(bytes: usize, i: usize) -> Option<(u8, u8)> {
    let start = i.checked_mul(PAGE_BYTES)?;
    if start >= bytes {
        return None;
    }
    let len = (bytes - start).min(PAGE_BYTES);
    let sectors = len.div_ceil(SECTOR_BYTES);
    Some((0, (sectors - 1) as u8))
}

/// Pages a transfer of `bytes` bytes needs ([`linear_segment`]).
pub const fn pages_for(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_BYTES)
}

/// Flush support negotiated from `feature-barrier` / `feature-flush-cache`
/// (`blkfront_gather_backend_features`): flush-cache wins over barriers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushMode {
    /// The operation used for flushes (and FUA writes), `None` without a write cache to flush.
    pub op: Option<u8>,
    /// Whether FUA can be passed through (only with barriers, which are flush + FUA).
    pub fua: bool,
}

impl FlushMode {
    /// From the backend's `feature-barrier` and `feature-flush-cache` values.
    pub fn negotiate(barrier: bool, flush_cache: bool) -> Self {
        if flush_cache {
            Self {
                op: Some(OP_FLUSH_DISKCACHE),
                fua: false,
            }
        } else if barrier {
            Self {
                op: Some(OP_WRITE_BARRIER),
                fua: true,
            }
        } else {
            Self {
                op: None,
                fua: false,
            }
        }
    }
}

/// Number of rings: the backend's `multi-queue-max-queues` (absent: 1) and our `max_queues`
/// (0 counts as 1), at least 1.
pub fn negotiate_queues(backend_max: Option<u32>, ours: u32) -> u32 {
    backend_max.unwrap_or(1).min(ours).max(1)
}

/// Ring page order: the backend's `max-ring-page-order` (absent: 0), our `max_ring_page_order`,
/// and [`MAX_RING_PAGE_ORDER`].
pub fn negotiate_ring_order(backend_max: Option<u32>, ours: u32) -> u32 {
    backend_max.unwrap_or(0).min(ours).min(MAX_RING_PAGE_ORDER)
}

/// Segments per request: the backend's `feature-max-indirect-segments` (absent: no indirect
/// requests) and our `max_indirect_segments`, capped at [`MAX_INDIRECT_SEGMENTS`]. Values not above
/// 11 mean no indirect requests: then 11 direct segments.
pub fn negotiate_segments(backend_indirect: Option<u32>, ours: u32) -> (usize, bool) {
    let n = backend_indirect.unwrap_or(0).min(ours) as usize;
    let n = n.min(MAX_INDIRECT_SEGMENTS);
    if n > MAX_SEGMENTS_PER_REQUEST {
        (n, true)
    } else {
        (MAX_SEGMENTS_PER_REQUEST, false)
    }
}

/// The disk geometry and properties of a connected backend, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskParams {
    /// Capacity in 512-byte sectors (`sectors`).
    pub sectors: u64,
    /// Logical block size in bytes (`sector-size`): a power of two, 512..=4096.
    pub sector_size: u32,
    /// Physical block size in bytes (`physical-sector-size`, default: the logical one).
    pub physical_sector_size: u32,
    /// `VDISK_*` bits of `info`.
    pub info: u32,
}

/// Why the backend's disk keys are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// `sector-size` not a power of two in 512..=4096.
    BadSectorSize(u32),
    /// `sectors` times `sector-size` bytes does not fit in an `i64` (the kernel's `loff_t`).
    CapacityTooLarge {
        /// The backend's `sectors`.
        sectors: u64,
        /// The logical sector size it was checked with, in bytes.
        sector_size: u32,
    },
    /// `sectors` is 0 on a disk that is neither removable nor a CD-ROM (`info` has neither
    /// `VDISK_REMOVABLE` nor `VDISK_CDROM`): there is no medium to change, so the disk could
    /// never hold data. Linux connects such a disk; we refuse it as a backend error.
    ZeroCapacity,
}

/// Largest `physical-sector-size` we take from a backend, in bytes (64 KiB, the block layer's
/// `BLK_MAX_BLOCK_SIZE` of later kernels). A larger value is replaced by the logical size, like any
/// other unusable one.
pub const MAX_PHYSICAL_SECTOR_SIZE: u32 = 1 << 16;

/// Checks a capacity the backend announces (`sectors`, at connect and on resize): the size in
/// bytes, `sectors * sector_size`, must fit in an `i64` (block device sizes are `loff_t`), so it
/// can never overflow a byte count in the block layer. Returns `sectors`.
///
/// # Errors
/// [`ParamsError::CapacityTooLarge`]; the caller keeps its previous capacity (resize) or refuses
/// the disk (connect).
pub fn check_capacity(sectors: u64, sector_size: u32) -> Result<u64, ParamsError> {
    match sectors.checked_mul(u64::from(sector_size)) {
        Some(bytes) if bytes <= i64::MAX as u64 => Ok(sectors),
        _ => Err(ParamsError::CapacityTooLarge {
            sectors,
            sector_size,
        }),
    }
}

impl DiskParams {
    /// Validates the backend's keys. A `physical-sector-size` that is not a power of two at
    /// least the logical size and at most [`MAX_PHYSICAL_SECTOR_SIZE`] is replaced by the logical
    /// size.
    ///
    /// # Errors
    /// [`ParamsError::BadSectorSize`] for a sector size we cannot work with,
    /// [`ParamsError::CapacityTooLarge`] as [`check_capacity`], [`ParamsError::ZeroCapacity`]
    /// for an empty fixed disk.
    pub fn new(
        sectors: u64,
        sector_size: u32,
        physical_sector_size: Option<u32>,
        info: u32,
    ) -> Result<Self, ParamsError> {
        if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
            return Err(ParamsError::BadSectorSize(sector_size));
        }
        let phys = match physical_sector_size {
            Some(p) if p.is_power_of_two() && p >= sector_size && p <= MAX_PHYSICAL_SECTOR_SIZE => {
                p
            }
            _ => sector_size,
        };
        check_capacity(sectors, sector_size)?;
        if sectors == 0 && info & (VDISK_REMOVABLE | VDISK_CDROM) == 0 {
            return Err(ParamsError::ZeroCapacity);
        }
        Ok(Self {
            sectors,
            sector_size,
            physical_sector_size: phys,
            info,
        })
    }

    /// `VDISK_READONLY`.
    pub fn read_only(&self) -> bool {
        self.info & VDISK_READONLY != 0
    }

    /// `VDISK_CDROM`.
    pub fn cdrom(&self) -> bool {
        self.info & VDISK_CDROM != 0
    }

    /// `VDISK_REMOVABLE`.
    pub fn removable(&self) -> bool {
        self.info & VDISK_REMOVABLE != 0
    }
}

/// Parses an unsigned decimal xenstore value (trailing NUL/newline tolerated).
pub fn parse_u64(v: &[u8]) -> Option<u64> {
    let v = v.strip_suffix(&[0]).unwrap_or(v);
    let v = v.strip_suffix(b"\n").unwrap_or(v);
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_blkif_h() {
        assert_eq!(core::mem::size_of::<Request>(), REQUEST_BYTES);
        assert_eq!(core::mem::size_of::<Response>(), RESPONSE_BYTES);
        assert_eq!(core::mem::offset_of!(Response, operation), 8);
        assert_eq!(core::mem::offset_of!(Response, status), 10);
        assert_eq!(core::mem::size_of::<Segment>(), SEGMENT_BYTES);
        assert_eq!(24 + MAX_SEGMENTS_PER_REQUEST * SEGMENT_BYTES, REQUEST_BYTES);
        assert_eq!(super::super::ring::ring_size(PAGE_BYTES, REQUEST_BYTES), 32);
        assert_eq!(SEGMENTS_PER_INDIRECT_FRAME, 512);
    }

    #[test]
    fn rw_request_bytes() {
        let segs = [
            Segment {
                gref: 0x1234_5678,
                first_sect: 0,
                last_sect: 7,
                _pad: 0,
            },
            Segment {
                gref: 9,
                first_sect: 0,
                last_sect: 3,
                _pad: 0,
            },
        ];
        let r = Request::rw(OP_WRITE, 51712, 0xabcd, 0x1_0000_0002, &segs).unwrap();
        assert_eq!(r.0[0], OP_WRITE);
        assert_eq!(r.0[1], 2);
        assert_eq!(&r.0[2..4], &51712u16.to_le_bytes());
        assert_eq!(r.id(), 0xabcd);
        assert_eq!(&r.0[16..24], &0x1_0000_0002u64.to_le_bytes());
        assert_eq!(&r.0[24..28], &0x1234_5678u32.to_le_bytes());
        assert_eq!((r.0[28], r.0[29]), (0, 7));
        assert_eq!(&r.0[32..36], &9u32.to_le_bytes());
        assert_eq!((r.0[36], r.0[37]), (0, 3));
        assert!(r.0[40..].iter().all(|&b| b == 0));
        assert!(Request::rw(OP_READ, 0, 0, 0, &[Segment::default(); 12]).is_none());
        let flush = Request::rw(OP_FLUSH_DISKCACHE, 1, 5, 0, &[]).unwrap();
        assert_eq!((flush.operation(), flush.0[1]), (OP_FLUSH_DISKCACHE, 0));
    }

    #[test]
    fn discard_and_indirect_bytes() {
        let d = Request::discard(3, 2048, 4096, true);
        assert_eq!((d.0[0], d.0[1]), (OP_DISCARD, DISCARD_SECURE));
        assert_eq!(d.id(), 3);
        assert_eq!(&d.0[16..24], &2048u64.to_le_bytes());
        assert_eq!(&d.0[24..32], &4096u64.to_le_bytes());
        assert_eq!(Request::discard(3, 0, 1, false).0[1], 0);

        let i = Request::indirect(OP_READ, 51712, 7, 100, 32, &[0xdead]).unwrap();
        assert_eq!((i.0[0], i.0[1]), (OP_INDIRECT, OP_READ));
        assert_eq!(&i.0[2..4], &32u16.to_le_bytes());
        assert_eq!(i.id(), 7);
        assert_eq!(&i.0[24..26], &51712u16.to_le_bytes());
        assert_eq!(&i.0[28..32], &0xdeadu32.to_le_bytes());
        assert!(Request::indirect(OP_READ, 0, 0, 0, 513, &[1]).is_none());
        assert!(Request::indirect(OP_READ, 0, 0, 0, 513, &[1, 2]).is_some());
        assert!(Request::indirect(OP_READ, 0, 0, 0, 4097, &[0; 9]).is_none());
    }

    #[test]
    fn responses_are_validated() {
        let ok = Response {
            id: 3,
            operation: OP_READ,
            status: RSP_OKAY,
            ..Default::default()
        };
        assert_eq!(
            check_response(&ok, 32, |_| Some(OP_READ)),
            Ok((3, RspStatus::Okay))
        );
        assert_eq!(
            check_response(&ok, 3, |_| Some(OP_READ)),
            Err(RspError::IdOutOfRange(3))
        );
        let huge = Response { id: u64::MAX, ..ok };
        assert_eq!(
            check_response(&huge, 32, |_| Some(OP_READ)),
            Err(RspError::IdOutOfRange(u64::MAX))
        );
        assert_eq!(
            check_response(&ok, 32, |_| None),
            Err(RspError::NotInFlight(3))
        );
        assert_eq!(
            check_response(&ok, 32, |_| Some(OP_WRITE)),
            Err(RspError::WrongOperation {
                id: 3,
                sent: OP_WRITE,
                got: OP_READ
            })
        );
        let e = Response {
            status: RSP_ERROR,
            ..ok
        };
        assert_eq!(
            check_response(&e, 32, |_| Some(OP_READ)),
            Ok((3, RspStatus::Error))
        );
        let n = Response {
            status: RSP_EOPNOTSUPP,
            ..ok
        };
        assert_eq!(
            check_response(&n, 32, |_| Some(OP_READ)),
            Ok((3, RspStatus::NotSupported))
        );
        let b = Response { status: 7, ..ok };
        assert_eq!(
            check_response(&b, 32, |_| Some(OP_READ)),
            Err(RspError::BadStatus { id: 3, status: 7 })
        );
        assert_eq!(expected_response_op(OP_INDIRECT, OP_WRITE), OP_WRITE);
        assert_eq!(expected_response_op(OP_DISCARD, 0), OP_DISCARD);
    }

    #[test]
    fn linear_segments() {
        assert_eq!(linear_segment(512, 0), Some((0, 0)));
        assert_eq!(linear_segment(512, 1), None);
        assert_eq!(linear_segment(4096, 0), Some((0, 7)));
        assert_eq!(linear_segment(4096 + 1024, 1), Some((0, 1)));
        assert_eq!(linear_segment(0, 0), None);
        assert_eq!(linear_segment(usize::MAX, usize::MAX), None);
        assert_eq!(pages_for(4097), 2);
        assert_eq!(pages_for(0), 0);
    }

    #[test]
    fn negotiation() {
        assert_eq!(
            FlushMode::negotiate(true, true),
            FlushMode {
                op: Some(OP_FLUSH_DISKCACHE),
                fua: false
            }
        );
        assert_eq!(
            FlushMode::negotiate(true, false),
            FlushMode {
                op: Some(OP_WRITE_BARRIER),
                fua: true
            }
        );
        assert_eq!(FlushMode::negotiate(false, false).op, None);
        assert_eq!(negotiate_queues(None, 4), 1);
        assert_eq!(negotiate_queues(Some(4), 2), 2);
        assert_eq!(negotiate_queues(Some(0), 2), 1);
        assert_eq!(negotiate_queues(Some(8), 0), 1);
        assert_eq!(negotiate_ring_order(None, 3), 0);
        assert_eq!(negotiate_ring_order(Some(4), 2), 2);
        assert_eq!(negotiate_ring_order(Some(9), 9), MAX_RING_PAGE_ORDER);
        assert_eq!(negotiate_segments(None, 32), (11, false));
        assert_eq!(negotiate_segments(Some(256), 32), (32, true));
        assert_eq!(negotiate_segments(Some(8), 32), (11, false));
        assert_eq!(negotiate_segments(Some(u32::MAX), u32::MAX), (4096, true));
    }

    #[test]
    fn capacity_fits_loff_t() {
        let max512 = i64::MAX as u64 / 512;
        assert_eq!(check_capacity(0, 512), Ok(0));
        assert_eq!(check_capacity(max512, 512), Ok(max512));
        assert!(check_capacity(max512 + 1, 512).is_err());
        let max4k = i64::MAX as u64 / 4096;
        assert_eq!(check_capacity(max4k, 4096), Ok(max4k));
        assert!(check_capacity(max4k + 1, 4096).is_err());
        // The value of the report: a resize to sectors=18446744073709551615.
        assert_eq!(
            check_capacity(u64::MAX, 512),
            Err(ParamsError::CapacityTooLarge {
                sectors: u64::MAX,
                sector_size: 512
            })
        );
        assert!(check_capacity(u64::MAX / 512, 512).is_err());
    }

    #[test]
    fn disk_params() {
        let p = DiskParams::new(1 << 20, 512, Some(4096), VDISK_READONLY).unwrap();
        assert!(p.read_only() && !p.cdrom() && !p.removable());
        assert_eq!(p.physical_sector_size, 4096);
        assert_eq!(
            DiskParams::new(1, 512, Some(100), 0)
                .unwrap()
                .physical_sector_size,
            512
        );
        assert_eq!(
            DiskParams::new(1, 4096, Some(512), 3)
                .unwrap()
                .physical_sector_size,
            4096
        );
        assert_eq!(
            DiskParams::new(1, 1000, None, 0),
            Err(ParamsError::BadSectorSize(1000))
        );
        assert_eq!(
            DiskParams::new(1, 8192, None, 0),
            Err(ParamsError::BadSectorSize(8192))
        );
        assert_eq!(
            DiskParams::new(1, 3, None, 0),
            Err(ParamsError::BadSectorSize(3))
        );
        // No capacity: refused on a fixed disk, an empty drive otherwise.
        assert_eq!(
            DiskParams::new(0, 512, None, 0),
            Err(ParamsError::ZeroCapacity)
        );
        assert!(DiskParams::new(0, 512, None, VDISK_REMOVABLE).is_ok());
        assert!(DiskParams::new(0, 512, None, VDISK_CDROM).is_ok());
        // physical-sector-size: bounded above, else the logical size.
        assert_eq!(
            DiskParams::new(1, 512, Some(MAX_PHYSICAL_SECTOR_SIZE), 0)
                .unwrap()
                .physical_sector_size,
            MAX_PHYSICAL_SECTOR_SIZE
        );
        assert_eq!(
            DiskParams::new(1, 512, Some(1 << 31), 0)
                .unwrap()
                .physical_sector_size,
            512
        );
        assert_eq!(
            DiskParams::new(u64::MAX, 512, None, 0),
            Err(ParamsError::CapacityTooLarge {
                sectors: u64::MAX,
                sector_size: 512
            })
        );
        assert_eq!(parse_u64(b"123\0"), Some(123));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
    }
}
