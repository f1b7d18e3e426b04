//! RFC 9218 prioritisation end to end: the `priority` header and
//! PRIORITY_UPDATE frames change the order in which the server's send
//! queue serves responses, under each `--scheduler` policy.
//!
//! The client reads slowly with a small connection receive window, so the
//! server always has more to send than the client accepts and the order it
//! picks shows in completion times.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pushlab::client::h3::{Client, ClientOptions, Response};
use pushlab::config::{SchedulerMode, ServeOptions};
use pushlab::sched::Policy;
use pushlab::sendq::SendConfig;

fn slow_reader() -> ClientOptions {
    ClientOptions {
        receive_window: Some(64 * 1024),
        stream_receive_window: Some(4 << 20),
        read_rate: Some(4_000_000),
        ..opts()
    }
}

fn with_policy(policy: Policy) -> ServeOptions {
    ServeOptions {
        mode: SchedulerMode::Queue(SendConfig {
            policy,
            ..SendConfig::default()
        }),
        ..ServeOptions::default()
    }
}

/// Sends GETs with the given (path, priority) in order, reads them all
/// concurrently, returns responses in request order.
async fn fetch_all(c: &Arc<Client>, reqs: &[(&str, Option<&str>)]) -> Vec<Response> {
    let mut tasks = Vec::new();
    for (path, prio) in reqs {
        let extra: Vec<(String, String)> = prio
            .iter()
            .map(|p| ("priority".to_string(), p.to_string()))
            .collect();
        let p = c.send_request("GET", path, &extra).await.unwrap();
        let c2 = c.clone();
        tasks.push(tokio::spawn(async move { c2.read_response(p).await }));
    }
    let mut out = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}: {:?}", r.path, r.error);
        out.push(r);
    }
    out
}

/// End time of a response since connection start.
fn end(r: &Response) -> f64 {
    r.sent_ms + r.done_ms.unwrap_or(f64::MAX)
}

/// rfc9218: the most urgent response completes first; two non-incremental
/// responses of one urgency are served one after the other, in request order.
#[tokio::test]
async fn urgency_first_then_sequential_in_request_order() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Rfc9218)).await;
    let c = shared_client(srv.addr, slow_reader()).await;
    let r = fetch_all(
        &c,
        &[
            ("/bytes/400000", Some("u=5")),
            ("/bytes/400000", Some("u=5")),
            ("/bytes/60000", Some("u=1")),
        ],
    )
    .await;
    let (a, b, u) = (end(&r[0]), end(&r[1]), end(&r[2]));
    assert!(
        u < a && u < b,
        "urgent first: urgent {u:.0} ms, a {a:.0}, b {b:.0}"
    );
    assert!(
        a + 40.0 < b,
        "sequential: a done at {a:.0} ms, b at {b:.0} ms"
    );
    srv.shutdown().await;
}

/// rfc9218: incremental responses of one urgency share the bandwidth and
/// finish close together.
#[tokio::test]
async fn incremental_responses_share() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Rfc9218)).await;
    let c = shared_client(srv.addr, slow_reader()).await;
    let r = fetch_all(
        &c,
        &[
            ("/bytes/400000", Some("u=3, i")),
            ("/bytes/400000", Some("u=3, i")),
        ],
    )
    .await;
    let (a, b) = (end(&r[0]), end(&r[1]));
    assert!(
        (a - b).abs() < 40.0,
        "shared: a done at {a:.0} ms, b at {b:.0} ms"
    );
    srv.shutdown().await;
}

/// fifo ignores the priority header: the earlier request completes first
/// even though the later one asks for u=0.
#[tokio::test]
async fn fifo_ignores_priorities() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Fifo)).await;
    let c = shared_client(srv.addr, slow_reader()).await;
    let r = fetch_all(
        &c,
        &[
            ("/bytes/400000", Some("u=7")),
            ("/bytes/60000", Some("u=0")),
        ],
    )
    .await;
    // The urgent response starts only once the first is (nearly) all sent:
    // what is still in the client's 64 KB window is read alongside it.
    let urgent_first_byte = r[1].sent_ms + r[1].first_byte_ms.unwrap_or(0.0);
    assert!(
        urgent_first_byte > 0.6 * end(&r[0]),
        "request order: u=0 first byte at {urgent_first_byte:.0} ms, u=7 done at {:.0} ms",
        end(&r[0])
    );
    srv.shutdown().await;
}

/// A PRIORITY_UPDATE raising a queued response mid-transfer makes it
/// overtake the response that was ahead of it.
#[tokio::test]
async fn priority_update_reorders_mid_response() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Rfc9218)).await;
    let c = shared_client(srv.addr, slow_reader()).await;
    let pa = c
        .send_request("GET", "/bytes/600000", &[("priority".into(), "u=5".into())])
        .await
        .unwrap();
    let pb = c
        .send_request("GET", "/bytes/600000", &[("priority".into(), "u=5".into())])
        .await
        .unwrap();
    let b_id = pb.stream_id();
    let (c1, c2) = (c.clone(), c.clone());
    let ta = tokio::spawn(async move { c1.read_response(pa).await });
    let tb = tokio::spawn(async move { c2.read_response(pb).await });
    tokio::time::sleep(Duration::from_millis(40)).await;
    c.priority_update(b_id, "u=0").await.unwrap();
    let (a, b) = (ta.await.unwrap(), tb.await.unwrap());
    assert_eq!(a.body_len + b.body_len, 1_200_000);
    assert!(
        end(&b) < end(&a),
        "b raised to u=0 finishes first: a {:.0} ms, b {:.0} ms",
        end(&a),
        end(&b)
    );
    srv.shutdown().await;
}

/// A PRIORITY_UPDATE that arrives before its request stream is buffered
/// and applied when the stream opens (RFC 9218 section 7).
#[tokio::test]
async fn priority_update_before_the_stream_opens() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Rfc9218)).await;
    let c = shared_client(srv.addr, slow_reader()).await;
    // The client's request streams are 0, 4, 8: raise 8 before it exists.
    c.priority_update(8, "u=0").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = fetch_all(
        &c,
        &[
            ("/bytes/300000", None),
            ("/bytes/300000", None),
            ("/bytes/300000", None),
        ],
    )
    .await;
    assert_eq!(r[2].stream_id, 8);
    assert!(
        end(&r[2]) < end(&r[0]) && end(&r[2]) < end(&r[1]),
        "stream 8 first: {:.0} {:.0} {:.0}",
        end(&r[0]),
        end(&r[1]),
        end(&r[2])
    );
    srv.shutdown().await;
}

/// Invalid priority values are ignored (the request is served with the
/// defaults), and a flood of PRIORITY_UPDATE frames is absorbed without
/// closing the connection or stalling it.
#[tokio::test]
async fn invalid_values_and_update_floods_are_absorbed() {
    let _serial = serial().await;
    let srv = server(with_policy(Policy::Rfc9218)).await;
    let c = shared_client(srv.addr, opts()).await;
    for bad in ["u=9, i=?2", "u=", "garbage;;", "u=-1", "i=\"yes\""] {
        let r = c
            .read_response(
                c.send_request("GET", "/css/style.css", &[("priority".into(), bad.into())])
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{bad}");
    }
    for i in 0..5000u64 {
        let value = if i % 3 == 0 {
            "not a dictionary (("
        } else {
            "u=1, i"
        };
        c.priority_update((i % 50) * 4, value).await.unwrap();
    }
    let t = std::time::Instant::now();
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.error);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(c.close_code().is_none(), "connection still open");
    srv.shutdown().await;
}
