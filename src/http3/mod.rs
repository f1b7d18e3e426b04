//! HTTP/3: pushlab's h3 QUIC backend over quinn with the user-space send
//! queue, control-stream capture, push, and the server glue.

pub mod backend;
pub mod control;
pub mod hq;
pub mod push;
pub mod server;
pub mod sink;
pub mod transport;
