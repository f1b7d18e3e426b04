//! The site's fetch dependency graph: which resource reveals which, in what
//! order, and which block rendering or hide from a browser's preload scanner.
//!
//! Built once from the resources themselves (HTML and CSS scanned with real
//! parsers, see [`super::scan`]) plus `site.toml`'s `loads`, `critical` and
//! `hidden`. Push and hint policies read it; `pushlab site graph` prints it.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::scan::{self, RefKind};
use super::{Body, Kind, Site};

/// How an edge was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Referenced by an HTML element.
    Html,
    /// `<link rel=preload>` in HTML.
    Preload,
    /// `@import` in CSS.
    CssImport,
    /// `url()` in CSS.
    CssUrl,
    /// Declared in `site.toml` (`loads`): invisible to a scan.
    Config,
    /// Loaded by a script when it runs ([`scan::scan_js`]: written with
    /// `document.write`, or a path in a string literal).
    Script,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Html => "html",
            Via::Preload => "preload",
            Via::CssImport => "@import",
            Via::CssUrl => "url()",
            Via::Config => "site.toml",
            Via::Script => "script",
        }
    }
}

/// One "reveals" edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The revealed resource's path.
    pub to: String,
    /// How.
    pub via: Via,
    /// Whether the parent's use of it blocks rendering.
    pub blocking: bool,
}

/// What the graph knows about one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Resources it reveals, in document order.
    pub children: Vec<Edge>,
    /// Some page cannot render before it arrives (blocking stylesheets and
    /// their imports, blocking scripts).
    pub render_blocking: bool,
    /// Needed for the first render: render-blocking, a font, or marked in
    /// `site.toml`. The `preload` policy hints these.
    pub critical: bool,
    /// Discovered only after another subresource arrives (CSS imports and
    /// url()s, script-loaded scripts, or marked in `site.toml`): a browser's
    /// preload scanner cannot find it in the HTML.
    pub hidden: bool,
    /// A document preloads it (`<link rel=preload>`): a browser requests it
    /// with a preload's priority ([`super::chromium::Usage::preload`]).
    pub preloaded: bool,
}

/// The graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    nodes: BTreeMap<String, NodeInfo>,
}

impl Graph {
    /// Builds the graph of a site: scans every document, stylesheet and
    /// script (scripts as the emulated browser reads them).
    pub fn build(site: &Site) -> Graph {
        let mut g = Graph::default();
        for r in site.resources() {
            g.nodes.entry(r.path.clone()).or_default();
        }
        for r in site.resources() {
            let text: Option<Vec<u8>> = match (&r.kind, &r.body) {
                (Kind::Document | Kind::Style | Kind::Script, Body::Static(b)) => Some(b.to_vec()),
                (Kind::Document | Kind::Style | Kind::Script, Body::File(p))
                    if r.len <= 8 << 20 =>
                {
                    std::fs::read(p).ok()
                }
                _ => None,
            };
            let mut edges: Vec<Edge> = Vec::new();
            if let Some(text) = text {
                let refs = match r.kind {
                    Kind::Document => scan::scan_html(&text),
                    Kind::Script => scan::scan_js(&String::from_utf8_lossy(&text))
                        .into_iter()
                        .map(|s| scan::Ref {
                            url: s.url,
                            kind: RefKind::Script,
                            blocking: false,
                            preload_as: None,
                            size: None,
                        })
                        .collect(),
                    _ => scan::scan_css(&String::from_utf8_lossy(&text)),
                };
                for rf in refs {
                    let Some(to) = scan::resolve(&r.path, &rf.url) else {
                        continue;
                    };
                    if to == r.path || site.get(&to).is_none() || edges.iter().any(|e| e.to == to) {
                        continue;
                    }
                    let via = match rf.kind {
                        _ if r.kind == Kind::Script => Via::Script,
                        RefKind::CssImport => Via::CssImport,
                        RefKind::CssUrl => Via::CssUrl,
                        RefKind::Preload => Via::Preload,
                        _ => Via::Html,
                    };
                    edges.push(Edge {
                        to,
                        via,
                        blocking: rf.blocking
                            || (r.kind == Kind::Style && rf.kind == RefKind::CssImport),
                    });
                }
            }
            let cfg = site.config().for_path(&r.path);
            for l in &cfg.loads {
                if let Some(to) = scan::resolve(&r.path, l) {
                    if site.get(&to).is_some() && !edges.iter().any(|e| e.to == to) {
                        edges.push(Edge {
                            to,
                            via: Via::Config,
                            blocking: false,
                        });
                    }
                }
            }
            g.nodes.entry(r.path.clone()).or_default().children = edges;
        }
        // Flags: render-blocking propagates from blocking edges of documents
        // through stylesheet imports; hidden = revealed only by non-HTML edges.
        let mut blocking: HashSet<String> = HashSet::new();
        let mut revealed_by_html: HashSet<String> = HashSet::new();
        let mut revealed: HashSet<String> = HashSet::new();
        let mut preloaded: HashSet<String> = HashSet::new();
        for (path, n) in &g.nodes {
            let is_doc = site.get(path).is_some_and(|r| r.kind == Kind::Document);
            for e in &n.children {
                revealed.insert(e.to.clone());
                if is_doc && matches!(e.via, Via::Html | Via::Preload) {
                    revealed_by_html.insert(e.to.clone());
                }
                if is_doc && e.via == Via::Preload {
                    preloaded.insert(e.to.clone());
                }
                if is_doc && e.blocking {
                    blocking.insert(e.to.clone());
                }
            }
        }
        // Imports of blocking stylesheets block too (transitively).
        let mut frontier: Vec<String> = blocking.iter().cloned().collect();
        while let Some(p) = frontier.pop() {
            if let Some(n) = g.nodes.get(&p) {
                for e in &n.children {
                    if e.via == Via::CssImport && blocking.insert(e.to.clone()) {
                        frontier.push(e.to.clone());
                    }
                }
            }
        }
        for (path, n) in g.nodes.iter_mut() {
            let cfg = site.config().for_path(path);
            let kind = site.get(path).map(|r| r.kind).unwrap_or(Kind::Other);
            n.render_blocking = blocking.contains(path);
            n.preloaded = preloaded.contains(path);
            n.critical = cfg
                .critical
                .unwrap_or(n.render_blocking || kind == Kind::Font);
            n.hidden = cfg
                .hidden
                .unwrap_or(revealed.contains(path) && !revealed_by_html.contains(path));
        }
        g
    }

    /// What the graph knows about a path.
    pub fn node(&self, path: &str) -> Option<&NodeInfo> {
        self.nodes.get(path)
    }

    /// The resources a path reveals directly.
    pub fn children(&self, path: &str) -> &[Edge] {
        self.nodes
            .get(path)
            .map(|n| n.children.as_slice())
            .unwrap_or(&[])
    }

    /// Every resource reachable from `root`, in evaluation order: depth-first
    /// in document order, so a stylesheet's imports and fonts come right
    /// after it and before the next thing the document references (the
    /// order a browser consumes them). `root` itself is not included.
    pub fn evaluation_order(&self, root: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        seen.insert(root);
        fn visit<'a>(g: &'a Graph, p: &'a str, seen: &mut HashSet<&'a str>, out: &mut Vec<String>) {
            for e in g.children(p) {
                if seen.insert(e.to.as_str()) {
                    out.push(e.to.clone());
                    visit(g, &e.to, seen, out);
                }
            }
        }
        visit(self, root, &mut seen, &mut out);
        out
    }

    /// Paths of all nodes.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    /// A text rendering for `pushlab site graph`: each document's tree, then
    /// the flags.
    pub fn render(&self, site: &Site) -> String {
        let mut s = String::new();
        let docs: Vec<&String> = self
            .nodes
            .keys()
            .filter(|p| site.get(p).is_some_and(|r| r.kind == Kind::Document))
            .collect();
        for d in docs {
            let size = site.get(d).map(|r| r.len).unwrap_or(0);
            let _ = writeln!(s, "{d} (document, {size} B)");
            let mut seen: HashSet<String> = HashSet::new();
            seen.insert(d.clone());
            self.render_children(site, d, 1, &mut seen, &mut s);
            let order = self.evaluation_order(d);
            let total: u64 = order
                .iter()
                .filter_map(|p| site.get(p))
                .map(|r| r.len)
                .sum();
            let _ = writeln!(
                s,
                "  evaluation order ({} resources, {} B): {}",
                order.len(),
                total,
                order.join(" ")
            );
            s.push('\n');
        }
        s
    }

    fn render_children(
        &self,
        site: &Site,
        p: &str,
        depth: usize,
        seen: &mut HashSet<String>,
        s: &mut String,
    ) {
        for e in self.children(p) {
            let r = site.get(&e.to);
            let (kind, size) = r
                .as_ref()
                .map(|r| (r.kind.name(), r.len))
                .unwrap_or(("?", 0));
            let n = self.nodes.get(&e.to).cloned().unwrap_or_default();
            let mut flags = Vec::new();
            if n.render_blocking {
                flags.push("render-blocking");
            }
            if n.critical {
                flags.push("critical");
            }
            if n.hidden {
                flags.push("hidden");
            }
            if r.as_ref().is_some_and(|r| r.vary.is_some()) {
                flags.push("vary");
            }
            let _ = writeln!(
                s,
                "{}-> {} ({kind}, {size} B, via {}){}{}",
                "  ".repeat(depth),
                e.to,
                e.via.name(),
                if flags.is_empty() { "" } else { " " },
                flags.join(" ")
            );
            if seen.insert(e.to.clone()) {
                self.render_children(site, &e.to, depth + 1, seen, s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo site's graph: document -> stylesheet -> theme and font;
    /// document -> script -> script (from the demo's configuration).
    #[test]
    fn demo_graph() {
        let site = Site::demo();
        let g = Graph::build(&site);
        let order = g.evaluation_order("/index.html");
        assert_eq!(
            &order[..5],
            &[
                "/css/style.css",
                "/css/theme.css",
                "/fonts/body.woff2",
                "/js/app.js",
                "/js/lazy.js"
            ]
        );
        assert!(order.contains(&"/img/hero.png".to_string()));
        let css = g.node("/css/style.css").unwrap();
        assert!(css.render_blocking && css.critical && !css.hidden);
        let theme = g.node("/css/theme.css").unwrap();
        assert!(
            theme.render_blocking && theme.hidden,
            "imported: blocking and hidden"
        );
        let font = g.node("/fonts/body.woff2").unwrap();
        assert!(font.critical && font.hidden && !font.render_blocking);
        let lazy = g.node("/js/lazy.js").unwrap();
        assert!(lazy.hidden && !lazy.critical);
        let app = g.node("/js/app.js").unwrap();
        assert!(app.render_blocking, "a classic script in <head>");
        let hero = g.node("/img/hero.png").unwrap();
        assert!(!hero.hidden && !hero.critical);
        // app.js names lazy.js in a string literal: the script scan finds it
        // (site.toml's `loads` declares it too, for tools that cannot).
        assert_eq!(g.children("/js/app.js")[0].via, Via::Script);
        let text = g.render(&site);
        assert!(
            text.contains("-> /fonts/body.woff2 (font, 40000 B, via url()) critical hidden"),
            "{text}"
        );
    }

    #[test]
    fn cycles_terminate() {
        let mut cfg = crate::site::SiteConfig::default();
        cfg.set(
            "/a.js",
            crate::site::PathConfig {
                loads: vec!["/b.js".into()],
                ..Default::default()
            },
        );
        cfg.set(
            "/b.js",
            crate::site::PathConfig {
                loads: vec!["/a.js".into()],
                ..Default::default()
            },
        );
        let mut site = Site::empty("t", cfg);
        for p in ["/a.js", "/b.js"] {
            site.insert(
                p.into(),
                Body::Static(bytes::Bytes::from_static(b"x")),
                1,
                "\"x\"".into(),
                std::time::SystemTime::now(),
            );
        }
        let g = Graph::build(&site);
        assert_eq!(g.evaluation_order("/a.js"), vec!["/b.js".to_string()]);
        let _ = g.render(&site);
    }
}
