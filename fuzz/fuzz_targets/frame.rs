//! HTTP/3 frames: the streaming decoder, fed in chunks of every size, and
//! the payload parser. Round trip: a parsed frame encodes back to bytes
//! that parse to the same frame.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pushlab::wire::frame::{self, Event, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 17) + 1;
    let mut dec = FrameDecoder::new(usize::from(first) * 64 + 16);
    let mut out = Vec::new();
    for piece in rest.chunks(chunk) {
        if dec.push(Bytes::copy_from_slice(piece), &mut out).is_err() {
            break;
        }
    }
    let _ = dec.finish();
    for ev in out {
        if let Event::Frame(f) = ev {
            let wire = frame::encode(&f);
            let mut again = FrameDecoder::new(1 << 20);
            let mut evs = Vec::new();
            again
                .push(wire, &mut evs)
                .expect("an encoded frame decodes");
            assert_eq!(evs, vec![Event::Frame(f)], "round trip");
        }
    }
    // The payload parser alone, with the first byte as the type.
    let _ = frame::parse(u64::from(first), Bytes::copy_from_slice(rest));
});
