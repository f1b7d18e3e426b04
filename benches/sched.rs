//! Scheduler decisions per second of the pure send queue (`cargo bench`).
//!
//! Each scenario registers streams, enqueues data, and pops chunks until
//! the queue is empty; a decision is one `pop`. No I/O, no async runtime:
//! this measures the data structure alone.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pushlab::priority::Priority;
use pushlab::sched::{Order, Policy, Scheduler};

struct Scenario {
    name: &'static str,
    streams: u64,
    bytes_per_stream: usize,
    quantum: usize,
    reprioritise_every: Option<u64>,
}

fn run(policy: Policy, sc: &Scenario) -> (u64, Duration) {
    let data = Bytes::from(vec![0u8; sc.bytes_per_stream]);
    let now = Instant::now();
    let mut s = Scheduler::new(policy);
    for id in 0..sc.streams {
        let prio = Priority::new((id % 8) as u8, id % 3 == 0);
        s.open(id * 4, prio, Order::request(id)).unwrap();
        s.enqueue(id * 4, data.clone(), now).unwrap();
        s.finish(id * 4).unwrap();
    }
    let t = Instant::now();
    let mut n = 0u64;
    while let Some(c) = s.pop(sc.quantum, now) {
        n += 1;
        if c.fin {
            s.remove(c.stream);
        }
        if let Some(every) = sc.reprioritise_every {
            if n.is_multiple_of(every) {
                let id = (n / every % sc.streams) * 4;
                s.set_priority(id, Priority::new((n % 8) as u8, n.is_multiple_of(2)));
            }
        }
        black_box(&c);
    }
    (n, t.elapsed())
}

fn main() {
    let scenarios = [
        Scenario {
            name: "10 streams x 1 MB, 1200 B quantum",
            streams: 10,
            bytes_per_stream: 1_000_000,
            quantum: 1200,
            reprioritise_every: None,
        },
        Scenario {
            name: "100 streams x 100 KB, 1200 B quantum",
            streams: 100,
            bytes_per_stream: 100_000,
            quantum: 1200,
            reprioritise_every: None,
        },
        Scenario {
            name: "1000 streams x 10 KB, 1200 B quantum",
            streams: 1000,
            bytes_per_stream: 10_000,
            quantum: 1200,
            reprioritise_every: None,
        },
        Scenario {
            name: "100 streams x 100 KB, reprioritise every 10 pops",
            streams: 100,
            bytes_per_stream: 100_000,
            quantum: 1200,
            reprioritise_every: Some(10),
        },
    ];
    println!(
        "pushlab scheduler benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| scenario | policy | decisions | decisions/s |");
    println!("|---|---|---|---|");
    for sc in &scenarios {
        for (policy, name) in Policy::ALL {
            // Best of 5 runs.
            let mut best = f64::MAX;
            let mut decisions = 0;
            for _ in 0..5 {
                let (n, d) = run(policy, sc);
                decisions = n;
                best = best.min(d.as_secs_f64());
            }
            println!(
                "| {} | {} | {} | {:.2} M |",
                sc.name,
                name,
                decisions,
                decisions as f64 / best / 1e6
            );
        }
    }
}
