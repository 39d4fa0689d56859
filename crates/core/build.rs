//! The management API's OpenAPI document is kept pretty-printed in the repository (reviewable
//! diffs) and served minified: this strips the whitespace outside strings, a third of its size,
//! which would otherwise sit in every bundle.
use std::{env, fs, path::Path};

fn main() {
    let src = "src/management/openapi.json";
    println!("cargo:rerun-if-changed={src}");
    let pretty = fs::read_to_string(src).expect("the OpenAPI document");
    let mut out = String::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in pretty.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    fs::write(Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.min.json"), out).expect("write the minified document");
}
