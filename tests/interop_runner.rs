//! The QUIC interop runner's server contract (`interop/runner/`), played
//! here without Docker: `run_endpoint.sh` exits 127 for what pushlab does
//! not support and for the client role, and `play.py` passes every
//! supported server test case with real clients (aioquic, gtlsclient).

mod common;

use std::process::Command;

use common::*;

#[test]
fn endpoint_contract_and_play() {
    let script = root().join("interop/runner/run_endpoint.sh");
    for (role, case) in [
        ("client", "handshake"),
        ("server", "v2"),
        ("server", "nonsense"),
    ] {
        let st = Command::new(&script)
            .env("ROLE", role)
            .env("TESTCASE", case)
            .env("PUSHLAB", env!("CARGO_BIN_EXE_pushlab"))
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(127), "{role} {case}");
    }
    if !require(
        "aioquic (.venv)",
        venv_python().is_some(),
        "endpoint_contract_and_play",
    ) || !require(
        "gtlsclient",
        have("gtlsclient"),
        "endpoint_contract_and_play",
    ) || !require("openssl", have("openssl"), "endpoint_contract_and_play")
    {
        return;
    }
    let mut cases = "handshake,transfer,multiplexing,http3,retry,resumption,zerortt,chacha20,keyupdate,amplificationlimit,rebind-port".to_string();
    if pushlab::netem::available().is_ok() {
        cases.push_str(",transferloss");
    }
    let out = Command::new(venv_python().unwrap())
        .arg(root().join("interop/runner/play.py"))
        .args([
            "--json",
            "--cases",
            &cases,
            "--pushlab",
            env!("CARGO_BIN_EXE_pushlab"),
        ])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), cases.split(',').count());
    for r in rows {
        assert_eq!(r["result"], "pass", "{r:#}");
    }
}
