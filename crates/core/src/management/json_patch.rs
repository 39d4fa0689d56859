//! RFC 6902 JSON Patch over `serde_json::Value` (RFC 6901 pointers), for configuration imports.
//! All or nothing: the patch applies to a copy, so a failing operation leaves the input untouched.

use serde_json::{json, Value};

/// At most this many operations per patch: a configuration import needs a handful.
pub const MAX_OPERATIONS: usize = 100;
/// The patched document may not grow past this (serialized), counted as each operation applies,
/// before its value is copied: repeated `copy` of a value into itself doubles the document per
/// operation, and an isolate that every tenant shares has 128 MB. A new member's name counts too.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The serialized size of a value, without building the string.
fn size_of(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Why a patch could not be applied: which operation (0-based) and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError {
    pub index: Option<usize>,
    pub op: Option<String>,
    pub path: Option<String>,
    pub reason: String,
}

impl PatchError {
    fn document(reason: impl Into<String>) -> PatchError {
        PatchError { index: None, op: None, path: None, reason: reason.into() }
    }

    /// The `details` member of the problem document.
    pub fn details(&self) -> Value {
        json!({ "operation": self.index, "op": self.op, "path": self.path, "reason": self.reason })
    }

    pub fn describe(&self) -> String {
        match (self.index, &self.op, &self.path) {
            (Some(i), Some(op), Some(path)) => format!("operation {i} ({op} {path}): {}", self.reason),
            (Some(i), _, _) => format!("operation {i}: {}", self.reason),
            _ => self.reason.clone(),
        }
    }
}

/// Parses an RFC 6901 pointer into reference tokens (`~1` is `/`, `~0` is `~`).
fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else { return Err(format!("'{p}' is not a JSON Pointer (it must start with '/')")) };
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("'{p}' has an invalid escape ('~' must be followed by 0 or 1)")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    let i: usize = if valid { token.parse().map_err(|_| format!("array index '{token}' is too large"))? } else { return Err(format!("'{token}' is not an array index")) };
    if i > len || (!allow_end && i == len) {
        return Err(format!("array index {i} is out of bounds"));
    }
    Ok(i)
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Result<&'a Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get(t).ok_or_else(|| format!("member '{t}' does not exist"))?,
            Value::Array(a) => &a[array_index(t, a.len(), false)?],
            _ => return Err(format!("cannot descend into a scalar at '{t}'")),
        };
    }
    Ok(cur)
}

fn parent<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("member '{t}' does not exist"))?,
            Value::Array(a) => {
                let i = array_index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("cannot descend into a scalar at '{t}'")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    let Some((last, init)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = array_index(last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err("the target's parent is not an object or array".into()),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let Some((last, init)) = tokens.split_last() else { return Err("the whole document cannot be removed".into()) };
    match parent(doc, init)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| format!("member '{last}' does not exist")),
        Value::Array(a) => {
            let i = array_index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err("the target's parent is not an object or array".into()),
    }
}

/// What a value inserted at `tokens` adds to the serialized document besides itself: at most its
/// member name (quoted and escaped), a colon and a comma (an array's comma is counted alike).
fn slot_size(tokens: &[String]) -> usize {
    tokens.last().map_or(0, |name| size_of(&Value::String(name.clone())) + 2)
}

/// Applies one operation; `budget` is what the document may still grow by, and every value an
/// operation adds, with the slot it goes in, is charged against it before it is cloned (nothing
/// removed is credited back).
fn apply_op(doc: &mut Value, op: &Value, budget: &mut usize) -> Result<(), (Option<String>, Option<String>, String)> {
    let Some(obj) = op.as_object() else { return Err((None, None, "an operation must be a JSON object".into())) };
    let name = obj.get("op").and_then(Value::as_str).map(str::to_string);
    let path = obj.get("path").and_then(Value::as_str).map(str::to_string);
    let fail = |why: String| (name.clone(), path.clone(), why);
    let Some(op_name) = name.as_deref() else { return Err(fail("'op' is missing or not a string".into())) };
    let Some(path_str) = path.as_deref() else { return Err(fail("'path' is missing or not a string".into())) };
    let target = parse_pointer(path_str).map_err(fail)?;
    let mut charge = |bytes: usize| -> Result<(), (Option<String>, Option<String>, String)> {
        *budget = budget.checked_sub(bytes).ok_or_else(|| fail(format!("the patched document would be larger than {} KB", MAX_DOCUMENT_BYTES / 1024)))?;
        Ok(())
    };
    let value = || obj.get("value").cloned().ok_or_else(|| fail("'value' is missing".into()));
    let from = || -> Result<Vec<String>, _> {
        let f = obj.get("from").and_then(Value::as_str).ok_or_else(|| fail("'from' is missing or not a string".into()))?;
        parse_pointer(f).map_err(fail)
    };
    match op_name {
        "add" => {
            let v = value()?;
            charge(size_of(&v) + slot_size(&target))?;
            add(doc, &target, v).map_err(fail)
        }
        "remove" => remove(doc, &target).map(|_| ()).map_err(fail),
        "replace" => {
            let v = value()?;
            charge(size_of(&v))?;
            let slot = parent(doc, &target).map_err(fail)?;
            *slot = v;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if target.len() > from.len() && target[..from.len()] == from[..] {
                return Err(fail("a value cannot be moved into one of its own children".into()));
            }
            charge(slot_size(&target))?;
            let v = remove(doc, &from).map_err(fail)?;
            add(doc, &target, v).map_err(fail)
        }
        "copy" => {
            let source = get(doc, &from()?).map_err(fail)?;
            charge(size_of(source) + slot_size(&target))?;
            let v = source.clone();
            add(doc, &target, v).map_err(fail)
        }
        "test" => {
            let expected = value()?;
            if get(doc, &target).map_err(fail)? == &expected {
                Ok(())
            } else {
                Err(fail("the test failed: the value differs".into()))
            }
        }
        other => Err(fail(format!("'{other}' is not a JSON Patch operation"))),
    }
}

/// Applies `patch` (an RFC 6902 document: an array of operations) to a copy of `doc`.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(ops) = patch.as_array() else { return Err(PatchError::document("a JSON Patch must be an array of operations")) };
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::document(format!("a JSON Patch may have at most {MAX_OPERATIONS} operations")));
    }
    let mut budget = MAX_DOCUMENT_BYTES.checked_sub(size_of(doc)).ok_or_else(|| PatchError::document("the document is too large to patch"))?;
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut out, op, &mut budget).map_err(|(op, path, reason)| PatchError { index: Some(i), op, path, reason })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6902_appendix_a_examples() {
        let doc = json!({"foo": "bar"});
        assert_eq!(apply(&doc, &json!([{"op": "add", "path": "/baz", "value": "qux"}])).unwrap(), json!({"foo": "bar", "baz": "qux"}));
        let doc = json!({"foo": ["bar", "baz"]});
        assert_eq!(apply(&doc, &json!([{"op": "add", "path": "/foo/1", "value": "qux"}])).unwrap(), json!({"foo": ["bar", "qux", "baz"]}));
        assert_eq!(apply(&doc, &json!([{"op": "add", "path": "/foo/-", "value": "x"}])).unwrap(), json!({"foo": ["bar", "baz", "x"]}));
        assert_eq!(apply(&doc, &json!([{"op": "remove", "path": "/foo/0"}])).unwrap(), json!({"foo": ["baz"]}));
        let doc = json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}});
        let moved = apply(&doc, &json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])).unwrap();
        assert_eq!(moved, json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}));
        let doc = json!({"a/b": 1, "m~n": 2});
        assert_eq!(apply(&doc, &json!([{"op": "test", "path": "/a~1b", "value": 1}, {"op": "copy", "from": "/m~0n", "path": "/c"}])).unwrap()["c"], json!(2));
    }

    #[test]
    fn failures_name_the_operation_and_leave_the_input() {
        let doc = json!({"a": 1});
        let e = apply(&doc, &json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "replace", "path": "/missing", "value": 3}])).unwrap_err();
        assert_eq!(e.index, Some(1));
        assert_eq!(e.path.as_deref(), Some("/missing"));
        assert_eq!(doc, json!({"a": 1}));
        assert_eq!(apply(&doc, &json!({"op": "add"})).unwrap_err().index, None);
        assert!(apply(&doc, &json!([{"op": "jump", "path": "/a"}])).unwrap_err().reason.contains("jump"));
        assert!(apply(&doc, &json!([{"op": "add", "path": "a", "value": 1}])).unwrap_err().reason.contains("JSON Pointer"));
        assert!(apply(&doc, &json!([{"op": "test", "path": "/a", "value": 5}])).is_err());
        assert!(apply(&json!({"x": [1]}), &json!([{"op": "add", "path": "/x/01", "value": 1}])).is_err());
        assert!(apply(&json!({"x": {}}), &json!([{"op": "move", "from": "/x", "path": "/x/y"}])).is_err());
        assert!(apply(&doc, &json!([{"op": "add", "path": "/a", "value": 1}, 7])).unwrap_err().reason.contains("object"));
    }

    #[test]
    fn a_patch_cannot_grow_the_document_without_bound() {
        // Each copy of the document into itself doubles it: refused at the operation that would
        // pass 64 KB, long before the memory is spent.
        let doc = json!({"a": "x".repeat(1000)});
        let doubling: Vec<Value> = (0..17).map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")})).collect();
        let e = apply(&doc, &Value::Array(doubling)).unwrap_err();
        assert!(e.reason.contains("64 KB"), "{e:?}");
        assert!(e.index.is_some_and(|i| i < 8), "{e:?}");
        let big = json!([{"op": "add", "path": "/b", "value": "y".repeat(MAX_DOCUMENT_BYTES)}]);
        assert!(apply(&doc, &big).unwrap_err().reason.contains("64 KB"));
        let many: Vec<Value> = (0..=MAX_OPERATIONS).map(|_| json!({"op": "test", "path": "/a", "value": "x".repeat(1000)})).collect();
        assert!(apply(&doc, &Value::Array(many)).unwrap_err().reason.contains("at most"));
        // Member names count (found with the json_patch fuzz target's size check, from the input
        // kept as fuzz/seeds/json_patch/long-name): six doublings leave 739 bytes of budget, and
        // an 800-byte name with an empty value grew the document to 65,696 bytes.
        let mut ops: Vec<Value> = (0..6).map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")})).collect();
        ops.push(json!({"op": "add", "path": format!("/{}", "k".repeat(800)), "value": ""}));
        assert!(apply(&doc, &Value::Array(ops.clone())).unwrap_err().reason.contains("64 KB"));
        ops.pop();
        let grown = apply(&doc, &Value::Array(ops)).unwrap();
        assert!(size_of(&grown) <= MAX_DOCUMENT_BYTES, "{}", size_of(&grown));
        // A move to a longer name grows the document too.
        let full = json!({"a": "x".repeat(MAX_DOCUMENT_BYTES - 18)});
        assert_eq!(size_of(&full), MAX_DOCUMENT_BYTES - 10);
        assert!(apply(&full, &json!([{"op": "move", "from": "/a", "path": format!("/{}", "b".repeat(20))}])).unwrap_err().reason.contains("64 KB"));
        assert!(apply(&full, &json!([{"op": "move", "from": "/a", "path": "/b"}])).is_ok());
        // Ordinary imports are untouched.
        assert_eq!(apply(&doc, &json!([{"op": "copy", "from": "/a", "path": "/b"}])).unwrap()["b"], doc["a"]);
    }
}
