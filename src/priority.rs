//! RFC 9218 priority parameters: the `priority` header field and the
//! Priority Field Value carried by PRIORITY_UPDATE frames.
//!
//! Pure parsing and merging only; the scheduler ([`crate::sched`]) consumes
//! the resulting [`Priority`] and never sees a header.

use std::fmt;

use sfv::{BareItem, Dictionary, ListEntry, Parser};

/// The default urgency.
//= https://www.rfc-editor.org/rfc/rfc9218#section-4.1
//# The urgency (u) parameter value is Integer (see Section 3.3.1 of
//# [STRUCTURED-FIELDS]), between 0 and 7 inclusive, in descending order of
//# priority.  The default is 3.
pub const DEFAULT_URGENCY: u8 = 3;

/// The least urgent level, reserved for background work.
pub const MAX_URGENCY: u8 = 7;

/// The two priority parameters RFC 9218 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// 0 (most urgent) ..= 7 (background).
    pub urgency: u8,
    /// Whether the client can use the response in chunks as they arrive.
    //= https://www.rfc-editor.org/rfc/rfc9218#section-4.2
    //# The default value of the incremental parameter is false (0).
    pub incremental: bool,
}

impl Default for Priority {
    fn default() -> Self {
        Priority {
            urgency: DEFAULT_URGENCY,
            incremental: false,
        }
    }
}

impl Priority {
    /// A priority with the given urgency (clamped to 0..=7) and incremental flag.
    pub fn new(urgency: u8, incremental: bool) -> Self {
        Priority {
            urgency: urgency.min(MAX_URGENCY),
            incremental,
        }
    }

    /// A pushed response's priority, kept behind its parent's: the push
    /// keeps its own priority when that is less urgent than the parent's;
    /// otherwise RFC 9218 scheduling would serve it before the parent, or
    /// round-robin it with the parent or with later requests of the same
    /// urgency. Then, after an incremental parent, it goes one urgency
    /// lower with its own incremental flag; after a non-incremental parent
    /// it takes the parent's priority, so request order puts it right after
    /// the parent and before later requests. The Rules of Thumb's order
    /// (A, its pushes C and D, then B). Behind a u=7 incremental parent
    /// nothing lower exists: a non-incremental push there goes first.
    pub fn behind(self, parent: Priority) -> Priority {
        self.behind_inner(parent)
    }

    /// A push's priority on either protocol: the policy's priority for it
    /// kept [`behind`](Priority::behind) its parent's, or the parent's own
    /// when the policy gives none.
    pub fn of_push(own: Option<Priority>, parent: Priority) -> Priority {
        own.map_or(parent, |p| p.behind(parent))
    }

    fn behind_inner(self, parent: Priority) -> Priority {
        let ahead = self.urgency < parent.urgency
            || (self.urgency == parent.urgency && (parent.incremental || self.incremental));
        if !ahead {
            return self;
        }
        if parent.incremental {
            Priority::new(
                parent.urgency.saturating_add(1).min(MAX_URGENCY),
                self.incremental,
            )
        } else {
            parent
        }
    }
}

impl fmt::Display for Priority {
    /// Serialises as a Structured Fields Dictionary, e.g. `u=1, i`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "u={}", self.urgency)?;
        if self.incremental {
            write!(f, ", i")?;
        }
        Ok(())
    }
}

/// Why a Priority Field Value could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    /// The value is not a Structured Fields Dictionary (RFC 8941/9651 section 4.2).
    #[error("priority field value is not a structured-fields dictionary: {0}")]
    NotADictionary(String),
}

/// Priority parameters as sent by one party, each possibly absent.
///
/// RFC 9218 treats absence differently in requests (use the default) and in
/// server-side signals (keep the client's value), so parsing keeps absence
/// visible and [`PriorityParams::over_defaults`] / [`PriorityParams::merge_onto`]
/// apply the right rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriorityParams {
    /// The `u` parameter, if present and valid.
    pub urgency: Option<u8>,
    /// The `i` parameter, if present and valid.
    pub incremental: Option<bool>,
}

impl PriorityParams {
    /// Parses a Priority Field Value.
    ///
    /// A syntactically invalid dictionary is an error (the caller decides
    /// whether to ignore the field or the frame); invalid members are dropped.
    //= https://www.rfc-editor.org/rfc/rfc9218#section-4
    //# Where the Dictionary is successfully parsed, this document places the
    //# additional requirement that unknown priority parameters, priority
    //# parameters with out-of-range values, or values of unexpected types
    //# MUST be ignored.
    pub fn parse(value: &[u8]) -> Result<Self, PriorityError> {
        let dict: Dictionary = Parser::new(value)
            .parse()
            .map_err(|e| PriorityError::NotADictionary(e.to_string()))?;
        let mut out = PriorityParams::default();
        if let Some(ListEntry::Item(item)) = dict.get("u") {
            if let BareItem::Integer(v) = item.bare_item {
                let v: i64 = v.into();
                if (0..=i64::from(MAX_URGENCY)).contains(&v) {
                    out.urgency = Some(v as u8);
                }
            }
        }
        if let Some(ListEntry::Item(item)) = dict.get("i") {
            if let BareItem::Boolean(b) = item.bare_item {
                out.incremental = Some(b);
            }
        }
        Ok(out)
    }

    /// A request's signal: absent parameters take their defaults.
    //= https://www.rfc-editor.org/rfc/rfc9218#section-4
    //# When receiving an HTTP request that does not carry these priority
    //# parameters, a server SHOULD act as if their default values were
    //# specified.
    pub fn over_defaults(self) -> Priority {
        Priority {
            urgency: self.urgency.unwrap_or(DEFAULT_URGENCY),
            incremental: self.incremental.unwrap_or(false),
        }
    }

    /// A server-side signal layered over the client's: absent parameters keep
    /// the client's value.
    //= https://www.rfc-editor.org/rfc/rfc9218#section-8
    //# The absence of a priority parameter in an HTTP response indicates the
    //# server's disinterest in changing the client-provided value.
    pub fn merge_onto(self, client: Priority) -> Priority {
        Priority {
            urgency: self.urgency.unwrap_or(client.urgency),
            incremental: self.incremental.unwrap_or(client.incremental),
        }
    }

    /// True when neither parameter is present.
    pub fn is_empty(&self) -> bool {
        self.urgency.is_none() && self.incremental.is_none()
    }
}

/// The priority a request asks for through its `priority` header field lines.
///
/// Several field lines are combined with commas, as HTTP does for
/// list-based fields. A value that fails to parse as a dictionary is
/// ignored as a whole and the defaults apply.
//= https://www.rfc-editor.org/rfc/rfc8941#section-4.2
//# If parsing fails -- including when calling another algorithm -- the
//# entire field value MUST be ignored (i.e., treated as if the field were
//# not present in the section).
pub fn from_request_header_lines<'a, I>(lines: I) -> (Priority, Option<PriorityError>)
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut joined: Vec<u8> = Vec::new();
    let mut any = false;
    for line in lines {
        if any {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(line);
        any = true;
    }
    if !any {
        return (Priority::default(), None);
    }
    match PriorityParams::parse(&joined) {
        Ok(p) => (p.over_defaults(), None),
        Err(e) => (Priority::default(), Some(e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pushes_stay_behind_their_parent() {
        let doc = Priority::new(0, true);
        // A stylesheet (u=0) after an incremental document: one level down.
        assert_eq!(Priority::new(0, false).behind(doc), Priority::new(1, false));
        // An incremental image as urgent as the document: no sharing.
        assert_eq!(Priority::new(0, true).behind(doc), Priority::new(1, true));
        // Already behind: unchanged.
        assert_eq!(Priority::new(2, true).behind(doc), Priority::new(2, true));
        // A non-incremental parent at the default urgency: the push takes
        // that urgency, and request order puts it after the parent.
        let page = Priority::new(3, false);
        assert_eq!(
            Priority::new(0, false).behind(page),
            Priority::new(3, false)
        );
        assert_eq!(Priority::new(2, true).behind(page), page);
        assert_eq!(Priority::new(3, true).behind(page), page);
        assert_eq!(Priority::new(5, true).behind(page), Priority::new(5, true));
        // The least urgent incremental parent: nothing lower exists.
        let bg = Priority::new(7, true);
        assert_eq!(Priority::new(7, false).behind(bg), Priority::new(7, false));
    }

    use super::*;

    fn p(s: &str) -> Priority {
        PriorityParams::parse(s.as_bytes()).unwrap().over_defaults()
    }

    /// The examples of RFC 9218 sections 4.1 and 4.2.
    #[test]
    fn rfc_examples() {
        assert_eq!(p("u=0"), Priority::new(0, false));
        assert_eq!(p("u=5, i"), Priority::new(5, true));
        assert_eq!(p(""), Priority::default());
    }

    /// Unknown parameters, out-of-range values and wrong types are ignored.
    #[test]
    fn ignores_invalid_members() {
        assert_eq!(p("a=42, u=4, i=?0"), Priority::new(4, false));
        assert_eq!(p("u=-2, i"), Priority::new(3, true));
        assert_eq!(p("u=8"), Priority::new(3, false));
        assert_eq!(p("u=4.2, i=\"foo\""), Priority::new(3, false));
        assert_eq!(p("u=?1"), Priority::new(3, false));
        assert_eq!(p("u=(1 2), i=1"), Priority::new(3, false));
        assert_eq!(p("u=2;x=1"), Priority::new(2, false));
    }

    /// Duplicate keys: the last one wins (RFC 9651 section 4.2.2).
    #[test]
    fn last_duplicate_wins() {
        assert_eq!(p("u=1, u=6"), Priority::new(6, false));
    }

    /// A value that is not a dictionary is an error, and as a header it is ignored.
    #[test]
    fn not_a_dictionary() {
        assert!(PriorityParams::parse(b"u=").is_err());
        assert!(PriorityParams::parse(b"U=1").is_err());
        assert!(PriorityParams::parse(b"i=?2").is_err());
        let (prio, err) = from_request_header_lines([b"u=1, ,".as_slice()]);
        assert_eq!(prio, Priority::default());
        assert!(err.is_some());
    }

    /// Several header lines combine like a list.
    #[test]
    fn header_lines_combine() {
        let (prio, err) = from_request_header_lines([b"u=1".as_slice(), b"i".as_slice()]);
        assert_eq!(prio, Priority::new(1, true));
        assert!(err.is_none());
        let (prio, _) = from_request_header_lines(std::iter::empty());
        assert_eq!(prio, Priority::default());
    }

    /// A server signal keeps what it does not mention (RFC 9218 section 8 example).
    #[test]
    fn merge_keeps_client_values() {
        let client = p("u=5, i");
        let server = PriorityParams::parse(b"u=1").unwrap();
        assert_eq!(server.merge_onto(client), Priority::new(1, true));
    }

    #[test]
    fn display_round_trips() {
        for u in 0..=7 {
            for i in [false, true] {
                let prio = Priority::new(u, i);
                assert_eq!(p(&prio.to_string()), prio);
            }
        }
    }
}
