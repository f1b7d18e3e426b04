//! Interop of the HTTP/2 fallback with third-party HTTP/2 clients:
//! nghttp (nghttp2) sees the PUSH_PROMISE frames, receives byte-exact pushed
//! bodies (rebuilt from its hex dump of the decrypted traffic) after the
//! parent's last frame, and shows the 103 with its Link headers; system curl
//! sees the 103 and the final response; hyper-h2 (`interop/h2_client.py`)
//! receives byte-exact pushes in order, can refuse push and cancel one; and
//! h2load completes 20,000 requests over 50 connections without a failure.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;
use pushlab::config::ServeOptions;
use pushlab::site::Site;

/// Runs a command in a blocking task; returns (success, stdout, stderr).
async fn run(cmd: &str, args: Vec<String>) -> (bool, String, String) {
    let cmd = cmd.to_string();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&cmd)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd} runs: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

/// The bytes of nghttp's `--hexdump` lines (the decrypted bytes it read),
/// in order.
fn hexdump_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((offset, rest)) = line.split_once("  ") else {
            continue;
        };
        if offset.len() != 8 || !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let hex = rest.split("  |").next().unwrap_or("");
        for tok in hex.split_whitespace() {
            if let Ok(b) = u8::from_str_radix(tok, 16) {
                out.push(b);
            }
        }
    }
    out
}

/// DATA payloads per stream from a server-to-client HTTP/2 byte stream.
fn data_by_stream(bytes: &[u8]) -> HashMap<u32, Vec<u8>> {
    let mut out: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut i = 0;
    while i + 9 <= bytes.len() {
        let len = (usize::from(bytes[i]) << 16)
            | (usize::from(bytes[i + 1]) << 8)
            | usize::from(bytes[i + 2]);
        let (ty, flags) = (bytes[i + 3], bytes[i + 4]);
        let stream = u32::from_be_bytes([bytes[i + 5], bytes[i + 6], bytes[i + 7], bytes[i + 8]])
            & 0x7fff_ffff;
        let end = i + 9 + len;
        assert!(end <= bytes.len(), "truncated frame in the hex dump");
        if ty == 0 {
            let mut payload = &bytes[i + 9..end];
            if flags & 0x8 != 0 {
                let pad = usize::from(payload[0]);
                payload = &payload[1..payload.len() - pad];
            }
            out.entry(stream).or_default().extend_from_slice(payload);
        }
        i = end;
    }
    assert_eq!(i, bytes.len(), "the hex dump ends on a frame boundary");
    out
}

fn stream_of(line: &str) -> Option<u32> {
    line.split("stream_id=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// nghttp under push-all: a PUSH_PROMISE per subresource in evaluation
/// order, every pushed body byte-exact, and no pushed frame before the
/// parent's last frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_receives_pushes_byte_exact() {
    if !require(
        "nghttp",
        have("nghttp"),
        "nghttp_receives_pushes_byte_exact",
    ) {
        return;
    }
    let srv = server(with_policy("push-all")).await;
    let url = format!("https://127.0.0.1:{}/", srv.addr.port());
    let (ok, out, err) = run("nghttp", vec!["-nv".into(), "--hexdump".into(), url]).await;
    srv.shutdown().await;
    assert!(ok, "nghttp failed: {err}\n{out}");
    // Promised paths, from the decoded PUSH_PROMISE header blocks.
    let mut promised: Vec<(u32, String)> = Vec::new();
    let mut last_path = None;
    let mut parent = None;
    let mut parent_end = None;
    let mut first_push_frame = None;
    for (n, line) in out.lines().enumerate() {
        if line.contains("send HEADERS frame") && parent.is_none() {
            parent = stream_of(line);
        }
        if let Some(p) = line.split(") :path: ").nth(1) {
            if line.contains("recv (stream_id=") {
                last_path = Some(p.trim().to_string());
            }
        }
        if let Some(id) = line.split("promised_stream_id=").nth(1) {
            let id: u32 = id.trim_end_matches(')').parse().expect("promised id");
            promised.push((id, last_path.take().expect(":path before the promise")));
        }
        let frame = line.contains("recv DATA frame") || line.contains("recv HEADERS frame");
        if frame {
            let s = stream_of(line);
            if s == parent && line.contains("flags=0x01") {
                parent_end = Some(n);
            }
            if s.is_some_and(|s| s % 2 == 0) && first_push_frame.is_none() {
                first_push_frame = Some(n);
            }
        }
    }
    let order = Site::demo().graph().evaluation_order("/index.html");
    let paths: Vec<&str> = promised.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(paths, order, "PUSH_PROMISEs in evaluation order");
    let (end, first) = (parent_end.expect("parent ended"), first_push_frame.unwrap());
    assert!(
        end < first,
        "a pushed frame (line {first}) before the parent's end (line {end})"
    );
    let data = data_by_stream(&hexdump_bytes(&out));
    assert_eq!(
        sha256_hex(&data[&parent.unwrap()]),
        demo_sha("/"),
        "document byte-exact"
    );
    for (id, path) in &promised {
        let body = data.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            sha256_hex(body),
            demo_sha(path),
            "{path} (stream {id}) byte-exact"
        );
    }
}

/// nghttp under preload shows one 103 with the five Link headers, before
/// the 200 (which comes after the document's 300 ms think time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nghttp_shows_early_hints() {
    if !require("nghttp", have("nghttp"), "nghttp_shows_early_hints") {
        return;
    }
    let srv = server(with_policy("preload")).await;
    let url = format!("https://127.0.0.1:{}/slow.html", srv.addr.port());
    let (ok, out, err) = run("nghttp", vec!["-nv".into(), url]).await;
    srv.shutdown().await;
    assert!(ok, "nghttp failed: {err}\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle));
    let hint = at(":status: 103").expect("a 103");
    let done = at(":status: 200").expect("a 200");
    assert!(hint < done);
    let links: Vec<&str> = lines[hint..done]
        .iter()
        .filter_map(|l| l.split(") link: ").nth(1))
        .collect();
    assert_eq!(
        links,
        vec![
            "</css/style.css>; rel=preload; as=style",
            "</css/theme.css>; rel=preload; as=style",
            "</fonts/body.woff2>; rel=preload; as=font; crossorigin",
            "</js/app.js>; rel=preload; as=script",
            "</js/lazy.js>; rel=preload; as=script",
        ]
    );
}

/// System curl over HTTP/2 sees the 103 (with its Link headers) and the
/// final 200, and the body is byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http2_sees_103_and_final_response() {
    if !require(
        "curl",
        have("curl"),
        "curl_http2_sees_103_and_final_response",
    ) {
        return;
    }
    let srv = server(with_policy("preload")).await;
    let url = format!("https://127.0.0.1:{}/slow.html", srv.addr.port());
    let body = std::env::temp_dir().join(format!("pushlab-curl-h2-{}.html", std::process::id()));
    let (ok, _, err) = run(
        "curl",
        vec![
            "-skv".into(),
            "--http2".into(),
            "-o".into(),
            body.display().to_string(),
            url,
        ],
    )
    .await;
    srv.shutdown().await;
    assert!(ok, "curl failed: {err}");
    let lines: Vec<&str> = err.lines().collect();
    let hint = lines
        .iter()
        .position(|l| l.starts_with("< HTTP/2 103"))
        .unwrap_or_else(|| panic!("no 103:\n{err}"));
    let done = lines
        .iter()
        .position(|l| l.starts_with("< HTTP/2 200"))
        .unwrap_or_else(|| panic!("no 200:\n{err}"));
    assert!(hint < done);
    let links = lines[hint..done]
        .iter()
        .filter(|l| l.starts_with("< link: "))
        .count();
    assert_eq!(links, 5, "{err}");
    let got = std::fs::read(&body).unwrap();
    let _ = std::fs::remove_file(&body);
    assert_eq!(sha256_hex(&got), demo_sha("/slow.html"));
}

fn h2py(args: &[String]) -> serde_json::Value {
    let mut all: Vec<String> = vec!["--insecure".into(), "--json".into()];
    all.extend_from_slice(args);
    venv_json("h2_client.py", &all)
}

/// hyper-h2: push-all delivers every subresource byte-exact, each pushed
/// response's HEADERS after the parent's last frame; with push disabled
/// nothing is promised; a cancelled push stops and the rest complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_h2_pushes_refusal_and_cancel() {
    if !require(
        "hyper-h2 (.venv)",
        venv_python().is_some(),
        "hyper_h2_pushes_refusal_and_cancel",
    ) {
        return;
    }
    let srv = server(with_policy("push-all")).await;
    let url = format!("https://127.0.0.1:{}/", srv.addr.port());
    let order = Site::demo().graph().evaluation_order("/index.html");

    let u = url.clone();
    let r = tokio::task::spawn_blocking(move || h2py(&[u]))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r:#}");
    let req = &r["requests"][0];
    assert_eq!(req["sha256"], demo_sha("/"));
    let pushes = r["pushes"].as_array().unwrap();
    let paths: Vec<&str> = pushes.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, order);
    for p in pushes {
        let path = p["path"].as_str().unwrap();
        assert_eq!(p["complete"], true, "{path}");
        assert_eq!(p["sha256"], demo_sha(path), "{path} byte-exact");
        assert_eq!(p["before_final_headers"], true, "{path} promised first");
        assert!(
            p["headers_seq"].as_u64() > req["end_seq"].as_u64(),
            "{path}: pushed HEADERS before the parent's end"
        );
    }

    let u = url.clone();
    let r = tokio::task::spawn_blocking(move || h2py(&["--no-push".into(), u]))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r:#}");
    assert!(r["pushes"].as_array().unwrap().is_empty(), "{r:#}");
    assert_eq!(r["requests"][0]["sha256"], demo_sha("/"));

    // h2 0.4.20 takes a RST_STREAM for a pushed stream whose HEADERS it has
    // queued but not yet written for one on an idle stream and closes the
    // connection (GOAWAY PROTOCOL_ERROR, last stream 1); pushlab narrows that
    // window (proto-notes/http2.md) but cannot close it. Such a run is
    // reported and played again, at most twice; any other outcome counts.
    let mut attempt = 0;
    let r = loop {
        let u = url.clone();
        let r =
            tokio::task::spawn_blocking(move || h2py(&["--cancel-push".into(), "hero".into(), u]))
                .await
                .unwrap();
        let h2_race = r["error"]
            .as_str()
            .is_some_and(|e| e.contains("GOAWAY (PROTOCOL_ERROR, last_stream_id 1)"));
        attempt += 1;
        if h2_race && attempt < 3 {
            eprintln!(
                "NOTE: h2's RST_STREAM-on-pending-open race closed the connection \
                 (attempt {attempt}); playing the cancel case again"
            );
            continue;
        }
        break r;
    };
    assert_eq!(r["ok"], true, "{r:#}");
    for p in r["pushes"].as_array().unwrap() {
        let path = p["path"].as_str().unwrap();
        if path.contains("hero") {
            assert_eq!(p["cancelled"], true);
        } else {
            assert_eq!(p["sha256"], demo_sha(path), "{path} byte-exact");
        }
    }
    srv.shutdown().await;
}

/// h2load: 20,000 requests, 50 connections, 10 streams each, no failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_has_no_failures() {
    if !require("h2load", have("h2load"), "h2load_has_no_failures") {
        return;
    }
    let srv = server(ServeOptions::default()).await;
    let url = format!("https://127.0.0.1:{}/", srv.addr.port());
    let args = ["-n", "20000", "-c", "50", "-m", "10", &url]
        .map(String::from)
        .to_vec();
    let (ok, out, err) = run("h2load", args).await;
    let failed = srv.stats.failed.load(std::sync::atomic::Ordering::Relaxed);
    srv.shutdown().await;
    assert!(ok, "h2load failed: {err}\n{out}");
    assert!(
        out.contains("20000 succeeded, 0 failed, 0 errored, 0 timeout"),
        "{out}"
    );
    assert!(out.contains("status codes: 20000 2xx"), "{out}");
    assert_eq!(failed, 0, "server-side failures");
}
