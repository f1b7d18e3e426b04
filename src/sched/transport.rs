//! The queue's order, repeated as the transport's own stream priority, so
//! that even among the bytes already inside the transport (quinn holds up to
//! a congestion window plus a low-water mark) a more urgent response goes
//! first, and a parent's response goes ahead of its pushes.

use crate::priority::{Priority, DEFAULT_URGENCY, MAX_URGENCY};

/// The transport priority (quinn's `SendStream::set_priority`: higher is
/// sent first) for a stream of this priority. The default urgency maps to
/// quinn's default priority 0, so the common case needs no call into quinn
/// at all. A push sits just below responses of the same urgency.
pub fn transport_priority(p: Priority, push: bool) -> i32 {
    2 * (i32::from(DEFAULT_URGENCY) - i32::from(p.urgency.min(MAX_URGENCY))) - i32::from(push)
}

/// Transport priority of the streams outside the queue (HTTP/3 control and
/// QPACK streams): ahead of every response.
pub const CONTROL_PRIORITY: i32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_maps_to_transport_priority_order() {
        let p: Vec<i32> = (0..=7)
            .map(|u| transport_priority(Priority::new(u, false), false))
            .collect();
        assert!(p.windows(2).all(|w| w[0] > w[1]));
        assert!(CONTROL_PRIORITY > p[0]);
        for u in 0..7 {
            let push = transport_priority(Priority::new(u, false), true);
            assert!(push < transport_priority(Priority::new(u, false), false));
            assert!(push > transport_priority(Priority::new(u + 1, false), false));
        }
        assert_eq!(transport_priority(Priority::default(), false), 0);
    }
}
