//! What the client says on its control stream that h3 0.0.8 ignores:
//! MAX_PUSH_ID, CANCEL_PUSH and PRIORITY_UPDATE, plus the push ID space
//! they govern. The backend feeds frames here as they pass to h3.
//!
//! [`ControlSink`] is glue: the rules live in the pure
//! [`ControlState`], and the sink carries out
//! the [`Action`]s it returns on the QUIC connection, the send queue and
//! the server's control stream.

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use quinn::VarInt;
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::control_out::ControlOut;
use super::sink::H3Queue;
use super::state::{Action, ControlState};
use crate::sched::StreamKey;
use crate::sendq::Abandon;
use crate::stats::{PushCounters, PushEnd};
use crate::wire::frame::{self, code, Frame};

/// Receives the client's control frames for one connection.
pub struct ControlSink {
    conn: quinn::Connection,
    queue: Arc<H3Queue>,
    state: Mutex<ControlState>,
    /// Woken when MAX_PUSH_ID grows (pushes waiting for a push ID).
    pub push_credit: Notify,
    max_control_frame: usize,
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
            state: Mutex::new(ControlState::new(max_concurrent_bidi)),
            push_credit: Notify::new(),
            max_control_frame: 16 * 1024,
            control_out,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock()
    }

    /// Carries out actions, with the state's lock released (the queue has
    /// a lock of its own).
    fn apply(&self, actions: impl IntoIterator<Item = Action>) {
        for action in actions {
            match action {
                Action::Close { code, reason } => {
                    warn!(
                        remote = %self.conn.remote_address(),
                        code = code::name(code),
                        reason,
                        "closing connection"
                    );
                    self.conn.close(
                        VarInt::from_u64(code).unwrap_or(VarInt::MAX),
                        reason.as_bytes(),
                    );
                }
                Action::ResetStream { stream, code } => {
                    self.queue.reset(stream, Abandon::Code(code));
                }
                Action::Reprioritise { stream, priority } => {
                    self.queue.set_priority(stream, priority);
                }
                Action::PriorityUpdate {
                    stream,
                    priority,
                    known,
                } => self.queue.priority_update(stream, priority, known),
                Action::SendControlFrame(f) => {
                    self.control_out.send_frame(frame::encode(&f));
                }
                Action::CountInvalidPriorityUpdate => {
                    debug!("ignoring PRIORITY_UPDATE with an unparsable value");
                    self.queue.count_invalid_update();
                }
                Action::PushCreditGrew => self.push_credit.notify_waiters(),
            }
        }
    }

    /// Largest control frame accepted (buffered before parsing).
    pub fn max_control_frame(&self) -> usize {
        self.max_control_frame
    }

    /// Closes the connection with an HTTP/3 error (once: later errors are
    /// ignored).
    pub fn connection_error(&self, error_code: u64, reason: &str) {
        let close = self.lock().connection_error(error_code, reason);
        self.apply(close);
    }

    /// The error the connection was closed with, if any.
    pub fn error(&self) -> Option<(u64, String)> {
        self.lock().error().cloned()
    }

    /// Records that a request stream was accepted.
    pub fn note_request_stream(&self, id: StreamKey) {
        self.lock().on_request_stream(id);
    }

    /// Records that a control stream was seen.
    pub fn note_control_stream(&self) {
        self.lock().on_control_stream();
    }

    /// Handles one frame from the client's control stream.
    pub fn on_control_frame(&self, frame: Frame) {
        match &frame {
            Frame::MaxPushId(_) | Frame::PriorityUpdate { .. } => {}
            Frame::CancelPush(id) => debug!(push_id = id, "CANCEL_PUSH from the client"),
            other => debug!(?other, "control frame"),
        }
        let actions = self.lock().on_control_frame(frame);
        self.apply(actions);
    }

    /// Takes the next push ID if the client allows one more push.
    pub fn allocate_push(&self, path: &str) -> Option<u64> {
        self.lock().allocate_push(path)
    }

    /// Whether the client has sent MAX_PUSH_ID at all.
    pub fn push_enabled(&self) -> bool {
        self.lock().push_enabled()
    }

    /// The client's current MAX_PUSH_ID.
    pub fn max_push_id(&self) -> Option<u64> {
        self.lock().max_push_id()
    }

    /// Records the stream carrying a push; false if the push was cancelled
    /// in the meantime (the caller then resets the stream).
    pub fn attach_push_stream(&self, push_id: u64, stream: StreamKey) -> bool {
        self.lock().attach_push_stream(push_id, stream)
    }

    /// Whether a push was cancelled.
    pub fn is_cancelled(&self, push_id: u64) -> bool {
        self.lock().is_cancelled(push_id)
    }

    /// The server gives up a push it promised: CANCEL_PUSH on its control
    /// stream, and the push stream (if open) is reset. False if there was
    /// nothing to cancel.
    pub fn cancel_by_server(&self, push_id: u64) -> bool {
        let actions = self.lock().cancel_by_server(push_id);
        let cancelled = !actions.is_empty();
        self.apply(actions);
        cancelled
    }

    /// Records a push's outcome once its stream is done.
    pub fn push_finished(&self, push_id: u64, end: PushEnd, written: u64, refused: u64) {
        self.lock().push_finished(push_id, end, written, refused);
    }

    /// The push counters so far.
    pub fn push_counters(&self) -> PushCounters {
        self.lock().push_counters()
    }
}
