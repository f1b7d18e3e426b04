//! In-flight control for preemptible bytes (pure: time and path samples are
//! passed in).
//!
//! The send queue orders bytes before they enter the transport, but once
//! pushed bytes are inside the congestion window they sit in the path's
//! bottleneck queue, and a document that becomes ready waits behind them.
//! So while the bytes served next are *preemptible* (a push, or a response
//! less urgent than another open response), the connection may hold only
//! about one bandwidth-delay product of unacknowledged bytes: enough to keep
//! the link busy, not enough to build a queue at the bottleneck. Urgent bytes
//! use the whole congestion window.
//!
//! The estimate follows BBR's model (delivery rate times minimum RTT):
//! - the delivery rate is the connection's sending rate over intervals of one
//!   minimum RTT, while the limited window keeps the sender ACK-clocked (bytes
//!   leave only as others are acknowledged); a windowed maximum over the last
//!   [`RATE_ROUNDS`] intervals, samples from intervals where the queue ran dry
//!   (application-limited) counting only when they raise it;
//! - the minimum RTT is the smallest smoothed RTT seen in [`MIN_RTT_WINDOW`];
//! - in *startup* the window is twice the estimate, so the rate can double per
//!   round trip like slow start; startup ends when the rate stops growing by
//!   25% for three intervals, or when the RTT rises a quarter above the
//!   minimum (a queue is building);
//! - afterwards the window is the estimate plus a small margin, and only the
//!   estimate while the RTT shows a standing queue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How bytes that a more urgent response may need to overtake are limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InflightMode {
    /// No limit beyond the congestion window.
    Off,
    /// Estimated BDP plus a margin of `max(2 packets, BDP/16)`.
    Bdp,
    /// 1.25 times the estimated BDP (BBR's probing gain, held). The default:
    /// it preempts as well as `bdp` on the measured links and delays the
    /// pushes less (see proto-notes/priorities.md).
    #[default]
    #[value(name = "bdp-125")]
    Bdp125,
}

impl InflightMode {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            InflightMode::Off => "off",
            InflightMode::Bdp => "bdp",
            InflightMode::Bdp125 => "bdp-125",
        }
    }
}

/// The path as the transport reports it at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSample {
    /// Congestion window, bytes.
    pub cwnd: u64,
    /// Smoothed RTT.
    pub srtt: Duration,
    /// Bytes the connection has sent so far (UDP payload, all packets).
    pub sent_bytes: u64,
    /// The bottleneck's rate from the spacing of ACKs, bytes per second
    /// ([`crate::sched::dispersion`]), when the transport measures it.
    pub ack_rate: Option<u64>,
}

/// Delivery-rate samples kept for the windowed maximum (one per interval of
/// about one minimum RTT).
pub const RATE_ROUNDS: usize = 10;
/// How long a minimum RTT stays valid without being seen again.
pub const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
/// The smallest window the limit gives: four full-size packets, so that
/// ACK clocking never stalls for want of data in flight.
pub const FLOOR: u64 = 4 * 1200;
/// The margin's lower bound: two full-size packets.
const MARGIN_MIN: u64 = 2 * 1200;
/// The first interval gives a rate sample only with at least this many
/// bytes counted (two full-size packets); otherwise it is discarded, once.
const FIRST_SAMPLE_MIN: u64 = 2 * 1200;
/// Rate samples need intervals at least this long (timer granularity).
const MIN_INTERVAL: Duration = Duration::from_millis(5);
/// How fast a rising limit may add bytes in flight, as a fraction of the
/// path's rate (3/4): see [`InflightBudget::ramped_limit`].
const RAMP_NUM: f64 = 0.75;
/// The most time one step of the ramp counts.
const RAMP_MAX_STEP: Duration = Duration::from_millis(10);

/// The in-flight limit of one connection.
#[derive(Debug, Clone)]
pub struct InflightBudget {
    mode: InflightMode,
    /// Smallest smoothed RTT seen, and when.
    min_rtt: Option<(Duration, Instant)>,
    /// Last smoothed RTT seen.
    srtt: Duration,
    /// Start of the current rate interval: time and bytes sent.
    interval: Option<(Instant, u64)>,
    /// Whether the queue had bytes waiting through the whole interval.
    busy_throughout: bool,
    /// Delivery-rate samples, bytes per second, oldest first.
    rates: VecDeque<f64>,
    /// The latest rate from ACK spacing, bytes per second.
    ack_rate: Option<u64>,
    /// Startup is over.
    full_pipe: bool,
    /// Rate at the last 25% growth, and intervals since then.
    full_bw: f64,
    full_bw_count: u32,
    /// The last limit [`InflightBudget::ramped_limit`] gave, and when.
    last_limit: Option<(Instant, u64)>,
    /// Whether that limit was below its target.
    ramping: bool,
    /// A nearly empty first interval was discarded.
    skipped_first: bool,
}

impl InflightBudget {
    /// A budget for a new connection.
    pub fn new(mode: InflightMode) -> Self {
        InflightBudget {
            mode,
            min_rtt: None,
            srtt: Duration::ZERO,
            interval: None,
            busy_throughout: true,
            rates: VecDeque::with_capacity(RATE_ROUNDS),
            ack_rate: None,
            full_pipe: false,
            full_bw: 0.0,
            full_bw_count: 0,
            last_limit: None,
            ramping: false,
            skipped_first: false,
        }
    }

    /// The mode.
    pub fn mode(&self) -> InflightMode {
        self.mode
    }

    /// Takes a path sample. `busy`: the queue holds bytes waiting for the
    /// transport (the sender is not application-limited). `response_waiting`:
    /// see [`InflightBudget::limit`]; while it holds, the sender probes
    /// gently, so a slow rate growth does not mean the pipe is full.
    pub fn observe(&mut self, now: Instant, path: PathSample, busy: bool, response_waiting: bool) {
        if self.mode == InflightMode::Off {
            return;
        }
        if !path.srtt.is_zero() {
            self.srtt = path.srtt;
            let replace = match self.min_rtt {
                None => true,
                Some((m, at)) => {
                    path.srtt <= m || now.saturating_duration_since(at) > MIN_RTT_WINDOW
                }
            };
            if replace {
                self.min_rtt = Some((path.srtt, now));
            }
        }
        if path.ack_rate.is_some() {
            self.ack_rate = path.ack_rate;
        }
        self.busy_throughout &= busy;
        let Some((start, sent)) = self.interval else {
            self.interval = Some((now, path.sent_bytes));
            self.busy_throughout = busy;
            return;
        };
        let Some(min_rtt) = self.min_rtt() else {
            return;
        };
        let dt = now.saturating_duration_since(start);
        if dt < min_rtt.max(MIN_INTERVAL) {
            return;
        }
        let bytes = path.sent_bytes.saturating_sub(sent);
        if self.rates.is_empty() && bytes < FIRST_SAMPLE_MIN && !self.skipped_first {
            self.skipped_first = true;
            // Nothing counted yet: when the count is of bytes acknowledged
            // (TCP), the first interval ends before the first flight's
            // ACKs return, and its few hundred bytes would start the
            // estimate near zero (measured: 223-657 B of "BDP" on 30-60 kB
            // paths, and slow growth from there). Start again, once: on a
            // path this slow the next interval is the sample.
            self.interval = Some((now, path.sent_bytes));
            self.busy_throughout = busy;
            return;
        }
        let rate = bytes as f64 / dt.as_secs_f64();
        let limited_by_app = !self.busy_throughout;
        if !limited_by_app || rate > self.max_rate() {
            if self.rates.len() == RATE_ROUNDS {
                self.rates.pop_front();
            }
            self.rates.push_back(rate);
        }
        if !self.full_pipe && !limited_by_app && !response_waiting {
            let max = self.max_rate();
            if max >= self.full_bw * 1.25 {
                self.full_bw = max;
                self.full_bw_count = 0;
            } else {
                self.full_bw_count += 1;
                if self.full_bw_count >= 3 {
                    self.full_pipe = true;
                }
            }
        }
        // A standing queue ends startup only when it is clear of the RTT's
        // own noise (bursts of a flight and ACK delays inflate the smoothed
        // RTT by 10-25% on an empty path, measured in the preemption sweep).
        if !self.full_pipe && !limited_by_app && !response_waiting && self.queue_standing() {
            self.full_pipe = true;
        }
        self.interval = Some((now, path.sent_bytes));
        self.busy_throughout = busy;
    }

    /// The minimum RTT, once one was seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt.map(|(m, _)| m)
    }

    /// The windowed maximum of the rates measured over round trips, bytes
    /// per second (0 before any sample).
    pub fn max_rate(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }

    /// The path's rate: the larger of the rate over round trips and the
    /// rate from ACK spacing; `None` before either was measured.
    pub fn rate(&self) -> Option<f64> {
        let acks = self.ack_rate.map(|r| r as f64);
        if self.rates.is_empty() {
            return acks;
        }
        Some(self.max_rate().max(acks.unwrap_or(0.0)))
    }

    /// The estimated bandwidth-delay product, once there is one.
    pub fn bdp(&self) -> Option<u64> {
        let rtt = self.min_rtt()?;
        Some((self.rate()? * rtt.as_secs_f64()) as u64)
    }

    /// Whether startup is over.
    pub fn in_startup(&self) -> bool {
        !self.full_pipe
    }

    /// The smoothed RTT is an eighth (and at least 2 ms) above the minimum:
    /// bytes may stand in a queue on the path.
    fn queue_building(&self) -> bool {
        self.min_rtt()
            .is_some_and(|m| self.srtt > m + (m / 8).max(Duration::from_millis(2)))
    }

    /// The smoothed RTT is half the minimum above it: a queue stands on the
    /// path beyond what a flight's own burst and ACK delays explain.
    fn queue_standing(&self) -> bool {
        self.min_rtt()
            .is_some_and(|m| self.srtt > m + (m / 2).max(Duration::from_millis(2)))
    }

    /// The most unacknowledged bytes preemptible data may bring the
    /// connection to; `None` while there is no estimate yet (or the mode is
    /// off): the congestion window alone limits then.
    ///
    /// `response_waiting`: a response that may preempt these bytes is open
    /// (a document in its think time). Startup's doubling, which can queue up
    /// to one BDP at the bottleneck, is then replaced by 3/4 of the estimate
    /// when the bottleneck's rate is known from ACK spacing, and otherwise by
    /// probing at 1.25 times the estimate, falling to the estimate whenever
    /// the RTT shows a standing queue.
    pub fn limit(&self, response_waiting: bool) -> Option<u64> {
        if self.mode == InflightMode::Off {
            return None;
        }
        let bdp = self.bdp()?;
        let window = if response_waiting {
            // With the bottleneck's rate from ACK spacing there is nothing
            // to probe for: hold 3/4 of the estimate. The window counts
            // stream bytes and packets carried ~9% more (headers, ACK-only
            // packets), the minimum RTT includes ACK delays, and at 7/8 a
            // queue of up to 8 packets came and went on the 1.6 Mbit/s link
            // with 1000 ms of think time (at the full estimate, 8-11
            // packets stood).
            // Without it, probe gently while the RTT stays near its
            // minimum, hold the estimate when it rises.
            if self.ack_rate.is_some() {
                bdp - bdp / 4
            } else if self.queue_building() {
                bdp
            } else {
                bdp + bdp / 4
            }
        } else if !self.full_pipe {
            bdp.saturating_mul(2)
        } else if self.queue_standing() {
            bdp
        } else {
            match self.mode {
                InflightMode::Off => return None,
                InflightMode::Bdp => bdp + (bdp / 16).max(MARGIN_MIN),
                InflightMode::Bdp125 => bdp + bdp / 4,
            }
        };
        Some(window.max(FLOOR))
    }
}

impl InflightBudget {
    /// [`InflightBudget::limit`], but rising no faster than 3/4 of the
    /// path's rate since the last call. A limit that jumps (the first
    /// estimate from ACK spacing took it from 9.5 to 31 kB on the 1.6 Mbit/s
    /// link) lets the transport send the difference as a burst that the
    /// bottleneck queues: 14 packets, still 8 a round trip later when the
    /// document became ready (measured). Added at most at 3/4 of the rate,
    /// the new bytes fit beside those already arriving.
    pub fn ramped_limit(&mut self, now: Instant, response_waiting: bool) -> Option<u64> {
        let target = self.limit(response_waiting)?;
        let ramped = match (self.last_limit, self.rate()) {
            (Some((at, last)), Some(rate)) if target > last => {
                // Time since the last call counts only while ramping, and
                // then at most two ticks of the pump's timer: a limit that
                // stood still does not bank credit for a burst.
                let dt = if self.ramping {
                    now.saturating_duration_since(at).min(RAMP_MAX_STEP)
                } else {
                    Duration::ZERO
                }
                .as_secs_f64();
                target.min(last + (rate * dt * RAMP_NUM) as u64)
            }
            _ => target,
        };
        self.last_limit = Some((now, ramped));
        self.ramping = ramped < target;
        Some(ramped)
    }

    /// Whether the last [`InflightBudget::ramped_limit`] was still below
    /// its target.
    pub fn ramping(&self) -> bool {
        self.ramping
    }
}

/// Paces preemptible bytes while a response waits: they are handed to the
/// transport at 9/10 of the bottleneck's rate, a packet at a time on slow
/// links.
///
/// Why: below the BDP the path has no standing queue, but quinn's pacer
/// lets bursts of ten datagrams through (its minimum burst), and ACK-clocked
/// flights stay clumped: on the 1.6 Mbit/s link a queue of 5-7 packets came
/// and went every round trip with 24 kB in flight of a 30 kB BDP
/// (measured), and a document ready during a clump waited 35-45 ms.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Bytes that may go now, and when that was computed.
    tokens: f64,
    at: Option<Instant>,
}

/// The pacer's bucket: one full-size packet, or what the rate brings in
/// [`PACE_BURST_TIME`] if more (timers fire about once a millisecond).
/// Two packets measured 20 (14-24) ms on the 1.6 Mbit/s cells where one
/// measured 13-15; one packet alone capped LTE's pushes below its rate.
pub const PACE_BURST: f64 = 1200.0;
/// See [`PACE_BURST`].
pub const PACE_BURST_TIME: Duration = Duration::from_millis(2);
/// The pacing rate as a fraction of the path's rate.
const PACE_GAIN: f64 = 0.9;

impl Pacer {
    /// Bytes that may be handed over at `now` with the path's `rate`
    /// (bytes per second).
    pub fn available(&mut self, now: Instant, rate: f64) -> u64 {
        let dt = self
            .at
            .map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        let first = self.at.is_none();
        self.at = Some(now);
        let burst = PACE_BURST.max(rate * PACE_GAIN * PACE_BURST_TIME.as_secs_f64());
        self.tokens = if first {
            burst
        } else {
            (self.tokens + dt * rate * PACE_GAIN).min(burst)
        };
        self.tokens.max(0.0) as u64
    }

    /// `bytes` were handed over.
    pub fn spend(&mut self, bytes: u64) {
        self.tokens -= bytes as f64;
    }

    /// When `need` bytes will be available at `rate`.
    pub fn ready_at(&self, now: Instant, need: u64, rate: f64) -> Instant {
        let missing = (need as f64 - self.tokens).max(0.0);
        let wait = missing / (rate * PACE_GAIN).max(1.0);
        now + Duration::from_secs_f64(wait.min(1.0))
    }

    /// Pacing stops (urgent bytes, or no response waiting): the next start
    /// begins with a full bucket.
    pub fn reset(&mut self) {
        self.at = None;
    }
}

impl InflightBudget {
    /// The rate to pace preemptible bytes at, while a response waits and the
    /// bottleneck's rate is known from ACK spacing.
    pub fn pacing_rate(&self, response_waiting: bool) -> Option<f64> {
        if !response_waiting || self.ack_rate.is_none() || self.mode == InflightMode::Off {
            return None;
        }
        self.rate()
    }
}

/// What the next bytes to send are, for [`send_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Bytes nothing waits behind: the most urgent open response.
    Urgent,
    /// Bytes a more urgent response may need to overtake, while no such
    /// response is open.
    Preemptible,
    /// Preemptible bytes while a response that may preempt them is open
    /// (a document in its think time).
    PreemptibleWhileWaiting,
}

/// The connection send window to set: congestion window plus `lowat` for
/// urgent bytes; for preemptible ones at most `limit`. Before there is an
/// estimate: the congestion window alone (bytes written into quinn beyond
/// it would be sent later whatever becomes urgent meanwhile, and would count
/// against the window then), and half of it while a response waits, so that
/// a document ready before the first acknowledgements finds room in the
/// initial window instead of waiting a round trip behind pushes.
pub fn send_window(cwnd: u64, lowat: u64, limit: Option<u64>, next: Next) -> u64 {
    let full = cwnd.saturating_add(lowat);
    match (next, limit) {
        (Next::Urgent, _) => full,
        (_, Some(limit)) => full.min(limit),
        (Next::Preemptible, None) => cwnd,
        (Next::PreemptibleWhileWaiting, None) => (cwnd / 2).max(FLOOR).min(cwnd),
    }
}

/// A TCP connection's room for preemptible bytes under the in-flight limit
/// (HTTP/2: the kernel sends what it holds in its own order, so the limit
/// is applied before h2 gets the bytes).
///
/// - `window`: the send window [`send_window`] gave;
/// - `unacked`: bytes the kernel has sent and not had acknowledged;
/// - `unsent`: bytes handed over and not yet sent: h2's held DATA, the
///   write buffer between h2 and TLS, and the kernel's unsent bytes;
/// - `cushion`: how many of them may wait unsent (enough to keep the link
///   busy until the next check, see [`tcp_cushion`]).
///
/// Both limits hold: what is outstanding stays within the window, and what
/// waits unsent (which nothing can reorder once the kernel has it) within
/// the cushion.
pub fn tcp_room(window: u64, unacked: u64, unsent: u64, cushion: u64) -> u64 {
    let outstanding = unacked.saturating_add(unsent);
    window
        .saturating_sub(outstanding)
        .min(cushion.saturating_sub(unsent))
}

/// The unsent bytes [`tcp_room`] allows: what the link drains in `tick`
/// (the time until the sender looks again) twice over, and at least two
/// segments.
pub fn tcp_cushion(rate: Option<u64>, mss: u64, tick: Duration) -> u64 {
    let drained = rate.map_or(0, |r| (r as f64 * tick.as_secs_f64() * 2.0) as u64);
    drained.max(2 * mss.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 125 ms and 1,000,000 bytes/s keep the arithmetic exact in binary.
    const RTT: Duration = Duration::from_millis(125);

    /// A path of `rate` bytes/s: feeds `rounds` intervals of one RTT each, the
    /// sender sending `min(window, rate × rtt)` bytes per interval, with the
    /// RTT given by `rtt_of(round)`.
    struct Sim {
        budget: InflightBudget,
        now: Instant,
        sent: u64,
        /// A response is open that may preempt the sender's bytes.
        waiting: bool,
        /// What the transport's ACK spacing says, if anything.
        ack_rate: Option<u64>,
    }

    impl Sim {
        fn new(mode: InflightMode) -> Self {
            let mut s = Sim {
                budget: InflightBudget::new(mode),
                now: Instant::now(),
                sent: 0,
                waiting: false,
                ack_rate: None,
            };
            s.budget.observe(s.now, s.sample(RTT), true, false);
            s
        }

        fn sample(&self, srtt: Duration) -> PathSample {
            PathSample {
                cwnd: u64::MAX / 4,
                srtt,
                sent_bytes: self.sent,
                ack_rate: self.ack_rate,
            }
        }

        /// One round trip: the sender sends what the limit (or 12,000 bytes
        /// before there is one) allows, capped by what the link carries.
        fn round(&mut self, link_rate: f64, srtt: Duration) -> Option<u64> {
            let window = self.budget.limit(self.waiting).unwrap_or(12_000);
            let carried = (link_rate * srtt.as_secs_f64()) as u64;
            self.sent += window.min(carried);
            self.now += srtt;
            self.budget
                .observe(self.now, self.sample(srtt), true, self.waiting);
            self.budget.limit(self.waiting)
        }
    }

    /// The window grows like slow start while the rate keeps doubling, and
    /// settles near the BDP (plus the margin) once the link is full.
    #[test]
    fn grows_in_startup_and_settles_at_the_bdp() {
        let rate = 1_000_000.0; // 8 Mbit/s: BDP 125,000 bytes at 125 ms.
        let mut sim = Sim::new(InflightMode::Bdp);
        let mut seen = Vec::new();
        for _ in 0..12 {
            seen.push(sim.round(rate, RTT).unwrap_or(0));
        }
        // Doubles while the pipe is not full.
        assert_eq!(seen[0], 24_000, "{seen:?}");
        assert_eq!(seen[1], 48_000, "{seen:?}");
        assert_eq!(seen[2], 96_000, "{seen:?}");
        assert!(!sim.budget.in_startup(), "{seen:?}");
        let last = *seen.last().unwrap();
        let bdp = 125_000;
        assert!(last >= bdp && last <= bdp + bdp / 16 + 1, "{seen:?}");
    }

    /// When the RTT rises well above the minimum (a queue stands), startup
    /// ends and the window drops to the estimate without margin.
    #[test]
    fn shrinks_when_the_rtt_rises() {
        let rate = 1_000_000.0;
        let mut sim = Sim::new(InflightMode::Bdp);
        for _ in 0..3 {
            sim.round(rate, RTT);
        }
        let before = sim.budget.limit(false).unwrap();
        assert!(sim.budget.in_startup());
        // The same delivery rate, but the RTT up by 60%: a standing queue
        // (not the 10-25% that a flight's own burst explains).
        let after = sim.round(rate, RTT * 8 / 5).unwrap();
        assert!(!sim.budget.in_startup());
        assert!(after < before, "{before} -> {after}");
        assert_eq!(Some(after), sim.budget.bdp().map(|b| b.max(FLOOR)));
        // The minimum RTT is not raised by the queue.
        assert_eq!(sim.budget.min_rtt(), Some(RTT));
    }

    /// A slower path (competing traffic) lowers the limit once the old
    /// samples leave the window.
    #[test]
    fn shrinks_when_the_rate_falls() {
        let mut sim = Sim::new(InflightMode::Bdp);
        for _ in 0..15 {
            sim.round(1_000_000.0, RTT);
        }
        let high = sim.budget.limit(false).unwrap();
        for _ in 0..RATE_ROUNDS + 1 {
            sim.round(250_000.0, RTT);
        }
        let low = sim.budget.limit(false).unwrap();
        assert!(low * 3 < high, "{high} -> {low}");
    }

    /// Application-limited intervals (the queue ran dry) do not lower the
    /// estimate.
    #[test]
    fn idle_intervals_do_not_lower_the_estimate() {
        let mut sim = Sim::new(InflightMode::Bdp);
        for _ in 0..15 {
            sim.round(1_000_000.0, RTT);
        }
        let before = sim.budget.limit(false);
        for _ in 0..RATE_ROUNDS + 1 {
            sim.now += RTT;
            sim.sent += 100;
            let s = sim.sample(RTT);
            sim.budget.observe(sim.now, s, false, false);
        }
        assert_eq!(sim.budget.limit(false), before);
    }

    /// While a response that may preempt them is open, preemptible bytes
    /// probe at 1.25 times the estimate instead of doubling, and stay at the
    /// estimate once the RTT shows a queue.
    #[test]
    fn a_waiting_response_slows_startup() {
        let rate = 1_000_000.0;
        let mut sim = Sim::new(InflightMode::Bdp);
        sim.waiting = true;
        let first = sim.round(rate, RTT).unwrap();
        assert_eq!(first, 15_000);
        let mut grown = first;
        for _ in 0..20 {
            grown = sim.round(rate, RTT).unwrap();
        }
        // Grew to the link's BDP and not beyond 1.25 times it.
        assert!((125_000..=156_250).contains(&grown), "{grown}");
        // A standing queue: down to the estimate.
        let queued = sim.round(rate, RTT * 5 / 4).unwrap();
        assert_eq!(Some(queued), sim.budget.bdp());
    }

    /// Urgent bytes are never held by the limit; preemptible ones are.
    #[test]
    fn urgent_bytes_use_the_whole_window() {
        use Next::*;
        assert_eq!(send_window(100_000, 32_768, Some(20_000), Urgent), 132_768);
        assert_eq!(
            send_window(100_000, 32_768, Some(20_000), Preemptible),
            20_000
        );
        assert_eq!(
            send_window(10_000, 32_768, Some(200_000), Preemptible),
            42_768
        );
        assert_eq!(send_window(10_000, 32_768, None, Preemptible), 10_000);
        assert_eq!(send_window(10_000, 32_768, None, Urgent), 42_768);
        // Before the first estimate, a waiting response keeps half the
        // initial window free (never less than the floor, never above cwnd).
        assert_eq!(
            send_window(12_000, 32_768, None, PreemptibleWhileWaiting),
            6_000
        );
        assert_eq!(
            send_window(6_000, 32_768, None, PreemptibleWhileWaiting),
            FLOOR
        );
        assert_eq!(
            send_window(3_000, 32_768, None, PreemptibleWhileWaiting),
            3_000
        );
        assert_eq!(
            send_window(12_000, 32_768, Some(9_000), PreemptibleWhileWaiting),
            9_000
        );
    }

    /// Off never limits; no estimate yet means no limit; the floor holds on
    /// tiny paths.
    #[test]
    fn off_none_and_floor() {
        let mut off = Sim::new(InflightMode::Off);
        for _ in 0..5 {
            assert_eq!(off.round(1_000_000.0, RTT), None);
        }
        let fresh = InflightBudget::new(InflightMode::Bdp);
        assert_eq!(fresh.limit(false), None);
        let mut slow = Sim::new(InflightMode::Bdp);
        for _ in 0..12 {
            slow.round(10_000.0, RTT);
        }
        assert_eq!(slow.budget.limit(false), Some(FLOOR));
    }

    /// The 1.25 variant holds a quarter BDP more than the estimate.
    #[test]
    fn bdp125_holds_a_quarter_more() {
        let mut sim = Sim::new(InflightMode::Bdp125);
        for _ in 0..15 {
            sim.round(1_000_000.0, RTT);
        }
        let bdp = sim.budget.bdp().unwrap();
        assert_eq!(sim.budget.limit(false), Some(bdp + bdp / 4));
    }

    /// With the bottleneck's rate from ACK spacing, a waiting response's
    /// window is the BDP from the first round trip on, instead of growing
    /// by a quarter per round trip from the first window's rate.
    #[test]
    fn ack_spacing_gives_the_bdp_at_once() {
        let rate = 1_000_000.0;
        let mut sim = Sim::new(InflightMode::Bdp125);
        sim.waiting = true;
        sim.ack_rate = Some(1_000_000);
        assert_eq!(sim.round(rate, RTT), Some(93_750));
        // It holds at 3/4 of the BDP, not 1.25 times it, while the response
        // waits,
        assert_eq!(sim.round(rate, RTT), Some(93_750));
        // and once no response waits, the mode's margin applies.
        assert_eq!(sim.budget.limit(false), Some(250_000), "startup: twice");
        // A rate over round trips above the ACK rate wins (93,750 bytes
        // sent per round trip).
        sim.ack_rate = Some(500_000);
        sim.round(rate, RTT);
        assert_eq!(sim.budget.bdp(), Some(93_750));
        // The ACK rate alone gives an estimate before any round trip.
        let mut b = InflightBudget::new(InflightMode::Bdp);
        let now = Instant::now();
        let path = PathSample {
            cwnd: 12_000,
            srtt: RTT,
            sent_bytes: 0,
            ack_rate: Some(200_000),
        };
        b.observe(now, path, true, true);
        assert_eq!(b.bdp(), Some(25_000));
        assert_eq!(b.limit(true), Some(18_750));
    }

    /// A rising limit adds bytes at 3/4 of the path's rate at most; a
    /// falling one falls at once.
    #[test]
    fn a_rising_limit_ramps() {
        let mut b = InflightBudget::new(InflightMode::Bdp);
        let t = Instant::now();
        let mut path = PathSample {
            cwnd: 12_000,
            srtt: RTT,
            sent_bytes: 0,
            ack_rate: None,
        };
        b.observe(t, path, true, true);
        assert_eq!(b.ramped_limit(t, true), None, "no estimate yet");
        path.ack_rate = Some(200_000);
        b.observe(t, path, true, true);
        // The first limit is taken as it is: nothing to ramp from.
        let first = b.ramped_limit(t, true).unwrap();
        assert_eq!(first, 25_000 - 25_000 / 4);
        path.ack_rate = Some(1_000_000);
        let t1 = t + Duration::from_millis(10);
        b.observe(t1, path, true, true);
        // The ramp starts from where the limit stood: nothing was banked.
        assert_eq!(b.ramped_limit(t1, true), Some(first));
        assert!(b.ramping());
        // 10 ms at 3/4 of 1,000,000 bytes/s: 7,500 bytes more; a longer gap
        // counts as 10 ms.
        let t2 = t1 + Duration::from_millis(10);
        assert_eq!(b.ramped_limit(t2, true), Some(first + 7_500));
        let t3 = t2 + RTT;
        assert_eq!(b.ramped_limit(t3, true), Some(first + 15_000));
        let mut t = t3;
        while b.ramping() {
            t += Duration::from_millis(4);
            b.ramped_limit(t, true);
        }
        assert_eq!(b.ramped_limit(t, true), b.limit(true));
        path.ack_rate = Some(100_000);
        let t4 = t + Duration::from_millis(1);
        b.observe(t4, path, true, true);
        assert_eq!(b.ramped_limit(t4, true), b.limit(true));
    }

    /// The pacer hands out one packet at once on a slow path, then bytes at
    /// 9/10 of the rate, and says when enough will be there; on a fast path
    /// its bucket holds 2 ms of the rate.
    #[test]
    fn the_pacer_spaces_bytes() {
        let mut p = Pacer::default();
        let t = Instant::now();
        let rate = 200_000.0;
        assert_eq!(p.available(t, rate), 1_200);
        p.spend(1_200);
        assert_eq!(p.available(t, rate), 0);
        // 5 ms at 180,000 bytes/s: 900 bytes.
        let t1 = t + Duration::from_millis(5);
        assert_eq!(p.available(t1, rate), 900);
        assert_eq!(p.ready_at(t1, 900, rate), t1);
        p.spend(900);
        let at = p.ready_at(t1, 1_200, rate);
        let wait = at.duration_since(t1).as_secs_f64();
        assert!((wait - 1_200.0 / 180_000.0).abs() < 1e-6, "{wait}");
        // The bucket never holds more than a packet here,
        assert_eq!(p.available(t1 + Duration::from_secs(1), rate), 1_200);
        // and 2 ms of the rate on a fast path (2,000,000 bytes/s: 3,600).
        let mut fast = Pacer::default();
        assert_eq!(fast.available(t, 2_000_000.0), 3_600);
        // No pacing without a waiting response or an ACK-spacing rate.
        let b = InflightBudget::new(InflightMode::Bdp125);
        assert_eq!(b.pacing_rate(true), None);
    }

    /// The TCP gate keeps outstanding bytes within the window and unsent
    /// ones within the cushion, whichever binds first, and never goes below
    /// zero.
    #[test]
    fn tcp_room_keeps_both_limits() {
        // Window binds: 30 kB window, 20 kB in flight, 2 kB unsent.
        assert_eq!(tcp_room(30_000, 20_000, 2_000, 6_000), 4_000);
        // Cushion binds: plenty of window, 5 kB already waits unsent.
        assert_eq!(tcp_room(100_000, 10_000, 5_000, 6_000), 1_000);
        // Over either: nothing.
        assert_eq!(tcp_room(30_000, 31_000, 0, 6_000), 0);
        assert_eq!(tcp_room(100_000, 0, 7_000, 6_000), 0);
        // The cushion: two segments on a slow or unknown path, two ticks'
        // worth of the rate on a fast one.
        let tick = Duration::from_millis(2);
        assert_eq!(tcp_cushion(None, 1448, tick), 2896);
        assert_eq!(tcp_cushion(Some(200_000), 1448, tick), 2896);
        assert_eq!(tcp_cushion(Some(2_500_000), 1448, tick), 10_000);
    }

    /// A first interval that counted almost nothing (TCP's acknowledged
    /// bytes before the first flight's ACKs return) gives no sample: the
    /// estimate starts from the next interval, not near zero. Only the
    /// first is discarded (see off_none_and_floor for a path this slow).
    #[test]
    fn a_nearly_empty_first_interval_is_not_a_sample() {
        let mut b = InflightBudget::new(InflightMode::Bdp125);
        let t = Instant::now();
        let at = |sent: u64| PathSample {
            cwnd: 14_480,
            srtt: RTT,
            sent_bytes: sent,
            ack_rate: None,
        };
        b.observe(t, at(0), true, false);
        b.observe(t + RTT, at(600), true, false);
        assert_eq!(b.bdp(), None, "600 bytes in a round trip is no estimate");
        b.observe(t + RTT * 2, at(600 + 14_480), true, false);
        assert_eq!(b.bdp(), Some(14_480));
    }
}
