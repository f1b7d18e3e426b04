//! Requests that arrive together are written in priority order, not in the
//! order their handler tasks happen to run.
//!
//! tokio runs the task spawned last first, so without this the handler of
//! the last-requested image could queue (and the transport take) a window's
//! worth of bytes before the stylesheet's handler ran. The queue counts the
//! requests that are *starting* (accepted, nothing queued yet; HTTP/2
//! requests and pushes are announced when accepted or spawned) and, while
//! any are, the pump yields once to their tasks before writing. Pure
//! bookkeeping: the queue calls it under its lock.

/// What the send queue knows about requests that have arrived but not yet
/// queued anything.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    /// Requests that arrived but have not enqueued anything yet (their
    /// handlers have not run, or are thinking), including those announced
    /// and not yet registered.
    starting: usize,
    /// The pump deferred its pass once for them.
    deferred: bool,
}

/// What the pump should do when woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpDecision {
    /// Yield once to the handlers of requests that are starting, then pass.
    Defer,
    /// Write now.
    Pass,
}

impl Arrivals {
    /// A request arrived (or was announced) and has queued nothing yet.
    pub fn arrived(&mut self) {
        self.starting += 1;
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

    /// The pump was woken with `has_ready` data: defer once per wake-up,
    /// and only while requests are starting, so that a request that thinks
    /// for seconds delays nothing but this one yield.
    pub fn on_pump(&mut self, has_ready: bool) -> PumpDecision {
        if self.starting > 0 && !self.deferred && has_ready {
            self.deferred = true;
            return PumpDecision::Defer;
        }
        self.deferred = false;
        PumpDecision::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pump defers once per wake-up while requests are starting, never
    /// twice in a row, and never when nothing is ready or nothing starts.
    #[test]
    fn defers_once_while_requests_start() {
        let mut a = Arrivals::default();
        assert_eq!(a.on_pump(true), PumpDecision::Pass);
        a.arrived();
        a.arrived();
        assert!(!a.inline_allowed());
        assert_eq!(a.on_pump(false), PumpDecision::Pass);
        assert_eq!(a.on_pump(true), PumpDecision::Defer);
        assert_eq!(a.on_pump(true), PumpDecision::Pass);
        assert_eq!(a.on_pump(true), PumpDecision::Defer);
        a.started();
        a.started();
        a.started();
        assert_eq!(a.starting(), 0);
        assert!(a.inline_allowed());
        assert_eq!(a.on_pump(true), PumpDecision::Pass);
    }
}
