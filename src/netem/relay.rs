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

use super::link::{DirCounters, LinkModel, LinkSpec, Verdict};
use super::sys;

/// Largest IP packet read from a TUN device.
const MAX_PACKET: usize = 65_536;

/// One running direction.
pub struct Direction {
    model: Arc<Mutex<LinkModel>>,
    threads: Vec<JoinHandle<()>>,
    /// Packets the writer failed to write (device gone).
    write_errors: Arc<Mutex<u64>>,
}

impl Direction {
    /// Starts relaying from `from` to `to` under `spec`.
    pub fn start(
        name: &str,
        from: File,
        to: File,
        spec: LinkSpec,
        seed: u64,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Direction> {
        let model = Arc::new(Mutex::new(LinkModel::new(spec)));
        let write_errors = Arc::new(Mutex::new(0));
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let reader = {
            let (model, stop) = (model.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("netem-{name}-in"))
                .spawn(move || read_loop(from, tx, model, seed, stop))?
        };
        let writer = {
            let errors = write_errors.clone();
            std::thread::Builder::new()
                .name(format!("netem-{name}-out"))
                .spawn(move || write_loop(to, rx, errors, stop))?
        };
        Ok(Direction {
            model,
            threads: vec![reader, writer],
            write_errors,
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
        *self.write_errors.lock()
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
    errors: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
) {
    let mut line: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    loop {
        let now = Instant::now();
        while line.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, p)) = line.pop_front() {
                if to.write(&p).is_err() {
                    *errors.lock() += 1;
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
