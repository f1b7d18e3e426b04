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
//! 4. [`wire`] — varints, HTTP/3 frames, QPACK, HTTP/1.1 heads, the HTTP/2
//!    frame scanner, hq request lines (pure, no I/O).
//! 5. [`priority`] — RFC 9218 priority parameters (pure).
//! 6. [`sched`] — the scheduler and every scheduling decision: order,
//!    transport priority, batching of arrivals, HTTP/2 flush budgets (pure).
//! 7. [`tls`] — certificates and rustls configurations.
//! 8. [`netinfo`] — TCP_INFO and TCP_NOTSENT_LOWAT.
//! 9. [`site`] — the site model, demo site, `site.toml`, dependency graph.
//! 10. [`reply`] — from a request head to a reply plan; body reader.
//! 11. [`push`] — push and hint policies (pure decisions over the site).
//! 12. [`sendq`] — the per-connection send queue and its pump, neutral
//!     between protocols (each protocol supplies a `StreamSink`).
//! 13. [`config`] — server options shared by all protocols, one `validate()`.
//! 14. [`stats`] — server-wide and push counters.
//! 15. [`reqlog`] — the per-request log line.
//! 16. [`pipeline`] — the one request pipeline (plan, hints, think, head,
//!     body, finish/log/count) and connection draining.
//! 17. [`http1`] — HTTP/1.1 over TLS.
//! 18. [`http2`] — HTTP/2 over TLS with h2.
//! 19. [`http3`] — HTTP/3 over quinn with pushlab's h3 backend; hq-interop.
//! 20. [`server`] — starts and stops the protocols on one port.
//! 21. [`client`] — pushlab's own HTTP/3, HTTP/2 and hq clients.
//! 22. [`netem`] — the link emulator (namespaces, TUN relay).
//! 23. [`browser`] — the emulated browser (page-load model and driver).
//! 24. [`bench`] — benchmarks.
//! 25. [`compare`] — HTTP/2 vs HTTP/3 experiments (presets, runs, reports).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod browser;
pub mod client;
pub mod compare;
pub mod config;
pub mod hex;
pub mod http1;
pub mod http2;
pub mod http3;
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
pub mod units;
pub mod wire;
