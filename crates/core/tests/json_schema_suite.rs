//! The official JSON-Schema-Test-Suite, for the keywords `json_schema` supports (see
//! `json_schema_suite/README.md` for where the files come from). Every case in every vendored file
//! runs, except those named in `SKIPS` with the reason. A skip that no longer fails (the case now
//! passes) fails this test, so the list cannot go stale.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use edgeauth_core::json_schema::Schema;
use serde_json::Value;

/// (file under json_schema_suite/, group description, test description or "" for the whole group,
/// reason). A whole group is skipped when its schema uses something `Schema::compile` refuses.
const SKIPS: &[(&str, &str, &str, &str)] = &[
    ("draft2020-12/defs.json", "validate definition against metaschema", "", META_SCHEMA),
    ("draft2020-12/format.json", "email format", "invalid email string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/format.json", "ipv4 format", "invalid ipv4 string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/format.json", "date format", "invalid date string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/format.json", "date-time format", "invalid date-time string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/format.json", "uri format", "invalid uri string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/format.json", "uuid format", "invalid uuid string is only an annotation by default", FORMAT_ASSERTED),
    ("draft2020-12/not.json", "collect annotations inside a 'not', even if collection is disabled", "", UNEVALUATED),
    ("draft2020-12/ref.json", "remote ref, containing refs itself", "", META_SCHEMA),
    ("draft2020-12/ref.json", "Recursive references between schemas", "", EMBEDDED_ID),
    ("draft2020-12/ref.json", "ref creates new scope when adjacent to keywords", "", UNEVALUATED),
    ("draft2020-12/ref.json", "refs with relative uris and defs", "", OTHER_DOCUMENT),
    ("draft2020-12/ref.json", "relative refs with absolute uris and defs", "", OTHER_DOCUMENT),
    ("draft2020-12/ref.json", "$id must be resolved against nearest parent, not just immediate parent", "", EMBEDDED_ID),
    ("draft2020-12/ref.json", "order of evaluation: $id and $ref", "", EMBEDDED_ID),
    ("draft2020-12/ref.json", "order of evaluation: $id and $anchor and $ref", "", ANCHOR),
    ("draft2020-12/ref.json", "URN base URI with URN and anchor ref", "", ANCHOR),
    ("draft2020-12/ref.json", "URN ref with nested pointer ref", "", EMBEDDED_ID),
    ("draft2020-12/ref.json", "ref to if", "", OTHER_DOCUMENT),
    ("draft2020-12/ref.json", "ref to then", "", OTHER_DOCUMENT),
    ("draft2020-12/ref.json", "ref to else", "", OTHER_DOCUMENT),
    ("draft2020-12/ref.json", "ref with absolute-path-reference", "", EMBEDDED_ID),
    ("draft7/definitions.json", "validate definition against metaschema", "", META_SCHEMA),
    ("draft7/ref.json", "$ref prevents a sibling $id from changing the base uri", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "remote ref, containing refs itself", "", META_SCHEMA),
    ("draft7/ref.json", "Recursive references between schemas", "", EMBEDDED_ID),
    ("draft7/ref.json", "Location-independent identifier", "", ANCHOR),
    ("draft7/ref.json", "Reference an anchor with a non-relative URI", "", ANCHOR),
    ("draft7/ref.json", "Location-independent identifier with base URI change in subschema", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "refs with relative uris and defs", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "relative refs with absolute uris and defs", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "$id must be resolved against nearest parent, not just immediate parent", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "URN base URI with URN and anchor ref", "", EMBEDDED_ID),
    ("draft7/ref.json", "ref to if", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "ref to then", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "ref to else", "", OTHER_DOCUMENT),
    ("draft7/ref.json", "ref with absolute-path-reference", "", OTHER_DOCUMENT),
];

// The reasons. Each is a feature `Schema::compile` refuses on purpose (so the group's schema does
// not compile), except FORMAT_ASSERTED, where the suite expects the specification's default.
const FORMAT_ASSERTED: &str = "format is an assertion here (our documented choice); the suite checks the default, annotation only";
const META_SCHEMA: &str = "$ref to the remote meta-schema: only references inside the document are supported";
const OTHER_DOCUMENT: &str = "$ref to another document (relative or absolute URI other than the root $id): refused";
const EMBEDDED_ID: &str = "$id below the root (embedded resources, base URI changes): refused";
const ANCHOR: &str = "$anchor / plain-name fragment references: refused";
const UNEVALUATED: &str = "unevaluatedProperties: refused";

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn official_test_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/json_schema_suite");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let (mut run, mut passed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    for path in &paths {
        let file = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let groups: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        for group in groups.as_array().unwrap() {
            let description = group["description"].as_str().unwrap();
            let tests = group["tests"].as_array().unwrap();
            let skip_of = |test: &str| SKIPS.iter().position(|(f, g, t, _)| *f == file && *g == description && *t == test);
            let mut document = group["schema"].clone();
            // The suite's files leave the dialect implicit (the folder names it); our default is
            // 2020-12, so a draft-07 file's schema is told which it is.
            if let (true, Value::Object(object)) = (file.starts_with("draft7/"), &mut document) {
                object.entry("$schema").or_insert_with(|| "http://json-schema.org/draft-07/schema#".into());
            }
            let compiled = Schema::compile(&document);
            if let Some(i) = skip_of("") {
                used.insert(i);
                skipped += tests.len();
                // Stale if the whole group now compiles and passes.
                if let Ok(schema) = &compiled {
                    if tests.iter().all(|t| schema.is_valid(&t["data"]) == t["valid"].as_bool().unwrap()) {
                        failures.push(format!("{file} / {description}: skipped as a group but every case passes"));
                    }
                }
                continue;
            }
            let schema = match compiled {
                Ok(schema) => schema,
                Err(e) => {
                    failures.push(format!("{file} / {description}: refused: {e}"));
                    run += tests.len();
                    continue;
                }
            };
            for test in tests {
                let name = test["description"].as_str().unwrap();
                let expected = test["valid"].as_bool().unwrap();
                let quick = schema.is_valid(&test["data"]);
                let full = schema.validate(&test["data"]);
                let ok = quick == expected && full.is_ok() == expected;
                if let Some(i) = skip_of(name) {
                    used.insert(i);
                    skipped += 1;
                    if ok {
                        failures.push(format!("{file} / {description} / {name}: skipped but passes"));
                    }
                    continue;
                }
                run += 1;
                if ok {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{file} / {description} / {name}: expected {expected}, is_valid {quick}, validate {:?}",
                        full.err()
                    ));
                }
            }
        }
    }
    for (i, (file, group, test, _)) in SKIPS.iter().enumerate() {
        if !used.contains(&i) {
            failures.push(format!("skip list: no case {file} / {group} / {test}"));
        }
    }
    println!("JSON-Schema-Test-Suite: {} files, {run} cases run, {passed} passed, {skipped} skipped", paths.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
