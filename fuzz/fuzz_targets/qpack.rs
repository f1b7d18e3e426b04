//! QPACK field sections (static table only): decoding never panics, and a
//! decoded section encodes back to one that decodes to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::qpack;

fuzz_target!(|data: &[u8]| {
    let Ok(fields) = qpack::decode(data, 1 << 16) else {
        return;
    };
    let lower = fields
        .iter()
        .all(|(n, _)| !n.iter().any(|b| b.is_ascii_uppercase()));
    if !lower {
        return;
    }
    let block = qpack::encode(fields.iter().map(|(n, v)| (&n[..], &v[..])));
    let again = qpack::decode(&block, u64::MAX).expect("an encoded section decodes");
    assert_eq!(again, fields, "round trip");
});
