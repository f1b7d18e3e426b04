//! The I/O adapter between h2 and TLS. It does four things:
//!
//! - watches the bytes h2 writes, to know when a stream's last frame has
//!   really left h2 (see [`crate::wire::h2scan`]): pushes wait for their
//!   parent's response to be written, not merely handed to h2, so h2's
//!   round-robin cannot put pushed frames ahead of the parent's HEADERS;
//! - coalesces h2's writes within a scheduler tick. h2 flushes at the end
//!   of every poll of its connection, and the connection task runs right
//!   after each request task that queued a response, so every response
//!   became its own TLS record and `writev`. The first flush after new
//!   bytes is deferred by one turn of the scheduler (the task wakes itself
//!   and yields), letting the other ready request tasks queue theirs; the
//!   next flush writes them all at once;
//! - reads the client's SETTINGS on their way in, for the number of pushed
//!   streams it allows open ([`WriteWatch::push_slot`]);
//! - bounds what h2 holds: h2 sends the frames of the streams it holds
//!   data for round-robin, one frame each, so whatever the queue has handed
//!   it leaves interleaved, not in the queue's order. Between two of h2's
//!   flushes (h2 flushes once it has written every frame it could), the
//!   queue's streams hand it a bounded budget, decided by
//!   [`FlushBudget`]; the rest waits for the next flush, when the stream
//!   the queue prefers goes first.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::sched::budget::FlushBudget;
use crate::wire::h2scan::{FrameScanner, PeerSettings, Written};

#[derive(Default)]
struct Scan {
    scanner: FrameScanner,
    /// Streams someone will wait for.
    watched: HashSet<u32>,
    /// Watched streams whose last frame was written.
    ended: HashSet<u32>,
    out: Vec<Written>,
}

/// What has been written on a connection, shared with request handlers.
pub struct WriteWatch {
    scan: Mutex<Scan>,
    notify: Notify,
    /// DATA payload bytes written on pushed (even-numbered) streams.
    pub push_data: AtomicU64,
    /// DATA payload bytes written on all streams.
    pub data: AtomicU64,
    /// What the queue's streams handed h2 since its last flush.
    budget: Mutex<FlushBudget>,
    /// The send queue's pump, waiting for h2 to flush.
    drain_waker: Mutex<Option<std::task::Waker>>,
    /// Bytes in the coalescing buffer, not yet written to TLS.
    buffered: AtomicU64,
    /// Pushed streams the client allows open at once (its
    /// SETTINGS_MAX_CONCURRENT_STREAMS, read from what it sends; unlimited
    /// until it says).
    peer_max_streams: AtomicU64,
    /// Pushes pushlab has opened (HEADERS handed to h2) and not finished.
    open_pushes: AtomicU64,
    /// Wakes pushes waiting for one of those slots.
    push_slots: Notify,
    /// Streams whose HEADERS were handed to h2 and not yet written, and
    /// since when.
    heads: Mutex<std::collections::HashMap<u32, std::time::Instant>>,
}

/// How long DATA waits for HEADERS handed to h2 before it to be written.
/// Longer means h2 will not write them (a pushed stream waiting for the
/// client's concurrency limit, a stream reset meanwhile): DATA goes on.
const HEADS_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

impl Default for WriteWatch {
    fn default() -> Self {
        WriteWatch {
            scan: Mutex::default(),
            notify: Notify::new(),
            push_data: AtomicU64::new(0),
            data: AtomicU64::new(0),
            budget: Mutex::default(),
            drain_waker: Mutex::default(),
            buffered: AtomicU64::new(0),
            //= https://www.rfc-editor.org/rfc/rfc9113#section-6.5.2
            //# Initially, there is no limit to this value.
            peer_max_streams: AtomicU64::new(u64::MAX),
            open_pushes: AtomicU64::new(0),
            push_slots: Notify::new(),
            heads: Mutex::default(),
        }
    }
}

/// A pushed stream that may open: released (and the next waiting push
/// woken) when dropped.
pub struct PushSlot(Arc<WriteWatch>);

impl Drop for PushSlot {
    fn drop(&mut self) {
        self.0.open_pushes.fetch_sub(1, Ordering::Relaxed);
        self.0.push_slots.notify_waiters();
    }
}

impl WriteWatch {
    /// The client's SETTINGS_MAX_CONCURRENT_STREAMS changed.
    pub fn set_peer_max_streams(&self, n: u32) {
        self.peer_max_streams.store(u64::from(n), Ordering::Relaxed);
        self.push_slots.notify_waiters();
    }

    /// Takes a slot for a pushed stream if the client allows one more open.
    fn try_push_slot(self: &Arc<Self>) -> Option<PushSlot> {
        let max = self.peer_max_streams.load(Ordering::Relaxed);
        self.open_pushes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| PushSlot(self.clone()))
    }

    /// Waits for a slot for a pushed stream: while the client allows no more
    /// pushed streams open (SETTINGS_MAX_CONCURRENT_STREAMS), a push stays
    /// reserved and its HEADERS are not handed to h2.
    pub async fn push_slot(self: &Arc<Self>) -> PushSlot {
        loop {
            let notified = self.push_slots.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(slot) = self.try_push_slot() {
                return slot;
            }
            notified.await;
        }
    }
}

impl WriteWatch {
    /// Registers interest in `stream`'s end; call before its last frame
    /// can be written.
    pub fn watch(&self, stream: u32) {
        self.scan.lock().watched.insert(stream);
    }

    /// Drops interest (when no one will wait after all).
    pub fn forget(&self, stream: u32) {
        let mut s = self.scan.lock();
        s.watched.remove(&stream);
        s.ended.remove(&stream);
        drop(s);
        self.heads.lock().remove(&stream);
    }

    /// Waits until the last frame of a watched stream was written to TLS.
    pub async fn ended(&self, stream: u32) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.scan.lock();
                if s.ended.remove(&stream) {
                    return;
                }
                if !s.watched.contains(&stream) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// HEADERS for `stream` are about to be handed to h2.
    pub fn head_queued(&self, stream: u32) {
        self.heads.lock().insert(stream, std::time::Instant::now());
    }

    /// Whether HEADERS handed to h2 recently wait to be written. h2 writes
    /// the frames it holds round-robin, streams in the order they first
    /// had a frame queued: DATA handed while handlers' HEADERS wait would
    /// leave in the order the handlers ran, not the queue's (three scripts
    /// requested together went out 7, 3, 5).
    pub fn heads_waiting(&self, other_than: u32) -> bool {
        let mut heads = self.heads.lock();
        heads.retain(|_, at| at.elapsed() < HEADS_WAIT);
        heads.keys().any(|&s| s != other_than)
    }

    /// How many DATA bytes `stream` may hand h2 now; when none, `cx` is
    /// woken at h2's next flush.
    pub fn budget(&self, stream: u32, cx: &Context<'_>) -> u64 {
        // A stream's own HEADERS precede its DATA in h2 regardless.
        if self.heads_waiting(stream) {
            *self.drain_waker.lock() = Some(cx.waker().clone());
            if self.heads_waiting(stream) {
                return 0;
            }
        }
        let n = self.budget.lock().room(u64::from(stream));
        if n > 0 {
            return n;
        }
        *self.drain_waker.lock() = Some(cx.waker().clone());
        // A flush between the check and the registration woke no one.
        self.budget.lock().room(u64::from(stream))
    }

    /// Records DATA bytes `stream` handed to h2.
    pub fn handed(&self, stream: u32, n: u64) {
        self.budget.lock().handed(u64::from(stream), n);
    }

    /// Bytes handed over and not yet written to TLS: DATA the queue's
    /// streams handed h2 since its last flush (h2 writes everything it can
    /// before it flushes; counting since the flush also forgets data h2
    /// dropped with a reset stream), and the coalescing buffer.
    pub fn held(&self) -> u64 {
        self.budget.lock().held() + self.buffered.load(Ordering::Relaxed)
    }

    /// h2 is flushing: every frame it could write, it has written.
    fn h2_flushed(&self) {
        self.budget.lock().flushed();
        if let Some(w) = self.drain_waker.lock().take() {
            w.wake();
        }
    }

    fn written(&self, bytes: &[u8]) {
        let mut s = self.scan.lock();
        let Scan {
            scanner,
            watched,
            ended,
            out,
        } = &mut *s;
        scanner.push(bytes, out);
        let mut any = false;
        if !out.is_empty() {
            let mut heads = self.heads.lock();
            if !heads.is_empty() {
                // A stream's first frame written is its HEADERS.
                for w in out.iter() {
                    heads.remove(&w.stream);
                }
            }
        }
        for w in out.drain(..) {
            tracing::trace!(
                target: "pushlab::h2frames",
                stream = w.stream,
                data = w.data,
                ended = w.ended,
                "frame written"
            );
            self.data.fetch_add(u64::from(w.data), Ordering::Relaxed);
            if w.stream % 2 == 0 && w.data > 0 {
                self.push_data
                    .fetch_add(u64::from(w.data), Ordering::Relaxed);
            }
            if w.ended && watched.remove(&w.stream) {
                ended.insert(w.stream);
                any = true;
            }
        }
        drop(s);
        if any {
            self.notify.notify_waiters();
        }
    }
}

/// Bytes held back for coalescing before writes go through to TLS.
const COALESCE_MAX: usize = 256 * 1024;

/// An I/O stream whose writes are scanned for HTTP/2 frames and coalesced.
pub struct Watched<T> {
    inner: T,
    watch: Arc<WriteWatch>,
    buf: BytesMut,
    /// A flush deferred by one scheduler turn: `yield_now`, which puts the
    /// task behind the others that are ready (a plain self-wake would run
    /// it again at once from tokio's LIFO slot).
    deferred: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// The client's SETTINGS, followed on the read side.
    peer: PeerSettings,
}

impl<T> Watched<T> {
    /// Wraps `inner`; `watch` sees every byte written.
    pub fn new(inner: T, watch: Arc<WriteWatch>) -> Self {
        Watched {
            inner,
            watch,
            buf: BytesMut::new(),
            deferred: None,
            peer: PeerSettings::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    /// Writes the held bytes through to `inner`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.buf.is_empty() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.buf) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.buf.advance(n);
            self.watch.buffered.fetch_sub(n as u64, Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }

    /// Takes bytes into the coalescing buffer (draining it first when full).
    fn poll_take(&mut self, cx: &mut Context<'_>, bufs: &[&[u8]]) -> Poll<io::Result<usize>> {
        if self.buf.len() >= COALESCE_MAX {
            match self.poll_drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let mut taken = 0;
        for b in bufs {
            let room = COALESCE_MAX.saturating_sub(self.buf.len()).max(1);
            let take = room.min(b.len());
            self.buf.extend_from_slice(&b[..take]);
            self.watch.written(&b[..take]);
            taken += take;
            self.watch
                .buffered
                .fetch_add(take as u64, Ordering::Relaxed);
            if take < b.len() {
                break;
            }
        }
        Poll::Ready(Ok(taken))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let this = &mut *self;
            match this.peer.push(&buf.filled()[before..]) {
                Ok(Some(n)) => this.watch.set_peer_max_streams(n),
                Ok(None) => {}
                // h2 never sees these bytes: it ends the connection on
                // the read error (no GOAWAY, which section 3.4 allows).
                Err(e) => {
                    buf.set_filled(before);
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                }
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, &[buf])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        self.poll_take(cx, &slices)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.deferred.is_none() {
            self.watch.h2_flushed();
        }
        if self.deferred.is_none() && !self.buf.is_empty() {
            // Let the other ready tasks add their frames first.
            self.deferred = Some(Box::pin(tokio::task::yield_now()));
        }
        if let Some(y) = self.deferred.as_mut() {
            if y.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.deferred = None;
        }
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::budget::{SHARED_BUDGET, SOLO_BUDGET};
    use tokio::io::AsyncWriteExt;

    /// One stream alone may hand h2 up to the solo budget; once another
    /// stream has data in h2, everyone shares one frame's worth until h2
    /// flushes.
    #[test]
    fn budget_is_per_flush_and_shared_by_one_frame() {
        let w = WriteWatch::default();
        let cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(w.budget(1, &cx), SOLO_BUDGET);
        w.handed(1, 20_000);
        assert_eq!(w.budget(1, &cx), SOLO_BUDGET - 20_000);
        assert_eq!(w.budget(3, &cx), 0, "20 KB of stream 1 still in h2");
        w.h2_flushed();
        assert_eq!(w.budget(3, &cx), SOLO_BUDGET);
        w.handed(3, 4_000);
        assert_eq!(w.budget(5, &cx), SHARED_BUDGET - 4_000);
        w.handed(5, 1_000);
        assert_eq!(w.budget(3, &cx), SHARED_BUDGET - 5_000, "no longer alone");
        w.handed(3, SHARED_BUDGET - 5_000);
        assert_eq!(w.budget(3, &cx), 0);
        assert!(w.drain_waker.lock().is_some(), "waits for the flush");
        w.h2_flushed();
        assert!(w.drain_waker.lock().is_none(), "woken");
    }

    /// A watched stream's end is reported once its END_STREAM frame passes
    /// through the writer, not before; unwatched streams are not tracked.
    #[tokio::test]
    async fn reports_written_ends() {
        let watch = Arc::new(WriteWatch::default());
        let (a, _b) = tokio::io::duplex(1 << 16);
        let mut w = Watched::new(a, watch.clone());
        watch.watch(1);
        let waiter = {
            let watch = watch.clone();
            tokio::spawn(async move { watch.ended(1).await })
        };
        // DATA on stream 1 without END_STREAM, then DATA on pushed stream 2.
        w.write_all(&[0, 0, 3, 0, 0, 0, 0, 0, 1, 9, 9, 9])
            .await
            .unwrap();
        w.write_all(&[0, 0, 2, 0, 1, 0, 0, 0, 2, 9, 9])
            .await
            .unwrap();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // END_STREAM on stream 1, written in two pieces.
        w.write_all(&[0, 0, 0, 0]).await.unwrap();
        w.write_all(&[1, 0, 0, 0, 1]).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(2), waiter)
            .await
            .expect("end reported")
            .unwrap();
        assert_eq!(watch.push_data.load(Ordering::Relaxed), 2);
        assert!(watch.scan.lock().ended.is_empty());
        assert!(watch.scan.lock().watched.is_empty());
    }
}
