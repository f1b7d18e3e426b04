//! Push and Early Hints policies: given a request, the reply the core
//! planned and what is known about the connection, decide which resources
//! to push (in which order) and which to hint with 103.
//!
//! Each policy is a small implementation of [`PushPolicy`]; the protocol
//! code (HTTP/3 and HTTP/2) carries the plan out identically. The policies
//! follow the "Rules of Thumb for HTTP/2 Push" (Bergan et al., 2016):
//!
//! 1. push just enough to fill idle network time, and no more ([`Rot`]);
//! 2. push resources in evaluation order ([`Graph::evaluation_order`]);
//! 3. consider client cache state when pushing ([`CacheAware`]);
//! 4. use the same request headers the client would, and only push what
//!    does not vary on headers the server cannot know ([`pushable`]);
//! 5. consider preload instead of push ([`Preload`], [`PushPreload`]).
//!
//! [`Graph::evaluation_order`]: crate::site::Graph::evaluation_order

pub mod bdp;
pub mod gcs;

use std::collections::BTreeSet;
use std::sync::Arc;

use http::Method;
use parking_lot::Mutex;

use crate::priority::Priority;
use crate::reply::{Reply, RequestHead};
use crate::site::graph::NodeInfo;
use crate::site::{chromium, Kind, Resource, Site};

/// One resource to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// Path of the pushed resource.
    pub path: String,
    /// Priority of the push stream; `None` inherits the parent's (the
    /// built-in policies set [`push_priority`]).
    pub priority: Option<Priority>,
    /// Request header fields to put in the PUSH_PROMISE (those the response
    /// varies on, copied from the parent request).
    pub request_headers: Vec<(String, String)>,
}

/// What a policy decided for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// `Link` field values for a 103 response, in order.
    pub hints: Vec<String>,
    /// Resources to push, in the order they should be sent.
    pub pushes: Vec<PushItem>,
    /// Header fields to add to the final response (a cache-digest cookie).
    pub response_headers: Vec<(String, String)>,
}

/// What a policy may know about the connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnView {
    /// `"h3"` or `"h2"`.
    pub protocol: &'static str,
    /// The client allows pushes (MAX_PUSH_ID sent / SETTINGS_ENABLE_PUSH not 0).
    pub push_allowed: bool,
    /// The current congestion window in bytes, when the transport tells.
    pub cwnd: Option<u64>,
    /// Bytes the connection has in flight (sent, unacknowledged), when known.
    pub in_flight: Option<u64>,
}

/// Per-connection state policies may keep.
#[derive(Debug, Default)]
pub struct ConnPushState {
    /// Fingerprints of what this connection sent the client (cacheable
    /// responses and pushes), for the cache digest.
    pub sent: Mutex<BTreeSet<u32>>,
    /// Paths this connection was asked for or pushed (the `bdp` policy
    /// pushes each at most once per connection).
    pub paths: Mutex<BTreeSet<String>>,
}

/// The inputs of a decision.
pub struct PlanInput<'a> {
    /// The site.
    pub site: &'a Site,
    /// The request.
    pub request: &'a RequestHead,
    /// The reply the core planned.
    pub reply: &'a Reply,
    /// The connection.
    pub conn: ConnView,
    /// Per-connection policy state.
    pub state: &'a ConnPushState,
}

/// A push and hint policy.
pub trait PushPolicy: Send + Sync {
    /// The name used with `--push-policy`.
    fn name(&self) -> &'static str;
    /// Decides pushes and hints for one request.
    fn plan(&self, input: &PlanInput<'_>) -> Plan;
    /// Whether [`ConnView::cwnd`] and friends are needed (reading them
    /// costs a lock on the transport's state for every request).
    fn wants_transport_stats(&self) -> bool {
        false
    }
    /// Whether the policy can push at all (false for policies that only
    /// hint or do nothing): a browser that refuses push, like Chromium,
    /// sees the same server behaviour under a policy that never pushes.
    fn may_push(&self) -> bool {
        true
    }
    /// Whether the policy can send 103 Early Hints.
    fn hints(&self) -> bool {
        false
    }
}

/// The congestion window assumed when the transport does not say:
/// QUIC's and TCP's initial window of about ten packets.
//= https://www.rfc-editor.org/rfc/rfc9002#section-7.2
//# Endpoints SHOULD use an initial congestion window of ten times the
//# maximum datagram size (max_datagram_size), while limiting the window to
//# the larger of 14,720 bytes or twice the maximum datagram size.
pub const DEFAULT_CWND: u64 = 14_720;

/// A subresource of a page, with what the site and graph know about it.
#[derive(Debug, Clone)]
pub struct Child {
    /// Its path.
    pub path: String,
    /// The resource.
    pub resource: Arc<Resource>,
    /// Its graph flags.
    pub node: NodeInfo,
}

/// The subresources of a successful GET's resource in evaluation order
/// (any kind of resource: a document, a script that writes another, a
/// stylesheet with fonts); `None` for anything else.
pub fn descendants(input: &PlanInput<'_>) -> Option<Vec<Child>> {
    if input.request.method != Method::GET || input.reply.status != http::StatusCode::OK {
        return None;
    }
    let parent = input.reply.resource.as_ref()?;
    let g = input.site.graph();
    Some(
        g.evaluation_order(&parent.path)
            .into_iter()
            .filter_map(|p| {
                let resource = input.site.get(&p)?;
                let node = g.node(&p).cloned().unwrap_or_default();
                Some(Child {
                    path: p,
                    resource,
                    node,
                })
            })
            .collect(),
    )
}

/// The page's subresources in evaluation order, when the request is a
/// successful GET of a document; `None` otherwise.
pub fn page_children(input: &PlanInput<'_>) -> Option<Vec<Child>> {
    if input.reply.resource.as_ref()?.kind != Kind::Document {
        return None;
    }
    descendants(input)
}

/// Whether a resource may be pushed in answer to this request, and the
/// request header fields the promise must carry. Rules of Thumb rule 4: the
/// promised request must be the one the client would send, so a response
/// that varies on a header the parent request does not carry (or on `*`)
/// is not pushed. Only cacheable responses are pushed: `no-store` and
/// `private` ones never are.
//= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
//# Not all requests can be pushed.  A server MAY push requests that have
//# the following properties:
//#
//# *  cacheable; see Section 9.2.3 of [HTTP]
//#
//# *  safe; see Section 9.2.1 of [HTTP]
//#
//# *  does not include request content or a trailer section
pub fn pushable(request: &RequestHead, r: &Resource) -> Option<Vec<(String, String)>> {
    let cc = r.cache_control.to_ascii_lowercase();
    if cc
        .split(',')
        .any(|d| matches!(d.trim(), "no-store" | "private"))
    {
        return None;
    }
    let mut headers = Vec::new();
    if let Some(vary) = &r.vary {
        for name in vary.split(',').map(|n| n.trim().to_ascii_lowercase()) {
            if name.is_empty() {
                continue;
            }
            if name == "*" {
                return None;
            }
            let v = request.headers.get(name.as_str())?.to_str().ok()?;
            headers.push((name, v.to_string()));
        }
    }
    Some(headers)
}

/// The priority a push gets: the one the browser would request the
/// resource with ([`chromium::request_priority`], the table the emulated
/// browser requests with too), so a pushed image never shares bandwidth
/// with a pushed stylesheet just because both came with an incremental
/// document. Over HTTP/3 and HTTP/2 alike.
pub fn push_priority(kind: Kind, node: &NodeInfo) -> Priority {
    // The graph's render-blocking script is a classic one in `<head>`: the
    // parser-blocking script the browser asks for at `u=1`.
    let usage = chromium::Usage {
        render_blocking: node.render_blocking,
        parser_blocking: node.render_blocking,
        preload: node.preloaded,
        // Which images Chromium boosts depends on their sizes and order,
        // which the graph does not keep: pushed images get the default.
        boosted: false,
        early_hint: false,
    };
    chromium::request_priority(kind, usage)
}

fn item(request: &RequestHead, c: &Child) -> Option<PushItem> {
    Some(PushItem {
        path: c.path.clone(),
        priority: Some(push_priority(c.resource.kind, &c.node)),
        request_headers: pushable(request, &c.resource)?,
    })
}

/// A `Link` value preloading a child.
pub fn preload_link(c: &Child) -> String {
    let as_ = c.resource.kind.preload_as().unwrap_or("fetch");
    // Fonts are fetched in CORS mode; a preload without crossorigin would
    // not match and the font would be fetched twice.
    let cors = if c.resource.kind == Kind::Font {
        "; crossorigin"
    } else {
        ""
    };
    format!("<{}>; rel=preload; as={as_}{cors}", c.path)
}

/// The promised request of a push (its header fields as an `http`
/// header map) and the response the core gives it; `None` unless that is a
/// 200 (a push is only worth promising for a complete response). Both
/// protocols promise through this, so they push the same things.
pub fn promised(
    site: &Site,
    core: &crate::reply::CoreOptions,
    item: &PushItem,
) -> Option<(http::HeaderMap, Reply)> {
    let mut headers = http::HeaderMap::new();
    for (n, v) in &item.request_headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            headers.append(n, v);
        }
    }
    let head = RequestHead {
        method: Method::GET,
        target: item.path.clone(),
        headers: headers.clone(),
    };
    let reply = crate::reply::respond(site, &head, core);
    (reply.status == http::StatusCode::OK).then_some((headers, reply))
}

/// Rules 1 and 2: children in evaluation order while the document and the
/// pushes so far fit in the congestion window; stops at the first that
/// does not fit, so nothing is pushed when the document alone fills it.
pub fn fill_window(
    input: &PlanInput<'_>,
    children: &[Child],
    skip: impl Fn(&Child) -> bool,
) -> Vec<PushItem> {
    let cwnd = input.conn.cwnd.unwrap_or(DEFAULT_CWND);
    let mut used = input.reply.body.len();
    let mut out = Vec::new();
    for c in children {
        if skip(c) {
            continue;
        }
        let Some(it) = item(input.request, c) else {
            continue;
        };
        if used + c.resource.len > cwnd {
            break;
        }
        used += c.resource.len;
        out.push(it);
    }
    out
}

/// No pushes, no hints.
#[derive(Debug, Default)]
pub struct NoPush;

impl PushPolicy for NoPush {
    fn name(&self) -> &'static str {
        "none"
    }
    fn plan(&self, _: &PlanInput<'_>) -> Plan {
        Plan::default()
    }
    fn may_push(&self) -> bool {
        false
    }
}

/// Every pushable subresource of a document, in evaluation order: the
/// naive straw man the Rules of Thumb argue against.
#[derive(Debug, Default)]
pub struct PushAll;

impl PushPolicy for PushAll {
    fn name(&self) -> &'static str {
        "push-all"
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        Plan {
            pushes: children
                .iter()
                .filter_map(|c| item(input.request, c))
                .collect(),
            ..Plan::default()
        }
    }
}

/// Rules 1 and 2: push in evaluation order, only enough to fill the
/// congestion window.
#[derive(Debug, Default)]
pub struct Rot;

impl PushPolicy for Rot {
    fn name(&self) -> &'static str {
        "rot"
    }
    fn wants_transport_stats(&self) -> bool {
        true
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        Plan {
            pushes: fill_window(input, &children, |_| false),
            ..Plan::default()
        }
    }
}

/// Like [`Rot`], but skips what the client is known to hold (rule 3),
/// tracked with a Golomb-coded-set cookie set on every cacheable response.
#[derive(Debug, Default)]
pub struct CacheAware;

impl PushPolicy for CacheAware {
    fn name(&self) -> &'static str {
        "cache-aware"
    }
    fn wants_transport_stats(&self) -> bool {
        true
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let cookies = input
            .request
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        // A corrupt digest counts as empty: pushing too much is safe.
        let mut known: BTreeSet<u32> = gcs::find_cookie(cookies)
            .and_then(|c| gcs::from_cookie(c).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut sent = input.state.sent.lock();
        known.extend(sent.iter().copied());
        let mut plan = Plan::default();
        if let Some(children) = page_children(input) {
            plan.pushes = fill_window(input, &children, |c| {
                known.contains(&gcs::fingerprint(&c.path, &c.resource.etag))
            });
            for p in &plan.pushes {
                if let Some(r) = input.site.get(&p.path) {
                    sent.insert(gcs::fingerprint(&p.path, &r.etag));
                }
            }
        }
        if let Some(r) = input.reply.resource.as_ref() {
            if input.reply.status.is_success() && pushable(input.request, r).is_some() {
                sent.insert(gcs::fingerprint(&r.path, &r.etag));
            }
        }
        known.extend(sent.iter().copied());
        drop(sent);
        if input.reply.status.is_success() || input.reply.status == http::StatusCode::NOT_MODIFIED {
            let values: Vec<u32> = known.into_iter().collect();
            plan.response_headers.push((
                "set-cookie".into(),
                format!(
                    "{}={}; Path=/; Max-Age=86400; Secure; SameSite=Lax",
                    gcs::COOKIE,
                    gcs::to_cookie(&values)
                ),
            ));
        }
        plan
    }
}

/// Rule 5: 103 Early Hints preloading the hidden or critical subresources;
/// no push.
#[derive(Debug, Default)]
pub struct Preload;

impl PushPolicy for Preload {
    fn name(&self) -> &'static str {
        "preload"
    }
    fn may_push(&self) -> bool {
        false
    }
    fn hints(&self) -> bool {
        true
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        Plan {
            hints: children
                .iter()
                .filter(|c| c.node.hidden || c.node.critical)
                .map(preload_link)
                .collect(),
            ..Plan::default()
        }
    }
}

/// Rules 1, 2 and 5: push what fills the window, hint the rest of the
/// hidden or critical subresources with 103.
#[derive(Debug, Default)]
pub struct PushPreload;

impl PushPolicy for PushPreload {
    fn name(&self) -> &'static str {
        "push-preload"
    }
    fn wants_transport_stats(&self) -> bool {
        true
    }
    fn hints(&self) -> bool {
        true
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        let pushes = if input.conn.push_allowed {
            fill_window(input, &children, |_| false)
        } else {
            Vec::new()
        };
        let hints = children
            .iter()
            .filter(|c| c.node.hidden || c.node.critical)
            .filter(|c| !pushes.iter().any(|p| p.path == c.path))
            .map(preload_link)
            .collect();
        Plan {
            hints,
            pushes,
            ..Plan::default()
        }
    }
}

/// Pushes exactly the listed paths, in the listed order, with every
/// document (`--push-policy list:/1.js,/3.js`): for experiments on push
/// order like the Rules of Thumb's. Paths the site lacks, or that are not
/// pushable, are skipped.
#[derive(Debug, Default)]
pub struct PushList(pub Vec<String>);

impl PushPolicy for PushList {
    fn name(&self) -> &'static str {
        "list"
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        if page_children(input).is_none() {
            return Plan::default();
        }
        Plan {
            pushes: self
                .0
                .iter()
                .filter_map(|p| {
                    let r = input.site.get(p)?;
                    let node = input.site.graph().node(p).cloned().unwrap_or_default();
                    Some(PushItem {
                        path: p.clone(),
                        priority: Some(push_priority(r.kind, &node)),
                        request_headers: pushable(input.request, &r)?,
                    })
                })
                .collect(),
            ..Plan::default()
        }
    }
}

/// Makes a built-in policy.
pub type NewPolicy = fn() -> Arc<dyn PushPolicy>;

/// Every built-in policy: the name `--push-policy` accepts (its
/// [`PushPolicy::name`]) and how to make it. Adding a policy is one line
/// here; [`POLICY_NAMES`] and [`policy_by_name`] follow. [`PushList`] is
/// not listed: it is parsed from `list:/a,/b`.
pub const POLICIES: &[(&str, NewPolicy)] = &[
    ("none", || Arc::new(NoPush)),
    ("push-all", || Arc::new(PushAll)),
    ("rot", || Arc::new(Rot)),
    ("cache-aware", || Arc::new(CacheAware)),
    ("preload", || Arc::new(Preload)),
    ("push-preload", || Arc::new(PushPreload)),
    ("bdp", || Arc::new(bdp::Bdp(bdp::Budget::Cwnd))),
    ("push-all-bdp", || {
        Arc::new(bdp::PushAllBdp(bdp::Budget::Cwnd))
    }),
];

/// The names `--push-policy` accepts: those of [`POLICIES`], in order.
pub const POLICY_NAMES: &[&str] = &policy_names::<{ POLICIES.len() }>();

const fn policy_names<const N: usize>() -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = POLICIES[i].0;
        i += 1;
    }
    names
}

/// Every policy by name: those of [`POLICIES`], `list:/a,/b` for
/// [`PushList`], and `bdp:N` and `push-all-bdp:N` for the BDP-bounded
/// policies with a fixed BDP of N bytes.
pub fn policy_by_name(name: &str) -> Option<Arc<dyn PushPolicy>> {
    if let Some(rest) = name.strip_prefix("push-all-bdp:") {
        return Some(Arc::new(bdp::PushAllBdp(bdp::Budget::parse(&format!(
            ":{rest}"
        ))?)));
    }
    if let Some(rest) = name.strip_prefix("bdp:") {
        return Some(Arc::new(bdp::Bdp(bdp::Budget::parse(&format!(":{rest}"))?)));
    }
    if let Some(list) = name.strip_prefix("list:") {
        let paths: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        if paths.iter().any(|p| !p.starts_with('/')) {
            return None;
        }
        return Some(Arc::new(PushList(paths)));
    }
    POLICIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, new)| new())
}

#[cfg(test)]
mod tests;
