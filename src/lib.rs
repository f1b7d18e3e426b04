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
//! 4. [`trace`] — what a connection's transport and send queue hold at a
//!    moment, and the registry of live connections' probes.
//! 5. [`wire`] — varints, HTTP/3 frames, QPACK, HTTP/1.1 heads, the HTTP/2
//!    frame scanner, hq request lines (pure, no I/O).
//! 6. [`priority`] — RFC 9218 priority parameters (pure).
//! 7. [`sched`] — the scheduler and every scheduling decision: order,
//!    transport priority, batching of arrivals, HTTP/2 flush budgets (pure).
//! 8. [`tls`] — certificates and rustls configurations.
//! 9. [`netinfo`] — TCP_INFO and TCP_NOTSENT_LOWAT.
//! 10. [`site`] — the site model, demo site, `site.toml`, dependency graph.
//! 11. [`reply`] — from a request head to a reply plan; body reader.
//! 12. [`push`] — push and hint policies (pure decisions over the site).
//! 13. [`sendq`] — the per-connection send queue and its pump, neutral
//!     between protocols (each protocol supplies a `StreamSink`).
//! 14. [`config`] — server options shared by all protocols, one `validate()`.
//! 15. [`stats`] — server-wide and push counters.
//! 16. [`reqlog`] — the per-request log line.
//! 17. [`pipeline`] — the one request pipeline (plan, hints, think, head,
//!     body, finish/log/count) and connection draining.
//! 18. [`http1`] — HTTP/1.1 over TLS.
//! 19. [`http2`] — HTTP/2 over TLS with h2.
//! 20. [`http3`] — HTTP/3 over quinn with pushlab's h3 backend; hq-interop.
//! 21. [`server`] — starts and stops the protocols on one port.
//! 22. [`client`] — pushlab's own HTTP/3, HTTP/2 and hq clients.
//! 23. [`netem`] — the link emulator (namespaces, TUN relay).
//! 24. [`browser`] — the emulated browser (page-load model and driver).
//! 25. [`har`] — HAR 1.2 files of the emulated browser's page loads (pure).
//! 26. [`bench`] — benchmarks.
//! 27. [`compare`] — HTTP/2 vs HTTP/3 experiments (presets, runs, reports,
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
