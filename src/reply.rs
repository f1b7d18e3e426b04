//! The request-handling core shared by HTTP/3 and HTTP/2: from a request
//! head to a reply plan (status, header fields, body source, think time,
//! effective priority). The protocol files only translate to and from
//! their wire libraries and feed the body through the send queue.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use crate::priority::{self, Priority, PriorityError};
use crate::site::path::{normalize, PathError};
use crate::site::{Body, Pattern, Resource, Site};

/// The `server` header value.
pub const SERVER: &str = concat!("pushlab/", env!("CARGO_PKG_VERSION"));

/// What the core needs from a request.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target (`:path`).
    pub target: String,
    /// Request header fields.
    pub headers: HeaderMap,
}

impl RequestHead {
    /// The head of a request as HTTP/2 and HTTP/3 libraries hand it over,
    /// and its `:authority` (pushes are promised for it).
    pub fn from_parts(parts: http::request::Parts) -> (RequestHead, Option<String>) {
        let authority = parts.uri.authority().map(|a| a.to_string());
        let target = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let head = RequestHead {
            method: parts.method,
            target,
            headers: parts.headers,
        };
        (head, authority)
    }
}

/// Where a reply's body comes from.
#[derive(Debug, Clone)]
pub enum ReplyBody {
    /// No body (HEAD, 304, or an empty resource).
    Empty,
    /// A short generated body (error messages).
    Bytes(Bytes),
    /// A site resource's bytes.
    Resource(Body, u64),
}

impl ReplyBody {
    /// Body length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            ReplyBody::Empty => 0,
            ReplyBody::Bytes(b) => b.len() as u64,
            ReplyBody::Resource(_, len) => *len,
        }
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The plan for a response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Final status.
    pub status: StatusCode,
    /// Final header fields (without pseudo-headers).
    pub headers: HeaderMap,
    /// The body.
    pub body: ReplyBody,
    /// Server-side delay before the final response may be sent.
    pub think: Duration,
    /// Effective priority: the client's signal with the server's override on top.
    pub priority: Priority,
    /// The client's `priority` field value as sent, for the log.
    pub client_priority: Option<String>,
    /// The client's priority as parsed (defaults when absent or invalid).
    pub client_priority_parsed: Priority,
    /// A client `priority` value that failed to parse (then ignored).
    pub priority_error: Option<PriorityError>,
    /// The resource served, if any.
    pub resource: Option<Arc<Resource>>,
    /// Why the request was refused, for the log.
    pub refusal: Option<String>,
}

impl Reply {
    /// The server's own priority parameters for the resource served (from
    /// `site.toml`), which override the client's.
    pub fn server_priority(&self) -> crate::priority::PriorityParams {
        self.resource
            .as_ref()
            .map(|r| r.server_priority)
            .unwrap_or_default()
    }
}

/// Options that differ by deployment, not by request.
#[derive(Debug, Clone, Default)]
pub struct CoreOptions {
    /// An `alt-svc` value added to every reply (HTTP/2 and HTTP/1.1 advertise HTTP/3).
    pub alt_svc: Option<String>,
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The client's priority from its `priority` field lines.
pub fn client_priority(headers: &HeaderMap) -> (Priority, Option<String>, Option<PriorityError>) {
    let lines: Vec<&[u8]> = headers
        .get_all("priority")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let raw = if lines.is_empty() {
        None
    } else {
        Some(
            lines
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let (prio, err) = priority::from_request_header_lines(lines);
    (prio, raw, err)
}

fn base_headers(now: SystemTime, opts: &CoreOptions) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::SERVER, HeaderValue::from_static(SERVER));
    h.insert(header::DATE, hv(&httpdate::fmt_http_date(now)));
    if let Some(alt) = &opts.alt_svc {
        h.insert(header::ALT_SVC, hv(alt));
    }
    h
}

/// Why a request's header section is malformed in HTTP/2 and HTTP/3 (a
/// connection-specific field, or `te` other than "trailers"), if it is.
pub fn connection_specific_field(headers: &HeaderMap) -> Option<String> {
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.2
    //# An endpoint MUST NOT generate an HTTP/3 field section containing
    //# connection-specific fields; any message containing connection-specific
    //# fields MUST be treated as malformed.
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    ] {
        if headers.contains_key(name) {
            return Some(format!("connection-specific field {name}"));
        }
    }
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.2
    //# The only exception to this is the TE header field, which MAY be
    //# present in an HTTP/3 request header; when it is, it MUST NOT contain
    //# any value other than "trailers".
    for v in headers.get_all(header::TE) {
        if !v.as_bytes().eq_ignore_ascii_case(b"trailers") {
            return Some(format!("te: {}", String::from_utf8_lossy(v.as_bytes())));
        }
    }
    None
}

/// The 400 for a malformed request (RFC 9114 section 4.1.2: "A server MAY
/// send an HTTP response indicating the error prior to closing or
/// resetting the stream").
pub fn malformed(req: &RequestHead, why: &str, opts: &CoreOptions) -> Reply {
    text_reply(
        StatusCode::BAD_REQUEST,
        format!("malformed request: {why}"),
        base_headers(SystemTime::now(), opts),
        req.method == Method::HEAD,
        client_priority(&req.headers),
    )
}

fn text_reply(
    status: StatusCode,
    msg: String,
    mut headers: HeaderMap,
    head: bool,
    prio: (Priority, Option<String>, Option<PriorityError>),
) -> Reply {
    let body = Bytes::from(format!("{msg}\n"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Reply {
        status,
        headers,
        body: if head {
            ReplyBody::Empty
        } else {
            ReplyBody::Bytes(body)
        },
        think: Duration::ZERO,
        priority: prio.0,
        client_priority_parsed: prio.0,
        client_priority: prio.1,
        priority_error: prio.2,
        resource: None,
        refusal: Some(msg),
    }
}

/// Whether `If-None-Match` matches the entity tag (weak comparison).
//= https://www.rfc-editor.org/rfc/rfc9110#section-13.1.2
//# A recipient MUST use the weak comparison function when comparing entity
//# tags for If-None-Match (Section 8.8.3.2), since weak entity tags can be
//# used for cache validation even if there have been changes to the
//# representation data.
fn none_match(headers: &HeaderMap, etag: &str) -> Option<bool> {
    let values: Vec<&HeaderValue> = headers.get_all(header::IF_NONE_MATCH).iter().collect();
    if values.is_empty() {
        return None;
    }
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = strip(etag);
    let matched = values.iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .split(',')
            .any(|t| t.trim() == "*" || strip(t) == ours)
    });
    Some(matched)
}

/// Whether the resource is unmodified since `If-Modified-Since`.
//= https://www.rfc-editor.org/rfc/rfc9110#section-13.1.3
//# A recipient MUST ignore If-Modified-Since if the request contains an
//# If-None-Match header field; the condition in If-None-Match is considered
//# to be a more accurate replacement for the condition in
//# If-Modified-Since, and the two are only combined for the sake of
//# interoperating with older intermediaries that might not implement
//# If-None-Match.
fn not_modified_since(headers: &HeaderMap, last_modified: SystemTime) -> bool {
    let Some(v) = headers.get(header::IF_MODIFIED_SINCE) else {
        return false;
    };
    let Ok(since) = httpdate::parse_http_date(v.to_str().unwrap_or("")) else {
        return false;
    };
    // Compare at the one-second resolution of HTTP dates.
    let lm = last_modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let s = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    lm <= s
}

fn resource_headers(r: &Resource, h: &mut HeaderMap) {
    h.insert(header::ETAG, hv(&r.etag));
    h.insert(
        header::LAST_MODIFIED,
        hv(&httpdate::fmt_http_date(r.last_modified)),
    );
    h.insert(header::CACHE_CONTROL, hv(&r.cache_control));
    if let Some(v) = &r.vary {
        h.insert(header::VARY, hv(v));
    }
    if let Some(p) = &r.server_priority_raw {
        h.insert(HeaderName::from_static("priority"), hv(p));
    }
    for (n, v) in &r.extra_headers {
        if let Ok(name) = HeaderName::from_bytes(n.as_bytes()) {
            h.append(name, hv(v));
        }
    }
}

/// Plans the response to a request that may have arrived in 0-RTT early
/// data (`early`): unsafe methods are refused with 425 (they could be
/// replayed); safe ones are served like any other.
pub fn respond_early(site: &Site, req: &RequestHead, opts: &CoreOptions, early: bool) -> Reply {
    //= https://www.rfc-editor.org/rfc/rfc8470#section-3
    //# The request method's safety ([RFC7231], Section 4.2.1) is one way to
    //# determine this.
    let safe = matches!(
        req.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if early && !safe {
        //= https://www.rfc-editor.org/rfc/rfc8470#section-5.2
        //# A 425 (Too Early) status code indicates that the server is unwilling
        //# to risk processing a request that might be replayed.
        let prio = client_priority(&req.headers);
        return text_reply(
            StatusCode::TOO_EARLY,
            format!(
                "{} in 0-RTT early data could be replayed: retry after the handshake",
                req.method
            ),
            base_headers(SystemTime::now(), opts),
            false,
            prio,
        );
    }
    respond(site, req, opts)
}

/// Plans the response to a request.
pub fn respond(site: &Site, req: &RequestHead, opts: &CoreOptions) -> Reply {
    let now = SystemTime::now();
    let prio = client_priority(&req.headers);
    let mut headers = base_headers(now, opts);
    let head = req.method == Method::HEAD;
    //= https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6
    //# The origin server MUST generate an Allow header field in a 405
    //# response containing a list of the target resource's currently
    //# supported methods.
    if req.method != Method::GET && !head {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return text_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed", req.method),
            headers,
            false,
            prio,
        );
    }
    let path = match normalize(&req.target) {
        Ok(p) => p,
        Err(PathError::TooLong) => {
            return text_reply(
                StatusCode::URI_TOO_LONG,
                PathError::TooLong.to_string(),
                headers,
                head,
                prio,
            )
        }
        Err(e) => return text_reply(StatusCode::BAD_REQUEST, e.to_string(), headers, head, prio),
    };
    let Some(res) = site.get(&path) else {
        return text_reply(
            StatusCode::NOT_FOUND,
            format!("{path} not found"),
            headers,
            head,
            prio,
        );
    };
    resource_headers(&res, &mut headers);
    let effective = res.server_priority.merge_onto(prio.0);
    let unmodified = match none_match(&req.headers, &res.etag) {
        Some(m) => m,
        None => not_modified_since(&req.headers, res.last_modified),
    };
    let (status, body) = if unmodified {
        (StatusCode::NOT_MODIFIED, ReplyBody::Empty)
    } else {
        headers.insert(header::CONTENT_TYPE, hv(&res.content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(res.len));
        let body = if head || res.len == 0 {
            ReplyBody::Empty
        } else {
            ReplyBody::Resource(res.body.clone(), res.len)
        };
        (StatusCode::OK, body)
    };
    Reply {
        status,
        headers,
        body,
        think: res.think,
        priority: effective,
        client_priority_parsed: prio.0,
        client_priority: prio.1,
        priority_error: prio.2,
        resource: Some(res),
        refusal: None,
    }
}

/// Reads a reply body in chunks, whatever its source.
pub struct BodyReader {
    body: ReplyBody,
    offset: u64,
    file: Option<tokio::fs::File>,
    pattern: Option<Pattern>,
}

impl BodyReader {
    /// A reader positioned at the start of the body.
    pub fn new(body: ReplyBody) -> Self {
        BodyReader {
            body,
            offset: 0,
            file: None,
            pattern: None,
        }
    }

    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.body.len().saturating_sub(self.offset)
    }

    /// The next chunk of at most `max` bytes, or `None` at the end.
    pub async fn next(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        let remaining = self.remaining();
        if remaining == 0 {
            return Ok(None);
        }
        let n = (remaining.min(max as u64)) as usize;
        let chunk = match &self.body {
            ReplyBody::Empty => return Ok(None),
            ReplyBody::Bytes(b) => b.slice(self.offset as usize..self.offset as usize + n),
            ReplyBody::Resource(Body::Static(b), _) => {
                b.slice(self.offset as usize..self.offset as usize + n)
            }
            ReplyBody::Resource(Body::Generated { seed }, _) => {
                let seed = *seed;
                self.pattern
                    .get_or_insert_with(|| Pattern::new(seed))
                    .bytes(self.offset, n)
            }
            ReplyBody::Resource(Body::File(path), _) => {
                if self.file.is_none() {
                    self.file = Some(tokio::fs::File::open(path).await?);
                }
                let Some(file) = self.file.as_mut() else {
                    return Ok(None);
                };
                let mut buf = vec![0u8; n];
                let got = file.read(&mut buf).await?;
                if got == 0 {
                    // The file shrank after the scan: end the body short,
                    // which the caller reports as an error.
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than when the site was scanned",
                    ));
                }
                buf.truncate(got);
                Bytes::from(buf)
            }
        };
        self.offset += chunk.len() as u64;
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_specific_fields_are_malformed() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (n, v) in pairs {
                m.append(*n, HeaderValue::from_static(v));
            }
            m
        };
        assert_eq!(connection_specific_field(&h(&[("accept", "*/*")])), None);
        assert_eq!(connection_specific_field(&h(&[("te", "trailers")])), None);
        assert_eq!(connection_specific_field(&h(&[("te", "Trailers")])), None);
        for bad in [
            ("connection", "close"),
            ("keep-alive", "5"),
            ("proxy-connection", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("te", "gzip"),
        ] {
            let why = connection_specific_field(&h(&[("accept", "*/*"), bad]));
            assert!(why.is_some_and(|w| w.contains(bad.0)), "{bad:?}");
        }
        // Any te value other than trailers, even beside one that is.
        assert!(connection_specific_field(&h(&[("te", "trailers"), ("te", "gzip")])).is_some());
    }

    fn get(site: &Site, target: &str, extra: &[(&str, &str)]) -> Reply {
        let mut headers = HeaderMap::new();
        for (n, v) in extra {
            headers.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), hv(v));
        }
        respond(
            site,
            &RequestHead {
                method: Method::GET,
                target: target.to_string(),
                headers,
            },
            &CoreOptions::default(),
        )
    }

    #[test]
    fn serves_demo_with_validators() {
        let site = Site::demo();
        let r = get(&site, "/css/style.css", &[]);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(r.headers.contains_key(header::ETAG));
        assert!(r.headers.contains_key(header::LAST_MODIFIED));
        let etag = r.headers[header::ETAG].to_str().unwrap().to_string();
        let r2 = get(&site, "/css/style.css", &[("if-none-match", &etag)]);
        assert_eq!(r2.status, StatusCode::NOT_MODIFIED);
        assert!(r2.body.is_empty());
        let weak = format!("W/{etag}");
        let r3 = get(
            &site,
            "/css/style.css",
            &[("if-none-match", &format!("\"x\", {weak}"))],
        );
        assert_eq!(r3.status, StatusCode::NOT_MODIFIED);
        let lm = r.headers[header::LAST_MODIFIED]
            .to_str()
            .unwrap()
            .to_string();
        let r4 = get(&site, "/css/style.css", &[("if-modified-since", &lm)]);
        assert_eq!(r4.status, StatusCode::NOT_MODIFIED);
        // If-None-Match wins over If-Modified-Since.
        let r5 = get(
            &site,
            "/css/style.css",
            &[("if-none-match", "\"other\""), ("if-modified-since", &lm)],
        );
        assert_eq!(r5.status, StatusCode::OK);
    }

    #[test]
    fn refusals() {
        let site = Site::demo();
        assert_eq!(get(&site, "/nope", &[]).status, StatusCode::NOT_FOUND);
        assert_eq!(
            get(&site, "/../etc/passwd", &[]).status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(get(&site, "/%2e%2e/x", &[]).status, StatusCode::BAD_REQUEST);
        let long = format!("/{}", "a".repeat(9000));
        assert_eq!(get(&site, &long, &[]).status, StatusCode::URI_TOO_LONG);
        let post = respond(
            &site,
            &RequestHead {
                method: Method::POST,
                target: "/".into(),
                headers: HeaderMap::new(),
            },
            &CoreOptions::default(),
        );
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn head_has_length_but_no_body() {
        let site = Site::demo();
        let r = respond(
            &site,
            &RequestHead {
                method: Method::HEAD,
                target: "/img/hero.png".into(),
                headers: HeaderMap::new(),
            },
            &CoreOptions::default(),
        );
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.is_empty());
        assert_eq!(
            r.headers[header::CONTENT_LENGTH].to_str().unwrap(),
            site.get("/img/hero.png").unwrap().len.to_string()
        );
    }

    #[test]
    fn priority_from_header_and_server_override() {
        let mut cfg =
            crate::site::SiteConfig::parse("[paths.\"/a.css\"]\npriority = \"u=0\"").unwrap();
        cfg.set("/b.js", Default::default());
        let mut site = Site::empty("t", cfg);
        site.insert(
            "/a.css".into(),
            Body::Static(Bytes::from_static(b"x")),
            1,
            "\"a\"".into(),
            SystemTime::now(),
        );
        let r = get(&site, "/a.css", &[("priority", "u=5, i")]);
        assert_eq!(r.priority, Priority::new(0, true));
        assert_eq!(r.client_priority.as_deref(), Some("u=5, i"));
        assert_eq!(r.headers["priority"], "u=0");
        let r = get(&site, "/a.css", &[("priority", "u=")]);
        assert!(r.priority_error.is_some());
        assert_eq!(r.priority, Priority::new(0, false));
    }

    #[tokio::test]
    async fn body_reader_generated_matches_pattern() {
        let site = Site::demo();
        let r = get(&site, "/bytes/200000", &[]);
        let mut reader = BodyReader::new(r.body);
        let mut all = Vec::new();
        while let Some(c) = reader.next(16_384).await.unwrap() {
            all.extend_from_slice(&c);
        }
        assert_eq!(
            &all[..],
            &crate::site::generated_chunk(crate::site::BYTES_SEED, 0, 200_000)[..]
        );
    }
}
