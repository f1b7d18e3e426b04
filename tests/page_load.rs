//! The emulated browser end to end: the demo page loaded over an emulated
//! link (LTE) from pushlab, over HTTP/3 and over HTTP/2, cold and warm,
//! with and without push and hints; every resource arrives, times are
//! consistent with the link, pushes are adopted, the warm visit uses the
//! cache, and pushes of cached resources are cancelled. Needs root.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use pushlab::browser::{load_page, Cpu, HttpCache, LoadOptions, PageLoad, Source};
use pushlab::client::{ClientOptions, Proto};
use pushlab::netem::{Emulator, EmulatorOptions};
use pushlab::server::{RunningServer, ServerOptions};
use pushlab::tls::Identity;

/// Loads `page` twice from the client namespace (cold, then warm with the
/// first visit's cache).
fn cold_then_warm(emu: &Emulator, url: String, proto: Proto, push: bool) -> (PageLoad, PageLoad) {
    emu.in_client(move || {
        block_on_here(async move {
            let opts = LoadOptions {
                url,
                proto,
                accept_push: push,
                cpu: Cpu::default(),
                timeout: Duration::from_secs(60),
                client: ClientOptions {
                    insecure: true,
                    ..Default::default()
                },
            };
            let (cold, cache) = load_page(&opts, HttpCache::new()).await;
            let (warm, _) = load_page(&opts, cache).await;
            (cold, warm)
        })
    })
    .unwrap()
    .join()
    .unwrap()
}

fn demo_no_store() -> pushlab::site::Site {
    pushlab::site::Site::demo_with(|c| {
        let mut pc = c.for_path("/index.html");
        pc.cache_control = Some("no-store".into());
        c.set("/index.html", pc);
    })
}

#[test]
fn demo_page_over_both_protocols() {
    if !require_root("demo_page_over_both_protocols") {
        return;
    }
    let emu = Emulator::start(EmulatorOptions {
        up: pushlab::netem::profile("lte").unwrap().up,
        down: pushlab::netem::profile("lte").unwrap().down,
        ..EmulatorOptions::default()
    })
    .unwrap();
    let rtt = 70.0;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let total: u64 = demo_no_store()
        .graph()
        .evaluation_order("/index.html")
        .iter()
        .map(|p| demo_no_store().get(p).unwrap().len)
        .sum::<u64>()
        + demo_no_store().get("/index.html").unwrap().len;
    for policy in ["none", "push-all", "preload"] {
        let srv = rt.block_on(async {
            RunningServer::start(ServerOptions::new(
                SocketAddr::from((emu.server_addr, 0)),
                Identity::self_signed().unwrap(),
                pushlab::config::ServeOptions {
                    site: std::sync::Arc::new(demo_no_store()),
                    ..with_policy(policy)
                },
            ))
            .await
            .unwrap()
        });
        for proto in [Proto::H3, Proto::H2] {
            let url = format!("https://{}:{}/", emu.server_addr, srv.addr.port());
            let (cold, warm) = cold_then_warm(&emu, url, proto, policy == "push-all");
            let what = format!("{proto:?} {policy}");
            assert!(cold.error.is_none(), "{what}: {:?}", cold.error);
            let s = &cold.summary;
            // The document, its 10 subresources and the script-loaded one.
            assert_eq!(s.resources.len(), 12, "{what}: {:#?}", s.resources);
            assert_eq!(s.bytes_received, total, "{what}: every byte once");
            assert_eq!(s.bytes_wasted, 0, "{what}");
            let doc = &s.resources[0];
            assert!(
                doc.first_byte_ms.unwrap() >= rtt,
                "{what}: document in {:?} ms over a {rtt} ms RTT",
                doc.first_byte_ms
            );
            let (render, load) = (s.render_ready_ms.unwrap(), s.load_ms.unwrap());
            assert!(render <= load, "{what}: render {render} load {load}");
            let lazy = s
                .resources
                .iter()
                .find(|r| r.path == "/js/lazy.js")
                .unwrap();
            let app = s.resources.iter().find(|r| r.path == "/js/app.js").unwrap();
            if policy == "push-all" {
                assert_eq!(s.pushes_used, 11, "{what}");
                assert_eq!(lazy.source, Source::Pushed);
            } else if policy == "none" {
                // Found only once app.js has run.
                assert!(
                    lazy.discovered_ms >= app.evaluated_ms.unwrap() - 0.01,
                    "{what}"
                );
            } else {
                // Hinted (it is hidden from an HTML scan): found at once.
                assert_eq!(lazy.source, Source::Preloaded, "{what}");
                assert!(lazy.discovered_ms < app.evaluated_ms.unwrap(), "{what}");
            }
            if policy == "preload" {
                let style = s
                    .resources
                    .iter()
                    .find(|r| r.path == "/css/style.css")
                    .unwrap();
                assert_eq!(style.source, Source::Preloaded, "{what}: {s:#?}");
            }
            // The warm visit: the document again (no-store), the rest from
            // the cache; what push-all pushes again the browser cancels at
            // its promise (it holds it), and whatever of it still arrives
            // is wasted.
            assert!(warm.error.is_none(), "{what} warm: {:?}", warm.error);
            let w = &warm.summary;
            assert_eq!(w.cached, 11, "{what} warm");
            assert!(w.load_ms.unwrap() < load, "{what}: warm not faster");
            if policy == "push-all" {
                assert_eq!(w.pushes.len(), 11, "{what}: {w:#?}");
                for p in &w.pushes {
                    assert_eq!(
                        p.cancelled,
                        Some(pushlab::browser::model::CancelReason::HttpCache),
                        "{what}: {p:?}"
                    );
                }
                assert_eq!(w.pushes_used, 0);
            } else {
                assert_eq!(w.bytes_wasted, 0, "{what} warm");
            }
        }
        rt.block_on(srv.shutdown());
    }
    emu.stop();
}
