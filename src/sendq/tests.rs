//! Ordering tests of the queue against a recording sink.

use super::*;

/// A transport stream that takes everything and logs what it took, in
/// order, for the ordering tests below.
struct Recorder(StreamKey, Arc<parking_lot::Mutex<Vec<StreamKey>>>);

impl StreamSink for Recorder {
    fn poll_send(
        &mut self,
        _cx: &mut Context<'_>,
        data: &Bytes,
        _fin: bool,
    ) -> Poll<Result<usize, WriteFailure>> {
        self.1.lock().push(self.0);
        Poll::Ready(Ok(data.len()))
    }
    fn reset(&mut self, _why: Abandon) {}
}

fn queue() -> Arc<SendQueue<Recorder>> {
    SendQueue::new(
        Box::new(NoWindow),
        SendConfig::default(),
        Arc::new(Gauges::default()),
    )
}

/// Three requests arrive together; the handler of the least urgent runs
/// first (as tokio runs the task spawned last first) and queues 64 KB.
/// The most urgent response still goes first: the queue waits until
/// every request that arrived has queued its response.
#[tokio::test(flavor = "current_thread")]
async fn requests_arriving_together_go_by_urgency() {
    let q = queue();
    let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let pump = tokio::spawn(q.clone().run_pump());
    tokio::task::yield_now().await;
    for (id, u) in [(0u64, 0u8), (4, 1), (8, 5)] {
        q.register(
            id,
            Recorder(id, log.clone()),
            Order::request(id),
            Priority::new(u, false),
        );
    }
    let mut handlers = Vec::new();
    for id in [8u64, 0, 4] {
        let q = q.clone();
        handlers.push(tokio::spawn(async move {
            q.enqueue_last(id, Bytes::from(vec![0u8; 64 * 1024]))
                .unwrap();
        }));
    }
    for h in handlers {
        h.await.unwrap();
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let order: Vec<StreamKey> = log.lock().clone();
    assert_eq!(order.first(), Some(&0), "{order:?}");
    let firsts: Vec<StreamKey> = order.iter().fold(Vec::new(), |mut v, id| {
        if !v.contains(id) {
            v.push(*id);
        }
        v
    });
    assert_eq!(firsts, vec![0, 4, 8]);
    q.close("done");
    pump.await.unwrap();
}

/// A request that has not queued anything (a slow backend) holds
/// nothing up; an announcement withdrawn restores the direct path.
#[tokio::test(flavor = "current_thread")]
async fn a_thinking_request_delays_nothing() {
    let q = queue();
    let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let pump = tokio::spawn(q.clone().run_pump());
    tokio::task::yield_now().await;
    q.register(
        0,
        Recorder(0, log.clone()),
        Order::request(0),
        Priority::new(0, false),
    );
    q.register(
        4,
        Recorder(4, log.clone()),
        Order::request(4),
        Priority::new(5, false),
    );
    q.enqueue_last(4, Bytes::from_static(b"ready")).unwrap();
    // The pump waits for the starting request at most MAX_WAIT, then
    // writes what is ready.
    let t0 = std::time::Instant::now();
    while log.lock().is_empty() && t0.elapsed() < std::time::Duration::from_secs(1) {
        tokio::task::yield_now().await;
    }
    assert_eq!(*log.lock(), vec![4], "written although 0 has not started");
    assert_eq!(q.lock().arrivals.starting(), 1);
    q.release(0);
    q.release(4);
    assert_eq!(q.lock().arrivals.starting(), 0);
    let a = q.announce();
    assert_eq!(q.lock().arrivals.starting(), 1);
    drop(a);
    assert_eq!(q.lock().arrivals.starting(), 0);
    // With nothing starting, an enqueue is written at once, inline.
    q.register(
        8,
        Recorder(8, log.clone()),
        Order::request(8),
        Priority::new(3, false),
    );
    let a = q.announce();
    drop(a);
    q.enqueue_last(8, Bytes::from_static(b"now")).unwrap_or(());
    assert_eq!(*log.lock(), vec![4, 8]);
    q.close("done");
    pump.await.unwrap();
}
