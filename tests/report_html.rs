//! The HTML report (index.html) of `pushlab compare`: one self-contained
//! page that headless Chromium opens without a console error or a request
//! beyond the file itself, with the summary table (a row per
//! configuration), every plot inline, the HTTP/2 and HTTP/3 waterfalls of
//! each configuration side by side, and long labels drawn whole (no SVG
//! text outside its plot, no ellipsis). A screenshot is written next to
//! the report. Needs root (the emulated link) and Chromium.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

#[test]
fn report_opens_in_chromium_without_errors() {
    let test = "report_opens_in_chromium_without_errors";
    if !require_root(test)
        || !require(
            "chromium",
            std::path::Path::new("/usr/bin/chromium").exists(),
            test,
        )
        || !require("node", have("node"), test)
        || !require(
            "playwright-core (interop/node_modules)",
            root().join("interop/node_modules/playwright-core").exists(),
            test,
        )
    {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // A policy whose label is longer than any plot's label column was.
    let long = "list:/css/style.css,/js/app.js,/fonts/body.woff2,/img/hero.png,/img/thumb-1.png";
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["compare", "--policy", "none", "--policy", long])
        .args(["--profiles", "lte", "--runs", "2", "--out"])
        .arg(&out)
        .output()
        .expect("compare runs");
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let shot = out.join("report.png");
    let check = Command::new("node")
        .arg(root().join("interop/report_check.js"))
        .arg("--file")
        .arg(out.join("index.html"))
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&check.stdout);
    let found: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "report_check output is not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&check.stderr)
        )
    });
    assert!(check.status.success(), "{found:#}");
    assert_eq!(found["errors"], serde_json::json!([]), "{found:#}");
    assert_eq!(
        found["requests"].as_array().map(Vec::len),
        Some(1),
        "only the file itself"
    );
    assert_eq!(
        found["cut_text"],
        serde_json::json!([]),
        "text outside its plot"
    );
    // h2 and h3 x none and the list policy.
    assert_eq!(found["table_rows"], 4, "{found:#}");
    assert_eq!(found["waterfall_sections"], 2, "{found:#}");
    // load, CDF, render, waterfall, time series, and 4 waterfalls.
    assert!(found["svgs"].as_u64() >= Some(9), "{found:#}");
    let page = found["text"].as_str().expect("text");
    assert!(page.contains(&format!("h3 /index.html {long} 3g cold")) || page.contains(long));
    assert!(!page.contains('…'), "an ellipsis: a label was cut");
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(
        html.contains(&format!("h2 /index.html {long} lte cold")),
        "full labels"
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "a real screenshot"
    );
    let _ = std::fs::remove_dir_all(&out);
}
