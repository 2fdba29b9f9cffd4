// SPDX-License-Identifier: GPL-2.0
//! Hostile xenstored replies: parse a byte stream as consecutive messages and run every decoder
//! on each; nothing may panic and every view must stay inside the input. Also round-trips
//! requests built from the input through the encoder and the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xen_proto::xenbus_state::XenbusState;
use xen_proto::xs_wire::{
    parse_u32, DirEntries, Message, Request, WatchEvent, XsType, XENSTORE_PAYLOAD_MAX,
    XSD_SOCKMSG_BYTES,
};

const REPLY_TYPES: [XsType; 6] = [
    XsType::Read,
    XsType::Write,
    XsType::Directory,
    XsType::TransactionStart,
    XsType::Watch,
    XsType::Error,
];

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((msg, used)) = Message::parse(rest) {
        assert!(used >= XSD_SOCKMSG_BYTES && used <= rest.len());
        assert_eq!(msg.payload.len(), msg.header.len as usize);
        assert!(msg.payload.len() <= XENSTORE_PAYLOAD_MAX);
        assert_eq!(msg.ty as u32, msg.header.ty);
        for ty in REPLY_TYPES {
            // Wrong request ids are always refused.
            assert!(msg.reply_to(msg.header.req_id.wrapping_add(1), ty).is_err());
            if let Ok(r) = msg.reply_to(msg.header.req_id, ty) {
                assert_eq!(r.ty, ty);
                assert_eq!(r.value(), msg.payload);
                if let Ok(d) = r.directory() {
                    let mut total = 0;
                    for name in d {
                        assert!(!name.contains(&0));
                        total += name.len() + 1;
                    }
                    assert_eq!(total, msg.payload.len());
                }
                let _ = r.transaction_id();
            }
        }
        if let Ok(ev) = msg.watch_event() {
            assert!(!ev.path.contains(&0) && !ev.token.contains(&0));
            assert_eq!(ev.path.len() + ev.token.len() + 2, msg.payload.len());
        }
        rest = &rest[used..];
    }

    // The raw decoders on the raw input.
    let _ = WatchEvent::parse(data);
    if let Ok(d) = DirEntries::new(data) {
        assert!(d.count() <= data.len());
    }
    if let Ok(v) = parse_u32(data) {
        assert!(data.iter().all(u8::is_ascii_digit));
        let _ = v;
    }
    if let Ok(s) = XenbusState::parse(data) {
        assert!((s as u32) <= 8);
    }

    // Encode → parse round trip: the first byte picks where the path ends.
    if let Some((&split, body)) = data.split_first() {
        let at = usize::from(split).min(body.len());
        let (path, value) = body.split_at(at);
        let mut buf = vec![0u8; XSD_SOCKMSG_BYTES + XENSTORE_PAYLOAD_MAX];
        let reqs = [
            Request::Write { path, value },
            Request::Watch { path, token: value },
            Request::Read(path),
        ];
        for (i, req) in reqs.iter().enumerate() {
            match req.encode(i as u32, 7, &mut buf) {
                Ok(n) => {
                    let (m, used) = Message::parse(&buf[..n]).expect("own encoding parses");
                    assert_eq!(used, n);
                    assert_eq!(m.ty, req.ty());
                    assert_eq!(m.header.req_id, i as u32);
                    assert_eq!(m.header.tx_id, 7);
                    assert_eq!(m.payload.len(), req.payload_len());
                    assert_eq!(&m.payload[..path.len()], path);
                    if let Request::Watch { .. } = req {
                        let ev = WatchEvent::parse(m.payload).expect("watch payload");
                        assert_eq!((ev.path, ev.token), (path, value));
                    }
                }
                Err(_) => {
                    assert!(
                        path.contains(&0)
                            || value.contains(&0)
                            || req.payload_len() > XENSTORE_PAYLOAD_MAX
                    );
                }
            }
        }
    }
});
