//! Network times from a Chromium net log (`--log-net-log`), for the
//! requests neither Resource Timing nor the page's DevTools session times:
//! the preloads Chromium's browser process makes for a 103 Early Hints
//! response. Resource Timing reports those only when the page took them
//! from the preload cache, after the commit; the net log shows when they
//! crossed the network.
//!
//! Per URL, the first request that went to the network (one with an
//! `HTTP_TRANSACTION_SEND_REQUEST`; answers from the HTTP cache have none):
//! when it was sent, when its response headers had been read
//! (`HTTP_TRANSACTION_READ_RESPONSE_HEADERS`, a point event in Chromium
//! 156, or its end in versions that log it as a span), and when it ended
//! (`REQUEST_ALIVE` ends: a browser-process preload drains the body into the
//! HTTP cache at once, so that is its response end), and when a 103 to it
//! had been read (`HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS`: the
//! navigation's, from which the browser process starts its preloads).
//! Times are the log's
//! own clock (ms); [`NetLog::relative_to`] puts them on another request's
//! send time.
//!
//! Pure: the caller reads the file. A log cut short (Chromium killed before
//! it closed the file) is read as far as it goes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request's network times, ms in the log's clock (or relative, after
/// [`NetLog::relative_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetTimes {
    /// The request was handed to the connection.
    #[serde(rename = "sent_ms")]
    pub sent: f64,
    /// Its response headers had been read.
    #[serde(rename = "headers_ms")]
    pub headers: Option<f64>,
    /// The request ended (the body read, or a failure).
    #[serde(rename = "end_ms")]
    pub end: Option<f64>,
    /// A 103 Early Hints response to it had been read
    /// (`HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS`, the first).
    #[serde(
        rename = "early_hints_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub early_hints: Option<f64>,
}

/// The network requests of a net log, per URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetLog {
    /// Per URL, its first request that went to the network.
    pub requests: HashMap<String, NetTimes>,
}

/// Why a net log could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NetLogError {
    /// Not JSON, even closed by hand.
    #[error("the net log is not JSON: {0}")]
    Json(String),
    /// JSON without the constants that name the event types.
    #[error("the net log has no constants.logEventTypes")]
    NoConstants,
}

/// Per-source state while reading.
#[derive(Default)]
struct Source {
    url: Option<String>,
    sent: Option<f64>,
    headers: Option<f64>,
    end: Option<f64>,
    early_hints: Option<f64>,
}

impl NetLog {
    /// Reads a net log's text.
    pub fn parse(text: &str) -> Result<NetLog, NetLogError> {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(first) => {
                // Chromium writes `{"constants": ..., "events": [` and then
                // one event per line, each followed by a comma; the closing
                // `]}` comes only at a clean exit.
                let cut = text.trim_end().trim_end_matches(',');
                serde_json::from_str(&format!("{cut}]}}"))
                    .map_err(|_| NetLogError::Json(first.to_string()))?
            }
        };
        let types = v
            .pointer("/constants/logEventTypes")
            .and_then(Value::as_object)
            .ok_or(NetLogError::NoConstants)?;
        let id = |name: &str| types.get(name).and_then(Value::as_i64);
        let (start_job, send, read_headers, alive, hints) = (
            id("URL_REQUEST_START_JOB"),
            id("HTTP_TRANSACTION_SEND_REQUEST"),
            id("HTTP_TRANSACTION_READ_RESPONSE_HEADERS"),
            id("REQUEST_ALIVE"),
            id("HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS"),
        );
        let phases = v.pointer("/constants/logEventPhase");
        let phase = |name: &str, default: i64| {
            phases
                .and_then(|p| p.get(name))
                .and_then(Value::as_i64)
                .unwrap_or(default)
        };
        let (begin, end) = (phase("PHASE_BEGIN", 1), phase("PHASE_END", 2));
        let mut sources: HashMap<i64, Source> = HashMap::new();
        let events = v
            .get("events")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for e in events {
            let (Some(ty), Some(src)) = (
                e.get("type").and_then(Value::as_i64),
                e.pointer("/source/id").and_then(Value::as_i64),
            ) else {
                continue;
            };
            // Times are strings of milliseconds (numbers in some versions).
            let Some(t) = e.get("time").and_then(|t| match t {
                Value::String(s) => s.parse::<f64>().ok(),
                other => other.as_f64(),
            }) else {
                continue;
            };
            let ph = e.get("phase").and_then(Value::as_i64).unwrap_or(0);
            let s = sources.entry(src).or_default();
            let ty = Some(ty);
            if ty == start_job && s.url.is_none() {
                s.url = e
                    .pointer("/params/url")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            } else if ty == send && ph == begin && s.sent.is_none() {
                s.sent = Some(t);
            } else if ty == read_headers && ph != begin && s.headers.is_none() {
                s.headers = Some(t);
            } else if ty == alive && ph == end {
                s.end = Some(t);
            } else if ty == hints && s.early_hints.is_none() {
                s.early_hints = Some(t);
            }
        }
        let mut requests: HashMap<String, NetTimes> = HashMap::new();
        for s in sources.into_values() {
            let (Some(url), Some(sent)) = (s.url, s.sent) else {
                continue;
            };
            let times = NetTimes {
                sent,
                headers: s.headers,
                end: s.end,
                early_hints: s.early_hints,
            };
            match requests.get(&url) {
                Some(t) if t.sent <= sent => {}
                _ => {
                    requests.insert(url, times);
                }
            }
        }
        Ok(NetLog { requests })
    }

    /// The same times, relative to the send time of `url`'s request (None
    /// if the log has no network request for it).
    pub fn relative_to(&self, url: &str) -> Option<NetLog> {
        let t0 = self.requests.get(url)?.sent;
        let requests = self
            .requests
            .iter()
            .map(|(u, t)| {
                (
                    u.clone(),
                    NetTimes {
                        sent: t.sent - t0,
                        headers: t.headers.map(|h| h - t0),
                        end: t.end.map(|e| e - t0),
                        early_hints: t.early_hints.map(|h| h - t0),
                    },
                )
            })
            .collect();
        Some(NetLog { requests })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A net log as Chromium writes it (cut to what is read): the
    /// navigation, a 103 preload, and the page's later request for the
    /// preloaded URL, answered by the cache (no send).
    const LOG: &str = r#"{"constants": {"logEventTypes": {"REQUEST_ALIVE": 2,
        "URL_REQUEST_START_JOB": 100, "HTTP_TRANSACTION_SEND_REQUEST": 150,
        "HTTP_TRANSACTION_READ_RESPONSE_HEADERS": 160,
        "HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS": 170},
        "logEventPhase": {"PHASE_BEGIN": 1, "PHASE_END": 2, "PHASE_NONE": 0}},
    "events": [
    {"phase": 1, "source": {"id": 7, "type": 1}, "time": "1000", "type": 2},
    {"params": {"url": "https://h:1/", "method": "GET"}, "phase": 1, "source": {"id": 7, "type": 1}, "time": "1001", "type": 100},
    {"phase": 1, "source": {"id": 7, "type": 1}, "time": "1002", "type": 150},
    {"phase": 2, "source": {"id": 7, "type": 1}, "time": "1003", "type": 150},
    {"phase": 0, "source": {"id": 7, "type": 1}, "time": "1050", "type": 170},
    {"phase": 0, "source": {"id": 7, "type": 1}, "time": "1075", "type": 160},
    {"phase": 1, "source": {"id": 9, "type": 1}, "time": "1074", "type": 2},
    {"params": {"url": "https://h:1/a.css"}, "phase": 1, "source": {"id": 9, "type": 1}, "time": "1074", "type": 100},
    {"phase": 1, "source": {"id": 9, "type": 1}, "time": "1076", "type": 150},
    {"phase": 2, "source": {"id": 9, "type": 1}, "time": "1150", "type": 160},
    {"phase": 2, "source": {"id": 9, "type": 1}, "time": "1160", "type": 2},
    {"phase": 1, "source": {"id": 11, "type": 1}, "time": "1200", "type": 2},
    {"params": {"url": "https://h:1/a.css"}, "phase": 1, "source": {"id": 11, "type": 1}, "time": "1201", "type": 100},
    {"phase": 2, "source": {"id": 11, "type": 1}, "time": "1203", "type": 2},
    {"phase": 2, "source": {"id": 7, "type": 1}, "time": "1300", "type": 2},
    "#;

    /// A log cut short is read as far as it goes; the cache hit (no send)
    /// does not replace the preload; times come relative to the
    /// navigation's send.
    #[test]
    fn network_times_per_url() {
        let log = NetLog::parse(LOG).expect("parsed");
        assert_eq!(log.requests.len(), 2);
        let rel = log.relative_to("https://h:1/").expect("navigation");
        assert_eq!(
            rel.requests["https://h:1/a.css"],
            NetTimes {
                sent: 74.0,
                headers: Some(148.0),
                end: Some(158.0),
                early_hints: None,
            }
        );
        assert_eq!(rel.requests["https://h:1/"].end, Some(298.0));
        assert_eq!(rel.requests["https://h:1/"].early_hints, Some(48.0));
        assert!(log.relative_to("https://h:1/none").is_none());
    }

    /// Bad logs are errors, not panics.
    #[test]
    fn bad_logs() {
        assert!(matches!(
            NetLog::parse("not json"),
            Err(NetLogError::Json(_))
        ));
        assert_eq!(NetLog::parse("{}"), Err(NetLogError::NoConstants));
        let no_events = r#"{"constants": {"logEventTypes": {}}}"#;
        assert_eq!(NetLog::parse(no_events).unwrap().requests.len(), 0);
    }
}
