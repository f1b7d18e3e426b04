//! Wire formats, all pure: QUIC varints, HTTP/3 frames, QPACK, and a
//! scanner of written HTTP/2 frame headers.

pub mod frame;
pub mod h2scan;
pub mod hq;
pub mod http1;
pub mod huffman_table;
pub mod qpack;
pub mod qpack_static;
pub mod streamcheck;
pub mod varint;
