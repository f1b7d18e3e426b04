//! Server push over HTTP/3 (RFC 9114 section 4.6) with pushlab's own
//! client: promises before the parent's response, push IDs in order and
//! within MAX_PUSH_ID, byte-exact pushed bodies, the Rules of Thumb order
//! (parent, its pushes, then later requests), the parent preempting its
//! pushes, PRIORITY_UPDATE on a push, CANCEL_PUSH and STOP_SENDING from
//! the client, and the protocol errors a client can provoke.

mod common;

use std::time::Duration;

use common::*;
use pushlab::client::h3::{ClientOptions, Response};
use pushlab::site::Site;
use pushlab::wire::frame::{code, Frame};

async fn get(c: &pushlab::client::h3::Client, path: &str) -> Response {
    c.read_response(c.send_request("GET", path, &[]).await.unwrap())
        .await
}

/// push-all: every subresource is promised on the document's stream before
/// its HEADERS, with push IDs 0, 1, 2, ... in evaluation order, and every
/// pushed body arrives byte-exact with its headers.
#[tokio::test]
async fn push_all_delivers_every_subresource() {
    let srv = server(with_policy("push-all")).await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    c.wait_pushes(Duration::from_secs(3)).await;
    let pushes = c.pushes();
    let order = Site::demo().graph().evaluation_order("/index.html");
    assert_eq!(pushes.len(), order.len());
    assert_eq!(r.promises, (0..order.len() as u64).collect::<Vec<_>>());
    for (p, path) in pushes.iter().zip(&order) {
        assert_eq!(&p.path, path, "push {} in evaluation order", p.push_id);
        assert!(p.complete, "{} complete: {:?}", p.path, p.error);
        assert_eq!(p.status, 200);
        assert_eq!(p.sha256, demo_sha(path), "{path} byte-exact");
        assert!(p.headers.iter().any(|(n, _)| n == "content-type"));
        assert_eq!(p.promised_on, Some(r.stream_id));
        // Promised before the parent's final HEADERS arrived.
        assert!(p.promised_ms.unwrap() <= r.sent_ms + r.headers_ms.unwrap() + 0.5);
    }
    c.close().await;
    srv.shutdown().await;
}

/// A client that never sent MAX_PUSH_ID gets the page with no pushes; one
/// that allows push IDs 0..=2 gets exactly three.
#[tokio::test]
async fn max_push_id_bounds_pushes() {
    let srv = server(with_policy("push-all")).await;
    let c = client(srv.addr, opts()).await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    assert!(r.promises.is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(c.pushes().is_empty());
    assert!(c.close_code().is_none());
    c.close().await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(2),
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.promises, vec![0, 1, 2]);
    c.wait_pushes(Duration::from_secs(2)).await;
    assert!(c.pushes().iter().all(|p| p.complete));
    c.close().await;
    srv.shutdown().await;
}

/// Rules of Thumb ordering: the parent's response, then its pushes, then a
/// later request (A -> C -> D -> B), seen with a client reading slowly.
#[tokio::test]
async fn pushes_go_after_parent_and_before_later_requests() {
    let _serial = serial().await;
    let srv = server(with_policy("push-all")).await;
    let c = shared_client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            receive_window: Some(64 * 1024),
            read_rate: Some(8_000_000),
            ..opts()
        },
    )
    .await;
    let a = c.send_request("GET", "/", &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = c.send_request("GET", "/bytes/200000", &[]).await.unwrap();
    let (c1, c2) = (c.clone(), c.clone());
    let ta = tokio::spawn(async move { c1.read_response(a).await });
    let tb = tokio::spawn(async move { c2.read_response(b).await });
    let (a, b) = (ta.await.unwrap(), tb.await.unwrap());
    c.wait_pushes(Duration::from_secs(3)).await;
    let pushes = c.pushes();
    let last_push = pushes.iter().filter_map(|p| p.done_ms).fold(0.0, f64::max);
    let a_done = a.sent_ms + a.done_ms.unwrap();
    let b_first = b.sent_ms + b.first_byte_ms.unwrap();
    assert!(
        a_done < last_push,
        "parent {a_done:.0} ms before its pushes ({last_push:.0} ms)"
    );
    // B's bytes start only when the pushes are (nearly) done: the 64 KB
    // window lets the tail of the pushes overlap B's first bytes.
    assert!(
        b_first > 0.7 * last_push,
        "later request first byte {b_first:.0} ms, pushes done {last_push:.0} ms"
    );
    srv.shutdown().await;
}

/// A document with think time: pushes stream during the think time, and
/// when the document is ready its bytes go ahead of the remaining pushed
/// bytes (the parent preempts its pushes): its first byte arrives within a
/// few milliseconds of the end of the think time, not after the pushes.
#[tokio::test]
async fn parent_preempts_its_pushes() {
    let _serial = serial().await;
    let srv = server(with_policy("push-all")).await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            receive_window: Some(256 * 1024),
            read_rate: Some(2_000_000),
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/slow.html").await;
    c.wait_pushes(Duration::from_secs(5)).await;
    let headers = r.headers_ms.unwrap();
    let last_push = c
        .pushes()
        .iter()
        .filter_map(|p| p.done_ms)
        .fold(0.0, f64::max)
        - r.sent_ms;
    assert!(headers >= 295.0, "think time respected: {headers:.0} ms");
    assert!(
        last_push > headers + 100.0,
        "pushes were still going: done at {last_push:.0} ms"
    );
    // 256 KB of pushes may sit in the client's window at 2 MB/s: 128 ms.
    assert!(
        headers < 300.0 + 160.0,
        "document first byte at {headers:.0} ms"
    );
    srv.shutdown().await;
}

/// PRIORITY_UPDATE for a push ID (0xF0701) moves that push ahead.
#[tokio::test]
async fn priority_update_on_a_push() {
    let _serial = serial().await;
    let srv = server(with_policy("push-all")).await;
    let c = shared_client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            receive_window: Some(64 * 1024),
            read_rate: Some(4_000_000),
            ..opts()
        },
    )
    .await;
    let a = c.send_request("GET", "/", &[]).await.unwrap();
    let c1 = c.clone();
    let ta = tokio::spawn(async move { c1.read_response(a).await });
    // The last push (thumb-4, push 10) is raised to u=0 as soon as it is promised.
    let ok = eventually(Duration::from_secs(2), || {
        c.pushes().iter().any(|p| p.push_id == 10)
    })
    .await;
    assert!(ok, "push 10 promised");
    c.send_control_frame(&Frame::PriorityUpdate {
        push: true,
        id: 10,
        value: bytes::Bytes::from_static(b"u=0"),
    })
    .await
    .unwrap();
    ta.await.unwrap();
    c.wait_pushes(Duration::from_secs(5)).await;
    let pushes = c.pushes();
    let done = |id: u64| {
        pushes
            .iter()
            .find(|p| p.push_id == id)
            .and_then(|p| p.done_ms)
            .unwrap()
    };
    assert!(
        done(10) < done(6),
        "raised push 10 ({:.0} ms) before the hero image push 6 ({:.0} ms)",
        done(10),
        done(6)
    );
    assert!(c.close_code().is_none());
    srv.shutdown().await;
}

/// CANCEL_PUSH from the client stops that push; STOP_SENDING on every push
/// stream is absorbed; the page and the other pushes are unaffected.
#[tokio::test]
async fn client_cancellation_and_refusal() {
    let srv = server(with_policy("push-all")).await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            cancel_push: Some("hero".into()),
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200);
    c.wait_pushes(Duration::from_secs(3)).await;
    for p in c.pushes() {
        if p.path.contains("hero") {
            assert!(p.cancelled && !p.complete);
        } else {
            assert!(p.complete, "{} complete", p.path);
        }
    }
    c.close().await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            refuse_pushes: true,
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    let r = get(&c, "/css/style.css").await;
    assert_eq!(
        r.status, 200,
        "connection still serves after refusing every push"
    );
    c.close().await;
    let freed = eventually(Duration::from_secs(5), || {
        srv.stats
            .queues
            .streams
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
            && srv
                .stats
                .queues
                .queued_bytes
                .load(std::sync::atomic::Ordering::Relaxed)
                == 0
    })
    .await;
    assert!(freed, "refused pushes freed");
    let stats = srv.stats.clone();
    srv.shutdown().await;
    let t = *stats.pushes.lock();
    // The hero push, plus those refused before they completed (small ones
    // may be complete by the time the STOP_SENDING arrives).
    assert!(t.cancelled_by_client >= 2, "cancelled: {t:?}");
    assert!(t.refused_bytes > 0, "{t:?}");
}

/// Protocol errors a client can provoke: lowering MAX_PUSH_ID and
/// cancelling a push never promised are H3_ID_ERROR.
#[tokio::test]
async fn push_id_errors() {
    for (frames, what) in [
        (
            vec![Frame::MaxPushId(10), Frame::MaxPushId(3)],
            "MAX_PUSH_ID lowered",
        ),
        (
            vec![Frame::CancelPush(7)],
            "CANCEL_PUSH for a push never promised",
        ),
    ] {
        let srv = server(with_policy("push-all")).await;
        let c = client(srv.addr, opts()).await;
        for f in &frames {
            c.send_control_frame(f).await.unwrap();
        }
        let closed = eventually(Duration::from_secs(3), || c.close_code().is_some()).await;
        assert!(closed, "{what}");
        assert_eq!(c.close_code(), Some(code::H3_ID_ERROR), "{what}");
        srv.shutdown().await;
    }
}

/// A client that cancels a promise and later raises MAX_PUSH_ID again keeps
/// getting pushes on later pages.
#[tokio::test]
async fn max_push_id_can_grow() {
    let srv = server(with_policy("push-all")).await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(0),
            ..opts()
        },
    )
    .await;
    let r = get(&c, "/").await;
    assert_eq!(r.promises, vec![0]);
    c.send_control_frame(&Frame::MaxPushId(50)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = get(&c, "/slow.html").await;
    assert_eq!(r.promises.first(), Some(&1), "push IDs continue from 1");
    c.close().await;
    srv.shutdown().await;
}
