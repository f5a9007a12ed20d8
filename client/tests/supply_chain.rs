//! What the client is built from: no crate with a known memory-safety advisory, and no unsafe
//! code of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crates the client must not depend on, with why.
const REFUSED: &[(&str, &str)] = &[
    ("slice-ring-buffer", "RUSTSEC-2025-0044: double frees"),
    ("minimp3", "describes itself as unsound, and pulls in slice-ring-buffer"),
];

/// Every package in the workspace's Cargo.lock, with the names of its dependencies.
fn lock_file() -> BTreeMap<String, Vec<String>> {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap();
    let mut packages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut dependencies = Vec::new();
        let mut in_dependencies = false;
        for line in block.lines().map(str::trim) {
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"').to_string());
            } else if line == "dependencies = [" {
                in_dependencies = true;
            } else if line == "]" {
                in_dependencies = false;
            } else if in_dependencies {
                // `"name"` or `"name version"` or `"name version (source)"`.
                let entry = line.trim_end_matches(',').trim_matches('"');
                dependencies.push(entry.split(' ').next().unwrap_or_default().to_string());
            }
        }
        packages.entry(name.expect("every package has a name")).or_default().extend(dependencies);
    }
    packages
}

#[test]
fn no_crate_with_a_memory_safety_advisory_is_built_into_the_client() {
    let packages = lock_file();
    let mut seen = BTreeSet::new();
    let mut todo = vec!["jukebox-client".to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(packages.get(&name).into_iter().flatten().cloned());
        }
    }
    assert!(seen.contains("minimp3-sys"), "the walk found the decoder: {seen:?}");
    for (name, why) in REFUSED {
        assert!(!seen.contains(*name), "jukebox-client depends on {name} ({why})");
    }
}

#[test]
fn the_client_has_no_unsafe_code() {
    // The decoder's unsafe calls live in jukebox-codec, which has its own test of them.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for root in ["lib.rs", "main.rs"] {
        let text = std::fs::read_to_string(src.join(root)).unwrap();
        assert!(text.contains("#![deny(unsafe_code)]"), "{root} must deny unsafe code");
    }
    let mut folders = vec![src];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                text.matches("allow(unsafe_code)").count(),
                0,
                "{} allows unsafe code",
                path.display()
            );
        }
    }
}
