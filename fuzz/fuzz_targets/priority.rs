//! RFC 9218 priority field values (structured-field dictionaries): never a
//! panic; what parses gives an urgency in 0..=7.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::priority::{from_request_header_lines, PriorityParams};

fuzz_target!(|data: &[u8]| {
    let _ = PriorityParams::parse(data);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let (p, _) = from_request_header_lines(lines);
    assert!(p.urgency <= 7, "{p:?}");
});
