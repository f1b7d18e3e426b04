//! pushlab: an HTTP/3 research server for server push, 103 Early Hints and
//! stream prioritisation.
//!
//! # Layers
//!
//! From pure to glue to tools. Each module imports only modules listed
//! before it (`tests/layers.rs` checks this list against the code), so the
//! architecture reads from the top down and nothing imports upward.
//! `ARCHITECTURE.md` follows one request through them.
//!
//! 1. [`hex`] — hex encoding for logs and tests (pure).
//! 2. [`units`] — byte and duration parsing and formatting (pure).
//! 3. [`summary`] — medians, quartiles and quantiles of measurements (pure).
//! 4. [`memory`] — heap accounting (a counting global allocator) and the
//!    memory report `pushlab serve` prints on SIGUSR1.
//! 5. [`trace`] — what a connection's transport and send queue hold at a
//!    moment, and the registry of live connections' probes.
//! 6. [`wire`] — varints, HTTP/3 frames, QPACK, HTTP/1.1 heads, the HTTP/2
//!    frame scanner, hq request lines, the per-frame checks of request and
//!    QPACK streams (pure, no I/O).
//! 7. [`priority`] — RFC 9218 priority parameters (pure).
//! 8. [`sched`] — the scheduler and every scheduling decision: order,
//!    transport priority, batching of arrivals, HTTP/2 flush budgets (pure).
//! 9. [`tls`] — certificates and rustls configurations.
//! 10. [`netinfo`] — TCP_INFO and TCP_NOTSENT_LOWAT.
//! 11. [`site`] — the site model, demo site, `site.toml`, dependency graph.
//! 12. [`reply`] — from a request head to a reply plan; body reader.
//! 13. [`push`] — push and hint policies (pure decisions over the site).
//! 14. [`sendq`] — the per-connection send queue and its pump, neutral
//!     between protocols (each protocol supplies a `StreamSink`).
//! 15. [`config`] — server options shared by all protocols, one `validate()`.
//! 16. [`stats`] — server-wide and push counters.
//! 17. [`reqlog`] — the per-request log line.
//! 18. [`pipeline`] — the one request pipeline (plan, hints, think, head,
//!     body, finish/log/count) and connection draining.
//! 19. [`http1`] — HTTP/1.1 over TLS.
//! 20. [`http2`] — HTTP/2 over TLS with h2.
//! 21. [`http3`] — HTTP/3 over quinn with pushlab's h3 backend; hq-interop.
//! 22. [`server`] — starts and stops the protocols on one port.
//! 23. [`client`] — pushlab's own HTTP/3, HTTP/2 and hq clients.
//! 24. [`netem`] — the link emulator (namespaces, TUN relay).
//! 25. [`browser`] — the emulated browser (page-load model and driver).
//! 26. [`har`] — HAR 1.2 files of the emulated browser's page loads (pure).
//! 27. [`bench`] — benchmarks.
//! 28. [`compare`] — HTTP/2 vs HTTP/3 experiments (presets, runs, reports,
//!     shards and their merge, the HTML report).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod browser;
pub mod client;
pub mod compare;
pub mod config;
pub mod har;
pub mod hex;
pub mod http1;
pub mod http2;
pub mod http3;
pub mod memory;
pub mod netem;
pub mod netinfo;
pub mod pipeline;
pub mod priority;
pub mod push;
pub mod reply;
pub mod reqlog;
pub mod sched;
pub mod sendq;
pub mod server;
pub mod site;
pub mod stats;
pub mod summary;
pub mod tls;
pub mod trace;
pub mod units;
pub mod wire;
