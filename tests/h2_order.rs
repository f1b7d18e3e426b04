//! HTTP/2 responses of equal urgency, asked for together, come in stream
//! order: one test, in a binary of its own. Its check is timing-sensitive
//! (the server waits at most 2 ms for handlers of requests that arrived
//! together), and beside the other raw-frame tests of `h2_rules.rs`, which
//! share the 2 cores, it failed 7 to 9 of 40 connections where alone it
//! fails 0 to 3.

mod common;
#[path = "common/h2peer.rs"]
mod h2peer;

use std::sync::Arc;

use common::*;
use h2peer::*;
use pushlab::config::ServeOptions;

//= https://www.rfc-editor.org/rfc/rfc9218#section-10
//# It is RECOMMENDED that, when possible, servers respect the urgency
//# parameter (Section 4.1), sending higher-urgency responses before
//# lower-urgency responses.
/// Requests of equal urgency that are not incremental, arriving together
/// (one write), are answered one after another in stream order, whatever
/// order their handler tasks run in: h2 writes streams round-robin in the
/// order their first frame was queued, so the server must not let a later
/// stream's HEADERS or DATA reach h2 first. Two worker threads, as
/// `pushlab serve` runs here: a handler may run on the other one at once.
///
/// The server waits at most 2 ms for the handlers of requests that
/// arrived together (`sched::arrivals::MAX_WAIT`), so a handler that the
/// runtime starts later than that still loses its turn: measured here, 1
/// or 2 of 40 connections out of order, against 10 to 22 of 40 before the
/// server announced every decoded request at once, held DATA back for
/// other streams' HEADERS and waited beyond one yield. So the test allows
/// 6 of 40.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_arrive_together_are_served_in_stream_order() {
    // Static files, read into memory at load: each response is queued
    // whole, so the order shows the scheduler's choice, not a generator
    // that has not produced its next chunk yet.
    let dir = std::env::temp_dir().join(format!("pushlab-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["a.js", "b.js", "c.js", "page.html"] {
        std::fs::write(dir.join(f), vec![b'x'; 10_000]).unwrap();
    }
    let site = pushlab::site::Site::load(&dir).unwrap();
    let srv = server(ServeOptions {
        site: Arc::new(site),
        ..ServeOptions::default()
    })
    .await;
    let mut wrong = Vec::new();
    for round in 0..40 {
        // A browser's windows (6 MB per stream): flow control holds
        // nothing back, as with Chromium and the emulated browser.
        let mut p = Peer::connect(srv.addr.port(), &[(0x4, 6 << 20)]).await;
        p.send(&frame(WINDOW_UPDATE, 0, 0, &(15u32 << 20).to_be_bytes()))
            .await;
        // A page first, as a browser loads it; then three requests, each
        // in its own TLS record, sent at once.
        p.send(&get(1, "/page.html")).await;
        p.until("the page", |f| f.stream == 1 && f.flags & END_STREAM != 0)
            .await;
        for (s, path) in [(3, "/a.js"), (5, "/b.js"), (7, "/c.js")] {
            p.send(&get(s, path)).await;
        }
        let mut order: Vec<u32> = Vec::new();
        let mut ended = std::collections::HashSet::new();
        while ended.len() < 3 {
            let f = p.next().await.expect("the responses");
            if f.ty != DATA {
                continue;
            }
            if !f.payload.is_empty() && order.last() != Some(&f.stream) {
                order.push(f.stream);
            }
            if f.flags & END_STREAM != 0 {
                ended.insert(f.stream);
            }
        }
        if order != [3, 5, 7] {
            let frames: Vec<String> = p
                .seen
                .iter()
                .filter(|f| f.stream >= 3)
                .map(|f| format!("{}@{}:{}", f.ty, f.stream, f.payload.len()))
                .collect();
            wrong.push((round, order, frames));
        }
    }
    eprintln!("out of order: {} of 40", wrong.len());
    assert!(
        wrong.len() <= 6,
        "DATA out of stream order on {} of 40 connections: {wrong:?}",
        wrong.len()
    );
    srv.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
