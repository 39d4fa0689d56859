//! Evaluating a compiled schema against an instance.
//!
//! Two modes share one walk: collecting (every violation, for [`super::Schema::validate`]) and
//! checking (stop at the first failure, for `is_valid` and for the subschemas of `anyOf`, `oneOf`,
//! `not`, `if` and `contains`, whose own failures are not the instance's errors).

use std::cmp::Ordering;

use serde_json::Value;

use super::compile::escape_token;
use super::number::{self, compare, json_equal};
use super::{types, Compiled, Keyword, NodeId, Violation, MAX_INSTANCE_DEPTH, MAX_STEPS, MAX_VIOLATIONS};

/// Nested evaluations (in-place subschemas count too); with in-place cycles refused at compile
/// time this is reached only through a very deep instance or a long `$ref` chain.
const MAX_EVAL_DEPTH: usize = 256;
/// Depth for the equality of `enum`, `const` and `uniqueItems`.
const EQUALITY_DEPTH: usize = 130;

pub(crate) fn validate(schema: &Compiled, instance: &Value) -> Result<(), Vec<Violation>> {
    let mut v = Validator::new(schema);
    let ok = v.eval(schema.root, instance, 0, true);
    if ok && !v.stopped {
        return Ok(());
    }
    if v.violations.is_empty() {
        // Not expected (every failure in collecting mode reports itself), but never say "valid".
        v.violations.push(Violation { instance_path: String::new(), keyword: "schema", message: "does not match the schema".into() });
    }
    Err(v.violations)
}

pub(crate) fn is_valid(schema: &Compiled, instance: &Value) -> bool {
    let mut v = Validator::new(schema);
    v.eval(schema.root, instance, 0, false) && !v.stopped
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

struct Validator<'s, 'a> {
    schema: &'s Compiled,
    path: Vec<Segment<'a>>,
    violations: Vec<Violation>,
    steps: u32,
    /// Set when a bound was hit or the violations are full: the answer is "invalid" and every
    /// evaluation returns at once.
    stopped: bool,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A schema-supplied value quoted in a message, kept short.
fn quote(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 40 {
        text
    } else {
        format!("{}...", text.chars().take(37).collect::<String>())
    }
}

fn quote_str(s: &str) -> String {
    quote(&Value::String(s.to_string()))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl<'s, 'a> Validator<'s, 'a> {
    fn new(schema: &'s Compiled) -> Self {
        Validator { schema, path: Vec::new(), violations: Vec::new(), steps: 0, stopped: false }
    }

    fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            out.push('/');
            match segment {
                Segment::Key(k) => {
                    // The client sent this name; keep the path short if the name is not.
                    if k.chars().count() > 64 {
                        let cut: String = k.chars().take(61).collect();
                        out.push_str(&escape_token(&cut));
                        out.push_str("...");
                    } else {
                        out.push_str(&escape_token(k));
                    }
                }
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    /// Records a violation when collecting; returns false (the keyword failed) either way.
    fn fail(&mut self, collect: bool, keyword: &'static str, message: impl FnOnce() -> String) -> bool {
        if collect && !self.stopped {
            let instance_path = self.pointer();
            self.violations.push(Violation { instance_path, keyword, message: message() });
            if self.violations.len() >= MAX_VIOLATIONS {
                self.stopped = true;
            }
        }
        false
    }

    /// Hitting a bound: one violation saying so (even in checking mode, so that `not` cannot turn
    /// an unfinished evaluation into a pass: `stopped` makes the final answer "invalid").
    fn limit(&mut self, message: &str) -> bool {
        if !self.stopped {
            let instance_path = self.pointer();
            self.violations.push(Violation { instance_path, keyword: "limit", message: message.to_string() });
            self.stopped = true;
        }
        false
    }

    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.limit("the value is too complex to validate against this schema");
        }
        true
    }

    /// Evaluates a child of the instance (an array item or an object member) at its path.
    fn descend(&mut self, id: NodeId, segment: Segment<'a>, child: &'a Value, depth: usize, collect: bool) -> bool {
        if self.path.len() >= MAX_INSTANCE_DEPTH {
            return self.limit("the value is nested too deeply");
        }
        self.path.push(segment);
        let ok = self.eval(id, child, depth + 1, collect);
        self.path.pop();
        ok
    }

    fn eval(&mut self, id: NodeId, instance: &'a Value, depth: usize, collect: bool) -> bool {
        if self.stopped || !self.step() {
            return false;
        }
        if depth > MAX_EVAL_DEPTH {
            return self.limit("the value is nested too deeply for this schema");
        }
        let schema = self.schema;
        let mut ok = true;
        for keyword in &schema.nodes[id].keywords {
            if !self.keyword(keyword, instance, depth, collect) {
                ok = false;
                if !collect || self.stopped {
                    return false;
                }
            }
        }
        ok
    }

    /// Checking mode, for subschemas whose failures are not reported one by one.
    fn matches(&mut self, id: NodeId, instance: &'a Value, depth: usize) -> bool {
        self.eval(id, instance, depth + 1, false)
    }

    fn keyword(&mut self, keyword: &Keyword, instance: &'a Value, depth: usize, collect: bool) -> bool {
        match (keyword, instance) {
            (Keyword::False, _) => self.fail(collect, "false", || "no value is allowed here".into()),
            (Keyword::Type(bits), _) => {
                let bit = match instance {
                    Value::Null => types::NULL,
                    Value::Bool(_) => types::BOOLEAN,
                    Value::Object(_) => types::OBJECT,
                    Value::Array(_) => types::ARRAY,
                    Value::String(_) => types::STRING,
                    Value::Number(n) if number::is_integer(n) => types::NUMBER | types::INTEGER,
                    Value::Number(_) => types::NUMBER,
                };
                bits & bit != 0
                    || self.fail(collect, "type", || {
                        let names: Vec<&str> = types::NAMES.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n).collect();
                        format!("must be of type {} (found {})", names.join(" or "), type_name(instance))
                    })
            }
            (Keyword::Enum(options), _) => {
                options.iter().any(|o| json_equal(o, instance, EQUALITY_DEPTH))
                    || self.fail(collect, "enum", || {
                        let listed: Vec<String> = options.iter().take(6).map(quote).collect();
                        let text = listed.join(", ");
                        if options.len() <= 6 && text.len() <= 120 {
                            format!("must be one of: {text}")
                        } else {
                            "must be one of the allowed values".into()
                        }
                    })
            }
            (Keyword::Const(expected), _) => {
                json_equal(expected, instance, EQUALITY_DEPTH) || self.fail(collect, "const", || format!("must be {}", quote(expected)))
            }
            (Keyword::Properties(members), Value::Object(object)) => {
                let mut ok = true;
                for (name, id) in members {
                    if let Some((key, value)) = object.get_key_value(name) {
                        if !self.descend(*id, Segment::Key(key), value, depth, collect) {
                            ok = false;
                            if !collect || self.stopped {
                                return false;
                            }
                        }
                    }
                }
                ok
            }
            (Keyword::PatternProperties(patterns), Value::Object(object)) => {
                let mut ok = true;
                for (key, value) in object {
                    for (regex, id) in patterns {
                        if regex.is_match(key) && !self.descend(*id, Segment::Key(key), value, depth, collect) {
                            ok = false;
                            if !collect || self.stopped {
                                return false;
                            }
                        }
                    }
                }
                ok
            }
            (Keyword::AdditionalProperties { node, names, patterns }, Value::Object(object)) => {
                let refused = self.schema.nodes[*node].is_false();
                let mut ok = true;
                for (key, value) in object {
                    if names.iter().any(|n| n == key) || patterns.iter().any(|r| r.is_match(key)) {
                        continue;
                    }
                    let passed = if refused {
                        // Say it plainly rather than "no value is allowed here".
                        self.path.push(Segment::Key(key));
                        self.fail(collect, "additionalProperties", || "this property is not allowed".into());
                        self.path.pop();
                        false
                    } else {
                        self.descend(*node, Segment::Key(key), value, depth, collect)
                    };
                    if !passed {
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::PropertyNames(node), Value::Object(object)) => {
                let mut ok = true;
                for key in object.keys() {
                    if !self.property_name(*node, key, depth) {
                        self.path.push(Segment::Key(key));
                        self.fail(collect, "propertyNames", || "this property name is not allowed".into());
                        self.path.pop();
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::Required(names), Value::Object(object)) => {
                let mut ok = true;
                for name in names {
                    if !object.contains_key(name) {
                        ok = self.fail(collect, "required", || format!("missing required property {}", quote_str(name)));
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::MinProperties(min), Value::Object(object)) => {
                object.len() as u64 >= *min
                    || self.fail(collect, "minProperties", || format!("must have at least {}", plural(*min, "property", "properties")))
            }
            (Keyword::MaxProperties(max), Value::Object(object)) => {
                object.len() as u64 <= *max
                    || self.fail(collect, "maxProperties", || format!("must have at most {}", plural(*max, "property", "properties")))
            }
            (Keyword::DependentRequired(pairs), Value::Object(object)) => {
                let mut ok = true;
                for (property, names) in pairs {
                    if !object.contains_key(property) {
                        continue;
                    }
                    for name in names {
                        if !object.contains_key(name) {
                            ok = self.fail(collect, "dependentRequired", || {
                                format!("missing property {}, required when {} is present", quote_str(name), quote_str(property))
                            });
                            if !collect || self.stopped {
                                return false;
                            }
                        }
                    }
                }
                ok
            }
            (Keyword::DependentSchemas(pairs), Value::Object(object)) => {
                let mut ok = true;
                for (property, id) in pairs {
                    if object.contains_key(property) && !self.eval(*id, instance, depth + 1, collect) {
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::PrefixItems(ids), Value::Array(items)) => {
                let mut ok = true;
                for (i, (id, item)) in ids.iter().zip(items).enumerate() {
                    if !self.descend(*id, Segment::Index(i), item, depth, collect) {
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::Items { node, skip }, Value::Array(items)) => {
                if self.schema.nodes[*node].is_false() && items.len() > *skip {
                    return self.fail(collect, "items", || format!("must have at most {}", plural(*skip as u64, "item", "items")));
                }
                let mut ok = true;
                for (i, item) in items.iter().enumerate().skip(*skip) {
                    if !self.descend(*node, Segment::Index(i), item, depth, collect) {
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::MinItems(min), Value::Array(items)) => {
                items.len() as u64 >= *min || self.fail(collect, "minItems", || format!("must have at least {}", plural(*min, "item", "items")))
            }
            (Keyword::MaxItems(max), Value::Array(items)) => {
                items.len() as u64 <= *max || self.fail(collect, "maxItems", || format!("must have at most {}", plural(*max, "item", "items")))
            }
            (Keyword::UniqueItems, Value::Array(items)) => {
                for (i, a) in items.iter().enumerate() {
                    for b in &items[i + 1..] {
                        if !self.step() {
                            return false;
                        }
                        if json_equal(a, b, EQUALITY_DEPTH) {
                            return self.fail(collect, "uniqueItems", || "must not contain duplicate items".into());
                        }
                    }
                }
                true
            }
            (Keyword::Contains { node, min, max }, Value::Array(items)) => {
                let mut count = 0u64;
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Segment::Index(i));
                    let hit = self.matches(*node, item, depth);
                    self.path.pop();
                    if self.stopped {
                        return false;
                    }
                    count += u64::from(hit);
                }
                if count < *min {
                    return self.fail(collect, if *min == 1 { "contains" } else { "minContains" }, || {
                        format!("must contain at least {} matching the schema", plural(*min, "item", "items"))
                    });
                }
                match max {
                    Some(max) if count > *max => self.fail(collect, "maxContains", || {
                        format!("must contain at most {} matching the schema", plural(*max, "item", "items"))
                    }),
                    _ => true,
                }
            }
            (Keyword::MinLength(min), Value::String(s)) => {
                s.chars().count() as u64 >= *min
                    || self.fail(collect, "minLength", || format!("must be at least {} long", plural(*min, "character", "characters")))
            }
            (Keyword::MaxLength(max), Value::String(s)) => {
                s.chars().count() as u64 <= *max
                    || self.fail(collect, "maxLength", || format!("must be at most {} long", plural(*max, "character", "characters")))
            }
            (Keyword::Pattern(regex), Value::String(s)) => {
                regex.is_match(s) || self.fail(collect, "pattern", || format!("must match the pattern {}", quote_str(regex.as_str())))
            }
            (Keyword::Minimum(limit), Value::Number(n)) => {
                matches!(compare(n, limit), Some(Ordering::Greater | Ordering::Equal))
                    || self.fail(collect, "minimum", || format!("must be greater than or equal to {limit}"))
            }
            (Keyword::Maximum(limit), Value::Number(n)) => {
                matches!(compare(n, limit), Some(Ordering::Less | Ordering::Equal))
                    || self.fail(collect, "maximum", || format!("must be less than or equal to {limit}"))
            }
            (Keyword::ExclusiveMinimum(limit), Value::Number(n)) => {
                compare(n, limit) == Some(Ordering::Greater) || self.fail(collect, "exclusiveMinimum", || format!("must be greater than {limit}"))
            }
            (Keyword::ExclusiveMaximum(limit), Value::Number(n)) => {
                compare(n, limit) == Some(Ordering::Less) || self.fail(collect, "exclusiveMaximum", || format!("must be less than {limit}"))
            }
            (Keyword::MultipleOf(divisor), Value::Number(n)) => {
                number::is_multiple_of(n, divisor) || self.fail(collect, "multipleOf", || format!("must be a multiple of {divisor}"))
            }
            (Keyword::Format(format), Value::String(s)) => {
                format.check(s) || self.fail(collect, "format", || format!("must be {}", format.describe()))
            }
            (Keyword::AllOf(ids), _) => {
                let mut ok = true;
                for id in ids {
                    if !self.eval(*id, instance, depth + 1, collect) {
                        ok = false;
                        if !collect || self.stopped {
                            return false;
                        }
                    }
                }
                ok
            }
            (Keyword::AnyOf(ids), _) => {
                for id in ids {
                    if self.matches(*id, instance, depth) {
                        return true;
                    }
                    if self.stopped {
                        return false;
                    }
                }
                self.fail(collect, "anyOf", || "must match at least one of the allowed schemas".into())
            }
            (Keyword::OneOf(ids), _) => {
                let mut count = 0;
                for id in ids {
                    count += usize::from(self.matches(*id, instance, depth));
                    if self.stopped {
                        return false;
                    }
                }
                count == 1
                    || self.fail(collect, "oneOf", || format!("must match exactly one of the allowed schemas (matched {count})"))
            }
            (Keyword::Not(id), _) => {
                let matched = self.matches(*id, instance, depth);
                if self.stopped {
                    return false;
                }
                !matched || self.fail(collect, "not", || "must not match the excluded schema".into())
            }
            (Keyword::If { condition, then, otherwise }, _) => {
                let holds = self.matches(*condition, instance, depth);
                if self.stopped {
                    return false;
                }
                match if holds { then } else { otherwise } {
                    Some(id) => self.eval(*id, instance, depth + 1, collect),
                    None => true,
                }
            }
            (Keyword::Ref(id), _) => self.eval(*id, instance, depth + 1, collect),
            // A keyword for another type holds vacuously ("minLength" says nothing of a number).
            _ => true,
        }
    }

    /// Whether a member name satisfies `propertyNames`: the name is a string instance of its own,
    /// made here, so it is checked by a nested validator (whose path could not borrow it) that
    /// shares this one's step budget.
    fn property_name(&mut self, id: NodeId, key: &str, depth: usize) -> bool {
        let name = Value::String(key.to_string());
        let mut nested = Validator::new(self.schema);
        nested.steps = self.steps;
        let ok = nested.eval(id, &name, depth + 1, false);
        self.steps = nested.steps;
        if nested.stopped {
            return self.limit("the value is too complex to validate against this schema");
        }
        ok
    }
}
