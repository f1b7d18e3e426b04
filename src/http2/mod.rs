//! The TCP side: HTTP/2 (h2, with the shared send queue, push and hints)
//! over TLS 1.3; connections that negotiate `http/1.1` go to [`crate::http1`].

pub mod gate;
pub mod server;
pub mod sink;
pub mod watch;
