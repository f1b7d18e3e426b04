//! Clients: the HTTP/3 and HTTP/2 clients behind `pushlab get`, sharing
//! their options and their report types.

mod error;
pub mod h2;
pub mod h3;
pub mod hq;
mod url;

pub use error::ClientError;
pub use url::parse_url;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Accept any server certificate.
    pub insecure: bool,
    /// Trust this PEM CA file.
    pub ca: Option<PathBuf>,
    /// Send MAX_PUSH_ID with this value (allowing pushes 0..=N).
    pub max_push_id: Option<u64>,
    /// Limit on response header sections (SETTINGS_MAX_FIELD_SECTION_SIZE).
    pub max_field_section_size: u64,
    /// Keep bodies in memory (otherwise only length and SHA-256).
    pub keep_bodies: bool,
    /// Compute SHA-256 of bodies (off for throughput measurements).
    pub hash_bodies: bool,
    /// Read from the connection (all streams together) no faster than this
    /// many bytes per second, like an application behind a slow consumer.
    pub read_rate: Option<u64>,
    /// Connection-level receive window (bytes), to slow a transfer down.
    pub receive_window: Option<u64>,
    /// Per-stream receive window (bytes).
    pub stream_receive_window: Option<u64>,
    /// ALPN to offer.
    pub alpn: Vec<Vec<u8>>,
    /// Give up on the whole exchange after this long.
    pub timeout: Duration,
    /// Cancel (CANCEL_PUSH) promises whose path contains this.
    pub cancel_push: Option<String>,
    /// Refuse every push stream with STOP_SENDING (no CANCEL_PUSH), as a
    /// client that resets all pushes would.
    pub refuse_pushes: bool,
    /// Where to report each 1xx response as it arrives, with the request's
    /// stream ID (a browser acts on 103 Early Hints before the final
    /// response), and then the final response's status and header fields
    /// as soon as they arrive (a browser sets cookies before it reads the
    /// body).
    pub informational: Option<tokio::sync::mpsc::UnboundedSender<(u64, Informational)>>,
    /// Where to report each chunk of a response body as it arrives, with
    /// the request's stream ID (a browser parses a document as its bytes
    /// arrive, not once it is complete).
    pub body_chunks: Option<tokio::sync::mpsc::UnboundedSender<(u64, Bytes)>>,
    /// HTTP/3: a QUIC/TLS client context shared by successive connections,
    /// so that a later one resumes the session (and may send 0-RTT).
    pub session: Option<Session>,
    /// HTTP/3: send requests in 0-RTT early data when the session allows.
    pub zero_rtt: bool,
    /// HTTP/3: offer only TLS_CHACHA20_POLY1305_SHA256.
    pub chacha20: bool,
    /// HTTP/3: the QUIC idle timeout this client offers (quinn's 30 s when
    /// unset); load tests hold idle connections for longer.
    pub idle_timeout: Option<Duration>,
    /// HTTP/3: write this connection's qlog (JSON-SEQ, quinn's events) to
    /// this file. Applies only when no `session` is given: a session's
    /// configuration is shared by every connection made with it.
    pub qlog: Option<PathBuf>,
    /// HTTP/3: use zero-length connection IDs for this client, as Chromium
    /// does (its `initial_source_connection_id` is empty). The server's
    /// packets then carry no destination connection ID (8 more bytes of
    /// payload each than with quinn's 8-byte IDs), and it issues one
    /// spare connection ID instead of four.
    pub zero_length_cid: bool,
}

/// A QUIC client configuration reused across connections: rustls keeps the
/// session tickets it receives in it (they cannot leave the process), and
/// resumes only with the very same configuration.
#[derive(Clone)]
pub struct Session(pub quinn::ClientConfig);

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca: None,
            max_push_id: None,
            max_field_section_size: 64 * 1024,
            keep_bodies: false,
            hash_bodies: true,
            read_rate: None,
            receive_window: None,
            stream_receive_window: None,
            alpn: vec![b"h3".to_vec()],
            timeout: Duration::from_secs(30),
            cancel_push: None,
            refuse_pushes: false,
            informational: None,
            body_chunks: None,
            session: None,
            zero_rtt: false,
            chacha20: false,
            idle_timeout: None,
            qlog: None,
            zero_length_cid: false,
        }
    }
}

/// A 1xx response.
#[derive(Debug, Clone, Serialize)]
pub struct Informational {
    /// Status code (103 for Early Hints).
    pub status: u16,
    /// Header fields.
    pub headers: Vec<(String, String)>,
    /// Arrival, ms since the request was sent.
    pub at_ms: f64,
}

/// One response.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Response {
    /// Request stream ID.
    pub stream_id: u64,
    /// Requested path.
    pub path: String,
    /// Final status (0 if none arrived).
    pub status: u16,
    /// Final header fields.
    pub headers: Vec<(String, String)>,
    /// 1xx responses, in order.
    pub informational: Vec<Informational>,
    /// Push IDs promised on this stream, in order.
    pub promises: Vec<u64>,
    /// Body length.
    pub body_len: u64,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    /// The body, if kept.
    #[serde(skip)]
    pub body: Option<Bytes>,
    /// Request sent, ms since connection start.
    pub sent_ms: f64,
    /// Final HEADERS, ms after the request was sent.
    pub headers_ms: Option<f64>,
    /// Pushed body bytes this connection had received when the final
    /// HEADERS arrived (how much pushing went ahead of this response).
    pub push_bytes_before_headers: u64,
    /// First body byte, ms after the request was sent.
    pub first_byte_ms: Option<f64>,
    /// Stream end, ms after the request was sent.
    pub done_ms: Option<f64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// One pushed response.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Pushed {
    /// The push ID.
    pub push_id: u64,
    /// The promised request's `:path`.
    pub path: String,
    /// The promised request's header fields.
    pub promised_headers: Vec<(String, String)>,
    /// The request stream that carried the PUSH_PROMISE.
    pub promised_on: Option<u64>,
    /// PUSH_PROMISE arrival, ms since connection start.
    pub promised_ms: Option<f64>,
    /// Response status (0 if none).
    pub status: u16,
    /// Response header fields.
    pub headers: Vec<(String, String)>,
    /// Body length.
    pub body_len: u64,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    /// The body, if kept.
    #[serde(skip)]
    pub body: Option<Bytes>,
    /// Push stream opened, ms since connection start.
    pub stream_ms: Option<f64>,
    /// Push stream ended, ms since connection start.
    pub done_ms: Option<f64>,
    /// The client cancelled it.
    pub cancelled: bool,
    /// The stream completed with a FIN.
    pub complete: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// Which protocol a [`Conn`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Proto {
    /// HTTP/3 over QUIC.
    H3,
    /// HTTP/2 over TLS over TCP.
    H2,
}

/// A connection of either protocol, for code that measures both alike.
pub enum Conn {
    /// HTTP/3.
    H3(h3::Client),
    /// HTTP/2.
    H2(h2::H2Client),
}

/// A request sent on a [`Conn`] whose response is not read yet.
pub enum Pending {
    /// HTTP/3.
    H3(h3::PendingResponse),
    /// HTTP/2.
    H2(h2::PendingH2),
}

impl Pending {
    /// The request's stream ID.
    pub fn stream_id(&self) -> u64 {
        match self {
            Pending::H3(p) => p.stream_id(),
            Pending::H2(p) => p.stream_id(),
        }
    }
}

/// A connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// HTTP/3.
    #[error("{0}")]
    H3(#[from] ClientError),
    /// HTTP/2.
    #[error("{0}")]
    H2(#[from] h2::H2ClientError),
}

impl Conn {
    /// Connects with the given protocol.
    pub async fn connect(
        proto: Proto,
        host: &str,
        port: u16,
        opts: ClientOptions,
    ) -> Result<Conn, ConnError> {
        Ok(match proto {
            Proto::H3 => Conn::H3(h3::Client::connect(host, port, opts).await?),
            Proto::H2 => Conn::H2(h2::H2Client::connect(host, port, opts).await?),
        })
    }

    /// Sends a request.
    pub async fn send_request(
        &self,
        method: &str,
        path: &str,
        extra: &[(String, String)],
    ) -> Result<Pending, ConnError> {
        Ok(match self {
            Conn::H3(c) => Pending::H3(c.send_request(method, path, extra).await?),
            Conn::H2(c) => Pending::H2(c.send_request(method, path, extra).await?),
        })
    }

    /// Reads a response to its end.
    pub async fn read_response(&self, p: Pending) -> Response {
        match (self, p) {
            (Conn::H3(c), Pending::H3(p)) => c.read_response(p).await,
            (Conn::H2(c), Pending::H2(p)) => c.read_response(p).await,
            _ => Response {
                error: Some("response read on the wrong connection".into()),
                ..Default::default()
            },
        }
    }

    /// Cancels a promised push (HTTP/3: CANCEL_PUSH; HTTP/2: RST_STREAM
    /// CANCEL); a push already complete is left alone. HTTP/2 push IDs are
    /// the promised stream IDs.
    pub async fn cancel_push(&self, push_id: u64) -> Result<(), ConnError> {
        match self {
            Conn::H3(c) => c.cancel_promised(push_id).await?,
            Conn::H2(c) => c.cancel_push(u32::try_from(push_id).unwrap_or(u32::MAX)),
        }
        Ok(())
    }

    /// The pushes seen so far.
    pub fn pushes(&self) -> Vec<Pushed> {
        match self {
            Conn::H3(c) => c.pushes(),
            Conn::H2(c) => c.pushes(),
        }
    }

    /// Waits for promised pushes (see the protocol clients).
    pub async fn wait_pushes(&self, quiet: Duration) {
        match self {
            Conn::H3(c) => c.wait_pushes(quiet).await,
            Conn::H2(c) => c.wait_pushes(quiet).await,
        }
    }

    /// Pushed body bytes received so far, complete pushes or not.
    pub fn push_bytes(&self) -> u64 {
        match self {
            Conn::H3(c) => c.push_bytes(),
            Conn::H2(c) => c.push_bytes(),
        }
    }

    /// Notified whenever pushes change (promised, response headers,
    /// completed).
    pub fn push_changes(&self) -> std::sync::Arc<tokio::sync::Notify> {
        match self {
            Conn::H3(c) => c.push_changes(),
            Conn::H2(c) => c.push_changes(),
        }
    }

    /// How long connecting took.
    pub fn handshake(&self) -> Duration {
        match self {
            Conn::H3(c) => c.handshake,
            Conn::H2(c) => c.handshake,
        }
    }

    /// Milliseconds since the connection started.
    pub fn elapsed_ms(&self) -> f64 {
        match self {
            Conn::H3(c) => c.elapsed_ms(),
            Conn::H2(c) => c.elapsed_ms(),
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        match self {
            Conn::H3(c) => c.close().await,
            Conn::H2(c) => c.close(Duration::from_secs(1)).await,
        }
    }
}

/// Paces reads of all streams of a connection to a byte rate.
#[derive(Debug)]
pub(crate) struct Pacer {
    pub(crate) rate: u64,
    pub(crate) start: Instant,
    pub(crate) read: std::sync::atomic::AtomicU64,
}

impl Pacer {
    pub(crate) async fn wait(&self) {
        let done = self.read.load(std::sync::atomic::Ordering::Relaxed);
        let due = Duration::from_secs_f64(done as f64 / self.rate.max(1) as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }

    pub(crate) fn add(&self, n: u64) {
        self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Waits until `pending()` turns false, or until `changed` has not been
/// notified for `quiet`. The notification is armed before each check, so a
/// change between the check and the wait is not missed.
pub(crate) async fn wait_settled(
    changed: &tokio::sync::Notify,
    quiet: Duration,
    pending: impl Fn() -> bool,
) {
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !pending() {
            return;
        }
        if tokio::time::timeout(quiet, notified).await.is_err() {
            return;
        }
    }
}
