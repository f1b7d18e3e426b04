//! The emulated browser's HTTP cache and cookie jar, kept across
//! visits (a warm visit follows a cold one).

use std::collections::BTreeMap;

use bytes::Bytes;

/// A cached response.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// Its body.
    pub body: Bytes,
    /// Its ETag.
    pub etag: Option<String>,
    /// Fresh for this long after it was stored (None: must revalidate).
    pub max_age_s: Option<u64>,
    /// Its response headers' content type.
    pub content_type: String,
}

/// The HTTP cache and cookie jar of one browser profile, shared by
/// successive visits (a warm visit follows a cold one).
#[derive(Debug, Clone, Default)]
pub struct HttpCache {
    entries: BTreeMap<String, CacheEntry>,
    cookies: BTreeMap<String, String>,
    /// Seconds between the visits (for freshness).
    pub visit_gap_s: u64,
}

impl HttpCache {
    /// An empty cache (a cold visit).
    pub fn new() -> Self {
        HttpCache {
            visit_gap_s: 60,
            ..Default::default()
        }
    }

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A fresh entry for `path` (usable without a request).
    pub fn fresh(&self, path: &str) -> Option<&CacheEntry> {
        self.entries
            .get(path)
            .filter(|e| e.max_age_s.is_some_and(|m| self.visit_gap_s < m))
    }

    /// An entry that can be revalidated (has an ETag).
    pub fn revalidatable(&self, path: &str) -> Option<&CacheEntry> {
        self.entries.get(path).filter(|e| e.etag.is_some())
    }

    /// Stores a 200 response according to its `cache-control`.
    pub fn store(&mut self, path: &str, headers: &[(String, String)], body: Bytes) {
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let cc = get("cache-control").unwrap_or("").to_ascii_lowercase();
        let directives: Vec<&str> = cc.split(',').map(str::trim).collect();
        if directives.contains(&"no-store") {
            self.entries.remove(path);
            return;
        }
        let max_age_s = if directives.contains(&"no-cache") {
            None
        } else {
            directives
                .iter()
                .find_map(|d| d.strip_prefix("max-age=").and_then(|v| v.parse().ok()))
        };
        self.entries.insert(
            path.to_string(),
            CacheEntry {
                body,
                etag: get("etag").map(str::to_string),
                max_age_s,
                content_type: get("content-type").unwrap_or("").to_string(),
            },
        );
    }

    /// Keeps the cookies a response sets (name=value; attributes ignored).
    pub fn set_cookies(&mut self, headers: &[(String, String)]) {
        for (n, v) in headers {
            if n.eq_ignore_ascii_case("set-cookie") {
                if let Some((name, value)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                    self.cookies
                        .insert(name.trim().to_string(), value.trim().to_string());
                }
            }
        }
    }

    /// The `cookie` header value, if any cookie is set.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}
