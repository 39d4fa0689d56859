//! The engine's layout is its architecture: the top-level modules of `src/` (each folder, and each
//! file at the root) import each other one way only. This test reads every source file, collects
//! the `crate::` paths it names, and fails on any circle between two or more top-level modules,
//! naming the files that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::a::...` or `crate::{a, b::c}`.
fn imported_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn top_level_modules_import_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name() != Some("lib.rs".as_ref()))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    // module -> module it imports -> the files that do
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" {
            continue;
        }
        for target in imported_modules(&fs::read_to_string(file).unwrap()) {
            if target != top && modules.contains(&target) {
                edges.entry(top.clone()).or_default().entry(target).or_default().insert(rel.display().to_string());
            }
        }
    }
    // A circle exists iff some module reaches itself: report each pair on one.
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for next in edges.get(&m).map(|e| e.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                if seen.insert(next.clone()) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let mut circles = Vec::new();
    for (from, targets) in &edges {
        for (to, by) in targets {
            if reaches(to).contains(from) {
                circles.push(format!("{from} -> {to} (in {}) and {to} reaches {from} back", by.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    assert!(circles.is_empty(), "top-level modules of the core import each other in a circle:\n{}", circles.join("\n"));
    // The router is the top: nothing imports it.
    assert!(edges.values().all(|t| !t.contains_key("router")), "only the crate root may name the router");
}
