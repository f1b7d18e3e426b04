//! What the client says on its control stream that h3 0.0.8 ignores:
//! MAX_PUSH_ID, CANCEL_PUSH and PRIORITY_UPDATE, plus the push ID space
//! they govern. The backend feeds frames here as they pass to h3.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use quinn::VarInt;
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::backend::ControlOut;
use super::sink::H3Queue;
use crate::priority::PriorityParams;
use crate::sched::StreamKey;
use crate::sendq::Abandon;
use crate::stats::{PushCounters, PushEnd};
use crate::wire::frame::{code, Frame};

/// State of one promised push.
#[derive(Debug, Clone, Default)]
pub struct PushEntry {
    /// The promised path.
    pub path: String,
    /// The push stream once opened.
    pub stream: Option<StreamKey>,
    /// Cancelled by either side; never (re)opened.
    pub cancelled: bool,
    /// Completed (FIN written).
    pub done: bool,
}

#[derive(Debug, Default)]
struct State {
    /// The client's MAX_PUSH_ID, once received.
    max_push_id: Option<u64>,
    /// The next push ID to promise.
    next_push_id: u64,
    pushes: HashMap<u64, PushEntry>,
    counters: PushCounters,
    /// Highest request stream index accepted.
    max_request_index: Option<u64>,
    control_streams: u32,
    error: Option<(u64, String)>,
}

/// Receives the client's control frames for one connection.
pub struct ControlSink {
    conn: quinn::Connection,
    queue: Arc<H3Queue>,
    state: Mutex<State>,
    /// Woken when MAX_PUSH_ID grows (pushes waiting for a push ID).
    pub push_credit: Notify,
    max_control_frame: usize,
    max_concurrent_bidi: u64,
    control_out: Arc<ControlOut>,
}

impl ControlSink {
    /// A sink for a connection whose send queue is `queue`.
    pub fn new(
        conn: quinn::Connection,
        queue: Arc<H3Queue>,
        max_concurrent_bidi: u64,
        control_out: Arc<ControlOut>,
    ) -> Arc<Self> {
        Arc::new(ControlSink {
            conn,
            queue,
            state: Mutex::new(State::default()),
            push_credit: Notify::new(),
            max_control_frame: 16 * 1024,
            max_concurrent_bidi,
            control_out,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Largest control frame accepted (buffered before parsing).
    pub fn max_control_frame(&self) -> usize {
        self.max_control_frame
    }

    /// Closes the connection with an HTTP/3 error.
    pub fn connection_error(&self, error_code: u64, reason: &str) {
        let mut st = self.lock();
        if st.error.is_none() {
            warn!(
                remote = %self.conn.remote_address(),
                code = code::name(error_code),
                reason,
                "closing connection"
            );
            st.error = Some((error_code, reason.to_string()));
            self.conn.close(
                VarInt::from_u64(error_code).unwrap_or(VarInt::MAX),
                reason.as_bytes(),
            );
        }
    }

    /// The error the connection was closed with, if any.
    pub fn error(&self) -> Option<(u64, String)> {
        self.lock().error.clone()
    }

    /// Records that a request stream was accepted.
    pub fn note_request_stream(&self, id: StreamKey) {
        let mut st = self.lock();
        let index = id / 4;
        st.max_request_index = Some(st.max_request_index.map_or(index, |m| m.max(index)));
    }

    /// Records that a control stream was seen.
    pub fn note_control_stream(&self) {
        self.lock().control_streams += 1;
    }

    /// Handles one frame from the client's control stream.
    pub fn on_control_frame(&self, frame: Frame) {
        match frame {
            Frame::MaxPushId(id) => self.on_max_push_id(id),
            Frame::CancelPush(id) => self.on_cancel_push(id),
            Frame::PriorityUpdate { push, id, value } => self.on_priority_update(push, id, &value),
            other => debug!(?other, "control frame"),
        }
    }

    fn on_max_push_id(&self, id: u64) {
        let mut st = self.lock();
        if let Some(cur) = st.max_push_id {
            //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.7
            //# A MAX_PUSH_ID frame cannot reduce the maximum push ID; receipt of
            //# a MAX_PUSH_ID frame that contains a smaller value than previously
            //# received MUST be treated as a connection error of type
            //# H3_ID_ERROR.
            if id < cur {
                drop(st);
                self.connection_error(code::H3_ID_ERROR, "MAX_PUSH_ID reduced");
                return;
            }
        }
        st.max_push_id = Some(id);
        drop(st);
        self.push_credit.notify_waiters();
    }

    fn on_cancel_push(&self, id: u64) {
        let mut st = self.lock();
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If a server receives a CANCEL_PUSH frame for a push ID that has not
        //# yet been mentioned by a PUSH_PROMISE frame, this MUST be treated as
        //# a connection error of type H3_ID_ERROR.
        if id >= st.next_push_id {
            drop(st);
            self.connection_error(
                code::H3_ID_ERROR,
                "CANCEL_PUSH for a push ID never promised",
            );
            return;
        }
        let Some(entry) = st.pushes.get_mut(&id) else {
            return;
        };
        if entry.cancelled || entry.done {
            return;
        }
        entry.cancelled = true;
        let stream = entry.stream;
        st.counters.cancelled_by_client += 1;
        drop(st);
        //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
        //# If the push stream is open, the server SHOULD abruptly terminate
        //# that stream.
        if let Some(s) = stream {
            // The push's writer sees the reset and reports the refused bytes.
            self.queue.reset(s, Abandon::Cancelled);
        }
        debug!(push_id = id, "push cancelled by client");
    }

    fn on_priority_update(&self, push: bool, id: u64, value: &[u8]) {
        let params = match PriorityParams::parse(value) {
            Ok(p) => p,
            Err(e) => {
                //= https://www.rfc-editor.org/rfc/rfc9218#section-7
                //# Failure to parse the Priority Field Value MAY be treated as a
                //# connection error.
                // pushlab ignores the frame and counts it instead.
                debug!(%e, "ignoring PRIORITY_UPDATE with an unparsable value");
                self.queue.count_invalid_update();
                return;
            }
        };
        let prio = params.over_defaults();
        if push {
            let st = self.lock();
            //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
            //# If a server receives a PRIORITY_UPDATE (type=0xF0701) with a push
            //# ID that is greater than the maximum push ID or that has not yet
            //# been promised, this MUST be treated as a connection error of type
            //# H3_ID_ERROR.
            if id >= st.next_push_id {
                drop(st);
                self.connection_error(
                    code::H3_ID_ERROR,
                    "PRIORITY_UPDATE for a push never promised",
                );
                return;
            }
            let stream = st.pushes.get(&id).and_then(|e| e.stream);
            drop(st);
            if let Some(s) = stream {
                self.queue.set_priority(s, prio);
            }
            return;
        }
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) for a stream
        //# ID that is not a request stream, this MUST be treated as a
        //# connection error of type H3_ID_ERROR.
        if !id.is_multiple_of(4) {
            self.connection_error(
                code::H3_ID_ERROR,
                "PRIORITY_UPDATE for a stream that is not a request stream",
            );
            return;
        }
        let st = self.lock();
        let index = id / 4;
        let known = st.max_request_index.is_some_and(|m| index <= m);
        //= https://www.rfc-editor.org/rfc/rfc9218#section-7.2
        //# If a server receives a PRIORITY_UPDATE (type=0xF0700) with a stream
        //# ID that is beyond the stream limits, this SHOULD be treated as a
        //# connection error of type H3_ID_ERROR.
        let limit = st.max_request_index.map_or(0, |m| m + 1) + self.max_concurrent_bidi;
        drop(st);
        if index >= limit {
            self.connection_error(code::H3_ID_ERROR, "PRIORITY_UPDATE beyond the stream limit");
            return;
        }
        self.queue.priority_update(id, prio, known);
    }

    /// Takes the next push ID if the client allows one more push.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.5
    //# A server MUST NOT use a push ID that is larger than the client has
    //# provided in a MAX_PUSH_ID frame (Section 7.2.7).
    //= https://www.rfc-editor.org/rfc/rfc9114#section-4.6
    //# In particular, a server is not able to push until after the client
    //# sends a MAX_PUSH_ID frame.
    pub fn allocate_push(&self, path: &str) -> Option<u64> {
        let mut st = self.lock();
        let max = st.max_push_id?;
        if st.next_push_id > max || st.error.is_some() {
            return None;
        }
        let id = st.next_push_id;
        st.next_push_id += 1;
        st.counters.promised += 1;
        st.pushes.insert(
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
        self.lock().max_push_id.is_some()
    }

    /// The client's current MAX_PUSH_ID.
    pub fn max_push_id(&self) -> Option<u64> {
        self.lock().max_push_id
    }

    /// Records the stream carrying a push; false if the push was cancelled
    /// in the meantime (the caller then resets the stream).
    pub fn attach_push_stream(&self, push_id: u64, stream: StreamKey) -> bool {
        let mut st = self.lock();
        match st.pushes.get_mut(&push_id) {
            Some(e) if !e.cancelled => {
                e.stream = Some(stream);
                true
            }
            _ => false,
        }
    }

    /// Whether a push was cancelled.
    pub fn is_cancelled(&self, push_id: u64) -> bool {
        self.lock().pushes.get(&push_id).is_none_or(|e| e.cancelled)
    }

    /// The server gives up a push it promised: CANCEL_PUSH on its control
    /// stream, and the push stream (if open) is reset.
    //= https://www.rfc-editor.org/rfc/rfc9114#section-7.2.3
    //# A server sends a CANCEL_PUSH frame to indicate that it will not be
    //# fulfilling a promise that was previously sent.
    pub fn cancel_by_server(&self, push_id: u64) -> bool {
        let mut st = self.lock();
        let Some(e) = st.pushes.get_mut(&push_id) else {
            return false;
        };
        if e.cancelled || e.done {
            return false;
        }
        e.cancelled = true;
        let stream = e.stream;
        st.counters.cancelled_by_server += 1;
        drop(st);
        self.control_out
            .send_frame(crate::wire::frame::encode(&Frame::CancelPush(push_id)));
        if let Some(s) = stream {
            self.queue.reset(s, Abandon::Cancelled);
        }
        true
    }

    /// Records a push's outcome once its stream is done.
    pub fn push_finished(&self, push_id: u64, end: PushEnd, written: u64, refused: u64) {
        let mut st = self.lock();
        let already_counted = st.pushes.get(&push_id).is_some_and(|e| e.cancelled);
        if let Some(e) = st.pushes.get_mut(&push_id) {
            e.done = true;
        }
        st.counters.record(end, written, refused, already_counted);
    }

    /// The push counters so far.
    pub fn push_counters(&self) -> PushCounters {
        self.lock().counters
    }
}
