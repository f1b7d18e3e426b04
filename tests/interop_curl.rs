//! Interop with libcurl over HTTP/3 (curl_cffi's bundled libcurl with
//! ngtcp2 and nghttp3, through `interop/curl_h3.py`): pages load normally
//! whatever the push policy (libcurl never allows push), and the 103 Early
//! Hints are seen before the final response.

mod common;

use common::*;
use pushlab::config::{SchedulerMode, ServeOptions};

fn curl(urls: &[String]) -> serde_json::Value {
    let mut all = vec!["--insecure".to_string()];
    all.extend_from_slice(urls);
    venv_json("curl_h3.py", &all)
}

/// Under every push policy, and with the queue off, libcurl fetches the
/// demo page and its stylesheet over HTTP/3; under the hinting policies it
/// sees one 103 with five Link headers before the 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_loads_pages_and_sees_hints() {
    if !require(
        "curl_cffi (.venv)",
        venv_python().is_some(),
        "curl_loads_pages_and_sees_hints",
    ) {
        return;
    }
    for (policy, off) in [
        ("none", false),
        ("push-all", false),
        ("preload", false),
        ("push-preload", false),
        ("preload", true),
    ] {
        let srv = server(ServeOptions {
            policy: pushlab::push::policy_by_name(policy).unwrap(),
            mode: if off {
                SchedulerMode::Off
            } else {
                ServeOptions::default().mode
            },
            ..ServeOptions::default()
        })
        .await;
        let base = format!("https://127.0.0.1:{}", srv.addr.port());
        let urls = vec![format!("{base}/"), format!("{base}/css/style.css")];
        let report = tokio::task::spawn_blocking(move || curl(&urls))
            .await
            .unwrap();
        for r in report.as_array().unwrap() {
            assert_eq!(r["error"], serde_json::Value::Null, "{policy}: {r:#}");
            assert_eq!(r["status"], 200);
            assert_eq!(r["http3"], true);
        }
        let doc = &report[0];
        let statuses: Vec<&str> = doc["status_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().trim())
            .collect();
        if policy.contains("preload") {
            assert_eq!(statuses, vec!["HTTP/3 103", "HTTP/3 200"], "{policy}");
            assert_eq!(doc["link_headers"].as_array().unwrap().len(), 5);
        } else {
            assert_eq!(statuses, vec!["HTTP/3 200"], "{policy}");
        }
        srv.shutdown().await;
    }
}
