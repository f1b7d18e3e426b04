//! Wire formats, all pure: QUIC varints, HTTP/3 frames, QPACK.

pub mod frame;
pub mod huffman_table;
pub mod qpack;
pub mod qpack_static;
pub mod varint;
