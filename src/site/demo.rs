//! The built-in demo site: a small page with a realistic fetch graph, plus
//! large files for transfer tests.
//!
//! | path | type | about | role |
//! |---|---|---|---|
//! | `/index.html` | document | 9 KB | reveals the stylesheet, the script and the images |
//! | `/slow.html` | document | 9 KB | the same page with 300 ms think time |
//! | `/css/style.css` | style | 14 KB | render-blocking; imports the theme, reveals the font |
//! | `/css/theme.css` | style | 1 KB | imported by the stylesheet |
//! | `/fonts/body.woff2` | font | 40 KB | synthetic bytes (browsers reject the font and fall back, after fetching it) |
//! | `/js/app.js` | script | 30 KB | blocking; loads `/js/lazy.js` at run time |
//! | `/js/lazy.js` | script | 12 KB | loaded by `app.js` (hidden from an HTML scan) |
//! | `/img/logo.svg` | image | 0.3 KB | |
//! | `/img/hero.png` | image | 500 KB | |
//! | `/img/thumb-N.png` | image | 28-90 KB | four thumbnails |
//! | `/favicon.ico` | image | 1 KB | so browsers get no 404 |
//! | `/files/{1M,10M,100M}.bin` | other | | generated, for transfer tests |

use std::time::{Duration, SystemTime};

use super::config::{PathConfig, SiteConfig};
use super::png::encode_rgb;
use super::{Body, Site};

const INDEX: &str = include_str!("demo/index.html");
const STYLE: &str = include_str!("demo/style.css");
const THEME: &str = include_str!("demo/theme.css");
const APP: &str = include_str!("demo/app.js");
const LAZY: &str = include_str!("demo/lazy.js");
const LOGO: &str = include_str!("demo/logo.svg");

/// Deterministic filler words for paragraphs.
const WORDS: [&str; 24] = [
    "push", "promise", "stream", "urgency", "hint", "preload", "window", "packet", "queue",
    "latency", "round", "trip", "cache", "digest", "render", "blocking", "font", "script",
    "priority", "frame", "server", "client", "link", "byte",
];

fn words(seed: usize, n: usize) -> String {
    (0..n)
        .map(|i| WORDS[(seed * 7 + i * 13 + i / 5) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn pad_html(target: usize) -> String {
    let mut more = String::from("  <section class=\"more\">\n");
    let mut i = 0;
    while INDEX.len() + more.len() < target {
        more.push_str(&format!(
            "    <p id=\"p{i}\">{}.</p>\n",
            words(i, 18 + i % 9)
        ));
        i += 1;
    }
    more.push_str("  </section>\n");
    INDEX.replacen("</main>", &format!("{more}</main>"), 1)
}

fn pad_css(target: usize) -> String {
    let mut s = STYLE.to_string();
    let mut i = 0;
    while s.len() < target {
        s.push_str(&format!(
            ".u-{i} {{ margin: {}px {}px; padding: {}px; border-radius: {}px; }}\n",
            i % 17,
            i % 11,
            i % 7,
            i % 5
        ));
        i += 1;
    }
    s
}

fn pad_js(base: &str, target: usize, name: &str) -> String {
    let mut s = base.to_string();
    s.push_str(&format!("var {name} = {{\n"));
    let mut i = 0;
    while s.len() < target {
        s.push_str(&format!(
            "  f{i}: function (a, b) {{ return (a * {} + b) % {}; /* {} */ }},\n",
            i % 97 + 1,
            i % 89 + 2,
            words(i, 6)
        ));
        i += 1;
    }
    s.push_str("};\n");
    s
}

fn image(width: u32, height: u32, hue: u32) -> Vec<u8> {
    encode_rgb(width, height, |x, y| {
        let r = ((x * 255) / width.max(1)) as u8;
        let g = ((y * 255) / height.max(1)) as u8;
        let b = ((hue * 40 + (x ^ y)) % 256) as u8;
        [r, g.wrapping_add((hue * 30) as u8), b]
    })
}

fn synthetic_font(len: usize) -> Vec<u8> {
    // "wOF2" signature followed by deterministic bytes.
    let mut v = b"wOF2".to_vec();
    v.extend_from_slice(&super::generated_chunk(0xf0f0, 0, len - 4));
    v
}

pub(super) fn build() -> Site {
    build_with(|_| {})
}

pub(super) fn build_with(adjust: impl FnOnce(&mut SiteConfig)) -> Site {
    let mut config = SiteConfig::default();
    config.set(
        "/js/app.js",
        PathConfig {
            loads: vec!["/js/lazy.js".to_string()],
            ..Default::default()
        },
    );
    config.set(
        "/js/lazy.js",
        PathConfig {
            hidden: Some(true),
            ..Default::default()
        },
    );
    config.set(
        "/fonts/body.woff2",
        PathConfig {
            critical: Some(true),
            ..Default::default()
        },
    );
    config.set(
        "/slow.html",
        PathConfig {
            think: Some(Duration::from_millis(300)),
            ..Default::default()
        },
    );
    for big in ["/files/1M.bin", "/files/10M.bin", "/files/100M.bin"] {
        config.set(
            big,
            PathConfig {
                cache_control: Some("no-store".to_string()),
                ..Default::default()
            },
        );
    }
    adjust(&mut config);
    let mut site = Site::empty("built-in demo", config);
    let when = SystemTime::now();
    let page = pad_html(9_000);
    let statics: Vec<(&str, Vec<u8>)> = vec![
        ("/index.html", page.clone().into_bytes()),
        ("/slow.html", page.into_bytes()),
        ("/css/style.css", pad_css(14_000).into_bytes()),
        ("/css/theme.css", THEME.as_bytes().to_vec()),
        ("/fonts/body.woff2", synthetic_font(40_000)),
        ("/js/app.js", pad_js(APP, 30_000, "pushlabApp").into_bytes()),
        (
            "/js/lazy.js",
            pad_js(LAZY, 12_000, "pushlabLazy").into_bytes(),
        ),
        ("/img/logo.svg", LOGO.as_bytes().to_vec()),
        ("/img/hero.png", image(400, 416, 1)),
        ("/img/thumb-1.png", image(96, 96, 2)),
        ("/img/thumb-2.png", image(128, 128, 3)),
        ("/img/thumb-3.png", image(160, 120, 4)),
        ("/img/thumb-4.png", image(200, 150, 5)),
        ("/favicon.ico", image(16, 16, 6)),
    ];
    for (path, data) in statics {
        site.insert_static(path, data, when);
    }
    for (path, len, seed) in [
        ("/files/1M.bin", 1_000_000u64, 1u64),
        ("/files/10M.bin", 10_000_000, 10),
        ("/files/100M.bin", 100_000_000, 100),
    ] {
        site.insert(
            path.to_string(),
            Body::Generated { seed },
            len,
            format!("\"gen-{seed}-{len}\""),
            when,
        );
    }
    site.build_graph();
    site
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_sizes_are_as_documented() {
        let site = build();
        let size = |p: &str| site.get(p).unwrap().len;
        assert!((9_000..9_300).contains(&size("/index.html")));
        assert!((14_000..14_200).contains(&size("/css/style.css")));
        assert!((30_000..30_300).contains(&size("/js/app.js")));
        assert!((480_000..520_000).contains(&size("/img/hero.png")));
        assert_eq!(size("/fonts/body.woff2"), 40_000);
        assert_eq!(size("/files/100M.bin"), 100_000_000);
        assert_eq!(
            site.get("/slow.html").unwrap().think,
            Duration::from_millis(300)
        );
        assert_eq!(site.get("/index.html").unwrap().cache_control, "no-cache");
        assert!(site
            .get("/css/style.css")
            .unwrap()
            .cache_control
            .contains("max-age"));
    }
}
