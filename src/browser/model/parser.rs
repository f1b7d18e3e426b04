//! The parser and the main thread: the parser walks the document's
//! references in order and stops at a classic script until it has
//! arrived, every stylesheet before it has arrived, and it has run;
//! scripts run one at a time.

use super::{Page, ResKind, Source};
use crate::site::scan;

/// An entry of the parser's queue: the document's references in order.
#[derive(Debug, Clone)]
pub(super) struct ParseItem {
    /// The referenced resource.
    pub(super) path: String,
    /// Stops the parser until loaded and run.
    pub(super) blocking_script: bool,
}

impl Page {
    /// Runs the parser and the main thread as far as they can go.
    pub(super) fn run(&mut self) {
        loop {
            self.finish_hints();
            self.finish_cache_reads();
            self.read_document();
            self.check_body_and_layout();
            // A script finishing.
            if let Some((i, end)) = self.running {
                if end > self.now {
                    return;
                }
                self.running = None;
                self.res[i].evaluated_ms = Some(end);
                self.script_ran(i, end);
                continue;
            }
            // The first rendering update holds the main thread.
            if self.rendering() {
                return;
            }
            // A response being handed to the page.
            if let Some((i, body, end)) = self.delivering.take() {
                if end > self.now {
                    self.delivering = Some((i, body, end));
                    return;
                }
                self.handed_over(i, body, end);
                continue;
            }
            // The next response waiting for the main thread, before the
            // parser goes on: Blink's parser yields to other tasks.
            if let Some((i, body, cost)) = self.deliveries.pop_front() {
                self.delivering = Some((i, body, self.now + cost));
                continue;
            }
            // The parser: the next item, unless a blocking script holds it.
            if self.parsing {
                if let Some(item) = self.parse.front().cloned() {
                    let i = self.index[&item.path];
                    if !item.blocking_script {
                        self.parse.pop_front();
                        continue;
                    }
                    let r = &self.res[i];
                    if r.evaluated_ms.is_some() || r.error.is_some() {
                        self.parse.pop_front();
                        continue;
                    }
                    // A classic script waits for itself and for every
                    // stylesheet the document referenced before it.
                    let ready = r.done_ms.is_some() && self.stylesheets_done_before(i);
                    if ready && self.bodies.contains_key(&i) {
                        self.start_script(i);
                        continue;
                    }
                } else if self.parser_done_ms.is_none()
                    && self.doc.all_read
                    // A due first rendering update goes before the
                    // parser's end (unless on this page it did not).
                    && (self.layout_due.is_none()
                        || self.layout_ms.is_some()
                        || self.cpu.parser_end_first)
                {
                    self.parser_done_ms = Some(self.now);
                    // DOMContentLoaded: what scripts waited for it to load.
                    for (path, anonymous) in std::mem::take(&mut self.dcl_loads) {
                        self.need_loaded(&path, anonymous);
                    }
                    continue;
                }
            }
            // A rendering update a web font made due goes before async
            // scripts (in Chromium's traces the async script's cached
            // response was handed over after it), after the parser's end.
            if self.start_font_update() {
                continue;
            }
            // Async scripts run when the main thread is free.
            if let Some(i) = self.runnable.pop_front() {
                self.start_script(i);
                continue;
            }
            return;
        }
    }

    /// Whether the render-blocking stylesheets the document referenced
    /// before resource `i`, with the stylesheets they import, have arrived
    /// (a stylesheet has loaded only when its imports have).
    pub(super) fn stylesheets_done_before(&self, i: usize) -> bool {
        self.res
            .iter()
            .enumerate()
            .filter(|(j, r)| r.kind == ResKind::Style && r.render_blocking && self.root_of(*j) < i)
            .all(|(j, r)| (r.done_ms.is_some() && !self.undelivered(j)) || r.error.is_some())
    }

    /// The stylesheet the document referenced that led to `j` (through
    /// `@import`s), or `j`.
    fn root_of(&self, mut j: usize) -> usize {
        let mut hops = 0;
        while let Some(p) = self.res[j].import_of {
            j = p;
            hops += 1;
            if hops > self.res.len() {
                break;
            }
        }
        j
    }

    /// Tight mode ends when the parser inserts `<body>` (it has read it
    /// and no blocking script of the head holds it); the first layout is
    /// due once, besides, every render-blocking stylesheet has arrived.
    fn check_body_and_layout(&mut self) {
        if !self.body_inserted
            && (self.doc.body_seen || self.doc.all_read)
            && self.parsing
            && !self.parse.iter().any(|p| p.blocking_script)
        {
            self.body_inserted = true;
            self.release_held();
        }
        if self.body_inserted
            && self.layout_due.is_none()
            && self.stylesheets_done_before(self.res.len())
        {
            self.layout_due = Some(self.now + self.cpu.layout_ms);
        }
        // Where the parser's end goes first, the layout waits for a
        // parser about to end.
        let parser_ending = self.cpu.parser_end_first
            && self.parsing
            && self.parser_done_ms.is_none()
            && self.doc.all_read
            && self.parse.iter().all(|p| !p.blocking_script);
        if let Some(due) = self.layout_due {
            if self.layout_ms.is_none() && self.now >= due && !parser_ending {
                // On the main thread: after the script it is running, or
                // the response it is handing over.
                let busy = [
                    self.running.map(|r| r.1),
                    self.delivering.as_ref().map(|d| d.2),
                ];
                let start = busy.into_iter().flatten().fold(due, f64::max);
                if start <= self.now {
                    self.layout_ms = Some(start);
                    self.layout_fonts();
                }
            }
        }
    }

    /// A web font a stylesheet declares: fetched when the first layout
    /// needs it (at once if that has happened).
    pub(super) fn declare_font(&mut self, path: String) {
        if !self.fonts.contains(&path) {
            self.fonts.push(path);
        }
        if self.layout_ms.is_some() {
            self.layout_fonts();
        }
    }

    /// The first layout needs the web fonts the stylesheets declare.
    fn layout_fonts(&mut self) {
        for path in self.fonts.clone() {
            self.need(&path, ResKind::Font, false, false, Source::Network);
        }
    }

    /// Something a script loads (not parser-blocking), with credentials or
    /// without.
    fn need_loaded(&mut self, path: &str, anonymous: bool) {
        let kind = ResKind::from_path(path);
        self.need_image(path, kind, false, false, Source::Network, false, anonymous);
    }

    pub(super) fn start_script(&mut self, i: usize) {
        let kb = self.bodies.get(&i).map(|b| b.len()).unwrap_or(0) as f64 / 1024.0;
        // A script read from the HTTP cache costs what the warm
        // calibration loads' scripts did, when calibrated.
        let cached = self.res[i].source == Source::Cached
            && self.cpu.cached_script_base_ms + self.cpu.cached_script_ms_per_kb > 0.0;
        let cost = if cached {
            self.cpu.cached_script_base_ms + self.cpu.cached_script_ms_per_kb * kb
        } else {
            self.cpu.script_base_ms + self.cpu.script_ms_per_kb * kb
        };
        let start = self.now.max(self.res[i].done_ms.unwrap_or(self.now));
        self.running = Some((i, start + cost));
    }

    /// What a script loads, known once it has run.
    pub(super) fn script_ran(&mut self, i: usize, _at: f64) {
        let Some(body) = self.bodies.remove(&i) else {
            return;
        };
        let path = self.res[i].path.clone();
        let parser_blocking = self.res[i].parser_blocking;
        let text = String::from_utf8_lossy(&body).into_owned();
        let mut written = Vec::new();
        for r in scan::scan_js(&text) {
            let Some(target) = scan::resolve(&path, &r.url) else {
                continue;
            };
            let kind = ResKind::from_path(&target);
            // document.write from a script that is not parser-blocking is
            // ignored by browsers; its script loads count as async.
            if r.document_write && kind == ResKind::Script && parser_blocking {
                // Written into the document right after this script: it
                // blocks the parser (and rendering, if this one did).
                let j = self.need(&target, kind, parser_blocking, true, Source::Network);
                written.push(ParseItem {
                    path: self.res[j].path.clone(),
                    blocking_script: true,
                });
            } else if r.on_dom_content_loaded && self.parser_done_ms.is_none() {
                self.dcl_loads.push((target, r.without_credentials));
            } else {
                self.need_loaded(&target, r.without_credentials);
            }
        }
        // The parser continues with what was written, before the rest.
        if self.parse.front().is_some_and(|p| p.path == path) {
            self.parse.pop_front();
        }
        for item in written.into_iter().rev() {
            self.parse.push_front(item);
        }
    }
}
