//! The cache-aware policy's Golomb-coded-set cookie: decoding hostile bytes
//! never panics; a decoded set encodes back to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::push::gcs;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = gcs::decode(data) {
        if set.len() < 10_000 {
            let mut want = set.clone();
            want.sort_unstable();
            want.dedup();
            assert_eq!(
                gcs::decode(&gcs::encode(&set)).expect("own encoding decodes"),
                want
            );
        }
    }
});
