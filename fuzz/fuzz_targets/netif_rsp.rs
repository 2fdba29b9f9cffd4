// SPDX-License-Identifier: GPL-2.0
//! A hostile network backend answering a frontend that uses xen_proto as xen_netfront does.
//!
//! tx: packets of 1..=18 data slots (slot ids from a free list) and an optional GSO extra-info
//! slot go out through a `SharedRing`; the backend answers honestly (status per slot, NULL for the
//! extra) or with arbitrary responses (ids never sent or out of range, duplicates, unknown status)
//! and arbitrary `rsp_prod`; the frontend collects them as `tx_gc` does
//! (`responses_ready`/`final_check_for_responses`/`take_response`, `netif::check_tx_response`).
//! Asserted: an accepted completion names an id below `RING_ENTRIES` that was in flight, and it is
//! freed exactly once; NULL is accepted only for status NULL; refusals name the actual fault.
//!
//! rx: the ring is kept full of requests (request `i` uses id `i % 256`, reposted after each
//! response, as netfront); the backend writes honest packets (data slots and GSO extras) or
//! arbitrary responses (sizes/offsets beyond the page, wrong ids, endless extras and more_data
//! chains, bad GSO extras), consumed through `RxAssembler::feed` (also fed without a ring, from
//! arbitrary indices). Asserted: every accepted data slot lies in its page
//! (`offset + size <= 4096`) and in the slot of its ring position, a packet uses at most
//! `MAX_RX_SLOTS` slots and `MAX_RX_SIZE` bytes, its length is the sum of its slots, a GSO extra
//! reported is valid, an empty or failed packet is flagged as error, and an honest backend's
//! packets come out exactly as sent.
//!
//! In both, the frontend never consumes past `rsp_prod` or past what it requested.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{Input, MemRing};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use xen_proto::netif::{
    check_tx_response, rsp, rxf, txf, ExtraInfo, NetifError, RxAssembler, RxPacket, RxRequest,
    RxResponse, RxStep, TxDone, TxRequest, TxResponse, EXTRA_FLAG_MORE, EXTRA_TYPE_GSO,
    GSO_TYPE_TCPV4, GSO_TYPE_TCPV6, MAX_RX_SIZE, MAX_RX_SLOTS, MAX_TX_SIZE, MAX_TX_SLOTS,
    PAGE_SIZE, RING_ENTRIES,
};
use xen_proto::ring::{RingError, RingIdx};

const RING: usize = RING_ENTRIES as usize;

/// Checks what `responses_ready`/`final_check_for_responses` said about `prod`.
fn check_ready(
    r: Result<u32, RingError>,
    prod: RingIdx,
    cons: RingIdx,
    outstanding: u32,
) -> Option<u32> {
    match r {
        Ok(n) => {
            assert_eq!(n, prod.wrapping_sub(cons));
            assert!(n <= outstanding);
            Some(n)
        }
        Err(RingError::ResponseOverflow {
            claimed,
            outstanding: o,
        }) => {
            assert_eq!(claimed, prod.wrapping_sub(cons));
            assert_eq!(o, outstanding);
            assert!(claimed > o);
            None
        }
    }
}

fn tx(inp: &mut Input) {
    let mut ring = MemRing::<TxRequest, TxResponse>::new(1);
    assert_eq!(ring.size(), u32::from(RING_ENTRIES));
    let mut inflight = [false; RING];
    let mut free: Vec<u16> = (0..RING_ENTRIES).collect();
    // Published requests the honest backend has not answered: (slot id, is an extra).
    let mut unanswered: VecDeque<(u16, bool)> = VecDeque::new();
    let mut back_rsp_prod: RingIdx = 0;
    let mut honest = true;

    while !inp.is_empty() {
        let st = *ring.ring.state();
        assert_eq!(
            free.len() + inflight.iter().filter(|&&b| b).count(),
            RING,
            "every id is either free or in flight"
        );
        assert!(st.outstanding() <= st.size());
        match inp.u8() % 6 {
            // Frontend: send a packet.
            0 | 1 => {
                let len = 1 + usize::from(inp.u16()) % MAX_TX_SIZE;
                let n = len.div_ceil(PAGE_SIZE);
                assert!(n <= MAX_TX_SLOTS);
                let gso = inp.bool();
                if free.len() < n || (st.free_requests() as usize) < n + usize::from(gso) {
                    continue;
                }
                for i in 0..n {
                    let id = free.swap_remove(usize::from(inp.u8()) % free.len());
                    assert!(!inflight[usize::from(id)]);
                    inflight[usize::from(id)] = true;
                    let mut flags = if i + 1 < n { txf::MORE_DATA } else { 0 };
                    if i == 0 && gso {
                        flags |= txf::EXTRA_INFO;
                    }
                    let size = if i == 0 {
                        len
                    } else {
                        (len - i * PAGE_SIZE).min(PAGE_SIZE)
                    };
                    let req = TxRequest {
                        gref: inp.u32(),
                        offset: 0,
                        flags,
                        id,
                        size: size as u16,
                    };
                    ring.ring.put_request(req).expect("room checked");
                    unanswered.push_back((id, false));
                    if i == 0 && gso {
                        let ty = if inp.bool() {
                            GSO_TYPE_TCPV4
                        } else {
                            GSO_TYPE_TCPV6
                        };
                        let e = ExtraInfo::gso(1 + inp.u16() % 9000, ty).to_tx_request();
                        ring.ring.put_request(e).expect("room checked");
                        unanswered.push_back((0, true));
                    }
                }
                ring.ring.push_requests();
                assert_eq!(ring.req_prod(), ring.ring.state().req_prod_pvt());
            }
            // Honest backend: answers the next published request.
            2 => {
                let Some((id, extra)) = unanswered.pop_front() else {
                    continue;
                };
                let r = if extra {
                    TxResponse {
                        id: inp.u16(),
                        status: rsp::NULL,
                    }
                } else {
                    if honest {
                        assert_eq!(ring.backend_read(back_rsp_prod).id, id);
                    }
                    let status = [rsp::OKAY, rsp::ERROR, rsp::DROPPED][usize::from(inp.u8() % 3)];
                    TxResponse { id, status }
                };
                ring.backend_write(back_rsp_prod, r);
                back_rsp_prod = back_rsp_prod.wrapping_add(1);
                ring.set_rsp_prod(back_rsp_prod);
            }
            // Hostile backend: any response anywhere.
            3 => {
                honest = false;
                let at = inp.ring_position(back_rsp_prod);
                let id = match inp.u8() % 3 {
                    0 => inp.u16(),
                    _ => u16::from(inp.u8()),
                };
                let status = match inp.u8() % 2 {
                    0 => inp.i16(),
                    _ => i16::from(inp.u8() % 4) - 2,
                };
                ring.backend_write(at, TxResponse { id, status });
                if inp.bool() {
                    back_rsp_prod = back_rsp_prod.wrapping_add(1);
                    ring.set_rsp_prod(back_rsp_prod);
                }
            }
            4 => {
                honest = false;
                ring.set_rsp_prod(inp.rsp_prod(st.rsp_cons(), st.outstanding()));
            }
            // Frontend: tx_gc.
            _ => loop {
                let before = *ring.ring.state();
                let prod = ring.rsp_prod();
                let mut r = ring.ring.responses_ready();
                if r == Ok(0) {
                    r = ring.ring.final_check_for_responses();
                    if r == Ok(0) {
                        assert_eq!(ring.rsp_event(), before.rsp_cons().wrapping_add(1));
                    }
                }
                let Some(n) = check_ready(r, prod, before.rsp_cons(), before.outstanding()) else {
                    assert!(!honest);
                    assert_eq!(*ring.ring.state(), before);
                    return;
                };
                if n == 0 {
                    break;
                }
                for k in 0..n {
                    let r = ring.ring.take_response().expect("announced");
                    let cons = ring.ring.state().rsp_cons();
                    assert_eq!(cons, before.rsp_cons().wrapping_add(k + 1));
                    assert!(prod.wrapping_sub(cons) < n - k, "never past rsp_prod");
                    match check_tx_response(r, |id| {
                        assert!(id < RING_ENTRIES);
                        inflight[usize::from(id)]
                    }) {
                        Ok(TxDone::Null) => assert_eq!(r.status, rsp::NULL),
                        Ok(TxDone::Slot { id, ok }) => {
                            assert_eq!(id, r.id);
                            assert!(id < RING_ENTRIES);
                            assert!(inflight[usize::from(id)], "completed id was in flight");
                            assert!([rsp::OKAY, rsp::ERROR, rsp::DROPPED].contains(&r.status));
                            assert_eq!(ok, r.status == rsp::OKAY);
                            inflight[usize::from(id)] = false;
                            assert!(!free.contains(&id), "id freed twice");
                            free.push(id);
                        }
                        Err(e) => {
                            assert!(!honest, "honest response refused: {e:?}");
                            match e {
                                NetifError::BadTxId(id) => {
                                    assert_eq!(id, r.id);
                                    assert!(
                                        [rsp::OKAY, rsp::ERROR, rsp::DROPPED].contains(&r.status)
                                    );
                                    assert!(id >= RING_ENTRIES || !inflight[usize::from(id)]);
                                }
                                NetifError::BadTxStatus(s) => {
                                    assert_eq!(s, r.status);
                                    assert!(![rsp::OKAY, rsp::ERROR, rsp::DROPPED, rsp::NULL]
                                        .contains(&s));
                                }
                                other => panic!("unexpected tx error {other:?}"),
                            }
                            return;
                        }
                    }
                }
            },
        }
    }
}

/// The frontend's view of the packet being assembled, from the steps only.
#[derive(Default)]
struct Pkt {
    slots: u16,
    data_slots: u16,
    len: u32,
    first_flags: u16,
    failed: bool,
}

/// Checks one accepted step of `RxAssembler::feed`; returns the completed packet, if any.
fn check_step(
    a: &RxAssembler,
    was_in_packet: bool,
    idx: u32,
    r: RxResponse,
    s: RxStep,
    pkt: &mut Pkt,
    sg: bool,
) -> Option<RxPacket> {
    assert_eq!(u32::from(s.slot), idx % u32::from(RING_ENTRIES));
    assert_eq!(
        s.first, !was_in_packet,
        "first iff no packet was in progress"
    );
    if s.first {
        *pkt = Pkt {
            first_flags: r.flags,
            ..Pkt::default()
        };
        assert_eq!(r.flags & rxf::GSO_PREFIX, 0);
    }
    pkt.slots += 1;
    assert!(pkt.slots <= MAX_RX_SLOTS, "slot count bounded");
    if let Some((off, len)) = s.data {
        assert!(
            usize::from(off) + usize::from(len) <= PAGE_SIZE,
            "data within its page"
        );
        assert!(len > 0);
        assert_eq!((off, len as i16), (r.offset, r.status));
        assert_eq!(r.id, s.slot, "data in the slot of its ring position");
        pkt.len += u32::from(len);
        pkt.data_slots += 1;
        assert!(pkt.len <= MAX_RX_SIZE);
    } else if s.first && r.status < 0 {
        pkt.failed = true;
    }
    if !sg {
        assert!(
            pkt.data_slots <= 1,
            "no multi-slot packet without feature-sg"
        );
    }
    match s.done {
        Some(p) => {
            assert!(!a.in_packet());
            assert_eq!(p.len, pkt.len);
            assert_eq!(p.flags, pkt.first_flags);
            if pkt.len == 0 || pkt.failed {
                assert!(p.error, "empty or failed packet not flagged");
            }
            if let Some((mss, ty)) = p.gso {
                assert!(mss > 0 && (ty == GSO_TYPE_TCPV4 || ty == GSO_TYPE_TCPV6));
            }
            Some(p)
        }
        None => {
            assert!(a.in_packet());
            None
        }
    }
}

/// Checks a refusal of `RxAssembler::feed` names a real fault.
fn check_refusal(e: NetifError, idx: u32, r: RxResponse, pkt: &Pkt) {
    match e {
        NetifError::BadRxId { expected, got } => {
            assert_eq!(u32::from(expected), idx % u32::from(RING_ENTRIES));
            assert_eq!(got, r.id);
            assert_ne!(got, expected);
        }
        NetifError::BadRxRange { offset, size } => {
            assert_eq!((offset, size as i16), (r.offset, r.status));
            assert!(usize::from(offset) + usize::from(size) > PAGE_SIZE);
        }
        NetifError::RxTooLong => {
            assert!(pkt.slots + 1 > MAX_RX_SLOTS || pkt.len + r.status.max(0) as u32 > MAX_RX_SIZE)
        }
        NetifError::BadExtra(_) | NetifError::BadRxFlags(_) => {}
        other => panic!("unexpected rx error {other:?}"),
    }
}

/// An rx response holding extra-info slot `e`.
fn extra_rsp(e: ExtraInfo) -> RxResponse {
    let b = e.to_bytes();
    let r = RxResponse {
        id: u16::from_le_bytes([b[0], b[1]]),
        offset: u16::from_le_bytes([b[2], b[3]]),
        flags: u16::from_le_bytes([b[4], b[5]]),
        status: i16::from_le_bytes([b[6], b[7]]),
    };
    assert_eq!(ExtraInfo::from_rx_response(r), e);
    r
}

fn rx(inp: &mut Input) {
    let sg = inp.bool();
    let mut ring = MemRing::<RxRequest, RxResponse>::new(1);
    assert_eq!(ring.size(), u32::from(RING_ENTRIES));
    for i in 0..RING_ENTRIES {
        let idx = ring
            .ring
            .put_request(RxRequest {
                id: i,
                pad: 0,
                gref: 1000 + u32::from(i),
            })
            .unwrap();
        assert_eq!(idx, u32::from(i));
    }
    ring.ring.push_requests();
    let mut asm = RxAssembler::new(sg);
    let mut pkt = Pkt::default();
    let mut back_rsp_prod: RingIdx = 0;
    // Packets the honest backend sent and the frontend has not completed: (len, gso).
    let mut sent: VecDeque<(u32, Option<(u16, u8)>)> = VecDeque::new();
    let mut honest = true;

    while !inp.is_empty() {
        let st = *ring.ring.state();
        match inp.u8() % 5 {
            // Honest backend: a packet of data slots (and maybe a GSO extra) into the posted
            // requests, if there are enough.
            0 | 1 => {
                let room = ring.req_prod().wrapping_sub(back_rsp_prod);
                let n = if sg {
                    1 + usize::from(inp.u8()) % 17
                } else {
                    1
                };
                let gso = inp.bool().then(|| {
                    let ty = if inp.bool() {
                        GSO_TYPE_TCPV4
                    } else {
                        GSO_TYPE_TCPV6
                    };
                    (1 + inp.u16() % 9000, ty)
                });
                if (room as usize) < n + usize::from(gso.is_some()) {
                    continue;
                }
                let mut total = 0u32;
                for i in 0..n {
                    let idx = back_rsp_prod;
                    let req = ring.backend_read(idx);
                    if honest {
                        assert_eq!(u32::from(req.id), idx % u32::from(RING_ENTRIES));
                    }
                    let off = inp.u16() % PAGE_SIZE as u16;
                    let max = (PAGE_SIZE as u32 - u32::from(off)).min(MAX_RX_SIZE - total);
                    let size = if max == 0 {
                        0
                    } else {
                        1 + inp.u16() as u32 % max
                    };
                    total += size;
                    let mut flags = if i + 1 < n { rxf::MORE_DATA } else { 0 };
                    if i == 0 {
                        flags |= inp.u16() & (rxf::DATA_VALIDATED | rxf::CSUM_BLANK);
                        if gso.is_some() {
                            flags |= rxf::EXTRA_INFO;
                        }
                    }
                    ring.backend_write(
                        idx,
                        RxResponse {
                            id: req.id,
                            offset: off,
                            flags,
                            status: size as i16,
                        },
                    );
                    back_rsp_prod = back_rsp_prod.wrapping_add(1);
                    if let (0, Some((mss, ty))) = (i, gso) {
                        ring.backend_write(back_rsp_prod, extra_rsp(ExtraInfo::gso(mss, ty)));
                        back_rsp_prod = back_rsp_prod.wrapping_add(1);
                    }
                }
                sent.push_back((total, gso));
                ring.set_rsp_prod(back_rsp_prod);
            }
            // Hostile backend: any response (data or extra-info bytes) anywhere.
            2 => {
                honest = false;
                let at = inp.ring_position(back_rsp_prod);
                let r = match inp.u8() % 3 {
                    0 => RxResponse {
                        id: inp.u16(),
                        offset: inp.u16(),
                        flags: inp.u16(),
                        status: inp.i16(),
                    },
                    1 => {
                        // A plausible data slot with hostile size/offset/flags.
                        let flags = inp.u8();
                        RxResponse {
                            id: (at % u32::from(RING_ENTRIES)) as u16,
                            offset: inp.u16() % 8192,
                            flags: u16::from(flags & 0x1f),
                            status: inp.i16() % 8192,
                        }
                    }
                    _ => {
                        let mut e = ExtraInfo::gso(inp.u16(), inp.u8() % 4);
                        e.ty = inp.u8() % 8;
                        e.flags = inp.u8() & EXTRA_FLAG_MORE;
                        if e.ty != EXTRA_TYPE_GSO {
                            e.gso_size = inp.u16();
                        }
                        extra_rsp(e)
                    }
                };
                ring.backend_write(at, r);
                if inp.bool() {
                    back_rsp_prod = back_rsp_prod.wrapping_add(1);
                    ring.set_rsp_prod(back_rsp_prod);
                }
            }
            3 => {
                honest = false;
                ring.set_rsp_prod(inp.rsp_prod(st.rsp_cons(), st.outstanding()));
            }
            // Frontend: rx_poll with a budget.
            _ => {
                let budget = 1 + inp.u8() % 64;
                let mut work = 0;
                while work < budget {
                    let before = *ring.ring.state();
                    let prod = ring.rsp_prod();
                    let Some(n) = check_ready(
                        ring.ring.responses_ready(),
                        prod,
                        before.rsp_cons(),
                        before.outstanding(),
                    ) else {
                        assert!(!honest);
                        assert_eq!(*ring.ring.state(), before);
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    for k in 0..n {
                        let idx = ring.ring.state().rsp_cons();
                        let r = ring.ring.take_response().expect("announced");
                        let cons = ring.ring.state().rsp_cons();
                        assert_eq!(cons, before.rsp_cons().wrapping_add(k + 1));
                        assert!(prod.wrapping_sub(cons) < n - k, "never past rsp_prod");
                        let was = asm.in_packet();
                        if !was {
                            pkt = Pkt::default();
                        }
                        let step = match asm.feed(idx, r) {
                            Ok(s) => s,
                            Err(e) => {
                                assert!(!honest, "honest response refused: {e:?}");
                                check_refusal(e, idx, r, &pkt);
                                return;
                            }
                        };
                        let done = check_step(&asm, was, idx, r, step, &mut pkt, sg);
                        // Repost the slot: the ring stays full, so the next request lands in the
                        // same position.
                        let st = *ring.ring.state();
                        assert_eq!(st.outstanding(), u32::from(RING_ENTRIES) - 1);
                        assert_eq!(st.slot(st.req_prod_pvt()), usize::from(step.slot));
                        ring.ring
                            .put_request(RxRequest {
                                id: step.slot,
                                pad: 0,
                                gref: 1000 + u32::from(step.slot),
                            })
                            .expect("a slot was just freed");
                        if let Some(p) = done {
                            if honest {
                                let (len, gso) = sent.pop_front().expect("a packet was sent");
                                assert_eq!((p.len, p.gso, p.error), (len, gso, false));
                            }
                            work += 1;
                            if work >= budget {
                                break;
                            }
                        }
                    }
                }
                ring.ring.push_requests();
            }
        }
    }
}

/// The assembler alone, fed any responses from any ring indices.
fn rx_raw(inp: &mut Input) {
    let sg = inp.bool();
    let mut asm = RxAssembler::new(sg);
    let mut pkt = Pkt::default();
    let mut idx = inp.u32();
    while !inp.is_empty() {
        idx = match inp.u8() % 4 {
            0 => inp.u32(),
            _ => idx.wrapping_add(1),
        };
        let r = match inp.u8() % 3 {
            0 => RxResponse {
                id: inp.u16(),
                offset: inp.u16(),
                flags: inp.u16(),
                status: inp.i16(),
            },
            1 => RxResponse {
                id: (idx % u32::from(RING_ENTRIES)) as u16,
                offset: inp.u16() % 4096,
                flags: u16::from(inp.u8() & 0xf),
                status: inp.i16() % 4097,
            },
            _ => {
                let mut e = ExtraInfo::gso(inp.u16(), inp.u8() % 4);
                e.ty = inp.u8() % 7;
                e.flags = inp.u8() & EXTRA_FLAG_MORE;
                extra_rsp(e)
            }
        };
        let was = asm.in_packet();
        if !was {
            pkt = Pkt::default();
        }
        match asm.feed(idx, r) {
            Ok(s) => {
                check_step(&asm, was, idx, r, s, &mut pkt, sg);
            }
            Err(e) => {
                check_refusal(e, idx, r, &pkt);
                return;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    match inp.u8() % 3 {
        0 => tx(&mut inp),
        1 => rx(&mut inp),
        _ => rx_raw(&mut inp),
    }
});
