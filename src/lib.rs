//! pushlab: an HTTP/3 research server for server push, 103 Early Hints and
//! stream prioritisation.
//!
//! Layers, from pure to glue:
//! - [`wire`]: varints, HTTP/3 frames, QPACK (pure);
//! - [`priority`]: RFC 9218 priority parameters (pure);
//! - [`sched`]: the user-space send queue (pure);
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod priority;
pub mod sched;
pub mod wire;
