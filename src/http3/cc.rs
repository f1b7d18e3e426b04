//! An observing wrapper around quinn's congestion controllers: it passes
//! every event to the real controller and keeps what quinn does not
//! publish (bytes in flight, bytes acknowledged, whether the sender was
//! application-limited, the bottleneck's rate from ACK spacing), for traces
//! and for in-flight control. With in-flight control on it changes one
//! thing: the window is at least [`window_floor`] until the first
//! congestion event. `quinn::Connection::congestion_state`
//! hands out a copy of the controller, which [`observed`] reads back.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::congestion::{Controller, ControllerFactory, ControllerMetrics};

use crate::sched::dispersion::{window_floor, DispersionSampler};

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
    /// The bottleneck's rate from the spacing of ACKs, bytes per second
    /// ([`crate::sched::dispersion`]): the median of recent bursts.
    pub ack_rate: Option<u64>,
}

/// The wrapper.
struct Observing {
    inner: Box<dyn Controller>,
    seen: CcObservation,
    dispersion: DispersionSampler,
    /// Whether the window floor applies ([`window_floor`]): in-flight
    /// control is on, and no congestion event happened yet.
    floor_on: bool,
    /// The floor now (0 before the first ACK-spacing sample).
    floor: u64,
    /// The minimum RTT as of the last ACK.
    min_rtt: Duration,
    /// When the controller was built (the connection's start), for traces.
    epoch: Instant,
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
        self.dispersion.on_ack(now, sent, bytes);
        self.min_rtt = rtt.min();
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
        let train = self.dispersion.end_acks();
        if let Some(e) = self.dispersion.newest().filter(|e| e.at == now) {
            // Every ACK event, for replaying the estimator offline
            // (`RUST_LOG=pushlab::dispersion=trace`); times in ms since the
            // controller was built, at the connection's start.
            let ms = |t: Instant| t.saturating_duration_since(self.epoch).as_secs_f64() * 1e3;
            tracing::trace!(
                target: "pushlab::dispersion",
                at = ms(e.at),
                bytes = e.bytes,
                first_sent = ms(e.first_sent),
                last_sent = ms(e.last_sent),
                "ACK event"
            );
        }
        if let Some(train) = train {
            self.seen.ack_rate = self.dispersion.rate();
            if let (true, Some(rate)) = (self.floor_on, self.seen.ack_rate) {
                self.floor = window_floor(rate, self.min_rtt);
            }
            // What the floor is made of, for `RUST_LOG=pushlab::dispersion=debug`.
            tracing::debug!(
                target: "pushlab::dispersion",
                at = now.saturating_duration_since(self.epoch).as_secs_f64() * 1e3,
                train_rate = train.rate,
                train_bytes = train.bytes,
                train_ms = train.span.as_secs_f64() * 1e3,
                train_events = train.events,
                rate = self.seen.ack_rate,
                floor = self.floor,
                "ACK-spacing sample"
            );
        }
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
        self.floor_on = false;
        self.floor = 0;
        self.inner
            .on_congestion_event(now, sent, is_persistent_congestion, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.inner.on_mtu_update(new_mtu);
    }

    fn window(&self) -> u64 {
        self.inner.window().max(self.floor)
    }

    fn metrics(&self) -> ControllerMetrics {
        self.inner.metrics()
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(Observing {
            inner: self.inner.clone_box(),
            seen: self.seen,
            dispersion: self.dispersion.clone(),
            floor_on: self.floor_on,
            floor: self.floor,
            epoch: self.epoch,
            min_rtt: self.min_rtt,
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
pub struct ObservingFactory {
    /// The real controllers' factory.
    pub inner: Arc<dyn ControllerFactory + Send + Sync>,
    /// Keep each window at least at [`window_floor`] until the first
    /// congestion event (for in-flight control; off for `--inflight off`).
    pub window_floor: bool,
    /// Drop ACK trains that cross a receiver's stall
    /// ([`DispersionSampler::with_stall_check`]).
    pub stall_check: bool,
}

impl ControllerFactory for ObservingFactory {
    fn build(self: Arc<Self>, now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(Observing {
            inner: self.inner.clone().build(now, current_mtu),
            seen: CcObservation::default(),
            dispersion: DispersionSampler::with_stall_check(self.stall_check),
            floor_on: self.window_floor,
            floor: 0,
            min_rtt: Duration::ZERO,
            epoch: now,
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
