//! Whole pop orders for each policy, and a property test that every queued
//! byte leaves exactly once and in order within its stream.

use super::*;
use proptest::prelude::*;

fn t0() -> Instant {
    Instant::now()
}

fn bytes(tag: u8, len: usize) -> Bytes {
    Bytes::from(vec![tag; len])
}

/// Pops with quantum `q` until empty and returns the stream of each chunk.
fn drain(s: &mut Scheduler, q: usize, now: Instant) -> Vec<StreamKey> {
    let mut out = Vec::new();
    while let Some(c) = s.pop(q, now) {
        out.push(c.stream);
        if c.fin {
            s.remove(c.stream);
        }
    }
    out
}

/// Compresses consecutive repeats: [1,1,2,2,2,1] -> [1,2,1].
fn runs(v: &[StreamKey]) -> Vec<StreamKey> {
    let mut out: Vec<StreamKey> = Vec::new();
    for &x in v {
        if out.last() != Some(&x) {
            out.push(x);
        }
    }
    out
}

fn open_with(s: &mut Scheduler, id: StreamKey, u: u8, i: bool, group: u64, len: usize) {
    s.open(id, Priority::new(u, i), Order::request(group))
        .unwrap();
    s.enqueue(id, bytes(id as u8, len), t0()).unwrap();
    s.finish(id).unwrap();
}

/// Lower urgency values go first; within one urgency, non-incremental
/// responses leave one at a time in request order.
#[test]
fn rfc9218_urgency_then_request_order() {
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 3, false, 0, 30);
    open_with(&mut s, 4, 1, false, 1, 30);
    open_with(&mut s, 8, 3, false, 2, 30);
    open_with(&mut s, 12, 0, false, 3, 30);
    let order = drain(&mut s, 10, t0());
    assert_eq!(order, vec![12, 12, 12, 4, 4, 4, 0, 0, 0, 8, 8, 8]);
}

/// Incremental responses of one urgency share bandwidth round-robin, after
/// the non-incremental responses of the same urgency.
#[test]
fn rfc9218_incremental_round_robin() {
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 4, true, 0, 30);
    open_with(&mut s, 4, 4, true, 1, 30);
    open_with(&mut s, 8, 4, false, 2, 20);
    open_with(&mut s, 12, 4, true, 3, 10);
    let order = drain(&mut s, 10, t0());
    assert_eq!(order, vec![8, 8, 0, 4, 12, 0, 4, 0, 4]);
}

/// FIFO ignores priorities and incremental: responses leave one at a time
/// in request order (a later urgent request waits for the earlier ones).
#[test]
fn fifo_is_request_order() {
    let mut s = Scheduler::new(Policy::Fifo);
    let now = t0();
    s.open(4, Priority::new(0, true), Order::request(1))
        .unwrap();
    s.open(0, Priority::new(7, true), Order::request(0))
        .unwrap();
    s.enqueue(4, bytes(4, 20), now).unwrap();
    s.enqueue(0, bytes(0, 20), now).unwrap();
    s.enqueue(0, bytes(0, 10), now).unwrap();
    s.finish(0).unwrap();
    s.finish(4).unwrap();
    assert_eq!(drain(&mut s, 10, now), vec![0, 0, 0, 4, 4]);
}

/// Round-robin ignores priorities and gives one quantum per turn.
#[test]
fn round_robin_ignores_urgency() {
    let mut s = Scheduler::new(Policy::RoundRobin);
    open_with(&mut s, 0, 7, false, 0, 30);
    open_with(&mut s, 4, 0, false, 1, 20);
    open_with(&mut s, 8, 3, true, 2, 10);
    assert_eq!(drain(&mut s, 10, t0()), vec![0, 4, 8, 0, 4, 0]);
}

/// An urgent response that arrives while a large, less urgent one is
/// queued is served at the very next pop, then the large one resumes.
#[test]
fn urgent_stream_preempts_large_queued_one() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    s.open(0, Priority::new(7, false), Order::request(0))
        .unwrap();
    s.enqueue(0, bytes(0, 20_000_000), now).unwrap();
    s.finish(0).unwrap();
    for _ in 0..3 {
        assert_eq!(s.pop(1200, now).unwrap().stream, 0);
    }
    s.open(4, Priority::new(0, false), Order::request(1))
        .unwrap();
    s.enqueue(4, bytes(4, 10_000), now).unwrap();
    s.finish(4).unwrap();
    let mut next = Vec::new();
    for _ in 0..10 {
        let c = s.pop(1200, now).unwrap();
        next.push(c.stream);
        if c.fin {
            s.remove(c.stream);
        }
    }
    assert_eq!(next, vec![4, 4, 4, 4, 4, 4, 4, 4, 4, 0]);
    // The same situation under FIFO: the urgent bytes wait for the large response.
    let mut f = Scheduler::new(Policy::Fifo);
    f.open(0, Priority::new(7, false), Order::request(0))
        .unwrap();
    f.enqueue(0, bytes(0, 20_000), now).unwrap();
    f.finish(0).unwrap();
    f.pop(1200, now).unwrap();
    f.open(4, Priority::new(0, false), Order::request(1))
        .unwrap();
    f.enqueue(4, bytes(4, 10_000), now).unwrap();
    f.finish(4).unwrap();
    let order = runs(&drain(&mut f, 1200, now));
    assert_eq!(order, vec![0, 4]);
}

/// Re-prioritisation mid-response (a PRIORITY_UPDATE): a background
/// response raised to u=0 overtakes the others at the next pop, and one
/// lowered to u=7 falls behind everything.
#[test]
fn reprioritisation_mid_response() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 3, false, 0, 40);
    open_with(&mut s, 4, 3, false, 1, 40);
    open_with(&mut s, 8, 7, false, 2, 40);
    assert_eq!(s.pop(10, now).unwrap().stream, 0);
    assert!(s.set_priority(8, Priority::new(0, false)));
    assert!(s.set_priority(0, Priority::new(7, false)));
    let order = drain(&mut s, 10, now);
    assert_eq!(runs(&order), vec![8, 4, 0]);
    assert_eq!(order.len(), 11);
    assert!(!s.set_priority(99, Priority::default()));
}

/// Switching a stream from non-incremental to incremental mid-response moves
/// it behind the non-incremental streams of its urgency.
#[test]
fn switch_to_incremental() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 3, false, 0, 30);
    open_with(&mut s, 4, 3, false, 1, 30);
    s.pop(10, now).unwrap();
    s.set_priority(0, Priority::new(3, true));
    assert_eq!(runs(&drain(&mut s, 10, now)), vec![4, 0]);
}

/// Rules of Thumb, rule 2: A's pushes C and D follow A and precede the
/// later request B; A's own bytes preempt its pushes whenever they arrive
/// (the document is ready after think time while pushes are streaming).
#[test]
fn pushes_follow_parent_and_parent_preempts_them() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    let a = Order::request(0);
    s.open(0, Priority::default(), a).unwrap(); // A, still thinking
    s.open(4, Priority::default(), Order::request(1)).unwrap(); // B
    s.open(3, Priority::default(), Order::push_of(a, 0))
        .unwrap(); // C
    s.open(7, Priority::default(), Order::push_of(a, 1))
        .unwrap(); // D
    s.enqueue(4, bytes(4, 20), now).unwrap();
    s.enqueue(7, bytes(7, 20), now).unwrap();
    s.enqueue(3, bytes(3, 20), now).unwrap();
    for id in [3, 4, 7] {
        s.finish(id).unwrap();
    }
    // A has nothing yet: its pushes go first, in evaluation order.
    assert_eq!(s.pop(10, now).unwrap().stream, 3);
    // A's response becomes ready: it preempts C immediately.
    s.enqueue(0, bytes(0, 20), now).unwrap();
    s.finish(0).unwrap();
    let order = drain(&mut s, 10, now);
    assert_eq!(order, vec![0, 0, 3, 7, 7, 4, 4]);
}

/// A push can be re-prioritised on its own (PRIORITY_UPDATE for a push ID).
#[test]
fn push_priority_update() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    let a = Order::request(0);
    open_with(&mut s, 4, 3, false, 1, 20);
    s.open(3, Priority::default(), Order::push_of(a, 0))
        .unwrap();
    s.enqueue(3, bytes(3, 20), now).unwrap();
    s.finish(3).unwrap();
    s.set_priority(3, Priority::new(6, true));
    assert_eq!(runs(&drain(&mut s, 10, now)), vec![4, 3]);
}

/// Blocked streams are skipped until unblocked, then resume in rank order.
#[test]
fn blocked_streams_are_skipped() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 0, false, 0, 20);
    open_with(&mut s, 4, 5, false, 1, 20);
    s.block(0);
    assert_eq!(s.pop(10, now).unwrap().stream, 4);
    assert_eq!(s.unblock_all(), 1);
    assert_eq!(runs(&drain(&mut s, 10, now)), vec![0, 4]);
}

/// A partially written chunk goes back to the front of its stream.
#[test]
fn unsend_keeps_stream_order() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    s.open(0, Priority::default(), Order::request(0)).unwrap();
    s.enqueue(0, Bytes::from_static(b"abcdef"), now).unwrap();
    s.finish(0).unwrap();
    let c = s.pop(4, now).unwrap();
    assert_eq!(&c.data[..], b"abcd");
    assert!(c.first);
    s.unsend(0, c.data.slice(2..), false, now).unwrap();
    let c = s.pop(10, now).unwrap();
    assert_eq!(&c.data[..], b"cd");
    assert!(!c.fin);
    assert!(!c.first);
    let c = s.pop(10, now).unwrap();
    assert_eq!(&c.data[..], b"ef");
    assert!(c.fin);
    assert!(s.is_drained(0));
}

/// A bare FIN is delivered as an empty chunk; data after FIN is refused.
#[test]
fn fin_only_and_after_fin() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Fifo);
    s.open(0, Priority::default(), Order::request(0)).unwrap();
    s.enqueue(0, bytes(1, 3), now).unwrap();
    let c = s.pop(10, now).unwrap();
    assert!(!c.fin);
    assert!(s.pop(10, now).is_none());
    s.finish(0).unwrap();
    let c = s.pop(10, now).unwrap();
    assert!(c.fin && c.data.is_empty());
    assert_eq!(s.enqueue(0, bytes(1, 1), now), Err(SchedError::AfterFin(0)));
    assert_eq!(
        s.enqueue(9, bytes(1, 1), now),
        Err(SchedError::UnknownStream(9))
    );
    assert_eq!(
        s.open(0, Priority::default(), Order::default()),
        Err(SchedError::AlreadyOpen(0))
    );
}

/// Removing a stream frees its queued bytes and counts them as dropped.
#[test]
fn remove_frees_bytes() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    open_with(&mut s, 0, 3, false, 0, 1000);
    open_with(&mut s, 4, 3, false, 1, 10);
    s.pop(100, now).unwrap();
    assert_eq!(s.remove(0), 900);
    assert_eq!(s.total_queued(), 10);
    assert_eq!(s.stats().dropped, 900);
    assert_eq!(drain(&mut s, 100, now), vec![4]);
    assert_eq!(s.total_queued(), 0);
}

/// A chunk never spans two enqueued pieces: each piece is popped on its
/// own (quinn copies what it is given, so merging would only add a copy).
#[test]
fn pieces_are_not_merged() {
    let now = t0();
    let mut s = Scheduler::new(Policy::Rfc9218);
    s.open(0, Priority::default(), Order::request(0)).unwrap();
    for _ in 0..3 {
        s.enqueue(0, bytes(1, 3), now).unwrap();
    }
    let sizes: Vec<usize> = std::iter::from_fn(|| s.pop(16, now).map(|c| c.data.len())).collect();
    assert_eq!(sizes, vec![3, 3, 3]);
    assert_eq!(s.stats().decisions, 3);
}

/// Policy names parse and print.
#[test]
fn policy_names() {
    for (p, name) in Policy::ALL {
        assert_eq!(name.parse::<Policy>().unwrap(), p);
        assert_eq!(p.to_string(), name);
    }
    assert!("lifo".parse::<Policy>().is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Open { id: u8, u: u8, i: bool },
    Enqueue { id: u8, len: u16 },
    Finish { id: u8 },
    Reprio { id: u8, u: u8, i: bool },
    Pop { max: u16, take: Option<u16> },
    Block { id: u8 },
    UnblockAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..8, any::<bool>()).prop_map(|(id, u, i)| Op::Open { id, u, i }),
        (0u8..6, 1u16..3000).prop_map(|(id, len)| Op::Enqueue { id, len }),
        (0u8..6).prop_map(|id| Op::Finish { id }),
        (0u8..6, 0u8..8, any::<bool>()).prop_map(|(id, u, i)| Op::Reprio { id, u, i }),
        (1u16..2000, proptest::option::of(0u16..2000))
            .prop_map(|(max, take)| Op::Pop { max, take }),
        (0u8..6).prop_map(|id| Op::Block { id }),
        Just(Op::UnblockAll),
    ]
}

proptest! {
    /// Under every policy, whatever the interleaving of opens, enqueues,
    /// re-prioritisations, blocking and partial writes, every enqueued
    /// byte is popped exactly once, in order within its stream, and the
    /// FIN comes last.
    #[test]
    fn every_byte_once_and_in_order(ops in proptest::collection::vec(op(), 1..200), policy in 0usize..3) {
        let now = Instant::now();
        let mut s = Scheduler::new(Policy::ALL[policy].0);
        let mut sent_in: HashMap<StreamKey, Vec<u8>> = HashMap::new();
        let mut got: HashMap<StreamKey, Vec<u8>> = HashMap::new();
        let mut fin_got: HashMap<StreamKey, bool> = HashMap::new();
        let mut finished: HashMap<StreamKey, bool> = HashMap::new();
        let mut counter: u8 = 0;
        let deliver = |s: &mut Scheduler, c: Chunk, take: Option<u16>, got: &mut HashMap<StreamKey, Vec<u8>>, fin_got: &mut HashMap<StreamKey, bool>| {
            let n = take.map(|t| (t as usize).min(c.data.len())).unwrap_or(c.data.len());
            assert!(!fin_got.get(&c.stream).copied().unwrap_or(false), "data after FIN");
            got.entry(c.stream).or_default().extend_from_slice(&c.data[..n]);
            if n < c.data.len() {
                s.unsend(c.stream, c.data.slice(n..), c.fin, now).unwrap();
            } else if c.fin {
                fin_got.insert(c.stream, true);
            }
        };
        for op in ops {
            match op {
                Op::Open { id, u, i } => {
                    let id = StreamKey::from(id);
                    if let std::collections::hash_map::Entry::Vacant(e) = sent_in.entry(id) {
                        s.open(id, Priority::new(u, i), Order::request(id)).unwrap();
                        e.insert(Vec::new());
                    }
                }
                Op::Enqueue { id, len } => {
                    let id = StreamKey::from(id);
                    if sent_in.contains_key(&id) && !finished.get(&id).copied().unwrap_or(false) {
                        let data: Vec<u8> = (0..len).map(|_| { counter = counter.wrapping_add(1); counter }).collect();
                        sent_in.get_mut(&id).unwrap().extend_from_slice(&data);
                        s.enqueue(id, Bytes::from(data), now).unwrap();
                    }
                }
                Op::Finish { id } => {
                    let id = StreamKey::from(id);
                    if sent_in.contains_key(&id) {
                        s.finish(id).unwrap();
                        finished.insert(id, true);
                    }
                }
                Op::Reprio { id, u, i } => { s.set_priority(StreamKey::from(id), Priority::new(u, i)); }
                Op::Pop { max, take } => {
                    if let Some(c) = s.pop(max as usize, now) {
                        prop_assert!(c.data.len() <= max as usize);
                        deliver(&mut s, c, take, &mut got, &mut fin_got);
                    }
                }
                Op::Block { id } => s.block(StreamKey::from(id)),
                Op::UnblockAll => { s.unblock_all(); }
            }
        }
        // Finish everything and drain.
        s.unblock_all();
        for id in sent_in.keys() {
            s.finish(*id).unwrap();
        }
        let mut guard = 0;
        while let Some(c) = s.pop(700, now) {
            deliver(&mut s, c, None, &mut got, &mut fin_got);
            guard += 1;
            prop_assert!(guard < 100_000);
        }
        prop_assert_eq!(s.total_queued(), 0);
        for (id, data) in &sent_in {
            let empty = Vec::new();
            prop_assert_eq!(got.get(id).unwrap_or(&empty), data, "stream {}", id);
            prop_assert!(fin_got.get(id).copied().unwrap_or(false), "stream {} got no FIN", id);
            prop_assert!(s.is_drained(*id));
        }
    }
}

/// Pushes are always preemptible; a response is preemptible while a more
/// urgent response is open (even one with nothing queued yet, in its think
/// time), and urgent once it is the most urgent open one.
#[test]
fn preemptible_is_push_or_less_urgent_than_an_open_response() {
    let mut s = Scheduler::new(Policy::Rfc9218);
    assert_eq!(s.next_is_preemptible(), None);
    // The document, open but thinking (nothing queued).
    s.open(0, Priority::new(0, false), Order::request(0))
        .unwrap();
    // Its push, with data.
    s.open(
        15,
        Priority::new(4, false),
        Order::push_of(Order::request(0), 0),
    )
    .unwrap();
    s.enqueue(15, bytes(1, 100), t0()).unwrap();
    assert_eq!(s.next_is_preemptible(), Some(true));
    // A less urgent response with data, while the document thinks.
    open_with(&mut s, 4, 3, false, 1, 100);
    assert_eq!(s.peek(), Some(4));
    assert_eq!(s.next_is_preemptible(), Some(true));
    // The document's bytes arrive: urgent.
    s.enqueue(0, bytes(2, 100), t0()).unwrap();
    s.finish(0).unwrap();
    assert_eq!(s.next_is_preemptible(), Some(false));
    // Once the document's last byte has been popped, the u=3 response is the
    // most urgent open one: no longer preemptible; the push still is.
    while s.peek() == Some(0) {
        s.pop(1000, t0());
    }
    assert_eq!(s.peek(), Some(4));
    assert_eq!(s.next_is_preemptible(), Some(false));
    s.remove(4);
    assert_eq!(s.next_is_preemptible(), Some(true));
}
