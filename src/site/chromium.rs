//! Chromium's request priorities: the one table the emulated browser
//! ([`crate::browser`]) requests with and the push policies
//! ([`crate::push`]) push with, so a pushed resource gets the priority the
//! browser would have asked for it.
//!
//! Blink gives every request a priority ([`Level`]) from the resource's
//! type and how the page uses it (`resource_fetcher.cc`, `TypeToPriority`
//! and `ComputeLoadPriority`); the network stack maps that to an RFC 9218
//! urgency (VeryHigh 0, High 1, Medium 2, Low 3, VeryLow 4), incremental
//! for documents and images:
//!
//! | resource | how referenced | level | urgency |
//! |---|---|---|---|
//! | document | | VeryHigh | `u=0, i` |
//! | stylesheet | render-blocking (media matches; its imports), or a preload | VeryHigh | `u=0` |
//! | stylesheet | otherwise (media does not match) | VeryLow | `u=4` |
//! | script | parser-blocking (classic, in `<head>`, or written by one), or a preload | High | `u=1` |
//! | script | otherwise (`async`, `defer`, module, inserted) | Low | `u=3` |
//! | font | found by layout | VeryHigh | `u=0` |
//! | font | a preload | High | `u=1` |
//! | image | one of the first five not small (over 10,000 px², or of unknown size) the preload scanner finds | Medium | `u=2, i` |
//! | image | otherwise | Low | `u=3, i` |
//! | other (fetch) | | High | `u=1` |
//!
//! A 103's preloads, which Chromium's browser process makes, have the
//! urgency of a preload of their type but are all incremental (Chromium
//! 156's net log on the demo page: `u=0, i` for the stylesheets, `u=1, i`
//! for the scripts and the font, where the renderer sends `u=0`, `u=1`,
//! `u=0`); an image's was not recorded (the demo hints none).
//!
//! Checked against Chromium 156 (the `priority` headers and DevTools
//! priorities `pushlab compare --browser chromium` records): every row
//! but "other" and the stylesheet whose media does not match. Chromium
//! later raises images that turn out visible to High (a PRIORITY_UPDATE);
//! the model does not.

use super::Kind;
use crate::priority::Priority;

/// How a page uses a resource, as far as Chromium's priority for it
/// depends on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// It blocks rendering: a stylesheet whose media matches, or one such
    /// a stylesheet imports. Read for stylesheets.
    pub render_blocking: bool,
    /// It blocks the parser: a classic script in `<head>`, or one written
    /// by such a script. Read for scripts.
    pub parser_blocking: bool,
    /// It is requested as a preload (a 103 hint or `<link rel=preload>`):
    /// Chromium gives a preloaded stylesheet or script the priority of a
    /// blocking one.
    pub preload: bool,
    /// An image among the first five not-small ones the preload scanner
    /// found (`kBoostImagePriority`). Read for images.
    pub boosted: bool,
    /// A 103 preload, made by the browser process: incremental, whatever
    /// its type. Implies `preload`'s urgency.
    pub early_hint: bool,
}

/// Blink's resource load priorities, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// kVeryLow.
    VeryLow,
    /// kLow.
    Low,
    /// kMedium.
    Medium,
    /// kHigh.
    High,
    /// kVeryHigh.
    VeryHigh,
}

/// Blink's priority for a resource of this kind, used this way.
pub fn level(kind: Kind, usage: Usage) -> Level {
    match kind {
        Kind::Document => Level::VeryHigh,
        Kind::Style if usage.render_blocking || usage.preload || usage.early_hint => {
            Level::VeryHigh
        }
        Kind::Style => Level::VeryLow,
        Kind::Script if usage.parser_blocking || usage.preload || usage.early_hint => Level::High,
        Kind::Script => Level::Low,
        Kind::Font if usage.preload || usage.early_hint => Level::High,
        Kind::Font => Level::VeryHigh,
        Kind::Image if usage.boosted && !usage.preload && !usage.early_hint => Level::Medium,
        Kind::Image => Level::Low,
        Kind::Other => Level::High,
    }
}

/// The priority Chromium requests a resource of this kind with, used this
/// way.
pub fn request_priority(kind: Kind, usage: Usage) -> Priority {
    let urgency = match level(kind, usage) {
        Level::VeryHigh => 0,
        Level::High => 1,
        Level::Medium => 2,
        Level::Low => 3,
        Level::VeryLow => 4,
    };
    //= https://www.rfc-editor.org/rfc/rfc9218#section-4.2
    //# The incremental parameter value is Boolean.  It indicates if an HTTP
    //# response can be processed incrementally, i.e., provide some
    //# meaningful output as chunks of the response arrive.
    Priority::new(
        urgency,
        usage.early_hint || matches!(kind, Kind::Document | Kind::Image),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Kind, usage: Usage) -> String {
        request_priority(kind, usage).to_string()
    }

    /// The table, row by row.
    #[test]
    fn chromium_table() {
        let none = Usage::default();
        let blocking = Usage {
            render_blocking: true,
            parser_blocking: true,
            preload: false,
            boosted: false,
            early_hint: false,
        };
        let boosted = Usage {
            boosted: true,
            ..none
        };
        let preload = Usage {
            preload: true,
            ..none
        };
        let hint = Usage {
            early_hint: true,
            ..none
        };
        assert_eq!(header(Kind::Document, none), "u=0, i");
        assert_eq!(header(Kind::Style, blocking), "u=0");
        assert_eq!(header(Kind::Style, preload), "u=0");
        assert_eq!(header(Kind::Style, none), "u=4");
        assert_eq!(header(Kind::Script, blocking), "u=1");
        assert_eq!(header(Kind::Script, preload), "u=1");
        assert_eq!(header(Kind::Script, none), "u=3");
        assert_eq!(header(Kind::Font, none), "u=0");
        assert_eq!(header(Kind::Font, preload), "u=1");
        assert_eq!(header(Kind::Image, none), "u=3, i");
        assert_eq!(header(Kind::Image, boosted), "u=2, i");
        assert_eq!(header(Kind::Image, preload), "u=3, i");
        assert_eq!(header(Kind::Other, none), "u=1");
        assert_eq!(header(Kind::Style, hint), "u=0, i");
        assert_eq!(header(Kind::Script, hint), "u=1, i");
        assert_eq!(header(Kind::Font, hint), "u=1, i");
        assert_eq!(header(Kind::Image, hint), "u=3, i");
    }

    /// A stylesheet reads only render-blocking, a script only
    /// parser-blocking.
    #[test]
    fn each_kind_reads_its_own_flag() {
        let rb = Usage {
            render_blocking: true,
            ..Usage::default()
        };
        let pb = Usage {
            parser_blocking: true,
            ..Usage::default()
        };
        assert_eq!(header(Kind::Style, pb), "u=4");
        assert_eq!(header(Kind::Script, rb), "u=3");
    }
}
