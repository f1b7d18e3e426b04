//! pushlab: an HTTP/3 research server for server push, 103 Early Hints and
//! stream prioritisation.
//!
//! Layers, from pure to glue:
//! - [`wire`]: varints, HTTP/3 frames, QPACK (pure);
//! - [`priority`]: RFC 9218 priority parameters (pure);
//! - [`sched`]: the user-space send queue (pure);
//! - [`site`]: the site model, demo site and `site.toml`;
//! - [`core`]: the request-handling core shared by HTTP/3 and HTTP/2;
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod browser;
pub mod client;
pub mod compare;
pub mod config;
pub mod hex;
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
