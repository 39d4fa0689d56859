//! The messages, paths and refusals the product depends on. The keyword semantics are proven by the
//! official test suite in `tests/json_schema_suite.rs`.

use serde_json::{json, Value};

use super::*;

fn schema(document: Value) -> Schema {
    Schema::compile(&document).unwrap_or_else(|e| panic!("{document} should compile: {e}"))
}

fn refusal(document: Value) -> SchemaError {
    match Schema::compile(&document) {
        Ok(_) => panic!("{document} should be refused"),
        Err(e) => e,
    }
}

/// A Rich Authorization Request type's schema, as an administrator might register it.
fn payment_details() -> Schema {
    schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["details"],
        "properties": {
            "details": {
                "type": "array",
                "minItems": 1,
                "items": { "$ref": "#/$defs/payment" }
            }
        },
        "$defs": {
            "payment": {
                "type": "object",
                "required": ["type", "amount", "currency"],
                "additionalProperties": false,
                "properties": {
                    "type": { "const": "payment_initiation" },
                    "amount": { "type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01 },
                    "currency": { "enum": ["BRL", "EUR", "USD"] },
                    "creditor": { "type": "string", "maxLength": 70 },
                    "execution": { "type": "string", "format": "date-time" }
                }
            }
        }
    }))
}

#[test]
fn violations_name_the_instance_location_and_keyword() {
    let s = payment_details();
    let errors = s
        .validate(&json!({"details": [
            {"type": "payment_initiation", "amount": 10.5, "currency": "BRL"},
            {"type": "payment_initiation", "amount": -3, "currency": "JPY", "memo": "x", "execution": "tomorrow"}
        ]}))
        .unwrap_err();
    // Keywords are checked in the document's member order, which serde_json keeps sorted.
    let found: Vec<(&str, &str, &str)> = errors.iter().map(|v| (v.instance_path.as_str(), v.keyword, v.message.as_str())).collect();
    assert_eq!(
        found,
        vec![
            ("/details/1/memo", "additionalProperties", "this property is not allowed"),
            ("/details/1/amount", "exclusiveMinimum", "must be greater than 0"),
            ("/details/1/currency", "enum", r#"must be one of: "BRL", "EUR", "USD""#),
            ("/details/1/execution", "format", "must be a date-time (RFC 3339, e.g. 2024-01-31T12:00:00Z)"),
        ],
    );
    assert_eq!(errors[0].to_string(), "/details/1/memo: this property is not allowed");
    assert!(s.is_valid(&json!({"details": [{"type": "payment_initiation", "amount": 0.07, "currency": "EUR"}]})));
}

#[test]
fn missing_properties_are_reported_at_the_object() {
    let errors = payment_details().validate(&json!({"details": [{"amount": 1}]})).unwrap_err();
    let found: Vec<(&str, &str, &str)> = errors.iter().map(|v| (v.instance_path.as_str(), v.keyword, v.message.as_str())).collect();
    assert_eq!(
        found,
        vec![
            ("/details/0", "required", r#"missing required property "type""#),
            ("/details/0", "required", r#"missing required property "currency""#),
        ]
    );
    let errors = payment_details().validate(&json!({})).unwrap_err();
    assert_eq!(errors[0].instance_path, "");
    assert_eq!(errors[0].to_string(), r#"(root): missing required property "details""#);
}

#[test]
fn messages_do_not_echo_the_instance() {
    let long = "A".repeat(10_000);
    let s = schema(json!({"properties": {"name": {"type": "integer", "maxLength": 3, "enum": [1, 2]}}}));
    let errors = s.validate(&json!({ "name": long })).unwrap_err();
    for v in &errors {
        assert!(!v.message.contains("AAAA"), "{v:?}");
        assert!(v.message.len() < 200, "{v:?}");
    }
    assert!(errors.iter().any(|v| v.message == "must be of type integer (found string)"), "{errors:?}");
    // A long member name is shortened in the path.
    let s = schema(json!({"additionalProperties": false}));
    let errors = s.validate(&json!({ long.clone(): 1 })).unwrap_err();
    assert!(errors[0].instance_path.len() < 80, "{:?}", errors[0]);
}

#[test]
fn pointer_escapes_in_paths() {
    let s = schema(json!({"additionalProperties": {"type": "string"}}));
    let errors = s.validate(&json!({"a/b~c": 1})).unwrap_err();
    assert_eq!(errors[0].instance_path, "/a~1b~0c");
}

#[test]
fn violations_are_bounded() {
    let s = schema(json!({"items": {"type": "string"}}));
    let errors = s.validate(&Value::Array(vec![json!(1); 1000])).unwrap_err();
    assert_eq!(errors.len(), MAX_VIOLATIONS);
    assert_eq!(errors[19].instance_path, "/19");
}

#[test]
fn combinators_report_themselves() {
    let s = schema(json!({"properties": {"a": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}}));
    let errors = s.validate(&json!({"a": 5})).unwrap_err();
    assert_eq!((errors[0].instance_path.as_str(), errors[0].keyword), ("/a", "oneOf"));
    assert_eq!(errors[0].message, "must match exactly one of the allowed schemas (matched 2)");
    let s = schema(json!({"if": {"required": ["a"]}, "then": {"required": ["b"]}}));
    assert!(s.is_valid(&json!({})));
    let errors = s.validate(&json!({"a": 1})).unwrap_err();
    assert_eq!(errors[0].keyword, "required");
}

#[test]
fn unsupported_keywords_are_refused_with_their_location() {
    let e = refusal(json!({"properties": {"a": {"type": "string", "requried": true}}}));
    assert!(matches!(&e, SchemaError::Unsupported { at, keyword, .. } if at == "/properties/a" && keyword == "requried"), "{e:?}");
    assert!(e.to_string().starts_with(r##"schema #/properties/a: "requried" is not supported"##), "{e}");
    for keyword in ["unevaluatedProperties", "$dynamicRef", "$anchor", "contentMediaType", "dependencies", "definitions"] {
        let e = refusal(json!({ keyword: "x" }));
        assert!(matches!(&e, SchemaError::Unsupported { keyword: k, .. } if k == keyword), "{keyword}: {e:?}");
    }
    let e = refusal(json!({"items": [{"type": "string"}]}));
    assert!(e.to_string().contains("prefixItems"), "{e}");
    let e = refusal(json!({"properties": {"a": {"$id": "https://example.com/a"}}}));
    assert!(matches!(e, SchemaError::Unsupported { .. }), "{e:?}");
}

#[test]
fn annotations_and_extensions_are_accepted() {
    let s = schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/schemas/auth-context",
        "$comment": "c", "title": "t", "description": "d", "default": {}, "examples": [{}],
        "deprecated": false, "readOnly": false, "writeOnly": false, "x-ui-order": 3,
        "properties": {"acr": {"type": "string", "format": "ipv6"}, "n": {"format": "custom-thing"}}
    }));
    assert!(s.is_valid(&json!({"acr": "not an address"})));
    assert_eq!(s.unasserted_formats().collect::<Vec<_>>(), vec!["custom-thing", "ipv6"]);
}

#[test]
fn bad_keyword_values_are_refused() {
    let cases = [
        (json!({"minLength": -1}), "/"),
        (json!({"type": "text"}), ""),
        (json!({"required": "a"}), ""),
        (json!({"required": ["a", "a"]}), ""),
        (json!({"multipleOf": 0}), ""),
        (json!({"properties": {"a": 3}}), "/properties/a"),
        (json!({"allOf": []}), ""),
    ];
    for (document, _) in cases {
        let e = refusal(document.clone());
        assert!(matches!(e, SchemaError::InvalidKeyword { .. } | SchemaError::NotASchema { .. }), "{document}: {e:?}");
    }
    let e = refusal(json!({"properties": {"a": 3}}));
    assert_eq!(e.to_string(), "schema #/properties/a: a schema must be an object or a boolean");
}

#[test]
fn bad_regexes_and_references_are_refused() {
    let e = refusal(json!({"properties": {"code": {"pattern": "(unclosed"}}}));
    assert!(matches!(&e, SchemaError::BadRegex { at, .. } if at == "/properties/code/pattern"), "{e:?}");
    let e = refusal(json!({"pattern": "a{1000}{1000}"}));
    assert!(matches!(e, SchemaError::BadRegex { .. }), "{e:?}");
    let e = refusal(json!({"$ref": "#/$defs/missing"}));
    assert!(matches!(e, SchemaError::UnresolvedRef { .. }), "{e:?}");
    let e = refusal(json!({"$ref": "https://example.com/other.json"}));
    assert!(e.to_string().contains("only references inside this document"), "{e}");
    let e = refusal(json!({"$ref": "#anchor"}));
    assert!(matches!(e, SchemaError::UnresolvedRef { .. }), "{e:?}");
    let e = refusal(json!({"$schema": "http://json-schema.org/draft-04/schema#"}));
    assert!(matches!(e, SchemaError::UnsupportedDialect { .. }), "{e:?}");
}

#[test]
fn reference_cycles_that_never_descend_are_refused() {
    let e = refusal(json!({"$ref": "#"}));
    assert!(matches!(e, SchemaError::RefCycle { .. }), "{e:?}");
    let e = refusal(json!({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}));
    assert!(matches!(e, SchemaError::RefCycle { .. }), "{e:?}");
    // Recursion through properties is a tree schema, and fine.
    let tree = schema(json!({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}));
    assert!(tree.is_valid(&json!({"children": [{"children": []}, {}]})));
    assert!(!tree.is_valid(&json!({"children": [{"children": [3]}]})));
}

#[test]
fn the_root_id_can_prefix_references() {
    let s = schema(json!({"$id": "https://example.com/s", "properties": {"a": {"$ref": "https://example.com/s#/$defs/n"}}, "$defs": {"n": {"type": "number"}}}));
    assert!(s.is_valid(&json!({"a": 1})));
    assert!(!s.is_valid(&json!({"a": "1"})));
}

#[test]
fn draft_07_documents() {
    let s = schema(json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"s": {"type": "string"}},
        "items": [{"$ref": "#/definitions/s"}, {"type": "integer"}],
        "additionalItems": false,
        "dependencies": {"a": ["b"]}
    }));
    assert!(s.is_valid(&json!(["x", 1])));
    assert!(!s.is_valid(&json!(["x", 1, 2])));
    assert!(!s.is_valid(&json!([1])));
    // $ref overrides its siblings in draft-07.
    let s = schema(json!({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {"type": "array"}}, "$ref": "#/definitions/a", "maxItems": 1}));
    assert!(s.is_valid(&json!([1, 2, 3])));
    assert!(matches!(refusal(json!({"$schema": "http://json-schema.org/draft-07/schema#", "prefixItems": []})), SchemaError::Unsupported { .. }));
}

#[test]
fn numbers_at_the_edges() {
    let s = schema(json!({"type": "integer", "minimum": -9223372036854775808i64, "maximum": 18446744073709551615u64}));
    assert!(s.is_valid(&json!(u64::MAX)));
    assert!(s.is_valid(&json!(i64::MIN)));
    assert!(s.is_valid(&json!(1.0)));
    assert!(!s.is_valid(&json!(1e308)));
    assert!(!s.is_valid(&json!(1.5)));
    let s = schema(json!({"exclusiveMaximum": 18446744073709551615u64}));
    assert!(!s.is_valid(&json!(u64::MAX)));
    assert!(s.is_valid(&json!(u64::MAX - 1)));
    assert!(schema(json!({"multipleOf": 0.0001})).is_valid(&json!(0.0075)));
    assert!(schema(json!({"multipleOf": 0.01})).is_valid(&json!(19.99)));
    assert!(!schema(json!({"multipleOf": 0.01})).is_valid(&json!(19.999)));
    assert!(schema(json!({"enum": [1]})).is_valid(&json!(1.0)));
    assert!(!schema(json!({"uniqueItems": true})).is_valid(&json!([1, 1.0])));
    assert!(schema(json!({"minLength": 2, "maxLength": 2})).is_valid(&json!("💩é")));
}

// --- hostile input: never a panic, never a hang ---

fn nested_array(depth: usize) -> Value {
    let mut v = json!(0);
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

#[test]
fn deep_schemas_are_refused() {
    let mut document = json!({"type": "string"});
    for _ in 0..40 {
        document = json!({"items": document});
    }
    let e = refusal(document);
    assert!(matches!(e, SchemaError::TooDeep { .. }), "{e:?}");
    // A deep plain value inside `const` is caught by the document's depth check.
    assert!(matches!(refusal(json!({"const": nested_array(100)})), SchemaError::TooDeep { .. }));
}

#[test]
fn large_schemas_are_refused() {
    let many: serde_json::Map<String, Value> = (0..3000).map(|i| (format!("p{i}"), json!({"type": "string"}))).collect();
    let e = refusal(json!({"properties": many}));
    assert!(matches!(e, SchemaError::TooLarge { .. }), "{e:?}");
}

#[test]
fn deep_instances_stop_at_the_limit() {
    let s = schema(json!({"$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}));
    let errors = s.validate(&nested_array(120)).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].keyword, "limit");
    assert!(!s.is_valid(&nested_array(120)));
    assert!(s.is_valid(&nested_array(10)));
    // `not` cannot turn a stopped evaluation into a pass.
    let s = schema(json!({"$defs": {"a": {"items": {"$ref": "#/$defs/a"}, "type": "array"}}, "not": {"$ref": "#/$defs/a"}}));
    assert!(!s.is_valid(&nested_array(120)));
}

#[test]
fn exponential_references_run_out_of_steps() {
    // Each definition applies the next one twice: 2^30 evaluations without a step budget.
    let mut defs = serde_json::Map::new();
    for i in 0..30 {
        let next = format!("#/$defs/d{}", i + 1);
        defs.insert(format!("d{i}"), json!({"allOf": [{"$ref": next}, {"$ref": next}]}));
    }
    defs.insert("d30".into(), json!({"type": "integer"}));
    let s = schema(json!({"$defs": defs, "$ref": "#/$defs/d0"}));
    let errors = s.validate(&json!(1)).unwrap_err();
    assert_eq!(errors.last().map(|v| v.keyword), Some("limit"));
    assert!(!s.is_valid(&json!(1)));
}

#[test]
fn long_reference_chains_neither_overflow_nor_loop() {
    // 1,500 definitions, each a $ref to the next: compiled through the queue, evaluated until
    // the evaluation-depth bound answers.
    let mut defs = serde_json::Map::new();
    for i in 0..1500 {
        defs.insert(format!("d{i}"), json!({"$ref": format!("#/$defs/d{}", i + 1)}));
    }
    defs.insert("d1500".into(), json!({"type": "integer"}));
    let s = schema(json!({"$defs": defs, "$ref": "#/$defs/d0"}));
    let errors = s.validate(&json!(1)).unwrap_err();
    assert_eq!(errors[0].keyword, "limit");
}

#[test]
fn unique_items_on_a_large_array_is_bounded() {
    let s = schema(json!({"uniqueItems": true}));
    let items: Vec<Value> = (0..5000).map(|i| json!(i)).collect();
    // 12.5 million comparisons would be needed; the step budget stops it.
    assert!(!s.is_valid(&Value::Array(items)));
    let items: Vec<Value> = (0..300).map(|i| json!(i)).collect();
    assert!(s.is_valid(&Value::Array(items)));
}

/// A small deterministic generator, so that the property tests need no new dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn value(&mut self, depth: usize) -> Value {
        let pick = self.next() % if depth == 0 { 6 } else { 8 };
        match pick {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => [json!(u64::MAX), json!(i64::MIN), json!(1e308), json!(-1e308), json!(0.1), json!(5e-324), json!(0), json!(-0.0)][(self.next() % 8) as usize].clone(),
            3 => json!(self.next() as i64 - (1 << 30)),
            4 => json!(["", "a", "2024-02-30T00:00:00Z", "x@y", "💩", "http://[", "%", "1.2.3.4"][(self.next() % 8) as usize]),
            5 => json!((self.next() % 1000) as f64 / 7.0),
            6 => {
                let n = self.next() % 4;
                Value::Array((0..n).map(|_| self.value(depth - 1)).collect())
            }
            _ => {
                let keys = ["a", "b", "type", "$ref", "properties", "items", "minimum", "pattern", "enum", "x"];
                let n = self.next() % 4;
                Value::Object((0..n).map(|_| (keys[(self.next() % 10) as usize].to_string(), self.value(depth - 1))).collect())
            }
        }
    }
    /// A random schema: random keywords with random (often wrong) values.
    fn schema(&mut self, depth: usize) -> Value {
        const KEYWORDS: &[&str] = &[
            "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties", "propertyNames",
            "minProperties", "items", "prefixItems", "minItems", "uniqueItems", "contains", "minContains", "maxContains",
            "minLength", "pattern", "minimum", "exclusiveMaximum", "multipleOf", "allOf", "anyOf", "oneOf", "not", "if",
            "then", "else", "$ref", "$defs", "format", "dependentRequired",
        ];
        if depth == 0 || self.next().is_multiple_of(5) {
            return Value::Bool(!self.next().is_multiple_of(4));
        }
        let mut object = serde_json::Map::new();
        for _ in 0..self.next() % 4 {
            let keyword = KEYWORDS[(self.next() % KEYWORDS.len() as u64) as usize];
            let value = match keyword {
                "type" => json!(["string", "integer", "object", "array", "number"][(self.next() % 5) as usize]),
                "properties" | "patternProperties" | "$defs" | "dependentRequired" => {
                    json!({"a": self.schema(depth - 1), "^b": self.schema(depth - 1)})
                }
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => json!([self.schema(depth - 1), self.schema(depth - 1)]),
                "$ref" => json!(["#", "#/$defs/a", "#/properties/a", "#/allOf/0", "#/nope"][(self.next() % 5) as usize]),
                "pattern" => json!(["^a", "(", "b+$", ".*"][(self.next() % 4) as usize]),
                "format" => json!(["date-time", "email", "uri", "uuid", "ipv4", "date", "other"][(self.next() % 7) as usize]),
                "required" => json!(["a", "b"]),
                _ if self.next().is_multiple_of(2) => self.schema(depth - 1),
                _ => self.value(2),
            };
            object.insert(keyword.to_string(), value);
        }
        Value::Object(object)
    }
}

#[test]
fn random_schemas_and_instances_never_panic() {
    let mut rng = Lcg(0x5eed);
    let mut compiled = 0;
    for _ in 0..3000 {
        let document = rng.schema(4);
        if let Ok(s) = Schema::compile(&document) {
            compiled += 1;
            for _ in 0..5 {
                let instance = rng.value(4);
                let verdict = s.validate(&instance);
                // The two entry points always agree.
                assert_eq!(verdict.is_ok(), s.is_valid(&instance), "{document} / {instance}");
                if let Err(errors) = verdict {
                    assert!(!errors.is_empty() && errors.len() <= MAX_VIOLATIONS);
                }
            }
        }
    }
    assert!(compiled > 300, "the generator should produce valid schemas too ({compiled})");
}

#[test]
fn extreme_numbers_in_every_numeric_keyword() {
    let extremes = [json!(u64::MAX), json!(i64::MIN), json!(1e308), json!(-1e308), json!(5e-324), json!(0), json!(-0.0)];
    for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] {
        for limit in &extremes {
            let Ok(s) = Schema::compile(&json!({ keyword: limit })) else {
                assert_eq!(keyword, "multipleOf", "only multipleOf refuses some of these");
                continue;
            };
            for instance in &extremes {
                let _ = s.validate(instance);
            }
        }
    }
    for keyword in ["minLength", "maxItems", "minContains"] {
        for limit in [json!(u64::MAX), json!(1e308), json!(-1), json!(0.5)] {
            let _ = Schema::compile(&json!({ keyword: limit, "contains": true }));
        }
    }
}
