//! The sites the presets load, built in code so that every run of a
//! preset serves the same bytes.

use std::time::{Duration, SystemTime};

use crate::site::{generated_chunk, PathConfig, Site, SiteConfig};

/// A site from `(path, bytes)` pairs, with documents `no-store` (pages are
/// downloaded again on a repeat visit, as dynamic HTML is) and `adjust`
/// applied to the configuration.
pub fn build(
    name: &str,
    files: Vec<(&str, Vec<u8>)>,
    adjust: impl FnOnce(&mut SiteConfig),
) -> Site {
    let mut config = SiteConfig::default();
    for (path, _) in &files {
        if path.ends_with(".html") {
            config.set(
                path,
                PathConfig {
                    cache_control: Some("no-store".into()),
                    ..Default::default()
                },
            );
        }
    }
    adjust(&mut config);
    let mut site = Site::empty(name, config);
    let when = SystemTime::now();
    for (path, data) in files {
        site.insert_static(path, data, when);
    }
    site.build_graph();
    site
}

/// `n` bytes of script that reveal nothing (comments and arithmetic).
pub fn filler_js(prefix: &str, n: usize) -> Vec<u8> {
    let mut s = prefix.to_string();
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("var v{i} = ({i} * 31 + 7) % 97; // filler\n"));
        i += 1;
    }
    s.truncate(n.max(prefix.len()));
    s.into_bytes()
}

/// `n` bytes of paragraph markup.
pub fn filler_html(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "<p>Paragraph {i}: filler text standing in for the page's content.</p>\n"
        ));
        i += 1;
    }
    s
}

/// Opaque bytes (images).
pub fn blob(seed: u64, n: usize) -> Vec<u8> {
    generated_chunk(seed, 0, n).to_vec()
}

/// The Rules of Thumb's push-order page (rule 2): the head loads 1.js,
/// 3.js and 4.js; 1.js (5 KB) writes a script tag for 2.js; every other
/// file is 10 KB, the body 10 KB of text.
pub fn push_order() -> Site {
    let files = push_order_files("");
    build(
        "push-order (Rules of Thumb, rule 2)",
        files.iter().map(|(p, d)| (p.as_str(), d.clone())).collect(),
        |_| {},
    )
}

/// The push-order page's files under `prefix` (its document at
/// `{prefix}/index.html`, every reference made relative to the prefix).
fn push_order_files(prefix: &str) -> Vec<(String, Vec<u8>)> {
    let doc = format!(
        "<!doctype html><html><head><title>push order</title>\n\
         <script src=\"{prefix}/1.js\"></script>\n<script src=\"{prefix}/3.js\"></script>\n\
         <script src=\"{prefix}/4.js\"></script>\n</head><body>\n{}</body></html>\n",
        filler_html(10_000)
    );
    vec![
        (format!("{prefix}/index.html"), doc.into_bytes()),
        (
            format!("{prefix}/1.js"),
            filler_js(
                &format!("document.write('<script src=\"{prefix}/2.js\"></script>');\n"),
                5_000,
            ),
        ),
        (format!("{prefix}/2.js"), filler_js("", 10_000)),
        (format!("{prefix}/3.js"), filler_js("", 10_000)),
        (format!("{prefix}/4.js"), filler_js("", 10_000)),
    ]
}

/// The browser-validation site: the demo site (documents `no-store`, as
/// in [`demo`]) with the push-order page under `/po/`.
pub fn validation() -> Site {
    let po = push_order_files("/po");
    let mut site = Site::demo_with(|c| {
        for doc in ["/index.html", "/slow.html", "/po/index.html"] {
            let mut pc = c.for_path(doc);
            pc.cache_control = Some("no-store".into());
            c.set(doc, pc);
        }
    });
    let when = SystemTime::now();
    for (path, data) in po {
        site.insert_static(&path, data, when);
    }
    site.build_graph();
    site
}

/// A page whose subresources follow a document of `doc_bytes`.
fn page(title: &str, doc_bytes: usize) -> String {
    let head = format!(
        "<!doctype html><html><head><title>{title}</title>\n\
         <link rel=\"stylesheet\" href=\"/style.css\">\n\
         <script src=\"/app.js\"></script>\n</head><body>\n\
         <img src=\"/a.png\"><img src=\"/b.png\"><img src=\"/c.png\">\n"
    );
    let pad = doc_bytes.saturating_sub(head.len() + 20);
    format!("{head}{}</body></html>\n", filler_html(pad))
}

/// Rule 1 (fill the window, no more): a small document (8 KB, under the
/// 3G BDP of 35 KB) and a large one (120 KB, over it), with the same
/// subresources: a 14 KB stylesheet, a 30 KB script, three 20 KB images.
pub fn fill_window() -> Site {
    build(
        "fill-the-window (Rules of Thumb, rule 1)",
        vec![
            ("/small.html", page("small", 8_000).into_bytes()),
            ("/large.html", page("large", 120_000).into_bytes()),
            (
                "/style.css",
                format!("body {{ margin: 0 }}\n{}", "/* filler */\n".repeat(1_100)).into_bytes(),
            ),
            ("/app.js", filler_js("", 30_000)),
            ("/a.png", blob(1, 20_000)),
            ("/b.png", blob(2, 20_000)),
            ("/c.png", blob(3, 20_000)),
        ],
        |_| {},
    )
}

/// A slow backend: the document takes 300 ms to prepare, and its four
/// 256 KB images (1 MB of low-priority bytes) can be pushed meanwhile.
pub fn slow_backend() -> Site {
    let doc = format!(
        "<!doctype html><html><head><title>slow backend</title>\n\
         <link rel=\"stylesheet\" href=\"/style.css\"></head><body>\n\
         <img src=\"/p1.png\"><img src=\"/p2.png\"><img src=\"/p3.png\"><img src=\"/p4.png\">\n\
         {}</body></html>\n",
        filler_html(8_000)
    );
    build(
        "slow backend",
        vec![
            ("/index.html", doc.into_bytes()),
            ("/style.css", b"body { margin: 0 }\n".to_vec()),
            ("/p1.png", blob(11, 256 * 1024)),
            ("/p2.png", blob(12, 256 * 1024)),
            ("/p3.png", blob(13, 256 * 1024)),
            ("/p4.png", blob(14, 256 * 1024)),
        ],
        |c| {
            c.set(
                "/index.html",
                PathConfig {
                    cache_control: Some("no-store".into()),
                    think: Some(Duration::from_millis(300)),
                    ..Default::default()
                },
            );
        },
    )
}

/// Issue 11's page for the preemption sweep: a 20 KB document that refers
/// to 1 MB of images (four of 256 KB), at three paths that differ only in
/// the server's think time: `/think-100.html`, `/think-300.html` and
/// `/think-1000.html`.
pub fn preemption_sweep() -> Site {
    let doc = |think: u64| {
        format!(
            "<!doctype html><html><head><title>think {think} ms</title></head><body>\n\
             <img src=\"/p1.png\"><img src=\"/p2.png\"><img src=\"/p3.png\"><img src=\"/p4.png\">\n\
             {}</body></html>\n",
            filler_html(20_000)
        )
        .into_bytes()
    };
    build(
        "preemption sweep",
        vec![
            ("/think-100.html", doc(100)),
            ("/think-300.html", doc(300)),
            ("/think-1000.html", doc(1000)),
            ("/p1.png", blob(11, 256 * 1024)),
            ("/p2.png", blob(12, 256 * 1024)),
            ("/p3.png", blob(13, 256 * 1024)),
            ("/p4.png", blob(14, 256 * 1024)),
        ],
        |c| {
            for think in SWEEP_THINK_MS {
                c.set(
                    &format!("/think-{think}.html"),
                    PathConfig {
                        cache_control: Some("no-store".into()),
                        think: Some(Duration::from_millis(think)),
                        ..Default::default()
                    },
                );
            }
        },
    )
}

/// The think times of [`preemption_sweep`]'s pages, ms.
pub const SWEEP_THINK_MS: [u64; 3] = [100, 300, 1000];

/// The built-in demo site with its documents `no-store`.
pub fn demo() -> Site {
    Site::demo_with(|c| {
        for doc in ["/index.html", "/slow.html"] {
            let mut pc = c.for_path(doc);
            pc.cache_control = Some("no-store".into());
            c.set(doc, pc);
        }
    })
}
