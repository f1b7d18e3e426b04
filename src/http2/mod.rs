//! The TCP side: HTTP/2 (h2, with the shared send queue, push and hints)
//! and a minimal HTTP/1.1, both over TLS 1.3.

pub mod h1;
pub mod server;
pub mod sink;
pub mod watch;
