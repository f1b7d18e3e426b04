//! The relay: for each direction, a reader thread takes IP packets from one
//! TUN device, asks the link model what happens to each, and hands the
//! survivors with their delivery time to a writer thread, which writes
//! them to the other TUN device when they are due.
//!
//! Plain threads, not tasks: the writer sleeps until the next delivery
//! time and must not share a scheduler with anything else.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::link::{DirCounters, LinkModel, LinkSpec, Verdict};
use super::sys;

/// Largest IP packet read from a TUN device.
const MAX_PACKET: usize = 65_536;

/// The relay threads' real-time priority (see [`sys::realtime`]).
pub const RT_PRIORITY: i32 = 50;

/// Whether a relay thread was already refused real-time priority (warn once).
static RT_REFUSED: AtomicBool = AtomicBool::new(false);

/// Gives the calling relay thread real-time priority, or says once why not.
fn go_realtime() {
    if let Err(e) = sys::realtime(RT_PRIORITY) {
        if !RT_REFUSED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the link emulator's threads run at normal priority ({e}): on a busy machine \
                 they may deliver packets late (each compare run records how late)"
            );
        }
    }
}

/// A packet written this long after its delivery time counts as late.
pub const LATE: Duration = Duration::from_millis(1);

/// How punctually the writer delivered packets: each is due at the time
/// the link model gave it, and the writer thread, which shares the CPU with
/// everything else on the machine, may write it later. The emulator is only
/// the link it claims to be while this stays small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lateness {
    /// Packets written.
    pub packets: u64,
    /// Of those, written more than [`LATE`] after they were due.
    pub late: u64,
    /// The latest a packet was written after it was due (µs).
    pub max_us: u64,
}

impl Lateness {
    /// Counts a packet written `late` after it was due.
    pub fn record(&mut self, late: Duration) {
        self.packets += 1;
        if late > LATE {
            self.late += 1;
        }
        self.max_us = self.max_us.max(late.as_micros() as u64);
    }
}

/// What the writer thread reports.
#[derive(Debug, Default)]
struct WriterStats {
    /// Packets it failed to write (device gone).
    errors: u64,
    /// Since the last [`Direction::take_lateness`].
    lateness: Lateness,
}

/// One running direction.
pub struct Direction {
    model: Arc<Mutex<LinkModel>>,
    threads: Vec<JoinHandle<()>>,
    writer: Arc<Mutex<WriterStats>>,
}

impl Direction {
    /// Starts relaying from `from` to `to` under `spec`; `realtime` gives
    /// both threads real-time priority, so that packets are read and
    /// delivered on time however busy the machine is (a 2-core VM running
    /// Chromium delivered packets up to 28 ms late without it, measured).
    pub fn start(
        name: &str,
        from: File,
        to: File,
        spec: LinkSpec,
        seed: u64,
        realtime: bool,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Direction> {
        let model = Arc::new(Mutex::new(LinkModel::new(spec)));
        let writer = Arc::new(Mutex::new(WriterStats::default()));
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let reader = {
            let (model, stop) = (model.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("netem-{name}-in"))
                .spawn(move || {
                    if realtime {
                        go_realtime();
                    }
                    read_loop(from, tx, model, seed, stop)
                })?
        };
        let writer_thread = {
            let stats = writer.clone();
            std::thread::Builder::new()
                .name(format!("netem-{name}-out"))
                .spawn(move || {
                    if realtime {
                        go_realtime();
                    }
                    write_loop(to, rx, stats, stop)
                })?
        };
        Ok(Direction {
            model,
            threads: vec![reader, writer_thread],
            writer,
        })
    }

    /// The direction's counters so far.
    pub fn counters(&self) -> DirCounters {
        self.model.lock().counters
    }

    /// Packets and bytes waiting in the bottleneck queue now.
    pub fn queued(&self) -> (usize, u64) {
        self.model.lock().queued(std::time::Instant::now())
    }

    /// Takes the direction down (a black hole) or back up.
    pub fn set_down(&self, down: bool) {
        self.model.lock().set_down(down);
    }

    /// Packets that could not be written.
    pub fn write_errors(&self) -> u64 {
        self.writer.lock().errors
    }

    /// How punctual the writer was since the last call (which resets it).
    pub fn take_lateness(&self) -> Lateness {
        std::mem::take(&mut self.writer.lock().lateness)
    }

    /// Waits for the threads (after the stop flag was set).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn read_loop(
    mut from: File,
    tx: mpsc::Sender<(Instant, Vec<u8>)>,
    model: Arc<Mutex<LinkModel>>,
    seed: u64,
    stop: Arc<AtomicBool>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; MAX_PACKET];
    let fd = from.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        match sys::poll_readable(fd, 50) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let now = Instant::now();
        let (verdict, corrupt) = {
            let mut m = model.lock();
            let v = m.arrive(now, n, rng.random());
            // Draws only when corruption is on, so that a seed loses the
            // same packets as it did before the knob existed.
            let c = matches!(v, Verdict::Deliver(_))
                && m.spec().corrupt > 0.0
                && m.corrupts(rng.random());
            // Likewise jitter.
            let v = match v {
                Verdict::Deliver(at) if !m.spec().jitter.is_zero() => {
                    Verdict::Deliver(m.jittered(at, rng.random()))
                }
                v => v,
            };
            (v, c)
        };
        if let Verdict::Deliver(at) = verdict {
            let mut pkt = buf[..n].to_vec();
            if corrupt {
                super::packet::corrupt(&mut pkt, rng.random::<u32>() as usize, rng.random());
            }
            if tx.send((at, pkt)).is_err() {
                return;
            }
        }
    }
}

fn write_loop(
    mut to: File,
    rx: mpsc::Receiver<(Instant, Vec<u8>)>,
    stats: Arc<Mutex<WriterStats>>,
    stop: Arc<AtomicBool>,
) {
    let mut line: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    loop {
        let now = Instant::now();
        while line.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((at, p)) = line.pop_front() {
                let ok = to.write(&p).is_ok();
                let late = Instant::now().saturating_duration_since(at);
                let mut s = stats.lock();
                if ok {
                    s.lateness.record(late);
                } else {
                    s.errors += 1;
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let wait = line
            .front()
            .map(|(at, _)| at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50))
            .min(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok(item) => {
                line.push_back(item);
                // Take whatever else is already waiting without sleeping.
                while let Ok(item) = rx.try_recv() {
                    line.push_back(item);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if line.is_empty() {
                    return;
                }
                // Drain what is in flight, then stop.
                if let Some((at, _)) = line.front() {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_counts_late_packets_and_keeps_the_worst() {
        let mut l = Lateness::default();
        l.record(Duration::from_micros(200));
        l.record(LATE);
        l.record(Duration::from_micros(4_500));
        l.record(Duration::ZERO);
        assert_eq!(
            l,
            Lateness {
                packets: 4,
                late: 1,
                max_us: 4_500
            }
        );
    }
}
