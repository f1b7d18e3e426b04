//! Requests that arrive together are written in priority order, not in the
//! order their handler tasks happen to run.
//!
//! tokio runs the task spawned last first, so without this the handler of
//! the last-requested image could queue (and the transport take) a window's
//! worth of bytes before the stylesheet's handler ran. The queue counts the
//! requests that are *starting* (accepted, nothing queued yet; HTTP/2
//! requests and pushes are announced when accepted or spawned) and, while
//! any are, the pump yields to their tasks before writing, for a moment at
//! most. Pure bookkeeping, time passed in: the queue calls it under its
//! lock.

use std::time::{Duration, Instant};

/// What the send queue knows about requests that have arrived but not yet
/// queued anything.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    /// Requests that arrived but have not enqueued anything yet (their
    /// handlers have not run, or are thinking), including those announced
    /// and not yet registered.
    starting: usize,
    /// Requests that ever arrived.
    arrived: u64,
    /// `arrived` when the pump last stopped waiting: it waits again only
    /// for requests that arrived since.
    gave_up_at: u64,
    /// When the pump began to wait.
    waiting_since: Option<Instant>,
    /// Passes deferred since then.
    deferred: u8,
}

/// The pump defers at least this many passes in a row (yields) before
/// [`MAX_WAIT`] may end the wait: yields let the handlers run, where a
/// clock alone would not.
pub const MIN_DEFERRED: u8 = 8;

/// How long the pump waits, at most, for the handlers of requests that
/// arrived together to queue their responses. One yield is not enough: on
/// a multi-threaded runtime a handler may run on the other worker and
/// register a moment after the pump's next turn (HTTP/2: three scripts
/// requested together were written out of stream order on 4 to 14 of 20
/// connections with one yield, `tests/h2_rules.rs`). A handler that thinks
/// for seconds costs the others this much once.
pub const MAX_WAIT: Duration = Duration::from_millis(2);

/// What the pump should do when woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpDecision {
    /// Yield to the handlers of requests that are starting, then ask again.
    Defer,
    /// Write now.
    Pass,
}

impl Arrivals {
    /// A request arrived (or was announced) and has queued nothing yet.
    pub fn arrived(&mut self) {
        self.starting += 1;
        self.arrived += 1;
    }

    /// A starting request queued its first bytes, finished, was reset or
    /// withdrawn.
    pub fn started(&mut self) {
        self.starting = self.starting.saturating_sub(1);
    }

    /// How many requests are starting.
    pub fn starting(&self) -> usize {
        self.starting
    }

    /// Whether a writer's task may write inline right after it enqueued:
    /// not while other requests that arrived with it are about to queue
    /// their responses (the pump passes once they have).
    pub fn inline_allowed(&self) -> bool {
        self.starting == 0
    }

    /// The pump was woken at `now` with `has_ready` data: defer while
    /// requests are starting, for at most [`MAX_WAIT`] per group of
    /// arrivals, so that a request that thinks for seconds delays the
    /// others by no more than that, once.
    pub fn on_pump(&mut self, has_ready: bool, now: Instant) -> PumpDecision {
        if self.starting == 0 || !has_ready || self.gave_up_at == self.arrived {
            self.waiting_since = None;
            self.deferred = 0;
            return PumpDecision::Pass;
        }
        let since = *self.waiting_since.get_or_insert(now);
        if self.deferred < MIN_DEFERRED || now.saturating_duration_since(since) < MAX_WAIT {
            self.deferred = self.deferred.saturating_add(1);
            return PumpDecision::Defer;
        }
        self.gave_up_at = self.arrived;
        self.waiting_since = None;
        self.deferred = 0;
        PumpDecision::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pump defers while requests are starting, MIN_DEFERRED times
    /// and then until MAX_WAIT per group of arrivals, and never when
    /// nothing is ready or nothing starts.
    #[test]
    fn defers_for_a_moment_while_requests_start() {
        let t = Instant::now();
        let ms = |n: u64| t + Duration::from_millis(n);
        let mut a = Arrivals::default();
        assert_eq!(a.on_pump(true, t), PumpDecision::Pass);
        a.arrived();
        a.arrived();
        assert!(!a.inline_allowed());
        assert_eq!(a.on_pump(false, t), PumpDecision::Pass);
        for _ in 0..MIN_DEFERRED {
            assert_eq!(a.on_pump(true, t), PumpDecision::Defer);
        }
        assert_eq!(a.on_pump(true, ms(1)), PumpDecision::Defer);
        assert_eq!(
            a.on_pump(true, ms(2)),
            PumpDecision::Pass,
            "waited long enough"
        );
        // The same starting requests (one thinks): no more waiting.
        assert_eq!(a.on_pump(true, ms(3)), PumpDecision::Pass);
        assert_eq!(a.on_pump(true, ms(100)), PumpDecision::Pass);
        // A new arrival: wait again, for it.
        a.arrived();
        assert_eq!(a.on_pump(true, ms(101)), PumpDecision::Defer);
        a.started();
        a.started();
        a.started();
        assert_eq!(a.starting(), 0);
        assert!(a.inline_allowed());
        assert_eq!(a.on_pump(true, ms(101)), PumpDecision::Pass);
    }
}
