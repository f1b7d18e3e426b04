//! Each policy's plan for the demo page under chosen congestion windows,
//! cache states and request headers.

use super::*;
use crate::reply::{respond, CoreOptions};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

fn req(method: Method, target: &str, headers: &[(&str, &str)]) -> RequestHead {
    let mut h = HeaderMap::new();
    for (n, v) in headers {
        h.append(
            http::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    RequestHead {
        method,
        target: target.into(),
        headers: h,
    }
}

fn plan_with(
    policy: &dyn PushPolicy,
    site: &Site,
    request: &RequestHead,
    cwnd: u64,
    state: &ConnPushState,
) -> Plan {
    let reply = respond(site, request, &CoreOptions::default());
    policy.plan(&PlanInput {
        site,
        request,
        reply: &reply,
        conn: ConnView {
            protocol: "h3",
            push_allowed: true,
            cwnd: Some(cwnd),
            in_flight: None,
        },
        state,
    })
}

fn plan(policy: &dyn PushPolicy, cwnd: u64) -> Plan {
    let site = Site::demo();
    plan_with(
        policy,
        &site,
        &req(Method::GET, "/", &[]),
        cwnd,
        &ConnPushState::default(),
    )
}

fn paths(p: &Plan) -> Vec<&str> {
    p.pushes.iter().map(|i| i.path.as_str()).collect()
}

#[test]
fn none_does_nothing() {
    assert_eq!(plan(&NoPush, 1 << 30), Plan::default());
}

/// push-all pushes every subresource in evaluation order, whatever the window.
#[test]
fn push_all_pushes_everything_in_evaluation_order() {
    let p = plan(&PushAll, 1000);
    let got = paths(&p);
    assert_eq!(
        &got[..5],
        &[
            "/css/style.css",
            "/css/theme.css",
            "/fonts/body.woff2",
            "/js/app.js",
            "/js/lazy.js"
        ]
    );
    assert!(got.contains(&"/img/hero.png"));
    assert_eq!(
        got.len(),
        Site::demo().graph().evaluation_order("/index.html").len()
    );
    assert!(p.hints.is_empty());
}

/// rot fills the window in evaluation order and stops at the first
/// resource that does not fit; with the document alone over the window,
/// nothing is pushed.
#[test]
fn rot_fills_the_window_and_no_more() {
    let doc = Site::demo().get("/index.html").unwrap().len;
    assert!(
        paths(&plan(&Rot, 5_000)).is_empty(),
        "document alone exceeds the window"
    );
    assert!(
        paths(&plan(&Rot, 14_720)).is_empty(),
        "style.css (14 KB) does not fit after the 9 KB document"
    );
    let site = Site::demo();
    for cwnd in [30_000, 60_000, 100_000, 150_000, 1_000_000] {
        // The expected plan: the longest prefix of the evaluation order
        // that fits in the window together with the document.
        let mut want = Vec::new();
        let mut used = doc;
        for p in site.graph().evaluation_order("/index.html") {
            let len = site.get(&p).unwrap().len;
            if used + len > cwnd {
                break;
            }
            used += len;
            want.push(p);
        }
        let p = plan(&Rot, cwnd);
        assert_eq!(
            paths(&p),
            want.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "cwnd {cwnd}"
        );
        assert!(!want.is_empty() || cwnd < doc + 14_000);
    }
}

/// cache-aware skips what the cookie says the client has, and tells the
/// client (in a cookie) what it now has.
#[test]
fn cache_aware_skips_cached_and_sets_the_digest() {
    let site = Site::demo();
    let fp = |p: &str| gcs::fingerprint(p, &site.get(p).unwrap().etag);
    let cookie = format!(
        "{}={}",
        gcs::COOKIE,
        gcs::to_cookie(&[fp("/css/style.css"), fp("/fonts/body.woff2")])
    );
    let state = ConnPushState::default();
    let p = plan_with(
        &CacheAware,
        &site,
        &req(Method::GET, "/", &[("cookie", &cookie)]),
        100_000,
        &state,
    );
    let got = paths(&p);
    assert!(
        !got.contains(&"/css/style.css") && !got.contains(&"/fonts/body.woff2"),
        "{got:?}"
    );
    assert!(got.contains(&"/css/theme.css") && got.contains(&"/js/app.js"));
    let (name, value) = &p.response_headers[0];
    assert_eq!(name, "set-cookie");
    let digest = value.split(';').next().unwrap().split_once('=').unwrap().1;
    let set = gcs::from_cookie(digest).unwrap();
    for path in [
        "/css/style.css",
        "/fonts/body.woff2",
        "/css/theme.css",
        "/js/app.js",
        "/index.html",
    ] {
        assert!(set.contains(&fp(path)), "{path} in the new digest");
    }
    // The client comes back with the new cookie: nothing it holds is pushed.
    let cookie = value.split(';').next().unwrap().to_string();
    let again = plan_with(
        &CacheAware,
        &site,
        &req(Method::GET, "/", &[("cookie", &cookie)]),
        100_000,
        &ConnPushState::default(),
    );
    assert!(paths(&again).is_empty(), "{:?}", paths(&again));
    // A corrupt cookie counts as an empty cache.
    let p = plan_with(
        &CacheAware,
        &site,
        &req(Method::GET, "/", &[("cookie", "pushlab-cache=!!!")]),
        100_000,
        &ConnPushState::default(),
    );
    assert!(paths(&p).contains(&"/css/style.css"));
}

/// preload hints the hidden and critical subresources and pushes nothing.
#[test]
fn preload_hints_hidden_and_critical() {
    let p = plan(&Preload, 1 << 30);
    assert!(p.pushes.is_empty());
    assert_eq!(
        p.hints,
        vec![
            "</css/style.css>; rel=preload; as=style",
            "</css/theme.css>; rel=preload; as=style",
            "</fonts/body.woff2>; rel=preload; as=font; crossorigin",
            "</js/app.js>; rel=preload; as=script",
            "</js/lazy.js>; rel=preload; as=script",
        ]
    );
}

/// push-preload pushes what fills the window and hints the rest.
#[test]
fn push_preload_splits() {
    let p = plan(&PushPreload, 30_000);
    assert_eq!(paths(&p), vec!["/css/style.css", "/css/theme.css"]);
    assert_eq!(
        p.hints,
        vec![
            "</fonts/body.woff2>; rel=preload; as=font; crossorigin",
            "</js/app.js>; rel=preload; as=script",
            "</js/lazy.js>; rel=preload; as=script",
        ]
    );
}

/// Nothing is pushed or hinted for a subresource, a HEAD, a POST or a 304.
#[test]
fn only_successful_document_gets() {
    let site = Site::demo();
    let st = ConnPushState::default();
    for r in [
        req(Method::GET, "/css/style.css", &[]),
        req(Method::HEAD, "/", &[]),
        req(Method::POST, "/", &[]),
        req(Method::GET, "/nope.html", &[]),
    ] {
        assert!(
            plan_with(&PushAll, &site, &r, 1 << 30, &st)
                .pushes
                .is_empty(),
            "{} {}",
            r.method,
            r.target
        );
        assert!(plan_with(&Preload, &site, &r, 1 << 30, &st)
            .hints
            .is_empty());
    }
    let etag = site.get("/index.html").unwrap().etag.clone();
    let cond = req(Method::GET, "/", &[("if-none-match", &etag)]);
    assert!(
        plan_with(&PushAll, &site, &cond, 1 << 30, &st)
            .pushes
            .is_empty(),
        "304"
    );
}

/// Rule 4: a resource that varies on a header the parent request does not
/// carry is not pushed; one whose header it carries is pushed with it;
/// `Vary: *`, `no-store` and `private` never are.
#[test]
fn vary_and_cacheability() {
    let cfg = crate::site::SiteConfig::parse(
        r#"
        [paths."/ua.js"]
        vary = "User-Agent"
        [paths."/star.js"]
        vary = "*"
        [paths."/secret.js"]
        cache_control = "private, max-age=60"
        [paths."/nostore.js"]
        cache_control = "no-store"
        "#,
    )
    .unwrap();
    let mut site = Site::empty("t", cfg);
    let html = b"<script src=/ua.js></script><script src=/star.js></script><script src=/secret.js></script><script src=/nostore.js></script><script src=/ok.js></script>";
    site.insert(
        "/index.html".into(),
        crate::site::Body::Static(Bytes::from_static(html)),
        html.len() as u64,
        "\"i\"".into(),
        std::time::SystemTime::now(),
    );
    for p in ["/ua.js", "/star.js", "/secret.js", "/nostore.js", "/ok.js"] {
        site.insert(
            p.into(),
            crate::site::Body::Static(Bytes::from_static(b"1")),
            1,
            "\"x\"".into(),
            std::time::SystemTime::now(),
        );
    }
    site.build_graph();
    let st = ConnPushState::default();
    let p = plan_with(&PushAll, &site, &req(Method::GET, "/", &[]), 1 << 30, &st);
    assert_eq!(paths(&p), vec!["/ok.js"]);
    let p = plan_with(
        &PushAll,
        &site,
        &req(Method::GET, "/", &[("user-agent", "test/1")]),
        1 << 30,
        &st,
    );
    assert_eq!(paths(&p), vec!["/ua.js", "/ok.js"]);
    assert_eq!(
        p.pushes[0].request_headers,
        vec![("user-agent".to_string(), "test/1".to_string())]
    );
}

#[test]
fn names_resolve() {
    assert_eq!(
        POLICY_NAMES,
        [
            "none",
            "push-all",
            "rot",
            "cache-aware",
            "preload",
            "push-preload",
            "bdp",
            "push-all-bdp"
        ]
    );
    assert_eq!(policy_by_name("bdp:20000").unwrap().name(), "bdp");
    assert_eq!(
        policy_by_name("push-all-bdp:35000").unwrap().name(),
        "push-all-bdp"
    );
    for bad in ["bdp:", "bdp:0", "bdp:20k", "push-all-bdp:-5", "bdp20000"] {
        assert!(policy_by_name(bad).is_none(), "{bad}");
    }
    for n in POLICY_NAMES {
        assert_eq!(policy_by_name(n).unwrap().name(), *n);
    }
    assert!(policy_by_name("push-everything").is_none());
}

/// Pushes get the priority the emulated browser would request them with
/// (`site::chromium`): a stylesheet by whether it blocks rendering or is
/// preloaded, not by whether it is hidden; a script by whether it blocks
/// the parser or is preloaded.
#[test]
fn pushes_get_the_browsers_priorities() {
    let p = plan(&PushAll, 1 << 30);
    let prio = |p: &Plan, path: &str| {
        p.pushes
            .iter()
            .find(|i| i.path == path)
            .and_then(|i| i.priority)
            .map(|pr| pr.to_string())
    };
    for (path, want) in [
        ("/css/style.css", "u=0"),
        ("/css/theme.css", "u=0"),
        ("/fonts/body.woff2", "u=0"),
        ("/js/app.js", "u=1"),
        ("/js/lazy.js", "u=3"),
        ("/img/hero.png", "u=3, i"),
    ] {
        assert_eq!(prio(&p, path).as_deref(), Some(want), "{path}");
    }
    let mut site = Site::empty("t", crate::site::SiteConfig::default());
    let html = b"<html><head><link rel=stylesheet href=/print.css media=print>\
        <link rel=preload href=/pre.css as=style><link rel=preload href=/pre.js as=script>\
        <script src=/async.js async></script></head><body></body></html>";
    let now = std::time::SystemTime::now();
    site.insert_static("/index.html", html.to_vec(), now);
    for path in ["/print.css", "/pre.css", "/pre.js", "/async.js"] {
        site.insert_static(path, b"x".to_vec(), now);
    }
    site.build_graph();
    let p = plan_with(
        &PushAll,
        &site,
        &req(Method::GET, "/", &[]),
        1 << 30,
        &ConnPushState::default(),
    );
    for (path, want) in [
        ("/print.css", "u=4"),
        ("/pre.css", "u=0"),
        ("/pre.js", "u=1"),
        ("/async.js", "u=3"),
    ] {
        assert_eq!(prio(&p, path).as_deref(), Some(want), "{path}");
    }
}

/// The Rules of Thumb's push-order page: 1.js (5 KB) writes 2.js; 2.js,
/// 3.js and 4.js are 10 KB.
fn push_order_site() -> Site {
    let mut site = Site::empty("t", crate::site::SiteConfig::default());
    let now = std::time::SystemTime::now();
    let html = b"<html><head><script src=/1.js></script><script src=/3.js></script>\
        <script src=/4.js></script></head><body></body></html>";
    site.insert_static("/index.html", html.to_vec(), now);
    let mut one = b"document.write('<script src=\"/2.js\"></script>');\n".to_vec();
    one.resize(5_000, b' ');
    site.insert_static("/1.js", one, now);
    for p in ["/2.js", "/3.js", "/4.js"] {
        site.insert_static(p, vec![b' '; 10_000], now);
    }
    site.build_graph();
    site
}

/// `bdp:20000` on the push-order page (1.js 5 KB writes 2.js 10 KB; 3.js
/// and 4.js 10 KB): with the document, the first subresources in
/// evaluation order whose total just crosses 20 KB (1.js, 2.js, 3.js);
/// later requests on the connection push only what was neither pushed nor
/// asked for; a fresh connection asking for 1.js gets 2.js with it.
#[test]
fn bdp_pushes_children_of_any_request_once_per_connection() {
    let site = push_order_site();
    let bdp = policy_by_name("bdp:20000").unwrap();
    let st = ConnPushState::default();
    let get = |p: &str| req(Method::GET, p, &[]);
    let p = plan_with(&*bdp, &site, &get("/index.html"), 0, &st);
    assert_eq!(paths(&p), vec!["/1.js", "/2.js", "/3.js"]);
    let p = plan_with(&*bdp, &site, &get("/4.js"), 0, &st);
    assert!(p.pushes.is_empty());
    let p = plan_with(&*bdp, &site, &get("/1.js"), 0, &st);
    assert!(p.pushes.is_empty());
    let fresh = ConnPushState::default();
    let p = plan_with(&*bdp, &site, &get("/1.js"), 0, &fresh);
    assert_eq!(paths(&p), vec!["/2.js"]);
    // Asked for 4.js first: the document's pushes skip it and cross the
    // budget with what is left.
    let fresh = ConnPushState::default();
    plan_with(&*bdp, &site, &get("/4.js"), 0, &fresh);
    let p = plan_with(&*bdp, &site, &get("/index.html"), 0, &fresh);
    assert_eq!(paths(&p), vec!["/1.js", "/2.js", "/3.js"]);
    // Without a number, the budget is the connection's window.
    let p = plan_with(
        &bdp::Bdp(bdp::Budget::Cwnd),
        &site,
        &get("/index.html"),
        4_000,
        &ConnPushState::default(),
    );
    assert_eq!(paths(&p), vec!["/1.js"]);
}

/// The straw man limited to one BDP: push-all's list cut after the
/// resource that crosses the budget; only for documents.
#[test]
fn push_all_bdp_cuts_push_all_at_one_bdp() {
    let all = plan(&PushAll, 1 << 30);
    for budget in [1u64, 20_000, 60_000, 1 << 30] {
        let p = plan(&bdp::PushAllBdp(bdp::Budget::Fixed(budget)), 0);
        let site = Site::demo();
        let sizes: Vec<u64> = all
            .pushes
            .iter()
            .map(|i| site.get(&i.path).unwrap().len)
            .collect();
        let n = bdp::crossing(sizes.iter().copied(), budget);
        assert_eq!(paths(&p), paths(&all)[..n].to_vec(), "{budget}");
        assert!(n == sizes.len() || sizes[..n].iter().sum::<u64>() >= budget);
        assert!(n == 0 || sizes[..n - 1].iter().sum::<u64>() < budget);
    }
    let site = push_order_site();
    let p = plan_with(
        &bdp::PushAllBdp(bdp::Budget::Fixed(20_000)),
        &site,
        &req(Method::GET, "/1.js", &[]),
        0,
        &ConnPushState::default(),
    );
    assert!(p.pushes.is_empty());
}
