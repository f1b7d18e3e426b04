//! HAR 1.2 (HTTP Archive) files of the emulated browser's page loads, for
//! HAR viewers, Chrome DevTools' import and the many HAR libraries.
//!
//! Pure: a [`PageLoad`] in, serde types out. The layout follows the HAR 1.2
//! specification (<http://www.softwareishard.com/blog/har-12-spec/>); where a
//! value is unknown it uses the spec's `-1`. What HAR has no field for goes
//! in fields whose names begin with an underscore, as the spec allows for
//! custom fields:
//! - entries: `_pushed` (the response came by server push and was claimed
//!   from the push cache, or, for a push the page never used, `_wasted`),
//!   `_hinted` (a 103 Early Hints `Link: rel=preload` named it), `_source`
//!   (network, preloaded, pushed, cached, revalidated, or push-wasted),
//!   `_priority` (the RFC 9218 `priority` field the request carried),
//!   `_discoveredMs`/`_evaluatedMs` (page times, ms since navigation start),
//!   `_renderBlocking`, `_fromCache` (`disk` for HTTP-cache hits, as
//!   Chrome writes it), `_error`.
//! - pages: `_renderReady`, `_handshake` (ms since the page's start) and
//!   `_bytesWasted`.
//!
//! Times: a page starts when its connection attempt starts; the document's
//! entry carries the handshake as `connect` (and `ssl`, which HAR counts
//! inside `connect`: QUIC and TLS over TCP finish together here); every
//! other entry starts at its request (a push: at its PUSH_PROMISE).

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::browser::{PageLoad, PushRecord, Resource, Source};
use crate::client::Proto;

/// A HAR file: `{"log": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Har {
    /// The log.
    pub log: Log,
}

/// The log object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    /// "1.2".
    pub version: String,
    /// What wrote the file.
    pub creator: Creator,
    /// The browser (the emulated one).
    pub browser: Creator,
    /// The pages.
    pub pages: Vec<HarPage>,
    /// Every request, in start order.
    pub entries: Vec<Entry>,
}

/// `creator` and `browser`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creator {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// A page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HarPage {
    /// When the page's connection attempt started (ISO 8601).
    pub started_date_time: String,
    /// Its id, referenced by the entries' `pageref`.
    pub id: String,
    /// Title (the URL).
    pub title: String,
    /// Page timings.
    pub page_timings: PageTimings,
    /// Render-ready (the model's FCP stand-in), ms since the page started.
    #[serde(rename = "_renderReady")]
    pub render_ready: f64,
    /// The connection's handshake, ms.
    #[serde(rename = "_handshake")]
    pub handshake: f64,
    /// Bytes received and never used.
    #[serde(rename = "_bytesWasted")]
    pub bytes_wasted: u64,
}

/// `pageTimings`: ms since the page started, -1 when not reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageTimings {
    /// The parser reached the end of the document.
    pub on_content_load: f64,
    /// Everything arrived and every script ran.
    pub on_load: f64,
}

/// One request and its response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The page's id.
    pub pageref: String,
    /// When the request started (ISO 8601).
    pub started_date_time: String,
    /// Total time, ms: the sum of the timings that are not -1 (ssl aside).
    pub time: f64,
    /// The request.
    pub request: Request,
    /// The response.
    pub response: Response,
    /// Cache information (none known).
    pub cache: Cache,
    /// The phases.
    pub timings: Timings,
    /// The server's address.
    #[serde(rename = "serverIPAddress", skip_serializing_if = "Option::is_none")]
    pub server_ip_address: Option<String>,
    /// Came by server push.
    #[serde(rename = "_pushed")]
    pub pushed: bool,
    /// A push the page never used.
    #[serde(rename = "_wasted")]
    pub wasted: bool,
    /// Named by a 103 Early Hints response.
    #[serde(rename = "_hinted")]
    pub hinted: bool,
    /// Where its bytes came from.
    #[serde(rename = "_source")]
    pub source: String,
    /// The RFC 9218 `priority` field sent (empty when none was).
    #[serde(rename = "_priority")]
    pub priority: String,
    /// When the page learned of it, ms since navigation start.
    #[serde(rename = "_discoveredMs", skip_serializing_if = "Option::is_none")]
    pub discovered_ms: Option<f64>,
    /// When a script finished running, ms since navigation start.
    #[serde(rename = "_evaluatedMs", skip_serializing_if = "Option::is_none")]
    pub evaluated_ms: Option<f64>,
    /// Blocks rendering.
    #[serde(rename = "_renderBlocking")]
    pub render_blocking: bool,
    /// "disk" for a fresh HTTP-cache hit (no request), as Chrome writes it.
    #[serde(rename = "_fromCache", skip_serializing_if = "Option::is_none")]
    pub from_cache: Option<String>,
    /// Why it failed.
    #[serde(rename = "_error", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A name and a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// The request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// "GET".
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// "h3" or "http/2.0", as Chrome writes them.
    pub http_version: String,
    /// Cookies (none parsed).
    pub cookies: Vec<Pair>,
    /// Header fields, pseudo-header fields first.
    pub headers: Vec<Pair>,
    /// The query string's pairs.
    pub query_string: Vec<Pair>,
    /// Unknown (-1): header blocks are compressed.
    pub headers_size: i64,
    /// 0: no body.
    pub body_size: i64,
}

/// The response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Status code (0 when none came).
    pub status: u16,
    /// Reason phrase (HTTP/2 and 3 have none; the canonical one).
    pub status_text: String,
    /// As in the request.
    pub http_version: String,
    /// Cookies (none parsed).
    pub cookies: Vec<Pair>,
    /// Header fields.
    pub headers: Vec<Pair>,
    /// The body.
    pub content: Content,
    /// "" (no redirects here).
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    /// Unknown (-1).
    pub headers_size: i64,
    /// Body bytes received (0 from the cache).
    pub body_size: i64,
}

/// The response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Its length.
    pub size: i64,
    /// Its content type.
    pub mime_type: String,
}

/// `cache`: nothing known of the cache before or after.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {}

/// The phases of an entry, ms; -1 where they do not apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Queueing.
    pub blocked: f64,
    /// Name resolution.
    pub dns: f64,
    /// Connection set-up (the document only).
    pub connect: f64,
    /// Sending the request.
    pub send: f64,
    /// Waiting for the first byte.
    pub wait: f64,
    /// Receiving the rest.
    pub receive: f64,
    /// TLS (included in `connect`).
    pub ssl: f64,
}

/// The HAR of one page load. `title` names the page (a configuration's
/// label, or the URL).
pub fn page_har(load: &PageLoad, title: &str) -> Har {
    Har {
        log: Log {
            version: "1.2".into(),
            creator: Creator {
                name: "pushlab".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            browser: Creator {
                name: "pushlab emulated browser".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            pages: vec![page(load, "page_1", title)],
            entries: entries(load, "page_1"),
        },
    }
}

fn page(load: &PageLoad, id: &str, title: &str) -> HarPage {
    let s = &load.summary;
    let since_start = |v: Option<f64>| v.map(|v| v + load.handshake_ms).unwrap_or(-1.0);
    HarPage {
        started_date_time: date(load.started_unix_ms),
        id: id.into(),
        title: title.into(),
        page_timings: PageTimings {
            on_content_load: since_start(s.dom_done_ms),
            on_load: since_start(s.load_ms),
        },
        render_ready: since_start(s.render_ready_ms),
        handshake: load.handshake_ms,
        bytes_wasted: s.bytes_wasted,
    }
}

/// ISO 8601 with milliseconds, UTC, for ms since the Unix epoch.
fn date(unix_ms: f64) -> String {
    let nanos = (unix_ms.max(0.0) * 1e6) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos % 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

fn http_version(p: Proto) -> &'static str {
    match p {
        Proto::H3 => "h3",
        Proto::H2 => "http/2.0",
    }
}

/// The origin (`https://host:port`) and the query pairs of the page's URL.
fn origin(url: &str) -> String {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("https://{host}")
}

fn query(path: &str) -> Vec<Pair> {
    let Some((_, q)) = path.split_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            Pair {
                name: n.into(),
                value: v.into(),
            }
        })
        .collect()
}

fn pairs(fields: &[(String, String)]) -> Vec<Pair> {
    fields
        .iter()
        .map(|(n, v)| Pair {
            name: n.clone(),
            value: v.clone(),
        })
        .collect()
}

/// The canonical reason phrase.
fn status_text(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
        .to_string()
}

/// A time as a HAR duration: non-negative, -1 when unknown.
fn span(from: Option<f64>, to: Option<f64>) -> f64 {
    match (from, to) {
        (Some(a), Some(b)) => (b - a).max(0.0),
        _ => -1.0,
    }
}

/// Sum of the phases that apply (`ssl` is inside `connect`).
fn total(t: &Timings) -> f64 {
    [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive]
        .iter()
        .filter(|v| **v >= 0.0)
        .sum()
}

struct EntryTimes {
    /// ms since navigation start.
    start: f64,
    first_byte: Option<f64>,
    done: Option<f64>,
    connect: f64,
}

fn entries(load: &PageLoad, pageref: &str) -> Vec<Entry> {
    let origin = origin(&load.url);
    let version = http_version(load.protocol);
    let host = origin.trim_start_matches("https://").to_string();
    let server_ip = host
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
        .filter(|h| h.parse::<std::net::IpAddr>().is_ok());
    let make = |path: &str,
                times: EntryTimes,
                req_fields: &[(String, String)],
                status: u16,
                resp_fields: &[(String, String)],
                content_type: Option<&str>,
                bytes: u64,
                network: bool| {
        let mut headers = vec![
            Pair {
                name: ":method".into(),
                value: "GET".into(),
            },
            Pair {
                name: ":authority".into(),
                value: host.clone(),
            },
            Pair {
                name: ":scheme".into(),
                value: "https".into(),
            },
            Pair {
                name: ":path".into(),
                value: path.into(),
            },
        ];
        headers.extend(pairs(req_fields));
        // The first byte is read on the connection's clock and the request
        // time on the page's, a moment apart: a first byte up to that
        // moment before the request counts as at the request, so that the
        // phases still add up to done minus start.
        let first_byte = times.first_byte.map(|f| f.max(times.start));
        let wait = span(Some(times.start), first_byte);
        let receive = span(first_byte, times.done);
        let timings = Timings {
            blocked: -1.0,
            dns: -1.0,
            connect: times.connect,
            send: if network { 0.0 } else { -1.0 },
            wait: if network { wait } else { 0.0 },
            receive: if network { receive } else { 0.0 },
            ssl: times.connect,
        };
        let nav_start = load.started_unix_ms + load.handshake_ms;
        let started = if times.connect >= 0.0 {
            load.started_unix_ms
        } else {
            nav_start + times.start
        };
        let mut resp_headers = vec![Pair {
            name: ":status".into(),
            value: status.to_string(),
        }];
        resp_headers.extend(pairs(resp_fields));
        Entry {
            pageref: pageref.into(),
            started_date_time: date(started),
            time: total(&timings),
            request: Request {
                method: "GET".into(),
                url: format!("{origin}{path}"),
                http_version: version.into(),
                cookies: Vec::new(),
                headers,
                query_string: query(path),
                headers_size: -1,
                body_size: 0,
            },
            response: Response {
                status,
                status_text: status_text(status),
                http_version: version.into(),
                cookies: Vec::new(),
                headers: resp_headers,
                content: Content {
                    size: bytes as i64,
                    mime_type: content_type.unwrap_or("").into(),
                },
                redirect_url: String::new(),
                headers_size: -1,
                body_size: if network { bytes as i64 } else { 0 },
            },
            cache: Cache {},
            timings,
            server_ip_address: network.then(|| server_ip.clone()).flatten(),
            pushed: false,
            wasted: false,
            hinted: false,
            source: String::new(),
            priority: String::new(),
            discovered_ms: None,
            evaluated_ms: None,
            render_blocking: false,
            from_cache: None,
            error: None,
        }
    };
    let mut out: Vec<(f64, Entry)> = Vec::new();
    for (i, r) in load.summary.resources.iter().enumerate() {
        let network = r.source != Source::Cached;
        let start = r.requested_ms.unwrap_or(r.discovered_ms);
        let times = EntryTimes {
            start,
            first_byte: r.first_byte_ms,
            done: r.done_ms,
            connect: if i == 0 { load.handshake_ms } else { -1.0 },
        };
        let mut e = make(
            &r.path,
            times,
            &r.request_headers,
            r.status,
            &r.response_headers,
            r.content_type.as_deref(),
            r.bytes,
            network,
        );
        describe(&mut e, r);
        let order = if i == 0 { f64::NEG_INFINITY } else { start };
        out.push((order, e));
    }
    for p in load.summary.pushes.iter().filter(|p| !p.claimed) {
        out.push((p.promised_ms, wasted_push(p, &make)));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.into_iter().map(|(_, e)| e).collect()
}

/// The custom fields of a resource's entry.
fn describe(e: &mut Entry, r: &Resource) {
    e.pushed = r.source == Source::Pushed;
    e.hinted = r.hinted;
    e.source = match r.source {
        Source::Network => "network",
        Source::Preloaded => "preloaded",
        Source::Pushed => "pushed",
        Source::Cached => "cached",
        Source::Revalidated => "revalidated",
    }
    .into();
    e.priority = r.priority.clone();
    e.discovered_ms = Some(r.discovered_ms);
    e.evaluated_ms = r.evaluated_ms;
    e.render_blocking = r.render_blocking;
    e.from_cache = (r.source == Source::Cached).then(|| "disk".to_string());
    e.error = r.error.clone();
}

type Make<'a> = dyn Fn(
        &str,
        EntryTimes,
        &[(String, String)],
        u16,
        &[(String, String)],
        Option<&str>,
        u64,
        bool,
    ) -> Entry
    + 'a;

/// The entry of a push the page never used.
fn wasted_push(p: &PushRecord, make: &Make<'_>) -> Entry {
    let ct = p
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    let times = EntryTimes {
        start: p.promised_ms,
        first_byte: p.first_byte_ms,
        done: p.done_ms,
        connect: -1.0,
    };
    let status = if p.failed || p.done_ms.is_none() {
        0
    } else {
        200
    };
    let mut e = make(&p.path, times, &[], status, &p.headers, ct, p.bytes, true);
    e.pushed = true;
    e.wasted = true;
    e.source = "push-wasted".into();
    e.error = p.failed.then(|| "push cancelled or failed".to_string());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::{PageSummary, ResKind};

    fn resource(path: &str, source: Source, t: [f64; 4], bytes: u64) -> Resource {
        let json = serde_json::json!({
            "path": path, "kind": "Script", "source": source, "priority": "u=1",
            "render_blocking": false, "parser_blocking": false,
            "discovered_ms": t[0], "requested_ms": t[1], "first_byte_ms": t[2],
            "done_ms": t[3], "evaluated_ms": null, "status": 200, "bytes": bytes,
            "error": null,
        });
        let mut r: Resource = serde_json::from_value(json).expect("a resource");
        r.content_type = Some("text/javascript".into());
        r
    }

    fn load() -> PageLoad {
        let mut doc = resource(
            "/index.html?x=1",
            Source::Network,
            [0.0, 0.0, 80.0, 95.0],
            9000,
        );
        doc.kind = ResKind::Document;
        let mut hinted = resource("/a.css", Source::Preloaded, [5.0, 5.0, 60.0, 70.0], 3000);
        hinted.hinted = true;
        let pushed = resource("/b.js", Source::Pushed, [96.0, 20.0, 40.0, 50.0], 2000);
        let cached = resource("/c.png", Source::Cached, [96.0, 96.0, 96.0, 96.0], 0);
        PageLoad {
            url: "https://10.0.0.1:4433/index.html?x=1".into(),
            protocol: Proto::H3,
            started_unix_ms: 1_764_000_000_123.4,
            handshake_ms: 40.0,
            summary: PageSummary {
                render_ready_ms: Some(100.0),
                load_ms: Some(120.0),
                dom_done_ms: Some(110.0),
                bytes_received: 15000,
                bytes_wasted: 1000,
                pushes_used: 1,
                pushes_wasted: 1,
                cached: 1,
                resources: vec![doc, hinted, pushed, cached],
                pushes: vec![PushRecord {
                    path: "/d.js".into(),
                    promised_ms: 30.0,
                    first_byte_ms: Some(35.0),
                    done_ms: Some(45.0),
                    bytes: 1000,
                    claimed: false,
                    too_late: false,
                    failed: false,
                    cancelled: None,
                    vary_mismatch: false,
                    carried: false,
                    headers: vec![("content-type".into(), "text/javascript".into())],
                }],
                ..PageSummary::default()
            },
            error: None,
            scripts: Vec::new(),
            first_render: None,
            font_render: None,
            deliveries: Vec::new(),
        }
    }

    /// The document first, then entries in start order; the document
    /// carries the handshake; the phases add up to `time`; pushlab's own
    /// facts in underscore fields.
    #[test]
    fn entries_and_timings() {
        let har = page_har(&load(), "h3 /index.html push-all lte cold");
        let v = serde_json::to_value(&har).expect("serialisable");
        assert_eq!(v["log"]["version"], "1.2");
        let page = &v["log"]["pages"][0];
        assert_eq!(page["startedDateTime"], "2025-11-24T16:00:00.123Z");
        assert_eq!(page["pageTimings"]["onLoad"], 160.0);
        assert_eq!(page["pageTimings"]["onContentLoad"], 150.0);
        let e = &har.log.entries;
        let paths: Vec<&str> = e.iter().map(|e| e.request.url.as_str()).collect();
        assert_eq!(
            paths,
            [
                "https://10.0.0.1:4433/index.html?x=1",
                "https://10.0.0.1:4433/a.css",
                "https://10.0.0.1:4433/b.js",
                "https://10.0.0.1:4433/d.js",
                "https://10.0.0.1:4433/c.png",
            ]
        );
        assert_eq!(e[0].timings.connect, 40.0);
        assert_eq!(e[0].timings.wait, 80.0);
        assert_eq!(e[0].timings.receive, 15.0);
        assert_eq!(e[0].time, 135.0);
        assert_eq!(e[0].started_date_time, "2025-11-24T16:00:00.123Z");
        assert_eq!(e[0].request.query_string[0].name, "x");
        assert_eq!(e[1].started_date_time, "2025-11-24T16:00:00.168Z");
        assert!(e[1].hinted && !e[1].pushed);
        assert!(e[2].pushed && !e[2].wasted && e[2].source == "pushed");
        assert!(e[3].pushed && e[3].wasted && e[3].source == "push-wasted");
        assert_eq!(e[3].response.content.mime_type, "text/javascript");
        assert_eq!(e[4].from_cache.as_deref(), Some("disk"));
        assert_eq!(e[4].response.body_size, 0);
        assert_eq!(e[4].timings.send, -1.0);
        for x in e {
            assert_eq!(x.time, total(&x.timings), "{}", x.request.url);
            assert!(x.request.headers.iter().any(|h| h.name == ":path"));
            assert_eq!(x.request.http_version, "h3");
        }
        assert_eq!(e[1].request.headers.len(), 4, "no extra fields recorded");
    }

    /// A first byte read a moment before the request (two clocks) makes
    /// no wait, and the entry's time is still done minus start (it was
    /// 0.3 ms longer once in CI: tests/har.rs).
    #[test]
    fn first_byte_before_the_request_is_at_the_request() {
        let mut l = load();
        l.summary.resources[1] = resource("/a.css", Source::Network, [5.0, 10.0, 9.7, 67.0], 3000);
        let har = page_har(&l, "x");
        let e = har
            .log
            .entries
            .iter()
            .find(|e| e.request.url.ends_with("/a.css"))
            .expect("an entry");
        assert_eq!(e.timings.wait, 0.0);
        assert_eq!(e.timings.receive, 57.0);
        assert_eq!(e.time, 57.0);
    }

    #[test]
    fn dates_and_spans() {
        assert_eq!(date(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(date(-5.0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_000.9), "1970-01-01T00:00:01Z");
        assert_eq!(date(1_001.9), "1970-01-01T00:00:01.001Z");
        assert_eq!(span(Some(5.0), Some(3.0)), 0.0);
        assert_eq!(span(None, Some(3.0)), -1.0);
        assert_eq!(status_text(304), "Not Modified");
        assert_eq!(status_text(0), "");
        assert_eq!(origin("https://[::1]:4433/a?b"), "https://[::1]:4433");
    }
}
