//! Server-wide totals over every connection's queue, kept current by the
//! queue's lock guard.

use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use parking_lot::MutexGuard;

use super::{Inner, SendQueue, StreamSink};

/// Server-wide totals over all connections' queues (for monitoring and for
/// tests that check memory stays bounded and everything is freed).
#[derive(Debug, Default)]
pub struct Gauges {
    /// Bytes waiting in user-space queues.
    pub queued_bytes: AtomicI64,
    /// Streams registered in queues (responses and pushes in progress).
    pub streams: AtomicI64,
}

/// The lock guard: on release, folds changes of this connection's queued
/// bytes and stream count into the server-wide [`Gauges`].
pub(super) struct Locked<'a, S> {
    pub(super) guard: MutexGuard<'a, Inner<S>>,
    pub(super) gauges: &'a Gauges,
}

impl<S> std::ops::Deref for Locked<'_, S> {
    type Target = Inner<S>;
    fn deref(&self) -> &Inner<S> {
        &self.guard
    }
}

impl<S> std::ops::DerefMut for Locked<'_, S> {
    fn deref_mut(&mut self) -> &mut Inner<S> {
        &mut self.guard
    }
}

impl<S> Drop for Locked<'_, S> {
    fn drop(&mut self) {
        let inner = &mut *self.guard;
        let q = inner.sched.total_queued() as i64;
        if q != inner.reported_queued {
            self.gauges
                .queued_bytes
                .fetch_add(q - inner.reported_queued, AtomicOrdering::Relaxed);
            inner.reported_queued = q;
        }
        let n = inner.slots.len() as i64;
        if n != inner.reported_streams {
            self.gauges
                .streams
                .fetch_add(n - inner.reported_streams, AtomicOrdering::Relaxed);
            inner.reported_streams = n;
        }
    }
}

impl<S: StreamSink> Drop for SendQueue<S> {
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        self.gauges
            .queued_bytes
            .fetch_sub(inner.reported_queued, AtomicOrdering::Relaxed);
        self.gauges
            .streams
            .fetch_sub(inner.reported_streams, AtomicOrdering::Relaxed);
    }
}
