//! RFC 9114 sections 4.1, 6 and 7 and RFC 9204 section 4, rule by rule, as
//! the server receives them: each test quotes the rule, has a raw QUIC peer
//! (quinn, ALPN h3, no HTTP/3 library on the client side) break it, and
//! checks the server's answer: the connection error with the RFC's code,
//! the stream error, or (for what the RFC says to ignore) a connection that
//! goes on serving. Frames after the HEADERS of a GET, whose body the
//! server never needs, are checked too.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::*;
use pushlab::config::ServeOptions;
use pushlab::wire::frame::{self, code, setting, stream_type, ty, Frame};
use pushlab::wire::{qpack, varint};

/// RFC 9204 section 6: QPACK_ENCODER_STREAM_ERROR.
const QPACK_ENCODER_STREAM_ERROR: u64 = 0x201;
/// RFC 9204 section 6: QPACK_DECODER_STREAM_ERROR.
const QPACK_DECODER_STREAM_ERROR: u64 = 0x202;

/// A client made of raw QUIC streams.
struct Peer {
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    control: Option<quinn::SendStream>,
    /// Streams kept open (quinn ends a stream it drops).
    kept: Vec<quinn::SendStream>,
}

fn bytes_of(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn varint(v: u64) -> Vec<u8> {
    let mut b = BytesMut::new();
    varint::put(v, &mut b);
    b.to_vec()
}

fn raw_frame(t: u64, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    frame::encode_raw(t, payload, &mut b);
    b.to_vec()
}

fn enc(f: &Frame) -> Vec<u8> {
    frame::encode(f).to_vec()
}

/// A well-formed SETTINGS frame.
fn settings() -> Vec<u8> {
    enc(&Frame::Settings(vec![
        (setting::QPACK_MAX_TABLE_CAPACITY, 0),
        (setting::QPACK_BLOCKED_STREAMS, 0),
    ]))
}

/// A client control stream: its type and a SETTINGS frame.
fn control() -> Vec<u8> {
    bytes_of(&[&varint(stream_type::CONTROL), &settings()])
}

fn get_block(path: &str) -> Bytes {
    qpack::encode([
        (b":method".as_slice(), b"GET".as_slice()),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", path.as_bytes()),
    ])
}

/// HEADERS of a GET for `path`.
fn get(path: &str) -> Vec<u8> {
    enc(&Frame::Headers(get_block(path)))
}

/// A reserved ("grease") identifier, 0x1f * N + 0x21.
const GREASE: u64 = 0x1f * 7 + 0x21;

impl Peer {
    /// Connects; with `control`, opens the control stream with those bytes
    /// (left open, as the RFC requires).
    async fn connect(addr: SocketAddr, control: Option<Vec<u8>>) -> Peer {
        let cfg = pushlab::client::h3::session(&opts())
            .expect("client config")
            .0;
        let mut endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("address")).expect("endpoint");
        endpoint.set_default_client_config(cfg);
        let conn = endpoint
            .connect(addr, "localhost")
            .expect("connect")
            .await
            .expect("handshake");
        let mut p = Peer {
            conn,
            _endpoint: endpoint,
            control: None,
            kept: Vec::new(),
        };
        if let Some(bytes) = control {
            let mut s = p.conn.open_uni().await.expect("uni");
            s.write_all(&bytes).await.expect("write");
            p.control = Some(s);
        }
        p
    }

    /// Opens a unidirectional stream with `bytes`, ended when `fin`.
    async fn uni(&self, bytes: &[u8], fin: bool) -> quinn::SendStream {
        let mut s = self.conn.open_uni().await.expect("uni");
        s.write_all(bytes).await.expect("write");
        if fin {
            s.finish().expect("finish");
        }
        s
    }

    /// Opens a unidirectional stream with `bytes` and keeps it open.
    async fn uni_open(&mut self, bytes: &[u8]) {
        let s = self.uni(bytes, false).await;
        self.kept.push(s);
    }

    /// Writes more on the control stream.
    async fn on_control(&mut self, bytes: &[u8]) {
        let s = self.control.as_mut().expect("a control stream");
        s.write_all(bytes).await.expect("write");
    }

    /// Opens a request stream with `bytes`, ended when `fin`.
    async fn bi(&self, bytes: &[u8], fin: bool) -> (quinn::SendStream, quinn::RecvStream) {
        let (mut s, r) = self.conn.open_bi().await.expect("bi");
        s.write_all(bytes).await.expect("write");
        if fin {
            s.finish().expect("finish");
        }
        (s, r)
    }

    /// The application error code the server closed the connection with
    /// within 3 s, if it did.
    async fn closed_with(&self) -> Option<u64> {
        match tokio::time::timeout(Duration::from_secs(3), self.conn.closed()).await {
            Ok(quinn::ConnectionError::ApplicationClosed(c)) => Some(c.error_code.into_inner()),
            Ok(other) => panic!("connection ended without an application close: {other}"),
            Err(_) => None,
        }
    }

    /// A new GET for / on this connection gets a 200.
    async fn still_serves(&self) -> bool {
        let (_s, r) = self.bi(&get("/"), true).await;
        let a = response(r).await;
        if a != Answer::Status(200) {
            eprintln!(
                "a GET for / got {a:?}; connection: {:?}",
                self.conn.close_reason()
            );
        }
        a == Answer::Status(200)
    }
}

/// What came back on a request stream.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A response with this status.
    Status(u16),
    /// The stream was reset with this code.
    Reset(u64),
    /// The connection closed under it.
    Lost,
    /// Nothing within 3 s.
    Silence,
}

async fn response(mut r: quinn::RecvStream) -> Answer {
    let body = match tokio::time::timeout(Duration::from_secs(3), r.read_to_end(64 << 20)).await {
        Err(_) => return Answer::Silence,
        Ok(Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(c)))) => {
            return Answer::Reset(c.into_inner())
        }
        Ok(Err(_)) => return Answer::Lost,
        Ok(Ok(b)) => b,
    };
    let mut dec = frame::FrameDecoder::new(1 << 20);
    let mut events = Vec::new();
    dec.push(Bytes::from(body), &mut events)
        .expect("response frames");
    for ev in events {
        if let frame::Event::Frame(Frame::Headers(block)) = ev {
            let fields = qpack::decode(&block, 1 << 20).expect("QPACK");
            let status = fields
                .iter()
                .find(|f| f.0.as_ref() == b":status")
                .and_then(|f| std::str::from_utf8(&f.1).ok()?.parse().ok())
                .expect(":status");
            if status >= 200 {
                return Answer::Status(status);
            }
        }
    }
    panic!("a response without a final HEADERS");
}

async fn start() -> pushlab::server::RunningServer {
    server(ServeOptions::default()).await
}

/// Connects with a proper control stream, lets `act` break a rule, and
/// checks the server closes the connection with `want`.
async fn expect_close<F>(what: &str, want: u64, control: Option<Vec<u8>>, act: F)
where
    F: AsyncFnOnce(&mut Peer),
{
    let srv = start().await;
    let mut p = Peer::connect(srv.addr, control).await;
    act(&mut p).await;
    let got = p.closed_with().await;
    assert_eq!(
        got,
        Some(want),
        "{what}: want {}, got {}",
        code::name(want),
        got.map(code::name).unwrap_or("no close")
    );
    srv.shutdown().await;
}

/// Lets `act` do something the RFC says to ignore, then checks the
/// connection is open and serves a request.
async fn expect_ignored<F>(what: &str, act: F)
where
    F: AsyncFnOnce(&mut Peer),
{
    let srv = start().await;
    let mut p = Peer::connect(srv.addr, Some(control())).await;
    act(&mut p).await;
    assert!(
        p.still_serves().await,
        "{what}: the connection stopped serving"
    );
    assert!(p.conn.close_reason().is_none(), "{what}: closed");
    srv.shutdown().await;
}

// ---- RFC 9114 section 6.2: unidirectional streams ----------------------

//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.1
//# Only one control stream per peer is permitted; receipt of a second
//# stream claiming to be a control stream MUST be treated as a connection
//# error of type H3_STREAM_CREATION_ERROR.
#[tokio::test]
async fn second_control_stream() {
    expect_close(
        "a second control stream",
        code::H3_STREAM_CREATION_ERROR,
        Some(control()),
        async |p| {
            p.uni_open(&control()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.1
//# The sender MUST NOT close the control stream, and the receiver MUST NOT
//# request that the sender close the control stream.  If either control
//# stream is closed at any point, this MUST be treated as a connection
//# error of type H3_CLOSED_CRITICAL_STREAM.
#[tokio::test]
async fn control_stream_closed() {
    expect_close(
        "the control stream ended",
        code::H3_CLOSED_CRITICAL_STREAM,
        None,
        async |p| {
            let _s = p.uni(&control(), true).await;
        },
    )
    .await;
    expect_close(
        "the control stream reset",
        code::H3_CLOSED_CRITICAL_STREAM,
        None,
        async |p| {
            let mut s = p.uni(&control(), false).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            s.reset(quinn::VarInt::from_u32(0x100)).expect("reset");
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.2
//# Only servers can push; if a server receives a client-initiated push
//# stream, this MUST be treated as a connection error of type
//# H3_STREAM_CREATION_ERROR.
#[tokio::test]
async fn push_stream_from_client() {
    expect_close(
        "a client-initiated push stream",
        code::H3_STREAM_CREATION_ERROR,
        Some(control()),
        async |p| {
            p.uni_open(&bytes_of(&[&varint(stream_type::PUSH), &varint(0)]))
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2
//# Recipients of unknown stream types MUST either abort reading of the
//# stream or discard incoming data without further processing.
//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.3
//# Stream types of the format 0x1f * N + 0x21 for non-negative integer
//# values of N are reserved to exercise the requirement that unknown types
//# be ignored.
#[tokio::test]
async fn unknown_and_reserved_stream_types_are_ignored() {
    expect_ignored("unknown and reserved stream types", async |p| {
        for t in [GREASE, 0x54, 0x3fff] {
            let junk = bytes_of(&[&varint(t), b"whatever follows, even \x00\x04 frames"]);
            let _s = p.uni(&junk, true).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
}

// ---- RFC 9114 section 7: frames on the control stream --------------------

//= https://www.rfc-editor.org/rfc/rfc9114#section-6.2.1
//# If the first frame of the control stream is any other frame type, this
//# MUST be treated as a connection error of type H3_MISSING_SETTINGS.
#[tokio::test]
async fn control_stream_must_start_with_settings() {
    expect_close(
        "MAX_PUSH_ID before SETTINGS",
        code::H3_MISSING_SETTINGS,
        Some(bytes_of(&[
            &varint(stream_type::CONTROL),
            &enc(&Frame::MaxPushId(3)),
        ])),
        async |_| {},
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4
//# If an endpoint receives a second SETTINGS frame on the control stream,
//# the endpoint MUST respond with a connection error of type
//# H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn second_settings() {
    expect_close(
        "a second SETTINGS",
        code::H3_FRAME_UNEXPECTED,
        Some(control()),
        async |p| p.on_control(&settings()).await,
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.1
//# If a DATA frame is received on a control stream, the recipient MUST
//# respond with a connection error of type H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.2
//# If a HEADERS frame is received on a control stream, the recipient MUST
//# respond with a connection error of type H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
//# A client MUST NOT send a PUSH_PROMISE frame.  A server MUST treat the
//# receipt of a PUSH_PROMISE frame as a connection error of type
//# H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn request_frames_on_the_control_stream() {
    for (what, f) in [
        ("DATA", raw_frame(ty::DATA, b"abc")),
        ("HEADERS", get("/")),
        (
            "PUSH_PROMISE",
            enc(&Frame::PushPromise {
                push_id: 0,
                block: get_block("/"),
            }),
        ),
    ] {
        expect_close(
            &format!("{what} on the control stream"),
            code::H3_FRAME_UNEXPECTED,
            Some(control()),
            async |p| p.on_control(&f).await,
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.8
//# Frame types that were used in HTTP/2 where there is no corresponding
//# HTTP/3 frame have also been reserved (Section 11.2.1).  These frame
//# types MUST NOT be sent, and their receipt MUST be treated as a
//# connection error of type H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn reserved_http2_frame_types_on_the_control_stream() {
    for t in [0x02, 0x06, 0x08, 0x09] {
        expect_close(
            &format!("HTTP/2 frame type {t:#x} on the control stream"),
            code::H3_FRAME_UNEXPECTED,
            Some(control()),
            async |p| p.on_control(&raw_frame(t, &[0; 4])).await,
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4.1
//# Setting identifiers that were defined in [HTTP/2] where there is no
//# corresponding HTTP/3 setting have also been reserved (Section 11.2.2).
//# These reserved settings MUST NOT be sent, and their receipt MUST be
//# treated as a connection error of type H3_SETTINGS_ERROR.
#[tokio::test]
async fn reserved_http2_settings() {
    for id in [0x02, 0x03, 0x04, 0x05] {
        expect_close(
            &format!("HTTP/2 setting {id:#x}"),
            code::H3_SETTINGS_ERROR,
            Some(bytes_of(&[
                &varint(stream_type::CONTROL),
                &enc(&Frame::Settings(vec![(id, 1)])),
            ])),
            async |_| {},
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4
//# The same setting identifier MUST NOT occur more than once in the
//# SETTINGS frame.  A receiver MAY treat the presence of duplicate setting
//# identifiers as a connection error of type H3_SETTINGS_ERROR.
#[tokio::test]
async fn duplicate_settings() {
    expect_close(
        "a setting twice",
        code::H3_SETTINGS_ERROR,
        Some(bytes_of(&[
            &varint(stream_type::CONTROL),
            &enc(&Frame::Settings(vec![
                (setting::MAX_FIELD_SECTION_SIZE, 1000),
                (setting::MAX_FIELD_SECTION_SIZE, 2000),
            ])),
        ])),
        async |_| {},
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4.1
//# Setting identifiers of the format 0x1f * N + 0x21 for non-negative
//# integer values of N are reserved to exercise the requirement that
//# unknown identifiers be ignored.
//= https://www.rfc-editor.org/rfc/rfc9114#section-9
//# Implementations MUST ignore unknown or unsupported values in all
//# extensible protocol elements.
#[tokio::test]
async fn unknown_settings_and_frames_on_the_control_stream_are_ignored() {
    let srv = start().await;
    let mut p = Peer::connect(
        srv.addr,
        Some(bytes_of(&[
            &varint(stream_type::CONTROL),
            &enc(&Frame::Settings(vec![(GREASE, 7), (0x4242, 1)])),
        ])),
    )
    .await;
    p.on_control(&raw_frame(GREASE, b"grease")).await;
    p.on_control(&raw_frame(0x4243, &[])).await;
    assert!(p.still_serves().await);
    assert!(p.conn.close_reason().is_none());
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.1
//# A frame payload that contains additional bytes after the identified
//# fields or a frame payload that terminates before the end of the
//# identified fields MUST be treated as a connection error of type
//# H3_FRAME_ERROR.
#[tokio::test]
async fn control_frames_with_extra_or_missing_bytes() {
    let id_with_extra = bytes_of(&[&varint(5), &[0x00]]);
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "CANCEL_PUSH with extra bytes",
            raw_frame(ty::CANCEL_PUSH, &id_with_extra),
        ),
        (
            "GOAWAY with extra bytes",
            raw_frame(ty::GOAWAY, &id_with_extra),
        ),
        (
            "MAX_PUSH_ID with extra bytes",
            raw_frame(ty::MAX_PUSH_ID, &id_with_extra),
        ),
        (
            "CANCEL_PUSH without its ID",
            raw_frame(ty::CANCEL_PUSH, &[]),
        ),
        // A varint that announces 8 bytes and has 1.
        ("MAX_PUSH_ID cut short", raw_frame(ty::MAX_PUSH_ID, &[0xc0])),
    ];
    for (what, f) in cases {
        expect_close(what, code::H3_FRAME_ERROR, Some(control()), async |p| {
            p.on_control(&f).await
        })
        .await;
    }
    expect_close(
        "SETTINGS with a lone identifier",
        code::H3_FRAME_ERROR,
        Some(bytes_of(&[
            &varint(stream_type::CONTROL),
            &raw_frame(ty::SETTINGS, &varint(setting::MAX_FIELD_SECTION_SIZE)),
        ])),
        async |_| {},
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
//# A MAX_PUSH_ID frame cannot reduce the maximum push ID; receipt of a
//# MAX_PUSH_ID frame that contains a smaller value than previously
//# received MUST be treated as a connection error of type H3_ID_ERROR.
#[tokio::test]
async fn max_push_id_cannot_shrink() {
    expect_close(
        "MAX_PUSH_ID 10 then 5",
        code::H3_ID_ERROR,
        Some(control()),
        async |p| {
            p.on_control(&enc(&Frame::MaxPushId(10))).await;
            p.on_control(&enc(&Frame::MaxPushId(5))).await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-5.2
//# An endpoint MAY send multiple GOAWAY frames indicating different
//# identifiers, but the identifier in each frame MUST NOT be greater than
//# the identifier in any previous frame, since clients might already have
//# retried unprocessed requests on another HTTP connection.  Receiving a
//# GOAWAY containing a larger identifier than previously received MUST be
//# treated as a connection error of type H3_ID_ERROR.
#[tokio::test]
async fn goaway_cannot_grow() {
    expect_close(
        "GOAWAY 4 then 8",
        code::H3_ID_ERROR,
        Some(control()),
        async |p| {
            p.on_control(&enc(&Frame::Goaway(4))).await;
            p.on_control(&enc(&Frame::Goaway(8))).await;
        },
    )
    .await;
}

// ---- RFC 9114 sections 4.1 and 7: frames on request streams -------------

//= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
//# Receipt of an invalid sequence of frames MUST be treated as a
//# connection error of type H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn data_before_headers() {
    expect_close(
        "DATA first on a request stream",
        code::H3_FRAME_UNEXPECTED,
        Some(control()),
        async |p| {
            let _s = p
                .bi(&bytes_of(&[&raw_frame(ty::DATA, b"x"), &get("/")]), true)
                .await;
        },
    )
    .await;
}

/// The control-stream-only frames, each after the HEADERS of a GET.
fn control_only_frames() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("SETTINGS", settings()),
        ("CANCEL_PUSH", enc(&Frame::CancelPush(0))),
        ("GOAWAY", enc(&Frame::Goaway(0))),
        ("MAX_PUSH_ID", enc(&Frame::MaxPushId(0))),
        ("HTTP/2 PRIORITY (0x02)", raw_frame(0x02, &[0; 5])),
        ("HTTP/2 PING (0x06)", raw_frame(0x06, &[0; 8])),
        ("HTTP/2 WINDOW_UPDATE (0x08)", raw_frame(0x08, &[0; 4])),
        ("HTTP/2 CONTINUATION (0x09)", raw_frame(0x09, &[])),
    ]
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
//# If a CANCEL_PUSH frame is received on a stream other than the control
//# stream, this MUST be treated as a connection error of type
//# H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.4
//# If an endpoint receives a SETTINGS frame on a different stream, the
//# endpoint MUST respond with a connection error of type
//# H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.6
//# A client MUST treat a GOAWAY frame on a stream other than the control
//# stream as a connection error of type H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
//# Receipt of a MAX_PUSH_ID frame on any other stream MUST be treated as a
//# connection error of type H3_FRAME_UNEXPECTED.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.8
//# These frame types MUST NOT be sent, and their receipt MUST be treated
//# as a connection error of type H3_FRAME_UNEXPECTED.
///
/// Sent with the GET, before the stream's end: the server needs no body
/// for a GET, yet still reads what follows its HEADERS.
#[tokio::test]
async fn control_frames_after_get_headers() {
    for (what, f) in control_only_frames() {
        expect_close(
            &format!("{what} after the HEADERS of a GET"),
            code::H3_FRAME_UNEXPECTED,
            Some(control()),
            async |p| {
                let _s = p.bi(&bytes_of(&[&get("/"), &f]), true).await;
            },
        )
        .await;
    }
}

/// The same, with the frame sent after the response has started and the
/// stream ended later: still a connection error, not left unread.
#[tokio::test]
async fn control_frames_after_get_headers_later() {
    for (what, f) in control_only_frames() {
        expect_close(
            &format!("{what} 50 ms after the HEADERS of a GET"),
            code::H3_FRAME_UNEXPECTED,
            Some(control()),
            async |p| {
                let (mut s, _r) = p.bi(&get("/"), false).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                s.write_all(&f).await.expect("write");
                s.finish().expect("finish");
            },
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
//# Receipt of an invalid sequence of frames MUST be treated as a
//# connection error of type H3_FRAME_UNEXPECTED.  In particular, a DATA
//# frame before any HEADERS frame, or a HEADERS or DATA frame after the
//# trailing HEADERS frame, is considered invalid.
#[tokio::test]
async fn frames_after_trailers() {
    let trailers = enc(&Frame::Headers(qpack::encode([(
        b"x-checksum".as_slice(),
        b"1".as_slice(),
    )])));
    for (what, after) in [
        ("DATA after trailers", raw_frame(ty::DATA, b"late")),
        ("HEADERS after trailers", trailers.clone()),
    ] {
        expect_close(
            what,
            code::H3_FRAME_UNEXPECTED,
            Some(control()),
            async |p| {
                let _s = p
                    .bi(
                        &bytes_of(&[&get("/"), &raw_frame(ty::DATA, b"body"), &trailers, &after]),
                        true,
                    )
                    .await;
            },
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-9
//# Implementations MUST ignore unknown or unsupported values in all
//# extensible protocol elements.
//= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.8
//# Frame types of the format 0x1f * N + 0x21 for non-negative integer
//# values of N are reserved to exercise the requirement that unknown types
//# be ignored.
#[tokio::test]
async fn unknown_frames_on_a_request_stream_are_ignored() {
    let srv = start().await;
    let p = Peer::connect(srv.addr, Some(control())).await;
    let wire = bytes_of(&[
        &raw_frame(GREASE, b"before"),
        &get("/"),
        &raw_frame(0x4244, b"after"),
        &raw_frame(GREASE, &[]),
    ]);
    let (_s, r) = p.bi(&wire, true).await;
    assert_eq!(response(r).await, Answer::Status(200));
    assert!(p.still_serves().await);
    srv.shutdown().await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-7.1
//# When a stream terminates cleanly, if the last frame on the stream was
//# truncated, this MUST be treated as a connection error of type
//# H3_FRAME_ERROR.
#[tokio::test]
async fn truncated_last_frame() {
    let full = raw_frame(GREASE, b"twelve bytes");
    expect_close(
        "an unknown frame cut short after a GET",
        code::H3_FRAME_ERROR,
        Some(control()),
        async |p| {
            let _s = p
                .bi(&bytes_of(&[&get("/"), &full[..full.len() - 3]]), true)
                .await;
        },
    )
    .await;
    let headers = get("/");
    expect_close(
        "HEADERS cut short",
        code::H3_FRAME_ERROR,
        Some(control()),
        async |p| {
            let _s = p.bi(&headers[..headers.len() - 2], true).await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-4.1.2
//# A request or response that is malformed is treated as a stream error
//# of type H3_MESSAGE_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.2
//# A request or response containing uppercase characters in field names
//# MUST be treated as malformed.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.2
//# An endpoint MUST NOT generate an HTTP/3 field section containing
//# connection-specific fields; any message containing connection-specific
//# fields MUST be treated as malformed.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.1.2
//# A request or response that is defined as having content when it
//# contains a Content-Length header field is malformed if the value of the
//# Content-Length header field does not equal the sum of the DATA frame
//# lengths received.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.3
//# Pseudo-header fields MUST NOT appear in trailer sections.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.3
//# All pseudo-header fields MUST appear in the header section before
//# regular header fields.  Any request or response that contains a
//# pseudo-header field that appears in a header section after a regular
//# header field MUST be treated as malformed.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.3.1
//# All HTTP/3 requests MUST include exactly one value for the :method,
//# :scheme, and :path pseudo-header fields, unless the request is a
//# CONNECT request; see Section 4.4.
///
/// A malformed request gets a stream error (H3_MESSAGE_ERROR) or a 4xx
/// response ("A server MAY send an HTTP response indicating the error
/// prior to closing or resetting the stream"), never a 200; the connection
/// goes on.
#[tokio::test]
async fn malformed_requests_are_stream_errors() {
    let base: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"localhost"),
        (b":path", b"/"),
    ];
    let with = |extra: &[(&'static [u8], &'static [u8])]| -> Vec<u8> {
        enc(&Frame::Headers(qpack::encode(
            base.iter().copied().chain(extra.iter().copied()),
        )))
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "no :path",
            enc(&Frame::Headers(qpack::encode([
                (b":method".as_slice(), b"GET".as_slice()),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
            ]))),
        ),
        ("two :path", with(&[(b":path", b"/other")])),
        ("an uppercase field name", with(&[(b"X-Upper", b"1")])),
        ("connection: close", with(&[(b"connection", b"close")])),
        ("te: gzip", with(&[(b"te", b"gzip")])),
        ("an unknown pseudo-header", with(&[(b":protocol-x", b"1")])),
        (
            "a pseudo-header after a regular field",
            enc(&Frame::Headers(qpack::encode([
                (b":method".as_slice(), b"GET".as_slice()),
                (b":scheme", b"https"),
                (b"user-agent", b"t"),
                (b":authority", b"localhost"),
                (b":path", b"/"),
            ]))),
        ),
        (
            "content-length 10 with 3 bytes of DATA",
            bytes_of(&[
                &with(&[(b"content-length", b"10")]),
                &raw_frame(ty::DATA, b"abc"),
            ]),
        ),
        (
            "content-length 2 with 3 bytes of DATA",
            bytes_of(&[
                &with(&[(b"content-length", b"2")]),
                &raw_frame(ty::DATA, b"abc"),
            ]),
        ),
        (
            "a pseudo-header in trailers",
            bytes_of(&[
                &get("/"),
                &enc(&Frame::Headers(qpack::encode([(
                    b":path".as_slice(),
                    b"/x".as_slice(),
                )]))),
            ]),
        ),
    ];
    let srv = start().await;
    let p = Peer::connect(srv.addr, Some(control())).await;
    let mut failures = Vec::new();
    for (what, wire) in cases {
        let (_s, r) = p.bi(&wire, true).await;
        match response(r).await {
            Answer::Reset(c) if c == code::H3_MESSAGE_ERROR => {}
            Answer::Status(s) if (400..500).contains(&s) => {}
            other => failures.push(format!("{what}: {other:?}")),
        }
    }
    assert!(p.still_serves().await, "the connection stopped serving");
    srv.shutdown().await;
    assert!(failures.is_empty(), "{failures:#?}");
}

//= https://www.rfc-editor.org/rfc/rfc9114#section-4.1
//# If a client-initiated stream terminates without enough of the HTTP
//# message to provide a complete response, the server SHOULD abort its
//# response stream with the error code H3_REQUEST_INCOMPLETE.
#[tokio::test]
async fn request_stream_ended_before_headers() {
    let srv = start().await;
    let p = Peer::connect(srv.addr, Some(control())).await;
    let (_s, r) = p.bi(&[], true).await;
    assert_eq!(
        response(r).await,
        Answer::Reset(code::H3_REQUEST_INCOMPLETE)
    );
    assert!(p.still_serves().await);
    srv.shutdown().await;
}

// ---- RFC 9204 section 4 ---------------------------------------------------

/// A field section prefix with a non-zero Required Insert Count (1),
/// followed by an indexed field line for dynamic entry 0.
fn dynamic_reference_block() -> Vec<u8> {
    vec![0x02, 0x00, 0x80]
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.1.1
//# If the decoder encounters a value of Required Insert Count that can not
//# be produced by an encoder, it MUST treat this as a connection error of
//# type QPACK_DECOMPRESSION_FAILED.
//= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.2
//# If the decoder encounters a reference in a field line representation to
//# a dynamic table entry that has already been evicted or that has an
//# absolute index greater than or equal to the declared Required Insert
//# Count (Section 4.5.1.1), it MUST treat this as a connection error of
//# type QPACK_DECOMPRESSION_FAILED.
///
/// The server's dynamic table has capacity 0, so any reference to it is one
/// of these.
#[tokio::test]
async fn dynamic_table_references_fail_decompression() {
    expect_close(
        "a reference into an empty dynamic table",
        code::QPACK_DECOMPRESSION_FAILED,
        Some(control()),
        async |p| {
            let _s = p
                .bi(&raw_frame(ty::HEADERS, &dynamic_reference_block()), true)
                .await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.5.2
//# When the decoder encounters a reference in a field line representation
//# to a static table entry that does not exist, it MUST treat this as a
//# connection error of type QPACK_DECOMPRESSION_FAILED.
#[tokio::test]
async fn static_table_index_out_of_range() {
    // Prefix 0, 0; indexed field line, static (T=1), index 63 + 37 = 100.
    let block = [0x00, 0x00, 0xff, 0x25];
    expect_close(
        "static index 100",
        code::QPACK_DECOMPRESSION_FAILED,
        Some(control()),
        async |p| {
            let _s = p.bi(&raw_frame(ty::HEADERS, &block), true).await;
        },
    )
    .await;
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.2
//# Each endpoint MUST initiate, at most, one encoder stream and, at most,
//# one decoder stream.  Receipt of a second instance of either stream type
//# MUST be treated as a connection error of type H3_STREAM_CREATION_ERROR.
#[tokio::test]
async fn second_qpack_streams() {
    for t in [stream_type::QPACK_ENCODER, stream_type::QPACK_DECODER] {
        expect_close(
            &format!("a second stream of type {t:#x}"),
            code::H3_STREAM_CREATION_ERROR,
            Some(control()),
            async |p| {
                p.uni_open(&varint(t)).await;
                p.uni_open(&varint(t)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.2
//# The sender MUST NOT close either of these streams, and the receiver
//# MUST NOT request that the sender close either of these streams.
//# Closure of either unidirectional stream type MUST be treated as a
//# connection error of type H3_CLOSED_CRITICAL_STREAM.
#[tokio::test]
async fn closed_qpack_streams() {
    for t in [stream_type::QPACK_ENCODER, stream_type::QPACK_DECODER] {
        expect_close(
            &format!("stream of type {t:#x} ended"),
            code::H3_CLOSED_CRITICAL_STREAM,
            Some(control()),
            async |p| {
                let _a = p.uni(&varint(t), true).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.3.1
//# The decoder MUST treat a new dynamic table capacity value that exceeds
//# this limit as a connection error of type QPACK_ENCODER_STREAM_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9204#section-3.2.2
//# It is an error if the encoder attempts to add an entry that is larger
//# than the dynamic table capacity; the decoder MUST treat this as a
//# connection error of type QPACK_ENCODER_STREAM_ERROR.
///
/// The server allows no dynamic table (capacity 0): setting a capacity, or
/// inserting, is an encoder stream error.
#[tokio::test]
async fn encoder_stream_beyond_the_servers_table() {
    // Set Dynamic Table Capacity (001xxxxx) to 100: 0x3f, 100 - 31 = 69.
    let set_capacity = [0x3f, 0x45];
    // Insert with literal name (01 H=0 len 3) "foo", value len 3 "bar".
    let insert = [0x43, b'f', b'o', b'o', 0x03, b'b', b'a', b'r'];
    for (what, instr) in [
        ("capacity 100", &set_capacity[..]),
        ("an insert", &insert[..]),
    ] {
        expect_close(
            what,
            QPACK_ENCODER_STREAM_ERROR,
            Some(control()),
            async |p| {
                p.uni_open(&bytes_of(&[&varint(stream_type::QPACK_ENCODER), instr]))
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
        )
        .await;
    }
}

//= https://www.rfc-editor.org/rfc/rfc9204#section-4.4.1
//# If an encoder receives a Section Acknowledgment instruction referring
//# to a stream on which every encoded field section with a non-zero
//# Required Insert Count has already been acknowledged, this MUST be
//# treated as a connection error of type QPACK_DECODER_STREAM_ERROR.
//= https://www.rfc-editor.org/rfc/rfc9204#section-4.4.3
//# An encoder that receives an Increment field equal to zero, or one that
//# increases the Known Received Count beyond what the encoder has sent,
//# MUST treat this as a connection error of type
//# QPACK_DECODER_STREAM_ERROR.
#[tokio::test]
async fn decoder_stream_instructions_about_nothing() {
    for (what, instr) in [
        // Section Acknowledgment (1xxxxxxx) for stream 0.
        ("a Section Acknowledgment", &[0x80u8][..]),
        // Insert Count Increment (00xxxxxx) of 0.
        ("an Insert Count Increment of 0", &[0x00][..]),
        // Insert Count Increment of 1: the server never inserted.
        ("an Insert Count Increment of 1", &[0x01][..]),
    ] {
        expect_close(
            what,
            QPACK_DECODER_STREAM_ERROR,
            Some(control()),
            async |p| {
                p.uni_open(&bytes_of(&[&varint(stream_type::QPACK_DECODER), instr]))
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
        )
        .await;
    }
}

/// A Stream Cancellation (RFC 9204 section 4.4.2) on the decoder stream is
/// harmless: the server has no dynamic table references to release.
#[tokio::test]
async fn decoder_stream_cancellation_is_accepted() {
    expect_ignored("a Stream Cancellation", async |p| {
        // Stream Cancellation (01xxxxxx) for stream 0.
        p.uni_open(&bytes_of(&[&varint(stream_type::QPACK_DECODER), &[0x40]]))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
}
