//! The HTTP/1.1 request-head parser, under every limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::http1::parse_head;

fuzz_target!(|data: &[u8]| {
    let Some((&l, rest)) = data.split_first() else {
        return;
    };
    let _ = parse_head(rest, usize::from(l) * 64);
});
