//! The emulated browser's page-load model, pure: events in (responses,
//! push promises and pushed responses, 103 hints, the passing of time as
//! milliseconds since navigation start), requests out. No sockets, no
//! clock; [`super::driver`] connects it to a real connection.
//!
//! What it models, and what it leaves out:
//! - The preload scanner: every resource referenced by the document's HTML
//!   is requested as soon as the document has arrived. Stylesheets reveal
//!   `@import`s and `url()`s (fonts, images) when they arrive; scripts
//!   reveal what they load when they have run ([`crate::site::scan::scan_js`]).
//! - The parser: it walks the document's references in order; a classic
//!   script in `<head>` (or one written by `document.write`) stops it until
//!   the script has arrived, every stylesheet before it has arrived, and it
//!   has run. Scripts run one at a time on one main thread, taking
//!   `script_base_ms + script_ms_per_kb x size`.
//! - Render-ready: the document and every render-blocking resource (its
//!   stylesheets with their imports, its head scripts, run) are done.
//!   Load: everything discovered has arrived and every script has run.
//! - Push cache, with browser semantics: a pushed response is used at most
//!   once, only by a request the page makes after its PUSH_PROMISE arrived
//!   (if the page asked first, the push is wasted), and dies with the
//!   connection; pushes never used, or of resources found in the HTTP
//!   cache, count as wasted bytes.
//! - HTTP cache ([`HttpCache`]): `max-age` responses are fresh on a repeat
//!   visit (no request); `no-cache` ones, or stale ones with an ETag, are
//!   revalidated with `If-None-Match` (a 304 reuses the cached body);
//!   `no-store` is never stored. Cookies are kept (the cache-aware policy's
//!   digest travels in one).
//! - 103 Early Hints: each `Link: <...>; rel=preload` starts a request
//!   (unless cached or already pushed), with the priority of its `as`.
//! - Priorities: the `priority` header Chromium sends for each kind
//!   ([`chromium::request_priority`], the table pushes get theirs from).

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use serde::Serialize;

use crate::site::chromium;
use crate::site::scan::{self, RefKind};

/// What a resource is, as the browser decides from how it was referenced:
/// the site model's kinds.
pub use crate::site::Kind as ResKind;

/// Where a resource's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    /// Requested from the network.
    Network,
    /// Requested as a preload: hinted by a 103, or `<link rel=preload>`.
    Preloaded,
    /// A server push, adopted.
    Pushed,
    /// Fresh in the HTTP cache: no request.
    Cached,
    /// Revalidated: a 304 let the cached copy be used.
    Revalidated,
}

/// One resource of a page load.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    /// Its path.
    pub path: String,
    /// What it is.
    pub kind: ResKind,
    /// Where its bytes came from.
    pub source: Source,
    /// The `priority` header sent (empty when not requested).
    pub priority: String,
    /// Blocks rendering.
    pub render_blocking: bool,
    /// Blocks the parser (a classic head script, or a written one).
    pub parser_blocking: bool,
    /// When the page learned of it (ms since navigation start).
    pub discovered_ms: f64,
    /// When it was requested (for an adopted push: when it was promised).
    pub requested_ms: Option<f64>,
    /// First byte of the response.
    pub first_byte_ms: Option<f64>,
    /// Last byte.
    pub done_ms: Option<f64>,
    /// When a script finished running.
    pub evaluated_ms: Option<f64>,
    /// Response status (200, 304, ...; 0 while pending).
    pub status: u16,
    /// Body bytes received over the network for it (0 when cached).
    pub bytes: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The document or a script referenced it (not only a preload): a
    /// preloaded script is fetched but runs only once referenced.
    #[serde(skip)]
    referenced: bool,
}

/// A request the page wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRequest {
    /// Path to request.
    pub path: String,
    /// Extra header fields (`priority`, `cookie`, `if-none-match`).
    pub headers: Vec<(String, String)>,
}

/// A cached response.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// Its body.
    pub body: Bytes,
    /// Its ETag.
    pub etag: Option<String>,
    /// Fresh for this long after it was stored (None: must revalidate).
    pub max_age_s: Option<u64>,
    /// Its response headers' content type.
    pub content_type: String,
}

/// The HTTP cache and cookie jar of one browser profile, shared by
/// successive visits (a warm visit follows a cold one).
#[derive(Debug, Clone, Default)]
pub struct HttpCache {
    entries: BTreeMap<String, CacheEntry>,
    cookies: BTreeMap<String, String>,
    /// Seconds between the visits (for freshness).
    pub visit_gap_s: u64,
}

impl HttpCache {
    /// An empty cache (a cold visit).
    pub fn new() -> Self {
        HttpCache {
            visit_gap_s: 60,
            ..Default::default()
        }
    }

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A fresh entry for `path` (usable without a request).
    pub fn fresh(&self, path: &str) -> Option<&CacheEntry> {
        self.entries
            .get(path)
            .filter(|e| e.max_age_s.is_some_and(|m| self.visit_gap_s < m))
    }

    /// An entry that can be revalidated (has an ETag).
    pub fn revalidatable(&self, path: &str) -> Option<&CacheEntry> {
        self.entries.get(path).filter(|e| e.etag.is_some())
    }

    /// Stores a 200 response according to its `cache-control`.
    pub fn store(&mut self, path: &str, headers: &[(String, String)], body: Bytes) {
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let cc = get("cache-control").unwrap_or("").to_ascii_lowercase();
        let directives: Vec<&str> = cc.split(',').map(str::trim).collect();
        if directives.contains(&"no-store") {
            self.entries.remove(path);
            return;
        }
        let max_age_s = if directives.contains(&"no-cache") {
            None
        } else {
            directives
                .iter()
                .find_map(|d| d.strip_prefix("max-age=").and_then(|v| v.parse().ok()))
        };
        self.entries.insert(
            path.to_string(),
            CacheEntry {
                body,
                etag: get("etag").map(str::to_string),
                max_age_s,
                content_type: get("content-type").unwrap_or("").to_string(),
            },
        );
    }

    /// Keeps the cookies a response sets (name=value; attributes ignored).
    pub fn set_cookies(&mut self, headers: &[(String, String)]) {
        for (n, v) in headers {
            if n.eq_ignore_ascii_case("set-cookie") {
                if let Some((name, value)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                    self.cookies
                        .insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
    }

    /// The `cookie` header value, if any cookie is set.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// CPU model of the page's main thread.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cpu {
    /// Fixed cost of running a script (ms).
    pub script_base_ms: f64,
    /// Cost per KB of script (ms).
    pub script_ms_per_kb: f64,
}

impl Default for Cpu {
    /// About a 2016 mid-range phone (the Rules of Thumb ran on a Moto G).
    fn default() -> Self {
        Cpu {
            script_base_ms: 2.0,
            script_ms_per_kb: 1.0,
        }
    }
}

#[derive(Debug, Clone)]
enum PushState {
    Pending,
    Done {
        body: Bytes,
        headers: Vec<(String, String)>,
        first_byte_ms: f64,
        done_ms: f64,
    },
    Failed,
}

#[derive(Debug, Clone)]
struct PushEntry {
    promised_ms: f64,
    bytes: u64,
    state: PushState,
    /// Adopted by the page.
    claimed: bool,
    /// The page had already requested it when it was promised.
    too_late: bool,
}

/// An entry of the parser's queue: the document's references in order.
#[derive(Debug, Clone)]
struct ParseItem {
    path: String,
    /// Stops the parser until loaded and run.
    blocking_script: bool,
}

/// The page-load state machine.
#[derive(Debug)]
pub struct Page {
    cpu: Cpu,
    cache: HttpCache,
    res: Vec<Resource>,
    index: HashMap<String, usize>,
    bodies: HashMap<usize, Bytes>,
    push: HashMap<String, PushEntry>,
    out: Vec<OutRequest>,
    /// Parser: the document's items and where it is.
    parse: VecDeque<ParseItem>,
    parsing: bool,
    parser_done_ms: Option<f64>,
    /// Scripts waiting to run: (resource, earliest start).
    runnable: VecDeque<usize>,
    /// The main thread runs this script until then.
    running: Option<(usize, f64)>,
    /// Bytes of responses that were never used.
    wasted: u64,
    /// Bytes received (network and push).
    received: u64,
    /// Bytes of finished pushes the page had no promise for.
    unknown_push_bytes: u64,
    now: f64,
}

/// The outcome of a page load.
#[derive(Debug, Clone, Serialize)]
pub struct PageSummary {
    /// Document plus render-blocking resources done (ms).
    pub render_ready_ms: Option<f64>,
    /// Everything done, every script run (ms).
    pub load_ms: Option<f64>,
    /// The parser reached the end of the document (ms).
    pub dom_done_ms: Option<f64>,
    /// Body bytes received (network and push).
    pub bytes_received: u64,
    /// Body bytes received and never used (pushes not adopted or of cached
    /// resources), including those that arrived after the load, while the
    /// connection lingered (at most 5 s) for the pushes to finish.
    pub bytes_wasted: u64,
    /// Pushes adopted by the page.
    pub pushes_used: usize,
    /// Pushes promised but not used.
    pub pushes_wasted: usize,
    /// Resources served from the cache without a request.
    pub cached: usize,
    /// Every resource, in discovery order.
    pub resources: Vec<Resource>,
}

impl Page {
    /// A navigation to `path` at time 0, with this cache and CPU.
    pub fn new(path: &str, cache: HttpCache, cpu: Cpu) -> Page {
        let mut p = Page {
            cpu,
            cache,
            res: Vec::new(),
            index: HashMap::new(),
            bodies: HashMap::new(),
            push: HashMap::new(),
            out: Vec::new(),
            parse: VecDeque::new(),
            parsing: false,
            parser_done_ms: None,
            runnable: VecDeque::new(),
            running: None,
            wasted: 0,
            received: 0,
            unknown_push_bytes: 0,
            now: 0.0,
        };
        p.need(path, ResKind::Document, true, false, Source::Network);
        p
    }

    /// The cache (with what this visit stored), for the next visit.
    pub fn cache(&self) -> &HttpCache {
        &self.cache
    }

    /// Requests to send now.
    pub fn take_requests(&mut self) -> Vec<OutRequest> {
        std::mem::take(&mut self.out)
    }

    /// The resource for `path`, if the page knows it.
    pub fn resource(&self, path: &str) -> Option<&Resource> {
        self.index.get(path).map(|&i| &self.res[i])
    }

    /// The page learns of `path` (or learns more about it).
    fn need(
        &mut self,
        path: &str,
        kind: ResKind,
        render_blocking: bool,
        parser_blocking: bool,
        via: Source,
    ) -> usize {
        if let Some(&i) = self.index.get(path) {
            let r = &mut self.res[i];
            r.render_blocking |= render_blocking;
            r.parser_blocking |= parser_blocking;
            if r.kind == ResKind::Other {
                r.kind = kind;
            }
            if via != Source::Preloaded && !r.referenced {
                r.referenced = true;
                // A preloaded script that arrived before anything referenced
                // it runs now, unless the parser will run it.
                if r.kind == ResKind::Script
                    && !r.parser_blocking
                    && r.evaluated_ms.is_none()
                    && self.bodies.contains_key(&i)
                {
                    self.runnable.push_back(i);
                }
            }
            return i;
        }
        let now = self.now;
        let i = self.res.len();
        self.res.push(Resource {
            path: path.to_string(),
            kind,
            source: via,
            priority: String::new(),
            render_blocking,
            parser_blocking,
            discovered_ms: now,
            requested_ms: None,
            first_byte_ms: None,
            done_ms: None,
            evaluated_ms: None,
            status: 0,
            bytes: 0,
            error: None,
            referenced: via != Source::Preloaded,
        });
        self.index.insert(path.to_string(), i);
        if kind != ResKind::Document {
            if let Some(e) = self.cache.fresh(path).cloned() {
                let r = &mut self.res[i];
                r.source = Source::Cached;
                r.status = 200;
                r.requested_ms = Some(now);
                r.first_byte_ms = Some(now);
                r.done_ms = Some(now);
                self.arrived(i, e.body);
                return i;
            }
        }
        if let Some(p) = self.push.get_mut(path) {
            if !p.claimed && !p.too_late && !matches!(p.state, PushState::Failed) {
                p.claimed = true;
                let promised = p.promised_ms;
                let state = p.state.clone();
                let r = &mut self.res[i];
                r.source = Source::Pushed;
                r.requested_ms = Some(promised);
                if let PushState::Done {
                    body,
                    headers,
                    first_byte_ms,
                    done_ms,
                } = state
                {
                    self.push_complete(i, body, &headers, first_byte_ms, done_ms);
                }
                return i;
            }
        }
        // A preload (103 hint or `<link rel=preload>`) is requested with the
        // priority of its type as a browser gives it to preloads: a
        // stylesheet as if it blocked rendering, a script as if it blocked
        // the parser.
        let usage = chromium::Usage {
            render_blocking,
            parser_blocking,
            preload: via == Source::Preloaded,
        };
        let priority = chromium::request_priority(kind, usage).to_string();
        let mut headers = vec![("priority".to_string(), priority.clone())];
        if let Some(c) = self.cache.cookie_header() {
            headers.push(("cookie".into(), c));
        }
        if let Some(etag) = self.cache.revalidatable(path).and_then(|e| e.etag.clone()) {
            headers.push(("if-none-match".into(), etag));
        }
        let r = &mut self.res[i];
        r.priority = priority;
        r.requested_ms = Some(now);
        self.out.push(OutRequest {
            path: path.to_string(),
            headers,
        });
        i
    }

    /// Advances the clock (ms since navigation start) and runs what is due.
    pub fn advance(&mut self, now: f64) {
        self.now = self.now.max(now);
        self.run();
    }

    /// When the model next needs [`Page::advance`] without any event
    /// (a script finishing), if ever.
    pub fn next_wakeup(&self) -> Option<f64> {
        self.running.map(|(_, end)| end)
    }

    /// A 1xx response for `path` (103 Early Hints start preloads).
    pub fn on_informational(&mut self, path: &str, status: u16, headers: &[(String, String)]) {
        if status != 103 {
            return;
        }
        for (n, v) in headers {
            if !n.eq_ignore_ascii_case("link") {
                continue;
            }
            for link in v.split(',') {
                let mut parts = link.split(';').map(str::trim);
                let Some(target) = parts.next() else { continue };
                let target = target.trim_start_matches('<').trim_end_matches('>');
                let params: Vec<String> = parts.map(|p| p.to_ascii_lowercase()).collect();
                if !params
                    .iter()
                    .any(|p| p == "rel=preload" || p == "rel=\"preload\"")
                {
                    continue;
                }
                let kind = params
                    .iter()
                    .find_map(|p| p.strip_prefix("as="))
                    .map(|a| ResKind::from_as(a.trim_matches('"')))
                    .unwrap_or(ResKind::Other);
                if let Some(target) = scan::resolve(path, target) {
                    // Hinted stylesheets and fonts are needed for rendering,
                    // but the hint alone does not make them block anything.
                    self.need(&target, kind, false, false, Source::Preloaded);
                }
            }
        }
        self.run();
    }

    /// A PUSH_PROMISE for `path` arrived.
    pub fn on_promise(&mut self, path: &str) {
        if self.push.contains_key(path) {
            return;
        }
        let too_late = self
            .index
            .get(path)
            .is_some_and(|&i| self.res[i].source != Source::Pushed);
        self.push.insert(
            path.to_string(),
            PushEntry {
                promised_ms: self.now,
                bytes: 0,
                state: PushState::Pending,
                claimed: false,
                too_late,
            },
        );
    }

    /// A pushed response completed (or failed: `body` None).
    pub fn on_push_done(
        &mut self,
        path: &str,
        headers: &[(String, String)],
        body: Option<Bytes>,
        bytes: u64,
        first_byte_ms: f64,
        done_ms: f64,
    ) {
        self.received += bytes;
        let Some(p) = self.push.get_mut(path) else {
            self.wasted += bytes;
            self.unknown_push_bytes += bytes;
            return;
        };
        p.bytes = bytes;
        p.state = match body.clone() {
            Some(body) => PushState::Done {
                body,
                headers: headers.to_vec(),
                first_byte_ms,
                done_ms,
            },
            None => PushState::Failed,
        };
        if p.claimed {
            if let (Some(&i), Some(body)) = (self.index.get(path), body) {
                self.push_complete(i, body, headers, first_byte_ms, done_ms);
            }
        }
        self.run();
    }

    fn push_complete(
        &mut self,
        i: usize,
        body: Bytes,
        headers: &[(String, String)],
        first_byte_ms: f64,
        done_ms: f64,
    ) {
        let r = &mut self.res[i];
        r.status = 200;
        r.first_byte_ms = Some(first_byte_ms);
        r.done_ms = Some(done_ms.max(r.discovered_ms));
        r.bytes = body.len() as u64;
        let path = r.path.clone();
        self.cache.store(&path, headers, body.clone());
        self.cache.set_cookies(headers);
        self.arrived(i, body);
    }

    /// The response to a request for `path`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_response(
        &mut self,
        path: &str,
        status: u16,
        headers: &[(String, String)],
        body: Bytes,
        first_byte_ms: Option<f64>,
        done_ms: f64,
        error: Option<String>,
    ) {
        self.received += body.len() as u64;
        let Some(&i) = self.index.get(path) else {
            self.wasted += body.len() as u64;
            return;
        };
        self.cache.set_cookies(headers);
        {
            let r = &mut self.res[i];
            r.status = status;
            r.first_byte_ms = first_byte_ms.or(Some(done_ms));
            r.done_ms = Some(done_ms);
            r.bytes = body.len() as u64;
            r.error = error.clone();
        }
        let body = if status == 304 {
            match self.cache.revalidatable(path) {
                Some(e) => {
                    self.res[i].source = Source::Revalidated;
                    e.body.clone()
                }
                None => Bytes::new(),
            }
        } else {
            if status == 200 && error.is_none() {
                self.cache.store(path, headers, body.clone());
            }
            body
        };
        self.arrived(i, body);
        self.run();
    }

    /// A resource's body is available: discover what it references.
    fn arrived(&mut self, i: usize, body: Bytes) {
        let (kind, path, render_blocking) = {
            let r = &self.res[i];
            (r.kind, r.path.clone(), r.render_blocking)
        };
        match kind {
            ResKind::Document if i == 0 => {
                // The preload scanner: everything the HTML references, now.
                for r in scan::scan_html(&body) {
                    let Some(target) = scan::resolve(&path, &r.url) else {
                        continue;
                    };
                    let (k, rb, pb) = match r.kind {
                        RefKind::Stylesheet => (ResKind::Style, r.blocking, false),
                        RefKind::Script => (ResKind::Script, r.blocking, r.blocking),
                        RefKind::Image => (ResKind::Image, false, false),
                        RefKind::Preload => (
                            r.preload_as
                                .as_deref()
                                .map(ResKind::from_as)
                                .unwrap_or(ResKind::Other),
                            false,
                            false,
                        ),
                        RefKind::CssImport => (ResKind::Style, true, false),
                        RefKind::CssUrl => (ResKind::from_path(&target), false, false),
                    };
                    let via = if r.kind == RefKind::Preload {
                        Source::Preloaded
                    } else {
                        Source::Network
                    };
                    let j = self.need(&target, k, rb, pb, via);
                    if matches!(r.kind, RefKind::Stylesheet | RefKind::Script) {
                        self.parse.push_back(ParseItem {
                            path: self.res[j].path.clone(),
                            blocking_script: pb,
                        });
                    }
                }
                self.parsing = true;
            }
            ResKind::Style => {
                let text = String::from_utf8_lossy(&body);
                for r in scan::scan_css(&text) {
                    let Some(target) = scan::resolve(&path, &r.url) else {
                        continue;
                    };
                    let (k, rb) = match r.kind {
                        RefKind::CssImport => (ResKind::Style, render_blocking),
                        _ => (ResKind::from_path(&target), false),
                    };
                    self.need(&target, k, rb, false, Source::Network);
                }
            }
            ResKind::Script => {
                self.bodies.insert(i, body);
                // A preload only fetches: the script runs when the document
                // (or another script) references it.
                if !self.res[i].parser_blocking && self.res[i].referenced {
                    self.runnable.push_back(i);
                }
            }
            _ => {}
        }
    }

    /// Runs the parser and the main thread as far as they can go.
    fn run(&mut self) {
        loop {
            // A script finishing.
            if let Some((i, end)) = self.running {
                if end > self.now {
                    return;
                }
                self.running = None;
                self.res[i].evaluated_ms = Some(end);
                self.script_ran(i, end);
                continue;
            }
            // The parser: the next item, unless a blocking script holds it.
            if self.parsing {
                if let Some(item) = self.parse.front().cloned() {
                    let i = self.index[&item.path];
                    if !item.blocking_script {
                        self.parse.pop_front();
                        continue;
                    }
                    let r = &self.res[i];
                    if r.evaluated_ms.is_some() || r.error.is_some() {
                        self.parse.pop_front();
                        continue;
                    }
                    // A classic script waits for itself and for every
                    // stylesheet the document referenced before it.
                    let ready = r.done_ms.is_some() && self.stylesheets_done_before(i);
                    if ready && self.bodies.contains_key(&i) {
                        self.start_script(i);
                        continue;
                    }
                } else if self.parser_done_ms.is_none() {
                    self.parser_done_ms = Some(self.now);
                }
            }
            // Async scripts run when the main thread is free.
            if let Some(i) = self.runnable.pop_front() {
                self.start_script(i);
                continue;
            }
            return;
        }
    }

    /// Whether the render-blocking stylesheets discovered before resource
    /// `i` have arrived.
    fn stylesheets_done_before(&self, i: usize) -> bool {
        self.res[..i]
            .iter()
            .filter(|r| r.kind == ResKind::Style && r.render_blocking)
            .all(|r| r.done_ms.is_some() || r.error.is_some())
    }

    fn start_script(&mut self, i: usize) {
        let kb = self.bodies.get(&i).map(|b| b.len()).unwrap_or(0) as f64 / 1024.0;
        let cost = self.cpu.script_base_ms + self.cpu.script_ms_per_kb * kb;
        let start = self.now.max(self.res[i].done_ms.unwrap_or(self.now));
        self.running = Some((i, start + cost));
    }

    /// What a script loads, known once it has run.
    fn script_ran(&mut self, i: usize, _at: f64) {
        let Some(body) = self.bodies.remove(&i) else {
            return;
        };
        let path = self.res[i].path.clone();
        let parser_blocking = self.res[i].parser_blocking;
        let text = String::from_utf8_lossy(&body).into_owned();
        let mut written = Vec::new();
        for r in scan::scan_js(&text) {
            let Some(target) = scan::resolve(&path, &r.url) else {
                continue;
            };
            let kind = ResKind::from_path(&target);
            // document.write from a script that is not parser-blocking is
            // ignored by browsers; its script loads count as async.
            if r.document_write && kind == ResKind::Script && parser_blocking {
                // Written into the document right after this script: it
                // blocks the parser (and rendering, if this one did).
                let j = self.need(&target, kind, parser_blocking, true, Source::Network);
                written.push(ParseItem {
                    path: self.res[j].path.clone(),
                    blocking_script: true,
                });
            } else {
                self.need(&target, kind, false, false, Source::Network);
            }
        }
        // The parser continues with what was written, before the rest.
        if self.parse.front().is_some_and(|p| p.path == path) {
            self.parse.pop_front();
        }
        for item in written.into_iter().rev() {
            self.parse.push_front(item);
        }
    }

    /// Whether the load is complete: the parser is done, nothing is
    /// running or waiting, every resource has arrived or failed.
    pub fn finished(&self) -> bool {
        if self.res.first().is_some_and(|d| d.error.is_some()) {
            return true;
        }
        self.parser_done_ms.is_some()
            && self.running.is_none()
            && self.runnable.is_empty()
            && self
                .res
                .iter()
                .all(|r| r.done_ms.is_some() || r.error.is_some())
    }

    /// Pushed bytes that arrived for pushes not (yet) complete when the
    /// page finished: received, and wasted.
    pub fn add_incomplete_push_bytes(&mut self, bytes: u64) {
        self.received += bytes;
        self.wasted += bytes;
    }

    /// Pushed bytes the model has been told about (complete pushes).
    pub fn push_bytes_reported(&self) -> u64 {
        self.push.values().map(|p| p.bytes).sum::<u64>() + self.unknown_push_bytes
    }

    /// The summary (callable at any time; times missing if not reached).
    pub fn summary(&self) -> PageSummary {
        let doc_done = self.res.first().and_then(|d| d.done_ms);
        let mut render = doc_done;
        for r in &self.res {
            if !r.render_blocking || r.kind == ResKind::Document {
                continue;
            }
            let t = if r.kind == ResKind::Script {
                r.evaluated_ms
            } else {
                r.done_ms
            };
            render = match (render, t) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        let load = if self.finished() {
            let mut t = self.parser_done_ms.unwrap_or(0.0);
            for r in &self.res {
                t = t.max(r.done_ms.unwrap_or(0.0));
                t = t.max(r.evaluated_ms.unwrap_or(0.0));
            }
            Some(t)
        } else {
            None
        };
        let mut wasted = self.wasted;
        let (mut used, mut unused) = (0, 0);
        for p in self.push.values() {
            if p.claimed {
                used += 1;
            } else {
                unused += 1;
                wasted += p.bytes;
            }
        }
        PageSummary {
            render_ready_ms: render,
            load_ms: load,
            dom_done_ms: self.parser_done_ms,
            bytes_received: self.received,
            bytes_wasted: wasted,
            pushes_used: used,
            pushes_wasted: unused,
            cached: self
                .res
                .iter()
                .filter(|r| r.source == Source::Cached)
                .count(),
            resources: self.res.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<!doctype html><html><head>
        <link rel="stylesheet" href="/a.css">
        <script src="/1.js"></script>
        <script src="/3.js" async></script>
        </head><body><img src="/i.png"><p>hi</p></body></html>"#;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn cacheable() -> Vec<(String, String)> {
        h(&[("cache-control", "public, max-age=3600"), ("etag", "\"x\"")])
    }

    fn paths(reqs: &[OutRequest]) -> Vec<&str> {
        reqs.iter().map(|r| r.path.as_str()).collect()
    }

    fn prio<'a>(reqs: &'a [OutRequest], path: &str) -> &'a str {
        reqs.iter()
            .find(|r| r.path == path)
            .and_then(|r| r.headers.iter().find(|(n, _)| n == "priority"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn respond(p: &mut Page, path: &str, now: f64, body: &str) {
        p.advance(now);
        p.on_response(
            path,
            200,
            &cacheable(),
            Bytes::from(body.to_string()),
            Some(now),
            now,
            None,
        );
    }

    /// A cold load: the document first, then everything its HTML names at
    /// once with Chromium's priorities; the CSS reveals a font; the
    /// blocking script runs after the CSS and reveals what it loads; load
    /// and render-ready follow from that.
    #[test]
    fn cold_load_discovers_prioritises_and_runs() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        let r = p.take_requests();
        assert_eq!(paths(&r), vec!["/"]);
        assert_eq!(prio(&r, "/"), "u=0, i");
        p.advance(10.0);
        p.on_response(
            "/",
            200,
            &h(&[("cache-control", "no-cache"), ("etag", "\"d\"")]),
            Bytes::from(DOC),
            Some(8.0),
            10.0,
            None,
        );
        let r = p.take_requests();
        assert_eq!(paths(&r), vec!["/a.css", "/1.js", "/3.js", "/i.png"]);
        assert_eq!(prio(&r, "/a.css"), "u=0");
        assert_eq!(prio(&r, "/1.js"), "u=1");
        assert_eq!(prio(&r, "/3.js"), "u=3");
        assert_eq!(prio(&r, "/i.png"), "u=2, i");
        // The script arrives before the stylesheet: it must wait for it.
        respond(
            &mut p,
            "/1.js",
            20.0,
            "document.write('<script src=\"/2.js\"></script>'); x = '/lazy.js';",
        );
        assert!(p.resource("/1.js").unwrap().evaluated_ms.is_none());
        respond(&mut p, "/a.css", 30.0, "@font-face { src: url(/f.woff2) }");
        assert_eq!(paths(&p.take_requests()), vec!["/f.woff2"]);
        // 1.js runs from 30 ms for 2 ms (base) + its size.
        let end = p.next_wakeup().unwrap();
        assert!(end > 32.0 && end < 33.0, "{end}");
        p.advance(end);
        let r = p.take_requests();
        assert_eq!(paths(&r), vec!["/2.js", "/lazy.js"]);
        assert_eq!(prio(&r, "/2.js"), "u=1", "written scripts block the parser");
        assert_eq!(prio(&r, "/lazy.js"), "u=3");
        assert!(p.summary().dom_done_ms.is_none(), "parser waits for 2.js");
        for (path, t) in [
            ("/2.js", 40.0),
            ("/3.js", 41.0),
            ("/i.png", 42.0),
            ("/f.woff2", 43.0),
            ("/lazy.js", 44.0),
        ] {
            respond(&mut p, path, t, "");
        }
        while let Some(w) = p.next_wakeup() {
            p.advance(w);
        }
        assert!(p.finished());
        let s = p.summary();
        // Render-ready: document, a.css, 1.js and 2.js run.
        let two = p.resource("/2.js").unwrap().evaluated_ms.unwrap();
        assert_eq!(s.render_ready_ms, Some(two));
        assert!(s.load_ms.unwrap() >= 44.0);
        assert_eq!(s.bytes_wasted, 0);
    }

    /// A push is adopted by a later discovery (no request), used once; a
    /// push of something the page already asked for is wasted, as is one
    /// never used.
    #[test]
    fn push_cache_semantics() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        p.advance(1.0);
        p.on_promise("/a.css");
        p.on_promise("/unused.png");
        p.advance(5.0);
        p.on_push_done(
            "/a.css",
            &cacheable(),
            Some(Bytes::from_static(b"body{}")),
            6,
            4.0,
            5.0,
        );
        p.on_push_done(
            "/unused.png",
            &cacheable(),
            Some(Bytes::from(vec![0u8; 500])),
            500,
            4.0,
            5.0,
        );
        respond(&mut p, "/", 10.0, DOC);
        let r = p.take_requests();
        assert!(!paths(&r).contains(&"/a.css"), "pushed: not requested");
        let a = p.resource("/a.css").unwrap();
        assert_eq!(a.source, Source::Pushed);
        assert_eq!(a.requested_ms, Some(1.0));
        assert_eq!(a.done_ms, Some(10.0), "available once discovered");
        // A promise for what the page already requested comes too late.
        p.on_promise("/i.png");
        p.on_push_done(
            "/i.png",
            &cacheable(),
            Some(Bytes::from(vec![1u8; 300])),
            300,
            11.0,
            12.0,
        );
        assert_eq!(p.resource("/i.png").unwrap().source, Source::Network);
        let s = p.summary();
        assert_eq!(s.pushes_used, 1);
        assert_eq!(s.pushes_wasted, 2);
        assert_eq!(s.bytes_wasted, 800);
    }

    /// A push that is still arriving when the page needs it is waited for.
    #[test]
    fn pending_push_is_waited_for() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        p.on_promise("/a.css");
        respond(&mut p, "/", 10.0, DOC);
        assert!(!paths(&p.take_requests()).contains(&"/a.css"));
        assert!(p.resource("/a.css").unwrap().done_ms.is_none());
        p.advance(15.0);
        p.on_push_done(
            "/a.css",
            &cacheable(),
            Some(Bytes::from_static(b"x{}")),
            3,
            12.0,
            15.0,
        );
        assert_eq!(p.resource("/a.css").unwrap().done_ms, Some(15.0));
    }

    /// A warm visit: fresh responses come from the cache with no request,
    /// the no-cache document is revalidated (a 304 reuses its body, so
    /// discovery still works), cookies are sent, and a push of a cached
    /// resource is wasted.
    #[test]
    fn warm_cache_and_cookies() {
        let mut cache = HttpCache::new();
        cache.store(
            "/",
            &h(&[("cache-control", "no-cache"), ("etag", "\"d1\"")]),
            Bytes::from(DOC),
        );
        for path in ["/a.css", "/1.js", "/3.js", "/i.png"] {
            cache.store(path, &cacheable(), Bytes::from_static(b""));
        }
        cache.store(
            "/nostore",
            &h(&[("cache-control", "no-store")]),
            Bytes::new(),
        );
        cache.set_cookies(&h(&[("set-cookie", "digest=abc; Path=/; Secure")]));
        assert_eq!(cache.len(), 5);
        let mut p = Page::new("/", cache, Cpu::default());
        let r = p.take_requests();
        let doc = &r[0];
        assert!(doc
            .headers
            .contains(&("if-none-match".into(), "\"d1\"".into())));
        assert!(doc
            .headers
            .contains(&("cookie".into(), "digest=abc".into())));
        p.on_promise("/a.css");
        p.on_push_done(
            "/a.css",
            &cacheable(),
            Some(Bytes::from(vec![0u8; 1000])),
            1000,
            1.0,
            2.0,
        );
        p.advance(5.0);
        p.on_response("/", 304, &[], Bytes::new(), Some(5.0), 5.0, None);
        assert_eq!(p.resource("/").unwrap().source, Source::Revalidated);
        assert!(p.take_requests().is_empty(), "all subresources fresh");
        assert_eq!(p.resource("/a.css").unwrap().source, Source::Cached);
        while let Some(w) = p.next_wakeup() {
            p.advance(w);
        }
        let s = p.summary();
        assert!(p.finished());
        assert_eq!(s.cached, 4);
        assert_eq!(s.bytes_wasted, 1000);
        assert_eq!(s.pushes_used, 0);
    }

    /// 103 Early Hints start preloads with the priority of their `as`;
    /// the parser later finds them already under way.
    #[test]
    fn early_hints_preload() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        p.advance(2.0);
        p.on_informational(
            "/",
            103,
            &h(&[
                ("link", "</a.css>; rel=preload; as=style"),
                (
                    "link",
                    "</f.woff2>; rel=preload; as=font; crossorigin, </x.js>; rel=modulepreload",
                ),
            ]),
        );
        let r = p.take_requests();
        assert_eq!(paths(&r), vec!["/a.css", "/f.woff2"]);
        assert_eq!(
            prio(&r, "/a.css"),
            "u=0",
            "a preloaded stylesheet is urgent"
        );
        assert_eq!(prio(&r, "/f.woff2"), "u=1");
        assert_eq!(p.resource("/a.css").unwrap().source, Source::Preloaded);
        respond(&mut p, "/", 300.0, DOC);
        let r = p.take_requests();
        assert!(!paths(&r).contains(&"/a.css"));
        assert!(p.resource("/a.css").unwrap().render_blocking);
        p.on_informational("/", 200, &h(&[("link", "</z.css>; rel=preload; as=style")]));
        assert!(p.take_requests().is_empty(), "only 103s are hints");
    }

    /// A hinted script that arrives before the document only waits: it
    /// runs when the parser reaches it (classic) or when the document
    /// references it (async), never before the document has arrived.
    #[test]
    fn preloaded_scripts_run_only_when_referenced() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        p.advance(1.0);
        p.on_informational(
            "/",
            103,
            &h(&[(
                "link",
                "</1.js>; rel=preload; as=script, </3.js>; rel=preload; as=script",
            )]),
        );
        p.take_requests();
        respond(&mut p, "/1.js", 50.0, "var a = 1;");
        respond(&mut p, "/3.js", 60.0, "var b = 2;");
        p.advance(200.0);
        assert!(p.resource("/1.js").unwrap().evaluated_ms.is_none());
        assert!(p.resource("/3.js").unwrap().evaluated_ms.is_none());
        respond(&mut p, "/", 300.0, DOC);
        respond(&mut p, "/a.css", 400.0, "p { }");
        p.advance(1000.0);
        for s in ["/1.js", "/3.js"] {
            let ev = p.resource(s).unwrap().evaluated_ms.unwrap();
            assert!(ev >= 300.0, "{s} ran at {ev} ms, before the document");
        }
    }

    /// A failed document ends the load; failed subresources do not hang it.
    #[test]
    fn failures_end_the_load() {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        p.on_response("/", 0, &[], Bytes::new(), None, 3.0, Some("reset".into()));
        assert!(p.finished());
        assert!(p.summary().load_ms.is_some());
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        respond(&mut p, "/", 1.0, DOC);
        for path in ["/a.css", "/1.js", "/3.js", "/i.png"] {
            p.on_response(path, 0, &[], Bytes::new(), None, 2.0, Some("reset".into()));
        }
        while let Some(w) = p.next_wakeup() {
            p.advance(w);
        }
        assert!(p.finished());
    }
}
