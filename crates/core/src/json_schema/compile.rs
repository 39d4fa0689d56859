//! From a schema document to the compiled arena of [`Node`]s.
//!
//! Each subschema is compiled once, keyed by its JSON Pointer in the document, so a `$ref` is an
//! index into the arena and a recursive schema is a cycle of indices, not an infinite tree. A
//! `$ref` target not yet reached by the walk is reserved and queued (compiling it on the spot
//! would let a chain of references grow the stack).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::number;
use super::{
    types, Compiled, Format, Keyword, Node, NodeId, SchemaError, MAX_DOCUMENT_DEPTH, MAX_NODES, MAX_REGEX_SIZE,
    MAX_SCHEMA_DEPTH,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Draft {
    Draft2020,
    Draft07,
}

/// Keywords that carry no assertion: accepted anywhere and ignored.
const ANNOTATIONS: &[&str] = &["$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"];

/// Known keywords we refuse, with the reason an administrator reads.
const REFUSED: &[(&str, &str)] = &[
    ("$anchor", "anchors are not supported; use $ref with a JSON Pointer such as #/$defs/name"),
    ("$dynamicRef", "dynamic references are not supported"),
    ("$dynamicAnchor", "dynamic references are not supported"),
    ("$recursiveRef", "recursive references (draft 2019-09) are not supported"),
    ("$recursiveAnchor", "recursive references (draft 2019-09) are not supported"),
    ("$vocabulary", "custom vocabularies are not supported"),
    ("unevaluatedProperties", "unevaluatedProperties is not supported; use additionalProperties"),
    ("unevaluatedItems", "unevaluatedItems is not supported; use items"),
    ("contentMediaType", "content keywords would not be enforced"),
    ("contentEncoding", "content keywords would not be enforced"),
    ("contentSchema", "content keywords would not be enforced"),
];

pub(crate) fn compile(document: &Value) -> Result<Compiled, SchemaError> {
    check_document_depth(document)?;
    let mut draft = Draft::Draft2020;
    let mut base = None;
    if let Value::Object(root) = document {
        if let Some(uri) = root.get("$schema") {
            draft = match uri.as_str().map(|u| u.trim_end_matches('#')) {
                Some("https://json-schema.org/draft/2020-12/schema") => Draft::Draft2020,
                Some("http://json-schema.org/draft-07/schema" | "https://json-schema.org/draft-07/schema") => Draft::Draft07,
                _ => {
                    return Err(SchemaError::UnsupportedDialect {
                        at: String::new(),
                        uri: short(&uri.to_string()),
                    })
                }
            };
        }
        if let Some(id) = root.get("$id") {
            let id = id.as_str().ok_or_else(|| invalid("", "$id", "must be a string"))?;
            // The root's own URI, so that "{id}#/$defs/a" resolves like "#/$defs/a".
            base = Some(id.split('#').next().unwrap_or("").to_string());
        }
    }
    let mut compiler = Compiler {
        document,
        draft,
        base,
        nodes: Vec::new(),
        pointers: Vec::new(),
        by_pointer: HashMap::new(),
        queue: Vec::new(),
        refs: Vec::new(),
        unasserted_formats: BTreeSet::new(),
    };
    let root = compiler.subschema(document, String::new(), 0)?;
    while let Some((id, pointer)) = compiler.queue.pop() {
        let value = document.pointer(&pointer).ok_or_else(|| SchemaError::UnresolvedRef {
            at: pointer.clone(),
            reference: format!("#{pointer}"),
            why: "no such location in the document",
        })?;
        let node = compiler.node(value, &pointer, 0)?;
        compiler.nodes[id] = node;
    }
    compiler.refuse_cycles()?;
    Ok(Compiled { nodes: compiler.nodes, root, unasserted_formats: compiler.unasserted_formats })
}

/// The raw nesting of the document, measured with an explicit stack: a schema built in code
/// (not parsed) could be deep enough to overflow a recursive walk.
fn check_document_depth(document: &Value) -> Result<(), SchemaError> {
    let mut stack = vec![(document, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_DOCUMENT_DEPTH {
            return Err(SchemaError::TooDeep { at: String::new(), limit: MAX_DOCUMENT_DEPTH });
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(members) => stack.extend(members.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

fn invalid(at: &str, keyword: &str, problem: &str) -> SchemaError {
    SchemaError::InvalidKeyword { at: at.to_string(), keyword: keyword.to_string(), problem: problem.to_string() }
}

/// Schema text quoted in an error, cut so that a huge value does not flood a log or a response.
fn short(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_string()
    } else {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    }
}

/// RFC 6901 escaping of one reference token.
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

struct Compiler<'d> {
    document: &'d Value,
    draft: Draft,
    base: Option<String>,
    nodes: Vec<Node>,
    /// The document location of each node, for errors.
    pointers: Vec<String>,
    by_pointer: HashMap<String, NodeId>,
    /// Reserved `$ref` targets still to compile: (node, pointer).
    queue: Vec<(NodeId, String)>,
    /// Every `$ref`: (the node holding it, its target, its text), for the cycle check.
    refs: Vec<(NodeId, NodeId, String)>,
    unasserted_formats: BTreeSet<String>,
}

impl<'d> Compiler<'d> {
    fn reserve(&mut self, pointer: String) -> Result<NodeId, SchemaError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(SchemaError::TooLarge { at: pointer, limit: MAX_NODES });
        }
        let id = self.nodes.len();
        self.nodes.push(Node::default());
        self.pointers.push(pointer.clone());
        self.by_pointer.insert(pointer, id);
        Ok(id)
    }

    /// The subschema at `pointer`, compiled once.
    fn subschema(&mut self, value: &'d Value, pointer: String, depth: usize) -> Result<NodeId, SchemaError> {
        if let Some(&id) = self.by_pointer.get(&pointer) {
            return Ok(id);
        }
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::TooDeep { at: pointer, limit: MAX_SCHEMA_DEPTH });
        }
        let id = self.reserve(pointer.clone())?;
        let node = self.node(value, &pointer, depth)?;
        self.nodes[id] = node;
        Ok(id)
    }

    fn child(&mut self, value: &'d Value, at: &str, keyword: &str, depth: usize) -> Result<NodeId, SchemaError> {
        self.subschema(value, format!("{at}/{}", escape_token(keyword)), depth + 1)
    }

    fn children(&mut self, value: &'d Value, at: &str, keyword: &str, depth: usize) -> Result<Vec<NodeId>, SchemaError> {
        let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| invalid(at, keyword, "must be a non-empty array of schemas"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.subschema(item, format!("{at}/{}/{i}", escape_token(keyword)), depth + 1))
            .collect()
    }

    fn members(&mut self, value: &'d Value, at: &str, keyword: &str, depth: usize) -> Result<Vec<(String, NodeId)>, SchemaError> {
        let object = value.as_object().ok_or_else(|| invalid(at, keyword, "must be an object of schemas"))?;
        object
            .iter()
            .map(|(name, item)| {
                let pointer = format!("{at}/{}/{}", escape_token(keyword), escape_token(name));
                Ok((name.clone(), self.subschema(item, pointer, depth + 1)?))
            })
            .collect()
    }

    fn node(&mut self, value: &'d Value, at: &str, depth: usize) -> Result<Node, SchemaError> {
        let object = match value {
            Value::Bool(true) => return Ok(Node::default()),
            Value::Bool(false) => return Ok(Node { keywords: vec![Keyword::False] }),
            Value::Object(object) => object,
            _ => return Err(SchemaError::NotASchema { at: at.to_string() }),
        };
        // Draft-07: "$ref" makes every sibling keyword ignored.
        if self.draft == Draft::Draft07 {
            if let Some(reference) = object.get("$ref") {
                return Ok(Node { keywords: vec![self.reference(reference, at)?] });
            }
        }
        let mut keywords = Vec::new();
        for (name, value) in object {
            self.keyword(object, name, value, at, depth, &mut keywords)?;
        }
        Ok(Node { keywords })
    }

    fn reference(&mut self, reference: &Value, at: &str) -> Result<Keyword, SchemaError> {
        let text = reference.as_str().ok_or_else(|| invalid(at, "$ref", "must be a string"))?;
        let unresolved = |why| SchemaError::UnresolvedRef { at: at.to_string(), reference: short(text), why };
        let fragment = match text.split_once('#') {
            Some(("", fragment)) => fragment,
            Some((uri, fragment)) if self.base.as_deref() == Some(uri) => fragment,
            None if self.base.as_deref() == Some(text) => "",
            _ => return Err(unresolved("only references inside this document (#, #/...) are supported")),
        };
        let decoded = percent_decode(fragment).ok_or_else(|| unresolved("bad percent-encoding"))?;
        if !decoded.is_empty() && !decoded.starts_with('/') {
            return Err(unresolved("anchors are not supported; use a JSON Pointer such as #/$defs/name"));
        }
        // Normalize the pointer the way the walk spells locations, so both meet in `by_pointer`.
        let mut pointer = String::new();
        for token in decoded.split('/').skip(1) {
            let token = token.replace("~1", "/").replace("~0", "~");
            pointer.push('/');
            pointer.push_str(&escape_token(&token));
        }
        if self.document.pointer(&pointer).is_none() {
            return Err(unresolved("no such location in the document"));
        }
        let target = match self.by_pointer.get(&pointer) {
            Some(&id) => id,
            None => {
                let id = self.reserve(pointer.clone())?;
                self.queue.push((id, pointer));
                id
            }
        };
        let holder = self.by_pointer.get(at).copied().unwrap_or(usize::MAX);
        self.refs.push((holder, target, short(text)));
        Ok(Keyword::Ref(target))
    }

    fn non_negative(&self, value: &Value, at: &str, keyword: &str) -> Result<u64, SchemaError> {
        // 2.0 is an integer too (the test suite checks that maxLength: 2.0 works).
        match value {
            Value::Number(n) if number::is_integer(n) => {
                n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.min(u64::MAX as f64) as u64))
            }
            _ => None,
        }
        .ok_or_else(|| invalid(at, keyword, "must be a non-negative integer"))
    }

    fn number(&self, value: &Value, at: &str, keyword: &str) -> Result<serde_json::Number, SchemaError> {
        value.as_number().cloned().ok_or_else(|| invalid(at, keyword, "must be a number"))
    }

    fn regex(&self, pattern: &str, at: String) -> Result<regex_lite::Regex, SchemaError> {
        regex_lite::RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_SIZE)
            .nest_limit(64)
            .build()
            .map_err(|e| SchemaError::BadRegex { at, reason: short(&e.to_string()) })
    }

    fn string_list(&self, value: &Value, at: &str, keyword: &str) -> Result<Vec<String>, SchemaError> {
        let items = value.as_array().ok_or_else(|| invalid(at, keyword, "must be an array of strings"))?;
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let s = item.as_str().ok_or_else(|| invalid(at, keyword, "must be an array of strings"))?;
            if out.iter().any(|o| o == s) {
                return Err(invalid(at, keyword, "must not repeat a name"));
            }
            out.push(s.to_string());
        }
        Ok(out)
    }

    fn keyword(
        &mut self,
        object: &'d Map<String, Value>,
        name: &str,
        value: &'d Value,
        at: &str,
        depth: usize,
        out: &mut Vec<Keyword>,
    ) -> Result<(), SchemaError> {
        let draft07 = self.draft == Draft::Draft07;
        let refuse = |why: &str| SchemaError::Unsupported { at: at.to_string(), keyword: name.to_string(), why: why.to_string() };
        match name {
            _ if ANNOTATIONS.contains(&name) || name.starts_with("x-") => {}
            "$schema" | "$id" if at.is_empty() => {}
            "$schema" => return Err(refuse("only the root may name a dialect")),
            "$id" => return Err(refuse("only the root may have an $id (no embedded resources)")),
            "$defs" if !draft07 => {
                self.members(value, at, name, depth)?;
            }
            "definitions" if draft07 => {
                self.members(value, at, name, depth)?;
            }
            "$ref" => out.push(self.reference(value, at)?),
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                let mut bits = 0;
                for n in names {
                    let bit = types::NAMES
                        .iter()
                        .find(|(_, t)| Some(*t) == n.as_str())
                        .map(|(bit, _)| *bit)
                        .ok_or_else(|| invalid(at, name, "must name JSON types (null, boolean, object, array, number, string, integer)"))?;
                    bits |= bit;
                }
                out.push(Keyword::Type(bits));
            }
            "enum" => {
                let items = value.as_array().ok_or_else(|| invalid(at, name, "must be an array"))?;
                out.push(Keyword::Enum(items.clone()));
            }
            "const" => out.push(Keyword::Const(value.clone())),
            "properties" => {
                let members = self.members(value, at, name, depth)?;
                out.push(Keyword::Properties(members));
            }
            "patternProperties" => {
                let object = value.as_object().ok_or_else(|| invalid(at, name, "must be an object of schemas"))?;
                let mut compiled = Vec::new();
                for (pattern, item) in object {
                    let pointer = format!("{at}/patternProperties/{}", escape_token(pattern));
                    let regex = self.regex(pattern, pointer.clone())?;
                    compiled.push((regex, self.subschema(item, pointer, depth + 1)?));
                }
                out.push(Keyword::PatternProperties(compiled));
            }
            "additionalProperties" => {
                let node = self.child(value, at, name, depth)?;
                let names = object.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default();
                let mut patterns = Vec::new();
                if let Some(p) = object.get("patternProperties").and_then(Value::as_object) {
                    for pattern in p.keys() {
                        patterns.push(self.regex(pattern, format!("{at}/patternProperties/{}", escape_token(pattern)))?);
                    }
                }
                out.push(Keyword::AdditionalProperties { node, names, patterns });
            }
            "propertyNames" => out.push(Keyword::PropertyNames(self.child(value, at, name, depth)?)),
            "required" => out.push(Keyword::Required(self.string_list(value, at, name)?)),
            "minProperties" => out.push(Keyword::MinProperties(self.non_negative(value, at, name)?)),
            "maxProperties" => out.push(Keyword::MaxProperties(self.non_negative(value, at, name)?)),
            "dependentRequired" if !draft07 => {
                let object = value.as_object().ok_or_else(|| invalid(at, name, "must be an object of string arrays"))?;
                let mut pairs = Vec::new();
                for (property, list) in object {
                    pairs.push((property.clone(), self.string_list(list, &format!("{at}/{name}"), property)?));
                }
                out.push(Keyword::DependentRequired(pairs));
            }
            "dependentSchemas" if !draft07 => {
                let members = self.members(value, at, name, depth)?;
                out.push(Keyword::DependentSchemas(members));
            }
            // Draft-07's "dependencies": an array is dependentRequired, a schema dependentSchemas.
            "dependencies" if draft07 => {
                let object = value.as_object().ok_or_else(|| invalid(at, name, "must be an object"))?;
                let (mut required, mut schemas) = (Vec::new(), Vec::new());
                for (property, item) in object {
                    if item.is_array() {
                        required.push((property.clone(), self.string_list(item, &format!("{at}/{name}"), property)?));
                    } else {
                        let pointer = format!("{at}/dependencies/{}", escape_token(property));
                        schemas.push((property.clone(), self.subschema(item, pointer, depth + 1)?));
                    }
                }
                out.push(Keyword::DependentRequired(required));
                out.push(Keyword::DependentSchemas(schemas));
            }
            "prefixItems" if !draft07 => out.push(Keyword::PrefixItems(self.children(value, at, name, depth)?)),
            "items" => match value {
                Value::Array(_) if draft07 => {
                    let prefix = self.children(value, at, name, depth)?;
                    let skip = prefix.len();
                    out.push(Keyword::PrefixItems(prefix));
                    if let Some(additional) = object.get("additionalItems") {
                        let node = self.child(additional, at, "additionalItems", depth)?;
                        out.push(Keyword::Items { node, skip });
                    }
                }
                Value::Array(_) => return Err(refuse("the array form of items is draft-07's; in 2020-12 use prefixItems")),
                _ => {
                    let skip = if draft07 { 0 } else { object.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len) };
                    out.push(Keyword::Items { node: self.child(value, at, name, depth)?, skip });
                }
            },
            // Meaningful only next to an array "items", where that arm compiles it.
            "additionalItems" if draft07 => {
                if !object.get("items").is_some_and(Value::is_array) {
                    self.child(value, at, name, depth)?;
                }
            }
            "minItems" => out.push(Keyword::MinItems(self.non_negative(value, at, name)?)),
            "maxItems" => out.push(Keyword::MaxItems(self.non_negative(value, at, name)?)),
            "uniqueItems" => match value {
                Value::Bool(true) => out.push(Keyword::UniqueItems),
                Value::Bool(false) => {}
                _ => return Err(invalid(at, name, "must be a boolean")),
            },
            "contains" => {
                let node = self.child(value, at, name, depth)?;
                let (min, max) = if draft07 {
                    (1, None)
                } else {
                    let min = object.get("minContains").map(|v| self.non_negative(v, at, "minContains")).transpose()?;
                    let max = object.get("maxContains").map(|v| self.non_negative(v, at, "maxContains")).transpose()?;
                    (min.unwrap_or(1), max)
                };
                out.push(Keyword::Contains { node, min, max });
            }
            // Read by "contains"; alone they mean nothing (the specification says to ignore them).
            "minContains" | "maxContains" if !draft07 => {
                self.non_negative(value, at, name)?;
            }
            "minLength" => out.push(Keyword::MinLength(self.non_negative(value, at, name)?)),
            "maxLength" => out.push(Keyword::MaxLength(self.non_negative(value, at, name)?)),
            "pattern" => {
                let pattern = value.as_str().ok_or_else(|| invalid(at, name, "must be a string"))?;
                out.push(Keyword::Pattern(self.regex(pattern, format!("{at}/pattern"))?));
            }
            "minimum" => out.push(Keyword::Minimum(self.number(value, at, name)?)),
            "maximum" => out.push(Keyword::Maximum(self.number(value, at, name)?)),
            "exclusiveMinimum" => out.push(Keyword::ExclusiveMinimum(self.number(value, at, name)?)),
            "exclusiveMaximum" => out.push(Keyword::ExclusiveMaximum(self.number(value, at, name)?)),
            "multipleOf" => {
                let n = self.number(value, at, name)?;
                if !number::is_positive(&n) {
                    return Err(invalid(at, name, "must be greater than 0"));
                }
                out.push(Keyword::MultipleOf(n));
            }
            "allOf" => out.push(Keyword::AllOf(self.children(value, at, name, depth)?)),
            "anyOf" => out.push(Keyword::AnyOf(self.children(value, at, name, depth)?)),
            "oneOf" => out.push(Keyword::OneOf(self.children(value, at, name, depth)?)),
            "not" => out.push(Keyword::Not(self.child(value, at, name, depth)?)),
            "if" => {
                let condition = self.child(value, at, name, depth)?;
                let then = object.get("then").map(|v| self.child(v, at, "then", depth)).transpose()?;
                let otherwise = object.get("else").map(|v| self.child(v, at, "else", depth)).transpose()?;
                out.push(Keyword::If { condition, then, otherwise });
            }
            // Without "if" they are ignored (as specified); compiled so that a mistake in them still shows.
            "then" | "else" => {
                self.child(value, at, name, depth)?;
            }
            "format" => {
                let format = value.as_str().ok_or_else(|| invalid(at, name, "must be a string"))?;
                match Format::from_name(format) {
                    Some(f) => out.push(Keyword::Format(f)),
                    None => {
                        self.unasserted_formats.insert(short(format));
                    }
                }
            }
            _ => {
                let why = REFUSED.iter().find(|(k, _)| *k == name).map(|(_, why)| *why).unwrap_or(if draft07 {
                    "not a draft-07 keyword this validator supports (check the spelling)"
                } else {
                    "not a keyword this validator supports (check the spelling; extensions must start with x-)"
                });
                return Err(refuse(why));
            }
        }
        Ok(())
    }

    /// Refuses a loop of subschemas that apply to the same instance location (`$ref`, `allOf`,
    /// `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas`): evaluating it would
    /// never end. Loops through `properties`, `items` and the like are fine, since each turn moves
    /// into a smaller part of the instance.
    fn refuse_cycles(&self) -> Result<(), SchemaError> {
        let in_place = |node: &Node| -> Vec<NodeId> {
            let mut next = Vec::new();
            for keyword in &node.keywords {
                match keyword {
                    Keyword::AllOf(ids) | Keyword::AnyOf(ids) | Keyword::OneOf(ids) => next.extend(ids),
                    Keyword::Not(id) | Keyword::Ref(id) => next.push(*id),
                    Keyword::If { condition, then, otherwise } => {
                        next.push(*condition);
                        next.extend(then.iter().chain(otherwise.iter()));
                    }
                    Keyword::DependentSchemas(pairs) => next.extend(pairs.iter().map(|(_, id)| *id)),
                    _ => {}
                }
            }
            next
        };
        // Iterative depth-first search: 0 unvisited, 1 on the current path, 2 done.
        let mut state = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, in_place(&self.nodes[start]), 0usize)];
            state[start] = 1;
            while let Some((node, next, index)) = stack.last_mut() {
                if let Some(&child) = next.get(*index) {
                    *index += 1;
                    match state[child] {
                        0 => {
                            state[child] = 1;
                            let grandchildren = in_place(&self.nodes[child]);
                            stack.push((child, grandchildren, 0));
                        }
                        1 => {
                            let holder = *node;
                            let reference = self
                                .refs
                                .iter()
                                .find(|(h, t, _)| *h == holder && *t == child)
                                .map(|(_, _, text)| text.clone())
                                .unwrap_or_else(|| format!("#{}", self.pointers[child]));
                            return Err(SchemaError::RefCycle { at: self.pointers[holder].clone(), reference });
                        }
                        _ => {}
                    }
                } else {
                    state[*node] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}
