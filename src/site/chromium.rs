//! Chromium's request priorities: the one table the emulated browser
//! ([`crate::browser`]) requests with and the push policies
//! ([`crate::push`]) push with, so a pushed resource gets the priority the
//! browser would have asked for it.
//!
//! Blink gives every request a priority from the resource's type and how
//! the page uses it; the network stack maps that to an RFC 9218 urgency
//! (VeryHigh 0, High 1, Medium 2, Low 3, VeryLow 4), incremental for
//! documents and images:
//!
//! | resource | how referenced | urgency |
//! |---|---|---|
//! | document | | `u=0, i` |
//! | stylesheet | render-blocking (media matches; its imports), or a preload | `u=0` |
//! | stylesheet | otherwise (media does not match) | `u=4` |
//! | script | parser-blocking (classic, in `<head>`, or written by one), or a preload | `u=1` |
//! | script | otherwise (`async`, `defer`, module, inserted) | `u=3` |
//! | font | | `u=1` |
//! | image | | `u=2, i` |
//! | other (fetch) | | `u=1` |

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
}

/// The priority Chromium requests a resource of this kind with, used this
/// way.
pub fn request_priority(kind: Kind, usage: Usage) -> Priority {
    let (urgency, incremental) = match kind {
        Kind::Document => (0, true),
        Kind::Style if usage.render_blocking || usage.preload => (0, false),
        Kind::Style => (4, false),
        Kind::Script if usage.parser_blocking || usage.preload => (1, false),
        Kind::Script => (3, false),
        Kind::Font => (1, false),
        Kind::Image => (2, true),
        Kind::Other => (1, false),
    };
    Priority::new(urgency, incremental)
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
        };
        let preload = Usage {
            preload: true,
            ..none
        };
        assert_eq!(header(Kind::Document, none), "u=0, i");
        assert_eq!(header(Kind::Style, blocking), "u=0");
        assert_eq!(header(Kind::Style, preload), "u=0");
        assert_eq!(header(Kind::Style, none), "u=4");
        assert_eq!(header(Kind::Script, blocking), "u=1");
        assert_eq!(header(Kind::Script, preload), "u=1");
        assert_eq!(header(Kind::Script, none), "u=3");
        assert_eq!(header(Kind::Font, none), "u=1");
        assert_eq!(header(Kind::Image, preload), "u=2, i");
        assert_eq!(header(Kind::Other, none), "u=1");
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
