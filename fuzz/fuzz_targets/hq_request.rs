//! The hq-interop (HTTP/0.9) request line: never a panic; a path that
//! parses starts with '/'.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::hq::parse_request;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = parse_request(data) {
        assert!(path.starts_with('/'), "{path:?}");
    }
});
