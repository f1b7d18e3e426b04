//! The HPACK/QPACK Huffman code: decoding never panics; what decodes
//! encodes back to a string that decodes to the same bytes, and encoding
//! any bytes decodes back to them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushlab::wire::qpack::{huffman_decode, huffman_encode, huffman_len};

fuzz_target!(|data: &[u8]| {
    if let Ok(plain) = huffman_decode(data) {
        let again = huffman_decode(&huffman_encode(&plain)).expect("own encoding decodes");
        assert_eq!(again, plain);
    }
    let enc = huffman_encode(data);
    assert_eq!(enc.len(), huffman_len(data));
    assert_eq!(huffman_decode(&enc).expect("own encoding decodes"), data);
});
