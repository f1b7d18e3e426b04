//! The push cache, with browser semantics: a pushed response is used at
//! most once, only by a request the page makes after its PUSH_PROMISE
//! arrived, and dies with the connection.

use bytes::Bytes;

use super::{Page, PushRecord, Source};

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
    /// Body bytes received for it.
    pub(super) bytes: u64,
    state: PushState,
    /// Adopted by the page.
    pub(super) claimed: bool,
    /// The page had already requested it when it was promised.
    too_late: bool,
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
            failed: matches!(self.state, PushState::Failed),
            headers,
        }
    }
}

impl Page {
    /// Resource `i`, just discovered, is taken from the push cache if a
    /// usable push of it was promised: whether it was.
    pub(super) fn adopt_push(&mut self, i: usize) -> bool {
        let Some(p) = self.push.get_mut(&self.res[i].path) else {
            return false;
        };
        if p.claimed || p.too_late || matches!(p.state, PushState::Failed) {
            return false;
        }
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
        true
    }

    /// A PUSH_PROMISE for `path` arrived (now).
    pub fn on_promise(&mut self, path: &str) {
        self.on_promise_at(path, self.now);
    }

    /// A PUSH_PROMISE for `path` arrived at `at_ms` (at most now: the
    /// driver learns of a promise a little after the client read it).
    pub fn on_promise_at(&mut self, path: &str, at_ms: f64) {
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
                promised_ms: at_ms.min(self.now),
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
        self.arrived(i, body);
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
}
