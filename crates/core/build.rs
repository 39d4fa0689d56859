//! Two files generated into OUT_DIR:
//!
//! - the management API's OpenAPI document, kept pretty-printed in the repository (reviewable
//!   diffs) and served minified: this strips the whitespace outside strings, a third of its size,
//!   which would otherwise sit in every bundle;
//! - with the `es256-table` feature, the table of multiples of P-256's generator that ES256 signing
//!   looks up (`jose/es256.rs`): public constants, computed here with p256's own arithmetic,
//!   because on Spin every request is a fresh instance and a table built at run time would cost
//!   more than the signature it speeds up.
use std::{env, fs, path::Path};

use p256::elliptic_curve::group::Group as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::ProjectivePoint;

/// Must match `jose/es256.rs` (its `include_bytes!` has the table's length in its type, and its
/// unit tests check every entry against p256's own scalar multiplication).
const WINDOW_BITS: usize = 6;
const WINDOWS: usize = 256_usize.div_ceil(WINDOW_BITS);
const ENTRIES: usize = 1 << (WINDOW_BITS - 1);

/// Window `i`, entry `j - 1`: the affine point `j * 2^(WINDOW_BITS * i) * G` for `j` in
/// `1..=ENTRIES`, as SEC1's uncompressed `x || y` (big-endian, 64 bytes, no tag).
fn p256_base_table() -> Vec<u8> {
    let mut points = Vec::with_capacity(WINDOWS * ENTRIES);
    let mut base = ProjectivePoint::GENERATOR;
    for _ in 0..WINDOWS {
        let mut p = base;
        for _ in 0..ENTRIES {
            points.push(p);
            p += base;
        }
        for _ in 0..WINDOW_BITS {
            base = base.double();
        }
    }
    let mut out = Vec::with_capacity(points.len() * 64);
    for point in points {
        out.extend_from_slice(&point.to_affine().to_encoded_point(false).as_bytes()[1..]);
    }
    out
}

fn main() {
    let out_dir = env::var("OUT_DIR").expect("OUT_DIR");
    if env::var_os("CARGO_FEATURE_ES256_TABLE").is_some() {
        fs::write(Path::new(&out_dir).join("p256_base_table.bin"), p256_base_table()).expect("write the P-256 table");
    }

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
    fs::write(Path::new(&out_dir).join("openapi.min.json"), out).expect("write the minified document");
}
