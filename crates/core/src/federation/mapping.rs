//! From what a provider said to the authentication context: the provider's source attributes
//! (ID token and userinfo claims, or an OAuth 2.0 user endpoint's members), the provider's
//! mappings with their transforms, and the check of the result against the workspace's schema.

use crate::config::authn_context::AuthnContextConfig;
use crate::config::identity_providers::{compile_pattern, IdentityProvider, IdpType, Mapping, Transform};
use crate::json_schema::Schema;
use serde_json::{Map, Value};

/// Why a sign-in's attributes could not become a context (shown as a page; logged with its detail).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// Claims of an ID token that describe the token, not the user: never source attributes.
const PROTOCOL_CLAIMS: [&str; 13] = ["iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "s_hash", "azp", "sid", "jti", "auth_time"];

/// The provider's source attributes: the ID token's user claims, then userinfo's (which must
/// speak of the same `sub`, OIDC Core §5.3.2), or an OAuth 2.0 user endpoint's members.
pub fn source_attributes(id_token: Option<&Map<String, Value>>, userinfo: Option<&Map<String, Value>>) -> Result<Map<String, Value>, MappingError> {
    let mut out = Map::new();
    if let Some(c) = id_token {
        out.extend(c.iter().filter(|(k, _)| !PROTOCOL_CLAIMS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(u) = userinfo {
        if let (Some(a), Some(b)) = (out.get("sub"), u.get("sub")) {
            if a != b {
                return Err(MappingError("userinfo speaks of another sub than the ID token".into()));
            }
        }
        for (k, v) in u {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(out)
}

/// The mappings a provider without its own uses: each standard attribute to its namesake
/// (an OAuth 2.0 provider's `login` to `preferred_username`).
fn default_mappings(kind: IdpType) -> Vec<Mapping> {
    let copy = |s: &str, t: &str| Mapping { source: s.into(), target: t.into(), transform: Transform::Copy };
    let same = ["email", "email_verified", "name", "given_name", "family_name", "preferred_username", "phone_number", "phone_number_verified", "address", "locale", "groups"];
    let mut v: Vec<Mapping> = same.iter().map(|a| copy(a, a)).collect();
    if kind == IdpType::Oauth2 {
        v.retain(|m| matches!(m.target.as_str(), "email" | "email_verified" | "name"));
        v.push(copy("login", "preferred_username"));
    }
    v
}

/// The value at `path` (`a.b` reads member `b` of object `a`).
pub(crate) fn read<'a>(source: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = source.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v).filter(|v| !v.is_null())
}

/// One transform on a value (`None`: nothing came from the provider, or nothing matched).
pub fn transform(t: &Transform, value: Option<&Value>) -> Result<Option<Value>, String> {
    let strings = |v: &Value| -> Result<Vec<String>, String> { v.as_array().and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect()).ok_or_else(|| "needs an array of strings".to_string()) };
    Ok(match (t, value) {
        (Transform::Constant { value }, _) => Some(value.clone()),
        (Transform::Default { value }, None) => Some(value.clone()),
        (_, None) => None,
        (Transform::Copy | Transform::Default { .. }, Some(v)) => Some(v.clone()),
        (Transform::Lowercase, Some(Value::String(s))) => Some(Value::String(s.to_lowercase())),
        (Transform::Lowercase, Some(v)) => Some(Value::from(strings(v).map_err(|_| "lowercase needs a string or an array of strings")?.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>())),
        (Transform::Split { separator }, Some(Value::String(s))) => Some(Value::from(s.split(separator.as_str()).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect::<Vec<_>>())),
        (Transform::Split { .. }, Some(_)) => return Err("split needs a string".into()),
        (Transform::Join { separator }, Some(v)) => Some(Value::String(strings(v)?.join(separator))),
        (Transform::RegexExtract { pattern, group }, Some(Value::String(s))) => {
            let re = compile_pattern(pattern).map_err(|_| "the pattern does not compile".to_string())?;
            re.captures(s).and_then(|c| c.get(*group)).map(|m| Value::String(m.as_str().to_string()))
        }
        (Transform::RegexExtract { .. }, Some(_)) => return Err("regex_extract needs a string".into()),
    })
}

/// The provider's attributes as context attributes, by its mappings (or the defaults), checked
/// against the workspace's schema. `sub`, `idp`, `amr`, `acr` and `auth_time` are the engine's:
/// set by the caller after this.
pub fn map_attributes(idp: &IdentityProvider, schema: &AuthnContextConfig, source: &Map<String, Value>) -> Result<Map<String, Value>, MappingError> {
    let defaults;
    let mappings = if idp.mappings.is_empty() {
        defaults = default_mappings(idp.kind);
        &defaults
    } else {
        &idp.mappings
    };
    // The provider's custom source attributes have declared types: a value of another type is refused.
    for a in &idp.attributes {
        if let Some(v) = source.get(&a.name).filter(|v| !v.is_null()) {
            if !a.data_type.accepts(v) {
                return Err(MappingError(format!("source attribute {} is not of its declared type", a.name)));
            }
        }
    }
    let mut out = Map::new();
    for m in mappings {
        if matches!(m.target.as_str(), "sub" | "idp" | "amr" | "acr" | "auth_time") {
            continue;
        }
        let value = if matches!(m.transform, Transform::Constant { .. }) { None } else { read(source, &m.source) };
        match transform(&m.transform, value) {
            Ok(Some(v)) => {
                out.insert(m.target.clone(), v);
            }
            Ok(None) => {}
            Err(why) => return Err(MappingError(format!("mapping {} → {}: {why}", m.source, m.target))),
        }
    }
    check(schema, &out)?;
    Ok(out)
}

/// The context (so far) against the workspace's JSON Schema.
pub fn check(schema: &AuthnContextConfig, attributes: &Map<String, Value>) -> Result<(), MappingError> {
    let compiled = Schema::compile(&schema.schema_document()).map_err(|e| MappingError(format!("the authentication context schema does not compile: {e}")))?;
    compiled.validate(&Value::Object(attributes.clone())).map_err(|v| {
        let first = v.first().map(|v| format!("{} ({}): {}", v.instance_path, v.keyword, v.message)).unwrap_or_default();
        MappingError(format!("the mapped attributes do not fit the authentication context schema: {first}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::authn_context::{AttributeDef, DataType};
    use serde_json::json;

    fn idp(mappings: Value) -> IdentityProvider {
        serde_json::from_value(json!({ "id": "corp", "type": "oidc", "name": "Corp", "issuer": "https://idp.example", "client_id": "c", "client_secret": "s", "mappings": mappings, "attributes": [{ "name": "custom", "type": "object" }, { "name": "score", "type": "integer" }] })).unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn transforms_do_what_they_say() {
        let s = json!("A,B , ,c");
        assert_eq!(transform(&Transform::Lowercase, Some(&json!("Ada@X.example"))).unwrap(), Some(json!("ada@x.example")));
        assert_eq!(transform(&Transform::Split { separator: ",".into() }, Some(&s)).unwrap(), Some(json!(["A", "B", "c"])));
        assert_eq!(transform(&Transform::Join { separator: "|".into() }, Some(&json!(["a", "b"]))).unwrap(), Some(json!("a|b")));
        let re = Transform::RegexExtract { pattern: "^crm-(\\d+)$".into(), group: 1 };
        assert_eq!(transform(&re, Some(&json!("crm-0042"))).unwrap(), Some(json!("0042")));
        assert_eq!(transform(&re, Some(&json!("nope"))).unwrap(), None, "no match: no value");
        assert_eq!(transform(&Transform::Constant { value: json!("gold") }, None).unwrap(), Some(json!("gold")));
        assert_eq!(transform(&Transform::Default { value: json!("en") }, None).unwrap(), Some(json!("en")));
        assert_eq!(transform(&Transform::Default { value: json!("en") }, Some(&json!("pt-BR"))).unwrap(), Some(json!("pt-BR")));
        assert!(transform(&Transform::Join { separator: "|".into() }, Some(&json!("a"))).is_err());
        assert!(transform(&Transform::Split { separator: ",".into() }, Some(&json!(1))).is_err());
    }

    #[test]
    fn mappings_fill_the_context_and_the_schema_checks_it() {
        let mut schema = AuthnContextConfig::default();
        schema.attributes.push(AttributeDef { name: "crm_id".into(), data_type: DataType::String, items: None, description: String::new() });
        let source = obj(json!({ "sub": "a1", "email": "Ada@X.example", "custom": { "crm": "crm-7" }, "email_verified": true }));
        let p = idp(json!([
            { "source": "email", "target": "email", "transform": { "type": "lowercase" } },
            { "source": "custom.crm", "target": "crm_id", "transform": { "type": "regex_extract", "pattern": "crm-(.*)", "group": 1 } },
            { "source": "sub", "target": "sub" },
        ]));
        let out = map_attributes(&p, &schema, &source).unwrap();
        assert_eq!(out, obj(json!({ "email": "ada@x.example", "crm_id": "7" })), "sub is the engine's");
        let wrong_type = idp(json!([{ "source": "email_verified", "target": "email" }]));
        assert!(map_attributes(&wrong_type, &schema, &source).unwrap_err().0.contains("/email"), "a boolean is not an email");
        let undeclared = idp(json!([{ "source": "email", "target": "nickname" }]));
        assert!(map_attributes(&undeclared, &schema, &source).is_err(), "an attribute outside the schema");
        let mistyped = obj(json!({ "sub": "a1", "score": "high" }));
        assert!(map_attributes(&idp(json!([])), &schema, &mistyped).unwrap_err().0.contains("score"), "a custom source attribute of another type than declared");
    }

    #[test]
    fn default_mappings_copy_the_standard_claims() {
        let out = map_attributes(&idp(json!([])), &AuthnContextConfig::default(), &obj(json!({ "sub": "a1", "email": "a@x.example", "email_verified": true, "crm": "x" }))).unwrap();
        assert_eq!(out, obj(json!({ "email": "a@x.example", "email_verified": true })));
    }

    #[test]
    fn userinfo_must_speak_of_the_same_subject() {
        let id = obj(json!({ "sub": "a1", "iss": "x", "email": "a@x.example" }));
        let merged = source_attributes(Some(&id), Some(&obj(json!({ "sub": "a1", "name": "Ada", "email": "other@x.example" })))).unwrap();
        assert_eq!(merged, obj(json!({ "sub": "a1", "email": "a@x.example", "name": "Ada" })), "protocol claims dropped; the ID token wins");
        assert!(source_attributes(Some(&id), Some(&obj(json!({ "sub": "b2" })))).is_err());
    }
}
