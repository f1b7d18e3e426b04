//! The Rules of Thumb's BDP-bounded policies: `bdp` (the children of any
//! requested resource, the first N whose total just crosses the BDP) and
//! the straw man limited to one BDP (`push-all-bdp`: every static
//! subresource of the page, cut the same way).
//!
//! The BDP is a number the experiment gives (`bdp:20000`, as the paper
//! used its profiles' 20 KB and 35 KB) or, without one, the connection's
//! congestion window (which on a connection warmed to the link's BDP is
//! that BDP, and on a fresh one the initial window).

use super::{page_children, push_priority, pushable, Plan, PlanInput, PushItem, PushPolicy};
use super::{Child, DEFAULT_CWND};

/// Where a policy's BDP comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// A fixed number of bytes.
    Fixed(u64),
    /// The connection's congestion window ([`DEFAULT_CWND`] when the
    /// transport does not say).
    Cwnd,
}

impl Budget {
    /// The budget for this request.
    pub fn bytes(self, input: &PlanInput<'_>) -> u64 {
        match self {
            Budget::Fixed(n) => n,
            Budget::Cwnd => input.conn.cwnd.unwrap_or(DEFAULT_CWND),
        }
    }

    /// `""` (the window) or `":N"` (bytes) after a policy's name.
    pub fn parse(rest: &str) -> Option<Budget> {
        if rest.is_empty() {
            return Some(Budget::Cwnd);
        }
        let n: u64 = rest.strip_prefix(':')?.trim().parse().ok()?;
        (n > 0).then_some(Budget::Fixed(n))
    }
}

/// The longest prefix of `sizes` whose total before its last element is
/// below `budget`: the first N whose total just crosses (or reaches) it.
/// Returns N.
pub fn crossing(sizes: impl IntoIterator<Item = u64>, budget: u64) -> usize {
    let mut total = 0u64;
    let mut n = 0;
    for s in sizes {
        if total >= budget {
            break;
        }
        total = total.saturating_add(s);
        n += 1;
    }
    n
}

fn items(input: &PlanInput<'_>, children: &[Child], budget: u64) -> Vec<PushItem> {
    let pushable: Vec<(&Child, Vec<(String, String)>)> = children
        .iter()
        .filter_map(|c| Some((c, pushable(input.request, &c.resource)?)))
        .collect();
    let n = crossing(pushable.iter().map(|(c, _)| c.resource.len), budget);
    pushable
        .into_iter()
        .take(n)
        .map(|(c, request_headers)| PushItem {
            path: c.path.clone(),
            priority: Some(push_priority(c.resource.kind, &c.node)),
            request_headers,
        })
        .collect()
}

/// The paper's BDP policy: with every successful GET (a document, a
/// script that writes another, a stylesheet with fonts), its subresources
/// in evaluation order that this connection has neither pushed nor been
/// asked for, the first N whose total just crosses the BDP.
#[derive(Debug, Clone, Copy)]
pub struct Bdp(pub Budget);

impl PushPolicy for Bdp {
    fn name(&self) -> &'static str {
        "bdp"
    }
    fn wants_transport_stats(&self) -> bool {
        self.0 == Budget::Cwnd
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let mut seen = input.state.paths.lock();
        if let Some(r) = input.reply.resource.as_ref() {
            seen.insert(r.path.clone());
        }
        let Some(mut children) = super::descendants(input) else {
            return Plan::default();
        };
        children.retain(|c| !seen.contains(&c.path));
        let pushes = items(input, &children, self.0.bytes(input));
        seen.extend(pushes.iter().map(|p| p.path.clone()));
        Plan {
            pushes,
            ..Plan::default()
        }
    }
}

/// The straw man limited to one BDP: every static subresource of a page
/// (what `push-all`, the paper's PushStaticWithHTML, pushes), the first N
/// whose total just crosses the BDP.
#[derive(Debug, Clone, Copy)]
pub struct PushAllBdp(pub Budget);

impl PushPolicy for PushAllBdp {
    fn name(&self) -> &'static str {
        "push-all-bdp"
    }
    fn wants_transport_stats(&self) -> bool {
        self.0 == Budget::Cwnd
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        Plan {
            pushes: items(input, &children, self.0.bytes(input)),
            ..Plan::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first N whose total just crosses the budget: the crossing one is
    /// included, nothing after it; an empty budget takes nothing.
    #[test]
    fn crossing_takes_the_first_that_crosses() {
        assert_eq!(crossing([5_000, 10_000, 10_000, 10_000], 20_000), 3);
        assert_eq!(crossing([5_000, 15_000, 10_000], 20_000), 2);
        assert_eq!(crossing([50_000, 1], 20_000), 1);
        assert_eq!(crossing([1, 1], 20_000), 2);
        assert_eq!(crossing([1, 1], 0), 0);
        assert_eq!(crossing([u64::MAX, 1], 10), 1);
    }

    #[test]
    fn budgets_parse() {
        assert_eq!(Budget::parse(""), Some(Budget::Cwnd));
        assert_eq!(Budget::parse(":20000"), Some(Budget::Fixed(20_000)));
        for bad in [":", ":0", ":-1", "20000", ":2e4", "x"] {
            assert_eq!(Budget::parse(bad), None, "{bad}");
        }
    }
}
