//! HTTP/2 (RFC 9113) against a scripted raw-frame peer: TLS with ALPN h2,
//! frames written and read by hand (a literal-only HPACK encoder and a
//! small HPACK decoder, no HTTP/2 library on the client side), in the style
//! of the h2 crate's own tests, so that a race can be replayed frame by
//! frame instead of by chance, and every rule of RFC 9113 sections 3.4 to
//! 8.4 and RFC 7541's decoding errors that a client can break is checked
//! one test per rule, with the RFC's text quoted.
//!
//! The race: a client cancels a pushed response (RST_STREAM on the
//! promised stream) while the server has the push's HEADERS queued but not
//! yet sent. RFC 9113 allows RST_STREAM on a reserved stream; h2 0.4.20
//! takes one on a stream it holds as "pending open" for a frame on an idle
//! stream and closes the connection. A client that advertises
//! SETTINGS_MAX_CONCURRENT_STREAMS 0 holds every push in that state, which
//! replays the race every time.

mod common;

use std::time::Duration;

use common::*;
use pushlab::config::ServeOptions;

#[path = "common/h2peer.rs"]
mod h2peer;
use h2peer::*;

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

// ---------------------------------------------------------------------
// RFC 9113 and RFC 7541, rule by rule. Each test sends the frames that
// break (or exercise) one rule on a fresh connection and checks what the
// server does: a connection error (GOAWAY with the RFC's code, then the
// end of the connection), a stream error (RST_STREAM with the RFC's
// code, and the connection goes on), or nothing (the frame is ignored:
// a PING is still answered and a request still served).
// ---------------------------------------------------------------------

const PRIORITY: u8 = 0x2;
const CONTINUATION: u8 = 0x9;
const PRIORITY_FLAG: u8 = 0x20;

const HEADER_TABLE_SIZE: u16 = 0x1;
const MAX_FRAME_SIZE: u16 = 0x5;

const FLOW_CONTROL_ERROR: u32 = 0x3;
const STREAM_CLOSED: u32 = 0x5;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const COMPRESSION_ERROR: u32 = 0x9;

/// RFC 7541 Appendix A.
const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The client's HPACK decoder for the server's field blocks (RFC 7541),
/// with its dynamic table.
struct Decoder {
    table: std::collections::VecDeque<(String, String)>,
    max: usize,
    /// Whether the last block began with a Dynamic Table Size Update, and
    /// its value.
    last_update: Option<usize>,
}

impl Decoder {
    fn new() -> Decoder {
        Decoder {
            table: Default::default(),
            max: 4096,
            last_update: None,
        }
    }

    fn size(&self) -> usize {
        self.table.iter().map(|(n, v)| n.len() + v.len() + 32).sum()
    }

    fn evict(&mut self) {
        while self.size() > self.max {
            self.table.pop_back();
        }
    }

    fn entry(&self, i: usize) -> (String, String) {
        assert!(i > 0, "the server sent index 0");
        if i <= 61 {
            let (n, v) = STATIC_TABLE[i - 1];
            (n.into(), v.into())
        } else {
            self.table
                .get(i - 62)
                .cloned()
                .unwrap_or_else(|| panic!("the server sent index {i} beyond the table"))
        }
    }

    fn int(b: &[u8], at: &mut usize, prefix: u8) -> usize {
        let mask = (1u16 << prefix) as u8 - 1;
        let mut v = usize::from(b[*at] & mask);
        *at += 1;
        if v < usize::from(mask) {
            return v;
        }
        let mut shift = 0;
        loop {
            let c = b[*at];
            *at += 1;
            v += usize::from(c & 0x7f) << shift;
            shift += 7;
            if c & 0x80 == 0 {
                return v;
            }
        }
    }

    fn string(b: &[u8], at: &mut usize) -> String {
        let huffman = b[*at] & 0x80 != 0;
        let len = Self::int(b, at, 7);
        let raw = &b[*at..*at + len];
        *at += len;
        let bytes = if huffman {
            pushlab::wire::qpack::huffman_decode(raw).expect("the server's Huffman coding")
        } else {
            raw.to_vec()
        };
        String::from_utf8(bytes).expect("UTF-8 field")
    }

    /// Decodes one field block.
    fn decode(&mut self, b: &[u8]) -> Vec<(String, String)> {
        let mut at = 0;
        let mut out = Vec::new();
        self.last_update = None;
        while at < b.len() {
            let c = b[at];
            if c & 0x80 != 0 {
                let i = Self::int(b, &mut at, 7);
                out.push(self.entry(i));
            } else if c & 0xe0 == 0x20 {
                assert!(out.is_empty(), "a table size update after a field");
                let size = Self::int(b, &mut at, 5);
                self.max = size;
                self.last_update = Some(size);
                self.evict();
            } else {
                let (prefix, index) = if c & 0xc0 == 0x40 {
                    (6, true)
                } else {
                    (4, false)
                };
                let i = Self::int(b, &mut at, prefix);
                let name = if i == 0 {
                    Self::string(b, &mut at)
                } else {
                    self.entry(i).0
                };
                let value = Self::string(b, &mut at);
                if index {
                    self.table.push_front((name.clone(), value.clone()));
                    self.evict();
                }
                out.push((name, value));
            }
        }
        out
    }
}

/// The field block of a HEADERS or PUSH_PROMISE frame (padding and
/// priority or promised-stream fields removed); CONTINUATION is not used
/// by the server for blocks this small.
fn field_block(f: &H2Frame) -> &[u8] {
    let mut p = &f.payload[..];
    let mut pad = 0;
    if f.flags & PADDED != 0 {
        pad = usize::from(p[0]);
        p = &p[1..];
    }
    if f.ty == HEADERS && f.flags & PRIORITY_FLAG != 0 {
        p = &p[5..];
    }
    if f.ty == PUSH_PROMISE {
        p = &p[4..];
    }
    assert!(f.flags & END_HEADERS != 0, "a block in CONTINUATION frames");
    &p[..p.len() - pad]
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A HEADERS frame with `fields` as literals and these flags.
fn headers(stream: u32, flags: u8, fields: &[(&str, &str)]) -> Vec<u8> {
    frame(HEADERS, flags, stream, &hpack(fields))
}

/// A request's pseudo-header fields for `method` and `path`.
fn request(method: &'static str, path: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", method),
        (":scheme", "https"),
        (":authority", "localhost"),
        (":path", path),
    ]
}

/// Everything before `frames`: the preface and the client's SETTINGS.
async fn peer(port: u16) -> Peer {
    Peer::connect(port, &[]).await
}

/// A default server, and a connected peer that has sent `wire`.
async fn sent(wire: &[u8]) -> (pushlab::server::RunningServer, Peer) {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(wire).await;
    (srv, p)
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.4
//# Additionally, an endpoint MAY use any applicable error code when it
//# detects an error condition; a generic error code (such as
//# PROTOCOL_ERROR or INTERNAL_ERROR) can always be used in place of more
//# specific error codes.
/// A connection error: the server answers `wire` with GOAWAY carrying
/// one of `codes`, or PROTOCOL_ERROR in their place (h2 0.4 does so for
/// HPACK errors, frame-length errors and an INITIAL_WINDOW_SIZE over
/// 2^31-1; the test output says where), then closes the connection.
async fn connection_error(wire: Vec<u8>, codes: &[u32]) {
    let (srv, mut p) = sent(&wire).await;
    let g = p.goaway().await.expect("a GOAWAY");
    let code = g.error_code();
    assert!(
        codes.contains(&code) || code == PROTOCOL_ERROR,
        "GOAWAY {code:#x}, expected one of {codes:#x?}: {}",
        String::from_utf8_lossy(&g.payload[8..])
    );
    if !codes.contains(&code) {
        eprintln!("generic PROTOCOL_ERROR in place of {codes:#x?}");
    }
    //= https://www.rfc-editor.org/rfc/rfc9113#section-5.4.1
    //# After sending the GOAWAY frame for an error condition, the endpoint
    //# MUST close the TCP connection.
    while let Some(f) = p.next().await {
        assert!(
            f.ty == GOAWAY || f.ty == SETTINGS || f.ty == WINDOW_UPDATE,
            "{f:?} after GOAWAY"
        );
    }
    // The server goes on serving others.
    let mut q = peer(srv.addr.port()).await;
    q.send(&get(1, "/")).await;
    q.until("a response", |f| f.stream == 1 && f.flags & END_STREAM != 0)
        .await;
    drop(p);
    drop(q);
    srv.shutdown().await;
}

/// What a stream error left: the RST_STREAM's code, or the GOAWAY's when
/// the server made it a connection error (RFC 9113 section 5.4.1 allows
/// that).
#[derive(Debug, PartialEq)]
enum StreamEnd {
    Reset(u32),
    GoAway(u32),
}

/// Reads until a RST_STREAM on `stream` or a GOAWAY; after a RST_STREAM
/// the connection must still answer a PING.
async fn stream_end(p: &mut Peer, stream: u32) -> StreamEnd {
    while let Some(f) = p.next().await {
        if f.ty == GOAWAY {
            return StreamEnd::GoAway(f.error_code());
        }
        if f.ty == RST_STREAM && f.stream == stream {
            let code = f.error_code();
            p.ping().await;
            return StreamEnd::Reset(code);
        }
    }
    panic!("the connection ended without RST_STREAM or GOAWAY");
}

/// A stream error on `stream` with one of `codes`: RST_STREAM, or GOAWAY
/// with the same code as escalation when `escalate`.
async fn stream_error(wire: Vec<u8>, stream: u32, codes: &[u32], escalate: bool) {
    let (srv, mut p) = sent(&wire).await;
    match stream_end(&mut p, stream).await {
        StreamEnd::Reset(c) => assert!(codes.contains(&c), "RST_STREAM {c:#x}"),
        // Escalated (section 5.4.1), with the code or the generic one.
        StreamEnd::GoAway(c) => {
            assert!(
                escalate && (codes.contains(&c) || c == PROTOCOL_ERROR),
                "GOAWAY {c:#x} where a stream error ({codes:#x?}) was due"
            );
            eprintln!("stream error {codes:#x?} escalated to GOAWAY {c:#x}");
        }
    }
    srv.shutdown().await;
}

/// Frames the server must ignore: after `wire`, a PING is answered, no
/// RST_STREAM or GOAWAY came, and a request on `next` is served.
async fn ignored(wire: Vec<u8>, next: u32) {
    let (srv, mut p) = sent(&wire).await;
    p.ping().await;
    p.send(&get(next, "/")).await;
    p.until("the response", |f| {
        f.stream == next && f.flags & END_STREAM != 0
    })
    .await;
    let bad: Vec<&H2Frame> = p.seen.iter().filter(|f| f.ty == RST_STREAM).collect();
    assert!(bad.is_empty(), "{bad:?}");
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.1.1
//# Malformed requests or responses that are detected MUST be treated as
//# a stream error (Section 5.4.2) of type PROTOCOL_ERROR.
//# ...
//# For malformed requests, a server MAY send an HTTP response prior to
//# closing or resetting the stream.
//= https://www.rfc-editor.org/rfc/rfc9113#section-5.4.1
//# An endpoint can end a connection at any time.  In particular, an
//# endpoint MAY choose to treat a stream error as a connection error.
/// A malformed request on stream 1: RST_STREAM(PROTOCOL_ERROR), a 4xx
/// response, or the stream error made a connection error
/// (GOAWAY(PROTOCOL_ERROR): h2 0.4 does this when the field block itself
/// holds an invalid name); never a response that serves it. After a
/// stream error the connection goes on.
async fn malformed(wire: Vec<u8>) {
    let (srv, mut p) = sent(&wire).await;
    let mut dec = Decoder::new();
    loop {
        let f = p.next().await.expect("the connection ended");
        if f.ty == GOAWAY {
            assert_eq!(f.error_code(), PROTOCOL_ERROR);
            eprintln!(
                "malformed request escalated to GOAWAY: {}",
                String::from_utf8_lossy(&wire)
            );
            drop(p);
            srv.shutdown().await;
            return;
        }
        if f.ty == RST_STREAM && f.stream == 1 {
            assert_eq!(f.error_code(), PROTOCOL_ERROR);
            break;
        }
        if f.ty == HEADERS && f.stream == 1 {
            let fields = dec.decode(field_block(&f));
            let status = field(&fields, ":status").expect(":status");
            assert!(status.starts_with('4'), "served: {status}");
            break;
        }
    }
    p.ping().await;
    drop(p);
    srv.shutdown().await;
}

/// A request's frame: the pseudo-header fields of GET / and `extra`.
fn get_with(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut f = request("GET", "/");
    f.extend_from_slice(extra);
    headers(1, END_STREAM | END_HEADERS, &f)
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-3.4
//# The server connection preface consists of a potentially empty
//# SETTINGS frame (Section 6.5) that MUST be the first frame the server
//# sends in the HTTP/2 connection.
//# ...
//# The SETTINGS frames received from a peer as part of the connection
//# preface MUST be acknowledged (see Section 6.5.3) after sending the
//# connection preface.
#[tokio::test]
async fn server_preface_is_settings_and_acknowledges_ours() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    let first = p.next().await.expect("a frame");
    assert_eq!(
        (first.ty, first.flags & ACK, first.stream),
        (SETTINGS, 0, 0)
    );
    let ack = p
        .until("the SETTINGS ACK", |f| {
            f.ty == SETTINGS && f.flags & ACK != 0
        })
        .await;
    assert!(ack.payload.is_empty());
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-3.4
//# Clients and servers MUST treat an invalid connection preface as a
//# connection error (Section 5.4.1) of type PROTOCOL_ERROR.  A GOAWAY
//# frame (Section 6.8) MAY be omitted in this case, since an invalid
//# preface indicates that the peer is not using HTTP/2.
#[tokio::test]
async fn invalid_preface_ends_the_connection() {
    let srv = server(ServeOptions::default()).await;
    for (what, preface) in [
        ("bad magic", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".to_vec()),
        ("magic then PING", {
            //= https://www.rfc-editor.org/rfc/rfc9113#section-3.4
            //# This sequence MUST be followed by a SETTINGS frame (Section
            //# 6.5), which MAY be empty.
            let mut b = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            b.extend(frame(PING, 0, 0, b"pushlab!"));
            b
        }),
    ] {
        let mut p = Peer::connect_raw(srv.addr.port()).await;
        p.send(&preface).await;
        while let Some(f) = p.next().await {
            if f.ty == GOAWAY {
                assert_eq!(f.error_code(), PROTOCOL_ERROR, "{what}");
            }
            assert!(
                f.ty != PING && f.ty != HEADERS,
                "{what}: the server went on: {f:?}"
            );
        }
    }
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
//# Implementations MUST ignore and discard frames of unknown types.
//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1
//# Receipt of frames for which the semantics are unknown cannot be
//# treated as an error, as the conditions for sending and receiving those
//# frames are also unknown; see Section 5.5.
#[tokio::test]
async fn unknown_frame_types_are_ignored() {
    let mut wire = frame(0x20, 0xff, 0, b"unknown on stream 0");
    wire.extend(frame(0xfa, 0, 99, b"unknown on an idle stream"));
    // Stream 99 was not opened by it: a request on stream 1 is still valid.
    ignored(wire, 1).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
//# Unused flags MUST be ignored on receipt and MUST be left unset (0x00)
//# when sending.
#[tokio::test]
async fn unused_flags_are_ignored() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    // PING with every flag but ACK.
    p.send(&frame(PING, 0xfe, 0, b"flags!!!")).await;
    let ack = p
        .until("the PING ACK", |f| f.ty == PING && f.flags & ACK != 0)
        .await;
    assert_eq!(ack.payload, b"flags!!!");
    // HEADERS with the undefined flags 0x2, 0x10, 0x40 and 0x80.
    let mut block = request("GET", "/");
    block.truncate(4);
    p.send(&headers(1, END_STREAM | END_HEADERS | 0xd2, &block))
        .await;
    p.until("the response", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    // And the server sets none of the undefined ones.
    let defined = |ty: u8| match ty {
        DATA => END_STREAM | PADDED,
        HEADERS => END_STREAM | END_HEADERS | PADDED | PRIORITY_FLAG,
        SETTINGS | PING => ACK,
        PUSH_PROMISE | CONTINUATION => END_HEADERS | PADDED,
        _ => 0,
    };
    for f in &p.seen {
        assert_eq!(f.flags & !defined(f.ty), 0, "undefined flags sent: {f:?}");
    }
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
//# Reserved:  A reserved 1-bit field.  The semantics of this bit are
//# undefined, and the bit MUST remain unset (0x00) when sending and MUST
//# be ignored when receiving.
#[tokio::test]
async fn reserved_stream_bit_is_ignored() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(&get(0x8000_0001, "/")).await;
    p.until("the response on stream 1", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.2
//# All implementations MUST be capable of receiving and minimally
//# processing frames up to 2^14 octets in length, plus the 9-octet frame
//# header (Section 4.1).
#[tokio::test]
async fn frames_of_16384_octets_are_received() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    let mut wire = headers(1, END_HEADERS, &request("POST", "/"));
    wire.extend(frame(DATA, END_STREAM, 1, &[b'x'; 16_384]));
    p.send(&wire).await;
    let mut dec = Decoder::new();
    let h = p
        .until("the response", |f| f.ty == HEADERS && f.stream == 1)
        .await;
    let fields = dec.decode(field_block(&h));
    assert!(field(&fields, ":status").is_some());
    p.ping().await;
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.2
//# An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
//# exceeds the size defined in SETTINGS_MAX_FRAME_SIZE, exceeds any limit
//# defined for the frame type, or is too small to contain mandatory frame
//# data.
#[tokio::test]
async fn data_frame_over_max_frame_size() {
    let mut wire = headers(1, END_HEADERS, &request("POST", "/"));
    wire.extend(frame(DATA, 0, 1, &[b'x'; 16_385]));
    stream_error(wire, 1, &[FRAME_SIZE_ERROR], true).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.2
//# A frame size error in a frame that could alter the state of the entire
//# connection MUST be treated as a connection error (Section 5.4.1); this
//# includes any frame carrying a field block (Section 4.3) (that is,
//# HEADERS, PUSH_PROMISE, and CONTINUATION), a SETTINGS frame, and any
//# frame with a stream identifier of 0.
#[tokio::test]
async fn headers_frame_over_max_frame_size() {
    let mut block = hpack(&request("GET", "/"));
    block.resize(16_385, 0x80 | 2); // indexed :method GET, repeated
    connection_error(
        frame(HEADERS, END_STREAM | END_HEADERS, 1, &block),
        &[FRAME_SIZE_ERROR],
    )
    .await;
}

#[tokio::test]
async fn continuation_over_max_frame_size() {
    let mut wire = frame(HEADERS, END_STREAM, 1, &hpack(&request("GET", "/")));
    wire.extend(frame(CONTINUATION, END_HEADERS, 1, &vec![0x82; 16_385]));
    connection_error(wire, &[FRAME_SIZE_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.2
//# An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
//# ... is too small to contain mandatory frame data.
/// (PROTOCOL_ERROR is allowed too: "a generic error code (such as
/// PROTOCOL_ERROR or INTERNAL_ERROR) can always be used in place of more
/// specific error codes", section 5.4.)
#[tokio::test]
async fn headers_too_small_for_its_fields() {
    // PADDED without a Pad Length octet; PRIORITY without its 5 octets.
    connection_error(
        frame(HEADERS, END_HEADERS | PADDED, 1, &[]),
        &[FRAME_SIZE_ERROR, PROTOCOL_ERROR],
    )
    .await;
    connection_error(
        frame(HEADERS, END_HEADERS | PRIORITY_FLAG, 1, &[0, 0, 0, 0]),
        &[FRAME_SIZE_ERROR, PROTOCOL_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.3
//# Field blocks MUST be transmitted as a contiguous sequence of frames,
//# with no interleaved frames of any other type or from any other stream.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.10
//# If the END_HEADERS flag is not set, this frame MUST be followed by
//# another CONTINUATION frame.  A receiver MUST treat the receipt of any
//# other type of frame or a frame on a different stream as a connection
//# error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn field_block_interrupted_by_another_frame() {
    let open = frame(HEADERS, END_STREAM, 1, &hpack(&request("GET", "/")));
    let mut ping = open.clone();
    ping.extend(frame(PING, 0, 0, b"pushlab!"));
    connection_error(ping, &[PROTOCOL_ERROR]).await;
    let mut other_stream = open.clone();
    other_stream.extend(frame(CONTINUATION, END_HEADERS, 3, &[]));
    connection_error(other_stream, &[PROTOCOL_ERROR]).await;
    let mut headers3 = open;
    headers3.extend(get(3, "/"));
    connection_error(headers3, &[PROTOCOL_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.5
//# However, extension frames that appear in the middle of a field block
//# (Section 4.3) are not permitted; these MUST be treated as a connection
//# error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn extension_frame_inside_a_field_block() {
    let mut wire = frame(HEADERS, END_STREAM, 1, &hpack(&request("GET", "/")));
    wire.extend(frame(0x20, 0, 0, b"unknown"));
    wire.extend(frame(CONTINUATION, END_HEADERS, 1, &[]));
    connection_error(wire, &[PROTOCOL_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.10
//# CONTINUATION frames MUST be associated with a stream.  If a
//# CONTINUATION frame is received with a Stream Identifier field of 0x00,
//# the recipient MUST respond with a connection error (Section 5.4.1) of
//# type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.10
//# A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
//# CONTINUATION frame without the END_HEADERS flag set.  A recipient that
//# observes violation of this rule MUST respond with a connection error
//# (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn continuation_out_of_place() {
    connection_error(frame(CONTINUATION, END_HEADERS, 0, &[]), &[PROTOCOL_ERROR]).await;
    connection_error(
        frame(CONTINUATION, END_HEADERS, 1, &[0x82]),
        &[PROTOCOL_ERROR],
    )
    .await;
    // After a complete block.
    let mut wire = get(1, "/");
    wire.extend(frame(CONTINUATION, END_HEADERS, 1, &[0x82]));
    connection_error(wire, &[PROTOCOL_ERROR]).await;
}

/// A GET / whose field block is `block` (after nothing else).
fn raw_block(block: &[u8]) -> Vec<u8> {
    frame(HEADERS, END_STREAM | END_HEADERS, 1, block)
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.3
//# A decoding error in a field block MUST be treated as a connection
//# error (Section 5.4.1) of type COMPRESSION_ERROR.
//= https://www.rfc-editor.org/rfc/rfc7541#section-6.1
//# The index value of 0 is not used.  It MUST be treated as a decoding
//# error if found in an indexed header field representation.
#[tokio::test]
async fn hpack_index_zero() {
    connection_error(raw_block(&[0x82, 0x87, 0x84, 0x80]), &[COMPRESSION_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-2.3.3
//# Indices strictly greater than the sum of the lengths of both tables
//# MUST be treated as a decoding error.
#[tokio::test]
async fn hpack_index_beyond_the_tables() {
    // Index 62 with an empty dynamic table; then 200 as a literal's name.
    connection_error(raw_block(&[0x82, 0x87, 0x84, 0xbe]), &[COMPRESSION_ERROR]).await;
    connection_error(
        raw_block(&[0x82, 0x87, 0x84, 0x4f, 0x89, 0x01, 0x01, b'x']),
        &[COMPRESSION_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-6.3
//# The new maximum size MUST be lower than or equal to the limit
//# determined by the protocol using HPACK.  A value that exceeds this
//# limit MUST be treated as a decoding error.
#[tokio::test]
async fn hpack_table_size_update_above_the_limit() {
    // 4097 with a 5-bit prefix: 31, then 4066 = 0xe2 0x1f.
    connection_error(
        raw_block(&[0x3f, 0xe2, 0x1f, 0x82, 0x87, 0x84]),
        &[COMPRESSION_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-4.2
//# This dynamic table size update MUST occur at the beginning of the
//# first header block following the change to the dynamic table size.
#[tokio::test]
async fn hpack_table_size_update_after_a_field() {
    connection_error(raw_block(&[0x82, 0x20, 0x87, 0x84]), &[COMPRESSION_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-5.1
//# Integer encodings that exceed implementation limits -- in value or
//# octet length -- MUST be treated as decoding errors.
#[tokio::test]
async fn hpack_integer_overflow() {
    let mut block = vec![0x82, 0x87, 0x84, 0xff];
    block.extend([0xff; 12]);
    block.push(0x01);
    connection_error(raw_block(&block), &[COMPRESSION_ERROR]).await;
}

/// A GET / with one extra field whose value is the Huffman string `h`.
fn with_huffman_value(h: &[u8]) -> Vec<u8> {
    let mut block = vec![0x82, 0x87, 0x84, 0x41, 0x09];
    block.extend_from_slice(b"localhost");
    // Literal without indexing, name "x-h", Huffman value.
    block.extend([0x00, 0x03, b'x', b'-', b'h', 0x80 | h.len() as u8]);
    block.extend_from_slice(h);
    raw_block(&block)
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
//# A padding strictly longer than 7 bits MUST be treated as a decoding
//# error.
#[tokio::test]
async fn hpack_huffman_padding_too_long() {
    // "a" is 00011 (5 bits), then 11 bits of ones.
    connection_error(with_huffman_value(&[0x1f, 0xff]), &[COMPRESSION_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
//# A padding not corresponding to the most significant bits of the code
//# for the EOS symbol MUST be treated as a decoding error.
#[tokio::test]
async fn hpack_huffman_padding_not_eos() {
    // "a" (00011) then padding 000.
    connection_error(with_huffman_value(&[0x18]), &[COMPRESSION_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc7541#section-5.2
//# A Huffman-encoded string literal containing the EOS symbol MUST be
//# treated as a decoding error.
#[tokio::test]
async fn hpack_huffman_eos() {
    // EOS is 30 ones; 32 ones hold it and 2 bits of padding.
    connection_error(
        with_huffman_value(&[0xff, 0xff, 0xff, 0xff]),
        &[COMPRESSION_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1
//# Receiving any frame other than HEADERS or PRIORITY on a stream in this
//# state MUST be treated as a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
#[tokio::test]
async fn frames_on_an_idle_stream() {
    connection_error(frame(DATA, 0, 1, b"x"), &[PROTOCOL_ERROR]).await;
    connection_error(
        frame(WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes()),
        &[PROTOCOL_ERROR],
    )
    .await;
    // PRIORITY is allowed there.
    ignored(frame(PRIORITY, 0, 1, &[0, 0, 0, 0, 16]), 1).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1.1
//# The identifier of a newly established stream MUST be numerically
//# greater than all streams that the initiating endpoint has opened or
//# reserved.  This governs streams that are opened using a HEADERS frame
//# and streams that are reserved using PUSH_PROMISE.  An endpoint that
//# receives an unexpected stream identifier MUST respond with a
//# connection error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn stream_identifiers_must_increase() {
    let mut wire = get(5, "/");
    wire.extend(get(3, "/"));
    // Stream 3 was closed implicitly when 5 opened: some servers say
    // STREAM_CLOSED (section 5.1's closed state).
    connection_error(wire, &[PROTOCOL_ERROR, STREAM_CLOSED]).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1
//# If an endpoint receives additional frames, other than WINDOW_UPDATE,
//# PRIORITY, or RST_STREAM, for a stream that is in this state, it MUST
//# respond with a stream error (Section 5.4.2) of type STREAM_CLOSED.
/// Stream 1 is half-closed (remote): its GET carried END_STREAM and its
/// 1 MB response is held by the client's 64 KiB window.
#[tokio::test]
async fn data_on_a_half_closed_stream() {
    let mut wire = get(1, "/files/1M.bin");
    // WINDOW_UPDATE and PRIORITY are allowed there...
    wire.extend(frame(WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes()));
    wire.extend(frame(PRIORITY, 0, 1, &[0, 0, 0, 0, 16]));
    // ...DATA is not.
    wire.extend(frame(DATA, 0, 1, b"late"));
    stream_error(wire, 1, &[STREAM_CLOSED], true).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1
//# An endpoint MUST NOT send frames other than PRIORITY on a closed
//# stream.  An endpoint MAY treat receipt of any other type of frame on a
//# closed stream as a connection error (Section 5.4.1) of type
//# STREAM_CLOSED, except as noted below.
#[tokio::test]
async fn data_on_a_closed_stream() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(&get(1, "/css/theme.css")).await;
    p.until("the response's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    p.ping().await;
    p.send(&frame(DATA, 0, 1, b"late")).await;
    let end = stream_end(&mut p, 1).await;
    assert!(
        matches!(
            end,
            StreamEnd::Reset(STREAM_CLOSED) | StreamEnd::GoAway(STREAM_CLOSED | PROTOCOL_ERROR)
        ),
        "{end:?}"
    );
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.1.2
//# An endpoint that receives a HEADERS frame that causes its advertised
//# concurrent stream limit to be exceeded MUST treat this as a stream
//# error (Section 5.4.2) of type PROTOCOL_ERROR or REFUSED_STREAM.
#[tokio::test]
async fn concurrent_stream_limit() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    let s = p.until("the server's SETTINGS", |f| f.ty == SETTINGS).await;
    let limit = s
        .payload
        .chunks(6)
        .find(|c| u16::from_be_bytes([c[0], c[1]]) == MAX_CONCURRENT_STREAMS)
        .map(|c| u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
        .expect("SETTINGS_MAX_CONCURRENT_STREAMS");
    // Each stream stays open: a 100 MB response behind the client's window.
    let mut wire = Vec::new();
    for i in 0..=limit {
        wire.extend(get(1 + 2 * i, "/files/100M.bin"));
    }
    p.send(&wire).await;
    let over = 1 + 2 * limit;
    let end = stream_end(&mut p, over).await;
    assert!(
        matches!(end, StreamEnd::Reset(REFUSED_STREAM | PROTOCOL_ERROR)),
        "{end:?}"
    );
    // The streams within the limit were not reset.
    let reset: Vec<u32> = p
        .seen
        .iter()
        .filter(|f| f.ty == RST_STREAM && f.stream != over)
        .map(|f| f.stream)
        .collect();
    assert!(reset.is_empty(), "{reset:?}");
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-5.4.2
//# To avoid looping, an endpoint MUST NOT send a RST_STREAM in response
//# to a RST_STREAM frame.
#[tokio::test]
async fn rst_stream_is_not_answered_with_rst_stream() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(&get(1, "/files/1M.bin")).await;
    p.until("the response's HEADERS", |f| {
        f.ty == HEADERS && f.stream == 1
    })
    .await;
    p.send(&frame(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()))
        .await;
    p.ping().await;
    p.send(&get(3, "/")).await;
    p.until("the next response", |f| {
        f.stream == 3 && f.flags & END_STREAM != 0
    })
    .await;
    assert!(!p.seen.iter().any(|f| f.ty == RST_STREAM && f.stream == 1));
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.1
//# If the length of the padding is the length of the frame payload or
//# greater, the recipient MUST treat this as a connection error (Section
//# 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn data_padding_too_long() {
    let mut wire = headers(1, END_HEADERS, &request("POST", "/"));
    // Pad Length 5 in a 5-octet payload.
    wire.extend(frame(DATA, PADDED | END_STREAM, 1, &[5, 0, 0, 0, 0]));
    connection_error(wire, &[PROTOCOL_ERROR]).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.2
//# If the length of the padding is the length of the frame payload or
//# greater, the recipient MUST treat this as a connection error (Section
//# 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn headers_padding_too_long() {
    let mut payload = vec![200u8];
    payload.extend(hpack(&request("GET", "/")));
    connection_error(
        frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, &payload),
        &[PROTOCOL_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.2
//# If a HEADERS frame is received whose Stream Identifier field is 0x00,
//# the recipient MUST respond with a connection error (Section 5.4.1) of
//# type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.3
//# If a PRIORITY frame is received with a stream identifier of 0x00, the
//# recipient MUST respond with a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.4
//# If a RST_STREAM frame is received with a stream identifier of 0x00,
//# the recipient MUST treat this as a connection error (Section 5.4.1) of
//# type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5
//# If an endpoint receives a SETTINGS frame whose Stream Identifier field
//# is anything other than 0x00, the endpoint MUST respond with a
//# connection error (Section 5.4.1) of type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.7
//# If a PING frame is received with a Stream Identifier field value other
//# than 0x00, the recipient MUST respond with a connection error (Section
//# 5.4.1) of type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.8
//# An endpoint MUST treat a GOAWAY frame with a stream identifier other
//# than 0x00 as a connection error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn frames_on_the_wrong_stream() {
    for wire in [
        headers(0, END_STREAM | END_HEADERS, &request("GET", "/")),
        frame(PRIORITY, 0, 0, &[0, 0, 0, 1, 16]),
        frame(RST_STREAM, 0, 0, &CANCEL.to_be_bytes()),
        frame(SETTINGS, 0, 1, &[]),
        frame(PING, 0, 1, b"pushlab!"),
        frame(GOAWAY, 0, 1, &[0, 0, 0, 0, 0, 0, 0, 0]),
    ] {
        connection_error(wire, &[PROTOCOL_ERROR]).await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.3
//# A PRIORITY frame with a length other than 5 octets MUST be treated as a
//# stream error (Section 5.4.2) of type FRAME_SIZE_ERROR.
#[tokio::test]
async fn priority_of_the_wrong_length() {
    let mut wire = get(1, "/files/1M.bin");
    wire.extend(frame(PRIORITY, 0, 1, &[0, 0, 0, 0]));
    stream_error(wire, 1, &[FRAME_SIZE_ERROR], true).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.4
//# A RST_STREAM frame with a length other than 4 octets MUST be treated
//# as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5
//# Receipt of a SETTINGS frame with the ACK flag set and a length field
//# value other than 0 MUST be treated as a connection error (Section
//# 5.4.1) of type FRAME_SIZE_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5
//# A SETTINGS frame with a length other than a multiple of 6 octets MUST
//# be treated as a connection error (Section 5.4.1) of type
//# FRAME_SIZE_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.7
//# Receipt of a PING frame with a length field value other than 8 MUST be
//# treated as a connection error (Section 5.4.1) of type
//# FRAME_SIZE_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.9
//# A WINDOW_UPDATE frame with a length other than 4 octets MUST be treated
//# as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR.
#[tokio::test]
async fn frames_of_the_wrong_length() {
    let mut rst = get(1, "/files/1M.bin");
    rst.extend(frame(RST_STREAM, 0, 1, &[0, 0, 8]));
    for wire in [
        rst,
        frame(SETTINGS, ACK, 0, &[0, 0, 0, 0, 0, 0]),
        frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0]),
        frame(PING, 0, 0, b"seven!!"),
        frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1]),
    ] {
        connection_error(wire, &[FRAME_SIZE_ERROR]).await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# Any value other than 0 or 1 MUST be treated as a connection error
//# (Section 5.4.1) of type PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# Values above the maximum flow-control window size of 2^31-1 MUST be
//# treated as a connection error (Section 5.4.1) of type
//# FLOW_CONTROL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# The value advertised by an endpoint MUST be between this initial value
//# and the maximum allowed frame size (2^24-1 or 16,777,215 octets),
//# inclusive.  Values outside this range MUST be treated as a connection
//# error (Section 5.4.1) of type PROTOCOL_ERROR.
#[tokio::test]
async fn settings_out_of_range() {
    for (id, value, code) in [
        (ENABLE_PUSH, 2, PROTOCOL_ERROR),
        (INITIAL_WINDOW_SIZE, 1 << 31, FLOW_CONTROL_ERROR),
        (MAX_FRAME_SIZE, 16_383, PROTOCOL_ERROR),
        (MAX_FRAME_SIZE, 1 << 24, PROTOCOL_ERROR),
    ] {
        connection_error(settings(&[(id, value)]), &[code]).await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# An endpoint that receives a SETTINGS frame with any unknown or
//# unsupported identifier MUST ignore that setting.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.3
//# Once all values have been processed, the recipient MUST immediately
//# emit a SETTINGS frame with the ACK flag set.
#[tokio::test]
async fn unknown_settings_are_ignored_and_acknowledged() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    // The preface's SETTINGS is acknowledged first.
    p.until("the first SETTINGS ACK", |f| {
        f.ty == SETTINGS && f.flags & ACK != 0
    })
    .await;
    p.send(&settings(&[(0x7f7f, 12345), (0xffff, 0)])).await;
    p.until("the second SETTINGS ACK", |f| {
        f.ty == SETTINGS && f.flags & ACK != 0
    })
    .await;
    p.send(&get(1, "/")).await;
    p.until("the response", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.7
//# Receivers of a PING frame that does not include an ACK flag MUST send a
//# PING frame with the ACK flag set in response, with an identical frame
//# payload.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.7
//# An endpoint MUST NOT respond to PING frames containing this flag.
#[tokio::test]
async fn ping_is_echoed_and_ping_ack_is_not() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(&frame(PING, ACK, 0, b"unasked!")).await;
    p.send(&frame(PING, 0, 0, b"\x00\x01\x02\x03\xfc\xfd\xfe\xff"))
        .await;
    let ack = p
        .until("the PING ACK", |f| f.ty == PING && f.flags & ACK != 0)
        .await;
    assert_eq!(ack.payload, b"\x00\x01\x02\x03\xfc\xfd\xfe\xff");
    p.ping().await;
    let pings: Vec<&H2Frame> = p.seen.iter().filter(|f| f.ty == PING).collect();
    assert_eq!(pings.len(), 2, "only our two PINGs are answered: {pings:?}");
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.9
//# A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
//# flow-control window increment of 0 as a stream error (Section 5.4.2) of
//# type PROTOCOL_ERROR; errors on the connection flow-control window MUST
//# be treated as a connection error (Section 5.4.1).
#[tokio::test]
async fn window_update_of_zero() {
    let mut wire = get(1, "/files/1M.bin");
    wire.extend(frame(WINDOW_UPDATE, 0, 1, &0u32.to_be_bytes()));
    stream_error(wire, 1, &[PROTOCOL_ERROR], true).await;
    connection_error(
        frame(WINDOW_UPDATE, 0, 0, &0u32.to_be_bytes()),
        &[PROTOCOL_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.9.1
//# If a sender receives a WINDOW_UPDATE that causes a flow-control window
//# to exceed this maximum, it MUST terminate either the stream or the
//# connection, as appropriate.  For streams, the sender sends a RST_STREAM
//# with an error code of FLOW_CONTROL_ERROR; for the connection, a GOAWAY
//# frame with an error code of FLOW_CONTROL_ERROR is sent.
#[tokio::test]
async fn window_update_past_2_31() {
    let max = 0x7fff_ffffu32;
    let mut wire = get(1, "/files/1M.bin");
    wire.extend(frame(WINDOW_UPDATE, 0, 1, &max.to_be_bytes()));
    stream_error(wire, 1, &[FLOW_CONTROL_ERROR], false).await;
    connection_error(
        frame(WINDOW_UPDATE, 0, 0, &max.to_be_bytes()),
        &[FLOW_CONTROL_ERROR],
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.9.1
//# The sender MUST NOT send a flow-controlled frame with a length that
//# exceeds the space available in either of the flow-control windows
//# advertised by the receiver.  Frames with zero length with the
//# END_STREAM flag set (that is, an empty DATA frame) MAY be sent if there
//# is no available space in either flow-control window.
//= https://www.rfc-editor.org/rfc/rfc9113#section-4.1
//# Values greater than 2^14 (16,384) MUST NOT be sent unless the receiver
//# has set a larger value for SETTINGS_MAX_FRAME_SIZE.
#[tokio::test]
async fn server_respects_windows_and_frame_size() {
    let srv = server(ServeOptions::default()).await;
    // A stream window of 0: the response's HEADERS, and no DATA.
    let mut p = Peer::connect(srv.addr.port(), &[(INITIAL_WINDOW_SIZE, 0)]).await;
    p.send(&get(1, "/css/theme.css")).await;
    p.until("the response's HEADERS", |f| {
        f.ty == HEADERS && f.stream == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.ping().await;
    let data: usize = p
        .seen
        .iter()
        .filter(|f| f.ty == DATA)
        .map(|f| f.payload.len())
        .sum();
    assert_eq!(data, 0, "DATA beyond a window of 0");
    // Opening the window lets it through.
    p.send(&frame(WINDOW_UPDATE, 0, 1, &100_000u32.to_be_bytes()))
        .await;
    p.until("the response's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    drop(p);
    // Large windows: the connection's stays at 65,535 without a
    // WINDOW_UPDATE, and no frame is over 16,384 octets.
    let mut p = Peer::connect(srv.addr.port(), &[(INITIAL_WINDOW_SIZE, 0x7fff_ffff)]).await;
    p.send(&get(1, "/files/1M.bin")).await;
    let mut got = 0usize;
    while got < 65_535 {
        let f = p.until("DATA", |f| f.ty == DATA && f.stream == 1).await;
        got += f.payload.len();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.ping().await;
    let total: usize = p
        .seen
        .iter()
        .filter(|f| f.ty == DATA)
        .map(|f| f.payload.len())
        .sum();
    assert_eq!(total, 65_535, "DATA beyond the connection's window");
    p.send(&frame(WINDOW_UPDATE, 0, 0, &(1u32 << 24).to_be_bytes()))
        .await;
    p.until("the response's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    let big: Vec<usize> = p
        .seen
        .iter()
        .map(|f| f.payload.len())
        .filter(|l| *l > 16_384)
        .collect();
    assert!(big.is_empty(), "frames over 16,384 octets: {big:?}");
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.1
//# An endpoint that receives a HEADERS frame without the END_STREAM flag
//# set after receiving the HEADERS frame that opens a request or after
//# receiving a final (non-informational) status code MUST treat the
//# corresponding request or response as malformed (Section 8.1.1).
#[tokio::test]
async fn second_headers_without_end_stream() {
    let mut wire = headers(1, END_HEADERS, &request("POST", "/"));
    wire.extend(headers(1, END_HEADERS, &[("x-more", "1")]));
    malformed(wire).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.1.1
//# A request or response is also malformed if the value of a
//# content-length header field does not equal the sum of the DATA frame
//# payload lengths that form the content, unless the message is defined as
//# having no content.
#[tokio::test]
async fn content_length_mismatch() {
    let mut fields = request("POST", "/");
    fields.push(("content-length", "10"));
    let mut wire = headers(1, END_HEADERS, &fields);
    wire.extend(frame(DATA, END_STREAM, 1, b"12345"));
    malformed(wire).await;
    let mut wire = headers(1, END_HEADERS, &fields);
    wire.extend(frame(DATA, END_STREAM, 1, b"0123456789abc"));
    malformed(wire).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.2.1
//# *  A field name MUST NOT contain characters in the ranges 0x00-0x20,
//#    0x41-0x5a, or 0x7f-0xff (all ranges inclusive).  This specifically
//#    excludes all non-visible ASCII characters, ASCII SP (0x20), and
//#    uppercase characters ('A' to 'Z', ASCII 0x41 to 0x5a).
//# *  With the exception of pseudo-header fields (Section 8.3), which have
//#    a name that starts with a single colon, field names MUST NOT include
//#    a colon (ASCII COLON, 0x3a).
//# *  A field value MUST NOT contain the zero value (ASCII NUL, 0x00), line
//#    feed (ASCII LF, 0x0a), or carriage return (ASCII CR, 0x0d) at any
//#    position.
//# ...
//# A request or response that contains a field that violates any of
//# these conditions MUST be treated as malformed (Section 8.1.1).
#[tokio::test]
async fn invalid_field_names_and_values() {
    for extra in [
        ("X-Upper", "1"),
        ("x space", "1"),
        ("x\u{7f}", "1"),
        ("x:colon", "1"),
        ("x-nul", "a\0b"),
        ("x-lf", "a\nb"),
        ("x-cr", "a\rb"),
    ] {
        malformed(get_with(&[extra])).await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.2.2
//# An endpoint MUST NOT generate an HTTP/2 message containing
//# connection-specific header fields.  This includes the Connection
//# header field and those listed as having connection-specific semantics
//# in Section 7.6.1 of [HTTP] (that is, Proxy-Connection, Keep-Alive,
//# Transfer-Encoding, and Upgrade).  Any message containing
//# connection-specific header fields MUST be treated as malformed (Section
//# 8.1.1).
//#
//# The only exception to this is the TE header field, which MAY be present
//# in an HTTP/2 request; when it is, it MUST NOT contain any value other
//# than "trailers".
#[tokio::test]
async fn connection_specific_fields() {
    for extra in [
        ("connection", "keep-alive"),
        ("proxy-connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("te", "gzip"),
    ] {
        malformed(get_with(&[extra])).await;
    }
    // TE: trailers is allowed.
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    p.send(&get_with(&[("te", "trailers")])).await;
    let h = p
        .until("the response", |f| f.ty == HEADERS && f.stream == 1)
        .await;
    let fields = Decoder::new().decode(field_block(&h));
    assert_eq!(field(&fields, ":status"), Some("200"));
    // And the server sends none of them.
    for name in [
        "connection",
        "proxy-connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(field(&fields, name).is_none(), "{name} in {fields:?}");
    }
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.3
//# Pseudo-header fields defined for requests MUST NOT appear in
//# responses; pseudo-header fields defined for responses MUST NOT appear
//# in requests.
//# ...
//# Endpoints MUST treat a request or response that contains undefined or
//# invalid pseudo-header fields as malformed (Section 8.1.1).
//# ...
//# All pseudo-header fields MUST appear in a field block before all
//# regular field lines.  Any request or response that contains a
//# pseudo-header field that appears in a field block after a regular
//# field line MUST be treated as malformed (Section 8.1.1).
//# ...
//# The same pseudo-header field name MUST NOT appear more than once in a
//# field block.  A field block for an HTTP request or response that
//# contains a repeated pseudo-header field name MUST be treated as
//# malformed (Section 8.1.1).
#[tokio::test]
async fn pseudo_header_rules() {
    malformed(get_with(&[(":foo", "bar")])).await;
    malformed(get_with(&[(":status", "200")])).await;
    malformed(get_with(&[("x-regular", "1"), (":protocol", "x")])).await;
    let mut late = vec![(":method", "GET"), (":scheme", "https"), ("x-regular", "1")];
    late.extend([(":authority", "localhost"), (":path", "/")]);
    malformed(headers(1, END_STREAM | END_HEADERS, &late)).await;
    malformed(get_with(&[(":path", "/other")])).await;
    malformed(get_with(&[(":method", "GET")])).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.3.1
//# All HTTP/2 requests MUST include exactly one valid value for the
//# ":method", ":scheme", and ":path" pseudo-header fields, unless they
//# are CONNECT requests (Section 8.5).  An HTTP request that omits
//# mandatory pseudo-header fields is malformed (Section 8.1.1).
//= https://www.rfc-editor.org/rfc/rfc9113#section-8.3.1
//# This pseudo-header field MUST NOT be empty for "http" or "https" URIs;
//# "http" or "https" URIs that do not contain a path component MUST
//# include a value of '/'.
#[tokio::test]
async fn missing_or_empty_pseudo_headers() {
    for skip in [":method", ":scheme", ":path"] {
        let fields: Vec<(&str, &str)> = request("GET", "/")
            .into_iter()
            .filter(|(n, _)| *n != skip)
            .collect();
        malformed(headers(1, END_STREAM | END_HEADERS, &fields)).await;
    }
    malformed(headers(1, END_STREAM | END_HEADERS, &request("GET", ""))).await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# This setting is only advisory, so endpoints MAY choose to send field
//# blocks that exceed this limit and risk the request or response being
//# treated as malformed.
//= https://www.rfc-editor.org/rfc/rfc9113#section-10.5.1
//# A server that receives a larger field block than it is willing to
//# handle can send an HTTP 431 (Request Header Fields Too Large) status
//# code [RFC6585].  A client can discard responses that it cannot process.
//# The field block MUST be processed to ensure a consistent connection
//# state, unless the connection is closed.
/// A request over SETTINGS_MAX_HEADER_LIST_SIZE (16 KiB) that also adds an
/// entry to the dynamic table; the next request refers to that entry, so
/// it is decoded right only if the large block was decoded too.
#[tokio::test]
async fn oversized_field_block_keeps_the_compression_state() {
    let srv = server(ServeOptions::default()).await;
    let mut p = peer(srv.addr.port()).await;
    let mut block = hpack(&request("GET", "/"));
    // Literal with incremental indexing, new name: x-id: pushlab.
    block.extend([0x40, 4, b'x', b'-', b'i', b'd', 7]);
    block.extend_from_slice(b"pushlab");
    for i in 0..200 {
        let name = format!("x-filler-{i:03}");
        block.extend([0x00, name.len() as u8]);
        block.extend_from_slice(name.as_bytes());
        block.extend([100]);
        block.extend_from_slice(&[b'f'; 100]);
    }
    let (first, rest) = block.split_at(16_000);
    let mut wire = frame(HEADERS, END_STREAM, 1, first);
    wire.extend(frame(CONTINUATION, END_HEADERS, 1, rest));
    p.send(&wire).await;
    let mut dec = Decoder::new();
    loop {
        let f = p.next().await.expect("the connection ended");
        assert!(f.ty != GOAWAY, "GOAWAY {:#x}", f.error_code());
        if f.stream == 1 && f.ty == RST_STREAM {
            break;
        }
        if f.stream == 1 && f.ty == HEADERS {
            let fields = dec.decode(field_block(&f));
            assert_eq!(field(&fields, ":status"), Some("431"), "{fields:?}");
            break;
        }
    }
    // The next request: GET /css/theme.css with the dynamic entry (62).
    let mut next = hpack(&request("GET", "/css/theme.css"));
    next.push(0x80 | 62);
    p.send(&frame(HEADERS, END_STREAM | END_HEADERS, 3, &next))
        .await;
    let h = p
        .until("the next response", |f| f.ty == HEADERS && f.stream == 3)
        .await;
    let fields = dec.decode(field_block(&h));
    assert_eq!(field(&fields, ":status"), Some("200"), "{fields:?}");
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-4.3.1
//# Once an endpoint acknowledges a change to SETTINGS_HEADER_TABLE_SIZE
//# that reduces the maximum below the current size of the dynamic table,
//# its HPACK encoder MUST start the next field block with a Dynamic Table
//# Size Update instruction that sets the dynamic table to a size that is
//# less than or equal to the reduced maximum; see Section 4.2 of
//# [COMPRESSION].
#[tokio::test]
async fn server_encoder_follows_a_smaller_table() {
    let srv = server(ServeOptions::default()).await;
    let mut p = Peer::connect(srv.addr.port(), &[(HEADER_TABLE_SIZE, 0)]).await;
    p.send(&get(1, "/")).await;
    let h = p
        .until("the response", |f| f.ty == HEADERS && f.stream == 1)
        .await;
    let mut dec = Decoder::new();
    let fields = dec.decode(field_block(&h));
    assert_eq!(dec.last_update, Some(0), "no size update to 0 first");
    assert_eq!(field(&fields, ":status"), Some("200"));
    p.send(&get(3, "/css/theme.css")).await;
    let h = p
        .until("the response", |f| f.ty == HEADERS && f.stream == 3)
        .await;
    dec.decode(field_block(&h));
    assert!(dec.table.is_empty());
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-8.4
//# A client cannot push.  Thus, servers MUST treat the receipt of a
//# PUSH_PROMISE frame as a connection error (Section 5.4.1) of type
//# PROTOCOL_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
//# SETTINGS_ENABLE_PUSH (0x02):  This setting can be used to enable or
//# disable server push.  A server MUST NOT send a PUSH_PROMISE frame if it
//# receives this parameter set to a value of 0; see Section 8.4.
#[tokio::test]
async fn no_push_promise_when_push_is_disabled() {
    let srv = push_server().await;
    let mut p = Peer::connect(srv.addr.port(), &[(ENABLE_PUSH, 0)]).await;
    p.send(&get(1, "/")).await;
    p.until("the page's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    p.ping().await;
    assert!(promised(&p.seen).is_empty());
    drop(p);
    // The same server pushes when the client allows it.
    let mut p = Peer::connect(srv.addr.port(), &[]).await;
    p.send(&get(1, "/")).await;
    p.until("the page's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    assert!(!promised(&p.seen).is_empty());
    drop(p);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9113#section-6.6
//# PUSH_PROMISE frames MUST only be sent on a peer-initiated stream that
//# is in either the "open" or "half-closed (remote)" state.
//= https://www.rfc-editor.org/rfc/rfc9113#section-6.6
//# The promised stream identifier MUST be a valid choice for the next
//# stream sent by the sender (see "new stream identifier" in
//# Section 5.1.1).
//= https://www.rfc-editor.org/rfc/rfc9113#section-8.4.1
//# Promised requests MUST be safe (see Section 9.2.1 of [HTTP]) and
//# cacheable (see Section 9.2.3 of [HTTP]).  Promised requests cannot
//# include any content or a trailer section.
//= https://www.rfc-editor.org/rfc/rfc9113#section-8.4.1
//# The server MUST include a value in the ":authority" pseudo-header
//# field for which the server is authoritative (see Section 10.1).
#[tokio::test]
async fn push_promises_are_well_formed() {
    let srv = push_server().await;
    let mut p = Peer::connect(srv.addr.port(), &[(INITIAL_WINDOW_SIZE, 1 << 24)]).await;
    p.send(&frame(WINDOW_UPDATE, 0, 0, &(1u32 << 24).to_be_bytes()))
        .await;
    p.send(&get(1, "/")).await;
    p.until("the page's end", |f| {
        f.stream == 1 && f.flags & END_STREAM != 0
    })
    .await;
    p.ping().await;
    let mut dec = Decoder::new();
    let mut last = 0;
    let mut ended = false;
    let mut promises = 0;
    for f in p.seen.clone() {
        if f.stream == 1 && f.flags & END_STREAM != 0 && matches!(f.ty, DATA | HEADERS) {
            ended = true;
        }
        if matches!(f.ty, HEADERS | PUSH_PROMISE) {
            let fields = dec.decode(field_block(&f));
            if f.ty != PUSH_PROMISE {
                continue;
            }
            promises += 1;
            assert_eq!(f.stream, 1, "promised on a stream the client did not open");
            assert!(!ended, "promised after the page's END_STREAM");
            let id = f.promised();
            assert!(
                id % 2 == 0 && id > last,
                "promised stream {id} after {last}"
            );
            last = id;
            assert!(
                matches!(field(&fields, ":method"), Some("GET" | "HEAD")),
                "{fields:?}"
            );
            assert_eq!(field(&fields, ":scheme"), Some("https"));
            assert_eq!(field(&fields, ":authority"), Some("localhost"));
            assert!(field(&fields, ":path").is_some_and(|p| p.starts_with('/')));
            assert!(field(&fields, "content-length").is_none());
        }
    }
    assert!(promises >= 5, "{promises} promises");
    drop(p);
    srv.shutdown().await;
}
