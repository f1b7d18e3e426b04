//! One direction of an emulated link, as a pure model (time and random
//! numbers passed in): random loss, a drop-tail bottleneck queue, the
//! link's serialisation at its rate, then the one-way propagation delay.
//!
//! A packet that arrives at `now` is first subjected to random loss (on
//! the wire before the bottleneck, as netem applies loss on enqueue), then
//! joins the queue if it fits. Its transmission starts when the link has
//! sent everything ahead of it and lasts `len * 8 / rate`; it reaches the
//! other side one delay after its transmission ends. Because the queue is
//! FIFO and the rate constant, the delivery time is known at arrival and
//! delivery times never decrease.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How much the bottleneck queue holds (packets waiting to be sent, not
/// counting the one on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueLimit {
    /// At most this many packets.
    Packets(u32),
    /// At most this many bytes.
    Bytes(u64),
    /// No limit.
    Unlimited,
}

/// Random loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Loss {
    /// No random loss.
    None,
    /// Each packet independently lost with this probability.
    Bernoulli(f64),
    /// Losses in bursts: the Gilbert model, a good state without loss and a
    /// bad state where every packet is lost. `p` = P(good -> bad) per
    /// packet, `r` = P(bad -> good); the loss rate is p / (p + r) and the
    /// mean burst length 1 / r.
    Gilbert {
        /// Good to bad.
        p: f64,
        /// Bad to good.
        r: f64,
    },
}

impl Loss {
    /// The model for a loss rate and a mean burst length in packets
    /// (1 = independent losses).
    pub fn with_rate(rate: f64, mean_burst: f64) -> Loss {
        if rate <= 0.0 {
            Loss::None
        } else if mean_burst <= 1.0 {
            Loss::Bernoulli(rate.min(1.0))
        } else {
            let r = 1.0 / mean_burst;
            let rate = rate.min(0.999);
            Loss::Gilbert {
                p: rate * r / (1.0 - rate),
                r,
            }
        }
    }

    /// The long-run fraction of packets lost.
    pub fn rate(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Bernoulli(p) => p,
            Loss::Gilbert { p, r } => p / (p + r),
        }
    }
}

/// One direction's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkSpec {
    /// One-way propagation delay.
    #[serde(serialize_with = "ser_ms", deserialize_with = "de_ms")]
    pub delay: Duration,
    /// Rate in bits per second (None: no bottleneck).
    pub rate: Option<u64>,
    /// Bottleneck queue size.
    pub queue: QueueLimit,
    /// Random loss.
    pub loss: Loss,
    /// Fraction of delivered packets with one byte of their UDP or TCP
    /// payload changed (the checksum made to match, so the corruption
    /// reaches the endpoint rather than being dropped by its kernel).
    #[serde(default)]
    pub corrupt: f64,
    /// Extra delay per packet, uniform in [0, jitter), without reordering:
    /// a packet never leaves before the one ahead of it (as on a real
    /// link, unlike netem's default jitter).
    #[serde(default, serialize_with = "ser_ms", deserialize_with = "de_ms")]
    pub jitter: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// A delay written by [`ser_ms`] (ms), back into a duration.
fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom)
}

impl Default for LinkSpec {
    /// The QUIC interop runner's link: 15 ms, 10 Mbit/s, 25 packets.
    fn default() -> Self {
        LinkSpec {
            delay: Duration::from_millis(15),
            rate: Some(10_000_000),
            queue: QueueLimit::Packets(25),
            loss: Loss::None,
            corrupt: 0.0,
            jitter: Duration::ZERO,
        }
    }
}

impl LinkSpec {
    /// Serialisation time of `len` bytes at the rate.
    pub fn serialisation(&self, len: usize) -> Duration {
        match self.rate {
            Some(rate) if rate > 0 => Duration::from_secs_f64(len as f64 * 8.0 / rate as f64),
            _ => Duration::ZERO,
        }
    }
}

impl std::fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "delay {:?}", self.delay)?;
        match self.rate {
            Some(r) if r >= 1_000_000 => write!(f, ", rate {} Mbit/s", r as f64 / 1e6)?,
            Some(r) => write!(f, ", rate {} kbit/s", r as f64 / 1e3)?,
            None => write!(f, ", no rate limit")?,
        }
        match self.queue {
            QueueLimit::Packets(n) => write!(f, ", queue {n} packets")?,
            QueueLimit::Bytes(n) => write!(f, ", queue {n} bytes")?,
            QueueLimit::Unlimited => write!(f, ", unlimited queue")?,
        }
        if self.corrupt > 0.0 {
            write!(f, ", corrupt {:.3}%", self.corrupt * 100.0)?;
        }
        if !self.jitter.is_zero() {
            write!(f, ", jitter {:?}", self.jitter)?;
        }
        match self.loss {
            Loss::None => Ok(()),
            Loss::Bernoulli(p) => write!(f, ", loss {:.3}%", p * 100.0),
            Loss::Gilbert { r, .. } => write!(
                f,
                ", loss {:.3}% in bursts of {:.1}",
                self.loss.rate() * 100.0,
                1.0 / r
            ),
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirCounters {
    /// Packets that arrived at the link.
    pub packets_in: u64,
    /// Bytes that arrived.
    pub bytes_in: u64,
    /// Packets delivered to the other side.
    pub packets_out: u64,
    /// Bytes delivered.
    pub bytes_out: u64,
    /// Packets dropped because the queue was full.
    pub queue_drops: u64,
    /// Packets lost at random.
    pub random_drops: u64,
    /// Most packets ever waiting in the queue.
    pub peak_queue_packets: u64,
    /// Most bytes ever waiting in the queue.
    pub peak_queue_bytes: u64,
    /// Packets delivered with a byte changed.
    pub corrupted: u64,
    /// Packets dropped while the link was down (a black hole).
    pub blackhole_drops: u64,
}

/// What happens to an arriving packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Lost at random.
    Lost,
    /// Dropped: the link is down.
    Down,
    /// Dropped: the queue was full.
    QueueFull,
    /// Delivered at this time.
    Deliver(Instant),
}

/// One direction's state.
#[derive(Debug)]
pub struct LinkModel {
    spec: LinkSpec,
    /// When the link finishes sending everything accepted so far.
    busy_until: Option<Instant>,
    /// Accepted packets whose transmission has not started: (start, len).
    waiting: VecDeque<(Instant, u32)>,
    waiting_bytes: u64,
    /// Gilbert model state: in the bad (losing) state.
    bad: bool,
    /// The link is down: everything arriving is dropped.
    down: bool,
    /// When the last delivered packet leaves the link (jitter keeps order).
    last_out: Option<Instant>,
    /// Counters.
    pub counters: DirCounters,
}

impl LinkModel {
    /// A link direction with these parameters.
    pub fn new(spec: LinkSpec) -> Self {
        LinkModel {
            spec,
            busy_until: None,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            bad: false,
            down: false,
            last_out: None,
            counters: DirCounters::default(),
        }
    }

    /// The parameters.
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    /// Takes the link down (every arriving packet is dropped; those
    /// already accepted are still delivered) or brings it back up.
    pub fn set_down(&mut self, down: bool) {
        self.down = down;
    }

    /// Whether a delivered packet is corrupted, from a random number in
    /// [0, 1) (counted when it is).
    pub fn corrupts(&mut self, uniform: f64) -> bool {
        let hit = uniform < self.spec.corrupt;
        if hit {
            self.counters.corrupted += 1;
        }
        hit
    }

    /// A delivered packet's time with the jitter added, from a random
    /// number in [0, 1): `at` plus up to the jitter, and never before the
    /// packet delivered before it.
    pub fn jittered(&mut self, at: Instant, uniform: f64) -> Instant {
        let t = at + self.spec.jitter.mul_f64(uniform.clamp(0.0, 1.0));
        let t = self.last_out.map_or(t, |last| t.max(last));
        self.last_out = Some(t);
        t
    }

    /// Packets and bytes waiting at `now`.
    pub fn queued(&mut self, now: Instant) -> (usize, u64) {
        self.expire(now);
        (self.waiting.len(), self.waiting_bytes)
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(start, len)) = self.waiting.front() {
            if start > now {
                break;
            }
            self.waiting.pop_front();
            self.waiting_bytes -= u64::from(len);
        }
    }

    /// A packet of `len` bytes arrives at `now`; `uniform` is a random
    /// number in [0, 1) (the caller's generator, so runs can be seeded).
    pub fn arrive(&mut self, now: Instant, len: usize, uniform: f64) -> Verdict {
        self.counters.packets_in += 1;
        self.counters.bytes_in += len as u64;
        if self.down {
            self.counters.blackhole_drops += 1;
            return Verdict::Down;
        }
        let lost = match self.spec.loss {
            Loss::None => false,
            Loss::Bernoulli(p) => uniform < p,
            Loss::Gilbert { p, r } => {
                // One transition per packet, then the state decides.
                self.bad = if self.bad { uniform >= r } else { uniform < p };
                self.bad
            }
        };
        if lost {
            self.counters.random_drops += 1;
            return Verdict::Lost;
        }
        let ser = self.spec.serialisation(len);
        if self.spec.rate.is_none() {
            return self.deliver(now + self.spec.delay, len);
        }
        self.expire(now);
        let fits = match self.spec.queue {
            QueueLimit::Packets(n) => self.waiting.len() < n as usize,
            QueueLimit::Bytes(n) => self.waiting_bytes + len as u64 <= n,
            QueueLimit::Unlimited => true,
        };
        let start = self.busy_until.filter(|b| *b > now).unwrap_or(now);
        if start > now && !fits {
            self.counters.queue_drops += 1;
            return Verdict::QueueFull;
        }
        let end = start + ser;
        self.busy_until = Some(end);
        if start > now {
            self.waiting.push_back((start, len as u32));
            self.waiting_bytes += len as u64;
            self.counters.peak_queue_packets = self
                .counters
                .peak_queue_packets
                .max(self.waiting.len() as u64);
            self.counters.peak_queue_bytes = self.counters.peak_queue_bytes.max(self.waiting_bytes);
        }
        self.deliver(end + self.spec.delay, len)
    }

    fn deliver(&mut self, at: Instant, len: usize) -> Verdict {
        self.counters.packets_out += 1;
        self.counters.bytes_out += len as u64;
        Verdict::Deliver(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(delay_ms: u64, rate: Option<u64>, queue: QueueLimit) -> LinkSpec {
        LinkSpec {
            delay: Duration::from_millis(delay_ms),
            rate,
            queue,
            loss: Loss::None,
            corrupt: 0.0,
            jitter: Duration::ZERO,
        }
    }

    fn at(v: Verdict) -> Instant {
        match v {
            Verdict::Deliver(t) => t,
            other => panic!("not delivered: {other:?}"),
        }
    }

    /// An idle link delivers after serialisation plus delay.
    #[test]
    fn idle_link_is_delay_plus_serialisation() {
        let t0 = Instant::now();
        let mut l = LinkModel::new(spec(15, Some(10_000_000), QueueLimit::Packets(25)));
        // 1250 bytes at 10 Mbit/s: 1 ms.
        assert_eq!(at(l.arrive(t0, 1250, 0.5)), t0 + Duration::from_millis(16));
        let mut nolimit = LinkModel::new(spec(40, None, QueueLimit::Unlimited));
        assert_eq!(
            at(nolimit.arrive(t0, 1500, 0.5)),
            t0 + Duration::from_millis(40)
        );
    }

    /// Back-to-back packets leave one serialisation time apart; a burst
    /// larger than the queue loses the excess (drop-tail), and the queue
    /// adds queued bytes / rate of delay.
    #[test]
    fn queue_fills_drops_and_delays() {
        let t0 = Instant::now();
        let mut l = LinkModel::new(spec(10, Some(8_000_000), QueueLimit::Packets(3)));
        // 1000 bytes at 8 Mbit/s: 1 ms each. One on the wire + 3 waiting fit.
        let v: Vec<Verdict> = (0..6).map(|_| l.arrive(t0, 1000, 0.5)).collect();
        for (i, v) in v.iter().take(4).enumerate() {
            assert_eq!(
                at(*v),
                t0 + Duration::from_millis(10 + i as u64 + 1),
                "packet {i}"
            );
        }
        assert_eq!(v[4], Verdict::QueueFull);
        assert_eq!(v[5], Verdict::QueueFull);
        assert_eq!(l.counters.queue_drops, 2);
        assert_eq!(l.counters.peak_queue_packets, 3);
        assert_eq!(l.queued(t0), (3, 3000));
        // 1.5 ms later the first waiting packet is on the wire: room again.
        let t = t0 + Duration::from_micros(1500);
        assert_eq!(l.queued(t), (2, 2000));
        assert_eq!(at(l.arrive(t, 1000, 0.5)), t0 + Duration::from_millis(15));
    }

    /// A byte-sized queue counts bytes.
    #[test]
    fn byte_queue() {
        let t0 = Instant::now();
        let mut l = LinkModel::new(spec(0, Some(1_000_000), QueueLimit::Bytes(2500)));
        let v: Vec<Verdict> = [1500, 1200, 1200, 100]
            .iter()
            .map(|&n| l.arrive(t0, n, 0.5))
            .collect();
        // 1500 goes on the wire, 1200 waits, the next 1200 would make 2400:
        // fits; 100 more would make 2500: fits exactly.
        assert!(v.iter().all(|v| matches!(v, Verdict::Deliver(_))), "{v:?}");
        assert_eq!(l.arrive(t0, 1, 0.5), Verdict::QueueFull);
        assert_eq!(l.counters.peak_queue_bytes, 2500);
    }

    /// Over a long run the link delivers at its rate, never faster.
    #[test]
    fn throughput_is_the_rate() {
        let t0 = Instant::now();
        let mut l = LinkModel::new(spec(0, Some(10_000_000), QueueLimit::Unlimited));
        let mut last = t0;
        for _ in 0..10_000 {
            last = at(l.arrive(t0, 1250, 0.5));
        }
        // 10,000 x 1250 B = 100 Mbit at 10 Mbit/s: 10 s.
        let secs = (last - t0).as_secs_f64();
        assert!((secs - 10.0).abs() < 1e-6, "{secs}");
    }

    /// Bernoulli loss: the observed rate is within 5 standard deviations of
    /// the configured one over 200,000 packets of a seeded generator.
    #[test]
    fn jitter_delays_within_bounds_and_keeps_order() {
        let mut l = LinkModel::new(LinkSpec {
            jitter: Duration::from_millis(20),
            ..spec(10, None, QueueLimit::Unlimited)
        });
        let t0 = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        // The largest draw: 20 ms more.
        let a = l.jittered(t0, 0.999);
        assert!((ms(a - t0) - 19.98).abs() < 0.01);
        // A later packet drawn small cannot overtake it.
        let b = l.jittered(t0 + Duration::from_millis(1), 0.0);
        assert_eq!(b, a);
        // Nor is anything delivered early, and the bound holds.
        let c = l.jittered(t0 + Duration::from_millis(30), 0.5);
        assert_eq!(ms(c - t0).round(), 40.0);
        assert!(l.spec().to_string().contains("jitter 20ms"));
    }

    #[test]
    fn bernoulli_loss_rate() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut s = spec(0, None, QueueLimit::Unlimited);
        s.loss = Loss::Bernoulli(0.01);
        let mut l = LinkModel::new(s);
        let n = 200_000;
        let t0 = Instant::now();
        for _ in 0..n {
            l.arrive(t0, 100, rng.random());
        }
        let lost = l.counters.random_drops as f64;
        let sd = (n as f64 * 0.01 * 0.99).sqrt();
        assert!((lost - 2000.0).abs() < 5.0 * sd, "{lost} lost");
    }

    /// Gilbert loss: the long-run rate matches and losses come in bursts of
    /// the configured mean length.
    #[test]
    fn gilbert_loss_rate_and_bursts() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let loss = Loss::with_rate(0.02, 4.0);
        assert!((loss.rate() - 0.02).abs() < 1e-12);
        let mut s = spec(0, None, QueueLimit::Unlimited);
        s.loss = loss;
        let mut l = LinkModel::new(s);
        let t0 = Instant::now();
        let (mut bursts, mut in_burst) = (0u64, false);
        let n = 400_000;
        for _ in 0..n {
            let lost = l.arrive(t0, 100, rng.random()) == Verdict::Lost;
            if lost && !in_burst {
                bursts += 1;
            }
            in_burst = lost;
        }
        let rate = l.counters.random_drops as f64 / n as f64;
        assert!((rate - 0.02).abs() < 0.003, "rate {rate}");
        let mean_burst = l.counters.random_drops as f64 / bursts as f64;
        assert!((mean_burst - 4.0).abs() < 0.4, "mean burst {mean_burst}");
        assert_eq!(Loss::with_rate(0.01, 1.0), Loss::Bernoulli(0.01));
        assert_eq!(Loss::with_rate(0.0, 3.0), Loss::None);
    }
}
