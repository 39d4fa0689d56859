//! Post-authentication extensions (seed 004, "Enrich Authentication Context"): an ordered list per
//! workspace that runs after every sign-in and before consent, and changes the authentication
//! context the sign-in produced.
//!
//! - `transform`: declarative changes (the identity providers' mappings, with their transforms,
//!   reading the context so far; `remove` drops attributes; `amr` and `acr` may be targets).
//! - `call`: a POST to the customer's own service, carrying the context as a JWT signed with the
//!   workspace's key; its JSON answer is schema-checked and merged.
//! - `redirect`: the browser goes to the customer's application and comes back to
//!   `/extensions/resume` with a result signed by the application's key.
//!
//! The list lives in the workspace configuration (which every request reads already), so a sign-in
//! in a workspace without extensions costs nothing more.

use super::check;
use super::identity_providers::{attribute_name, attribute_path, Mapping, Transform};
use super::valid_identifier;
use crate::error::OAuthError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest a `call` extension may take (the bound: a sign-in waits for it).
pub const MAX_CALL_TIMEOUT_MS: u32 = 2_000;
/// How long the browser may spend in a `redirect` extension's application.
pub const REDIRECT_TTL: i64 = 600;
/// At most this many extensions per workspace.
pub const MAX_EXTENSIONS: usize = 20;
/// Context attributes an extension may not set: the engine's facts of the sign-in.
pub const PROTECTED: [&str; 3] = ["sub", "idp", "auth_time"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionType {
    Transform,
    Call,
    Redirect,
}

/// What a failed `call` or `redirect` does to the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The sign-in ends: the user sees why, the client gets `access_denied`.
    #[default]
    Deny,
    /// The extension is skipped (and logged); the sign-in goes on without its changes.
    Continue,
}

/// One extension. Fields that belong to another type must be absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ExtensionType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Extensions run in ascending `order`; two may not share one.
    pub order: i32,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Runs only after sign-ins through these identity providers (`pool`: the password form);
    /// empty: after every sign-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idps: Vec<String>,
    /// `transform`: mappings from the context so far into it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<Mapping>,
    /// `transform`: attributes removed after the mappings (a rename is a copy and a remove).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// `call`: the service's endpoint; `redirect`: the application's page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// `call`: how long to wait (at most, and by default, 2 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// `redirect`: the application's public keys (a JWK set) that sign its results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
}

fn yes() -> bool {
    true
}

impl Extension {
    /// Every rule a stored extension satisfies. `hosts` is the deployment's allow-list for the
    /// hosts extensions may reach (`None`: any https host).
    pub fn validate(&self, hosts: Option<&str>) -> Result<(), OAuthError> {
        let f = |name: &str| format!("extensions.{}.{name}", self.id);
        check(valid_identifier(&self.id), "extensions.id", "must be 1-63 lower-case letters, digits or '-'")?;
        check(self.name.chars().count() <= 100, &f("name"), "must be at most 100 characters")?;
        check((-1000..=1000).contains(&self.order), &f("order"), "must be between -1000 and 1000")?;
        check(self.idps.len() <= 20 && self.idps.iter().all(|i| valid_identifier(i)), &f("idps"), "must be at most 20 identity provider ids (`pool`: the password form)")?;
        let is = |t: ExtensionType| self.kind == t;
        check(is(ExtensionType::Transform) || (self.mappings.is_empty() && self.remove.is_empty()), &f("mappings"), "only a transform has mappings or remove")?;
        check(!is(ExtensionType::Transform) || self.url.is_empty(), &f("url"), "a transform has no url")?;
        check(is(ExtensionType::Call) || self.timeout_ms.is_none(), &f("timeout_ms"), "only a call has a timeout")?;
        check(is(ExtensionType::Redirect) || self.jwks.is_none(), &f("jwks"), "only a redirect has jwks")?;
        match self.kind {
            ExtensionType::Transform => {
                check(!self.mappings.is_empty() || !self.remove.is_empty(), &f("mappings"), "a transform needs mappings or remove")?;
                check(self.mappings.len() <= 100 && self.remove.len() <= 100, &f("mappings"), "at most 100 mappings and 100 removals")?;
                for m in &self.mappings {
                    check(matches!(m.transform, Transform::Constant { .. }) || attribute_path(&m.source), &f("mappings.source"), "must be an attribute name (a.b for a member)")?;
                    check(attribute_name(&m.target) && !PROTECTED.contains(&m.target.as_str()), &f("mappings.target"), "must be an attribute name other than sub, idp and auth_time")?;
                    m.transform.validate(&f("mappings.transform"))?;
                }
                check(self.remove.iter().all(|r| attribute_name(r) && !PROTECTED.contains(&r.as_str()) && r != "amr" && r != "acr"), &f("remove"), "must name attributes other than sub, idp, auth_time, amr and acr")?;
            }
            ExtensionType::Call | ExtensionType::Redirect => {
                let url = crate::urls::web_url(&self.url).map_err(|e| OAuthError::invalid_configuration(&f("url"), &format!("{e}")))?;
                check(self.url.len() <= 512, &f("url"), "must be at most 512 characters")?;
                check(crate::urls::host_allowed(hosts, &url), &f("url"), "names a host this deployment does not allow extensions to reach (EXTENSION_HOSTS)")?;
                if let Some(t) = self.timeout_ms {
                    check((100..=MAX_CALL_TIMEOUT_MS).contains(&t), &f("timeout_ms"), "must be between 100 and 2000")?;
                }
                if self.kind == ExtensionType::Redirect {
                    let keys = self.jwks.as_ref().and_then(|j| j.get("keys")).and_then(Value::as_array);
                    check(keys.is_some_and(|k| !k.is_empty() && k.len() <= 10), &f("jwks"), "a redirect needs the application's public keys: a JWK set with 1-10 keys")?;
                    check(keys.into_iter().flatten().all(public_signing_key), &f("jwks"), "each key must be a public EC P-256 or RSA signing key")?;
                }
            }
        }
        Ok(())
    }

    /// Whether this extension runs after a sign-in through `idp`.
    pub fn applies_to(&self, idp: &str) -> bool {
        self.enabled && (self.idps.is_empty() || self.idps.iter().any(|i| i == idp))
    }

    /// The `call` timeout.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms.unwrap_or(MAX_CALL_TIMEOUT_MS).min(MAX_CALL_TIMEOUT_MS)
    }
}

/// A public EC P-256 or RSA JWK, for signatures (the JOSE layer checks the rest when it verifies).
fn public_signing_key(k: &Value) -> bool {
    let has = |m: &str| k.get(m).and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    let private = ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| k.get(m).is_some());
    let shape = match k.get("kty").and_then(Value::as_str) {
        Some("EC") => k.get("crv").and_then(Value::as_str) == Some("P-256") && has("x") && has("y"),
        Some("RSA") => has("n") && has("e"),
        _ => false,
    };
    shape && !private && k.get("use").is_none_or(|u| u == "sig")
}

/// The rules of the whole list: each extension's, at most [`MAX_EXTENSIONS`], ids and orders unique.
pub fn validate_all(list: &[Extension], hosts: Option<&str>) -> Result<(), OAuthError> {
    check(list.len() <= MAX_EXTENSIONS, "extensions", "must be at most 20")?;
    for (i, e) in list.iter().enumerate() {
        e.validate(hosts)?;
        check(!list[..i].iter().any(|o| o.id == e.id), "extensions.id", "must be unique")?;
        check(!list[..i].iter().any(|o| o.order == e.order), &format!("extensions.{}.order", e.id), "must be unique (extensions run in order)")?;
    }
    Ok(())
}

/// The extensions that run after a sign-in through `idp`, in order.
pub fn chain<'a>(list: &'a [Extension], idp: &str) -> Vec<&'a Extension> {
    let mut v: Vec<&Extension> = list.iter().filter(|e| e.applies_to(idp)).collect();
    v.sort_by_key(|e| e.order);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(v: Value) -> Result<Extension, String> {
        let e: Extension = serde_json::from_value(v).map_err(|e| e.to_string())?;
        e.validate(None).map_err(|e| e.description)?;
        Ok(e)
    }

    fn jwk() -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" })
    }

    #[test]
    fn each_type_takes_its_own_fields() {
        assert!(ext(json!({ "id": "ob", "type": "transform", "order": 1, "mappings": [{ "target": "acr", "transform": { "type": "constant", "value": "urn:brasil:openbanking:loa2" } }] })).is_ok());
        assert!(ext(json!({ "id": "risk", "type": "call", "order": 2, "url": "https://risk.example/score", "timeout_ms": 1500, "on_failure": "continue" })).is_ok());
        assert!(ext(json!({ "id": "profile", "type": "redirect", "order": 3, "url": "https://app.example/complete", "jwks": { "keys": [jwk()] } })).is_ok());
        assert!(ext(json!({ "id": "x", "type": "transform", "order": 1 })).unwrap_err().contains("needs mappings"));
        assert!(ext(json!({ "id": "x", "type": "call", "order": 1, "url": "https://a.example", "timeout_ms": 5000 })).unwrap_err().contains("between 100 and 2000"));
        assert!(ext(json!({ "id": "x", "type": "call", "order": 1, "url": "http://a.example" })).unwrap_err().contains("https"));
        assert!(ext(json!({ "id": "x", "type": "call", "order": 1, "url": "https://a.example", "jwks": { "keys": [jwk()] } })).unwrap_err().contains("only a redirect"));
        assert!(ext(json!({ "id": "x", "type": "redirect", "order": 1, "url": "https://a.example" })).unwrap_err().contains("public keys"));
        let mut private = jwk();
        private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
        assert!(ext(json!({ "id": "x", "type": "redirect", "order": 1, "url": "https://a.example", "jwks": { "keys": [private] } })).unwrap_err().contains("public"));
        assert!(ext(json!({ "id": "x", "type": "transform", "order": 1, "mappings": [{ "source": "email", "target": "sub" }] })).unwrap_err().contains("other than sub"));
        assert!(ext(json!({ "id": "x", "type": "transform", "order": 1, "remove": ["amr"] })).is_err());
        assert!(ext(json!({ "id": "x", "type": "transform", "order": 1, "url": "https://a.example", "remove": ["x"] })).unwrap_err().contains("no url"));
        assert!(ext(json!({ "id": "x", "type": "script", "order": 1 })).is_err());
    }

    #[test]
    fn the_list_has_unique_ids_and_orders_and_runs_in_order() {
        let a = ext(json!({ "id": "a", "type": "transform", "order": 5, "remove": ["x"] })).unwrap();
        let b = ext(json!({ "id": "b", "type": "transform", "order": 1, "remove": ["y"], "idps": ["corp"] })).unwrap();
        let c = Extension { enabled: false, ..ext(json!({ "id": "c", "type": "transform", "order": 0, "remove": ["z"] })).unwrap() };
        let list = vec![a.clone(), b.clone(), c];
        assert!(validate_all(&list, None).is_ok());
        assert_eq!(chain(&list, "corp").iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(chain(&list, "pool").iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a"]);
        let same_order = Extension { id: "d".into(), ..a.clone() };
        assert!(validate_all(&[a.clone(), same_order], None).unwrap_err().description.contains("unique"));
        assert!(validate_all(&[a.clone(), a], None).unwrap_err().description.contains("unique"));
    }

    #[test]
    fn the_deployment_limits_the_hosts() {
        let e: Extension = serde_json::from_value(json!({ "id": "risk", "type": "call", "order": 1, "url": "https://risk.example/score" })).unwrap();
        assert!(e.validate(Some("risk.example")).is_ok());
        assert!(e.validate(Some("*.example")).is_ok());
        assert!(e.validate(Some("other.example, api.bank.example")).unwrap_err().description.contains("does not allow"));
    }
}
