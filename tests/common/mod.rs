//! Helpers shared by the integration tests: in-process servers, clients,
//! and the loud-skip rule for tests that need tools or root.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pushlab::client::h3::{Client, ClientOptions};
use pushlab::config::ServeOptions;
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::tls::Identity;

/// Starts an in-process server on a free loopback port.
pub async fn server(h3: ServeOptions) -> RunningServer {
    RunningServer::start(ServerOptions::new(
        "127.0.0.1:0".parse().expect("address"),
        Identity::self_signed().expect("certificate"),
        h3,
    ))
    .await
    .expect("server starts")
}

/// Client options for tests: accept the self-signed certificate.
pub fn opts() -> ClientOptions {
    ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    }
}

/// Connects to a test server.
pub async fn client(addr: SocketAddr, opts: ClientOptions) -> Client {
    Client::connect("127.0.0.1", addr.port(), opts)
        .await
        .expect("client connects")
}

/// Connects and wraps in an Arc (for concurrent reads).
pub async fn shared_client(addr: SocketAddr, opts: ClientOptions) -> Arc<Client> {
    Arc::new(client(addr, opts).await)
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when running under CI (where every dependency must be present).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Checks that an external tool exists. Outside CI a missing tool skips the
/// test loudly; in CI it fails the test (the test command installs tools).
pub fn require(what: &str, present: bool, test: &str) -> bool {
    if present {
        return true;
    }
    let msg = format!(
        "SKIPPED {test}: {what} is not installed; run `interop/install-deps.sh` (the test command does)"
    );
    if in_ci() {
        panic!("{msg} -- but CI=true, where it must be present");
    }
    eprintln!("\n*** {msg} ***\n");
    false
}

/// Whether a command is on PATH.
pub fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The project's Python venv interpreter, if set up.
pub fn venv_python() -> Option<PathBuf> {
    let p = root().join(".venv/bin/python");
    p.exists().then_some(p)
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Serialises timing-sensitive tests within one test binary, so that they
/// do not compete for the two cores with each other.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Whether the test may set up emulated links (root). Outside CI a
/// non-root run skips the test loudly; under CI=true it fails.
pub fn require_root(test: &str) -> bool {
    match pushlab::netem::available() {
        Ok(()) => true,
        Err(e) => {
            let msg = format!("SKIPPED {test}: needs root for network namespaces and TUN ({e})");
            if in_ci() {
                panic!("{msg} -- but CI=true, where tests run as root");
            }
            eprintln!("\n*** {msg} ***\n");
            false
        }
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of a demo-site file (`/` is `/index.html`).
pub fn demo_sha(path: &str) -> String {
    let path = if path == "/" { "/index.html" } else { path };
    match &pushlab::site::Site::demo()
        .get(path)
        .unwrap_or_else(|| panic!("{path} is not in the demo site"))
        .body
    {
        pushlab::site::Body::Static(b) => sha256_hex(b),
        _ => panic!("{path} is not a static file"),
    }
}

/// Server options with a push policy by name.
pub fn with_policy(name: &str) -> ServeOptions {
    ServeOptions {
        policy: pushlab::push::policy_by_name(name).expect("policy"),
        ..ServeOptions::default()
    }
}

/// A header's value in a response's header list.
pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `link` values of a header list.
pub fn links(h: &[(String, String)]) -> Vec<&str> {
    h.iter()
        .filter(|(n, _)| n == "link")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Runs a Python interop driver from `interop/` with the venv's
/// interpreter and returns the JSON it prints.
pub fn venv_json(script: &str, args: &[String]) -> serde_json::Value {
    let py = venv_python().expect("venv checked by the caller");
    let out = std::process::Command::new(py)
        .arg(root().join("interop").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{script} runs: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{script} output is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Runs `f` to completion on a fresh single-threaded runtime on this thread
/// (for code run inside an emulated link's client namespace).
pub fn block_on_here<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}
