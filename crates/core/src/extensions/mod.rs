//! Running post-authentication extensions (`config::extensions`): a sign-in on its way from the
//! credentials to the session ([`Pending`]), the declarative `transform`, the `call` to the
//! customer's service, and the two JWTs of a `redirect` (the state we send, the result we accept).
//! The authorization step that strings them together, and the browser's round trip through a
//! `redirect`, is `oauth::authorize::extensions`.
//!
//! What an extension may change: context attributes the workspace's schema declares (checked
//! after each extension), and `amr`/`acr` (the Open Banking case: an extension that knows how the
//! user proved who they are). `sub`, `idp` and `auth_time` are the engine's facts and stay.

use crate::authn::context::{AuthnContext, POOL};
use crate::authn::session::SignIn;
use crate::config::authn_context::AuthnContextConfig;
use crate::config::extensions::{Extension, PROTECTED};
use crate::engine::Ctx;
use crate::federation::mapping;
use crate::jose;
use crate::outbound;
use crate::runtime::{FetchLimits, Runtime};
use crate::store::User;
use crate::tokens;
use crate::urls;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// How long the JWT a `call` sends, and the state a `redirect` sends, are valid.
pub const CALL_TOKEN_TTL: i64 = 60;
/// The largest answer a `call` may give, and the largest result a `redirect` may bring back.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024;

/// Why an extension failed. Logged with the extension's id; the user and the client see only
/// that the sign-in was refused (or, under `continue`, nothing).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("the request failed: {0}")]
    Transport(String),
    #[error("the service answered {0}")]
    Status(u16),
    #[error("the answer is not a JSON object")]
    NotJson,
    #[error("the answer breaks the schema: {0}")]
    Schema(String),
    #[error("the extension denied the sign-in: {0}")]
    Denied(String),
    #[error("the host is not allowed by this deployment")]
    HostNotAllowed,
    #[error("{0}")]
    Ours(String),
}

impl Failure {
    /// A decision of the customer's code, which no `continue` policy overrides.
    pub fn is_decision(&self) -> bool {
        matches!(self, Failure::Denied(_))
    }
}

/// A sign-in on its way through the extensions: who, how, and the attributes extensions read and
/// change. Travels sealed in the browser during a `redirect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub user_id: String,
    pub amr: Vec<String>,
    pub acr: String,
    pub idp: String,
    pub auth_time: i64,
    /// The attributes: the provider's context, or a password user's stored attributes.
    pub attributes: Map<String, Value>,
    /// Whether the sign-in had a context of its own (a provider's); a password sign-in keeps only
    /// what extensions changed, over the stored user read again for each token.
    pub has_context: bool,
    pub local_user: bool,
    pub lifetime: Option<i64>,
    /// Attributes extensions set or removed.
    pub touched: BTreeSet<String>,
    /// The level the sign-in's factors reached (extensions may restate `acr`, not the level).
    #[serde(default)]
    pub aal: Option<crate::aal::Aal>,
}

impl Pending {
    /// From a sign-in and, for a password sign-in (no context), the user it signed in.
    pub fn new(sign_in: SignIn, user: Option<&User>, auth_time: i64) -> Pending {
        let (attributes, has_context, local_user) = match sign_in.context {
            Some(c) => (c.attributes, true, c.local_user),
            None => {
                let mut a = user.map(|u| u.claims.clone()).unwrap_or_default();
                if let Some(u) = user {
                    a.entry("preferred_username").or_insert_with(|| json!(u.username));
                }
                (a, false, true)
            }
        };
        let idp = attributes.get("idp").and_then(Value::as_str).unwrap_or(POOL).to_string();
        Pending { user_id: sign_in.user_id, amr: sign_in.amr, acr: sign_in.acr, idp, auth_time, attributes, has_context, local_user, lifetime: sign_in.lifetime, touched: BTreeSet::new(), aal: sign_in.aal }
    }

    /// What an extension sees: the attributes with the sign-in's facts.
    pub fn view(&self) -> Map<String, Value> {
        let mut v = self.attributes.clone();
        v.insert("sub".into(), json!(self.user_id));
        v.insert("idp".into(), json!(self.idp));
        v.insert("amr".into(), json!(self.amr));
        v.insert("acr".into(), json!(self.acr));
        v.insert("auth_time".into(), json!(self.auth_time));
        v
    }

    /// Sets `name` (`amr` and `acr` are the sign-in's own; the protected facts are refused).
    fn set(&mut self, name: &str, value: Value) -> Result<(), Failure> {
        match name {
            "amr" => {
                let amr: Vec<String> = serde_json::from_value(value).map_err(|_| Failure::Schema("amr must be an array of strings".into()))?;
                if amr.is_empty() || amr.len() > 10 || amr.iter().any(|m| m.is_empty() || m.len() > 64) {
                    return Err(Failure::Schema("amr must hold 1-10 method names".into()));
                }
                self.amr = amr;
            }
            "acr" => {
                let acr = value.as_str().filter(|a| !a.is_empty() && a.len() <= 256).ok_or_else(|| Failure::Schema("acr must be a non-empty string".into()))?;
                self.acr = acr.to_string();
            }
            n if PROTECTED.contains(&n) => return Err(Failure::Schema(format!("{n} cannot be changed by an extension"))),
            n => {
                self.attributes.insert(n.to_string(), value);
                self.touched.insert(n.to_string());
            }
        }
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        self.attributes.remove(name);
        self.touched.insert(name.to_string());
    }

    /// The attributes extensions changed must fit the workspace's schema (the rest was checked
    /// when the sign-in made them).
    fn check(&self, schema: &AuthnContextConfig) -> Result<(), Failure> {
        let changed: Map<String, Value> = self.touched.iter().filter_map(|k| self.attributes.get(k).map(|v| (k.clone(), v.clone()))).collect();
        mapping::check(schema, &changed).map_err(|e| Failure::Schema(e.0))
    }

    /// Applies an update (a `call`'s answer, a `redirect`'s result): `attributes` to set (a
    /// `null` removes), checked against the schema; `deny` ends the sign-in.
    pub fn merge(&mut self, answer: &Value, schema: &AuthnContextConfig) -> Result<(), Failure> {
        let o = answer.as_object().ok_or(Failure::NotJson)?;
        if let Some(reason) = o.get("deny") {
            let reason = reason.as_str().unwrap_or("").chars().take(200).collect::<String>();
            return Err(Failure::Denied(if reason.is_empty() { "no reason given".into() } else { reason }));
        }
        match o.get("attributes") {
            None => {}
            Some(Value::Object(attrs)) => {
                if attrs.len() > 100 {
                    return Err(Failure::Schema("more than 100 attributes".into()));
                }
                for (k, v) in attrs {
                    if v.is_null() {
                        if matches!(k.as_str(), "amr" | "acr") || PROTECTED.contains(&k.as_str()) {
                            return Err(Failure::Schema(format!("{k} cannot be removed")));
                        }
                        self.remove(k);
                    } else {
                        self.set(k, v.clone())?;
                    }
                }
            }
            Some(_) => return Err(Failure::Schema("attributes must be an object".into())),
        }
        self.check(schema)
    }

    /// The sign-in the session starts with. A password sign-in that extensions changed gets a
    /// context holding the changes only (a removed attribute as `null`), laid over the stored user.
    pub fn into_sign_in(self) -> SignIn {
        let context = if self.has_context {
            Some(AuthnContext { attributes: self.attributes, local_user: self.local_user })
        } else if self.touched.is_empty() {
            None
        } else {
            let delta = self.touched.iter().map(|k| (k.clone(), self.attributes.get(k).cloned().unwrap_or(Value::Null))).collect();
            Some(AuthnContext { attributes: delta, local_user: true })
        };
        SignIn { user_id: self.user_id, amr: self.amr, acr: self.acr, aal: self.aal, context, lifetime: self.lifetime }
    }
}

/// A `transform`: each mapping reads the context so far (the sign-in's facts included) and writes
/// its target; then `remove`. The result is checked against the schema.
pub fn transform(ext: &Extension, p: &mut Pending, schema: &AuthnContextConfig) -> Result<(), Failure> {
    let view = p.view();
    for m in &ext.mappings {
        let value = if matches!(m.transform, crate::config::identity_providers::Transform::Constant { .. }) { None } else { mapping::read(&view, &m.source) };
        match mapping::transform(&m.transform, value) {
            Ok(Some(v)) => p.set(&m.target, v)?,
            Ok(None) => {}
            Err(why) => return Err(Failure::Schema(format!("mapping {} → {}: {why}", m.source, m.target))),
        }
    }
    for r in &ext.remove {
        p.remove(r);
    }
    p.check(schema)
}

/// The request facts an extension is told: which client asked for what.
#[derive(Debug, Clone, Serialize)]
pub struct RequestFacts<'a> {
    pub client_id: &'a str,
    pub scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

/// The claims of the JWT sent to an extension (a `call`'s body, a `redirect`'s `state`): issued
/// by the workspace, for the extension's URL, short-lived, single-use (`jti`).
pub fn token_claims<R: Runtime>(ctx: &Ctx<'_, R>, ext: &Extension, p: &Pending, facts: &RequestFacts<'_>, jti: &str, ttl: i64) -> Value {
    json!({
        "iss": ctx.issuer,
        "aud": ext.url,
        "sub": p.user_id,
        "iat": ctx.now,
        "exp": ctx.now + ttl,
        "jti": jti,
        "extension": ext.id,
        "context": p.view(),
        "request": facts,
    })
}

/// A `call`: POSTs the signed context (`application/jwt`) to the service, within the extension's
/// timeout, and merges its JSON answer.
pub async fn call<R: Runtime>(ctx: &Ctx<'_, R>, ext: &Extension, p: &mut Pending, facts: &RequestFacts<'_>) -> Result<(), Failure> {
    let url = urls::web_url(&ext.url).map_err(|e| Failure::Transport(format!("the URL {e}")))?;
    if !urls::host_allowed(ctx.rt.extension_hosts(), &url) {
        return Err(Failure::HostNotAllowed);
    }
    let jti = crate::crypto::random_id(ctx.rt.entropy());
    let claims = token_claims(ctx, ext, p, facts, &jti, CALL_TOKEN_TTL);
    let jwt = tokens::sign(ctx, ctx.config.default_signing_alg, Some("JWT"), &claims).await.map_err(|e| Failure::Ours(e.description))?;
    let limits = FetchLimits { timeout_ms: ext.timeout_ms(), max_bytes: MAX_ANSWER_BYTES };
    let (status, answer) = outbound::send_json_within(ctx.rt, "POST", &ext.url, &[("content-type", "application/jwt")], Some(jwt.as_bytes()), limits).await.map_err(|e| Failure::Transport(e.to_string()))?;
    if status != 200 {
        return Err(Failure::Status(status));
    }
    let answer = answer.filter(Value::is_object).ok_or(Failure::NotJson)?;
    p.merge(&answer, &ctx.config.authn_context)
}

/// Why a `redirect`'s result was refused (shown as a page, as the journey cannot be trusted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResultError {
    #[error("the result is not a JWT signed by the application: {0}")]
    Signature(String),
    #[error("the result was issued for another server")]
    Audience,
    #[error("the result has expired")]
    Expired,
    #[error("the result belongs to another sign-in")]
    OtherFlow,
}

/// Checks a `redirect` result: signed by one of the extension's registered keys, for this
/// workspace, not expired (and not issued for longer than the redirect may take), naming the
/// state this journey sent. Returns its claims. Single use is the caller's (it consumes `state`).
pub async fn verify_result<R: Runtime>(ctx: &Ctx<'_, R>, ext: &Extension, result: &str, state_jti: &str) -> Result<Map<String, Value>, ResultError> {
    if result.len() > MAX_ANSWER_BYTES {
        return Err(ResultError::Signature("it is too large".into()));
    }
    let jws = jose::parse_jws(result).map_err(|e| ResultError::Signature(e.message()))?;
    let keys = ext.jwks.as_ref().and_then(|j| j.get("keys")).and_then(Value::as_array).cloned().unwrap_or_default();
    jose::verify_jws(ctx.rt.signer(), &jws, &keys).await.map_err(|e| ResultError::Signature(e.message()))?;
    let claims = jws.claims.as_object().cloned().unwrap_or_default();
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == &ctx.issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&ctx.issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(ResultError::Audience);
    }
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(ResultError::Expired)?;
    if exp <= ctx.now || exp > ctx.now + crate::config::extensions::REDIRECT_TTL {
        return Err(ResultError::Expired);
    }
    if claims.get("state").and_then(Value::as_str) != Some(state_jti) {
        return Err(ResultError::OtherFlow);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::authn_context::{AttributeDef, DataType};

    fn schema() -> AuthnContextConfig {
        AuthnContextConfig { attributes: vec![AttributeDef { name: "state".into(), data_type: DataType::String, items: None, description: String::new() }, AttributeDef { name: "risk".into(), data_type: DataType::Integer, items: None, description: String::new() }] }
    }

    fn password_user() -> User {
        let mut claims = Map::new();
        claims.insert("email".into(), json!("Ada@Example.com"));
        claims.insert("cpf".into(), json!("12345678909"));
        User { id: "u1".into(), username: "ada".into(), password_hash: None, claims, disabled: false }
    }

    fn pending() -> Pending {
        let sign_in = SignIn { user_id: "u1".into(), amr: vec!["pwd".into()], acr: "urn:x:1".into(), aal: None, context: None, lifetime: None };
        Pending::new(sign_in, Some(&password_user()), 1000)
    }

    fn ext(v: Value) -> Extension {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_transform_reads_the_context_and_may_set_amr_and_acr() {
        let mut p = pending();
        let t = ext(json!({ "id": "ob", "type": "transform", "order": 1, "mappings": [
            { "source": "email", "target": "email", "transform": { "type": "lowercase" } },
            { "target": "acr", "transform": { "type": "constant", "value": "urn:brasil:openbanking:loa2" } },
            { "target": "amr", "transform": { "type": "constant", "value": ["pwd", "otp"] } },
            { "source": "preferred_username", "target": "state", "transform": { "type": "regex_extract", "pattern": "^(..)" , "group": 1 } },
        ] }));
        transform(&t, &mut p, &schema()).unwrap();
        assert_eq!((p.acr.as_str(), p.amr.clone()), ("urn:brasil:openbanking:loa2", vec!["pwd".to_string(), "otp".to_string()]));
        let s = p.clone().into_sign_in();
        let c = s.context.unwrap();
        assert_eq!(c.attributes, serde_json::from_value::<Map<String, Value>>(json!({ "email": "ada@example.com", "state": "ad" })).unwrap(), "a password sign-in keeps only the changes");
        assert!(c.local_user);
        assert_eq!(s.acr, "urn:brasil:openbanking:loa2");
    }

    #[test]
    fn a_transform_that_breaks_the_schema_or_a_fact_fails() {
        let mut p = pending();
        let t = ext(json!({ "id": "x", "type": "transform", "order": 1, "mappings": [{ "target": "undeclared", "transform": { "type": "constant", "value": 1 } }] }));
        assert!(matches!(transform(&t, &mut p, &schema()), Err(Failure::Schema(_))));
        let mut p = pending();
        let t = ext(json!({ "id": "x", "type": "transform", "order": 1, "mappings": [{ "target": "risk", "transform": { "type": "constant", "value": "high" } }] }));
        assert!(matches!(transform(&t, &mut p, &schema()), Err(Failure::Schema(_))));
        let mut p = pending();
        assert!(p.set("sub", json!("someone-else")).is_err());
        assert!(p.set("amr", json!([])).is_err());
    }

    #[test]
    fn an_answer_sets_removes_or_denies() {
        let mut p = pending();
        p.merge(&json!({ "attributes": { "risk": 7, "state": "SP", "cpf": null } }), &schema()).unwrap();
        let c = p.clone().into_sign_in().context.unwrap();
        assert_eq!(c.attributes["risk"], 7);
        assert_eq!(c.attributes["cpf"], Value::Null, "a removal lies over the stored attribute");
        assert_eq!(pending().merge(&json!({ "deny": "high risk" }), &schema()), Err(Failure::Denied("high risk".into())));
        assert!(pending().merge(&json!({ "attributes": { "risk": "x" } }), &schema()).is_err());
        assert!(pending().merge(&json!({ "attributes": { "idp": "corp" } }), &schema()).is_err());
        assert!(pending().merge(&json!({ "attributes": { "acr": null } }), &schema()).is_err());
        assert!(pending().merge(&json!({ "attributes": [1] }), &schema()).is_err());
        assert_eq!(pending().merge(&json!([]), &schema()), Err(Failure::NotJson));
        assert!(pending().into_sign_in().context.is_none(), "untouched, a password sign-in has no context");
    }

    #[test]
    fn a_provider_sign_in_keeps_its_whole_context() {
        let mut attributes = Map::new();
        attributes.insert("sub".into(), json!("ext-1"));
        attributes.insert("idp".into(), json!("corp"));
        attributes.insert("email".into(), json!("b@corp.example"));
        let sign_in = SignIn { user_id: "ext-1".into(), amr: vec!["fed".into()], acr: "a".into(), aal: None, context: Some(AuthnContext { attributes, local_user: false }), lifetime: Some(60) };
        let mut p = Pending::new(sign_in, None, 5);
        assert_eq!(p.idp, "corp");
        p.merge(&json!({ "attributes": { "state": "RJ", "email": null } }), &schema()).unwrap();
        let s = p.into_sign_in();
        let c = s.context.unwrap();
        assert_eq!((c.attributes.get("email"), c.attributes["state"].as_str(), c.local_user, s.lifetime), (None, Some("RJ"), false, Some(60)));
    }
}
