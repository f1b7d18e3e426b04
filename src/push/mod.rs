//! Push and Early Hints policies: given a request, the reply the core
//! planned and what is known about the connection, decide which resources
//! to push (in which order) and which to hint with 103.
//!
//! Each policy is a small implementation of [`PushPolicy`]; protocol code
//! (HTTP/3 and HTTP/2) carries the plan out identically.

use std::sync::Arc;

use crate::core::{Reply, RequestHead};
use crate::priority::Priority;
use crate::site::Site;

/// One resource to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// Path of the pushed resource.
    pub path: String,
    /// Priority of the push stream; `None` inherits the parent's.
    pub priority: Option<Priority>,
}

/// What a policy decided for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// `Link` field values for a 103 response, in order.
    pub hints: Vec<String>,
    /// Resources to push, in the order they should be sent.
    pub pushes: Vec<PushItem>,
}

/// What a policy may know about the connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnView {
    /// `"h3"` or `"h2"`.
    pub protocol: &'static str,
    /// The client allows pushes (MAX_PUSH_ID sent / SETTINGS_ENABLE_PUSH not 0).
    pub push_allowed: bool,
    /// The current congestion window in bytes, when the transport tells.
    pub cwnd: Option<u64>,
    /// Bytes the connection has in flight (sent, unacknowledged), when known.
    pub in_flight: Option<u64>,
}

/// The inputs of a decision.
pub struct PlanInput<'a> {
    /// The site.
    pub site: &'a Site,
    /// The request.
    pub request: &'a RequestHead,
    /// The reply the core planned.
    pub reply: &'a Reply,
    /// The connection.
    pub conn: ConnView,
}

/// A push and hint policy.
pub trait PushPolicy: Send + Sync {
    /// The name used with `--push-policy`.
    fn name(&self) -> &'static str;
    /// Decides pushes and hints for one request.
    fn plan(&self, input: &PlanInput<'_>) -> Plan;
    /// Whether [`ConnView::cwnd`] and friends are needed (reading them
    /// costs a lock on the transport's state for every request).
    fn wants_transport_stats(&self) -> bool {
        false
    }
}

/// No pushes, no hints.
#[derive(Debug, Default)]
pub struct NoPush;

impl PushPolicy for NoPush {
    fn name(&self) -> &'static str {
        "none"
    }
    fn plan(&self, _: &PlanInput<'_>) -> Plan {
        Plan::default()
    }
}

/// Every policy by name.
pub fn policy_by_name(name: &str) -> Option<Arc<dyn PushPolicy>> {
    match name {
        "none" => Some(Arc::new(NoPush)),
        _ => None,
    }
}

/// The names `--push-policy` accepts.
pub const POLICY_NAMES: &[&str] = &["none"];
