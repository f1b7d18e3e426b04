//! An observing wrapper around quinn's congestion controllers: it passes
//! every event to the real controller and keeps what quinn does not
//! publish (bytes in flight, bytes acknowledged, whether the sender was
//! application-limited), for traces. `quinn::Connection::congestion_state`
//! hands out a copy of the controller, which [`observed`] reads back.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use quinn::congestion::{Controller, ControllerFactory, ControllerMetrics};

/// What the wrapper saw, as of the last batch of acknowledgements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CcObservation {
    /// Bytes in flight: quinn's count after the last batch of ACKs, plus
    /// what was sent since (ACK-only packets sent since are counted too,
    /// a slight overestimate).
    pub in_flight: u64,
    /// Bytes acknowledged so far (packet sizes, headers included).
    pub acked: u64,
    /// Bytes declared lost so far.
    pub lost: u64,
    /// Whether quinn had no data to send (with window to spare) before the
    /// last ACKs: while so, NewReno and CUBIC do not grow the window.
    pub app_limited: bool,
    /// Congestion events so far.
    pub congestion_events: u64,
}

/// The wrapper.
struct Observing {
    inner: Box<dyn Controller>,
    seen: CcObservation,
}

impl Controller for Observing {
    fn on_sent(&mut self, now: Instant, bytes: u64, last_packet_number: u64) {
        self.seen.in_flight += bytes;
        self.inner.on_sent(now, bytes, last_packet_number);
    }

    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &quinn_proto::RttEstimator,
    ) {
        self.seen.acked += bytes;
        self.seen.app_limited = app_limited;
        self.inner.on_ack(now, sent, bytes, app_limited, rtt);
    }

    fn on_end_acks(
        &mut self,
        now: Instant,
        in_flight: u64,
        app_limited: bool,
        largest_packet_num_acked: Option<u64>,
    ) {
        self.seen.in_flight = in_flight;
        self.seen.app_limited = app_limited;
        self.inner
            .on_end_acks(now, in_flight, app_limited, largest_packet_num_acked);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    ) {
        self.seen.lost += lost_bytes;
        self.seen.in_flight = self.seen.in_flight.saturating_sub(lost_bytes);
        self.seen.congestion_events += 1;
        self.inner
            .on_congestion_event(now, sent, is_persistent_congestion, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.inner.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        self.inner.window()
    }

    fn metrics(&self) -> ControllerMetrics {
        self.inner.metrics()
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(Observing {
            inner: self.inner.clone_box(),
            seen: self.seen,
        })
    }

    fn initial_window(&self) -> u64 {
        self.inner.initial_window()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Wraps a controller factory so that its controllers are observed.
pub struct ObservingFactory(pub Arc<dyn ControllerFactory + Send + Sync>);

impl ControllerFactory for ObservingFactory {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(Observing {
            inner: self.0.clone().build(now, current_mtu),
            seen: CcObservation::default(),
        })
    }
}

/// What the connection's controller has seen, if it is an observed one.
pub fn observed(conn: &quinn::Connection) -> Option<CcObservation> {
    conn.congestion_state()
        .into_any()
        .downcast::<Observing>()
        .ok()
        .map(|o| o.seen)
}
