//! The `authorization_details` parameter (RFC 9396) wherever a request carries it: the
//! authorization endpoint and PAR (a row of the pipeline, with request objects), the token
//! endpoint (`client_credentials`, and narrowing at a refresh), and the consent page's summary.
//! Each check takes data: the workspace's types ([`RichAuthorization`]), the client, the details.
//! The types are read only when a request carries the parameter.

use crate::authn::context::AuthnContext;
use crate::config::authorization_details::{shorten, RichAuthorization};
use crate::config::client::Client;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::Params;
use crate::runtime::Runtime;
use std::sync::Arc;
use crate::policy::{self, Decision, DenyAs, PolicyContext, PolicyInput};
use serde_json::{json, Value};

/// At most this many entries in one request.
pub const MAX_DETAILS: usize = 20;
/// The parameter's length at most: the details travel on in the sealed login and consent forms,
/// whose posts must stay under the 64 KB request limit.
pub const MAX_DETAILS_BYTES: usize = 16 * 1024;

pub const PARAMETER: &str = "authorization_details";

fn invalid(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_authorization_details(why)
}

/// The workspace's types when `params` carry `authorization_details` (else nothing is read).
pub async fn types_for<R: Runtime>(ctx: &Ctx<'_, R>, params: &Params) -> Result<Option<Arc<RichAuthorization>>, OAuthError> {
    if params.get(PARAMETER).is_none() {
        return Ok(None);
    }
    ctx.rich_authorization().await.map(Some)
}

/// RFC 9396 §2: a JSON array of objects, each with a string `type`.
pub fn parse(raw: &str) -> Result<Vec<Value>, OAuthError> {
    if raw.len() > MAX_DETAILS_BYTES {
        return Err(invalid(format!("authorization_details is longer than {} KB", MAX_DETAILS_BYTES / 1024)));
    }
    let v: Value = serde_json::from_str(raw).map_err(|_| invalid("authorization_details must be a JSON array of objects"))?;
    let Value::Array(details) = v else { return Err(invalid("authorization_details must be a JSON array of objects")) };
    if details.is_empty() || details.len() > MAX_DETAILS {
        return Err(invalid(format!("authorization_details must hold 1 to {MAX_DETAILS} entries")));
    }
    for (i, d) in details.iter().enumerate() {
        if !d.get("type").is_some_and(Value::is_string) {
            return Err(invalid(format!("authorization_details/{i}: each entry must be an object with a string 'type'")));
        }
    }
    Ok(details)
}

/// The parameter at an endpoint: `None` when absent; refused (`invalid_request`, as the issue
/// says for a switched-off workspace) when the feature is off; else each entry checked.
pub fn from_params(raw: Option<&str>, rar: Option<&RichAuthorization>, client: &Client) -> Result<Option<Vec<Value>>, OAuthError> {
    let Some(raw) = raw else { return Ok(None) };
    let Some(rar) = rar.filter(|r| r.enabled) else {
        return Err(OAuthError::invalid_request("authorization_details is not supported here: rich authorization requests are not enabled"));
    };
    let details = parse(raw)?;
    check(rar, client, &details)?;
    Ok(Some(details))
}

/// Each entry's type is one of the workspace's and one the client subscribed to, and the entry
/// satisfies the type's schema; a failure names the entry and the failing path.
pub fn check(rar: &RichAuthorization, client: &Client, details: &[Value]) -> Result<(), OAuthError> {
    for (i, d) in details.iter().enumerate() {
        let name = d.get("type").and_then(Value::as_str).unwrap_or_default();
        let (Some(_), Some(schema)) = (rar.types.get(name), rar.schema(name)) else {
            return Err(invalid(format!("authorization_details/{i}: unknown type '{}'", shorten(name))));
        };
        if !client.authorization_details_types.iter().any(|t| t == name) {
            return Err(invalid(format!("authorization_details/{i}: this client may not request type '{}'", shorten(name))));
        }
        if let Err(violations) = schema.validate(d) {
            let first = violations.first().map(|v| v.to_string()).unwrap_or_default();
            return Err(invalid(format!("authorization_details/{i}: does not satisfy the schema of '{}': {first}", shorten(name))));
        }
    }
    Ok(())
}

/// The policies of `context` for each entry's type; the first deny refuses the request with its
/// reason, as `access_denied` or `invalid_authorization_details`.
pub fn check_policies(rar: &RichAuthorization, details: &[Value], context: PolicyContext, client: &Client, request: &Value, authn: &Value) -> Result<(), OAuthError> {
    let client = json!(client);
    for d in details {
        let name = d.get("type").and_then(Value::as_str).unwrap_or_default();
        let Some(p) = rar.types.get(name).and_then(|t| t.policies.get(context)) else { continue };
        if let Decision::Deny { reason, error } = policy::evaluate(p, &PolicyInput { detail: d, client: &client, request, context: authn }) {
            return Err(match error {
                DenyAs::AccessDenied => OAuthError::access_denied(reason),
                DenyAs::InvalidAuthorizationDetails => invalid(reason),
            });
        }
    }
    Ok(())
}

/// What a user-context policy reads as `context`: the sign-in's attributes (an identity
/// provider's context, or the pool user's stored ones) and its facts.
pub fn authn_value(user_id: &str, acr: &str, amr: &[String], auth_time: i64, context: Option<&AuthnContext>, user_claims: Option<&serde_json::Map<String, Value>>) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(claims) = user_claims {
        out.extend(claims.clone());
    }
    if let Some(c) = context {
        out.extend(c.attributes.clone());
    }
    out.entry("sub").or_insert_with(|| json!(user_id));
    out.insert("acr".into(), json!(acr));
    out.insert("amr".into(), json!(amr));
    out.insert("auth_time".into(), json!(auth_time));
    Value::Object(out)
}

/// A refresh (or a code redemption) may narrow the granted details, never widen them: each
/// requested entry must be one of the granted entries, as granted (RFC 9396 §7.2).
pub fn check_narrowing(granted: &[Value], requested: &[Value]) -> Result<(), OAuthError> {
    for (i, r) in requested.iter().enumerate() {
        if !granted.contains(r) {
            return Err(invalid(format!("authorization_details/{i}: exceeds what was granted (a refresh may narrow the details, never widen them)")));
        }
    }
    Ok(())
}

/// One line per detail for the consent page: its type's description (or name), a summary of its
/// values labelled with the schema's `title`s, and the full JSON.
pub struct Shown {
    pub title: String,
    pub summary: String,
    pub json: String,
}

pub fn shown(rar: Option<&RichAuthorization>, details: &[Value]) -> Vec<Shown> {
    details
        .iter()
        .map(|d| {
            let name = d.get("type").and_then(Value::as_str).unwrap_or_default();
            let t = rar.and_then(|r| r.types.get(name));
            let title = t.map(|t| if t.description.is_empty() { t.name.clone() } else { t.description.clone() }).unwrap_or_else(|| name.to_string());
            let props = t.and_then(|t| t.schema.get("properties"));
            let parts: Vec<String> = d
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.as_str() != "type")
                .map(|(k, v)| {
                    let label = props.and_then(|p| p.get(k)).and_then(|p| p.get("title")).and_then(Value::as_str).unwrap_or(k);
                    format!("{label}: {}", plain(v, props.and_then(|p| p.get(k))))
                })
                .collect();
            let mut summary = parts.join("; ");
            if summary.chars().count() > 300 {
                summary = summary.chars().take(299).collect::<String>() + "…";
            }
            Shown { title, summary, json: serde_json::to_string_pretty(d).unwrap_or_default() }
        })
        .collect()
}

/// A value in words: scalars as they are, lists joined, objects as `title value` pairs.
fn plain(v: &Value, schema: Option<&Value>) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(|x| plain(x, schema.and_then(|s| s.get("items")))).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| {
                let sub = schema.and_then(|s| s.get("properties")).and_then(|p| p.get(k));
                let label = sub.and_then(|p| p.get("title")).and_then(Value::as_str).unwrap_or(k);
                format!("{label} {}", plain(x, sub))
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::authorization_details::AuthorizationDetailsTypes;

    fn rar(enabled: bool) -> RichAuthorization {
        let types: AuthorizationDetailsTypes = serde_json::from_value(json!({ "types": [{
            "type": "payment_initiation", "service": "payments", "description": "Payment",
            "schema": { "type": "object", "required": ["type", "instructedAmount"], "properties": {
                "type": { "const": "payment_initiation" },
                "instructedAmount": { "title": "Amount", "type": "object", "required": ["amount"], "properties": { "currency": { "title": "Currency", "type": "string" }, "amount": { "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$" } } }
            } },
            "policies": { "machine": { "rules": [{ "when": { "path": "detail.instructedAmount.amount", "op": "<=", "value": 1000 }, "effect": "allow" }], "otherwise": { "effect": "deny", "reason": "above 1000" } } }
        }, { "type": "account_information", "service": "accounts", "schema": { "type": "object", "properties": { "type": {} } } }] }))
        .unwrap();
        RichAuthorization::new(enabled, types)
    }

    fn client() -> Client {
        Client { client_id: "rp".into(), authorization_details_types: vec!["payment_initiation".into()], ..Client::default() }
    }

    const PAY: &str = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"123.50"}}]"#;

    #[test]
    fn the_parameter_is_an_array_of_typed_objects() {
        assert_eq!(parse(PAY).unwrap().len(), 1);
        for bad in ["{}", "[]", "[1]", r#"[{"type":1}]"#, "nope", r#"[{"kind":"x"}]"#] {
            assert_eq!(parse(bad).unwrap_err().code, "invalid_authorization_details", "{bad}");
        }
        let many = format!("[{}]", vec![r#"{"type":"a"}"#; MAX_DETAILS + 1].join(","));
        assert!(parse(&many).is_err());
        let long = format!(r#"[{{"type":"a","x":"{}"}}]"#, "x".repeat(MAX_DETAILS_BYTES));
        assert!(parse(&long).unwrap_err().description.contains("longer than 16 KB"));
    }

    #[test]
    fn details_are_known_subscribed_and_schema_valid() {
        let r = rar(true);
        assert!(from_params(Some(PAY), Some(&r), &client()).unwrap().is_some());
        assert_eq!(from_params(None, None, &client()).unwrap(), None);
        assert_eq!(from_params(Some(PAY), Some(&rar(false)), &client()).unwrap_err().code, "invalid_request");
        assert_eq!(from_params(Some(PAY), None, &client()).unwrap_err().code, "invalid_request");
        let e = from_params(Some(r#"[{"type":"payment_initiation","instructedAmount":{"amount":"12"}}]"#), Some(&r), &client()).unwrap_err();
        assert_eq!(e.code, "invalid_authorization_details");
        assert!(e.description.contains("/instructedAmount/amount"), "the failing path: {}", e.description);
        let e = from_params(Some(r#"[{"type":"account_information"}]"#), Some(&r), &client()).unwrap_err();
        assert!(e.description.contains("may not request"), "{}", e.description);
        let e = from_params(Some(r#"[{"type":"nope"}]"#), Some(&r), &client()).unwrap_err();
        assert!(e.description.contains("unknown type"), "{}", e.description);
    }

    #[test]
    fn policies_deny_with_their_reason() {
        let r = rar(true);
        let small = parse(PAY).unwrap();
        let big = parse(r#"[{"type":"payment_initiation","instructedAmount":{"amount":"1000.01"}}]"#).unwrap();
        assert!(check_policies(&r, &small, PolicyContext::Machine, &client(), &json!({}), &Value::Null).is_ok());
        let e = check_policies(&r, &big, PolicyContext::Machine, &client(), &json!({}), &Value::Null).unwrap_err();
        assert_eq!((e.code, e.description.as_str()), ("access_denied", "above 1000"));
        assert!(check_policies(&r, &big, PolicyContext::User, &client(), &json!({}), &Value::Null).is_ok(), "no user policy");
    }

    #[test]
    fn narrowing_keeps_to_what_was_granted() {
        let granted = vec![json!({"type": "a", "x": 1}), json!({"type": "b"})];
        assert!(check_narrowing(&granted, &[json!({"type": "b"})]).is_ok());
        assert_eq!(check_narrowing(&granted, &[json!({"type": "a", "x": 2})]).unwrap_err().code, "invalid_authorization_details");
    }

    #[test]
    fn the_consent_summary_uses_the_schema_titles() {
        let r = rar(true);
        let s = shown(Some(&r), &parse(PAY).unwrap());
        assert_eq!(s[0].title, "Payment");
        assert_eq!(s[0].summary, "Amount: amount 123.50 Currency EUR");
        assert!(s[0].json.contains("\"currency\": \"EUR\""));
    }
}
