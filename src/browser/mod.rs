//! The emulated browser: loads a page over HTTP/2 or HTTP/3 the way a
//! browser would (discovering subresources as parents arrive, with
//! Chromium's priorities, a push cache, an HTTP cache, 103 preloads) and
//! records a HAR-like account of it. [`model`] is the pure page-load
//! model, with [`cache`] the HTTP cache and cookie jar it keeps across
//! visits; [`driver`] runs it over a real connection. [`chromium`] loads
//! the same pages in headless Chromium, with [`netlog`] reading its net log.

pub mod cache;
pub mod chromium;
pub mod driver;
pub mod model;
pub mod netlog;

pub use cache::HttpCache;
pub use driver::{load_on, load_page, not_loaded, BrowserConn, LoadOptions, PageLoad, Warmup};
pub use model::{Cpu, Handover, Page, PageSummary, PushRecord, ResKind, Resource, Source};
