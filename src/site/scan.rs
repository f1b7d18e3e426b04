//! Finding the resources a document or stylesheet reveals, with real
//! parsers: HTML through lol_html (Cloudflare's streaming HTML parser), CSS
//! through cssparser (Servo's CSS Syntax Level 3 tokenizer).
//!
//! Pure: text in, references out, in document order. Resolving them against
//! the site happens in [`super::graph`].

use std::cell::RefCell;

use cssparser::{Parser, ParserInput, Token};
use lol_html::{element, text, HtmlRewriter, Settings};

/// What kind of reference it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// `<link rel=stylesheet href>`
    Stylesheet,
    /// `<script src>`
    Script,
    /// `<img src>`, `<video poster>`, `<input type=image src>`, `<link rel=icon href>`
    Image,
    /// `<link rel=preload href as=...>` (the `as` value)
    Preload,
    /// `@import` in CSS
    CssImport,
    /// `url(...)` in CSS (fonts, backgrounds)
    CssUrl,
}

/// A reference found in a document or stylesheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// The URL as written (relative or absolute).
    pub url: String,
    /// How it was referenced.
    pub kind: RefKind,
    /// Blocks rendering: a stylesheet (not `media=print`), or a classic
    /// script in `<head>` without `async`/`defer`.
    pub blocking: bool,
    /// For preloads, the `as` value.
    pub preload_as: Option<String>,
    /// For `<img>`, the `width` and `height` attributes, when both are
    /// plain numbers (Chromium's preload scanner reads them to decide
    /// which images are small).
    pub size: Option<(u32, u32)>,
}

/// References in an HTML document, in document order. Inline `<style>`
/// elements and `style` attributes are scanned as CSS.
pub fn scan_html(html: &[u8]) -> Vec<Ref> {
    let refs: RefCell<Vec<Ref>> = RefCell::new(Vec::new());
    let style_text: RefCell<String> = RefCell::new(String::new());
    let in_head = RefCell::new(true);
    {
        let push = |r: Ref| refs.borrow_mut().push(r);
        let settings = Settings::new()
            // Recover from ambiguous markup like a browser instead of bailing out.
            .with_strict(false)
            .append_element_content_handler(element!("body", |_el| {
                *in_head.borrow_mut() = false;
                Ok(())
            }))
            .append_element_content_handler(element!("link[href]", |el| {
                let rel = el
                    .get_attribute("rel")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let href = el.get_attribute("href").unwrap_or_default();
                let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
                if rels.contains(&"stylesheet") && !rels.contains(&"alternate") {
                    let media = el
                        .get_attribute("media")
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let blocking = media.is_empty() || media == "all" || media == "screen";
                    push(Ref {
                        url: href,
                        kind: RefKind::Stylesheet,
                        blocking,
                        preload_as: None,
                        size: None,
                    });
                } else if rels.contains(&"preload") || rels.contains(&"modulepreload") {
                    push(Ref {
                        url: href,
                        kind: RefKind::Preload,
                        blocking: false,
                        preload_as: el.get_attribute("as"),
                        size: None,
                    });
                } else if rels.contains(&"icon") {
                    push(Ref {
                        url: href,
                        kind: RefKind::Image,
                        blocking: false,
                        preload_as: None,
                        size: None,
                    });
                }
                Ok(())
            }))
            .append_element_content_handler(element!("script[src]", |el| {
                let async_or_defer = el.has_attribute("async") || el.has_attribute("defer");
                let module = el
                    .get_attribute("type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("module"));
                push(Ref {
                    url: el.get_attribute("src").unwrap_or_default(),
                    kind: RefKind::Script,
                    blocking: *in_head.borrow() && !async_or_defer && !module,
                    preload_as: None,
                    size: None,
                });
                Ok(())
            }))
            .append_element_content_handler(element!("img[src], input[type=image][src]", |el| {
                let dim = |name: &str| {
                    el.get_attribute(name)
                        .and_then(|v| v.trim().trim_end_matches("px").parse::<u32>().ok())
                };
                push(Ref {
                    url: el.get_attribute("src").unwrap_or_default(),
                    kind: RefKind::Image,
                    blocking: false,
                    preload_as: None,
                    size: dim("width").zip(dim("height")),
                });
                Ok(())
            }))
            .append_element_content_handler(element!("video[poster]", |el| {
                push(Ref {
                    url: el.get_attribute("poster").unwrap_or_default(),
                    kind: RefKind::Image,
                    blocking: false,
                    preload_as: None,
                    size: None,
                });
                Ok(())
            }))
            .append_element_content_handler(element!("[style]", |el| {
                let css = el.get_attribute("style").unwrap_or_default();
                for r in scan_css(&css) {
                    push(r);
                }
                Ok(())
            }))
            .append_element_content_handler(text!("style", |t| {
                style_text.borrow_mut().push_str(t.as_str());
                if t.last_in_text_node() {
                    let css = std::mem::take(&mut *style_text.borrow_mut());
                    for r in scan_css(&css) {
                        push(Ref {
                            blocking: r.kind == RefKind::CssImport,
                            ..r
                        });
                    }
                }
                Ok(())
            }));
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        // The parser never fails on malformed HTML (it recovers like a
        // browser); an error here can only come from a handler, and ours
        // never return one.
        if rewriter.write(html).is_ok() {
            let _ = rewriter.end();
        }
    }
    refs.into_inner()
        .into_iter()
        .filter(|r| !r.url.trim().is_empty())
        .collect()
}

fn walk_css<'i>(p: &mut Parser<'i, '_>, out: &mut Vec<Ref>) {
    let mut after_import = false;
    loop {
        let tok = match p.next_including_whitespace() {
            Ok(t) => t.clone(),
            Err(_) => break,
        };
        let kind = if after_import {
            RefKind::CssImport
        } else {
            RefKind::CssUrl
        };
        match tok {
            Token::WhiteSpace(_) | Token::Comment(_) => continue,
            Token::AtKeyword(ref k) => {
                after_import = k.eq_ignore_ascii_case("import");
                continue;
            }
            Token::UnquotedUrl(u) => out.push(Ref {
                url: u.to_string(),
                kind,
                blocking: after_import,
                preload_as: None,
                size: None,
            }),
            Token::QuotedString(s) if after_import => out.push(Ref {
                url: s.to_string(),
                kind,
                blocking: true,
                preload_as: None,
                size: None,
            }),
            Token::Function(ref f)
                if f.eq_ignore_ascii_case("url") || f.eq_ignore_ascii_case("src") =>
            {
                let url: Result<String, cssparser::ParseError<'i, ()>> =
                    p.parse_nested_block(|p| Ok(p.expect_string()?.to_string()));
                if let Ok(url) = url {
                    out.push(Ref {
                        url,
                        kind,
                        blocking: after_import,
                        preload_as: None,
                        size: None,
                    });
                }
            }
            Token::Function(_)
            | Token::CurlyBracketBlock
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock => {
                let _: Result<(), cssparser::ParseError<'i, ()>> = p.parse_nested_block(|p| {
                    walk_css(p, out);
                    Ok(())
                });
            }
            _ => {}
        }
        after_import = false;
    }
}

/// References in a stylesheet, in order: `@import` targets (render-blocking)
/// and `url()` values (fonts, images).
pub fn scan_css(css: &str) -> Vec<Ref> {
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    let mut out = Vec::new();
    walk_css(&mut parser, &mut out);
    out.retain(|r| {
        !r.url.trim().is_empty() && !r.url.starts_with("data:") && !r.url.starts_with('#')
    });
    out
}

/// A resource a script reveals when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRef {
    /// The URL as written.
    pub url: String,
    /// Written into the document with `document.write` (a `<script src>`
    /// or `<link rel=stylesheet>` inside a string): it blocks the parser
    /// right after the script that wrote it, like a classic script.
    pub document_write: bool,
    /// The script waits for DOMContentLoaded before loading it (it names
    /// the event): requested when the parser has finished.
    pub on_dom_content_loaded: bool,
    /// Fetched without credentials: `credentials: 'omit'` follows the URL
    /// in its statement (`fetch("/a.json", {credentials: "omit"})`).
    pub without_credentials: bool,
}

/// What a script loads when it runs, by a convention the emulated browser
/// understands (it does not run JavaScript): markup inside a string literal
/// (`document.write('<script src="/2.js"></script>')`) is scanned as HTML,
/// and any other string literal that is a path or URL ending in a known
/// static-file extension (`"/js/lazy.js"`, `'img/a.png'`) counts as loaded
/// asynchronously (an inserted `<script async>`, an `Image`, `fetch`). A
/// script that names `DOMContentLoaded` in a string is taken to make those
/// loads from its handler for that event (the demo's app.js does). A URL
/// followed in its statement by `credentials` and `"omit"` is fetched
/// without credentials.
pub fn scan_js(js: &str) -> Vec<ScriptRef> {
    const EXTENSIONS: [&str; 12] = [
        ".js", ".mjs", ".css", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".woff2", ".woff",
        ".json",
    ];
    let mut out = Vec::new();
    let on_dcl = js.contains("\"DOMContentLoaded\"") || js.contains("'DOMContentLoaded'");
    let b = js.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if q != b'"' && q != b'\'' && q != b'`' {
            i += 1;
            continue;
        }
        // A string literal: up to the matching unescaped quote on this line.
        let mut j = i + 1;
        let mut lit = String::new();
        while j < b.len() && b[j] != q && b[j] != b'\n' {
            if b[j] == b'\\' && j + 1 < b.len() {
                j += 1;
            }
            lit.push(b[j] as char);
            j += 1;
        }
        if j >= b.len() || b[j] != q {
            i = j.max(i + 1);
            continue;
        }
        i = j + 1;
        if lit.contains('<') {
            for r in scan_html(lit.as_bytes()) {
                if matches!(r.kind, RefKind::Script | RefKind::Stylesheet) {
                    out.push(ScriptRef {
                        url: r.url,
                        document_write: true,
                        on_dom_content_loaded: false,
                        without_credentials: false,
                    });
                }
            }
            continue;
        }
        let path = lit
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let plausible = !lit.contains(char::is_whitespace)
            && (lit.starts_with('/') || lit.starts_with("./") || lit.contains('/'))
            && EXTENSIONS.iter().any(|e| path.ends_with(e));
        if plausible {
            // The rest of the statement: up to `;` or the end of the line.
            let rest = &js[i..];
            let stmt = &rest[..rest.find([';', '\n']).unwrap_or(rest.len())];
            let without_credentials = stmt.contains("credentials")
                && (stmt.contains("\"omit\"") || stmt.contains("'omit'"));
            out.push(ScriptRef {
                url: lit,
                document_write: false,
                on_dom_content_loaded: on_dcl,
                without_credentials,
            });
        }
    }
    out
}

/// Resolves a reference against the path of the resource it appears in.
/// Returns `None` for other origins (absolute URLs, `//host/...`), `data:`
/// and similar.
pub fn resolve(base: &str, url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.split(['#']).next().unwrap_or("");
    if url.is_empty() || url.starts_with("//") || url.contains("://") || url.starts_with("data:") {
        return None;
    }
    if url.contains(':')
        && !url.starts_with('/')
        && url.split(':').next().is_some_and(|s| !s.contains('/'))
    {
        // mailto:, javascript:, ...
        return None;
    }
    let path = url.split('?').next().unwrap_or("");
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        let dir = match base.rfind('/') {
            Some(i) => &base[..=i],
            None => "/",
        };
        format!("{dir}{path}")
    };
    // Remove dot segments (RFC 3986 section 5.2.4), staying inside the root.
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = joined.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        match *seg {
            "." => {
                if i == segs.len() - 1 {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == segs.len() - 1 {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut s = out.join("/");
    if !s.starts_with('/') {
        s.insert(0, '/');
    }
    super::path::normalize(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scripts reveal what they load: a string path with a known extension
    /// (async), markup written with document.write (parser-blocking);
    /// other strings, regex-looking text and unterminated literals are not.
    #[test]
    fn scripts_reveal_their_loads() {
        let js = r#"
            var s = document.createElement("script"); s.src = "/js/lazy.js";
            document.write('<script src="2.js"><\/script>');
            var img = new Image(); img.src = 'img/a.png?v=3';
            var msg = "hello world.js"; var x = "not/a file"; var y = "/api/data";
            fetch(`/data/items.json`);
            var broken = "/oops.js
        "#;
        assert_eq!(
            scan_js(js),
            vec![
                ScriptRef {
                    url: "/js/lazy.js".into(),
                    document_write: false,
                    on_dom_content_loaded: false,
                    without_credentials: false
                },
                ScriptRef {
                    url: "2.js".into(),
                    document_write: true,
                    on_dom_content_loaded: false,
                    without_credentials: false
                },
                ScriptRef {
                    url: "img/a.png?v=3".into(),
                    document_write: false,
                    on_dom_content_loaded: false,
                    without_credentials: false
                },
                ScriptRef {
                    url: "/data/items.json".into(),
                    document_write: false,
                    on_dom_content_loaded: false,
                    without_credentials: false
                },
            ]
        );
        assert!(scan_js("").is_empty());
        assert!(scan_js("\"").is_empty());
        // Loads of a script that waits for DOMContentLoaded say so.
        let dcl =
            scan_js("document.addEventListener(\"DOMContentLoaded\", f); s.src = \"/js/lazy.js\";");
        assert!(dcl[0].on_dom_content_loaded, "{dcl:?}");
        // A fetch without credentials says so; with them, or another
        // statement's `omit`, it does not.
        let f = scan_js(
            "fetch('/a.json', {credentials: 'omit'}); fetch(\"/b.json\", { credentials: \"include\" });\n\
             fetch('/c.json'); var omit = 'omit';",
        );
        let omitted: Vec<(&str, bool)> = f
            .iter()
            .map(|r| (r.url.as_str(), r.without_credentials))
            .collect();
        assert_eq!(
            omitted,
            vec![("/a.json", true), ("/b.json", false), ("/c.json", false)]
        );
    }

    #[test]
    fn html_references_in_order_with_blocking() {
        let html = br#"<!doctype html><html><head>
            <link rel="stylesheet" href="/a.css">
            <link rel=stylesheet href="print.css" media=print>
            <link rel="preload" href="/f.woff2" as="font" crossorigin>
            <link rel="icon" href="/favicon.ico">
            <script src="/sync.js"></script>
            <script src="/async.js" async></script>
            <script type="module" src="/mod.js"></script>
            <style>@import url("/imp.css"); .x { background: url(bg.png) }</style>
            </head><body>
            <img src="img/x.png" alt="">
            <div style="background-image: url('/inline.png')"></div>
            <script src="/late.js"></script>
            <video poster="/poster.jpg"></video>
            </body></html>"#;
        let refs = scan_html(html);
        let got: Vec<(&str, RefKind, bool)> = refs
            .iter()
            .map(|r| (r.url.as_str(), r.kind, r.blocking))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/a.css", RefKind::Stylesheet, true),
                ("print.css", RefKind::Stylesheet, false),
                ("/f.woff2", RefKind::Preload, false),
                ("/favicon.ico", RefKind::Image, false),
                ("/sync.js", RefKind::Script, true),
                ("/async.js", RefKind::Script, false),
                ("/mod.js", RefKind::Script, false),
                ("/imp.css", RefKind::CssImport, true),
                ("bg.png", RefKind::CssUrl, false),
                ("img/x.png", RefKind::Image, false),
                ("/inline.png", RefKind::CssUrl, false),
                ("/late.js", RefKind::Script, false),
                ("/poster.jpg", RefKind::Image, false),
            ]
        );
        assert_eq!(refs[2].preload_as.as_deref(), Some("font"));
    }

    #[test]
    fn css_imports_and_urls() {
        let css = r#"
            @import "theme.css";
            @import url(/print.css) print;
            /* url(/commented.png) */
            @font-face { font-family: X; src: url("/fonts/x.woff2") format("woff2"), url(/fonts/x.woff); }
            .a { background: url( "img/a.png" ) no-repeat; }
            .b { background: url(data:image/png;base64,AAAA); }
            @media (min-width: 10px) { .c { background-image: url('c.svg') } }
        "#;
        let got: Vec<(String, RefKind)> =
            scan_css(css).into_iter().map(|r| (r.url, r.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("theme.css".into(), RefKind::CssImport),
                ("/print.css".into(), RefKind::CssImport),
                ("/fonts/x.woff2".into(), RefKind::CssUrl),
                ("/fonts/x.woff".into(), RefKind::CssUrl),
                ("img/a.png".into(), RefKind::CssUrl),
                ("c.svg".into(), RefKind::CssUrl),
            ]
        );
    }

    #[test]
    fn malformed_input_never_panics() {
        let _ = scan_html(b"<html><head><link rel=stylesheet href=</head><body><img src='");
        let _ = scan_css("@import url(; .a { background: url( } }}}} @font-face {");
        let _ = scan_html(&[0xff, 0xfe, 0x00, 0x3c, 0x21]);
    }

    #[test]
    fn resolution() {
        assert_eq!(
            resolve("/css/style.css", "theme.css").as_deref(),
            Some("/css/theme.css")
        );
        assert_eq!(
            resolve("/css/style.css", "../img/a.png").as_deref(),
            Some("/img/a.png")
        );
        assert_eq!(
            resolve("/css/style.css", "../../../x.png").as_deref(),
            Some("/x.png")
        );
        assert_eq!(
            resolve("/index.html", "/js/app.js?v=1#x").as_deref(),
            Some("/js/app.js")
        );
        assert_eq!(resolve("/a/b.html", "./c.js").as_deref(), Some("/a/c.js"));
        assert_eq!(resolve("/index.html", "https://cdn.example/x.js"), None);
        assert_eq!(resolve("/index.html", "//cdn.example/x.js"), None);
        assert_eq!(resolve("/index.html", "mailto:a@b"), None);
        assert_eq!(resolve("/index.html", "data:image/png;base64,AA"), None);
    }

    proptest::proptest! {
        #[test]
        fn scanners_never_panic(s in ".{0,300}") {
            let _ = scan_html(s.as_bytes());
            let _ = scan_css(&s);
            let _ = scan_js(&s);
            let _ = resolve("/a/b.css", &s);
        }
    }
}
