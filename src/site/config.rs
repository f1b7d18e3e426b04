//! `site.toml`: per-path headers, think time, priority override and
//! fetch-graph hints.
//!
//! ```toml
//! [defaults]
//! cache_control = "public, max-age=600"
//!
//! [paths."/index.html"]
//! think = "300ms"            # server-side delay before the response is ready
//! priority = "u=0"           # server override (RFC 9218 section 8 merging)
//! cache_control = "no-cache"
//! headers = { "x-experiment" = "a" }
//!
//! [paths."/js/app.js"]
//! loads = ["/js/lazy.js"]    # an edge the HTML/CSS scan cannot see
//!
//! [paths."/img/*"]           # a trailing * matches a prefix
//! priority = "u=5, i"
//! ```
//!
//! For a path, an exact entry wins over the longest matching prefix entry,
//! which wins over `[defaults]`; fields combine field by field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::priority::PriorityParams;
use crate::units::parse_duration;

/// One `[paths."..."]` or `[defaults]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    think: Option<String>,
    priority: Option<String>,
    cache_control: Option<String>,
    content_type: Option<String>,
    vary: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    loads: Option<Vec<String>>,
    critical: Option<bool>,
    hidden: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    #[serde(default)]
    defaults: RawPath,
    #[serde(default)]
    paths: BTreeMap<String, RawPath>,
}

/// The settings that apply to one path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathConfig {
    /// Server-side delay before the response is ready.
    pub think: Option<Duration>,
    /// Server priority override, parsed.
    pub priority: Option<PriorityParams>,
    /// The override as written, echoed in the `priority` response header.
    pub priority_raw: Option<String>,
    /// `cache-control` value.
    pub cache_control: Option<String>,
    /// `content-type` value, overriding the extension's.
    pub content_type: Option<String>,
    /// `vary` value.
    pub vary: Option<String>,
    /// Extra response header fields (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Resources this one loads that a scan cannot see (a script that builds
    /// the URL at run time).
    pub loads: Vec<String>,
    /// Mark as critical (hinted with 103 by the `preload` policy).
    pub critical: Option<bool>,
    /// Mark as hidden: discovered late by the browser (e.g. loaded by script).
    pub hidden: Option<bool>,
}

impl PathConfig {
    fn from_raw(key: &str, raw: &RawPath) -> Result<Self, String> {
        let think = raw
            .think
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| format!("[{key}] think: {e}"))?;
        let priority = match raw.priority.as_deref() {
            Some(p) => Some(
                PriorityParams::parse(p.as_bytes())
                    .map_err(|e| format!("[{key}] priority {p:?}: {e}"))?,
            ),
            None => None,
        };
        let mut headers = Vec::new();
        for (name, value) in raw.headers.iter().flatten() {
            let lname = name.to_ascii_lowercase();
            if http::HeaderName::from_bytes(lname.as_bytes()).is_err() {
                return Err(format!(
                    "[{key}] headers: {name:?} is not a valid field name"
                ));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return Err(format!(
                    "[{key}] headers: value of {name:?} is not a valid field value"
                ));
            }
            if lname.starts_with(':')
                || matches!(
                    lname.as_str(),
                    "connection"
                        | "transfer-encoding"
                        | "keep-alive"
                        | "upgrade"
                        | "content-length"
                )
            {
                return Err(format!(
                    "[{key}] headers: {name:?} is set by the server and cannot be configured"
                ));
            }
            headers.push((lname, value.clone()));
        }
        for (what, v) in [
            ("cache_control", &raw.cache_control),
            ("content_type", &raw.content_type),
            ("vary", &raw.vary),
        ] {
            if let Some(v) = v {
                if http::HeaderValue::from_str(v).is_err() {
                    return Err(format!("[{key}] {what}: not a valid field value"));
                }
            }
        }
        for l in raw.loads.iter().flatten() {
            if !l.starts_with('/') {
                return Err(format!("[{key}] loads: {l:?} must be an absolute path"));
            }
        }
        Ok(PathConfig {
            think,
            priority,
            priority_raw: raw.priority.clone(),
            cache_control: raw.cache_control.clone(),
            content_type: raw.content_type.clone(),
            vary: raw.vary.clone(),
            headers,
            loads: raw.loads.clone().unwrap_or_default(),
            critical: raw.critical,
            hidden: raw.hidden,
        })
    }

    /// `self` with every field `over` sets replaced by `over`'s.
    fn overlay(mut self, over: &PathConfig) -> Self {
        if over.think.is_some() {
            self.think = over.think;
        }
        if over.priority.is_some() {
            self.priority = over.priority;
            self.priority_raw = over.priority_raw.clone();
        }
        if over.cache_control.is_some() {
            self.cache_control = over.cache_control.clone();
        }
        if over.content_type.is_some() {
            self.content_type = over.content_type.clone();
        }
        if over.vary.is_some() {
            self.vary = over.vary.clone();
        }
        for (n, v) in &over.headers {
            self.headers.retain(|(m, _)| m != n);
            self.headers.push((n.clone(), v.clone()));
        }
        if !over.loads.is_empty() {
            self.loads = over.loads.clone();
        }
        if over.critical.is_some() {
            self.critical = over.critical;
        }
        if over.hidden.is_some() {
            self.hidden = over.hidden;
        }
        self
    }
}

/// A parsed `site.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteConfig {
    defaults: PathConfig,
    exact: BTreeMap<String, PathConfig>,
    /// Prefix entries (key without the trailing `*`), longest first.
    prefixes: Vec<(String, PathConfig)>,
}

impl SiteConfig {
    /// Parses the text of a `site.toml`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawSite = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut cfg = SiteConfig {
            defaults: PathConfig::from_raw("defaults", &raw.defaults)?,
            ..Default::default()
        };
        for (key, p) in &raw.paths {
            if !key.starts_with('/') {
                return Err(format!("[paths.{key:?}]: paths must start with '/'"));
            }
            let pc = PathConfig::from_raw(key, p)?;
            match key.strip_suffix('*') {
                Some(prefix) => cfg.prefixes.push((prefix.to_string(), pc)),
                None => {
                    cfg.exact.insert(key.clone(), pc);
                }
            }
        }
        cfg.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(cfg)
    }

    /// Adds or replaces an exact entry (used by the built-in demo site).
    pub fn set(&mut self, path: &str, pc: PathConfig) {
        self.exact.insert(path.to_string(), pc);
    }

    /// The effective settings for a path.
    pub fn for_path(&self, path: &str) -> PathConfig {
        let mut out = self.defaults.clone();
        if let Some((_, pc)) = self
            .prefixes
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
        {
            out = out.overlay(pc);
        }
        if let Some(pc) = self.exact.get(path) {
            out = out.overlay(pc);
        }
        out
    }

    /// Paths with an exact entry.
    pub fn exact_paths(&self) -> impl Iterator<Item = &String> {
        self.exact.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_exact_prefix_defaults() {
        let cfg = SiteConfig::parse(
            r#"
            [defaults]
            cache_control = "public, max-age=60"
            think = "5ms"
            [paths."/img/*"]
            priority = "u=5, i"
            [paths."/img/hero.png"]
            priority = "u=1"
            headers = { "X-Exp" = "a" }
            [paths."/index.html"]
            think = "300ms"
            loads = ["/js/lazy.js"]
            critical = true
            "#,
        )
        .unwrap();
        let hero = cfg.for_path("/img/hero.png");
        assert_eq!(hero.priority.unwrap().urgency, Some(1));
        assert_eq!(hero.priority.unwrap().incremental, None);
        assert_eq!(hero.cache_control.as_deref(), Some("public, max-age=60"));
        assert_eq!(hero.headers, vec![("x-exp".to_string(), "a".to_string())]);
        let thumb = cfg.for_path("/img/t.png");
        assert_eq!(thumb.priority.unwrap().incremental, Some(true));
        let index = cfg.for_path("/index.html");
        assert_eq!(index.think, Some(Duration::from_millis(300)));
        assert_eq!(index.loads, vec!["/js/lazy.js".to_string()]);
        assert_eq!(cfg.for_path("/other").think, Some(Duration::from_millis(5)));
    }

    #[test]
    fn errors_name_the_problem() {
        for (text, needle) in [
            ("[paths.\"/a\"]\nthink = \"soon\"", "think"),
            ("[paths.\"/a\"]\npriority = \"u=\"", "priority"),
            ("[paths.\"a\"]\nthink = \"1ms\"", "must start with '/'"),
            (
                "[paths.\"/a\"]\nheaders = { \"bad name\" = \"x\" }",
                "not a valid field name",
            ),
            (
                "[paths.\"/a\"]\nheaders = { \"content-length\" = \"1\" }",
                "set by the server",
            ),
            ("[paths.\"/a\"]\nspeed = 1", "unknown field"),
            ("[paths.\"/a\"]\nloads = [\"x.js\"]", "absolute path"),
        ] {
            let err = SiteConfig::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?} gave {err:?}");
        }
    }
}
