//! Preemption reaches the bottleneck (issue 11): on an emulated link
//! (1.6 Mbit/s down, 75 ms each way, a 1000-packet queue), a 20 KB document
//! thinks for 100 ms while push-all pushes 1 MB. With the in-flight limit
//! for preemptible bytes (`bdp-125`, the default), when the document becomes
//! ready the pushed bytes ahead of it (in the emulator's bottleneck queue
//! plus what quinn holds unsent) are a few packets; without it (`off`)
//! quinn's buffer alone holds tens of packets of pushes ahead of it. The
//! same for HTTP/2 with the TCP in-flight gate (`--tcp-inflight bdp-125`)
//! against kernel defaults, where the kernel's unsent bytes are what stands
//! ahead. The checks count packets and bytes from the emulator and the
//! server, not time. Needs root.

mod common;

use std::process::Command;

use common::*;

/// A few packets: what may stand ahead of a ready document.
const FEW: f64 = 8.0 * 1200.0;

/// Runs the quick preemption sweep (issue 11's link, 1000-packet queue,
/// 100 ms of think time), two runs of the configurations whose labels
/// contain any of `only`, into a fresh directory named after `tag`.
/// Returns the directory and runs.json, after checking that two
/// configurations ran.
fn quick_sweep(tag: &str, only: &[&str]) -> (std::path::PathBuf, serde_json::Value) {
    let out = std::env::temp_dir().join(format!("pushlab-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushlab"));
    cmd.args([
        "compare",
        "--preset",
        "preemption-sweep",
        "--quick",
        "--runs",
        "2",
    ]);
    for o in only {
        cmd.args(["--only", o]);
    }
    let run = cmd.arg("--out").arg(&out).output().unwrap();
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
    (out, json)
}

#[test]
fn pushed_bytes_ahead_of_a_ready_document_are_a_few_packets() {
    if !require_root("pushed_bytes_ahead_of_a_ready_document_are_a_few_packets") {
        return;
    }
    let (out, json) = quick_sweep("preempt", &[", in-flight"]);
    let configs = json["configs"].as_array().unwrap();
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

/// HTTP/2: just before the document becomes ready, the pushed bytes that
/// nothing can reorder any more (the kernel's unsent bytes, h2's and the
/// write buffer's, and the emulator's bottleneck queue) are a few packets
/// with the gate, and a send buffer's worth with kernel defaults. The last
/// trace sample before ready is used: after it, the document's own bytes
/// are in the kernel too.
#[test]
fn http2_gate_keeps_pushed_bytes_out_of_the_kernel() {
    if !require_root("http2_gate_keeps_pushed_bytes_out_of_the_kernel") {
        return;
    }
    let (out, json) = quick_sweep("preempt-h2", &["TCP in-flight", "kernel defaults"]);
    let configs = json["configs"].as_array().unwrap();
    let ready: std::collections::HashMap<(u64, u64), f64> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["load"]["error"].is_null(), "{}", r["load"]["error"]);
            let key = (r["config"].as_u64().unwrap(), r["run"].as_u64().unwrap());
            (
                key,
                r["doc_ready_ms"].as_f64().expect("document ready time"),
            )
        })
        .collect();
    let traces = std::fs::read_to_string(out.join("traces.jsonl")).unwrap();
    let mut ahead: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for line in traces.lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = (t["config"].as_u64().unwrap(), t["run"].as_u64().unwrap());
        let ready = ready[&key];
        let before = t["trace"]
            .as_array()
            .unwrap()
            .iter()
            .rfind(|p| p["t_ms"].as_f64().unwrap() < ready && p["conn"].is_object())
            .unwrap_or_else(|| panic!("no sample before ready in {key:?}"));
        let conn = &before["conn"];
        let unsent = conn["transport_unsent"].as_f64().expect("TCP_INFO notsent")
            + conn["writer_held"].as_f64().unwrap_or(0.0);
        let bytes = before["link_queue_bytes"].as_f64().unwrap() + unsent;
        let label = configs[key.0 as usize]["variant"]
            .as_str()
            .unwrap()
            .to_string();
        ahead.entry(label).or_default().push(bytes);
    }
    let gated = &ahead["push-all, TCP in-flight bdp-125"];
    let kernel = &ahead["push-all, kernel defaults"];
    assert_eq!((gated.len(), kernel.len()), (2, 2));
    assert!(
        gated.iter().all(|a| *a <= FEW),
        "with the gate, {gated:?} bytes stood ahead of the ready document (kernel defaults: {kernel:?})"
    );
    assert!(
        kernel.iter().all(|a| *a > 4.0 * FEW),
        "with kernel defaults only {kernel:?} bytes stood ahead: the check would not see head-of-line blocking"
    );
    let _ = std::fs::remove_dir_all(&out);
}
