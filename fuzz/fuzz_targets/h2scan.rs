//! The HTTP/2 frame scanner that follows what the server writes: any bytes,
//! in chunks of any size, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::h2scan::FrameScanner;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut s = FrameScanner::new();
    let mut out = Vec::new();
    for piece in rest.chunks(usize::from(first % 31) + 1) {
        s.push(piece, &mut out);
    }
});
