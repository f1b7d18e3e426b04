//! `pushlab compare --preset browser-validation --quick` end to end: the
//! demo page over LTE, HTTP/2 and HTTP/3, loaded twice each by the emulated
//! browser and by headless Chromium inside the link emulator's client
//! namespace, with the CPU model calibrated to Chromium first. Checks that
//! the pipeline completes and that every field is there for both browsers
//! (load, render-ready or FCP, per-resource times and protocols, the
//! validation table and its summary line, the calibration); accuracy is
//! reported by the preset, not tested here. Needs root, node, Chromium and
//! playwright-core.

mod common;

use std::process::Command;

use common::*;

fn chromium_ready(test: &str) -> bool {
    require_root(test)
        && require(
            "chromium",
            std::path::Path::new("/usr/bin/chromium").exists(),
            test,
        )
        && require("node", have("node"), test)
        && require(
            "playwright-core (interop/node_modules)",
            root().join("interop/node_modules/playwright-core").exists(),
            test,
        )
}

#[test]
fn quick_validation_has_every_field_for_both_browsers() {
    if !chromium_ready("quick_validation_has_every_field_for_both_browsers") {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-validation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args([
            "compare",
            "--preset",
            "browser-validation",
            "--quick",
            "--runs",
            "2",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).unwrap()).unwrap();
    let configs = json["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 4, "h2/h3 x emulated/chromium");
    for c in configs {
        assert!(
            c["browser"] == "emulated" || c["browser"] == "chromium",
            "{c}"
        );
    }
    for row in json["rows"].as_array().unwrap() {
        assert_eq!(row["runs"], 2, "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        assert!(row["load_ms"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["render_ms"].as_f64().unwrap() > 0.0, "{row}");
    }
    // Every run: load, render-ready and FCP; every resource has its times;
    // Chromium's say which protocol carried them (the document's is the
    // configuration's).
    for r in json["runs"].as_array().unwrap() {
        let c = &configs[r["config"].as_u64().unwrap() as usize];
        let load = &r["load"];
        assert!(load["error"].is_null(), "{load}");
        for field in ["load_ms", "render_ready_ms", "fcp_ms"] {
            assert!(load[field].as_f64().unwrap() > 0.0, "{field}: {load}");
        }
        let resources = load["resources"].as_array().unwrap();
        assert!(resources.len() >= 10, "{}", resources.len());
        for res in resources {
            for field in ["requested_ms", "first_byte_ms", "done_ms"] {
                assert!(res[field].as_f64().is_some(), "{field}: {res}");
            }
        }
        if c["browser"] == "chromium" {
            let proto = if c["protocol"] == "H3" { "h3" } else { "h2" };
            assert_eq!(resources[0]["protocol"], proto, "{load}");
            assert!(load["lcp_ms"].as_f64().is_some(), "{load}");
            assert!(load["load_event_ms"].as_f64().is_some(), "{load}");
            // Its net log was written and read: the document's request has
            // its network times (its send is time zero), and so has every
            // resource that crossed the network.
            assert_eq!(resources[0]["net_log"]["sent_ms"], 0.0, "{load}");
            for res in resources.iter().filter(|x| x["source"] == "Network") {
                assert!(res["net_log"]["sent_ms"].as_f64().is_some(), "{res}");
            }
        } else {
            assert!(load["speed_index_ms"].as_f64().is_some(), "{load}");
        }
    }
    // The CPU model was calibrated on the link, and the calibration says
    // from what.
    let cal = &json["cpu_calibration"][0];
    assert_eq!(cal["profile"], "lte", "{cal}");
    assert!(cal["loads"].as_u64().unwrap() >= 2, "{cal}");
    assert!(!cal["samples"]["commit_ms"].as_array().unwrap().is_empty());
    // The validation table: one row per protocol, its columns filled, and
    // the summary line.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("validation.json")).unwrap())
            .unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert!(row["load_err"].as_f64().is_some(), "{row}");
        assert!(row["fcp_err"].as_f64().is_some(), "{row}");
        assert!(row["request_err_rtt"][0].as_f64().is_some(), "{row}");
        assert!(row["done_err_rtt"][1].as_f64().is_some(), "{row}");
        assert!(row["order"][1].as_u64().unwrap() > 0, "{row}");
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(
        table.contains("Median load-time error over 2 rows"),
        "{table}"
    );
    assert!(table.contains("| chromium |"), "{table}");
    let md = std::fs::read_to_string(out.join("validation.md")).unwrap();
    assert!(md.contains("/css/style.css"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}
