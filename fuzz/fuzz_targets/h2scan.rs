//! The HTTP/2 frame scanners: the one that follows what the server writes
//! and the one that checks the client's preface and follows its SETTINGS.
//! Any bytes, in chunks of any size, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::h2scan::{FrameScanner, PeerSettings};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut s = FrameScanner::new();
    let mut out = Vec::new();
    let mut peer = PeerSettings::new();
    let _ = peer.push(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    for piece in rest.chunks(usize::from(first % 31) + 1) {
        s.push(piece, &mut out);
        if peer.push(piece).is_err() {
            peer = PeerSettings::new();
            let _ = peer.push(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        }
    }
});
