//! Exact number comparison, `multipleOf` and JSON equality.
//!
//! serde_json keeps a number as u64, i64 or f64. Converting everything to f64 would make
//! u64::MAX equal to u64::MAX - 1 and 0.0075 not a multiple of 0.0001, so integers compare as
//! integers, an integer against a float compares exactly, and `multipleOf` works on the decimal
//! digits that the float prints as (its shortest round-trip form), which are the digits the schema's
//! author and the client wrote.

use std::cmp::Ordering;

use serde_json::{Number, Value};

#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num(n: &Number) -> Num {
    if let Some(u) = n.as_u64() {
        Num::Int(u as i128)
    } else if let Some(i) = n.as_i64() {
        Num::Int(i as i128)
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// `i` compared with `f`, exactly (no rounding of `i` to f64).
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^127 bounds i128; beyond it the float decides alone.
    const LIMIT: f64 = 1.7014118346046923e38;
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // In range, so the cast is exact for the integral part.
    match i.cmp(&(whole as i128)) {
        Ordering::Equal => {
            let fraction = f - whole;
            Some(if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        other => Some(other),
    }
}

/// `a` compared with `b`; `None` only for a value that is not a number at all (NaN cannot come
/// out of a JSON parse, but a `Number` may be built otherwise).
pub(crate) fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    match (num(a), num(b)) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

/// An integer in the JSON Schema sense: a number with no fractional part, so 1.0 is one.
pub(crate) fn is_integer(n: &Number) -> bool {
    match num(n) {
        Num::Int(_) => true,
        Num::Float(f) => f.is_finite() && f.fract() == 0.0,
    }
}

/// Whether `n` is strictly positive (for checking `multipleOf` at compile time).
pub(crate) fn is_positive(n: &Number) -> bool {
    match num(n) {
        Num::Int(i) => i > 0,
        Num::Float(f) => f > 0.0,
    }
}

/// |n| as decimal digits and a power of ten: n = ±digits × 10^exponent.
fn decimal(n: &Number) -> Option<(u128, i32)> {
    match num(n) {
        Num::Int(i) => Some((i.unsigned_abs(), 0)),
        Num::Float(f) => {
            if !f.is_finite() {
                return None;
            }
            if f == 0.0 {
                return Some((0, 0));
            }
            // `{:e}` prints the shortest digits that read back as the same f64: "7.5e-3".
            let text = format!("{:e}", f.abs());
            let (mantissa, exponent) = text.split_once('e')?;
            let exponent: i32 = exponent.parse().ok()?;
            let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
            Some((digits, exponent - fraction.len() as i32))
        }
    }
}

/// 10^power mod modulus, by squaring (the power can be in the hundreds for 1e308).
fn pow10_mod(mut power: u32, modulus: u128) -> u128 {
    // modulus < 2^64 (see the caller), so every product below fits in u128.
    let mut result = 1 % modulus;
    let mut base = 10 % modulus;
    while power > 0 {
        if power & 1 == 1 {
            result = result * base % modulus;
        }
        base = base * base % modulus;
        power >>= 1;
    }
    result
}

/// Whether `value` is an integer multiple of `divisor` (> 0), on their decimal digits.
pub(crate) fn is_multiple_of(value: &Number, divisor: &Number) -> bool {
    let (Some((v, ve)), Some((d, de))) = (decimal(value), decimal(divisor)) else {
        return false;
    };
    if v == 0 {
        return true;
    }
    if d == 0 || d >= 1 << 64 {
        return false;
    }
    if ve >= de {
        // v·10^(ve-de) mod d, without building the (possibly 300-digit) dividend.
        let shift = (ve - de) as u32;
        ((v % d) * pow10_mod(shift, d)).is_multiple_of(d)
    } else {
        // The divisor has more decimals: scale it up; if it outgrows u128 it is larger than v.
        let shift = (de - ve) as u32;
        match 10u128.checked_pow(shift).and_then(|p| d.checked_mul(p)) {
            Some(scaled) => v % scaled == 0,
            None => false,
        }
    }
}

/// JSON equality as the specification defines it for `enum`, `const` and `uniqueItems`: numbers
/// by value (1 == 1.0), objects regardless of member order. Values nested deeper than `depth`
/// compare unequal (a bound on recursion; parsed JSON is at most 128 deep).
pub(crate) fn json_equal(a: &Value, b: &Value, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q, depth - 1))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| json_equal(p, q, depth - 1)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            _ => panic!("not a number"),
        }
    }

    #[test]
    fn multiple_of_is_decimal() {
        let m = |a: Value, b: Value| is_multiple_of(&n(a), &n(b));
        assert!(m(0.0075.into(), 0.0001.into()));
        assert!(m(4.5.into(), 1.5.into()));
        assert!(!m(35.into(), 1.5.into()));
        assert!(m(1e308.into(), 0.5.into()));
        assert!(!m(1e308.into(), 0.123456789.into()));
        assert!(m(12391239123u64.into(), 1e-8.into()));
        assert!(m(u64::MAX.into(), 1.into()));
        assert!(!m(u64::MAX.into(), 2.into()));
        assert!(m(i64::MIN.into(), 2.into()));
        assert!(!m(0.00751.into(), 0.0001.into()));
        assert!(m(0.into(), 7.into()));
        assert!(m(1.into(), 1e-300.into()));
        assert!(!m(1e-300.into(), 3.into()));
    }

    #[test]
    fn comparison_is_exact() {
        let c = |a: Value, b: Value| compare(&n(a), &n(b));
        assert_eq!(c(u64::MAX.into(), (u64::MAX - 1).into()), Some(Ordering::Greater));
        assert_eq!(c(1.into(), 1.0.into()), Some(Ordering::Equal));
        assert_eq!(c(i64::MIN.into(), (-9.3e18).into()), Some(Ordering::Greater));
        assert_eq!(c(u64::MAX.into(), 1.8446744073709552e19.into()), Some(Ordering::Less));
        assert_eq!(c(2.into(), 1.5.into()), Some(Ordering::Greater));
        assert_eq!(c((-2).into(), (-1.5).into()), Some(Ordering::Less));
        assert_eq!(c(1e308.into(), u64::MAX.into()), Some(Ordering::Greater));
    }
}
