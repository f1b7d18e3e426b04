//! The push cache, with browser semantics (Jake Archibald, "HTTP/2 push is
//! tougher than I thought", 2017, which tested them in Chrome, Firefox,
//! Safari and Edge):
//!
//! - a pushed response is used at most once, only by a request the page
//!   makes after its PUSH_PROMISE arrived, and only when no cache before
//!   it (the HTTP cache) answers;
//! - the push cache belongs to the connection: pages loaded on one
//!   connection share it ([`Page::carry_push`]), and it dies with it;
//! - a promise for what the page already holds (fresh in the HTTP cache,
//!   or unused in the push cache) is cancelled ([`PromiseAnswer::Cancel`]);
//! - a pushed response is matched with HTTP semantics: its `Vary` header
//!   fields must carry the same values in the promised request as in the
//!   request the page would make;
//! - a request without credentials goes over another connection, so it
//!   never finds a push made on the page's ([`super::Resource::anonymous`]).
//!
//! Chrome, by the article, differed on two of these: it ignored `Vary`
//! (crbug 554220) and cancelled only pushes of what its push cache held,
//! not its HTTP cache (crbug 232040). Safari matched `Vary`; Edge
//! cancelled pushes of what its HTTP cache held.

use bytes::Bytes;

use super::{Page, PushRecord, Source};

/// What the browser does with a PUSH_PROMISE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseAnswer {
    /// Keep the push in the push cache.
    Accept,
    /// Cancel it (RST_STREAM CANCEL in HTTP/2, CANCEL_PUSH in HTTP/3): the
    /// page already holds the resource.
    Cancel(CancelReason),
}

/// Why a promise is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CancelReason {
    /// Fresh in the HTTP cache (checked before the push cache).
    HttpCache,
    /// An unused push of it is already in the push cache.
    PushCache,
    /// It was promised before on this connection, and used or lost.
    Duplicate,
}

/// Where a promised push stands.
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

/// A promised push, as the page knows it.
#[derive(Debug, Clone)]
pub(super) struct PushEntry {
    promised_ms: f64,
    /// The promised request's header fields (besides pseudo-headers).
    request_headers: Vec<(String, String)>,
    /// Body bytes received for it.
    pub(super) bytes: u64,
    state: PushState,
    /// Adopted by the page.
    pub(super) claimed: bool,
    /// The page had already requested it when it was promised.
    too_late: bool,
    /// The page cancelled it at its promise.
    cancelled: Option<CancelReason>,
    /// Its `Vary` fields differ from the page's request for it.
    vary_mismatch: bool,
    /// Pushed while an earlier page was loaded on the connection.
    pub(super) carried: bool,
}

impl PushEntry {
    /// What the page's summary says of it.
    pub(super) fn record(&self, path: &str) -> PushRecord {
        let (first_byte_ms, done_ms, headers) = match &self.state {
            PushState::Done {
                first_byte_ms,
                done_ms,
                headers,
                ..
            } => (Some(*first_byte_ms), Some(*done_ms), headers.clone()),
            _ => (None, None, Vec::new()),
        };
        PushRecord {
            path: path.to_string(),
            promised_ms: self.promised_ms,
            first_byte_ms,
            done_ms,
            bytes: self.bytes,
            claimed: self.claimed,
            too_late: self.too_late,
            failed: matches!(self.state, PushState::Failed) && self.cancelled.is_none(),
            cancelled: self.cancelled,
            vary_mismatch: self.vary_mismatch,
            carried: self.carried,
            headers,
        }
    }
}

//= https://www.rfc-editor.org/rfc/rfc9111#section-4.1
//# When a cache receives a request that can be satisfied by a stored
//# response and that stored response contains a Vary header field
//# (Section 12.5.5 of [HTTP]), the cache MUST NOT use that stored
//# response without revalidation unless all the presented request header
//# fields nominated by that Vary field value match those fields in the
//# original request (i.e., the request that caused the cached response to
//# be stored).
/// Whether a pushed response (its header fields `response`, promised with
/// request fields `promised`) may answer a request with fields `request`.
/// `Vary: *` never matches; a field absent from both requests matches.
pub fn vary_matches(
    response: &[(String, String)],
    promised: &[(String, String)],
    request: &[(String, String)],
) -> bool {
    let value = |fields: &[(String, String)], name: &str| -> Option<String> {
        let v: Vec<&str> = fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        (!v.is_empty()).then(|| v.join(", "))
    };
    response
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .all(|n| n != "*" && value(promised, n) == value(request, n))
}

impl Page {
    /// Resource `i`, about to be requested (its request header fields
    /// set), is taken from the push cache if a usable push of it was
    /// promised: whether it was. A push still arriving is taken on trust;
    /// its `Vary` is checked when it completes ([`Page::on_push_done`]).
    pub(super) fn adopt_push(&mut self, i: usize) -> bool {
        if self.res[i].anonymous {
            // Requests without credentials use another connection, whose
            // push cache is empty.
            return false;
        }
        let Some(p) = self.push.get_mut(&self.res[i].path) else {
            return false;
        };
        if !p.usable() {
            return false;
        }
        if let PushState::Done { headers, .. } = &p.state {
            if !vary_matches(headers, &p.request_headers, &self.res[i].request_headers) {
                p.vary_mismatch = true;
                return false;
            }
        }
        p.claimed = true;
        let promised = p.promised_ms;
        let state = p.state.clone();
        let r = &mut self.res[i];
        r.source = Source::Pushed;
        r.requested_ms = Some(promised);
        r.priority.clear();
        if let PushState::Done {
            body,
            headers,
            first_byte_ms,
            done_ms,
        } = state
        {
            self.push_complete(i, body, &headers, first_byte_ms, done_ms);
        }
        true
    }

    /// A PUSH_PROMISE for `path` (with no request header fields) arrived
    /// now.
    pub fn on_promise(&mut self, path: &str) -> PromiseAnswer {
        self.on_promise_at(path, self.now, &[])
    }

    /// A PUSH_PROMISE for `path`, whose request carries `request_headers`,
    /// arrived at `at_ms` (at most now: the driver learns of a promise a
    /// little after the client read it). The answer says whether to cancel
    /// it: the page cancels a push of what it already holds, fresh in its
    /// HTTP cache or unused in its push cache.
    pub fn on_promise_at(
        &mut self,
        path: &str,
        at_ms: f64,
        request_headers: &[(String, String)],
    ) -> PromiseAnswer {
        let held = if self.cache.fresh(path).is_some() {
            Some(CancelReason::HttpCache)
        } else if self.push.get(path).is_some_and(PushEntry::usable) {
            Some(CancelReason::PushCache)
        } else {
            None
        };
        if let Some(why) = held {
            // The cancelled push is wasted; the one held stays usable.
            if !self.push.contains_key(path) {
                self.push.insert(
                    path.to_string(),
                    PushEntry {
                        cancelled: Some(why),
                        state: PushState::Failed,
                        ..PushEntry::new(at_ms.min(self.now), request_headers)
                    },
                );
            }
            return PromiseAnswer::Cancel(why);
        }
        if self.push.contains_key(path) {
            // A second promise for what the page took, or lost: the page
            // has what it needs of it, or requested it.
            return PromiseAnswer::Cancel(CancelReason::Duplicate);
        }
        let too_late = self
            .index
            .get(path)
            .is_some_and(|&i| self.res[i].source != Source::Pushed);
        self.push.insert(
            path.to_string(),
            PushEntry {
                too_late,
                ..PushEntry::new(at_ms.min(self.now), request_headers)
            },
        );
        PromiseAnswer::Accept
    }

    /// A push an earlier page on this connection received and did not
    /// use: in the push cache from the start, usable by this page. Its
    /// bytes were counted by the earlier page.
    pub fn carry_push(
        &mut self,
        path: &str,
        request_headers: &[(String, String)],
        headers: &[(String, String)],
        body: Bytes,
    ) {
        if self.push.contains_key(path) {
            return;
        }
        self.push.insert(
            path.to_string(),
            PushEntry {
                carried: true,
                state: PushState::Done {
                    body,
                    headers: headers.to_vec(),
                    first_byte_ms: 0.0,
                    done_ms: 0.0,
                },
                ..PushEntry::new(0.0, request_headers)
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
        if p.cancelled.is_some() {
            // A push the page cancelled (the driver reports none; its
            // bytes count as incomplete): wasted.
            self.wasted += bytes;
            self.unknown_push_bytes += bytes;
            return;
        }
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
            let Some(&i) = self.index.get(path) else {
                return;
            };
            let vary_ok = vary_matches(headers, &p.request_headers, &self.res[i].request_headers);
            match body {
                Some(body) if vary_ok => {
                    self.push_complete(i, body, headers, first_byte_ms, done_ms)
                }
                _ => {
                    // Taken on trust, and failed or does not match after
                    // all: the page requests it.
                    p.claimed = false;
                    p.vary_mismatch = body.is_some() && !vary_ok;
                    let r = &mut self.res[i];
                    r.source = Source::Network;
                    r.priority = priority_of(&r.request_headers);
                    self.send(i);
                }
            }
        }
        self.run();
    }

    pub(super) fn push_complete(
        &mut self,
        i: usize,
        body: Bytes,
        headers: &[(String, String)],
        first_byte_ms: f64,
        done_ms: f64,
    ) {
        let r = &mut self.res[i];
        r.status = 200;
        let done_ms = done_ms.max(r.discovered_ms);
        r.first_byte_ms = Some(first_byte_ms.min(done_ms));
        r.done_ms = Some(done_ms);
        r.bytes = body.len() as u64;
        r.response_headers = headers.to_vec();
        r.content_type = super::content_type(headers);
        let path = r.path.clone();
        self.cache.store(&path, headers, body.clone());
        self.cache.set_cookies(headers);
        self.deliver(i, body);
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

    /// Pushes received on this page's connection and not used (complete,
    /// not cancelled): what a later page on the connection may use.
    pub fn unused_pushes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .push
            .iter()
            .filter(|(_, p)| {
                !p.claimed && p.cancelled.is_none() && matches!(p.state, PushState::Done { .. })
            })
            .map(|(path, _)| path.clone())
            .collect();
        v.sort();
        v
    }
}

impl PushEntry {
    /// Still in the push cache for the page to take: not taken, not
    /// promised too late, not failed or cancelled.
    fn usable(&self) -> bool {
        !self.claimed && !self.too_late && !matches!(self.state, PushState::Failed)
    }

    fn new(promised_ms: f64, request_headers: &[(String, String)]) -> PushEntry {
        PushEntry {
            promised_ms,
            request_headers: request_headers.to_vec(),
            bytes: 0,
            state: PushState::Pending,
            claimed: false,
            too_late: false,
            cancelled: None,
            vary_mismatch: false,
            carried: false,
        }
    }
}

/// The `priority` field among request header fields.
fn priority_of(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .find(|(n, _)| n == "priority")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
