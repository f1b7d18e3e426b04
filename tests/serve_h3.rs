//! Serving over HTTP/3: the demo site and a `--site` directory with
//! `site.toml`, byte-exact bodies, validators and 304, HEAD, think time,
//! the `--scheduler off` baseline, graceful shutdown (GOAWAY, in-flight
//! responses complete), and per-connection qlog files.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use pushlab::client::h3::ClientOptions;
use pushlab::config::{SchedulerMode, ServeOptions};
use pushlab::site::{generated_chunk, Site, BYTES_SEED};

fn header<'a>(r: &'a pushlab::client::h3::Response, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The demo page and its subresources come back with the right types and
/// lengths, and a large generated file arrives byte-exact.
#[tokio::test]
async fn demo_site_is_served_byte_exact() {
    let srv = server(ServeOptions::default()).await;
    let c = client(
        srv.addr,
        ClientOptions {
            keep_bodies: true,
            ..opts()
        },
    )
    .await;
    let site = Site::demo();
    for (path, ct) in [
        ("/", "text/html; charset=utf-8"),
        ("/css/style.css", "text/css; charset=utf-8"),
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/fonts/body.woff2", "font/woff2"),
        ("/img/hero.png", "image/png"),
        ("/img/logo.svg", "image/svg+xml"),
    ] {
        let p = c.send_request("GET", path, &[]).await.unwrap();
        let r = c.read_response(p).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.error);
        assert_eq!(header(&r, "content-type"), Some(ct), "{path}");
        let res = site
            .get(if path == "/" { "/index.html" } else { path })
            .unwrap();
        assert_eq!(r.body_len, res.len, "{path}");
        assert_eq!(
            header(&r, "content-length"),
            Some(res.len.to_string().as_str())
        );
    }
    let p = c.send_request("GET", "/files/10M.bin", &[]).await.unwrap();
    let r = c.read_response(p).await;
    assert_eq!(r.body_len, 10_000_000);
    assert_eq!(r.sha256, sha256_hex(&generated_chunk(10, 0, 10_000_000)));
    let p = c.send_request("GET", "/bytes/123457", &[]).await.unwrap();
    let r = c.read_response(p).await;
    assert_eq!(
        r.body.as_deref(),
        Some(&generated_chunk(BYTES_SEED, 0, 123_457)[..])
    );
    c.close().await;
    srv.shutdown().await;
}

/// ETag and Last-Modified validate: a conditional GET gets 304 without a
/// body; HEAD gets the headers and no body.
#[tokio::test]
async fn conditional_get_and_head() {
    let srv = server(ServeOptions::default()).await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/css/style.css", &[]).await.unwrap())
        .await;
    let etag = header(&r, "etag").unwrap().to_string();
    let lm = header(&r, "last-modified").unwrap().to_string();
    assert!(header(&r, "cache-control").unwrap().contains("max-age"));
    let r = c
        .read_response(
            c.send_request(
                "GET",
                "/css/style.css",
                &[("if-none-match".into(), etag.clone())],
            )
            .await
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.body_len, 0);
    assert_eq!(header(&r, "etag"), Some(etag.as_str()));
    let r = c
        .read_response(
            c.send_request("GET", "/css/style.css", &[("if-modified-since".into(), lm)])
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 304);
    let r = c
        .read_response(c.send_request("HEAD", "/img/hero.png", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body_len, 0);
    assert!(
        header(&r, "content-length")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 400_000
    );
    c.close().await;
    srv.shutdown().await;
}

/// A directory with site.toml: content types by extension, per-path
/// headers and cache-control, think time before the response, and the
/// server's priority override echoed in the `priority` response header.
#[tokio::test]
async fn site_directory_with_site_toml() {
    let dir = std::env::temp_dir().join(format!("pushlab-site-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("js")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><script src=/js/a.js></script>",
    )
    .unwrap();
    std::fs::write(dir.join("js/a.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join("data.json"), "{}").unwrap();
    std::fs::write(
        dir.join("site.toml"),
        r#"
        [defaults]
        cache_control = "public, max-age=60"
        [paths."/index.html"]
        think = "250ms"
        cache_control = "no-cache"
        headers = { "X-Experiment" = "think" }
        [paths."/js/*"]
        priority = "u=1"
        "#,
    )
    .unwrap();
    let site = Site::load(&dir).unwrap();
    let srv = server(ServeOptions {
        site: Arc::new(site),
        ..ServeOptions::default()
    })
    .await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers_ms.unwrap() >= 245.0,
        "think time: headers after {:?} ms",
        r.headers_ms
    );
    assert_eq!(header(&r, "x-experiment"), Some("think"));
    assert_eq!(header(&r, "cache-control"), Some("no-cache"));
    let r = c
        .read_response(c.send_request("GET", "/js/a.js", &[]).await.unwrap())
        .await;
    assert_eq!(
        header(&r, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(header(&r, "priority"), Some("u=1"));
    assert_eq!(header(&r, "cache-control"), Some("public, max-age=60"));
    let r = c
        .read_response(c.send_request("GET", "/data.json", &[]).await.unwrap())
        .await;
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    let r = c
        .read_response(c.send_request("GET", "/site.toml", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 404, "site.toml itself is not served");
    c.close().await;
    srv.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--scheduler off` serves the same content through plain h3-quinn.
#[tokio::test]
async fn scheduler_off_baseline_serves_the_same() {
    let srv = server(ServeOptions {
        mode: SchedulerMode::Off,
        ..ServeOptions::default()
    })
    .await;
    let c = client(srv.addr, opts()).await;
    let r = c
        .read_response(c.send_request("GET", "/files/1M.bin", &[]).await.unwrap())
        .await;
    assert_eq!(r.body_len, 1_000_000);
    assert_eq!(r.sha256, sha256_hex(&generated_chunk(1, 0, 1_000_000)));
    let r = c
        .read_response(c.send_request("GET", "/nope", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 404);
    c.close().await;
    srv.shutdown().await;
}

/// On shutdown the server sends GOAWAY, lets an in-flight response finish,
/// and stops within its bounded wait.
#[tokio::test]
async fn graceful_shutdown_completes_in_flight() {
    let srv = server(ServeOptions {
        shutdown_timeout: Duration::from_secs(5),
        ..ServeOptions::default()
    })
    .await;
    let c = shared_client(
        srv.addr,
        ClientOptions {
            read_rate: Some(4_000_000),
            ..opts()
        },
    )
    .await;
    let p = c.send_request("GET", "/bytes/2000000", &[]).await.unwrap();
    let c2 = c.clone();
    let reader = tokio::spawn(async move { c2.read_response(p).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    srv.shutdown().await;
    let r = reader.await.unwrap();
    assert_eq!(
        r.body_len, 2_000_000,
        "in-flight response completed: {:?}",
        r.error
    );
    assert!(c.goaway().is_some(), "client saw GOAWAY");
    assert!(t.elapsed() < Duration::from_secs(7), "bounded wait");
}

/// `--qlog-dir`: each connection writes its own qlog (JSON text sequences,
/// RFC 7464, a record separator before each record), created in the
/// connection's task; a directory that cannot be written to only loses the
/// qlog, not the connection.
#[tokio::test]
async fn qlog_per_connection_and_unwritable_dir_still_serves() {
    let dir = std::env::temp_dir().join(format!("pushlab-qlog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let srv = server(ServeOptions {
        qlog_dir: Some(dir.clone()),
        ..ServeOptions::default()
    })
    .await;
    for _ in 0..2 {
        let c = client(srv.addr, opts()).await;
        let p = c.send_request("GET", "/css/style.css", &[]).await.unwrap();
        let r = c.read_response(p).await;
        assert_eq!(r.status, 200, "{:?}", r.error);
        c.close().await;
    }
    drop(srv);
    // quinn flushes a qlog when its connection is dropped.
    let mut files = Vec::new();
    for _ in 0..100 {
        files = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let full = files.len() == 2
            && files
                .iter()
                .all(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 100));
        if full {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(f.extension().and_then(|e| e.to_str()), Some("sqlog"));
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with('\u{1e}'),
            "{f:?}: not a JSON text sequence"
        );
        assert!(text.contains("pushlab server"), "{f:?}: no title");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let missing = std::env::temp_dir().join(format!("pushlab-qlog-none-{}/x", std::process::id()));
    let srv = server(ServeOptions {
        qlog_dir: Some(missing.clone()),
        ..ServeOptions::default()
    })
    .await;
    let c = client(srv.addr, opts()).await;
    let p = c.send_request("GET", "/css/style.css", &[]).await.unwrap();
    assert_eq!(c.read_response(p).await.status, 200);
    assert!(!missing.exists());
}
