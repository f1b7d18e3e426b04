//! HTTP/2 (RFC 9113) against a scripted raw-frame peer: TLS with ALPN h2,
//! frames written and read by hand (a literal-only HPACK encoder, no HTTP/2
//! library on the client side), in the style of the h2 crate's own tests,
//! so that a race can be replayed frame by frame instead of by chance.
//!
//! The race: a client cancels a pushed response (RST_STREAM on the
//! promised stream) while the server has the push's HEADERS queued but not
//! yet sent. RFC 9113 allows RST_STREAM on a reserved stream; h2 0.4.20
//! takes one on a stream it holds as "pending open" for a frame on an idle
//! stream and closes the connection. A client that advertises
//! SETTINGS_MAX_CONCURRENT_STREAMS 0 holds every push in that state, which
//! replays the race every time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pushlab::config::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;

/// RFC 9113 error codes used here.
const PROTOCOL_ERROR: u32 = 0x1;
const CANCEL: u32 = 0x8;

#[derive(Debug, Clone)]
struct H2Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl H2Frame {
    /// The promised stream of a PUSH_PROMISE.
    fn promised(&self) -> u32 {
        let p = if self.flags & PADDED != 0 {
            &self.payload[1..]
        } else {
            &self.payload[..]
        };
        u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff
    }

    fn error_code(&self) -> u32 {
        let at = if self.ty == GOAWAY { 4 } else { 0 };
        let p = &self.payload[at..at + 4];
        u32::from_be_bytes([p[0], p[1], p[2], p[3]])
    }
}

/// A client that writes and reads HTTP/2 frames by hand.
struct Peer {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
    /// Every frame read so far.
    seen: Vec<H2Frame>,
}

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in values {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

/// A header block of literal fields without indexing, no Huffman coding
/// (RFC 7541 section 6.2.2, new name); lengths below 127.
fn hpack(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.push(0x00);
        out.push(n.len() as u8);
        out.extend_from_slice(n.as_bytes());
        out.push(v.len() as u8);
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn get(stream: u32, path: &str) -> Vec<u8> {
    let block = hpack(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "localhost"),
        (":path", path),
    ]);
    frame(HEADERS, END_STREAM | END_HEADERS, stream, &block)
}

impl Peer {
    /// Connects with TLS (ALPN h2), sends the preface and `settings`.
    async fn connect(port: u16, client_settings: &[(u16, u32)]) -> Peer {
        let cfg = pushlab::tls::client_config_with(pushlab::tls::provider(), true, None, &[b"h2"])
            .expect("TLS config");
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("TCP");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(settings(client_settings));
        tls.write_all(&hello).await.expect("preface");
        Peer {
            tls,
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.expect("write");
    }

    /// The next frame, within 5 s (None at the end of the connection);
    /// SETTINGS and PING from the server are acknowledged.
    async fn next(&mut self) -> Option<H2Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = (usize::from(self.buf[0]) << 16)
                    | (usize::from(self.buf[1]) << 8)
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let f = H2Frame {
                        ty: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes([
                            self.buf[5],
                            self.buf[6],
                            self.buf[7],
                            self.buf[8],
                        ]) & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    if f.ty == SETTINGS && f.flags & ACK == 0 {
                        self.send(&frame(SETTINGS, ACK, 0, &[])).await;
                    }
                    self.seen.push(f.clone());
                    return Some(f);
                }
            }
            let mut chunk = [0u8; 16384];
            let Ok(n) =
                tokio::time::timeout(Duration::from_secs(5), self.tls.read(&mut chunk)).await
            else {
                let summary: Vec<String> = self
                    .seen
                    .iter()
                    .map(|f| format!("{}@{}/{:#x}", f.ty, f.stream, f.flags))
                    .collect();
                panic!("no frame within 5 s; seen (type@stream/flags): {summary:?}");
            };
            let n = n.unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until `done` holds for a frame; panics on GOAWAY or the end.
    async fn until(&mut self, what: &str, done: impl Fn(&H2Frame) -> bool) -> H2Frame {
        loop {
            let f = self
                .next()
                .await
                .unwrap_or_else(|| panic!("connection ended waiting for {what}"));
            assert!(
                f.ty != GOAWAY,
                "GOAWAY (error {:#x}) waiting for {what}: {}",
                f.error_code(),
                String::from_utf8_lossy(&f.payload[8..])
            );
            if done(&f) {
                return f;
            }
        }
    }

    /// Whether the connection is alive: a PING comes back acknowledged.
    async fn ping(&mut self) {
        self.send(&frame(PING, 0, 0, b"pushlab!")).await;
        self.until("the PING's ACK", |f| f.ty == PING && f.flags & ACK != 0)
            .await;
    }

    /// Reads until a GOAWAY, which it returns (None if the connection ends
    /// without one).
    async fn goaway(&mut self) -> Option<H2Frame> {
        while let Some(f) = self.next().await {
            if f.ty == GOAWAY {
                return Some(f);
            }
        }
        None
    }
}

async fn push_server() -> pushlab::server::RunningServer {
    server(with_policy("push-all")).await
}

/// Promised streams seen, in order.
fn promised(seen: &[H2Frame]) -> Vec<u32> {
    seen.iter()
        .filter(|f| f.ty == PUSH_PROMISE)
        .map(H2Frame::promised)
        .collect()
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1
//# reserved (remote):
//# ...
//# An endpoint MAY send a RST_STREAM frame in this state to cancel the
//# reservation.
//= https://www.rfc-editor.org/rfc/rfc9113#section-8.4
//# Advertising a SETTINGS_MAX_CONCURRENT_STREAMS value of zero prevents
//# the server from opening the streams necessary to push responses.
//# However, this does not prevent the server from reserving streams using
//# PUSH_PROMISE frames.
///
/// The client allows no pushed stream to open, takes the promises, and
/// cancels each: the connection goes on (PING answered, a second request
/// served) and nothing arrives on a cancelled stream.
#[tokio::test]
async fn cancelling_reserved_pushes_keeps_the_connection() {
    let srv = push_server().await;
    let mut p = Peer::connect(
        srv.addr.port(),
        &[(ENABLE_PUSH, 1), (MAX_CONCURRENT_STREAMS, 0)],
    )
    .await;
    p.send(&get(1, "/")).await;
    p.until("the page's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0 && matches!(f.ty, DATA | HEADERS)
    })
    .await;
    let ids = promised(&p.seen);
    assert!(
        ids.len() >= 5,
        "push-all promises the page's resources: {ids:?}"
    );
    // Every push is held back (reserved), none has opened.
    assert!(
        p.seen.iter().all(|f| f.stream % 2 == 1 || f.stream == 0),
        "a pushed stream opened although the client allows none"
    );
    // Give the server time to queue the pushes' HEADERS, then cancel.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in &ids {
        p.send(&frame(RST_STREAM, 0, *id, &CANCEL.to_be_bytes()))
            .await;
    }
    p.ping().await;
    p.send(&get(3, "/css/style.css")).await;
    p.until("the second response's end", |f| {
        f.stream == 3 && f.flags & END_STREAM != 0
    })
    .await;
    p.ping().await;
    let late: Vec<&H2Frame> = p
        .seen
        .iter()
        .filter(|f| ids.contains(&f.stream) && f.ty != RST_STREAM)
        .collect();
    assert!(late.is_empty(), "frames on cancelled pushes: {late:?}");
    drop(p);
    srv.shutdown().await;
}

/// The same client then allows pushed streams: the held pushes open and
/// complete.
#[tokio::test]
async fn held_pushes_open_when_the_client_allows() {
    let srv = push_server().await;
    let mut p = Peer::connect(
        srv.addr.port(),
        &[(ENABLE_PUSH, 1), (MAX_CONCURRENT_STREAMS, 0)],
    )
    .await;
    p.send(&get(1, "/")).await;
    p.until("the page's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    let ids = promised(&p.seen);
    assert!(!ids.is_empty());
    p.send(&settings(&[
        (MAX_CONCURRENT_STREAMS, 100),
        (INITIAL_WINDOW_SIZE, 1 << 24),
    ]))
    .await;
    // And the connection's window, which SETTINGS does not change.
    p.send(&frame(WINDOW_UPDATE, 0, 0, &(1u32 << 24).to_be_bytes()))
        .await;
    let ended = |seen: &[H2Frame], id: u32| {
        seen.iter()
            .any(|f| f.stream == id && f.ty == DATA && f.flags & END_STREAM != 0)
    };
    for id in &ids {
        let id = *id;
        if !ended(&p.seen, id) {
            p.until("a push's end", |f| {
                f.stream == id && f.flags & END_STREAM != 0
            })
            .await;
        }
    }
    assert!(ids.iter().all(|id| ended(&p.seen, *id)));
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.4
//# A client cannot push.  Thus, servers MUST treat the receipt of a
//# PUSH_PROMISE frame as a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.1
//# If a DATA frame is received whose Stream Identifier field is 0x00, the
//# recipient MUST respond with a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.4
//# If a RST_STREAM frame identifying an idle stream is received, the
//# recipient MUST treat this as a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1.1
//# Streams initiated by a client MUST use odd-numbered stream identifiers
//# ...
//# An endpoint that receives an unexpected stream identifier MUST respond
//# with a connection error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn connection_errors_are_protocol_errors() {
    let srv = server(ServeOptions::default()).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "PUSH_PROMISE from a client",
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2]),
        ),
        ("DATA on stream 0", frame(DATA, 0, 0, b"x")),
        (
            "RST_STREAM on an idle stream",
            frame(RST_STREAM, 0, 5, &CANCEL.to_be_bytes()),
        ),
        ("HEADERS on an even stream", get(2, "/")),
    ];
    for (what, wire) in cases {
        let mut p = Peer::connect(srv.addr.port(), &[]).await;
        p.send(&wire).await;
        let g = p
            .goaway()
            .await
            .unwrap_or_else(|| panic!("{what}: no GOAWAY"));
        assert_eq!(g.error_code(), PROTOCOL_ERROR, "{what}");
    }
    // And the server goes on serving others.
    let mut p = Peer::connect(srv.addr.port(), &[]).await;
    p.send(&get(1, "/")).await;
    p.until("a response", |f| f.stream == 1 && f.flags & END_STREAM != 0)
        .await;
    drop(p);
    srv.shutdown().await;
}
