//! The library's layering, as written at the top of `src/lib.rs`, holds:
//! every module imports only modules listed before it (and itself), so the
//! tree has no import cycle and no upward import. The list in `lib.rs` is
//! the single source: adding a module means placing it there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The modules in layer order, from the `//! N. [`name`]` lines of lib.rs.
fn layer_order(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter_map(|l| {
            let (num, rest) = l.split_once(". [`")?;
            num.trim().parse::<u32>().ok()?;
            let (name, _) = rest.split_once("`]")?;
            Some(name.to_string())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// Names `crate::name` in code (comments and doc comments aside).
fn crate_refs(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.push(name);
            }
            rest = after;
        }
    }
    refs
}

#[test]
fn no_module_imports_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let order = layer_order(&lib);
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    assert!(
        order.len() > 10,
        "layer list not found in lib.rs: {order:?}"
    );
    // Every public module is placed in the list, once.
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(
                rank.contains_key(m),
                "module {m} is missing from lib.rs's layer list"
            );
        }
    }
    assert_eq!(
        rank.len(),
        order.len(),
        "a module is listed twice: {order:?}"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for f in &files {
        let Some(module) = module_of(&src, f) else {
            continue;
        };
        // The binary (main.rs and its cli/ modules) sits above everything.
        let Some(&own) = rank.get(module.as_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("readable source");
        for r in crate_refs(&text) {
            if let Some(&theirs) = rank.get(r.as_str()) {
                if theirs > own {
                    upward.push(format!(
                        "{} ({module}) imports {r}",
                        f.strip_prefix(root).unwrap_or(f).display()
                    ));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn the_checker_sees_references() {
    let refs = crate_refs(
        "use crate::sendq::X;\n// crate::ignored\nlet a = crate::push::f(crate::site::S);",
    );
    assert_eq!(refs, vec!["sendq", "push", "site"]);
    let order = layer_order("//! 1. [`wire`]: frames\n//! 2. [`sched`]: queue\n//! - [`x`]");
    assert_eq!(order, vec!["wire", "sched"]);
}
