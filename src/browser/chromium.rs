//! Real Chromium as the page loader, beside the emulated one: one page load
//! in headless Chromium (Debian's `/usr/bin/chromium`, a fresh profile per
//! load), driven by playwright-core over the DevTools protocol through the
//! script embedded here (`chromium_page.js`), and its Navigation, Resource
//! and Paint Timing turned into the same [`PageLoad`] record the emulated
//! browser writes, so that every table, CSV and HAR file reads both.
//!
//! Why playwright-core and not a Rust CDP client: the test suite already
//! installs it (pinned, `interop/install-deps.sh`) and the interop tests
//! drive Chromium with it, so the validation adds no dependency to the
//! build; it launches and closes Chromium reliably (profile, flags, the
//! DevTools pipe), which is most of the work of a CDP client.
//!
//! The time base is the emulated browser's: milliseconds since the
//! document's request was sent (Chromium's `requestStart` of the
//! navigation), with the connection's set-up before it (`handshake_ms`).
//!
//! Blocking: [`load`] runs a child process; call it from the thread that is
//! in the link emulator's client namespace, so Chromium's sockets go
//! through the emulated link.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::driver::PageLoad;
use super::model::{PageSummary, ResKind, Resource, Source};
use super::netlog::NetLog;
use crate::client::Proto;

/// The page-load script (run with node, playwright-core on NODE_PATH).
pub const SCRIPT: &str = include_str!("chromium_page.js");

/// Where Chromium is, unless `PUSHLAB_CHROMIUM` says otherwise.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// One Chromium page load.
#[derive(Debug, Clone)]
pub struct ChromiumOptions {
    /// `https://host:port/path`.
    pub url: String,
    /// HTTP/3 (QUIC forced on for the origin) or HTTP/2 (QUIC disabled).
    pub proto: Proto,
    /// The server certificate's SPKI SHA-256, base64 (trusted through
    /// `--ignore-certificate-errors-spki-list`).
    pub spki: String,
    /// Visit the page once first (not measured), restart Chromium on the
    /// same profile and measure the second visit: a warm HTTP cache, no
    /// connection kept.
    pub warm: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// Also record a DevTools timeline trace and report each script's
    /// main-thread time (for calibrating the emulated browser's CPU).
    pub trace: bool,
    /// Keep the measured visit's net log at this path (otherwise it is
    /// read and deleted).
    pub keep_net_log: Option<std::path::PathBuf>,
}

/// Main-thread time of one script, from a DevTools trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptTime {
    /// The script's path.
    pub path: String,
    /// Its size (bytes, decoded).
    pub bytes: u64,
    /// Compile time (ms).
    pub compile_ms: f64,
    /// Evaluation time (ms).
    pub evaluate_ms: f64,
    /// When its last evaluation ended (ms since the document's request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<f64>,
}

/// The first rendering update of a page (style, layout and paint, one
/// main-thread task), from a DevTools trace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RenderTime {
    /// When it started (ms since the document's request).
    pub start_ms: f64,
    /// How long the task took (ms).
    pub dur_ms: f64,
}

/// Main-thread time of handing one response to the page, from a DevTools
/// trace (the tasks that only did that; see `chromium_page.js`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryTime {
    /// The resource's path.
    pub path: String,
    /// Main-thread time (ms).
    pub ms: f64,
}

/// What is needed to run Chromium: node, Chromium and playwright-core.
/// The error says what is missing and how to install it.
pub fn check() -> Result<(), String> {
    let hint = "install it with interop/install-deps.sh (the test command does)";
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return Err(format!("--browser chromium needs node; {hint}"));
    }
    let chromium = chromium_path();
    if !chromium.exists() {
        return Err(format!(
            "--browser chromium needs Chromium at {} (or PUSHLAB_CHROMIUM); {hint}",
            chromium.display()
        ));
    }
    node_modules().map(|_| ())
}

fn chromium_path() -> PathBuf {
    std::env::var_os("PUSHLAB_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM))
}

/// The node_modules holding playwright-core: `PUSHLAB_NODE_MODULES`, else
/// this source tree's `interop/node_modules`, else `./interop/node_modules`.
pub fn node_modules() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    let candidates = std::env::var_os("PUSHLAB_NODE_MODULES")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/interop/node_modules")),
            PathBuf::from("interop/node_modules"),
        ]);
    for dir in candidates {
        if dir.join("playwright-core").is_dir() {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    Err(format!(
        "--browser chromium needs playwright-core (looked in {}); install it with \
         interop/install-deps.sh, or set PUSHLAB_NODE_MODULES",
        tried.join(", ")
    ))
}

/// Loads the page in Chromium (blocking). Never panics: a load that fails
/// is a [`PageLoad`] with its error.
pub fn load(opts: &ChromiumOptions) -> PageLoad {
    match run_script(opts) {
        Ok(report) => to_load(opts, &report),
        Err(e) => failed(opts, e),
    }
}

fn failed(opts: &ChromiumOptions, why: String) -> PageLoad {
    PageLoad {
        url: opts.url.clone(),
        protocol: opts.proto,
        started_unix_ms: 0.0,
        handshake_ms: 0.0,
        summary: PageSummary::default(),
        error: Some(format!("chromium: {why}")),
        scripts: Vec::new(),
        first_render: None,
        font_render: None,
        deliveries: Vec::new(),
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: String) -> TempFile {
        TempFile(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_script(opts: &ChromiumOptions) -> Result<Report, String> {
    let modules = node_modules()?;
    // Files of this load only (loads may run at once in one process), gone
    // when it returns, however it ends.
    static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let script = TempFile::new(format!(
        "pushlab-chromium-page-{}-{n}.js",
        std::process::id()
    ));
    std::fs::write(&script.0, SCRIPT)
        .map_err(|e| format!("writing {}: {e}", script.0.display()))?;
    // The measured visit's net log: when the 103 preloads, which Chromium's
    // browser process makes, crossed the network.
    let netlog_file = TempFile::new(format!("pushlab-netlog-{}-{n}.json", std::process::id()));
    let netlog = netlog_file.0.clone();
    let mut cmd = Command::new("node");
    cmd.arg(&script.0)
        .arg("--netlog")
        .arg(&netlog)
        .args(["--url", &opts.url, "--spki", &opts.spki])
        .args(["--visits", if opts.warm { "2" } else { "1" }])
        .args(["--timeout-ms", &opts.timeout.as_millis().to_string()])
        .arg("--chromium")
        .arg(chromium_path())
        .env("NODE_PATH", &modules)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if opts.proto == Proto::H3 {
        let (host, port, _) = crate::client::parse_url(&opts.url).map_err(|e| e.to_string())?;
        cmd.args(["--quic", &format!("{host}:{port}")]);
    }
    if opts.trace {
        cmd.arg("--trace");
    }
    let mut child = cmd.spawn().map_err(|e| format!("starting node: {e}"))?;
    // Read both pipes on threads so a full pipe cannot stall the child.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = child.stdout.take().map(|s| drain(Box::new(s)));
    let err = child.stderr.take().map(|s| drain(Box::new(s)));
    // The script has its own timeouts; this one catches a hung browser.
    let allowed = opts.timeout * if opts.warm { 2 } else { 1 } + Duration::from_secs(30);
    let deadline = Instant::now() + allowed;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer in {allowed:?}; killed"));
            }
            Err(e) => return Err(format!("waiting for node: {e}")),
        }
    };
    let out = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let err = err.and_then(|h| h.join().ok()).unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    let mut report: Report = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "the script's output is not a report ({e}; exit {status}): {}{}",
            text.chars().take(300).collect::<String>(),
            String::from_utf8_lossy(&err)
                .chars()
                .take(600)
                .collect::<String>()
        )
    })?;
    match std::fs::read_to_string(&netlog) {
        Ok(text) => match NetLog::parse(&text) {
            Ok(log) => report.netlog = Some(log),
            Err(e) => {
                tracing::warn!(%e, "Chromium's net log; 103 preloads keep Resource Timing's times")
            }
        },
        Err(e) => tracing::warn!(%e, path = %netlog.display(), "no net log from Chromium"),
    }
    match &opts.keep_net_log {
        Some(keep) => {
            // A rename fails across file systems: copy then.
            if std::fs::rename(&netlog, keep).is_err() {
                if let Err(e) = std::fs::copy(&netlog, keep) {
                    tracing::warn!(%e, path = %keep.display(), "keeping Chromium's net log");
                }
                let _ = std::fs::remove_file(&netlog);
            }
        }
        None => {
            let _ = std::fs::remove_file(&netlog);
        }
    }
    Ok(report)
}

/// The script's report.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The load completed.
    #[serde(default)]
    pub ok: bool,
    /// Why not.
    #[serde(default)]
    pub error: Option<String>,
    /// `performance.timeOrigin` (ms since the Unix epoch).
    #[serde(default)]
    pub time_origin: f64,
    /// The navigation's timing.
    #[serde(default)]
    pub navigation: Option<Entry>,
    /// Every resource's timing.
    #[serde(default)]
    pub resources: Vec<Entry>,
    /// First contentful paint.
    #[serde(default)]
    pub fcp: Option<f64>,
    /// The last largest-contentful-paint candidate.
    #[serde(default)]
    pub lcp: Option<f64>,
    /// Per-script main-thread times (with --trace).
    #[serde(default)]
    pub scripts: Vec<TracedScript>,
    /// The first rendering update (with --trace; times since the time
    /// origin).
    #[serde(default)]
    pub render: Option<RenderTime>,
    /// The rendering update a web font's arrival after the first one
    /// caused (with --trace; times since the time origin).
    #[serde(default)]
    pub font_render: Option<RenderTime>,
    /// Per subresource URL, the main-thread time of handing its response
    /// to the page (with --trace).
    #[serde(default)]
    pub deliveries: Vec<TracedDelivery>,
    /// Per URL, the priority Chromium gave the request.
    #[serde(default)]
    pub requests: Vec<RequestPriority>,
    /// The measured visit's net log (read from the file Chromium wrote).
    #[serde(skip)]
    pub netlog: Option<NetLog>,
}

/// A request's priority, from the DevTools protocol.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestPriority {
    /// The URL.
    pub url: String,
    /// Chromium's priority when the request was made (`VeryHigh`,
    /// `High`, `Medium`, `Low`, `VeryLow`).
    pub initial_priority: String,
    /// Its last priority.
    pub priority: String,
    /// The `priority` header sent, when the DevTools protocol showed it.
    pub header: Option<String>,
}

/// A response's hand-over time, as `chromium_page.js` reports it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TracedDelivery {
    /// Its URL.
    pub url: String,
    /// Main-thread time (ms).
    #[serde(default)]
    pub ms: f64,
}

/// A script's times from the trace, keyed by URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TracedScript {
    /// Its URL.
    pub url: String,
    /// Evaluation (ms).
    #[serde(default)]
    pub evaluate_ms: f64,
    /// Compilation (ms).
    #[serde(default)]
    pub compile_ms: f64,
    /// When its last evaluation ended (ms since the time origin).
    #[serde(default)]
    pub end_ms: Option<f64>,
}

/// A Navigation or Resource Timing entry (times in ms since the time
/// origin; 0 where the browser did not set one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Entry {
    /// `name`.
    pub name: String,
    /// `initiatorType`.
    pub initiator_type: String,
    /// `nextHopProtocol`.
    pub next_hop_protocol: String,
    /// `startTime`.
    pub start_time: f64,
    /// `fetchStart`.
    pub fetch_start: f64,
    /// `connectStart`.
    pub connect_start: f64,
    /// `connectEnd`.
    pub connect_end: f64,
    /// `requestStart`.
    pub request_start: f64,
    /// `responseStart`.
    pub response_start: f64,
    /// `responseEnd`.
    pub response_end: f64,
    /// `transferSize`.
    pub transfer_size: u64,
    /// `encodedBodySize`.
    pub encoded_body_size: u64,
    /// `decodedBodySize`.
    pub decoded_body_size: u64,
    /// `responseStatus`.
    pub response_status: u16,
    /// `renderBlockingStatus`.
    pub render_blocking_status: String,
    /// `finalResponseHeadersStart`.
    pub final_response_headers_start: f64,
    /// `firstInterimResponseStart`.
    pub first_interim_response_start: f64,
    /// `domInteractive`.
    pub dom_interactive: f64,
    /// `domContentLoadedEventEnd`.
    pub dom_content_loaded_event_end: f64,
    /// `loadEventStart`.
    pub load_event_start: f64,
    /// `loadEventEnd`.
    pub load_event_end: f64,
}

/// The path of a URL the browser reported (query dropped, as the model
/// keys resources).
pub(crate) fn path_of(url: &str) -> Option<String> {
    let (_, _, target) = crate::client::parse_url(url).ok()?;
    Some(target.split(['?', '#']).next().unwrap_or("/").to_string())
}

/// Where a resource's bytes came from, by its sizes: nothing transferred
/// is the HTTP cache; fewer bytes transferred than the body is a 304.
fn source_of(e: &Entry) -> Source {
    if e.initiator_type == "early-hints" {
        Source::Preloaded
    } else if e.transfer_size == 0 && (e.encoded_body_size > 0 || e.decoded_body_size > 0) {
        Source::Cached
    } else if e.transfer_size > 0 && e.transfer_size < e.encoded_body_size {
        Source::Revalidated
    } else {
        Source::Network
    }
}

/// A request's priority as recorded: the `priority` header Chromium sent
/// when known, and its own priority name ("Low", or "Low->Medium" when it
/// changed).
fn priority_of(r: &Report, url: &str) -> String {
    let Some(p) = r.requests.iter().find(|p| p.url == url) else {
        return String::new();
    };
    let name = if p.priority != p.initial_priority && !p.priority.is_empty() {
        format!("{}->{}", p.initial_priority, p.priority)
    } else {
        p.initial_priority.clone()
    };
    match &p.header {
        Some(h) => format!("{h} ({name})"),
        None => name,
    }
}

/// The script's report as the emulated browser's record (pure).
pub fn to_load(opts: &ChromiumOptions, r: &Report) -> PageLoad {
    let Some(nav) = r.navigation.as_ref().filter(|_| r.ok) else {
        return failed(
            opts,
            r.error
                .clone()
                .unwrap_or_else(|| "no navigation timing".into()),
        );
    };
    let want = match opts.proto {
        Proto::H3 => "h3",
        Proto::H2 => "h2",
    };
    // Everything since the document's request was sent.
    let t0 = nav.request_start;
    // The net log's times, put on the document's send (its clock is not
    // the page's).
    let net = r.netlog.as_ref().and_then(|l| l.relative_to(&nav.name));
    let at = |t: f64| (t > 0.0).then_some(t - t0);
    let mut resources = Vec::new();
    let mut doc = Resource::observed(
        &path_of(&nav.name).unwrap_or_else(|| "/".into()),
        ResKind::Document,
        source_of(nav),
    );
    doc.render_blocking = true;
    doc.requested_ms = Some(0.0);
    let doc_first = if nav.final_response_headers_start > 0.0 {
        nav.final_response_headers_start
    } else {
        nav.response_start
    };
    doc.first_byte_ms = at(doc_first);
    doc.done_ms = at(nav.response_end);
    doc.status = nav.response_status;
    doc.bytes = if doc.source == Source::Network {
        nav.encoded_body_size
    } else {
        0
    };
    doc.protocol = Some(nav.next_hop_protocol.clone());
    doc.priority = priority_of(r, &nav.name);
    doc.net_log = net
        .as_ref()
        .and_then(|n| n.requests.get(&nav.name))
        .copied();
    resources.push(doc);
    for e in &r.resources {
        let Some(path) = path_of(&e.name) else {
            continue;
        };
        let source = source_of(e);
        let mut res = Resource::observed(&path, ResKind::from_path(&path), source);
        res.hinted = e.initiator_type == "early-hints";
        res.render_blocking = e.render_blocking_status == "blocking";
        res.discovered_ms = e.start_time - t0;
        res.requested_ms = at(e.request_start).or(at(e.fetch_start));
        res.first_byte_ms = at(e.response_start);
        res.done_ms = at(e.response_end);
        res.status = if e.response_status > 0 {
            e.response_status
        } else {
            200
        };
        res.bytes = match source {
            Source::Network | Source::Preloaded => e.encoded_body_size,
            _ => 0,
        };
        res.protocol = (!e.next_hop_protocol.is_empty()).then(|| e.next_hop_protocol.clone());
        res.priority = priority_of(r, &e.name);
        res.net_log = net.as_ref().and_then(|n| n.requests.get(&e.name)).copied();
        // A 103 preload's Resource Timing is when the page took it from
        // the preload cache; the net log has when it crossed the network.
        if let Some(n) = res.net_log.filter(|_| res.hinted) {
            res.requested_ms = Some(n.sent);
            res.first_byte_ms = n.headers;
            res.done_ms = n.end;
        }
        resources.push(res);
    }
    // Load is the load event: it waits for every resource the document and
    // its scripts asked for before it (as the model's load does); what is
    // requested after it (the favicon) is recorded but not waited for.
    let summary = PageSummary {
        render_ready_ms: r.fcp.map(|t| t - t0),
        load_ms: at(nav.load_event_start),
        dom_done_ms: at(nav.dom_interactive),
        bytes_received: resources.iter().map(|x| x.bytes).sum(),
        bytes_wasted: 0,
        pushes_used: 0,
        pushes_wasted: 0,
        cached: resources
            .iter()
            .filter(|x| x.source == Source::Cached)
            .count(),
        fcp_ms: r.fcp.map(|t| t - t0),
        lcp_ms: r.lcp.map(|t| t - t0),
        load_event_ms: at(nav.load_event_start),
        resources,
        ..PageSummary::default()
    };
    let scripts = r
        .scripts
        .iter()
        .filter_map(|s| {
            let path = path_of(&s.url)?;
            let bytes = r
                .resources
                .iter()
                .find(|e| e.name == s.url)
                .map(|e| e.decoded_body_size)
                .unwrap_or(0);
            Some(ScriptTime {
                path,
                bytes,
                compile_ms: s.compile_ms,
                evaluate_ms: s.evaluate_ms,
                end_ms: s.end_ms.map(|t| t - t0),
            })
        })
        .collect();
    let deliveries = r
        .deliveries
        .iter()
        .filter_map(|d| {
            Some(DeliveryTime {
                path: path_of(&d.url)?,
                ms: d.ms,
            })
        })
        .collect();
    let error = (nav.next_hop_protocol != want)
        .then(|| format!("chromium used {:?}, not {want}", nav.next_hop_protocol))
        .or_else(|| {
            summary
                .load_ms
                .is_none()
                .then(|| "no load event".to_string())
        });
    PageLoad {
        url: opts.url.clone(),
        protocol: opts.proto,
        started_unix_ms: r.time_origin + nav.fetch_start,
        handshake_ms: (nav.request_start - nav.fetch_start).max(0.0),
        summary,
        error,
        scripts,
        first_render: r.render.map(|x| RenderTime {
            start_ms: x.start_ms - t0,
            ..x
        }),
        font_render: r.font_render.map(|x| RenderTime {
            start_ms: x.start_ms - t0,
            ..x
        }),
        deliveries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(proto: Proto) -> ChromiumOptions {
        ChromiumOptions {
            url: "https://10.0.0.1:4433/index.html".into(),
            proto,
            spki: String::new(),
            warm: false,
            timeout: Duration::from_secs(10),
            trace: false,
            keep_net_log: None,
        }
    }

    fn report() -> Report {
        serde_json::from_value(serde_json::json!({
            "ok": true,
            "timeOrigin": 1000.0,
            "navigation": {
                "name": "https://10.0.0.1:4433/index.html", "initiatorType": "navigation",
                "nextHopProtocol": "h3", "fetchStart": 2.0, "requestStart": 100.0,
                "responseStart": 170.0, "finalResponseHeadersStart": 175.0,
                "responseEnd": 200.0, "transferSize": 9300, "encodedBodySize": 9000,
                "responseStatus": 200, "domInteractive": 300.0,
                "loadEventStart": 400.0, "loadEventEnd": 401.0
            },
            "resources": [
                {"name": "https://10.0.0.1:4433/a.css?v=1", "initiatorType": "early-hints",
                 "nextHopProtocol": "h3", "startTime": 120.0, "fetchStart": 120.0,
                 "requestStart": 121.0, "responseStart": 190.0, "responseEnd": 210.0,
                 "transferSize": 3300, "encodedBodySize": 3000, "responseStatus": 200,
                 "renderBlockingStatus": "blocking"},
                {"name": "https://10.0.0.1:4433/b.png", "initiatorType": "img",
                 "nextHopProtocol": "h3", "startTime": 205.0, "fetchStart": 205.0,
                 "requestStart": 0.0, "responseStart": 206.0, "responseEnd": 207.0,
                 "transferSize": 0, "encodedBodySize": 500},
                {"name": "https://10.0.0.1:4433/c.js", "initiatorType": "script",
                 "nextHopProtocol": "h3", "startTime": 210.0, "fetchStart": 210.0,
                 "requestStart": 211.0, "responseStart": 280.0, "responseEnd": 450.0,
                 "transferSize": 200, "encodedBodySize": 4000}
            ],
            "requests": [
                {"url": "https://10.0.0.1:4433/a.css?v=1", "initialPriority": "VeryHigh", "priority": "VeryHigh", "header": "u=0"},
                {"url": "https://10.0.0.1:4433/b.png", "initialPriority": "Low", "priority": "Medium"}
            ],
            "fcp": 260.0,
            "lcp": 320.0,
            "scripts": [{"url": "https://10.0.0.1:4433/c.js", "evaluate_ms": 3.5, "compile_ms": 0.5}]
        }))
        .unwrap()
    }

    /// Times are moved to the document's request; sources come from the
    /// sizes and the initiator; load is the load event (a resource
    /// requested after it is recorded, not waited for); FCP stands in for
    /// render-ready.
    #[test]
    fn report_to_record() {
        let l = to_load(&opts(Proto::H3), &report());
        assert_eq!(l.error, None);
        assert_eq!(l.handshake_ms, 98.0);
        assert_eq!(l.started_unix_ms, 1002.0);
        let s = &l.summary;
        let r = &s.resources;
        assert_eq!(r[0].path, "/index.html");
        assert_eq!(r[0].first_byte_ms, Some(75.0));
        assert_eq!(r[0].done_ms, Some(100.0));
        assert_eq!(r[1].path, "/a.css");
        assert_eq!(r[1].source, Source::Preloaded);
        assert!(r[1].hinted && r[1].render_blocking);
        assert_eq!(r[1].requested_ms, Some(21.0));
        assert_eq!(r[1].priority, "u=0 (VeryHigh)");
        assert_eq!(r[2].priority, "Low->Medium");
        assert_eq!(r[3].priority, "");
        assert_eq!(r[2].source, Source::Cached);
        assert_eq!(r[2].requested_ms, Some(105.0));
        assert_eq!(r[2].bytes, 0);
        assert_eq!(r[3].source, Source::Revalidated);
        assert_eq!(s.load_ms, Some(300.0));
        assert_eq!(s.load_event_ms, Some(300.0));
        assert_eq!(s.render_ready_ms, Some(160.0));
        assert_eq!(s.lcp_ms, Some(220.0));
        assert_eq!(s.cached, 1);
        assert_eq!(s.bytes_received, 9000 + 3000);
        assert_eq!(l.scripts[0].path, "/c.js");
    }

    /// With a net log, the 103 preload's times are its network times, on
    /// the document's send (the log's clock is its own); other resources
    /// keep Resource Timing's and carry the log's beside them.
    #[test]
    fn net_log_times_the_early_hints_preload() {
        use crate::browser::netlog::NetTimes;
        let mut r = report();
        let t = |sent, headers, end| NetTimes {
            sent,
            headers: Some(headers),
            end: Some(end),
            early_hints: None,
        };
        r.netlog = Some(NetLog {
            requests: [
                (
                    "https://10.0.0.1:4433/index.html",
                    t(5000.0, 5075.0, 5100.0),
                ),
                ("https://10.0.0.1:4433/a.css?v=1", t(5010.0, 5080.0, 5090.0)),
                ("https://10.0.0.1:4433/c.js", t(5112.0, 5180.0, 5350.0)),
            ]
            .into_iter()
            .map(|(u, t)| (u.to_string(), t))
            .collect(),
        });
        let l = to_load(&opts(Proto::H3), &r);
        let res = &l.summary.resources;
        assert_eq!(res[0].net_log.map(|n| n.sent), Some(0.0));
        assert_eq!(
            (res[1].requested_ms, res[1].first_byte_ms, res[1].done_ms),
            (Some(10.0), Some(80.0), Some(90.0))
        );
        assert_eq!(res[3].requested_ms, Some(111.0), "Resource Timing's");
        assert_eq!(res[3].net_log.map(|n| n.sent), Some(112.0));
        assert_eq!(res[2].net_log, None, "a cache hit has no network request");
    }

    /// A load over the wrong protocol, a failed load and an empty report
    /// are errors, not records that look fine.
    #[test]
    fn failures_are_errors() {
        let l = to_load(&opts(Proto::H2), &report());
        assert!(l.error.unwrap().contains("not h2"));
        let mut r = report();
        r.ok = false;
        r.error = Some("net::ERR_CONNECTION_REFUSED".into());
        assert!(to_load(&opts(Proto::H3), &r)
            .error
            .unwrap()
            .contains("ERR_CONNECTION_REFUSED"));
        assert!(to_load(&opts(Proto::H3), &Report::default())
            .error
            .is_some());
    }

    /// A load's script and net log files go when the load returns, on every
    /// path out (each load writes its own: loads may run at once).
    #[test]
    fn temporary_files_are_removed() {
        let f = TempFile::new(format!("pushlab-test-{}-tmp.js", std::process::id()));
        let path = f.0.clone();
        std::fs::write(&path, "x").unwrap();
        let early = || -> Result<(), String> {
            let _held = f;
            Err("the load failed".into())
        };
        assert!(early().is_err());
        assert!(!path.exists(), "{} left behind", path.display());
        // A file never written is no error.
        drop(TempFile::new(format!(
            "pushlab-test-{}-none",
            std::process::id()
        )));
    }
}
