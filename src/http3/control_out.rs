//! Frames pushlab writes on the server's control stream, which h3 owns
//! (CANCEL_PUSH: h3 0.0.8 has no push support at all).
//!
//! [`ControlOut`] is the hand-over point: the backend attaches the control
//! stream's writer once h3 opens it, and the control glue sends frames
//! through it without knowing how the stream is written.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// Writes frames pushlab injects on the control stream, between h3's own.
pub trait InjectFrame: Send + Sync {
    /// Queues an encoded frame, written at the next frame boundary.
    fn inject(self: Arc<Self>, frame: Bytes);
}

/// Lets pushlab write frames of its own on the server's control stream.
#[derive(Default)]
pub struct ControlOut {
    stream: Mutex<Option<Arc<dyn InjectFrame>>>,
}

impl ControlOut {
    /// A holder with no control stream yet.
    pub fn new() -> Arc<Self> {
        Arc::new(ControlOut::default())
    }

    /// Sets the writer of the control stream, once h3 opened it.
    pub fn attach(&self, writer: Arc<dyn InjectFrame>) {
        *self.stream.lock() = Some(writer);
    }

    /// Queues an encoded frame on the control stream, written at the next
    /// frame boundary. Returns false when there is no control stream (yet).
    pub fn send_frame(&self, frame: Bytes) -> bool {
        let Some(writer) = self.stream.lock().clone() else {
            return false;
        };
        writer.inject(frame);
        true
    }
}
