// SPDX-License-Identifier: GPL-2.0
//! A hostile xenstored driving the shared ring: the input is a script of guest reads/writes and
//! server actions, including arbitrary index values. Transfers must stay within the ring, refuse
//! impossible indices without moving anything, and deliver exactly the bytes an honest server
//! produced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;
use xen_proto::xs_wire::{
    input_chunk, mask_xenstore_idx, output_chunk, ring_used, XenstoreDomainInterface,
    XENSTORE_RING_SIZE,
};

fuzz_target!(|data: &[u8]| {
    let intf = XenstoreDomainInterface::new();
    let mut it = data.iter().copied();
    let next_u32 = |it: &mut dyn Iterator<Item = u8>| {
        let mut b = [0u8; 4];
        for x in &mut b {
            *x = it.next().unwrap_or(0);
        }
        u32::from_le_bytes(b)
    };
    // Model of honest traffic; None once the server misbehaved on that ring.
    let mut sent: Option<VecDeque<u8>> = Some(VecDeque::new());
    let mut to_guest: Option<VecDeque<u8>> = Some(VecDeque::new());
    let mut counter = 0u8;

    while let Some(op) = it.next() {
        let n = usize::from(it.next().unwrap_or(0)) * 8;
        match op % 8 {
            0 => {
                // Guest writes n bytes.
                let payload: Vec<u8> = (0..n).map(|i| i as u8 ^ op).collect();
                let (c, p) = (intf.req_cons.load(SeqCst), intf.req_prod.load(SeqCst));
                match intf.write_requests(&payload) {
                    Ok(io) => {
                        assert!(io.bytes <= n);
                        // With nothing to write the indices are not even looked at.
                        if n > 0 {
                            let free = XENSTORE_RING_SIZE - ring_used(c, p).unwrap();
                            assert_eq!(io.bytes, n.min(free as usize));
                            let (c2, p2) = (intf.req_cons.load(SeqCst), intf.req_prod.load(SeqCst));
                            assert!(ring_used(c2, p2).is_ok());
                        }
                        if let Some(s) = &mut sent {
                            s.extend(&payload[..io.bytes]);
                        }
                    }
                    Err(_) => {
                        assert!(n > 0 && ring_used(c, p).is_err());
                        assert_eq!(intf.req_prod.load(SeqCst), p, "nothing published");
                    }
                }
            }
            1 => {
                // Guest reads up to n bytes.
                let mut buf = vec![0u8; n];
                let (c, p) = (intf.rsp_cons.load(SeqCst), intf.rsp_prod.load(SeqCst));
                match intf.read_responses(&mut buf) {
                    Ok(io) => {
                        assert!(io.bytes <= n);
                        if n > 0 {
                            assert_eq!(io.bytes, n.min(ring_used(c, p).unwrap() as usize));
                        }
                        if let Some(t) = &mut to_guest {
                            for &b in &buf[..io.bytes] {
                                assert_eq!(t.pop_front(), Some(b));
                            }
                        }
                    }
                    Err(_) => {
                        assert!(n > 0 && ring_used(c, p).is_err());
                        assert_eq!(intf.rsp_cons.load(SeqCst), c, "nothing consumed");
                    }
                }
            }
            2 => {
                intf.req_cons.store(next_u32(&mut it), SeqCst);
                sent = None;
            }
            3 => {
                intf.rsp_prod.store(next_u32(&mut it), SeqCst);
                to_guest = None;
            }
            4 => {
                // Honest server consumes up to n request bytes.
                let (c, p) = (intf.req_cons.load(SeqCst), intf.req_prod.load(SeqCst));
                if let Ok((_, _)) = input_chunk(c, p) {
                    let k = (ring_used(c, p).unwrap() as usize).min(n);
                    for i in 0..k {
                        let b = intf.req[mask_xenstore_idx(c.wrapping_add(i as u32))].load(SeqCst);
                        if let Some(s) = &mut sent {
                            assert_eq!(s.pop_front(), Some(b));
                        }
                    }
                    intf.req_cons.store(c.wrapping_add(k as u32), SeqCst);
                }
            }
            5 => {
                // Honest server produces up to n response bytes.
                let (c, p) = (intf.rsp_cons.load(SeqCst), intf.rsp_prod.load(SeqCst));
                if let Ok((_, _)) = output_chunk(c, p) {
                    let k = (XENSTORE_RING_SIZE - ring_used(c, p).unwrap()) as usize;
                    for i in 0..k.min(n) {
                        counter = counter.wrapping_add(1);
                        intf.rsp[mask_xenstore_idx(p.wrapping_add(i as u32))]
                            .store(counter, SeqCst);
                        if let Some(t) = &mut to_guest {
                            t.push_back(counter);
                        }
                    }
                    intf.rsp_prod.store(p.wrapping_add(k.min(n) as u32), SeqCst);
                }
            }
            6 => {
                // Reset everything (like a reconnect) to a start index near the wrap.
                let start = next_u32(&mut it);
                for i in [
                    &intf.req_cons,
                    &intf.req_prod,
                    &intf.rsp_cons,
                    &intf.rsp_prod,
                ] {
                    i.store(start, SeqCst);
                }
                sent = Some(VecDeque::new());
                to_guest = Some(VecDeque::new());
            }
            _ => {
                // Pure arithmetic on arbitrary indices.
                let (c, p) = (next_u32(&mut it), next_u32(&mut it));
                if let Ok((off, len)) = output_chunk(c, p) {
                    assert!(off + len <= XENSTORE_RING_SIZE as usize);
                }
                if let Ok((off, len)) = input_chunk(c, p) {
                    assert!(off + len <= XENSTORE_RING_SIZE as usize);
                    assert!(len as u32 <= ring_used(c, p).unwrap());
                }
            }
        }
    }
});
