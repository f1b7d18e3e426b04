//! The client's errors.

use std::time::Duration;

use crate::wire::frame::code;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A URL that cannot be used.
    #[error("bad URL {0:?}: {1}")]
    Url(String, String),
    /// Name resolution or socket set-up failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS configuration.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The QUIC handshake failed.
    #[error("connecting: {0}")]
    Connect(String),
    /// The connection failed.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Writing to a stream failed.
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    /// Reading from a stream failed.
    #[error("read: {0}")]
    Read(#[from] quinn::ReadError),
    /// The server violated HTTP/3.
    #[error("protocol error ({name}): {1}", name = code::name(*.0))]
    Protocol(u64, String),
    /// No answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}
