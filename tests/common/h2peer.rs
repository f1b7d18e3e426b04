//! A client that writes and reads HTTP/2 frames by hand (TLS with ALPN h2,
//! a literal-only HPACK encoder and a small HPACK decoder), shared by the
//! raw-frame HTTP/2 tests (`h2_rules.rs`, `h2_order.rs`).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;

pub const ENABLE_PUSH: u16 = 0x2;
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const INITIAL_WINDOW_SIZE: u16 = 0x4;

/// RFC 9113 error codes used here.
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const CANCEL: u32 = 0x8;

#[derive(Debug, Clone)]
pub struct H2Frame {
    pub ty: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl H2Frame {
    /// The promised stream of a PUSH_PROMISE.
    pub fn promised(&self) -> u32 {
        let p = if self.flags & PADDED != 0 {
            &self.payload[1..]
        } else {
            &self.payload[..]
        };
        u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff
    }

    pub fn error_code(&self) -> u32 {
        let at = if self.ty == GOAWAY { 4 } else { 0 };
        let p = &self.payload[at..at + 4];
        u32::from_be_bytes([p[0], p[1], p[2], p[3]])
    }
}

/// A client that writes and reads HTTP/2 frames by hand.
pub struct Peer {
    pub tls: TlsStream<TcpStream>,
    pub buf: Vec<u8>,
    /// Every frame read so far.
    pub seen: Vec<H2Frame>,
}

pub fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in values {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

/// A header block of literal fields without indexing, no Huffman coding
/// (RFC 7541 section 6.2.2, new name); lengths below 127.
pub fn hpack(fields: &[(&str, &str)]) -> Vec<u8> {
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

pub fn get(stream: u32, path: &str) -> Vec<u8> {
    let block = hpack(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "localhost"),
        (":path", path),
    ]);
    frame(HEADERS, END_STREAM | END_HEADERS, stream, &block)
}

impl Peer {
    /// Connects with TLS (ALPN h2) and sends nothing.
    pub async fn connect_raw(port: u16) -> Peer {
        let cfg = pushlab::tls::client_config_with(pushlab::tls::provider(), true, None, &[b"h2"])
            .expect("TLS config");
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.expect("TCP");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        Peer {
            tls,
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Connects with TLS (ALPN h2), sends the preface and `settings`.
    pub async fn connect(port: u16, client_settings: &[(u16, u32)]) -> Peer {
        let mut p = Peer::connect_raw(port).await;
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(settings(client_settings));
        p.send(&hello).await;
        p
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.expect("write");
    }

    /// The next frame, within 5 s (None at the end of the connection);
    /// SETTINGS and PING from the server are acknowledged.
    pub async fn next(&mut self) -> Option<H2Frame> {
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
    pub async fn until(&mut self, what: &str, done: impl Fn(&H2Frame) -> bool) -> H2Frame {
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
    pub async fn ping(&mut self) {
        self.send(&frame(PING, 0, 0, b"pushlab!")).await;
        self.until("the PING's ACK", |f| f.ty == PING && f.flags & ACK != 0)
            .await;
    }

    /// Reads until a GOAWAY, which it returns (None if the connection ends
    /// without one).
    pub async fn goaway(&mut self) -> Option<H2Frame> {
        while let Some(f) = self.next().await {
            if f.ty == GOAWAY {
                return Some(f);
            }
        }
        None
    }
}
