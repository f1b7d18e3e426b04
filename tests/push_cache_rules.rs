//! The browsers' push-cache rules (Jake Archibald, "HTTP/2 push is tougher
//! than I thought") in the emulated browser, over real HTTP/2 and HTTP/3
//! connections to pushlab on loopback. One test per rule:
//!
//! - requests without credentials go over a second connection and miss
//!   pushes made on the page's;
//! - the browser cancels pushes of what it already holds (HTTP cache, or
//!   unused in the push cache), and the server counts the cancels;
//! - `Vary` is matched: a push promised with another cookie is not used;
//! - the push cache is shared by the pages on one connection and lost
//!   with it.
//!
//! The site: two pages. The server pushes `/data.json`, `/shared.css` and
//! `/vary.css` (`Vary: cookie`, pushed only when the request has a cookie)
//! with every document. Page one fetches `/data.json` without credentials;
//! page two with them. Each page sets a different cookie.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use pushlab::browser::{
    load_on, BrowserConn, Cpu, HttpCache, LoadOptions, PageLoad, PushRecord, Source,
};
use pushlab::client::{ClientOptions, Proto};
use pushlab::config::ServeOptions;
use pushlab::server::RunningServer;

const FILES: &[(&str, &str)] = &[
    (
        "index.html",
        r#"<!doctype html><html><head><link rel="stylesheet" href="/shared.css">
<script src="/app.js" async></script></head><body><p>one</p></body></html>"#,
    ),
    (
        "second.html",
        r#"<!doctype html><html><head><link rel="stylesheet" href="/shared.css">
<link rel="stylesheet" href="/vary.css"><script src="/app2.js" async></script>
</head><body><p>two</p></body></html>"#,
    ),
    ("shared.css", "body { margin: 0 }"),
    ("vary.css", "p { color: red }"),
    ("app.js", "fetch('/data.json', {credentials: 'omit'});"),
    ("app2.js", "fetch('/data.json');"),
    ("data.json", "{\"items\": [1, 2, 3]}"),
    (
        "site.toml",
        r#"
[paths."/index.html"]
headers = { "set-cookie" = "v=1; Path=/" }
[paths."/second.html"]
headers = { "set-cookie" = "v=2; Path=/" }
[paths."/vary.css"]
vary = "cookie"
[paths."/data.json"]
cache_control = "no-cache"
"#,
    ),
];

fn site_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pushlab-pcr-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

async fn start(dir: &Path) -> RunningServer {
    let site = pushlab::site::Site::load(dir).expect("the test site loads");
    server(ServeOptions {
        site: std::sync::Arc::new(site),
        ..with_policy("list:/data.json,/shared.css,/vary.css")
    })
    .await
}

fn load_opts(srv: &RunningServer, proto: Proto, page: &str) -> LoadOptions {
    LoadOptions {
        url: format!("https://127.0.0.1:{}{page}", srv.addr.port()),
        proto,
        accept_push: true,
        cpu: Cpu::default(),
        timeout: Duration::from_secs(20),
        client: ClientOptions {
            insecure: true,
            ..Default::default()
        },
    }
}

fn push<'a>(l: &'a PageLoad, path: &str) -> &'a PushRecord {
    l.summary
        .pushes
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no push of {path}: {:?}", l.summary.pushes))
}

fn source(l: &PageLoad, path: &str) -> Source {
    l.summary
        .resources
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("{path} not loaded"))
        .source
}

/// Both pages on one connection, then page two again on a new one.
async fn two_pages(proto: Proto) -> (PageLoad, PageLoad, PageLoad, RunningServer) {
    let dir = site_dir(&format!("{proto:?}"));
    let srv = start(&dir).await;
    let first = load_opts(&srv, proto, "/index.html");
    let second = load_opts(&srv, proto, "/second.html");
    let mut bc = BrowserConn::connect(&first).await.expect("connects");
    let hs = bc.handshake_ms;
    let (one, cache) = load_on(&mut bc, &first, HttpCache::new(), hs).await;
    let (two, cache) = load_on(&mut bc, &second, cache, 0.0).await;
    bc.close().await;
    let mut fresh = BrowserConn::connect(&second).await.expect("connects");
    let hs = fresh.handshake_ms;
    let (again, _) = load_on(&mut fresh, &second, cache, hs).await;
    fresh.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    for l in [&one, &two, &again] {
        assert_eq!(l.error, None, "{proto:?} {}", l.url);
    }
    (one, two, again, srv)
}

/// Rule: a request without credentials uses a connection of its own. Page
/// one's `/data.json` was pushed on the page's connection, yet its fetch
/// without credentials goes to the network, over a second connection.
#[tokio::test]
async fn requests_without_credentials_use_another_connection() {
    let _g = serial().await;
    for proto in [Proto::H3, Proto::H2] {
        let (one, _, _, srv) = two_pages(proto).await;
        let data = one
            .summary
            .resources
            .iter()
            .find(|r| r.path == "/data.json")
            .expect("data.json fetched");
        assert!(data.anonymous, "{proto:?}");
        assert_eq!(data.source, Source::Network, "{proto:?}");
        assert_eq!(data.status, 200, "{proto:?}");
        assert!(!data.request_headers.iter().any(|(n, _)| n == "cookie"));
        assert!(!push(&one, "/data.json").claimed, "{proto:?}");
        // The page's connection, the one without credentials, and the
        // later page's new connection.
        assert_eq!(
            srv.stats.connections.load(Ordering::Relaxed),
            3,
            "{proto:?}"
        );
        // With credentials, the pushed stylesheet is used.
        assert_eq!(source(&one, "/shared.css"), Source::Pushed, "{proto:?}");
        srv.shutdown().await;
    }
}

/// Rule: the browser cancels pushes of what it holds. On page two,
/// `/shared.css` is fresh in the HTTP cache and page one's unused
/// `/data.json` is in the push cache: both promises are cancelled (on the
/// wire: CANCEL_PUSH, or RST_STREAM on the HTTP/2 promised stream).
#[tokio::test]
async fn pushes_of_what_the_browser_holds_are_cancelled() {
    let _g = serial().await;
    for proto in [Proto::H3, Proto::H2] {
        let (_, two, _, srv) = two_pages(proto).await;
        let shared = push(&two, "/shared.css");
        assert_eq!(
            shared.cancelled,
            Some(pushlab::browser::model::CancelReason::HttpCache),
            "{proto:?}"
        );
        assert_eq!(source(&two, "/shared.css"), Source::Cached, "{proto:?}");
        // The unused push of data.json from page one answered page two's
        // promise of it: the new promise was cancelled, and page two has
        // one record of it, the carried push.
        let data: Vec<&PushRecord> = two
            .summary
            .pushes
            .iter()
            .filter(|p| p.path == "/data.json")
            .collect();
        assert_eq!(data.len(), 1, "{proto:?}: {data:?}");
        assert!(data[0].carried, "{proto:?}");
        srv.shutdown().await;
    }
}

/// Rule: pushes are matched on `Vary`. `/vary.css` varies on `cookie`; on
/// page two it was promised with the cookie page one set (v=1), but page
/// two's own response set v=2 before the stylesheet was requested: the
/// push does not match and the stylesheet is fetched.
#[tokio::test]
async fn vary_is_matched() {
    let _g = serial().await;
    for proto in [Proto::H3, Proto::H2] {
        let (one, two, _, srv) = two_pages(proto).await;
        assert!(
            !one.summary.pushes.iter().any(|p| p.path == "/vary.css"),
            "page one's request had no cookie: not pushable"
        );
        let v = push(&two, "/vary.css");
        assert!(v.vary_mismatch && !v.claimed, "{proto:?}: {v:?}");
        assert_eq!(source(&two, "/vary.css"), Source::Network, "{proto:?}");
        let r = two
            .summary
            .resources
            .iter()
            .find(|r| r.path == "/vary.css")
            .unwrap();
        assert!(
            r.request_headers
                .iter()
                .any(|(n, v)| n == "cookie" && v == "v=2"),
            "{:?}",
            r.request_headers
        );
        srv.shutdown().await;
    }
}

/// Rule: the push cache belongs to the connection. Page one left its
/// push of `/data.json` unused; page two, on the same connection, takes
/// it from there. On a new connection it is gone.
#[tokio::test]
async fn the_push_cache_is_shared_on_a_connection_and_lost_with_it() {
    let _g = serial().await;
    for proto in [Proto::H3, Proto::H2] {
        let (_, two, again, srv) = two_pages(proto).await;
        assert_eq!(source(&two, "/data.json"), Source::Pushed, "{proto:?}");
        let carried: Vec<&PushRecord> = two
            .summary
            .pushes
            .iter()
            .filter(|p| p.path == "/data.json")
            .collect();
        assert_eq!(carried.len(), 1, "{proto:?}: {carried:?}");
        assert!(carried[0].carried && carried[0].claimed, "{proto:?}");
        // The new connection's push cache is empty: nothing carried, and
        // the document's revalidation (a 304) brings no pushes, so the
        // page revalidates data.json itself.
        assert!(!again.summary.pushes.iter().any(|p| p.carried), "{proto:?}");
        assert_eq!(
            source(&again, "/data.json"),
            Source::Revalidated,
            "{proto:?}"
        );
        srv.shutdown().await;
    }
}
