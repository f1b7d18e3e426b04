//! 103 Early Hints (RFC 8297): sent at once when the request arrives, even
//! when the final response has think time; never after the final response;
//! only for document GETs; with the Link values the policy chose.

mod common;

use std::time::Duration;

use common::*;
use pushlab::client::h3::ClientOptions;

/// `preload`: one 103 with a Link per hidden or critical subresource,
/// arriving immediately although the document takes 300 ms to prepare.
#[tokio::test]
async fn hints_arrive_before_think_time_ends() {
    let srv = server(with_policy("preload")).await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/slow.html", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.informational.len(), 1);
    let hint = &r.informational[0];
    assert_eq!(hint.status, 103);
    assert!(hint.at_ms < 100.0, "103 at {:.1} ms", hint.at_ms);
    assert!(r.headers_ms.unwrap() >= 295.0, "200 after the think time");
    assert!(hint.at_ms < r.headers_ms.unwrap());
    assert_eq!(
        links(&hint.headers),
        vec![
            "</css/style.css>; rel=preload; as=style",
            "</css/theme.css>; rel=preload; as=style",
            "</fonts/body.woff2>; rel=preload; as=font; crossorigin",
            "</js/app.js>; rel=preload; as=script",
            "</js/lazy.js>; rel=preload; as=script",
        ]
    );
    // The final response does not repeat the hints.
    assert!(links(&r.headers).is_empty());
    c.close().await;
    srv.shutdown().await;
}

/// No 103 without a hinting policy, for subresources, or for HEAD.
#[tokio::test]
async fn no_hints_where_none_apply() {
    let srv = server(with_policy("none")).await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert!(r.informational.is_empty());
    c.close().await;
    srv.shutdown().await;
    let srv = server(with_policy("preload")).await;
    let c = client(srv.addr, opts()).await;
    for (m, p) in [
        ("GET", "/css/style.css"),
        ("HEAD", "/"),
        ("GET", "/missing.html"),
    ] {
        let r = c
            .read_response(c.send_request(m, p, &[]).await.unwrap())
            .await;
        assert!(r.informational.is_empty(), "{m} {p}");
    }
    c.close().await;
    srv.shutdown().await;
}

/// `push-preload` with a client that does not accept pushes: nothing is
/// pushed, so every hidden or critical subresource is hinted instead; with
/// pushes accepted and a small window, what is pushed is not also hinted.
#[tokio::test]
async fn push_preload_hints_what_it_does_not_push() {
    let srv = server(with_policy("push-preload")).await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(links(&r.informational[0].headers).len(), 5);
    assert!(r.promises.is_empty());
    c.close().await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(100),
            ..opts()
        },
    )
    .await;
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    c.wait_pushes(Duration::from_secs(2)).await;
    let pushed: Vec<String> = c.pushes().into_iter().map(|p| p.path).collect();
    let hinted = links(&r.informational[0].headers);
    for p in &pushed {
        assert!(
            !hinted.iter().any(|h| h.starts_with(&format!("<{p}>"))),
            "{p} both pushed and hinted"
        );
    }
    assert!(pushed.len() + hinted.len() >= 5);
    c.close().await;
    srv.shutdown().await;
}
