//! Bad input over HTTP/3: hostile paths, methods other than GET/HEAD,
//! oversized header sections, clients that stop reading, resets and abrupt
//! closes, and control-stream frames that break the rules. Each gets a clear
//! status or protocol error; none panics, leaks or stalls other connections.

mod common;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::*;
use pushlab::config::ServeOptions;
use pushlab::wire::frame::{self, code, Frame};
use pushlab::wire::qpack;

/// Traversal attempts never reach outside the site: refused with 400 (or,
/// where the URI itself is invalid, a stream error), never a 200.
#[tokio::test]
async fn hostile_paths_stay_inside_the_site() {
    let srv = server(ServeOptions::default()).await;
    let c = client(srv.addr, opts()).await;
    let cases = [
        ("/../../etc/passwd", 400),
        ("/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/css/..%2f..%2fetc%2fpasswd", 400),
        ("/..%5c..%5cetc%5cpasswd", 400),
        ("/etc/passwd%00.html", 400),
        ("/%zz", 400),
        ("/etc/passwd", 404),
        ("//etc/passwd", 404),
        ("/./index.html", 400),
    ];
    for (path, want) in cases {
        let r = c
            .read_response(c.send_request("GET", path, &[]).await.unwrap())
            .await;
        assert_eq!(r.status, want, "{path}: {:?}", r.error);
    }
    // Targets h3 itself refuses as malformed: a stream error, and the
    // connection stays usable.
    for path in ["/a b", "/\\..\\..\\etc\\passwd", "*", "etc/passwd"] {
        let r = c
            .read_response(c.send_request("GET", path, &[]).await.unwrap())
            .await;
        assert!(
            r.status == 400 || r.status == 404 || r.error.is_some(),
            "{path}: {} {:?}",
            r.status,
            r.error
        );
        assert_ne!(r.status, 200, "{path}");
    }
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    c.close().await;
    srv.shutdown().await;
}

/// Methods other than GET and HEAD get 405 with an Allow header.
#[tokio::test]
async fn other_methods_get_405() {
    let srv = server(ServeOptions::default()).await;
    let c = client(srv.addr, opts()).await;
    for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"] {
        let r = c
            .read_response(c.send_request(m, "/", &[]).await.unwrap())
            .await;
        assert_eq!(r.status, 405, "{m}: {:?}", r.error);
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| n == "allow" && v == "GET, HEAD"));
    }
    c.close().await;
    srv.shutdown().await;
}

/// A header section over the configured limit is refused (431) without
/// harming the connection.
#[tokio::test]
async fn oversized_header_sections_are_refused() {
    let srv = server(ServeOptions {
        max_field_section_size: 4096,
        ..ServeOptions::default()
    })
    .await;
    let c = client(srv.addr, opts()).await;
    let big = "x".repeat(6000);
    let r = c
        .read_response(
            c.send_request("GET", "/", &[("x-big".into(), big)])
                .await
                .unwrap(),
        )
        .await;
    assert!(
        r.status == 431 || r.error.is_some(),
        "got {} {:?}",
        r.status,
        r.error
    );
    assert_ne!(r.status, 200);
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200, "connection still serves: {:?}", r.error);
    c.close().await;
    srv.shutdown().await;
}

/// A client that stops reading cannot grow server memory without bound:
/// each stalled response holds at most about one stream buffer in the
/// queue, and another connection is served normally meanwhile. When the
/// stalled client closes abruptly, everything is freed.
#[tokio::test]
async fn stalled_reader_is_bounded_and_freed() {
    let _serial = serial().await;
    let srv = server(ServeOptions::default()).await;
    let stalled = client(srv.addr, opts()).await;
    let mut pending = Vec::new();
    for _ in 0..8 {
        pending.push(
            stalled
                .send_request("GET", "/bytes/100000000", &[])
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = srv
        .stats
        .queues
        .queued_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    // 8 streams x (128 KiB buffer + one 16 KiB frame) at most.
    assert!(queued <= 8 * (128 + 17) * 1024, "queued {queued} bytes");
    assert!(queued > 0, "the responses are really queued");
    let other = client(srv.addr, opts()).await;
    let t = Instant::now();
    let r = other
        .read_response(
            other
                .send_request("GET", "/files/1M.bin", &[])
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(r.body_len, 1_000_000);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "other connection not stalled"
    );
    other.close().await;
    // Abrupt close: no CONNECTION_CLOSE, just gone.
    drop(pending);
    stalled.conn.close(quinn::VarInt::from_u32(0), b"");
    drop(stalled);
    let freed = eventually(Duration::from_secs(5), || {
        srv.stats
            .queues
            .queued_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
            && srv
                .stats
                .queues
                .streams
                .load(std::sync::atomic::Ordering::Relaxed)
                == 0
    })
    .await;
    assert!(freed, "queues freed after the close");
    srv.shutdown().await;
}

/// STOP_SENDING on a response frees its queued bytes at once; the
/// connection keeps serving.
#[tokio::test]
async fn reset_responses_are_freed() {
    let srv = server(ServeOptions::default()).await;
    let c = client(srv.addr, opts()).await;
    let p = c.send_request("GET", "/bytes/50000000", &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.cancel();
    let freed = eventually(Duration::from_secs(5), || {
        srv.stats
            .queues
            .streams
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
    })
    .await;
    assert!(freed, "stream released after STOP_SENDING");
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    c.close().await;
    srv.shutdown().await;
}

async fn expect_close(
    h3: ServeOptions,
    send: impl AsyncFnOnce(&pushlab::client::h3::Client),
    want: u64,
    what: &str,
) {
    let srv = server(h3).await;
    let c = client(srv.addr, opts()).await;
    send(&c).await;
    let closed = eventually(Duration::from_secs(3), || c.close_code().is_some()).await;
    assert!(closed, "{what}: connection not closed");
    assert_eq!(
        c.close_code(),
        Some(want),
        "{what}: closed with {}",
        code::name(c.close_code().unwrap_or(0))
    );
    srv.shutdown().await;
}

/// PRIORITY_UPDATE on a request stream: H3_FRAME_UNEXPECTED (RFC 9218 7.2).
#[tokio::test]
async fn priority_update_on_request_stream() {
    expect_close(
        ServeOptions::default(),
        async |c| {
            let mut wire = BytesMut::new();
            let block = qpack::encode([
                (b":method".as_slice(), b"GET".as_slice()),
                (b":scheme", b"https"),
                (b":authority", b"localhost"),
                (b":path", b"/"),
            ]);
            wire.extend_from_slice(&frame::encode(&Frame::Headers(block)));
            wire.extend_from_slice(&frame::encode(&Frame::PriorityUpdate {
                push: false,
                id: 0,
                value: bytes::Bytes::from_static(b"u=1"),
            }));
            let _p = c.send_raw(&wire, true).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        },
        code::H3_FRAME_UNEXPECTED,
        "PRIORITY_UPDATE on a request stream",
    )
    .await;
}

/// PRIORITY_UPDATE naming something that is not a request stream, or far
/// beyond the stream limit: H3_ID_ERROR.
#[tokio::test]
async fn priority_update_with_bad_ids() {
    expect_close(
        ServeOptions::default(),
        async |c| c.priority_update(2, "u=1").await.unwrap(),
        code::H3_ID_ERROR,
        "server-initiated stream ID",
    )
    .await;
    expect_close(
        ServeOptions::default(),
        async |c| c.priority_update(4 * 1_000_000, "u=1").await.unwrap(),
        code::H3_ID_ERROR,
        "beyond the stream limit",
    )
    .await;
    expect_close(
        ServeOptions::default(),
        async |c| {
            c.send_control_frame(&Frame::PriorityUpdate {
                push: true,
                id: 0,
                value: bytes::Bytes::from_static(b"u=1"),
            })
            .await
            .unwrap()
        },
        code::H3_ID_ERROR,
        "push never promised",
    )
    .await;
}

/// Malformed control frames: H3_FRAME_ERROR; a reserved HTTP/2 frame type:
/// H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn malformed_control_frames() {
    expect_close(
        ServeOptions::default(),
        async |c| {
            c.send_control_frame(&Frame::Unknown {
                ty: frame::ty::MAX_PUSH_ID,
                payload: bytes::Bytes::from_static(&[0x01, 0x02]),
            })
            .await
            .unwrap()
        },
        code::H3_FRAME_ERROR,
        "MAX_PUSH_ID with trailing bytes",
    )
    .await;
    expect_close(
        ServeOptions::default(),
        async |c| {
            c.send_control_frame(&Frame::Unknown {
                ty: 0x06,
                payload: bytes::Bytes::new(),
            })
            .await
            .unwrap()
        },
        code::H3_FRAME_UNEXPECTED,
        "reserved HTTP/2 frame type",
    )
    .await;
}

/// A client cannot push: PUSH_PROMISE on a request stream is
/// H3_FRAME_UNEXPECTED.
#[tokio::test]
async fn push_promise_from_client() {
    expect_close(
        ServeOptions::default(),
        async |c| {
            let block =
                qpack::encode([(b":method".as_slice(), b"GET".as_slice()), (b":path", b"/")]);
            let wire = frame::encode(&Frame::PushPromise { push_id: 0, block });
            let _p = c.send_raw(&wire, true).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        },
        code::H3_FRAME_UNEXPECTED,
        "PUSH_PROMISE from a client",
    )
    .await;
}

/// Garbage on a request stream (not a frame sequence starting with
/// HEADERS) closes that connection with an HTTP/3 error, and the server
/// keeps serving other clients.
#[tokio::test]
async fn garbage_request_streams() {
    let srv = server(ServeOptions::default()).await;
    for junk in [
        &b"\x00\x05hello"[..],
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x01\x40",
    ] {
        let c = client(srv.addr, opts()).await;
        let p = c.send_raw(junk, true).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(3), c.read_response(p)).await;
        if let Ok(r) = r {
            assert_ne!(r.status, 200, "{junk:?}");
        }
        let closed = eventually(Duration::from_secs(3), || c.close_code().is_some()).await;
        let code = c.close_code().unwrap_or(0);
        assert!(
            !closed || (0x100..0x300).contains(&code),
            "{junk:?}: closed with {code:#x}"
        );
    }
    let other = client(srv.addr, opts()).await;
    let r = other
        .read_response(other.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    other.close().await;
    srv.shutdown().await;
}
