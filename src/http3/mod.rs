//! HTTP/3: pushlab's h3 QUIC backend over quinn with the user-space send
//! queue, control-stream capture, push, and the server glue.
//!
//! Imports between the modules go one way, from the bottom up:
//!
//! 1. [`state`] (the pure control-state machine), [`control_out`] (frames
//!    injected on h3's control stream), [`sink`] (quinn under the send
//!    queue), [`transport`] and [`hq`]: no imports from this module;
//! 2. [`control`]: the glue carrying out [`state`]'s actions, over
//!    `control_out` and `sink`;
//! 3. [`backend`]: the QUIC backend h3 drives, feeding [`control`];
//! 4. [`push`] and [`server`]: the server on top of all of them.

pub mod backend;
pub mod cc;
pub mod control;
pub mod control_out;
pub mod hq;
pub mod push;
pub mod server;
pub mod sink;
pub mod state;
pub mod transport;
