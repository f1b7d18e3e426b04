//! The HTTP/3 control state of one connection as a pure state machine.
//!
//! [`ControlState`] applies the rules of RFC 9114 section 7 and RFC 9218
//! section 7.2 to what the client says on its control stream (MAX_PUSH_ID,
//! CANCEL_PUSH, PRIORITY_UPDATE) and to what the server does with pushes
//! (allocate a push ID, attach its stream, cancel it, finish it). It owns
//! no I/O: events go in, [`Action`]s come out, and the glue
//! ([`super::control::ControlSink`]) carries them out on the QUIC
//! connection, the send queue and the server's control stream. That keeps
//! every rule testable without a connection.

use std::collections::HashMap;

use crate::priority::{Priority, PriorityParams};
use crate::sched::StreamKey;
use crate::stats::{PushCounters, PushEnd};
use crate::wire::frame::{code, Frame};

/// Something the glue must do on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the connection with an HTTP/3 error. Emitted once per
    /// connection: later errors are not reported again.
    Close {
        /// The HTTP/3 error code.
        code: u64,
        /// Why, for the peer and the log.
        reason: String,
    },
    /// Abruptly terminate a stream the server writes.
    ResetStream {
        /// The stream.
        stream: StreamKey,
        /// The HTTP/3 error code.
        code: u64,
    },
    /// Set the priority of an open push stream.
    Reprioritise {
        /// The push stream.
        stream: StreamKey,
        /// The new priority.
        priority: Priority,
    },
    /// Apply a client's PRIORITY_UPDATE to a request stream.
    PriorityUpdate {
        /// The request stream.
        stream: StreamKey,
        /// The new priority.
        priority: Priority,
        /// Whether the stream was accepted already; if not, the queue keeps
        /// the update for when it opens.
        known: bool,
    },
    /// Write a frame on the server's control stream.
    SendControlFrame(Frame),
    /// A PRIORITY_UPDATE was ignored because its value did not parse.
    CountInvalidPriorityUpdate,
    /// The client allows more pushes: wake pushes waiting for a push ID.
    PushCreditGrew,
}

/// State of one promised push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushEntry {
    /// The promised path.
    pub path: String,
    /// The push stream once opened.
    pub stream: Option<StreamKey>,
    /// Cancelled by either side; never (re)opened.
    pub cancelled: bool,
}

/// The control state of one HTTP/3 connection (server side).
#[derive(Debug)]
pub struct ControlState {
    /// The client's MAX_PUSH_ID, once received.
    max_push_id: Option<u64>,
    /// The next push ID to promise.
    next_push_id: u64,
    /// Pushes in progress: promised and not yet over. An entry goes when
    /// its push ends (its stream finished or was reset) or is cancelled
    /// before its stream opened, so the map holds at most the pushes the
    /// server has running, not everything the client's MAX_PUSH_ID ever
    /// allowed. A push ID below `next_push_id` without an entry is over.
    pushes: HashMap<u64, PushEntry>,
    counters: PushCounters,
    /// Highest request stream index (stream ID / 4) accepted.
    max_request_index: Option<u64>,
    control_streams: u32,
    error: Option<(u64, String)>,
    /// The server's limit on concurrent client bidirectional streams.
    max_concurrent_bidi: u64,
}

impl ControlState {
    /// A new connection's state; `max_concurrent_bidi` is the limit on
    /// concurrent request streams the server gave QUIC.
    pub fn new(max_concurrent_bidi: u64) -> Self {
        ControlState {
            max_push_id: None,
            next_push_id: 0,
            pushes: HashMap::new(),
            counters: PushCounters::default(),
            max_request_index: None,
            control_streams: 0,
            error: None,
            max_concurrent_bidi,
        }
    }

    /// Records a connection error. Returns the [`Action::Close`] to carry
    /// out, or `None` if the connection already failed.
    pub fn connection_error(&mut self, error_code: u64, reason: &str) -> Option<Action> {
        if self.error.is_some() {
            return None;
        }
        self.error = Some((error_code, reason.to_string()));
        Some(Action::Close {
            code: error_code,
            reason: reason.to_string(),
        })
    }

    /// The error the connection was closed with, if any.
    pub fn error(&self) -> Option<&(u64, String)> {
        self.error.as_ref()
    }

    /// Records that a request stream was accepted.
    pub fn on_request_stream(&mut self, id: StreamKey) {
        let index = id / 4;
        self.max_request_index = Some(self.max_request_index.map_or(index, |m| m.max(index)));
    }

    /// Records that a control stream was seen.
    pub fn on_control_stream(&mut self) {
        self.control_streams += 1;
    }

    /// How many client control streams were seen.
    pub fn control_streams(&self) -> u32 {
        self.control_streams
    }

    /// Handles one frame from the client's control stream. Frames other
    /// than MAX_PUSH_ID, CANCEL_PUSH and PRIORITY_UPDATE (h3's business)
    /// produce no action.
    pub fn on_control_frame(&mut self, frame: Frame) -> Vec<Action> {
        let mut out = Vec::new();
        match frame {
            Frame::MaxPushId(id) => self.on_max_push_id(id, &mut out),
            Frame::CancelPush(id) => self.on_cancel_push(id, &mut out),
            Frame::PriorityUpdate { push, id, value } => {
                self.on_priority_update(push, id, &value, &mut out)
            }
            _ => {}
        }
        out
    }

    fn fail(&mut self, error_code: u64, reason: &str, out: &mut Vec<Action>) {
        out.extend(self.connection_error(error_code, reason));
    }

    fn on_max_push_id(&mut self, id: u64, out: &mut Vec<Action>) {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
        //# A MAX_PUSH_ID frame cannot reduce the maximum push ID; receipt of
        //# a MAX_PUSH_ID frame that contains a smaller value than previously
        //# received MUST be treated as a connection error of type
        //# H3_ID_ERROR.
        if self.max_push_id.is_some_and(|cur| id < cur) {
            self.fail(code::H3_ID_ERROR, "MAX_PUSH_ID reduced", out);
            return;
        }
        let grew = self.max_push_id != Some(id);
        self.max_push_id = Some(id);
        if grew {
            out.push(Action::PushCreditGrew);
        }
    }

    fn on_cancel_push(&mut self, id: u64, out: &mut Vec<Action>) {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If a server receives a CANCEL_PUSH frame for a push ID that has not
        //# yet been mentioned by a PUSH_PROMISE frame, this MUST be treated as
        //# a connection error of type H3_ID_ERROR.
        if id >= self.next_push_id {
            self.fail(
                code::H3_ID_ERROR,
                "CANCEL_PUSH for a push ID never promised",
                out,
            );
            return;
        }
        let Some(entry) = self.pushes.get_mut(&id) else {
            return;
        };
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the push stream has already ended, the server MAY still
        //# abruptly terminate the stream or MAY take no action.
        if entry.cancelled {
            return;
        }
        entry.cancelled = true;
        let stream = entry.stream;
        self.counters.cancelled_by_client += 1;
        if stream.is_none() {
            // Never opened, and now never will be: nothing refers to it
            // any more (see ControlState::pushes).
            self.pushes.remove(&id);
        }
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the push stream is open, the server SHOULD abruptly terminate
        //# that stream.
        if let Some(stream) = stream {
            // The push's writer sees the reset and reports the refused bytes.
            out.push(Action::ResetStream {
                stream,
                code: code::H3_REQUEST_CANCELLED,
            });
        }
    }

    fn on_priority_update(&mut self, push: bool, id: u64, value: &[u8], out: &mut Vec<Action>) {
        let Ok(params) = PriorityParams::parse(value) else {
            //= https://www.rfc-editor.org/rfc/rfc9218#section-7
            //# Failure to parse the Priority Field Value MAY be treated as a
            //# connection error.
            // pushlab ignores the frame and counts it instead.
            out.push(Action::CountInvalidPriorityUpdate);
            return;
        };
        let priority = params.over_defaults();
        if push {
            //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
            //# If a server receives a PRIORITY_UPDATE (type=0xF0701) with a push
            //# ID that is greater than the maximum push ID or that has not yet
            //# been promised, this MUST be treated as a connection error of type
            //# H3_ID_ERROR.
            if id >= self.next_push_id {
                self.fail(
                    code::H3_ID_ERROR,
                    "PRIORITY_UPDATE for a push never promised",
                    out,
                );
                return;
            }
            // A push whose stream is not open yet keeps the priority it was
            // promised with.
            if let Some(stream) = self.pushes.get(&id).and_then(|e| e.stream) {
                out.push(Action::Reprioritise { stream, priority });
            }
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) for a stream
        //# ID that is not a request stream, this MUST be treated as a
        //# connection error of type H3_ID_ERROR.
        if !id.is_multiple_of(4) {
            self.fail(
                code::H3_ID_ERROR,
                "PRIORITY_UPDATE for a stream that is not a request stream",
                out,
            );
            return;
        }
        let index = id / 4;
        let known = self.max_request_index.is_some_and(|m| index <= m);
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) with a stream
        //# ID that is beyond the stream limits, this SHOULD be treated as a
        //# connection error of type H3_ID_ERROR.
        // The limit: every stream up to the highest accepted one, plus as
        // many more as the client may open concurrently.
        let limit = self.max_request_index.map_or(0, |m| m + 1) + self.max_concurrent_bidi;
        if index >= limit {
            self.fail(
                code::H3_ID_ERROR,
                "PRIORITY_UPDATE beyond the stream limit",
                out,
            );
            return;
        }
        out.push(Action::PriorityUpdate {
            stream: id,
            priority,
            known,
        });
    }

    /// Takes the next push ID for a push of `path`, if the client allows
    /// one more push and the connection has not failed.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
    //# A server MUST NOT use a push ID that is larger than the client has
    //# provided in a MAX_PUSH_ID frame (Section 7.2.7).
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
    //# In particular, a server is not able to push until after the client
    //# sends a MAX_PUSH_ID frame.
    pub fn allocate_push(&mut self, path: &str) -> Option<u64> {
        let max = self.max_push_id?;
        if self.next_push_id > max || self.error.is_some() {
            return None;
        }
        let id = self.next_push_id;
        self.next_push_id += 1;
        self.counters.promised += 1;
        self.pushes.insert(
            id,
            PushEntry {
                path: path.to_string(),
                ..Default::default()
            },
        );
        Some(id)
    }

    /// Whether the client has sent MAX_PUSH_ID at all.
    pub fn push_enabled(&self) -> bool {
        self.max_push_id.is_some()
    }

    /// The client's current MAX_PUSH_ID.
    pub fn max_push_id(&self) -> Option<u64> {
        self.max_push_id
    }

    /// A promised push.
    pub fn push(&self, push_id: u64) -> Option<&PushEntry> {
        self.pushes.get(&push_id)
    }

    /// Records the stream carrying a push; false if the push is unknown or
    /// was cancelled in the meantime (the caller then resets the stream).
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
    //# If the server has not yet created a push stream, it does not create
    //# one.
    pub fn attach_push_stream(&mut self, push_id: u64, stream: StreamKey) -> bool {
        match self.pushes.get_mut(&push_id) {
            Some(e) if !e.cancelled => {
                e.stream = Some(stream);
                true
            }
            _ => false,
        }
    }

    /// Whether a push may no longer open its stream: cancelled, or unknown
    /// (never promised, or already over).
    pub fn is_cancelled(&self, push_id: u64) -> bool {
        self.pushes.get(&push_id).is_none_or(|e| e.cancelled)
    }

    /// The server gives up a push it promised: CANCEL_PUSH on its control
    /// stream, then the push stream (if open) is reset. Empty when there is
    /// nothing to cancel (unknown, already cancelled or done).
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
    //# A server sends a CANCEL_PUSH frame to indicate that it will not be
    //# fulfilling a promise that was previously sent.
    pub fn cancel_by_server(&mut self, push_id: u64) -> Vec<Action> {
        let Some(e) = self.pushes.get_mut(&push_id) else {
            return Vec::new();
        };
        if e.cancelled {
            return Vec::new();
        }
        e.cancelled = true;
        let stream = e.stream;
        self.counters.cancelled_by_server += 1;
        if stream.is_none() {
            self.pushes.remove(&push_id);
        }
        let mut out = vec![Action::SendControlFrame(Frame::CancelPush(push_id))];
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If a stream has already been opened, the server can abort sending
        //# on the stream with an error code of H3_REQUEST_CANCELLED.
        if let Some(stream) = stream {
            out.push(Action::ResetStream {
                stream,
                code: code::H3_REQUEST_CANCELLED,
            });
        }
        out
    }

    /// Records a push's outcome once its stream is done: how it ended, the
    /// bytes handed to QUIC and, if not completed, the bytes that never
    /// went. A push that did not complete counts as cancelled by the client
    /// (it stopped it) or by the server (it gave up: a stall), unless a
    /// CANCEL_PUSH already counted it.
    pub fn push_finished(&mut self, push_id: u64, end: PushEnd, written: u64, refused: u64) {
        let already_counted = self.pushes.remove(&push_id).is_some_and(|e| e.cancelled);
        self.counters.record(end, written, refused, already_counted);
    }

    /// The push counters so far.
    pub fn push_counters(&self) -> PushCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const BIDI: u64 = 100;

    fn state() -> ControlState {
        ControlState::new(BIDI)
    }

    /// A state whose client allows push IDs up to `max`.
    fn with_max_push_id(max: u64) -> ControlState {
        let mut st = state();
        assert_eq!(
            st.on_control_frame(Frame::MaxPushId(max)),
            vec![Action::PushCreditGrew]
        );
        st
    }

    /// Push 0 ("/a.css") promised, its stream not open yet.
    fn promised() -> ControlState {
        let mut st = with_max_push_id(10);
        assert_eq!(st.allocate_push("/a.css"), Some(0));
        st
    }

    /// Push 0 promised and carried on stream 7.
    fn opened() -> ControlState {
        let mut st = promised();
        assert!(st.attach_push_stream(0, 7));
        st
    }

    fn close(code: u64, reason: &str) -> Vec<Action> {
        vec![Action::Close {
            code,
            reason: reason.to_string(),
        }]
    }

    fn priority_update(push: bool, id: u64, value: &'static [u8]) -> Frame {
        Frame::PriorityUpdate {
            push,
            id,
            value: Bytes::from_static(value),
        }
    }

    fn urgency(u: u8) -> Priority {
        Priority {
            urgency: u,
            incremental: false,
        }
    }

    #[test]
    fn max_push_id_equal_is_accepted_and_higher_grows_credit() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
        //# A MAX_PUSH_ID frame cannot reduce the maximum push ID; receipt of
        //# a MAX_PUSH_ID frame that contains a smaller value than previously
        //# received MUST be treated as a connection error of type
        //# H3_ID_ERROR.
        let mut st = with_max_push_id(3);
        assert_eq!(st.on_control_frame(Frame::MaxPushId(3)), vec![]);
        assert_eq!(st.error(), None);
        assert_eq!(
            st.on_control_frame(Frame::MaxPushId(5)),
            vec![Action::PushCreditGrew]
        );
        assert_eq!(st.max_push_id(), Some(5));
    }

    #[test]
    fn max_push_id_reduced_is_id_error() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
        //# A MAX_PUSH_ID frame cannot reduce the maximum push ID; receipt of
        //# a MAX_PUSH_ID frame that contains a smaller value than previously
        //# received MUST be treated as a connection error of type
        //# H3_ID_ERROR.
        let mut st = with_max_push_id(5);
        assert_eq!(
            st.on_control_frame(Frame::MaxPushId(4)),
            close(code::H3_ID_ERROR, "MAX_PUSH_ID reduced")
        );
        assert_eq!(st.max_push_id(), Some(5));
        assert_eq!(
            st.error(),
            Some(&(code::H3_ID_ERROR, "MAX_PUSH_ID reduced".to_string()))
        );
    }

    #[test]
    fn no_push_before_max_push_id() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
        //# In particular, a server is not able to push until after the client
        //# sends a MAX_PUSH_ID frame.
        let mut st = state();
        assert!(!st.push_enabled());
        assert_eq!(st.allocate_push("/a.css"), None);
        assert_eq!(st.push_counters().promised, 0);
    }

    #[test]
    fn allocation_stops_at_max_push_id() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
        //# A server MUST NOT use a push ID that is larger than the client has
        //# provided in a MAX_PUSH_ID frame (Section 7.2.7).
        let mut st = with_max_push_id(1);
        assert!(st.push_enabled());
        assert_eq!(st.allocate_push("/a.css"), Some(0));
        assert_eq!(st.allocate_push("/b.js"), Some(1));
        assert_eq!(st.allocate_push("/c.png"), None);
        assert_eq!(st.push_counters().promised, 2);
        assert_eq!(
            st.push(1),
            Some(&PushEntry {
                path: "/b.js".to_string(),
                ..Default::default()
            })
        );
        assert_eq!(st.push(2), None);
        // More credit: allocation resumes where it stopped.
        assert_eq!(
            st.on_control_frame(Frame::MaxPushId(2)),
            vec![Action::PushCreditGrew]
        );
        assert_eq!(st.allocate_push("/c.png"), Some(2));
        assert_eq!(st.push_counters().promised, 3);
    }

    #[test]
    fn no_allocation_after_a_connection_error_and_one_close_only() {
        // pushlab rule: a failed connection promises nothing more, and is
        // closed once, with the first error.
        let mut st = with_max_push_id(10);
        assert_eq!(
            st.connection_error(code::H3_FRAME_ERROR, "bad frame"),
            Some(Action::Close {
                code: code::H3_FRAME_ERROR,
                reason: "bad frame".to_string()
            })
        );
        assert_eq!(st.allocate_push("/a.css"), None);
        assert_eq!(st.connection_error(code::H3_ID_ERROR, "later"), None);
        assert_eq!(st.on_control_frame(Frame::MaxPushId(1)), vec![]);
        assert_eq!(
            st.error(),
            Some(&(code::H3_FRAME_ERROR, "bad frame".to_string()))
        );
    }

    #[test]
    fn cancel_push_never_promised_is_id_error() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If a server receives a CANCEL_PUSH frame for a push ID that has not
        //# yet been mentioned by a PUSH_PROMISE frame, this MUST be treated as
        //# a connection error of type H3_ID_ERROR.
        let reason = "CANCEL_PUSH for a push ID never promised";
        // Nothing promised at all.
        let mut st = state();
        assert_eq!(
            st.on_control_frame(Frame::CancelPush(0)),
            close(code::H3_ID_ERROR, reason)
        );
        // Allowed by MAX_PUSH_ID but not promised yet.
        let mut st = promised();
        assert_eq!(
            st.on_control_frame(Frame::CancelPush(1)),
            close(code::H3_ID_ERROR, reason)
        );
        assert_eq!(st.push_counters().cancelled_by_client, 0);
    }

    #[test]
    fn cancel_push_resets_the_open_push_stream() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the push stream is open, the server SHOULD abruptly terminate
        //# that stream.
        let mut st = opened();
        assert_eq!(
            st.on_control_frame(Frame::CancelPush(0)),
            vec![Action::ResetStream {
                stream: 7,
                code: code::H3_REQUEST_CANCELLED
            }]
        );
        assert!(st.is_cancelled(0));
        assert_eq!(st.push_counters().cancelled_by_client, 1);
        assert_eq!(st.error(), None);
    }

    #[test]
    fn cancel_push_before_the_stream_opens_prevents_it() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the server has not yet created a push stream, it does not create
        //# one.
        let mut st = promised();
        assert!(!st.is_cancelled(0));
        assert_eq!(st.on_control_frame(Frame::CancelPush(0)), vec![]);
        assert!(st.is_cancelled(0));
        assert!(!st.attach_push_stream(0, 7));
        assert_eq!(st.push(0).and_then(|e| e.stream), None);
        assert_eq!(st.push_counters().cancelled_by_client, 1);
    }

    #[test]
    fn cancel_push_twice_counts_once() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# When a client sends a CANCEL_PUSH frame, it is indicating that it
        //# does not wish to receive the promised resource.
        // Saying it twice changes nothing; nor does the push then ending
        // unfinished (its reset) count as a second cancellation.
        let mut st = opened();
        assert_eq!(st.on_control_frame(Frame::CancelPush(0)).len(), 1);
        assert_eq!(st.on_control_frame(Frame::CancelPush(0)), vec![]);
        st.push_finished(0, PushEnd::ClientRefused, 100, 900);
        let c = st.push_counters();
        assert_eq!(c.cancelled_by_client, 1);
        assert_eq!(c.refused_bytes, 900);
        assert_eq!(c.pushed_bytes, 100);
        assert_eq!(c.completed, 0);
    }

    #[test]
    fn cancel_push_after_the_push_ended_does_nothing() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the push stream has already ended, the server MAY still
        //# abruptly terminate the stream or MAY take no action.
        let mut st = opened();
        st.push_finished(0, PushEnd::Completed, 1000, 0);
        assert_eq!(st.on_control_frame(Frame::CancelPush(0)), vec![]);
        assert_eq!(st.push(0), None, "an ended push is forgotten");
        let c = st.push_counters();
        assert_eq!(c.cancelled_by_client, 0);
        assert_eq!(c.completed, 1);
        assert_eq!(c.pushed_bytes, 1000);
        assert_eq!(st.error(), None);
    }

    #[test]
    fn push_stopped_by_the_client_counts_as_cancelled_by_it() {
        // pushlab's counters: a push that ends unfinished without a
        // CANCEL_PUSH was refused by the client (STOP_SENDING).
        let mut st = opened();
        st.push_finished(0, PushEnd::ClientRefused, 300, 700);
        let c = st.push_counters();
        assert_eq!(c.cancelled_by_client, 1);
        assert_eq!(c.refused_bytes, 700);
        assert_eq!(c.pushed_bytes, 300);
        assert_eq!(st.push(0), None);
    }

    #[test]
    fn server_cancel_sends_cancel_push_and_resets_the_stream() {
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# A server sends a CANCEL_PUSH frame to indicate that it will not be
        //# fulfilling a promise that was previously sent.
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If a stream has already been opened, the server can abort sending
        //# on the stream with an error code of H3_REQUEST_CANCELLED.
        let mut st = promised();
        assert_eq!(st.allocate_push("/b.js"), Some(1));
        assert!(st.attach_push_stream(1, 11));
        assert_eq!(
            st.cancel_by_server(0),
            vec![Action::SendControlFrame(Frame::CancelPush(0))]
        );
        assert_eq!(
            st.cancel_by_server(1),
            vec![
                Action::SendControlFrame(Frame::CancelPush(1)),
                Action::ResetStream {
                    stream: 11,
                    code: code::H3_REQUEST_CANCELLED
                }
            ]
        );
        // Once only; and the client cancelling afterwards changes nothing.
        assert_eq!(st.cancel_by_server(1), vec![]);
        assert_eq!(st.on_control_frame(Frame::CancelPush(1)), vec![]);
        let c = st.push_counters();
        assert_eq!(c.cancelled_by_server, 2);
        assert_eq!(c.cancelled_by_client, 0);
    }

    #[test]
    fn server_cancel_of_an_unknown_or_finished_push_does_nothing() {
        let mut st = opened();
        assert_eq!(st.cancel_by_server(1), vec![]);
        st.push_finished(0, PushEnd::Completed, 10, 0);
        assert_eq!(st.cancel_by_server(0), vec![]);
        assert_eq!(st.push_counters().cancelled_by_server, 0);
    }

    #[test]
    fn priority_update_for_a_push_never_promised_is_id_error() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0701) with a push
        //# ID that is greater than the maximum push ID or that has not yet
        //# been promised, this MUST be treated as a connection error of type
        //# H3_ID_ERROR.
        let reason = "PRIORITY_UPDATE for a push never promised";
        let mut st = with_max_push_id(10);
        assert_eq!(
            st.on_control_frame(priority_update(true, 0, b"u=1")),
            close(code::H3_ID_ERROR, reason)
        );
        let mut st = promised();
        assert_eq!(
            st.on_control_frame(priority_update(true, 11, b"u=1")),
            close(code::H3_ID_ERROR, reason)
        );
    }

    #[test]
    fn priority_update_for_a_promised_push_applies_once_its_stream_is_open() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0701) with a push
        //# ID that is greater than the maximum push ID or that has not yet
        //# been promised, this MUST be treated as a connection error of type
        //# H3_ID_ERROR.
        // Promised but its stream not opened yet: no error, and nothing to
        // reprioritise (the push keeps the priority it was promised with).
        let mut st = promised();
        assert_eq!(
            st.on_control_frame(priority_update(true, 0, b"u=1")),
            vec![]
        );
        assert_eq!(st.error(), None);
        assert!(st.attach_push_stream(0, 7));
        assert_eq!(
            st.on_control_frame(priority_update(true, 0, b"u=1")),
            vec![Action::Reprioritise {
                stream: 7,
                priority: urgency(1)
            }]
        );
    }

    #[test]
    fn priority_update_for_a_non_request_stream_is_id_error() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) for a stream
        //# ID that is not a request stream, this MUST be treated as a
        //# connection error of type H3_ID_ERROR.
        let reason = "PRIORITY_UPDATE for a stream that is not a request stream";
        for id in [1, 2, 3, 6] {
            let mut st = state();
            st.on_request_stream(0);
            assert_eq!(
                st.on_control_frame(priority_update(false, id, b"u=1")),
                close(code::H3_ID_ERROR, reason),
                "stream {id}"
            );
        }
    }

    #[test]
    fn priority_update_beyond_the_stream_limit_is_id_error() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) with a stream
        //# ID that is beyond the stream limits, this SHOULD be treated as a
        //# connection error of type H3_ID_ERROR.
        let reason = "PRIORITY_UPDATE beyond the stream limit";
        // No request stream yet: indexes 0 .. max_concurrent_bidi. Highest
        // accepted index 2 (stream 8, accepted out of order): the limit is
        // 2 + 1 + max_concurrent_bidi.
        for (accepted, limit) in [(&[][..], BIDI), (&[8, 4][..], 3 + BIDI)] {
            let mut st = state();
            for &id in accepted {
                st.on_request_stream(id);
            }
            let last = 4 * (limit - 1);
            assert_eq!(
                st.on_control_frame(priority_update(false, last, b"u=1")),
                vec![Action::PriorityUpdate {
                    stream: last,
                    priority: urgency(1),
                    known: false
                }]
            );
            assert_eq!(
                st.on_control_frame(priority_update(false, 4 * limit, b"u=1")),
                close(code::H3_ID_ERROR, reason)
            );
        }
    }

    #[test]
    fn priority_update_for_a_request_stream_knows_whether_it_is_open() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7
        //# The PRIORITY_UPDATE frame is used to reprioritize a response after
        //# a request has been sent.
        let mut st = state();
        st.on_request_stream(8);
        for (id, known) in [(0, true), (8, true), (12, false)] {
            assert_eq!(
                st.on_control_frame(priority_update(false, id, b"u=5, i")),
                vec![Action::PriorityUpdate {
                    stream: id,
                    priority: Priority {
                        urgency: 5,
                        incremental: true
                    },
                    known
                }],
                "stream {id}"
            );
        }
        assert_eq!(st.error(), None);
    }

    #[test]
    fn unparsable_priority_update_is_ignored_and_counted() {
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7
        //# Failure to parse the Priority Field Value MAY be treated as a
        //# connection error.
        // pushlab ignores such a frame, before looking at its ID.
        let mut st = state();
        for (push, id) in [(false, 0), (false, 4 * 1000), (true, 5)] {
            assert_eq!(
                st.on_control_frame(priority_update(push, id, b"u=\"unterminated")),
                vec![Action::CountInvalidPriorityUpdate]
            );
        }
        assert_eq!(st.error(), None);
    }

    #[test]
    fn other_control_frames_need_nothing() {
        let mut st = state();
        st.on_control_stream();
        assert_eq!(st.control_streams(), 1);
        assert_eq!(st.on_control_frame(Frame::Goaway(0)), vec![]);
        assert_eq!(st.on_control_frame(Frame::Settings(vec![(6, 1)])), vec![]);
        assert_eq!(st.error(), None);
    }

    /// The map of pushes holds only pushes in progress: with a MAX_PUSH_ID
    /// of 10,000, pushes that completed, were stopped, or were cancelled
    /// before or after their stream opened all leave it, and an ID over
    /// (below the next one, no entry) is still told apart from one never
    /// promised.
    #[test]
    fn pushes_that_ended_are_forgotten() {
        let mut st = with_max_push_id(9_999);
        for i in 0..10_000u64 {
            assert_eq!(st.allocate_push("/x"), Some(i));
            match i % 4 {
                0 => {
                    assert!(st.attach_push_stream(i, 4 * i + 3));
                    st.push_finished(i, PushEnd::Completed, 10, 0);
                }
                1 => {
                    assert!(st.attach_push_stream(i, 4 * i + 3));
                    st.push_finished(i, PushEnd::ClientRefused, 5, 5);
                }
                2 => {
                    assert_eq!(st.on_control_frame(Frame::CancelPush(i)), vec![]);
                }
                _ => {
                    assert_eq!(st.cancel_by_server(i).len(), 1);
                }
            }
        }
        assert!(st.pushes.is_empty(), "{} entries left", st.pushes.len());
        let c = st.push_counters();
        assert_eq!(c.promised, 10_000);
        assert_eq!(c.completed, 2_500);
        assert_eq!(c.cancelled_by_client, 5_000);
        assert_eq!(c.cancelled_by_server, 2_500);
        // An ID that is over: no error, no action.
        assert_eq!(st.on_control_frame(Frame::CancelPush(5)), vec![]);
        assert_eq!(st.error(), None);
        // One never promised is still an error.
        assert!(!st.on_control_frame(Frame::CancelPush(10_000)).is_empty());
    }
}
