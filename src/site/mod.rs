//! The site model: what the server can serve, with each resource's type,
//! size, caching headers, think time and server-side priority.
//!
//! Two sources: the built-in demo site ([`Site::demo`]) and a directory
//! ([`Site::load`]) with an optional `site.toml`. Either way the model is
//! built once at start; requests are answered from the map of normalised
//! paths, so a request path never reaches the file system unless it is
//! exactly one of the files found by the start-up scan.

pub mod chromium;
pub mod config;
mod demo;
pub mod graph;
pub mod path;
pub mod png;
pub mod scan;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::priority::PriorityParams;
pub use config::{PathConfig, SiteConfig};
pub use graph::Graph;

/// The largest `/bytes/N` response.
pub const MAX_GENERATED: u64 = 4 << 30;

/// Problems loading a site directory or its `site.toml`.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `site.toml` is invalid.
    #[error("{path}: {why}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The directory holds more files than the model accepts.
    #[error("{0}: more than {1} files; point --site at a smaller tree")]
    TooManyFiles(PathBuf, usize),
}

/// Where a resource's bytes come from.
#[derive(Debug, Clone)]
pub enum Body {
    /// Held in memory (the demo site's files, and files of a site
    /// directory up to 1 MiB, read at load).
    Static(Bytes),
    /// A regular file inside the site directory, read when served.
    File(PathBuf),
    /// Deterministic pseudo-random bytes ([`generated_chunk`]).
    Generated {
        /// Seed of the byte pattern.
        seed: u64,
    },
}

/// The role a resource plays in a page load, from its content type (the
/// site model), or from how a page referenced it (the emulated browser).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    /// An HTML document.
    Document,
    /// A stylesheet.
    Style,
    /// A script.
    Script,
    /// A font.
    Font,
    /// An image.
    Image,
    /// Anything else.
    Other,
}

impl Kind {
    /// From a `Link: ...; as=` or `<link rel=preload as=>` value.
    pub fn from_as(v: &str) -> Kind {
        match v.trim().to_ascii_lowercase().as_str() {
            "style" => Kind::Style,
            "script" => Kind::Script,
            "font" => Kind::Font,
            "image" => Kind::Image,
            "document" => Kind::Document,
            _ => Kind::Other,
        }
    }

    /// From a path's extension (for `url()` values and script loads).
    pub fn from_path(path: &str) -> Kind {
        let p = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let ext = p.rsplit('.').next().unwrap_or("");
        match ext {
            "css" => Kind::Style,
            "js" | "mjs" => Kind::Script,
            "woff2" | "woff" | "ttf" | "otf" => Kind::Font,
            "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" | "avif" | "ico" => Kind::Image,
            "html" | "htm" => Kind::Document,
            _ => Kind::Other,
        }
    }

    /// The `as` value of a `Link: rel=preload` for this kind.
    pub fn preload_as(self) -> Option<&'static str> {
        match self {
            Kind::Style => Some("style"),
            Kind::Script => Some("script"),
            Kind::Font => Some("font"),
            Kind::Image => Some("image"),
            Kind::Document => Some("document"),
            Kind::Other => Some("fetch"),
        }
    }

    /// Classifies a content type.
    pub fn from_content_type(ct: &str) -> Kind {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "text/html" => Kind::Document,
            "text/css" => Kind::Style,
            "text/javascript" | "application/javascript" => Kind::Script,
            _ if ct.starts_with("font/") => Kind::Font,
            _ if ct.starts_with("image/") => Kind::Image,
            _ => Kind::Other,
        }
    }

    /// Lower-case name for logs and graphs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Document => "document",
            Kind::Style => "style",
            Kind::Script => "script",
            Kind::Font => "font",
            Kind::Image => "image",
            Kind::Other => "other",
        }
    }
}

/// One servable resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Normalised path, starting with `/`.
    pub path: String,
    /// Where the bytes come from.
    pub body: Body,
    /// Length in bytes.
    pub len: u64,
    /// The `content-type` value.
    pub content_type: String,
    /// Its role in a page load.
    pub kind: Kind,
    /// Strong validator, quoted.
    pub etag: String,
    /// For `last-modified` and `if-modified-since`.
    pub last_modified: SystemTime,
    /// The `cache-control` value.
    pub cache_control: String,
    /// The `vary` value, if the response varies on request headers.
    pub vary: Option<String>,
    /// Further response header fields from `site.toml`.
    pub extra_headers: Vec<(String, String)>,
    /// Server-side delay before the response is ready (a slow backend).
    pub think: Duration,
    /// Server-side priority, layered over the client's (RFC 9218 section 8).
    pub server_priority: PriorityParams,
    /// The raw `priority` value from `site.toml`, echoed as a response header.
    pub server_priority_raw: Option<String>,
}

/// What the server can serve.
#[derive(Debug, Clone)]
pub struct Site {
    /// A short description for logs ("built-in demo" or the directory).
    pub name: String,
    resources: BTreeMap<String, Arc<Resource>>,
    config: SiteConfig,
    started: SystemTime,
    graph: Graph,
}

/// Content type by file extension.
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// A strong ETag from content.
pub fn etag_of(data: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    format!("\"{}\"", &crate::hex::encode(d.as_ref())[..20])
}

/// The 64 KiB block a generated byte pattern repeats with variations.
#[derive(Debug, Clone)]
pub struct Pattern {
    block: Arc<Vec<u8>>,
}

impl Pattern {
    /// The pattern for `seed`, computed once per seed and shared (a small
    /// cache: the demo site and `/bytes/N` use a handful of seeds).
    pub fn new(seed: u64) -> Self {
        use std::sync::{Mutex, OnceLock};
        type Cache = Mutex<Vec<(u64, Arc<Vec<u8>>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, b)) = c.iter().find(|(s, _)| *s == seed) {
            return Pattern { block: b.clone() };
        }
        let block = Arc::new(Self::compute(seed));
        if c.len() >= 16 {
            c.remove(0);
        }
        c.push((seed, block.clone()));
        Pattern { block }
    }

    fn compute(seed: u64) -> Vec<u8> {
        let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut block = Vec::with_capacity(65_536);
        while block.len() < 65_536 {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            block.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        block
    }

    /// Bytes `offset..offset+len`: byte `i` is `block[i % 65536] ^ (i / 65536) as u8`,
    /// so any client can check a body byte-exactly without the server's files.
    pub fn bytes(&self, offset: u64, len: usize) -> Bytes {
        let mut out = Vec::with_capacity(len);
        let mut i = offset;
        while out.len() < len {
            let pos = (i % 65_536) as usize;
            let take = (65_536 - pos).min(len - out.len());
            let salt = (i / 65_536) as u8;
            out.extend(self.block[pos..pos + take].iter().map(|b| b ^ salt));
            i += take as u64;
        }
        Bytes::from(out)
    }
}

/// Bytes `offset..offset+len` of the deterministic pattern for `seed`
/// (see [`Pattern::bytes`]).
pub fn generated_chunk(seed: u64, offset: u64, len: usize) -> Bytes {
    Pattern::new(seed).bytes(offset, len)
}

/// The seed `/bytes/N` uses.
pub const BYTES_SEED: u64 = 0x7075_7368; // "push"

impl Site {
    /// The built-in demo site.
    pub fn demo() -> Self {
        demo::build()
    }

    /// The demo site with its configuration adjusted (e.g. documents made
    /// `no-store` for repeat-visit experiments).
    pub fn demo_with(adjust: impl FnOnce(&mut SiteConfig)) -> Self {
        demo::build_with(adjust)
    }

    /// Loads a directory, with `site.toml` in it if present.
    pub fn load(dir: &Path) -> Result<Self, SiteError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SiteError::Io { path, source }
        };
        let root = fs::canonicalize(dir).map_err(io(dir))?;
        let config_path = root.join("site.toml");
        let config = if config_path.exists() {
            let text = fs::read_to_string(&config_path).map_err(io(&config_path))?;
            SiteConfig::parse(&text).map_err(|why| SiteError::Config {
                path: config_path.clone(),
                why,
            })?
        } else {
            SiteConfig::default()
        };
        let mut site = Site {
            name: root.display().to_string(),
            resources: BTreeMap::new(),
            config,
            started: SystemTime::now(),
            graph: Graph::default(),
        };
        let mut stack = vec![root.clone()];
        const MAX_FILES: usize = 200_000;
        // Files up to this size are read into memory at load, within a total
        // budget: opening and reading a file for every request (through
        // tokio's blocking pool) costs more than serving a small response.
        // The site is a snapshot either way (lengths and ETags are taken
        // at load).
        const MEMORY_FILE_MAX: u64 = 1024 * 1024;
        let mut memory_budget: u64 = 256 * 1024 * 1024;
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') {
                    continue;
                }
                let full = entry.path();
                // symlink_metadata: never follow links, which could leave the tree.
                let meta = fs::symlink_metadata(&full).map_err(io(&full))?;
                if meta.is_dir() {
                    stack.push(full);
                    continue;
                }
                if !meta.is_file() || full == config_path {
                    continue;
                }
                let Ok(rel) = full.strip_prefix(&root) else {
                    continue;
                };
                let Some(rel) = rel.to_str() else { continue };
                let url_path = format!("/{}", rel.replace(std::path::MAIN_SEPARATOR, "/"));
                if path::normalize(&url_path).is_err() {
                    continue;
                }
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let nanos = modified
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let etag = format!("\"{:x}-{:x}\"", meta.len(), nanos);
                let body = if meta.len() <= MEMORY_FILE_MAX && meta.len() <= memory_budget {
                    let data = fs::read(&full).map_err(io(&full))?;
                    memory_budget -= data.len() as u64;
                    Body::Static(Bytes::from(data))
                } else {
                    Body::File(full)
                };
                let len = match &body {
                    Body::Static(b) => b.len() as u64,
                    _ => meta.len(),
                };
                site.insert(url_path, body, len, etag, modified);
                if site.resources.len() > MAX_FILES {
                    return Err(SiteError::TooManyFiles(root, MAX_FILES));
                }
            }
        }
        site.build_graph();
        Ok(site)
    }

    /// (Re)builds the fetch dependency graph from the current resources;
    /// call after the last [`Site::insert`].
    pub fn build_graph(&mut self) {
        self.graph = Graph::build(self);
    }

    /// The fetch dependency graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// An empty site with a configuration; resources are added with [`Site::insert`].
    pub fn empty(name: &str, config: SiteConfig) -> Self {
        Site {
            name: name.to_string(),
            resources: BTreeMap::new(),
            config,
            started: SystemTime::now(),
            graph: Graph::default(),
        }
    }

    /// Adds a resource held in memory, its ETag from its bytes.
    pub fn insert_static(&mut self, path: &str, data: Vec<u8>, last_modified: SystemTime) {
        let etag = etag_of(&data);
        let len = data.len() as u64;
        self.insert(
            path.to_string(),
            Body::Static(Bytes::from(data)),
            len,
            etag,
            last_modified,
        );
    }

    /// Adds a resource, applying the configuration for its path.
    pub fn insert(
        &mut self,
        path: String,
        body: Body,
        len: u64,
        etag: String,
        last_modified: SystemTime,
    ) {
        let cfg = self.config.for_path(&path);
        let content_type = cfg
            .content_type
            .clone()
            .unwrap_or_else(|| content_type_for(&path).to_string());
        let kind = Kind::from_content_type(&content_type);
        let cache_control = cfg.cache_control.clone().unwrap_or_else(|| {
            if kind == Kind::Document {
                "no-cache".to_string()
            } else {
                "public, max-age=3600".to_string()
            }
        });
        let resource = Resource {
            path: path.clone(),
            body,
            len,
            content_type,
            kind,
            etag,
            last_modified,
            cache_control,
            vary: cfg.vary.clone(),
            extra_headers: cfg.headers.clone(),
            think: cfg.think.unwrap_or_default(),
            server_priority: cfg.priority.unwrap_or_default(),
            server_priority_raw: cfg.priority_raw.clone(),
        };
        self.resources.insert(path, Arc::new(resource));
    }

    /// The resource at a normalised path, including `/bytes/N`.
    pub fn get(&self, path: &str) -> Option<Arc<Resource>> {
        if let Some(r) = self.resources.get(path) {
            return Some(r.clone());
        }
        let n: u64 = path.strip_prefix("/bytes/")?.parse().ok()?;
        if n > MAX_GENERATED {
            return None;
        }
        let mut r = Resource {
            path: path.to_string(),
            body: Body::Generated { seed: BYTES_SEED },
            len: n,
            content_type: "application/octet-stream".to_string(),
            kind: Kind::Other,
            etag: format!("\"bytes-{n}\""),
            last_modified: self.started,
            cache_control: "no-store".to_string(),
            vary: None,
            extra_headers: Vec::new(),
            think: Duration::ZERO,
            server_priority: PriorityParams::default(),
            server_priority_raw: None,
        };
        let cfg = self.config.for_path(path);
        if let Some(think) = cfg.think {
            r.think = think;
        }
        if let Some(p) = cfg.priority {
            r.server_priority = p;
            r.server_priority_raw = cfg.priority_raw.clone();
        }
        Some(Arc::new(r))
    }

    /// All resources in path order.
    pub fn resources(&self) -> impl Iterator<Item = &Arc<Resource>> {
        self.resources.values()
    }

    /// Number of resources (not counting `/bytes/N`).
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// True when the site has no files.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The site configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pattern_is_consistent_across_chunkings() {
        let whole = generated_chunk(7, 0, 200_000);
        let mut parts = Vec::new();
        let mut off = 0u64;
        for len in [1usize, 65_535, 3, 70_000, 64_461] {
            parts.extend_from_slice(&generated_chunk(7, off, len));
            off += len as u64;
        }
        assert_eq!(&whole[..], &parts[..]);
        assert_ne!(generated_chunk(8, 0, 16), generated_chunk(7, 0, 16));
    }

    #[test]
    fn content_types_and_kinds() {
        assert_eq!(content_type_for("/a/B.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type_for("/x"), "application/octet-stream");
        assert_eq!(Kind::from_content_type("font/woff2"), Kind::Font);
        assert_eq!(
            Kind::from_content_type("text/html; charset=utf-8"),
            Kind::Document
        );
    }

    #[test]
    fn bytes_endpoint_bounds() {
        let site = Site::empty("t", SiteConfig::default());
        assert_eq!(site.get("/bytes/10").unwrap().len, 10);
        assert!(site.get("/bytes/99999999999999").is_none());
        assert!(site.get("/bytes/-1").is_none());
        assert!(site.get("/bytes/").is_none());
    }

    /// The scan never follows symbolic links, so a link to a file outside
    /// the site directory is not served.
    #[test]
    fn load_skips_symlinks_and_dotfiles() {
        let dir = std::env::temp_dir().join(format!("pushlab-site-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        fs::write(dir.join("sub/a.css"), "p{}").unwrap();
        fs::write(dir.join(".secret"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link.txt")).unwrap();
        let site = Site::load(&dir).unwrap();
        let paths: Vec<&str> = site.resources().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, vec!["/index.html", "/sub/a.css"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
