//! The request-path normaliser: never a panic; what it accepts is an
//! absolute, decoded path with no "." or ".." segment, no control
//! character, no backslash, and a file name (not a trailing '/').
//! (Not idempotent, rightly: the result is decoded, so "/a%25i" gives the
//! file "/a%i", which is not a valid escape; fuzz/regressions/path/.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::site::path::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = normalize(s) {
        assert!(p.starts_with('/'), "{s:?} -> {p:?}");
        assert!(
            !p.split('/').any(|seg| seg == ".." || seg == "."),
            "{s:?} -> {p:?}"
        );
        assert!(!p.chars().any(|c| c.is_control() || c == '\\'), "{s:?} -> {p:?}");
        assert!(!p.ends_with('/'), "{s:?} -> {p:?}");
    }
});
