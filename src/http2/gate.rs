//! In-flight control on TCP (`--tcp-inflight`): the HTTP/2 side of
//! [`crate::sched::inflight`].
//!
//! quinn lets the queue set its send window; the kernel does not, and what
//! the kernel holds (sent and unacknowledged, or written and unsent) it
//! sends in its own order, so a document that becomes ready waits behind
//! all of it. So, while preemptible bytes go next, the queue hands h2 a
//! pushed stream's bytes only while
//! - the bytes outstanding (the kernel's unacknowledged and unsent bytes,
//!   h2's held DATA and the write buffer in front of TLS) stay within the
//!   in-flight limit, and
//! - the unsent part stays within a small cushion (two segments, or what
//!   the link drains in twice [`GATE_TICK`]): a userspace
//!   TCP_NOTSENT_LOWAT that holds preemptible bytes only.
//!
//! The kernel does not say when ACKs free room, so a refused stream looks
//! again after [`GATE_TICK`]. Urgent bytes are never held here: the queue
//! lifts the limit ([`WindowControl::set_window`] with `limited` false) as
//! soon as they go next.
//!
//! The path sample is TCP_INFO's: congestion window, smoothed RTT, and
//! bytes sent as the count the estimate's rate is measured on, as for
//! quinn. Bytes acknowledged were measured too (the preemption sweep,
//! results/preemption-sweep-v2/h2-gate-acked): they cannot run ahead of the
//! bottleneck, but the estimate follows a round trip later, and on LTE the
//! pushes finished 1.30 times later than with kernel defaults (median of 9
//! cells) against 1.23 on bytes sent, with the documents no better off.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::watch::WriteWatch;
use crate::netinfo::{tcp_info, TcpInfo};
use crate::sched::inflight::{tcp_cushion, tcp_room, PathSample};
use crate::sendq::WindowControl;

/// How soon a stream the gate refused looks again.
pub const GATE_TICK: Duration = Duration::from_millis(2);

/// The least the gate lets through at once (unless less is wanted): about
/// a segment's payload.
const MIN_SEND: u64 = 1200;

/// No limit (urgent bytes go next, or no estimate yet).
const OPEN: u64 = u64::MAX;

/// One TCP connection's gate.
pub struct TcpGate {
    socket: Arc<socket2::Socket>,
    watch: Arc<WriteWatch>,
    /// The in-flight limit while preemptible bytes go next; [`OPEN`] when
    /// not limited.
    window: AtomicU64,
}

impl TcpGate {
    /// A gate for the connection on `socket` (a duplicate of its fd, shared
    /// with the connection's trace probe), whose h2 writes pass through
    /// `watch`.
    pub fn new(socket: Arc<socket2::Socket>, watch: Arc<WriteWatch>) -> Arc<Self> {
        Arc::new(TcpGate {
            socket,
            watch,
            window: AtomicU64::new(OPEN),
        })
    }

    fn info(&self) -> Option<TcpInfo> {
        tcp_info(&self.socket).ok()
    }

    /// How many bytes may be handed to h2 now; `None` when the gate is
    /// open. An unreadable TCP_INFO opens it: the connection is going away,
    /// and holding bytes would only stall it.
    pub fn room(&self) -> Option<u64> {
        let window = self.window.load(Ordering::Relaxed);
        if window == OPEN {
            return None;
        }
        let info = self.info()?;
        let unsent = info.notsent_bytes.unwrap_or(0) + self.watch.held();
        let cushion = tcp_cushion(info.delivery_rate, u64::from(info.mss), GATE_TICK);
        Some(tcp_room(window, info.unacked_bytes(), unsent, cushion))
    }

    /// [`TcpGate::room`] for a stream's send of `want` bytes: when the room
    /// is less than `want` and less than a segment (a sliver would go out as
    /// a tiny frame and record), `timer` is (re)armed to wake `cx` after
    /// [`GATE_TICK`], and `Pending` returned.
    pub fn poll_room(
        &self,
        cx: &mut Context<'_>,
        timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
        want: u64,
    ) -> Poll<Option<u64>> {
        match self.room() {
            Some(room) if room < want.min(MIN_SEND) => {}
            other => return Poll::Ready(other),
        }
        let at = tokio::time::Instant::now() + GATE_TICK;
        let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        t.as_mut().reset(at);
        if t.as_mut().poll(cx).is_ready() {
            // Cannot happen for a deadline in the future; look again now.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// The queue's window control on a TCP connection.
pub struct TcpWindow(pub Arc<TcpGate>);

impl WindowControl for TcpWindow {
    fn path(&self) -> Option<PathSample> {
        let info = self.0.info()?;
        Some(PathSample {
            cwnd: info.cwnd_bytes,
            srtt: Duration::from_micros(u64::from(info.rtt_us)),
            sent_bytes: info.bytes_sent?,
            ack_rate: None,
        })
    }

    fn set_window(&self, bytes: u64, limited: bool) {
        let w = if limited { bytes } else { OPEN };
        self.0.window.store(w, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a real loopback connection: the gate is open until the queue
    /// limits it; limited, it gives no more than the cushion while nothing
    /// is in flight, and nothing once the write buffer holds that much;
    /// lifting the limit opens it again. A refused send is woken by the
    /// gate's timer.
    #[tokio::test]
    async fn gate_limits_only_while_limited() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        let c = c.unwrap();
        let _s = s.unwrap();
        let dup = Arc::new(socket2::SockRef::from(&c).try_clone().unwrap());
        let watch = Arc::new(WriteWatch::default());
        let gate = TcpGate::new(dup, watch.clone());
        let win = TcpWindow(gate.clone());
        assert_eq!(gate.room(), None, "open before any limit");
        let path = win.path().expect("TCP_INFO");
        assert!(path.cwnd > 0);
        win.set_window(100_000, true);
        let room = gate.room().expect("limited");
        let mss = u64::from(tcp_info(&c).unwrap().mss);
        assert!(room >= 2 * mss && room <= 100_000, "{room}");
        // h2 was handed a cushion's worth and has not flushed: no room.
        watch.handed(1, room);
        assert_eq!(gate.room(), Some(0));
        let mut timer = None;
        let (waker, woken) = flag_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(gate.poll_room(&mut cx, &mut timer, 16_384).is_pending());
        tokio::time::sleep(GATE_TICK * 3).await;
        assert!(woken.load(Ordering::Relaxed) > 0, "the timer woke the send");
        win.set_window(100_000, false);
        assert_eq!(gate.room(), None, "urgent bytes are not held");
    }

    fn flag_waker() -> (std::task::Waker, Arc<AtomicU64>) {
        struct W(Arc<AtomicU64>);
        impl std::task::Wake for W {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let n = Arc::new(AtomicU64::new(0));
        (std::task::Waker::from(Arc::new(W(n.clone()))), n)
    }
}
