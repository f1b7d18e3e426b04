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

/// The emulated browser's network thread, busy after a 103 whose preloads
/// go to the network (`Cpu::hint_ms`), reads the document's final head
/// first, as Chromium's net log shows, and only then reads nothing for
/// `hint_ms`; with every preload in its HTTP cache it is not busy. On
/// /slow.html the 103 comes at once and the 200 after 300 ms of think time:
/// a stall begun at the 103 would hold the head until `hint_ms`.
#[tokio::test]
async fn the_busy_network_thread_reads_the_documents_head_first() {
    use pushlab::browser::{load_page, Cpu, HttpCache, LoadOptions};
    use pushlab::client::{ClientOptions as LoadClient, Proto};
    let srv = server(with_policy("preload")).await;
    let busy = 500.0;
    let opts = LoadOptions {
        url: format!("https://127.0.0.1:{}/slow.html", srv.addr.port()),
        proto: Proto::H3,
        accept_push: false,
        cpu: Cpu {
            hint_ms: busy,
            ..Cpu::default()
        },
        timeout: Duration::from_secs(20),
        client: LoadClient {
            insecure: true,
            ..Default::default()
        },
    };
    let (cold, cache) = load_page(&opts, HttpCache::new()).await;
    assert!(cold.error.is_none(), "{:?}", cold.error);
    let doc = &cold.summary.resources[0];
    let first = doc.first_byte_ms.expect("a first byte");
    assert!(
        (295.0..busy - 50.0).contains(&first),
        "the head was read at {first:.0} ms, not held by the busy thread"
    );
    let load = cold.summary.load_ms.expect("loaded");
    assert!(
        load >= first + busy - 10.0,
        "busy after the head: load at {load:.0} ms, head at {first:.0} ms"
    );
    // Warm: the hinted preloads are all fresh in the cache (the demo's
    // subresources are), so nothing holds the load.
    let (warm, _) = load_page(&opts, cache).await;
    assert!(warm.error.is_none(), "{:?}", warm.error);
    let load = warm.summary.load_ms.expect("loaded");
    assert!(load < 300.0 + busy - 50.0, "warm load at {load:.0} ms");
    srv.shutdown().await;
}
