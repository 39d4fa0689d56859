//! A CBOR (RFC 8949) decoder for the subset WebAuthn sends: the attestation object, COSE keys and
//! authenticator extensions. Definite lengths only (CTAP2's canonical form has no other), no tags,
//! nesting at most [`MAX_DEPTH`] deep; everything read is bounded by the input's own length, so a
//! hostile length prefix cannot make it allocate more than it was sent. About 100 lines instead of
//! a crate (ciborium and its serde layer would add tens of KB to every bundle for this subset).

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Uint(u64),
    /// A negative integer, as the value itself (`-1 - n` for the encoded `n`).
    Nint(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
    /// Undefined, other simple values and floats: read over, never interpreted.
    Other,
}

impl Value {
    /// The member of a map whose key is the integer `key` (COSE labels).
    pub fn int_key(&self, key: i128) -> Option<&Value> {
        self.entries()?.iter().find(|(k, _)| k.as_int() == Some(key)).map(|(_, v)| v)
    }
    /// The member of a map whose key is the text `key`.
    pub fn text_key(&self, key: &str) -> Option<&Value> {
        self.entries()?.iter().find(|(k, _)| matches!(k, Value::Text(t) if t == key)).map(|(_, v)| v)
    }
    pub fn entries(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Uint(n) => Some(i128::from(*n)),
            Value::Nint(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError(pub &'static str);

impl std::fmt::Display for CborError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CBOR: {}", self.0)
    }
}

/// Decodes one item from the start of `input`; returns it and the bytes it took (authenticator
/// data holds a COSE key followed by more data, so the caller needs to know where it ended).
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), CborError> {
    let mut r = Reader { input, at: 0 };
    let v = r.item(0)?;
    Ok((v, r.at))
}

/// Decodes `input`, which must hold exactly one item.
pub fn decode(input: &[u8]) -> Result<Value, CborError> {
    let (v, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(CborError("trailing bytes after the item"));
    }
    Ok(v)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8], CborError> {
        let n = usize::try_from(n).map_err(|_| CborError("length too large"))?;
        let end = self.at.checked_add(n).filter(|e| *e <= self.input.len()).ok_or(CborError("truncated"))?;
        let s = &self.input[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
        Ok(match info {
            0..=23 => u64::from(info),
            24 => be(self.take(1)?),
            25 => be(self.take(2)?),
            26 => be(self.take(4)?),
            27 => be(self.take(8)?),
            31 => return Err(CborError("indefinite lengths are not accepted")),
            _ => return Err(CborError("reserved additional information")),
        })
    }

    /// A count of items that cannot exceed the bytes left (each item takes at least one).
    fn count(&mut self, info: u8, per_item: u64) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        let left = (self.input.len() - self.at) as u64;
        if n.saturating_mul(per_item) > left {
            return Err(CborError("truncated"));
        }
        Ok(n as usize)
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("nested too deeply"));
        }
        let head = *self.take(1)?.first().ok_or(CborError("truncated"))?;
        let (major, info) = (head >> 5, head & 0x1f);
        Ok(match major {
            0 => Value::Uint(self.argument(info)?),
            1 => Value::Nint(-1 - i128::from(self.argument(info)?)),
            2 => {
                let n = self.argument(info)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            3 => {
                let n = self.argument(info)?;
                let s = self.take(n)?;
                Value::Text(String::from_utf8(s.to_vec()).map_err(|_| CborError("text is not UTF-8"))?)
            }
            4 => {
                let n = self.count(info, 1)?;
                Value::Array((0..n).map(|_| self.item(depth + 1)).collect::<Result<_, _>>()?)
            }
            5 => {
                let n = self.count(info, 2)?;
                let mut m = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.item(depth + 1)?;
                    if m.iter().any(|(seen, _)| *seen == k) {
                        return Err(CborError("duplicate map key"));
                    }
                    let v = self.item(depth + 1)?;
                    m.push((k, v));
                }
                Value::Map(m)
            }
            6 => return Err(CborError("tags are not accepted")),
            _ => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                0..=19 | 23 => Value::Other,
                24..=27 => {
                    self.argument(info)?;
                    Value::Other
                }
                _ => return Err(CborError("reserved simple value")),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_8949_appendix_a_examples() {
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
        assert_eq!(decode(&hex("00")).unwrap(), Value::Uint(0));
        assert_eq!(decode(&hex("1903e8")).unwrap(), Value::Uint(1000));
        assert_eq!(decode(&hex("1bffffffffffffffff")).unwrap(), Value::Uint(u64::MAX));
        assert_eq!(decode(&hex("3863")).unwrap(), Value::Nint(-100));
        assert_eq!(decode(&hex("3bffffffffffffffff")).unwrap(), Value::Nint(-18446744073709551616));
        assert_eq!(decode(&hex("4401020304")).unwrap(), Value::Bytes(vec![1, 2, 3, 4]));
        assert_eq!(decode(&hex("62c3bc")).unwrap(), Value::Text("ü".into()));
        assert_eq!(decode(&hex("8301820203820405")).unwrap(), Value::Array(vec![Value::Uint(1), Value::Array(vec![Value::Uint(2), Value::Uint(3)]), Value::Array(vec![Value::Uint(4), Value::Uint(5)])]));
        let m = decode(&hex("a26161016162820203")).unwrap();
        assert_eq!(m.text_key("a"), Some(&Value::Uint(1)));
        assert_eq!(decode(&hex("f5")).unwrap(), Value::Bool(true));
        assert_eq!(decode(&hex("f6")).unwrap(), Value::Null);
        assert_eq!(decode(&hex("f93c00")).unwrap(), Value::Other); // 1.0 as a half float: skipped
        assert_eq!(decode(&hex("a1200a")).unwrap().int_key(-1), Some(&Value::Uint(10)));
    }

    #[test]
    fn refuses_what_webauthn_never_sends_and_what_is_broken() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "truncated"),
            (&[0x5f, 0x41, 0x00, 0xff], "indefinite lengths are not accepted"),
            (&[0xc1, 0x00], "tags are not accepted"),
            (&[0x44, 0x01], "truncated"),
            // a byte string claiming 2^64-1 bytes: refused without allocating
            (&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "truncated"),
            (&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "truncated"),
            (&[0xa2, 0x01, 0x00, 0x01, 0x00], "duplicate map key"),
            (&[0x62, 0xff, 0xfe], "text is not UTF-8"),
            (&[0x00, 0x00], "trailing bytes after the item"),
            (&[0x1c], "reserved additional information"),
        ];
        for (input, why) in cases {
            assert_eq!(decode(input), Err(CborError(why)), "{input:02x?}");
        }
        let deep = [vec![0x81u8; MAX_DEPTH + 1], vec![0x00]].concat();
        assert_eq!(decode(&deep), Err(CborError("nested too deeply")));
        let ok = [vec![0x81u8; MAX_DEPTH], vec![0x00]].concat();
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn a_prefix_reports_where_it_ended() {
        assert_eq!(decode_prefix(&[0x41, 0x07, 0xff, 0xee]).unwrap(), (Value::Bytes(vec![7]), 2));
    }
}
