//! `pushlab bench h3`: throughput, small-response rate and preemption of
//! the HTTP/3 server, with the send queue on and off, in one run; `bench
//! push`: page loads under each push policy; `bench h2` ([`h2`]): HTTP/2
//! requests per second against pushlab and nginx; `bench netem` ([`netem`]):
//! the link emulator's accuracy and capacity.
//!
//! Servers run as child processes (`pushlab serve`), clients in this
//! process; every figure is printed with the configuration that made it.

pub mod faults;
pub mod h2;
pub mod load;
pub mod netem;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::h3::{Client, ClientOptions};
use crate::summary::upper_median;

/// Errors of the benchmark harness.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Starting or talking to a server process failed.
    #[error("server process: {0}")]
    Server(String),
    /// A client failed.
    #[error("client: {0}")]
    Client(#[from] crate::client::ClientError),
    /// A response was not what was asked for.
    #[error("{0}")]
    Check(String),
}

/// A `pushlab serve` child process.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its certificate's SPKI hash.
    pub spki: String,
    /// Its log file (stderr).
    pub log: PathBuf,
    /// The `memory:` lines it printed (SIGUSR1), and a wake-up for each.
    memory: Arc<(std::sync::Mutex<Vec<String>>, tokio::sync::Notify)>,
}

impl ServerProcess {
    /// Starts `exe serve --addr 127.0.0.1:0 ARGS...` and waits until it listens.
    /// With `cpu`, the server is pinned to that CPU (`taskset`).
    pub async fn spawn(
        exe: &Path,
        args: &[String],
        log: PathBuf,
        cpu: Option<usize>,
    ) -> Result<Self, BenchError> {
        let level = std::env::var("PUSHLAB_SERVER_LOG").unwrap_or_else(|_| "warn".into());
        Self::spawn_logging(exe, args, log, cpu, &level).await
    }

    /// Like [`ServerProcess::spawn`], with the server's `RUST_LOG` level.
    pub async fn spawn_logging(
        exe: &Path,
        args: &[String],
        log: PathBuf,
        cpu: Option<usize>,
        level: &str,
    ) -> Result<Self, BenchError> {
        let err = |e: std::io::Error| BenchError::Server(e.to_string());
        let logf = std::fs::File::create(&log).map_err(err)?;
        let mut cmd = match cpu {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c")
                    .arg(c.to_string())
                    .arg(exe)
                    .arg("--threads")
                    .arg("1");
                cmd
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .args(args)
            .env("RUST_LOG", level)
            .stdout(std::process::Stdio::piped())
            .stderr(logf)
            .kill_on_drop(true)
            .spawn()
            .map_err(err)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Server("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        let mut spki = None;
        let deadline = tokio::time::sleep(Duration::from_secs(20));
        tokio::pin!(deadline);
        while addr.is_none() || spki.is_none() {
            tokio::select! {
                line = lines.next_line() => {
                    let Some(line) = line.map_err(err)? else {
                        return Err(BenchError::Server(format!("server exited; see {}", log.display())));
                    };
                    if let Some(rest) = line.split("https://").nth(1) {
                        if addr.is_none() && line.contains("serving") {
                            let hostport = rest.split('/').next().unwrap_or("");
                            addr = hostport.parse().ok();
                        }
                    }
                    if let Some(s) = line.strip_prefix("certificate SPKI SHA-256 (base64): ") {
                        spki = Some(s.trim().to_string());
                    }
                }
                _ = &mut deadline => return Err(BenchError::Server("server did not start in 20 s".into())),
            }
        }
        // Keep draining stdout so the child never blocks on it; keep its
        // memory reports.
        let memory = Arc::new((
            std::sync::Mutex::new(Vec::new()),
            tokio::sync::Notify::new(),
        ));
        let reports = memory.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("memory: ") {
                    if let Ok(mut v) = reports.0.lock() {
                        v.push(line);
                    }
                    reports.1.notify_waiters();
                }
            }
        });
        Ok(ServerProcess {
            child,
            addr: addr.ok_or_else(|| BenchError::Server("no address".into()))?,
            spki: spki.unwrap_or_default(),
            log,
            memory,
        })
    }

    /// The server's process ID.
    pub fn pid(&self) -> Result<u32, BenchError> {
        self.child
            .id()
            .ok_or_else(|| BenchError::Server("the server has exited".into()))
    }

    /// The server's memory report (SIGUSR1).
    pub async fn memory(&self) -> Result<crate::memory::Report, BenchError> {
        let pid = self.pid()?;
        let seen = self.memory.0.lock().map(|v| v.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let woken = self.memory.1.notified();
            let _ = Command::new("kill")
                .arg("-USR1")
                .arg(pid.to_string())
                .status()
                .await;
            let _ = tokio::time::timeout(Duration::from_millis(500), woken).await;
            if let Some(r) = self
                .memory
                .0
                .lock()
                .ok()
                .and_then(|v| v.get(seen).and_then(|l| crate::memory::Report::parse(l)))
            {
                return Ok(r);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Server(format!(
                    "no memory report from the server (pid {pid}) in 10 s"
                )));
            }
        }
    }

    /// Ctrl-C (SIGINT) the server and wait for it; kill it after 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Which measurement.
    pub test: String,
    /// `--scheduler` value.
    pub scheduler: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// All runs.
    pub runs: Vec<f64>,
    /// Notes (second figure, checks).
    pub note: String,
}

/// The benchmarks' median: the upper middle run (a measured one), NaN for none.
fn median(v: &[f64]) -> f64 {
    upper_median(v).unwrap_or(f64::NAN)
}

fn client_opts() -> ClientOptions {
    ClientOptions {
        insecure: true,
        hash_bodies: false,
        ..ClientOptions::default()
    }
}

async fn bulk(addr: SocketAddr, size: u64) -> Result<f64, BenchError> {
    let client = Client::connect("127.0.0.1", addr.port(), client_opts()).await?;
    let t = Instant::now();
    let p = client
        .send_request("GET", &format!("/bytes/{size}"), &[])
        .await?;
    let r = client.read_response(p).await;
    let secs = t.elapsed().as_secs_f64();
    client.close().await;
    if r.body_len != size || r.error.is_some() {
        return Err(BenchError::Check(format!(
            "bulk: got {} bytes, error {:?}",
            r.body_len, r.error
        )));
    }
    Ok(size as f64 * 8.0 / secs / 1e6)
}

async fn small(
    addr: SocketAddr,
    conns: usize,
    streams: usize,
    rounds: usize,
) -> Result<f64, BenchError> {
    let mut clients = Vec::new();
    for _ in 0..conns {
        clients.push(Arc::new(
            Client::connect("127.0.0.1", addr.port(), client_opts()).await?,
        ));
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in &clients {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            for _ in 0..rounds {
                let mut pend = Vec::new();
                for _ in 0..streams {
                    pend.push(c.send_request("GET", "/bytes/1000", &[]).await?);
                }
                for p in pend {
                    let r = c.read_response(p).await;
                    if r.status == 200 && r.body_len == 1000 {
                        done += 1;
                    }
                }
            }
            Ok::<usize, BenchError>(done)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.map_err(|e| BenchError::Check(e.to_string()))??;
    }
    let secs = t.elapsed().as_secs_f64();
    for c in clients {
        if let Ok(c) = Arc::try_unwrap(c) {
            c.close().await;
        }
    }
    let want = conns * streams * rounds;
    if done != want {
        return Err(BenchError::Check(format!(
            "small: {done} of {want} requests succeeded"
        )));
    }
    Ok(done as f64 / secs)
}

/// Result of one preemption run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Preempt {
    /// Urgent response completion, ms after its request.
    pub urgent_ms: f64,
    /// Large response completion, ms after its request.
    pub large_ms: f64,
    /// Urgent finished before the large one.
    pub urgent_first: bool,
}

async fn preempt(
    addr: SocketAddr,
    large: u64,
    rate: u64,
    window: u64,
    delay: Duration,
) -> Result<Preempt, BenchError> {
    let opts = ClientOptions {
        receive_window: Some(window),
        stream_receive_window: Some(large.max(window)),
        read_rate: Some(rate),
        ..client_opts()
    };
    let client = Arc::new(Client::connect("127.0.0.1", addr.port(), opts).await?);
    let big = client
        .send_request(
            "GET",
            &format!("/bytes/{large}"),
            &[("priority".into(), "u=7".into())],
        )
        .await?;
    let c2 = client.clone();
    let big_task = tokio::spawn(async move { c2.read_response(big).await });
    tokio::time::sleep(delay).await;
    let urgent = client
        .send_request("GET", "/bytes/10000", &[("priority".into(), "u=0".into())])
        .await?;
    // The urgent response is read without pacing.
    let c3 = client.clone();
    let urgent_task = tokio::spawn(async move { c3.read_response(urgent).await });
    let u = urgent_task
        .await
        .map_err(|e| BenchError::Check(e.to_string()))?;
    let b = big_task
        .await
        .map_err(|e| BenchError::Check(e.to_string()))?;
    if let Ok(c) = Arc::try_unwrap(client) {
        c.close().await;
    }
    if u.body_len != 10_000 || b.body_len != large {
        return Err(BenchError::Check(format!(
            "preempt: urgent {} bytes, large {} bytes ({:?} {:?})",
            u.body_len, b.body_len, u.error, b.error
        )));
    }
    let urgent_ms = u.done_ms.unwrap_or(f64::NAN);
    let large_ms = b.done_ms.unwrap_or(f64::NAN);
    let urgent_end = u.sent_ms + urgent_ms;
    let large_end = b.sent_ms + large_ms;
    Ok(Preempt {
        urgent_ms,
        large_ms,
        urgent_first: urgent_end < large_end,
    })
}

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The pushlab binary to run as server.
    pub exe: PathBuf,
    /// Fewer and smaller runs.
    pub quick: bool,
    /// Runs per configuration.
    pub runs: usize,
    /// Where server logs go.
    pub log_dir: PathBuf,
    /// Extra `pushlab serve` arguments for the servers `bench load` starts
    /// (an ablation: `--udp-buffer 0`, `--stream-buffer 32KiB`, ...).
    pub server_args: Vec<String>,
    /// load: the servers' `--stream-buffer`, against which the slow-reader
    /// bound is checked.
    pub stream_buffer: u64,
    /// faults: write every connection's qlog (server and client) under
    /// this folder, one subfolder per case.
    pub qlog_dir: Option<PathBuf>,
    /// faults: run only these cases (all when empty).
    pub cases: Vec<String>,
    /// faults: transfers per case instead of the case's own count.
    pub transfers: Option<usize>,
}

/// Pins this process to `cpu` with `taskset` (the client side of a run).
fn pin_self(cpu: usize) -> bool {
    std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether servers and client get a core each.
pub fn pinning_possible() -> bool {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        >= 2
        && std::process::Command::new("taskset")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

fn row(test: String, sched: &str, v: Vec<f64>, unit: &str, note: String) -> Row {
    let runs = v.clone();
    Row {
        test,
        scheduler: sched.into(),
        value: median(&v),
        unit: unit.into(),
        runs,
        note,
    }
}

/// Runs the HTTP/3 benchmark and returns its rows.
///
/// Runs alternate between configurations (off, on, off, on, ...) so that
/// drifts of the machine affect both alike. With two or more cores the
/// server (one worker thread) is pinned to CPU 0 and the client to CPU 1.
pub async fn run_h3(opts: &BenchOptions) -> Result<Vec<Row>, BenchError> {
    let runs = if opts.quick { 1 } else { opts.runs.max(1) };
    let bulk_size: u64 = if opts.quick { 20_000_000 } else { 100_000_000 };
    let rounds = if opts.quick { 2 } else { 10 };
    let pin = pinning_possible();
    if pin {
        pin_self(1);
    }
    let server_cpu = pin.then_some(0);
    let mut rows = Vec::new();
    std::fs::create_dir_all(&opts.log_dir).map_err(|e| BenchError::Server(e.to_string()))?;
    let scheds = ["off", "rfc9218"];
    let mut servers = Vec::new();
    for sched in scheds {
        servers.push(
            ServerProcess::spawn(
                &opts.exe,
                &[
                    "--scheduler".into(),
                    sched.into(),
                    "--max-streams".into(),
                    "200".into(),
                ],
                opts.log_dir.join(format!("bench-{sched}.log")),
                server_cpu,
            )
            .await?,
        );
    }
    let mut bulk_v = vec![Vec::new(); scheds.len()];
    let mut small_v = vec![Vec::new(); scheds.len()];
    for _ in 0..runs {
        for (i, s) in servers.iter().enumerate() {
            bulk_v[i].push(bulk(s.addr, bulk_size).await?);
        }
        for (i, s) in servers.iter().enumerate() {
            small_v[i].push(small(s.addr, 8, 100, rounds).await?);
        }
    }
    for s in servers {
        s.stop().await;
    }
    for (i, sched) in scheds.iter().enumerate() {
        rows.push(row(
            format!("bulk {} MB", bulk_size / 1_000_000),
            sched,
            bulk_v[i].clone(),
            "Mbit/s",
            String::new(),
        ));
    }
    for (i, sched) in scheds.iter().enumerate() {
        rows.push(row(
            format!("1 KB x 8 conns x 100 streams x {rounds}"),
            sched,
            small_v[i].clone(),
            "req/s",
            String::new(),
        ));
    }
    let large: u64 = if opts.quick { 5_000_000 } else { 20_000_000 };
    let rate: u64 = if opts.quick { 10_000_000 } else { 20_000_000 };
    for sched in ["rfc9218", "fifo", "round-robin", "off"] {
        let server = ServerProcess::spawn(
            &opts.exe,
            &["--scheduler".into(), sched.into()],
            opts.log_dir.join(format!("bench-preempt-{sched}.log")),
            server_cpu,
        )
        .await?;
        let mut urgent = Vec::new();
        let mut larges = Vec::new();
        let mut first = 0;
        for _ in 0..runs {
            let p = preempt(
                server.addr,
                large,
                rate,
                256 * 1024,
                Duration::from_millis(300),
            )
            .await?;
            urgent.push(p.urgent_ms);
            larges.push(p.large_ms);
            first += usize::from(p.urgent_first);
        }
        rows.push(row(
            format!(
                "preempt: u=0 10 KB during u=7 {} MB read at {} MB/s",
                large / 1_000_000,
                rate / 1_000_000
            ),
            sched,
            urgent,
            "ms",
            format!(
                "urgent first in {first}/{runs}; large done in {:.0} ms",
                median(&larges)
            ),
        ));
        server.stop().await;
    }
    Ok(rows)
}

/// A short description of the machine, for result tables.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // Count the machine's CPUs, not this process's affinity (benchmarks pin
    // themselves to one core).
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {kernel}")
}

/// Prints rows as a Markdown table.
pub fn print_table(rows: &[Row]) {
    println!("| test | scheduler | median | unit | runs | note |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let runs: Vec<String> = r.runs.iter().map(|v| format!("{v:.1}")).collect();
        println!(
            "| {} | {} | {:.1} | {} | {} | {} |",
            r.test,
            r.scheduler,
            r.value,
            r.unit,
            runs.join(", "),
            r.note
        );
    }
}

/// One page load for the push benchmark.
#[derive(Debug, Clone, Copy, Default)]
struct PageLoad {
    doc_first_byte: f64,
    doc_done: f64,
    last_push: f64,
    all_done: f64,
    pushed: usize,
    push_bytes_before_doc: u64,
}

/// Loads `page` like a minimal browser that accepts pushes: the document,
/// its pushes, then (after the document arrives) every subresource that was
/// not pushed, all on one connection. Times are ms since the request.
async fn load_page(addr: SocketAddr, page: &str, order: &[String]) -> Result<PageLoad, BenchError> {
    let client = Arc::new(
        Client::connect(
            "127.0.0.1",
            addr.port(),
            ClientOptions {
                max_push_id: Some(1000),
                ..client_opts()
            },
        )
        .await?,
    );
    let start_ms = client.elapsed_ms();
    let doc = client
        .read_response(client.send_request("GET", page, &[]).await?)
        .await;
    if doc.status != 200 {
        return Err(BenchError::Check(format!(
            "{page}: {} {:?}",
            doc.status, doc.error
        )));
    }
    let promised: Vec<String> = client.pushes().into_iter().map(|p| p.path).collect();
    let mut tasks = Vec::new();
    for p in order.iter().filter(|p| !promised.contains(p)) {
        let pending = client.send_request("GET", p, &[]).await?;
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.read_response(pending).await }));
    }
    let mut fetched_done = 0f64;
    for t in tasks {
        let r = t.await.map_err(|e| BenchError::Check(e.to_string()))?;
        if r.status != 200 {
            return Err(BenchError::Check(format!("{}: {}", r.path, r.status)));
        }
        fetched_done = fetched_done.max(r.sent_ms + r.done_ms.unwrap_or(0.0) - start_ms);
    }
    client.wait_pushes(Duration::from_secs(5)).await;
    let pushes = client.pushes();
    if pushes.iter().any(|p| !p.complete) {
        return Err(BenchError::Check("a push did not complete".into()));
    }
    let last_push = pushes.iter().filter_map(|p| p.done_ms).fold(0.0, f64::max);
    let last_push = if pushes.is_empty() {
        0.0
    } else {
        last_push - start_ms
    };
    let doc_done = doc.done_ms.unwrap_or(0.0);
    let load = PageLoad {
        doc_first_byte: doc.headers_ms.unwrap_or(0.0),
        doc_done,
        last_push,
        all_done: doc_done.max(last_push).max(fetched_done),
        pushed: pushes.len(),
        push_bytes_before_doc: doc.push_bytes_before_headers,
    };
    if let Ok(c) = Arc::try_unwrap(client) {
        c.close().await;
    }
    Ok(load)
}

/// `pushlab bench push`: for each push policy, the demo page (`/`, and
/// `/slow.html` with 300 ms think time) loaded on loopback: the document's
/// first byte, the last pushed byte, all resources loaded, and how many
/// pushed bytes arrived before the document's first byte.
pub async fn run_push(opts: &BenchOptions) -> Result<Vec<Row>, BenchError> {
    let runs = if opts.quick { 1 } else { opts.runs.max(1) };
    let site = crate::site::Site::demo();
    let order = site.graph().evaluation_order("/index.html");
    let mut rows = Vec::new();
    std::fs::create_dir_all(&opts.log_dir).map_err(|e| BenchError::Server(e.to_string()))?;
    for policy in crate::push::POLICY_NAMES {
        let log = opts.log_dir.join(format!("bench-push-{policy}.log"));
        let server = ServerProcess::spawn_logging(
            &opts.exe,
            &["--push-policy".into(), (*policy).into()],
            log.clone(),
            None,
            "warn,pushlab::request=info",
        )
        .await?;
        for page in ["/", "/slow.html"] {
            let mut loads = Vec::new();
            for _ in 0..runs {
                loads.push(load_page(server.addr, page, &order).await?);
            }
            let col = |f: fn(&PageLoad) -> f64| -> Vec<f64> { loads.iter().map(f).collect() };
            let last = loads.last().copied().unwrap_or_default();
            // The server's own count: pushed bytes handed to quinn after the
            // document had bytes queued and before its first byte went.
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let ahead = text
                .lines()
                .filter(|l| l.contains(&format!(" path={page} ")))
                .filter_map(|l| l.split(" push_bytes_ahead=").nth(1))
                .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            for (what, v) in [
                ("document first byte", col(|l| l.doc_first_byte)),
                ("last pushed byte", col(|l| l.last_push)),
                ("all resources", col(|l| l.all_done)),
            ] {
                rows.push(row(
                    format!("{page} {what}"),
                    policy,
                    v,
                    "ms",
                    format!(
                        "{} pushed; pushed bytes ahead of the ready document: at most {ahead} (server), {} (client)",
                        last.pushed,
                        loads.iter().map(|l| l.push_bytes_before_doc).max().unwrap_or(0)
                    ),
                ));
            }
            let _ = last.doc_done;
        }
        server.stop().await;
    }
    Ok(rows)
}
