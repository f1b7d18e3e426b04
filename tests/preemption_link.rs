//! Preemption reaches the bottleneck (issue 11): on an emulated link
//! (1.6 Mbit/s down, 75 ms each way, a 1000-packet queue), a 20 KB document
//! thinks for 100 ms while push-all pushes 1 MB. With the in-flight limit
//! for preemptible bytes (`bdp-125`, the default), when the document becomes
//! ready the pushed bytes ahead of it (in the emulator's bottleneck queue
//! plus what quinn holds unsent) are a few packets; without it (`off`)
//! quinn's buffer alone holds tens of packets of pushes ahead of it. The
//! check counts packets and bytes from the emulator and the server, not
//! time. Needs root.

mod common;

use std::process::Command;

use common::*;

/// A few packets: what may stand ahead of a ready document.
const FEW: f64 = 8.0 * 1200.0;

#[test]
fn pushed_bytes_ahead_of_a_ready_document_are_a_few_packets() {
    if !require_root("pushed_bytes_ahead_of_a_ready_document_are_a_few_packets") {
        return;
    }
    let out = std::env::temp_dir().join(format!("pushlab-preempt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args([
            "compare",
            "--preset",
            "preemption-sweep",
            "--quick",
            "--runs",
            "2",
            "--only",
            "in-flight",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).unwrap()).unwrap();
    let configs = json["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 2, "{configs:?}");
    // Bytes ahead of the document when it became ready, per run.
    let ahead = |variant: &str| -> Vec<f64> {
        let ci = configs
            .iter()
            .position(|c| c["variant"].as_str().unwrap().contains(variant))
            .unwrap_or_else(|| panic!("{variant} not run"));
        json["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["config"] == ci)
            .map(|r| {
                assert!(
                    r["load"]["error"].is_null(),
                    "{variant}: {}",
                    r["load"]["error"]
                );
                let at = &r["at_ready"];
                assert!(at.is_object(), "{variant}: no sample at ready");
                let link = at["link_queue_bytes"].as_f64().unwrap();
                let conn = &at["conn"];
                // quinn's unsent bytes when its window is full (see
                // ConnState::transport_held_unsent).
                let held = if conn["transport_full"] == true {
                    let w = conn["send_window"].as_f64().unwrap_or(0.0);
                    let f = conn["in_flight"].as_f64().unwrap_or(0.0);
                    (w - f).max(0.0)
                } else {
                    0.0
                };
                link + held
            })
            .collect()
    };
    let limited = ahead("bdp-125");
    let off = ahead("in-flight off");
    assert_eq!(limited.len(), 2);
    for a in &limited {
        assert!(
            *a <= FEW,
            "with the in-flight limit, {a} bytes of pushes stood ahead of the ready document (runs: {limited:?}, off: {off:?})"
        );
    }
    // The control: without the limit the same check fails, so it measures
    // something.
    assert!(
        off.iter().all(|a| *a > 2.0 * FEW),
        "without the limit only {off:?} bytes stood ahead: the check would not see head-of-line blocking"
    );
    // The trace behind it is written.
    let traces = std::fs::read_to_string(out.join("traces.jsonl")).unwrap();
    assert_eq!(traces.lines().count(), 4);
    let svg = std::fs::read_to_string(out.join("timeseries.svg")).unwrap();
    assert!(svg.contains("bottleneck queue") && svg.trim_end().ends_with("</svg>"));
    let _ = std::fs::remove_dir_all(&out);
}
