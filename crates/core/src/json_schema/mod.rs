//! A small JSON Schema validator for the subset an authorization server needs: the workspace's
//! authentication-context schema and the schemas of Rich Authorization Request types (RFC 9396).
//!
//! Why not a crate: `valico`, `jsonschema` and `boon` each add 1.3 to 2.2 MB of wasm (0.4 to 0.7 MB
//! gzipped) to a Workers bundle of 1.6 MB. This module is a leaf (it names nothing else in the
//! crate) and needs only `serde_json` and `regex-lite`. Measured in a throwaway wasm32 cdylib
//! (opt-level "s", LTO, stripped) against one that already parses and prints JSON, formats floats,
//! uses a HashMap and regex-lite, as the bundle does: +84 KB raw, +31 KB gzip.
//!
//! # Dialect
//! Draft 2020-12 semantics. A document whose `$schema` is draft-07 is accepted with draft-07's
//! differences: `items` as an array (with `additionalItems`), `definitions`, `dependencies`, and a
//! `$ref` that makes its sibling keywords ignored. Any other `$schema` is refused.
//!
//! Supported keywords: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`, `dependentRequired`,
//! `dependentSchemas`, `items`, `prefixItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`,
//! `minContains`, `maxContains`, `minLength`, `maxLength` (Unicode code points), `pattern`,
//! `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf` (decimal, so 0.0075
//! is a multiple of 0.0001), `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `$ref` (to `#`
//! and JSON Pointers inside the document, also written after the root `$id`), `$defs`, `format`.
//!
//! Accepted and ignored (annotations): `$schema` and `$id` (root only), `$comment`, `title`,
//! `description`, `default`, `examples`, `deprecated`, `readOnly`, `writeOnly`, and any `x-...`
//! member (an extension no validator gives meaning to).
//!
//! Everything else is refused at compile time (`$anchor`, `$dynamicRef`, `unevaluated*`,
//! `content*`, `$vocabulary`, remote references, typos such as `requried`): an administrator must
//! never believe a rule is enforced when it is not.
//!
//! # Choices the specification leaves open
//! - `format` is an assertion (not only an annotation) for `date-time`, `date`, `email`, `uri`,
//!   `uuid` and `ipv4`. Other format names are accepted and not checked; [`Schema::unasserted_formats`]
//!   lists them so that an administration API can warn.
//! - `pattern` and `patternProperties` use regex-lite's syntax (close to ECMA-262 for the usual
//!   classes, but without look-around or backreferences), as an unanchored search as the
//!   specification says: write `^...$` to match a whole string.
//! - Hostile documents are bounded: [`MAX_SCHEMA_DEPTH`], [`MAX_NODES`], [`MAX_REGEX_SIZE`]; a `$ref`
//!   cycle that does not move into the instance is refused; validation stops after
//!   [`MAX_VIOLATIONS`] violations, [`MAX_STEPS`] evaluation steps or [`MAX_INSTANCE_DEPTH`] levels of
//!   instance, and then reports the value invalid.

mod compile;
mod format;
mod number;
mod validate;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

/// Subschemas nested deeper than this along the document are refused (a stack bound).
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// Raw JSON nesting of a schema document, checked before anything else (without recursion).
pub const MAX_DOCUMENT_DEPTH: usize = 64;
/// Compiled subschemas per document.
pub const MAX_NODES: usize = 2_000;
/// regex-lite's compiled size limit for each `pattern` (its default is 10 MB, far too generous).
pub const MAX_REGEX_SIZE: usize = 64 * 1024;
/// Violations reported by one [`Schema::validate`]; validation stops once this many are found.
pub const MAX_VIOLATIONS: usize = 20;
/// Evaluation steps (subschema visits and `uniqueItems` comparisons) for one validation: a bound
/// on the work a schema full of `$ref`s can multiply.
pub const MAX_STEPS: u32 = 200_000;
/// How deep into the instance validation goes before it reports the value too deep.
pub const MAX_INSTANCE_DEPTH: usize = 64;

/// A compiled schema. Cloning is cheap (one `Arc`), so a cache can hand out copies.
#[derive(Debug, Clone)]
pub struct Schema {
    inner: Arc<Compiled>,
}

/// One failed rule, safe to show to the client: the message never repeats the instance's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer (RFC 6901) to the failing value inside the instance, e.g. `/details/0/amount`;
    /// empty for the instance itself. Member names longer than 64 characters are shortened.
    pub instance_path: String,
    /// The schema keyword that failed (`"limit"` when validation hit one of the bounds above).
    pub keyword: &'static str,
    /// A short English sentence.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.instance_path.is_empty() { "(root)" } else { &self.instance_path };
        write!(f, "{at}: {}", self.message)
    }
}

/// Why a schema document was refused. `at` is the JSON Pointer of the offending place inside the
/// schema document (empty for the root); Display writes it as a URI fragment (`#/properties/a`).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    #[error("schema #{at}: {keyword:?} is not supported: {why}")]
    Unsupported { at: String, keyword: String, why: String },
    #[error("schema #{at}: {keyword:?} {problem}")]
    InvalidKeyword { at: String, keyword: String, problem: String },
    #[error("schema #{at}: a schema must be an object or a boolean")]
    NotASchema { at: String },
    #[error("schema #{at}: the pattern is not a regular expression regex-lite accepts: {reason}")]
    BadRegex { at: String, reason: String },
    #[error("schema #{at}: $ref {reference:?} does not resolve: {why}")]
    UnresolvedRef { at: String, reference: String, why: &'static str },
    #[error("schema #{at}: $ref {reference:?} leads back to itself without moving into the instance (it would never end)")]
    RefCycle { at: String, reference: String },
    #[error("schema #{at}: nested more than {limit} levels deep")]
    TooDeep { at: String, limit: usize },
    #[error("schema #{at}: more than {limit} subschemas")]
    TooLarge { at: String, limit: usize },
    #[error("schema #{at}: the dialect {uri:?} is not supported (use draft 2020-12 or draft-07)")]
    UnsupportedDialect { at: String, uri: String },
}

/// Index of a compiled subschema in [`Compiled::nodes`].
pub(crate) type NodeId = usize;

#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
    pub(crate) unasserted_formats: BTreeSet<String>,
}

/// One subschema: its keywords in the order they are checked. `true` is an empty list.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) keywords: Vec<Keyword>,
}

impl Node {
    /// The `false` schema, which some keywords report in their own words ("not allowed").
    pub(crate) fn is_false(&self) -> bool {
        matches!(self.keywords.as_slice(), [Keyword::False])
    }
}

/// The JSON types of `type`, as bits.
pub(crate) mod types {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const OBJECT: u8 = 4;
    pub const ARRAY: u8 = 8;
    pub const NUMBER: u8 = 16;
    pub const STRING: u8 = 32;
    pub const INTEGER: u8 = 64;
    pub const NAMES: [(u8, &str); 7] = [
        (NULL, "null"),
        (BOOLEAN, "boolean"),
        (OBJECT, "object"),
        (ARRAY, "array"),
        (NUMBER, "number"),
        (STRING, "string"),
        (INTEGER, "integer"),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    DateTime,
    Date,
    Email,
    Uri,
    Uuid,
    Ipv4,
}

#[derive(Debug)]
pub(crate) enum Keyword {
    False,
    Type(u8),
    Enum(Vec<Value>),
    Const(Value),
    Properties(Vec<(String, NodeId)>),
    PatternProperties(Vec<(regex_lite::Regex, NodeId)>),
    /// The names and patterns of the sibling `properties` and `patternProperties`, which decide
    /// what counts as additional.
    AdditionalProperties { node: NodeId, names: Vec<String>, patterns: Vec<regex_lite::Regex> },
    PropertyNames(NodeId),
    Required(Vec<String>),
    MinProperties(u64),
    MaxProperties(u64),
    DependentRequired(Vec<(String, Vec<String>)>),
    DependentSchemas(Vec<(String, NodeId)>),
    PrefixItems(Vec<NodeId>),
    /// `items` after the first `skip` (the length of `prefixItems`).
    Items { node: NodeId, skip: usize },
    MinItems(u64),
    MaxItems(u64),
    UniqueItems,
    Contains { node: NodeId, min: u64, max: Option<u64> },
    MinLength(u64),
    MaxLength(u64),
    Pattern(regex_lite::Regex),
    Minimum(serde_json::Number),
    Maximum(serde_json::Number),
    ExclusiveMinimum(serde_json::Number),
    ExclusiveMaximum(serde_json::Number),
    MultipleOf(serde_json::Number),
    AllOf(Vec<NodeId>),
    AnyOf(Vec<NodeId>),
    OneOf(Vec<NodeId>),
    Not(NodeId),
    If { condition: NodeId, then: Option<NodeId>, otherwise: Option<NodeId> },
    Ref(NodeId),
    Format(Format),
}

impl Schema {
    /// Compiles a schema document. Refuses keywords that would change validation but are not
    /// supported (so an administrator never believes a rule is enforced when it is not), bad
    /// regular expressions, a `$ref` that does not resolve inside the document, `$ref` cycles that
    /// never move into the instance, and documents past the limits above.
    pub fn compile(document: &Value) -> Result<Schema, SchemaError> {
        Ok(Schema { inner: Arc::new(compile::compile(document)?) })
    }

    /// Every violation, up to [`MAX_VIOLATIONS`], each with the instance location, the keyword and
    /// a message safe to show to the client. A subschema of `anyOf`, `oneOf`, `not` or `if` is
    /// reported as one violation of that keyword, not as the alternatives' own failures.
    pub fn validate(&self, instance: &Value) -> Result<(), Vec<Violation>> {
        validate::validate(&self.inner, instance)
    }

    /// Whether the instance is valid; stops at the first failure.
    pub fn is_valid(&self, instance: &Value) -> bool {
        validate::is_valid(&self.inner, instance)
    }

    /// The `format` names in the document that are accepted but not checked (see the module doc).
    pub fn unasserted_formats(&self) -> impl Iterator<Item = &str> {
        self.inner.unasserted_formats.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
