//! The authentication context's schema (seed 004): the attributes every sign-in fills, whatever
//! its source (the password form, an OpenID provider, another workspace), and the "data lineage"
//! that says which claims of which tokens come from which attribute, under which scopes.
//!
//! Predefined attributes are always there; a workspace adds custom ones (`authn_context.attributes`
//! in its configuration). A context is checked against the JSON Schema [`schema_document`] builds.

use super::check;
use crate::error::OAuthError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataType {
    String,
    Number,
    Integer,
    Boolean,
    /// An RFC 3339 string.
    DateTime,
    Object,
    Array,
}

impl DataType {
    /// Whether `v` is a value of this type (a `date-time` is a string here; the schema checks its form).
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            DataType::String | DataType::DateTime => v.is_string(),
            DataType::Number => v.is_number(),
            DataType::Integer => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            DataType::Boolean => v.is_boolean(),
            DataType::Object => v.is_object(),
            DataType::Array => v.is_array(),
        }
    }

    /// The JSON Schema of one value of this type (`items` for an array).
    fn schema(self, items: Option<DataType>) -> Value {
        match self {
            DataType::DateTime => json!({ "type": "string", "format": "date-time" }),
            DataType::Array => match items {
                Some(i) => json!({ "type": "array", "items": i.schema(None) }),
                None => json!({ "type": "array" }),
            },
            t => json!({ "type": serde_json::to_value(t).unwrap_or_default() }),
        }
    }
}

/// A typed attribute: of the context, or of a provider's source attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// For `array`: the type of every item (not itself an array).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<DataType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl AttributeDef {
    pub fn validate(&self, field: &str) -> Result<(), OAuthError> {
        check(super::identity_providers::attribute_name(&self.name), field, "names must be 1-64 letters, digits, '_' or '-'")?;
        check(self.items.is_none() || self.data_type == DataType::Array, field, "only an array has items")?;
        check(self.items != Some(DataType::Array), field, "an array's items cannot be arrays")?;
        check(self.description.chars().count() <= 500, field, "a description is at most 500 characters")
    }
}

/// The attributes every workspace's context has, with their types and meaning.
pub const PREDEFINED: &[(&str, DataType, Option<DataType>, &str)] = &[
    ("sub", DataType::String, None, "The user's identifier in this workspace"),
    ("email", DataType::String, None, "Email address"),
    ("email_verified", DataType::Boolean, None, "Whether the email address was verified"),
    ("name", DataType::String, None, "Full name"),
    ("given_name", DataType::String, None, "Given name"),
    ("family_name", DataType::String, None, "Family name"),
    ("preferred_username", DataType::String, None, "The name the user signs in with"),
    ("phone_number", DataType::String, None, "Phone number"),
    ("phone_number_verified", DataType::Boolean, None, "Whether the phone number was verified"),
    ("address", DataType::Object, None, "Postal address (OIDC Core 5.1.1)"),
    ("locale", DataType::String, None, "Preferred locale"),
    ("groups", DataType::Array, Some(DataType::String), "Groups the user belongs to"),
    ("idp", DataType::String, None, "The identity provider of the sign-in (`pool`: the password form)"),
    ("amr", DataType::Array, Some(DataType::String), "Authentication methods of the sign-in (RFC 8176)"),
    ("acr", DataType::String, None, "Authentication context class of the sign-in"),
    ("auth_time", DataType::Integer, None, "When the user authenticated (seconds since the epoch)"),
];

pub fn is_predefined(name: &str) -> bool {
    PREDEFINED.iter().any(|(n, ..)| *n == name)
}

/// The workspace's part of the schema, and its claims lineage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthnContextConfig {
    /// Custom attributes, beside the predefined ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeDef>,
}

/// One line of the data lineage: claim `claim` of the chosen tokens comes from context attribute
/// `attribute`, when the token's scope has one of `scopes` (always, when `scopes` is empty).
/// Without any rule, the claims are those the scopes name (`scopes.*.claims`), as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRule {
    pub claim: String,
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub id_token: bool,
    #[serde(default)]
    pub access_token: bool,
    #[serde(default)]
    pub userinfo: bool,
}

/// Claims a rule may not set: they carry the token's own meaning, and the engine sets them.
const RESERVED_CLAIMS: [&str; 18] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "nonce", "at_hash", "c_hash", "s_hash", "sid", "scope", "client_id", "gid", "cnf", "auth_time"];

/// Where a claim goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimTarget {
    IdToken,
    AccessToken,
    Userinfo,
}

impl ClaimRule {
    pub fn targets(&self, t: ClaimTarget) -> bool {
        match t {
            ClaimTarget::IdToken => self.id_token,
            ClaimTarget::AccessToken => self.access_token,
            ClaimTarget::Userinfo => self.userinfo,
        }
    }

    pub fn applies_to(&self, scope: &str) -> bool {
        self.scopes.is_empty() || scope.split_whitespace().any(|s| self.scopes.iter().any(|r| r == s))
    }
}

impl AuthnContextConfig {
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    pub fn validate(&self, rules: &[ClaimRule]) -> Result<(), OAuthError> {
        check(self.attributes.len() <= 100, "authn_context.attributes", "at most 100 custom attributes")?;
        for (i, a) in self.attributes.iter().enumerate() {
            a.validate("authn_context.attributes")?;
            check(!is_predefined(&a.name), "authn_context.attributes", "a custom attribute cannot take a predefined attribute's name")?;
            check(!self.attributes[..i].iter().any(|b| b.name == a.name), "authn_context.attributes", "names must be unique")?;
        }
        check(rules.len() <= 100, "claims", "at most 100 rules")?;
        for r in rules {
            check(super::identity_providers::attribute_name(&r.claim) && !RESERVED_CLAIMS.contains(&r.claim.as_str()), "claims.claim", "must be a claim name the engine does not set itself (not iss, sub, aud, exp, ...)")?;
            check(self.has(&r.attribute), "claims.attribute", "must name an attribute of the authentication context")?;
            check(r.id_token || r.access_token || r.userinfo, "claims", "each rule needs at least one of id_token, access_token, userinfo")?;
            check(r.scopes.len() <= 20, "claims.scopes", "at most 20 scopes")?;
        }
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        is_predefined(name) || self.attributes.iter().any(|a| a.name == name)
    }

    /// Every attribute, predefined first, as the management API lists them.
    pub fn all_attributes(&self) -> Vec<AttributeDef> {
        PREDEFINED
            .iter()
            .map(|(n, t, items, d)| AttributeDef { name: n.to_string(), data_type: *t, items: *items, description: d.to_string() })
            .chain(self.attributes.iter().cloned())
            .collect()
    }

    /// The JSON Schema (2020-12) a context must satisfy: every attribute optional, typed; members
    /// outside the schema are refused (a mapping to an undeclared attribute is a mistake).
    pub fn schema_document(&self) -> Value {
        let mut props = Map::new();
        for a in self.all_attributes() {
            props.insert(a.name.clone(), a.data_type.schema(a.items));
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": props,
            "additionalProperties": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(claim: &str, attribute: &str) -> ClaimRule {
        ClaimRule { claim: claim.into(), attribute: attribute.into(), scopes: vec![], id_token: true, access_token: false, userinfo: false }
    }

    #[test]
    fn custom_attributes_and_rules_are_checked() {
        let crm = AttributeDef { name: "crm_id".into(), data_type: DataType::String, items: None, description: String::new() };
        let cfg = AuthnContextConfig { attributes: vec![crm.clone()] };
        assert!(cfg.validate(&[rule("crm_id", "crm_id"), rule("at", "auth_time")]).is_ok());
        assert!(cfg.validate(&[rule("x", "nope")]).is_err(), "an unknown attribute");
        assert!(cfg.validate(&[rule("sub", "crm_id")]).is_err(), "a reserved claim");
        assert!(cfg.validate(&[ClaimRule { id_token: false, ..rule("crm", "crm_id") }]).is_err(), "no target");
        let dup = AuthnContextConfig { attributes: vec![crm.clone(), crm] };
        assert!(dup.validate(&[]).is_err());
        let shadow = AuthnContextConfig { attributes: vec![AttributeDef { name: "email".into(), data_type: DataType::Integer, items: None, description: String::new() }] };
        assert!(shadow.validate(&[]).is_err());
    }

    #[test]
    fn the_schema_types_every_attribute() {
        let cfg = AuthnContextConfig { attributes: vec![AttributeDef { name: "score".into(), data_type: DataType::Number, items: None, description: String::new() }] };
        let s = cfg.schema_document();
        assert_eq!(s["properties"]["score"]["type"], "number");
        assert_eq!(s["properties"]["groups"], json!({ "type": "array", "items": { "type": "string" } }));
        assert_eq!(s["properties"]["auth_time"]["type"], "integer");
        assert_eq!(s["additionalProperties"], false);
    }
}
