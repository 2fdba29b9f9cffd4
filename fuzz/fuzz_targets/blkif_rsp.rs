// SPDX-License-Identifier: GPL-2.0
//! A hostile block backend answering a frontend that uses xen_proto as xen_blkfront does: requests
//! go out through the ring with a free slot id each (`Request::{rw, discard, indirect}`), responses
//! come back through `final_check_for_responses`/`take_response` and `blkif::check_response`. The
//! input is a script mixing frontend submissions and reaps with backend actions: honest answers,
//! arbitrary response bytes (ids out of range, duplicates, unknown status and operations) at any
//! ring position, and arbitrary `rsp_prod` values (far ahead, going backwards).
//!
//! Asserted: nothing panics; the frontend never consumes beyond `rsp_prod` nor beyond what it
//! requested; a refused `rsp_prod` changes nothing; an accepted response has an id below the
//! number of ids, was in flight, echoes the operation sent, and its status is one of the three
//! `BLKIF_RSP_*`; every refusal names the actual fault; busy slots always equal the requests
//! outstanding on the ring; an honest backend's answers are all accepted as sent.
//!
//! The ring is either real shared memory (`SharedRing`, as the driver) or the pure index state
//! (`FrontRing`) started anywhere, so the 32-bit wrap is reached too.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{Input, MemRing};
use libfuzzer_sys::fuzz_target;
use xen_proto::blkif::{
    check_response, expected_response_op, indirect_pages, Request, Response, RspError, RspStatus,
    Segment, MAX_INDIRECT_SEGMENTS, MAX_SEGMENTS_PER_REQUEST, OP_DISCARD, OP_FLUSH_DISKCACHE,
    OP_READ, OP_WRITE, OP_WRITE_BARRIER, RSP_EOPNOTSUPP, RSP_ERROR, RSP_OKAY,
};
use xen_proto::ring::{ring_size, FrontRing, RingError, RingIdx, XEN_PAGE_SIZE};

/// The frontend's ring and the backend's access to it.
trait Ring {
    fn state(&self) -> FrontRing;
    fn put(&mut self, req: Request) -> Option<RingIdx>;
    fn push(&mut self);
    fn final_check(&mut self) -> Result<u32, RingError>;
    fn take(&mut self) -> Option<Response>;
    fn backend_read(&self, idx: RingIdx) -> Request;
    fn backend_write(&mut self, idx: RingIdx, rsp: Response);
    fn set_rsp_prod(&mut self, v: RingIdx);
    fn rsp_prod(&self) -> RingIdx;
    fn req_prod(&self) -> RingIdx;
}

impl Ring for MemRing<Request, Response> {
    fn state(&self) -> FrontRing {
        *self.ring.state()
    }
    fn put(&mut self, req: Request) -> Option<RingIdx> {
        self.ring.put_request(req)
    }
    fn push(&mut self) {
        self.ring.push_requests();
        assert_eq!(MemRing::req_prod(self), self.ring.state().req_prod_pvt());
    }
    fn final_check(&mut self) -> Result<u32, RingError> {
        let r = self.ring.final_check_for_responses();
        if r == Ok(0) {
            // Asked to be told about the very next response.
            assert_eq!(
                self.rsp_event(),
                self.ring.state().rsp_cons().wrapping_add(1)
            );
        }
        r
    }
    fn take(&mut self) -> Option<Response> {
        self.ring.take_response()
    }
    fn backend_read(&self, idx: RingIdx) -> Request {
        MemRing::backend_read(self, idx)
    }
    fn backend_write(&mut self, idx: RingIdx, rsp: Response) {
        MemRing::backend_write(self, idx, rsp)
    }
    fn set_rsp_prod(&mut self, v: RingIdx) {
        MemRing::set_rsp_prod(self, v)
    }
    fn rsp_prod(&self) -> RingIdx {
        MemRing::rsp_prod(self)
    }
    fn req_prod(&self) -> RingIdx {
        MemRing::req_prod(self)
    }
}

/// Index state only, with the slots kept in local arrays.
struct IdxRing {
    st: FrontRing,
    reqs: Vec<Request>,
    rsps: Vec<Response>,
    req_prod: RingIdx,
    rsp_prod: RingIdx,
}

impl Ring for IdxRing {
    fn state(&self) -> FrontRing {
        self.st
    }
    fn put(&mut self, req: Request) -> Option<RingIdx> {
        let idx = self.st.next_request()?;
        self.reqs[self.st.slot(idx)] = req;
        Some(idx)
    }
    fn push(&mut self) {
        self.req_prod = self.st.req_prod_pvt();
    }
    fn final_check(&mut self) -> Result<u32, RingError> {
        self.st.responses_to_consume(self.rsp_prod)
    }
    fn take(&mut self) -> Option<Response> {
        let idx = self.st.consume_response()?;
        Some(self.rsps[self.st.slot(idx)])
    }
    fn backend_read(&self, idx: RingIdx) -> Request {
        self.reqs[self.st.slot(idx)]
    }
    fn backend_write(&mut self, idx: RingIdx, rsp: Response) {
        let s = self.st.slot(idx);
        self.rsps[s] = rsp;
    }
    fn set_rsp_prod(&mut self, v: RingIdx) {
        self.rsp_prod = v;
    }
    fn rsp_prod(&self) -> RingIdx {
        self.rsp_prod
    }
    fn req_prod(&self) -> RingIdx {
        self.req_prod
    }
}

#[derive(Clone, Copy, Default)]
struct Slot {
    busy: bool,
    rsp_op: u8,
}

fn run(ring: &mut dyn Ring, nr_ids: u32, inp: &mut Input) {
    let size = ring.state().size();
    let mut slots = vec![Slot::default(); nr_ids as usize];
    // The backend's private indices (ring.h's back ring).
    let start = ring.state().rsp_cons();
    let mut back_req_cons = start;
    let mut back_rsp_prod = start;
    // Cleared at the first hostile action: until then every response must be accepted.
    let mut honest = true;

    while !inp.is_empty() {
        let st = ring.state();
        let busy = slots.iter().filter(|s| s.busy).count() as u32;
        assert_eq!(busy, st.outstanding(), "busy slots = requests in flight");
        assert!(st.outstanding() <= size);
        assert_eq!(st.free_requests() + st.outstanding(), size);

        match inp.u8() % 8 {
            // Frontend: submit one request on a free id (blk-mq tag).
            0 | 1 => {
                let free: Vec<u32> = (0..nr_ids).filter(|&i| !slots[i as usize].busy).collect();
                if free.is_empty() {
                    continue;
                }
                assert!(!st.is_full(), "a free id means a free ring slot");
                let id = free[usize::from(inp.u8()) % free.len()];
                let sector = inp.u64();
                let (req, inner) = match inp.u8() % 6 {
                    k @ 0..=3 => {
                        let op =
                            [OP_READ, OP_WRITE, OP_FLUSH_DISKCACHE, OP_WRITE_BARRIER][k as usize];
                        let n = usize::from(inp.u8()) % (MAX_SEGMENTS_PER_REQUEST + 1);
                        let segs = vec![
                            Segment {
                                gref: inp.u32(),
                                first_sect: 0,
                                last_sect: 7,
                                _pad: 0
                            };
                            n
                        ];
                        (Request::rw(op, 51712, id.into(), sector, &segs).unwrap(), 0)
                    }
                    4 => (
                        Request::discard(id.into(), sector, inp.u64(), inp.bool()),
                        0,
                    ),
                    _ => {
                        let inner = if inp.bool() { OP_WRITE } else { OP_READ };
                        let n = MAX_SEGMENTS_PER_REQUEST
                            + 1
                            + usize::from(inp.u16())
                                % (MAX_INDIRECT_SEGMENTS - MAX_SEGMENTS_PER_REQUEST);
                        let grefs = vec![inp.u32(); indirect_pages(n)];
                        let r =
                            Request::indirect(inner, 51712, id.into(), sector, n as u16, &grefs)
                                .expect("valid indirect request");
                        (r, inner)
                    }
                };
                let idx = ring.put(req).expect("ring has room");
                assert_eq!(idx, st.req_prod_pvt());
                slots[id as usize] = Slot {
                    busy: true,
                    rsp_op: expected_response_op(req.operation(), inner),
                };
                ring.push();
            }
            // Honest backend: answers the oldest unanswered request.
            2 => {
                if back_req_cons == ring.req_prod() {
                    continue;
                }
                let req = ring.backend_read(back_req_cons);
                back_req_cons = back_req_cons.wrapping_add(1);
                let id = req.id();
                let op = expected_response_op(req.operation(), req.0[1]);
                let status = [RSP_OKAY, RSP_ERROR, RSP_EOPNOTSUPP][usize::from(inp.u8() % 3)];
                ring.backend_write(
                    back_rsp_prod,
                    Response {
                        id,
                        operation: op,
                        _pad: inp.u8(),
                        status,
                        _pad2: inp.u32(),
                    },
                );
                back_rsp_prod = back_rsp_prod.wrapping_add(1);
                ring.set_rsp_prod(back_rsp_prod);
            }
            // Hostile backend: arbitrary response bytes at (near) any position.
            3 | 4 => {
                honest = false;
                let at = if inp.bool() {
                    back_rsp_prod.wrapping_add(u32::from(inp.u8() % 4))
                } else {
                    inp.u32()
                };
                let id = match inp.u8() % 4 {
                    0 => inp.u64(),
                    1 => u64::from(nr_ids) + u64::from(inp.u8()),
                    _ => u64::from(inp.u8()) % u64::from(nr_ids),
                };
                let operation = match inp.u8() % 4 {
                    0 => inp.u8(),
                    k => [OP_READ, OP_WRITE, OP_DISCARD][usize::from(k - 1)],
                };
                let status = match inp.u8() % 4 {
                    0 => inp.i16(),
                    k => [RSP_OKAY, RSP_ERROR, RSP_EOPNOTSUPP][usize::from(k - 1)],
                };
                let rsp = Response {
                    id,
                    operation,
                    _pad: 0,
                    status,
                    _pad2: 0,
                };
                ring.backend_write(at, rsp);
                if inp.bool() {
                    back_rsp_prod = back_rsp_prod.wrapping_add(1);
                    ring.set_rsp_prod(back_rsp_prod);
                }
            }
            // Hostile backend: any rsp_prod.
            5 => {
                honest = false;
                let v = inp.rsp_prod(st.rsp_cons(), st.outstanding());
                ring.set_rsp_prod(v);
            }
            // Frontend: reap a batch, as blkfront's `reap`.
            _ => {
                let batch = 1 + inp.u8() % 16;
                for _ in 0..batch {
                    let before = ring.state();
                    let prod = ring.rsp_prod();
                    let avail = match ring.final_check() {
                        Ok(a) => a,
                        Err(RingError::ResponseOverflow {
                            claimed,
                            outstanding,
                        }) => {
                            assert!(!honest, "honest rsp_prod refused");
                            assert_eq!(claimed, prod.wrapping_sub(before.rsp_cons()));
                            assert_eq!(outstanding, before.outstanding());
                            assert!(claimed > outstanding);
                            assert_eq!(ring.state(), before, "a refused rsp_prod moves nothing");
                            // The device is now in its error state: nothing more is read.
                            return;
                        }
                    };
                    assert_eq!(avail, prod.wrapping_sub(before.rsp_cons()));
                    assert!(avail <= before.outstanding());
                    if avail == 0 {
                        break;
                    }
                    let rsp = ring.take().expect("a response was announced");
                    let after = ring.state();
                    assert_eq!(after.rsp_cons(), before.rsp_cons().wrapping_add(1));
                    assert_eq!(after.req_prod_pvt(), before.req_prod_pvt());
                    // Never past rsp_prod, never past what was requested.
                    assert!(prod.wrapping_sub(after.rsp_cons()) < avail);
                    assert_eq!(after.outstanding(), before.outstanding() - 1);

                    let mut asked = None;
                    let checked = check_response(&rsp, nr_ids, |id| {
                        assert!(id < nr_ids);
                        asked = Some(id);
                        let s = &slots[id as usize];
                        s.busy.then_some(s.rsp_op)
                    });
                    let slot = (rsp.id < u64::from(nr_ids)).then(|| slots[rsp.id as usize]);
                    match checked {
                        Ok((id, status)) => {
                            assert_eq!(u64::from(id), rsp.id);
                            assert_eq!(asked, Some(id));
                            let s = slot.expect("accepted id in range");
                            assert!(s.busy, "accepted response was in flight");
                            assert_eq!(rsp.operation, s.rsp_op);
                            let want = match rsp.status {
                                RSP_OKAY => RspStatus::Okay,
                                RSP_ERROR => RspStatus::Error,
                                RSP_EOPNOTSUPP => RspStatus::NotSupported,
                                other => panic!("status {other} accepted"),
                            };
                            assert_eq!(status, want);
                            slots[id as usize].busy = false;
                        }
                        Err(e) => {
                            assert!(!honest, "honest response refused: {e:?}");
                            match e {
                                RspError::IdOutOfRange(id) => {
                                    assert_eq!(id, rsp.id);
                                    assert!(slot.is_none());
                                }
                                RspError::NotInFlight(id) => {
                                    assert_eq!(u64::from(id), rsp.id);
                                    assert!(!slot.unwrap().busy);
                                }
                                RspError::WrongOperation { id, sent, got } => {
                                    assert_eq!(u64::from(id), rsp.id);
                                    let s = slot.unwrap();
                                    assert!(s.busy && sent == s.rsp_op && got == rsp.operation);
                                    assert_ne!(sent, got);
                                }
                                RspError::BadStatus { id, status } => {
                                    assert_eq!(u64::from(id), rsp.id);
                                    assert_eq!(status, rsp.status);
                                    assert!(
                                        ![RSP_OKAY, RSP_ERROR, RSP_EOPNOTSUPP].contains(&status)
                                    );
                                }
                            }
                            // Error state: the driver stops reading this ring.
                            return;
                        }
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let mode = inp.u8();
    // Ring pages: 1, 2, 4, 8 or 16 (ring-page-order 0..=4): 32 to 512 slots.
    let pages = 1usize << ((mode >> 1) % 5);
    let size = ring_size(
        pages * XEN_PAGE_SIZE,
        xen_proto::ring::SharedRing::<Request, Response>::ENTRY_BYTES,
    );
    assert_eq!(size as usize, 32 * pages);
    // Ids in use: the queue depth, at most the ring size (blkfront may use fewer).
    let nr_ids = 1 + u32::from(inp.u16()) % size;
    if mode & 1 == 0 {
        let mut ring = MemRing::<Request, Response>::new(pages);
        assert_eq!(ring.size(), size);
        run(&mut ring, nr_ids, &mut inp);
    } else {
        // Anywhere in the 32-bit index space, most often just before the wrap.
        let start = if inp.bool() {
            u32::MAX - u32::from(inp.u16() % 1024)
        } else {
            inp.u32()
        };
        let mut ring = IdxRing {
            st: FrontRing::with_start(size, start).unwrap(),
            reqs: vec![Request([0; 112]); size as usize],
            rsps: vec![Response::default(); size as usize],
            req_prod: start,
            rsp_prod: start,
        };
        run(&mut ring, nr_ids, &mut inp);
    }
});
