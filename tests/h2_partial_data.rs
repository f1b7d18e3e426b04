//! pushlab's HTTP/2 client hands on DATA content as TLS delivers it, not
//! once a whole frame has arrived (h2 alone decodes whole frames only).
//! The emulated browser's preload scanner depends on it: on a 2G link a
//! 16 KiB frame takes a second to cross, and Chromium reads its first
//! part long before its last.
//!
//! A hand-written HTTP/2 server sends one DATA frame in two parts and
//! holds the second back until the client has reported the first: a
//! client that waits for whole frames never gets there, and the test
//! fails instead of hanging.

use std::sync::Arc;
use std::time::Duration;

use pushlab::client::{ClientOptions, Conn, Proto};
use pushlab::tls::Identity;
use pushlab::wire::h2scan::{FrameScanner, Written};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

fn frame_header(len: usize, ty: u8, flags: u8, stream: u32) -> Vec<u8> {
    let mut v = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags];
    v.extend_from_slice(&stream.to_be_bytes());
    v
}

/// Serves one connection: SETTINGS, then for the client's stream 1 a 200
/// and a 10,000-byte body in one padded DATA frame (END_STREAM), written
/// as 3,000 content bytes, then the rest once `go` fires.
async fn serve_one(
    listener: tokio::net::TcpListener,
    body: Vec<u8>,
    go: oneshot::Receiver<()>,
) -> Result<(), String> {
    let id = Identity::self_signed().map_err(|e| e.to_string())?;
    let config = id.server_config(&[b"h2"]).map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = tokio::io::split(tls);
    wr.write_all(&frame_header(0, 0x4, 0, 0))
        .await
        .map_err(|e| e.to_string())?;
    wr.flush().await.map_err(|e| e.to_string())?;
    // Read the client's preface and frames until its request's HEADERS.
    let mut seen = Vec::new();
    let mut scanner = FrameScanner::new();
    let mut preface = 24usize;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = rd.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the client closed before its request".into());
        }
        let skip = preface.min(n);
        preface -= skip;
        let mut out = Vec::new();
        scanner.push(&buf[skip..n], &mut out);
        seen.extend(out);
        if seen.iter().any(|w: &Written| w.stream == 1) {
            break;
        }
    }
    // SETTINGS ACK, HEADERS (:status 200, static index 8), and the DATA
    // frame's header with its first part.
    let pad = 7u8;
    let mut first = frame_header(0, 0x4, 0x1, 0);
    first.extend(frame_header(1, 0x1, 0x4, 1));
    first.push(0x88);
    first.extend(frame_header(
        1 + body.len() + usize::from(pad),
        0x0,
        0x1 | 0x8,
        1,
    ));
    first.push(pad);
    first.extend_from_slice(&body[..3000]);
    wr.write_all(&first).await.map_err(|e| e.to_string())?;
    wr.flush().await.map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(10), go)
        .await
        .map_err(|_| {
            "the client did not hand on the first 3,000 bytes of a DATA frame within 10 s \
             (does it wait for whole frames?)"
                .to_string()
        })?
        .map_err(|_| "the test ended early".to_string())?;
    let mut rest = body[3000..].to_vec();
    rest.extend(std::iter::repeat_n(0u8, usize::from(pad)));
    wr.write_all(&rest).await.map_err(|e| e.to_string())?;
    wr.flush().await.map_err(|e| e.to_string())?;
    // Keep the connection open until the client has read it all.
    let _ = rd.read(&mut buf).await;
    Ok(())
}

#[tokio::test]
async fn partial_data_frames_are_handed_on() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let (go_tx, go_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, body.clone(), go_rx));

    let (ctx, mut crx) = mpsc::unbounded_channel();
    let opts = ClientOptions {
        insecure: true,
        keep_bodies: true,
        body_chunks: Some(ctx),
        timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    };
    let conn = Arc::new(
        Conn::connect(Proto::H2, "127.0.0.1", port, opts)
            .await
            .expect("connects"),
    );
    let pending = conn.send_request("GET", "/", &[]).await.expect("sends");
    let sid = pending.stream_id();
    let reader = {
        let conn = conn.clone();
        tokio::spawn(async move { conn.read_response(pending).await })
    };

    // The first 3,000 content bytes come while the frame is incomplete.
    let mut got = Vec::new();
    while got.len() < 3000 {
        let (s, chunk) = tokio::time::timeout(Duration::from_secs(10), crx.recv())
            .await
            .expect("the first part of the DATA frame is handed on before its end")
            .expect("the client is open");
        assert_eq!(s, sid, "chunks of the request's stream");
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got.len(), 3000, "no padding, nothing beyond what was sent");
    assert!(!reader.is_finished(), "the response is not complete yet");
    go_tx.send(()).expect("the server waits");

    let r = reader.await.expect("the reader ends");
    assert_eq!(r.error, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_deref(), Some(&body[..]));
    while let Ok((_, chunk)) = crx.try_recv() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, body, "the chunks add up to the body, padding removed");
    // The first byte is when the first part arrived, before the last.
    let (first, done) = (r.first_byte_ms.unwrap(), r.done_ms.unwrap());
    assert!(first < done, "first byte {first} ms, done {done} ms");
    server.await.unwrap().expect("the server side");
}
