// SPDX-License-Identifier: GPL-2.0
//! A hostile xenstored's response stream, delivered in arbitrary pieces, through the reader's
//! reassembly (`xs_wire::Assembler`, as the kernel module uses it): every complete message it
//! returns must be exactly the next message of the stream as `Message::parse` sees it, it never
//! asks for bytes beyond the current message, and a bad header stops it with an error after at
//! most the header was consumed — never a panic or an over-read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xen_proto::xs_wire::{Assembler, Message, XsError, XS_MSG_MAX, XSD_SOCKMSG_BYTES};

fuzz_target!(|data: &[u8]| {
    // First byte: piece size pattern; the rest: the stream.
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    // Reference: the messages of the stream, in order, until the first error.
    let mut expected = Vec::new();
    let mut rest = stream;
    let mut bad_at = None;
    while !rest.is_empty() {
        match Message::parse(rest) {
            Ok((_, used)) => {
                expected.push(&rest[..used]);
                rest = &rest[used..];
            }
            Err(XsError::ShortHeader { .. } | XsError::PayloadTruncated { .. }) => break,
            Err(_) => {
                bad_at = Some(stream.len() - rest.len());
                break;
            }
        }
    }

    let mut asm = Assembler::new();
    let mut buf = vec![0u8; XS_MSG_MAX];
    let mut pos = 0usize;
    let mut avail = 0usize;
    let mut got = 0usize;
    let mut step = 0usize;
    loop {
        // The producer makes 1..=256 more bytes available.
        step += 1;
        let piece = 1 + (usize::from(seed).wrapping_mul(step) % 256);
        avail = (avail + piece).min(stream.len());
        let before = pos;
        let r = asm.poll(&mut buf, |dst| {
            let n = dst.len().min(avail - pos);
            dst[..n].copy_from_slice(&stream[pos..pos + n]);
            pos += n;
            Ok(n)
        });
        match r {
            Ok(Some(n)) => {
                assert!(n <= XS_MSG_MAX);
                assert_eq!(&buf[..n], expected[got], "message {got}");
                got += 1;
            }
            Ok(None) => {
                if avail == stream.len() {
                    // Ran out: only an incomplete tail may remain.
                    assert_eq!(got, expected.len());
                    assert!(bad_at.is_none(), "a complete bad header must be refused");
                    break;
                }
            }
            Err(_) => {
                let at = bad_at.expect("error only on a bad header");
                assert_eq!(got, expected.len());
                // Only the bad header was consumed, nothing of a payload.
                assert!(pos <= at + XSD_SOCKMSG_BYTES && pos >= before);
                break;
            }
        }
        assert!(pos <= stream.len());
    }
});
