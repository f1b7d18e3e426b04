//! The emulated browser's page-load model, pure: events in (responses,
//! push promises and pushed responses, 103 hints, the passing of time as
//! milliseconds since navigation start), requests out. No sockets, no
//! clock; [`super::driver`] connects it to a real connection.
//!
//! What it models, and what it leaves out:
//! - The document is read as its bytes arrive, not once it is complete
//!   ([`Page::on_body_chunk`]), from [`Cpu::commit_ms`] after its first
//!   byte (navigation commit: the renderer takes the response).
//! - The preload scanner: every resource referenced by the part of the
//!   document read so far is requested at once. Stylesheets reveal
//!   `@import`s and `url()`s (images) when they arrive; web fonts are
//!   fetched when first needed, at the first layout (Blink defers a font
//!   load "until it is actually needed", `ResourceFetcher::GetDeferPolicy`);
//!   scripts reveal what they load when they have run
//!   ([`crate::site::scan::scan_js`]), or at DOMContentLoaded for a script
//!   that waits for it.
//! - Blink's tight mode (`ResourceLoadScheduler`): until the parser
//!   inserts `<body>` (past every blocking script of the head), a request
//!   below High priority starts only while fewer than 2 throttleable
//!   requests are in flight, or, at Medium, while fewer than 2 Medium ones
//!   are; held requests start, highest priority first, when one finishes
//!   or the body is inserted. The first five images of the document that
//!   are not small (over 10,000 px², or of unknown size) are Medium, the
//!   others Low ([`chromium::level`]). 103 preloads, made by the browser
//!   process, are not held; they are requested [`Cpu::hint_ms`] after the
//!   103 arrives, and the network thread is busy that long once the
//!   document's head is in, unless the HTTP cache holds them all.
//! - The parser: it walks the document's references in order; a classic
//!   script in `<head>` (or one written by `document.write`) stops it until
//!   the script has arrived, every stylesheet before it (with the
//!   stylesheets those import) has arrived, and it has run. Scripts run one
//!   at a time on one main thread, taking `script_base_ms +
//!   script_ms_per_kb x size`.
//! - Render-ready: the document and every render-blocking resource (its
//!   stylesheets with their imports, its head scripts, run) are done.
//!   First layout: the body is inserted and every render-blocking
//!   stylesheet has arrived, plus [`Cpu::layout_ms`], once the main thread
//!   is free; it starts the first rendering update, which holds the main
//!   thread for [`Cpu::render_ms`] (scripts, the parser's end and a load
//!   event under way wait for it). The FCP proxy is the first layout plus
//!   [`Cpu::paint_ms`]. The SpeedIndex proxy weighs the
//!   first paint and each image's arrival by area (see [`Page::summary`]).
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
//! - 103 Early Hints, and `Link: <...>; rel=preload` on the final response
//!   of the document: each starts a request (unless cached or already
//!   pushed), with the priority of its `as`.
//! - Priorities: the `priority` header Chromium sends for each kind
//!   ([`chromium::request_priority`], the table pushes get theirs from).
//!
//! This file holds the page's resources, discovery and the events; the
//! parser and main thread are in `parser.rs`, the push cache in `push.rs`.

mod parser;
mod push;

pub use self::push::{vary_matches, CancelReason, PromiseAnswer};

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use self::parser::ParseItem;
use self::push::PushEntry;
use super::cache::HttpCache;
use crate::site::chromium;
use crate::site::scan::{self, RefKind};

/// Blink's tight-mode limit on throttleable requests in flight
/// (`kTightLimitForRendererSideResourceScheduler`).
const TIGHT_LIMIT: usize = 2;
/// The Medium-priority requests tight mode lets start regardless
/// (`kBoostImagePriorityTightMediumLimit`).
const TIGHT_MEDIUM_LIMIT: usize = 2;
/// Blink boosts this many not-small images of the preload scanner's...
const BOOSTED_IMAGES: usize = 5;
/// ...those larger than this many square pixels, or of unknown size.
const SMALL_IMAGE_AREA: u64 = 10_000;

/// What a resource is, as the browser decides from how it was referenced:
/// the site model's kinds.
pub use crate::site::Kind as ResKind;

/// Where a resource's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// A 103 Early Hints response named it (`Link: rel=preload`).
    #[serde(default)]
    pub hinted: bool,
    /// The response's `content-type`, when one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The protocol it came over, as a real browser reports it
    /// (`nextHopProtocol`; the emulated browser leaves it out: all its
    /// requests use the load's protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Requested without credentials (`fetch(url, {credentials: 'omit'})`):
    /// over a connection of its own, as browsers do, so no push made on
    /// the page's connection answers it and no cookie goes with it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Chromium: when its request crossed the network, from the net log
    /// (ms since the document's request), where the log has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_log: Option<crate::browser::netlog::NetTimes>,
    /// The header fields the request carried besides the pseudo-headers
    /// (for HAR files; not in runs.json).
    #[serde(skip)]
    pub request_headers: Vec<(String, String)>,
    /// The response's header fields (for HAR files; not in runs.json).
    #[serde(skip)]
    pub response_headers: Vec<(String, String)>,
    /// The document or a script referenced it (not only a preload): a
    /// preloaded script is fetched but runs only once referenced.
    #[serde(skip)]
    referenced: bool,
    /// Blink's priority for it (None: not requested by the page).
    #[serde(skip)]
    level: Option<chromium::Level>,
    /// The stylesheet that `@import`ed it.
    #[serde(skip)]
    import_of: Option<usize>,
}

impl Resource {
    /// A resource with every time and size unset, to be filled in (as a
    /// real browser reported it, or as the model learns it).
    pub fn observed(path: &str, kind: ResKind, source: Source) -> Resource {
        Resource {
            path: path.to_string(),
            kind,
            source,
            priority: String::new(),
            render_blocking: false,
            parser_blocking: false,
            discovered_ms: 0.0,
            requested_ms: None,
            first_byte_ms: None,
            done_ms: None,
            evaluated_ms: None,
            status: 0,
            bytes: 0,
            error: None,
            hinted: false,
            content_type: None,
            protocol: None,
            anonymous: false,
            net_log: None,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            referenced: true,
            level: None,
            import_of: None,
        }
    }
}

/// A promised push as the page saw it, used or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRecord {
    /// The pushed path.
    pub path: String,
    /// When its PUSH_PROMISE arrived (ms since navigation start).
    pub promised_ms: f64,
    /// Its first byte, when it completed.
    pub first_byte_ms: Option<f64>,
    /// Its last byte, when it completed.
    pub done_ms: Option<f64>,
    /// Body bytes received for it.
    pub bytes: u64,
    /// The page adopted it.
    pub claimed: bool,
    /// The page had requested the resource before the promise came.
    pub too_late: bool,
    /// It was reset, or failed (not cancelled by the page).
    pub failed: bool,
    /// The page cancelled it at its promise: it held the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<push::CancelReason>,
    /// Its `Vary` fields did not match the page's request for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vary_mismatch: bool,
    /// Received while an earlier page loaded on the connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carried: bool,
    /// The pushed response's header fields (for HAR files; not in runs.json).
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
}

/// A request the page wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRequest {
    /// Path to request.
    pub path: String,
    /// Without credentials: over a connection of its own.
    pub anonymous: bool,
    /// Extra header fields (`priority`, `cookie`, `if-none-match`).
    pub headers: Vec<(String, String)>,
}

/// CPU model of the page's main thread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// Fixed cost of running a script (ms).
    pub script_base_ms: f64,
    /// Cost per KB of script (ms).
    pub script_ms_per_kb: f64,
    /// From the document's first byte to the parser's first look at it
    /// (navigation commit, the renderer taking the response), ms.
    #[serde(default)]
    pub commit_ms: f64,
    /// From rendering unblocked (body inserted, render-blocking
    /// stylesheets arrived) to the first layout, ms.
    #[serde(default)]
    pub layout_ms: f64,
    /// From the first layout to the first contentful paint, ms.
    #[serde(default)]
    pub paint_ms: f64,
    /// How long the first rendering update (style, layout, paint: one
    /// main-thread task in Chromium's traces) holds the main thread, ms.
    /// Scripts wait for it, and so does the parser's end: Blink's parser
    /// yields after a blocking script, and a due rendering update runs
    /// first (DOMContentLoaded came after it in 5 of 6 traced LTE loads).
    #[serde(default)]
    pub render_ms: f64,
    /// How long the rendering update a web font causes when it arrives
    /// after the first layout holds the main thread, ms: the text, drawn
    /// in a fallback font (`font-display: swap`), is laid out and painted
    /// again. In Chromium's traces of warm LTE demo loads it took 4-20 ms,
    /// and the async script behind it was handed its cached response only
    /// after it.
    #[serde(default)]
    pub font_render_ms: f64,
    /// From a request that the HTTP cache answers to its body being
    /// available (Chromium's cache lives in the network service, below
    /// Blink's scheduler: a cached request is scheduled like any other
    /// and then read from disk), ms.
    #[serde(default)]
    pub cache_read_ms: f64,
    /// How much longer than `cache_read_ms` a visit's first read from the
    /// HTTP cache takes, ms; reads made while it is under way end no
    /// earlier than it. In Chromium's warm LTE loads the reads made
    /// together at the start of a visit took 8-19 ms (medians per rank),
    /// the later ones 2-3 ms.
    #[serde(default)]
    pub cache_open_ms: f64,
    /// From a 103 Early Hints response's arrival to the requests for the
    /// preloads it names, ms. Chromium's browser process makes them
    /// (`NavigationEarlyHintsManager`), one after another, each through
    /// the network service's request set-up and HTTP cache: on loopback
    /// its net log shows the first sent 23 ms after the 103 was read, the
    /// last 36 ms after (see proto-notes/browser-model.md).
    #[serde(default)]
    pub hint_ms: f64,
    /// Main-thread time of handing a subresource's response to the page
    /// (Blink's `ResourceReceiveResponse`, `ResourceReceivedData` and
    /// `ResourceFinish` tasks: the loader, an image's header decoding, a
    /// stylesheet's parse), by kind, ms. The page acts on the response (a
    /// script runnable, a stylesheet loaded, its imports and fonts found,
    /// its request slot freed) only when that task ends, and the task
    /// waits for the main thread. In Chromium's traces of warm LTE demo
    /// loads, these tasks held the main thread for 22-37 ms between the
    /// document's end and the first layout.
    #[serde(default)]
    pub handover: Handover,
    /// The parser's end (and with it DOMContentLoaded and a load event
    /// with nothing else to wait for) goes before a due first rendering
    /// update, instead of after it: what Chromium did on the push-order
    /// page (its first layout ran after the load event in the traces),
    /// not on the demo page (see `Calibration::parser_end_first_by_page`).
    #[serde(default)]
    pub parser_end_first: bool,
    /// Fixed cost of running a script read from the HTTP cache (ms), when
    /// calibrated (a warm visit's scripts; 0 means `script_base_ms`).
    #[serde(default)]
    pub cached_script_base_ms: f64,
    /// Its cost per KB (ms).
    #[serde(default)]
    pub cached_script_ms_per_kb: f64,
}

/// Main-thread time of handing a response of each kind to the page, ms
/// (see [`Cpu::handover`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handover {
    /// A script.
    pub script_ms: f64,
    /// A stylesheet (its parse included).
    pub style_ms: f64,
    /// An image.
    pub image_ms: f64,
    /// A web font.
    pub font_ms: f64,
    /// Anything else.
    pub other_ms: f64,
}

impl Handover {
    /// The cost for a response of `kind`.
    pub fn of(&self, kind: ResKind) -> f64 {
        match kind {
            ResKind::Script => self.script_ms,
            ResKind::Style => self.style_ms,
            ResKind::Image => self.image_ms,
            ResKind::Font => self.font_ms,
            _ => self.other_ms,
        }
    }
}

impl Default for Cpu {
    /// About a 2016 mid-range phone (the Rules of Thumb ran on a Moto G);
    /// commit, layout and paint take no time (not calibrated for it).
    fn default() -> Self {
        Cpu {
            script_base_ms: 2.0,
            script_ms_per_kb: 1.0,
            commit_ms: 0.0,
            layout_ms: 0.0,
            paint_ms: 0.0,
            render_ms: 0.0,
            font_render_ms: 0.0,
            cache_read_ms: 0.0,
            cache_open_ms: 0.0,
            hint_ms: 0.0,
            handover: Handover::default(),
            parser_end_first: false,
            cached_script_base_ms: 0.0,
            cached_script_ms_per_kb: 0.0,
        }
    }
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
    /// The document's bytes so far, read as they arrive.
    doc: Doc,
    /// Blink's tight mode is over: the parser inserted `<body>`.
    body_inserted: bool,
    /// Images the preload scanner boosted to Medium so far.
    boosted_images: usize,
    /// Requests held by tight mode, in the order made.
    held: Vec<usize>,
    /// Throttleable requests sent and not answered.
    in_flight: std::collections::HashSet<usize>,
    /// Cached bodies of resources whose request has not been made yet.
    cached_bodies: HashMap<usize, Bytes>,
    /// Cache reads under way: (resource, when its body is available).
    cache_reads: Vec<(usize, f64)>,
    /// When the visit's first cache read ends (once one was made).
    first_read_done: Option<f64>,
    /// 103 responses whose preloads are not requested yet.
    hints: Vec<PendingHint>,
    /// The preloads being requested come from a 103 (made by the browser
    /// process, so Blink's tight mode does not hold them).
    from_hint: bool,
    /// Web fonts the stylesheets declare, fetched at the first layout.
    fonts: Vec<String>,
    /// When rendering was unblocked, and when the first layout is due.
    layout_due: Option<f64>,
    /// The first layout happened then.
    layout_ms: Option<f64>,
    /// A web font arrived after the first layout: a rendering update is
    /// due, to start when the main thread is free.
    font_update_due: bool,
    /// The rendering updates web fonts caused: (start, end) ms.
    font_updates: Vec<(f64, f64)>,
    /// Responses in and not yet handed to the page, in arrival order:
    /// (resource, body, main-thread cost ms).
    deliveries: VecDeque<(usize, Bytes, f64)>,
    /// The main thread hands this response over until then.
    delivering: Option<(usize, Bytes, f64)>,
    /// The last response handed over ended then (the load event waits
    /// for every one).
    delivered_ms: f64,
    /// Loads scripts make at DOMContentLoaded, until it comes.
    dcl_loads: Vec<(String, bool)>,
    /// The document's images and their declared areas (px²), for the
    /// SpeedIndex proxy.
    image_area: std::collections::BTreeMap<usize, u64>,
    now: f64,
}

/// Removes the entry of `pending` due earliest (the first of equals), if it
/// is due by `now`: events the model keeps until their time.
fn take_due<T>(pending: &mut Vec<T>, now: f64, due: impl Fn(&T) -> f64) -> Option<T> {
    let k = pending
        .iter()
        .enumerate()
        .filter(|(_, e)| due(e) <= now)
        .min_by(|a, b| due(a.1).total_cmp(&due(b.1)))
        .map(|(k, _)| k)?;
    Some(pending.remove(k))
}

/// A 103 whose preloads are requested at `due`.
#[derive(Debug)]
struct PendingHint {
    due: f64,
    /// The path it answered.
    path: String,
    headers: Vec<(String, String)>,
}

/// The document as the parser reads it.
#[derive(Debug, Default)]
struct Doc {
    /// Its bytes so far.
    bytes: Vec<u8>,
    /// All of them arrived.
    complete: bool,
    /// When the first arrived (ms).
    first_ms: Option<f64>,
    /// How many bytes, and how many of their references, were acted on.
    read: usize,
    refs: usize,
    /// Everything was read.
    all_read: bool,
    /// `<body` was read.
    body_seen: bool,
}

/// The outcome of a page load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// Every push promised, in promise order, used or not.
    #[serde(default)]
    pub pushes: Vec<PushRecord>,
    /// First contentful paint (ms): Chromium's paint timing; the emulated
    /// browser's proxy (see [`Page::summary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcp_ms: Option<f64>,
    /// Largest contentful paint (ms), Chromium only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lcp_ms: Option<f64>,
    /// The load event's start (ms), Chromium only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_event_ms: Option<f64>,
    /// SpeedIndex proxy (ms), the emulated browser only (see
    /// [`Page::summary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_index_ms: Option<f64>,
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
            doc: Doc::default(),
            body_inserted: false,
            boosted_images: 0,
            held: Vec::new(),
            in_flight: Default::default(),
            cached_bodies: HashMap::new(),
            cache_reads: Vec::new(),
            first_read_done: None,
            hints: Vec::new(),
            from_hint: false,
            fonts: Vec::new(),
            layout_due: None,
            layout_ms: None,
            font_update_due: false,
            font_updates: Vec::new(),
            deliveries: VecDeque::new(),
            delivering: None,
            delivered_ms: 0.0,
            dcl_loads: Vec::new(),
            image_area: Default::default(),
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
        self.need_image(
            path,
            kind,
            render_blocking,
            parser_blocking,
            via,
            false,
            false,
        )
    }

    /// [`Page::need`], for an image the preload scanner may boost, or a
    /// request without credentials.
    #[allow(clippy::too_many_arguments)]
    fn need_image(
        &mut self,
        path: &str,
        kind: ResKind,
        render_blocking: bool,
        parser_blocking: bool,
        via: Source,
        boosted: bool,
        anonymous: bool,
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
        let mut r = Resource::observed(path, kind, via);
        r.render_blocking = render_blocking;
        r.parser_blocking = parser_blocking;
        r.discovered_ms = now;
        r.referenced = via != Source::Preloaded;
        r.hinted = self.from_hint && via == Source::Preloaded;
        r.anonymous = anonymous;
        self.res.push(r);
        self.index.insert(path.to_string(), i);
        // A preload (103 hint or `<link rel=preload>`) is requested with the
        // priority of its type as a browser gives it to preloads: a
        // stylesheet as if it blocked rendering, a script as if it blocked
        // the parser; a 103's, made by the browser process, incremental.
        let usage = chromium::Usage {
            render_blocking,
            parser_blocking,
            preload: via == Source::Preloaded,
            boosted,
            early_hint: self.from_hint && via == Source::Preloaded,
        };
        let priority = chromium::request_priority(kind, usage).to_string();
        self.res[i].level = Some(chromium::level(kind, usage));
        //= https://jakearchibald.com/2017/h2-push-tougher-than-i-thought/
        //# The HTTP/2 push cache is the last cache the browser checks
        if kind != ResKind::Document {
            if let Some(e) = self.cache.fresh(path).cloned() {
                // Blink schedules the request like any other (tight mode
                // holds it alike); the network service answers it from
                // its disk cache.
                self.res[i].source = Source::Cached;
                self.cached_bodies.insert(i, e.body);
                if self.may_start(i) {
                    self.send(i);
                } else {
                    self.held.push(i);
                }
                return i;
            }
        }
        let mut headers = vec![("priority".to_string(), priority.clone())];
        if let Some(c) = self.cache.cookie_header().filter(|_| !anonymous) {
            headers.push(("cookie".into(), c));
        }
        if let Some(etag) = self.cache.revalidatable(path).and_then(|e| e.etag.clone()) {
            headers.push(("if-none-match".into(), etag));
        }
        let r = &mut self.res[i];
        r.priority = priority;
        r.request_headers = headers;
        // The push cache is matched against the request the page would
        // make (its Vary fields).
        if self.adopt_push(i) {
            return i;
        }
        if self.may_start(i) {
            self.send(i);
        } else {
            self.held.push(i);
        }
        i
    }

    /// Whether Blink's resource load scheduler lets request `i` start now.
    //= https://source.chromium.org/chromium/chromium/src/+/main:third_party/blink/renderer/platform/loader/fetch/resource_load_scheduler.h
    //# Tight mode (used until the frame sees a <body> element)
    fn may_start(&self, i: usize) -> bool {
        let r = &self.res[i];
        let level = r.level.unwrap_or(chromium::Level::VeryHigh);
        // The document, fetches (not throttleable), 103 preloads (made by
        // the browser process) and anything High or above start at once.
        if i == 0
            || self.body_inserted
            || r.kind == ResKind::Other
            || r.hinted
            || level >= chromium::Level::High
        {
            return true;
        }
        if self.in_flight.len() < TIGHT_LIMIT {
            return true;
        }
        level == chromium::Level::Medium
            && self
                .in_flight
                .iter()
                .filter(|&&j| self.res[j].level == Some(chromium::Level::Medium))
                .count()
                < TIGHT_MEDIUM_LIMIT
    }

    /// Sends request `i` (or finds its push, or reads the cache).
    fn send(&mut self, i: usize) {
        if let Some(body) = self.cached_bodies.remove(&i) {
            self.res[i].requested_ms = Some(self.now);
            if self.cpu.cache_read_ms > 0.0 || self.cpu.cache_open_ms > 0.0 {
                self.in_flight.insert(i);
                let read = self.now + self.cpu.cache_read_ms;
                let due = match self.first_read_done {
                    None => *self.first_read_done.insert(read + self.cpu.cache_open_ms),
                    Some(first) => read.max(first),
                };
                self.cache_reads.push((i, due));
                self.cached_bodies.insert(i, body);
            } else {
                self.cache_read(i, self.now, body);
            }
            return;
        }
        if self.adopt_push(i) {
            return;
        }
        let r = &mut self.res[i];
        r.requested_ms = Some(self.now);
        if i != 0 && r.kind != ResKind::Other {
            self.in_flight.insert(i);
        }
        self.out.push(OutRequest {
            path: r.path.clone(),
            anonymous: r.anonymous,
            headers: r.request_headers.clone(),
        });
    }

    /// Starts the held requests tight mode now allows, highest priority
    /// first, in the order made among equals.
    fn release_held(&mut self) {
        loop {
            let next = self
                .held
                .iter()
                .enumerate()
                .filter(|(_, &i)| self.may_start(i))
                .max_by(|a, b| {
                    self.res[*a.1]
                        .level
                        .cmp(&self.res[*b.1].level)
                        .then(b.0.cmp(&a.0))
                })
                .map(|(k, &i)| (k, i));
            let Some((k, i)) = next else { return };
            self.held.remove(k);
            self.send(i);
        }
    }

    /// A cache read is over: the body is there at `at`.
    fn cache_read(&mut self, i: usize, at: f64, body: Bytes) {
        let r = &mut self.res[i];
        r.status = 200;
        r.first_byte_ms = Some(at);
        r.done_ms = Some(at);
        self.deliver(i, body);
    }

    /// Finishes the cache reads due by now, in the order they are due.
    pub(super) fn finish_cache_reads(&mut self) {
        while let Some((i, at)) = take_due(&mut self.cache_reads, self.now, |r| r.1) {
            let body = self.cached_bodies.remove(&i).unwrap_or_default();
            self.cache_read(i, at, body);
        }
    }

    /// Advances the clock (ms since navigation start) and runs what is due.
    pub fn advance(&mut self, now: f64) {
        self.now = self.now.max(now);
        self.run();
    }

    /// When the model next needs [`Page::advance`] without any event
    /// (a script finishing), if ever.
    pub fn next_wakeup(&self) -> Option<f64> {
        let commit = self
            .doc
            .first_ms
            .map(|f| f + self.cpu.commit_ms)
            .filter(|_| {
                self.doc.read < self.doc.bytes.len() || (self.doc.complete && !self.doc.all_read)
            });
        let read = self.cache_reads.iter().map(|r| r.1).reduce(f64::min);
        let hint = self.hints.iter().map(|h| h.due).reduce(f64::min);
        [
            self.running.map(|(_, end)| end),
            self.delivering.as_ref().map(|d| d.2),
            self.updates()
                .map(|u| u.1)
                .filter(|&t| t > self.now)
                .reduce(f64::min),
            commit,
            self.layout_due.filter(|_| self.layout_ms.is_none()),
            read,
            hint,
        ]
        .into_iter()
        .flatten()
        .reduce(f64::min)
    }

    /// A chunk of a response body as it arrives: the document's is read
    /// as it comes (other responses are acted on when complete).
    pub fn on_body_chunk(&mut self, path: &str, chunk: &[u8]) {
        if self.res.first().is_none_or(|d| d.path != path) || self.doc.complete {
            return;
        }
        self.doc.first_ms.get_or_insert(self.now);
        self.doc.bytes.extend_from_slice(chunk);
        self.run();
    }

    /// A 1xx response for `path`: a 103 Early Hints response starts its
    /// preloads [`Cpu::hint_ms`] later.
    ///
    /// Returns how long the browser's network thread is then busy, ms (0
    /// for anything but a 103, and when the HTTP cache holds every
    /// preload). Chromium's reads no packet while it sets the preloads'
    /// requests up: on the LTE link its net log shows no packet read for
    /// 24-53 ms after the 103 while the link delivered them, reading
    /// resuming as the preloads' requests leave
    /// (results/emulator-realtime-lte/). It reads the document's final
    /// header section first (0-6 ms after the 103 in all 160 hinted LTE
    /// loads of results/browser-validation-lte20-render/). So it is busy
    /// for `hint_ms`: the driver holds the connection that long once the
    /// document's head is in, and the server sees the ACKs of that flight
    /// come late and bunched, as Chromium's do.
    //= https://www.rfc-editor.org/rfc/rfc8297#section-2
    //# The 103 (Early Hints) informational status code indicates to the
    //# client that the server is likely to send a final response with the
    //# header fields included in the informational response.
    pub fn on_informational(
        &mut self,
        path: &str,
        status: u16,
        headers: &[(String, String)],
    ) -> f64 {
        if status != 103 {
            return 0.0;
        }
        // Chromium's network thread is busy setting up preloads that go to
        // the network; when its HTTP cache holds every one, its warm 103
        // loads take as long as its warm loads without a 103 (LTE, 20 runs
        // each: 213 against 219 ms, 167 against 164 ms).
        let network = preload_targets(path, headers)
            .iter()
            .any(|(t, _)| self.cache.fresh(t).is_none());
        self.hints.push(PendingHint {
            due: self.now + self.cpu.hint_ms,
            path: path.to_string(),
            headers: headers.to_vec(),
        });
        self.run();
        if network {
            self.cpu.hint_ms
        } else {
            0.0
        }
    }

    /// Requests the preloads of the 103s due by now, in the order they
    /// are due. A resource the page requested in the meantime keeps its
    /// request (it is not hinted).
    pub(super) fn finish_hints(&mut self) {
        while let Some(h) = take_due(&mut self.hints, self.now, |h| h.due) {
            self.from_hint = true;
            self.preload_links(&h.path, &h.headers);
            self.from_hint = false;
        }
    }

    /// Starts a preload for each `Link: <...>; rel=preload` among the
    /// header fields of a response to `path` (a 103's while `from_hint`).
    fn preload_links(&mut self, path: &str, headers: &[(String, String)]) {
        for (target, kind) in preload_targets(path, headers) {
            if self.from_hint && self.index.contains_key(&target) {
                continue;
            }
            // A 103's preload that the HTTP cache holds fresh gains the
            // page nothing: Chromium's browser process makes it, and the
            // renderer's own request reads the cache again when the page
            // asks. Its warm 103 loads took as long as its warm loads
            // without a 103 (LTE, 20 runs each: 205 against 218 ms and 208
            // against 209 ms, results/browser-validation-lte20-final/);
            // starting these cache reads at the 103 made the model's 11-17
            // ms faster than its own warm loads without one.
            if self.from_hint && self.cache.fresh(&target).is_some() {
                continue;
            }
            // Hinted stylesheets and fonts are needed for rendering, but
            // the hint alone does not make them block anything.
            let j = self.need(&target, kind, false, false, Source::Preloaded);
            self.res[j].hinted = true;
        }
    }

    /// The final response's status and header fields for `path`, as soon
    /// as they arrive (before its body): cookies are set, and the
    /// document's `Link` preloads start, before the page requests what
    /// the body names, as in a browser. [`Page::on_response`] follows.
    pub fn on_response_head(&mut self, path: &str, status: u16, headers: &[(String, String)]) {
        if !self.index.contains_key(path) {
            return;
        }
        self.cache.set_cookies(headers);
        if status != 304 && self.res.first().is_some_and(|d| d.path == path) {
            self.preload_links(path, headers);
        }
        self.run();
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
            // The first byte never after the last (the driver caps the
            // last at the moment it learns of it).
            r.first_byte_ms = Some(first_byte_ms.unwrap_or(done_ms).min(done_ms));
            r.done_ms = Some(done_ms);
            r.bytes = body.len() as u64;
            r.error = error.clone();
            r.response_headers = headers.to_vec();
            r.content_type = content_type(headers);
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
        if i == 0 {
            // The final response's Link preloads, like a 103's.
            //= https://www.rfc-editor.org/rfc/rfc8297#section-2
            //# the server might send an informational response with the
            //# Link header fields ... followed by the final response
            //# containing the same header fields
            self.preload_links(path, headers);
            self.doc
                .first_ms
                .get_or_insert(self.res[0].first_byte_ms.unwrap_or(done_ms));
            self.doc.bytes = body.to_vec();
            self.doc.complete = true;
            self.in_flight.remove(&i);
            self.release_held();
        } else {
            self.deliver(i, body);
        }
        self.run();
    }

    /// Reads what arrived of the document since the last look, once the
    /// navigation has committed: the preload scanner requests what the
    /// new part references, the parser queues its stylesheets and scripts.
    fn read_document(&mut self) {
        let Some(first) = self.doc.first_ms else {
            return;
        };
        if self.now < first + self.cpu.commit_ms || self.doc.all_read {
            return;
        }
        if self.doc.read == self.doc.bytes.len() && !self.doc.complete {
            return;
        }
        // Up to the last complete tag, unless the document is complete.
        let end = if self.doc.complete {
            self.doc.bytes.len()
        } else {
            match self.doc.bytes.iter().rposition(|&b| b == b'>') {
                Some(k) => k + 1,
                None => return,
            }
        };
        if end <= self.doc.read && !self.doc.complete {
            return;
        }
        // Scanning from the start again is linear in what arrived: skip it
        // when the new part cannot hold a reference or the body tag.
        let new_from = self.doc.read.saturating_sub(16);
        let worth = self.doc.complete
            || self.doc.read == 0
            || might_reference(&self.doc.bytes[new_from..end]);
        self.doc.read = end;
        if !worth {
            return;
        }
        if !self.doc.body_seen {
            self.doc.body_seen = self.doc.bytes[new_from..end]
                .windows(5)
                .any(|w| w.eq_ignore_ascii_case(b"<body"));
        }
        let text = Bytes::copy_from_slice(&self.doc.bytes[..end]);
        let refs = scan::scan_html(&text);
        let new: Vec<scan::Ref> = refs.iter().skip(self.doc.refs).cloned().collect();
        self.doc.refs = self.doc.refs.max(refs.len());
        self.document_refs(new);
        if self.doc.complete {
            self.doc.all_read = true;
        }
        self.parsing = true;
    }

    /// The preload scanner and the parser act on references of the
    /// document, in document order.
    fn document_refs(&mut self, refs: Vec<scan::Ref>) {
        let path = self.res[0].path.clone();
        for r in refs {
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
            if k == ResKind::Font && r.kind != RefKind::Preload {
                // An inline style's font.
                self.declare_font(target);
                continue;
            }
            let via = if r.kind == RefKind::Preload {
                Source::Preloaded
            } else {
                Source::Network
            };
            // Blink boosts the first few images of the document that are
            // not small.
            let boosted = r.kind == RefKind::Image
                && !self.index.contains_key(&target)
                && self.boosted_images < BOOSTED_IMAGES
                && r.size.is_none_or(|(w, h)| {
                    w > 0 && h > 0 && u64::from(w) * u64::from(h) > SMALL_IMAGE_AREA
                });
            if boosted {
                self.boosted_images += 1;
            }
            let j = self.need_image(&target, k, rb, pb, via, boosted, false);
            if r.kind == RefKind::Image {
                let area = r
                    .size
                    .map(|(w, h)| u64::from(w) * u64::from(h))
                    .unwrap_or(SMALL_IMAGE_AREA);
                self.image_area.entry(j).or_insert(area);
            }
            if matches!(r.kind, RefKind::Stylesheet | RefKind::Script) {
                self.parse.push_back(ParseItem {
                    path: self.res[j].path.clone(),
                    blocking_script: pb,
                });
            }
        }
    }

    /// A subresource's response is in (from the network, the cache or a
    /// push): it waits for the main thread to hand it to the page
    /// ([`Cpu::handover`]); at once when that costs nothing.
    pub(super) fn deliver(&mut self, i: usize, body: Bytes) {
        let cost = self.cpu.handover.of(self.res[i].kind);
        if cost > 0.0 {
            self.deliveries.push_back((i, body, cost));
        } else {
            self.handed_over(i, body, self.now);
        }
    }

    /// Whether resource `i`'s response is in but not yet handed to the
    /// page.
    pub(super) fn undelivered(&self, i: usize) -> bool {
        self.delivering.as_ref().is_some_and(|d| d.0 == i)
            || self.deliveries.iter().any(|d| d.0 == i)
    }

    /// The page has resource `i`'s response (at `at`): Blink's scheduler frees its
    /// slot, and the page acts on it.
    pub(super) fn handed_over(&mut self, i: usize, body: Bytes, at: f64) {
        self.delivered_ms = self.delivered_ms.max(at);
        self.in_flight.remove(&i);
        self.arrived(i, body);
        self.release_held();
    }

    /// A resource's body is available: discover what it references.
    fn arrived(&mut self, i: usize, body: Bytes) {
        let (kind, path, render_blocking) = {
            let r = &self.res[i];
            (r.kind, r.path.clone(), r.render_blocking)
        };
        match kind {
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
                    if k == ResKind::Font {
                        self.declare_font(target);
                        continue;
                    }
                    let known = self.index.contains_key(&target);
                    let j = self.need(&target, k, rb, false, Source::Network);
                    if r.kind == RefKind::CssImport && !known {
                        self.res[j].import_of = Some(i);
                    }
                }
            }
            // A web font after the first layout: the text is laid out and
            // painted again with it (font-display: swap).
            ResKind::Font if self.layout_ms.is_some() && self.cpu.font_render_ms > 0.0 => {
                self.font_update_due = true;
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

    /// Whether the load is complete: the parser is done, nothing is
    /// running or waiting, every resource has arrived or failed.
    pub fn finished(&self) -> bool {
        if self.res.first().is_some_and(|d| d.error.is_some()) {
            return true;
        }
        // The first layout too (it may fetch fonts, and gives the FCP),
        // and every 103's preloads.
        self.hints.is_empty()
            && self.parser_done_ms.is_some()
            && self.layout_ms.is_some()
            && self.running.is_none()
            && !self.rendering()
            && !self.font_update_due
            && self.runnable.is_empty()
            && self.delivering.is_none()
            && self.deliveries.is_empty()
            && self
                .res
                .iter()
                .all(|r| r.done_ms.is_some() || r.error.is_some())
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
            let mut t = self.parser_done_ms.unwrap_or(0.0).max(self.delivered_ms);
            for r in &self.res {
                t = t.max(r.done_ms.unwrap_or(0.0));
                t = t.max(r.evaluated_ms.unwrap_or(0.0));
            }
            // The load event is a main-thread task: a rendering update
            // that started before it delays it. Where the parser's end
            // goes first, a load event due at the parser's end goes before
            // the update that starts then, as in Chromium's traces.
            let strict = self.cpu.parser_end_first;
            for (start, end) in self.updates() {
                if start < t || (start == t && !strict) {
                    t = t.max(end);
                }
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
            } else if !p.carried {
                // A push an earlier page left, still unused, is that
                // page's waste, not this one's.
                unused += 1;
                wasted += p.bytes;
            }
        }
        let mut pushes: Vec<PushRecord> =
            self.push.iter().map(|(path, p)| p.record(path)).collect();
        pushes.sort_by(|a, b| {
            a.promised_ms
                .total_cmp(&b.promised_ms)
                .then_with(|| a.path.cmp(&b.path))
        });
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
            pushes,
            fcp_ms: self.fcp(),
            speed_index_ms: self.speed_index(),
            ..PageSummary::default()
        }
    }
}

impl Page {
    /// Every rendering update started so far, (start, end) ms: the first,
    /// from the first layout for `render_ms`, then those web fonts caused.
    fn updates(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.layout_ms
            .map(|start| (start, start + self.cpu.render_ms))
            .into_iter()
            .chain(self.font_updates.iter().copied())
    }

    /// Whether a rendering update holds the main thread now.
    pub(super) fn rendering(&self) -> bool {
        self.updates().any(|(_, end)| end > self.now)
    }

    /// Starts the rendering update a web font made due, now (the main
    /// thread is free).
    pub(super) fn start_font_update(&mut self) -> bool {
        if !self.font_update_due {
            return false;
        }
        self.font_update_due = false;
        self.font_updates
            .push((self.now, self.now + self.cpu.font_render_ms));
        true
    }

    /// The FCP proxy: the first layout plus the paint cost.
    fn fcp(&self) -> Option<f64> {
        self.layout_ms.map(|l| l + self.cpu.paint_ms)
    }

    /// The SpeedIndex proxy, `sum of t x (visual share completed at t)`:
    /// the first paint completes the page but its images (the share of a
    /// 1280x800 viewport their declared sizes cover, unknown sizes counted
    /// as 100x100, all of them together at most 80%); each image completes
    /// its share when it has arrived (not before the first paint). None
    /// until the first paint and every image. Not validated: Chromium does
    /// not report a SpeedIndex (it needs a video of the load).
    fn speed_index(&self) -> Option<f64> {
        let fcp = self.fcp()?;
        let images: Vec<(f64, f64)> = self
            .image_area
            .iter()
            .map(|(&i, &a)| Some((self.res[i].done_ms?, a as f64)))
            .collect::<Option<_>>()?;
        let total: f64 = images.iter().map(|(_, a)| a).sum();
        let scale = if total > 0.0 {
            (VIEWPORT_AREA * 0.8).min(total) / total
        } else {
            0.0
        };
        let mut si = 0.0;
        let mut shown = 0.0;
        for (done, area) in &images {
            let share = area * scale / VIEWPORT_AREA;
            si += done.max(fcp) * share;
            shown += share;
        }
        Some(si + fcp * (1.0 - shown))
    }
}

/// Whether HTML text may hold the start of an element the scanner reports
/// (or `<body`), or a `style` attribute.
/// The targets of the `Link: <...>; rel=preload` fields among `headers`
/// of a response to `path`, resolved, with the kind their `as` names.
fn preload_targets(path: &str, headers: &[(String, String)]) -> Vec<(String, ResKind)> {
    let mut out = Vec::new();
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
                out.push((target, kind));
            }
        }
    }
    out
}

fn might_reference(text: &[u8]) -> bool {
    const NAMES: [&[u8]; 8] = [
        b"<img", b"<script", b"<link", b"<body", b"<style", b"<video", b"<input", b"style=",
    ];
    NAMES
        .iter()
        .any(|n| text.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)))
}

/// The viewport the SpeedIndex proxy assumes (Chromium's is 1280x800 in
/// the validation), px².
const VIEWPORT_AREA: f64 = 1280.0 * 800.0;

/// The `content-type` among response header fields.
fn content_type(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests;
