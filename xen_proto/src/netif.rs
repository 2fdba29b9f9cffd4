// SPDX-License-Identifier: GPL-2.0
//! The netif protocol of Xen's virtual network interfaces, frontend side, as defined by
//! `include/xen/interface/io/netif.h`: the tx/rx ring entries, extra-info slots (GSO), flags and
//! status codes, and the validation of everything the (untrusted) backend writes into the rings.
//!
//! Pure values, no memory access: the kernel module copies each response once out of the shared
//! ring (`ring.rs`) and hands the copy to [`check_tx_response`] or [`RxAssembler::feed`], which
//! either accept it or report a [`NetifError`] (a protocol violation: the device goes into an error
//! state, nothing here panics on backend input).
//!
//! Layout used by `xen_netfront` (one page per ring, 256 entries each, see [`RING_ENTRIES`]):
//! - tx: a packet is `1 + extras + n` requests: the first carries the whole packet's size and the
//!   flags, an optional GSO extra-info slot follows it, then one request per further page of data.
//!   Each data request names a slot id (`0..RING_ENTRIES`) owning a granted bounce page.
//! - rx: request `i` always uses slot id `i % RING_ENTRIES` (as Linux's netfront); the backend
//!   answers in the same ring position with the same id, extra-info slots overwrite a response.

/// Entries of the tx and rx rings in one 4 KiB page (`__CONST_RING_SIZE(xen_netif_tx, 4096)` and
/// `..._rx`): 12-byte and 8-byte entries both round down to 256.
pub const RING_ENTRIES: u16 = 256;

/// Largest packet a tx request can describe: its `size` field is 16 bits
/// (`XEN_NETIF_MAX_TX_SIZE`), in bytes.
pub const MAX_TX_SIZE: usize = 0xffff;

/// Data slots a tx packet may use: a backend fails packets of more than
/// `XEN_NETBK_LEGACY_SLOTS_MAX` (18) slots (netif.h "Guest transmit"). 17 pages of 4 KiB hold
/// [`MAX_TX_SIZE`].
pub const MAX_TX_SLOTS: usize = 18;

/// Data slots an rx packet may use before we call it a protocol violation (Linux:
/// `XEN_NETBK_RX_SLOTS_MAX`, `MAX_SKB_FRAGS + 2`).
pub const MAX_RX_SLOTS: u16 = 19;

/// Largest rx packet we accept: a maximal IP packet plus the Ethernet header, in bytes.
pub const MAX_RX_SIZE: u32 = 0xffff + 14;

/// Xen page size, in bytes: no slot's `offset + size` may exceed it.
pub const PAGE_SIZE: usize = 4096;

/// `NETTXF_*`: tx request flags.
pub mod txf {
    /// Protocol checksum field is blank in the packet (hardware offload).
    pub const CSUM_BLANK: u16 = 1 << 0;
    /// Packet data has been validated against the protocol checksum.
    pub const DATA_VALIDATED: u16 = 1 << 1;
    /// Packet continues in the next request.
    pub const MORE_DATA: u16 = 1 << 2;
    /// Packet to be followed by extra info slot(s).
    pub const EXTRA_INFO: u16 = 1 << 3;
}

/// `NETRXF_*`: rx response flags.
pub mod rxf {
    /// Packet data has been validated against the protocol checksum.
    pub const DATA_VALIDATED: u16 = 1 << 0;
    /// Protocol checksum field is blank in the packet (hardware offload).
    pub const CSUM_BLANK: u16 = 1 << 1;
    /// Packet continues in the next response.
    pub const MORE_DATA: u16 = 1 << 2;
    /// Packet to be followed by extra info slot(s).
    pub const EXTRA_INFO: u16 = 1 << 3;
    /// A GSO prefix descriptor precedes the packet (`feature-gso-prefix`, which we never ask for).
    pub const GSO_PREFIX: u16 = 1 << 4;
}

/// `XEN_NETIF_RSP_*`: response status values (rx responses use positive values as sizes).
pub mod rsp {
    /// Request dropped by the backend.
    pub const DROPPED: i16 = -2;
    /// Request failed.
    pub const ERROR: i16 = -1;
    /// Success.
    pub const OKAY: i16 = 0;
    /// No response: the slot of an extra-info request (tx).
    pub const NULL: i16 = 1;
}

/// `XEN_NETIF_EXTRA_TYPE_GSO`: the extra-info slot describes a GSO packet.
pub const EXTRA_TYPE_GSO: u8 = 1;
/// `XEN_NETIF_EXTRA_TYPE_MAX`: extra types are below this value.
pub const EXTRA_TYPE_MAX: u8 = 6;
/// `XEN_NETIF_EXTRA_FLAG_MORE`: another extra-info slot follows.
pub const EXTRA_FLAG_MORE: u8 = 1;
/// `XEN_NETIF_GSO_TYPE_TCPV4`.
pub const GSO_TYPE_TCPV4: u8 = 1;
/// `XEN_NETIF_GSO_TYPE_TCPV6`.
pub const GSO_TYPE_TCPV6: u8 = 2;

/// `struct xen_netif_tx_request` (12 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxRequest {
    /// Grant reference of the page holding the data.
    pub gref: u32,
    /// Offset of the data within the page, in bytes.
    pub offset: u16,
    /// `NETTXF_*`.
    pub flags: u16,
    /// Echoed in the response.
    pub id: u16,
    /// First request of a packet: the whole packet's size; others: this slot's, in bytes.
    pub size: u16,
}

/// `struct xen_netif_tx_response` (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxResponse {
    /// The request's id.
    pub id: u16,
    /// `XEN_NETIF_RSP_*`.
    pub status: i16,
}

// SAFETY: `repr(C)` integers only: any bit pattern is a `TxResponse`.
unsafe impl crate::ring::AnyBitPattern for TxResponse {}

/// `struct xen_netif_rx_request` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxRequest {
    /// Echoed in the response.
    pub id: u16,
    /// Padding.
    pub pad: u16,
    /// Grant reference of the page the backend copies the data into.
    pub gref: u32,
}

/// `struct xen_netif_rx_response` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxResponse {
    /// The request's id.
    pub id: u16,
    /// Offset of the data in the page, in bytes.
    pub offset: u16,
    /// `NETRXF_*`.
    pub flags: u16,
    /// Bytes of data (> 0) or `XEN_NETIF_RSP_*` (<= 0).
    pub status: i16,
}

// SAFETY: `repr(C)` integers only: any bit pattern is an `RxResponse`.
unsafe impl crate::ring::AnyBitPattern for RxResponse {}

/// `struct xen_netif_extra_info` with its GSO member (8 bytes): `type`, `flags`, then
/// `gso.size`, `gso.type`, `gso.pad`, `gso.features`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_*`.
    pub ty: u8,
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    pub flags: u8,
    /// GSO: maximum payload of each segment (MSS), in bytes.
    pub gso_size: u16,
    /// GSO: `XEN_NETIF_GSO_TYPE_*`.
    pub gso_type: u8,
    /// GSO: `XEN_NETIF_GSO_FEAT_*` (none defined).
    pub gso_features: u16,
}

const _: () = assert!(core::mem::size_of::<TxRequest>() == 12);
const _: () = assert!(core::mem::size_of::<TxResponse>() == 4);
const _: () = assert!(core::mem::size_of::<RxRequest>() == 8);
const _: () = assert!(core::mem::size_of::<RxResponse>() == 8);

impl ExtraInfo {
    /// A GSO extra-info slot for segments of `mss` bytes of `gso_type` (`GSO_TYPE_TCPV4/6`).
    pub const fn gso(mss: u16, gso_type: u8) -> Self {
        Self {
            ty: EXTRA_TYPE_GSO,
            flags: 0,
            gso_size: mss,
            gso_type,
            gso_features: 0,
        }
    }

    /// The 8 bytes of the wire format (little-endian, as x86 guests use).
    pub const fn to_bytes(self) -> [u8; 8] {
        let s = self.gso_size.to_le_bytes();
        let f = self.gso_features.to_le_bytes();
        [
            self.ty,
            self.flags,
            s[0],
            s[1],
            self.gso_type,
            0,
            f[0],
            f[1],
        ]
    }

    /// Parses the 8 bytes of the wire format.
    pub const fn from_bytes(b: [u8; 8]) -> Self {
        Self {
            ty: b[0],
            flags: b[1],
            gso_size: u16::from_le_bytes([b[2], b[3]]),
            gso_type: b[4],
            gso_features: u16::from_le_bytes([b[6], b[7]]),
        }
    }

    /// The extra slot as a tx ring entry (the first 8 of its 12 bytes).
    pub const fn to_tx_request(self) -> TxRequest {
        let b = self.to_bytes();
        TxRequest {
            gref: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            offset: u16::from_le_bytes([b[4], b[5]]),
            flags: u16::from_le_bytes([b[6], b[7]]),
            id: 0,
            size: 0,
        }
    }

    /// An rx ring entry that holds an extra-info slot, reinterpreted.
    pub const fn from_rx_response(r: RxResponse) -> Self {
        let (a, b, c, d) = (
            r.id.to_le_bytes(),
            r.offset.to_le_bytes(),
            r.flags.to_le_bytes(),
            r.status.to_le_bytes(),
        );
        Self::from_bytes([a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1]])
    }
}

/// A protocol violation by the backend: the device must stop using the rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetifError {
    /// A tx response names an id out of range or not in flight.
    BadTxId(u16),
    /// A tx response carries an unknown status.
    BadTxStatus(i16),
    /// An rx response's id is not the one of its ring position.
    BadRxId {
        /// Expected slot id.
        expected: u16,
        /// The id the backend wrote.
        got: u16,
    },
    /// `offset + size` of an rx response runs past the page.
    BadRxRange {
        /// Offset in the page.
        offset: u16,
        /// Size in bytes.
        size: u16,
    },
    /// An rx packet uses more than [`MAX_RX_SLOTS`] slots or [`MAX_RX_SIZE`] bytes.
    RxTooLong,
    /// An rx extra-info slot of an unknown type, or a GSO slot with a bad type or size.
    BadExtra(u8),
    /// Flags the backend must not use (`GSO_PREFIX`: never negotiated).
    BadRxFlags(u16),
    /// A tx slot was answered but the backend still maps the granted page (trusted mode: the
    /// page is the packet's own and is never given back to the kernel).
    TxGrantInUse(u16),
    /// An rx slot was answered but the backend still maps its page (a copying backend never
    /// maps it): the page is never given to the stack nor reused.
    RxGrantInUse(u16),
    /// An rx response for a slot that holds no posted page (answered once already, or never
    /// requested): nothing of it is read.
    RxSlotNotPosted(u16),
}

/// What a valid tx response means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxDone {
    /// The answer to an extra-info slot: nothing to complete.
    Null,
    /// Slot `id` is complete; `ok` is false if the backend dropped or failed it.
    Slot {
        /// The slot id of the request.
        id: u16,
        /// Status was `OKAY`.
        ok: bool,
    },
}

/// Validates a tx response copied out of the ring. `in_flight(id)` tells whether slot `id` (known
/// to be `< RING_ENTRIES`) has a request outstanding.
///
/// # Errors
/// [`NetifError::BadTxId`] or [`NetifError::BadTxStatus`].
pub fn check_tx_response(
    r: TxResponse,
    in_flight: impl Fn(u16) -> bool,
) -> Result<TxDone, NetifError> {
    match r.status {
        rsp::NULL => Ok(TxDone::Null),
        rsp::OKAY | rsp::ERROR | rsp::DROPPED => {
            if r.id >= RING_ENTRIES || !in_flight(r.id) {
                return Err(NetifError::BadTxId(r.id));
            }
            Ok(TxDone::Slot {
                id: r.id,
                ok: r.status == rsp::OKAY,
            })
        }
        s => Err(NetifError::BadTxStatus(s)),
    }
}

/// What the guest's stack is told about a received packet's checksum (Linux's `skb->ip_summed`),
/// from its first response's `NETRXF_*` flags ([`rxf`]) and whether the backend sent a GSO
/// extra, as Linux's `xennet_poll` and `checksum_setup` (drivers/net/xen-netfront.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxChecksum {
    /// `CHECKSUM_NONE`: nothing is known, the stack verifies the checksum.
    None,
    /// `CHECKSUM_UNNECESSARY`: the backend validated the data (`NETRXF_data_validated`).
    Unnecessary,
    /// `CHECKSUM_PARTIAL`: the checksum field is not filled in (`NETRXF_csum_blank`: the packet
    /// came from another guest on this host), or the packet is GSO, which the stack may segment
    /// again and so must have its checksum offsets; the driver finds them with
    /// `skb_checksum_setup`. `recalc`: the pseudo-header checksum is recomputed as well (a GSO
    /// packet that was not flagged `csum_blank` carries a full checksum, not a partial one).
    Partial {
        /// Recompute the pseudo-header checksum.
        recalc: bool,
    },
}

impl RxChecksum {
    /// The checksum state of a packet with first-response flags `flags`, GSO if `gso`.
    pub const fn from_rx(flags: u16, gso: bool) -> Self {
        if flags & rxf::CSUM_BLANK != 0 {
            Self::Partial { recalc: false }
        } else if gso {
            Self::Partial { recalc: true }
        } else if flags & rxf::DATA_VALIDATED != 0 {
            Self::Unnecessary
        } else {
            Self::None
        }
    }
}

/// How many data slots a tx packet of `len` bytes needs with one bounce page per slot.
pub const fn tx_slots_for(len: usize) -> usize {
    len.div_ceil(PAGE_SIZE)
}

/// Metadata of a complete rx packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxPacket {
    /// `NETRXF_*` of the first response (checksum state).
    pub flags: u16,
    /// Total bytes of data.
    pub len: u32,
    /// GSO segment size and type (`GSO_TYPE_*`), if the backend sent a GSO extra.
    pub gso: Option<(u16, u8)>,
    /// The backend reported an error for a slot: drop the packet.
    pub error: bool,
}

/// What to do with one rx response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxStep {
    /// The slot whose buffer the response used (recycle it after copying the data out).
    pub slot: u16,
    /// Data in the slot's page: `(offset, len)`; `None` for extra-info slots and failed slots.
    pub data: Option<(u16, u16)>,
    /// Whether this slot starts a new packet.
    pub first: bool,
    /// The packet is complete: deliver (or drop, if `error`) it.
    pub done: Option<RxPacket>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RxState {
    First,
    Extra { more_data: bool },
    More,
}

/// Reassembles rx packets from responses (`xennet_get_responses`, `xennet_get_extras`), one
/// response at a time, so a packet whose tail the backend has not published yet simply continues
/// at the next poll.
#[derive(Clone, Copy, Debug)]
pub struct RxAssembler {
    state: RxState,
    pkt: RxPacket,
    slots: u16,
    sg: bool,
}

impl RxAssembler {
    /// A new assembler; `sg` is whether multi-slot packets were negotiated (`feature-sg`).
    pub const fn new(sg: bool) -> Self {
        Self {
            state: RxState::First,
            pkt: RxPacket {
                flags: 0,
                len: 0,
                gso: None,
                error: false,
            },
            slots: 0,
            sg,
        }
    }

    /// Whether a packet is partly received.
    pub const fn in_packet(&self) -> bool {
        !matches!(self.state, RxState::First)
    }

    /// Consumes response `r` read from ring index `idx`.
    ///
    /// # Errors
    /// A [`NetifError`] for a protocol violation; the assembler state is then meaningless.
    pub fn feed(&mut self, idx: u32, r: RxResponse) -> Result<RxStep, NetifError> {
        let slot = (idx % u32::from(RING_ENTRIES)) as u16;
        self.slots += 1;
        if self.slots > MAX_RX_SLOTS {
            return Err(NetifError::RxTooLong);
        }
        match self.state {
            RxState::Extra { more_data } => {
                let e = ExtraInfo::from_rx_response(r);
                if e.ty == 0 || e.ty >= EXTRA_TYPE_MAX {
                    return Err(NetifError::BadExtra(e.ty));
                }
                if e.ty == EXTRA_TYPE_GSO {
                    if e.gso_size == 0
                        || !(e.gso_type == GSO_TYPE_TCPV4 || e.gso_type == GSO_TYPE_TCPV6)
                    {
                        return Err(NetifError::BadExtra(e.ty));
                    }
                    self.pkt.gso = Some((e.gso_size, e.gso_type));
                }
                let done = if e.flags & EXTRA_FLAG_MORE != 0 {
                    None
                } else if more_data {
                    self.state = RxState::More;
                    None
                } else {
                    Some(self.finish())
                };
                Ok(RxStep {
                    slot,
                    data: None,
                    first: false,
                    done,
                })
            }
            RxState::First | RxState::More => {
                let first = self.state == RxState::First;
                if r.id != slot {
                    return Err(NetifError::BadRxId {
                        expected: slot,
                        got: r.id,
                    });
                }
                if first {
                    if r.flags & rxf::GSO_PREFIX != 0 {
                        return Err(NetifError::BadRxFlags(r.flags));
                    }
                    self.pkt.flags = r.flags;
                }
                let more = r.flags & rxf::MORE_DATA != 0;
                if more && !self.sg {
                    return Err(NetifError::BadRxFlags(r.flags));
                }
                let data = if r.status > 0 {
                    let size = r.status as u16;
                    if usize::from(r.offset) + usize::from(size) > PAGE_SIZE {
                        return Err(NetifError::BadRxRange {
                            offset: r.offset,
                            size,
                        });
                    }
                    self.pkt.len += u32::from(size);
                    if self.pkt.len > MAX_RX_SIZE {
                        return Err(NetifError::RxTooLong);
                    }
                    Some((r.offset, size))
                } else {
                    // A failed slot, or an empty one (status 0 = OKAY carries no data).
                    if r.status < 0 {
                        self.pkt.error = true;
                    }
                    None
                };
                let extra = first && r.flags & rxf::EXTRA_INFO != 0;
                let done = if extra {
                    self.state = RxState::Extra { more_data: more };
                    None
                } else if more {
                    self.state = RxState::More;
                    None
                } else {
                    Some(self.finish())
                };
                Ok(RxStep {
                    slot,
                    data,
                    first,
                    done,
                })
            }
        }
    }

    fn finish(&mut self) -> RxPacket {
        let mut p = self.pkt;
        if p.len == 0 {
            p.error = true;
        }
        *self = Self::new(self.sg);
        p
    }
}

/// Parses a `mac` node (`"00:16:3e:54:42:01"`, optionally NUL-terminated) into 6 bytes; `None`
/// unless it is six two-digit hex bytes separated by colons and a valid unicast address.
pub fn parse_mac(s: &[u8]) -> Option<[u8; 6]> {
    let s = s.strip_suffix(&[0]).unwrap_or(s);
    if s.len() != 17 {
        return None;
    }
    let hex = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut mac = [0u8; 6];
    for (i, m) in mac.iter_mut().enumerate() {
        let p = i * 3;
        if i < 5 && s[p + 2] != b':' {
            return None;
        }
        *m = hex(s[p])? << 4 | hex(s[p + 1])?;
    }
    // Multicast bit set, or all zeroes: not an interface address.
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return None;
    }
    Some(mac)
}

/// The features a frontend negotiates with the backend's `feature-*` keys (read with
/// `XenbusDevice::otherend_feature`), and what it may then use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// `feature-rx-copy`: the backend copies into our pages (required: we never flip pages).
    pub rx_copy: bool,
    /// `feature-sg`: multi-slot packets.
    pub sg: bool,
    /// `feature-gso-tcpv4`.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`.
    pub gso_tcpv6: bool,
    /// Not `feature-no-csum-offload`: IPv4 checksum offload.
    pub ipv4_csum: bool,
    /// `feature-ipv6-csum-offload`.
    pub ipv6_csum: bool,
    /// `feature-rx-notify` of the backend (we also advertise ours).
    pub rx_notify: bool,
    /// `feature-split-event-channels`.
    pub split_evtchn: bool,
    /// `multi-queue-max-queues` (0 or 1: one queue).
    pub max_queues: u32,
}

impl Features {
    /// Builds the set from a lookup of backend keys: `flag(key)` is whether the key is present and
    /// non-zero, `num(key)` its numeric value. GSO needs SG and checksum offload for its IP
    /// version (as Linux's `xennet_fix_features`).
    pub fn from_backend(flag: impl Fn(&[u8]) -> bool, num: impl Fn(&[u8]) -> Option<u32>) -> Self {
        let sg = flag(b"feature-sg");
        let ipv4_csum = !flag(b"feature-no-csum-offload");
        let ipv6_csum = flag(b"feature-ipv6-csum-offload");
        Self {
            rx_copy: flag(b"feature-rx-copy"),
            sg,
            gso_tcpv4: sg && ipv4_csum && flag(b"feature-gso-tcpv4"),
            gso_tcpv6: sg && ipv6_csum && flag(b"feature-gso-tcpv6"),
            ipv4_csum,
            ipv6_csum,
            rx_notify: flag(b"feature-rx-notify"),
            split_evtchn: flag(b"feature-split-event-channels"),
            max_queues: num(b"multi-queue-max-queues").unwrap_or(0),
        }
    }

    /// Number of queues to use, given the `max_queues` module parameter and the CPU count.
    pub fn queues(&self, param: u32, cpus: u32) -> u32 {
        self.max_queues.min(param).min(cpus).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(id: u16, offset: u16, flags: u16, status: i16) -> RxResponse {
        RxResponse {
            id,
            offset,
            flags,
            status,
        }
    }

    fn extra_rsp(e: ExtraInfo) -> RxResponse {
        let b = e.to_bytes();
        RxResponse {
            id: u16::from_le_bytes([b[0], b[1]]),
            offset: u16::from_le_bytes([b[2], b[3]]),
            flags: u16::from_le_bytes([b[4], b[5]]),
            status: i16::from_le_bytes([b[6], b[7]]),
        }
    }

    #[test]
    fn layouts() {
        assert_eq!(core::mem::size_of::<TxRequest>(), 12);
        assert_eq!(core::mem::align_of::<TxRequest>(), 4);
        let t = ExtraInfo::gso(1448, GSO_TYPE_TCPV6).to_tx_request();
        // type 1, flags 0, size 1448 = 0x05a8, gso type 2.
        assert_eq!(t.gref, 0x05a8_0001);
        assert_eq!(t.offset, 2);
        assert_eq!(t.flags, 0);
        let e = ExtraInfo::gso(9000, GSO_TYPE_TCPV4);
        assert_eq!(ExtraInfo::from_rx_response(extra_rsp(e)), e);
        assert_eq!(ExtraInfo::from_bytes(e.to_bytes()), e);
    }

    #[test]
    fn tx_responses() {
        let busy = |id: u16| id == 3;
        assert_eq!(
            check_tx_response(TxResponse { id: 3, status: 0 }, busy),
            Ok(TxDone::Slot { id: 3, ok: true })
        );
        assert_eq!(
            check_tx_response(TxResponse { id: 3, status: -2 }, busy),
            Ok(TxDone::Slot { id: 3, ok: false })
        );
        assert_eq!(
            check_tx_response(TxResponse { id: 999, status: 1 }, busy),
            Ok(TxDone::Null)
        );
        assert_eq!(
            check_tx_response(TxResponse { id: 4, status: 0 }, busy),
            Err(NetifError::BadTxId(4))
        );
        assert_eq!(
            check_tx_response(TxResponse { id: 256, status: 0 }, |_| true),
            Err(NetifError::BadTxId(256))
        );
        assert_eq!(
            check_tx_response(TxResponse { id: 3, status: 7 }, busy),
            Err(NetifError::BadTxStatus(7))
        );
        assert_eq!(tx_slots_for(1), 1);
        assert_eq!(RxChecksum::from_rx(0, false), RxChecksum::None);
        assert_eq!(
            RxChecksum::from_rx(rxf::DATA_VALIDATED, false),
            RxChecksum::Unnecessary
        );
        // csum_blank wins over data_validated (the field is blank whatever else is said).
        let both = rxf::CSUM_BLANK | rxf::DATA_VALIDATED;
        assert_eq!(
            RxChecksum::from_rx(both, false),
            RxChecksum::Partial { recalc: false }
        );
        assert_eq!(
            RxChecksum::from_rx(rxf::CSUM_BLANK, true),
            RxChecksum::Partial { recalc: false }
        );
        // GSO without csum_blank: offsets found and the pseudo-header sum recomputed.
        assert_eq!(
            RxChecksum::from_rx(0, true),
            RxChecksum::Partial { recalc: true }
        );
        assert_eq!(
            RxChecksum::from_rx(rxf::DATA_VALIDATED, true),
            RxChecksum::Partial { recalc: true }
        );
        assert_eq!(tx_slots_for(4096), 1);
        assert_eq!(tx_slots_for(4097), 2);
        assert!(tx_slots_for(MAX_TX_SIZE) < MAX_TX_SLOTS);
    }

    #[test]
    fn rx_single_slot() {
        let mut a = RxAssembler::new(false);
        let s = a.feed(300, data(44, 0, rxf::DATA_VALIDATED, 60)).unwrap();
        assert_eq!(s.slot, 44);
        assert_eq!(s.data, Some((0, 60)));
        assert!(s.first);
        let p = s.done.unwrap();
        assert_eq!(p.len, 60);
        assert_eq!(p.flags, rxf::DATA_VALIDATED);
        assert!(!p.error);
        assert!(!a.in_packet());
    }

    #[test]
    fn rx_gso_chain_split_across_polls() {
        let mut a = RxAssembler::new(true);
        let f = rxf::MORE_DATA | rxf::EXTRA_INFO | rxf::CSUM_BLANK;
        let s = a.feed(0, data(0, 0, f, 4096)).unwrap();
        assert!(s.done.is_none());
        let s = a
            .feed(1, extra_rsp(ExtraInfo::gso(1448, GSO_TYPE_TCPV4)))
            .unwrap();
        assert_eq!(s.data, None);
        assert!(a.in_packet());
        let s = a.feed(2, data(2, 0, rxf::MORE_DATA, 4096)).unwrap();
        assert!(s.done.is_none());
        let s = a.feed(3, data(3, 0, 0, 100)).unwrap();
        let p = s.done.unwrap();
        assert_eq!(p.len, 8292);
        assert_eq!(p.gso, Some((1448, GSO_TYPE_TCPV4)));
        assert_eq!(p.flags, f);
    }

    #[test]
    fn rx_rejects_bad_input() {
        let mut a = RxAssembler::new(true);
        assert_eq!(
            a.feed(5, data(6, 0, 0, 10)),
            Err(NetifError::BadRxId {
                expected: 5,
                got: 6
            })
        );
        let mut a = RxAssembler::new(true);
        assert!(matches!(
            a.feed(5, data(5, 4000, 0, 200)),
            Err(NetifError::BadRxRange { .. })
        ));
        let mut a = RxAssembler::new(false);
        assert!(matches!(
            a.feed(5, data(5, 0, rxf::MORE_DATA, 200)),
            Err(NetifError::BadRxFlags(_))
        ));
        let mut a = RxAssembler::new(true);
        a.feed(0, data(0, 0, rxf::EXTRA_INFO, 10)).unwrap();
        assert_eq!(
            a.feed(1, extra_rsp(ExtraInfo::gso(0, GSO_TYPE_TCPV4))),
            Err(NetifError::BadExtra(1))
        );
        let mut a = RxAssembler::new(true);
        a.feed(0, data(0, 0, rxf::EXTRA_INFO, 10)).unwrap();
        let mut e = ExtraInfo::gso(100, 1);
        e.ty = 9;
        assert_eq!(a.feed(1, extra_rsp(e)), Err(NetifError::BadExtra(9)));
        // An endless more_data chain stops at the slot limit.
        let mut a = RxAssembler::new(true);
        let mut r = Ok(());
        for i in 0..40u32 {
            if let Err(e) = a.feed(i, data(i as u16, 0, rxf::MORE_DATA, 1)) {
                r = Err(e);
                break;
            }
        }
        assert_eq!(r, Err(NetifError::RxTooLong));
        let mut a = RxAssembler::new(true);
        assert!(matches!(
            a.feed(0, data(0, 0, rxf::GSO_PREFIX, 10)),
            Err(NetifError::BadRxFlags(_))
        ));
    }

    #[test]
    fn rx_error_slots_drop_the_packet() {
        let mut a = RxAssembler::new(true);
        let s = a.feed(7, data(7, 0, 0, rsp::ERROR)).unwrap();
        assert_eq!(s.data, None);
        assert!(s.done.unwrap().error);
        let s = a.feed(8, data(8, 0, 0, 0)).unwrap();
        assert!(s.done.unwrap().error, "an empty packet is dropped");
        let s = a.feed(9, data(9, 0, 0, 64)).unwrap();
        assert!(!s.done.unwrap().error, "the next packet is fine");
    }

    #[test]
    fn mac() {
        assert_eq!(
            parse_mac(b"00:16:3e:54:42:01\0"),
            Some([0, 0x16, 0x3e, 0x54, 0x42, 1])
        );
        assert_eq!(
            parse_mac(b"00:16:3E:54:42:0F"),
            Some([0, 0x16, 0x3e, 0x54, 0x42, 0xf])
        );
        assert_eq!(parse_mac(b"01:16:3e:54:42:01"), None);
        assert_eq!(parse_mac(b"00:00:00:00:00:00"), None);
        assert_eq!(parse_mac(b"00-16-3e-54-42-01"), None);
        assert_eq!(parse_mac(b"00:16:3e:54:42:0"), None);
        assert_eq!(parse_mac(b"00:16:3e:54:42:0g"), None);
    }

    #[test]
    fn features() {
        let all = |k: &[u8]| k != b"feature-no-csum-offload";
        let f = Features::from_backend(all, |_| Some(4));
        assert!(f.rx_copy && f.sg && f.gso_tcpv4 && f.gso_tcpv6 && f.ipv4_csum && f.ipv6_csum);
        assert_eq!(f.queues(8, 2), 2);
        assert_eq!(f.queues(1, 2), 1);
        let none = Features::from_backend(|_| false, |_| None);
        assert!(!none.sg && !none.gso_tcpv4 && none.ipv4_csum && !none.ipv6_csum);
        assert_eq!(none.queues(8, 2), 1);
        let nosg = Features::from_backend(|k| k != b"feature-sg", |_| None);
        assert!(!nosg.gso_tcpv4 && !nosg.gso_tcpv6);
    }
}
