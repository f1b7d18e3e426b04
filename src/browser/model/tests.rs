//! The page-load model against hand-fed events.

use super::*;

const DOC: &str = r#"<!doctype html><html><head>
        <link rel="stylesheet" href="/a.css">
        <script src="/1.js"></script>
        <script src="/3.js" async></script>
        </head><body><img src="/i.png"><p>hi</p></body></html>"#;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn cacheable() -> Vec<(String, String)> {
    h(&[("cache-control", "public, max-age=3600"), ("etag", "\"x\"")])
}

fn paths(reqs: &[OutRequest]) -> Vec<&str> {
    reqs.iter().map(|r| r.path.as_str()).collect()
}

fn prio<'a>(reqs: &'a [OutRequest], path: &str) -> &'a str {
    reqs.iter()
        .find(|r| r.path == path)
        .and_then(|r| r.headers.iter().find(|(n, _)| n == "priority"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn respond(p: &mut Page, path: &str, now: f64, body: &str) {
    p.advance(now);
    p.on_response(
        path,
        200,
        &cacheable(),
        Bytes::from(body.to_string()),
        Some(now),
        now,
        None,
    );
}

/// A cold load: the document first, then everything its HTML names at
/// once with Chromium's priorities; the CSS reveals a font; the
/// blocking script runs after the CSS and reveals what it loads; load
/// and render-ready follow from that.
#[test]
fn cold_load_discovers_prioritises_and_runs() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/"]);
    assert_eq!(prio(&r, "/"), "u=0, i");
    p.advance(10.0);
    p.on_response(
        "/",
        200,
        &h(&[("cache-control", "no-cache"), ("etag", "\"d\"")]),
        Bytes::from(DOC),
        Some(8.0),
        10.0,
        None,
    );
    // Blink's tight mode: the async script (Low) waits while two requests
    // are in flight; the image, of unknown size, is boosted to Medium and
    // goes (fewer than two Medium ones in flight).
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/a.css", "/1.js", "/i.png"]);
    assert_eq!(prio(&r, "/a.css"), "u=0");
    assert_eq!(prio(&r, "/1.js"), "u=1");
    assert_eq!(prio(&r, "/i.png"), "u=2, i");
    // The script arrives before the stylesheet: it must wait for it.
    respond(
        &mut p,
        "/1.js",
        20.0,
        "document.write('<script src=\"/2.js\"></script>'); x = '/lazy.js';",
    );
    assert!(p.resource("/1.js").unwrap().evaluated_ms.is_none());
    // The stylesheet declares a font, fetched only at the first layout;
    // with one request left in flight, the async script may start.
    respond(&mut p, "/a.css", 30.0, "@font-face { src: url(/f.woff2) }");
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/3.js"]);
    assert_eq!(prio(&r, "/3.js"), "u=3");
    // 1.js runs from 30 ms for 2 ms (base) + its size.
    let end = p.next_wakeup().unwrap();
    assert!(end > 32.0 && end < 33.0, "{end}");
    p.advance(end);
    // The written script blocks the parser; lazy.js (Low) is held: three
    // requests in flight and the parser still in the head.
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/2.js"]);
    assert_eq!(prio(&r, "/2.js"), "u=1", "written scripts block the parser");
    assert!(p.summary().dom_done_ms.is_none(), "parser waits for 2.js");
    respond(&mut p, "/2.js", 40.0, "");
    p.advance(p.next_wakeup().unwrap());
    // 2.js has run: the parser inserts the body (tight mode ends, lazy.js
    // goes) and the first layout fetches the font.
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/lazy.js", "/f.woff2"]);
    assert_eq!(prio(&r, "/lazy.js"), "u=3");
    assert_eq!(prio(&r, "/f.woff2"), "u=0");
    for (path, t) in [
        ("/3.js", 41.0),
        ("/i.png", 42.0),
        ("/f.woff2", 43.0),
        ("/lazy.js", 44.0),
    ] {
        respond(&mut p, path, t, "");
    }
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    assert!(p.finished());
    let s = p.summary();
    // Render-ready: document, a.css, 1.js and 2.js run.
    let two = p.resource("/2.js").unwrap().evaluated_ms.unwrap();
    assert_eq!(s.render_ready_ms, Some(two));
    // The first layout (no layout or paint cost here) is the FCP proxy.
    assert_eq!(s.fcp_ms, Some(two));
    assert!(s.speed_index_ms.unwrap() >= two);
    assert!(s.load_ms.unwrap() >= 44.0);
    assert_eq!(s.bytes_wasted, 0);
}

/// A push is adopted by a later discovery (no request), used once; a
/// push of something the page already asked for is wasted, as is one
/// never used.
#[test]
fn push_cache_semantics() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.advance(1.0);
    assert_eq!(p.on_promise("/a.css"), PromiseAnswer::Accept);
    assert_eq!(p.on_promise("/unused.png"), PromiseAnswer::Accept);
    p.advance(5.0);
    p.on_push_done(
        "/a.css",
        &cacheable(),
        Some(Bytes::from_static(b"body{}")),
        6,
        4.0,
        5.0,
    );
    p.on_push_done(
        "/unused.png",
        &cacheable(),
        Some(Bytes::from(vec![0u8; 500])),
        500,
        4.0,
        5.0,
    );
    respond(&mut p, "/", 10.0, DOC);
    let r = p.take_requests();
    assert!(!paths(&r).contains(&"/a.css"), "pushed: not requested");
    let a = p.resource("/a.css").unwrap();
    assert_eq!(a.source, Source::Pushed);
    assert_eq!(a.requested_ms, Some(1.0));
    assert_eq!(a.done_ms, Some(10.0), "available once discovered");
    // A promise for what the page already requested comes too late.
    assert_eq!(p.on_promise("/i.png"), PromiseAnswer::Accept);
    p.on_push_done(
        "/i.png",
        &cacheable(),
        Some(Bytes::from(vec![1u8; 300])),
        300,
        11.0,
        12.0,
    );
    assert_eq!(p.resource("/i.png").unwrap().source, Source::Network);
    let s = p.summary();
    assert_eq!(s.pushes_used, 1);
    assert_eq!(s.pushes_wasted, 2);
    assert_eq!(s.bytes_wasted, 800);
}

/// A push that is still arriving when the page needs it is waited for.
#[test]
fn pending_push_is_waited_for() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    assert_eq!(p.on_promise("/a.css"), PromiseAnswer::Accept);
    respond(&mut p, "/", 10.0, DOC);
    assert!(!paths(&p.take_requests()).contains(&"/a.css"));
    assert!(p.resource("/a.css").unwrap().done_ms.is_none());
    p.advance(15.0);
    p.on_push_done(
        "/a.css",
        &cacheable(),
        Some(Bytes::from_static(b"x{}")),
        3,
        12.0,
        15.0,
    );
    assert_eq!(p.resource("/a.css").unwrap().done_ms, Some(15.0));
}

/// A warm visit: fresh responses come from the cache with no request,
/// the no-cache document is revalidated (a 304 reuses its body, so
/// discovery still works), cookies are sent, and a push of a cached
/// resource is cancelled (what of it arrives is wasted).
#[test]
fn warm_cache_and_cookies() {
    let mut cache = HttpCache::new();
    cache.store(
        "/",
        &h(&[("cache-control", "no-cache"), ("etag", "\"d1\"")]),
        Bytes::from(DOC),
    );
    for path in ["/a.css", "/1.js", "/3.js", "/i.png"] {
        cache.store(path, &cacheable(), Bytes::from_static(b""));
    }
    cache.store(
        "/nostore",
        &h(&[("cache-control", "no-store")]),
        Bytes::new(),
    );
    cache.set_cookies(&h(&[("set-cookie", "digest=abc; Path=/; Secure")]));
    assert_eq!(cache.len(), 5);
    let mut p = Page::new("/", cache, Cpu::default());
    let r = p.take_requests();
    let doc = &r[0];
    assert!(doc
        .headers
        .contains(&("if-none-match".into(), "\"d1\"".into())));
    assert!(doc
        .headers
        .contains(&("cookie".into(), "digest=abc".into())));
    // Fresh in the HTTP cache: the push is cancelled, and whatever of it
    // still arrives is wasted.
    assert_eq!(
        p.on_promise("/a.css"),
        PromiseAnswer::Cancel(CancelReason::HttpCache)
    );
    p.on_push_done(
        "/a.css",
        &cacheable(),
        Some(Bytes::from(vec![0u8; 1000])),
        1000,
        1.0,
        2.0,
    );
    p.advance(5.0);
    p.on_response("/", 304, &[], Bytes::new(), Some(5.0), 5.0, None);
    assert_eq!(p.resource("/").unwrap().source, Source::Revalidated);
    assert!(p.take_requests().is_empty(), "all subresources fresh");
    assert_eq!(p.resource("/a.css").unwrap().source, Source::Cached);
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    let s = p.summary();
    assert!(p.finished());
    assert_eq!(s.cached, 4);
    assert_eq!(s.bytes_wasted, 1000);
    assert_eq!(s.pushes_used, 0);
}

/// 103 Early Hints start preloads with the urgency of their `as`,
/// incremental as Chromium's browser process sends them; the parser later
/// finds them already under way.
#[test]
fn early_hints_preload() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.advance(2.0);
    p.on_informational(
        "/",
        103,
        &h(&[
            ("link", "</a.css>; rel=preload; as=style"),
            (
                "link",
                "</f.woff2>; rel=preload; as=font; crossorigin, </x.js>; rel=modulepreload",
            ),
        ]),
    );
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/a.css", "/f.woff2"]);
    assert_eq!(
        prio(&r, "/a.css"),
        "u=0, i",
        "a preloaded stylesheet is urgent"
    );
    assert_eq!(prio(&r, "/f.woff2"), "u=1, i");
    assert_eq!(p.resource("/a.css").unwrap().source, Source::Preloaded);
    respond(&mut p, "/", 300.0, DOC);
    let r = p.take_requests();
    assert!(!paths(&r).contains(&"/a.css"));
    assert!(p.resource("/a.css").unwrap().render_blocking);
    let busy = p.on_informational("/", 200, &h(&[("link", "</z.css>; rel=preload; as=style")]));
    assert!(p.take_requests().is_empty(), "only 103s are hints");
    assert_eq!(busy, 0.0);
}

/// A hinted script that arrives before the document only waits: it
/// runs when the parser reaches it (classic) or when the document
/// references it (async), never before the document has arrived.
#[test]
fn preloaded_scripts_run_only_when_referenced() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.advance(1.0);
    p.on_informational(
        "/",
        103,
        &h(&[(
            "link",
            "</1.js>; rel=preload; as=script, </3.js>; rel=preload; as=script",
        )]),
    );
    p.take_requests();
    respond(&mut p, "/1.js", 50.0, "var a = 1;");
    respond(&mut p, "/3.js", 60.0, "var b = 2;");
    p.advance(200.0);
    assert!(p.resource("/1.js").unwrap().evaluated_ms.is_none());
    assert!(p.resource("/3.js").unwrap().evaluated_ms.is_none());
    respond(&mut p, "/", 300.0, DOC);
    respond(&mut p, "/a.css", 400.0, "p { }");
    p.advance(1000.0);
    for s in ["/1.js", "/3.js"] {
        let ev = p.resource(s).unwrap().evaluated_ms.unwrap();
        assert!(ev >= 300.0, "{s} ran at {ev} ms, before the document");
    }
}

/// A 103's preloads are requested `hint_ms` after it arrives (Chromium's
/// browser process makes them), are not held by tight mode even when
/// below High, and the load is not over while they are due; a resource
/// the page requested before they were is not requested again.
#[test]
fn hint_preloads_wait_hint_ms() {
    let cpu = Cpu {
        hint_ms: 30.0,
        ..Cpu::default()
    };
    let mut p = Page::new("/", HttpCache::new(), cpu);
    p.take_requests();
    p.advance(70.0);
    let links = "</a.css>; rel=preload; as=style, </x.png>; rel=preload; as=image, \
                 </y.png>; rel=preload; as=image, </z.png>; rel=preload; as=image";
    assert_eq!(
        p.on_informational("/", 103, &h(&[("link", links)])),
        30.0,
        "busy"
    );
    assert!(p.take_requests().is_empty(), "nothing before hint_ms");
    assert_eq!(p.next_wakeup(), Some(100.0));
    assert!(!p.finished());
    p.advance(100.0);
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/a.css", "/x.png", "/y.png", "/z.png"]);
    assert!(p.resource("/z.png").unwrap().hinted);
    assert_eq!(p.resource("/z.png").unwrap().discovered_ms, 100.0);

    // The document came first: its stylesheet is the page's request.
    let mut p = Page::new("/", HttpCache::new(), cpu);
    p.take_requests();
    p.advance(70.0);
    p.on_informational("/", 103, &h(&[("link", "</a.css>; rel=preload; as=style")]));
    respond(&mut p, "/", 80.0, DOC);
    assert!(paths(&p.take_requests()).contains(&"/a.css"));
    p.advance(100.0);
    assert!(p.take_requests().is_empty(), "no second request");
    assert!(!p.resource("/a.css").unwrap().hinted);

    // Every preload fresh in the HTTP cache: the network thread has no
    // request to set up, so no busy time, and no preload starts (the
    // renderer reads the cache itself when the page asks).
    let mut cache = HttpCache::new();
    cache.store("/a.css", &cacheable(), Bytes::from_static(b"p{}"));
    cache.store("/x.png", &cacheable(), Bytes::from_static(b"png"));
    let mut p = Page::new("/", cache.clone(), cpu);
    p.take_requests();
    p.advance(70.0);
    let both = "</a.css>; rel=preload; as=style, </x.png>; rel=preload; as=image";
    assert_eq!(p.on_informational("/", 103, &h(&[("link", both)])), 0.0);
    p.advance(100.0);
    assert!(p.resource("/x.png").is_none(), "a cached preload started");
    assert!(p.take_requests().is_empty());
    // One of them not cached: busy again, and only that one is requested.
    let mut p = Page::new("/", cache, cpu);
    p.take_requests();
    p.advance(70.0);
    let three = format!("{both}, </y.png>; rel=preload; as=image");
    assert_eq!(p.on_informational("/", 103, &h(&[("link", &three)])), 30.0);
    p.advance(100.0);
    assert_eq!(paths(&p.take_requests()), vec!["/y.png"]);
    assert!(p.resource("/a.css").is_none());
}

/// A warm load with a 103 whose preloads the HTTP cache holds takes as
/// long as the same warm load without the 103: the cache reads start
/// when the page asks, not at the 103.
#[test]
fn a_103_of_cached_resources_gains_a_warm_load_nothing() {
    let cpu = Cpu {
        hint_ms: 30.0,
        cache_read_ms: 5.0,
        ..Cpu::default()
    };
    let mut cache = HttpCache::new();
    cache.store("/a.css", &cacheable(), Bytes::from_static(b"p { }"));
    cache.store("/1.js", &cacheable(), Bytes::from_static(b"var a = 1;"));
    cache.store("/3.js", &cacheable(), Bytes::from_static(b"var b = 2;"));
    cache.store("/i.png", &cacheable(), Bytes::from_static(b"png"));
    let load = |hint: bool| {
        let mut p = Page::new("/", cache.clone(), cpu);
        p.take_requests();
        p.advance(40.0);
        if hint {
            let links = "</a.css>; rel=preload; as=style, </1.js>; rel=preload; as=script";
            assert_eq!(p.on_informational("/", 103, &h(&[("link", links)])), 0.0);
        }
        respond(&mut p, "/", 80.0, DOC);
        for t in (81..400).map(f64::from) {
            p.advance(t);
        }
        assert!(p.take_requests().is_empty(), "all cached");
        assert!(p.finished());
        let s = p.summary();
        let css = p.resource("/a.css").unwrap();
        assert_eq!(css.source, Source::Cached);
        assert!(!css.hinted);
        (s.load_ms.unwrap(), css.requested_ms.unwrap())
    };
    let (plain, css_plain) = load(false);
    let (hinted, css_hinted) = load(true);
    assert_eq!(hinted, plain, "the 103 changed the warm load");
    assert_eq!(css_hinted, css_plain);
}

/// A failed document ends the load; failed subresources do not hang it.
#[test]
fn failures_end_the_load() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.on_response("/", 0, &[], Bytes::new(), None, 3.0, Some("reset".into()));
    assert!(p.finished());
    assert!(p.summary().load_ms.is_some());
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    respond(&mut p, "/", 1.0, DOC);
    for path in ["/a.css", "/1.js", "/3.js", "/i.png"] {
        p.on_response(path, 0, &[], Bytes::new(), None, 2.0, Some("reset".into()));
    }
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    assert!(p.finished());
}

/// The document is read as it arrives, from `commit_ms` after its first
/// byte: the preload scanner requests what the first chunk names before
/// the rest has come, a tag cut in two waits for its end, and the parser
/// finishes only with the whole document.
#[test]
fn document_is_read_as_it_arrives() {
    let cpu = Cpu {
        commit_ms: 50.0,
        ..Cpu::default()
    };
    let mut p = Page::new("/", HttpCache::new(), cpu);
    p.take_requests();
    p.advance(100.0);
    p.on_body_chunk("/", b"<html><head><link rel=stylesheet href=/a.css><scr");
    assert!(p.take_requests().is_empty(), "not before the commit");
    assert_eq!(p.next_wakeup(), Some(150.0));
    p.advance(150.0);
    assert_eq!(paths(&p.take_requests()), vec!["/a.css"]);
    p.advance(160.0);
    p.on_body_chunk("/", b"ipt src=/1.js async></script></head><body>");
    assert_eq!(paths(&p.take_requests()), vec!["/1.js"]);
    respond(&mut p, "/a.css", 170.0, "");
    respond(&mut p, "/1.js", 180.0, "");
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    assert!(
        p.summary().dom_done_ms.is_none(),
        "the document is not complete"
    );
    assert!(!p.finished());
    p.advance(200.0);
    let rest = "<img src=/i.png width=10 height=10></body></html>";
    p.on_body_chunk("/", rest.as_bytes());
    let whole = format!(
        "<html><head><link rel=stylesheet href=/a.css><script src=/1.js async></script></head><body>{rest}"
    );
    assert!(p.summary().dom_done_ms.is_none());
    p.advance(210.0);
    p.on_response("/", 200, &[], Bytes::from(whole), Some(100.0), 210.0, None);
    assert_eq!(paths(&p.take_requests()), vec!["/i.png"]);
    respond(&mut p, "/i.png", 220.0, "");
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    assert!(p.finished());
    assert_eq!(p.summary().dom_done_ms, Some(210.0));
}

/// `Link: rel=preload` on the document's final response starts preloads,
/// as a 103's does.
#[test]
fn link_preload_on_the_final_response() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.advance(10.0);
    p.on_response(
        "/",
        200,
        &h(&[("link", "</f.woff2>; rel=preload; as=font; crossorigin")]),
        Bytes::from("<html><body>hi</body></html>"),
        Some(9.0),
        10.0,
        None,
    );
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/f.woff2"]);
    assert_eq!(prio(&r, "/f.woff2"), "u=1", "a preloaded font is High");
    assert!(p.resource("/f.woff2").unwrap().hinted);
}

/// A classic script waits for the stylesheets before it and for what they
/// import; a script that loads on DOMContentLoaded does so only when the
/// parser has finished.
#[test]
fn imports_block_scripts_and_dcl_loads_wait() {
    let doc = "<html><head><link rel=stylesheet href=/a.css><script src=/app.js></script>\
               </head><body><p>x</p></body></html>";
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    respond(&mut p, "/", 10.0, doc);
    assert_eq!(paths(&p.take_requests()), vec!["/a.css", "/app.js"]);
    respond(
        &mut p,
        "/app.js",
        20.0,
        "document.addEventListener(\"DOMContentLoaded\", f); s.src = \"/lazy.js\";",
    );
    respond(&mut p, "/a.css", 30.0, "@import url(/b.css);");
    assert_eq!(paths(&p.take_requests()), vec!["/b.css"]);
    p.advance(40.0);
    assert!(
        p.resource("/app.js").unwrap().evaluated_ms.is_none(),
        "app.js waits for the import"
    );
    respond(&mut p, "/b.css", 50.0, "");
    let end = p.next_wakeup().unwrap();
    p.advance(end);
    assert!(p.resource("/app.js").unwrap().evaluated_ms.is_some());
    // The parser finished right after app.js ran: DOMContentLoaded.
    assert_eq!(paths(&p.take_requests()), vec!["/lazy.js"]);
    assert_eq!(p.summary().dom_done_ms, Some(end));
}

/// The first rendering update holds the main thread for `render_ms`,
/// `layout_ms` after rendering is unblocked: the parser's end
/// (DOMContentLoaded, and what waits for it) comes after it, as does a
/// script that arrives meanwhile, and the load event; fonts are requested
/// as it starts. Without `render_ms` the parser ends at once, as before.
#[test]
fn the_first_rendering_update_holds_the_main_thread() {
    let doc = "<html><head><link rel=stylesheet href=/a.css><script src=/app.js></script>\
               </head><body><p>x</p></body></html>";
    let cpu = Cpu {
        layout_ms: 5.0,
        render_ms: 30.0,
        ..Cpu::default()
    };
    let mut p = Page::new("/", HttpCache::new(), cpu);
    p.take_requests();
    respond(&mut p, "/", 10.0, doc);
    assert_eq!(paths(&p.take_requests()), vec!["/a.css", "/app.js"]);
    respond(
        &mut p,
        "/a.css",
        20.0,
        "@font-face { src: url(/f.woff2); } body { font-family: f; }",
    );
    respond(
        &mut p,
        "/app.js",
        30.0,
        "document.addEventListener(\"DOMContentLoaded\", f); s.src = \"/lazy.js\";",
    );
    // app.js runs 2 ms + its size, then rendering is unblocked.
    let ran = p.next_wakeup().unwrap();
    p.advance(ran);
    let ran = p.resource("/app.js").unwrap().evaluated_ms.unwrap();
    assert!(
        p.summary().dom_done_ms.is_none(),
        "the parser yields to the rendering update"
    );
    assert!(p.take_requests().is_empty());
    // The update starts layout_ms later and requests the font.
    p.advance(ran + 5.0);
    assert_eq!(paths(&p.take_requests()), vec!["/f.woff2"]);
    assert_eq!(p.summary().fcp_ms, Some(ran + 5.0));
    // A script that arrives during it waits for it (lazy.js is not asked
    // for yet: DOMContentLoaded has not come).
    p.advance(ran + 20.0);
    assert!(p.summary().dom_done_ms.is_none());
    assert_eq!(p.next_wakeup(), Some(ran + 35.0));
    p.advance(ran + 35.0);
    assert_eq!(p.summary().dom_done_ms, Some(ran + 35.0));
    assert_eq!(paths(&p.take_requests()), vec!["/lazy.js"]);
    respond(&mut p, "/f.woff2", ran + 36.0, "font");
    respond(&mut p, "/lazy.js", ran + 40.0, "x = 1;");
    let end = p.next_wakeup().unwrap();
    p.advance(end);
    assert!(p.finished());
    assert_eq!(p.summary().load_ms, Some(end));

    // Without render_ms the parser ends once the update has started.
    let mut p = Page::new(
        "/",
        HttpCache::new(),
        Cpu {
            layout_ms: 5.0,
            ..Cpu::default()
        },
    );
    p.take_requests();
    respond(&mut p, "/", 10.0, doc);
    p.take_requests();
    respond(&mut p, "/a.css", 20.0, "");
    respond(&mut p, "/app.js", 30.0, "x = 1;");
    let ran = p.next_wakeup().unwrap();
    p.advance(ran);
    p.advance(ran + 5.0);
    assert_eq!(p.summary().dom_done_ms, Some(ran + 5.0));
    assert!(p.finished());
    assert_eq!(p.summary().load_ms, Some(ran + 5.0));
}

/// A web font that arrives after the first layout makes another
/// rendering update, `font_render_ms` long: an async script that arrives
/// meanwhile runs after it, and the load event waits for it. A font that
/// arrives before the first layout (a 103's preload) makes none.
#[test]
fn a_late_web_font_makes_another_rendering_update() {
    let doc = "<html><head><link rel=stylesheet href=/a.css><script src=/app.js></script>\
               </head><body><p>x</p></body></html>";
    let css = "@font-face { src: url(/f.woff2); } body { font-family: f; }";
    let app = "document.addEventListener(\"DOMContentLoaded\", f); s.src = \"/lazy.js\";";
    let cpu = |font_render_ms| Cpu {
        layout_ms: 5.0,
        render_ms: 30.0,
        font_render_ms,
        ..Cpu::default()
    };
    // Returns (lazy.js's evaluation start, load) for a font at `font_at`
    // ms after app.js ran (lazy.js arrives 1 ms after DOMContentLoaded).
    let load = |font_render_ms: f64, font_at: f64| {
        let mut p = Page::new("/", HttpCache::new(), cpu(font_render_ms));
        p.take_requests();
        respond(&mut p, "/", 10.0, doc);
        respond(&mut p, "/a.css", 20.0, css);
        respond(&mut p, "/app.js", 30.0, app);
        p.advance(p.next_wakeup().unwrap());
        let ran = p.resource("/app.js").unwrap().evaluated_ms.unwrap();
        p.advance(ran + 35.0);
        assert_eq!(p.summary().dom_done_ms, Some(ran + 35.0));
        let mut events = [(ran + font_at, "/f.woff2"), (ran + 36.0, "/lazy.js")];
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, path) in events {
            respond(&mut p, path, at, "x = 1;");
        }
        while let Some(t) = p.next_wakeup() {
            p.advance(t);
        }
        assert!(p.finished());
        let lazy = p.resource("/lazy.js").unwrap().evaluated_ms.unwrap();
        (lazy - ran, p.summary().load_ms.unwrap() - ran)
    };
    // Font at +35.5: the update runs to +45.5, then lazy.js.
    let (lazy_ran, loaded) = load(10.0, 35.5);
    let run = Cpu::default().script_base_ms + Cpu::default().script_ms_per_kb * 6.0 / 1024.0;
    assert!(
        (lazy_ran - (45.5 + run)).abs() < 1e-9,
        "lazy.js ran at +{lazy_ran}"
    );
    assert_eq!(loaded, lazy_ran);
    // Without the cost, as before: lazy.js runs on arrival.
    let (lazy_ran, _) = load(0.0, 35.5);
    assert!(
        (lazy_ran - (36.0 + run)).abs() < 1e-9,
        "lazy.js ran at +{lazy_ran}"
    );
    // A font that arrives last: the load event waits for its update.
    let (lazy_ran, loaded) = load(10.0, 50.0);
    assert!(lazy_ran < 50.0);
    assert!((loaded - 60.0).abs() < 1e-9, "load at +{loaded}");

    // A hinted font in before the first layout: no second update.
    let mut p = Page::new("/", HttpCache::new(), cpu(10.0));
    p.take_requests();
    p.advance(5.0);
    p.on_informational(
        "/",
        103,
        &h(&[("link", "</f.woff2>; rel=preload; as=font; crossorigin")]),
    );
    p.take_requests();
    respond(&mut p, "/f.woff2", 8.0, "font");
    respond(&mut p, "/", 10.0, doc);
    respond(&mut p, "/a.css", 20.0, css);
    respond(&mut p, "/app.js", 30.0, "x = 1;");
    while let Some(t) = p.next_wakeup() {
        p.advance(t);
    }
    assert!(p.finished());
    let ran = p.resource("/app.js").unwrap().evaluated_ms.unwrap();
    assert_eq!(p.summary().load_ms, Some(ran + 35.0), "render only");
}

/// The load event waits for a rendering update under way when the rest
/// is done, not for one that starts after it.
#[test]
fn the_load_event_waits_for_a_rendering_update_under_way() {
    let doc =
        "<html><head><link rel=stylesheet href=/a.css></head><body><img src=/i.png></body></html>";
    let cpu = Cpu {
        layout_ms: 5.0,
        render_ms: 30.0,
        ..Cpu::default()
    };
    for (image_at, load) in [(40.0, 55.0), (15.0, 20.0)] {
        let mut p = Page::new("/", HttpCache::new(), cpu);
        p.take_requests();
        respond(&mut p, "/", 10.0, doc);
        if image_at < 20.0 {
            respond(&mut p, "/i.png", image_at, "png");
        }
        // The stylesheet unblocks rendering: the update runs 25 to 55.
        respond(&mut p, "/a.css", 20.0, "p { color: red; }");
        if image_at > 20.0 {
            respond(&mut p, "/i.png", image_at, "png");
        }
        assert!(!p.finished(), "the update holds the main thread");
        p.advance(55.0);
        assert!(p.finished());
        assert_eq!(p.summary().load_ms, Some(load), "image at {image_at}");
    }
}

/// Blink's image boost: the first five images that are not small are
/// Medium; a small one (10,000 px² or less, or a zero side) and the sixth
/// are Low, and in tight mode Low ones wait while two requests are in
/// flight, and a third Medium one while two Medium ones are.
#[test]
fn image_boost_and_tight_mode() {
    let mut doc = String::from(
        "<html><head><link rel=stylesheet href=/a.css><script src=/1.js></script></head><body>\
         <img src=/small.png width=100 height=100><img src=/zero.png width=0 height=500>",
    );
    for k in 1..=6 {
        doc.push_str(&format!("<img src=/big{k}.png width=200 height=200>"));
    }
    doc.push_str("</body></html>");
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    respond(&mut p, "/", 10.0, &doc);
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/a.css", "/1.js", "/big1.png", "/big2.png"]);
    assert_eq!(prio(&r, "/big1.png"), "u=2, i");
    // The stylesheet and a Medium image done: one more Medium may go.
    respond(&mut p, "/a.css", 20.0, "");
    respond(&mut p, "/big1.png", 21.0, "");
    assert_eq!(paths(&p.take_requests()), vec!["/big3.png"]);
    // The head script runs: the body is inserted, everything held goes,
    // highest priority first.
    respond(&mut p, "/1.js", 30.0, "");
    p.advance(p.next_wakeup().unwrap());
    let r = p.take_requests();
    assert_eq!(
        paths(&r),
        vec![
            "/big4.png",
            "/big5.png",
            "/small.png",
            "/zero.png",
            "/big6.png"
        ]
    );
    assert_eq!(prio(&r, "/big5.png"), "u=2, i");
    assert_eq!(prio(&r, "/big6.png"), "u=3, i");
    assert_eq!(prio(&r, "/small.png"), "u=3, i");
    assert_eq!(prio(&r, "/zero.png"), "u=3, i");
}

/// Push-cache rule: the browser cancels a push of what it already holds,
/// fresh in the HTTP cache or unused in the push cache; the push it holds
/// stays usable, and the cancelled one is never adopted.
#[test]
fn pushes_of_what_the_page_holds_are_cancelled() {
    let mut cache = HttpCache::new();
    cache.store("/a.css", &cacheable(), Bytes::from_static(b"body{}"));
    let mut p = Page::new("/", cache, Cpu::default());
    p.take_requests();
    assert_eq!(
        p.on_promise("/a.css"),
        PromiseAnswer::Cancel(CancelReason::HttpCache)
    );
    assert_eq!(p.on_promise("/1.js"), PromiseAnswer::Accept);
    assert_eq!(
        p.on_promise("/1.js"),
        PromiseAnswer::Cancel(CancelReason::PushCache),
        "a second promise while the first is unused"
    );
    p.advance(5.0);
    p.on_push_done(
        "/1.js",
        &cacheable(),
        Some(Bytes::from_static(b"x")),
        1,
        4.0,
        5.0,
    );
    respond(&mut p, "/", 10.0, DOC);
    let r = p.take_requests();
    assert!(!paths(&r).contains(&"/a.css"), "from the HTTP cache");
    assert!(!paths(&r).contains(&"/1.js"), "from the push cache");
    assert_eq!(p.resource("/a.css").unwrap().source, Source::Cached);
    assert_eq!(p.resource("/1.js").unwrap().source, Source::Pushed);
    // Once used, a new promise of it is a duplicate, also cancelled.
    assert!(matches!(p.on_promise("/1.js"), PromiseAnswer::Cancel(_)));
    let s = p.summary();
    let a = s.pushes.iter().find(|x| x.path == "/a.css").unwrap();
    assert_eq!(a.cancelled, Some(CancelReason::HttpCache));
    assert!(!a.failed && !a.claimed);
    assert_eq!(s.pushes_used, 1);
}

/// Push-cache rule: a pushed response is matched with HTTP semantics. It
/// varies on `cookie`, it was promised with the document request's (none),
/// and the document set a cookie: the page's request differs, so the
/// push is not used and the page requests it. Without the cookie it is.
#[test]
fn pushes_are_matched_on_vary() {
    let varies = |cookie: bool| {
        let mut p = Page::new("/", HttpCache::new(), Cpu::default());
        p.take_requests();
        assert_eq!(p.on_promise("/a.css"), PromiseAnswer::Accept);
        let mut pushed = cacheable();
        pushed.push(("vary".into(), "Cookie".into()));
        p.advance(5.0);
        p.on_push_done(
            "/a.css",
            &pushed,
            Some(Bytes::from_static(b"x{}")),
            3,
            4.0,
            5.0,
        );
        p.advance(10.0);
        let mut doc = cacheable();
        if cookie {
            doc.push(("set-cookie".into(), "session=1; Path=/".into()));
        }
        p.on_response("/", 200, &doc, Bytes::from(DOC), Some(10.0), 10.0, None);
        (p.take_requests(), p)
    };
    let (r, p) = varies(true);
    assert!(paths(&r).contains(&"/a.css"), "requested: {:?}", paths(&r));
    let a = r.iter().find(|x| x.path == "/a.css").unwrap();
    assert!(a
        .headers
        .iter()
        .any(|(n, v)| n == "cookie" && v == "session=1"));
    assert_eq!(p.resource("/a.css").unwrap().source, Source::Network);
    let s = p.summary();
    assert!(s.pushes[0].vary_mismatch && !s.pushes[0].claimed);
    let (r, p) = varies(false);
    assert!(!paths(&r).contains(&"/a.css"));
    assert_eq!(p.resource("/a.css").unwrap().source, Source::Pushed);

    // A push adopted while still arriving is checked when it completes.
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.on_promise_at("/a.css", 1.0, &h(&[("accept-language", "fr")]));
    p.advance(10.0);
    p.on_response(
        "/",
        200,
        &cacheable(),
        Bytes::from(DOC),
        Some(10.0),
        10.0,
        None,
    );
    assert!(
        !paths(&p.take_requests()).contains(&"/a.css"),
        "taken on trust"
    );
    p.advance(20.0);
    let mut pushed = cacheable();
    pushed.push(("vary".into(), "accept-language".into()));
    p.on_push_done(
        "/a.css",
        &pushed,
        Some(Bytes::from_static(b"x{}")),
        3,
        15.0,
        20.0,
    );
    assert_eq!(
        paths(&p.take_requests()),
        vec!["/a.css"],
        "requested after all"
    );
    let a = p.resource("/a.css").unwrap();
    assert_eq!((a.source, a.requested_ms), (Source::Network, Some(20.0)));
    assert!(!a.priority.is_empty());
}

#[test]
fn vary_matching() {
    let resp = |v: &str| h(&[("vary", v)]);
    let none: Vec<(String, String)> = Vec::new();
    assert!(vary_matches(&none, &none, &h(&[("cookie", "a=1")])));
    assert!(vary_matches(&resp("accept-encoding"), &none, &none));
    assert!(vary_matches(
        &resp("Accept-Encoding, Cookie"),
        &h(&[("cookie", "a=1"), ("accept-encoding", "gzip")]),
        &h(&[("Accept-Encoding", "gzip"), ("Cookie", "a=1")])
    ));
    assert!(!vary_matches(
        &resp("cookie"),
        &none,
        &h(&[("cookie", "a=1")])
    ));
    assert!(!vary_matches(&resp("*"), &none, &none));
    assert!(vary_matches(&resp(" , "), &none, &none));
}

/// Push-cache rule: requests without credentials use a connection of
/// their own: a push of the same resource on the page's connection is
/// not found, the request carries no cookie, and it says which
/// connection it needs.
#[test]
fn requests_without_credentials_miss_the_push_cache() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    assert_eq!(p.on_promise("/data.json"), PromiseAnswer::Accept);
    p.advance(5.0);
    p.on_push_done(
        "/data.json",
        &cacheable(),
        Some(Bytes::from_static(b"{}")),
        2,
        4.0,
        5.0,
    );
    let doc = r#"<html><head><script src="/app.js" async></script></head><body></body></html>"#;
    p.advance(10.0);
    let mut hs = cacheable();
    hs.push(("set-cookie".into(), "s=1".into()));
    p.on_response("/", 200, &hs, Bytes::from(doc), Some(10.0), 10.0, None);
    assert_eq!(paths(&p.take_requests()), vec!["/app.js"]);
    respond(
        &mut p,
        "/app.js",
        20.0,
        "fetch('/data.json', {credentials: 'omit'});",
    );
    p.advance(30.0);
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/data.json"]);
    assert!(r[0].anonymous);
    assert!(!r[0].headers.iter().any(|(n, _)| n == "cookie"));
    let d = p.resource("/data.json").unwrap();
    assert!(d.anonymous && d.source == Source::Network);
    respond(&mut p, "/data.json", 40.0, "{}");
    let s = p.summary();
    assert_eq!((s.pushes_used, s.pushes_wasted), (0, 1));
}

/// Push-cache rule: the push cache belongs to the connection. A push the
/// first page left unused is found by the next page on that connection
/// (`carry_push`, which the driver calls only for the same connection),
/// counted as used there and not as its bytes.
#[test]
fn the_push_cache_is_shared_by_pages_on_a_connection() {
    let mut first = Page::new("/", HttpCache::new(), Cpu::default());
    first.take_requests();
    first.on_promise("/other.css");
    first.advance(5.0);
    first.on_push_done(
        "/other.css",
        &cacheable(),
        Some(Bytes::from_static(b"o{}")),
        3,
        4.0,
        5.0,
    );
    respond(&mut first, "/", 10.0, "<html><body>first</body></html>");
    assert_eq!(first.unused_pushes(), vec!["/other.css".to_string()]);

    let mut second = Page::new("/2.html", first.cache().clone(), Cpu::default());
    second.carry_push("/other.css", &[], &cacheable(), Bytes::from_static(b"o{}"));
    second.take_requests();
    let doc = r#"<html><head><link rel="stylesheet" href="/other.css"></head><body></body></html>"#;
    respond(&mut second, "/2.html", 10.0, doc);
    assert!(second.take_requests().is_empty());
    let o = second.resource("/other.css").unwrap();
    assert_eq!((o.source, o.done_ms), (Source::Pushed, Some(10.0)));
    let s = second.summary();
    assert_eq!(s.pushes_used, 1);
    assert!(s.pushes[0].carried);
    assert_eq!(
        s.bytes_received,
        doc.len() as u64,
        "the document's bytes only"
    );
    assert!(second.unused_pushes().is_empty(), "used once");
    // A new promise of it while the carried copy is unused is cancelled.
    let mut third = Page::new("/3.html", HttpCache::new(), Cpu::default());
    third.carry_push("/other.css", &[], &cacheable(), Bytes::from_static(b"o{}"));
    assert_eq!(
        third.on_promise("/other.css"),
        PromiseAnswer::Cancel(CancelReason::PushCache)
    );
    // Left unused here too: the earlier page's waste, not this one's (the
    // cancelled second promise has no record of its own).
    let s = third.summary();
    assert_eq!((s.pushes_used, s.pushes_wasted), (0, 0));
    assert!(s.pushes.iter().any(|p| p.carried && !p.claimed));
}

/// The document's header fields act before its body: a cookie it sets
/// goes with the requests the preload scanner makes from the first chunk,
/// and its `Link` preloads start then too.
#[test]
fn response_head_before_the_body() {
    let mut p = Page::new("/", HttpCache::new(), Cpu::default());
    p.take_requests();
    p.advance(10.0);
    p.on_response_head(
        "/",
        200,
        &h(&[
            ("set-cookie", "s=7; Path=/"),
            ("link", "</f.woff2>; rel=preload; as=font; crossorigin"),
        ]),
    );
    let r = p.take_requests();
    assert_eq!(paths(&r), vec!["/f.woff2"]);
    p.on_body_chunk("/", &DOC.as_bytes()[..DOC.len() / 2]);
    let r = p.take_requests();
    let css = r.iter().find(|x| x.path == "/a.css").expect("scanned");
    assert!(css.headers.contains(&("cookie".into(), "s=7".into())));
    // A 304's fields are the cached response's business: no preloads.
    let mut q = Page::new("/", HttpCache::new(), Cpu::default());
    q.take_requests();
    q.on_response_head("/", 304, &h(&[("link", "</x.css>; rel=preload; as=style")]));
    assert!(q.take_requests().is_empty());
}

/// Chromium's HTTP cache is below Blink's scheduler: a cached resource
/// is requested like any other (tight mode holds it alike) and its body
/// is there `cache_read_ms` later. What a cached stylesheet imports is
/// found only once it has been read, and the blocking script waits for
/// both.
#[test]
fn cache_reads_take_time_and_are_scheduled() {
    let doc = r#"<!doctype html><html><head>
        <link rel="stylesheet" href="/a.css">
        <script src="/1.js"></script>
        </head><body><img src="/i1.png" width=10 height=10><img src="/i2.png" width=10 height=10>
        <img src="/i3.png" width=10 height=10></body></html>"#;
    let mut cache = HttpCache::new();
    cache.store(
        "/a.css",
        &cacheable(),
        Bytes::from_static(b"@import url(/b.css);"),
    );
    for path in ["/b.css", "/1.js", "/i1.png", "/i2.png", "/i3.png"] {
        cache.store(path, &cacheable(), Bytes::from_static(b""));
    }
    let cpu = Cpu {
        cache_read_ms: 10.0,
        ..Cpu::default()
    };
    let mut p = Page::new("/", cache, cpu);
    p.take_requests();
    respond(&mut p, "/", 100.0, doc);
    assert!(p.take_requests().is_empty(), "everything is cached");
    let a = p.resource("/a.css").unwrap();
    assert_eq!(
        (a.source, a.requested_ms, a.done_ms),
        (Source::Cached, Some(100.0), None)
    );
    // Tight mode: two reads in flight (a.css, 1.js) hold the small images.
    assert_eq!(p.resource("/i1.png").unwrap().requested_ms, None);
    assert_eq!(p.next_wakeup(), Some(110.0));
    p.advance(110.0);
    assert_eq!(p.resource("/a.css").unwrap().done_ms, Some(110.0));
    let b = p.resource("/b.css").unwrap();
    assert_eq!((b.requested_ms, b.done_ms), (Some(110.0), None));
    while let Some(w) = p.next_wakeup() {
        p.advance(w);
    }
    assert!(p.finished());
    assert_eq!(p.resource("/b.css").unwrap().done_ms, Some(120.0));
    // The script ran once the imported stylesheet was in (2 ms).
    assert_eq!(p.resource("/1.js").unwrap().evaluated_ms, Some(122.0));
    // Every image was read, none before a read slot was free.
    for img in ["/i1.png", "/i2.png", "/i3.png"] {
        let r = p.resource(img).unwrap();
        assert!(r.requested_ms.unwrap() >= 110.0, "{img}: {r:?}");
        assert_eq!(r.done_ms, Some(r.requested_ms.unwrap() + 10.0));
    }
    assert_eq!(p.summary().cached, 7 - 1);
}

/// A visit's first cache read takes `cache_open_ms` longer, and reads made
/// while it is under way end no earlier than it; later reads take
/// `cache_read_ms`.
#[test]
fn a_visits_first_cache_read_takes_longer() {
    let doc = r#"<html><head><link rel="stylesheet" href="/a.css">
        <link rel="stylesheet" href="/b.css"></head>
        <body><img src="/i.png" width=200 height=200></body></html>"#;
    let done = |cache_open_ms: f64| {
        let mut cache = HttpCache::new();
        cache.store(
            "/a.css",
            &cacheable(),
            Bytes::from_static(b"@import url(/c.css);"),
        );
        for path in ["/b.css", "/c.css", "/i.png"] {
            cache.store(path, &cacheable(), Bytes::from_static(b""));
        }
        let cpu = Cpu {
            cache_read_ms: 2.0,
            cache_open_ms,
            ..Cpu::default()
        };
        let mut p = Page::new("/", cache, cpu);
        p.take_requests();
        respond(&mut p, "/", 100.0, doc);
        while let Some(w) = p.next_wakeup() {
            p.advance(w);
        }
        assert!(p.finished());
        ["/a.css", "/b.css", "/i.png", "/c.css"].map(|path| {
            let r = p.resource(path).unwrap();
            (r.requested_ms.unwrap(), r.done_ms.unwrap())
        })
    };
    // a.css opens the cache (100 to 110); b.css and the image, asked for
    // meanwhile, end with it; c.css, found in a.css at 110, takes 2 ms.
    assert_eq!(
        done(8.0),
        [
            (100.0, 110.0),
            (100.0, 110.0),
            (100.0, 110.0),
            (110.0, 112.0)
        ]
    );
    assert_eq!(
        done(0.0),
        [
            (100.0, 102.0),
            (100.0, 102.0),
            (100.0, 102.0),
            (102.0, 104.0)
        ]
    );
}

/// A response is acted on when the main thread has handed it to the page
/// (`Cpu::handover`, by kind, one at a time, in arrival order): a blocking
/// script whose response arrived during a stylesheet's hand-over runs after
/// both; its response end stays the network's; the load event waits for
/// the last hand-over. Without the cost, as before.
#[test]
fn responses_are_acted_on_when_the_main_thread_hands_them_over() {
    let doc = "<html><head><link rel=stylesheet href=/a.css><script src=/app.js></script>\
               </head><body><img src=/i.png></body></html>";
    let load = |handover: Handover| {
        let cpu = Cpu {
            handover,
            ..Cpu::default()
        };
        let mut p = Page::new("/", HttpCache::new(), cpu);
        p.take_requests();
        respond(&mut p, "/", 10.0, doc);
        respond(&mut p, "/a.css", 20.0, "body { color: red; }");
        respond(&mut p, "/app.js", 21.0, "x = 1;");
        while let Some(t) = p.next_wakeup() {
            p.advance(t);
        }
        respond(&mut p, "/i.png", 100.0, "img");
        while let Some(t) = p.next_wakeup() {
            p.advance(t);
        }
        assert!(p.finished());
        let app = p.resource("/app.js").unwrap().clone();
        assert_eq!(app.done_ms, Some(21.0), "the network's response end");
        let start = app.evaluated_ms.unwrap() - Cpu::default().script_base_ms - 6.0 / 1024.0;
        (start, p.summary().load_ms.unwrap())
    };
    // a.css handed over 20 to 23, app.js queued behind it until 24: it
    // runs then. The image, last in at 100 ms, is handed over by 102 ms.
    let (start, loaded) = load(Handover {
        style_ms: 3.0,
        script_ms: 1.0,
        image_ms: 2.0,
        ..Handover::default()
    });
    assert!((start - 24.0).abs() < 1e-9, "app.js started at {start}");
    assert!((loaded - 102.0).abs() < 1e-9, "load at {loaded}");
    // Without the cost the script starts on arrival, the load at 100.
    let (start, loaded) = load(Handover::default());
    assert!((start - 21.0).abs() < 1e-9, "app.js started at {start}");
    assert_eq!(loaded, 100.0);
}

/// Where the parser's end goes first (`Cpu::parser_end_first`, Chromium on
/// the push-order page), a page with nothing left to load fires its load
/// event when the parser ends, and the first rendering update starts then;
/// otherwise the update goes first and the load event waits for it.
#[test]
fn the_parser_may_end_before_the_first_rendering_update() {
    let doc = "<html><head><script src=/1.js></script></head><body><p>text</p></body></html>";
    let load = |parser_end_first: bool| {
        let cpu = Cpu {
            render_ms: 10.0,
            parser_end_first,
            ..Cpu::default()
        };
        let mut p = Page::new("/", HttpCache::new(), cpu);
        p.take_requests();
        respond(&mut p, "/", 10.0, doc);
        respond(&mut p, "/1.js", 20.0, "x = 1;");
        while let Some(t) = p.next_wakeup() {
            p.advance(t);
        }
        assert!(p.finished());
        let ran = p.resource("/1.js").unwrap().evaluated_ms.unwrap();
        let s = p.summary();
        (
            s.dom_done_ms.unwrap() - ran,
            s.load_ms.unwrap() - ran,
            s.fcp_ms.unwrap() - ran,
        )
    };
    assert_eq!(load(true), (0.0, 0.0, 0.0));
    assert_eq!(load(false), (10.0, 10.0, 0.0));
}

/// A script read from the HTTP cache costs `cached_script_base_ms` (+ per
/// KB) when calibrated; one from the network, or any without that
/// calibration, the cold cost.
#[test]
fn a_cached_script_has_its_own_cost() {
    let doc = "<html><head><script src=/a.js></script><script src=/b.js></script></head>\
               <body></body></html>";
    let ran = |cached_script_base_ms: f64| {
        let mut cache = HttpCache::new();
        cache.store("/a.js", &cacheable(), Bytes::from_static(b"x = 1;"));
        let cpu = Cpu {
            script_base_ms: 4.0,
            script_ms_per_kb: 0.0,
            cached_script_base_ms,
            ..Cpu::default()
        };
        let mut p = Page::new("/", cache, cpu);
        p.take_requests();
        respond(&mut p, "/", 10.0, doc);
        respond(&mut p, "/b.js", 20.0, "y = 1;");
        while let Some(t) = p.next_wakeup() {
            p.advance(t);
        }
        assert!(p.finished());
        let a = p.resource("/a.js").unwrap();
        let b = p.resource("/b.js").unwrap();
        assert_eq!(a.source, Source::Cached);
        (
            a.evaluated_ms.unwrap() - a.done_ms.unwrap(),
            b.evaluated_ms.unwrap() - b.done_ms.unwrap().max(a.evaluated_ms.unwrap()),
        )
    };
    assert_eq!(ran(1.5), (1.5, 4.0));
    assert_eq!(ran(0.0), (4.0, 4.0));
}
