//! Heap accounting: a global allocator wrapper that counts the bytes the
//! program holds, so memory bounds (slow readers, idle connections) can be
//! checked on what the server keeps rather than on RSS, which also holds
//! pages the allocator has cached after they were freed.
//!
//! `pushlab serve` prints a [`Report`] line on SIGUSR1 (`kill -USR1 PID`).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Wraps an allocator and counts live bytes (the sizes asked for).
pub struct Counting<A>(pub A);

// The crate's other `unsafe` (see also `netinfo`): a global allocator
// cannot be written without it.
// SAFETY: every call is forwarded unchanged to the wrapped allocator; the
// counters do not touch the memory.
#[allow(unsafe_code)]
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Bytes allocated and not yet freed, through [`Counting`] (0 if the
/// program's allocator is not wrapped).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The most [`live_bytes`] has been.
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// The process's resident memory and its peak (VmRSS, VmHWM), in bytes.
pub fn rss() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    Some((status_bytes(&s, "VmRSS:")?, status_bytes(&s, "VmHWM:")?))
}

/// A `kB` field (`VmRSS:`, `VmHWM:`) of a `/proc/PID/status` text, in bytes.
pub fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

/// What `pushlab serve` prints on SIGUSR1: the process's memory and,
/// beside it, what its send queues hold, so a memory figure can be split
/// into queued response bytes and everything else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Live heap bytes ([`live_bytes`]).
    pub heap: u64,
    /// Peak live heap bytes.
    pub heap_peak: u64,
    /// VmRSS, bytes.
    pub rss: u64,
    /// VmHWM, bytes.
    pub rss_peak: u64,
    /// Bytes waiting in the send queues of all connections.
    pub queued: u64,
    /// Streams registered in those queues.
    pub streams: u64,
    /// Connections open (HTTP/3 and HTTP/2).
    pub connections: u64,
}

impl Report {
    /// This process's memory now, with the server's queue figures.
    pub fn now(queued: u64, streams: u64, connections: u64) -> Report {
        let (rss, rss_peak) = rss().unwrap_or((0, 0));
        Report {
            heap: live_bytes() as u64,
            heap_peak: peak_bytes() as u64,
            rss,
            rss_peak,
            queued,
            streams,
            connections,
        }
    }

    /// Reads a report line back.
    pub fn parse(line: &str) -> Option<Report> {
        let nums: Vec<u64> = line
            .strip_prefix("memory: ")?
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .filter_map(|w| w.parse().ok())
            .collect();
        match nums[..] {
            [heap, heap_peak, rss, rss_peak, queued, streams, connections] => Some(Report {
                heap,
                heap_peak,
                rss,
                rss_peak,
                queued,
                streams,
                connections,
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory: heap {} bytes live, {} peak; rss {} bytes, peak {}; \
             send queues {} bytes in {} streams; {} connections",
            self.heap,
            self.heap_peak,
            self.rss,
            self.rss_peak,
            self.queued,
            self.streams,
            self.connections
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_in_bytes() {
        let s = "Name:\tpushlab\nVmHWM:\t  226304 kB\nVmRSS:\t   10240 kB\nThreads:\t2\n";
        assert_eq!(status_bytes(s, "VmRSS:"), Some(10240 * 1024));
        assert_eq!(status_bytes(s, "VmHWM:"), Some(226304 * 1024));
        assert_eq!(status_bytes(s, "VmSwap:"), None);
        assert_eq!(status_bytes("VmRSS:\t12 MB\n", "VmRSS:"), None);
        assert_eq!(status_bytes("VmRSS:\tlots kB\n", "VmRSS:"), None);
    }

    #[test]
    fn report_reads_back() {
        let r = Report::now(5, 6, 7);
        assert_eq!(Report::parse(&r.to_string()), Some(r));
        assert!(r.heap <= r.heap_peak && r.rss <= r.rss_peak && r.rss > 0);
        let line = "memory: heap 123 bytes live, 456 peak; rss 7890 bytes, peak 9999; \
                    send queues 10 bytes in 2 streams; 3 connections";
        let r = Report::parse(line);
        assert_eq!(
            r.map(|r| (r.heap, r.rss_peak, r.queued, r.connections)),
            Some((123, 9999, 10, 3))
        );
        // The earlier four-figure line, and other lines, are not reports.
        assert_eq!(
            Report::parse("memory: heap 1 bytes live, 2 peak; rss 3 bytes, peak 4"),
            None
        );
        assert_eq!(Report::parse("served 3 requests"), None);
    }

    #[test]
    #[allow(unsafe_code)]
    fn counting_forwards_and_counts() {
        let a = Counting(std::alloc::System);
        let before = live_bytes();
        let layout = Layout::from_size_align(4096, 8).unwrap_or(Layout::new::<u8>());
        // SAFETY: layout has non-zero size; the pointer is freed with it.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let q = a.realloc(p, layout, 8192);
            assert!(!q.is_null());
            let bigger = Layout::from_size_align(8192, 8).unwrap_or(layout);
            a.dealloc(q, bigger);
        }
        // Other tests allocate at the same time (through System, not
        // Counting): only this test's own calls move the counter.
        assert!(peak_bytes() >= before + 8192);
        assert_eq!(live_bytes(), before);
    }
}
